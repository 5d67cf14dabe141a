//! Type promotion (docs/language.md §4): which element type an arithmetic or
//! comparison operator computes in, given its operands.

use tessera_tir::ScalarType;

/// An operand as promotion sees it: a weakly typed compile-time number, or a
/// value of a definite element type (runtime values and compile-time bools).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operand {
    WeakInt,
    WeakFloat,
    Strong(ScalarType),
}

/// The element type both operands convert to.
///
/// A weak int meeting `bool` gives `i32` (the constant cannot live in a
/// bool), as in Triton.
pub(crate) fn promote(a: Operand, b: Operand) -> ScalarType {
    use Operand::*;
    match (a, b) {
        (WeakInt, WeakInt) => ScalarType::I32,
        (WeakFloat, WeakInt | WeakFloat) | (WeakInt, WeakFloat) => ScalarType::F32,
        (WeakInt, Strong(t)) | (Strong(t), WeakInt) => {
            if t == ScalarType::I1 {
                ScalarType::I32
            } else {
                t
            }
        }
        (WeakFloat, Strong(t)) | (Strong(t), WeakFloat) => {
            if t.is_float() {
                t
            } else {
                ScalarType::F32
            }
        }
        (Strong(x), Strong(y)) => promote_strong(x, y),
    }
}

/// Rules 2-4: both floats, the wider (f16 with bf16 gives f32); float with
/// integer, the float; both integers, the wider.
pub(crate) fn promote_strong(x: ScalarType, y: ScalarType) -> ScalarType {
    match (x.is_float(), y.is_float()) {
        (true, true) => {
            if x == y {
                x
            } else if x.bits() == y.bits() {
                // f16 with bf16: neither holds the other.
                ScalarType::F32
            } else if x.bits() > y.bits() {
                x
            } else {
                y
            }
        }
        (true, false) => x,
        (false, true) => y,
        (false, false) => x.max(y),
    }
}

#[cfg(test)]
mod tests {
    use super::Operand::*;
    use super::*;
    use ScalarType::*;

    #[test]
    fn weak_operands_take_the_other_type() {
        assert_eq!(promote(WeakInt, Strong(I8)), I8);
        assert_eq!(promote(Strong(F16), WeakInt), F16);
        assert_eq!(promote(WeakFloat, Strong(BF16)), BF16);
        assert_eq!(promote(WeakFloat, Strong(I64)), F32);
        assert_eq!(promote(WeakInt, Strong(I1)), I32);
        assert_eq!(promote(WeakInt, WeakFloat), F32);
    }

    #[test]
    fn strong_operands() {
        assert_eq!(promote(Strong(F16), Strong(BF16)), F32);
        assert_eq!(promote(Strong(F16), Strong(F32)), F32);
        assert_eq!(promote(Strong(F64), Strong(F32)), F64);
        assert_eq!(promote(Strong(I64), Strong(F16)), F16);
        assert_eq!(promote(Strong(I8), Strong(I32)), I32);
        assert_eq!(promote(Strong(I1), Strong(I8)), I8);
    }
}
