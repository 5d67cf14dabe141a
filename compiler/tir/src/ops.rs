//! The operations of the tile IR and their contracts.
//!
//! Each [`OpKind`] documents its operands (in order), results and regions.
//! "Elementwise" ops require all tensor operands to have the same shape as
//! the result (the front end inserts `splat`/`broadcast` explicitly; the IR
//! never broadcasts implicitly) and, unless stated, the same element type.

use crate::types::ScalarType;

/// A compile-time constant splatted over the result's shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Constant {
    Int(i64),
    Float(f64),
    Bool(bool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// Arithmetic negation (ints wrap).
    Neg,
    /// Bitwise not on integers, logical not on i1.
    Not,
    /// The rest take and return floats.
    Exp,
    Exp2,
    Log,
    Log2,
    Sqrt,
    Rsqrt,
    /// Also on integers.
    Abs,
    Sin,
    Cos,
    Sigmoid,
    Tanh,
    Floor,
    Ceil,
}

impl UnaryOp {
    pub const ALL: [UnaryOp; 15] = [
        UnaryOp::Neg,
        UnaryOp::Not,
        UnaryOp::Exp,
        UnaryOp::Exp2,
        UnaryOp::Log,
        UnaryOp::Log2,
        UnaryOp::Sqrt,
        UnaryOp::Rsqrt,
        UnaryOp::Abs,
        UnaryOp::Sin,
        UnaryOp::Cos,
        UnaryOp::Sigmoid,
        UnaryOp::Tanh,
        UnaryOp::Floor,
        UnaryOp::Ceil,
    ];
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Not => "not",
            UnaryOp::Exp => "exp",
            UnaryOp::Exp2 => "exp2",
            UnaryOp::Log => "log",
            UnaryOp::Log2 => "log2",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Rsqrt => "rsqrt",
            UnaryOp::Abs => "abs",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Floor => "floor",
            UnaryOp::Ceil => "ceil",
        }
    }
    /// True for ops defined only on floats.
    pub fn float_only(self) -> bool {
        !matches!(self, UnaryOp::Neg | UnaryOp::Not | UnaryOp::Abs)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    /// Float division; on integers, division truncating toward zero.
    /// Integer division by zero is a run-time error in the interpreter.
    Div,
    /// Remainder with the sign of the dividend.
    Rem,
    Min,
    Max,
    /// Bitwise on integers, logical on i1.
    And,
    Or,
    Xor,
    /// Integer shifts; the shift amount is taken modulo the bit width.
    Shl,
    /// Arithmetic (sign-extending) shift right.
    Shr,
}

impl BinaryOp {
    pub const ALL: [BinaryOp; 12] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Rem,
        BinaryOp::Min,
        BinaryOp::Max,
        BinaryOp::And,
        BinaryOp::Or,
        BinaryOp::Xor,
        BinaryOp::Shl,
        BinaryOp::Shr,
    ];
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Rem => "rem",
            BinaryOp::Min => "min",
            BinaryOp::Max => "max",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Xor => "xor",
            BinaryOp::Shl => "shl",
            BinaryOp::Shr => "shr",
        }
    }
    /// True for ops defined only on integers (and i1).
    pub fn int_only(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Xor | BinaryOp::Shl | BinaryOp::Shr)
    }
}

/// Comparison predicates: signed for integers, ordered for floats (any
/// comparison with NaN is false, except `ne`, which is true).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpPred {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpPred {
    pub const ALL: [CmpPred; 6] = [CmpPred::Eq, CmpPred::Ne, CmpPred::Lt, CmpPred::Le, CmpPred::Gt, CmpPred::Ge];
    pub fn name(self) -> &'static str {
        match self {
            CmpPred::Eq => "eq",
            CmpPred::Ne => "ne",
            CmpPred::Lt => "lt",
            CmpPred::Le => "le",
            CmpPred::Gt => "gt",
            CmpPred::Ge => "ge",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceKind {
    Sum,
    Max,
    Min,
    /// Index (i32) of the first maximum along the axis.
    Argmax,
    /// Index (i32) of the first minimum along the axis.
    Argmin,
}

impl ReduceKind {
    pub fn name(self) -> &'static str {
        match self {
            ReduceKind::Sum => "sum",
            ReduceKind::Max => "max",
            ReduceKind::Min => "min",
            ReduceKind::Argmax => "argmax",
            ReduceKind::Argmin => "argmin",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScanKind {
    /// Inclusive prefix sum.
    Cumsum,
    /// Inclusive prefix product.
    Cumprod,
}

impl ScanKind {
    pub fn name(self) -> &'static str {
        match self {
            ScanKind::Cumsum => "cumsum",
            ScanKind::Cumprod => "cumprod",
        }
    }
}

/// How `dot` multiplies f32 operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DotPrecision {
    /// f32 inputs are rounded to tf32 (10-bit mantissa) first; the default,
    /// as in Triton. Ignored for 16-bit inputs.
    Tf32,
    /// Exact f32 products.
    Ieee,
}

/// What out-of-bounds elements of a block-pointer load read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Padding {
    Zero,
    Nan,
}

