//! Memory builtins: `load`/`store`/`atomic_add` through tensors of pointers
//! and through block pointers, `make_block_ptr`, `advance`.

use crate::builtins::Bound;
use crate::builtins_tensor::Args;
use crate::codes;
use crate::lower::{LResult, Lowerer};
use crate::shapes::{is_permutation, normalize_axis};
use crate::value::Value;
use tessera_diagnostics::{Diagnostic, Span};
use tessera_tir::{ElemType, Evict, OpKind, Padding, ScalarType, Shape, Type, ValueId};

/// What a memory builtin reads or writes through.
enum Target {
    /// A tensor (or scalar) of pointers to `pointee`.
    Ptrs {
        id: ValueId,
        pointee: ScalarType,
        shape: Shape,
    },
    Block {
        id: ValueId,
        elem: ScalarType,
        block: Shape,
    },
}

impl Lowerer<'_> {
    fn target(&mut self, b: &Bound, name: &str) -> LResult<Target> {
        match &b.value {
            Value::Ir(id, Type::Tensor { elem: ElemType::Ptr(p), shape }) => {
                Ok(Target::Ptrs { id: *id, pointee: *p, shape: shape.clone() })
            }
            Value::Ir(id, Type::BlockPtr { elem, block }) => {
                Ok(Target::Block { id: *id, elem: *elem, block: block.clone() })
            }
            v => Err(self.error(
                Diagnostic::error(
                    codes::NOT_A_POINTER,
                    format!("`{name}` needs pointers, found {}", v.describe()),
                    b.span,
                )
                .with_label(v.describe())
                .with_help(format!(
                    "`{name}` takes a pointer plus offsets, e.g. `{name}(x + offs, ...)`, or a block pointer"
                )),
            )),
        }
    }

    fn wrong_kind(&mut self, b: &Bound, option: &str, block: bool) -> crate::lower::Reported {
        let (msg, help) = if block {
            (
                format!("`{option}` does not apply to block pointers"),
                "block-pointer accesses take `boundary_check` (and `padding` and `eviction_policy` for loads)",
            )
        } else {
            (
                format!("`{option}` applies only to block pointers"),
                "accesses through tensors of pointers take `mask` (and `other` for loads)",
            )
        };
        self.error(
            Diagnostic::error(codes::WRONG_POINTER_KIND, msg, b.span).with_label("not accepted here").with_help(help),
        )
    }

    pub(crate) fn load(&mut self, a: &Args) -> LResult<Value> {
        let p = a.req(0);
        match self.target(&p, "load")? {
            Target::Ptrs { id, pointee, shape } => {
                for (i, opt) in [(3, "boundary_check"), (4, "padding"), (5, "eviction_policy")] {
                    if let Some(b) = a.get(i) {
                        return Err(self.wrong_kind(b, opt, false));
                    }
                }
                let mut operands = vec![id];
                if let Some(m) = a.get(1) {
                    operands.push(self.mask_arg(m, &shape, p.span)?);
                }
                if let Some(o) = a.get(2) {
                    if a.get(1).is_none() {
                        return Err(self.error(
                            Diagnostic::error(codes::OTHER_WITHOUT_MASK, "`other` is given without a `mask`", o.span)
                                .with_label("never read")
                                .with_help(
                                    "`other` is the value of masked-off lanes: add `mask = ...` or drop `other`",
                                ),
                        ));
                    }
                    operands.push(self.stored_value(o, pointee, &shape, p.span, "`other`")?);
                }
                let ty = Type::tensor(pointee, shape);
                let kind = OpKind::Load { masked: operands.len() > 1, has_other: operands.len() > 2 };
                Ok(Value::Ir(self.b.emit1(kind, operands, ty.clone()), ty))
            }
            Target::Block { id, elem, block } => {
                for (i, opt) in [(1, "mask"), (2, "other")] {
                    if let Some(b) = a.get(i) {
                        return Err(self.wrong_kind(b, opt, true));
                    }
                }
                let boundary_check = self.boundary_check(a.get(3), block.len())?;
                let padding = match a.get(4) {
                    None => Padding::Zero,
                    Some(b) => match self.const_str(b, "padding", &["zero", "nan"])?.as_str() {
                        "nan" => Padding::Nan,
                        _ => Padding::Zero,
                    },
                };
                let evict = match a.get(5) {
                    None => Evict::Normal,
                    Some(b) => {
                        let policy = self.const_str(b, "eviction_policy", &Evict::ALL.map(Evict::policy))?;
                        Evict::ALL.into_iter().find(|e| e.policy() == policy).unwrap_or_default()
                    }
                };
                let ty = Type::tensor(elem, block);
                let kind = OpKind::LoadBlock { boundary_check, padding, evict };
                Ok(Value::Ir(self.b.emit1(kind, vec![id], ty.clone()), ty))
            }
        }
    }

    pub(crate) fn store(&mut self, a: &Args) -> LResult<Value> {
        let (p, v) = (a.req(0), a.req(1));
        match self.target(&p, "store")? {
            Target::Ptrs { id, pointee, shape } => {
                if let Some(b) = a.get(3) {
                    return Err(self.wrong_kind(b, "boundary_check", false));
                }
                let value = self.stored_value(&v, pointee, &shape, p.span, "the stored value")?;
                let mut operands = vec![id, value];
                if let Some(m) = a.get(2) {
                    operands.push(self.mask_arg(m, &shape, p.span)?);
                }
                let masked = operands.len() > 2;
                self.b.emit(OpKind::Store { masked }, operands, vec![]);
                Ok(Value::Unit)
            }
            Target::Block { id, elem, block } => {
                if let Some(b) = a.get(2) {
                    return Err(self.wrong_kind(b, "mask", true));
                }
                let boundary_check = self.boundary_check(a.get(3), block.len())?;
                let value = self.stored_value(&v, elem, &block, p.span, "the stored value")?;
                self.b.emit(OpKind::StoreBlock { boundary_check }, vec![id, value], vec![]);
                Ok(Value::Unit)
            }
        }
    }

    pub(crate) fn atomic_add(&mut self, a: &Args) -> LResult<Value> {
        let (p, v) = (a.req(0), a.req(1));
        match self.target(&p, "atomic_add")? {
            Target::Ptrs { id, pointee, shape } => {
                let value = self.stored_value(&v, pointee, &shape, p.span, "the added value")?;
                let mut operands = vec![id, value];
                if let Some(m) = a.get(2) {
                    operands.push(self.mask_arg(m, &shape, p.span)?);
                }
                let ty = Type::tensor(pointee, shape);
                let kind = OpKind::AtomicAdd { masked: operands.len() > 2 };
                Ok(Value::Ir(self.b.emit1(kind, operands, ty.clone()), ty))
            }
            Target::Block { .. } => Err(self.error(
                Diagnostic::error(codes::WRONG_POINTER_KIND, "`atomic_add` does not take block pointers", p.span)
                    .with_label("a block pointer")
                    .with_help("compute a tensor of pointers with `base + offsets` instead"),
            )),
        }
    }

    /// A value written through pointers: converted to the pointee type and
    /// broadcast to the pointers' shape.
    fn stored_value(
        &mut self,
        v: &Bound,
        pointee: ScalarType,
        shape: &[u32],
        ptr_span: Span,
        what: &str,
    ) -> LResult<ValueId> {
        match &v.value {
            Value::Ir(_, ty) if ty.scalar_elem().is_some() => {
                self.check_broadcasts_to(ty.shape(), v.span, shape, what, ptr_span)?;
                self.convert(&v.value, v.span, pointee, shape)
            }
            x if x.is_const_scalar() => self.constant(x, pointee, shape, v.span),
            x => Err(self.error(
                Diagnostic::error(
                    codes::EXPECTED_NUMBER,
                    format!("{what} must be a number or numeric tensor, found {}", x.describe()),
                    v.span,
                )
                .with_label(x.describe()),
            )),
        }
    }

    /// `boundary_check = (0, 1)`: distinct axes of the block.
    fn boundary_check(&mut self, b: Option<&Bound>, rank: usize) -> LResult<Vec<u32>> {
        let Some(b) = b else { return Ok(Vec::new()) };
        let axes = self.int_list(b, "boundary_check")?;
        let mut out: Vec<u32> = Vec::with_capacity(axes.len());
        for a in axes {
            match normalize_axis(a, rank) {
                Some(ax) if !out.contains(&ax) => out.push(ax),
                _ => {
                    return Err(self.error(
                        Diagnostic::error(
                            codes::AXIS_OUT_OF_RANGE,
                            format!("boundary_check axis {a} is repeated or out of range for a rank-{rank} block"),
                            b.span,
                        )
                        .with_label("invalid axis")
                        .with_help(format!("list distinct axes below {rank}")),
                    ));
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn make_block_ptr(&mut self, a: &Args) -> LResult<Value> {
        let base = a.req(0);
        let pointee = match &base.value {
            Value::Ir(_, Type::Tensor { elem: ElemType::Ptr(p), shape }) if shape.is_empty() => *p,
            v => {
                return Err(self.error(
                    Diagnostic::error(
                        codes::NOT_A_POINTER,
                        format!("the base of a block pointer must be a scalar pointer, found {}", v.describe()),
                        base.span,
                    )
                    .with_label(v.describe())
                    .with_help("pass a pointer parameter (possibly moved by a scalar offset)"),
                ));
            }
        };
        let block_arg = a.req(4);
        let block = self.shape_arg(&block_arg, "block_shape")?;
        let rank = block.len();
        let mut operands = vec![match &base.value {
            Value::Ir(id, _) => *id,
            _ => return Err(crate::lower::Reported),
        }];
        for (i, what, ty) in
            [(1, "shape", ScalarType::I64), (2, "strides", ScalarType::I64), (3, "offsets", ScalarType::I32)]
        {
            let b = a.req(i);
            operands.extend(self.index_tuple(&b, what, ty, rank, block_arg.span)?);
        }
        let order_arg = a.req(5);
        let order = self.int_list(&order_arg, "order")?;
        if !is_permutation(&order, rank) {
            return Err(self.error(
                Diagnostic::error(
                    codes::BAD_PERMUTATION,
                    format!("order {order:?} is not a permutation of the {rank} block axes"),
                    order_arg.span,
                )
                .with_label("not a permutation")
                .with_help("list every axis once, fastest-varying first, e.g. `(1, 0)` for row-major"),
            ));
        }
        let ty = Type::BlockPtr { elem: pointee, block };
        let kind = OpKind::MakeBlockPtr { order: order.iter().map(|&o| o as u32).collect() };
        Ok(Value::Ir(self.b.emit1(kind, operands, ty.clone()), ty))
    }

    pub(crate) fn advance(&mut self, a: &Args) -> LResult<Value> {
        let bp = a.req(0);
        let (id, ty) = match &bp.value {
            Value::Ir(id, ty @ Type::BlockPtr { .. }) => (*id, ty.clone()),
            v => {
                return Err(self.error(
                    Diagnostic::error(
                        codes::NOT_A_POINTER,
                        format!("`advance` needs a block pointer, found {}", v.describe()),
                        bp.span,
                    )
                    .with_label(v.describe())
                    .with_help("make one with `make_block_ptr(...)`; move tensors of pointers with `+`"),
                ));
            }
        };
        let mut operands = vec![id];
        operands.extend(self.index_tuple(&a.req(1), "offsets", ScalarType::I32, ty.shape().len(), bp.span)?);
        Ok(Value::Ir(self.b.emit1(OpKind::Advance, operands, ty.clone()), ty))
    }

    /// A tuple of `rank` integer scalars (compile-time or runtime) as `ty` values.
    fn index_tuple(
        &mut self,
        b: &Bound,
        what: &str,
        ty: ScalarType,
        rank: usize,
        rank_span: Span,
    ) -> LResult<Vec<ValueId>> {
        let items = match &b.value {
            Value::Tuple(items) => items.clone(),
            v if rank == 1 && !matches!(v, Value::Tuple(_)) => vec![v.clone()],
            v => {
                return Err(self.error(
                    Diagnostic::error(
                        codes::EXPECTED_SHAPE,
                        format!("{what} must be a tuple of {rank} integers, found {}", v.describe()),
                        b.span,
                    )
                    .with_label(v.describe()),
                ));
            }
        };
        if items.len() != rank {
            return Err(self.error(
                Diagnostic::error(
                    codes::BLOCK_PTR_RANK,
                    format!("{what} has {}, but the block has rank {rank}", entries(items.len())),
                    b.span,
                )
                .with_label(entries(items.len()))
                .with_secondary(rank_span, format!("rank {rank}")),
            ));
        }
        let mut out = Vec::with_capacity(rank);
        for item in &items {
            out.push(self.int_scalar(item, b.span, ty, &format!("every entry of {what}"))?);
        }
        Ok(out)
    }
}

/// `1 entry`, `3 entries`.
fn entries(n: usize) -> String {
    if n == 1 { "1 entry".to_string() } else { format!("{n} entries") }
}
