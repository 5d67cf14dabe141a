//! Pipelined block loads copied by the bulk tensor copy engine (TMA) on
//! sm_90a, completing on mbarriers, instead of by every thread's
//! `cp.async`s.
//!
//! A pipeline qualifies when every one of its loads does (one mechanism per
//! loop keeps the waits simple): a `load_block` whose copies are proven
//! 16-byte vectors (so its base and strides are 16-byte aligned, as the
//! engine requires), whose view is addressed by kernel parameters and the
//! program's coordinates alone ([`crate::tensor_map`]; see
//! [`Lowerer::view_base`]), whose tile is stored as `wgmma` swizzle panels
//! of at most 256 rows, and which `dot`s read (other readers may too: they
//! load from the buffer after the mbarrier wait, which makes the engine's
//! writes visible to the waiting thread, and the refill that overwrites the
//! buffer follows a barrier and a proxy fence). Then, with `S` stages:
//!
//! * before the prologue thread 0 initialises one mbarrier per stage (one
//!   arrival each) and a barrier publishes them;
//! * a trip's copies (prologue and refills alike) are issued by thread 0
//!   alone, and only for trips the loop runs: `mbarrier.arrive.expect_tx`
//!   of the stage's bytes, then one `cp.async.bulk.tensor.2d` per swizzle
//!   panel of each tile, its box at the block pointer's offsets; the engine
//!   zero-fills what lies outside the view, as `padding = "zero"` asks, and
//!   counts the whole box;
//! * trip `it` waits on stage `it % S`'s mbarrier for phase
//!   `(it / S) % 2` (its `(it / S)`-th completion): each thread waits for
//!   itself, so no barrier is needed for the data to be visible. The
//!   barrier before a refill stays: every warpgroup must be done with the
//!   buffer first (for deferred `wgmma`s it already follows their wait);
//! * after the loop every issued copy has been waited for; the mbarriers
//!   are invalidated between two barriers before their bytes are reused.
//!
//! The runtime encodes each view's tensor map at launch and passes it after
//! the declared parameters (see [`crate::tensor_map`]).

use tessera_tir::{BinaryOp, Constant, Evict, MetaExpr, Op, OpKind, Region, ScalarType, ValueId, walk_ops};

use super::Lowerer;
use super::pipeline::{Pipeline, Pipelined, Source, TileAt};
use super::text::memory_bytes;
use crate::error::{BackendError, Result, Stage};
use crate::layout::shared::SharedTile;
use crate::tensor_map::{Extent, TensorMapDesc};

/// The largest box extent the copy engine takes along any dimension.
const MAX_BOX: u32 = 256;

/// An offset `coord * stride` of a view's base: one more dimension of its
/// tensor map, of `extent`.
struct MapOffset {
    coord: ValueId,
    stride: Extent,
    extent: Extent,
}

/// How a pipeline's copies are made by the copy engine.
#[derive(Clone, Debug)]
pub(super) struct BulkCopies {
    /// Byte offset of stage 0's mbarrier in shared memory (8 bytes each,
    /// one per stage).
    pub barriers: u64,
    /// Per load of the pipeline: its tensor map (the kernel's `%tmapN`)
    /// and the box coordinates past the view's two (the program's
    /// coordinates its base is offset by, see [`Lowerer::view_base`]).
    pub maps: Vec<(usize, Vec<ValueId>)>,
    /// Whether a thread reads a buffer other than through `wgmma` (the
    /// refill then orders those generic reads before the engine's writes).
    pub generic_readers: bool,
    /// Bytes a stage's copies deliver (its transaction count).
    pub stage_bytes: u64,
}

