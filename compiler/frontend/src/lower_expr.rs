//! Expressions: names, literals, operators, subscripts and casts.

use crate::codes;
use crate::consteval::{FoldError, fold_binary, fold_unary};
use crate::lower::{LResult, Lowerer, Reported, show_type, wrap_int};
use crate::scope::BindingKind;
use crate::suggest::did_you_mean;
use crate::types::promote;
use crate::value::Value;
use crate::{builtins, lower::type_text};
use tessera_diagnostics::{Diagnostic, Span};
use tessera_syntax::ast::{BinOp, Expr, ExprKind, Ident, IndexItem, TypeExpr, UnOp};
use tessera_tir::{BinaryOp, CmpPred, Constant, ElemType, OpKind, ScalarType, Type, UnaryOp};

impl Lowerer<'_> {
    /// Lower an expression. Fails (after reporting) on errors; fails silently
    /// on parser error nodes and on values that already failed.
    pub(crate) fn expr(&mut self, e: &Expr) -> LResult<Value> {
        let saved = self.set_loc(e.span);
        let r = self.expr_inner(e);
        self.b.loc = saved;
        match r {
            Ok(Value::Poison) => Err(Reported),
            r => r,
        }
    }

    /// Lower an expression whose value must exist (not a call returning nothing).
    pub(crate) fn value_expr(&mut self, e: &Expr) -> LResult<Value> {
        let v = self.expr(e)?;
        if v == Value::Unit {
            return Err(self.expected_number(&v, e.span));
        }
        Ok(v)
    }

    fn expr_inner(&mut self, e: &Expr) -> LResult<Value> {
        match &e.kind {
            ExprKind::Int(v) => match i64::try_from(*v) {
                Ok(v) => Ok(Value::Int(v)),
                Err(_) => Err(self.error(
                    Diagnostic::error(
                        codes::LITERAL_TOO_LARGE,
                        format!("integer literal {v} does not fit in i64"),
                        e.span,
                    )
                    .with_label("too large")
                    .with_help(format!("the largest integer is {}", i64::MAX)),
                )),
            },
            ExprKind::Float(v) => Ok(Value::Float(*v)),
            ExprKind::Bool(v) => Ok(Value::Bool(*v)),
            ExprKind::Str(s) => Ok(Value::Str(s.clone())),
            ExprKind::None => Ok(Value::None),
            ExprKind::Name(id) => self.name(id),
            ExprKind::Unary { op, operand } => {
                let v = self.value_expr(operand)?;
                self.unary_op(*op, v, operand.span, e.span)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let l = self.value_expr(lhs)?;
                let r = self.value_expr(rhs)?;
                self.binary(*op, l, lhs.span, r, rhs.span, e.span)
            }
            ExprKind::Call { callee, args } => self.call(callee, None, args, e.span),
            ExprKind::Method { receiver, method, args } => self.call(method, Some(receiver), args, e.span),
            ExprKind::Index { base, indices } => self.index(base, indices),
            ExprKind::Tuple(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(self.value_expr(item)?);
                }
                Ok(Value::Tuple(values))
            }
            ExprKind::Cast { expr, ty } => {
                let v = self.value_expr(expr)?;
                let target = self.cast_target(ty)?;
                self.cast_value(v, expr.span, target)
            }
            ExprKind::Error => Err(Reported),
        }
    }

    /// A name: a variable, parameter or constant, else a dtype.
    pub(crate) fn name(&mut self, id: &Ident) -> LResult<Value> {
        if let Some(b) = self.scopes.lookup(&id.name) {
            return match b.value {
                Value::Poison => Err(Reported),
                v => Ok(v),
            };
        }
        if let Some(s) = ScalarType::from_name(&id.name) {
            return Ok(Value::DType(s));
        }
        if builtins::lookup(&id.name).is_some() || self.items.helpers.contains_key(id.name.as_str()) {
            return Err(self.error(
                Diagnostic::error(
                    codes::FUNCTION_AS_VALUE,
                    format!("`{}` is a function, not a value", id.name),
                    id.span,
                )
                .with_label("used as a value")
                .with_help(format!("call it: `{}(...)`", id.name)),
            ));
        }
        if self.items.kernels.contains_key(id.name.as_str()) {
            return Err(self.error(
                Diagnostic::error(codes::FUNCTION_AS_VALUE, format!("`{}` is a kernel, not a value", id.name), id.span)
                    .with_label("used as a value"),
            ));
        }
        Err(self.unknown_name(id))
    }

    pub(crate) fn unknown_name(&mut self, id: &Ident) -> Reported {
        if self.scopes.is_tainted() {
            return Reported;
        }
        let mut d = Diagnostic::error(codes::UNKNOWN_NAME, format!("cannot find `{}` in this scope", id.name), id.span)
            .with_label("not found");
        let later = self.items.consts.iter().find(|c| c.name.name == id.name).map(|c| c.name.span);
        if let Some(def) = later {
            d = d
                .with_secondary(def, "defined here, after its use")
                .with_help(format!("constants see only the constants before them: move `{}` up", id.name));
        } else {
            let mut candidates = self.scopes.visible_names();
            candidates.extend(ScalarType::ALL.iter().map(|s| s.name().to_string()));
            if let Some(help) = did_you_mean(&id.name, candidates.iter().map(String::as_str)) {
                d = d.with_help(help);
            }
        }
        self.error(d)
    }

    // ---- operators --------------------------------------------------------------

    pub(crate) fn unary_op(&mut self, op: UnOp, v: Value, vspan: Span, span: Span) -> LResult<Value> {
        if v.is_const_scalar() {
            return fold_unary(op, &v).map_err(|e| self.fold_error(e, unop_symbol(op), &v, vspan, &v, vspan, span));
        }
        let Value::Ir(id, ty) = &v else { return Err(self.bad_unary(op, &v, vspan)) };
        let ok = match (op, ty.scalar_elem()) {
            (UnOp::Neg, Some(s)) => !s.is_bool(),
            (UnOp::Not, Some(s)) => s.is_int(),
            _ => false,
        };
        if !ok {
            return Err(self.bad_unary(op, &v, vspan));
        }
        let u = if op == UnOp::Neg { UnaryOp::Neg } else { UnaryOp::Not };
        Ok(self.unary(u, *id, ty))
    }

    fn bad_unary(&mut self, op: UnOp, v: &Value, span: Span) -> Reported {
        let help = match op {
            UnOp::Neg => "`-` takes numbers",
            UnOp::Not => "`!` takes bools (logical) or integers (bitwise)",
        };
        self.error(
            Diagnostic::error(
                codes::BAD_OPERAND_TYPES,
                format!("cannot apply `{}` to {}", unop_symbol(op), v.describe()),
                span,
            )
            .with_label(v.describe())
            .with_help(help),
        )
    }

    /// `l op r` with folding, pointer arithmetic, promotion and broadcasting.
    pub(crate) fn binary(&mut self, op: BinOp, l: Value, ls: Span, r: Value, rs: Span, span: Span) -> LResult<Value> {
        if l.is_const_scalar() && r.is_const_scalar() {
            return fold_binary(op, &l, &r).map_err(|e| self.fold_error(e, op.symbol(), &l, ls, &r, rs, span));
        }
        let is_ptr = |v: &Value| matches!(v.ir_type().and_then(Type::elem), Some(ElemType::Ptr(_)));
        if is_ptr(&l) || is_ptr(&r) {
            return self.pointer_arith(op, l, ls, r, rs, span);
        }
        let (Some(a), Some(b)) = (self.operand(&l), self.operand(&r)) else {
            return Err(self.bad_operands(op.symbol(), &l, ls, &r, rs, None));
        };
        let t = promote(a, b);
        let ok = match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => !t.is_bool(),
            BinOp::Shl | BinOp::Shr => t.is_int() && !t.is_bool(),
            BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => t.is_int(),
            BinOp::And | BinOp::Or => t.is_bool(),
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => true,
        };
        if !ok {
            let help = match op {
                BinOp::And | BinOp::Or => "`&&` and `||` take bools: compare first, e.g. `x != 0`",
                BinOp::Shl | BinOp::Shr | BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => {
                    "bitwise operators take integers; cast floats with `.to(i32)`"
                }
                _ => "arithmetic does not apply to bools; convert with `.to(i32)`",
            };
            return Err(self.bad_operands(op.symbol(), &l, ls, &r, rs, Some(help)));
        }
        let shape =
            self.broadcast_pair(&Self::shape_of(&l), ls, &Self::shape_of(&r), rs, &format!("`{}`", op.symbol()))?;
        let x = self.convert(&l, ls, t, &shape)?;
        let y = self.convert(&r, rs, t, &shape)?;
        let saved = self.set_loc(span);
        let v = match op {
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ty = Type::tensor(ScalarType::I1, shape);
                Value::Ir(self.b.emit1(OpKind::Compare(cmp_pred(op)), vec![x, y], ty.clone()), ty)
            }
            _ => {
                let ty = Type::tensor(t, shape);
                Value::Ir(self.b.emit1(OpKind::Binary(binary_op(op)), vec![x, y], ty.clone()), ty)
            }
        };
        self.b.loc = saved;
        Ok(v)
    }

    /// `ptr + int`, `int + ptr`, `ptr - int`: offsets count elements.
    fn pointer_arith(&mut self, op: BinOp, l: Value, ls: Span, r: Value, rs: Span, span: Span) -> LResult<Value> {
        let is_ptr = |v: &Value| matches!(v.ir_type().and_then(Type::elem), Some(ElemType::Ptr(_)));
        let (p, ps, off, os) = match op {
            BinOp::Add if is_ptr(&l) && !is_ptr(&r) => (l, ls, r, rs),
            BinOp::Add if is_ptr(&r) && !is_ptr(&l) => (r, rs, l, ls),
            BinOp::Sub if is_ptr(&l) && !is_ptr(&r) => (l, ls, r, rs),
            _ => {
                return Err(self.bad_operands(
                    op.symbol(),
                    &l,
                    ls,
                    &r,
                    rs,
                    Some("pointer arithmetic is `ptr + int`, `int + ptr` or `ptr - int` (offsets count elements)"),
                ));
            }
        };
        let Value::Ir(pid, pty) = &p else { return Err(Reported) };
        let pointee = pty.elem().and_then(ElemType::pointee).unwrap_or(ScalarType::I8);
        let off_int = match &off {
            Value::Int(_) => true,
            Value::Ir(_, t) => t.scalar_elem().is_some_and(|s| s.is_int() && !s.is_bool()),
            _ => false,
        };
        if !off_int {
            return Err(self.error(
                Diagnostic::error(
                    codes::BAD_OPERAND_TYPES,
                    format!("a pointer offset must be an integer, found {}", off.describe()),
                    os,
                )
                .with_label(off.describe())
                .with_secondary(ps, show_type(pty))
                .with_help("offsets count elements; convert with `.to(i32)`"),
            ));
        }
        let shape = self.broadcast_pair(pty.shape(), ps, &Self::shape_of(&off), os, &format!("`{}`", op.symbol()))?;
        let saved = self.set_loc(span);
        let off = match (&off, op) {
            (Value::Int(i), BinOp::Sub) => match i.checked_neg() {
                Some(n) => Value::Int(n),
                None => {
                    self.b.loc = saved;
                    return Err(self.fold_error(FoldError::Overflow, "-", &off, os, &off, os, os));
                }
            },
            _ => off,
        };
        let (oid, oty) = self.materialize(&off, os)?;
        let mut oid = self.broadcast(oid, &oty, &shape);
        if op == BinOp::Sub && matches!(off, Value::Ir(..)) {
            oid = self.b.emit1(OpKind::Unary(UnaryOp::Neg), vec![oid], oty.with_shape(shape.clone()));
        }
        let pid = self.broadcast(*pid, pty, &shape);
        let ty = Type::ptr(pointee, shape);
        let v = Value::Ir(self.b.emit1(OpKind::AddPtr, vec![pid, oid], ty.clone()), ty);
        self.b.loc = saved;
        Ok(v)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fold_error(
        &mut self,
        e: FoldError,
        op: &str,
        l: &Value,
        ls: Span,
        r: &Value,
        rs: Span,
        span: Span,
    ) -> Reported {
        let d = match e {
            FoldError::Overflow => {
                Diagnostic::error(codes::CONST_OVERFLOW, format!("compile-time `{op}` overflows i64"), span)
                    .with_label("the result does not fit in i64")
            }
            FoldError::DivByZero => {
                Diagnostic::error(codes::CONST_DIV_ZERO, format!("compile-time `{op}` by zero"), rs)
                    .with_label("this is zero")
                    .with_secondary(ls, "dividend")
            }
            FoldError::ShiftRange => Diagnostic::error(
                codes::SHIFT_OUT_OF_RANGE,
                match r {
                    Value::Int(amount) => format!("compile-time shift by {amount}: amounts must be in 0..64"),
                    other => format!("compile-time shift by {}: amounts must be in 0..64", other.describe()),
                },
                rs,
            )
            .with_label("shift amount")
            .with_help("shift by 0 to 63; for an all-ones 64-bit mask write `-1`"),
            FoldError::BadOperands => return self.bad_operands(op, l, ls, r, rs, None),
        };
        self.error(d)
    }

    pub(crate) fn bad_operands(
        &mut self,
        op: &str,
        l: &Value,
        ls: Span,
        r: &Value,
        rs: Span,
        help: Option<&str>,
    ) -> Reported {
        if *l == Value::Poison || *r == Value::Poison {
            return Reported;
        }
        if *l == Value::Unit {
            return self.expected_number(l, ls);
        }
        if *r == Value::Unit {
            return self.expected_number(r, rs);
        }
        let mut d = Diagnostic::error(
            codes::BAD_OPERAND_TYPES,
            format!("`{op}` cannot combine {} and {}", l.describe(), r.describe()),
            ls,
        )
        .with_label(l.describe());
        if ls != rs {
            d = d.with_secondary(rs, r.describe());
        }
        if let Some(h) = help {
            d = d.with_help(h);
        }
        self.error(d)
    }

    // ---- subscripts and casts ----------------------------------------------------

    /// `x[:, None]`: `:` keeps an axis, `None` inserts one of size 1.
    fn index(&mut self, base: &Expr, indices: &[IndexItem]) -> LResult<Value> {
        let v = self.value_expr(base)?;
        let Value::Ir(mut id, mut ty) = v.clone() else {
            return Err(self.error(
                Diagnostic::error(codes::EXPECTED_TENSOR, format!("cannot subscript {}", v.describe()), base.span)
                    .with_label("not a tensor")
                    .with_help("`x[:, None]` inserts axes into a runtime tensor"),
            ));
        };
        if matches!(ty, Type::BlockPtr { .. }) {
            return Err(self.error(
                Diagnostic::error(codes::EXPECTED_TENSOR, "cannot subscript a block pointer", base.span)
                    .with_label(show_type(&ty))
                    .with_help("load the block first"),
            ));
        }
        let rank = ty.shape().len();
        let kept = indices.iter().filter(|i| matches!(i, IndexItem::Full(_))).count();
        if kept > rank {
            let span = indices.iter().rev().find_map(|i| if let IndexItem::Full(s) = i { Some(*s) } else { None });
            return Err(self.error(
                Diagnostic::error(
                    codes::BAD_INDEX,
                    format!("{kept} `:` subscripts for a value of rank {rank} ({})", show_type(&ty)),
                    span.unwrap_or(base.span),
                )
                .with_label("one `:` too many")
                .with_secondary(base.span, show_type(&ty)),
            ));
        }
        let mut axis = 0u32;
        for item in indices {
            match item {
                IndexItem::Full(_) => axis += 1,
                IndexItem::NewAxis(_) => {
                    (id, ty) = self.expand_dims(id, &ty, axis);
                    axis += 1;
                }
                IndexItem::Expr(Expr { kind: ExprKind::None, .. }) => {
                    (id, ty) = self.expand_dims(id, &ty, axis);
                    axis += 1;
                }
                IndexItem::Expr(Expr { kind: ExprKind::Error, .. }) => return Err(Reported),
                IndexItem::Expr(e) => {
                    return Err(self.error(
                        Diagnostic::error(codes::BAD_INDEX, "only `:` and `None` subscripts are supported", e.span)
                            .with_label("indexing by value")
                            .with_help("load elements through pointers instead: `load(ptr + offsets)`"),
                    ));
                }
            }
        }
        Ok(Value::Ir(id, ty))
    }

    /// The dtype of `x as T`: a numeric dtype, not a pointer.
    pub(crate) fn cast_target(&mut self, ty: &TypeExpr) -> LResult<ScalarType> {
        match self.resolve_type(ty)? {
            ElemType::Scalar(s) => Ok(s),
            ElemType::Ptr(_) => Err(self.error(
                Diagnostic::error(
                    codes::BAD_CAST,
                    format!("cannot cast to the pointer type `{}`", type_text(ty)),
                    ty.span,
                )
                .with_label("pointer type")
                .with_help("casts convert numbers; move pointers with `ptr + offset`"),
            )),
        }
    }

    /// `x.to(T)`, `to(x, T)`, `x as T`. Compile-time values become constants
    /// of `T` (integers wrap, as the runtime cast does).
    pub(crate) fn cast_value(&mut self, v: Value, span: Span, target: ScalarType) -> LResult<Value> {
        match &v {
            Value::Ir(id, ty) if ty.scalar_elem().is_some() => {
                let (id, ty) = self.cast(*id, ty, target);
                Ok(Value::Ir(id, ty))
            }
            Value::Int(i) if target.is_int() => {
                let c = if target.is_bool() { Constant::Bool(*i != 0) } else { Constant::Int(wrap_int(*i, target)) };
                let ty = Type::scalar(target);
                Ok(Value::Ir(self.b.emit1(OpKind::Constant(c), vec![], ty.clone()), ty))
            }
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                let c = self.constant(&v, target, &[], span)?;
                Ok(Value::Ir(c, Type::scalar(target)))
            }
            _ => Err(self.error(
                Diagnostic::error(codes::BAD_CAST, format!("cannot cast {} to `{target}`", v.describe()), span)
                    .with_label(v.describe())
                    .with_help("casts convert numbers and numeric tensors"),
            )),
        }
    }

    /// Whether a name is bound to a reassignable variable.
    pub(crate) fn is_var(&self, name: &str) -> bool {
        self.scopes.lookup_local(name).is_some_and(|b| b.kind == BindingKind::Var)
    }
}

fn unop_symbol(op: UnOp) -> &'static str {
    match op {
        UnOp::Neg => "-",
        UnOp::Not => "!",
    }
}

fn cmp_pred(op: BinOp) -> CmpPred {
    match op {
        BinOp::Eq => CmpPred::Eq,
        BinOp::Ne => CmpPred::Ne,
        BinOp::Lt => CmpPred::Lt,
        BinOp::Le => CmpPred::Le,
        BinOp::Gt => CmpPred::Gt,
        _ => CmpPred::Ge,
    }
}

fn binary_op(op: BinOp) -> BinaryOp {
    match op {
        BinOp::Add => BinaryOp::Add,
        BinOp::Sub => BinaryOp::Sub,
        BinOp::Mul => BinaryOp::Mul,
        BinOp::Div => BinaryOp::Div,
        BinOp::Rem => BinaryOp::Rem,
        BinOp::Shl => BinaryOp::Shl,
        BinOp::Shr => BinaryOp::Shr,
        BinOp::BitAnd | BinOp::And => BinaryOp::And,
        BinOp::BitOr | BinOp::Or => BinaryOp::Or,
        _ => BinaryOp::Xor,
    }
}
