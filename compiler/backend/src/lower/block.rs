//! Block pointers: `make_block_ptr`, `advance`, `load_block`, `store_block`.
//!
//! A block pointer is uniform over the CTA, so it lowers to scalars: the base
//! pointer, then per axis the view's shape (i64), stride (i64) and the
//! block's offset (i32); `advance` adds to the offsets. A block access
//! computes each element's coordinate `offset + base(thread) + register
//! offset` and address `base + sum(coord * stride)` in i64.
//!
//! Accesses have two versions behind one uniform branch: when the stride
//! along `order[0]` is 1, the addresses are aligned for the vector width
//! (base pointer, `order[0]` offset and the other strides multiples of it)
//! and the whole block lies inside the view along every `boundary_check`
//! axis, each thread moves 16-byte vectors along `order[0]` without masks;
//! otherwise every element is checked and moved alone (out-of-bounds loads
//! give the padding and touch no memory).

use tessera_tir::{Op, OpKind, Padding, Type, ValueId};

use super::Lowerer;
use super::text::{elem_type, memory_bytes, memory_type};
use crate::error::{BackendError, Result, Stage};
use crate::layout::ThreadMap;

/// The scalars of one block pointer.
pub(super) struct BlockPtr {
    pub base: String,
    pub shape: Vec<String>,
    pub strides: Vec<String>,
    pub offsets: Vec<String>,
}

impl BlockPtr {
    /// The MLIR types of a rank-`rank` block pointer's registers.
    pub(super) fn register_types(rank: usize) -> Vec<String> {
        let mut types = vec!["!llvm.ptr<1>".to_string()];
        types.extend(std::iter::repeat_n("i64".to_string(), 2 * rank));
        types.extend(std::iter::repeat_n("i32".to_string(), rank));
        types
    }

    pub(super) fn from_regs(regs: &[String], rank: usize) -> Result<BlockPtr> {
        if regs.len() != 1 + 3 * rank {
            return Err(BackendError::new(Stage::Layout, "a block pointer has the wrong number of registers"));
        }
        Ok(BlockPtr {
            base: regs[0].clone(),
            shape: regs[1..1 + rank].to_vec(),
            strides: regs[1 + rank..1 + 2 * rank].to_vec(),
            offsets: regs[1 + 2 * rank..].to_vec(),
        })
    }

    fn regs(&self) -> Vec<String> {
        let mut regs = vec![self.base.clone()];
        regs.extend(self.shape.iter().chain(&self.strides).chain(&self.offsets).cloned());
        regs
    }
}

/// Per register of an access: its coordinates (i64) per axis.
pub(super) struct Coords(pub Vec<Vec<String>>);

impl Lowerer<'_, '_> {
    /// The block rank of block-pointer value `v` (`None`: not a block pointer).
    pub(super) fn block_rank(&self, v: ValueId) -> Option<usize> {
        match self.kernel.values.get(v.0 as usize) {
            Some(Type::BlockPtr { block, .. }) => Some(block.len()),
            _ => None,
        }
    }

    pub(super) fn make_block_ptr(&mut self, op: &Op) -> Result<()> {
        let mut regs = Vec::with_capacity(op.operands.len());
        for i in 0..op.operands.len() {
            regs.extend(self.operand(op, i)?);
        }
        let result = Self::result_value(op, 0)?;
        let rank = self.block_rank(result).ok_or_else(|| Self::err(op, Stage::MalformedIr, "not a block pointer"))?;
        BlockPtr::from_regs(&regs, rank)?;
        self.define(result, regs)
    }

    pub(super) fn advance(&mut self, op: &Op) -> Result<()> {
        let src = Self::operand_value(op, 0)?;
        let rank = self.block_rank(src).ok_or_else(|| Self::err(op, Stage::MalformedIr, "not a block pointer"))?;
        let mut bp = BlockPtr::from_regs(&self.operand(op, 0)?, rank)?;
        for d in 0..rank {
            let delta = self.operand(op, 1 + d)?.concat();
            bp.offsets[d] = self.w.bin("addi", &bp.offsets[d], &delta, "i32");
        }
        self.define(Self::result_value(op, 0)?, bp.regs())
    }

