//! Software pipelining of `for` loops that feed `dot` from block pointers,
//! over `num_stages` shared-memory buffers filled with `cp.async` (sm_80+).
//! Loads of pointer tiles join the same pipeline on their own terms (see
//! [`super::pointer_pipeline`]); what follows is the block-pointer case and
//! the loop's shape, which both share.
//!
//! A `load_block` in the body of a loop with a `dot` qualifies when its
//! block pointer is a loop-carried value that the body advances by
//! loop-invariant amounts, its padding is zero, and its result is read only
//! in the iteration (not yielded) and never as an accumulator; readers
//! other than `dot` operands (say, a row scaling before a `dot`) gather the
//! tile from the buffer into registers. Each qualifying load gets `num_stages` buffers (swizzled
//! [`SharedTile`]s with the contiguous axis `order[0]`), pinned at the start
//! of shared memory for the loop's lifetime. Then:
//!
//! * prologue: copies for iterations `0..stages - 1` are issued, one commit
//!   group per iteration;
//! * each iteration waits until at most `stages - 2` groups are pending (its
//!   own tile has landed), meets a barrier (every thread's copies are
//!   visible, and every thread is done reading the buffer about to be
//!   refilled), issues the copies of iteration `it + stages - 1` into that
//!   buffer, commits, and runs its `dot`s straight from its buffer;
//! * after the loop all groups are drained.
//!
//! When every `dot` of the body is a `wgmma` that only accumulates into a
//! loop-carried value (`acc = dot(a, b, acc)` with both operands pipelined,
//! the matmul shape), its completion is *deferred*: iteration `it` issues
//! its `wgmma`s and waits only for those of iteration `it - 1`
//! (`wgmma.wait_group 1`), so the tensor cores always have the next
//! product queued. The refill then moves behind the dots and a second
//! barrier (every warpgroup is done with the buffer `it - 1` read), and the
//! accumulators are waited for once, after the loop.
//!
//! Copies are `cp.async.cg.shared.global` of 16 bytes (`.ca` with 4 or 8
//! for narrower vectors) per thread-vector along `order[0]` with a source
//! size: 0 for rows outside the view or iterations past the end (the
//! hardware zero-fills, no memory is read), fewer bytes at the view's edge
//! along `order[0]`. A uniform check (stride 1 along `order[0]`, aligned
//! addresses) guards this; otherwise the copy is done element by element
//! through registers, with the same masks, as a rolled loop. Iterations past
//! the end still commit (empty) groups, so the wait count stays uniform. In the vector
//! version, refills of at least [`MIN_INTERIOR_COPIES`] copies per thread
//! test once (uniformly) whether every tile lies inside its view; then each
//! copy is a full `cp.async` a uniform distance from the thread's first
//! (and, where the swizzle allows, a constant distance in shared memory).
//!
//! On sm_90a a loop whose loads all qualify copies through the bulk tensor
//! copy engine instead, waiting on mbarriers rather than commit groups
//! ([`super::bulk_copy`]); the buffers, stages and deferred `wgmma`s are the
//! same.

use std::collections::{HashMap, HashSet};

use tessera_tir::{Evict, Op, OpKind, Padding, Region, Type, ValueId, walk_ops};

use super::Lowerer;
use super::block::BlockPtr;
use super::bulk_copy::BulkCopies;
use super::dot::Staged;
use super::text::{memory_bytes, memory_type};
use crate::error::{BackendError, Result, Stage};
use crate::layout::{Layout, ThreadMap, shared::SharedTile, wgmma::WGMMA_TILE_ALIGN};

/// Copies per thread per refill from which refills get an unchecked
/// version for tiles inside their views ([`Lowerer::pipeline_issue`]).
const MIN_INTERIOR_COPIES: usize = 8;

/// Independent element copies per thread per trip of the rolled element
/// copy ([`Lowerer::copy_elements`]).
const ELEMENT_COPY_UNROLL: u32 = 4;

/// How the copies of a pipelined loop are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CopyMode {
    /// Each refill checks whether its copies may be vectors (no loop
    /// version was chosen: outside pipelined loops, or no vector copies).
    Checked,
    /// Every copy is a `cp.async` vector: the loop version for tiles whose
    /// strides, base and offsets were found aligned before the loop.
    Vector,
    /// Element by element through registers: the other version.
    Elements,
}

/// One pipelined load.
#[derive(Clone, Debug)]
pub(super) struct Pipelined {
    /// The load's result (held in shared memory, never in registers).
    pub result: ValueId,
    pub source: Source,
    /// Byte offset of buffer 0 in shared memory; buffers follow each other.
    pub offset: u64,
    pub tile: SharedTile,
    /// `order[0]`: the axis stored contiguously.
    pub contiguous: usize,
    pub elem: tessera_tir::ElemType,
    /// Elements per copy along `order[0]`.
    pub width: u32,
    /// The load's L2 eviction hint.
    pub evict: Evict,
}

/// What a pipelined load reads.
#[derive(Clone, Debug)]
pub(super) enum Source {
    /// A `load_block`: the block pointer's position among the loop's iters,
    /// the `advance` amounts per axis (loop-invariant scalars) and the axes
    /// it checks against its view.
    Block { iter: usize, deltas: Vec<ValueId>, checked: Vec<u32> },
    /// A `load` of a pointer tile ([`super::pointer_pipeline`]).
    Pointers(PointerTile),
}

/// A pipelined `load` of a pointer tile: its `pointers` and `mask`, and
/// when the pointers are carried by the loop, their position among its
/// iters and the `next` trip's (yielded by the body); computed by the
/// body's ops `slice` (indices into the body, in order) from the induction
/// variable, carried `pointers` and loop-invariant values; all in `layout`,
/// the pointers'.
#[derive(Clone, Debug)]
pub(super) struct PointerTile {
    pub pointers: ValueId,
    pub carried: Option<(usize, ValueId)>,
    pub mask: Option<ValueId>,
    pub slice: Vec<usize>,
    pub layout: Layout,
}

/// Where the copies of one load for one trip read: a block pointer, or a
/// pointer tile's registers and its mask's.
pub(super) enum TileAt {
    Block(BlockPtr),
    Pointers { pointers: Vec<String>, mask: Option<Vec<String>> },
}

impl Pipelined {
    /// A load of a 2-D tile of `shape`, contiguous along axis `contiguous`,
    /// copied `width` elements at a time; its buffers are placed later.
    pub(super) fn new(
        result: ValueId,
        source: Source,
        shape: &[u32],
        contiguous: usize,
        elem: tessera_tir::ElemType,
        width: u32,
        evict: Evict,
    ) -> Self {
        let tile = SharedTile::swizzled(shape[1 - contiguous], shape[contiguous], memory_bytes(elem));
        Pipelined { result, source, offset: 0, tile, contiguous, elem, width, evict }
    }

    /// The axes a block load checks against its view (none for pointer
    /// tiles: their masks say what to read).
    fn checked(&self) -> &[u32] {
        match &self.source {
            Source::Block { checked, .. } => checked,
            Source::Pointers(_) => &[],
        }
    }

    /// The block's extent per axis of the view (the tile stores
    /// `contiguous` as its columns).
    pub(super) fn block_shape(&self) -> [u32; 2] {
        let shape = [self.tile.rows, self.tile.cols];
        if self.contiguous == 1 { shape } else { [shape[1], shape[0]] }
    }
}

