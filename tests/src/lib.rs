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
//! | [`tolerance::F32`] | 1e-5 | 1e-5 | f32 arithmetic and reductions of at most a few thousand terms: the worst case `n u` is ~2.5e-4, but rounding errors are independent, so the error is ~`sqrt(n) u` ~ 4e-6 at most; observed up to 2.2e-6 (softmax, layer norm). A wrong or missing term of a 5000-term sum still costs ~2e-4. |
//! | [`tolerance::TF32`] | 3e-3 | 1e-2 | `dot` of f32 rounds each operand to tf32 (`u` = 4.9e-4, RMS relative error ~`u / sqrt(3)` ~ 2.8e-4 per rounding). Linear attention chains up to four roundings per term (q, k, the scores or the state, v), ~6e-4 RMS; observed up to 1.5e-3 over 100 trials, at n = 1 where few elements make the norm noisy. A single element's error is `2u` times the sum of the magnitudes of its terms, which cancellation can make several times its value, hence the looser max-abs bound. |
//! | [`tolerance::BF16`] | 1e-2 | 1e-2 | the bf16 store rounds each output once: at most `u` = 3.9e-3 relative per element, ~`u / sqrt(3)` RMS, plus the kernel's f32 or tf32 arithmetic, which is far smaller. Observed up to 3.6e-3 (Frobenius; single-element outputs) and 4.0e-3 (max-abs). |
//! | [`tolerance::F16`] | 5e-3 | 5e-3 | one f16 rounding per output (`u` = 4.9e-4) with a 10x margin; no kernel here stores f16 yet, the class is kept for the ones that will. |
//!
//! The observed values come from `TESSERA_TEST_TRIALS=100 TESSERA_TEST_REPORT=1`
//! runs (see [`inputs`] and [`compare::assert_close`]). Every kernel bug
//! tried while sizing these (a wrong mask, an off-by-one decay, a dropped
//! `where`, a wrong tile mapping) gave errors of 1e-2 or far more.
//!
//! # Seeds
//!
//! Every test runs several trials, each from a fresh seed, and every failure
//! names the seed of its trial; see [`inputs::trials`] for how to replay one.

pub mod compare;
pub mod gpu;
pub mod harness;
pub mod inputs;
pub mod layout;
pub mod reference;

pub use compare::{Comparison, Tolerance, assert_close, tolerance};