    pub(super) fn block_operand(&mut self, op: &Op) -> Result<(BlockPtr, Vec<u32>)> {
        let v = Self::operand_value(op, 0)?;
        let Some(Type::BlockPtr { block, .. }) = self.kernel.values.get(v.0 as usize) else {
            return Err(Self::err(op, Stage::MalformedIr, "operand 0 is not a block pointer"));
        };
        let bp = BlockPtr::from_regs(&self.operand(op, 0)?, block.len())?;
        Ok((bp, block.clone()))
    }

    /// The i64 coordinates of every register of `map` in the view.
    pub(super) fn block_coords(&mut self, bp: &BlockPtr, map: &ThreadMap) -> Result<Coords> {
        let base = self.base(map)?;
        let mut starts = Vec::with_capacity(base.len());
        for (d, b) in base.iter().enumerate() {
            let s = self.w.bin("addi", &bp.offsets[d], b, "i32");
            starts.push(self.w.conv("extsi", &s, "i32", "i64"));
        }
        let mut out = Vec::with_capacity(map.regs.len());
        for c in &map.regs {
            let mut coord = Vec::with_capacity(c.len());
            for (d, &x) in c.iter().enumerate() {
                let x = self.w.int(i64::from(x), "i64");
                coord.push(self.w.bin("addi", &starts[d], &x, "i64"));
            }
            out.push(coord);
        }
        Ok(Coords(out))
    }

    pub(super) fn block_address(&mut self, bp: &BlockPtr, coord: &[String], mty: &str) -> String {
        let linear = self.strided_offset(bp, coord.iter().cloned().enumerate());
        let linear = linear.unwrap_or_else(|| self.w.int(0, "i64"));
        self.w.gep(&bp.base, &linear, "i64", "!llvm.ptr<1>", mty)
    }

    /// The element offset `sum of c * stride[axis]` (i64) of `(axis, c)`
    /// pairs (i64 coordinates) in `bp`'s view; `None` for no pairs.
    pub(super) fn strided_offset(
        &mut self,
        bp: &BlockPtr,
        coord: impl IntoIterator<Item = (usize, String)>,
    ) -> Option<String> {
        let mut linear: Option<String> = None;
        for (d, c) in coord {
            // The view's rank bounds the axes (as a zip over the strides did).
            let Some(stride) = bp.strides.get(d) else { continue };
            let term = self.w.bin("muli", &c, stride, "i64");
            linear = Some(match linear {
                Some(prev) => self.w.bin("addi", &prev, &term, "i64"),
                None => term,
            });
        }
        linear
    }

    /// Whether the element at `coord` is inside the view along `checked` axes.
    pub(super) fn in_bounds(&mut self, bp: &BlockPtr, coord: &[String], checked: &[u32]) -> Option<String> {
        let mut pred: Option<String> = None;
        for &d in checked {
            let d = d as usize;
            let (Some(c), Some(size)) = (coord.get(d), bp.shape.get(d)) else { continue };
            let zero = self.w.int(0, "i64");
            let lo = self.w.cmpi("sge", c, &zero, "i64");
            let hi = self.w.cmpi("slt", c, size, "i64");
            let both = self.w.and(&lo, &hi);
            pred = Some(match pred {
                Some(p) => self.w.and(&p, &both),
                None => both,
            });
        }
        pred
    }

