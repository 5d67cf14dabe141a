//! The text form of the tile IR.
//!
//! The text is canonical: values are renumbered `%0, %1, ...` in order of
//! definition (parameters first, then each op's results, then its regions'
//! arguments, in text order), so two kernels that differ only in their
//! [`ValueId`] numbering print the same. [`crate::parser`] reads it back:
//! `print(parse(print(k))) == print(k)`.
//!
//! # Grammar
//!
//! ```text
//! module  := kernel*
//! kernel  := 'kernel' '@' name '(' [param (',' param)*] ')' clause* region
//! param   := value ':' type string [ '{' hint (',' hint)* '}' ]      hint := 'div' '=' int | 'contig'
//! clause  := 'source' '(' string ')' | 'consts' '(' name '=' const, ... ')'
//!          | 'grid' '(' meta, ... ')' | 'warps' '(' int ')' | 'stages' '(' int ')'
//!          | 'require' '(' meta, ... ')'
//!          | 'tune' '(' name '=' '[' const, ... ']', ... ')' | 'key' '(' name, ... ')'
//! meta    := int | name | '(' meta ('+'|'-'|'*'|'/'|'%') meta ')' | ('cdiv'|'min'|'max') '(' meta ',' meta ')'
//! op      := [value (',' value)* '='] mnemonic prefix* [value (',' value)*] ['iter' '(' values ')']
//!            [attrs] [':' type (',' type)*] [region (['else'|'do'] region)*] ['loc' '(' int ':' int ')']
//! region  := '{' ['^' '(' value ':' type, ... ')' ':'] op* '}'
//! attrs   := '{' key ['=' (int | bool | word | '[' int, ... ']')], ... '}'
//! value   := '%' [A-Za-z0-9_]+          name := identifier | string
//! type    := scalar | 'ptr<' scalar '>' | 'tensor<' (dim 'x')+ elem '>' | 'blockptr<' (dim 'x')* scalar '>'
//! ```
//!
//! `prefix` is the op's positional attribute: the literal of `constant`, the
//! axis of `program_id`/`num_programs`, `start, end` of `arange`, the
//! predicate of `cmp`, the kind of `reduce`/`scan`. Other attributes go in the
//! `{...}` dictionary: `axis` (expand_dims, reduce, scan), `reverse` (scan),
//! `perm` (permute), `order` (make_block_ptr), `boundary_check` and `padding`
//! (load_block, store_block), `precision` (dot). `load`, `store` and
//! `atomic_add` infer `masked`/`other` from their operand count; the printer
//! spells them out only when the op disagrees with its count. `for` prints
//! its bounds as operands and its inits in `iter(...)`; the second region of
//! `if` follows `else`, that of `while` follows `do`. Floats are printed so
//! they read back bit-exactly (`1.0`, `1e-5`, `nan`, `-inf`); `//` starts a
//! comment.
//!
//! # Example
//!
//! ```text
//! kernel @vector_add(%0: ptr<f32> "x" {div = 16}, %1: ptr<f32> "y", %2: i32 "n") source("vector_add.tsr") consts(BLOCK = 1024) grid(cdiv(n, 1024)) warps(4) stages(1) tune(BLOCK = [256, 1024], warps = [4, 8]) key(n) {
//!   %3 = program_id 0 : i32 loc(3:15)
//!   %4 = constant 1024 : i32
//!   %5 = mul %3, %4 : i32 loc(4:13)
//!   %6 = arange 0, 1024 : tensor<1024xi32> loc(4:20)
//!   %7 = splat %5 : tensor<1024xi32>
//!   %8 = add %7, %6 : tensor<1024xi32>
//!   %9 = splat %2 : tensor<1024xi32>
//!   %10 = cmp lt %8, %9 : tensor<1024xi1> loc(5:14)
//!   %11 = splat %0 : tensor<1024xptr<f32>>
//!   %12 = addptr %11, %8 : tensor<1024xptr<f32>>
//!   %13 = load %12, %10 : tensor<1024xf32> loc(6:9)
//!   %14 = constant 0.0 : f32
//!   %15 = constant 0 : i32
//!   %16 = constant 4 : i32
//!   %17 = constant 1 : i32
//!   %18, %19 = for %15, %16, %17 iter(%13, %14) : tensor<1024xf32>, f32 {
//!     ^(%20: i32, %21: tensor<1024xf32>, %22: f32):
//!     %23 = exp %21 : tensor<1024xf32>
//!     %24 = reduce sum %23 {axis = 0} : f32
//!     yield %23, %24
//!   } loc(7:5)
//!   %25 = splat %1 : tensor<1024xptr<f32>>
//!   %26 = addptr %25, %8 : tensor<1024xptr<f32>>
//!   store %26, %18, %10 loc(10:5)
//!   return
//! }
//! ```