impl Lowerer<'_, '_> {
    /// Makes `pipe`'s copies bulk tensor copies when every load qualifies
    /// (see the module docs; `op` is the `for` loop, `body` its body, and
    /// its copies were proven 16-byte vectors): registers their tensor maps
    /// and places the mbarriers after the buffers.
    pub(super) fn bulk_copy_plan(&mut self, op: &Op, body: &Region, pipe: &mut Pipeline) -> Result<()> {
        if self.codegen.cp_async_only || !pipe.wgmma {
            return Ok(());
        }
        let mut views = Vec::with_capacity(pipe.loads.len());
        for load in &pipe.loads {
            match self.tensor_map_of(op, load) {
                Some(view) => views.push(view),
                None => return Ok(()),
            }
        }
        let generic_readers = pipe.loads.iter().any(|l| self.read_other_than_by_dots(body, l.result));
        let maps = views.into_iter().map(|(desc, coords)| (self.tensor_map_param(desc), coords)).collect();
        let barriers = self.shared_pinned.next_multiple_of(8);
        self.shared_pinned = barriers + 8 * u64::from(pipe.stages);
        self.shared_bytes = self.shared_bytes.max(self.shared_pinned);
        let stage_bytes = pipe.loads.iter().map(|l| l.tile.size_bytes()).sum();
        pipe.bulk = Some(BulkCopies { barriers, maps, generic_readers, stage_bytes });
        Ok(())
    }

    /// The tensor map `load` is copied through and its box coordinates past
    /// the first two, when it qualifies.
    fn tensor_map_of(&self, op: &Op, load: &Pipelined) -> Option<(TensorMapDesc, Vec<ValueId>)> {
        let Source::Block { iter, .. } = &load.source else { return None };
        let elem = load.elem.scalar()?;
        let tile = load.tile;
        let panels = SharedTile::wgmma_panels(tile.rows, tile.cols, tile.bytes);
        if load.width * memory_bytes(load.elem) != 16 || panels != Some(tile) || tile.rows > MAX_BOX {
            return None;
        }
        // The engine's copies would drop an eviction hint the copies were
        // asked to carry.
        if self.l2_hints && load.evict != Evict::Normal {
            return None;
        }
        let (make, _) = self.block_origin(*op.operands.get(3 + iter)?, load.contiguous)?;
        // Operands: base, two extents, two strides, two offsets.
        let (fast, slow) = (load.contiguous, 1 - load.contiguous);
        // The contiguous stride is 1: the copies were proven vectors.
        let strides = make.operands.get(3..5)?;
        if make.operands.len() != 7 {
            return None;
        }
        let (base, offsets) = self.view_base(make.operands[0])?;
        let mut dims = vec![self.extent(make.operands[1 + fast])?, self.extent(make.operands[1 + slow])?];
        let mut map_strides = vec![self.extent(strides[slow])?];
        let mut box_dims = vec![tile.panel, tile.rows];
        let mut coords = Vec::with_capacity(offsets.len());
        for offset in offsets {
            dims.push(offset.extent);
            map_strides.push(offset.stride);
            box_dims.push(1);
            coords.push(offset.coord);
        }
        let desc =
            TensorMapDesc { base, elem, dims, strides: map_strides, box_dims, swizzle_bytes: tile.panel_bytes() };
        Some((desc, coords))
    }

    /// A block view's base as a pointer parameter and the offsets added to
    /// it, when each is `coord * stride` with `coord` one of the program's
    /// coordinates that the launch bounds ([`Self::program_coordinate`])
    /// and `stride` an integer parameter or a constant (`q + bi * stride_qb
    /// + hi * stride_qh`): each offset becomes a dimension of the tensor
    /// map, read with a box of one at `coord`, so one map serves every
    /// program. At most three (a map has five dimensions).
    fn view_base(&self, mut base: ValueId) -> Option<(String, Vec<MapOffset>)> {
        let mut offsets = Vec::new();
        loop {
            if let Some(param) = self.kernel.params.iter().find(|p| p.value == base) {
                // Outermost first, as written.
                offsets.reverse();
                return Some((param.name.clone(), offsets));
            }
            let def = self.defs.get(&base)?;
            if !matches!(def.kind, OpKind::AddPtr) || offsets.len() == 3 {
                return None;
            }
            let (pointer, offset) = (*def.operands.first()?, *def.operands.get(1)?);
            let product = self.defs.get(&offset)?;
            if !matches!(product.kind, OpKind::Binary(BinaryOp::Mul)) {
                return None;
            }
            let (x, y) = (*product.operands.first()?, *product.operands.get(1)?);
            let scaled = |coord: ValueId, stride: ValueId| {
                let extent = self.program_coordinate(coord)?;
                Some(MapOffset { coord, stride: self.extent(stride)?, extent })
            };
            offsets.push(scaled(x, y).or_else(|| scaled(y, x))?);
            base = pointer;
        }
    }

