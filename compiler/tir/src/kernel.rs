//! Kernels, regions, ops and values: the containers of the tile IR.

use crate::ops::OpKind;
use crate::types::Type;
use std::fmt;

/// An SSA value: an index into [`Kernel::values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// Where an op came from in the kernel's source file (1-based; 0 = unknown).
/// Kept through every pass so run-time errors can point at source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Loc {
    pub line: u32,
    pub col: u32,
}

impl Loc {
    pub const UNKNOWN: Loc = Loc { line: 0, col: 0 };
    pub fn is_known(self) -> bool {
        self.line != 0
    }
}

/// One operation. See [`OpKind`] for each kind's operands, results and regions.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    pub kind: OpKind,
    pub operands: Vec<ValueId>,
    pub results: Vec<ValueId>,
    pub regions: Vec<Region>,
    pub loc: Loc,
}

impl Op {
    pub fn new(kind: OpKind, operands: Vec<ValueId>, results: Vec<ValueId>, loc: Loc) -> Op {
        Op { kind, operands, results, regions: Vec::new(), loc }
    }
    pub fn result(&self) -> ValueId {
        self.results[0]
    }
}

/// A list of ops with arguments (loop induction variables, carried values).
/// The last op is the region's terminator.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Region {
    pub args: Vec<ValueId>,
    pub ops: Vec<Op>,
}

/// A runtime parameter of a kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    /// The entry value standing for the argument inside the body.
    pub value: ValueId,
    pub hints: ParamHints,
}

/// Facts promised by the caller about an argument (from `@div(n)`,
/// `@contig`), checked by the runtime at launch and used by codegen.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ParamHints {
    /// Integer arguments: divisible by this. Pointers: address divisible by
    /// this many bytes.
    pub divisibility: Option<u32>,
    /// Integer stride argument equal to 1 / pointer to contiguous rows.
    pub contiguous: bool,
}

/// A compile-time value of a specialization.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstValue {
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl ConstValue {
    /// A value as written on a command line or in a case file (what
    /// [`Display`](fmt::Display) prints): `true`, `false`, an integer, or a
    /// finite float; `None` for anything else.
    pub fn parse(text: &str) -> Option<ConstValue> {
        match text {
            "true" => Some(ConstValue::Bool(true)),
            "false" => Some(ConstValue::Bool(false)),
            _ => text
                .parse::<i64>()
                .map(ConstValue::Int)
                .ok()
                .or_else(|| text.parse::<f64>().ok().filter(|v| v.is_finite()).map(ConstValue::Float)),
        }
    }
}

impl fmt::Display for ConstValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConstValue::Int(v) => write!(f, "{v}"),
            // `{:?}` keeps a decimal point so the value reads back as a float.
            ConstValue::Float(v) => write!(f, "{v:?}"),
            ConstValue::Bool(v) => write!(f, "{v}"),
        }
    }
}

/// An integer expression over the kernel's runtime scalar parameters (by
/// name), evaluated by the launcher: grid sizes and launch requirements.
/// Compile-time parameters are already substituted in a specialization (a
/// signature keeps them as [`MetaExpr::Param`]). Comparisons and logic
/// yield 0 or 1; logic treats any non-zero value as true.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaExpr {
    Int(i64),
    Param(String),
    Add(Box<MetaExpr>, Box<MetaExpr>),
    Sub(Box<MetaExpr>, Box<MetaExpr>),
    Mul(Box<MetaExpr>, Box<MetaExpr>),
    /// Truncating division.
    Div(Box<MetaExpr>, Box<MetaExpr>),
    Rem(Box<MetaExpr>, Box<MetaExpr>),
    /// Ceiling division.
    Cdiv(Box<MetaExpr>, Box<MetaExpr>),
    Min(Box<MetaExpr>, Box<MetaExpr>),
    Max(Box<MetaExpr>, Box<MetaExpr>),
    Cmp(MetaCmp, Box<MetaExpr>, Box<MetaExpr>),
    And(Box<MetaExpr>, Box<MetaExpr>),
    Or(Box<MetaExpr>, Box<MetaExpr>),
    Not(Box<MetaExpr>),
}

