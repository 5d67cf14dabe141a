//! Global-memory loads, stores and atomics.
//!
//! Registers that are contiguous along the access dimension are grouped into
//! vectors of the width layout assignment chose (16-byte `ld.global.v4` for
//! f32), one mask bit per vector (the axis info proved the mask uniform over
//! it). Masked-off lanes never touch memory: each access sits in an `scf.if`
//! on its mask, and loads yield `other` (or 0) instead. Where a layout
//! replicates elements over threads, only one owner thread stores or updates
//! each element.

use tessera_tir::{ElemType, Op, OpKind, ScalarType};

use super::Lowerer;
use super::text::{elem_type, memory_bytes, memory_type};
use crate::error::{Result, Stage};
use crate::layout::ThreadMap;

impl Lowerer<'_, '_> {
    /// The registers' map and per-op access width of a memory op on `ptr`.
    fn access_plan(&self, op: &Op, ptr_shape: &[u32]) -> Result<(Option<ThreadMap>, u32, u32)> {
        if ptr_shape.is_empty() {
            return Ok((None, 0, 1));
        }
        let id = self.op_id(op)?;
        let layout = self
            .lk
            .operand_layout(id, 0)
            .cloned()
            .ok_or_else(|| Self::err(op, Stage::Layout, "the pointer operand has no layout"))?;
        let access = self.lk.accesses.get(&id).copied();
        let (dim, width) = access.map_or((0, 1), |a| (a.dim, a.width));
        Ok((Some(layout.thread_map(ptr_shape)), dim, width))
    }

    /// Registers `start..start + width` hold consecutive elements along `dim`.
    pub(super) fn is_vector(map: &ThreadMap, start: usize, width: u32, dim: u32) -> bool {
        let Some(first) = map.regs.get(start) else { return false };
        (0..width as usize).all(|j| {
            map.regs.get(start + j).is_some_and(|c| {
                c.iter().enumerate().all(
                    |(d, &x)| {
                        if d == dim as usize { x == first[d] + j as u32 } else { x == first[d] }
                    },
                )
            })
        })
    }

    pub(super) fn load(&mut self, op: &Op) -> Result<()> {
        let OpKind::Load { masked, has_other } = op.kind else { return Ok(()) };
        let ptr_value = Self::operand_value(op, 0)?;
        let result = Self::result_value(op, 0)?;
        let elem = self.elem_of(result)?;
        let ptrs = self.operand(op, 0)?;
        let masks = if masked { Some(self.operand(op, 1)?) } else { None };
        let others = if has_other { Some(self.operand(op, 2)?) } else { None };
        let (map, dim, width) = self.access_plan(op, self.shape_of(ptr_value)?)?;
        let (rty, mty, bytes) = (elem_type(elem), memory_type(elem), memory_bytes(elem));
        let mut out = Vec::with_capacity(ptrs.len());
        let mut i = 0;
        while i < ptrs.len() {
            let w = match &map {
                Some(map) if width > 1 && i % width as usize == 0 && Self::is_vector(map, i, width, dim) => width,
                _ => 1,
            };
            let (vty, align) = if w > 1 { (format!("vector<{w}x{mty}>"), w * bytes) } else { (mty.to_string(), bytes) };
            let mask = masks.as_ref().and_then(|m| m.get(i)).cloned();
            let loaded = match &mask {
                Some(mask) => {
                    let r = self.w.fresh();
                    self.w.open(format!("{r} = scf.if {mask} -> ({vty}) {{"));
                    let l = self.w.load(&ptrs[i], "!llvm.ptr<1>", &vty, align);
                    self.w.line(format!("scf.yield {l} : {vty}"));
                    self.w.close("} else {");
                    self.w.depth_in();
                    let z = self.w.def(format!("llvm.mlir.zero : {vty}"));
                    self.w.line(format!("scf.yield {z} : {vty}"));
                    self.w.close("}");
                    r
                }
                None => self.w.load(&ptrs[i], "!llvm.ptr<1>", &vty, align),
            };
            for j in 0..w as usize {
                let mut value = if w > 1 {
                    let k = self.w.i32(j as i64);
                    self.w.def(format!("llvm.extractelement {loaded}[{k} : i32] : {vty}"))
                } else {
                    loaded.clone()
                };
                if mty != rty {
                    let zero = self.w.int(0, mty);
                    value = self.w.cmpi("ne", &value, &zero, mty);
                }
                if let (Some(mask), Some(others)) = (&mask, &others) {
                    let other =
                        others.get(i + j).ok_or_else(|| Self::err(op, Stage::Layout, "missing `other` register"))?;
                    value = self.w.select(mask, &value, other, rty);
                }
                out.push(value);
            }
            i += w as usize;
        }
        self.define(result, out)
    }

    /// The predicate under which this thread performs the effects of a memory
    /// op: its owner predicate (or "thread 0" for scalars) and the mask.
    fn effect_predicate(&mut self, map: Option<&ThreadMap>, mask: Option<&String>) -> Option<String> {
        let owner = match map {
            Some(map) => self.owner(map),
            None => Some(self.thread_zero()),
        };
        match (owner, mask) {
            (Some(o), Some(m)) => Some(self.w.and(&o, m)),
            (Some(o), None) => Some(o),
            (None, Some(m)) => Some(m.clone()),
            (None, None) => None,
        }
    }

