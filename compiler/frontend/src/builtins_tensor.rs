//! Builtins that create, reshape and compute on tensors: everything but
//! memory access (see `builtins_memory`).

use crate::builtins::{Bound, BuiltinKind};
use crate::codes;
use crate::consteval::{self, FoldError};
use crate::lower::{LResult, Lowerer, Reported, show_type};
use crate::lower_call::not_a_dtype;
use crate::shapes::{is_permutation, show};
use crate::types::promote;
use crate::value::{Value, default_type};
use tessera_diagnostics::{Diagnostic, Span};
use tessera_tir::{
    BinaryOp, Constant, DotPrecision, ElemType, OpKind, ReduceKind, ScalarType, ScanKind, Type, UnaryOp, ValueId,
};

/// The bound arguments of one builtin call.
pub(crate) struct Args {
    slots: Vec<Option<Bound>>,
    span: Span,
}

impl Args {
    pub(crate) fn get(&self, i: usize) -> Option<&Bound> {
        self.slots.get(i).and_then(Option::as_ref)
    }
    /// A required argument (the binder guarantees it; `None` otherwise).
    pub(crate) fn req(&self, i: usize) -> Bound {
        self.get(i).cloned().unwrap_or(Bound { value: Value::None, span: self.span })
    }
}

impl Lowerer<'_> {
    pub(crate) fn builtin(
        &mut self,
        kind: BuiltinKind,
        name: &str,
        slots: Vec<Option<Bound>>,
        span: Span,
    ) -> LResult<Value> {
        let a = Args { slots, span };
        match kind {
            BuiltinKind::ProgramId | BuiltinKind::NumPrograms => {
                let axis = self.const_int(&a.req(0), "the grid axis")?;
                let Ok(axis @ 0..=2) = u8::try_from(axis) else {
                    return Err(self.error(
                        Diagnostic::error(
                            codes::AXIS_OUT_OF_RANGE,
                            format!("grid axis {axis} is out of range"),
                            a.req(0).span,
                        )
                        .with_label("no such grid axis")
                        .with_help("the grid has axes 0, 1 and 2"),
                    ));
                };
                let op =
                    if kind == BuiltinKind::ProgramId { OpKind::ProgramId(axis) } else { OpKind::NumPrograms(axis) };
                let ty = Type::scalar(ScalarType::I32);
                Ok(Value::Ir(self.b.emit1(op, vec![], ty.clone()), ty))
            }
            BuiltinKind::Arange => self.arange(&a),
            BuiltinKind::Zeros => {
                let shape = self.shape_arg(&a.req(0), "the shape")?;
                let dtype = match a.get(1) {
                    Some(b) => self.dtype_arg(b, "the dtype argument of `zeros`")?,
                    None => ScalarType::F32,
                };
                let ty = Type::tensor(dtype, shape);
                Ok(Value::Ir(self.b.emit1(OpKind::Constant(zero(dtype)), vec![], ty.clone()), ty))
            }
            BuiltinKind::Full => {
                let shape = self.shape_arg(&a.req(0), "the shape")?;
                let value = a.req(1);
                let dtype =
                    match a.get(2) {
                        // `full(shape, f32, 0.0)`: NumPy-style order mix-ups are
                        // common enough to name the order.
                        Some(b) if matches!(value.value, Value::DType(_)) && !matches!(b.value, Value::DType(_)) => {
                            return Err(self.error(not_a_dtype(b, "the dtype argument of `full`").with_note(
                                "the order is `full(shape, value, dtype)`: the value and dtype look swapped",
                            )));
                        }
                        Some(b) => self.dtype_arg(b, "the dtype argument of `full`")?,
                        None => match &value.value {
                            Value::Ir(_, t) if t.is_scalar() => t.scalar_elem().unwrap_or(ScalarType::F32),
                            v => default_type(v).unwrap_or(ScalarType::F32),
                        },
                    };
                self.fill(&value, dtype, &shape)
            }
            BuiltinKind::ZerosLike => {
                let (_, ty) = self.tensor_arg(&a.req(0), "the argument of `zeros_like`")?;
                let Some(s) = ty.scalar_elem() else { return Err(self.expected_numeric(&a.req(0), "zeros_like")) };
                Ok(Value::Ir(self.b.emit1(OpKind::Constant(zero(s)), vec![], ty.clone()), ty))
            }
            BuiltinKind::FullLike => {
                let (_, ty) = self.tensor_arg(&a.req(0), "the first argument of `full_like`")?;
                let Some(s) = ty.scalar_elem() else { return Err(self.expected_numeric(&a.req(0), "full_like")) };
                self.fill(&a.req(1), s, ty.shape())
            }
            BuiltinKind::ExpandDims => {
                let (id, ty) = self.tensor_arg(&a.req(0), "the first argument of `expand_dims`")?;
                let axis = self.axis_arg(&a.req(1), ty.shape().len() + 1, "axis")?;
                let (id, ty) = self.expand_dims(id, &ty, axis);
                Ok(Value::Ir(id, ty))
            }
            BuiltinKind::BroadcastTo => {
                let x = a.req(0);
                let shape = self.shape_arg(&a.req(1), "the shape")?;
                match &x.value {
                    Value::Ir(id, ty @ Type::Tensor { .. }) => {
                        self.check_broadcasts_to(ty.shape(), x.span, &shape, "the tensor", a.req(1).span)?;
                        let id = self.broadcast(*id, ty, &shape);
                        Ok(Value::Ir(id, ty.with_shape(shape)))
                    }
                    v if v.is_const_scalar() => {
                        let t = default_type(v).unwrap_or(ScalarType::I32);
                        Ok(Value::Ir(self.constant(v, t, &shape, x.span)?, Type::tensor(t, shape)))
                    }
                    _ => Err(self.tensor_arg(&x, "the first argument of `broadcast_to`").err().unwrap_or(Reported)),
                }
            }
            BuiltinKind::Reshape => {
                let x = a.req(0);
                let (id, ty) = self.tensor_arg(&x, "the first argument of `reshape`")?;
                let shape = self.shape_arg(&a.req(1), "the shape")?;
                let (from, to) = (ty.num_elements(), shape.iter().map(|&d| u64::from(d)).product::<u64>());
                if from != to {
                    return Err(self.error(
                        Diagnostic::error(
                            codes::RESHAPE_COUNT,
                            format!(
                                "cannot reshape {} ({from} elements) to {} ({to} elements)",
                                show(ty.shape()),
                                show(&shape)
                            ),
                            a.req(1).span,
                        )
                        .with_label(format!("{to} elements"))
                        .with_secondary(x.span, format!("{from} elements"))
                        .with_help("a reshape keeps the number of elements"),
                    ));
                }
                if ty.shape() == shape.as_slice() {
                    return Ok(x.value);
                }
                let ty = ty.with_shape(shape);
                Ok(Value::Ir(self.b.emit1(OpKind::Reshape, vec![id], ty.clone()), ty))
            }
            BuiltinKind::Trans => {
                let (id, ty) = self.tensor_arg(&a.req(0), "the argument of `trans`")?;
                let rank = ty.shape().len() as u32;
                if rank < 2 {
                    return Ok(Value::Ir(id, ty));
                }
                Ok(self.permute(id, &ty, (0..rank).rev().collect()))
            }
            BuiltinKind::Permute => {
                let (id, ty) = self.tensor_arg(&a.req(0), "the first argument of `permute`")?;
                let dims_arg = a.req(1);
                let dims = self.int_list(&dims_arg, "dims")?;
                let rank = ty.shape().len();
                if !is_permutation(&dims, rank) {
                    return Err(self.error(
                        Diagnostic::error(
                            codes::BAD_PERMUTATION,
                            format!("dims {dims:?} are not a permutation of the {rank} axes of {}", show_type(&ty)),
                            dims_arg.span,
                        )
                        .with_label("not a permutation")
                        .with_help(format!("list each axis 0..{rank} exactly once")),
                    ));
                }
                Ok(self.permute(id, &ty, dims.iter().map(|&d| d as u32).collect()))
            }
            BuiltinKind::Where => self.where_(&a),
            BuiltinKind::Minimum | BuiltinKind::Maximum => {
                let max = kind == BuiltinKind::Maximum;
                self.min_max(name, max, &a.req(0), &a.req(1), span)
            }
            BuiltinKind::Math(op) => self.math(name, op, &a.req(0)),
            BuiltinKind::Cdiv => self.cdiv(&a.req(0), &a.req(1), span),
            BuiltinKind::To => {
                let x = a.req(0);
                let t = self.dtype_arg(&a.req(1), "the target type")?;
                self.cast_value(x.value, x.span, t)
            }
            BuiltinKind::Load => self.load(&a),
            BuiltinKind::Store => self.store(&a),
            BuiltinKind::AtomicAdd => self.atomic_add(&a),
            BuiltinKind::Fence => {
                self.b.emit(OpKind::Fence, vec![], vec![]);
                Ok(Value::Unit)
            }
            BuiltinKind::MakeBlockPtr => self.make_block_ptr(&a),
            BuiltinKind::Advance => self.advance(&a),
            BuiltinKind::Dot => self.dot(&a),
            BuiltinKind::Sum => self.reduce(name, ReduceKind::Sum, &a),
            BuiltinKind::Max => self.reduce(name, ReduceKind::Max, &a),
            BuiltinKind::Min => self.reduce(name, ReduceKind::Min, &a),
            BuiltinKind::Argmax => self.reduce(name, ReduceKind::Argmax, &a),
            BuiltinKind::Argmin => self.reduce(name, ReduceKind::Argmin, &a),
            BuiltinKind::Cumsum => self.scan(name, ScanKind::Cumsum, &a),
            BuiltinKind::Cumprod => self.scan(name, ScanKind::Cumprod, &a),
            BuiltinKind::StaticAssert => {
                let cond = a.req(0);
                let holds = self.const_bool(&cond, "a `static_assert` condition")?;
                if holds {
                    return Ok(Value::Unit);
                }
                let message = match a.get(1).map(|b| &b.value) {
                    Some(Value::Str(s)) => format!("static assertion failed: {s}"),
                    _ => "static assertion failed".to_string(),
                };
                Err(self.error(
                    Diagnostic::error(codes::STATIC_ASSERT_FAILED, message, cond.span)
                        .with_label("this is false for this specialization"),
                ))
            }
            // Rejected in `call` before arguments are bound.
            BuiltinKind::Range { .. } => Err(Reported),
        }
    }

    fn expected_numeric(&mut self, b: &Bound, name: &str) -> Reported {
        self.error(
            Diagnostic::error(
                codes::EXPECTED_TENSOR,
                format!("`{name}` needs a numeric tensor, found {}", b.value.describe()),
                b.span,
            )
            .with_label(b.value.describe()),
        )
    }

    fn arange(&mut self, a: &Args) -> LResult<Value> {
        let (s, e) = (a.req(0), a.req(1));
        let start = self.const_int(&s, "the start of `arange`")?;
        let end = self.const_int(&e, "the end of `arange`")?;
        if end <= start || i32::try_from(start).is_err() || i32::try_from(end).is_err() {
            return Err(self.error(
                Diagnostic::error(
                    codes::BAD_ARANGE,
                    format!("`arange({start}, {end})` is empty or out of range"),
                    s.span.to(e.span),
                )
                .with_label("invalid bounds")
                .with_help("`arange(start, end)` needs start < end, both within i32"),
            ));
        }
        let n = (end - start) as u64;
        self.check_elements(n, s.span.to(e.span))?;
        let ty = Type::tensor(ScalarType::I32, vec![n as u32]);
        Ok(Value::Ir(self.b.emit1(OpKind::Arange { start, end }, vec![], ty.clone()), ty))
    }

    /// A tensor of `shape` and `dtype` filled with a scalar (compile-time or runtime).
    fn fill(&mut self, value: &Bound, dtype: ScalarType, shape: &[u32]) -> LResult<Value> {
        let ty = Type::tensor(dtype, shape.to_vec());
        match &value.value {
            Value::Ir(id, t) if t.is_scalar() && t.scalar_elem().is_some() => {
                let (id, t) = self.cast(*id, t, dtype);
                Ok(Value::Ir(self.broadcast(id, &t, shape), ty))
            }
            v if v.is_const_scalar() => Ok(Value::Ir(self.constant(v, dtype, shape, value.span)?, ty)),
            v => Err(self.error(
                Diagnostic::error(
                    codes::EXPECTED_NUMBER,
                    format!("the fill value must be a scalar, found {}", v.describe()),
                    value.span,
                )
                .with_label(v.describe())
                .with_help("use `broadcast_to` to stretch a tensor"),
            )),
        }
    }

    fn permute(&mut self, id: ValueId, ty: &Type, perm: Vec<u32>) -> Value {
        if perm.iter().enumerate().all(|(i, &p)| i as u32 == p) {
            return Value::Ir(id, ty.clone());
        }
        let shape: Vec<u32> = perm.iter().map(|&p| ty.shape()[p as usize]).collect();
        let out = ty.with_shape(shape);
        Value::Ir(self.b.emit1(OpKind::Permute(perm), vec![id], out.clone()), out)
    }

    fn where_(&mut self, a: &Args) -> LResult<Value> {
        let (c, x, y) = (a.req(0), a.req(1), a.req(2));
        let c_ok = match &c.value {
            Value::Bool(_) => true,
            Value::Ir(_, t) => t.scalar_elem() == Some(ScalarType::I1),
            _ => false,
        };
        if !c_ok {
            return Err(self.error(
                Diagnostic::error(
                    codes::CONDITION_NOT_BOOL,
                    format!("the condition of `where` must be bool, found {}", c.value.describe()),
                    c.span,
                )
                .with_label(c.value.describe())
                .with_help("compare to get a bool, e.g. `x > 0`"),
            ));
        }
        let (elem, xy_shape) = self.common_operands("where", &x, &y)?;
        let shape = self.broadcast_pair(&Self::shape_of(&c.value), c.span, &xy_shape, x.span.to(y.span), "`where`")?;
        let cid = self.convert(&c.value, c.span, ScalarType::I1, &shape)?;
        let (xid, yid, ty) = match elem {
            ElemType::Scalar(s) => (
                self.convert(&x.value, x.span, s, &shape)?,
                self.convert(&y.value, y.span, s, &shape)?,
                Type::tensor(s, shape),
            ),
            ElemType::Ptr(p) => {
                let (Value::Ir(xi, xt), Value::Ir(yi, yt)) = (&x.value, &y.value) else { return Err(Reported) };
                (self.broadcast(*xi, xt, &shape), self.broadcast(*yi, yt, &shape), Type::ptr(p, shape))
            }
        };
        Ok(Value::Ir(self.b.emit1(OpKind::Select, vec![cid, xid, yid], ty.clone()), ty))
    }

    /// The element type two operands promote to, and their broadcast shape.
    /// Pointers combine only with pointers of the same type.
    fn common_operands(&mut self, what: &str, x: &Bound, y: &Bound) -> LResult<(ElemType, Vec<u32>)> {
        let shape = self.broadcast_pair(
            &Self::shape_of(&x.value),
            x.span,
            &Self::shape_of(&y.value),
            y.span,
            &format!("`{what}`"),
        )?;
        let xe = x.value.ir_type().and_then(Type::elem);
        let ye = y.value.ir_type().and_then(Type::elem);
        if let (Some(e @ ElemType::Ptr(_)), Some(f)) | (Some(f), Some(e @ ElemType::Ptr(_))) = (xe, ye) {
            if e == f {
                return Ok((e, shape));
            }
            return Err(self.bad_operands(
                what,
                &x.value,
                x.span,
                &y.value,
                y.span,
                Some("both values must be pointers of one type"),
            ));
        }
        match (self.operand(&x.value), self.operand(&y.value)) {
            (Some(p), Some(q)) => Ok((ElemType::Scalar(promote(p, q)), shape)),
            _ => Err(self.bad_operands(what, &x.value, x.span, &y.value, y.span, None)),
        }
    }

    fn min_max(&mut self, name: &str, max: bool, x: &Bound, y: &Bound, span: Span) -> LResult<Value> {
        if x.value.is_const_scalar() && y.value.is_const_scalar() {
            return match (&x.value, &y.value) {
                (Value::Int(p), Value::Int(q)) => Ok(Value::Int(if max { *p.max(q) } else { *p.min(q) })),
                (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                    let f = |v: &Value| {
                        if let Value::Int(i) = v {
                            *i as f64
                        } else if let Value::Float(f) = v {
                            *f
                        } else {
                            0.0
                        }
                    };
                    let (p, q) = (f(&x.value), f(&y.value));
                    Ok(Value::Float(if max { p.max(q) } else { p.min(q) }))
                }
                _ => Err(self.bad_operands(name, &x.value, x.span, &y.value, y.span, Some("takes numbers"))),
            };
        }
        let (elem, shape) = self.common_operands(name, x, y)?;
        let s = match elem {
            ElemType::Scalar(s) if !s.is_bool() => s,
            _ => return Err(self.bad_operands(name, &x.value, x.span, &y.value, y.span, Some("takes numbers"))),
        };
        let xid = self.convert(&x.value, x.span, s, &shape)?;
        let yid = self.convert(&y.value, y.span, s, &shape)?;
        let ty = Type::tensor(s, shape);
        let op = if max { BinaryOp::Max } else { BinaryOp::Min };
        let saved = self.set_loc(span);
        let r = self.b.emit1(OpKind::Binary(op), vec![xid, yid], ty.clone());
        self.b.loc = saved;
        Ok(Value::Ir(r, ty))
    }

    /// Elementwise math; integer inputs (and compile-time numbers) become f32.
    fn math(&mut self, name: &str, op: UnaryOp, x: &Bound) -> LResult<Value> {
        let (id, ty) = match &x.value {
            Value::Int(_) | Value::Float(_) => {
                let t =
                    if op.float_only() { ScalarType::F32 } else { default_type(&x.value).unwrap_or(ScalarType::F32) };
                (self.constant(&x.value, t, &[], x.span)?, Type::scalar(t))
            }
            Value::Ir(id, ty) if ty.scalar_elem().is_some_and(|s| !(s.is_bool() && op.float_only())) => {
                (*id, ty.clone())
            }
            v => {
                return Err(self.error(
                    Diagnostic::error(
                        codes::BAD_OPERAND_TYPES,
                        format!("`{name}` takes numbers, found {}", v.describe()),
                        x.span,
                    )
                    .with_label(v.describe()),
                ));
            }
        };
        let s = ty.scalar_elem().unwrap_or(ScalarType::F32);
        let (id, ty) = if op.float_only() && s.is_int() { self.cast(id, &ty, ScalarType::F32) } else { (id, ty) };
        Ok(self.unary(op, id, &ty))
    }

    /// `cdiv(a, b)`: folded on compile-time integers, `(a + b - 1) / b` otherwise.
    fn cdiv(&mut self, x: &Bound, y: &Bound, span: Span) -> LResult<Value> {
        if let (Value::Int(p), Value::Int(q)) = (&x.value, &y.value) {
            return consteval::cdiv(*p, *q).map(Value::Int).map_err(|e| {
                let e = if e == FoldError::DivByZero { e } else { FoldError::Overflow };
                self.fold_error(e, "cdiv", &x.value, x.span, &y.value, y.span, span)
            });
        }
        let (elem, shape) = self.common_operands("cdiv", x, y)?;
        let s = match elem {
            ElemType::Scalar(s) if s.is_int() && !s.is_bool() => s,
            _ => {
                return Err(self.error(
                    Diagnostic::error(
                        codes::EXPECTED_INT,
                        format!("`cdiv` takes integers, found {} and {}", x.value.describe(), y.value.describe()),
                        x.span.to(y.span),
                    )
                    .with_label("not integers")
                    .with_help("for floats, use `ceil(a / b)`"),
                ));
            }
        };
        let ty = Type::tensor(s, shape.clone());
        let xid = self.convert(&x.value, x.span, s, &shape)?;
        let yid = self.convert(&y.value, y.span, s, &shape)?;
        let one = self.constant(&Value::Int(1), s, &shape, span)?;
        let sum = self.b.emit1(OpKind::Binary(BinaryOp::Add), vec![xid, yid], ty.clone());
        let num = self.b.emit1(OpKind::Binary(BinaryOp::Sub), vec![sum, one], ty.clone());
        Ok(Value::Ir(self.b.emit1(OpKind::Binary(BinaryOp::Div), vec![num, yid], ty.clone()), ty))
    }

    fn dot(&mut self, a: &Args) -> LResult<Value> {
        let (x, y) = (a.req(0), a.req(1));
        let help = "`dot` multiplies matrices [M, K] @ [K, N]";
        let (xid, xty, xs) = self.numeric_tensor_arg(&x, "the first operand of `dot`", help)?;
        let (yid, yty, ys) = self.numeric_tensor_arg(&y, "the second operand of `dot`", help)?;
        let (xsh, ysh) = (xty.shape().to_vec(), yty.shape().to_vec());
        if xsh.len() != 2 || ysh.len() != 2 || xsh[1] != ysh[0] {
            return Err(self.error(
                Diagnostic::error(
                    codes::DOT_SHAPE,
                    format!("`dot` cannot multiply {} by {}", show(&xsh), show(&ysh)),
                    x.span,
                )
                .with_label(format!("shape {}", show(&xsh)))
                .with_secondary(y.span, format!("shape {}", show(&ysh)))
                .with_help("`dot(a, b)` needs a: [M, K] and b: [K, N]; transpose with `trans(x)`"),
            ));
        }
        let supported = [ScalarType::F16, ScalarType::BF16, ScalarType::F32, ScalarType::I8];
        if xs != ys || !supported.contains(&xs) {
            return Err(self.error(
                Diagnostic::error(
                    codes::DOT_TYPE,
                    format!("`dot` does not support operands of {} and {}", xs, ys),
                    x.span,
                )
                .with_label(show_type(&xty))
                .with_secondary(y.span, show_type(&yty))
                .with_help("both operands must have one of the types f16, bf16, f32, i8: convert with `.to(...)`"),
            ));
        }
        let acc_elem = if xs == ScalarType::I8 { ScalarType::I32 } else { ScalarType::F32 };
        let out_shape = vec![xsh[0], ysh[1]];
        let acc_ty = Type::tensor(acc_elem, out_shape.clone());
        let acc = match a.get(2) {
            None => self.b.emit1(OpKind::Constant(zero(acc_elem)), vec![], acc_ty.clone()),
            Some(b) => match &b.value {
                Value::Ir(id, t) if *t == acc_ty => *id,
                Value::Ir(_, t) if t.scalar_elem() == Some(acc_elem) || t.shape() != out_shape.as_slice() => {
                    return Err(self.error(
                        Diagnostic::error(
                            codes::DOT_SHAPE,
                            format!(
                                "the accumulator has shape {}, but the product has shape {}",
                                show(t.shape()),
                                show(&out_shape)
                            ),
                            b.span,
                        )
                        .with_label(show_type(t)),
                    ));
                }
                v => {
                    return Err(self.error(
                        Diagnostic::error(
                            codes::DOT_TYPE,
                            format!("the accumulator must be {acc_ty}, found {}", v.describe()),
                            b.span,
                        )
                        .with_label(v.describe())
                        .with_help(format!("start it from `zeros({}, {acc_elem})`", show(&out_shape))),
                    ));
                }
            },
        };
        let precision = match a.get(3) {
            None => DotPrecision::Tf32,
            Some(b) => {
                if self.const_str(b, "`dot` precision", &["tf32", "ieee"])? == "ieee" {
                    DotPrecision::Ieee
                } else {
                    DotPrecision::Tf32
                }
            }
        };
        Ok(Value::Ir(self.b.emit1(OpKind::Dot { precision }, vec![xid, yid, acc], acc_ty.clone()), acc_ty))
    }

    /// `sum`/`max`/`min`/`argmax`/`argmin` along an axis, or over all
    /// elements when no axis is given. Sums of 16-bit floats accumulate in
    /// f32 and round once; sums of narrow integers give i32 (as Triton).
    fn reduce(&mut self, name: &str, kind: ReduceKind, a: &Args) -> LResult<Value> {
        let x = a.req(0);
        let help = match kind {
            ReduceKind::Max => "`max` reduces a tensor; for the larger of two values use `maximum(a, b)`",
            ReduceKind::Min => "`min` reduces a tensor; for the smaller of two values use `minimum(a, b)`",
            _ => "reductions take a tensor",
        };
        let (mut id, mut ty, elem) = self.numeric_tensor_arg(&x, &format!("the argument of `{name}`"), help)?;
        let keep_dims = match a.get(2) {
            Some(b) => self.const_bool(b, "keep_dims")?,
            None => false,
        };
        let rank = ty.shape().len();
        let axis = match a.get(1) {
            Some(b) => Some(self.axis_arg(b, rank, "axis")?),
            None => None,
        };
        if axis.is_none() && rank > 1 {
            let flat = ty.with_shape(vec![ty.num_elements() as u32]);
            id = self.b.emit1(OpKind::Reshape, vec![id], flat.clone());
            ty = flat;
        }
        let axis_used = axis.unwrap_or(0);
        let accumulate = match (kind, elem) {
            (ReduceKind::Sum, ScalarType::F16 | ScalarType::BF16) => Some(ScalarType::F32),
            (ReduceKind::Sum, ScalarType::I1 | ScalarType::I8 | ScalarType::I16) => Some(ScalarType::I32),
            _ => None,
        };
        if let Some(acc) = accumulate {
            (id, ty) = self.cast(id, &ty, acc);
        }
        let mut shape = ty.shape().to_vec();
        shape.remove(axis_used as usize);
        let out_elem = match kind {
            ReduceKind::Argmax | ReduceKind::Argmin => ScalarType::I32,
            _ => ty.scalar_elem().unwrap_or(elem),
        };
        let rty = Type::tensor(out_elem, shape);
        let mut r = self.b.emit1(OpKind::Reduce { kind, axis: axis_used }, vec![id], rty.clone());
        let mut rty = rty;
        if accumulate == Some(ScalarType::F32) {
            (r, rty) = self.cast(r, &rty, elem);
        }
        if keep_dims {
            match axis {
                Some(ax) => (r, rty) = self.expand_dims(r, &rty, ax),
                None => {
                    let ones = rty.with_shape(vec![1; rank]);
                    r = self.b.emit1(OpKind::Splat, vec![r], ones.clone());
                    rty = ones;
                }
            }
        }
        Ok(Value::Ir(r, rty))
    }

    /// Inclusive scans; 16-bit floats scan in f32, narrow integers in i32.
    fn scan(&mut self, name: &str, kind: ScanKind, a: &Args) -> LResult<Value> {
        let x = a.req(0);
        let (id, ty, elem) =
            self.numeric_tensor_arg(&x, &format!("the argument of `{name}`"), "scans take a tensor")?;
        let axis = match a.get(1) {
            Some(b) => self.axis_arg(b, ty.shape().len(), "axis")?,
            None => 0,
        };
        let reverse = match a.get(2) {
            Some(b) => self.const_bool(b, "reverse")?,
            None => false,
        };
        let accumulate = match elem {
            ScalarType::F16 | ScalarType::BF16 => Some(ScalarType::F32),
            ScalarType::I1 | ScalarType::I8 | ScalarType::I16 => Some(ScalarType::I32),
            _ => None,
        };
        let (id, ty) = match accumulate {
            Some(acc) => self.cast(id, &ty, acc),
            None => (id, ty),
        };
        let r = self.b.emit1(OpKind::Scan { kind, axis, reverse }, vec![id], ty.clone());
        if accumulate == Some(ScalarType::F32) {
            let (r, t) = self.cast(r, &ty, elem);
            return Ok(Value::Ir(r, t));
        }
        Ok(Value::Ir(r, ty))
    }
}

pub(crate) fn zero(s: ScalarType) -> Constant {
    if s.is_bool() {
        Constant::Bool(false)
    } else if s.is_float() {
        Constant::Float(0.0)
    } else {
        Constant::Int(0)
    }
}
