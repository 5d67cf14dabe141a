//! Reductions (within a thread, across lanes with butterfly shuffles, across
//! warps through shared memory) and scans (through shared memory).
//!
//! Sums of f16/bf16 accumulate in f32 and round once at the end; max/min
//! propagate NaN; argmax/argmin carry (value, index) pairs and prefer NaN,
//! then the larger (smaller) value, then the smaller index, which is
//! associative, so the tree order finds the interpreter's "first extreme".
//! Scans run each output's prefix in index order, as the interpreter does.

use tessera_tir::{ElemType, Op, ReduceKind, ScalarType, ScanKind};

use super::Lowerer;
use super::text::{memory_bytes, scalar_type};
use crate::error::{BackendError, Result, Stage};
use crate::layout::Layout;

/// A partial reduction: the accumulated value and, for argmax/argmin, its index.
#[derive(Clone, Debug)]
struct Partial {
    value: String,
    index: Option<String>,
}

/// The type reductions and scans accumulate `s` in.
fn accumulator(s: ScalarType) -> ScalarType {
    match s {
        ScalarType::F16 | ScalarType::BF16 => ScalarType::F32,
        other => other,
    }
}

impl Lowerer<'_, '_> {
    fn combine(&mut self, kind: ReduceKind, acc: ScalarType, a: &Partial, b: &Partial) -> Result<Partial> {
        let ty = scalar_type(acc);
        let value = |this: &mut Self, op: &str| this.w.bin(op, &a.value, &b.value, ty);
        Ok(match kind {
            ReduceKind::Sum => {
                Partial { value: self.binary(tessera_tir::BinaryOp::Add, &a.value, &b.value, acc)?, index: None }
            }
            ReduceKind::Max | ReduceKind::Min => {
                let max = kind == ReduceKind::Max;
                let v = match (acc.is_float(), acc.is_bool()) {
                    (true, _) => value(self, if max { "maximumf" } else { "minimumf" }),
                    (false, true) => value(self, if max { "ori" } else { "andi" }),
                    (false, false) => value(self, if max { "maxsi" } else { "minsi" }),
                };
                Partial { value: v, index: None }
            }
            ReduceKind::Argmax | ReduceKind::Argmin => {
                let (ai, bi) = match (&a.index, &b.index) {
                    (Some(ai), Some(bi)) => (ai.clone(), bi.clone()),
                    _ => return Err(BackendError::new(Stage::Layout, "argmax partial without an index")),
                };
                let max = kind == ReduceKind::Argmax;
                let first = self.w.cmpi("slt", &ai, &bi, "i32");
                let take_a = if acc.is_float() {
                    let better = self.w.cmpf(if max { "ogt" } else { "olt" }, &a.value, &b.value, ty);
                    let equal = self.w.cmpf("oeq", &a.value, &b.value, ty);
                    let a_nan = self.w.cmpf("uno", &a.value, &a.value, ty);
                    let b_nan = self.w.cmpf("uno", &b.value, &b.value, ty);
                    let b_num = self.w.not(&b_nan);
                    let nan_wins = self.w.and(&a_nan, &b_num);
                    let both_nan = self.w.and(&a_nan, &b_nan);
                    let tie = self.w.bin("ori", &equal, &both_nan, "i1");
                    let tie_first = self.w.and(&tie, &first);
                    let t = self.w.bin("ori", &better, &nan_wins, "i1");
                    self.w.bin("ori", &t, &tie_first, "i1")
                } else {
                    let pred = match (max, acc.is_bool()) {
                        (true, false) => "sgt",
                        (false, false) => "slt",
                        (true, true) => "ugt",
                        (false, true) => "ult",
                    };
                    let better = self.w.cmpi(pred, &a.value, &b.value, ty);
                    let equal = self.w.cmpi("eq", &a.value, &b.value, ty);
                    let tie_first = self.w.and(&equal, &first);
                    self.w.bin("ori", &better, &tie_first, "i1")
                };
                Partial {
                    value: self.w.select(&take_a, &a.value, &b.value, ty),
                    index: Some(self.w.select(&take_a, &ai, &bi, "i32")),
                }
            }
        })
    }

