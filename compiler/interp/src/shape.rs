//! Ops that make or rearrange tensors without arithmetic: constants,
//! `arange`, `splat`, `broadcast`, `expand_dims`, `reshape`, `permute`.

use crate::elem::{Elem, Scalar};
use crate::error::Fault;
use crate::value::{Data, Tensor, fmt_index, gather, map_any, numel, row_major_strides, with_scalar_type};
use tessera_tir::{Constant, ScalarType};

/// A constant of `elem` splatted over `shape`, converted as `Cast` does.
pub(crate) fn constant(c: Constant, elem: ScalarType, shape: &[u32]) -> Tensor {
    let s = match c {
        Constant::Int(v) => Scalar::Int(v),
        Constant::Float(v) => Scalar::Float(v),
        Constant::Bool(v) => Scalar::Int(i64::from(v)),
    };
    let n = numel(shape);
    let data = with_scalar_type!(elem, T => T::into_data(vec![T::from_scalar(s); n]));
    Tensor { shape: shape.to_vec(), data }
}

/// `arange(start, end)`: i32 `start..end` (values wrap at 32 bits).
pub(crate) fn arange(start: i64, end: i64) -> Result<Tensor, Fault> {
    let len = u32::try_from(end.saturating_sub(start))
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| Fault::malformed(format!("arange({start}, {end}) is empty or too long")))?;
    let data = (0..i64::from(len)).map(|i| start.wrapping_add(i) as i32).collect();
    Ok(Tensor { shape: vec![len], data: Data::I32(data) })
}

/// `splat`: a scalar filled over `shape`.
pub(crate) fn splat(t: &Tensor, shape: &[u32]) -> Result<Tensor, Fault> {
    if !t.shape.is_empty() {
        return Err(Fault::malformed(format!("splat of a tensor of shape {}", fmt_index(&t.shape))));
    }
    let n = numel(shape);
    let data = map_any!(&t.data, v => match v.first() {
        Some(&x) => vec![x; n],
        None => return Err(Fault::malformed("splat of an empty value")),
    });
    Ok(Tensor { shape: shape.to_vec(), data })
}

/// `broadcast`: size-1 axes stretch to `shape` (equal ranks).
pub(crate) fn broadcast(t: &Tensor, shape: &[u32]) -> Result<Tensor, Fault> {
    let compatible =
        t.shape.len() == shape.len() && t.shape.iter().zip(shape).all(|(&from, &to)| from == to || from == 1);
    if !compatible || t.data.len() != numel(&t.shape) {
        return Err(Fault::malformed(format!("cannot broadcast {} to {}", fmt_index(&t.shape), fmt_index(shape))));
    }
    let strides: Vec<usize> =
        row_major_strides(&t.shape).into_iter().zip(&t.shape).map(|(s, &d)| if d == 1 { 0 } else { s }).collect();
    let data = map_any!(&t.data, v => gather(v, shape, &strides));
    Ok(Tensor { shape: shape.to_vec(), data })
}

/// `expand_dims` and `reshape`: the same row-major elements, a new shape.
pub(crate) fn reshape(t: &Tensor, shape: &[u32]) -> Result<Tensor, Fault> {
    if numel(shape) != t.data.len() {
        return Err(Fault::malformed(format!(
            "cannot reshape {} ({} elements) to {}",
            fmt_index(&t.shape),
            t.data.len(),
            fmt_index(shape)
        )));
    }
    Ok(Tensor { shape: shape.to_vec(), data: t.data.clone() })
}

/// `permute`: result axis `i` is operand axis `perm[i]`.
pub(crate) fn permute(t: &Tensor, perm: &[u32]) -> Result<Tensor, Fault> {
    let rank = t.shape.len();
    let mut seen = vec![false; rank];
    let valid = perm.len() == rank
        && perm.iter().all(|&p| match seen.get_mut(p as usize) {
            Some(s) if !*s => {
                *s = true;
                true
            }
            _ => false,
        });
    if !valid || t.data.len() != numel(&t.shape) {
        return Err(Fault::malformed(format!(
            "permutation {} of a tensor of shape {}",
            fmt_index(perm),
            fmt_index(&t.shape)
        )));
    }
    let src_strides = row_major_strides(&t.shape);
    let shape: Vec<u32> = perm.iter().map(|&p| t.shape[p as usize]).collect();
    let strides: Vec<usize> = perm.iter().map(|&p| src_strides[p as usize]).collect();
    let data = map_any!(&t.data, v => gather(v, &shape, &strides));
    Ok(Tensor { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(shape: &[u32], v: Vec<i32>) -> Tensor {
        Tensor { shape: shape.to_vec(), data: Data::I32(v) }
    }

    #[test]
    fn broadcast_stretches_unit_axes() {
        let col = ints(&[2, 1], vec![1, 2]);
        assert_eq!(broadcast(&col, &[2, 3]).unwrap().data, Data::I32(vec![1, 1, 1, 2, 2, 2]));
        assert!(broadcast(&col, &[3, 3]).is_err());
    }

    #[test]
    fn permute_reverses_axes() {
        let m = ints(&[2, 3], (0..6).collect());
        let t = permute(&m, &[1, 0]).unwrap();
        assert_eq!(t.shape, vec![3, 2]);
        assert_eq!(t.data, Data::I32(vec![0, 3, 1, 4, 2, 5]));
        assert!(permute(&m, &[0, 0]).is_err());
    }

    #[test]
    fn constants_convert_to_the_element_type() {
        assert_eq!(constant(Constant::Float(2.7), ScalarType::I8, &[2]).data, Data::I8(vec![2, 2]));
        assert_eq!(constant(Constant::Bool(true), ScalarType::F32, &[]).data, Data::F32(vec![1.0]));
        assert_eq!(arange(-1, 2).unwrap().data, Data::I32(vec![-1, 0, 1]));
        assert!(arange(3, 3).is_err());
    }
}
