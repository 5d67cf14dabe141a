//! Tuning keys: which launches share a tuned choice.
//!
//! The key is built from the values of the kernel's `key(...)` parameters.
//! Integers are bucketed up to the next power of two (as the language spec
//! says), so `n = 1000` and `n = 1024` share a choice and a program launching
//! many nearby sizes tunes a handful of times, not once per size. Every part
//! carries its dtype, so keys stay distinct if a signature changes type.

use crate::args::{ArgValue, Pins, Scalar};
use crate::bundle::KernelDecl;

/// Bucket an integer key value: values up to 1 are kept (zero, one and
/// negative sizes are degenerate: keep them apart), larger ones round up to
/// the next power of two; values above 2^62 share the bucket `i64::MAX`.
pub fn bucket(value: i64) -> i64 {
    if value <= 1 {
        return value;
    }
    (value as u64).checked_next_power_of_two().and_then(|b| i64::try_from(b).ok()).unwrap_or(i64::MAX)
}

/// The tuning key of a bound argument list (`bound` in signature order), as
/// stable text: `n:i32=1024,x:*f32`. Empty when the kernel has no key.
pub fn tuning_key(decl: &KernelDecl, bound: &[ArgValue]) -> String {
    let mut parts = Vec::new();
    for name in &decl.key {
        let Some(index) = decl.params.iter().position(|p| &p.name == name) else { continue };
        let part = match bound.get(index) {
            Some(ArgValue::Pointer { elem, .. }) => format!("{name}:*{elem}"),
            Some(ArgValue::Scalar(s)) => match s {
                Scalar::Bool(_) => format!("{name}:i1={s}"),
                _ if s.dtype().is_int() => {
                    format!("{name}:{}={}", s.dtype(), bucket(s.as_int().unwrap_or_default()))
                }
                _ => format!("{name}:{}={s}", s.dtype()),
            },
            None => continue,
        };
        parts.push(part);
    }
    parts.join(",")
}

/// [`tuning_key`] with the launch's pins after a `|`: launches pinned to
/// different specializations never share a choice.
pub fn pinned_key(decl: &KernelDecl, bound: &[ArgValue], pins: &Pins) -> String {
    let key = tuning_key(decl, bound);
    if pins.is_empty() { key } else { format!("{key}|{pins}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{DType, GridExpr, Hints, Param, ParamKind};

    #[test]
    fn integers_bucket_to_the_next_power_of_two() {
        let cases = [(-5, -5), (0, 0), (1, 1), (2, 2), (3, 4), (1000, 1024), (1024, 1024), (1025, 2048)];
        for (v, want) in cases {
            assert_eq!(bucket(v), want, "{v}");
        }
        assert_eq!(bucket(1 << 62), 1 << 62);
        assert_eq!(bucket((1 << 62) + 1), i64::MAX);
        assert_eq!(bucket(i64::MAX), i64::MAX);
    }

    fn decl(key: &[&str]) -> KernelDecl {
        let p = |name: &str, kind| Param { name: name.into(), kind, hints: Hints::default() };
        KernelDecl {
            name: "k".into(),
            params: vec![
                p("x", ParamKind::Pointer { elem: DType::F16 }),
                p("n", ParamKind::Scalar { dtype: DType::I32 }),
                p("m", ParamKind::Scalar { dtype: DType::I64 }),
                p("eps", ParamKind::Scalar { dtype: DType::F32 }),
            ],
            const_params: vec![],
            grid: vec![GridExpr::Int(1)],
            tune_space: vec![],
            key: key.iter().map(|s| s.to_string()).collect(),
            require: vec![],
        }
    }

    fn args(n: i32, m: i64) -> Vec<ArgValue> {
        vec![
            ArgValue::Pointer { addr: 16, elem: DType::F16, len: 4 },
            ArgValue::Scalar(Scalar::I32(n)),
            ArgValue::Scalar(Scalar::I64(m)),
            ArgValue::Scalar(Scalar::F32(0.5)),
        ]
    }

    #[test]
    fn keys_follow_the_key_clause_in_order() {
        assert_eq!(tuning_key(&decl(&["n", "m"]), &args(1000, 5)), "n:i32=1024,m:i64=8");
        assert_eq!(tuning_key(&decl(&["m", "n"]), &args(1000, 5)), "m:i64=8,n:i32=1024");
        assert_eq!(tuning_key(&decl(&["n"]), &args(1000, 5)), tuning_key(&decl(&["n"]), &args(1024, 7)));
        assert_ne!(tuning_key(&decl(&["n"]), &args(1024, 5)), tuning_key(&decl(&["n"]), &args(1025, 5)));
        assert_eq!(tuning_key(&decl(&["x", "eps"]), &args(1, 1)), "x:*f16,eps:f32=0.5");
        assert_eq!(tuning_key(&decl(&["n"]), &args(-3, 1)), "n:i32=-3");
        assert_eq!(tuning_key(&decl(&[]), &args(1, 1)), "");
    }
}