/// A loop being pipelined: its loads, stages, and the live iteration counter.
#[derive(Clone, Debug)]
pub(super) struct Pipeline {
    pub loads: Vec<Pipelined>,
    pub stages: u32,
    /// Whether some buffer is a `wgmma` operand (read through the async
    /// proxy, so each wait is followed by `fence.proxy.async`).
    pub wgmma: bool,
    /// The deferred `wgmma` accumulators (see the module docs): the results
    /// of their dots, and their positions among the loop's iters. Empty when
    /// the loop waits for each `wgmma` where it is issued.
    pub deferred: Vec<(ValueId, usize)>,
    /// Copies by the bulk tensor copy engine instead of `cp.async`
    /// ([`super::bulk_copy`]); planned after the loop's copies are proven
    /// vectors.
    pub bulk: Option<BulkCopies>,
}

impl Lowerer<'_, '_> {
    /// The loads of a `for` loop's `body` to pipeline (none when
    /// `num_stages < 2`).
    pub(super) fn pipeline_plan(&mut self, body: &Region) -> Result<Option<Pipeline>> {
        let stages = self.kernel.meta.num_stages;
        if stages < 2 {
            return Ok(None);
        }
        let Some(terminator) = body.ops.last().filter(|t| matches!(t.kind, OpKind::Yield)) else {
            return Ok(None);
        };
        // Only loops that multiply are pipelined: their tiles feed `dot`s,
        // directly or through elementwise ops (a row scaling, a cast).
        if !body.ops.iter().any(|o| matches!(o.kind, OpKind::Dot { .. })) {
            return Ok(None);
        }
        // Prefetching would issue the next trip's loads before this trip's
        // `fence`, which orders them after it.
        let mut fenced = false;
        walk_ops(body, &mut |o: &Op| fenced |= matches!(o.kind, OpKind::Fence));
        if fenced {
            return Ok(None);
        }
        let mut defined_in_body = HashSet::new();
        walk_ops(body, &mut |o: &Op| defined_in_body.extend(o.results.iter().copied()));
        let mut uses: Vec<(&Op, usize, ValueId)> = Vec::new();
        walk_ops(body, &mut |o: &Op| {
            for (i, &v) in o.operands.iter().enumerate() {
                uses.push((o, i, v));
            }
        });
        // Read only by ops of this iteration (not yielded), never as a `dot`
        // accumulator; readers other than `dot` operands gather the tile
        // from its buffer ([`Self::load_tile`]).
        let read_in_trip = |result: ValueId| {
            !terminator.operands.contains(&result)
                && !uses.iter().any(|(o, i, v)| *v == result && matches!(o.kind, OpKind::Dot { .. }) && *i >= 2)
        };
        let mut loads = Vec::new();
        let mut offset = self.shared_pinned;
        for load in &body.ops {
            let planned = match self.block_load_plan(body, terminator, &defined_in_body, load)? {
                Some(planned) => Some(planned),
                None => self.pointer_load_plan(body, load),
            };
            if let Some(planned) = planned.filter(|p| read_in_trip(p.result)) {
                loads.push(planned);
            }
        }
        if loads.is_empty() {
            return Ok(None);
        }
        // Loads whose `dot` readers all run on `wgmma` get the swizzle
        // panels its descriptors name, 1024-byte aligned (other readers
        // gather from panels as from any tile).
        let wgmma_dots = self.wgmma_dots(body, &loads);
        let mut wgmma = false;
        for load in &mut loads {
            let readers: Vec<&Op> = uses
                .iter()
                .filter(|(o, _, v)| *v == load.result && matches!(o.kind, OpKind::Dot { .. }))
                .map(|(o, _, _)| *o)
                .collect();
            let all_wgmma =
                !readers.is_empty() && readers.iter().all(|o| wgmma_dots.iter().any(|d| std::ptr::eq(*d, *o)));
            let panels = SharedTile::wgmma_panels(load.tile.rows, load.tile.cols, load.tile.bytes);
            if let (true, Some(tile)) = (all_wgmma, panels) {
                load.tile = tile;
                wgmma = true;
            }
        }
        for load in &mut loads {
            if wgmma {
                offset = offset.next_multiple_of(u64::from(WGMMA_TILE_ALIGN));
            }
            load.offset = offset;
            offset += (load.tile.size_bytes() * u64::from(stages)).next_multiple_of(128);
        }
        self.wgmma_buffers |= wgmma;
        self.shared_pinned = offset;
        self.shared_bytes = self.shared_bytes.max(offset);
        let deferred =
            if wgmma { self.deferred_accumulators(body, terminator, &loads, &wgmma_dots, &uses) } else { Vec::new() };
        Ok(Some(Pipeline { loads, stages, wgmma, deferred, bulk: None }))
    }

    /// The pipelining plan of `load` when it is a `load_block` of a
    /// loop-carried block pointer that the body advances by loop-invariant
    /// amounts, padded with zeros.
    fn block_load_plan(
        &self,
        body: &Region,
        terminator: &Op,
        defined_in_body: &HashSet<ValueId>,
        load: &Op,
    ) -> Result<Option<Pipelined>> {
        let OpKind::LoadBlock { boundary_check, padding: Padding::Zero, evict } = &load.kind else { return Ok(None) };
        let (Some(&ptr), Some(&result)) = (load.operands.first(), load.results.first()) else { return Ok(None) };
        let Some(iter) = body.args.iter().skip(1).position(|&a| a == ptr) else { return Ok(None) };
        // The yielded pointer must be `advance(ptr, invariant deltas)`.
        let Some(&next) = terminator.operands.get(iter) else { return Ok(None) };
        let Some(advance) = body.ops.iter().find(|o| o.results.first() == Some(&next)) else { return Ok(None) };
        if !matches!(advance.kind, OpKind::Advance) || advance.operands.first() != Some(&ptr) {
            return Ok(None);
        }
        let deltas: Vec<ValueId> = advance.operands[1..].to_vec();
        if deltas.iter().any(|d| defined_in_body.contains(d)) {
            return Ok(None);
        }
        let Some(Type::Tensor { elem, shape }) = self.kernel.values.get(result.0 as usize) else { return Ok(None) };
        let Some(order) = self.lk.block_orders.get(&ptr) else { return Ok(None) };
        let (Some(&fast), 2) = (order.first(), shape.len()) else { return Ok(None) };
        if fast > 1 {
            return Ok(None);
        }
        let id = self.op_id(load)?;
        let width = self.lk.accesses.get(&id).map_or(1, |a| a.width);
        Ok(Some(Pipelined::new(
            result,
            Source::Block { iter, deltas, checked: boundary_check.clone() },
            shape,
            fast as usize,
            *elem,
            width,
            *evict,
        )))
    }

    /// The accumulators whose `wgmma` waits may be deferred by one
    /// iteration: every `dot` of the body (nested regions included) is one
    /// of `wgmma_dots`, reads both operands from `loads`' buffers, takes its
    /// accumulator from a loop-carried value that nothing else reads, and
    /// yields its result at that value's position and nowhere else. Any
    /// other `dot` keeps all of them synchronous (empty result).
    fn deferred_accumulators(
        &self,
        body: &Region,
        terminator: &Op,
        loads: &[Pipelined],
        wgmma_dots: &[&Op],
        uses: &[(&Op, usize, ValueId)],
    ) -> Vec<(ValueId, usize)> {
        let mut dots = Vec::new();
        walk_ops(body, &mut |o: &Op| {
            if matches!(o.kind, OpKind::Dot { .. }) {
                dots.push(o as *const Op);
            }
        });
        let pipelined = |v: Option<&ValueId>| v.is_some_and(|v| loads.iter().any(|l| l.result == *v));
        let used_once = |v: ValueId| uses.iter().filter(|(_, _, u)| *u == v).count() == 1;
        let mut deferred = Vec::with_capacity(dots.len());
        for dot in dots {
            let Some(op) = wgmma_dots.iter().find(|d| std::ptr::eq(**d, dot)) else { return Vec::new() };
            let (Some(&acc), Some(&result)) = (op.operands.get(2), op.results.first()) else { return Vec::new() };
            let Some(position) = body.args.iter().skip(1).position(|&a| a == acc) else { return Vec::new() };
            let yields_it = terminator.operands.get(position) == Some(&result);
            if !(pipelined(op.operands.first()) && pipelined(op.operands.get(1)) && yields_it) {
                return Vec::new();
            }
            if !(used_once(acc) && used_once(result)) {
                return Vec::new();
            }
            deferred.push((result, position));
        }
        deferred
    }

