//! Calls: dispatch to builtins or helpers, helper inlining, and the
//! argument checks shared by builtins (compile-time ints, shapes, axes).

use crate::builtins::{self, ArgVal, Bound, BuiltinKind, bind_args};
use crate::codes;
use crate::lower::{
    LResult, Lowerer, MAX_ELEMENTS, MAX_INLINE_DEPTH, Reported, coerce_const, is_compile_time, show_type,
};
use crate::scope::BindingKind;
use crate::shapes::normalize_axis;
use crate::suggest::did_you_mean;
use crate::value::Value;
use tessera_diagnostics::{Diagnostic, Span};
use tessera_syntax::ast::{Arg, Expr, Function, Ident, StmtKind};
use tessera_tir::{ElemType, ScalarType, Shape, Type, ValueId};

impl<'a> Lowerer<'a> {
    /// `f(args)` or `receiver.f(args)` (the receiver is the first argument).
    pub(crate) fn call(&mut self, callee: &Ident, receiver: Option<&Expr>, args: &[Arg], span: Span) -> LResult<Value> {
        let name = callee.name.as_str();
        let builtin = builtins::lookup(name);
        let helper = self.items.helpers.get(name).copied();
        if builtin.is_none() && helper.is_none() {
            return Err(self.unknown_function(callee));
        }
        if let Some(b) = builtin
            && let BuiltinKind::Range { .. } = b.kind
        {
            return Err(self.error(
                Diagnostic::error(
                    codes::RANGE_OUTSIDE_FOR,
                    format!("`{name}` can only be used as a `for` loop's range"),
                    callee.span,
                )
                .with_label("not in a `for` head")
                .with_help(format!("write `for i in {name}(...) {{ ... }}`")),
            ));
        }
        let mut values = Vec::with_capacity(args.len() + 1);
        if let Some(r) = receiver {
            values.push(ArgVal { keyword: None, value: self.value_expr(r)?, span: r.span });
        }
        for a in args {
            let value = self.value_expr(&a.value)?;
            values.push(ArgVal {
                keyword: a.name.as_ref().map(|k| (k.name.clone(), k.span)),
                value,
                span: a.value.span,
            });
        }
        let saved = self.set_loc(span);
        let r = match (builtin, helper) {
            (Some(b), _) => {
                let params: Vec<(&str, bool)> =
                    b.params.iter().enumerate().map(|(i, p)| (*p, i < b.required)).collect();
                match bind_args(name, &params, values, span) {
                    Ok(slots) => self.builtin(b.kind, name, slots, span),
                    Err(d) => Err(self.error(d)),
                }
            }
            (None, Some(f)) => self.inline_helper(f, values, span),
            (None, None) => Err(Reported),
        };
        self.b.loc = saved;
        r
    }

    fn unknown_function(&mut self, callee: &Ident) -> Reported {
        if self.items.kernels.contains_key(callee.name.as_str()) {
            return self.error(
                Diagnostic::error(
                    codes::KERNEL_CALL,
                    format!("kernel `{}` cannot be called from device code", callee.name),
                    callee.span,
                )
                .with_label("a kernel")
                .with_help("move the shared code into a helper `fn` and call that from both kernels"),
            );
        }
        let mut d =
            Diagnostic::error(codes::UNKNOWN_FUNCTION, format!("cannot find function `{}`", callee.name), callee.span)
                .with_label("not a builtin or helper");
        let mut names: Vec<&str> = builtins::BUILTINS.iter().map(|b| b.name).collect();
        names.extend(self.items.helpers.keys().copied());
        names.sort();
        if let Some(help) = did_you_mean(&callee.name, names) {
            d = d.with_help(help);
        } else if self.scopes.lookup(&callee.name).is_some() {
            d = d.with_help(format!("`{}` is a variable, not a function", callee.name));
        } else {
            d = d.with_help("define it as a helper `fn`, or see the builtins in docs/language.md");
        }
        self.error(d)
    }

    /// Inline a helper: bind its parameters in a fresh frame, lower its body,
    /// and return the value of its final `return` (or nothing).
    fn inline_helper(&mut self, f: &'a Function, args: Vec<ArgVal>, span: Span) -> LResult<Value> {
        if self.inline_depth >= MAX_INLINE_DEPTH {
            return Err(self.error(
                Diagnostic::error(
                    codes::INLINE_TOO_DEEP,
                    format!("helper calls nest more than {MAX_INLINE_DEPTH} deep at `{}`", f.name.name),
                    span,
                )
                .with_label("inlined here")
                .with_help("flatten the chain of helper calls"),
            ));
        }
        let params: Vec<(&str, bool)> =
            f.params.iter().map(|p| (p.name.name.as_str(), !(p.is_const && p.default.is_some()))).collect();
        let slots = bind_args(&f.name.name, &params, args, span).map_err(|d| self.error(d))?;
        self.inline_depth += 1;
        self.scopes.push_frame();
        let r = self.inline_body(f, slots, span);
        self.scopes.pop_frame();
        self.inline_depth -= 1;
        r
    }