/// A comparison of two [`MetaExpr`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaCmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl MetaCmp {
    pub const ALL: [MetaCmp; 6] = [MetaCmp::Lt, MetaCmp::Le, MetaCmp::Gt, MetaCmp::Ge, MetaCmp::Eq, MetaCmp::Ne];

    /// The source operator: `<=`.
    pub fn symbol(self) -> &'static str {
        match self {
            MetaCmp::Lt => "<",
            MetaCmp::Le => "<=",
            MetaCmp::Gt => ">",
            MetaCmp::Ge => ">=",
            MetaCmp::Eq => "==",
            MetaCmp::Ne => "!=",
        }
    }

    /// The name in the tile IR's text form: `le(a, b)`.
    pub fn name(self) -> &'static str {
        match self {
            MetaCmp::Lt => "lt",
            MetaCmp::Le => "le",
            MetaCmp::Gt => "gt",
            MetaCmp::Ge => "ge",
            MetaCmp::Eq => "eq",
            MetaCmp::Ne => "ne",
        }
    }

    pub fn holds(self, a: i64, b: i64) -> bool {
        match self {
            MetaCmp::Lt => a < b,
            MetaCmp::Le => a <= b,
            MetaCmp::Gt => a > b,
            MetaCmp::Ge => a >= b,
            MetaCmp::Eq => a == b,
            MetaCmp::Ne => a != b,
        }
    }
}

impl MetaExpr {
    /// Evaluate with the given parameter values; None if a parameter is
    /// missing, a division by zero occurs, or arithmetic overflows i64.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<i64>) -> Option<i64> {
        let bin = |a: &MetaExpr, b: &MetaExpr| Some((a.eval(lookup)?, b.eval(lookup)?));
        match self {
            MetaExpr::Int(v) => Some(*v),
            MetaExpr::Param(p) => lookup(p),
            MetaExpr::Add(a, b) => bin(a, b).and_then(|(a, b)| a.checked_add(b)),
            MetaExpr::Sub(a, b) => bin(a, b).and_then(|(a, b)| a.checked_sub(b)),
            MetaExpr::Mul(a, b) => bin(a, b).and_then(|(a, b)| a.checked_mul(b)),
            MetaExpr::Div(a, b) => bin(a, b).and_then(|(a, b)| a.checked_div(b)),
            MetaExpr::Rem(a, b) => bin(a, b).and_then(|(a, b)| a.checked_rem(b)),
            MetaExpr::Cdiv(a, b) => bin(a, b)
                .and_then(|(a, b)| if b == 0 { None } else { Some(a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)) }),
            MetaExpr::Min(a, b) => bin(a, b).map(|(a, b)| a.min(b)),
            MetaExpr::Max(a, b) => bin(a, b).map(|(a, b)| a.max(b)),
            MetaExpr::Cmp(op, a, b) => bin(a, b).map(|(a, b)| i64::from(op.holds(a, b))),
            MetaExpr::And(a, b) => bin(a, b).map(|(a, b)| i64::from(a != 0 && b != 0)),
            MetaExpr::Or(a, b) => bin(a, b).map(|(a, b)| i64::from(a != 0 || b != 0)),
            MetaExpr::Not(a) => a.eval(lookup).map(|a| i64::from(a == 0)),
        }
    }

    /// The parameter names the expression reads, in order of appearance.
    pub fn params(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.visit_params(&mut |p| out.push(p));
        out
    }

    fn visit_params<'e>(&'e self, f: &mut dyn FnMut(&'e str)) {
        match self {
            MetaExpr::Int(_) => {}
            MetaExpr::Param(p) => f(p),
            MetaExpr::Not(a) => a.visit_params(f),
            MetaExpr::Add(a, b)
            | MetaExpr::Sub(a, b)
            | MetaExpr::Mul(a, b)
            | MetaExpr::Div(a, b)
            | MetaExpr::Rem(a, b)
            | MetaExpr::Cdiv(a, b)
            | MetaExpr::Min(a, b)
            | MetaExpr::Max(a, b)
            | MetaExpr::Cmp(_, a, b)
            | MetaExpr::And(a, b)
            | MetaExpr::Or(a, b) => {
                a.visit_params(f);
                b.visit_params(f);
            }
        }
    }

    /// `self` with each parameter `lookup` knows replaced by its value and
    /// every node whose operands are then constant folded; None when folding
    /// overflows or divides by zero.
    pub fn substitute(&self, lookup: &dyn Fn(&str) -> Option<i64>) -> Option<MetaExpr> {
        let both = |a: &MetaExpr, b: &MetaExpr, make: fn(Box<MetaExpr>, Box<MetaExpr>) -> MetaExpr| {
            Some(make(Box::new(a.substitute(lookup)?), Box::new(b.substitute(lookup)?)))
        };
        let node = match self {
            MetaExpr::Int(v) => return Some(MetaExpr::Int(*v)),
            MetaExpr::Param(p) => return Some(lookup(p).map_or_else(|| MetaExpr::Param(p.clone()), MetaExpr::Int)),
            MetaExpr::Add(a, b) => both(a, b, MetaExpr::Add)?,
            MetaExpr::Sub(a, b) => both(a, b, MetaExpr::Sub)?,
            MetaExpr::Mul(a, b) => both(a, b, MetaExpr::Mul)?,
            MetaExpr::Div(a, b) => both(a, b, MetaExpr::Div)?,
            MetaExpr::Rem(a, b) => both(a, b, MetaExpr::Rem)?,
            MetaExpr::Cdiv(a, b) => both(a, b, MetaExpr::Cdiv)?,
            MetaExpr::Min(a, b) => both(a, b, MetaExpr::Min)?,
            MetaExpr::Max(a, b) => both(a, b, MetaExpr::Max)?,
            MetaExpr::And(a, b) => both(a, b, MetaExpr::And)?,
            MetaExpr::Or(a, b) => both(a, b, MetaExpr::Or)?,
            MetaExpr::Cmp(op, a, b) => {
                MetaExpr::Cmp(*op, Box::new(a.substitute(lookup)?), Box::new(b.substitute(lookup)?))
            }
            MetaExpr::Not(a) => MetaExpr::Not(Box::new(a.substitute(lookup)?)),
        };
        if node.params().is_empty() { node.eval(&|_| None).map(MetaExpr::Int) } else { Some(node) }
    }
}