    /// The `dot`s of `body` that may run on `wgmma` once `loads` are
    /// pipelined: [`Self::wgmma_accumulator`] holds, and each operand is
    /// either among them with rows of whole swizzle panels or not
    /// pipelined at all (it is then staged from registers, see
    /// [`Self::dot`]).
    fn wgmma_dots<'b>(&self, body: &'b Region, loads: &[Pipelined]) -> Vec<&'b Op> {
        if !self.lk.wgmma {
            return Vec::new();
        }
        let usable = |v: Option<&ValueId>| {
            v.is_some_and(|v| match loads.iter().find(|l| l.result == *v) {
                Some(l) => SharedTile::wgmma_panels(l.tile.rows, l.tile.cols, l.tile.bytes).is_some(),
                None => true,
            })
        };
        body.ops
            .iter()
            .filter(|o| matches!(o.kind, OpKind::Dot { .. }))
            .filter(|o| usable(o.operands.first()) && usable(o.operands.get(1)))
            .filter(|o| self.wgmma_accumulator(o))
            .collect()
    }

    /// Whether `iv` is an iteration the loop runs (its own condition).
    pub(super) fn loop_runs(&mut self, iv: &str, upper: &str, step: &str, ty: &str) -> String {
        let zero = self.w.int(0, ty);
        let positive = self.w.cmpi("sgt", step, &zero, ty);
        let below = self.w.cmpi("slt", iv, upper, ty);
        let above = self.w.cmpi("sgt", iv, upper, ty);
        self.w.select(&positive, &below, &above, "i1")
    }

    /// Whether every pipelined copy of `op` is known, at compile time, to
    /// be a `cp.async` vector ([`Self::pipeline_vector_condition`] always
    /// holds): the block pointer comes from `make_block_ptr` (through
    /// `advance`s), its stride along the copy is known to be 1 (the constant
    /// or an `@contig` parameter, [`crate::layout::LaidOutKernel::unit_values`]), and the axis
    /// info proves the base aligned to a vector and the other strides, the
    /// offset along the copy and its advance multiples of the vector width
    /// (`@div(16)` parameters give this). The loop then has one version.
    pub(super) fn vector_copies_proven(&self, op: &Op, pipe: &Pipeline) -> bool {
        pipe.loads.iter().all(|load| {
            let bytes = memory_bytes(load.elem);
            // Pointer tiles are planned only with proven vectors.
            let Source::Block { iter, deltas, .. } = &load.source else { return true };
            if !matches!(load.width * bytes, 4 | 8 | 16) {
                return true;
            }
            let (width, rank, dim) = (u64::from(load.width), deltas.len(), load.contiguous);
            let Some(&init) = op.operands.get(3 + iter) else { return false };
            let Some((make, advances)) = self.block_origin(init, dim) else { return false };
            // Operands: base, `rank` shapes, `rank` strides, `rank` offsets.
            let (Some(&base), Some(strides), Some(&offset)) = (
                make.operands.first(),
                make.operands.get(1 + rank..1 + 2 * rank),
                make.operands.get(1 + 2 * rank + dim),
            ) else {
                return false;
            };
            self.divisible(base, width * u64::from(bytes))
                && strides
                    .iter()
                    .enumerate()
                    .all(|(d, &s)| if d == dim { self.lk.unit_values.contains(&s) } else { self.divisible(s, width) })
                && self.divisible(offset, width)
                && advances.iter().all(|&a| self.divisible(a, width))
                && deltas.get(dim).is_some_and(|&delta| self.divisible(delta, width))
        })
    }

    /// Whether the axis info proves scalar `v` (or every element along a
    /// tensor's first axis) a multiple of `by`.
    pub(super) fn divisible(&self, v: ValueId, by: u64) -> bool {
        self.lk.axis_info.get(&v).is_some_and(|i| i.divisibility[0] >= by)
    }

    /// The `make_block_ptr` a block pointer value comes from through
    /// `advance`s, and those advances' amounts along axis `dim`.
    pub(super) fn block_origin(&self, v: ValueId, dim: usize) -> Option<(&Op, Vec<ValueId>)> {
        tessera_tir::slice::block_origin(&self.defs, &HashMap::new(), v, dim)
    }

    /// The uniform condition (i1) under which every copy of `pipe` may be a
    /// `cp.async` vector in every iteration: each block pointer's fast-path
    /// condition at its loop-entry value (see [`Self::block_fast_path`]),
    /// and its advance along the contiguous axis a multiple of the vector.
    /// `None` when no load copies vectors at all.
    pub(super) fn pipeline_vector_condition(&mut self, op: &Op, pipe: &Pipeline) -> Result<Option<String>> {
        let mut all: Option<String> = None;
        for load in &pipe.loads {
            let bytes = memory_bytes(load.elem);
            let Source::Block { iter, deltas, .. } = &load.source else { continue };
            if !matches!(load.width * bytes, 4 | 8 | 16) {
                continue;
            }
            let regs = self.operand(op, 3 + iter)?;
            let bp = BlockPtr::from_regs(&regs, deltas.len())?;
            let shape = [load.tile.rows, load.tile.cols];
            let shape = if load.contiguous == 1 { shape } else { [shape[1], shape[0]] };
            let mut ok = self.block_fast_path(&bp, &shape, &[], load.contiguous, load.width, bytes);
            let delta = self.scalar(deltas[load.contiguous])?.concat();
            let width = self.w.i32(i64::from(load.width));
            let rem = self.w.bin("remsi", &delta, &width, "i32");
            let zero = self.w.i32(0);
            let aligned = self.w.cmpi("eq", &rem, &zero, "i32");
            ok = self.w.and(&ok, &aligned);
            all = Some(match all {
                Some(prev) => self.w.and(&prev, &ok),
                None => ok,
            });
        }
        Ok(all)
    }

    /// Issues the copies of one trip (`tiles`, one per load, where it
    /// reads) into buffer `slot` (i32), then commits.
    pub(super) fn pipeline_issue(&mut self, pipe: &Pipeline, tiles: &[TileAt], slot: &str, valid: &str) -> Result<()> {
        if let Some(bulk) = &pipe.bulk {
            return self.bulk_issue(pipe, bulk, tiles, slot, valid);
        }
        let mut blocks = Vec::new();
        for (load, tile) in pipe.loads.iter().zip(tiles) {
            match tile {
                TileAt::Block(bp) => blocks.push((load, bp)),
                TileAt::Pointers { pointers, mask } => {
                    self.copy_pointer_tile(load, pointers, mask.as_deref(), slot, valid)?
                }
            }
        }
        if self.copy_mode == CopyMode::Vector && self.interior_pays(&blocks)? {
            // Most refills lie wholly inside their views: one uniform test,
            // then copies without per-copy bounds or sizes (the tail, and
            // iterations past the end, take the checked copies).
            let interior = self.pipeline_interior(&blocks, valid);
            self.w.open(format!("scf.if {interior} {{"));
            for &(load, bp) in &blocks {
                self.copy_interior(load, bp, slot)?;
            }
            self.w.line("scf.yield");
            self.w.close("} else {");
            self.w.depth_in();
            for &(load, bp) in &blocks {
                self.issue_copy(load, bp, slot, valid)?;
            }
            self.w.line("scf.yield");
            self.w.close("}");
        } else {
            for &(load, bp) in &blocks {
                self.issue_copy(load, bp, slot, valid)?;
            }
        }
        self.asm_void("cp.async.commit_group;");
        Ok(())
    }

    /// The copies of a pointer tile: one `cp.async` per vector of the
    /// pointers' layout, reading nothing (zero-filled) where its mask bit is
    /// off or the trip does not run.
    fn copy_pointer_tile(
        &mut self,
        load: &Pipelined,
        pointers: &[String],
        mask: Option<&[String]>,
        slot: &str,
        valid: &str,
    ) -> Result<()> {
        let Source::Pointers(tile) = &load.source else {
            return Err(BackendError::new(Stage::MalformedIr, "a block load copied as a pointer tile"));
        };
        let staged = self.pipeline_buffer(load, slot);
        let map = tile.layout.thread_map(&load.block_shape());
        let base = self.base(&map)?;
        let full = self.w.i32(i64::from(load.width * memory_bytes(load.elem)));
        let none = self.w.i32(0);
        for i in copy_starts(&map, load)? {
            let src = pointers.get(i).ok_or_else(|| {
                BackendError::new(Stage::Layout, "a pointer tile has fewer registers than its layout")
            })?;
            let mut ok = valid.to_string();
            if let Some(bit) = mask.and_then(|m| m.get(i)) {
                ok = self.w.and(&ok, bit);
            }
            let size = self.w.select(&ok, &full, &none, "i32");
            let rel = self.tile_coords(&base, &map.regs[i]);
            let dst = self.tile_ptr(&staged, &rel[0], &rel[1]);
            let dst = self.w.def(format!("llvm.ptrtoint {dst} : !llvm.ptr<3> to i32"));
            self.cp_async(load, &dst, src, Some(&size));
        }
        Ok(())
    }

    /// The tile coordinates (i32, one per axis) of a thread's register at
    /// `reg` of its map, from the thread's `base`.
    fn tile_coords(&mut self, base: &[String], reg: &[u32]) -> Vec<String> {
        reg.iter()
            .zip(base)
            .map(|(&c, b)| {
                let c = self.w.i32(i64::from(c));
                self.w.bin("addi", b, &c, "i32")
            })
            .collect()
    }

    /// Whether a refill's copies are worth a second, unchecked version: at
    /// least [`MIN_INTERIOR_COPIES`] copies per thread. The branch costs
    /// ptxas registers (seen: 128 -> 150 and 174 for `la_output_bf16` with
    /// DK 64 and 32 on 8 warps, 4 and 6 copies, past the 2-CTA limit)
    /// while the checks it saves grow with the copies (matmul 128x256x64 on
    /// 8 warps, 12 copies: 296 -> 137 instructions per iteration).
    fn interior_pays(&self, blocks: &[(&Pipelined, &BlockPtr)]) -> Result<bool> {
        if blocks.is_empty() {
            return Ok(false);
        }
        let mut copies = 0;
        for &(load, _) in blocks {
            let map = self.layout_of(load.result)?.thread_map(&load.block_shape());
            copies += map.regs.len() / load.width.max(1) as usize;
        }
        Ok(copies >= MIN_INTERIOR_COPIES)
    }

    /// The uniform condition under which every tile of this refill lies
    /// inside its view along its checked axes, and the iteration runs.
    fn pipeline_interior(&mut self, blocks: &[(&Pipelined, &BlockPtr)], valid: &str) -> String {
        let mut pred = valid.to_string();
        let zero = self.w.int(0, "i64");
        for &(load, bp) in blocks {
            for &d in load.checked() {
                let d = d as usize;
                let (Some(size), Some(offset)) = (bp.shape.get(d), bp.offsets.get(d)) else { continue };
                let start = self.w.conv("extsi", offset, "i32", "i64");
                let extent = self.w.int(i64::from(load.block_shape()[d]), "i64");
                let end = self.w.bin("addi", &start, &extent, "i64");
                let lo = self.w.cmpi("sge", &start, &zero, "i64");
                let hi = self.w.cmpi("sle", &end, size, "i64");
                let both = self.w.and(&lo, &hi);
                pred = self.w.and(&pred, &both);
            }
        }
        pred
    }

    /// The copies of one tile known to lie inside its view: full
    /// `cp.async`s without bounds or source sizes. The thread's first
    /// vector is addressed once; every other one is a uniform distance away
    /// in global memory (its coordinate offset times the strides) and, when
    /// the swizzle allows ([`SharedTile::constant_delta`]), a constant one in
    /// shared memory, so a copy costs an add, not an address computation
    /// (and holds no per-copy registers through the loop).
    fn copy_interior(&mut self, load: &Pipelined, bp: &BlockPtr, slot: &str) -> Result<()> {
        let staged = self.pipeline_buffer(load, slot);
        let shape = load.block_shape();
        let map = self.layout_of(load.result)?.thread_map(&shape);
        let bytes = memory_bytes(load.elem);
        let mty = memory_type(load.elem);
        let starts: Vec<String> = bp.offsets.iter().map(|o| self.w.conv("extsi", o, "i32", "i64")).collect();
        let tile = self.block_address(bp, &starts, mty);
        let base = self.base(&map)?;
        let first = map.regs.first().ok_or_else(|| BackendError::new(Stage::Layout, "an empty pipelined tile"))?;
        let rel0 = self.tile_coords(&base, first);
        let wide: Vec<(usize, String)> =
            rel0.iter().enumerate().map(|(d, r)| (d, self.w.conv("extsi", r, "i32", "i64"))).collect();
        let linear = self.strided_offset(bp, wide).unwrap_or_else(|| self.w.int(0, "i64"));
        let src0 = self.w.gep(&tile, &linear, "i64", "!llvm.ptr<1>", mty);
        // Opaque to LLVM: otherwise it folds each copy's uniform distance
        // into a per-thread offset hoisted out of the loop (two registers
        // per copy held through the loop).
        let src0 = self.w.def(format!(
            "llvm.inline_asm asm_dialect = att \"mov.b64 $0, $1;\", \"=l,l\" {src0} : (!llvm.ptr<1>) -> !llvm.ptr<1>"
        ));
        let dst0 = self.tile_ptr(&staged, &rel0[0], &rel0[1]);
        for i in copy_starts(&map, load)? {
            let reg = &map.regs[i];
            // Its distance from the first copy: only the axes where they differ.
            let moved: Vec<(usize, String)> = reg
                .iter()
                .zip(first)
                .enumerate()
                .filter(|&(_, (&c, &c0))| c != c0)
                .map(|(d, (&c, &c0))| (d, self.w.int(i64::from(c) - i64::from(c0), "i64")))
                .collect();
            let src = match self.strided_offset(bp, moved) {
                Some(step) => self.w.gep(&src0, &step, "i64", "!llvm.ptr<1>", mty),
                None => src0.clone(),
            };
            let dst = match staged.tile.constant_delta(&map, load.contiguous, 0, i) {
                Some(0) => dst0.clone(),
                Some(delta) => {
                    let delta = self.w.i32(delta * i64::from(bytes));
                    self.w.gep(&dst0, &delta, "i32", "!llvm.ptr<3>", "i8")
                }
                None => {
                    let rel = self.tile_coords(&base, reg);
                    self.tile_ptr(&staged, &rel[0], &rel[1])
                }
            };
            let dst = self.w.def(format!("llvm.ptrtoint {dst} : !llvm.ptr<3> to i32"));
            self.cp_async(load, &dst, &src, None);
        }
        Ok(())
    }

    /// One `cp.async` of the load's copy width from `src` to shared address
    /// `dst`, reading `size` bytes of it (the rest zero) when given: `.cg`
    /// (L2 only) for 16 bytes, which `.cg` requires, `.ca` below; with the
    /// load's eviction hint as an L2 cache policy when asked for and where
    /// the ISA has them ([`Lowerer::l2_hints`]).
    fn cp_async(&mut self, load: &Pipelined, dst: &str, src: &str, size: Option<&str>) {
        let copy_bytes = load.width * memory_bytes(load.elem);
        let cache = if copy_bytes == 16 { "cg" } else { "ca" };
        // A pure asm statement: LLVM computes a policy once where it can.
        let policy = (self.l2_hints && load.evict != Evict::Normal).then(|| {
            self.w.def(format!(
                "llvm.inline_asm asm_dialect = att \"createpolicy.fractional.L2::{}.b64 $0, 1.0;\", \"=l\"  : () -> i64",
                load.evict.policy()
            ))
        });
        let hint = if policy.is_some() { ".L2::cache_hint" } else { "" };
        let mut operands = vec![(dst, "i32"), (src, "!llvm.ptr<1>")];
        let mut text = format!("cp.async.{cache}.shared.global{hint} [$0], [$1], {copy_bytes}");
        if let Some(size) = size {
            text.push_str(&format!(", ${}", operands.len()));
            operands.push((size, "i32"));
        }
        if let Some(policy) = &policy {
            text.push_str(&format!(", ${}", operands.len()));
            operands.push((policy, "i64"));
        }
        text.push(';');
        self.asm_effect(&text, &operands, false);
    }

    /// Block pointer `ptr` advanced by `times` times the deltas.
    fn advanced(&mut self, deltas: &[ValueId], ptr: &[String], times: u32) -> Result<BlockPtr> {
        let mut bp = BlockPtr::from_regs(ptr, deltas.len())?;
        if times == 0 {
            return Ok(bp);
        }
        for (d, &delta) in deltas.iter().enumerate() {
            let delta = self.scalar(delta)?.concat();
            let k = self.w.i32(i64::from(times));
            let scaled = self.w.bin("muli", &delta, &k, "i32");
            bp.offsets[d] = self.w.bin("addi", &bp.offsets[d], &scaled, "i32");
        }
        Ok(bp)
    }

    /// Where each load of `pipe` reads `ahead` trips after the one with
    /// induction variable `iv`; `carried(i)` is the value of the loop's
    /// iter `i` in that trip (an operand of the loop before it, a body
    /// argument inside).
    pub(super) fn tiles_ahead(
        &mut self,
        body: &Region,
        pipe: &Pipeline,
        carried: &dyn Fn(usize) -> Option<ValueId>,
        iv: &str,
        step_and_type: (&str, &str),
        ahead: u32,
    ) -> Result<Vec<TileAt>> {
        let missing = || BackendError::new(Stage::MalformedIr, "a pipelined load's carried value is missing");
        let mut tiles = Vec::with_capacity(pipe.loads.len());
        for load in &pipe.loads {
            tiles.push(match &load.source {
                Source::Block { iter, deltas, .. } => {
                    let regs = self.scalar(carried(*iter).ok_or_else(missing)?)?;
                    TileAt::Block(self.advanced(deltas, &regs, ahead)?)
                }
                Source::Pointers(tile) => {
                    let now = match tile.carried {
                        Some((iter, _)) => Some(self.get(carried(iter).ok_or_else(missing)?, &tile.layout)?),
                        None => None,
                    };
                    let (pointers, mask) = self.pointer_tile_ahead(body, tile, now, iv, step_and_type, ahead)?;
                    TileAt::Pointers { pointers, mask }
                }
            });
        }
        Ok(tiles)
    }

    /// The staged operand in buffer `slot` of `load`.
    pub(super) fn pipeline_buffer(&mut self, load: &Pipelined, slot: &str) -> Staged {
        let base = self.shared_at(load.offset);
        let bytes = self.w.i32(load.tile.size_bytes() as i64);
        let at = self.w.bin("muli", slot, &bytes, "i32");
        let base = self.w.gep(&base, &at, "i32", "!llvm.ptr<3>", "i8");
        Staged { base, tile: load.tile, contiguous: load.contiguous, elem: load.elem }
    }

    fn issue_copy(&mut self, load: &Pipelined, bp: &BlockPtr, slot: &str, valid: &str) -> Result<()> {
        let staged = self.pipeline_buffer(load, slot);
        let shape = load.block_shape();
        let map = self.layout_of(load.result)?.thread_map(&shape);
        let bytes = memory_bytes(load.elem);
        let copy_bytes = load.width * bytes;
        let vectors = |s: &mut Self| -> Result<()> {
            let coords = s.block_coords(bp, &map)?;
            for i in copy_starts(&map, load)? {
                s.copy_vector(load, bp, &staged, &coords.0[i], valid, copy_bytes)?;
            }
            Ok(())
        };
        let vector_copies = matches!(copy_bytes, 4 | 8 | 16);
        if vector_copies && self.copy_mode == CopyMode::Vector {
            vectors(self)?;
        } else if vector_copies && self.copy_mode == CopyMode::Checked {
            let fast = self.block_fast_path(bp, &shape, &[], load.contiguous, load.width, bytes);
            self.w.open(format!("scf.if {fast} {{"));
            vectors(self)?;
            self.w.line("scf.yield");
            self.w.close("} else {");
            self.w.depth_in();
            self.copy_elements(load, bp, &staged, &map, valid)?;
            self.w.line("scf.yield");
            self.w.close("}");
        } else {
            self.copy_elements(load, bp, &staged, &map, valid)?;
        }
        Ok(())
    }

    /// One `cp.async` of `copy_bytes` at `coord`, zero-filling what lies
    /// outside the view or the loop.
    fn copy_vector(
        &mut self,
        load: &Pipelined,
        bp: &BlockPtr,
        staged: &Staged,
        coord: &[String],
        valid: &str,
        copy_bytes: u32,
    ) -> Result<()> {
        let fast = load.contiguous;
        let others: Vec<u32> = load.checked().iter().copied().filter(|&d| d as usize != fast).collect();
        let mut ok = valid.to_string();
        if let Some(rows) = self.in_bounds(bp, coord, &others) {
            ok = self.w.and(&ok, &rows);
        }
        let full = self.w.int(i64::from(copy_bytes), "i64");
        let size = if load.checked().contains(&(fast as u32)) {
            let bytes = self.w.int(i64::from(memory_bytes(load.elem)), "i64");
            let left = self.w.bin("subi", &bp.shape[fast], &coord[fast], "i64");
            let left = self.w.bin("muli", &left, &bytes, "i64");
            let zero = self.w.int(0, "i64");
            let left = self.w.bin("maxsi", &left, &zero, "i64");
            let left = self.w.bin("minsi", &left, &full, "i64");
            let start_ok = self.w.cmpi("sge", &coord[fast], &zero, "i64");
            let left = self.w.select(&start_ok, &left, &zero, "i64");
            self.w.select(&ok, &left, &zero, "i64")
        } else {
            let zero = self.w.int(0, "i64");
            self.w.select(&ok, &full, &zero, "i64")
        };
        let size = self.w.conv("trunci", &size, "i64", "i32");
        let src = self.block_address(bp, coord, memory_type(load.elem));
        let zero = self.w.i32(0);
        let any = self.w.cmpi("ne", &size, &zero, "i32");
        let src = self.w.select(&any, &src, &bp.base, "!llvm.ptr<1>");
        let coord32: Vec<String> = coord.iter().map(|c| self.w.conv("trunci", c, "i64", "i32")).collect();
        // Tile coordinates are block-relative.
        let mut rel = Vec::with_capacity(2);
        for (d, c) in coord32.iter().enumerate() {
            rel.push(self.w.bin("subi", c, &bp.offsets[d], "i32"));
        }
        let dst = self.tile_ptr(staged, &rel[0], &rel[1]);
        let dst = self.w.def(format!("llvm.ptrtoint {dst} : !llvm.ptr<3> to i32"));
        self.cp_async(load, &dst, &src, Some(&size));
        Ok(())
    }

    /// The synchronous copy, element by element through registers, masked:
    /// the fallback for tiles whose copies cannot be vectors. It is a loop
    /// of [`ELEMENT_COPY_UNROLL`] independent copies per thread per trip
    /// rather than one straight run of every copy: unrolled, the loads were
    /// hoisted together and a versioned loop took the register count of this
    /// rare path (matmul_block_ptr 128x128/8 warps: 255 registers against
    /// 128 with vector copies alone). Consecutive threads take consecutive
    /// elements along the contiguous axis (coalesced).
    fn copy_elements(
        &mut self,
        load: &Pipelined,
        bp: &BlockPtr,
        staged: &Staged,
        map: &ThreadMap,
        valid: &str,
    ) -> Result<()> {
        let threads = 32 * self.lk.num_warps;
        let shape = load.block_shape();
        let total = shape[0] * shape[1];
        let (fast, slow) = (load.contiguous, 1 - load.contiguous);
        if !total.is_multiple_of(threads * ELEMENT_COPY_UNROLL) || !shape[fast].is_power_of_two() {
            // Tiles that do not split evenly into trips: one copy per
            // register of the thread's layout, in a straight run.
            for coord in self.block_coords(bp, map)?.0 {
                let value = self.masked_element(load, bp, &coord, valid);
                let mut rel = Vec::with_capacity(2);
                for (d, c) in coord.iter().enumerate() {
                    let c = self.w.conv("trunci", c, "i64", "i32");
                    rel.push(self.w.bin("subi", &c, &bp.offsets[d], "i32"));
                }
                self.store_element(staged, &rel, &value);
            }
            return Ok(());
        }
        let trips = total / (threads * ELEMENT_COPY_UNROLL);
        let (lo, hi, one) = (self.w.i32(0), self.w.i32(i64::from(trips)), self.w.i32(1));
        let trip = self.w.fresh();
        self.w.open(format!("scf.for {trip} = {lo} to {hi} step {one} : i32 {{"));
        let per_trip = self.w.i32(i64::from(threads * ELEMENT_COPY_UNROLL));
        let first = self.w.bin("muli", &trip, &per_trip, "i32");
        let first = self.w.bin("addi", &first, &self.tid.clone(), "i32");
        let mask = self.w.i32(i64::from(shape[fast] - 1));
        let shift = self.w.i32(i64::from(shape[fast].trailing_zeros()));
        let mut copies = Vec::with_capacity(ELEMENT_COPY_UNROLL as usize);
        // All loads first, then the stores: the loads of a trip overlap.
        for u in 0..ELEMENT_COPY_UNROLL {
            let step = self.w.i32(i64::from(u * threads));
            let index = self.w.bin("addi", &first, &step, "i32");
            let mut rel = vec![String::new(), String::new()];
            rel[fast] = self.w.bin("andi", &index, &mask, "i32");
            rel[slow] = self.w.bin("shrui", &index, &shift, "i32");
            let mut coord = Vec::with_capacity(2);
            for d in 0..2 {
                let c = self.w.bin("addi", &bp.offsets[d], &rel[d], "i32");
                coord.push(self.w.conv("extsi", &c, "i32", "i64"));
            }
            let value = self.masked_element(load, bp, &coord, valid);
            copies.push((value, rel));
        }
        for (value, rel) in copies {
            self.store_element(staged, &rel, &value);
        }
        self.w.close("}");
        Ok(())
    }

    /// The element of the view at `coord` (i64 per axis), zero outside the
    /// view or where `valid` is false.
    fn masked_element(&mut self, load: &Pipelined, bp: &BlockPtr, coord: &[String], valid: &str) -> String {
        let (mty, bytes) = (memory_type(load.elem), memory_bytes(load.elem));
        let mut ok = valid.to_string();
        if let Some(inside) = self.in_bounds(bp, coord, load.checked()) {
            ok = self.w.and(&ok, &inside);
        }
        let ptr = self.block_address(bp, coord, mty);
        self.guarded_load(&ptr, Some(&ok), mty, bytes)
    }

    /// Stores `value`, one element, at block-relative `rel` of `staged`.
    fn store_element(&mut self, staged: &Staged, rel: &[String], value: &str) {
        let dst = self.tile_ptr(staged, &rel[0], &rel[1]);
        self.w.store(value, &dst, memory_type(staged.elem), "!llvm.ptr<3>", memory_bytes(staged.elem));
    }

    /// `inline asm` with no operands or results.
    pub(super) fn asm_void(&mut self, text: &str) {
        self.asm_effect(text, &[], false);
    }

    /// [`Self::asm_void`] that LLVM may not move memory accesses across.
    pub(super) fn asm_memory_barrier(&mut self, text: &str) {
        self.asm_effect(text, &[], true);
    }

    /// `inline asm` with side effects and no results, reading `operands`
    /// (register, MLIR type: `r` for i32, `l` for the 64-bit rest); with
    /// `memory`, LLVM may not move memory accesses across it.
    pub(super) fn asm_effect(&mut self, text: &str, operands: &[(&str, &str)], memory: bool) {
        let mut constraints: Vec<&str> = operands.iter().map(|&(_, ty)| if ty == "i32" { "r" } else { "l" }).collect();
        if memory {
            constraints.push("~{memory}");
        }
        let values: Vec<&str> = operands.iter().map(|&(v, _)| v).collect();
        let types: Vec<&str> = operands.iter().map(|&(_, ty)| ty).collect();
        let values = if values.is_empty() { String::new() } else { format!("{} ", values.join(", ")) };
        self.w.line(format!(
            "llvm.inline_asm has_side_effects asm_dialect = att \"{text}\", \"{}\" {values}: ({}) -> ()",
            constraints.join(","),
            types.join(", ")
        ));
    }
}