    fn inline_body(&mut self, f: &'a Function, slots: Vec<Option<Bound>>, call_span: Span) -> LResult<Value> {
        let mut ok = true;
        for (p, slot) in f.params.iter().zip(slots) {
            let bound = match slot {
                Some(b) => b,
                None => match &p.default {
                    Some(d) => match self.value_expr(d) {
                        Ok(v) => Bound { value: v, span: d.span },
                        Err(Reported) => {
                            ok = false;
                            continue;
                        }
                    },
                    // A missing optional runtime parameter cannot happen: only
                    // defaulted const parameters are optional.
                    None => continue,
                },
            };
            match self.helper_param(f, p, bound, call_span) {
                Ok((v, kind)) => self.scopes.define(&p.name.name, v, kind),
                Err(Reported) => {
                    self.scopes.define(&p.name.name, Value::Poison, BindingKind::Var);
                    ok = false;
                }
            }
        }
        if !ok {
            return Err(Reported);
        }
        let stmts = &f.body.stmts;
        let (last, init) = match stmts.split_last() {
            Some((last, init)) if matches!(last.kind, StmtKind::Return(_)) => (Some(last), init),
            _ => (None, stmts.as_slice()),
        };
        let errors_before = self.diags.len();
        self.stmts(init);
        let mut result = Value::Unit;
        if let Some(StmtKind::Return(Some(e))) = last.map(|s| &s.kind) {
            result = self.value_expr(e)?;
            if let Some(ret) = &f.ret {
                self.check_return_type(f, ret, &result, e.span)?;
            }
        }
        if self.diags.len() > errors_before || self.fatal {
            return Err(Reported);
        }
        Ok(result)
    }

    fn helper_param(
        &mut self,
        f: &Function,
        p: &tessera_syntax::ast::Param,
        b: Bound,
        call_span: Span,
    ) -> LResult<(Value, BindingKind)> {
        if p.is_const {
            if !is_compile_time(&b.value) {
                return Err(self.error(
                    Diagnostic::error(
                        codes::NOT_CONSTANT,
                        format!(
                            "argument for `const {}` of `{}` is not known at compile time",
                            p.name.name, f.name.name
                        ),
                        b.span,
                    )
                    .with_label(format!("this is a runtime {}", b.value.describe()))
                    .with_secondary(p.name.span, "declared `const` here"),
                ));
            }
            let v = match &p.ty {
                Some(ty) => {
                    let what = format!("argument for `const {}`", p.name.name);
                    self.coerce_const_to_type(b.value, b.span, ty, &what)?
                }
                None => b.value,
            };
            return Ok((v, BindingKind::ConstParam));
        }
        let Some(ty) = &p.ty else { return Ok((b.value, BindingKind::Var)) };
        let elem = self.resolve_type(ty)?;
        let v = match (&b.value, elem) {
            (Value::Ir(_, t), e) if t.elem() == Some(e) => b.value.clone(),
            (v, ElemType::Scalar(s)) if v.is_const_scalar() && coerce_const(v, s).is_some() => {
                let id = self.constant(v, s, &[], b.span)?;
                Value::Ir(id, Type::scalar(s))
            }
            (v, _) => {
                let _ = call_span;
                return Err(self.error(
                    Diagnostic::error(
                        codes::PARAM_TYPE_MISMATCH,
                        format!(
                            "parameter `{}` of `{}` has type `{}`, but the argument is {}",
                            p.name.name,
                            f.name.name,
                            crate::lower::type_text(ty),
                            v.describe()
                        ),
                        b.span,
                    )
                    .with_label(v.describe())
                    .with_secondary(ty.span, "declared here")
                    .with_help(match elem {
                        ElemType::Scalar(s) => format!("convert the argument with `.to({s})`"),
                        ElemType::Ptr(_) => "pass a pointer of that element type".to_string(),
                    }),
                ));
            }
        };
        Ok((v, BindingKind::Var))
    }

    fn check_return_type(
        &mut self,
        f: &Function,
        ret: &tessera_syntax::ast::TypeExpr,
        v: &Value,
        span: Span,
    ) -> LResult<()> {
        // `-> tensor` documents a runtime result of any shape; a dtype
        // checks the element type.
        if ret.pointer_depth == 0 && ret.name.name == "tensor" {
            if matches!(v, Value::Ir(..)) || v.is_const_scalar() {
                return Ok(());
            }
        } else {
            let elem = self.resolve_type(ret)?;
            let matches = match (v, elem) {
                (Value::Ir(_, t), e) => t.elem() == Some(e),
                (v, ElemType::Scalar(s)) => coerce_const(v, s).is_some(),
                _ => false,
            };
            if matches {
                return Ok(());
            }
        }
        Err(self.error(
            Diagnostic::error(
                codes::RETURN_TYPE_MISMATCH,
                format!(
                    "`{}` is declared to return `{}`, but returns {}",
                    f.name.name,
                    crate::lower::type_text(ret),
                    v.describe()
                ),
                span,
            )
            .with_label(v.describe())
            .with_secondary(ret.span, "declared here"),
        ))
    }

