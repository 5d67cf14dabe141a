//! Comparing a candidate's outputs with the reference candidate's.

use crate::bundle::DType;
use half::{bf16, f16};

/// `|got - want| <= atol + rtol * |want|` per element; NaN matches NaN and
/// infinities must match exactly. Integers and booleans compare exactly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
}

impl Tolerance {
    /// Defaults wide enough for a different reduction order or tile shape:
    /// 16-bit floats 1e-2, f32 1e-4 (relative) / 1e-5, f64 1e-9 / 1e-12.
    pub fn for_dtype(dtype: DType) -> Tolerance {
        match dtype {
            DType::F16 | DType::BF16 => Tolerance { rtol: 1e-2, atol: 1e-2 },
            DType::F32 => Tolerance { rtol: 1e-4, atol: 1e-5 },
            DType::F64 => Tolerance { rtol: 1e-9, atol: 1e-12 },
            _ => Tolerance { rtol: 0.0, atol: 0.0 },
        }
    }
}

fn decode(dtype: DType, b: &[u8]) -> f64 {
    let a2 = || [b[0], b[1]];
    let a4 = || [b[0], b[1], b[2], b[3]];
    let a8 = || {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        a
    };
    match dtype {
        DType::I1 => f64::from(u8::from(b[0] != 0)),
        DType::I8 => f64::from(b[0] as i8),
        DType::I16 => f64::from(i16::from_le_bytes(a2())),
        DType::I32 => f64::from(i32::from_le_bytes(a4())),
        DType::I64 => i64::from_le_bytes(a8()) as f64,
        DType::F16 => f16::from_le_bytes(a2()).to_f64(),
        DType::BF16 => bf16::from_le_bytes(a2()).to_f64(),
        DType::F32 => f64::from(f32::from_le_bytes(a4())),
        DType::F64 => f64::from_le_bytes(a8()),
    }
}

/// Compare two buffers of `dtype` elements; the error names the first bad
/// element, the worst difference and how many elements differ.
pub fn compare(dtype: DType, got: &[u8], want: &[u8], tol: Tolerance) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{} bytes, the reference has {}", got.len(), want.len()));
    }
    if dtype.is_int() || dtype == DType::I1 {
        // Exact: compare the bytes (i64 values beyond 2^53 are not f64-exact).
        let size = dtype.size();
        let bad: Vec<usize> = got
            .chunks_exact(size)
            .zip(want.chunks_exact(size))
            .enumerate()
            .filter(|(_, (g, w))| g != w)
            .map(|(i, _)| i)
            .collect();
        return match bad.first() {
            None => Ok(()),
            Some(&i) => Err(format!(
                "{} of {} elements differ; first at [{i}]: {} vs {}",
                bad.len(),
                want.len() / size,
                decode(dtype, &got[i * size..]),
                decode(dtype, &want[i * size..])
            )),
        };
    }
    let size = dtype.size();
    let mut first = None;
    let mut count = 0usize;
    let mut worst = 0.0f64;
    for (i, (g, w)) in got.chunks_exact(size).zip(want.chunks_exact(size)).enumerate() {
        let (g, w) = (decode(dtype, g), decode(dtype, w));
        let ok = if g.is_nan() || w.is_nan() {
            g.is_nan() && w.is_nan()
        } else if g.is_infinite() || w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= tol.atol + tol.rtol * w.abs()
        };
        if !ok {
            count += 1;
            first.get_or_insert((i, g, w));
            let diff = (g - w).abs();
            if diff.is_nan() || diff > worst {
                worst = diff;
            }
        }
    }
    match first {
        None => Ok(()),
        Some((i, g, w)) => Err(format!(
            "{count} of {} elements differ (max |diff| {worst:e}); first at [{i}]: {g} vs {w}",
            want.len() / size
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn floats_within_tolerance_match() {
        let tol = Tolerance::for_dtype(DType::F32);
        assert_eq!(compare(DType::F32, &f32s(&[1.0, 2.0, f32::NAN]), &f32s(&[1.00001, 2.0, f32::NAN]), tol), Ok(()));
        let err = compare(DType::F32, &f32s(&[1.0, 2.5, 3.0, 9.0]), &f32s(&[1.0, 2.0, 3.0, 4.0]), tol).unwrap_err();
        assert_eq!(err, "2 of 4 elements differ (max |diff| 5e0); first at [1]: 2.5 vs 2");
        assert!(compare(DType::F32, &f32s(&[f32::INFINITY]), &f32s(&[f32::MAX]), tol).is_err());
        assert!(compare(DType::F32, &f32s(&[f32::NAN]), &f32s(&[1.0]), tol).is_err());
        assert!(compare(DType::F32, &f32s(&[1.0]), &f32s(&[1.0, 2.0]), tol).unwrap_err().contains("4 bytes"));
    }

    #[test]
    fn half_precision_uses_a_wider_tolerance() {
        let h = |v: f32| f16::from_f32(v).to_le_bytes().to_vec();
        assert!(compare(DType::F16, &h(1.004), &h(1.0), Tolerance::for_dtype(DType::F16)).is_ok());
        assert!(compare(DType::F16, &h(1.1), &h(1.0), Tolerance::for_dtype(DType::F16)).is_err());
    }

    #[test]
    fn integers_compare_exactly() {
        let big = |v: i64| v.to_le_bytes().to_vec();
        let loose = Tolerance { rtol: 1.0, atol: 1.0 };
        assert!(compare(DType::I64, &big(1 << 60), &big((1 << 60) + 1), loose).is_err());
        assert_eq!(
            compare(DType::I32, &[1, 0, 0, 0, 2, 0, 0, 0], &[1, 0, 0, 0, 3, 0, 0, 0], loose),
            Err("1 of 2 elements differ; first at [1]: 2 vs 3".into())
        );
    }
}
