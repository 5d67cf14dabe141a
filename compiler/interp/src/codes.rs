//! Diagnostic codes of the interpreter (E06xx): run-time errors.
//!
//! E0601-E0619 are found before any program runs (arguments, grid);
//! E0620 and up while programs run, and carry the op's location and the
//! program's id.

/// The number of launch arguments differs from the kernel's parameter count.
pub const ARG_COUNT: &str = "E0601";
/// An argument of the wrong kind: a buffer for a scalar parameter, a scalar
/// for a pointer parameter, or a scalar of the wrong kind (float for an int).
pub const ARG_KIND: &str = "E0602";
/// A buffer whose element type differs from the pointer parameter's pointee.
pub const BUFFER_TYPE: &str = "E0603";
/// `KernelArg::Buffer(i)` with `i` past the end of the buffer slice.
pub const BUFFER_INDEX: &str = "E0604";
/// An integer argument that does not fit its parameter's type (e.g. i32).
pub const INT_RANGE: &str = "E0605";
/// A grid expression names a parameter that has no integer argument.
pub const GRID_PARAM: &str = "E0606";
/// A grid expression divides by zero.
pub const GRID_DIV_ZERO: &str = "E0607";
/// A grid expression overflows i64, or a grid dimension exceeds u32.
pub const GRID_OVERFLOW: &str = "E0608";
/// A grid dimension evaluates to a negative number.
pub const GRID_NEGATIVE: &str = "E0609";
/// A grid dimension is zero: the launch would run no program.
pub const GRID_EMPTY: &str = "E0610";
/// The kernel's metadata has more than three grid dimensions.
pub const GRID_RANK: &str = "E0611";
/// The launch arguments make a `require` condition of the kernel false (or
/// leave it without a value).
pub const REQUIRE_FAILED: &str = "E0612";
/// A load, store or atomic lane addresses an element outside its buffer.
pub const OUT_OF_BOUNDS: &str = "E0620";
/// A block-pointer load or store leaves the view's shape on an axis that is
/// not in `boundary_check`.
pub const BLOCK_OUT_OF_BOUNDS: &str = "E0621";
/// Integer division or remainder by zero.
pub const DIV_BY_ZERO: &str = "E0622";
/// A `for` loop with step 0.
pub const ZERO_STEP: &str = "E0623";
/// The launch executed more ops than its limit (a runaway loop).
pub const OP_LIMIT: &str = "E0624";
/// The kernel breaks an op contract the verifier checks (wrong operand
/// type, shape or count, an undefined value): the IR is malformed.
pub const MALFORMED: &str = "E0625";
/// A `make_block_ptr` with a negative shape dimension.
pub const BLOCK_SHAPE: &str = "E0626";
/// A program of an interleaved launch stopped because another one failed
/// (the launch reports that one's error).
pub const ABORTED: &str = "E0627";

/// Every code of this crate with a one-line summary, for `tessera explain`.
pub const ALL: &[(&str, &str)] = &[
    (ARG_COUNT, "wrong number of launch arguments"),
    (ARG_KIND, "launch argument of the wrong kind for its parameter"),
    (BUFFER_TYPE, "buffer element type differs from the pointer parameter's pointee type"),
    (BUFFER_INDEX, "buffer argument index past the end of the buffer list"),
    (INT_RANGE, "integer argument out of range of its parameter's type"),
    (GRID_PARAM, "grid expression names a parameter without an integer argument"),
    (GRID_DIV_ZERO, "grid expression divides by zero"),
    (GRID_OVERFLOW, "grid expression overflows i64 or a grid dimension exceeds u32"),
    (GRID_NEGATIVE, "grid dimension is negative"),
    (GRID_EMPTY, "grid dimension is zero"),
    (GRID_RANK, "more than three grid dimensions"),
    (REQUIRE_FAILED, "launch arguments break a `require` condition of the kernel"),
    (OUT_OF_BOUNDS, "memory access outside its buffer"),
    (BLOCK_OUT_OF_BOUNDS, "block pointer access outside the view on an unchecked axis"),
    (DIV_BY_ZERO, "integer division or remainder by zero"),
    (ZERO_STEP, "for loop with step 0"),
    (OP_LIMIT, "launch exceeded its op limit (runaway loop)"),
    (MALFORMED, "kernel breaks an op contract (malformed IR)"),
    (BLOCK_SHAPE, "block pointer with a negative shape dimension"),
    (ABORTED, "program of an interleaved launch stopped by another program's failure"),
];
