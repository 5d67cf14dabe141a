//! `dot` on tensor cores: operands staged in swizzled shared memory, read
//! into `mma.sync` fragments with `ldmatrix`, multiplied with
//! `mma.sync.aligned.m16n8k16` (bf16, f16) or `m16n8k8` (tf32), f32
//! accumulation in the [`Layout::Mma`] accumulator layout.
//!
//! Operands arrive in any register layout (or, when the loop is software
//! pipelined, already in shared memory, see [`super::pipeline`]). Each is
//! written into a [`SharedTile`] whose contiguous axis is the one its data is
//! contiguous along, so the writes are 16-byte vectors; `ldmatrix` then
//! reads 8x8 b16 matrices, with `.trans` when a 16-bit operand is stored
//! along the other axis than its fragment wants (A stored M-contiguous, B
//! stored N-contiguous: `dot(trans(a), b)`, `dot(a, b)` with a row-major B).
//! 32-bit (tf32) operands cannot be transposed by `ldmatrix`; register
//! operands are therefore staged in the fragment's orientation, and
//! pipelined ones stored the other way are read with scalar loads.
//!
//! tf32 inputs are rounded to nearest even at 10 mantissa bits exactly as
//! the interpreter rounds them (the hardware would truncate). `Ieee`
//! precision, and shapes too small for one `mma` tile (M < 16, N < 8, K
//! below the instruction's K), use one f32 fused multiply-add per product
//! in `k` order instead, the interpreter's own order.
//!
//! Fragments (PTX ISA, "Matrix fragments for mma.m16n8k16"): with
//! `g = lane / 4`, `t = lane % 4`, A holds (g, 2t..2t+1), (g+8, 2t..),
//! (g, 2t+8..), (g+8, 2t+8..) as four b16 pairs; B holds (k = 2t.., n = g)
//! and (k = 2t+8.., n = g); the accumulator is [`crate::layout::mma`]'s.
//! For m16n8k8 tf32, A holds (g, t), (g+8, t), (g, t+4), (g+8, t+4) and B
//! holds (t, g), (t+4, g): the same 8x8 b16 matrices, each b16 pair being
//! one f32.
//!
//! On sm_90a a `dot` whose accumulator tiles into warpgroups runs on
//! `wgmma.mma_async` and is not waited for at once: its product is
//! [`InFlight`] until something reads it ([`Lowerer::get`] waits with
//! `wgmma.wait_group N`, N the groups committed after it, passing its
//! registers through the wait so nothing reads them earlier), before any
//! loop or branch, and at the end of every region (so the pipeline's
//! buffers are never refilled under a running `wgmma`). Shared memory it
//! reads stays out of reach of later transient regions until then. The
//! `schedule-dots` pass orders blocks so that independent products run
//! together and their readers come late.

use tessera_tir::{DotPrecision, ElemType, Op, ScalarType, ValueId};

use super::Lowerer;
use super::shared_hazards::{self, Use};
use super::text::{elem_type, memory_bytes, memory_type};
use crate::error::{Result, Stage};
use crate::layout::mma::{TILE_M, TILE_N};
use crate::layout::wgmma::{self, AccumulatorTiling, Major, OperandTile, WGMMA_K, WGMMA_M};
use crate::layout::{Layout, ThreadMap, shared::SharedTile};

/// How one `dot` multiplies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DotKind {
    /// `mma.sync.m16n8k16` with 16-bit inputs (`bf16` or `f16`).
    Mma16(ScalarType),
    /// `mma.sync.m16n8k8.tf32`.
    Tf32,
    /// One `fma.rn.f32` per product; `tf32` rounds the inputs first.
    Fma { tf32: bool },
}

impl DotKind {
    /// The instruction's K.
    fn k_step(self) -> u32 {
        match self {
            DotKind::Mma16(_) => 16,
            DotKind::Tf32 => 8,
            DotKind::Fma { .. } => 1,
        }
    }

    fn mma_text(self) -> Option<&'static str> {
        match self {
            DotKind::Mma16(ScalarType::BF16) => Some("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"),
            DotKind::Mma16(_) => Some("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"),
            DotKind::Tf32 => Some("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"),
            DotKind::Fma { .. } => None,
        }
    }

    /// What a dot of `elem` inputs with `precision` into an `[m, n]`
    /// accumulator over `k` runs as; `None` when the backend cannot.
    pub(super) fn choose(elem: ScalarType, precision: DotPrecision, m: u32, n: u32, k: u32) -> Option<DotKind> {
        let kind = match (elem, precision) {
            (ScalarType::BF16 | ScalarType::F16, _) => DotKind::Mma16(elem),
            (ScalarType::F32, DotPrecision::Tf32) => DotKind::Tf32,
            (ScalarType::F32, DotPrecision::Ieee) => return Some(DotKind::Fma { tf32: false }),
            _ => return None,
        };
        let fits = m >= TILE_M && n >= TILE_N && k >= kind.k_step();
        Some(if fits { kind } else { DotKind::Fma { tf32: matches!(kind, DotKind::Tf32) } })
    }
}

/// How one `dot` runs on `wgmma`: its operand tiles as the descriptors
/// see them, the M repetitions per warpgroup, and the bytes between the A
/// starts of consecutive warpgroups.
#[derive(Clone, Copy, Debug)]
struct WgmmaPlan {
    a: OperandTile,
    b: OperandTile,
    elem: ScalarType,
    tiling: AccumulatorTiling,
    /// Instructions per warpgroup and K step along M.
    reps: u32,
    /// Bytes between the A starts of consecutive warpgroups along M, and
    /// between the B starts of consecutive warpgroups along N.
    a_group_stride: u32,
    b_group_stride: u32,
    /// N of one instruction (the warpgroup's band).
    band: u32,
    k: u32,
}

/// A committed `wgmma` group whose product has not been waited for.
#[derive(Clone, Debug)]
pub(super) struct InFlight {
    /// The `dot`'s result: its registers are the instructions' outputs.
    pub value: ValueId,
    /// Registers per `wgmma` instruction (the accumulator's chunks).
    pub chunk: u32,
    /// The transient shared memory its operands were staged in, if any
    /// (an absolute byte range).
    pub reads: Option<(u64, u64)>,
}

/// The inline-asm pieces for `n` f32 accumulator registers taken through
/// one instruction: their operand types, the result struct and its `=f`
/// output constraints, and the input constraints tying each to its output.
struct AccumulatorAsm {
    f32s: String,
    ty: String,
    outs: String,
    tied: String,
}

impl AccumulatorAsm {
    fn new(n: usize) -> AccumulatorAsm {
        let f32s = vec!["f32"; n].join(", ");
        let ty = format!("!llvm.struct<({f32s})>");
        let tied: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        AccumulatorAsm { f32s, ty, outs: vec!["=f"; n].join(","), tied: tied.join(",") }
    }
}

/// A `dot` operand in shared memory.
#[derive(Clone, Debug)]
pub(super) struct Staged {
    /// `!llvm.ptr<3>` of the tile's first element.
    pub base: String,
    pub tile: SharedTile,
    /// The operand dimension (0 or 1) stored contiguously (the tile's columns).
    pub contiguous: usize,
    pub elem: ElemType,
}

/// A `wgmma` matrix descriptor being built: its low word (start address,
/// LBO) an i32 value, its high word (SBO, base offset, swizzle) an i64
/// constant with the low 32 bits clear.
struct Descriptor {
    low: String,
    high: String,
}