use crate::kernel::{ConstValue, Kernel, MetaExpr, Module, Op, Region, ValueId};
use crate::ops::{Constant, DotPrecision, Evict, OpKind, Padding};
use std::collections::HashMap;
use std::fmt::{self, Write as _};

/// The canonical text number of every value defined in a kernel.
#[derive(Clone, Debug, Default)]
pub struct Numbering {
    numbers: HashMap<ValueId, u32>,
}

impl Numbering {
    /// Number parameters first, then every definition in text order.
    pub fn of(k: &Kernel) -> Numbering {
        let mut n = Numbering::default();
        for p in &k.params {
            n.define(p.value);
        }
        n.region(&k.body);
        n
    }

    fn define(&mut self, v: ValueId) {
        let next = self.numbers.len() as u32;
        self.numbers.entry(v).or_insert(next);
    }

    fn region(&mut self, region: &Region) {
        for op in &region.ops {
            for &r in &op.results {
                self.define(r);
            }
            for inner in &op.regions {
                for &a in &inner.args {
                    self.define(a);
                }
                self.region(inner);
            }
        }
    }

    /// `%N` for a defined value; `%undefR` (R = raw id) for one defined
    /// nowhere, which the parser rejects as undefined.
    pub fn name(&self, v: ValueId) -> String {
        match self.numbers.get(&v) {
            Some(n) => format!("%{n}"),
            None => format!("%undef{}", v.0),
        }
    }
}

/// Print one kernel in the text form.
pub fn print_kernel(k: &Kernel) -> String {
    let mut p = Printer { k, names: Numbering::of(k), out: String::new() };
    p.kernel();
    p.out
}

/// Print every kernel of a module, separated by blank lines.
pub fn print_module(m: &Module) -> String {
    m.kernels.iter().map(print_kernel).collect::<Vec<_>>().join("\n")
}

/// Print one op (with its regions) the way it appears inside its kernel,
/// without indentation or trailing newline; used in messages.
pub fn print_op(k: &Kernel, names: &Numbering, op: &Op) -> String {
    let mut p = Printer { k, names: names.clone(), out: String::new() };
    p.op(op, 0);
    p.out.trim_end().to_string()
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print_kernel(self))
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&print_module(self))
    }
}

/// Whether `s` can be printed bare (else it is printed as a string).
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A string literal with `\"`, `\\`, `\n`, `\t` and `\u{..}` escapes.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A name: bare when it is an identifier, quoted otherwise.
pub(crate) fn name_text(s: &str) -> String {
    if is_identifier(s) { s.to_string() } else { quote(s) }
}

/// A float that reads back bit-exactly (`{:?}` keeps a `.` or an exponent).
pub(crate) fn float_text(v: f64) -> String {
    if v.is_nan() {
        "nan".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".to_string() } else { "-inf".to_string() }
    } else {
        format!("{v:?}")
    }
}

pub(crate) fn const_value_text(v: &ConstValue) -> String {
    match v {
        ConstValue::Int(i) => i.to_string(),
        ConstValue::Float(x) => float_text(*x),
        ConstValue::Bool(b) => b.to_string(),
    }
}

