//! The lowering context and the conversions every construct shares:
//! materializing compile-time values, casts, broadcasts.

use crate::builder::Builder;
use crate::codes;
use crate::scope::Scopes;
use crate::shapes::{self, show};
use crate::suggest::did_you_mean;
use crate::types::Operand;
use crate::value::{Value, default_type, describe_type, int_fits};
use std::collections::HashMap;
use tessera_diagnostics::{Diagnostic, FileId, SourceMap, Span};
use tessera_syntax::ast::{self, ConstItem, Function, Item, Module, TypeExpr};
use tessera_tir::{Constant, ElemType, Kernel, Loc, OpKind, ScalarType, Shape, Type, UnaryOp, ValueId};

/// A diagnostic for the failure has been recorded; callers unwind quietly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reported;

pub(crate) type LResult<T> = Result<T, Reported>;

/// Tensors larger than this many elements are rejected: no block of a GPU
/// program is this big, and the interpreter would exhaust memory.
pub(crate) const MAX_ELEMENTS: u64 = 1 << 24;

/// Helpers inlined inside helpers deeper than this are rejected (recursion is
/// caught earlier; this bounds pathological but acyclic call chains).
pub(crate) const MAX_INLINE_DEPTH: usize = 64;

/// The items of a module by name (the first definition wins on duplicates,
/// which are reported separately).
pub(crate) struct Items<'a> {
    pub helpers: HashMap<&'a str, &'a Function>,
    pub kernels: HashMap<&'a str, &'a ast::Kernel>,
    pub consts: Vec<&'a ConstItem>,
}

impl<'a> Items<'a> {
    pub(crate) fn new(module: &'a Module) -> Items<'a> {
        let mut items = Items { helpers: HashMap::new(), kernels: HashMap::new(), consts: Vec::new() };
        for item in &module.items {
            match item {
                Item::Function(f) => {
                    items.helpers.entry(f.name.name.as_str()).or_insert(f);
                }
                Item::Kernel(k) => {
                    items.kernels.entry(k.name.name.as_str()).or_insert(k);
                }
                Item::Const(c) => items.consts.push(c),
            }
        }
        items
    }
}

pub(crate) struct Lowerer<'a> {
    pub map: &'a SourceMap,
    pub file: FileId,
    pub items: Items<'a>,
    pub b: Builder,
    pub scopes: Scopes,
    pub diags: Vec<Diagnostic>,
    pub inline_depth: usize,
    /// Set once the op limit was hit: lowering stops.
    pub fatal: bool,
    /// `static_range` iterations unrolled so far in this specialization.
    pub unrolled: u64,
}