impl Lowerer<'_, '_> {
    pub(super) fn dot(&mut self, op: &Op, precision: DotPrecision) -> Result<()> {
        let (a, b) = (Self::operand_value(op, 0)?, Self::operand_value(op, 1)?);
        let result = Self::result_value(op, 0)?;
        let (a_shape, b_shape) = (self.shape_of(a)?, self.shape_of(b)?);
        let (&[m, k], &[_, n]) = (a_shape, b_shape) else {
            return Err(Self::err(op, Stage::MalformedIr, "dot operands must be rank 2"));
        };
        let kind = self.dot_kind(op, precision, m, n, k)?;
        let mut acc = self.operand(op, 2)?;
        // Operands of a pipelined loop already sit in their shared buffers;
        // the others are staged, as `wgmma` panels when it may run.
        let wgmma = self.wgmma_accumulator(op);
        // A `wgmma` product into zeros ignores its accumulator input
        // (scale-d 0 on the first K step): no registers are zeroed for it.
        let fresh = wgmma && self.is_zero_constant(Self::operand_value(op, 2)?);
        if fresh {
            let undef = self.w.def("llvm.mlir.undef : f32");
            acc = vec![undef; acc.len()];
        }
        // A `wgmma` reads A straight from registers laid out as its fragments
        // (a product's accumulator is one): no staging for A then.
        let register_a =
            if wgmma && !self.pipelined.contains_key(&a) { self.wgmma_register_a(op, [m, k]) } else { None };
        // One transient region holds whichever operands come from registers
        // (A first, B after it, each atom-aligned as panels need).
        let from_registers: Vec<bool> = [a, b]
            .iter()
            .enumerate()
            .map(|(i, v)| !self.pipelined.contains_key(v) && !(i == 0 && register_a.is_some()))
            .collect();
        // The region starts `align`-aligned; B starts at the first aligned
        // offset after A (what `stage_operand` computes).
        let align = if wgmma { u64::from(wgmma::WGMMA_TILE_ALIGN) } else { 128 };
        let mut region_bytes: u64 = 0;
        for (index, &staged_here) in from_registers.iter().enumerate() {
            let v = Self::operand_value(op, index)?;
            let numel: u64 = self.shape_of(v)?.iter().map(|&d| u64::from(d)).product();
            if staged_here {
                region_bytes = region_bytes.next_multiple_of(align) + numel * u64::from(memory_bytes(self.elem_of(v)?));
            }
        }
        let any_staged = from_registers.iter().any(|&r| r);
        let region = if any_staged { self.transient_alloc(region_bytes, align) } else { 0 };
        if let Some(table) = &register_a {
            let b_staged = match self.pipelined.get(&b) {
                Some(st) => st.clone(),
                None => self.stage_operand(op, 1, kind, wgmma, (region, region + region_bytes), false)?,
            };
            if any_staged {
                self.asm_void("fence.proxy.async.shared::cta;");
                self.transient_sync(region, region_bytes);
            }
            if let Some(b_tile) = self.wgmma_register_a_b(op, &b_staged, [m, n, k]) {
                let a_regs = self.operand(op, 0)?;
                let out = self.dot_wgmma_register_a(op, table, &a_regs, &b_tile, &b_staged, [m, n, k], acc, fresh)?;
                self.define(result, out)?;
                let reads = any_staged.then(|| self.transient_range(region, region_bytes));
                self.issue_in_flight(InFlight { value: result, chunk: n / 2, reads });
                return Ok(());
            }
            return Err(Self::err(op, Stage::Layout, "B of a wgmma with A in registers is not a wgmma tile"));
        }
        let mut staged = Vec::with_capacity(2);
        for (index, v) in [(0, a), (1, b)] {
            match self.pipelined.get(&v) {
                Some(st) => staged.push(st.clone()),
                None => {
                    let bounds = (region, region + region_bytes);
                    staged.push(self.stage_operand(op, index, kind, wgmma, bounds, from_registers[0])?)
                }
            }
        }
        if any_staged {
            if wgmma {
                // `wgmma` reads through the async proxy what `st.shared` wrote.
                self.asm_void("fence.proxy.async.shared::cta;");
            }
            self.transient_sync(region, region_bytes);
        }
        let plan = self.wgmma_plan(op, kind, &staged[0], &staged[1], [m, n, k]);
        let Some(plan) = plan else {
            if fresh {
                acc = self.operand(op, 2)?;
            }
            let out = self.dot_from_shared(op, kind, &staged[0], &staged[1], [m, n, k], acc)?;
            return self.define(result, out);
        };
        let out = self.dot_wgmma(op, &plan, &staged[0], &staged[1], [m, n], acc, fresh)?;
        self.define(result, out)?;
        if !self.deferred_wgmma.contains(&result) {
            let reads = any_staged.then(|| self.transient_range(region, region_bytes));
            self.issue_in_flight(InFlight { value: result, chunk: plan.band / 2, reads });
        }
        Ok(())
    }

    /// Records an issued product as in flight: its staged operands are read
    /// until its wait (the hazard verifier's ledger says so), which comes at
    /// once with `--sync-wgmma`.
    fn issue_in_flight(&mut self, product: InFlight) {
        let value = product.value;
        if let Some(reads) = product.reads {
            self.w.line(shared_hazards::marker(Use::AsyncRead, reads));
        }
        self.in_flight.push(product);
        if self.codegen.sync_wgmma {
            self.wgmma_wait_for(value);
        }
    }

    /// Whether `v` is a constant zero (a flexible splat of 0.0 or 0).
    pub(super) fn is_zero_constant(&self, v: ValueId) -> bool {
        let Some(op) = self.defs.get(&v) else { return false };
        match &op.kind {
            tessera_tir::OpKind::Constant(tessera_tir::Constant::Float(x)) => *x == 0.0,
            tessera_tir::OpKind::Constant(tessera_tir::Constant::Int(0)) => true,
            _ => false,
        }
    }

    /// Waits for in-flight product `v` (and every group committed before
    /// it), if it is one: `wgmma.wait_group N` with N the groups committed
    /// after it, taking each completed product's registers through the
    /// wait. Their staged operands become the pending transient region
    /// (free after the next barrier).
    pub(super) fn wgmma_wait_for(&mut self, v: ValueId) {
        let Some(at) = self.in_flight.iter().position(|f| f.value == v) else { return };
        let newer = self.in_flight.len() - 1 - at;
        let done: Vec<InFlight> = self.in_flight.drain(..=at).collect();
        for group in done {
            if let Some(lowered) = self.values.get_mut(&group.value) {
                let mut regs = std::mem::take(&mut lowered.regs);
                self.wgmma_wait(&mut regs, group.chunk, newer);
                if let Some(lowered) = self.values.get_mut(&group.value) {
                    lowered.regs = regs;
                }
            }
            if let Some(reads) = group.reads {
                // Read by the product until here (the hazard verifier's ledger).
                self.w.line(shared_hazards::marker(Use::AsyncDone, reads));
                if !self.transient_pending.contains(&reads) {
                    self.transient_pending.push(reads);
                }
            }
        }
    }

    /// Waits for every in-flight product.
    pub(super) fn wgmma_wait_in_flight(&mut self) {
        if let Some(last) = self.in_flight.last().map(|f| f.value) {
            self.wgmma_wait_for(last);
        }
    }