pub(crate) fn constant_text(c: &Constant) -> String {
    match c {
        Constant::Int(i) => i.to_string(),
        Constant::Float(x) => float_text(*x),
        Constant::Bool(b) => b.to_string(),
    }
}

/// Like [`MetaExpr`]'s `Display`, but quoting parameter names that are not
/// identifiers so the text reads back.
pub(crate) fn meta_text(e: &MetaExpr) -> String {
    let bin = |a: &MetaExpr, op: &str, b: &MetaExpr| format!("({} {op} {})", meta_text(a), meta_text(b));
    let call = |f: &str, a: &MetaExpr, b: &MetaExpr| format!("{f}({}, {})", meta_text(a), meta_text(b));
    match e {
        MetaExpr::Int(v) => v.to_string(),
        MetaExpr::Param(p) => name_text(p),
        MetaExpr::Add(a, b) => bin(a, "+", b),
        MetaExpr::Sub(a, b) => bin(a, "-", b),
        MetaExpr::Mul(a, b) => bin(a, "*", b),
        MetaExpr::Div(a, b) => bin(a, "/", b),
        MetaExpr::Rem(a, b) => bin(a, "%", b),
        MetaExpr::Cdiv(a, b) => call("cdiv", a, b),
        MetaExpr::Min(a, b) => call("min", a, b),
        MetaExpr::Max(a, b) => call("max", a, b),
        MetaExpr::Cmp(op, a, b) => call(op.name(), a, b),
        MetaExpr::And(a, b) => call("and", a, b),
        MetaExpr::Or(a, b) => call("or", a, b),
        MetaExpr::Not(a) => format!("not({})", meta_text(a)),
    }
}

fn list_text(items: &[u32]) -> String {
    let items: Vec<String> = items.iter().map(u32::to_string).collect();
    format!("[{}]", items.join(", "))
}

struct Printer<'k> {
    k: &'k Kernel,
    names: Numbering,
    out: String,
}

