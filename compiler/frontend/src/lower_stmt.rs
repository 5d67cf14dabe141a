//! Statements and structured control flow.
//!
//! Loops and runtime branches become region ops. The variables they carry
//! are found by a pre-scan of the body: names assigned inside (and not first
//! bound there) that are visible variables before it. Their values flow in
//! as region arguments and out as the op's results.

use crate::builtins::{self, ArgVal, BuiltinKind, bind_args};
use crate::codes;
use crate::lower::{LResult, Lowerer, Reported, show_type};
use crate::scope::BindingKind;
use crate::types::{Operand, promote};
use crate::value::{Value, default_type};
use std::collections::HashSet;
use tessera_diagnostics::{Diagnostic, Span};
use tessera_syntax::ast::{Block, Expr, ExprKind, Ident, Pattern, Stmt, StmtKind, TypeExpr};
use tessera_tir::{ElemType, Op, OpKind, Region, ScalarType, Type, ValueId};

/// Iterations one `static_range` loop may unroll.
pub(crate) const MAX_UNROLL: i64 = 4096;
/// Iterations all `static_range` loops of a specialization may unroll
/// together (nested loops multiply).
pub(crate) const MAX_TOTAL_UNROLL: u64 = 1 << 16;

impl Lowerer<'_> {
    /// Lower statements in the current scope.
    pub(crate) fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            if self.fatal {
                return;
            }
            if self.b.over_limit() {
                self.fatal = true;
                self.error(
                    Diagnostic::error(
                        codes::KERNEL_TOO_LARGE,
                        format!("this specialization has more than {} IR ops", crate::builder::MAX_OPS),
                        s.span,
                    )
                    .with_label("reached while lowering this statement")
                    .with_help("unroll less: use `range` instead of `static_range`, or smaller blocks"),
                );
                return;
            }
            let saved = self.set_loc(s.span);
            self.stmt(s);
            self.b.loc = saved;
        }
    }

    /// Lower a block in a new scope.
    fn block(&mut self, b: &Block) {
        self.scopes.push_scope();
        self.stmts(&b.stmts);
        self.scopes.pop_scope();
    }

    fn stmt(&mut self, s: &Stmt) {
        // Each statement reports its own errors; lowering goes on with the next.
        let _ = match &s.kind {
            StmtKind::Let { pattern, ty, value } => self.let_stmt(pattern, ty.as_ref(), value),
            StmtKind::Assign { target, op, value } => self.assign_stmt(target, *op, value, s.span),
            StmtKind::Expr(e) => self.expr(e).map(|_| ()),
            StmtKind::If { cond, then_block, else_block } => self.if_stmt(cond, then_block, else_block.as_ref()),
            StmtKind::For { var, iter, body } => self.for_stmt(var, iter, body),
            StmtKind::While { cond, body } => self.while_stmt(cond, body),
            StmtKind::Return(_) => {
                // A kernel has no result and a helper's result is its last
                // statement, so the fix differs: kernels guard the rest of
                // the body, helpers move the value to the end.
                let (msg, help) = if self.inline_depth == 0 {
                    (
                        "kernels cannot `return`",
                        "kernels cannot return early: wrap the rest of the body in `if`, or mask the lanes",
                    )
                } else {
                    (
                        "`return` must be the last statement of a helper's body",
                        "compute the result into a variable and `return` it at the end of the helper",
                    )
                };
                Err(self.error(
                    Diagnostic::error(codes::MISPLACED_RETURN, msg, s.span)
                        .with_label("misplaced `return`")
                        .with_help(help),
                ))
            }
            StmtKind::Error => {
                self.scopes.taint();
                Ok(())
            }
        };
    }

    fn let_stmt(&mut self, pattern: &Pattern, ty: Option<&TypeExpr>, value: &Expr) -> LResult<()> {
        let names: Vec<&Ident> = match pattern {
            Pattern::Name(n) => vec![n],
            Pattern::Tuple(ns, _) => ns.iter().collect(),
        };
        let v = match self.value_expr(value) {
            Ok(v) => v,
            Err(r) => {
                for n in &names {
                    self.scopes.define(&n.name, Value::Poison, BindingKind::Var);
                }
                return Err(r);
            }
        };
        let result = self.bind_pattern(pattern, ty, v, value.span);
        if result.is_err() {
            for n in &names {
                if self.scopes.lookup_local(&n.name).is_none() {
                    self.scopes.define(&n.name, Value::Poison, BindingKind::Var);
                }
            }
        }
        result
    }

    fn bind_pattern(&mut self, pattern: &Pattern, ty: Option<&TypeExpr>, v: Value, span: Span) -> LResult<()> {
        match pattern {
            Pattern::Name(n) => {
                let v = match ty {
                    Some(t) => match self.annotated(v, span, t) {
                        Ok(v) => v,
                        Err(r) => {
                            self.scopes.define(&n.name, Value::Poison, BindingKind::Var);
                            return Err(r);
                        }
                    },
                    None => v,
                };
                self.scopes.define_at(&n.name, v, BindingKind::Var, n.span);
                Ok(())
            }
            Pattern::Tuple(names, pspan) => {
                let items = match v {
                    Value::Tuple(items) if items.len() == names.len() => items,
                    other => {
                        for n in names {
                            self.scopes.define(&n.name, Value::Poison, BindingKind::Var);
                        }
                        return Err(self.error(
                            Diagnostic::error(
                                codes::TUPLE_ARITY,
                                format!("cannot unpack {} into {} names", other.describe(), names.len()),
                                span,
                            )
                            .with_label(other.describe())
                            .with_secondary(*pspan, format!("{} names", names.len())),
                        ));
                    }
                };
                if let Some(t) = ty {
                    return Err(self.error(
                        Diagnostic::error(codes::LET_TYPE_MISMATCH, "a type annotation needs a single name", t.span)
                            .with_label("annotation on a tuple pattern")
                            .with_help("annotate after unpacking: `let a: f32 = ...;`"),
                    ));
                }
                for (n, item) in names.iter().zip(items) {
                    self.scopes.define_at(&n.name, item, BindingKind::Var, n.span);
                }
                Ok(())
            }
        }
    }

    /// `let x: T = v`: the value must have element type `T`; compile-time
    /// numbers become constants of `T`.
    fn annotated(&mut self, v: Value, span: Span, t: &TypeExpr) -> LResult<Value> {
        let elem = self.resolve_type(t)?;
        match (&v, elem) {
            (Value::Ir(_, ty), e) if ty.elem() == Some(e) => Ok(v),
            (c, ElemType::Scalar(s)) if crate::lower::coerce_const(c, s).is_some() => {
                Ok(Value::Ir(self.constant(c, s, &[], span)?, Type::scalar(s)))
            }
            _ => Err(self.error(
                Diagnostic::error(
                    codes::LET_TYPE_MISMATCH,
                    format!("the value has type {}, not the annotated `{}`", v.describe(), crate::lower::type_text(t)),
                    span,
                )
                .with_label(v.describe())
                .with_secondary(t.span, "annotation")
                .with_help(match elem {
                    ElemType::Scalar(s) => format!("convert it with `.to({s})`"),
                    ElemType::Ptr(_) => "annotate it with the pointer's own type".to_string(),
                }),
            )),
        }
    }

    fn assign_stmt(
        &mut self,
        target: &Ident,
        op: Option<tessera_syntax::ast::BinOp>,
        value: &Expr,
        span: Span,
    ) -> LResult<()> {
        let Some(binding) = self.scopes.lookup(&target.name) else {
            let r = self.unknown_name(target);
            if let Some(d) = self.diags.last_mut() {
                d.help = Some(match d.help.take() {
                    Some(h) => format!("{h} (or declare it first with `let {} = ...;`)", target.name),
                    None => format!("declare it first with `let {} = ...;`", target.name),
                });
            }
            return Err(r);
        };
        if binding.kind != BindingKind::Var {
            let what = if binding.kind == BindingKind::ConstParam { "compile-time parameter" } else { "constant" };
            return Err(self.error(
                Diagnostic::error(
                    codes::ASSIGN_TO_CONST,
                    format!("cannot assign to the {what} `{}`", target.name),
                    target.span,
                )
                .with_label("fixed at compile time")
                .with_help(format!("bind a new variable: `let {}_v = ...;`", target.name)),
            ));
        }
        let old = binding.value;
        if old == Value::Poison {
            return Err(Reported);
        }
        let rhs = self.value_expr(value)?;
        let new = match op {
            Some(op) => self.binary(op, old.clone(), target.span, rhs, value.span, span)?,
            None => rhs,
        };
        let new = self.reassigned(&target.name, &old, new, value.span)?;
        self.scopes.assign(&target.name, new);
        Ok(())
    }

    /// The value a variable holding `old` takes when assigned `new`: the type
    /// and shape must stay; weak compile-time numbers adapt.
    fn reassigned(&mut self, name: &str, old: &Value, new: Value, span: Span) -> LResult<Value> {
        let old_op = self.operand(old);
        let ok = match (old, &new) {
            (Value::Ir(_, t), Value::Ir(_, u)) => t == u,
            (Value::Ir(_, t), c) if c.is_const_scalar() => match (t.scalar_elem(), self.operand(c)) {
                (Some(s), Some(o)) if t.is_scalar() => {
                    if promote(o, Operand::Strong(s)) == s || (s.is_bool() && matches!(c, Value::Bool(_))) {
                        return Ok(Value::Ir(self.constant(c, s, &[], span)?, t.clone()));
                    }
                    false
                }
                _ => false,
            },
            (Value::Int(_), Value::Int(_)) | (Value::Float(_), Value::Float(_)) | (Value::Bool(_), Value::Bool(_)) => {
                true
            }
            (Value::Float(_), Value::Int(i)) => return Ok(Value::Float(*i as f64)),
            (c, Value::Ir(_, u)) if c.is_const_scalar() => match (old_op, u.scalar_elem()) {
                (Some(o), Some(s)) if u.is_scalar() => promote(o, Operand::Strong(s)) == s || o == Operand::Strong(s),
                _ => false,
            },
            (Value::Str(_), Value::Str(_)) | (Value::DType(_), Value::DType(_)) | (Value::None, Value::None) => true,
            (Value::Tuple(a), Value::Tuple(b)) => a.len() == b.len(),
            _ => false,
        };
        if ok {
            return Ok(new);
        }
        if new == Value::Unit {
            return Err(self.expected_number(&new, span));
        }
        Err(self.type_changed(name, old, &new, span, "assignment"))
    }

    fn type_changed(&mut self, name: &str, old: &Value, new: &Value, span: Span, context: &str) -> Reported {
        let new_desc = new.describe();
        self.error(
            Diagnostic::error(
                codes::TYPE_CHANGED,
                format!("{context} changes the type of `{name}` from {} to {new_desc}", old.describe()),
                span,
            )
            .with_label(format!("this is {new_desc}"))
            .with_help(format!(
                "a variable keeps its type and shape: start `{name}` from a value of the new type \
                 (e.g. `0.0` or `zeros(...)`), convert with `.to(...)`, or bind a new name with `let`"
            )),
        )
    }

    // ---- if ------------------------------------------------------------------------

    fn if_stmt(&mut self, cond: &Expr, then_block: &Block, else_block: Option<&Block>) -> LResult<()> {
        let c = self.value_expr(cond)?;
        let cid = match &c {
            Value::Bool(true) => {
                self.block(then_block);
                return Ok(());
            }
            Value::Bool(false) => {
                if let Some(e) = else_block {
                    self.block(e);
                }
                return Ok(());
            }
            Value::Ir(id, t) if *t == Type::scalar(ScalarType::I1) => *id,
            v => return Err(self.condition_not_bool(v, cond.span, "an `if` condition")),
        };
        let mut blocks = vec![then_block];
        blocks.extend(else_block);
        let names = self.carried_names(&blocks, None);
        let before: Vec<Value> = names.iter().map(|n| self.current(n)).collect();

        self.b.push_block();
        self.block(then_block);
        let then_vals: Vec<Value> = names.iter().map(|n| self.current(n)).collect();
        let then_ops = self.b.pop_block();
        self.restore(&names, &before);

        self.b.push_block();
        if let Some(e) = else_block {
            self.block(e);
        }
        let else_vals: Vec<Value> = names.iter().map(|n| self.current(n)).collect();
        let else_ops = self.b.pop_block();
        self.restore(&names, &before);

        // Per variable: the runtime type both branches yield, or None when
        // both leave the same compile-time value (nothing to merge).
        let mut merged: Vec<Option<Type>> = Vec::with_capacity(names.len());
        let mut failed = false;
        for (i, name) in names.iter().enumerate() {
            match self.merge_type(name, &before[i], &then_vals[i], &else_vals[i], (then_block, else_block)) {
                Ok(t) => merged.push(t),
                Err(Reported) => {
                    failed = true;
                    merged.push(None);
                }
            }
        }
        if failed {
            self.poison(&names);
            return Err(Reported);
        }
        let then_region = self.finish_branch(then_ops, &merged, &then_vals, then_block.span)?;
        let else_region =
            self.finish_branch(else_ops, &merged, &else_vals, else_block.map_or(then_block.span, |b| b.span))?;
        let result_types: Vec<Type> = merged.iter().flatten().cloned().collect();
        let results =
            self.b.emit_with_regions(OpKind::If, vec![cid], result_types.clone(), vec![then_region, else_region]);
        let mut it = results.into_iter().zip(result_types);
        for (i, name) in names.iter().enumerate() {
            match &merged[i] {
                Some(_) => {
                    if let Some((id, ty)) = it.next() {
                        self.scopes.assign(name, Value::Ir(id, ty));
                    }
                }
                None => {
                    self.scopes.assign(name, then_vals[i].clone());
                }
            }
        }
        Ok(())
    }

    /// The type a branch-assigned variable has after the `if`.
    fn merge_type(
        &mut self,
        name: &str,
        before: &Value,
        t: &Value,
        e: &Value,
        (then_block, else_block): (&Block, Option<&Block>),
    ) -> LResult<Option<Type>> {
        let span = then_block.span;
        if t == e && !matches!(t, Value::Ir(..)) {
            return Ok(None);
        }
        if t == &Value::Poison || e == &Value::Poison {
            return Err(Reported);
        }
        if let Some(ty) = before.ir_type() {
            return Ok(Some(ty.clone()));
        }
        match (t, e) {
            (Value::Ir(_, a), Value::Ir(_, b)) if a != b => {
                Err(self.type_changed(name, t, e, span, "the `else` branch"))
            }
            (Value::Ir(_, a), _) | (_, Value::Ir(_, a)) => Ok(Some(a.clone())),
            (a, b) if a.is_const_scalar() && b.is_const_scalar() => {
                let s = match (self.operand(a), self.operand(b)) {
                    (Some(Operand::Strong(x)), Some(Operand::Strong(y))) if x == y => x,
                    (
                        Some(p @ (Operand::WeakInt | Operand::WeakFloat)),
                        Some(q @ (Operand::WeakInt | Operand::WeakFloat)),
                    ) => {
                        // Two weak values: the default type of their combination.
                        let s = promote(p, q);
                        if s == ScalarType::I32
                            && (default_type(a) == Some(ScalarType::I64) || default_type(b) == Some(ScalarType::I64))
                        {
                            ScalarType::I64
                        } else {
                            s
                        }
                    }
                    _ => return Err(self.type_changed(name, t, e, span, "the `else` branch")),
                };
                Ok(Some(Type::scalar(s)))
            }
            _ => {
                // Point at the assignment that made the branches differ,
                // and back at the definition it changes.
                let (changed, branch) = if t != before { (t, Some(then_block)) } else { (e, else_block) };
                let assignment = branch.and_then(|b| last_assignment(b, name));
                let mut d = Diagnostic::error(
                    codes::NOT_CARRIABLE,
                    format!("`{name}` holds {} and cannot be assigned in a runtime `if`", changed.describe()),
                    assignment.unwrap_or(span),
                )
                .with_label(if assignment.is_some() { "assigned in a runtime branch" } else { "runtime branch" })
                .with_help("only numbers, tensors and pointers can differ between runtime branches");
                if let Some(def) = self.scopes.lookup(name).and_then(|b| b.span) {
                    d = d.with_secondary(def, format!("`{name}` defined here as {}", before.describe()));
                }
                Err(self.error(d))
            }
        }
    }

    /// Append the conversions and `yield` that end one branch.
    fn finish_branch(&mut self, ops: Vec<Op>, merged: &[Option<Type>], vals: &[Value], span: Span) -> LResult<Region> {
        self.b.resume_block(ops);
        let mut yields = Vec::new();
        let mut result = Ok(());
        for (ty, v) in merged.iter().zip(vals) {
            if let Some(ty) = ty {
                match self.coerce_carried(v, ty, span) {
                    Ok(id) => yields.push(id),
                    Err(r) => result = Err(r),
                }
            }
        }
        self.b.emit(OpKind::Yield, yields, vec![]);
        let ops = self.b.pop_block();
        result.map(|()| Region { args: Vec::new(), ops })
    }

    /// A carried value as a runtime value of exactly `ty`.
    fn coerce_carried(&mut self, v: &Value, ty: &Type, span: Span) -> LResult<ValueId> {
        match v {
            Value::Ir(id, t) if t == ty => Ok(*id),
            c if c.is_const_scalar() && ty.is_scalar() => match ty.scalar_elem() {
                Some(s) => self.constant(c, s, &[], span),
                None => Err(self.expected_number(c, span)),
            },
            Value::Poison => Err(Reported),
            other => {
                let other = other.clone();
                Err(self.error(
                    Diagnostic::error(
                        codes::TYPE_CHANGED,
                        format!("a value of {} is carried where {} is expected", other.describe(), show_type(ty)),
                        span,
                    )
                    .with_label("here")
                    .with_help("a variable assigned in a loop or branch keeps its type and shape"),
                ))
            }
        }
    }

    fn condition_not_bool(&mut self, v: &Value, span: Span, what: &str) -> Reported {
        if *v == Value::Poison {
            return Reported;
        }
        self.error(
            Diagnostic::error(
                codes::CONDITION_NOT_BOOL,
                format!("{what} must be a bool scalar, found {}", v.describe()),
                span,
            )
            .with_label(v.describe())
            .with_help("compare to get a bool, e.g. `n > 0`; reduce masks with `max(m, 0)` first"),
        )
    }

    // ---- loops -----------------------------------------------------------------------

    fn for_stmt(&mut self, var: &Ident, iter: &Expr, body: &Block) -> LResult<()> {
        let (callee, args) = match &iter.kind {
            ExprKind::Call { callee, args } => (callee, args),
            ExprKind::Error => return Err(Reported),
            _ => return Err(self.bad_iterator(iter.span)),
        };
        let unrolled = match builtins::lookup(&callee.name).map(|b| b.kind) {
            Some(BuiltinKind::Range { unrolled }) => unrolled,
            _ => return Err(self.bad_iterator(iter.span)),
        };
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            let value = self.value_expr(&a.value)?;
            values.push(ArgVal {
                keyword: a.name.as_ref().map(|k| (k.name.clone(), k.span)),
                value,
                span: a.value.span,
            });
        }
        let params = [("start", true), ("end", false), ("step", false)];
        let slots = bind_args(&callee.name, &params, values, iter.span).map_err(|d| self.error(d))?;
        // `range(n)` is `range(0, n)`.
        let mut it = slots.into_iter();
        let (first, second, step) = (it.next().flatten(), it.next().flatten(), it.next().flatten());
        let (lo, hi) = match (first, second) {
            (Some(f), Some(s)) => (Some(f), s),
            (Some(f), None) => (None, f),
            (None, _) => return Err(Reported),
        };
        let lo = lo.map_or((Value::Int(0), iter.span), |b| (b.value, b.span));
        let hi = (hi.value, hi.span);
        let step = step.map_or((Value::Int(1), iter.span), |b| (b.value, b.span));
        if let Value::Int(0) = step.0 {
            return Err(self.error(
                Diagnostic::error(codes::ZERO_STEP, "the loop step is zero", step.1)
                    .with_label("this is zero")
                    .with_help("use a positive step to count up or a negative one to count down"),
            ));
        }
        if unrolled {
            self.unrolled_loop(var, &lo, &hi, &step, body)
        } else {
            self.runtime_loop(var, &lo, &hi, &step, body)
        }
    }

    fn bad_iterator(&mut self, span: Span) -> Reported {
        self.error(
            Diagnostic::error(
                codes::BAD_FOR_ITERATOR,
                "`for` loops iterate over `range(...)` or `static_range(...)`",
                span,
            )
            .with_label("not a range")
            .with_help("write `for i in range(start, end, step) { ... }`"),
        )
    }

    fn unrolled_loop(
        &mut self,
        var: &Ident,
        lo: &(Value, Span),
        hi: &(Value, Span),
        step: &(Value, Span),
        body: &Block,
    ) -> LResult<()> {
        let bound = |this: &mut Self, v: &(Value, Span), what: &str| match &v.0 {
            Value::Int(i) => Ok(*i),
            Value::Ir(_, t) => Err(this.not_constant(v.1, &format!("the {what} of `static_range`"), t)),
            other => {
                let other = other.clone();
                Err(this.error(
                    Diagnostic::error(
                        codes::EXPECTED_INT,
                        format!("the {what} of `static_range` must be an integer, found {}", other.describe()),
                        v.1,
                    )
                    .with_label(other.describe()),
                ))
            }
        };
        let (a, b, s) = (bound(self, lo, "start")?, bound(self, hi, "end")?, bound(self, step, "step")?);
        let trips = if s > 0 {
            if b > a { (i128::from(b) - i128::from(a) + i128::from(s) - 1) / i128::from(s) } else { 0 }
        } else if a > b {
            (i128::from(a) - i128::from(b) + i128::from(-s) - 1) / i128::from(-s)
        } else {
            0
        };
        if trips > i128::from(MAX_UNROLL) {
            return Err(self.error(
                Diagnostic::error(
                    codes::UNROLL_LIMIT,
                    format!("`static_range` would unroll {trips} iterations; the limit is {MAX_UNROLL}"),
                    lo.1.to(hi.1),
                )
                .with_label("too many iterations")
                .with_help("use `range` for a runtime loop"),
            ));
        }
        let mut i = a;
        for _ in 0..trips {
            if self.fatal {
                break;
            }
            self.unrolled += 1;
            if self.unrolled > MAX_TOTAL_UNROLL {
                self.fatal = true;
                return Err(self.error(
                    Diagnostic::error(
                        codes::UNROLL_LIMIT,
                        format!("nested `static_range` loops unroll more than {MAX_TOTAL_UNROLL} iterations in all"),
                        lo.1.to(hi.1),
                    )
                    .with_label("reached in this loop")
                    .with_help("use `range` for runtime loops"),
                ));
            }
            self.scopes.push_scope();
            self.scopes.define(&var.name, Value::Int(i), BindingKind::Var);
            self.stmts(&body.stmts);
            self.scopes.pop_scope();
            i = i.saturating_add(s);
        }
        Ok(())
    }

    /// The loop's carried variables with their runtime initial values.
    fn loop_inits(&mut self, names: &[String], span: Span) -> LResult<Vec<(ValueId, Type)>> {
        let mut inits = Vec::with_capacity(names.len());
        for n in names {
            let v = self.current(n);
            match &v {
                Value::Ir(id, t) => inits.push((*id, t.clone())),
                c if c.is_const_scalar() => inits.push(self.materialize(c, span)?),
                Value::Poison => return Err(Reported),
                other => {
                    let other = other.clone();
                    return Err(self.error(
                        Diagnostic::error(
                            codes::NOT_CARRIABLE,
                            format!("`{n}` holds {} and cannot be assigned in a runtime loop", other.describe()),
                            span,
                        )
                        .with_label("in this loop")
                        .with_help("only numbers, tensors and pointers can change from one iteration to the next"),
                    ));
                }
            }
        }
        Ok(inits)
    }

    fn runtime_loop(
        &mut self,
        var: &Ident,
        lo: &(Value, Span),
        hi: &(Value, Span),
        step: &(Value, Span),
        body: &Block,
    ) -> LResult<()> {
        // The induction variable is i64 if any bound is, else i32.
        let wide = [lo, hi, step].iter().any(|(v, _)| match v {
            Value::Int(i) => i32::try_from(*i).is_err(),
            Value::Ir(_, t) => t.scalar_elem() == Some(ScalarType::I64),
            _ => false,
        });
        let iv_ty = if wide { ScalarType::I64 } else { ScalarType::I32 };
        let lo_id = self.int_scalar(&lo.0, lo.1, iv_ty, "a loop bound")?;
        let hi_id = self.int_scalar(&hi.0, hi.1, iv_ty, "a loop bound")?;
        let step_id = self.int_scalar(&step.0, step.1, iv_ty, "a loop step")?;
        let names = self.carried_names(&[body], Some(&var.name));
        let inits = self.loop_inits(&names, body.span)?;

        self.b.push_block();
        let iv = self.b.new_value(Type::scalar(iv_ty));
        let args: Vec<ValueId> = inits.iter().map(|(_, t)| self.b.new_value(t.clone())).collect();
        for ((n, a), (_, t)) in names.iter().zip(&args).zip(&inits) {
            self.scopes.assign(n, Value::Ir(*a, t.clone()));
        }
        self.scopes.push_scope();
        self.scopes.define(&var.name, Value::Ir(iv, Type::scalar(iv_ty)), BindingKind::Var);
        self.stmts(&body.stmts);
        self.scopes.pop_scope();
        let yields = self.carried_yields(&names, &inits, body.span);
        let ops = self.b.pop_block();

        let mut operands = vec![lo_id, hi_id, step_id];
        operands.extend(inits.iter().map(|(id, _)| *id));
        let mut region_args = vec![iv];
        region_args.extend(args);
        let Ok(yields) = yields else {
            self.poison(&names);
            return Err(Reported);
        };
        let region = Region { args: region_args, ops: with_terminator(ops, yields, self.b.loc) };
        let types: Vec<Type> = inits.iter().map(|(_, t)| t.clone()).collect();
        let results = self.b.emit_with_regions(OpKind::For, operands, types.clone(), vec![region]);
        for ((n, r), t) in names.iter().zip(results).zip(types) {
            self.scopes.assign(n, Value::Ir(r, t));
        }
        Ok(())
    }

    /// The end-of-body values of the carried variables, as their types.
    fn carried_yields(&mut self, names: &[String], inits: &[(ValueId, Type)], span: Span) -> LResult<Vec<ValueId>> {
        let mut out = Vec::with_capacity(names.len());
        let mut result = Ok(());
        for (n, (_, t)) in names.iter().zip(inits) {
            let v = self.current(n);
            match self.coerce_carried(&v, t, span) {
                Ok(id) => out.push(id),
                Err(r) => result = Err(r),
            }
        }
        result.map(|()| out)
    }

    fn while_stmt(&mut self, cond: &Expr, body: &Block) -> LResult<()> {
        let names = self.carried_names(&[body], None);
        let inits = self.loop_inits(&names, body.span)?;

        // Before-region: evaluate the condition on the carried values.
        self.b.push_block();
        let before_args: Vec<ValueId> = inits.iter().map(|(_, t)| self.b.new_value(t.clone())).collect();
        for ((n, a), (_, t)) in names.iter().zip(&before_args).zip(&inits) {
            self.scopes.assign(n, Value::Ir(*a, t.clone()));
        }
        let c = self.value_expr(cond);
        let c = match c {
            Ok(Value::Bool(b)) => self.constant(&Value::Bool(b), ScalarType::I1, &[], cond.span),
            Ok(Value::Ir(id, t)) if t == Type::scalar(ScalarType::I1) => Ok(id),
            Ok(v) => Err(self.condition_not_bool(&v, cond.span, "a `while` condition")),
            Err(r) => Err(r),
        };
        let before_ops = self.b.pop_block();

        // Body region.
        self.b.push_block();
        let body_args: Vec<ValueId> = inits.iter().map(|(_, t)| self.b.new_value(t.clone())).collect();
        for ((n, a), (_, t)) in names.iter().zip(&body_args).zip(&inits) {
            self.scopes.assign(n, Value::Ir(*a, t.clone()));
        }
        self.block(body);
        let yields = self.carried_yields(&names, &inits, body.span);
        let body_ops = self.b.pop_block();

        let (Ok(c), Ok(yields)) = (c, yields) else {
            self.poison(&names);
            return Err(Reported);
        };
        let loc = self.b.loc;
        let mut before = Region { args: before_args, ops: before_ops };
        before.ops.push(Op::new(OpKind::Condition, vec![c], vec![], loc));
        let body_region = Region { args: body_args, ops: with_terminator(body_ops, yields, loc) };
        let types: Vec<Type> = inits.iter().map(|(_, t)| t.clone()).collect();
        let operands = inits.iter().map(|(id, _)| *id).collect();
        let results = self.b.emit_with_regions(OpKind::While, operands, types.clone(), vec![before, body_region]);
        for ((n, r), t) in names.iter().zip(results).zip(types) {
            self.scopes.assign(n, Value::Ir(r, t));
        }
        Ok(())
    }

    // ---- carried-variable analysis -------------------------------------------------

    /// Variables assigned in `blocks` (outside of nested `let`s of the same
    /// name) that are reassignable variables visible now, in order of first
    /// assignment.
    fn carried_names(&self, blocks: &[&Block], loop_var: Option<&str>) -> Vec<String> {
        let mut found = Vec::new();
        for b in blocks {
            let mut locals: Vec<HashSet<String>> =
                vec![loop_var.map(|v| HashSet::from([v.to_string()])).unwrap_or_default()];
            scan_assigned(b, &mut locals, &mut found);
        }
        let mut seen = HashSet::new();
        found.into_iter().filter(|n| self.is_var(n) && seen.insert(n.clone())).collect()
    }

    fn current(&self, name: &str) -> Value {
        self.scopes.lookup_local(name).map_or(Value::Poison, |b| b.value.clone())
    }

    /// After a failed construct: every later use of these names fails silently.
    fn poison(&mut self, names: &[String]) {
        for n in names {
            self.scopes.assign(n, Value::Poison);
        }
    }

    fn restore(&mut self, names: &[String], values: &[Value]) {
        for (n, v) in names.iter().zip(values) {
            self.scopes.assign(n, v.clone());
        }
    }
}