impl<'a> Lowerer<'a> {
    pub(crate) fn new(map: &'a SourceMap, file: FileId, module: &'a Module, kernel: Kernel) -> Lowerer<'a> {
        Lowerer {
            map,
            file,
            items: Items::new(module),
            b: Builder::new(kernel),
            scopes: Scopes::default(),
            diags: Vec::new(),
            inline_depth: 0,
            fatal: false,
            unrolled: 0,
        }
    }

    pub(crate) fn error(&mut self, d: Diagnostic) -> Reported {
        self.diags.push(d);
        Reported
    }

    pub(crate) fn loc(&self, span: Span) -> Loc {
        if span.file != self.file {
            return Loc::UNKNOWN;
        }
        let (line, col) = self.map.get(self.file).line_col(span.start as usize);
        Loc { line, col }
    }

    pub(crate) fn set_loc(&mut self, span: Span) -> Loc {
        let saved = self.b.loc;
        self.b.loc = self.loc(span);
        saved
    }

    /// Evaluate the file's constants in order (each sees the ones before it).
    pub(crate) fn define_globals(&mut self) {
        let consts = self.items.consts.clone();
        for c in consts {
            let value = match self.expr(&c.value) {
                Ok(v) => v,
                Err(Reported) => Value::Poison,
            };
            let value = match (&value, &c.ty) {
                (Value::Poison, _) => value,
                (_, Some(ty)) => {
                    let what = format!("constant `{}`", c.name.name);
                    self.coerce_const_to_type(value, c.value.span, ty, &what).unwrap_or(Value::Poison)
                }
                (v, None) if is_compile_time(v) => value,
                (v, None) => {
                    let d = Diagnostic::error(
                        codes::NOT_CONSTANT,
                        format!("the value of constant `{}` is not known at compile time", c.name.name),
                        c.value.span,
                    )
                    .with_label(format!("this is a runtime {}", v.describe()));
                    self.error(d);
                    Value::Poison
                }
            };
            self.scopes.define_global(&c.name.name, value);
        }
    }

    /// A type written in the source as an element type (`f32`, `*bf16`).
    pub(crate) fn resolve_type(&mut self, t: &TypeExpr) -> LResult<ElemType> {
        let Some(s) = ScalarType::from_name(&t.name.name) else {
            let names = ScalarType::ALL.iter().map(|s| s.name()).chain(["bool"]);
            let mut d = Diagnostic::error(codes::UNKNOWN_TYPE, format!("unknown type `{}`", t.name.name), t.name.span)
                .with_label("not a dtype");
            d = match did_you_mean(&t.name.name, names) {
                Some(s) => d.with_help(s),
                None => d.with_help("dtypes are bool, i8, i16, i32, i64, f16, bf16, f32, f64; pointers are *T"),
            };
            return Err(self.error(d));
        };
        match t.pointer_depth {
            0 => Ok(ElemType::Scalar(s)),
            1 => Ok(ElemType::Ptr(s)),
            _ => Err(self.error(
                Diagnostic::error(
                    codes::BAD_PARAM_TYPE,
                    format!("pointers to pointers are not supported: `{}`", type_text(t)),
                    t.span,
                )
                .with_label("more than one `*`")
                .with_help(format!("use `*{s}`")),
            )),
        }
    }

    /// A compile-time value checked against (and converted to) a declared
    /// scalar type: ints widen to float types, bools stay bools.
    pub(crate) fn coerce_const_to_type(&mut self, v: Value, span: Span, ty: &TypeExpr, what: &str) -> LResult<Value> {
        let elem = self.resolve_type(ty)?;
        let ElemType::Scalar(s) = elem else {
            return Err(self.error(
                Diagnostic::error(
                    codes::CONST_PARAM_TYPE,
                    format!("{what} cannot have the pointer type `{}`", type_text(ty)),
                    ty.span,
                )
                .with_help("compile-time values are numbers or bools: use a dtype such as `i32`"),
            ));
        };
        match coerce_const(&v, s) {
            Some(c) => Ok(c),
            None => Err(self.error(
                Diagnostic::error(
                    codes::CONST_TYPE_MISMATCH,
                    format!("{what} is declared `{s}` but its value is {}", v.describe()),
                    span,
                )
                .with_label(format!("expected {} `{s}` value", article(s)))
                .with_help(match v {
                    Value::Float(_) if s.is_int() => {
                        format!("give an integer within the range of `{s}`, or declare it `f32` to hold a fraction")
                    }
                    _ => const_help(s),
                }),
            )),
        }
    }

    // ---- materializing compile-time values ---------------------------------

    /// Emit a constant of `elem` and `shape` holding the compile-time scalar `v`.
    /// A weak int must fit an integer target; floats truncate into integers
    /// (this path serves stored values and `other`, which convert as casts do).
    pub(crate) fn constant(&mut self, v: &Value, elem: ScalarType, shape: &[u32], span: Span) -> LResult<ValueId> {
        let c = match (v, elem) {
            (Value::Int(i), e) if e.is_float() => Constant::Float(*i as f64),
            (Value::Int(i), ScalarType::I1) => Constant::Bool(*i != 0),
            (Value::Int(i), e) => {
                if !int_fits(*i, e) {
                    return Err(self.error(
                        Diagnostic::error(codes::CONST_OUT_OF_RANGE, format!("constant {i} does not fit in `{e}`"), span)
                            .with_label(format!("meets {} `{e}` value here", article(e)))
                            .with_help(format!("cast the other operand to a wider type, e.g. `.to(i64)`, or use a constant within the range of `{e}`")),
                    ));
                }
                Constant::Int(*i)
            }
            (Value::Float(f), e) if e.is_float() => Constant::Float(*f),
            (Value::Float(f), ScalarType::I1) => Constant::Bool(*f != 0.0),
            (Value::Float(f), e) => Constant::Int(wrap_int(*f as i64, e)),
            (Value::Bool(b), e) if e.is_float() => Constant::Float(f64::from(u8::from(*b))),
            (Value::Bool(b), ScalarType::I1) => Constant::Bool(*b),
            (Value::Bool(b), _) => Constant::Int(i64::from(*b)),
            (other, _) => return Err(self.expected_number(other, span)),
        };
        Ok(self.b.emit1(OpKind::Constant(c), vec![], Type::tensor(elem, shape.to_vec())))
    }

    /// A runtime value of a compile-time scalar with its default type.
    pub(crate) fn materialize(&mut self, v: &Value, span: Span) -> LResult<(ValueId, Type)> {
        match v {
            Value::Ir(id, ty) => Ok((*id, ty.clone())),
            Value::Poison => Err(Reported),
            _ => match default_type(v) {
                Some(t) => Ok((self.constant(v, t, &[], span)?, Type::scalar(t))),
                None => Err(self.expected_number(v, span)),
            },
        }
    }

    pub(crate) fn expected_number(&mut self, v: &Value, span: Span) -> Reported {
        if *v == Value::Poison {
            return Reported;
        }
        let (code, msg) = match v {
            Value::Unit => (codes::NO_VALUE, "this call returns nothing, but a value is needed here".to_string()),
            _ => (codes::EXPECTED_NUMBER, format!("expected a number or tensor, found {}", v.describe())),
        };
        self.error(Diagnostic::error(code, msg, span).with_label(v.describe()))
    }

    /// How type promotion sees `v` (None for non-numeric values).
    pub(crate) fn operand(&self, v: &Value) -> Option<Operand> {
        match v {
            Value::Int(_) => Some(Operand::WeakInt),
            Value::Float(_) => Some(Operand::WeakFloat),
            Value::Bool(_) => Some(Operand::Strong(ScalarType::I1)),
            Value::Ir(_, ty) => ty.scalar_elem().map(Operand::Strong),
            _ => None,
        }
    }

    /// Shape of a numeric or pointer value ([] for compile-time scalars).
    pub(crate) fn shape_of(v: &Value) -> Shape {
        match v {
            Value::Ir(_, ty) => ty.shape().to_vec(),
            _ => Vec::new(),
        }
    }

    /// `v` (compile-time scalar or runtime numeric value) as a runtime value
    /// of `elem` broadcast to `shape`; the caller has checked the shape.
    pub(crate) fn convert(&mut self, v: &Value, span: Span, elem: ScalarType, shape: &[u32]) -> LResult<ValueId> {
        match v {
            Value::Ir(id, ty) => {
                let (id, ty) = self.cast(*id, ty, elem);
                Ok(self.broadcast(id, &ty, shape))
            }
            _ => self.constant(v, elem, shape, span),
        }
    }

    /// Elementwise cast (nothing when the element type already matches).
    pub(crate) fn cast(&mut self, id: ValueId, ty: &Type, elem: ScalarType) -> (ValueId, Type) {
        if ty.scalar_elem() == Some(elem) {
            return (id, ty.clone());
        }
        let to = ty.with_elem(ElemType::Scalar(elem));
        (self.b.emit1(OpKind::Cast, vec![id], to.clone()), to)
    }

    /// Broadcast a tensor (or scalar) to `shape` with explicit ops: splat a
    /// scalar; otherwise insert leading unit axes, then stretch.
    pub(crate) fn broadcast(&mut self, id: ValueId, ty: &Type, shape: &[u32]) -> ValueId {
        let from = ty.shape();
        if from == shape {
            return id;
        }
        if from.is_empty() {
            return self.b.emit1(OpKind::Splat, vec![id], ty.with_shape(shape.to_vec()));
        }
        let mut cur = id;
        let mut cur_shape = from.to_vec();
        while cur_shape.len() < shape.len() {
            cur_shape.insert(0, 1);
            cur = self.b.emit1(OpKind::ExpandDims(0), vec![cur], ty.with_shape(cur_shape.clone()));
        }
        if cur_shape != shape {
            cur = self.b.emit1(OpKind::Broadcast, vec![cur], ty.with_shape(shape.to_vec()));
        }
        cur
    }

    /// Insert a unit axis at `axis` (a scalar becomes a `[1]` tensor).
    pub(crate) fn expand_dims(&mut self, id: ValueId, ty: &Type, axis: u32) -> (ValueId, Type) {
        let mut shape = ty.shape().to_vec();
        if shape.is_empty() {
            let t = ty.with_shape(vec![1]);
            return (self.b.emit1(OpKind::Splat, vec![id], t.clone()), t);
        }
        shape.insert(axis as usize, 1);
        let t = ty.with_shape(shape);
        (self.b.emit1(OpKind::ExpandDims(axis), vec![id], t.clone()), t)
    }

    /// The broadcast shape of two operands, or an error naming both shapes
    /// and pointing at both operands.
    pub(crate) fn broadcast_pair(
        &mut self,
        a: &[u32],
        a_span: Span,
        b: &[u32],
        b_span: Span,
        what: &str,
    ) -> LResult<Shape> {
        match shapes::broadcast_shapes(a, b) {
            Some(s) => Ok(s),
            None => Err(self.error(
                Diagnostic::error(
                    codes::SHAPE_MISMATCH,
                    format!("shapes {} and {} do not broadcast in {what}", show(a), show(b)),
                    a_span,
                )
                .with_label(format!("this has shape {}", show(a)))
                .with_secondary(b_span, format!("this has shape {}", show(b)))
                .with_help("dimensions must be equal or 1 when aligned from the right; insert axes with `x[:, None]` or reshape"),
            )),
        }
    }

    /// Check that a value of shape `from` broadcasts to `to` (one way).
    pub(crate) fn check_broadcasts_to(
        &mut self,
        from: &[u32],
        span: Span,
        to: &[u32],
        what: &str,
        target_span: Span,
    ) -> LResult<()> {
        if shapes::broadcasts_to(from, to) {
            return Ok(());
        }
        Err(self.error(
            Diagnostic::error(
                codes::SHAPE_MISMATCH,
                format!("{what} has shape {}, which does not broadcast to {}", show(from), show(to)),
                span,
            )
            .with_label(format!("shape {}", show(from)))
            .with_secondary(target_span, format!("this has shape {}", show(to)))
            .with_help(format!("{what} must have shape {} or one that stretches to it", show(to))),
        ))
    }

    /// A unary op on a runtime numeric value.
    pub(crate) fn unary(&mut self, op: UnaryOp, id: ValueId, ty: &Type) -> Value {
        let r = self.b.emit1(OpKind::Unary(op), vec![id], ty.clone());
        Value::Ir(r, ty.clone())
    }
}