impl Printer<'_> {
    fn ty(&self, v: ValueId) -> String {
        match self.k.values.get(v.0 as usize) {
            Some(t) => t.to_string(),
            None => "<no type>".to_string(),
        }
    }

    fn values(&self, vs: &[ValueId]) -> String {
        vs.iter().map(|&v| self.names.name(v)).collect::<Vec<_>>().join(", ")
    }

    fn kernel(&mut self) {
        let k = self.k;
        let _ = write!(self.out, "kernel @{}(", name_text(&k.name));
        for (i, p) in k.params.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            let _ = write!(self.out, "{}: {} {}", self.names.name(p.value), self.ty(p.value), quote(&p.name));
            let mut hints = Vec::new();
            if let Some(d) = p.hints.divisibility {
                hints.push(format!("div = {d}"));
            }
            if p.hints.contiguous {
                hints.push("contig".to_string());
            }
            if !hints.is_empty() {
                let _ = write!(self.out, " {{{}}}", hints.join(", "));
            }
        }
        let _ = write!(self.out, ") source({})", quote(&k.source));
        if !k.consts.is_empty() {
            let consts: Vec<String> =
                k.consts.iter().map(|(n, v)| format!("{} = {}", name_text(n), const_value_text(v))).collect();
            let _ = write!(self.out, " consts({})", consts.join(", "));
        }
        let grid: Vec<String> = k.meta.grid.iter().map(meta_text).collect();
        let _ =
            write!(self.out, " grid({}) warps({}) stages({})", grid.join(", "), k.meta.num_warps, k.meta.num_stages);
        if k.meta.occupancy != 1 {
            let _ = write!(self.out, " occupancy({})", k.meta.occupancy);
        }
        if !k.meta.tune.axes.is_empty() {
            let axes: Vec<String> = k
                .meta
                .tune
                .axes
                .iter()
                .map(|(n, vs)| {
                    let vs: Vec<String> = vs.iter().map(const_value_text).collect();
                    format!("{} = [{}]", name_text(n), vs.join(", "))
                })
                .collect();
            let _ = write!(self.out, " tune({})", axes.join(", "));
        }
        if !k.meta.key.is_empty() {
            let key: Vec<String> = k.meta.key.iter().map(|n| name_text(n)).collect();
            let _ = write!(self.out, " key({})", key.join(", "));
        }
        if !k.meta.require.is_empty() {
            let require: Vec<String> = k.meta.require.iter().map(meta_text).collect();
            let _ = write!(self.out, " require({})", require.join(", "));
        }
        self.out.push_str(" {\n");
        for op in &k.body.ops {
            self.op(op, 1);
        }
        self.out.push_str("}\n");
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn op(&mut self, op: &Op, depth: usize) {
        self.indent(depth);
        if !op.results.is_empty() {
            let _ = write!(self.out, "{} = ", self.values(&op.results));
        }
        self.out.push_str(op.kind.mnemonic());
        let mut words: Vec<String> = Vec::new();
        let mut attrs: Vec<String> = Vec::new();
        let mut operands: &[ValueId] = &op.operands;
        let mut iters: &[ValueId] = &[];
        let n = op.operands.len();
        match &op.kind {
            OpKind::Constant(c) => words.push(constant_text(c)),
            OpKind::ProgramId(a) | OpKind::NumPrograms(a) => words.push(a.to_string()),
            OpKind::Arange { start, end } => words.push(format!("{start}, {end}")),
            OpKind::ExpandDims(axis) => attrs.push(format!("axis = {axis}")),
            OpKind::Permute(perm) => attrs.push(format!("perm = {}", list_text(perm))),
            OpKind::Compare(pred) => words.push(pred.name().to_string()),
            OpKind::Load { masked, has_other } if (*masked, *has_other) != load_flags(n) => {
                attrs.push(format!("masked = {masked}"));
                attrs.push(format!("other = {has_other}"));
            }
            OpKind::Store { masked } | OpKind::AtomicAdd { masked } if *masked != (n >= 3) => {
                attrs.push(format!("masked = {masked}"));
            }
            OpKind::MakeBlockPtr { order } => attrs.push(format!("order = {}", list_text(order))),
            OpKind::LoadBlock { boundary_check, padding, evict } => {
                if !boundary_check.is_empty() {
                    attrs.push(format!("boundary_check = {}", list_text(boundary_check)));
                }
                if *padding == Padding::Nan {
                    attrs.push("padding = nan".to_string());
                }
                if *evict != Evict::Normal {
                    attrs.push(format!("evict = {}", evict.name()));
                }
            }
            OpKind::StoreBlock { boundary_check } if !boundary_check.is_empty() => {
                attrs.push(format!("boundary_check = {}", list_text(boundary_check)));
            }
            OpKind::Dot { precision } => attrs.push(
                match precision {
                    DotPrecision::Tf32 => "precision = tf32",
                    DotPrecision::Ieee => "precision = ieee",
                }
                .to_string(),
            ),
            OpKind::Reduce { kind, axis } => {
                words.push(kind.name().to_string());
                attrs.push(format!("axis = {axis}"));
            }
            OpKind::Scan { kind, axis, reverse } => {
                words.push(kind.name().to_string());
                attrs.push(format!("axis = {axis}"));
                if *reverse {
                    attrs.push("reverse".to_string());
                }
            }
            OpKind::For => {
                let split = n.min(3);
                operands = &op.operands[..split];
                iters = &op.operands[split..];
            }
            _ => {}
        }
        for w in &words {
            self.out.push(' ');
            self.out.push_str(w);
        }
        if !operands.is_empty() {
            self.out.push(' ');
            self.out.push_str(&self.values(operands));
        }
        if !iters.is_empty() {
            let _ = write!(self.out, " iter({})", self.values(iters));
        }
        if !attrs.is_empty() {
            let _ = write!(self.out, " {{{}}}", attrs.join(", "));
        }
        if !op.results.is_empty() {
            let tys: Vec<String> = op.results.iter().map(|&r| self.ty(r)).collect();
            let _ = write!(self.out, " : {}", tys.join(", "));
        }
        for (i, region) in op.regions.iter().enumerate() {
            match (i, &op.kind) {
                (1, OpKind::If) => self.out.push_str(" else"),
                (1, OpKind::While) => self.out.push_str(" do"),
                _ => {}
            }
            self.out.push_str(" {\n");
            if !region.args.is_empty() {
                self.indent(depth + 1);
                let args: Vec<String> =
                    region.args.iter().map(|&a| format!("{}: {}", self.names.name(a), self.ty(a))).collect();
                let _ = writeln!(self.out, "^({}):", args.join(", "));
            }
            for inner in &region.ops {
                self.op(inner, depth + 1);
            }
            self.indent(depth);
            self.out.push('}');
        }
        if op.loc.is_known() {
            let _ = write!(self.out, " loc({}:{})", op.loc.line, op.loc.col);
        }
        self.out.push('\n');
    }
}