    // ---- argument checks -----------------------------------------------------------

    /// A compile-time integer argument.
    pub(crate) fn const_int(&mut self, b: &Bound, what: &str) -> LResult<i64> {
        match &b.value {
            Value::Int(i) => Ok(*i),
            Value::Ir(_, ty) => Err(self.not_constant(b.span, what, ty)),
            v => Err(self.error(
                Diagnostic::error(
                    codes::EXPECTED_INT,
                    format!("{what} must be an integer, found {}", v.describe()),
                    b.span,
                )
                .with_label(v.describe()),
            )),
        }
    }

    pub(crate) fn const_bool(&mut self, b: &Bound, what: &str) -> LResult<bool> {
        match &b.value {
            Value::Bool(v) => Ok(*v),
            Value::Ir(_, ty) => Err(self.not_constant(b.span, what, ty)),
            v => Err(self.error(
                Diagnostic::error(
                    codes::CONDITION_NOT_BOOL,
                    format!("{what} must be a bool, found {}", v.describe()),
                    b.span,
                )
                .with_label(v.describe())
                .with_help("write `true` or `false`, or a comparison"),
            )),
        }
    }

    pub(crate) fn const_str(&mut self, b: &Bound, what: &str, accepted: &[&str]) -> LResult<String> {
        match &b.value {
            Value::Str(s) if accepted.contains(&s.as_str()) => Ok(s.clone()),
            v => {
                let list: Vec<String> = accepted.iter().map(|a| format!("\"{a}\"")).collect();
                Err(self.error(
                    Diagnostic::error(codes::BAD_OPTION, format!("unsupported {what}: {}", v.describe()), b.span)
                        .with_label("not accepted")
                        .with_help(format!("{what} is one of {}", list.join(", "))),
                ))
            }
        }
    }

    pub(crate) fn not_constant(&mut self, span: Span, what: &str, ty: &Type) -> Reported {
        self.error(
            Diagnostic::error(codes::NOT_CONSTANT, format!("{what} must be known at compile time"), span)
                .with_label(format!("this is a runtime {}", show_type(ty)))
                .with_help("use a literal, a `const` parameter or a file constant"),
        )
    }

    pub(crate) fn dtype_arg(&mut self, b: &Bound, what: &str) -> LResult<ScalarType> {
        match &b.value {
            Value::DType(s) => Ok(*s),
            _ => Err(self.error(not_a_dtype(b, what))),
        }
    }