    pub(super) fn dot_kind(&self, op: &Op, precision: DotPrecision, m: u32, n: u32, k: u32) -> Result<DotKind> {
        let a = Self::operand_value(op, 0)?;
        let acc = Self::operand_value(op, 2)?;
        let elem = self.elem_of(a)?.scalar();
        let acc_elem = self.elem_of(acc)?.scalar();
        match (elem, acc_elem) {
            (Some(elem), Some(ScalarType::F32)) => DotKind::choose(elem, precision, m, n, k),
            _ => None,
        }
        .ok_or_else(|| {
            Self::err(
                op,
                Stage::UnsupportedOp,
                format!(
                    "dot of {} into {} is not supported on tensor cores (supported: bf16, f16 and f32 into f32)",
                    self.elem_of(a).map(|e| e.to_string()).unwrap_or_default(),
                    self.elem_of(acc).map(|e| e.to_string()).unwrap_or_default()
                ),
            )
        })
    }

    /// Whether `dot` op `op` has the accumulator tiling `wgmma` computes
    /// ([`wgmma::accumulator_tiling`], chosen by the layout assignment on
    /// targets with `wgmma`) and 16-bit inputs into f32 with K a multiple of
    /// 16. Its operands must also be `wgmma` tiles: see [`Self::wgmma_plan`].
    pub(super) fn wgmma_accumulator(&self, op: &Op) -> bool {
        self.wgmma_tiling(op).is_some()
    }

    /// The warpgroup tiling of `op`'s accumulator when
    /// [`Self::wgmma_accumulator`] holds.
    fn wgmma_tiling(&self, op: &Op) -> Option<AccumulatorTiling> {
        let Ok(&[m, k]) = Self::operand_value(op, 0).and_then(|a| self.shape_of(a)) else { return None };
        let Ok(&[_, n]) = Self::operand_value(op, 1).and_then(|b| self.shape_of(b)) else { return None };
        let result = Self::result_value(op, 0).ok()?;
        let tessera_tir::OpKind::Dot { precision } = op.kind else { return None };
        let sixteen_bit = matches!(self.dot_kind(op, precision, m, n, k), Ok(DotKind::Mma16(_)));
        let tiling = wgmma::accumulator_tiling([m, n], self.lk.num_warps)?;
        let tiled = self.layout_of(result).is_ok_and(|layout| layout == tiling.layout());
        (self.lk.wgmma && sixteen_bit && tiled && k.is_multiple_of(WGMMA_K)).then_some(tiling)
    }

    /// How `op` runs on `wgmma` with operands `a` and `b` in shared memory,
    /// when it can: [`Self::wgmma_accumulator`] holds, both operands are
    /// swizzle panel tiles of the dot's shapes, every instruction
    /// (M repetition, warpgroup, K step) starts where a descriptor can, and
    /// the warpgroups' A (along M) and B (along N) start a constant stride
    /// apart.
    fn wgmma_plan(&self, op: &Op, kind: DotKind, a: &Staged, b: &Staged, [m, n, k]: [u32; 3]) -> Option<WgmmaPlan> {
        let DotKind::Mma16(elem) = kind else { return None };
        let tiling = self.wgmma_tiling(op)?;
        // A is [m, k] (K-major when stored K-contiguous), B is [k, n].
        let a_major = if a.contiguous == 1 { Major::K } else { Major::Mn };
        let b_major = if b.contiguous == 0 { Major::K } else { Major::Mn };
        let a_tile = OperandTile::new(a.tile, a_major)?;
        let b_tile = OperandTile::new(b.tile, b_major)?;
        let a_dims = if a.contiguous == 1 { [m, k] } else { [k, m] };
        let b_dims = if b.contiguous == 1 { [k, n] } else { [n, k] };
        if [a.tile.rows, a.tile.cols] != a_dims || [b.tile.rows, b.tile.cols] != b_dims {
            return None;
        }
        let AccumulatorTiling { groups_m, groups_n } = tiling;
        let band = tiling.band(n);
        let reps = m / (WGMMA_M * groups_m);
        // The byte stride between the starts of consecutive groups, the
        // same at every (repetition, K step), or None.
        let constant_stride = |starts: &mut dyn FnMut(u32) -> Option<u32>, groups: u32| -> Option<Option<u32>> {
            let first = starts(0)?;
            let mut stride = None;
            for g in 1..groups {
                let at = starts(g)?;
                let step = at.checked_sub(first)? / g;
                if at != first + step * g {
                    return None;
                }
                stride.get_or_insert(step);
                if stride != Some(step) {
                    return None;
                }
            }
            Some(stride)
        };
        let (mut a_group_stride, mut b_group_stride) = (None, None);
        let agree = |seen: &mut Option<u32>, stride: Option<u32>| match (stride, *seen) {
            (Some(s), Some(t)) => s == t,
            (Some(s), None) => {
                *seen = Some(s);
                true
            }
            (None, _) => true,
        };
        for k0 in (0..k).step_by(WGMMA_K as usize) {
            let b_stride = constant_stride(&mut |g| b_tile.start_offset(g * band, band, k0), groups_n)?;
            if !agree(&mut b_group_stride, b_stride) {
                return None;
            }
            for rep in 0..reps {
                let first = rep * WGMMA_M * groups_m;
                let a_stride =
                    constant_stride(&mut |g| a_tile.start_offset(first + g * WGMMA_M, WGMMA_M, k0), groups_m)?;
                if !agree(&mut a_group_stride, a_stride) {
                    return None;
                }
            }
        }
        Some(WgmmaPlan {
            a: a_tile,
            b: b_tile,
            elem,
            tiling,
            reps,
            a_group_stride: a_group_stride.unwrap_or(0),
            b_group_stride: b_group_stride.unwrap_or(0),
            band,
            k,
        })
    }