/// How a load asks the L2 cache to keep the lines it reads: a hint, which
/// the backend honors where the target can express it (see
/// docs/language.md, `eviction_policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Evict {
    #[default]
    Normal,
    /// Evicted before normal lines: data read once (streaming).
    First,
    /// Kept over normal lines: data read again soon.
    Last,
}

impl Evict {
    pub const ALL: [Evict; 3] = [Evict::Normal, Evict::First, Evict::Last];

    /// The policy as the language (`eviction_policy = "evict_first"`) and
    /// PTX (`L2::evict_first`) spell it.
    pub fn policy(self) -> &'static str {
        match self {
            Evict::Normal => "evict_normal",
            Evict::First => "evict_first",
            Evict::Last => "evict_last",
        }
    }

    /// The IR's spelling (`evict = first`): the policy without `evict_`.
    pub fn name(self) -> &'static str {
        &self.policy()["evict_".len()..]
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    /// No operands; one result (scalar or tensor): the constant everywhere.
    Constant(Constant),
    /// No operands; result `i32` scalar: this program's index on `axis` (0..3).
    ProgramId(u8),
    /// No operands; result `i32` scalar: the grid size on `axis`.
    NumPrograms(u8),
    /// No operands; result `tensor<(end-start) x i32>` holding start..end.
    Arange { start: i64, end: i64 },
    /// Operand: a scalar. Result: a tensor of that element type, filled with it.
    Splat,
    /// Operand: a tensor. Result: the same element type, shape broadcast per
    /// numpy rules from an operand of equal rank (dims of size 1 stretch).
    Broadcast,
    /// Operand: a tensor. Result: the same, with a size-1 axis inserted at `axis`.
    ExpandDims(u32),
    /// Operand: a tensor. Result: same elements in row-major order, new shape
    /// with the same number of elements.
    Reshape,
    /// Operand: a tensor of rank r. Result: axes permuted; result axis i is
    /// operand axis `perm[i]`.
    Permute(Vec<u32>),
    /// Elementwise; one operand; result of the operand's type (float-only ops
    /// require a float operand).
    Unary(UnaryOp),
    /// Elementwise; two operands of the result's type.
    Binary(BinaryOp),
    /// Elementwise; two operands of one type; result i1 of their shape.
    Compare(CmpPred),
    /// Elementwise: operands (cond: i1, a, b), a and b of the result type.
    Select,
    /// Elementwise conversion of a numeric operand to the result's element
    /// type: float<->float rounds to nearest even, float->int truncates
    /// toward zero (saturating; NaN gives 0), int->int wraps or sign-extends,
    /// anything->i1 is `!= 0`.
    Cast,
    /// Elementwise: operands (ptr tensor, integer offsets); result is the
    /// pointer advanced by offset *elements*.
    AddPtr,
    /// Operands: (ptrs) or (ptrs, mask) or (ptrs, mask, other). Result: the
    /// pointee type in the pointers' shape. Masked-off lanes read `other`
    /// (or 0) and touch no memory.
    Load { masked: bool, has_other: bool },
    /// Operands: (ptrs, value) or (ptrs, value, mask). No results.
    Store { masked: bool },
    /// Operands: (ptrs, value) or (ptrs, value, mask). Result: the old values
    /// (masked-off lanes give 0). Atomic per element.
    AtomicAdd { masked: bool },
    /// No operands or results. Every memory access of the program before it
    /// is ordered before every access after it, as any program of the grid
    /// observes them (the whole program waits at it): with an atomic flag,
    /// what lets one program publish results another one reads.
    Fence,
    /// Operands: base (scalar ptr), then `rank` each of shape (i64),
    /// strides (i64) and offsets (i32). Result: `blockptr<block x elem>`.
    /// `order` lists axes from fastest- to slowest-varying in memory.
    MakeBlockPtr { order: Vec<u32> },
    /// Operands: a block pointer, then `rank` i32 offsets. Result: the same
    /// type, moved by those offsets.
    Advance,
    /// Operand: a block pointer. Result: tensor of its block shape. Axes in
    /// `boundary_check` are bounds-checked against the view's shape and pad
    /// with `padding`; unchecked axes must be in bounds. `evict` is an L2
    /// eviction hint.
    LoadBlock { boundary_check: Vec<u32>, padding: Padding, evict: Evict },
    /// Operands: a block pointer, a value of its block shape. No results.
    StoreBlock { boundary_check: Vec<u32> },
    /// Operands: a [M, K], b [K, N], acc [M, N] (f32, or the inputs' type for
    /// i8 -> i32). Result: acc + a @ b, same type as acc. a and b share an
    /// element type.
    Dot { precision: DotPrecision },
    /// Operand: a tensor. Result: the tensor reduced along `axis` (axis
    /// removed; scalar for rank 1). Sum/max/min keep the element type;
    /// argmax/argmin give i32.
    Reduce { kind: ReduceKind, axis: u32 },
    /// Operand: a tensor. Result: same type, inclusive scan along `axis`.
    Scan { kind: ScanKind, axis: u32, reverse: bool },
    /// Operands: (lower, upper, step, inits...), integer scalars of one type
    /// for the bounds. One region with arguments (iv, iters...) ending in
    /// `yield` of the new iters. Results: the iters after the last trip.
    /// Runs while `iv < upper` for step > 0 and `iv > upper` for step < 0;
    /// step 0 is a run-time error.
    For,
    /// Operand: an i1 scalar. Two regions (then, else) without arguments,
    /// each ending in `yield` of the results.
    If,
    /// Operands: inits. Region 0 (before) takes the carried values and ends
    /// in `condition %c` (i1 scalar); region 1 (body) takes the carried
    /// values and ends in `yield` of their next values. Results: the carried
    /// values when the condition was false.
    While,
    /// Terminator of `for`/`if`/`while` bodies: the region's results.
    Yield,
    /// Terminator of a `while` before-region: operand is the i1 condition.
    Condition,
    /// Terminator of the kernel body. No operands.
    Return,
}