    /// The uniform condition for the vectorized version of an access of
    /// `width` elements along `dim` over a block of `block` shape.
    pub(super) fn block_fast_path(
        &mut self,
        bp: &BlockPtr,
        block: &[u32],
        checked: &[u32],
        dim: usize,
        width: u32,
        bytes: u32,
    ) -> String {
        let one = self.w.int(1, "i64");
        let mut pred = self.w.cmpi("eq", &bp.strides[dim], &one, "i64");
        let vec_bytes = self.w.int(i64::from(width * bytes), "i64");
        let zero = self.w.int(0, "i64");
        let addr = self.w.def(format!("llvm.ptrtoint {} : !llvm.ptr<1> to i64", bp.base));
        let rem = self.w.bin("remui", &addr, &vec_bytes, "i64");
        let aligned = self.w.cmpi("eq", &rem, &zero, "i64");
        pred = self.w.and(&pred, &aligned);
        let w64 = self.w.int(i64::from(width), "i64");
        for d in 0..block.len() {
            let value =
                if d == dim { self.w.conv("extsi", &bp.offsets[d], "i32", "i64") } else { bp.strides[d].clone() };
            let rem = self.w.bin("remsi", &value, &w64, "i64");
            let ok = self.w.cmpi("eq", &rem, &zero, "i64");
            pred = self.w.and(&pred, &ok);
        }
        for &d in checked {
            let d = d as usize;
            let (Some(size), Some(&extent)) = (bp.shape.get(d), block.get(d)) else { continue };
            let start = self.w.conv("extsi", &bp.offsets[d], "i32", "i64");
            let lo = self.w.cmpi("sge", &start, &zero, "i64");
            let extent = self.w.int(i64::from(extent), "i64");
            let end = self.w.bin("addi", &start, &extent, "i64");
            let hi = self.w.cmpi("sle", &end, size, "i64");
            pred = self.w.and(&pred, &lo);
            pred = self.w.and(&pred, &hi);
        }
        pred
    }

    fn block_map(&self, op: &Op, value: ValueId) -> Result<(ThreadMap, usize, u32)> {
        let id = self.op_id(op)?;
        let shape = self.shape_of(value)?;
        let layout = match self.lk.operand_layout(id, 1) {
            Some(layout) if matches!(op.kind, OpKind::StoreBlock { .. }) => layout.clone(),
            _ => self.layout_of(value)?,
        };
        let access = self.lk.accesses.get(&id).copied();
        let (dim, width) = access.map_or((0, 1), |a| (a.dim as usize, a.width));
        Ok((layout.thread_map(shape), dim, width))
    }

    pub(super) fn load_block(&mut self, op: &Op, checked: &[u32], padding: Padding) -> Result<()> {
        let result = Self::result_value(op, 0)?;
        let elem = self.elem_of(result)?;
        let (bp, block) = self.block_operand(op)?;
        let (map, dim, width) = self.block_map(op, result)?;
        let (rty, mty, bytes) = (elem_type(elem), memory_type(elem), memory_bytes(elem));
        let coords = self.block_coords(&bp, &map)?;
        let n = map.regs.len();
        let types = vec![rty; n].join(", ");
        let fast = if width > 1 { Some(self.block_fast_path(&bp, &block, checked, dim, width, bytes)) } else { None };
        let out = self.w.fresh();
        if let Some(fast) = &fast {
            self.w.open(format!("{out}:{n} = scf.if {fast} -> ({types}) {{"));
            let mut values = Vec::with_capacity(n);
            let mut i = 0;
            while i < n {
                let w = if i % width as usize == 0 && Self::is_vector(&map, i, width, dim as u32) { width } else { 1 };
                let ptr = self.block_address(&bp, &coords.0[i], mty);
                let vty = if w > 1 { format!("vector<{w}x{mty}>") } else { mty.to_string() };
                let loaded = self.w.load(&ptr, "!llvm.ptr<1>", &vty, w * bytes);
                for j in 0..w as usize {
                    let v = if w > 1 {
                        let k = self.w.i32(j as i64);
                        self.w.def(format!("llvm.extractelement {loaded}[{k} : i32] : {vty}"))
                    } else {
                        loaded.clone()
                    };
                    values.push(self.from_memory(&v, mty, rty));
                }
                i += w as usize;
            }
            self.w.line(format!("scf.yield {} : {types}", values.join(", ")));
            self.w.close("} else {");
            self.w.depth_in();
        }
        let pad = match (padding, elem.scalar().is_some_and(|s| s.is_float())) {
            (Padding::Nan, true) => self.w.float(f64::NAN, rty),
            _ => self.w.def(format!("llvm.mlir.zero : {rty}")),
        };
        let mut values = Vec::with_capacity(n);
        for coord in &coords.0 {
            let ptr = self.block_address(&bp, coord, mty);
            let v = match self.in_bounds(&bp, coord, checked) {
                Some(mask) => {
                    let r = self.w.fresh();
                    self.w.open(format!("{r} = scf.if {mask} -> ({rty}) {{"));
                    let l = self.w.load(&ptr, "!llvm.ptr<1>", mty, bytes);
                    let l = self.from_memory(&l, mty, rty);
                    self.w.line(format!("scf.yield {l} : {rty}"));
                    self.w.close("} else {");
                    self.w.depth_in();
                    self.w.line(format!("scf.yield {pad} : {rty}"));
                    self.w.close("}");
                    r
                }
                None => {
                    let l = self.w.load(&ptr, "!llvm.ptr<1>", mty, bytes);
                    self.from_memory(&l, mty, rty)
                }
            };
            values.push(v);
        }
        if fast.is_some() {
            self.w.line(format!("scf.yield {} : {types}", values.join(", ")));
            self.w.close("}");
            values = (0..n).map(|i| format!("{out}#{i}")).collect();
        }
        self.define(result, values)
    }

