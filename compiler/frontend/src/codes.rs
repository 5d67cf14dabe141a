//! Diagnostic codes of the front end (E01xx names, E02xx types and shapes,
//! E03xx compile-time evaluation, E04xx kernel metadata).
//!
//! Every code names exactly one kind of problem; [`ALL`] lists them for
//! `tessera explain` and the bad-program corpus.

// ---- E01xx: names, items, calls ------------------------------------------

/// A name that no scope, parameter, constant or dtype defines.
pub const UNKNOWN_NAME: &str = "E0101";
/// A call of a function that is neither a builtin nor a helper of the file.
pub const UNKNOWN_FUNCTION: &str = "E0102";
/// Two items (kernels, helpers, constants) of a file share a name.
pub const DUPLICATE_ITEM: &str = "E0103";
/// A helper or constant takes the name of a builtin.
pub const SHADOWS_BUILTIN: &str = "E0104";
/// More positional arguments than the callee has parameters.
pub const TOO_MANY_ARGS: &str = "E0105";
/// A required argument was not given.
pub const MISSING_ARG: &str = "E0106";
/// A keyword argument the callee does not accept.
pub const UNKNOWN_KEYWORD: &str = "E0107";
/// The same parameter given twice (positionally and by keyword, or twice by keyword).
pub const DUPLICATE_ARG: &str = "E0108";
/// Helpers that call themselves, directly or through other helpers.
pub const RECURSION: &str = "E0109";
/// `return` outside a helper, or not as the helper's last statement.
pub const MISPLACED_RETURN: &str = "E0110";
/// Two parameters of one kernel or helper share a name.
pub const DUPLICATE_PARAM: &str = "E0111";
/// The kernel asked for is not in the file.
pub const UNKNOWN_KERNEL: &str = "E0112";
/// A compile-time parameter without a default that the caller did not give.
pub const MISSING_CONST_PARAM: &str = "E0113";
/// A compile-time value given for a name that is not a compile-time parameter.
pub const UNKNOWN_CONST_PARAM: &str = "E0114";
/// `range`/`static_range` called outside the head of a `for` loop.
pub const RANGE_OUTSIDE_FOR: &str = "E0115";
/// Helper inlining nested deeper than the limit.
pub const INLINE_TOO_DEEP: &str = "E0116";
/// A function name used as a value without calling it.
pub const FUNCTION_AS_VALUE: &str = "E0117";
/// A `for` loop over something other than `range(...)`/`static_range(...)`.
pub const BAD_FOR_ITERATOR: &str = "E0118";
/// A kernel called like a helper.
pub const KERNEL_CALL: &str = "E0119";
/// A type name that is not a dtype.
pub const UNKNOWN_TYPE: &str = "E0120";
/// Assignment to a compile-time parameter or file constant.
pub const ASSIGN_TO_CONST: &str = "E0121";

// ---- E02xx: types and shapes ----------------------------------------------

