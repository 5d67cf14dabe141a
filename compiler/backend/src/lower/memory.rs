//! Global-memory loads, stores and atomics.
//!
//! Registers that are contiguous along the access dimension are grouped into
//! vectors of the width layout assignment chose (16-byte `ld.global.v4` for
//! f32), one mask bit per vector (the axis info proved the mask uniform over
//! it). Masked-off lanes never touch memory: each access sits in an `scf.if`
//! on its mask, and loads yield `other` (or 0) instead, from the masked-off
//! branch itself (no select after the load). Where a layout
//! replicates elements over threads, only one owner thread stores or updates
//! each element.
//!
//! A *checked* access (see [`crate::layout::LaidOutKernel::checked_accesses`])
//! is vectorized although the axis info could not prove its alignment or its
//! mask: each vector tests at run time that its first address is aligned to
//! the vector and that every mask bit is set, and takes one vector access if
//! so, one masked scalar access per element otherwise (the tail of a row, or
//! rows whose stride breaks the alignment). The test is per thread and
//! uniform over nearly all of a row, so the branch costs a few integer ops.

use tessera_tir::{ElemType, Op, OpKind, ScalarType};

use super::Lowerer;
use super::text::{elem_type, memory_bytes, memory_type};
use crate::error::{Result, Stage};
use crate::layout::ThreadMap;

impl Lowerer<'_, '_> {
    /// The registers' map and per-op access width of a memory op on `ptr`,
    /// and whether that width needs the run-time check of a checked access.
    fn access_plan(&self, op: &Op, ptr_shape: &[u32]) -> Result<(Option<ThreadMap>, u32, u32, bool)> {
        if ptr_shape.is_empty() {
            return Ok((None, 0, 1, false));
        }
        let id = self.op_id(op)?;
        let layout = self
            .lk
            .operand_layout(id, 0)
            .cloned()
            .ok_or_else(|| Self::err(op, Stage::Layout, "the pointer operand has no layout"))?;
        let map = layout.thread_map(ptr_shape);
        if let Some(a) = self.lk.checked_accesses.get(&id) {
            return Ok((Some(map), a.dim, a.width, true));
        }
        let access = self.lk.accesses.get(&id).copied();
        let (dim, width) = access.map_or((0, 1), |a| (a.dim, a.width));
        Ok((Some(map), dim, width, false))
    }

    /// The run-time condition of a checked vector of `width` elements of
    /// `bytes` bytes at `ptr`: the address is a multiple of the vector's size
    /// and every mask bit (if any) is set.
    fn vector_check(&mut self, ptr: &str, width: u32, bytes: u32, masks: Option<&[String]>) -> String {
        let addr = self.w.def(format!("llvm.ptrtoint {ptr} : !llvm.ptr<1> to i64"));
        let low = self.w.int(i64::from(width * bytes) - 1, "i64");
        let offset = self.w.bin("andi", &addr, &low, "i64");
        let zero = self.w.int(0, "i64");
        let mut ok = self.w.cmpi("eq", &offset, &zero, "i64");
        for m in masks.unwrap_or_default() {
            ok = self.w.and(&ok, m);
        }
        ok
    }

    /// One load of `ty` (a scalar or a vector) at `ptr`, guarded by `mask` (0 where it is off).
    pub(super) fn guarded_load(&mut self, ptr: &str, mask: Option<&String>, ty: &str, align: u32) -> String {
        self.guarded_load_or(ptr, mask, ty, align, None)
    }

    /// [`Lowerer::guarded_load`] yielding `others` (one register per element
    /// of `ty`) where `mask` is off, so that no select follows the load and
    /// the mask need not live past it.
    fn guarded_load_or(
        &mut self,
        ptr: &str,
        mask: Option<&String>,
        ty: &str,
        align: u32,
        others: Option<&[String]>,
    ) -> String {
        match mask {
            Some(mask) => {
                let r = self.w.fresh();
                self.w.open(format!("{r} = scf.if {mask} -> ({ty}) {{"));
                let l = self.w.load(ptr, "!llvm.ptr<1>", ty, align);
                self.w.line(format!("scf.yield {l} : {ty}"));
                self.w.close("} else {");
                self.w.depth_in();
                let fallback = match others {
                    Some([one]) => one.clone(),
                    Some(elements) => {
                        let mut vector = self.w.def(format!("llvm.mlir.poison : {ty}"));
                        for (j, e) in elements.iter().enumerate() {
                            let k = self.w.i32(j as i64);
                            vector = self.w.def(format!("llvm.insertelement {e}, {vector}[{k} : i32] : {ty}"));
                        }
                        vector
                    }
                    None => self.w.def(format!("llvm.mlir.zero : {ty}")),
                };
                self.w.line(format!("scf.yield {fallback} : {ty}"));
                self.w.close("}");
                r
            }
            None => self.w.load(ptr, "!llvm.ptr<1>", ty, align),
        }
    }