    pub(super) fn store(&mut self, op: &Op) -> Result<()> {
        let OpKind::Store { masked } = op.kind else { return Ok(()) };
        let ptr_value = Self::operand_value(op, 0)?;
        let elem = self.elem_of(Self::operand_value(op, 1)?)?;
        let ptrs = self.operand(op, 0)?;
        let values = self.operand(op, 1)?;
        let masks = if masked { Some(self.operand(op, 2)?) } else { None };
        let (map, dim, width) = self.access_plan(op, self.shape_of(ptr_value)?)?;
        let (rty, mty, bytes) = (elem_type(elem), memory_type(elem), memory_bytes(elem));
        let owner = match &map {
            Some(map) => self.owner(map),
            None => Some(self.thread_zero()),
        };
        let mut i = 0;
        while i < ptrs.len() {
            let w = match &map {
                Some(map) if width > 1 && i % width as usize == 0 && Self::is_vector(map, i, width, dim) => width,
                _ => 1,
            };
            let mut stored = Vec::with_capacity(w as usize);
            for j in 0..w as usize {
                let v = values.get(i + j).ok_or_else(|| Self::err(op, Stage::Layout, "missing value register"))?;
                stored.push(if mty != rty { self.w.conv("extui", v, rty, mty) } else { v.clone() });
            }
            let (vty, align, data) = if w > 1 {
                let vty = format!("vector<{w}x{mty}>");
                let mut vector = self.w.def(format!("llvm.mlir.poison : {vty}"));
                for (j, s) in stored.iter().enumerate() {
                    let k = self.w.i32(j as i64);
                    vector = self.w.def(format!("llvm.insertelement {s}, {vector}[{k} : i32] : {vty}"));
                }
                (vty, w * bytes, vector)
            } else {
                (mty.to_string(), bytes, stored[0].clone())
            };
            let mask = masks.as_ref().and_then(|m| m.get(i));
            let pred = match (&owner, mask) {
                (Some(o), Some(m)) => Some(self.w.and(o, m)),
                (Some(o), None) => Some(o.clone()),
                (None, Some(m)) => Some(m.clone()),
                (None, None) => None,
            };
            if let Some(pred) = &pred {
                self.w.open(format!("scf.if {pred} {{"));
            }
            self.w.store(&data, &ptrs[i], &vty, "!llvm.ptr<1>", align);
            if pred.is_some() {
                self.w.line("scf.yield");
                self.w.close("}");
            }
            i += w as usize;
        }
        Ok(())
    }

    pub(super) fn atomic_add(&mut self, op: &Op) -> Result<()> {
        let OpKind::AtomicAdd { masked } = op.kind else { return Ok(()) };
        let ptr_value = Self::operand_value(op, 0)?;
        let result = Self::result_value(op, 0)?;
        let elem = self.elem_of(result)?;
        let kind = match elem {
            ElemType::Scalar(ScalarType::F32 | ScalarType::F64) => "fadd",
            ElemType::Scalar(ScalarType::I32 | ScalarType::I64) => "add",
            other => {
                return Err(Self::err(
                    op,
                    Stage::UnsupportedOp,
                    format!("atomic_add on {other} is not supported (only f32, f64, i32 and i64)"),
                ));
            }
        };
        let ty = elem_type(elem);
        let ptrs = self.operand(op, 0)?;
        let values = self.operand(op, 1)?;
        let masks = if masked { Some(self.operand(op, 2)?) } else { None };
        let shape = self.shape_of(ptr_value)?;
        let (map, _, _) = self.access_plan(op, shape)?;
        let mut old = Vec::with_capacity(ptrs.len());
        for (i, ptr) in ptrs.iter().enumerate() {
            let value = values.get(i).ok_or_else(|| Self::err(op, Stage::Layout, "missing value register"))?;
            let mask = masks.as_ref().and_then(|m| m.get(i)).cloned();
            let pred = self.effect_predicate(map.as_ref(), mask.as_ref());
            let r = match pred {
                Some(pred) => {
                    let r = self.w.fresh();
                    self.w.open(format!("{r} = scf.if {pred} -> ({ty}) {{"));
                    let o = self.w.def(format!("llvm.atomicrmw {kind} {ptr}, {value} monotonic : !llvm.ptr<1>, {ty}"));
                    self.w.line(format!("scf.yield {o} : {ty}"));
                    self.w.close("} else {");
                    self.w.depth_in();
                    let z = self.w.def(format!("llvm.mlir.zero : {ty}"));
                    self.w.line(format!("scf.yield {z} : {ty}"));
                    self.w.close("}");
                    r
                }
                None => self.w.def(format!("llvm.atomicrmw {kind} {ptr}, {value} monotonic : !llvm.ptr<1>, {ty}")),
            };
            old.push(r);
        }
        // The old values live in the owner threads only: share them when used.
        let replicated = map.as_ref().is_none_or(ThreadMap::is_replicated);
        if replicated && self.used.contains(&result) {
            let map = map.unwrap_or(ThreadMap {
                shape: Vec::new(),
                regs: vec![Vec::new()],
                lane: Vec::new(),
                warp: Vec::new(),
            });
            let writer = match shape.is_empty() {
                true => Some(self.thread_zero()),
                false => None,
            };
            old = self.exchange(&old, &map, &map, elem, writer)?;
        }
        self.define(result, old)
    }
}
