//! Loop-invariant operands built before the loop.
//!
//! A loop body that reads a value defined outside the loop in another
//! layout than the value's own would otherwise rebuild it at the use, on
//! every trip: a flexible value is rematerialized (cheap for `arange` and
//! splats, not for a decay mask of `exp`s), an anchored one goes through a
//! shared-memory exchange with its barriers. Building it once before the
//! loop trades those instructions for the registers that hold it through
//! the loop, so only the costly cases move: flexible values whose
//! definition calls a transcendental or divides, and conversions through
//! shared memory. The result lands in the enclosing scope's cache, where
//! [`Lowerer::get`] finds it from inside the loop.

use std::collections::HashSet;

use tessera_tir::{BinaryOp, Op, OpKind, Region, UnaryOp, ValueId, walk_ops};

use super::Lowerer;
use crate::error::Result;
use crate::layout::Layout;

impl Lowerer<'_, '_> {
    /// Builds, before the loop whose regions are `regions`, the costly
    /// loop-invariant operands its ops read (see the module docs).
    pub(super) fn hoist_invariant_operands(&mut self, regions: &[Region]) -> Result<()> {
        let mut inside = HashSet::new();
        for region in regions {
            inside.extend(region.args.iter().copied());
            walk_ops(region, &mut |op: &Op| {
                inside.extend(op.results.iter().copied());
                for inner in &op.regions {
                    inside.extend(inner.args.iter().copied());
                }
            });
        }
        let mut wanted: Vec<(ValueId, Layout)> = Vec::new();
        for region in regions {
            walk_ops(region, &mut |op: &Op| {
                if op.results.iter().any(|r| self.lk.flexible.contains(r)) {
                    // Rebuilt at its own uses, from there.
                    return;
                }
                let Some(id) = self.lk.op_id(op) else { return };
                for (index, &v) in op.operands.iter().enumerate() {
                    if inside.contains(&v) || self.shape_of(v).map_or(true, <[u32]>::is_empty) {
                        continue;
                    }
                    let Some(layout) = self.lk.operand_layout(id, index) else { continue };
                    let hoist = if self.lk.flexible.contains(&v) {
                        self.costly_to_rebuild(v)
                    } else {
                        self.crosses_threads(v, layout)
                    };
                    if hoist && !wanted.iter().any(|(w, l)| *w == v && l == layout) {
                        wanted.push((v, layout.clone()));
                    }
                }
            });
        }
        for (v, layout) in wanted {
            self.get(v, &layout)?;
        }
        Ok(())
    }

    /// Whether rebuilding flexible `v` runs a transcendental or a division.
    fn costly_to_rebuild(&self, v: ValueId) -> bool {
        let mut stack = vec![v];
        let mut seen = HashSet::new();
        while let Some(v) = stack.pop() {
            if !seen.insert(v) || !self.lk.flexible.contains(&v) {
                continue;
            }
            let Some(op) = self.defs.get(&v) else { continue };
            let costly = match op.kind {
                OpKind::Unary(u) => {
                    !matches!(u, UnaryOp::Neg | UnaryOp::Not | UnaryOp::Abs | UnaryOp::Floor | UnaryOp::Ceil)
                }
                OpKind::Binary(b) => matches!(b, BinaryOp::Div | BinaryOp::Rem),
                _ => false,
            };
            if costly {
                return true;
            }
            stack.extend(op.operands.iter().copied());
        }
        false
    }

    /// Whether anchored `v` reaches `layout` only through shared memory.
    fn crosses_threads(&self, v: ValueId, layout: &Layout) -> bool {
        let (Ok(shape), Some(from)) = (self.shape_of(v), self.lk.layouts.get(&v)) else { return false };
        from != layout
            && layout.thread_map(shape).remap_from(&from.thread_map(shape), &|c: &[u32]| c.to_vec()).is_none()
    }
}