    /// `acc + a @ b` on `wgmma` (see [`crate::layout::wgmma`]): each
    /// warpgroup runs, per M repetition, one `m64nNk16` (N its band) per K
    /// step of 16 on its 64 rows, its accumulator being the repetition's
    /// contiguous slice of the [`Layout::Mma`] registers; then commits and
    /// waits for all of them before the registers are used (or the buffers
    /// refilled).
    #[allow(clippy::too_many_arguments)]
    fn dot_wgmma(
        &mut self,
        op: &Op,
        plan: &WgmmaPlan,
        a: &Staged,
        b: &Staged,
        [m, _n]: [u32; 2],
        mut acc: Vec<String>,
        fresh: bool,
    ) -> Result<Vec<String>> {
        let AccumulatorTiling { groups_m, groups_n } = plan.tiling;
        let regs = plan.band / 2;
        if acc.len() != (plan.reps * regs) as usize || m != plan.reps * WGMMA_M * groups_m {
            return Err(Self::err(op, Stage::Layout, "the accumulator does not tile into wgmma tiles"));
        }
        let elem = if plan.elem == ScalarType::BF16 { "bf16" } else { "f16" };
        let text = wgmma::mma_async_asm(plan.band, elem, plan.a.major, plan.b.major);
        let AccumulatorAsm { f32s, ty, outs, tied } = AccumulatorAsm::new(regs as usize);
        let constraints = format!("{outs},l,l,r,{tied}");
        let a_addr = self.w.def(format!("llvm.ptrtoint {} : !llvm.ptr<3> to i32", a.base));
        let b_addr = self.w.def(format!("llvm.ptrtoint {} : !llvm.ptr<3> to i32", b.base));
        // Warpgroup g is (g % groups_m) along M, (g / groups_m) along N (the
        // warp id's M bits come first); its A and B start a stride per
        // group on.
        let two = self.w.i32(2);
        let warp = self.warp.clone();
        let group = self.w.bin("shrui", &warp, &two, "i32");
        let a_addr = if groups_m > 1 {
            let mask = self.w.i32(i64::from(groups_m - 1));
            let along_m = self.w.bin("andi", &group, &mask, "i32");
            let stride = self.w.i32(i64::from(plan.a_group_stride));
            let offset = self.w.bin("muli", &along_m, &stride, "i32");
            self.w.bin("addi", &a_addr, &offset, "i32")
        } else {
            a_addr
        };
        let b_addr = if groups_n > 1 {
            let shift = self.w.i32(i64::from(groups_m.trailing_zeros()));
            let along_n = self.w.bin("shrui", &group, &shift, "i32");
            let stride = self.w.i32(i64::from(plan.b_group_stride));
            let offset = self.w.bin("muli", &along_n, &stride, "i32");
            self.w.bin("addi", &b_addr, &offset, "i32")
        } else {
            b_addr
        };
        let one = self.w.i32(1);
        let zero = self.w.i32(0);
        let a_base = self.descriptor(&a_addr, &plan.a);
        let b_base = self.descriptor(&b_addr, &plan.b);
        self.asm_void("wgmma.fence.sync.aligned;");
        for rep in 0..plan.reps {
            let at = (rep * regs) as usize;
            for k0 in (0..plan.k).step_by(WGMMA_K as usize) {
                let scale_d = if fresh && k0 == 0 { &zero } else { &one };
                let fail = || Self::err(op, Stage::Layout, "a wgmma instruction does not start where a descriptor can");
                let a_start = plan.a.start_offset(rep * WGMMA_M * groups_m, WGMMA_M, k0).ok_or_else(fail)?;
                let b_start = plan.b.start_offset(0, plan.band, k0).ok_or_else(fail)?;
                let a_desc = self.descriptor_at(&a_base, a_start);
                let b_desc = self.descriptor_at(&b_base, b_start);
                let r = self.w.def(format!(
                    "llvm.inline_asm has_side_effects asm_dialect = att \"{text}\", \"{constraints}\" {a_desc}, {b_desc}, {scale_d}, {} : (i64, i64, i32, {f32s}) -> {ty}",
                    acc[at..at + regs as usize].join(", ")
                ));
                self.fields_into(&r, &ty, &mut acc[at..at + regs as usize]);
            }
        }
        self.asm_void("wgmma.commit_group.sync.aligned;");
        if self.deferred_wgmma.contains(&Self::result_value(op, 0)?) {
            // Only the previous iteration's products must be complete (its
            // buffer is refilled next); these stay in flight, and their
            // accumulators are waited for after the loop.
            self.asm_void("wgmma.wait_group.sync.aligned 1;");
        }
        // Otherwise in flight until read (see the module docs).
        Ok(acc)
    }

    /// `wgmma.wait_group 0`, taking the accumulator registers `acc` (in
    /// chunks of `chunk`) through it, so that nothing reads them before the
    /// instructions that write them are complete.
    pub(super) fn wgmma_wait_all(&mut self, acc: &mut [String], chunk: u32) {
        self.wgmma_wait(acc, chunk, 0);
    }

    /// `wgmma.wait_group pending`: like [`Self::wgmma_wait_all`], with up
    /// to `pending` newer groups left running.
    fn wgmma_wait(&mut self, acc: &mut [String], chunk: u32, pending: usize) {
        for part in acc.chunks_mut(chunk as usize) {
            let n = part.len();
            let AccumulatorAsm { f32s, ty, outs, .. } = AccumulatorAsm::new(n);
            let ins = vec!["f"; n].join(",");
            let movs: String = (0..n).map(|i| format!(" mov.b32 ${i}, ${};", n + i)).collect();
            let r = self.w.def(format!(
                "llvm.inline_asm has_side_effects asm_dialect = att \"wgmma.wait_group.sync.aligned {pending};{movs}\", \"{outs},{ins}\" {} : ({f32s}) -> {ty}",
                part.join(", ")
            ));
            self.fields_into(&r, &ty, part);
        }
    }

    /// For a `wgmma` dot (`[m, k]` A) whose warpgroups all lie along M: per M
    /// repetition and K step of 16, the indices of A's registers (in A's
    /// operand layout) that form the instruction's register fragment
    /// ([`wgmma::register_a_coord`]), the same for every thread; `None` when
    /// the layout does not hold the fragments (A is then staged).
    fn wgmma_register_a(&self, op: &Op, [m, k]: [u32; 2]) -> Option<Vec<[usize; 8]>> {
        let tiling = self.wgmma_tiling(op)?;
        if tiling.groups_n != 1 {
            return None;
        }
        let a = Self::operand_value(op, 0).ok()?;
        let id = self.op_id(op).ok()?;
        let layout = match self.lk.operand_layout(id, 0) {
            Some(layout) => layout.clone(),
            None => self.layout_of(a).ok()?,
        };
        if !matches!(layout, crate::layout::Layout::Mma { .. }) {
            return None;
        }
        let map = layout.thread_map(&[m, k]);
        let threads = 32 * self.lk.num_warps;
        let base = |thread: u32| {
            let (lane, warp) = (thread % 32, thread / 32);
            let mut at = [0u32; 2];
            let bits = map.lane.iter().enumerate().map(|(b, add)| (lane >> b & 1, add));
            let bits = bits.chain(map.warp.iter().enumerate().map(|(b, add)| (warp >> b & 1, add)));
            for (set, add) in bits {
                if set == 1 {
                    at[0] += add.first().copied().unwrap_or(0);
                    at[1] += add.get(1).copied().unwrap_or(0);
                }
            }
            at
        };
        let bases: Vec<[u32; 2]> = (0..threads).map(base).collect();
        let reps = m / (WGMMA_M * tiling.groups_m);
        let mut table = Vec::new();
        for rep in 0..reps {
            for step in 0..k / WGMMA_K {
                let mut slots = [0usize; 8];
                for (j, slot) in slots.iter_mut().enumerate() {
                    let want = |thread: u32| {
                        let (lane, warp) = (thread % 32, thread / 32);
                        let row0 = rep * WGMMA_M * tiling.groups_m + (warp / 4) * WGMMA_M;
                        wgmma::register_a_coord(row0, step * WGMMA_K, warp % 4, lane, j as u32)
                    };
                    let holds = |i: usize, thread: u32| {
                        let (b, r) = (bases[thread as usize], &map.regs[i]);
                        [b[0] + r.first().copied().unwrap_or(0), b[1] + r.get(1).copied().unwrap_or(0)] == want(thread)
                    };
                    *slot = (0..map.regs.len()).find(|&i| (0..threads).all(|t| holds(i, t)))?;
                }
                table.push(slots);
            }
        }
        Some(table)
    }

    /// B's operand tile for a `wgmma` with A in registers, when each K step's
    /// instruction can start where a descriptor can.
    fn wgmma_register_a_b(&self, op: &Op, b: &Staged, [_, n, k]: [u32; 3]) -> Option<OperandTile> {
        self.wgmma_tiling(op).filter(|t| t.groups_n == 1)?;
        let b_major = if b.contiguous == 0 { Major::K } else { Major::Mn };
        let b_tile = OperandTile::new(b.tile, b_major)?;
        let b_dims = if b.contiguous == 1 { [k, n] } else { [n, k] };
        if [b.tile.rows, b.tile.cols] != b_dims {
            return None;
        }
        (0..k).step_by(WGMMA_K as usize).all(|k0| b_tile.start_offset(0, n, k0).is_some()).then_some(b_tile)
    }