/// Operand shapes that do not broadcast.
pub const SHAPE_MISMATCH: &str = "E0201";
/// An operator applied to operand types it does not accept.
pub const BAD_OPERAND_TYPES: &str = "E0202";
/// A reassignment (or loop-carried / branch-assigned value) that changes a variable's type or shape.
pub const TYPE_CHANGED: &str = "E0203";
/// An `if`/`while` condition (or `where` condition) that is not a `bool` scalar.
pub const CONDITION_NOT_BOOL: &str = "E0204";
/// `load`/`store`/`atomic_add` of something that is not a pointer.
pub const NOT_A_POINTER: &str = "E0205";
/// A `mask` that is not `bool`.
pub const MASK_NOT_BOOL: &str = "E0206";
/// `other` given to `load` without a `mask`.
pub const OTHER_WITHOUT_MASK: &str = "E0207";
/// An option that applies only to block pointers (or only to tensors of pointers).
pub const WRONG_POINTER_KIND: &str = "E0208";
/// `dot` operands of wrong rank or mismatched inner dimensions.
pub const DOT_SHAPE: &str = "E0209";
/// `dot` operand or accumulator element types it does not support.
pub const DOT_TYPE: &str = "E0210";
/// An axis outside the tensor's rank.
pub const AXIS_OUT_OF_RANGE: &str = "E0211";
/// A dtype was expected.
pub const EXPECTED_DTYPE: &str = "E0212";
/// A parameter type that cannot be a kernel parameter (`**f32`).
pub const BAD_PARAM_TYPE: &str = "E0213";
/// A cast to a type that is not a numeric dtype, or of a value that cannot be cast.
pub const BAD_CAST: &str = "E0214";
/// `reshape` to a shape with another element count.
pub const RESHAPE_COUNT: &str = "E0215";
/// `permute` dims that are not a permutation of the axes.
pub const BAD_PERMUTATION: &str = "E0216";
/// A call that returns nothing used as a value.
pub const NO_VALUE: &str = "E0217";
/// `let (a, b) = e` where `e` is not a tuple of that many values.
pub const TUPLE_ARITY: &str = "E0218";
/// An argument whose type differs from the helper parameter's declared type.
pub const PARAM_TYPE_MISMATCH: &str = "E0219";
/// A `let` whose value does not have the annotated type.
pub const LET_TYPE_MISMATCH: &str = "E0220";
/// A subscript other than `:` and `None`, or more subscripts than axes.
pub const BAD_INDEX: &str = "E0221";
/// A tensor operation applied to a scalar or a non-tensor value.
pub const EXPECTED_TENSOR: &str = "E0222";
/// A value that cannot live in a runtime variable (string, dtype, tuple) carried by a loop or a runtime branch.
pub const NOT_CARRIABLE: &str = "E0223";
/// A shape argument that is not a tuple or list of integers.
pub const EXPECTED_SHAPE: &str = "E0224";
/// A string option with an unsupported value (`padding`, `precision`).
pub const BAD_OPTION: &str = "E0225";
/// Block-pointer tuples whose lengths disagree with the block's rank.
pub const BLOCK_PTR_RANK: &str = "E0226";
/// A value of the wrong kind where a number was expected (tuple, string, dtype).
pub const EXPECTED_NUMBER: &str = "E0227";
/// A helper's returned value does not match its declared return type.
pub const RETURN_TYPE_MISMATCH: &str = "E0228";
/// An integer was required (loop bounds, offsets, `cdiv`).
pub const EXPECTED_INT: &str = "E0229";

// ---- E03xx: compile-time evaluation ----------------------------------------

/// A value needed at compile time is only known at run time.
pub const NOT_CONSTANT: &str = "E0301";
/// Compile-time integer arithmetic overflowed i64.
pub const CONST_OVERFLOW: &str = "E0302";
/// Compile-time integer division or remainder by zero.
pub const CONST_DIV_ZERO: &str = "E0303";
/// A `static_assert` whose condition is false.
pub const STATIC_ASSERT_FAILED: &str = "E0304";
/// A compile-time constant that does not fit the type it meets.
pub const CONST_OUT_OF_RANGE: &str = "E0305";
/// An integer literal larger than i64.
pub const LITERAL_TOO_LARGE: &str = "E0306";
/// A `static_range` loop with more iterations than the unrolling limit.
pub const UNROLL_LIMIT: &str = "E0307";
/// A loop step of zero.
pub const ZERO_STEP: &str = "E0308";
/// `arange` bounds that are empty or out of range.
pub const BAD_ARANGE: &str = "E0309";
/// A tensor dimension that is not positive, or a tensor too large.
pub const BAD_DIMENSION: &str = "E0310";
/// A specialization whose IR grew past the op limit (runaway unrolling).
pub const KERNEL_TOO_LARGE: &str = "E0311";
/// A compile-time value of the wrong type for its compile-time parameter or constant.
pub const CONST_TYPE_MISMATCH: &str = "E0312";
/// A compile-time shift by a negative amount or by 64 or more.
pub const SHIFT_OUT_OF_RANGE: &str = "E0313";
/// A compiler bug: the IR produced from a program failed verification.
pub const INTERNAL_ERROR: &str = "E0399";

// ---- E04xx: kernel metadata --------------------------------------------------

