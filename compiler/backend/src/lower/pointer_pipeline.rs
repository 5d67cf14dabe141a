//! Software pipelining of `load`s of pointer tiles (see [`super::pipeline`]
//! for the loop's shape: buffers, waits, refills).
//!
//! A block pointer says where its next tile is (`advance` by invariant
//! amounts) and which part of it lies inside the view; a pointer tile says
//! neither: the body computes its pointers, or the next trip's when the
//! loop carries them, and its mask with ordinary ops (`a_ptrs += BLOCK_K *
//! stride_ak`, `q + t[:, None] * stride_qn`, `offs_k < K - k`). A `load`
//! qualifies when those ops, the *slice*, read nothing carried by the loop
//! but the induction variable and the load's own pointers, and are pure;
//! the copies for a trip `j` ahead are then found by lowering the slice
//! again with the induction variable (and pointers) of trip `j`
//! ([`Lowerer::evaluate_slice`]): carried pointers step `j` times, each
//! trip's from the one before.
//!
//! Only loads whose vectors layout assignment proved (contiguity, alignment,
//! a mask uniform over each vector) and whose vector is 4, 8 or 16 bytes are
//! pipelined: each vector is one `cp.async` reading all of its bytes or,
//! where its mask bit is off or the trip does not run, none (zero-filled).
//! Masked-off lanes must read zeros (`other` absent or zero). A load whose
//! strides are unknown (element accesses) stays a synchronous load.

use std::collections::{HashMap, HashSet};

use tessera_tir::{Op, OpKind, Region, Type, ValueId};

use super::Lowerer;
use super::pipeline::{Pipelined, PointerTile, Source};
use super::text::memory_bytes;
use crate::error::{BackendError, Result, Stage};
use crate::layout::Layout;

impl Lowerer<'_, '_> {
    /// The pipelining plan of `load`, an op of the loop's `body`, when it is
    /// a `load` of a pointer tile that qualifies (module docs); the caller
    /// checks how its result is read and places its buffers.
    pub(super) fn pointer_load_plan(&self, body: &Region, load: &Op) -> Option<Pipelined> {
        let OpKind::Load { masked, has_other } = load.kind else { return None };
        let (&pointers, &result) = (load.operands.first()?, load.results.first()?);
        // Carried pointers (a body argument) and the body's next ones, or
        // pointers the body computes.
        let carried = match body.args.iter().skip(1).position(|&a| a == pointers) {
            Some(iter) => {
                let terminator = body.ops.last().filter(|t| matches!(t.kind, OpKind::Yield))?;
                Some((iter, *terminator.operands.get(iter)?))
            }
            None => None,
        };
        let mask = if masked { Some(*load.operands.get(1)?) } else { None };
        if has_other && !self.is_zero_fill(*load.operands.get(1 + usize::from(masked))?) {
            return None;
        }
        let Some(Type::Tensor { elem, shape }) = self.kernel.values.get(result.0 as usize) else { return None };
        if shape.len() != 2 {
            return None;
        }
        let id = self.lk.op_id(load)?;
        if self.lk.checked_accesses.contains_key(&id) {
            return None;
        }
        let access = self.lk.accesses.get(&id)?;
        if access.dim > 1 || !matches!(access.width * memory_bytes(*elem), 4 | 8 | 16) {
            return None;
        }
        // The copies use the pointers' registers and the mask's as they
        // are: every one of them in the pointers' own layout.
        let layout = self.lk.layouts.get(&pointers)?.clone();
        let same = |v: ValueId| self.lk.flexible.contains(&v) || self.lk.layouts.get(&v) == Some(&layout);
        let next = carried.map(|(_, next)| next);
        if self.lk.operand_layout(id, 0).is_some_and(|l| *l != layout)
            || !next.is_none_or(same)
            || !mask.is_none_or(same)
        {
            return None;
        }
        let roots: Vec<ValueId> = [Some(pointers), next, mask].into_iter().flatten().collect();
        let free: Vec<ValueId> =
            [body.args.first().copied(), carried.map(|_| pointers)].into_iter().flatten().collect();
        let slice = self.pure_slice(body, &roots, &free)?;
        Some(Pipelined::new(
            result,
            Source::Pointers(PointerTile { pointers, carried, mask, slice, layout }),
            shape,
            access.dim as usize,
            *elem,
            access.width,
            tessera_tir::Evict::Normal,
        ))
    }

    /// Whether `v` is zero everywhere: a zero constant
    /// ([`Lowerer::is_zero_constant`]), splatted, broadcast or cast.
    fn is_zero_fill(&self, v: ValueId) -> bool {
        if self.is_zero_constant(v) {
            return true;
        }
        self.defs.get(&v).is_some_and(|op| {
            matches!(op.kind, OpKind::Splat | OpKind::Broadcast | OpKind::Cast)
                && op.operands.first().is_some_and(|&src| self.is_zero_fill(src))
        })
    }

