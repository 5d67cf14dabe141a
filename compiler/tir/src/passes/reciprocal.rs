//! `reciprocal`: an f32 tensor divided by a splat scalar becomes a product
//! with that scalar's reciprocal, computed once.
//!
//! `x / splat(s)` -> `x * splat(1 / s)`. A correctly rounded f32 division is
//! a dozen instructions and a slow-path call per element on NVIDIA GPUs; a
//! multiply is one. The result is within 1.5 ulp of the rounded quotient
//! (the reciprocal and the product are each rounded once), tighter than the
//! `div.full.f32` Triton emits for every f32 `/`. Softmax's `num / sum(num)`
//! and a mean's `sum / n` are the cases that matter.
//!
//! Only f32: f64 keeps its exact division, and a 16-bit reciprocal would be
//! rounded to 16 bits before the product. Divisors that are not splats
//! (per-element quotients) stay divisions.

use crate::kernel::{Kernel, Op, Region, ValueId};
use crate::ops::{BinaryOp, Constant, OpKind};
use crate::types::{ScalarType, Type};
use std::collections::HashMap;

pub fn run(k: &mut Kernel) -> bool {
    let mut cx = Rewriter { splat_of: HashMap::new(), reciprocal_of: HashMap::new(), changed: false };
    let mut body = std::mem::take(&mut k.body);
    cx.region(k, &mut body);
    k.body = body;
    cx.changed
}

struct Rewriter {
    /// The scalar each splat result broadcasts.
    splat_of: HashMap<ValueId, ValueId>,
    /// The splatted reciprocal already built for a scalar (in an enclosing or
    /// the same region, so it dominates later uses there).
    reciprocal_of: HashMap<ValueId, ValueId>,
    changed: bool,
}

impl Rewriter {
    fn region(&mut self, k: &mut Kernel, region: &mut Region) {
        // Reciprocals built inside a nested region do not dominate what
        // follows the region: forget them on the way out.
        let outer = self.reciprocal_of.clone();
        let ops = std::mem::take(&mut region.ops);
        let mut out = Vec::with_capacity(ops.len());
        for mut op in ops {
            for r in &mut op.regions {
                self.region(k, r);
            }
            if op.kind == OpKind::Splat {
                self.splat_of.insert(op.result(), op.operands[0]);
            }
            if let Some(scalar) = self.divisor_scalar(k, &op) {
                let splat_recip = match self.reciprocal_of.get(&scalar) {
                    Some(&v) => v,
                    None => {
                        let v = Self::build_reciprocal(k, scalar, op.result(), &op, &mut out);
                        self.reciprocal_of.insert(scalar, v);
                        v
                    }
                };
                op.kind = OpKind::Binary(BinaryOp::Mul);
                op.operands[1] = splat_recip;
                self.changed = true;
            }
            out.push(op);
        }
        region.ops = out;
        self.reciprocal_of = outer;
    }

    /// The scalar `s` when `op` is an f32 tensor `x / splat(s)`.
    fn divisor_scalar(&self, k: &Kernel, op: &Op) -> Option<ValueId> {
        if op.kind != OpKind::Binary(BinaryOp::Div) || op.operands.len() != 2 {
            return None;
        }
        let ty = k.ty(op.result());
        let is_f32_tensor =
            ty.scalar_elem() == Some(ScalarType::F32) && matches!(ty, Type::Tensor { shape, .. } if !shape.is_empty());
        if !is_f32_tensor {
            return None;
        }
        self.splat_of.get(&op.operands[1]).copied()
    }

    /// Appends `r = 1.0 / scalar` and `splat(r)` shaped as `like`; returns the splat.
    fn build_reciprocal(k: &mut Kernel, scalar: ValueId, like: ValueId, at: &Op, out: &mut Vec<Op>) -> ValueId {
        let f32_ty = Type::scalar(ScalarType::F32);
        let one = k.new_value(f32_ty.clone());
        out.push(Op::new(OpKind::Constant(Constant::Float(1.0)), vec![], vec![one], at.loc));
        let recip = k.new_value(f32_ty);
        out.push(Op::new(OpKind::Binary(BinaryOp::Div), vec![one, scalar], vec![recip], at.loc));
        let splat = k.new_value(k.ty(like).clone());
        out.push(Op::new(OpKind::Splat, vec![recip], vec![splat], at.loc));
        splat
    }
}