/// `grid(...)` with no or more than three dimensions.
pub const GRID_ARITY: &str = "E0401";
/// A grid expression that uses a pointer, float or bool parameter.
pub const GRID_PARAM_TYPE: &str = "E0402";
/// A grid expression using something other than `+ - * / %`, `cdiv`, `min`, `max`, literals and parameters.
pub const GRID_EXPR: &str = "E0403";
/// A `tune` entry naming neither a compile-time parameter nor a launch knob
/// (`warps`, `stages`, `occupancy`).
pub const TUNE_UNKNOWN: &str = "E0404";
/// A `warps` value that is not a power of two in 1..=32.
pub const BAD_WARPS: &str = "E0405";
/// A `stages` value below 1.
pub const BAD_STAGES: &str = "E0406";
/// A `tune` entry with no values or a repeated value.
pub const TUNE_VALUES: &str = "E0407";
/// A `key` entry that is not a runtime scalar parameter.
pub const BAD_KEY: &str = "E0408";
/// A parameter hint other than `@div(n)` and `@contig`.
pub const UNKNOWN_HINT: &str = "E0409";
/// A hint on a parameter whose type it does not apply to.
pub const HINT_PARAM_TYPE: &str = "E0410";
/// `@div(n)` whose `n` is not a positive power of two (or a hint with wrong arguments).
pub const BAD_HINT_ARG: &str = "E0411";
// E0412 is unused: a clause written twice is a syntax error (E00xx).

/// The same name twice in one `tune` or `key` clause, or the same hint twice.
pub const DUPLICATE_META_ENTRY: &str = "E0413";
/// A runtime kernel parameter without a type.
pub const UNTYPED_PARAM: &str = "E0414";
/// A compile-time parameter whose type is not a scalar dtype.
pub const CONST_PARAM_TYPE: &str = "E0415";
/// A hint on a compile-time parameter.
pub const HINT_ON_CONST: &str = "E0416";
/// A `tune` value that does not fit the compile-time parameter's type.
pub const TUNE_VALUE_TYPE: &str = "E0417";
/// A `require` condition using something other than integer parameters,
/// literals, arithmetic, comparisons and `&& || !`.
pub const REQUIRE_EXPR: &str = "E0418";
/// The compile-time values of a specialization make a `require` condition false.
pub const REQUIRE_FAILED: &str = "E0419";
/// An `occupancy` value outside 1..=8.
pub const BAD_OCCUPANCY: &str = "E0420";

