//! Whole-pipeline test support: kernels of `kernels-dsl/` are compiled by the
//! front end, run on the interpreter over random inputs, and compared with
//! float64 references.
//!
//! - [`harness`] finds kernel sources, compiles one specialization, and
//!   launches it with named arguments; output buffers start poisoned with NaN
//!   so that an element the kernel forgot to write fails the comparison.
//! - [`layout`] places dense data in strided buffers (padding poisoned too),
//!   so kernels are tested with the strides they take as parameters.
//! - [`inputs`] makes the random inputs and the per-trial seeds.
//! - [`reference`] computes what each kernel should compute, in f64, with
//!   plain loops.
//! - [`compare`] measures the distance between a result and its reference.
//!
//! # Tolerances
//!
//! A result passes when both its relative Frobenius error
//! `||got - want||_2 / ||want||_2` and its largest absolute error, divided by
//! the reference's largest magnitude, are within the [`Tolerance`] of the
//! kernel's precision class, and every element is finite. References are
//! computed from the inputs *as stored* (already rounded to the buffer's
//! element type), so the tolerance only has to cover the rounding the kernel
//! does itself. With `u` the unit roundoff of a format (2^-24 for f32, 2^-11
//! for tf32, 2^-8 for bf16, 2^-11 for f16):
//!
//! | class | relative Frobenius | max-abs / max\|ref\| | reasoning |
//! |---|---|---|---|
//! | [`tolerance::F32`] | 1e-5 | 1e-5 | f32 arithmetic, reductions of at most a few thousand terms: worst-case error `n u` ~ 2.5e-4, but rounding errors are independent and the observed error is ~`sqrt(n) u` ~ 1e-6; 1e-5 leaves room and still catches any wrong term (a missing element of a 1000-term sum is ~1e-3). |
//! | [`tolerance::TF32`] | 3e-3 | 1e-2 | `dot` of f32 rounds each operand to tf32 (`u` = 4.9e-4, RMS relative error `u / sqrt(3)` ~ 2.8e-4 per rounding). Linear attention chains up to four roundings per term (q, k, the scores, v; and the state when read back), ~6e-4 RMS, so 3e-3 is a 5x margin; single elements near a cancellation see larger relative error, hence the looser max-abs bound, still an order below a missing term. |
//! | [`tolerance::BF16`] | 1e-2 | 1.6e-2 | the bf16 store rounds each output once: relative error at most `u` = 3.9e-3 per element, RMS ~`u / sqrt(3)` ~ 2.3e-3, plus the kernel's f32 (or tf32) arithmetic, which is far smaller. Max-abs: `u` on the largest element, plus tf32 noise, with margin. |
//! | [`tolerance::F16`] | 5e-3 | 5e-3 | one f16 rounding per output (`u` = 4.9e-4) with a 10x margin; no kernel here stores f16 yet, the class is kept for the ones that will. |
//!
//! # Seeds
//!
//! Every test runs several trials, each from a fresh seed, and every failure
//! names the seed of its trial; see [`inputs::trials`] for how to replay one.

pub mod compare;
pub mod harness;
pub mod inputs;
pub mod layout;
pub mod reference;

pub use compare::{Comparison, Tolerance, assert_close, tolerance};
