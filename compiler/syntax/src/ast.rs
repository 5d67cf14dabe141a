//! The syntax tree, exactly as written (no desugaring beyond operator
//! precedence). Every node carries the [`Span`] of its source text.
//!
//! Error recovery inserts [`ExprKind::Error`] / [`StmtKind::Error`] nodes where
//! input could not be parsed; later stages skip them silently, since the
//! parser already reported the problem.

pub use tessera_diagnostics::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One `.tsr` file.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Module {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Kernel(Kernel),
    Function(Function),
    /// `const NAME: i32 = expr;` at file level: a compile-time constant.
    Const(ConstItem),
}

/// `kernel name(params) grid(..) tune(..) key(..) require(..) { body }`
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    pub name: Ident,
    pub params: Vec<Param>,
    pub clauses: Vec<Clause>,
    pub body: Block,
    pub span: Span,
}

/// Launch metadata written between a kernel's signature and its body.
#[derive(Clone, Debug, PartialEq)]
pub enum Clause {
    /// `grid(e0, e1, e2)`: one to three expressions of the kernel's parameters.
    Grid { dims: Vec<Expr>, span: Span },
    /// `tune(BLOCK = [32, 64], warps = [4, 8], stages = [1, 2])`
    Tune { entries: Vec<TuneEntry>, span: Span },
    /// `key(n, d)`: the runtime arguments that select a tuned choice.
    Key { params: Vec<Ident>, span: Span },
    /// `require(cols <= BLOCK)`: conditions on integer runtime and
    /// compile-time parameters that a launch of a variant needs.
    Require { conds: Vec<Expr>, span: Span },
}

#[derive(Clone, Debug, PartialEq)]
pub struct TuneEntry {
    pub name: Ident,
    pub values: Vec<Expr>,
    pub span: Span,
}

/// `fn name(params) -> ty { body }`: a helper, inlined at every call.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: Option<TypeExpr>,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConstItem {
    pub name: Ident,
    pub ty: Option<TypeExpr>,
    pub value: Expr,
    pub span: Span,
}

/// A parameter: `x: *f32 @div(16)`, `n: i32`, `const BLOCK: i32 = 64`, or an
/// untyped helper parameter `a`.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub is_const: bool,
    pub ty: Option<TypeExpr>,
    /// Only for `const` parameters.
    pub default: Option<Expr>,
    pub hints: Vec<Hint>,
    pub span: Span,
}

/// `@div(16)`, `@contig`: facts about a runtime argument that code generation
/// may rely on.
#[derive(Clone, Debug, PartialEq)]
pub struct Hint {
    pub name: Ident,
    pub args: Vec<Expr>,
    pub span: Span,
}

/// A type as written: `f32`, `*bf16`, `**f32` (rejected later), `bool`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    /// Number of leading `*`.
    pub pointer_depth: u8,
    pub name: Ident,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    Name(Ident),
    /// `let (a, b) = f(x);`
    Tuple(Vec<Ident>, Span),
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `let p = e;` or `let p: ty = e;` (`let mut` is accepted and means the same).
    Let {
        pattern: Pattern,
        ty: Option<TypeExpr>,
        value: Expr,
    },
    /// `x = e;` (`op` is None) or `x += e;` (`op` is Some(Add)) etc.
    Assign {
        target: Ident,
        op: Option<BinOp>,
        value: Expr,
    },
    /// An expression evaluated for its effect: `store(p, v);`
    Expr(Expr),
    /// `for i in range(a, b, step) { }` / `for i in static_range(a, b) { }`;
    /// `iter` is the call expression after `in`.
    For {
        var: Ident,
        iter: Expr,
        body: Block,
    },
    While {
        cond: Expr,
        body: Block,
    },
    /// `else if` chains are an `else` block holding one `If` statement.
    If {
        cond: Expr,
        then_block: Block,
        else_block: Option<Block>,
    },
    Return(Option<Expr>),
    /// A statement that failed to parse.
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(u64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// `None`, used in subscripts (`x[:, None]`) and as an absent argument.
    None,
    Name(Ident),
    Unary {
        op: UnOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `f(a, b, axis = 1)`
    Call {
        callee: Ident,
        args: Vec<Arg>,
    },
    /// `x.to(bf16)`, `x.sum(1)`: sugar for `to(x, bf16)`, `sum(x, 1)`.
    Method {
        receiver: Box<Expr>,
        method: Ident,
        args: Vec<Arg>,
    },
    /// `x[:, None]`
    Index {
        base: Box<Expr>,
        indices: Vec<IndexItem>,
    },
    /// `(a, b)` or `[a, b]`: shapes, offsets, tune lists.
    Tuple(Vec<Expr>),
    /// `x as bf16`
    Cast {
        expr: Box<Expr>,
        ty: TypeExpr,
    },
    /// An expression that failed to parse.
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// `Some` for keyword arguments (`axis = 1`).
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum IndexItem {
    /// `:` keeps an axis.
    Full(Span),
    /// `None` inserts an axis of size 1.
    NewAxis(Span),
    /// Anything else; the front end rejects it with a diagnostic.
    Expr(Expr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `!x`: logical not on bool, bitwise not on integers.
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    /// `/`: float division, or truncating integer division on integers.
    Div,
    /// `%`: remainder with the sign of the dividend (as in Rust and C).
    Rem,
    Shl,
    Shr,
    BitAnd,
    BitOr,
    BitXor,
    /// `&&`
    And,
    /// `||`
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::And => "&&",
            BinOp::Or => "||",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
        }
    }
}