impl OpKind {
    /// The op's mnemonic in the text form (without attributes).
    pub fn mnemonic(&self) -> &'static str {
        match self {
            OpKind::Constant(_) => "constant",
            OpKind::ProgramId(_) => "program_id",
            OpKind::NumPrograms(_) => "num_programs",
            OpKind::Arange { .. } => "arange",
            OpKind::Splat => "splat",
            OpKind::Broadcast => "broadcast",
            OpKind::ExpandDims(_) => "expand_dims",
            OpKind::Reshape => "reshape",
            OpKind::Permute(_) => "permute",
            OpKind::Unary(op) => op.name(),
            OpKind::Binary(op) => op.name(),
            OpKind::Compare(_) => "cmp",
            OpKind::Select => "select",
            OpKind::Cast => "cast",
            OpKind::AddPtr => "addptr",
            OpKind::Load { .. } => "load",
            OpKind::Store { .. } => "store",
            OpKind::AtomicAdd { .. } => "atomic_add",
            OpKind::Fence => "fence",
            OpKind::MakeBlockPtr { .. } => "make_block_ptr",
            OpKind::Advance => "advance",
            OpKind::LoadBlock { .. } => "load_block",
            OpKind::StoreBlock { .. } => "store_block",
            OpKind::Dot { .. } => "dot",
            OpKind::Reduce { .. } => "reduce",
            OpKind::Scan { .. } => "scan",
            OpKind::For => "for",
            OpKind::If => "if",
            OpKind::While => "while",
            OpKind::Yield => "yield",
            OpKind::Condition => "condition",
            OpKind::Return => "return",
        }
    }

    pub fn is_terminator(&self) -> bool {
        matches!(self, OpKind::Yield | OpKind::Condition | OpKind::Return)
    }

    /// Ops with effects beyond their results (never removed as dead code).
    pub fn has_side_effects(&self) -> bool {
        matches!(self, OpKind::Store { .. } | OpKind::AtomicAdd { .. } | OpKind::StoreBlock { .. } | OpKind::Fence)
            || self.is_terminator()
    }

    /// Elementwise ops (same shape in and out; codegen maps them lane by lane).
    pub fn is_elementwise(&self) -> bool {
        matches!(
            self,
            OpKind::Unary(_) | OpKind::Binary(_) | OpKind::Compare(_) | OpKind::Select | OpKind::Cast | OpKind::AddPtr
        )
    }
}

/// Used by `Cast` docs and by the interpreter: whether a conversion between
/// two element types can lose information.
pub fn cast_is_widening(from: ScalarType, to: ScalarType) -> bool {
    use ScalarType::*;
    match (from, to) {
        _ if from == to => true,
        (I1, _) => true,
        (I8, I16 | I32 | I64 | F16 | BF16 | F32 | F64) => true,
        (I16, I32 | I64 | F32 | F64) => true,
        (I32, I64 | F64) => true,
        (F16 | BF16, F32 | F64) => true,
        (F32, F64) => true,
        _ => false,
    }
}