    /// When `v` is a coordinate of the program that a launch bounds, the
    /// extent of its map dimension: `program_id(k)` where the grid's axis
    /// `k` is a parameter or a constant; `x % p` for a parameter `p` and
    /// `x` from a `program_id` ([`Self::from_program_id`]): `p`; `program_id(k) / p` where
    /// the grid's axis `k` is `a * p`: `a` (`program_id(0) / heads` of a
    /// `batch * heads` grid is below `batch`). None of them is negative.
    fn program_coordinate(&self, v: ValueId) -> Option<Extent> {
        if self.elem_of(v).ok()?.scalar()? != ScalarType::I32 {
            return None;
        }
        let def = self.defs.get(&v)?;
        let grid_axis = |axis: u8| self.kernel.meta.grid.get(usize::from(axis));
        match def.kind {
            OpKind::ProgramId(axis) => match grid_axis(axis)? {
                MetaExpr::Param(p) => Some(Extent::Param(p.clone())),
                MetaExpr::Int(c) => Some(Extent::Const(*c)),
                _ => None,
            },
            OpKind::Binary(BinaryOp::Rem) => {
                let x = *def.operands.first()?;
                let divisor = self.extent(*def.operands.get(1)?)?;
                (self.from_program_id(x) && matches!(divisor, Extent::Param(_))).then_some(divisor)
            }
            OpKind::Binary(BinaryOp::Div) => self.quotient_bound(v),
            _ => None,
        }
    }

    /// Whether `v` is a `program_id`, or a quotient or remainder of one by
    /// a parameter (never negative: a grid's extents are positive).
    fn from_program_id(&self, v: ValueId) -> bool {
        let Some(def) = self.defs.get(&v) else { return false };
        match def.kind {
            OpKind::ProgramId(_) => true,
            OpKind::Binary(BinaryOp::Div | BinaryOp::Rem) => {
                let by_param = def.operands.get(1).and_then(|&d| self.extent(d));
                matches!(by_param, Some(Extent::Param(_)))
                    && def.operands.first().is_some_and(|&x| self.from_program_id(x))
            }
            _ => false,
        }
    }

    /// `program_id(k) / p` where the grid's axis `k` is `a * p` (either
    /// order): `a`.
    fn quotient_bound(&self, v: ValueId) -> Option<Extent> {
        let def = self.defs.get(&v)?;
        let OpKind::Binary(BinaryOp::Div) = def.kind else { return None };
        let OpKind::ProgramId(axis) = self.defs.get(def.operands.first()?)?.kind else { return None };
        let Extent::Param(p) = self.extent(*def.operands.get(1)?)? else { return None };
        let MetaExpr::Mul(x, y) = self.kernel.meta.grid.get(usize::from(axis))? else { return None };
        match (x.as_ref(), y.as_ref()) {
            (MetaExpr::Param(a), MetaExpr::Param(b)) if *b == p => Some(Extent::Param(a.clone())),
            (MetaExpr::Param(b), MetaExpr::Param(a)) if *b == p => Some(Extent::Param(a.clone())),
            _ => None,
        }
    }