    /// `acc + a @ b` on `wgmma` with A's fragments packed from the registers
    /// `table` names (per M repetition and K step) and B through its
    /// descriptor; waits for the products before the registers are used.
    #[allow(clippy::too_many_arguments)]
    fn dot_wgmma_register_a(
        &mut self,
        op: &Op,
        table: &[[usize; 8]],
        a_regs: &[String],
        b_tile: &OperandTile,
        b: &Staged,
        [m, n, k]: [u32; 3],
        mut acc: Vec<String>,
        fresh: bool,
    ) -> Result<Vec<String>> {
        let regs = n / 2;
        let steps = (k / WGMMA_K) as usize;
        let reps = table.len() / steps.max(1);
        if acc.len() != reps * regs as usize || reps as u32 * WGMMA_M * (self.lk.num_warps / 4) != m {
            return Err(Self::err(op, Stage::Layout, "the accumulator does not tile into wgmma tiles"));
        }
        let elem =
            if self.elem_of(Self::operand_value(op, 0)?)?.scalar() == Some(ScalarType::BF16) { "bf16" } else { "f16" };
        let text = wgmma::mma_async_reg_a_asm(n, elem, b_tile.major);
        let AccumulatorAsm { f32s, ty, outs, tied } = AccumulatorAsm::new(regs as usize);
        let constraints = format!("{outs},r,r,r,r,l,r,{tied}");
        let b_addr = self.w.def(format!("llvm.ptrtoint {} : !llvm.ptr<3> to i32", b.base));
        let one = self.w.i32(1);
        let zero = self.w.i32(0);
        // Every fragment is packed, and every descriptor built, before the
        // fence: a register written between two `wgmma`s makes ptxas wait.
        let mut fragments = Vec::with_capacity(table.len());
        for slots in table {
            let mut packed = Vec::with_capacity(4);
            for pair in slots.chunks(2) {
                let vty = format!("vector<2x{elem}>");
                let mut v = self.w.def(format!("llvm.mlir.poison : {vty}"));
                for (lane, &reg) in pair.iter().enumerate() {
                    let value =
                        a_regs.get(reg).ok_or_else(|| Self::err(op, Stage::Layout, "A has too few registers"))?;
                    let idx = self.w.i32(lane as i64);
                    v = self.w.def(format!("llvm.insertelement {value}, {v}[{idx} : i32] : {vty}"));
                }
                packed.push(self.w.def(format!("llvm.bitcast {v} : {vty} to i32")));
            }
            fragments.push(packed);
        }
        let mut b_descs = Vec::with_capacity(steps);
        let b_base = self.descriptor(&b_addr, b_tile);
        for step in 0..steps as u32 {
            let start = b_tile.start_offset(0, n, step * WGMMA_K).ok_or_else(|| {
                Self::err(op, Stage::Layout, "a wgmma instruction does not start where a descriptor can")
            })?;
            b_descs.push(self.descriptor_at(&b_base, start));
        }
        self.asm_void("wgmma.fence.sync.aligned;");
        for (i, packed) in fragments.iter().enumerate() {
            let at = (i / steps) * regs as usize;
            let scale_d = if fresh && i % steps == 0 { &zero } else { &one };
            let r = self.w.def(format!(
                "llvm.inline_asm has_side_effects asm_dialect = att \"{text}\", \"{constraints}\" {}, {}, {scale_d}, {} : (i32, i32, i32, i32, i64, i32, {f32s}) -> {ty}",
                packed.join(", "),
                b_descs[i % steps],
                acc[at..at + regs as usize].join(", ")
            ));
            self.fields_into(&r, &ty, &mut acc[at..at + regs as usize]);
        }
        self.asm_void("wgmma.commit_group.sync.aligned;");
        Ok(acc)
    }

    /// The descriptor of `tile` for an instruction starting at shared
    /// address `addr` (i32): its low word (the start-address field and the
    /// LBO) as an i32, with the high word's constant fixed bits. See
    /// [`Self::descriptor_at`].
    fn descriptor(&mut self, addr: &str, tile: &OperandTile) -> Descriptor {
        let mask = self.w.i32(0x3FFFF);
        let masked = self.w.bin("andi", addr, &mask, "i32");
        let four = self.w.i32(4);
        let field = self.w.bin("shrui", &masked, &four, "i32");
        let fixed = tile.descriptor().fixed_bits();
        let low_fixed = self.w.i32(i64::from(fixed as u32 as i32));
        let low = self.w.bin("ori", &field, &low_fixed, "i32");
        let high = self.w.int((fixed & !0xFFFF_FFFF) as i64, "i64");
        Descriptor { low, high }
    }

    /// The 64-bit descriptor `start` bytes (a multiple of 16) past `base`:
    /// its start-address field plus `start / 16`, added to the low word
    /// alone. The field cannot carry into the next one: shared addresses
    /// and offsets stay below the 256 KiB the 14-bit field spans. One 32-bit
    /// add per K step and M repetition, instead of rebuilding the
    /// descriptor, and the high word stays a constant.
    fn descriptor_at(&mut self, base: &Descriptor, start: u32) -> String {
        debug_assert!(start.is_multiple_of(16), "descriptor start {start}");
        let low = if start == 0 {
            base.low.clone()
        } else {
            let step = self.w.i32(i64::from(start >> 4));
            self.w.bin("addi", &base.low, &step, "i32")
        };
        let wide = self.w.conv("extui", &low, "i32", "i64");
        self.w.bin("ori", &base.high, &wide, "i64")
    }

    /// Writes operand `index` (0: A, 1: B) of `op` from registers into the
    /// transient region `[start, end)`: A at its start, B after A's slot when
    /// A is staged there too (`a_staged`), else at its start; with `panels`,
    /// in the swizzle panels `wgmma` reads when the shape allows,
    /// each tile starting on a swizzle atom. A tile past `end` is an error.
    fn stage_operand(
        &mut self,
        op: &Op,
        index: usize,
        kind: DotKind,
        panels: bool,
        (region, end): (u64, u64),
        a_staged: bool,
    ) -> Result<Staged> {
        let v = Self::operand_value(op, index)?;
        let shape = self.shape_of(v)?;
        let elem = self.elem_of(v)?;
        let regs = self.operand(op, index)?;
        let id = self.op_id(op)?;
        let layout = match self.lk.operand_layout(id, index) {
            Some(layout) => layout.clone(),
            None => self.layout_of(v)?,
        };
        let map = layout.thread_map(shape);
        // The axis the fragment wants contiguous: K (A's dim 1, B's dim 0).
        let k_axis = if index == 0 { 1 } else { 0 };
        let contiguous = match (kind, layout.fastest_dim()) {
            (DotKind::Mma16(_) | DotKind::Fma { .. }, Some(f)) if f < 2 => f as usize,
            _ => k_axis,
        };
        let (rows, cols) = (shape[1 - contiguous], shape[contiguous]);
        let bytes = memory_bytes(elem);
        let panel_tile = if panels { SharedTile::wgmma_panels(rows, cols, bytes) } else { None };
        let tile = panel_tile.unwrap_or_else(|| SharedTile::swizzled(rows, cols, bytes));
        let after_a = if index == 0 || !a_staged {
            region
        } else {
            let a = Self::operand_value(op, 0)?;
            let a_elem = self.elem_of(a)?;
            let a_numel: u64 = self.shape_of(a)?.iter().map(|&d| u64::from(d)).product();
            // A's slot is atom-aligned too when panels were asked for.
            let a_start = if panels { self.atom_aligned(region) } else { region };
            a_start + a_numel * u64::from(memory_bytes(a_elem))
        };
        // The region starts at an absolute multiple of 128 (1024 for
        // `wgmma`), so B lands where `dot` sized the region for it.
        let offset = if panel_tile.is_some() {
            self.wgmma_buffers = true;
            self.atom_aligned(after_a)
        } else {
            self.absolute_aligned(after_a, 128)
        };
        if offset + tile.size_bytes() > end {
            // A staged operand past its region would overlap the next one.
            return Err(Self::err(op, Stage::Layout, "a staged dot operand does not fit its shared-memory region"));
        }
        self.reserve_shared(offset + tile.size_bytes());
        let base = self.shared_base(offset);
        let staged = Staged { base, tile, contiguous, elem };
        let width = if layout.fastest_dim() == Some(contiguous as u32) {
            layout.contiguous_per_thread().min(tile.vec)
        } else {
            1
        };
        self.store_tile(&staged, &regs, &map, width)?;
        Ok(staged)
    }