    /// A checked vector load of the `w` elements at `ptrs`: one vector load
    /// when [`Lowerer::vector_check`] holds, else masked scalar loads (each
    /// yielding its `others` register where its mask is off).
    fn checked_vector_load(
        &mut self,
        ptrs: &[String],
        masks: Option<&[String]>,
        others: Option<&[String]>,
        mty: &str,
        bytes: u32,
    ) -> String {
        let w = ptrs.len() as u32;
        let vty = format!("vector<{w}x{mty}>");
        let ok = self.vector_check(&ptrs[0], w, bytes, masks);
        let r = self.w.fresh();
        self.w.open(format!("{r} = scf.if {ok} -> ({vty}) {{"));
        let l = self.w.load(&ptrs[0], "!llvm.ptr<1>", &vty, w * bytes);
        self.w.line(format!("scf.yield {l} : {vty}"));
        self.w.close("} else {");
        self.w.depth_in();
        let mut vector = self.w.def(format!("llvm.mlir.poison : {vty}"));
        for (j, ptr) in ptrs.iter().enumerate() {
            let other = others.and_then(|o| o.get(j..j + 1));
            let e = self.guarded_load_or(ptr, masks.and_then(|m| m.get(j)), mty, bytes, other);
            let k = self.w.i32(j as i64);
            vector = self.w.def(format!("llvm.insertelement {e}, {vector}[{k} : i32] : {vty}"));
        }
        self.w.line(format!("scf.yield {vector} : {vty}"));
        self.w.close("}");
        r
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
        let (map, dim, width, checked) = self.access_plan(op, self.shape_of(ptr_value)?)?;
        let (rty, mty, bytes) = (elem_type(elem), memory_type(elem), memory_bytes(elem));
        let mut out = Vec::with_capacity(ptrs.len());
        let mut i = 0;
        while i < ptrs.len() {
            let w = match &map {
                Some(map) if width > 1 && i % width as usize == 0 && Self::is_vector(map, i, width, dim) => width,
                _ => 1,
            };
            let (vty, align) = if w > 1 { (format!("vector<{w}x{mty}>"), w * bytes) } else { (mty.to_string(), bytes) };
            let group = i..i + w as usize;
            // `other` goes into the masked-off branch itself, unless the loaded
            // memory type is not the register type (i1 stored as i8).
            let group_others = match &others {
                Some(o) if mty == rty => {
                    Some(o.get(group.clone()).ok_or_else(|| Self::err(op, Stage::Layout, "missing `other` register"))?)
                }
                _ => None,
            };
            let loaded = if checked && w > 1 {
                let group_masks = masks.as_ref().and_then(|m| m.get(group.clone()));
                let group_ptrs = ptrs.get(group).ok_or_else(|| Self::err(op, Stage::Layout, "missing pointer"))?;
                self.checked_vector_load(group_ptrs, group_masks, group_others, mty, bytes)
            } else {
                let mask = masks.as_ref().and_then(|m| m.get(i)).cloned();
                self.guarded_load_or(&ptrs[i], mask.as_ref(), &vty, align, group_others)
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
                    // A checked vector's mask bits differ per element; otherwise the
                    // first one holds for the whole vector.
                    let mask = masks.as_ref().and_then(|m| m.get(if checked { i + j } else { i }));
                    if let (Some(mask), Some(others)) = (mask, &others) {
                        let other = others
                            .get(i + j)
                            .ok_or_else(|| Self::err(op, Stage::Layout, "missing `other` register"))?;
                        value = self.w.select(mask, &value, other, rty);
                    }
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
        let (map, dim, width, checked) = self.access_plan(op, self.shape_of(ptr_value)?)?;
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
            if checked && w > 1 {
                // Vector store when aligned and unmasked, else masked scalar stores.
                let group_masks = masks.as_ref().and_then(|m| m.get(i..i + w as usize));
                let mut ok = self.vector_check(&ptrs[i], w, bytes, group_masks);
                if let Some(o) = &owner {
                    ok = self.w.and(&ok, o);
                }
                self.w.open(format!("scf.if {ok} {{"));
                self.w.store(&data, &ptrs[i], &vty, "!llvm.ptr<1>", align);
                self.w.line("scf.yield");
                self.w.close("} else {");
                self.w.depth_in();
                for (j, s) in stored.iter().enumerate() {
                    let ptr = ptrs.get(i + j).ok_or_else(|| Self::err(op, Stage::Layout, "missing pointer"))?;
                    let pred = match (&owner, group_masks.and_then(|m| m.get(j))) {
                        (Some(o), Some(m)) => Some(self.w.and(o, m)),
                        (Some(o), None) => Some(o.clone()),
                        (None, Some(m)) => Some(m.clone()),
                        (None, None) => None,
                    };
                    if let Some(pred) = &pred {
                        self.w.open(format!("scf.if {pred} {{"));
                    }
                    self.w.store(s, ptr, mty, "!llvm.ptr<1>", bytes);
                    if pred.is_some() {
                        self.w.line("scf.yield");
                        self.w.close("}");
                    }
                }
                self.w.line("scf.yield");
                self.w.close("}");
                i += w as usize;
                continue;
            }
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
        let (map, _, _, _) = self.access_plan(op, shape)?;
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