    /// A list of compile-time integers: a tuple/list, or a single integer.
    pub(crate) fn int_list(&mut self, b: &Bound, what: &str) -> LResult<Vec<i64>> {
        let items = match &b.value {
            Value::Tuple(items) => items.clone(),
            Value::Int(_) => vec![b.value.clone()],
            v => {
                return Err(self.error(
                    Diagnostic::error(
                        codes::EXPECTED_SHAPE,
                        format!("{what} must be a tuple or list of integers, found {}", v.describe()),
                        b.span,
                    )
                    .with_label(v.describe())
                    .with_help("write `(a, b)` or `[a, b]` with compile-time integers"),
                ));
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            match item {
                Value::Int(i) => out.push(*i),
                Value::Ir(_, ty) => return Err(self.not_constant(b.span, &format!("every element of {what}"), ty)),
                v => {
                    return Err(self.error(
                        Diagnostic::error(
                            codes::EXPECTED_SHAPE,
                            format!("{what} must hold integers, found {}", v.describe()),
                            b.span,
                        )
                        .with_label("in this list"),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// A shape: compile-time positive dimensions, at most [`MAX_ELEMENTS`] in all.
    pub(crate) fn shape_arg(&mut self, b: &Bound, what: &str) -> LResult<Shape> {
        let dims = self.int_list(b, what)?;
        let mut shape = Vec::with_capacity(dims.len());
        let mut count: u64 = 1;
        for d in dims {
            match u32::try_from(d) {
                Ok(d) if d > 0 => {
                    shape.push(d);
                    count = count.saturating_mul(u64::from(d));
                }
                _ => {
                    return Err(self.error(
                        Diagnostic::error(
                            codes::BAD_DIMENSION,
                            format!("{what} has the dimension {d}; dimensions must be positive"),
                            b.span,
                        )
                        .with_label("invalid dimension"),
                    ));
                }
            }
        }
        self.check_elements(count, b.span)?;
        Ok(shape)
    }

    pub(crate) fn check_elements(&mut self, count: u64, span: Span) -> LResult<()> {
        if count > MAX_ELEMENTS {
            return Err(self.error(
                Diagnostic::error(
                    codes::BAD_DIMENSION,
                    format!("a tensor of {count} elements exceeds the limit of {MAX_ELEMENTS}"),
                    span,
                )
                .with_label("too large")
                .with_help("split the work over more programs of the grid"),
            ));
        }
        Ok(())
    }

    /// A compile-time axis of a rank-`rank` value (negative counts from the end).
    pub(crate) fn axis_arg(&mut self, b: &Bound, rank: usize, what: &str) -> LResult<u32> {
        let a = self.const_int(b, what)?;
        normalize_axis(a, rank).ok_or_else(|| {
            self.error(
                Diagnostic::error(
                    codes::AXIS_OUT_OF_RANGE,
                    format!("{what} {a} is out of range for rank {rank}"),
                    b.span,
                )
                .with_label("no such axis")
                .with_help(if rank == 0 {
                    "this value is a scalar and has no axes".to_string()
                } else {
                    format!("axes go from 0 to {} (or -{} to -1)", rank - 1, rank)
                }),
            )
        })
    }

    /// A runtime tensor or scalar of numbers or pointers (not a block pointer).
    pub(crate) fn tensor_arg(&mut self, b: &Bound, what: &str) -> LResult<(ValueId, Type)> {
        match &b.value {
            Value::Ir(id, ty @ Type::Tensor { .. }) => Ok((*id, ty.clone())),
            v => Err(self.error(
                Diagnostic::error(
                    codes::EXPECTED_TENSOR,
                    format!("{what} must be a tensor, found {}", v.describe()),
                    b.span,
                )
                .with_label(v.describe()),
            )),
        }
    }

    /// A runtime numeric tensor of rank >= 1.
    pub(crate) fn numeric_tensor_arg(
        &mut self,
        b: &Bound,
        what: &str,
        help: &str,
    ) -> LResult<(ValueId, Type, ScalarType)> {
        if let Value::Ir(id, ty) = &b.value
            && let Some(s) = ty.scalar_elem()
            && !ty.shape().is_empty()
        {
            return Ok((*id, ty.clone(), s));
        }
        Err(self.error(
            Diagnostic::error(
                codes::EXPECTED_TENSOR,
                format!("{what} must be a numeric tensor, found {}", b.value.describe()),
                b.span,
            )
            .with_label(b.value.describe())
            .with_help(help.to_string()),
        ))
    }

    /// A runtime integer scalar (compile-time ints are materialized as `ty`).
    pub(crate) fn int_scalar(&mut self, v: &Value, span: Span, ty: ScalarType, what: &str) -> LResult<ValueId> {
        match v {
            Value::Int(_) => self.constant(v, ty, &[], span),
            Value::Ir(id, t) if t.is_scalar() && t.scalar_elem().is_some_and(|s| s.is_int() && !s.is_bool()) => {
                Ok(self.cast(*id, t, ty).0)
            }
            v => Err(self.error(
                Diagnostic::error(
                    codes::EXPECTED_INT,
                    format!("{what} must be an integer scalar, found {}", v.describe()),
                    span,
                )
                .with_label(v.describe()),
            )),
        }
    }

    /// A bool mask of `shape` (compile-time bools become constants).
    pub(crate) fn mask_arg(&mut self, b: &Bound, shape: &[u32], target_span: Span) -> LResult<ValueId> {
        match &b.value {
            Value::Bool(_) => self.constant(&b.value, ScalarType::I1, shape, b.span),
            Value::Ir(id, ty) if ty.scalar_elem() == Some(ScalarType::I1) => {
                self.check_broadcasts_to(ty.shape(), b.span, shape, "the mask", target_span)?;
                Ok(self.broadcast(*id, ty, shape))
            }
            v => Err(self.error(
                Diagnostic::error(codes::MASK_NOT_BOOL, format!("a mask must be bool, found {}", v.describe()), b.span)
                    .with_label(v.describe())
                    .with_help("build masks with comparisons, e.g. `offs < n`"),
            )),
        }
    }
}

/// E0212 for an argument `b` that should be a dtype; `what` names the
/// argument and its builtin ("the dtype argument of `zeros`").
pub(crate) fn not_a_dtype(b: &Bound, what: &str) -> Diagnostic {
    Diagnostic::error(codes::EXPECTED_DTYPE, format!("{what} must be a dtype, found {}", b.value.describe()), b.span)
        .with_label("not a dtype")
        .with_help("dtypes are bool, i8, i16, i32, i64, f16, bf16, f32, f64")
}
