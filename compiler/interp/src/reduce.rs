//! Reductions and scans along one axis.
//!
//! - `sum` adds in index order starting from the first element, in the
//!   type's accumulator ([`Elem::Acc`]): f32 for f16/bf16 (rounded once at
//!   the end), the type itself otherwise (ints wrap, i1 xors).
//! - `max`/`min` propagate NaN (a NaN anywhere gives NaN) and order -0
//!   below +0.
//! - `argmax`/`argmin` give the i32 index of the first extreme; a NaN counts
//!   as the extreme, so the first NaN's index is returned when there is one.
//! - Scans are inclusive, in index order (or from the end with `reverse`),
//!   carrying the running value in the accumulator type and rounding each
//!   output to the element type.

use crate::elem::Elem;
use crate::error::Fault;
use crate::value::{Data, Tensor, fmt_index, numel, visit_num};
use tessera_tir::{ReduceKind, ScanKind};

/// (outer, axis length, inner) sizes around `axis`.
fn split(t: &Tensor, axis: u32, what: &str) -> Result<(usize, usize, usize), Fault> {
    let a = axis as usize;
    if a >= t.shape.len() || t.data.len() != numel(&t.shape) {
        return Err(Fault::malformed(format!("{what} along axis {axis} of a tensor of shape {}", fmt_index(&t.shape))));
    }
    Ok((numel(&t.shape[..a]), t.shape[a] as usize, numel(&t.shape[a + 1..])))
}

pub(crate) fn reduce(kind: ReduceKind, axis: u32, t: &Tensor) -> Result<Tensor, Fault> {
    let (outer, len, inner) = split(t, axis, kind.name())?;
    let mut shape = t.shape.clone();
    shape.remove(axis as usize);

    /// `f` of the elements along the axis, for each output in row-major
    /// order (copied to a contiguous scratch row unless already contiguous).
    fn fold<T: Elem, U>(v: &[T], (outer, len, inner): (usize, usize, usize), f: impl Fn(&[T]) -> U) -> Vec<U> {
        let mut out = Vec::with_capacity(outer * inner);
        let mut row = Vec::with_capacity(len);
        for o in 0..outer {
            let block = &v[o * len * inner..(o + 1) * len * inner];
            if inner == 1 {
                out.push(f(block));
                continue;
            }
            for i in 0..inner {
                row.clear();
                row.extend((0..len).map(|r| block[r * inner + i]));
                out.push(f(&row));
            }
        }
        out
    }

    fn typed<T: Elem>(kind: ReduceKind, v: &[T], dims: (usize, usize, usize)) -> Data {
        let arg = |better: fn(T::Key, T::Key) -> bool| {
            move |row: &[T]| -> i32 {
                let mut best: Option<(usize, T)> = None;
                for (r, &x) in row.iter().enumerate() {
                    match best {
                        Some((_, b)) if b.is_nan() => break,
                        Some((_, b)) if !x.is_nan() && !better(x.key(), b.key()) => {}
                        _ => best = Some((r, x)),
                    }
                }
                best.map_or(0, |(r, _)| r as i32)
            }
        };
        match kind {
            ReduceKind::Sum => T::into_data(fold(v, dims, |row| match row.split_first() {
                Some((first, rest)) => T::from_acc(rest.iter().fold(first.acc(), |s, x| T::acc_add(s, x.acc()))),
                None => T::from_acc(T::acc_zero()),
            })),
            ReduceKind::Max => T::into_data(fold(v, dims, |row| match row.split_first() {
                Some((&first, rest)) => rest.iter().fold(first, |m, &x| T::max2(m, x)),
                None => T::default(),
            })),
            ReduceKind::Min => T::into_data(fold(v, dims, |row| match row.split_first() {
                Some((&first, rest)) => rest.iter().fold(first, |m, &x| T::min2(m, x)),
                None => T::default(),
            })),
            ReduceKind::Argmax => Data::I32(fold(v, dims, arg(|x, b| x > b))),
            ReduceKind::Argmin => Data::I32(fold(v, dims, arg(|x, b| x < b))),
        }
    }
    let data = visit_num!(&t.data, v => typed(kind, v, (outer, len, inner)),
        ptr => return Err(Fault::malformed(format!("{} of pointers", kind.name()))));
    Ok(Tensor { shape, data })
}

pub(crate) fn scan(kind: ScanKind, axis: u32, reverse: bool, t: &Tensor) -> Result<Tensor, Fault> {
    let (outer, len, inner) = split(t, axis, kind.name())?;
    fn typed<T: Elem>(kind: ScanKind, reverse: bool, v: &[T], (outer, len, inner): (usize, usize, usize)) -> Data {
        let combine = match kind {
            ScanKind::Cumsum => T::acc_add,
            ScanKind::Cumprod => T::acc_mul,
        };
        let mut out = v.to_vec();
        for o in 0..outer {
            for i in 0..inner {
                let mut running: Option<T::Acc> = None;
                for step in 0..len {
                    let r = if reverse { len - 1 - step } else { step };
                    let at = (o * len + r) * inner + i;
                    let x = v[at].acc();
                    let next = running.map_or(x, |s| combine(s, x));
                    running = Some(next);
                    out[at] = T::from_acc(next);
                }
            }
        }
        T::into_data(out)
    }
    let data = visit_num!(&t.data, v => typed(kind, reverse, v, (outer, len, inner)),
        ptr => return Err(Fault::malformed(format!("{} of pointers", kind.name()))));
    Ok(Tensor { shape: t.shape.clone(), data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_along_each_axis() {
        let m = Tensor { shape: vec![2, 3], data: Data::I32(vec![1, 5, 2, 7, 0, 7]) };
        assert_eq!(reduce(ReduceKind::Sum, 0, &m).unwrap().data, Data::I32(vec![8, 5, 9]));
        assert_eq!(reduce(ReduceKind::Max, 1, &m).unwrap().data, Data::I32(vec![5, 7]));
        assert_eq!(reduce(ReduceKind::Argmax, 1, &m).unwrap().data, Data::I32(vec![1, 0]));
        assert_eq!(reduce(ReduceKind::Argmin, 0, &m).unwrap().data, Data::I32(vec![0, 1, 0]));
        assert!(reduce(ReduceKind::Sum, 2, &m).is_err());
    }

    #[test]
    fn nan_propagates_and_wins_arg_reductions() {
        let v = Tensor { shape: vec![4], data: Data::F32(vec![1.0, f32::NAN, 3.0, f32::NAN]) };
        let Data::F32(max) = reduce(ReduceKind::Max, 0, &v).unwrap().data else { panic!() };
        assert!(max[0].is_nan());
        assert_eq!(reduce(ReduceKind::Argmax, 0, &v).unwrap().data, Data::I32(vec![1]));
        assert_eq!(reduce(ReduceKind::Argmin, 0, &v).unwrap().data, Data::I32(vec![1]));
    }

    #[test]
    fn scans_are_inclusive_and_reversible() {
        let v = Tensor { shape: vec![2, 2], data: Data::I64(vec![1, 2, 3, 4]) };
        assert_eq!(scan(ScanKind::Cumsum, 0, false, &v).unwrap().data, Data::I64(vec![1, 2, 4, 6]));
        assert_eq!(scan(ScanKind::Cumprod, 1, true, &v).unwrap().data, Data::I64(vec![2, 2, 12, 4]));
        let z = Tensor { shape: vec![1], data: Data::F32(vec![-0.0]) };
        let Data::F32(s) = reduce(ReduceKind::Sum, 0, &z).unwrap().data else { panic!() };
        assert!(s[0].is_sign_negative());
    }
}