/// Values that are fully known at compile time (numbers, strings, dtypes,
/// `None`, tuples of those).
pub(crate) fn is_compile_time(v: &Value) -> bool {
    match v {
        Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Str(_) | Value::DType(_) | Value::None => true,
        Value::Tuple(items) => items.iter().all(is_compile_time),
        Value::Ir(..) | Value::Unit | Value::Poison => false,
    }
}

/// A compile-time scalar converted to a declared scalar type, if it fits:
/// ints to int types (in range) and float types, floats to float types,
/// bools to bool.
pub(crate) fn coerce_const(v: &Value, ty: ScalarType) -> Option<Value> {
    match (v, ty) {
        (Value::Bool(b), ScalarType::I1) => Some(Value::Bool(*b)),
        (Value::Int(i), t) if t.is_float() => Some(Value::Float(*i as f64)),
        (Value::Int(i), t) if t != ScalarType::I1 && int_fits(*i, t) => Some(Value::Int(*i)),
        (Value::Float(f), t) if t.is_float() => Some(Value::Float(*f)),
        _ => None,
    }
}

/// "a" or "an" before a type name as it is read aloud (`an i8`, `a bf16`).
pub(crate) fn article(s: ScalarType) -> &'static str {
    if s.name().starts_with(['i', 'f']) { "an" } else { "a" }
}

fn const_help(s: ScalarType) -> String {
    if s.is_bool() {
        "give `true` or `false`".to_string()
    } else if s.is_float() {
        format!("give a number, e.g. `1.0`, for `{s}`")
    } else {
        format!("give an integer within the range of `{s}`")
    }
}

/// Integer `v` wrapped to the width of `ty` (two's complement), as casts do.
pub(crate) fn wrap_int(v: i64, ty: ScalarType) -> i64 {
    match ty {
        ScalarType::I1 => i64::from(v != 0),
        ScalarType::I8 => i64::from(v as i8),
        ScalarType::I16 => i64::from(v as i16),
        ScalarType::I32 => i64::from(v as i32),
        _ => v,
    }
}

pub(crate) fn type_text(t: &TypeExpr) -> String {
    format!("{}{}", "*".repeat(t.pointer_depth as usize), t.name.name)
}

/// `tensor<64xf32>` or `scalar f32` for messages about a runtime type.
pub(crate) fn show_type(ty: &Type) -> String {
    describe_type(ty)
}