    /// The first transient offset at or after `offset` whose absolute shared
    /// address is a multiple of [`wgmma::WGMMA_TILE_ALIGN`].
    fn atom_aligned(&self, offset: u64) -> u64 {
        self.absolute_aligned(offset, u64::from(wgmma::WGMMA_TILE_ALIGN))
    }

    /// The first transient offset at or after `offset` whose absolute shared
    /// address is a multiple of `align`.
    fn absolute_aligned(&self, offset: u64, align: u64) -> u64 {
        (self.shared_pinned + offset).next_multiple_of(align) - self.shared_pinned
    }

    /// The accesses of the registers laid out by `map` to `staged`'s tile:
    /// per access, its first register, its width (`width` contiguous
    /// registers where they are contiguous along the tile's contiguous axis,
    /// else 1) and the shared-memory pointer of its first element.
    fn tile_accesses(&mut self, staged: &Staged, map: &ThreadMap, width: u32) -> Result<Vec<(usize, u32, String)>> {
        let base = self.base(map)?;
        let f = staged.contiguous as u32;
        let mut out = Vec::new();
        let mut i = 0;
        while i < map.regs.len() {
            let w = if width > 1 && i % width as usize == 0 && Self::is_vector(map, i, width, f) { width } else { 1 };
            let c = map.regs.get(i).cloned().unwrap_or_default();
            let mut coord = Vec::with_capacity(2);
            for d in 0..2 {
                let off = self.w.i32(i64::from(c.get(d).copied().unwrap_or(0)));
                let b = base.get(d).cloned().unwrap_or_else(|| off.clone());
                coord.push(self.w.bin("addi", &b, &off, "i32"));
            }
            out.push((i, w, self.tile_ptr(staged, &coord[0], &coord[1])));
            i += w as usize;
        }
        Ok(out)
    }

    /// Stores registers laid out by `map` into `staged`'s tile, `width`
    /// contiguous registers per vector store where they are contiguous.
    pub(super) fn store_tile(&mut self, staged: &Staged, regs: &[String], map: &ThreadMap, width: u32) -> Result<()> {
        let mty = memory_type(staged.elem);
        let bytes = memory_bytes(staged.elem);
        for (i, w, ptr) in self.tile_accesses(staged, map, width)? {
            if w > 1 {
                let vty = format!("vector<{w}x{mty}>");
                let mut vector = self.w.def(format!("llvm.mlir.poison : {vty}"));
                for j in 0..w as usize {
                    let k = self.w.i32(j as i64);
                    vector = self.w.def(format!("llvm.insertelement {}, {vector}[{k} : i32] : {vty}", regs[i + j]));
                }
                self.w.store(&vector, &ptr, &vty, "!llvm.ptr<3>", w * bytes);
            } else {
                self.w.store(&regs[i], &ptr, mty, "!llvm.ptr<3>", bytes);
            }
        }
        Ok(())
    }

    /// The registers of a tile in `staged` under `map` (a pipelined tile read
    /// by an op other than `dot`), `width` contiguous elements per vector
    /// load where they are contiguous: the gather mirror of [`Self::store_tile`].
    pub(super) fn load_tile(&mut self, staged: &Staged, map: &ThreadMap, width: u32) -> Result<Vec<String>> {
        let (mty, rty) = (memory_type(staged.elem), elem_type(staged.elem));
        let bytes = memory_bytes(staged.elem);
        let mut out = Vec::with_capacity(map.regs.len());
        for (_, w, ptr) in self.tile_accesses(staged, map, width)? {
            let mut loaded = Vec::with_capacity(w as usize);
            if w > 1 {
                let vty = format!("vector<{w}x{mty}>");
                let vector = self.w.load(&ptr, "!llvm.ptr<3>", &vty, w * bytes);
                for j in 0..w {
                    let k = self.w.i32(i64::from(j));
                    loaded.push(self.w.def(format!("llvm.extractelement {vector}[{k} : i32] : {vty}")));
                }
            } else {
                loaded.push(self.w.load(&ptr, "!llvm.ptr<3>", mty, bytes));
            }
            out.extend(loaded.into_iter().map(|v| if mty != rty { self.w.conv("trunci", &v, mty, rty) } else { v }));
        }
        Ok(out)
    }

    /// The swizzled element offset (i32) of operand coordinate (`d0`, `d1`)
    /// ([`SharedTile::offset`]).
    pub(super) fn tile_offset(&mut self, staged: &Staged, d0: &str, d1: &str) -> String {
        let (row, col) = if staged.contiguous == 1 { (d0, d1) } else { (d1, d0) };
        let t = staged.tile;
        let log = |v: u32| i64::from(v.trailing_zeros());
        let vec_shift = self.w.i32(log(t.vec));
        // Panels of `panel` columns, `rows * panel` elements each, one after
        // the other; one-panel tiles skip the arithmetic.
        let (panel_start, col) = if t.panel != t.cols {
            let panel_shift = self.w.i32(log(t.panel));
            let index = self.w.bin("shrui", col, &panel_shift, "i32");
            let panel_elems = self.w.i32(i64::from(t.rows * t.panel));
            let start = self.w.bin("muli", &index, &panel_elems, "i32");
            let within = self.w.i32(i64::from(t.panel - 1));
            (Some(start), self.w.bin("andi", col, &within, "i32"))
        } else {
            (None, col.to_string())
        };
        let col = col.as_str();
        let chunk = self.w.bin("shrui", col, &vec_shift, "i32");
        let inner_mask = self.w.i32(i64::from(t.vec - 1));
        let inner = self.w.bin("andi", col, &inner_mask, "i32");
        let phase_shift = self.w.i32(log(t.per_phase));
        let phase = self.w.bin("shrui", row, &phase_shift, "i32");
        let phase_mask = self.w.i32(i64::from(t.max_phase - 1));
        let phase = self.w.bin("andi", &phase, &phase_mask, "i32");
        let swizzled = self.w.bin("xori", &chunk, &phase, "i32");
        let swizzled = self.w.bin("shli", &swizzled, &vec_shift, "i32");
        let cols = self.w.i32(i64::from(t.panel));
        let row_start = self.w.bin("muli", row, &cols, "i32");
        let row_start = match panel_start {
            Some(start) => self.w.bin("addi", &start, &row_start, "i32"),
            None => row_start,
        };
        let at = self.w.bin("addi", &row_start, &swizzled, "i32");
        self.w.bin("addi", &at, &inner, "i32")
    }