/// Text form: `cdiv(n, 1024)`, `(b * h)`, `min(n, 4)`.
impl fmt::Display for MetaExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let infix = |f: &mut fmt::Formatter<'_>, a: &MetaExpr, op: &str, b: &MetaExpr| write!(f, "({a} {op} {b})");
        match self {
            MetaExpr::Int(v) => write!(f, "{v}"),
            MetaExpr::Param(p) => write!(f, "{p}"),
            MetaExpr::Add(a, b) => infix(f, a, "+", b),
            MetaExpr::Sub(a, b) => infix(f, a, "-", b),
            MetaExpr::Mul(a, b) => infix(f, a, "*", b),
            MetaExpr::Div(a, b) => infix(f, a, "/", b),
            MetaExpr::Rem(a, b) => infix(f, a, "%", b),
            MetaExpr::Cdiv(a, b) => write!(f, "cdiv({a}, {b})"),
            MetaExpr::Min(a, b) => write!(f, "min({a}, {b})"),
            MetaExpr::Max(a, b) => write!(f, "max({a}, {b})"),
            MetaExpr::Cmp(op, a, b) => infix(f, a, op.symbol(), b),
            MetaExpr::And(a, b) => infix(f, a, "&&", b),
            MetaExpr::Or(a, b) => infix(f, a, "||", b),
            MetaExpr::Not(a) => write!(f, "!{a}"),
        }
    }
}

/// The tuning space of a source kernel: named axes, each a list of values.
/// `warps` and `stages` are launch/codegen knobs; every other axis names a
/// compile-time parameter. Order is as written.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TuneSpace {
    pub axes: Vec<(String, Vec<ConstValue>)>,
}

impl TuneSpace {
    /// Number of points (product of axis lengths; 1 when empty).
    pub fn len(&self) -> usize {
        self.axes.iter().map(|(_, v)| v.len()).product()
    }
    pub fn is_empty(&self) -> bool {
        self.axes.is_empty()
    }
    /// Every point of the space, in row-major order of the axes.
    pub fn points(&self) -> Vec<Vec<(String, ConstValue)>> {
        let mut points = vec![Vec::new()];
        for (name, values) in &self.axes {
            let mut next = Vec::with_capacity(points.len() * values.len());
            for p in &points {
                for v in values {
                    let mut q: Vec<(String, ConstValue)> = p.clone();
                    q.push((name.clone(), v.clone()));
                    next.push(q);
                }
            }
            points = next;
        }
        points
    }
}

/// The launch knobs a `tune` axis, a `--const` or a `require` may name
/// besides compile-time parameters: warps per program, software-pipeline
/// stages, and programs per multiprocessor the registers are budgeted for.
pub const LAUNCH_KNOBS: [&str; 3] = ["warps", "stages", "occupancy"];

