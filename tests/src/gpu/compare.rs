//! Comparing whole output buffers: GPU against interpreter (where both may
//! leave elements unwritten) and either against a float64 reference.

use crate::compare::{Comparison, Tolerance, compare, tolerance};
use std::fmt;
use tessera_tir::ScalarType;

/// The tolerance for an output buffer of `elem` (see the crate docs for the
/// classes): bf16 and f16 outputs are rounded once at the store; f32 outputs
/// carry tf32 rounding when the kernel has tf32 dots.
pub fn tolerance_for(elem: ScalarType, tf32_dots: bool) -> Tolerance {
    match elem {
        ScalarType::BF16 => tolerance::BF16,
        ScalarType::F16 => tolerance::F16,
        ScalarType::F32 if tf32_dots => tolerance::TF32,
        // f64 outputs and integers: at least as strict as f32.
        _ => tolerance::F32,
    }
}

/// The distance between two buffers where the second may hold NaN (an
/// element its kernel legitimately left unwritten, e.g. row padding).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BufferComparison {
    /// Over the elements where `want` is finite.
    pub values: Comparison,
    /// Elements where `want` is not finite and `got` differs from it (a
    /// stray write, or an infinity of the other sign).
    pub pattern_mismatches: usize,
    pub first_pattern_mismatch: Option<usize>,
}

impl BufferComparison {
    pub fn within(&self, tol: Tolerance) -> bool {
        self.pattern_mismatches == 0 && self.values.within(tol)
    }
}

impl fmt::Display for BufferComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.values;
        write!(f, "rel {:.2e} max-abs {:.2e}", c.rel_frobenius, c.max_abs_relative())?;
        if c.non_finite > 0 {
            write!(f, " non-finite {} (first at {})", c.non_finite, c.first_non_finite.unwrap_or_default())?;
        }
        if self.pattern_mismatches > 0 {
            write!(
                f,
                " unwritten-pattern mismatches {} (first at {})",
                self.pattern_mismatches,
                self.first_pattern_mismatch.unwrap_or_default()
            )?;
        }
        Ok(())
    }
}

/// Compares `got` with `want` of the same length (a length difference
/// counts every missing element as a pattern mismatch).
pub fn compare_buffers(got: &[f64], want: &[f64]) -> BufferComparison {
    let mut finite_got = Vec::with_capacity(want.len());
    let mut finite_want = Vec::with_capacity(want.len());
    let mut pattern_mismatches = got.len().abs_diff(want.len());
    let mut first_pattern_mismatch = (pattern_mismatches > 0).then_some(got.len().min(want.len()));
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if w.is_finite() {
            finite_got.push(g);
            finite_want.push(w);
        } else if !(w.is_nan() && g.is_nan() || w == g) {
            pattern_mismatches += 1;
            first_pattern_mismatch = Some(first_pattern_mismatch.map_or(i, |f| f.min(i)));
        }
    }
    BufferComparison { values: compare(&finite_got, &finite_want), pattern_mismatches, first_pattern_mismatch }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritten_elements_must_match_unwritten_elements() {
        let nan = f64::NAN;
        let same = compare_buffers(&[1.0, nan, 3.0], &[1.0, nan, 3.0]);
        assert!(same.within(tolerance::F32), "{same}");
        let stray = compare_buffers(&[1.0, 0.0, 3.0], &[1.0, nan, 3.0]);
        assert_eq!((stray.pattern_mismatches, stray.first_pattern_mismatch), (1, Some(1)));
        assert!(!stray.within(tolerance::BF16));
        let missing = compare_buffers(&[1.0, nan, 3.0], &[1.0, 2.0, 3.0]);
        assert_eq!(missing.values.non_finite, 1);
        assert!(!missing.within(tolerance::BF16));
        assert!(missing.to_string().contains("non-finite 1 (first at 1)"), "{missing}");
        let short = compare_buffers(&[1.0], &[1.0, 2.0]);
        assert_eq!(short.pattern_mismatches, 1);
    }

    #[test]
    fn errors_are_relative_and_bounded_by_the_class() {
        let want: Vec<f64> = (1..=100).map(f64::from).collect();
        let close: Vec<f64> = want.iter().map(|w| w * (1.0 + 2e-3)).collect();
        assert!(compare_buffers(&close, &want).within(tolerance::BF16));
        assert!(!compare_buffers(&close, &want).within(tolerance::F32));
        let infinite = compare_buffers(&[f64::INFINITY], &[f64::INFINITY]);
        assert!(infinite.within(tolerance::F32));
        assert!(!compare_buffers(&[f64::NEG_INFINITY], &[f64::INFINITY]).within(tolerance::F32));
    }

    #[test]
    fn the_class_follows_the_element_type_and_dots() {
        assert_eq!(tolerance_for(ScalarType::BF16, true), tolerance::BF16);
        assert_eq!(tolerance_for(ScalarType::F32, true), tolerance::TF32);
        assert_eq!(tolerance_for(ScalarType::F32, false), tolerance::F32);
        assert_eq!(tolerance_for(ScalarType::F16, false), tolerance::F16);
    }
}