    /// A `!llvm.ptr<3>` to operand element (`d0`, `d1`) of `staged`.
    pub(super) fn tile_ptr(&mut self, staged: &Staged, d0: &str, d1: &str) -> String {
        let offset = self.tile_offset(staged, d0, d1);
        self.w.gep(&staged.base, &offset, "i32", "!llvm.ptr<3>", memory_type(staged.elem))
    }

    /// `acc + a @ b` for operands in shared memory; returns the accumulator
    /// registers in the result's [`Layout::Mma`] order.
    pub(super) fn dot_from_shared(
        &mut self,
        op: &Op,
        kind: DotKind,
        a: &Staged,
        b: &Staged,
        [m, n, k]: [u32; 3],
        acc: Vec<String>,
    ) -> Result<Vec<String>> {
        let result = Self::result_value(op, 0)?;
        let layout = self.layout_of(result)?;
        let Layout::Mma { warps_per_cta, banded } = &layout else {
            return Err(Self::err(op, Stage::Layout, format!("the dot result has layout {layout}, not #mma")));
        };
        let map = layout.thread_map(&[m, n]);
        if map.regs.len() != acc.len() {
            return Err(Self::err(op, Stage::Layout, "the accumulator has the wrong number of registers"));
        }
        match kind {
            DotKind::Fma { tf32 } => self.dot_fma(a, b, &map, k, acc, tf32),
            _ => {
                let wm = warps_per_cta.first().copied().unwrap_or(1);
                let wn = warps_per_cta.get(1).copied().unwrap_or(1);
                self.dot_mma(op, kind, a, b, &map, [m, n, k], [wm, wn], *banded, acc)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn dot_mma(
        &mut self,
        op: &Op,
        kind: DotKind,
        a: &Staged,
        b: &Staged,
        map: &ThreadMap,
        [m, n, k]: [u32; 3],
        [wm, wn]: [u32; 2],
        banded: bool,
        mut acc: Vec<String>,
    ) -> Result<Vec<String>> {
        let (reps_m, reps_n) = ((m / (TILE_M * wm)).max(1), (n / (TILE_N * wn)).max(1));
        // Consecutive N tiles of a warp: interleaved with the other warps'
        // tiles, or next to each other in a banded layout.
        let n_step = if banded { TILE_N } else { TILE_N * wn };
        if acc.len() != (reps_m * reps_n * 4) as usize {
            return Err(Self::err(op, Stage::Layout, "the accumulator does not tile into 16x8 mma tiles"));
        }
        let text = kind.mma_text().ok_or_else(|| Self::err(op, Stage::Layout, "not an mma dot"))?;
        let warp = self.warp_base(map)?;
        let lane = self.lane.clone();
        let c7 = self.w.i32(7);
        let c3 = self.w.i32(3);
        let c1 = self.w.i32(1);
        let c2 = self.w.i32(2);
        let i = self.w.bin("andi", &lane, &c7, "i32");
        let j = self.w.bin("shrui", &lane, &c3, "i32");
        let jlo = self.w.bin("andi", &j, &c1, "i32");
        let jhi = self.w.bin("shrui", &j, &c1, "i32");
        let g = self.w.bin("shrui", &lane, &c2, "i32");
        let t = self.w.bin("andi", &lane, &c3, "i32");
        let lanes = Lanes { i, jlo, jhi, g, t };
        let ks = kind.k_step();
        for step in 0..k / ks {
            let k0 = step * ks;
            let mut a_frags = Vec::with_capacity(reps_m as usize);
            for rm in 0..reps_m {
                let m0 = self.add_const(&warp[0], rm * TILE_M * wm);
                a_frags.push(self.load_a(kind, a, &lanes, &m0, k0)?);
            }
            let mut b_frags: Vec<[String; 2]> = Vec::with_capacity(reps_n as usize);
            let mut rn = 0;
            while rn < reps_n {
                let n0 = self.add_const(&warp[1], rn * n_step);
                let pair = rn + 1 < reps_n;
                let frags = self.load_b(kind, b, &lanes, &n0, if pair { n_step } else { 0 }, k0, pair)?;
                b_frags.extend(frags);
                rn += if pair { 2 } else { 1 };
            }
            for rm in 0..reps_m as usize {
                for rn in 0..reps_n as usize {
                    let at = (rm * reps_n as usize + rn) * 4;
                    let mut args: Vec<String> = a_frags[rm].to_vec();
                    args.extend(b_frags[rn].iter().cloned());
                    args.extend(acc[at..at + 4].iter().cloned());
                    let types = [vec!["i32"; 6], vec!["f32"; 4]].concat().join(", ");
                    let r = self.w.def(format!(
                        "llvm.inline_asm asm_dialect = att \"{text} {{$0,$1,$2,$3}}, {{$4,$5,$6,$7}}, {{$8,$9}}, {{$10,$11,$12,$13}};\", \"=f,=f,=f,=f,r,r,r,r,r,r,0,1,2,3\" {} : ({types}) -> !llvm.struct<(f32, f32, f32, f32)>",
                        args.join(", ")
                    ));
                    self.fields_into(&r, "!llvm.struct<(f32, f32, f32, f32)>", &mut acc[at..at + 4]);
                }
            }
        }
        Ok(acc)
    }

    fn add_const(&mut self, v: &str, c: u32) -> String {
        if c == 0 {
            return v.to_string();
        }
        let c = self.w.i32(i64::from(c));
        self.w.bin("addi", v, &c, "i32")
    }

    /// The A fragment (four b32 registers) of rows `m0..m0 + 16`, K `k0..`.
    fn load_a(&mut self, kind: DotKind, a: &Staged, l: &Lanes, m0: &str, k0: u32) -> Result<[String; 4]> {
        let e = a.tile.vec;
        let regs = if a.contiguous == 1 {
            // Matrix j: rows m0 + (j % 2) * 8 + i, chunk k0 + (j / 2) * e.
            let r = self.scaled(&l.jlo, 8);
            let r = self.w.bin("addi", &r, &l.i, "i32");
            let row = self.w.bin("addi", m0, &r, "i32");
            let c = self.scaled(&l.jhi, e);
            let col = self.add_const(&c, k0);
            self.ldmatrix(a, &row, &col, 4, false)
        } else if matches!(kind, DotKind::Mma16(_)) {
            // Stored K-major: matrix j covers m0 + (j % 2) * 8, k0 + (j / 2) * 8, lane i its row k.
            let r = self.scaled(&l.jlo, 8);
            let row = self.w.bin("addi", m0, &r, "i32");
            let c = self.scaled(&l.jhi, 8);
            let c = self.w.bin("addi", &c, &l.i, "i32");
            let col = self.add_const(&c, k0);
            self.ldmatrix(a, &row, &col, 4, true)
        } else {
            let mut regs = Vec::with_capacity(4);
            for (dm, dk) in [(0, 0), (8, 0), (0, 4), (8, 4)] {
                let row = self.w.bin("addi", m0, &l.g, "i32");
                let row = self.add_const(&row, dm);
                let col = self.add_const(&l.t, k0 + dk);
                regs.push(self.scalar_b32(a, &row, &col));
            }
            regs
        };
        let regs = if matches!(kind, DotKind::Tf32) { regs.iter().map(|r| self.tf32_bits(r)).collect() } else { regs };
        regs.try_into().map_err(|_| crate::error::BackendError::new(Stage::Layout, "an A fragment is four registers"))
    }

    /// B fragments (two b32 registers each) of N tiles `n0..n0 + 8` and,
    /// with `pair`, `n0 + dn..`, K `k0..`.
    #[allow(clippy::too_many_arguments)]
    fn load_b(
        &mut self,
        kind: DotKind,
        b: &Staged,
        l: &Lanes,
        n0: &str,
        dn: u32,
        k0: u32,
        pair: bool,
    ) -> Result<Vec<[String; 2]>> {
        let e = b.tile.vec;
        let count = if pair { 4 } else { 2 };
        let tile_of = |s: &mut Self| {
            let d = s.scaled(&l.jhi, dn);
            s.w.bin("addi", n0, &d, "i32")
        };
        let regs = if b.contiguous == 0 {
            // Stored N-major rows of K: matrix j is N tile j / 2, chunk j % 2.
            let n = tile_of(self);
            let n = self.w.bin("addi", &n, &l.i, "i32");
            let c = self.scaled(&l.jlo, e);
            let kk = self.add_const(&c, k0);
            self.ldmatrix(b, &kk, &n, count, false)
        } else if matches!(kind, DotKind::Mma16(_)) {
            // Stored K-major rows of N: lane i is row k0 + (j % 2) * 8 + i.
            let n = tile_of(self);
            let r = self.scaled(&l.jlo, 8);
            let r = self.w.bin("addi", &r, &l.i, "i32");
            let kk = self.add_const(&r, k0);
            self.ldmatrix(b, &kk, &n, count, true)
        } else {
            let mut regs = Vec::new();
            for tile in 0..count / 2 {
                for dk in [0, 4] {
                    let n = self.add_const(n0, tile * dn);
                    let n = self.w.bin("addi", &n, &l.g, "i32");
                    let kk = self.add_const(&l.t, k0 + dk);
                    regs.push(self.scalar_b32(b, &kk, &n));
                }
            }
            regs
        };
        let regs: Vec<String> =
            if matches!(kind, DotKind::Tf32) { regs.iter().map(|r| self.tf32_bits(r)).collect() } else { regs };
        Ok(regs.chunks(2).map(|c| [c[0].clone(), c.get(1).cloned().unwrap_or_else(|| c[0].clone())]).collect())
    }

    fn scaled(&mut self, v: &str, by: u32) -> String {
        let c = self.w.i32(i64::from(by));
        self.w.bin("muli", v, &c, "i32")
    }

    /// `ldmatrix.x{count}` of the matrices whose row this lane addresses at
    /// operand coordinate (`d0`, `d1`); returns `count` b32 registers.
    fn ldmatrix(&mut self, staged: &Staged, d0: &str, d1: &str, count: u32, trans: bool) -> Vec<String> {
        let ptr = self.tile_ptr(staged, d0, d1);
        let addr = self.w.def(format!("llvm.ptrtoint {ptr} : !llvm.ptr<3> to i32"));
        let outs: Vec<String> = (0..count).map(|i| format!("${i}")).collect();
        let trans = if trans { ".trans" } else { "" };
        let constraints = [vec!["=r"; count as usize], vec!["r"]].concat().join(",");
        let ty = format!("!llvm.struct<({})>", vec!["i32"; count as usize].join(", "));
        let r = self.w.def(format!(
            "llvm.inline_asm has_side_effects asm_dialect = att \"ldmatrix.sync.aligned.m8n8.x{count}{trans}.shared.b16 {{{}}}, [${count}];\", \"{constraints}\" {addr} : (i32) -> {ty}",
            outs.join(",")
        ));
        let mut regs = vec![String::new(); count as usize];
        self.fields_into(&r, &ty, &mut regs);
        regs
    }

    /// The fields of struct value `r` (of type `ty`), one per slot of `dst`:
    /// the results of an inline-asm statement.
    fn fields_into(&mut self, r: &str, ty: &str, dst: &mut [String]) {
        for (i, slot) in dst.iter_mut().enumerate() {
            *slot = self.w.def(format!("llvm.extractvalue {r}[{i}] : {ty}"));
        }
    }

    /// One 32-bit element of `staged` at (`d0`, `d1`), as i32 bits.
    fn scalar_b32(&mut self, staged: &Staged, d0: &str, d1: &str) -> String {
        let ptr = self.tile_ptr(staged, d0, d1);
        self.w.load(&ptr, "!llvm.ptr<3>", "i32", 4)
    }

    /// f32 bits rounded to tf32 (10 mantissa bits), to nearest even; NaN and
    /// infinities unchanged (the interpreter's `round_to_tf32`).
    fn tf32_bits(&mut self, x: &str) -> String {
        let exp_mask = self.w.i32(0x7F80_0000);
        let exp = self.w.bin("andi", x, &exp_mask, "i32");
        let special = self.w.cmpi("eq", &exp, &exp_mask, "i32");
        let c13 = self.w.i32(13);
        let c1 = self.w.i32(1);
        let lsb = self.w.bin("shrui", x, &c13, "i32");
        let lsb = self.w.bin("andi", &lsb, &c1, "i32");
        let half = self.w.i32(0x0FFF);
        let bias = self.w.bin("addi", &half, &lsb, "i32");
        let sum = self.w.bin("addi", x, &bias, "i32");
        let keep = self.w.i32(!0x1FFFi64 as i32 as i64);
        let rounded = self.w.bin("andi", &sum, &keep, "i32");
        self.w.select(&special, x, &rounded, "i32")
    }

    /// One fused multiply-add per product, `k` in order, per accumulator register.
    fn dot_fma(
        &mut self,
        a: &Staged,
        b: &Staged,
        map: &ThreadMap,
        k: u32,
        mut acc: Vec<String>,
        tf32: bool,
    ) -> Result<Vec<String>> {
        let base = self.base(map)?;
        let load = |s: &mut Self, st: &Staged, d0: &str, d1: &str| -> String {
            let ptr = s.tile_ptr(st, d0, d1);
            let bits = s.w.load(&ptr, "!llvm.ptr<3>", "i32", 4);
            let bits = if tf32 { s.tf32_bits(&bits) } else { bits };
            s.w.def(format!("llvm.bitcast {bits} : i32 to f32"))
        };
        let widen = |s: &mut Self, st: &Staged, d0: &str, d1: &str| -> String {
            let ptr = s.tile_ptr(st, d0, d1);
            let ty = elem_type(st.elem);
            let v = s.w.load(&ptr, "!llvm.ptr<3>", ty, memory_bytes(st.elem));
            s.w.conv("extf", &v, ty, "f32")
        };
        for (r, c) in map.regs.iter().enumerate() {
            let row = self.add_const(&base[0], c[0]);
            let col = self.add_const(&base[1], c[1]);
            for kk in 0..k {
                let kv = self.w.i32(i64::from(kk));
                let (x, y) = if memory_bytes(a.elem) == 4 {
                    (load(self, a, &row, &kv), load(self, b, &kv, &col))
                } else {
                    (widen(self, a, &row, &kv), widen(self, b, &kv, &col))
                };
                acc[r] = self.w.intr("fma", &[&x, &y, &acc[r]], "f32");
            }
        }
        Ok(acc)
    }
}

/// Per-lane quantities the fragment addressing uses.
struct Lanes {
    /// `lane % 8`: the matrix row this lane addresses.
    i: String,
    /// `(lane / 8) % 2` and `lane / 16`: which of the four matrices.
    jlo: String,
    jhi: String,
    /// `lane / 4` and `lane % 4`: the fragment's row group and thread in group.
    g: String,
    t: String,
}
