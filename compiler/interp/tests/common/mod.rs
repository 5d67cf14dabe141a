//! A small builder of tile-IR kernels for the interpreter's tests (the tests
//! build IR directly, without the front end).

#![allow(dead_code)]

use tessera_tir::*;

pub const F32: ScalarType = ScalarType::F32;
pub const I32: ScalarType = ScalarType::I32;
pub const I1: ScalarType = ScalarType::I1;

pub fn s(t: ScalarType) -> Type {
    Type::scalar(t)
}
pub fn t(t: ScalarType, shape: &[u32]) -> Type {
    Type::tensor(t, shape.to_vec())
}
pub fn p(t: ScalarType) -> Type {
    Type::ptr(t, Vec::new())
}

/// Builds a kernel op by op; nested regions via closures.
pub struct Kb {
    pub k: Kernel,
    stack: Vec<Vec<Op>>,
    loc: Loc,
}

impl Kb {
    pub fn new(name: &str) -> Kb {
        Kb { k: Kernel::new(name, "test.tsr"), stack: vec![Vec::new()], loc: Loc { line: 1, col: 1 } }
    }

    /// Give the following ops this source location.
    pub fn at(&mut self, line: u32, col: u32) -> &mut Kb {
        self.loc = Loc { line, col };
        self
    }

    pub fn grid(&mut self, dims: Vec<MetaExpr>) {
        self.k.meta.grid = dims;
    }

    pub fn param(&mut self, name: &str, ty: Type) -> ValueId {
        self.k.add_param(name, ty, ParamHints::default())
    }

    pub fn ty(&self, v: ValueId) -> Type {
        self.k.ty(v).clone()
    }

    fn push(&mut self, op: Op) {
        self.stack.last_mut().expect("an open region").push(op);
    }

    pub fn op(&mut self, kind: OpKind, operands: &[ValueId], result: Type) -> ValueId {
        let r = self.k.new_value(result);
        self.push(Op::new(kind, operands.to_vec(), vec![r], self.loc));
        r
    }

    pub fn effect(&mut self, kind: OpKind, operands: &[ValueId]) {
        self.push(Op::new(kind, operands.to_vec(), Vec::new(), self.loc));
    }

    /// A region whose arguments have `arg_tys`; `body` returns the
    /// terminator's kind and operands.
    pub fn region(
        &mut self,
        arg_tys: &[Type],
        body: impl FnOnce(&mut Kb, &[ValueId]) -> (OpKind, Vec<ValueId>),
    ) -> Region {
        let args: Vec<ValueId> = arg_tys.iter().map(|t| self.k.new_value(t.clone())).collect();
        self.stack.push(Vec::new());
        let (term, operands) = body(self, &args);
        self.push(Op::new(term, operands, Vec::new(), self.loc));
        let ops = self.stack.pop().expect("the region just opened");
        Region { args, ops }
    }

    pub fn with_regions(
        &mut self,
        kind: OpKind,
        operands: &[ValueId],
        results: &[Type],
        regions: Vec<Region>,
    ) -> Vec<ValueId> {
        let rs: Vec<ValueId> = results.iter().map(|t| self.k.new_value(t.clone())).collect();
        let mut op = Op::new(kind, operands.to_vec(), rs.clone(), self.loc);
        op.regions = regions;
        self.push(op);
        rs
    }

    pub fn finish(mut self) -> Kernel {
        self.effect(OpKind::Return, &[]);
        self.k.body.ops = self.stack.pop().expect("the body");
        self.k
    }

    // ---- helpers ----