    fn from_memory(&mut self, v: &str, mty: &str, rty: &str) -> String {
        if mty == rty {
            return v.to_string();
        }
        let zero = self.w.int(0, mty);
        self.w.cmpi("ne", v, &zero, mty)
    }

    pub(super) fn store_block(&mut self, op: &Op, checked: &[u32]) -> Result<()> {
        if self.bulk_store(op, checked)? {
            return Ok(());
        }
        let value = Self::operand_value(op, 1)?;
        let elem = self.elem_of(value)?;
        let (bp, block) = self.block_operand(op)?;
        let regs = self.operand(op, 1)?;
        let (map, dim, width) = self.block_map(op, value)?;
        let (rty, mty, bytes) = (elem_type(elem), memory_type(elem), memory_bytes(elem));
        let coords = self.block_coords(&bp, &map)?;
        let stored: Vec<String> =
            regs.iter().map(|v| if mty != rty { self.w.conv("extui", v, rty, mty) } else { v.clone() }).collect();
        let owner = self.owner(&map);
        let fast = if width > 1 { Some(self.block_fast_path(&bp, &block, checked, dim, width, bytes)) } else { None };
        if let Some(fast) = &fast {
            self.w.open(format!("scf.if {fast} {{"));
            if let Some(owner) = &owner {
                self.w.open(format!("scf.if {owner} {{"));
            }
            let mut i = 0;
            while i < stored.len() {
                let w = if i % width as usize == 0 && Self::is_vector(&map, i, width, dim as u32) { width } else { 1 };
                let ptr = self.block_address(&bp, &coords.0[i], mty);
                if w > 1 {
                    let vty = format!("vector<{w}x{mty}>");
                    let mut vector = self.w.def(format!("llvm.mlir.poison : {vty}"));
                    for j in 0..w as usize {
                        let k = self.w.i32(j as i64);
                        vector =
                            self.w.def(format!("llvm.insertelement {}, {vector}[{k} : i32] : {vty}", stored[i + j]));
                    }
                    self.w.store(&vector, &ptr, &vty, "!llvm.ptr<1>", w * bytes);
                } else {
                    self.w.store(&stored[i], &ptr, mty, "!llvm.ptr<1>", bytes);
                }
                i += w as usize;
            }
            if owner.is_some() {
                self.w.line("scf.yield");
                self.w.close("}");
            }
            self.w.line("scf.yield");
            self.w.close("} else {");
            self.w.depth_in();
        }
        for (coord, v) in coords.0.iter().zip(&stored) {
            let ptr = self.block_address(&bp, coord, mty);
            let mask = self.in_bounds(&bp, coord, checked);
            let pred = match (&owner, mask) {
                (Some(o), Some(m)) => Some(self.w.and(o, &m)),
                (Some(o), None) => Some(o.clone()),
                (None, m) => m,
            };
            if let Some(pred) = &pred {
                self.w.open(format!("scf.if {pred} {{"));
            }
            self.w.store(v, &ptr, mty, "!llvm.ptr<1>", bytes);
            if pred.is_some() {
                self.w.line("scf.yield");
                self.w.close("}");
            }
        }
        if fast.is_some() {
            self.w.line("scf.yield");
            self.w.close("}");
        }
        Ok(())
    }
}