/// The largest `occupancy`: beyond 8 programs a multiprocessor, the
/// registers left per thread (at most 128 for 64 threads) no longer change.
pub const MAX_OCCUPANCY: u32 = 8;

/// Launch metadata carried from the source through every stage into bundles.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelMeta {
    /// One to three grid dimensions (missing ones are 1).
    pub grid: Vec<MetaExpr>,
    pub tune: TuneSpace,
    /// Runtime parameter names whose values select a tuned variant.
    pub key: Vec<String>,
    /// Conditions on the runtime scalar parameters that a launch of this
    /// specialization needs (`require(cols <= BLOCK)` with BLOCK
    /// substituted); the launcher runs it only where each is non-zero.
    pub require: Vec<MetaExpr>,
    pub num_warps: u32,
    pub num_stages: u32,
    /// Programs each multiprocessor must be able to hold at once as far as
    /// registers go (`occupancy`, default 1): above 1, the code generator
    /// caps registers per thread so that many fit (PTX `.minnctapersm`).
    pub occupancy: u32,
}

impl Default for KernelMeta {
    fn default() -> KernelMeta {
        KernelMeta {
            grid: vec![MetaExpr::Int(1)],
            tune: TuneSpace::default(),
            key: Vec::new(),
            require: Vec::new(),
            num_warps: 4,
            num_stages: 1,
            occupancy: 1,
        }
    }
}

/// One specialization of a source kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    pub name: String,
    /// Source file name, for locations in messages.
    pub source: String,
    pub params: Vec<Param>,
    /// The compile-time parameters this specialization fixed, in source order.
    pub consts: Vec<(String, ConstValue)>,
    pub meta: KernelMeta,
    /// The body; its `args` are the params' values, in order.
    pub body: Region,
    /// The type of every value, indexed by [`ValueId`].
    pub values: Vec<Type>,
}

impl Kernel {
    pub fn new(name: impl Into<String>, source: impl Into<String>) -> Kernel {
        Kernel {
            name: name.into(),
            source: source.into(),
            params: Vec::new(),
            consts: Vec::new(),
            meta: KernelMeta::default(),
            body: Region::default(),
            values: Vec::new(),
        }
    }
    /// Allocate a fresh value of `ty`.
    pub fn new_value(&mut self, ty: Type) -> ValueId {
        self.values.push(ty);
        ValueId(self.values.len() as u32 - 1)
    }
    pub fn ty(&self, v: ValueId) -> &Type {
        &self.values[v.0 as usize]
    }
    /// Whether parameter `index` is an integer scalar (not a bool): what a
    /// divisibility hint may be put on.
    pub fn is_integer_param(&self, index: usize) -> bool {
        self.params.get(index).is_some_and(|p| {
            self.values.get(p.value.0 as usize).and_then(Type::scalar_elem).is_some_and(|s| s.is_int() && !s.is_bool())
        })
    }
    /// Add a runtime parameter (also an argument of the body region).
    pub fn add_param(&mut self, name: impl Into<String>, ty: Type, hints: ParamHints) -> ValueId {
        let value = self.new_value(ty);
        self.body.args.push(value);
        self.params.push(Param { name: name.into(), value, hints });
        value
    }
}

/// A compilation unit: the specializations produced from one source file.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Module {
    pub kernels: Vec<Kernel>,
}

/// Visit every op in a region, depth first, in order (parents before their
/// regions' ops).
pub fn walk_ops<'a>(region: &'a Region, f: &mut dyn FnMut(&'a Op)) {
    for op in &region.ops {
        f(op);
        for r in &op.regions {
            walk_ops(r, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn const_values_parse_what_they_print() {
        assert_eq!(ConstValue::parse("1024"), Some(ConstValue::Int(1024)));
        assert_eq!(ConstValue::parse("-3"), Some(ConstValue::Int(-3)));
        assert_eq!(ConstValue::parse("true"), Some(ConstValue::Bool(true)));
        assert_eq!(ConstValue::parse("0.5"), Some(ConstValue::Float(0.5)));
        assert_eq!(ConstValue::parse("inf"), None);
        assert_eq!(ConstValue::parse("rows"), None);
        for v in [ConstValue::Int(7), ConstValue::Float(2.0), ConstValue::Bool(false)] {
            assert_eq!(ConstValue::parse(&v.to_string()), Some(v));
        }
    }
}