    /// Whether a use of `v` in `body` is other than as an operand (not the
    /// accumulator) of a `dot`.
    fn read_other_than_by_dots(&self, body: &Region, v: ValueId) -> bool {
        let mut other = false;
        walk_ops(body, &mut |o: &Op| {
            for (i, &operand) in o.operands.iter().enumerate() {
                if operand == v && !(matches!(o.kind, OpKind::Dot { .. }) && i < 2) {
                    other = true;
                }
            }
        });
        other
    }

    /// A scalar the launch knows: an integer parameter or a constant.
    fn extent(&self, v: ValueId) -> Option<Extent> {
        if let Some(param) = self.kernel.params.iter().find(|p| p.value == v) {
            return Some(Extent::Param(param.name.clone()));
        }
        let def = self.defs.get(&v)?;
        if matches!(def.kind, OpKind::Cast) {
            // A widening integer cast (i32 shapes and strides become the
            // block pointer's i64 ones) keeps the value.
            let from = self.elem_of(*def.operands.first()?).ok()?.scalar()?;
            let to = self.elem_of(v).ok()?.scalar()?;
            let widening = matches!(from, ScalarType::I8 | ScalarType::I16 | ScalarType::I32 | ScalarType::I64)
                && to == ScalarType::I64;
            return if widening { self.extent(def.operands[0]) } else { None };
        }
        self.int_constant(v).map(Extent::Const)
    }

    fn int_constant(&self, v: ValueId) -> Option<i64> {
        match self.defs.get(&v)?.kind {
            OpKind::Constant(Constant::Int(c)) => Some(c),
            _ => None,
        }
    }

    /// The index of the kernel's tensor-map parameter for `desc` (one per
    /// distinct map).
    fn tensor_map_param(&mut self, desc: TensorMapDesc) -> usize {
        if let Some(i) = self.tensor_maps.iter().position(|d| *d == desc) {
            return i;
        }
        self.tensor_maps.push(desc);
        self.tensor_maps.len() - 1
    }

    /// The shared address (i32) of stage `slot`'s mbarrier.
    fn stage_barrier(&mut self, bulk: &BulkCopies, slot: &str) -> String {
        let base = self.shared_at(bulk.barriers);
        let eight = self.w.i32(8);
        let at = self.w.bin("muli", slot, &eight, "i32");
        let bar = self.w.gep(&base, &at, "i32", "!llvm.ptr<3>", "i8");
        self.w.def(format!("llvm.ptrtoint {bar} : !llvm.ptr<3> to i32"))
    }

    /// `if (thread 0 && extra) { body }`.
    fn on_first_thread(&mut self, extra: Option<&str>, body: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let mut first = self.thread_zero();
        if let Some(extra) = extra {
            first = self.w.and(&first, extra);
        }
        self.w.open(format!("scf.if {first} {{"));
        body(self)?;
        self.w.line("scf.yield");
        self.w.close("}");
        Ok(())
    }

    /// Before the prologue: one mbarrier per stage, expecting one arrival,
    /// visible to every thread and to the copy engine.
    pub(super) fn bulk_init(&mut self, bulk: &BulkCopies, stages: u32) -> Result<()> {
        self.on_first_thread(None, |s| {
            for stage in 0..stages {
                let slot = s.w.i32(i64::from(stage));
                let bar = s.stage_barrier(bulk, &slot);
                s.asm_effect("mbarrier.init.shared::cta.b64 [$0], 1;", &[(&bar, "i32")], true);
            }
            s.asm_memory_barrier("fence.mbarrier_init.release.cluster;");
            Ok(())
        })?;
        self.full_barrier();
        Ok(())
    }

