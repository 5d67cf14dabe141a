//! Diagnostic codes of IR text parsing and verification (E05xx).
//!
//! E0501–E0519 are reported by the IR text [`parser`](crate::parser),
//! E0520–E0539 by the [`verifier`](crate::verify), E0540–E0549 by the
//! [`PassManager`](crate::passes::PassManager). Verifier and pass-manager
//! codes signal a compiler bug (or hand-written IR that breaks the rules),
//! never a mistake in a `.tsr` program.

/// A character that starts no token of the IR text form.
pub const UNEXPECTED_CHAR: &str = "E0501";
/// The parser expected one kind of token and met another.
pub const EXPECTED_TOKEN: &str = "E0502";
/// A `%value` is used but not defined earlier in an enclosing scope.
pub const UNDEFINED_VALUE: &str = "E0503";
/// A `%value` name is defined twice in one kernel.
pub const REDEFINED_VALUE: &str = "E0504";
/// The mnemonic after `=` (or at the start of an op) names no op.
pub const UNKNOWN_OP: &str = "E0505";
/// An attribute is unknown for its op, repeated, or has the wrong kind of value.
pub const BAD_ATTRIBUTE: &str = "E0506";
/// The number of result names differs from the number of result types.
pub const RESULT_TYPE_COUNT: &str = "E0507";
/// A numeric literal is malformed or out of range.
pub const BAD_LITERAL: &str = "E0508";
/// A kernel header clause is unknown or repeated.
pub const BAD_HEADER: &str = "E0509";

/// A value is defined more than once.
pub const MULTIPLE_DEFINITION: &str = "E0520";
/// A value is used where no definition dominates the use.
pub const USE_NOT_DOMINATED: &str = "E0521";
/// A value id has no entry in the kernel's type table.
pub const VALUE_OUT_OF_RANGE: &str = "E0522";
/// The body's arguments are not the parameters' values, in order.
pub const BODY_ARGS_MISMATCH: &str = "E0523";
/// A region does not end in a terminator.
pub const MISSING_TERMINATOR: &str = "E0524";
/// A terminator appears before the end of its region.
pub const TERMINATOR_NOT_LAST: &str = "E0525";
/// A terminator of the wrong kind for its region (`return` in a loop, ...).
pub const WRONG_TERMINATOR: &str = "E0526";
/// An op has the wrong number of operands.
pub const OPERAND_COUNT: &str = "E0527";
/// An op has the wrong number of results.
pub const RESULT_COUNT: &str = "E0528";
/// An op has the wrong number of regions, or a region the wrong number of arguments.
pub const REGION_SHAPE: &str = "E0529";
/// An operand has an element type the op does not accept.
pub const OPERAND_TYPE: &str = "E0530";
/// Operand shapes are incompatible with each other or with the op.
pub const SHAPE_MISMATCH: &str = "E0531";
/// The result type is not the one the op's contract gives.
pub const RESULT_TYPE: &str = "E0532";
/// An attribute is out of range (axis, permutation, arange bounds, ...).
pub const ATTRIBUTE_RANGE: &str = "E0533";
/// A memory op's pointer, mask, value or `other` operand breaks its contract.
pub const MEMORY_OPERAND: &str = "E0534";
/// Region arguments or `yield` operands disagree with the op's inits or results.
pub const REGION_SIGNATURE: &str = "E0535";
/// A loop bound or branch condition has the wrong type.
pub const CONTROL_OPERAND: &str = "E0536";
/// `dot` operand or accumulator types break the contract.
pub const DOT_TYPES: &str = "E0537";
/// A type is malformed (a zero dimension, a rank-0 block pointer).
pub const INVALID_TYPE: &str = "E0538";
/// A constant's literal does not fit the result's element type.
pub const CONSTANT_TYPE: &str = "E0539";

/// A pipeline names a pass that does not exist.
pub const UNKNOWN_PASS: &str = "E0540";
/// The kernel handed to the pass manager fails verification.
pub const INVALID_INPUT_IR: &str = "E0541";
/// A pass produced IR that fails verification (a bug in that pass).
pub const PASS_BROKE_IR: &str = "E0542";

/// Every code of this crate with a one-line summary.
pub const ALL: &[(&str, &str)] = &[
    (UNEXPECTED_CHAR, "unexpected character in IR text"),
    (EXPECTED_TOKEN, "unexpected token in IR text"),
    (UNDEFINED_VALUE, "use of an undefined value in IR text"),
    (REDEFINED_VALUE, "redefinition of a value in IR text"),
    (UNKNOWN_OP, "unknown op mnemonic in IR text"),
    (BAD_ATTRIBUTE, "unknown, repeated or ill-typed attribute in IR text"),
    (RESULT_TYPE_COUNT, "result names and result types differ in number"),
    (BAD_LITERAL, "malformed or out-of-range literal in IR text"),
    (BAD_HEADER, "unknown or repeated kernel header clause"),
    (MULTIPLE_DEFINITION, "IR value defined more than once"),
    (USE_NOT_DOMINATED, "IR value used where its definition does not dominate"),
    (VALUE_OUT_OF_RANGE, "IR value id without a type"),
    (BODY_ARGS_MISMATCH, "kernel body arguments are not its parameters"),
    (MISSING_TERMINATOR, "region does not end in a terminator"),
    (TERMINATOR_NOT_LAST, "terminator before the end of a region"),
    (WRONG_TERMINATOR, "terminator of the wrong kind for its region"),
    (OPERAND_COUNT, "op has the wrong number of operands"),
    (RESULT_COUNT, "op has the wrong number of results"),
    (REGION_SHAPE, "op has the wrong regions or region arguments"),
    (OPERAND_TYPE, "operand element type not accepted by the op"),
    (SHAPE_MISMATCH, "incompatible operand shapes"),
    (RESULT_TYPE, "result type differs from the op's contract"),
    (ATTRIBUTE_RANGE, "op attribute out of range"),
    (MEMORY_OPERAND, "memory op operand breaks its contract"),
    (REGION_SIGNATURE, "region arguments or yields disagree with inits or results"),
    (CONTROL_OPERAND, "loop bound or branch condition of the wrong type"),
    (DOT_TYPES, "dot operand or accumulator types break the contract"),
    (INVALID_TYPE, "malformed IR type"),
    (CONSTANT_TYPE, "constant literal does not fit its type"),
    (UNKNOWN_PASS, "unknown pass name in a pipeline"),
    (INVALID_INPUT_IR, "IR handed to the pass manager is invalid"),
    (PASS_BROKE_IR, "a pass produced invalid IR"),
];

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn codes_are_unique_and_in_range() {
        let mut seen = std::collections::HashSet::new();
        for (code, summary) in ALL {
            assert!(code.starts_with("E05") && code.len() == 5, "{code}");
            assert!(seen.insert(*code), "duplicate code {code}");
            assert!(!summary.is_empty());
        }
    }
}