fn with_terminator(mut ops: Vec<Op>, yields: Vec<ValueId>, loc: tessera_tir::Loc) -> Vec<Op> {
    ops.push(Op::new(OpKind::Yield, yields, vec![], loc));
    ops
}

fn scan_assigned(block: &Block, locals: &mut Vec<HashSet<String>>, found: &mut Vec<String>) {
    locals.push(HashSet::new());
    for stmt in &block.stmts {
        match &stmt.kind {
            StmtKind::Let { pattern, .. } => {
                let names: Vec<&Ident> = match pattern {
                    Pattern::Name(n) => vec![n],
                    Pattern::Tuple(ns, _) => ns.iter().collect(),
                };
                if let Some(scope) = locals.last_mut() {
                    scope.extend(names.into_iter().map(|n| n.name.clone()));
                }
            }
            StmtKind::Assign { target, .. } => {
                if !locals.iter().any(|s| s.contains(&target.name)) {
                    found.push(target.name.clone());
                }
            }
            StmtKind::For { var, body, .. } => {
                locals.push(HashSet::from([var.name.clone()]));
                scan_assigned(body, locals, found);
                locals.pop();
            }
            StmtKind::While { body, .. } => scan_assigned(body, locals, found),
            StmtKind::If { then_block, else_block, .. } => {
                scan_assigned(then_block, locals, found);
                if let Some(e) = else_block {
                    scan_assigned(e, locals, found);
                }
            }
            StmtKind::Expr(_) | StmtKind::Return(_) | StmtKind::Error => {}
        }
    }
    locals.pop();
}

/// The span of the last statement of `block` (nested blocks included) that
/// assigns `name`.
fn last_assignment(block: &Block, name: &str) -> Option<Span> {
    block.stmts.iter().rev().find_map(|s| match &s.kind {
        StmtKind::Assign { target, .. } if target.name == name => Some(s.span),
        StmtKind::If { then_block, else_block, .. } => {
            else_block.as_ref().and_then(|b| last_assignment(b, name)).or_else(|| last_assignment(then_block, name))
        }
        StmtKind::For { body, .. } | StmtKind::While { body, .. } => last_assignment(body, name),
        _ => None,
    })
}