    /// Issues one trip's copies (`tiles`, where each load reads) into stage
    /// `slot`, from thread 0 and only when `valid` (the trip runs).
    pub(super) fn bulk_issue(
        &mut self,
        pipe: &Pipeline,
        bulk: &BulkCopies,
        tiles: &[TileAt],
        slot: &str,
        valid: &str,
    ) -> Result<()> {
        self.on_first_thread(Some(valid), |s| {
            let bar = s.stage_barrier(bulk, slot);
            if bulk.generic_readers {
                // The barrier before a refill ordered every thread's reads
                // of the buffer (generic proxy) before this thread's; the
                // fence orders them before the engine's writes (async proxy).
                s.asm_memory_barrier("fence.proxy.async.shared::cta;");
            }
            let bytes = s.w.i32(i64::try_from(bulk.stage_bytes).unwrap_or(i64::MAX));
            s.asm_effect("mbarrier.arrive.expect_tx.shared::cta.b64 _, [$0], $1;", &[(&bar, "i32"), (&bytes, "i32")], true);
            for ((load, tile), (map, coords)) in pipe.loads.iter().zip(tiles).zip(&bulk.maps) {
                let mut outer = Vec::with_capacity(coords.len());
                for &c in coords {
                    outer.push(s.scalar(c)?.concat());
                }
                let TileAt::Block(bp) = tile else {
                    return Err(BackendError::new(Stage::MalformedIr, "a pointer tile planned for a bulk copy"));
                };
                let staged = s.pipeline_buffer(load, slot);
                let (fast, slow) = (load.contiguous, 1 - load.contiguous);
                let panel_bytes = i64::from(load.tile.rows) * i64::from(load.tile.panel_bytes());
                for panel in 0..load.tile.cols / load.tile.panel {
                    let offset = s.w.i32(i64::from(panel) * panel_bytes);
                    let dst = s.w.gep(&staged.base, &offset, "i32", "!llvm.ptr<3>", "i8");
                    let dst = s.w.def(format!("llvm.ptrtoint {dst} : !llvm.ptr<3> to i32"));
                    let along = s.w.i32(i64::from(panel * load.tile.panel));
                    let x = s.w.bin("addi", &bp.offsets[fast], &along, "i32");
                    let tmap = format!("%tmap{map}");
                    let rank = 2 + outer.len();
                    let box_at: Vec<String> = (0..rank).map(|i| format!("${}", 2 + i)).collect();
                    let asm = format!(
                        "cp.async.bulk.tensor.{rank}d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [$0], [$1, {{{}}}], [${}];",
                        box_at.join(", "),
                        2 + rank
                    );
                    let mut operands = vec![(dst.as_str(), "i32"), (tmap.as_str(), "!llvm.ptr"), (x.as_str(), "i32")];
                    operands.push((bp.offsets[slow].as_str(), "i32"));
                    operands.extend(outer.iter().map(|c| (c.as_str(), "i32")));
                    operands.push((bar.as_str(), "i32"));
                    s.asm_effect(&asm, &operands, true);
                }
            }
            Ok(())
        })
    }

    /// Waits until trip `it`'s copies into stage `slot` have landed: the
    /// mbarrier's phase `(it / stages) % 2` completes.
    pub(super) fn bulk_wait(&mut self, bulk: &BulkCopies, it: &str, slot: &str, stages: u32) {
        let bar = self.stage_barrier(bulk, slot);
        let stages = self.w.i32(i64::from(stages));
        let round = self.w.bin("divui", it, &stages, "i32");
        let one = self.w.i32(1);
        let parity = self.w.bin("andi", &round, &one, "i32");
        // PTX scopes labels to the braces, so the loop may be inlined often.
        self.asm_effect(
            "{ .reg .pred landed; tessera_wait: mbarrier.try_wait.parity.shared::cta.b64 landed, [$0], $1; @!landed bra tessera_wait; }",
            &[(&bar, "i32"), (&parity, "i32")], true,
        );
    }