    /// `value` from lane `lane ^ mask` (any scalar type, through i32 halves).
    fn shuffle_xor(&mut self, value: &str, s: ScalarType, mask: u32) -> String {
        let ty = scalar_type(s);
        let w = &mut self.w;
        let all = w.i32(-1);
        let offset = w.i32(i64::from(mask));
        let clamp = w.i32(31);
        let shfl = |w: &mut super::text::Writer, v: &str, t: &str| {
            w.def(format!("nvvm.shfl.sync bfly {all}, {v}, {offset}, {clamp} : {t} -> {t}"))
        };
        match s {
            ScalarType::F32 | ScalarType::I32 => shfl(w, value, ty),
            ScalarType::I1 | ScalarType::I8 | ScalarType::I16 => {
                let wide = w.conv("extui", value, ty, "i32");
                let r = shfl(w, &wide, "i32");
                w.conv("trunci", &r, "i32", ty)
            }
            ScalarType::F16 | ScalarType::BF16 => {
                let bits = w.conv("bitcast", value, ty, "i16");
                let wide = w.conv("extui", &bits, "i16", "i32");
                let r = shfl(w, &wide, "i32");
                let r = w.conv("trunci", &r, "i32", "i16");
                w.conv("bitcast", &r, "i16", ty)
            }
            ScalarType::I64 | ScalarType::F64 => {
                let bits =
                    if s == ScalarType::F64 { w.conv("bitcast", value, "f64", "i64") } else { value.to_string() };
                let lo = w.conv("trunci", &bits, "i64", "i32");
                let c32 = w.int(32, "i64");
                let hi = w.bin("shrui", &bits, &c32, "i64");
                let hi = w.conv("trunci", &hi, "i64", "i32");
                let lo = shfl(w, &lo, "i32");
                let hi = shfl(w, &hi, "i32");
                let lo = w.conv("extui", &lo, "i32", "i64");
                let hi = w.conv("extui", &hi, "i32", "i64");
                let hi = w.bin("shli", &hi, &c32, "i64");
                let bits = w.bin("ori", &hi, &lo, "i64");
                if s == ScalarType::F64 { w.conv("bitcast", &bits, "i64", "f64") } else { bits }
            }
        }
    }