/// Every front-end code with a one-line summary, in code order.
pub const ALL: &[(&str, &str)] = &[
    (UNKNOWN_NAME, "unknown name"),
    (UNKNOWN_FUNCTION, "call of an unknown function"),
    (DUPLICATE_ITEM, "two items of a file share a name"),
    (SHADOWS_BUILTIN, "a helper or constant takes the name of a builtin"),
    (TOO_MANY_ARGS, "too many positional arguments"),
    (MISSING_ARG, "a required argument is missing"),
    (UNKNOWN_KEYWORD, "unknown keyword argument"),
    (DUPLICATE_ARG, "an argument is given twice"),
    (RECURSION, "recursive helper calls"),
    (MISPLACED_RETURN, "`return` outside a helper or not its last statement"),
    (DUPLICATE_PARAM, "two parameters share a name"),
    (UNKNOWN_KERNEL, "no kernel of that name in the file"),
    (MISSING_CONST_PARAM, "a compile-time parameter has no value"),
    (UNKNOWN_CONST_PARAM, "a value is given for an unknown compile-time parameter"),
    (RANGE_OUTSIDE_FOR, "`range`/`static_range` outside a `for` head"),
    (INLINE_TOO_DEEP, "helper inlining nested too deeply"),
    (FUNCTION_AS_VALUE, "a function used as a value"),
    (BAD_FOR_ITERATOR, "`for` over something other than `range`/`static_range`"),
    (KERNEL_CALL, "a kernel called like a helper"),
    (UNKNOWN_TYPE, "unknown type name"),
    (ASSIGN_TO_CONST, "assignment to a compile-time parameter or constant"),
    (SHAPE_MISMATCH, "shapes do not broadcast"),
    (BAD_OPERAND_TYPES, "operator applied to unsupported operand types"),
    (TYPE_CHANGED, "a variable's type or shape changes"),
    (CONDITION_NOT_BOOL, "a condition is not a bool"),
    (NOT_A_POINTER, "memory access through a non-pointer"),
    (MASK_NOT_BOOL, "a mask is not bool"),
    (OTHER_WITHOUT_MASK, "`other` without `mask`"),
    (WRONG_POINTER_KIND, "option for the other kind of pointer"),
    (DOT_SHAPE, "`dot` operand shapes do not fit"),
    (DOT_TYPE, "`dot` element types not supported"),
    (AXIS_OUT_OF_RANGE, "axis out of range"),
    (EXPECTED_DTYPE, "a dtype was expected"),
    (BAD_PARAM_TYPE, "unsupported parameter type"),
    (BAD_CAST, "invalid cast"),
    (RESHAPE_COUNT, "`reshape` changes the element count"),
    (BAD_PERMUTATION, "`permute` dims are not a permutation"),
    (NO_VALUE, "a call without a value used as a value"),
    (TUPLE_ARITY, "tuple unpacking of the wrong arity"),
    (PARAM_TYPE_MISMATCH, "argument type differs from the helper's parameter type"),
    (LET_TYPE_MISMATCH, "`let` value differs from the annotated type"),
    (BAD_INDEX, "unsupported subscript"),
    (EXPECTED_TENSOR, "a tensor was expected"),
    (NOT_CARRIABLE, "a non-numeric value carried by a loop or runtime branch"),
    (EXPECTED_SHAPE, "a shape (tuple of integers) was expected"),
    (BAD_OPTION, "unsupported option value"),
    (BLOCK_PTR_RANK, "block-pointer tuple lengths disagree"),
    (EXPECTED_NUMBER, "a number was expected"),
    (RETURN_TYPE_MISMATCH, "returned value differs from the declared return type"),
    (EXPECTED_INT, "an integer was expected"),
    (NOT_CONSTANT, "value not known at compile time"),
    (CONST_OVERFLOW, "compile-time integer overflow"),
    (CONST_DIV_ZERO, "compile-time division by zero"),
    (STATIC_ASSERT_FAILED, "`static_assert` failed"),
    (CONST_OUT_OF_RANGE, "constant does not fit its type"),
    (LITERAL_TOO_LARGE, "integer literal too large"),
    (UNROLL_LIMIT, "`static_range` unrolls too many iterations"),
    (ZERO_STEP, "loop step is zero"),
    (BAD_ARANGE, "invalid `arange` bounds"),
    (BAD_DIMENSION, "invalid tensor dimension"),
    (KERNEL_TOO_LARGE, "specialization exceeds the op limit"),
    (CONST_TYPE_MISMATCH, "compile-time value of the wrong type"),
    (SHIFT_OUT_OF_RANGE, "compile-time shift amount out of range"),
    (INTERNAL_ERROR, "internal compiler error (IR verification failed)"),
    (GRID_ARITY, "`grid` needs one to three dimensions"),
    (GRID_PARAM_TYPE, "grid uses a non-integer parameter"),
    (GRID_EXPR, "unsupported grid expression"),
    (TUNE_UNKNOWN, "`tune` names an unknown parameter"),
    (BAD_WARPS, "invalid `warps` value"),
    (BAD_STAGES, "invalid `stages` value"),
    (TUNE_VALUES, "empty or repeated `tune` values"),
    (BAD_KEY, "`key` entry is not a runtime scalar parameter"),
    (UNKNOWN_HINT, "unknown parameter hint"),
    (HINT_PARAM_TYPE, "hint does not apply to the parameter's type"),
    (BAD_HINT_ARG, "invalid hint argument"),
    (DUPLICATE_META_ENTRY, "repeated `tune`/`key` entry or hint"),
    (UNTYPED_PARAM, "runtime kernel parameter without a type"),
    (CONST_PARAM_TYPE, "compile-time parameter type is not a scalar dtype"),
    (HINT_ON_CONST, "hint on a compile-time parameter"),
    (TUNE_VALUE_TYPE, "`tune` value does not fit the parameter's type"),
    (REQUIRE_EXPR, "unsupported `require` condition"),
    (REQUIRE_FAILED, "the compile-time values break a `require` condition"),
    (BAD_OCCUPANCY, "invalid `occupancy` value"),
];

#[cfg(test)]
mod tests {
    use super::ALL;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_in_range() {
        let mut seen = HashSet::new();
        for (code, summary) in ALL {
            assert!(seen.insert(*code), "duplicate code {code}");
            assert!(code.len() == 5 && code.starts_with("E0"), "{code}");
            let range: u32 = code[1..3].parse().unwrap();
            assert!((1..=4).contains(&range), "{code} outside E01xx..E04xx");
            assert!(!summary.is_empty());
        }
    }
}