/// The first register of each of `load`'s copies in `map`: every `width`-th,
/// each starting `width` registers contiguous along the copy's axis (an
/// error otherwise: the layout must give a pipelined tile whole vectors).
fn copy_starts(map: &ThreadMap, load: &Pipelined) -> Result<Vec<usize>> {
    let width = load.width.max(1) as usize;
    (0..map.regs.len())
        .step_by(width)
        .map(|i| {
            if Lowerer::is_vector(map, i, load.width, load.contiguous as u32) {
                Ok(i)
            } else {
                Err(BackendError::new(Stage::Layout, "a pipelined load's registers are not vectors"))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::test_support::{LIGHTNING, MATMUL, compiled, tir_of};
    use crate::{Codegen, GpuArch, Target, compile_kernel};

    /// The MLIR of `matmul_block_ptr` at 128x256x64 on `warps` warps with `stages` stages.
    /// In the vector version, a refill whose tiles lie inside their views
    /// (one uniform test) copies without bounds or source sizes; the
    /// checked copies remain for the tail. A refill of few copies per
    /// thread gets no second version (its branch would cost more registers
    /// than the checks it saves).
    #[test]
    fn refills_inside_the_view_copy_without_checks() {
        let full = |text: &str| text.lines().filter(|l| l.contains(r#"16;", "r,l""#)).count();
        let sized = |text: &str| text.lines().filter(|l| l.contains("[$0], [$1], 16, $2;")).count();
        let fast_loop = |mlir: &str| mlir.split("} do {").nth(1).map(str::to_string).expect("the vector version");
        // 128x64 A and 64x256 B tiles of bf16 on 8 warps: 12 copies a thread.
        let fast = fast_loop(&block_ptr_mlir(8, 3, GpuArch::Sm90a));
        assert_eq!(full(&fast), 12, "unchecked copies in the loop");
        assert_eq!(sized(&fast), 12, "checked copies for the tail");
        // Lightning attention's output kernel, DK 32, with `cp.async` (its
        // views take tensor maps on sm_90a otherwise): 4 copies a thread.
        let consts = [("DK", 32), ("BLOCK", 64), ("BLOCK_E", 64), ("warps", 8), ("stages", 2)];
        let mlir = mlir_with(LIGHTNING, "la_output_bf16", &consts, cp_async_only(GpuArch::Sm90a));
        let fast = fast_loop(&mlir);
        assert_eq!(full(&fast), 0);
        assert_eq!(sized(&fast), 4);
    }

    /// `eviction_policy` on a pipelined load becomes an L2 cache policy on
    /// its copies when asked for (`Codegen::l2_cache_hints`) and where the
    /// ISA has them (PTX 7.4: sm_90a's 8.0, not sm_80's 7.0); loads without
    /// it copy as before. By default no copy carries one (see
    /// `Codegen::l2_cache_hints` for the H100 fault they cause).
    #[test]
    fn eviction_hints_ride_on_the_copies_when_asked() {
        let consts = [("DK", 32), ("BLOCK", 64), ("BLOCK_E", 32), ("warps", 4), ("stages", 2)];
        let hinted =
            |mlir: &str| mlir.lines().filter(|l| l.contains("cp.async") && l.contains("L2::cache_hint")).count();
        let policies = |mlir: &str| mlir.matches("createpolicy.fractional.L2::evict_first.b64").count();
        let hints = Codegen { l2_cache_hints: true, ..Default::default() };
        // la_chained's walk reads q, k and v evict-first; its own-state walk does not hint.
        let mlir = mlir_with(LIGHTNING, "la_chained_bf16", &consts, Target::new(GpuArch::Sm90a).with_codegen(hints));
        let all = mlir.lines().filter(|l| l.contains("cp.async.c")).count();
        assert!(hinted(&mlir) > 0 && hinted(&mlir) < all, "{} of {all} copies hinted", hinted(&mlir));
        assert!(policies(&mlir) > 0);
        let mlir = mlir_with(LIGHTNING, "la_chained_bf16", &consts, Target::new(GpuArch::Sm80).with_codegen(hints));
        assert_eq!((hinted(&mlir), policies(&mlir)), (0, 0));
        // Not asked for: no hint anywhere.
        let mlir = mlir_of(LIGHTNING, "la_chained_bf16", &consts, GpuArch::Sm90a);
        assert_eq!((hinted(&mlir), policies(&mlir)), (0, 0));
        assert!(mlir.lines().any(|l| l.contains("cp.async.c")));
        // la_output's walk is the same function, asked for no hint.
        let mlir = mlir_with(LIGHTNING, "la_output_bf16", &consts, Target::new(GpuArch::Sm90a).with_codegen(hints));
        assert_eq!((hinted(&mlir), policies(&mlir)), (0, 0));
    }

    /// `arch`, copying with `cp.async` only (no bulk tensor copies).
    fn cp_async_only(arch: GpuArch) -> Target {
        Target::new(arch).with_codegen(Codegen { cp_async_only: true, ..Default::default() })
    }

    fn mlir_of(source: &str, kernel: &str, consts: &[(&str, i64)], arch: GpuArch) -> String {
        mlir_with(source, kernel, consts, Target::new(arch))
    }

    fn mlir_with(source: &str, kernel: &str, consts: &[(&str, i64)], target: Target) -> String {
        compiled(source, kernel, consts, target).stages.mlir
    }

    /// `kernel` of matmul.tsr at 128x256x64.
    fn matmul_mlir(kernel: &str, warps: i64, stages: i64, arch: GpuArch) -> String {
        let consts = [("BLOCK_M", 128), ("BLOCK_N", 256), ("BLOCK_K", 64), ("warps", warps), ("stages", stages)];
        mlir_of(MATMUL, kernel, &consts, arch)
    }

    fn block_ptr_mlir(warps: i64, stages: i64, arch: GpuArch) -> String {
        matmul_mlir("matmul_block_ptr", warps, stages, arch)
    }

    /// The chunk-state loop scales the rows of its value tile before the
    /// `dot`: the tile is still copied with `cp.async` (nothing is loaded
    /// from global memory inside the loop), and the scaling reads it back
    /// from its buffer with vector loads.
    #[test]
    fn a_tile_scaled_before_its_dot_is_pipelined_and_read_back() {
        let consts = [("DK", 64), ("BLOCK", 64), ("BLOCK_E", 64), ("warps", 4), ("stages", 3)];
        let tir = tir_of(LIGHTNING, "la_chunk_state_bf16", &consts);
        for arch in [GpuArch::Sm80, GpuArch::Sm90a] {
            let mlir = compile_kernel(&tir, &cp_async_only(arch)).expect("backend").stages.mlir;
            let (_, fast) = mlir.split_once("} do {").expect("a loop");
            let fast = fast.split_once("cp.async.wait_group 0;").map(|(body, _)| body).expect("the loop ends");
            let global_loads = fast.lines().filter(|l| l.contains("llvm.load") && l.contains("!llvm.ptr<1>")).count();
            assert_eq!(global_loads, 0, "{arch}: the value tile is not loaded synchronously");
            // k (64x64) and v (64x64): 4 + 4 16-byte copies per thread of
            // 128, checked, and again unchecked for refills inside the view.
            assert_eq!(fast.matches("cp.async.cg.shared.global").count(), 16, "{arch}");
            assert_eq!(fast.matches("16, $2;").count(), 8, "{arch}");
            assert!(fast.contains("!llvm.ptr<3> -> vector<8xbf16>"), "{arch}: v is read back as 16-byte vectors");
        }
    }

    /// The generic matmul's unit-stride twin (column strides 1, the rest
    /// divisible by 16, as the build compiles it): its pointer tiles are
    /// copied with `cp.async` over the stages as block pointers' are, no
    /// global load left in the loop, each refill's pointers and masks
    /// computed again for the trip it copies; on sm_90a its `wgmma`s are
    /// deferred. Without the hints its loads are element by element and
    /// stay synchronous.
    #[test]
    fn pointer_tiles_with_proven_vectors_are_pipelined() {
        let consts = [("BLOCK_M", 128), ("BLOCK_N", 128), ("BLOCK_K", 64), ("warps", 4), ("stages", 3)];
        let mut twin = tir_of(MATMUL, "matmul", &consts);
        for param in &mut twin.params {
            match param.name.as_str() {
                "stride_ak" | "stride_bn" | "stride_cn" => param.hints.contiguous = true,
                "N" | "K" | "stride_am" | "stride_bk" | "stride_cm" => {
                    param.hints.divisibility = Some(crate::SPECIALIZED_DIVISIBILITY)
                }
                _ => {}
            }
        }
        let copy = "cp.async.cg.shared.global [$0], [$1], 16, $2;";
        let global_loads =
            |text: &str| text.lines().filter(|l| l.contains("llvm.load") && l.contains("!llvm.ptr<1>")).count();
        for arch in [GpuArch::Sm80, GpuArch::Sm90a] {
            let mlir = compile_kernel(&twin, &Target::new(arch)).expect("backend").stages.mlir;
            assert_eq!(mlir.matches("} do {").count(), 1, "{arch}: one version of the loop");
            let (prologue, rest) = mlir.split_once("} do {").expect("a loop");
            let (body, _) = rest.split_once("cp.async.wait_group 0;").expect("the loop ends");
            // 128x64 A and 64x128 B of bf16 on 128 threads: 8 + 8 copies a trip.
            assert_eq!(prologue.matches(copy).count(), 2 * 16, "{arch}: two trips ahead");
            assert_eq!(body.matches(copy).count(), 16, "{arch}: one refill a trip");
            assert_eq!(global_loads(body), 0, "{arch}: nothing loaded synchronously in the loop");
            if arch == GpuArch::Sm90a {
                assert!(body.contains("wgmma.wait_group.sync.aligned 1;"), "deferred wgmma");
            } else {
                assert!(body.contains("ldmatrix.sync.aligned"), "{arch}");
            }
        }
        let generic = tir_of(MATMUL, "matmul", &consts);
        let mlir = compile_kernel(&generic, &Target::new(GpuArch::Sm90a)).expect("backend").stages.mlir;
        assert!(!mlir.contains("cp.async"), "element loads are not pipelined");
    }

    /// Whether the copies may be 16-byte `cp.async` vectors is decided once,
    /// before the loop: the first version copies only vectors, the second
    /// only elements through registers, and neither checks per iteration.
    #[test]
    fn the_loop_is_versioned_on_vector_copies() {
        for arch in [GpuArch::Sm80, GpuArch::Sm90a] {
            let mlir = block_ptr_mlir(8, 3, arch);
            let loops: Vec<&str> = mlir.split("} do {").collect();
            assert_eq!(loops.len(), 3, "{arch}: two versions of the loop");
            let end =
                if arch == GpuArch::Sm90a { "wgmma.wait_group.sync.aligned 0;" } else { "cp.async.wait_group 0;" };
            let body = |i: usize| loops[i].split_once(end).map(|(body, _)| body).expect("the loop ends");
            let global_loads =
                |text: &str| text.lines().filter(|l| l.contains("llvm.load") && l.contains("!llvm.ptr<1>")).count();
            let (fast, general) = (body(1), body(2));
            assert!(fast.contains("cp.async.cg.shared.global") && global_loads(fast) == 0, "{arch}: vector version");
            assert!(!general.contains("cp.async.cg.shared.global"), "{arch}: element version");
            // Each of the two tiles' refill is a rolled loop of ELEMENT_COPY_UNROLL loads (a
            // straight run would hold 32 and 64, one per element of the thread).
            assert_eq!(
                global_loads(general),
                2 * super::ELEMENT_COPY_UNROLL as usize,
                "{arch}: element copies are rolled"
            );
            assert!(general.contains("scf.for"), "{arch}: element copies loop");
            assert!(loops[0].contains("scf.if"), "{arch}: the version is chosen before the loop");
        }
        // `matmul_aligned`'s hints prove the copies: one version, vectors only.
        let mlir = matmul_mlir("matmul_aligned", 8, 3, GpuArch::Sm90a);
        assert_eq!(mlir.matches("} do {").count(), 1, "one loop");
        let global_loads = mlir.lines().filter(|l| l.contains("llvm.load") && l.contains("!llvm.ptr<1>")).count();
        assert_eq!(global_loads, 0, "no element copies");
    }

    /// Each iteration of the pipelined loop must wait for its own tile
    /// (`stages - 2` groups left pending), then meet a barrier before any
    /// `cp.async` refills the buffer that the previous iteration's
    /// `ldmatrix`es (sm_80) or `wgmma`s (sm_90a, after a proxy fence between
    /// the wait and the barrier, and once those `wgmma`s are known complete)
    /// read. The 128x256 tile is the one where a slow warp would expose a
    /// missing barrier first.
    #[test]
    fn the_loop_waits_then_barriers_before_refilling() {
        // 128x256 on 4 warps is rejected (E0816: 256 accumulators per thread).
        for (warps, stages, arch) in [(8, 3, GpuArch::Sm80), (8, 3, GpuArch::Sm90a), (8, 4, GpuArch::Sm90a)] {
            let mlir = block_ptr_mlir(warps, stages, arch);
            let body = mlir.split_once("} do {").map(|(_, body)| body).expect("the loop is an scf.while");
            let at = |needle: &str| body.find(needle).unwrap_or_else(|| panic!("{needle} not in the loop body"));
            let wait = at(&format!("cp.async.wait_group {};", stages - 2));
            let barrier = at("nvvm.barrier0");
            let refill = at("cp.async.cg.shared.global");
            let commit = at("cp.async.commit_group;");
            if arch == GpuArch::Sm90a {
                // Deferred wgmma (the matmul's only dot accumulates into a
                // carried value): the iteration's wgmmas are issued from its
                // landed buffer, then the previous iteration's are waited
                // for, and only after a second barrier is their buffer refilled.
                let fence = at("fence.proxy.async.shared::cta;");
                let read = at("wgmma.mma_async");
                let issued = at("wgmma.commit_group.sync.aligned;");
                let previous = at("wgmma.wait_group.sync.aligned 1;");
                let second = barrier + 1 + body[barrier + 1..].find("nvvm.barrier0").expect("a second barrier");
                assert!(
                    wait < fence && fence < barrier && barrier < read && read < issued && issued < previous,
                    "warps {warps}, stages {stages}"
                );
                assert!(previous < second && second < refill && refill < commit, "warps {warps}, stages {stages}");
                // One full wait per loop version, after its loop, before the
                // epilogue reads the accumulators.
                let full = "wgmma.wait_group.sync.aligned 0;";
                assert_eq!(
                    mlir.matches(full).count(),
                    mlir.matches("} do {").count(),
                    "warps {warps}, stages {stages}"
                );
                assert!(body.find(full).is_some_and(|w| w > refill), "warps {warps}, stages {stages}");
            } else {
                assert!(!body.contains("fence.proxy.async"), "{arch}");
                let read = at("ldmatrix.sync.aligned");
                assert!(
                    wait < barrier && barrier < refill && refill < commit && commit < read,
                    "warps {warps}, stages {stages}, {arch}"
                );
                // No other barrier and no other wait between the refill and the reads.
                assert!(!body[barrier + 1..read].contains("nvvm.barrier0"), "warps {warps}, stages {stages}");
                assert!(!body[wait + 1..read].contains("cp.async.wait_group"), "warps {warps}, stages {stages}");
            }
        }
    }
}