    pub(super) fn reduce(&mut self, op: &Op, kind: ReduceKind, axis: u32) -> Result<()> {
        let src = Self::operand_value(op, 0)?;
        let result = Self::result_value(op, 0)?;
        let ElemType::Scalar(elem) = self.elem_of(src)? else {
            return Err(Self::err(op, Stage::MalformedIr, "reduction of pointers"));
        };
        let acc = accumulator(elem);
        let regs = self.operand(op, 0)?;
        let id = self.op_id(op)?;
        let layout =
            self.lk.operand_layout(id, 0).cloned().ok_or_else(|| Self::err(op, Stage::Layout, "no operand layout"))?;
        let shape = self.shape_of(src)?;
        let a = axis as usize;
        if a >= shape.len() {
            return Err(Self::err(op, Stage::MalformedIr, format!("axis {axis} of a rank-{} tensor", shape.len())));
        }
        let in_map = layout.thread_map(shape);
        let out_layout = Layout::Slice { dim: axis, parent: Box::new(layout.clone()) };
        let out_shape = self.shape_of(result)?;
        let out_map = out_layout.thread_map(out_shape);
        let with_index = matches!(kind, ReduceKind::Argmax | ReduceKind::Argmin);
        let base = if with_index { self.base(&in_map)?.get(a).cloned() } else { None };
        // 1. Within the thread, in register order.
        let mut partials = Vec::with_capacity(out_map.regs.len());
        for c_out in &out_map.regs {
            let mut partial: Option<Partial> = None;
            for (r, c) in in_map.regs.iter().enumerate() {
                if super::drop_dim(c, a) != *c_out {
                    continue;
                }
                let value = self.cast(&regs[r], elem, acc);
                let index = match &base {
                    Some(base) => {
                        let offset = self.w.i32(i64::from(c[a]));
                        Some(self.w.bin("addi", base, &offset, "i32"))
                    }
                    None => None,
                };
                let next = Partial { value, index };
                partial = Some(match partial {
                    Some(p) => self.combine(kind, acc, &p, &next)?,
                    None => next,
                });
            }
            partials.push(partial.ok_or_else(|| Self::err(op, Stage::Layout, "an output element has no inputs"))?);
        }
        // 2. Across the lanes that hold other elements of the axis.
        for (bit, contribution) in in_map.lane.iter().enumerate() {
            if contribution.get(a).copied().unwrap_or(0) == 0 {
                continue;
            }
            for p in &mut partials {
                let value = self.shuffle_xor(&p.value, acc, 1 << bit);
                let index = p.index.as_ref().map(|i| self.shuffle_xor(i, ScalarType::I32, 1 << bit));
                *p = self.combine(kind, acc, p, &Partial { value, index })?;
            }
        }
        // 3. Across warps, through shared memory: slot [warp-along-axis][output element].
        let axis_warp_bits: Vec<usize> =
            (0..in_map.warp.len()).filter(|&j| in_map.warp[j].get(a).copied().unwrap_or(0) != 0).collect();
        if !axis_warp_bits.is_empty() {
            let groups = 1u64 << axis_warp_bits.len();
            let outputs: u64 = out_shape.iter().map(|&d| u64::from(d)).product();
            let value_bytes = u64::from(memory_bytes(ElemType::Scalar(acc)));
            let index_offset = (groups * outputs * value_bytes).next_multiple_of(16);
            let region = index_offset + if with_index { groups * outputs * 4 } else { 0 };
            let at = self.transient_alloc(region, 16);
            let warp = self.warp.clone();
            let mut group: Option<String> = None;
            for (k, &j) in axis_warp_bits.iter().enumerate() {
                let shift = self.w.i32(j as i64 - k as i64);
                let shifted = if j >= k { self.w.bin("shrui", &warp, &shift, "i32") } else { warp.clone() };
                let bit = self.w.i32(1 << k);
                let term = self.w.bin("andi", &shifted, &bit, "i32");
                group = Some(match group {
                    Some(g) => self.w.bin("ori", &g, &term, "i32"),
                    None => term,
                });
            }
            let group = group.ok_or_else(|| Self::err(op, Stage::Layout, "no warp group"))?;
            let lin = self.linear_indices(&out_map)?;
            let outputs_c = self.w.i32(outputs as i64);
            let group_base = self.w.bin("muli", &group, &outputs_c, "i32");
            let values_base = self.shared_base(at);
            let index_base = self.shared_base(at + index_offset);
            let aty = scalar_type(acc);
            let amty = if acc == ScalarType::I1 { "i8" } else { aty };
            for (p, l) in partials.iter().zip(&lin) {
                let slot = self.w.bin("addi", &group_base, l, "i32");
                let ptr = self.w.gep(&values_base, &slot, "i32", "!llvm.ptr<3>", amty);
                let stored = if amty != aty { self.w.conv("extui", &p.value, aty, amty) } else { p.value.clone() };
                self.w.store(&stored, &ptr, amty, "!llvm.ptr<3>", value_bytes as u32);
                if let Some(index) = &p.index {
                    let ptr = self.w.gep(&index_base, &slot, "i32", "!llvm.ptr<3>", "i32");
                    self.w.store(index, &ptr, "i32", "!llvm.ptr<3>", 4);
                }
            }
            self.transient_sync(at, region);
            for (p, l) in partials.iter_mut().zip(&lin) {
                let mut combined: Option<Partial> = None;
                for g in 0..groups {
                    let offset = self.w.i32((g * outputs) as i64);
                    let slot = self.w.bin("addi", &offset, l, "i32");
                    let ptr = self.w.gep(&values_base, &slot, "i32", "!llvm.ptr<3>", amty);
                    let loaded = self.w.load(&ptr, "!llvm.ptr<3>", amty, value_bytes as u32);
                    let value = if amty != aty { self.w.conv("trunci", &loaded, amty, aty) } else { loaded };
                    let index = if with_index {
                        let ptr = self.w.gep(&index_base, &slot, "i32", "!llvm.ptr<3>", "i32");
                        Some(self.w.load(&ptr, "!llvm.ptr<3>", "i32", 4))
                    } else {
                        None
                    };
                    let next = Partial { value, index };
                    combined = Some(match combined {
                        Some(c) => self.combine(kind, acc, &c, &next)?,
                        None => next,
                    });
                }
                if let Some(c) = combined {
                    *p = c;
                }
            }
        }
        let out: Vec<String> = partials
            .into_iter()
            .map(|p| match p.index {
                Some(index) if with_index => index,
                _ => self.cast(&p.value, acc, elem),
            })
            .collect();
        self.define(result, out)
    }