    /// The ops of `body` (indices, in order) that compute `roots` from
    /// `free` (body arguments), values defined before the loop and
    /// constants, when every one of them is pure and wants its operands in
    /// the layouts they are produced in (lowering them again then emits no
    /// conversion through shared memory); `None` otherwise.
    fn pure_slice(&self, body: &Region, roots: &[ValueId], free: &[ValueId]) -> Option<Vec<usize>> {
        let producer: HashMap<ValueId, usize> =
            body.ops.iter().enumerate().flat_map(|(i, o)| o.results.iter().map(move |&r| (r, i))).collect();
        let mut nested = HashSet::new();
        for region in body.ops.iter().flat_map(|o| &o.regions) {
            tessera_tir::walk_ops(region, &mut |o: &Op| nested.extend(o.results.iter().copied()));
        }
        let mut slice = HashSet::new();
        let mut stack: Vec<ValueId> = roots.to_vec();
        while let Some(v) = stack.pop() {
            if free.contains(&v) {
                continue;
            }
            if body.args.contains(&v) || nested.contains(&v) {
                return None;
            }
            let Some(&i) = producer.get(&v) else { continue };
            if !slice.insert(i) {
                continue;
            }
            let op = &body.ops[i];
            let pure = matches!(
                op.kind,
                OpKind::Constant(_)
                    | OpKind::Arange { .. }
                    | OpKind::Splat
                    | OpKind::Broadcast
                    | OpKind::ExpandDims(_)
                    | OpKind::Unary(_)
                    | OpKind::Binary(_)
                    | OpKind::Compare(_)
                    | OpKind::Select
                    | OpKind::Cast
                    | OpKind::AddPtr
            );
            if !pure || !op.regions.is_empty() {
                return None;
            }
            let id = self.lk.op_id(op)?;
            for (index, &operand) in op.operands.iter().enumerate() {
                let wanted = self.lk.operand_layout(id, index);
                let produced = self.lk.layouts.get(&operand);
                if !self.lk.flexible.contains(&operand) && wanted.is_some() && wanted != produced {
                    return None;
                }
                stack.push(operand);
            }
        }
        let mut slice: Vec<usize> = slice.into_iter().collect();
        slice.sort_unstable();
        Some(slice)
    }

    /// The pointers and mask (registers in `tile.layout`, the mask `None`
    /// when the load has none) of the trip `ahead` trips after the one with
    /// induction variable `iv` and, when the loop carries them, pointers
    /// `carried`.
    pub(super) fn pointer_tile_ahead(
        &mut self,
        body: &Region,
        tile: &PointerTile,
        carried: Option<Vec<String>>,
        iv: &str,
        (step, iv_ty): (&str, &str),
        ahead: u32,
    ) -> Result<(Vec<String>, Option<Vec<String>>)> {
        let iv_arg = *body
            .args
            .first()
            .ok_or_else(|| BackendError::new(Stage::MalformedIr, "`for` body without an induction variable"))?;
        let mut at = iv.to_string();
        let mut pointers = carried;
        for _ in 0..ahead {
            if let (Some((_, next)), Some(now)) = (tile.carried, pointers.take()) {
                let bound = [(iv_arg, vec![at.clone()]), (tile.pointers, now)];
                pointers = Some(self.evaluate_slice(body, &tile.slice, &bound, next, &tile.layout)?);
            }
            at = self.w.bin("addi", &at, step, iv_ty);
        }
        let mut bound = vec![(iv_arg, vec![at])];
        let pointers = match pointers {
            Some(pointers) => {
                bound.push((tile.pointers, pointers.clone()));
                pointers
            }
            None => self.evaluate_slice(body, &tile.slice, &bound, tile.pointers, &tile.layout)?,
        };
        let mask = match tile.mask {
            Some(mask) => Some(self.evaluate_slice(body, &tile.slice, &bound, mask, &tile.layout)?),
            None => None,
        };
        Ok((pointers, mask))
    }

    /// Lowers the body's ops `slice` again with `bound` values (body
    /// arguments) standing for the given registers, and returns `wanted` in
    /// `layout`. What the slice defines, and the scopes' cached values (some
    /// of them computed from the real induction variable), are put back
    /// afterwards: the loop's own lowering sees nothing of this.
    fn evaluate_slice(
        &mut self,
        body: &Region,
        slice: &[usize],
        bound: &[(ValueId, Vec<String>)],
        wanted: ValueId,
        layout: &Layout,
    ) -> Result<Vec<String>> {
        let mut touched: Vec<ValueId> = bound.iter().map(|(v, _)| *v).collect();
        touched.extend(slice.iter().flat_map(|&i| body.ops[i].results.iter().copied()));
        let saved: Vec<_> = touched.iter().map(|v| (*v, self.values.get(v).cloned())).collect();
        let scopes = std::mem::replace(&mut self.scopes, vec![HashMap::new()]);
        let mut evaluate = || -> Result<Vec<String>> {
            for (v, regs) in bound {
                self.define(*v, regs.clone())?;
            }
            for &i in slice {
                self.op(&body.ops[i])?;
            }
            self.get(wanted, layout)
        };
        let result = evaluate();
        self.scopes = scopes;
        for (v, old) in saved {
            match old {
                Some(lowered) => self.values.insert(v, lowered),
                None => self.values.remove(&v),
            };
        }
        result
    }
}
