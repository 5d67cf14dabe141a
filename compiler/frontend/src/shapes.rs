//! Static shapes: numpy broadcasting and axis normalization.

use tessera_tir::Shape;

/// The shape two operands broadcast to: align from the right; a dimension
/// of 1 (or a missing one) stretches. None on any other mismatch.
pub(crate) fn broadcast_shapes(a: &[u32], b: &[u32]) -> Option<Shape> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for (i, slot) in out.iter_mut().enumerate() {
        // Dimension i counted from the left of the result; from the right of each operand.
        let from_right = rank - 1 - i;
        let da = dim_from_right(a, from_right);
        let db = dim_from_right(b, from_right);
        *slot = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

fn dim_from_right(s: &[u32], k: usize) -> u32 {
    if k < s.len() { s[s.len() - 1 - k] } else { 1 }
}

/// Whether a value of shape `from` broadcasts (one way) to `to`.
pub(crate) fn broadcasts_to(from: &[u32], to: &[u32]) -> bool {
    from.len() <= to.len() && broadcast_shapes(from, to).is_some_and(|s| s == to)
}

/// `axis` (negative counts from the end) as an index below `rank`.
pub(crate) fn normalize_axis(axis: i64, rank: usize) -> Option<u32> {
    let rank = rank as i64;
    let a = if axis < 0 { axis + rank } else { axis };
    if (0..rank).contains(&a) { Some(a as u32) } else { None }
}

/// Whether `list` names each axis `0..rank` exactly once (a `permute`'s
/// dims, a block pointer's order).
pub(crate) fn is_permutation(list: &[i64], rank: usize) -> bool {
    let mut seen = vec![false; rank];
    list.len() == rank
        && list.iter().all(|&axis| match usize::try_from(axis) {
            Ok(axis) if axis < rank && !seen[axis] => {
                seen[axis] = true;
                true
            }
            _ => false,
        })
}

/// `[64, 32]` for messages (`[]` for scalars).
pub(crate) fn show(shape: &[u32]) -> String {
    let dims: Vec<String> = shape.iter().map(u32::to_string).collect();
    format!("[{}]", dims.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast_shapes(&[4, 1], &[1, 8]), Some(vec![4, 8]));
        assert_eq!(broadcast_shapes(&[8], &[4, 8]), Some(vec![4, 8]));
        assert_eq!(broadcast_shapes(&[], &[3]), Some(vec![3]));
        assert_eq!(broadcast_shapes(&[3], &[4]), None);
        assert!(broadcasts_to(&[1, 8], &[4, 8]));
        assert!(!broadcasts_to(&[4, 8], &[8]));
        assert!(!broadcasts_to(&[4, 8], &[1, 8]));
    }

    #[test]
    fn axes() {
        assert_eq!(normalize_axis(-1, 2), Some(1));
        assert_eq!(normalize_axis(2, 2), None);
        assert_eq!(normalize_axis(-3, 2), None);
        assert_eq!(show(&[64, 32]), "[64, 32]");
    }

    #[test]
    fn permutations() {
        assert!(is_permutation(&[1, 0], 2));
        assert!(is_permutation(&[], 0));
        assert!(!is_permutation(&[0, 0], 2));
        assert!(!is_permutation(&[0, 2], 2));
        assert!(!is_permutation(&[0, -1], 2));
        assert!(!is_permutation(&[0], 2));
    }
}