    pub(super) fn scan(&mut self, op: &Op, kind: ScanKind, axis: u32, reverse: bool) -> Result<()> {
        let src = Self::operand_value(op, 0)?;
        let result = Self::result_value(op, 0)?;
        let ElemType::Scalar(elem) = self.elem_of(src)? else {
            return Err(Self::err(op, Stage::MalformedIr, "scan of pointers"));
        };
        let acc = accumulator(elem);
        let (aty, amty) = (scalar_type(acc), if acc == ScalarType::I1 { "i8" } else { scalar_type(acc) });
        let regs = self.operand(op, 0)?;
        let shape = self.shape_of(src)?;
        let a = axis as usize;
        let Some(&len) = shape.get(a) else {
            return Err(Self::err(op, Stage::MalformedIr, format!("axis {axis} of a rank-{} tensor", shape.len())));
        };
        let map = self.layout_of(result)?.thread_map(shape);
        let numel: u64 = shape.iter().map(|&d| u64::from(d)).product();
        let bytes = u64::from(memory_bytes(ElemType::Scalar(acc)));
        let at = self.transient_alloc(numel * bytes, 16);
        let stride: u32 = shape[a + 1..].iter().product();
        let lin = self.linear_indices(&map)?;
        let base = self.shared_base(at);
        let writer = self.owner(&map);
        if let Some(pred) = &writer {
            self.w.open(format!("scf.if {pred} {{"));
        }
        for (r, l) in regs.iter().zip(&lin) {
            let value = self.cast(r, elem, acc);
            let stored = if amty != aty { self.w.conv("extui", &value, aty, amty) } else { value };
            let ptr = self.w.gep(&base, l, "i32", "!llvm.ptr<3>", amty);
            self.w.store(&stored, &ptr, amty, "!llvm.ptr<3>", bytes as u32);
        }
        if writer.is_some() {
            self.w.line("scf.yield");
            self.w.close("}");
        }
        self.transient_sync(at, numel * bytes);
        let coords = self.base(&map)?;
        let identity = match (kind, acc.is_float()) {
            (ScanKind::Cumsum, true) => self.w.float(-0.0, aty),
            (ScanKind::Cumprod, true) => self.w.float(1.0, aty),
            (ScanKind::Cumsum, false) => self.w.int(0, aty),
            (ScanKind::Cumprod, false) => self.w.int(1, aty),
        };
        let mut out = Vec::with_capacity(regs.len());
        for (c, l) in map.regs.iter().zip(&lin) {
            let offset = self.w.i32(i64::from(c[a]));
            let position = self.w.bin("addi", &coords[a], &offset, "i32");
            let stride_c = self.w.i32(i64::from(stride));
            let along = self.w.bin("muli", &position, &stride_c, "i32");
            let row = self.w.bin("subi", l, &along, "i32");
            let one = self.w.i32(1);
            let (lo, hi) = if reverse {
                (position.clone(), self.w.i32(i64::from(len)))
            } else {
                (self.w.i32(0), self.w.bin("addi", &position, &one, "i32"))
            };
            let (j, running, r) = (self.w.fresh(), self.w.fresh(), self.w.fresh());
            // Reverse scans accumulate from the end: walk j downwards.
            self.w.open(format!(
                "{r} = scf.for {j} = {lo} to {hi} step {one} iter_args({running} = {identity}) -> ({aty}) : i32 {{"
            ));
            let k = if reverse {
                let sum = self.w.bin("addi", &lo, &hi, "i32");
                let last = self.w.bin("subi", &sum, &one, "i32");
                let from_end = self.w.bin("subi", &j, &lo, "i32");
                self.w.bin("subi", &last, &from_end, "i32")
            } else {
                j.clone()
            };
            let step = self.w.bin("muli", &k, &stride_c, "i32");
            let index = self.w.bin("addi", &row, &step, "i32");
            let ptr = self.w.gep(&base, &index, "i32", "!llvm.ptr<3>", amty);
            let loaded = self.w.load(&ptr, "!llvm.ptr<3>", amty, bytes as u32);
            let x = if amty != aty { self.w.conv("trunci", &loaded, amty, aty) } else { loaded };
            let next = match kind {
                ScanKind::Cumsum => self.binary(tessera_tir::BinaryOp::Add, &running, &x, acc)?,
                ScanKind::Cumprod => self.binary(tessera_tir::BinaryOp::Mul, &running, &x, acc)?,
            };
            self.w.line(format!("scf.yield {next} : {aty}"));
            self.w.close("}");
            out.push(self.cast(&r, acc, elem));
        }
        self.define(result, out)
    }
}
