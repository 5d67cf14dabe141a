//! Distances between a kernel's output and its float64 reference.

use std::fmt;

/// How far a result may be from its reference (see the table in the crate
/// documentation for where each class's numbers come from).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Bound on `||got - want||_2 / ||want||_2`.
    pub rel_frobenius: f64,
    /// Bound on `max_i |got_i - want_i| / max_i |want_i|`.
    pub max_abs: f64,
}

/// The tolerance of each precision class.
pub mod tolerance {
    use super::Tolerance;

    /// f32 arithmetic throughout.
    pub const F32: Tolerance = Tolerance { rel_frobenius: 1e-5, max_abs: 1e-5 };
    /// f32 data whose products go through tf32 `dot`s.
    pub const TF32: Tolerance = Tolerance { rel_frobenius: 3e-3, max_abs: 1e-2 };
    /// Outputs rounded once to bf16.
    pub const BF16: Tolerance = Tolerance { rel_frobenius: 1e-2, max_abs: 1e-2 };
    /// Outputs rounded once to f16.
    pub const F16: Tolerance = Tolerance { rel_frobenius: 5e-3, max_abs: 5e-3 };
}

/// The distance between a result and its reference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    pub len: usize,
    /// `||got - want||_2 / ||want||_2`, or `||got - want||_2` when the
    /// reference is all zeros.
    pub rel_frobenius: f64,
    /// `max_i |got_i - want_i|`.
    pub max_abs: f64,
    /// Where `max_abs` occurs.
    pub max_abs_index: usize,
    /// `max_i |want_i|`.
    pub ref_max: f64,
    /// Elements of `got` that are NaN or infinite where the reference is
    /// finite: unwritten (still poisoned) or overflowed.
    pub non_finite: usize,
    /// The first of those.
    pub first_non_finite: Option<usize>,
}

impl Comparison {
    /// `max_abs` relative to the reference's largest magnitude (absolute
    /// when the reference is all zeros).
    pub fn max_abs_relative(&self) -> f64 {
        if self.ref_max > 0.0 { self.max_abs / self.ref_max } else { self.max_abs }
    }

    pub fn within(&self, tol: Tolerance) -> bool {
        self.non_finite == 0 && self.rel_frobenius <= tol.rel_frobenius && self.max_abs_relative() <= tol.max_abs
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} elements: relative Frobenius error {:.3e}, max abs error {:.3e} at {} ({:.3e} of max |ref| {:.3e}), \
             {} non-finite",
            self.len,
            self.rel_frobenius,
            self.max_abs,
            self.max_abs_index,
            self.max_abs_relative(),
            self.ref_max,
            self.non_finite
        )?;
        if let Some(i) = self.first_non_finite {
            write!(f, " (first at {i})")?;
        }
        Ok(())
    }
}

/// Compares `got` with `want` element by element.
///
/// Panics if the lengths differ or the reference itself is not finite (a
/// broken test, not a broken kernel).
pub fn compare(got: &[f64], want: &[f64]) -> Comparison {
    assert_eq!(got.len(), want.len(), "result and reference differ in length");
    let mut err_sq = 0.0;
    let mut ref_sq = 0.0;
    let mut cmp = Comparison {
        len: got.len(),
        rel_frobenius: 0.0,
        max_abs: 0.0,
        max_abs_index: 0,
        ref_max: 0.0,
        non_finite: 0,
        first_non_finite: None,
    };
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(w.is_finite(), "reference element {i} is {w}");
        ref_sq += w * w;
        cmp.ref_max = cmp.ref_max.max(w.abs());
        if !g.is_finite() {
            cmp.non_finite += 1;
            cmp.first_non_finite.get_or_insert(i);
            continue;
        }
        let d = (g - w).abs();
        err_sq += d * d;
        if d > cmp.max_abs {
            cmp.max_abs = d;
            cmp.max_abs_index = i;
        }
    }
    cmp.rel_frobenius = if ref_sq > 0.0 { (err_sq / ref_sq).sqrt() } else { err_sq.sqrt() };
    cmp
}

/// Compares and panics with a description of the failure, naming `what`
/// (the kernel, case and seed) when `got` is not within `tol` of `want`.
/// Returns the comparison so callers may report it.
///
/// With `TESSERA_TEST_REPORT` set, every comparison is printed (run the
/// tests with `--nocapture` to see them): how the tolerances were sized.
pub fn assert_close(what: &str, got: &[f64], want: &[f64], tol: Tolerance) -> Comparison {
    let cmp = compare(got, want);
    if std::env::var_os("TESSERA_TEST_REPORT").is_some() {
        println!("{what}: {cmp}");
    }
    if !cmp.within(tol) {
        let detail = match cmp.first_non_finite {
            Some(i) => format!("got[{i}] = {} where the reference is {}", got[i], want[i]),
            None => {
                let i = cmp.max_abs_index;
                format!("got[{i}] = {} where the reference is {}", got[i], want[i])
            }
        };
        panic!(
            "{what}: not within tolerance (relative Frobenius {:.1e}, max abs {:.1e}): {cmp}; {detail}",
            tol.rel_frobenius, tol.max_abs
        );
    }
    cmp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_results_have_zero_error() {
        let c = compare(&[1.0, -2.0, 3.0], &[1.0, -2.0, 3.0]);
        assert_eq!(c.rel_frobenius, 0.0);
        assert_eq!(c.max_abs, 0.0);
        assert_eq!(c.ref_max, 3.0);
        assert!(c.within(tolerance::F32));
    }

    #[test]
    fn errors_are_measured_against_the_reference() {
        // ||(0, 0, 1)|| / ||(3, 4, 0)|| = 1 / 5.
        let c = compare(&[3.0, 4.0, 1.0], &[3.0, 4.0, 0.0]);
        assert!((c.rel_frobenius - 0.2).abs() < 1e-15);
        assert_eq!(c.max_abs, 1.0);
        assert_eq!(c.max_abs_index, 2);
        assert!((c.max_abs_relative() - 0.25).abs() < 1e-15);
        assert!(!c.within(tolerance::BF16));
    }

    #[test]
    fn poisoned_elements_fail_every_tolerance() {
        let c = compare(&[1.0, f64::NAN, f64::INFINITY], &[1.0, 2.0, 3.0]);
        assert_eq!(c.non_finite, 2);
        assert_eq!(c.first_non_finite, Some(1));
        assert_eq!(c.max_abs, 0.0);
        assert!(!c.within(Tolerance { rel_frobenius: f64::INFINITY, max_abs: f64::INFINITY }));
    }

    #[test]
    fn an_all_zero_reference_needs_an_all_zero_result() {
        assert!(compare(&[0.0, 0.0], &[0.0, 0.0]).within(tolerance::F32));
        assert!(!compare(&[0.0, 1e-3], &[0.0, 0.0]).within(tolerance::F32));
    }

    #[test]
    #[should_panic(expected = "case x: not within tolerance")]
    fn assert_close_names_the_case() {
        assert_close("case x", &[1.1], &[1.0], tolerance::F32);
    }
}