    /// After the loop (every copy waited for): the mbarriers are
    /// invalidated once no thread waits on them any more, and before any
    /// thread reuses their bytes.
    pub(super) fn bulk_release(&mut self, bulk: &BulkCopies, stages: u32) -> Result<()> {
        self.full_barrier();
        self.on_first_thread(None, |s| {
            for stage in 0..stages {
                let slot = s.w.i32(i64::from(stage));
                let bar = s.stage_barrier(bulk, &slot);
                s.asm_effect("mbarrier.inval.shared::cta.b64 [$0];", &[(&bar, "i32")], true);
            }
            Ok(())
        })?;
        self.full_barrier();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tessera_tir::ScalarType;

    use crate::tensor_map::{Extent, TensorMapDesc};
    use crate::test_support::{LIGHTNING, MATMUL, compiled};
    use crate::{Codegen, CompiledKernel, GpuArch, Target};

    /// `kernel` of matmul.tsr at 128x256x64 on 8 warps, 3 stages.
    fn matmul(kernel: &str, target: Target) -> CompiledKernel {
        let consts = [("BLOCK_M", 128), ("BLOCK_N", 256), ("BLOCK_K", 64), ("warps", 8), ("stages", 3)];
        compiled(MATMUL, kernel, &consts, target)
    }

    fn param(name: &str) -> Extent {
        Extent::Param(name.to_string())
    }

    /// `matmul_aligned`'s views are kernel parameters with proven 16-byte
    /// rows: on sm_90a both tiles come from tensor maps that the launch
    /// passes after the declared parameters, A as one 128-byte swizzle
    /// panel, B as four.
    #[test]
    fn aligned_matmul_views_become_tensor_maps() {
        let compiled = matmul("matmul_aligned", Target::new(GpuArch::Sm90a));
        // A bf16 view of `base`, rows of 128-byte panels.
        let view = |base: &str, dims: [&str; 2], stride: &str, rows: u32| TensorMapDesc {
            base: base.into(),
            elem: ScalarType::BF16,
            dims: dims.iter().map(|d| param(d)).collect(),
            strides: vec![param(stride)],
            box_dims: vec![64, rows],
            swizzle_bytes: 128,
        };
        let a = view("a", ["K", "M"], "stride_am", 128);
        let b = view("b", ["N", "K"], "stride_bk", 64);
        assert_eq!(compiled.tensor_maps, vec![a, b]);
        let mlir = &compiled.stages.mlir;
        assert_eq!(mlir.matches("nvvm.grid_constant").count(), 2, "two tensor-map parameters");
        assert!(compiled.ptx.contains(".param .align 64 .b8 matmul_aligned_param_13[128]"), "by value, in order");
        assert!(!mlir.contains("cp.async.cg") && !mlir.contains("cp.async.wait_group"), "no thread copies");
        let (prologue, rest) = mlir.split_once("} do {").expect("one loop");
        let (body, after) = rest.split_once("wgmma.wait_group.sync.aligned 0;").expect("the loop ends");
        let copy = "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes";
        // A trip: one copy of A, four of B; two trips ahead, one refill.
        assert_eq!(prologue.matches(copy).count(), 10);
        assert_eq!(body.matches(copy).count(), 5);
        assert_eq!(prologue.matches("mbarrier.init.shared::cta.b64").count(), 3, "one mbarrier a stage");
        // 128x64 + 64x256 bf16 a stage.
        assert_eq!(body.matches("mbarrier.arrive.expect_tx").count(), 1);
        assert!(body.contains("arith.constant 49152 : i32"), "stage bytes");
        // Deferred wgmma: wait on the stage, issue, wait for the previous
        // trip's products, one barrier, then refill; no barrier before the
        // products (each thread waited on the mbarrier itself).
        let at = |needle: &str| body.find(needle).unwrap_or_else(|| panic!("{needle} not in the loop"));
        let (wait, read, previous, barrier, refill) = (
            at("mbarrier.try_wait.parity"),
            at("wgmma.mma_async"),
            at("wgmma.wait_group.sync.aligned 1;"),
            at("nvvm.barrier0"),
            at(copy),
        );
        assert!(wait < read && read < previous && previous < barrier && barrier < refill);
        assert_eq!(body.matches("nvvm.barrier0").count(), 1);
        assert_eq!(after.matches("mbarrier.inval.shared::cta.b64").count(), 3);
    }

    /// `kernel` of lightning_attn.tsr at DK 128, 64-column slices, on 8
    /// warps, 3 stages, for sm_90a.
    fn lightning(kernel: &str) -> CompiledKernel {
        let consts = [("DK", 128), ("BLOCK", 64), ("BLOCK_E", 64), ("warps", 8), ("stages", 3)];
        compiled(LIGHTNING, kernel, &consts, Target::new(GpuArch::Sm90a))
    }

    /// Lightning attention's walk reads q, k and v through block views
    /// based at `x + bi * stride_xb + hi * stride_xh`, with `bi =
    /// program_id(0) / heads` on a `batch * heads` grid and `hi =
    /// program_id(0) % heads`: one rank-4 map per tensor, (width, tokens,
    /// batch, heads), each box one (batch, head) wide. `v` is also read by
    /// the threads (its rows scaled for the state): each refill fences
    /// the proxies before the engine overwrites a buffer.
    #[test]
    fn views_offset_by_program_coordinates_become_rank_4_maps() {
        let compiled = lightning("la_output_bf16");
        let map = |base: &str, width: Extent, row_stride: &str, box_width: u32| TensorMapDesc {
            base: base.into(),
            elem: ScalarType::BF16,
            dims: vec![width, param("n"), param("batch"), param("heads")],
            strides: [row_stride, &format!("stride_{base}b"), &format!("stride_{base}h")].map(param).to_vec(),
            box_dims: vec![box_width, 64, 1, 1],
            swizzle_bytes: 128,
        };
        let q = map("q", Extent::Const(128), "stride_qn", 64);
        let k = map("k", Extent::Const(128), "stride_kn", 64);
        let v = map("v", param("ev"), "stride_vn", 64);
        assert_eq!(compiled.tensor_maps, vec![q, k, v]);
        let mlir = &compiled.stages.mlir;
        assert!(!mlir.contains("cp.async.cg"), "no thread copies");
        let copy = "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes";
        let (walk, _) = mlir.split_once("mbarrier.inval").expect("the walk ends");
        let (prologue, body) = walk.rsplit_once("} do {").expect("the walk");
        assert_eq!(prologue.matches(copy).count(), 10, "two trips ahead");
        // A trip: q and k in two 128-byte panels each, v in one.
        assert_eq!(body.matches(copy).count(), 5);
        let (fence, refill) = (body.find("fence.proxy.async.shared::cta").expect("a proxy fence"), body.find(copy));
        assert!(refill.is_some_and(|r| fence < r), "the fence precedes the refill's copies");
    }

    /// A view based at coordinates the launch does not bound (the chained
    /// walk takes its (batch, head) from a ticket) keeps `cp.async`.
    #[test]
    fn views_at_other_offsets_keep_thread_copies() {
        let compiled = lightning("la_chained_bf16");
        assert!(compiled.tensor_maps.is_empty());
        assert!(compiled.stages.mlir.contains("cp.async.cg"));
    }

    /// Without proven alignment (`matmul_block_ptr`), on sm_80, or asked
    /// not to, the copies stay `cp.async`s and the kernel takes no map.
    #[test]
    fn other_pipelines_keep_thread_copies() {
        let cp_async_only = Codegen { cp_async_only: true, ..Default::default() };
        for (kernel, target) in [
            ("matmul_block_ptr", Target::new(GpuArch::Sm90a)),
            ("matmul_aligned", Target::new(GpuArch::Sm80)),
            ("matmul_aligned", Target::new(GpuArch::Sm90a).with_codegen(cp_async_only)),
        ] {
            let compiled = matmul(kernel, target);
            assert!(compiled.tensor_maps.is_empty(), "{kernel} {target:?}");
            assert!(!compiled.stages.mlir.contains("mbarrier"), "{kernel} {target:?}");
            assert!(compiled.stages.mlir.contains("cp.async.cg"), "{kernel} {target:?}");
        }
    }
}
