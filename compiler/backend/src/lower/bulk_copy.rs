//! Pipelined block loads copied by the bulk tensor copy engine (TMA) on
//! sm_90a, completing on mbarriers, instead of by every thread's
//! `cp.async`s.
//!
//! A pipeline qualifies when every one of its loads does (one mechanism per
//! loop keeps the waits simple): a `load_block` whose copies are proven
//! 16-byte vectors (so its base and strides are 16-byte aligned, as the
//! engine requires), whose view is addressed by kernel parameters alone
//! ([`crate::tensor_map`]), whose tile is stored as `wgmma` swizzle panels
//! of at most 256 rows, and which only `wgmma`s read (they read through the
//! async proxy the engine writes through; another reader would need a proxy
//! fence). Then, with `S` stages:
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

use tessera_tir::{Constant, Op, OpKind, Region, ScalarType, ValueId, walk_ops};

use super::Lowerer;
use super::pipeline::{Pipeline, Pipelined, Source, TileAt};
use super::text::memory_bytes;
use crate::error::{BackendError, Result, Stage};
use crate::layout::shared::SharedTile;
use crate::tensor_map::{Extent, TensorMapDesc};

/// The largest box extent the copy engine takes along any dimension.
const MAX_BOX: u32 = 256;

/// How a pipeline's copies are made by the copy engine.
#[derive(Clone, Debug)]
pub(super) struct BulkCopies {
    /// Byte offset of stage 0's mbarrier in shared memory (8 bytes each,
    /// one per stage).
    pub barriers: u64,
    /// Per load of the pipeline: its tensor map (the kernel's `%tmapN`).
    pub maps: Vec<usize>,
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
        let mut descs = Vec::with_capacity(pipe.loads.len());
        for load in &pipe.loads {
            match self.tensor_map_of(op, body, load) {
                Some(desc) => descs.push(desc),
                None => return Ok(()),
            }
        }
        let maps = descs.into_iter().map(|desc| self.tensor_map_param(desc)).collect();
        let barriers = self.shared_pinned.next_multiple_of(8);
        self.shared_pinned = barriers + 8 * u64::from(pipe.stages);
        self.shared_bytes = self.shared_bytes.max(self.shared_pinned);
        let stage_bytes = pipe.loads.iter().map(|l| l.tile.size_bytes()).sum();
        pipe.bulk = Some(BulkCopies { barriers, maps, stage_bytes });
        Ok(())
    }

    /// The tensor map `load` is copied through, when it qualifies.
    fn tensor_map_of(&self, op: &Op, body: &Region, load: &Pipelined) -> Option<TensorMapDesc> {
        let Source::Block { iter, .. } = &load.source else { return None };
        let elem = load.elem.scalar()?;
        let tile = load.tile;
        let panels = SharedTile::wgmma_panels(tile.rows, tile.cols, tile.bytes);
        if load.width * memory_bytes(load.elem) != 16 || panels != Some(tile) || tile.rows > MAX_BOX {
            return None;
        }
        // Panels mean its `dot` readers run on `wgmma` (`pipeline_plan`);
        // they must be its only readers.
        if !self.read_only_by_dots(body, load.result) {
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
        let base = self.kernel.params.iter().find(|p| p.value == make.operands[0])?.name.clone();
        let dims = vec![self.extent(make.operands[1 + fast])?, self.extent(make.operands[1 + slow])?];
        Some(TensorMapDesc {
            base,
            elem,
            dims,
            strides: vec![self.extent(strides[slow])?],
            box_dims: vec![tile.panel, tile.rows],
            swizzle_bytes: tile.panel_bytes(),
        })
    }

    /// Whether every use of `v` in `body` is an operand (not the
    /// accumulator) of a `dot`.
    fn read_only_by_dots(&self, body: &Region, v: ValueId) -> bool {
        let mut only_dots = true;
        walk_ops(body, &mut |o: &Op| {
            for (i, &operand) in o.operands.iter().enumerate() {
                if operand == v && !(matches!(o.kind, OpKind::Dot { .. }) && i < 2) {
                    only_dots = false;
                }
            }
        });
        only_dots
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
            let bytes = s.w.i32(i64::try_from(bulk.stage_bytes).unwrap_or(i64::MAX));
            s.asm_effect("mbarrier.arrive.expect_tx.shared::cta.b64 _, [$0], $1;", &[(&bar, "i32"), (&bytes, "i32")], true);
            for ((load, tile), &map) in pipe.loads.iter().zip(tiles).zip(&bulk.maps) {
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
                    s.asm_effect(
                        "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [$0], [$1, {$2, $3}], [$4];",
                        &[(&dst, "i32"), (&tmap, "!llvm.ptr"), (&x, "i32"), (&bp.offsets[slow], "i32"), (&bar, "i32")], true,
                    );
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
    use tessera_tir::{ConstValue, ScalarType};

    use crate::tensor_map::{Extent, TensorMapDesc};
    use crate::{Codegen, CompiledKernel, GpuArch, Target, compile_kernel};

    const MATMUL: &str = include_str!("../../../../kernels-dsl/matmul.tsr");

    /// `kernel` of matmul.tsr at 128x256x64 on 8 warps, 3 stages.
    fn matmul(kernel: &str, target: Target) -> CompiledKernel {
        let consts: Vec<(String, ConstValue)> =
            [("BLOCK_M", 128), ("BLOCK_N", 256), ("BLOCK_K", 64), ("warps", 8), ("stages", 3)]
                .iter()
                .map(|(n, v)| (n.to_string(), ConstValue::Int(*v)))
                .collect();
        let tir = tessera_frontend::compile_str("matmul.tsr", MATMUL, kernel, &consts).expect("front end");
        compile_kernel(&tir, &target).expect("backend")
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