    pub fn constant(&mut self, c: Constant, ty: Type) -> ValueId {
        self.op(OpKind::Constant(c), &[], ty)
    }
    pub fn ci32(&mut self, v: i64) -> ValueId {
        self.constant(Constant::Int(v), s(I32))
    }
    pub fn cf32(&mut self, v: f64) -> ValueId {
        self.constant(Constant::Float(v), s(F32))
    }
    pub fn cbool(&mut self, v: bool) -> ValueId {
        self.constant(Constant::Bool(v), s(I1))
    }
    pub fn pid(&mut self, axis: u8) -> ValueId {
        self.op(OpKind::ProgramId(axis), &[], s(I32))
    }
    pub fn arange(&mut self, start: i64, end: i64) -> ValueId {
        self.op(OpKind::Arange { start, end }, &[], t(I32, &[(end - start) as u32]))
    }
    pub fn splat(&mut self, v: ValueId, shape: &[u32]) -> ValueId {
        let ty = self.ty(v).with_shape(shape.to_vec());
        self.op(OpKind::Splat, &[v], ty)
    }
    pub fn broadcast(&mut self, v: ValueId, shape: &[u32]) -> ValueId {
        let ty = self.ty(v).with_shape(shape.to_vec());
        self.op(OpKind::Broadcast, &[v], ty)
    }
    pub fn expand(&mut self, v: ValueId, axis: u32) -> ValueId {
        let mut shape = self.ty(v).shape().to_vec();
        shape.insert(axis as usize, 1);
        let ty = self.ty(v).with_shape(shape);
        self.op(OpKind::ExpandDims(axis), &[v], ty)
    }
    pub fn unary(&mut self, op: UnaryOp, a: ValueId) -> ValueId {
        let ty = self.ty(a);
        self.op(OpKind::Unary(op), &[a], ty)
    }
    pub fn bin(&mut self, op: BinaryOp, a: ValueId, b: ValueId) -> ValueId {
        let ty = self.ty(a);
        self.op(OpKind::Binary(op), &[a, b], ty)
    }
    pub fn cmp(&mut self, pred: CmpPred, a: ValueId, b: ValueId) -> ValueId {
        let ty = self.ty(a).with_elem(ElemType::Scalar(I1));
        self.op(OpKind::Compare(pred), &[a, b], ty)
    }
    pub fn cast(&mut self, a: ValueId, to: ScalarType) -> ValueId {
        let ty = self.ty(a).with_elem(ElemType::Scalar(to));
        self.op(OpKind::Cast, &[a], ty)
    }
    /// `ptr + offs`, splatting a scalar pointer to the offsets' shape first.
    pub fn addptr(&mut self, ptr: ValueId, offs: ValueId) -> ValueId {
        let shape = self.ty(offs).shape().to_vec();
        let ptr = if self.ty(ptr).shape() != shape.as_slice() { self.splat(ptr, &shape) } else { ptr };
        let ty = self.ty(ptr);
        self.op(OpKind::AddPtr, &[ptr, offs], ty)
    }
    pub fn load(&mut self, ptrs: ValueId, mask: Option<ValueId>, other: Option<ValueId>) -> ValueId {
        let ty = self.ty(ptrs);
        let pointee = ty.elem().and_then(ElemType::pointee).expect("a pointer");
        let mut operands = vec![ptrs];
        operands.extend(mask);
        operands.extend(other);
        let kind = OpKind::Load { masked: mask.is_some(), has_other: other.is_some() };
        self.op(kind, &operands, ty.with_elem(ElemType::Scalar(pointee)))
    }
    pub fn store(&mut self, ptrs: ValueId, value: ValueId, mask: Option<ValueId>) {
        let mut operands = vec![ptrs, value];
        operands.extend(mask);
        self.effect(OpKind::Store { masked: mask.is_some() }, &operands);
    }
    pub fn atomic_add(&mut self, ptrs: ValueId, value: ValueId, mask: Option<ValueId>) -> ValueId {
        let mut operands = vec![ptrs, value];
        operands.extend(mask);
        let ty = self.ty(value);
        self.op(OpKind::AtomicAdd { masked: mask.is_some() }, &operands, ty)
    }
    pub fn reduce(&mut self, kind: ReduceKind, axis: u32, a: ValueId) -> ValueId {
        let ty = self.ty(a);
        let mut shape = ty.shape().to_vec();
        shape.remove(axis as usize);
        let elem = match kind {
            ReduceKind::Argmax | ReduceKind::Argmin => ElemType::Scalar(I32),
            _ => ty.elem().expect("a tensor"),
        };
        self.op(OpKind::Reduce { kind, axis }, &[a], Type::Tensor { elem, shape })
    }

    /// `for iv in lower..upper by step` carrying `inits`; `body` returns the
    /// next iters.
    pub fn for_loop(
        &mut self,
        lower: ValueId,
        upper: ValueId,
        step: ValueId,
        inits: &[ValueId],
        body: impl FnOnce(&mut Kb, ValueId, &[ValueId]) -> Vec<ValueId>,
    ) -> Vec<ValueId> {
        let iv_ty = self.ty(lower);
        let tys: Vec<Type> = inits.iter().map(|&v| self.ty(v)).collect();
        let mut arg_tys = vec![iv_ty];
        arg_tys.extend(tys.iter().cloned());
        let region = self.region(&arg_tys, |b, args| (OpKind::Yield, body(b, args[0], &args[1..])));
        let mut operands = vec![lower, upper, step];
        operands.extend_from_slice(inits);
        self.with_regions(OpKind::For, &operands, &tys, vec![region])
    }

    /// `while before(carried) { carried = body(carried) }`.
    pub fn while_loop(
        &mut self,
        inits: &[ValueId],
        before: impl FnOnce(&mut Kb, &[ValueId]) -> ValueId,
        body: impl FnOnce(&mut Kb, &[ValueId]) -> Vec<ValueId>,
    ) -> Vec<ValueId> {
        let tys: Vec<Type> = inits.iter().map(|&v| self.ty(v)).collect();
        let r0 = self.region(&tys, |b, args| {
            let c = before(b, args);
            (OpKind::Condition, vec![c])
        });
        let r1 = self.region(&tys, |b, args| (OpKind::Yield, body(b, args)));
        self.with_regions(OpKind::While, inits, &tys, vec![r0, r1])
    }

    pub fn if_op(
        &mut self,
        cond: ValueId,
        results: &[Type],
        then: impl FnOnce(&mut Kb) -> Vec<ValueId>,
        otherwise: impl FnOnce(&mut Kb) -> Vec<ValueId>,
    ) -> Vec<ValueId> {
        let r0 = self.region(&[], |b, _| (OpKind::Yield, then(b)));
        let r1 = self.region(&[], |b, _| (OpKind::Yield, otherwise(b)));
        self.with_regions(OpKind::If, &[cond], results, vec![r0, r1])
    }
}

/// Check a kernel with the tile-IR verifier, so tests exercise only
/// well-formed IR unless they mean not to.
pub fn verified(k: Kernel) -> Kernel {
    if let Err(errors) = verify(&k) {
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("test kernel `{}` is malformed:\n{}\n{}", k.name, shown.join("\n"), print_kernel(&k));
    }
    k
}

/// `|a - b| <= tol * max(1, |b|)` elementwise.
pub fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * w.abs().max(1.0), "element {i}: got {g}, want {w} (tol {tol})");
    }
}
