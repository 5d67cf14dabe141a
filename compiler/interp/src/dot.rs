//! `dot`: `acc + a @ b` for `a: [M, K]`, `b: [K, N]`, `acc: [M, N]`.
//!
//! Every output element accumulates its products in `k` order, starting
//! from `acc`, with one rounding per step:
//! - f16/bf16 inputs: products are exact in f32 and summed in f32;
//! - f32 inputs with `Tf32`: each input is first rounded to tf32 (10
//!   mantissa bits, nearest even), so products are again exact in f32;
//! - f32 inputs with `Ieee`: each step is a fused multiply-add, the exact
//!   product rounded once with the sum, as the GPU's FFMA does;
//! - f64 inputs: an f64 fused multiply-add per step, rounded to the
//!   accumulator's type (f32 or f64);
//! - i8 inputs: products and sums in i32, wrapping.

use crate::error::Fault;
use crate::value::{Data, Tensor, fmt_index};
use tessera_tir::DotPrecision;

/// Round an f32 to tf32 (10 explicit mantissa bits) to nearest even; NaN and
/// infinities pass through, overflow rounds to infinity.
pub(crate) fn round_to_tf32(x: f32) -> f32 {
    if !x.is_finite() {
        return x;
    }
    let bits = x.to_bits();
    let lsb = (bits >> 13) & 1;
    f32::from_bits(bits.wrapping_add(0x0FFF + lsb) & !0x1FFF)
}

/// `c[m, n] += sum over k of a[m, k] * b[k, n]` in i-k-j order: each `c`
/// element still sees its products in `k` order.
fn kernel<T: Copy>(a: &[T], b: &[T], c: &mut [T], k: usize, n: usize, step: impl Fn(T, T, T) -> T) {
    if n == 0 {
        return;
    }
    for (a_row, c_row) in a.chunks_exact(k.max(1)).zip(c.chunks_exact_mut(n)) {
        for (&aik, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
            for (cj, &bj) in c_row.iter_mut().zip(b_row) {
                *cj = step(aik, bj, *cj);
            }
        }
    }
}

/// f64 inputs into an f32 accumulator: each step is an f64 fused
/// multiply-add rounded to f32.
fn kernel_f64_into_f32(a: &[f64], b: &[f64], c: &mut [f32], k: usize, n: usize) {
    if n == 0 {
        return;
    }
    for (a_row, c_row) in a.chunks_exact(k.max(1)).zip(c.chunks_exact_mut(n)) {
        for (&aik, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
            for (cj, &bj) in c_row.iter_mut().zip(b_row) {
                *cj = aik.mul_add(bj, f64::from(*cj)) as f32;
            }
        }
    }
}

pub(crate) fn dot(a: &Tensor, b: &Tensor, acc: &Tensor, precision: DotPrecision) -> Result<Tensor, Fault> {
    let (m, k, n) = match (a.shape.as_slice(), b.shape.as_slice(), acc.shape.as_slice()) {
        (&[m, k], &[k2, n], &[m2, n2]) if k == k2 && m == m2 && n == n2 => (m as usize, k as usize, n as usize),
        _ => {
            return Err(Fault::malformed(format!(
                "dot of shapes {} @ {} into {}",
                fmt_index(&a.shape),
                fmt_index(&b.shape),
                fmt_index(&acc.shape)
            )));
        }
    };
    if a.data.len() != m * k || b.data.len() != k * n || acc.data.len() != m * n {
        return Err(Fault::malformed("dot operands do not hold their shapes' element counts"));
    }
    let widen = |v: &[f32]| -> Vec<f32> {
        match precision {
            DotPrecision::Tf32 => v.iter().map(|&x| round_to_tf32(x)).collect(),
            DotPrecision::Ieee => v.to_vec(),
        }
    };
    let plain = |x: f32, y: f32, c: f32| c + x * y;
    let data = match (&a.data, &b.data, &acc.data) {
        (Data::F16(x), Data::F16(y), Data::F32(c)) => {
            let (x, y): (Vec<f32>, Vec<f32>) =
                (x.iter().map(|v| v.to_f32()).collect(), y.iter().map(|v| v.to_f32()).collect());
            let mut c = c.clone();
            kernel(&x, &y, &mut c, k, n, plain);
            Data::F32(c)
        }
        (Data::BF16(x), Data::BF16(y), Data::F32(c)) => {
            let (x, y): (Vec<f32>, Vec<f32>) =
                (x.iter().map(|v| v.to_f32()).collect(), y.iter().map(|v| v.to_f32()).collect());
            let mut c = c.clone();
            kernel(&x, &y, &mut c, k, n, plain);
            Data::F32(c)
        }
        (Data::F32(x), Data::F32(y), Data::F32(c)) => {
            let mut c = c.clone();
            match precision {
                DotPrecision::Tf32 => kernel(&widen(x), &widen(y), &mut c, k, n, plain),
                DotPrecision::Ieee => kernel(x, y, &mut c, k, n, |x: f32, y, c| x.mul_add(y, c)),
            }
            Data::F32(c)
        }
        (Data::F64(x), Data::F64(y), Data::F32(c)) => {
            let mut c = c.clone();
            kernel_f64_into_f32(x, y, &mut c, k, n);
            Data::F32(c)
        }
        (Data::F64(x), Data::F64(y), Data::F64(c)) => {
            let mut c = c.clone();
            kernel(x, y, &mut c, k, n, |x: f64, y, c| x.mul_add(y, c));
            Data::F64(c)
        }
        (Data::I8(x), Data::I8(y), Data::I32(c)) => {
            let (x, y): (Vec<i32>, Vec<i32>) =
                (x.iter().map(|&v| v.into()).collect(), y.iter().map(|&v| v.into()).collect());
            let mut c = c.clone();
            kernel(&x, &y, &mut c, k, n, |x: i32, y, c| c.wrapping_add(x.wrapping_mul(y)));
            Data::I32(c)
        }
        (x, y, c) => {
            return Err(Fault::malformed(format!(
                "dot of {:?} and {:?} into {:?}; supported: f16/bf16/f32/f64 into f32, f64 into f64, i8 into i32",
                x.scalar_type(),
                y.scalar_type(),
                c.scalar_type()
            )));
        }
    };
    Ok(Tensor { shape: acc.shape.clone(), data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tf32_rounds_to_nearest_even_at_10_bits() {
        let ulp = 2f32.powi(-10);
        assert_eq!(round_to_tf32(1.0 + ulp / 2.0), 1.0);
        assert_eq!(round_to_tf32(1.0 + 3.0 * ulp / 2.0), 1.0 + 2.0 * ulp);
        assert_eq!(round_to_tf32(1.0 + ulp / 2.0 + 2f32.powi(-20)), 1.0 + ulp);
        assert_eq!(round_to_tf32(f32::MAX), f32::INFINITY);
        assert!(round_to_tf32(f32::NAN).is_nan());
    }

    #[test]
    fn dot_accumulates_into_acc() {
        let a = Tensor { shape: vec![1, 2], data: Data::F32(vec![1.0, 2.0]) };
        let b = Tensor { shape: vec![2, 2], data: Data::F32(vec![3.0, 4.0, 5.0, 6.0]) };
        let c = Tensor { shape: vec![1, 2], data: Data::F32(vec![0.5, 0.25]) };
        let r = dot(&a, &b, &c, DotPrecision::Ieee).unwrap();
        assert_eq!(r.data, Data::F32(vec![13.5, 16.25]));
    }
}