/// The `(masked, has_other)` flags a `load` with `n` operands has.
pub(crate) fn load_flags(n: usize) -> (bool, bool) {
    (n >= 2, n >= 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{Loc, ParamHints};
    use crate::types::{ScalarType, Type};

    /// Built by hand with scrambled value ids: the text must still number
    /// values in definition order.
    #[test]
    fn numbering_is_canonical() {
        let mut k = Kernel::new("k", "k.tsr");
        let _junk = k.new_value(Type::scalar(ScalarType::F64));
        let n =
            k.add_param("n", Type::scalar(ScalarType::I32), ParamHints { divisibility: Some(16), contiguous: false });
        let c = k.new_value(Type::scalar(ScalarType::I32));
        let s = k.new_value(Type::scalar(ScalarType::I32));
        k.body.ops.push(Op::new(OpKind::Constant(Constant::Int(2)), vec![], vec![c], Loc { line: 2, col: 3 }));
        k.body.ops.push(Op::new(OpKind::Binary(crate::ops::BinaryOp::Add), vec![n, c], vec![s], Loc::UNKNOWN));
        k.body.ops.push(Op::new(OpKind::Return, vec![], vec![], Loc::UNKNOWN));
        let expected = "kernel @k(%0: i32 \"n\" {div = 16}) source(\"k.tsr\") grid(1) warps(4) stages(1) {
  %1 = constant 2 : i32 loc(2:3)
  %2 = add %0, %1 : i32
  return
}
";
        assert_eq!(print_kernel(&k), expected);
        assert_eq!(k.to_string(), expected);
    }

    #[test]
    fn names_and_floats_read_back() {
        assert_eq!(name_text("BLOCK_M"), "BLOCK_M");
        assert_eq!(name_text("a b"), "\"a b\"");
        assert_eq!(quote("q\"\\\n\u{1}"), "\"q\\\"\\\\\\n\\u{1}\"");
        assert_eq!(float_text(1.0), "1.0");
        assert_eq!(float_text(1e-5), "1e-5");
        assert_eq!(float_text(f64::NEG_INFINITY), "-inf");
        assert_eq!(float_text(f64::NAN), "nan");
    }

    #[test]
    fn undefined_operands_print_distinctly() {
        let mut k = Kernel::new("k", "");
        let v = k.new_value(Type::scalar(ScalarType::I32));
        let r = k.new_value(Type::scalar(ScalarType::I32));
        k.body.ops.push(Op::new(OpKind::Unary(crate::ops::UnaryOp::Neg), vec![v], vec![r], Loc::UNKNOWN));
        assert!(print_kernel(&k).contains("%0 = neg %undef0 : i32"));
    }
}
