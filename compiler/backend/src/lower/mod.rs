//! Laid-out tile IR -> MLIR (`llvm`, `nvvm`, `arith`, `scf` dialects), Triton style.
//!
//! Each thread holds its elements of every tensor as individual SSA values
//! ("registers"), in the order of the value's [`ThreadMap`]; scalars are one
//! value, equal in every thread. Elementwise ops map register by register;
//! `arange` computes each register's coordinate from the lane and warp ids;
//! `splat`/`broadcast`/`expand_dims`/`permute` only rename registers;
//! reductions combine within a thread, then across lanes with butterfly
//! shuffles, then across warps through shared memory; scans and layout
//! conversions go through shared memory. Flexible values (see
//! [`crate::layout::assign`]) are rebuilt at each use in the layout the use
//! needs. Control flow becomes `scf.while`/`scf.if` carrying registers.
//!
//! The function is printed as MLIR text and parsed by MLIR (see [`text`]).

mod block;
mod bulk_copy;
mod bulk_store;
mod control;
mod dot;
mod elementwise;
mod hoist;
mod math;
mod memory;
mod pipeline;
mod pointer_pipeline;
mod reduce;
pub(crate) mod shared_hazards;
pub mod text;

use std::collections::{HashMap, HashSet};

use tessera_tir::{ElemType, Kernel, Op, OpKind, Region, Type, ValueId, walk_ops};

use crate::error::{BackendError, Result, Stage};
use crate::layout::{LaidOutKernel, Layout, ThreadMap, axis_info::is_unit_stride};
use crate::target::{Codegen, PtxIsa};
use crate::tensor_map::TensorMapDesc;
use shared_hazards::Use;
use text::{Writer, elem_type};

/// The name of the kernel's shared-memory buffer.
pub const SHARED_SYMBOL: &str = "__tessera_smem";

/// A kernel lowered to MLIR text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoweredKernel {
    /// The MLIR module (one `llvm.func` marked `nvvm.kernel`).
    pub mlir: String,
    /// Bytes of the static shared-memory buffer (0: none).
    pub shared_bytes: u32,
    /// The tensor maps the kernel takes after its declared parameters, in
    /// order ([`crate::tensor_map`]).
    pub tensor_maps: Vec<TensorMapDesc>,
}

/// A tile-IR value in registers.
#[derive(Clone, Debug)]
struct Lowered {
    regs: Vec<String>,
    /// `None` for scalars.
    layout: Option<Layout>,
}

/// Lowers a laid-out kernel to MLIR text, with the default code generation
/// and no PTX feature beyond sm_80's first ISA (7.0).
pub fn lower_kernel(lk: &LaidOutKernel) -> Result<LoweredKernel> {
    lower_kernel_with(lk, Codegen::default(), PtxIsa::new(7, 0))
}

/// Lowers a laid-out kernel to MLIR text, as `codegen` says, for PTX ISA
/// `ptx` (which decides the instructions' optional qualifiers: L2 eviction
/// hints need 7.4).
pub fn lower_kernel_with(lk: &LaidOutKernel, codegen: Codegen, ptx: PtxIsa) -> Result<LoweredKernel> {
    let kernel = lk.kernel;
    let mut defs = HashMap::new();
    let mut used = HashSet::new();
    walk_ops(&kernel.body, &mut |op: &Op| {
        for &r in &op.results {
            defs.insert(r, op);
        }
        used.extend(op.operands.iter().copied());
    });
    let mut lowerer = Lowerer {
        lk,
        kernel,
        w: Writer::new(),
        values: HashMap::new(),
        scopes: vec![HashMap::new()],
        defs,
        used,
        shared_bytes: 0,
        shared_pinned: 0,
        pipelined: HashMap::new(),
        wgmma_buffers: false,
        deferred_wgmma: HashSet::new(),
        in_flight: Vec::new(),
        codegen,
        l2_hints: codegen.l2_cache_hints && ptx >= PtxIsa::new(7, 4),
        copy_mode: pipeline::CopyMode::Checked,
        transient_pending: Vec::new(),
        transient_uses: 0,
        tensor_maps: Vec::new(),
        tid: String::new(),
        lane: String::new(),
        warp: String::new(),
    };
    let mut params = Vec::new();
    for (i, param) in kernel.params.iter().enumerate() {
        let ty = lowerer.type_of(param.value)?;
        let Type::Tensor { elem, shape } = ty else {
            return Err(BackendError::new(
                Stage::UnsupportedOp,
                format!("parameter `{}` is a block pointer", param.name),
            ));
        };
        if !shape.is_empty() {
            return Err(BackendError::new(Stage::MalformedIr, format!("parameter `{}` is a tensor", param.name)));
        }
        params.push(format!("%arg{i}: {}", elem_type(*elem)));
        // A `@contig` stride is the constant 1 the caller promised (and the
        // runtime checked): the address arithmetic folds, as the axis info
        // assumed when it chose vector widths.
        let reg = if is_unit_stride(kernel, param) { lowerer.w.int(1, elem_type(*elem)) } else { format!("%arg{i}") };
        lowerer.values.insert(param.value, Lowered { regs: vec![reg], layout: None });
    }
    lowerer.tid = lowerer.w.def("nvvm.read.ptx.sreg.tid.x : i32");
    let c31 = lowerer.w.i32(31);
    lowerer.lane = lowerer.w.bin("andi", &lowerer.tid.clone(), &c31, "i32");
    let c5 = lowerer.w.i32(5);
    lowerer.warp = lowerer.w.bin("shrui", &lowerer.tid.clone(), &c5, "i32");
    for op in &kernel.body.ops {
        lowerer.op(op)?;
    }
    lowerer.w.line("llvm.return");
    let shared_bytes = u32::try_from(lowerer.shared_bytes).map_err(|_| {
        BackendError::new(
            Stage::UnsupportedOp,
            format!("the kernel needs {} bytes of shared memory", lowerer.shared_bytes),
        )
    })?;
    let body = std::mem::take(&mut lowerer.w).finish();
    shared_hazards::verify(&body)?;
    // Tensor maps are read in place from parameter space (`__grid_constant__`).
    for i in 0..lowerer.tensor_maps.len() {
        params.push(format!(
            "%tmap{i}: !llvm.ptr {{llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant}}"
        ));
    }
    let threads = 32 * lk.num_warps;
    let mut mlir = String::from("module {\n");
    if shared_bytes > 0 {
        // Dynamic shared memory (`.extern .shared`): the launch passes
        // `shared_bytes`, which may exceed the 48 KiB static limit. `wgmma`
        // swizzles absolute addresses, so its operand buffers need the
        // 1024-byte alignment of the largest swizzle atom.
        let align = if lowerer.wgmma_buffers { crate::layout::wgmma::WGMMA_TILE_ALIGN } else { 16 };
        mlir.push_str(&format!(
            "  llvm.mlir.global external @{SHARED_SYMBOL}() {{addr_space = 3 : i32, alignment = {align} : i64}} : !llvm.array<0 x i8>\n"
        ));
    }
    // `occupancy` > 1: PTX `.minnctapersm`, with which ptxas keeps the
    // registers per thread within what that many programs of `threads` leave.
    let min_ctas = match kernel.meta.occupancy {
        0 | 1 => String::new(),
        n => format!(", nvvm.minctasm = {n} : i32"),
    };
    mlir.push_str(&format!(
        "  llvm.func @{}({}) attributes {{nvvm.kernel, nvvm.maxntid = array<i32: {threads}, 1, 1>{min_ctas}}} {{\n",
        symbol(&kernel.name),
        params.join(", ")
    ));
    mlir.push_str(&body);
    mlir.push_str("  }\n}\n");
    Ok(LoweredKernel { mlir, shared_bytes, tensor_maps: lowerer.tensor_maps })
}

/// Where a transient region of `bytes` goes (returned as its offset from
/// the transient base, which is at absolute byte `pinned`; its absolute
/// address a multiple of `align`) while the `busy` regions (absolute byte
/// ranges) may still be read: the lowest aligned address, at the base or
/// just past a busy region, that overlaps none of them.
///
/// Busy ranges are absolute because the base moves: a pipelined loop pins
/// its buffers below a new base while regions placed under the old one may
/// still be read (the seventeenth session's race: a loop's initial value
/// converted over a region whose reads were running).
fn transient_place(busy: &[(u64, u64)], pinned: u64, bytes: u64, align: u64) -> u64 {
    let aligned = |address: u64| address.max(pinned).next_multiple_of(align);
    let clear = |at: u64| busy.iter().all(|&(start, end)| at + bytes <= start || at >= end);
    let at = std::iter::once(aligned(pinned))
        .chain(busy.iter().map(|&(_, end)| aligned(end)))
        .filter(|&at| clear(at))
        .min()
        .unwrap_or_else(|| aligned(busy.iter().map(|&(_, end)| end).max().unwrap_or(pinned)));
    at - pinned
}

/// The kernel name as an MLIR symbol (quoted unless it is a plain identifier).
fn symbol(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '.');
    if plain { name.to_string() } else { format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\"")) }
}

/// A tile written row-major into a transient region
/// ([`Lowerer::write_row_major`]): the region's offset from the transient
/// base, its typed base pointer and its bytes.
struct RowMajor {
    at: u64,
    base: String,
    bytes: u64,
}

struct Lowerer<'a, 'k> {
    lk: &'a LaidOutKernel<'k>,
    kernel: &'k Kernel,
    w: Writer,
    values: HashMap<ValueId, Lowered>,
    /// Rematerialized and converted values, per region nesting level.
    scopes: Vec<HashMap<(ValueId, Layout), Vec<String>>>,
    defs: HashMap<ValueId, &'k Op>,
    used: HashSet<ValueId>,
    /// High-water mark of shared memory in bytes.
    shared_bytes: u64,
    /// Bytes at the start of shared memory held by live pipeline buffers;
    /// transient uses (exchanges, dot staging) start after them.
    shared_pinned: u64,
    /// Loads of the pipelined loop being lowered: their current buffers.
    pipelined: HashMap<ValueId, dot::Staged>,
    /// Whether some pipeline buffer is read by `wgmma` (the shared memory
    /// is then 1024-byte aligned).
    wgmma_buffers: bool,
    /// Results of the `wgmma` dots of the loop being lowered whose wait is
    /// deferred to the next iteration ([`pipeline`]'s module docs).
    deferred_wgmma: HashSet<ValueId>,
    /// `wgmma` products issued and not yet waited for, oldest first (see
    /// [`dot`]'s module docs): a product is waited for where it is first
    /// read, and every one before control flow and at the end of a region.
    in_flight: Vec<dot::InFlight>,
    codegen: Codegen,
    /// Whether copies carry L2 eviction hints (`.L2::cache_hint`, PTX 7.4):
    /// asked for ([`Codegen::l2_cache_hints`]) and in the ISA.
    l2_hints: bool,
    /// How the pipelined copies of the loop version being lowered are made.
    copy_mode: pipeline::CopyMode,
    /// The transient regions (absolute byte ranges of shared memory) whose
    /// reads may still be running: no barrier has followed them
    /// ([`Self::transient_alloc`]).
    transient_pending: Vec<(u64, u64)>,
    /// Transient regions allocated so far (to tell whether a region of code used any).
    transient_uses: u64,
    /// Tensor maps read by bulk copies: the kernel's `%tmapN` parameters.
    tensor_maps: Vec<TensorMapDesc>,
    tid: String,
    lane: String,
    warp: String,
}

impl<'k> Lowerer<'_, 'k> {
    fn err(op: &Op, stage: Stage, message: impl Into<String>) -> BackendError {
        BackendError::at_op(stage, op.kind.mnemonic(), op.loc, message)
    }

    fn type_of(&self, v: ValueId) -> Result<&'k Type> {
        self.kernel
            .values
            .get(v.0 as usize)
            .ok_or_else(|| BackendError::new(Stage::MalformedIr, format!("{v} is not a value of the kernel")))
    }

    fn elem_of(&self, v: ValueId) -> Result<ElemType> {
        self.type_of(v)?
            .elem()
            .ok_or_else(|| BackendError::new(Stage::UnsupportedOp, "block pointers are not supported"))
    }

    /// A tensor's shape; block pointers are scalars (no layout) here.
    fn shape_of(&self, v: ValueId) -> Result<&'k [u32]> {
        match self.type_of(v)? {
            Type::Tensor { shape, .. } => Ok(shape),
            Type::BlockPtr { .. } => Ok(&[]),
        }
    }

    fn op_id(&self, op: &Op) -> Result<usize> {
        self.lk.op_id(op).ok_or_else(|| Self::err(op, Stage::Layout, "op has no layout entry"))
    }

    fn operand_value(op: &Op, index: usize) -> Result<ValueId> {
        op.operands
            .get(index)
            .copied()
            .ok_or_else(|| Self::err(op, Stage::MalformedIr, format!("missing operand {index}")))
    }

    fn result_value(op: &Op, index: usize) -> Result<ValueId> {
        op.results
            .get(index)
            .copied()
            .ok_or_else(|| Self::err(op, Stage::MalformedIr, format!("missing result {index}")))
    }

    /// The layout a tensor value was produced in.
    fn layout_of(&self, v: ValueId) -> Result<Layout> {
        self.lk.layouts.get(&v).cloned().ok_or_else(|| BackendError::new(Stage::Layout, format!("{v} has no layout")))
    }

    /// Operand `index` of `op`, in the layout the op wants it in.
    fn operand(&mut self, op: &Op, index: usize) -> Result<Vec<String>> {
        let v = Self::operand_value(op, index)?;
        if self.shape_of(v)?.is_empty() {
            return self.scalar(v);
        }
        let id = self.op_id(op)?;
        let layout = match self.lk.operand_layout(id, index) {
            Some(layout) => layout.clone(),
            None => self.layout_of(v)?,
        };
        self.get(v, &layout)
    }

    fn scalar(&self, v: ValueId) -> Result<Vec<String>> {
        match self.values.get(&v) {
            Some(lowered) => Ok(lowered.regs.clone()),
            None => Err(BackendError::new(Stage::MalformedIr, format!("{v} is used before it is defined"))),
        }
    }

    fn cached(&self, v: ValueId, layout: &Layout) -> Option<Vec<String>> {
        self.scopes.iter().rev().find_map(|scope| scope.get(&(v, layout.clone())).cloned())
    }

    fn remember(&mut self, v: ValueId, layout: &Layout, regs: &[String]) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert((v, layout.clone()), regs.to_vec());
        }
    }

    /// Tensor value `v` in `layout`: its registers, rematerialized, renamed
    /// or converted through shared memory as needed.
    fn get(&mut self, v: ValueId, layout: &Layout) -> Result<Vec<String>> {
        let shape = self.shape_of(v)?;
        if shape.is_empty() {
            return self.scalar(v);
        }
        if let Some(regs) = self.cached(v, layout) {
            return Ok(regs);
        }
        let regs = if self.lk.flexible.contains(&v) {
            self.rematerialize(v, layout)?
        } else if let Some(staged) = self.pipelined.get(&v).cloned() {
            // A pipelined tile read by an op other than `dot`: gathered from
            // its buffer straight into the layout the reader wants.
            let map = layout.thread_map(shape);
            let width = if layout.fastest_dim() == Some(staged.contiguous as u32) {
                layout.contiguous_per_thread().min(staged.tile.vec)
            } else {
                1
            };
            self.load_tile(&staged, &map, width)?
        } else {
            self.wgmma_wait_for(v);
            let Some(lowered) = self.values.get(&v).cloned() else {
                return Err(BackendError::new(Stage::MalformedIr, format!("{v} is used before it is defined")));
            };
            let from_layout =
                lowered.layout.clone().ok_or_else(|| BackendError::new(Stage::Layout, format!("{v} has no layout")))?;
            if from_layout == *layout {
                return Ok(lowered.regs);
            }
            let from = from_layout.thread_map(shape);
            let to = layout.thread_map(shape);
            match to.remap_from(&from, &|c: &[u32]| c.to_vec()) {
                Some(index) => pick(&lowered.regs, &index)?,
                None => {
                    let elem = self.elem_of(v)?;
                    self.exchange(&lowered.regs, &from, &to, elem, None)?
                }
            }
        };
        self.remember(v, layout, &regs);
        Ok(regs)
    }

    /// Rebuilds flexible value `v` (from splats, aranges and constants) in `layout`.
    fn rematerialize(&mut self, v: ValueId, layout: &Layout) -> Result<Vec<String>> {
        let op = *self
            .defs
            .get(&v)
            .ok_or_else(|| BackendError::new(Stage::Layout, format!("{v} is flexible but has no definition")))?;
        let shape = self.shape_of(v)?;
        let map = layout.thread_map(shape);
        let n = map.regs.len();
        match &op.kind {
            OpKind::Constant(c) => {
                let elem = self.elem_of(v)?;
                let value = self.constant(op, c, elem)?;
                Ok(vec![value; n])
            }
            OpKind::Splat => {
                let s = self.operand(op, 0)?;
                Ok(vec![first(&s, op)?; n])
            }
            OpKind::Arange { start, .. } => {
                let base = self.base(&map)?;
                let base = base.first().cloned().ok_or_else(|| Self::err(op, Stage::Layout, "arange is not rank 1"))?;
                let mut regs = Vec::with_capacity(n);
                for c in &map.regs {
                    let offset = self.w.i32(start + i64::from(c.first().copied().unwrap_or(0)));
                    regs.push(self.w.bin("addi", &base, &offset, "i32"));
                }
                Ok(regs)
            }
            OpKind::ExpandDims(axis) => {
                let src = Self::operand_value(op, 0)?;
                if self.shape_of(src)?.is_empty() {
                    return Ok(vec![first(&self.scalar(src)?, op)?; n]);
                }
                let slice = Layout::Slice { dim: *axis, parent: Box::new(layout.clone()) };
                let regs = self.get(src, &slice)?;
                let from = slice.thread_map(self.shape_of(src)?);
                self.rename(op, &regs, &from, &map, &|c: &[u32]| drop_dim(c, *axis as usize))
            }
            OpKind::Broadcast => {
                let src = Self::operand_value(op, 0)?;
                let src_shape = self.shape_of(src)?;
                let regs = self.get(src, layout)?;
                let from = layout.thread_map(src_shape);
                self.rename(op, &regs, &from, &map, &|c: &[u32]| broadcast_source(c, src_shape))
            }
            kind if kind.is_elementwise() => {
                let mut operands = Vec::with_capacity(op.operands.len());
                for &o in &op.operands {
                    operands.push(self.get(o, layout)?);
                }
                self.apply_elementwise(op, &operands)
            }
            _ => Err(Self::err(op, Stage::Layout, "this op cannot be rematerialized")),
        }
    }

    /// Registers of a value laid out by `to`, read from registers laid out by
    /// `from` through `project` (to-coordinates -> from-coordinates).
    fn rename(
        &mut self,
        op: &Op,
        regs: &[String],
        from: &ThreadMap,
        to: &ThreadMap,
        project: &dyn Fn(&[u32]) -> Vec<u32>,
    ) -> Result<Vec<String>> {
        let index = to.remap_from(from, project).ok_or_else(|| {
            Self::err(op, Stage::Layout, "the operand and result layouts place elements in different threads")
        })?;
        pick(regs, &index)
    }

    /// Per dimension, this thread's base coordinate under `map` (i32).
    fn base(&mut self, map: &ThreadMap) -> Result<Vec<String>> {
        self.base_from(map, true)
    }

    /// Per dimension, the coordinate the warp id alone contributes under `map`.
    fn warp_base(&mut self, map: &ThreadMap) -> Result<Vec<String>> {
        self.base_from(map, false)
    }

    fn base_from(&mut self, map: &ThreadMap, with_lanes: bool) -> Result<Vec<String>> {
        let (lane, warp) = (self.lane.clone(), self.warp.clone());
        let no_lanes: Vec<Vec<u32>> = Vec::new();
        let lane_bits = if with_lanes { &map.lane } else { &no_lanes };
        let mut out = Vec::with_capacity(map.shape.len());
        for d in 0..map.shape.len() {
            let mut acc: Option<String> = None;
            for (source, bits) in [(&lane, lane_bits), (&warp, &map.warp)] {
                for (i, contribution) in bits.iter().enumerate() {
                    let amount = contribution.get(d).copied().unwrap_or(0);
                    if amount == 0 {
                        continue;
                    }
                    let k = amount.trailing_zeros() as i64;
                    let i = i as i64;
                    let shifted = if i >= k {
                        let s = self.w.i32(i - k);
                        self.w.bin("shrui", source, &s, "i32")
                    } else {
                        let s = self.w.i32(k - i);
                        self.w.bin("shli", source, &s, "i32")
                    };
                    let bit = self.w.i32(i64::from(amount));
                    let term = self.w.bin("andi", &shifted, &bit, "i32");
                    acc = Some(match acc {
                        Some(prev) => self.w.bin("ori", &prev, &term, "i32"),
                        None => term,
                    });
                }
            }
            out.push(match acc {
                Some(v) => v,
                None => self.w.i32(0),
            });
        }
        Ok(out)
    }

    /// Per register, the row-major linear index of its element (i32).
    fn linear_indices(&mut self, map: &ThreadMap) -> Result<Vec<String>> {
        let base = self.base(map)?;
        let strides = row_major_strides(&map.shape);
        let mut base_lin: Option<String> = None;
        for (d, b) in base.iter().enumerate() {
            let stride = self.w.i32(i64::from(strides[d]));
            let term = self.w.bin("muli", b, &stride, "i32");
            base_lin = Some(match base_lin {
                Some(prev) => self.w.bin("addi", &prev, &term, "i32"),
                None => term,
            });
        }
        let base_lin = match base_lin {
            Some(v) => v,
            None => self.w.i32(0),
        };
        let mut out = Vec::with_capacity(map.regs.len());
        for c in &map.regs {
            let offset: u64 = c.iter().zip(&strides).map(|(&c, &s)| u64::from(c) * u64::from(s)).sum();
            let offset = self.w.i32(offset as i64);
            out.push(self.w.bin("addi", &base_lin, &offset, "i32"));
        }
        Ok(out)
    }

    /// Whether this thread is the one owner of its elements under `map`
    /// (`None` when no element is replicated).
    fn owner(&mut self, map: &ThreadMap) -> Option<String> {
        let (lane_mask, warp_mask) = (map.lane_broadcast_mask(), map.warp_broadcast_mask());
        let mut pred: Option<String> = None;
        for (source, mask) in [(self.lane.clone(), lane_mask), (self.warp.clone(), warp_mask)] {
            if mask == 0 {
                continue;
            }
            let m = self.w.i32(i64::from(mask));
            let bits = self.w.bin("andi", &source, &m, "i32");
            let zero = self.w.i32(0);
            let is_zero = self.w.cmpi("eq", &bits, &zero, "i32");
            pred = Some(match pred {
                Some(p) => self.w.and(&p, &is_zero),
                None => is_zero,
            });
        }
        pred
    }

    /// The predicate "thread 0", for effects of scalar ops.
    fn thread_zero(&mut self) -> String {
        let zero = self.w.i32(0);
        let tid = self.tid.clone();
        self.w.cmpi("eq", &tid, &zero, "i32")
    }

    /// Reserves `bytes` of transient shared memory (after the pinned region)
    /// for one exchange or dot staging.
    fn reserve_shared(&mut self, bytes: u64) {
        self.shared_bytes = self.shared_bytes.max(self.shared_pinned + bytes.next_multiple_of(16));
    }

    /// A transient region of `bytes` (an exchange, a cross-warp reduction, a
    /// staged `dot` operand), its absolute address a multiple of `align`;
    /// returns its offset from the transient base.
    ///
    /// Every transient use writes, meets a barrier ([`Self::transient_sync`]),
    /// then reads; no barrier follows its reads. Instead the next region is
    /// placed where those reads cannot be: after the pending region, or
    /// before it when it fits there. A use's middle barrier orders every
    /// earlier use's reads before it (program order in each thread), so
    /// only the latest use is ever pending.
    fn transient_alloc(&mut self, bytes: u64, align: u64) -> u64 {
        // Operands of `wgmma`s still running are read until their wait.
        let mut busy = self.transient_pending.clone();
        busy.extend(self.in_flight.iter().filter_map(|f| f.reads));
        let at = transient_place(&busy, self.shared_pinned, bytes, align);
        self.reserve_shared(at + bytes);
        self.transient_uses += 1;
        let range = self.transient_range(at, bytes);
        self.w.line(shared_hazards::marker(Use::Write, range));
        at
    }

    /// The absolute byte range of shared memory of the transient region of
    /// `bytes` at offset `at` from the transient base.
    fn transient_range(&self, at: u64, bytes: u64) -> (u64, u64) {
        (self.shared_pinned + at, self.shared_pinned + at + bytes)
    }

    /// The barrier between a transient use's writes and its reads: earlier
    /// uses are complete, this one's region stays pending until the next
    /// barrier.
    fn transient_sync(&mut self, at: u64, bytes: u64) {
        self.w.barrier();
        let range = self.transient_range(at, bytes);
        self.w.line(shared_hazards::marker(Use::Read, range));
        self.transient_pending = vec![range];
    }

    /// A barrier after which every transient region is free again.
    fn full_barrier(&mut self) {
        self.w.barrier();
        self.transient_pending.clear();
    }

    /// The pending transient regions after one of two control-flow paths
    /// that ended with `a` and `b` pending: both.
    fn pending_union(mut a: Vec<(u64, u64)>, b: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
        for region in b {
            if !a.contains(&region) {
                a.push(region);
            }
        }
        a
    }

    /// The transient shared-memory region as a typed pointer at byte `offset`.
    fn shared_base(&mut self, offset: u64) -> String {
        let offset = offset + self.shared_pinned;
        self.shared_at(offset)
    }

    /// The dynamic shared-memory buffer at absolute byte `offset`.
    fn shared_at(&mut self, offset: u64) -> String {
        let base = self.w.def(format!("llvm.mlir.addressof @{SHARED_SYMBOL} : !llvm.ptr<3>"));
        if offset == 0 {
            return base;
        }
        let off = self.w.i32(offset as i64);
        self.w.gep(&base, &off, "i32", "!llvm.ptr<3>", "i8")
    }

    /// Moves a tensor from layout `from` to layout `to` through shared memory:
    /// every thread writes its registers at their row-major indices (under
    /// `from`'s shape), a barrier, every thread reads its registers (under
    /// `to`'s shape, which may differ for `reshape`); the region stays
    /// pending ([`Self::transient_alloc`]). `writer`
    /// restricts the writes to threads where it holds.
    fn exchange(
        &mut self,
        regs: &[String],
        from: &ThreadMap,
        to: &ThreadMap,
        elem: ElemType,
        writer: Option<String>,
    ) -> Result<Vec<String>> {
        let staged = self.write_row_major(regs, from, elem, writer)?;
        self.transient_sync(staged.at, staged.bytes);
        let (base, mty, rty) = (staged.base, text::memory_type(elem), elem_type(elem));
        let bytes = text::memory_bytes(elem);
        let reads = self.linear_indices(to)?;
        let mut out = Vec::with_capacity(reads.len());
        for index in &reads {
            let ptr = self.w.gep(&base, index, "i32", "!llvm.ptr<3>", mty);
            let loaded = self.w.load(&ptr, "!llvm.ptr<3>", mty, bytes);
            out.push(if mty != rty { self.w.conv("trunci", &loaded, mty, rty) } else { loaded });
        }
        Ok(out)
    }

    /// The first half of an exchange: a new transient region (16-byte
    /// aligned) holding `regs`, laid out by `from`, at their row-major
    /// indices, written by the threads where `writer` holds (by default
    /// each element's one owner). The caller meets the barrier.
    fn write_row_major(
        &mut self,
        regs: &[String],
        from: &ThreadMap,
        elem: ElemType,
        writer: Option<String>,
    ) -> Result<RowMajor> {
        let numel: u64 = from.shape.iter().map(|&d| u64::from(d)).product();
        let bytes = text::memory_bytes(elem);
        let total = numel * u64::from(bytes);
        let at = self.transient_alloc(total, 16);
        let writes = self.linear_indices(from)?;
        let base = self.shared_base(at);
        let (mty, rty) = (text::memory_type(elem), elem_type(elem));
        let writer = writer.or_else(|| self.owner(from));
        if let Some(pred) = &writer {
            self.w.open(format!("scf.if {pred} {{"));
        }
        for (value, index) in regs.iter().zip(&writes) {
            let stored = if mty != rty { self.w.conv("extui", value, rty, mty) } else { value.clone() };
            let ptr = self.w.gep(&base, index, "i32", "!llvm.ptr<3>", mty);
            self.w.store(&stored, &ptr, mty, "!llvm.ptr<3>", bytes);
        }
        if writer.is_some() {
            self.w.line("scf.yield");
            self.w.close("}");
        }
        Ok(RowMajor { at, base, bytes: total })
    }

    fn define(&mut self, v: ValueId, regs: Vec<String>) -> Result<()> {
        let layout = if self.shape_of(v)?.is_empty() { None } else { Some(self.layout_of(v)?) };
        if let Some(layout) = &layout {
            let expected = layout.thread_map(self.shape_of(v)?).regs.len();
            if expected != regs.len() {
                return Err(BackendError::new(
                    Stage::Layout,
                    format!("{v} has {} registers, its layout {layout} needs {expected}", regs.len()),
                ));
            }
        }
        self.values.insert(v, Lowered { regs, layout });
        Ok(())
    }

    /// Lowers the ops of `region` (whose arguments are already bound) and
    /// returns its terminator's operands, flattened to registers.
    fn region(&mut self, region: &Region) -> Result<Vec<String>> {
        self.scopes.push(HashMap::new());
        let result = self.region_inner(region);
        self.scopes.pop();
        result
    }

    fn region_inner(&mut self, region: &Region) -> Result<Vec<String>> {
        let mut yielded = Vec::new();
        for op in &region.ops {
            match op.kind {
                OpKind::Yield | OpKind::Condition => {
                    for i in 0..op.operands.len() {
                        yielded.extend(self.operand(op, i)?);
                    }
                }
                _ => self.op(op)?,
            }
        }
        // Nothing runs past the region that produced it.
        self.wgmma_wait_in_flight();
        Ok(yielded)
    }

    fn op(&mut self, op: &Op) -> Result<()> {
        if op.results.iter().any(|r| self.lk.flexible.contains(r)) {
            // Built at each use, in the layout the use needs.
            return Ok(());
        }
        if !op.regions.is_empty() {
            // Branches and loops see only completed products.
            self.wgmma_wait_in_flight();
        }
        match &op.kind {
            OpKind::Constant(c) => {
                let result = Self::result_value(op, 0)?;
                let value = self.constant(op, c, self.elem_of(result)?)?;
                self.define(result, vec![value])
            }
            OpKind::ProgramId(axis) | OpKind::NumPrograms(axis) => {
                let dim = match axis {
                    0 => "x",
                    1 => "y",
                    2 => "z",
                    _ => return Err(Self::err(op, Stage::MalformedIr, format!("grid axis {axis} is not 0, 1 or 2"))),
                };
                let register = if matches!(op.kind, OpKind::ProgramId(_)) { "ctaid" } else { "nctaid" };
                let value = self.w.def(format!("nvvm.read.ptx.sreg.{register}.{dim} : i32"));
                self.define(Self::result_value(op, 0)?, vec![value])
            }
            OpKind::Splat | OpKind::Arange { .. } => {
                // Tensors are flexible; a scalar splat is the value itself.
                let result = Self::result_value(op, 0)?;
                let regs = match op.kind {
                    OpKind::Splat => self.operand(op, 0)?,
                    _ => return Err(Self::err(op, Stage::Layout, "arange must be a flexible tensor")),
                };
                self.define(result, regs)
            }
            kind if kind.is_elementwise() => {
                let mut operands = Vec::with_capacity(op.operands.len());
                for i in 0..op.operands.len() {
                    operands.push(self.operand(op, i)?);
                }
                let regs = self.apply_elementwise(op, &operands)?;
                self.define(Self::result_value(op, 0)?, regs)
            }
            OpKind::ExpandDims(_) | OpKind::Broadcast | OpKind::Permute(_) => self.relabel(op),
            OpKind::Reshape => self.reshape(op),
            // A pipelined load's tile is in its buffer ([`pipeline`]).
            OpKind::Load { .. } | OpKind::LoadBlock { .. }
                if op.results.first().is_some_and(|r| self.pipelined.contains_key(r)) =>
            {
                Ok(())
            }
            OpKind::Load { .. } => self.load(op),
            OpKind::Store { .. } => self.store(op),
            OpKind::AtomicAdd { .. } => self.atomic_add(op),
            OpKind::Fence => {
                // Each thread's accesses before the fence are ordered before
                // its later ones for every observer on the GPU; the barrier
                // extends that to the whole program (a flag one thread
                // writes after it follows every thread's earlier stores, and
                // every thread's reads after it follow a flag one read).
                self.asm_memory_barrier("fence.acq_rel.gpu;");
                self.full_barrier();
                Ok(())
            }
            OpKind::Dot { precision } => self.dot(op, *precision),
            OpKind::MakeBlockPtr { .. } => self.make_block_ptr(op),
            OpKind::Advance => self.advance(op),
            OpKind::LoadBlock { boundary_check, padding, .. } => self.load_block(op, boundary_check, *padding),
            OpKind::StoreBlock { boundary_check } => self.store_block(op, boundary_check),
            OpKind::Reduce { kind, axis } => self.reduce(op, *kind, *axis),
            OpKind::Scan { kind, axis, reverse } => self.scan(op, *kind, *axis, *reverse),
            OpKind::For => self.for_loop(op),
            OpKind::If => self.if_op(op),
            OpKind::While => self.while_loop(op),
            OpKind::Return => Ok(()),
            OpKind::Yield | OpKind::Condition => {
                Err(Self::err(op, Stage::MalformedIr, "terminator outside its region's end"))
            }
            _ => Err(Self::err(op, Stage::UnsupportedOp, "not supported by this backend version yet")),
        }
    }

    /// `expand_dims`, `broadcast`, `permute` of an anchored value: register renaming.
    fn relabel(&mut self, op: &Op) -> Result<()> {
        let src = Self::operand_value(op, 0)?;
        let result = Self::result_value(op, 0)?;
        let src_shape = self.shape_of(src)?;
        let result_layout = self.layout_of(result)?;
        let to = result_layout.thread_map(self.shape_of(result)?);
        if src_shape.is_empty() {
            let s = first(&self.scalar(src)?, op)?;
            return self.define(result, vec![s; to.regs.len()]);
        }
        let regs = self.operand(op, 0)?;
        let id = self.op_id(op)?;
        let src_layout = match self.lk.operand_layout(id, 0) {
            Some(layout) => layout.clone(),
            None => self.layout_of(src)?,
        };
        let from = src_layout.thread_map(src_shape);
        let renamed = match &op.kind {
            OpKind::ExpandDims(axis) => {
                let axis = *axis as usize;
                self.rename(op, &regs, &from, &to, &|c: &[u32]| drop_dim(c, axis))?
            }
            OpKind::Broadcast => self.rename(op, &regs, &from, &to, &|c: &[u32]| broadcast_source(c, src_shape))?,
            OpKind::Permute(perm) => {
                let perm = perm.clone();
                self.rename(op, &regs, &from, &to, &move |c: &[u32]| {
                    let mut out = vec![0; c.len()];
                    for (i, &p) in perm.iter().enumerate() {
                        if let (Some(slot), Some(&v)) = (out.get_mut(p as usize), c.get(i)) {
                            *slot = v;
                        }
                    }
                    out
                })?
            }
            _ => return Err(Self::err(op, Stage::Layout, "not a relabelling op")),
        };
        self.define(result, renamed)
    }

    /// `reshape`: through shared memory in row-major order.
    fn reshape(&mut self, op: &Op) -> Result<()> {
        let src = Self::operand_value(op, 0)?;
        let result = Self::result_value(op, 0)?;
        let regs = self.operand(op, 0)?;
        let elem = self.elem_of(result)?;
        let (src_shape, result_shape) = (self.shape_of(src)?, self.shape_of(result)?);
        if src_shape.is_empty() || result_shape.is_empty() {
            let s = first(&regs, op)?;
            let n =
                if result_shape.is_empty() { 1 } else { self.layout_of(result)?.thread_map(result_shape).regs.len() };
            return self.define(result, vec![s; n]);
        }
        let id = self.op_id(op)?;
        let src_layout = match self.lk.operand_layout(id, 0) {
            Some(layout) => layout.clone(),
            None => self.layout_of(src)?,
        };
        let from = src_layout.thread_map(src_shape);
        let to = self.layout_of(result)?.thread_map(result_shape);
        let out = self.exchange(&regs, &from, &to, elem, None)?;
        self.define(result, out)
    }
}

fn first(regs: &[String], op: &Op) -> Result<String> {
    regs.first().cloned().ok_or_else(|| Lowerer::err(op, Stage::Layout, "an operand has no registers"))
}

fn pick(regs: &[String], index: &[usize]) -> Result<Vec<String>> {
    index
        .iter()
        .map(|&i| {
            regs.get(i).cloned().ok_or_else(|| BackendError::new(Stage::Layout, format!("register {i} is missing")))
        })
        .collect()
}

fn drop_dim(c: &[u32], dim: usize) -> Vec<u32> {
    let mut c = c.to_vec();
    if dim < c.len() {
        c.remove(dim);
    }
    c
}

/// The coordinate of the broadcast operand element that `c` reads.
fn broadcast_source(c: &[u32], src_shape: &[u32]) -> Vec<u32> {
    c.iter().zip(src_shape).map(|(&x, &d)| if d == 1 { 0 } else { x }).collect()
}

fn row_major_strides(shape: &[u32]) -> Vec<u32> {
    let mut strides = vec![1u32; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

#[cfg(test)]
mod tests {
    use super::transient_place;

    /// A new transient region never overlaps a pending one (absolute
    /// ranges, below or above the base), whatever the sizes, alignments and
    /// pinned prefix; with nothing pending it starts at the base.
    #[test]
    fn transient_regions_avoid_the_pending_one() {
        for pinned in [0u64, 128, 1000, 81920, 98320] {
            for align in [128u64, 1024] {
                for (start, len) in [(0u64, 16384u64), (1024, 8192), (20480, 4096), (0, 128), (81920, 65536)] {
                    for bytes in [32u64, 4096, 8192, 16384, 40000, 65536] {
                        let at = pinned + transient_place(&[(start, start + len)], pinned, bytes, align);
                        assert!(
                            at + bytes <= start || at >= start + len,
                            "{pinned} {align} {start}+{len}: {bytes} at {at}"
                        );
                        assert_eq!(at % align, 0);
                    }
                }
                let at = transient_place(&[], pinned, 4096, align);
                assert!(at < align && (pinned + at) % align == 0);
            }
        }
        // Room before the pending region is used; a region that does not
        // fit there goes after it.
        assert_eq!(transient_place(&[(16384, 24576)], 0, 8192, 128), 0);
        assert_eq!(transient_place(&[(8192, 16384)], 0, 16384, 128), 16384);
        // Several busy regions: the first gap that fits.
        let busy = [(0, 1024), (9216, 17408), (1024, 2048)];
        assert_eq!(transient_place(&busy, 0, 4096, 1024), 2048);
        assert_eq!(transient_place(&busy, 0, 8192, 1024), 17408);
        for bytes in [64u64, 4096, 7168, 7169, 20000] {
            let at = transient_place(&busy, 0, bytes, 128);
            assert!(busy.iter().all(|&(s, e)| at + bytes <= s || at >= e), "{bytes} at {at}");
        }
        // A region pending from before the base moved up over it: the
        // seventeenth session's 64 KiB state, read at [81920, 147456) while
        // a pipeline pinned 98320 bytes, pushes the next 64 KiB past it.
        assert_eq!(98320 + transient_place(&[(81920, 147456)], 98320, 65536, 16), 147456);
        // One wholly below the base is out of the way.
        assert_eq!(transient_place(&[(0, 16384)], 98320, 65536, 16), 0);
    }
}

#[cfg(test)]
mod transient_tests {
    use crate::{GpuArch, Target, compile_kernel};

    /// Two reductions per iteration of a loop without a pipeline: each
    /// meets one barrier between its writes and reads, the second is placed
    /// beside the first (no barrier between them), and one barrier ends the
    /// iteration, after every shared-memory read, since the next iteration
    /// reuses the same regions.
    #[test]
    fn a_loop_of_reductions_ends_each_iteration_with_one_barrier() {
        let ir = r#"kernel @k(%0: ptr<f32> "x" {div = 16}, %1: ptr<f32> "out", %2: i32 "n" {div = 16}) source("k.tsr") grid(1) warps(4) stages(1) {
  %3 = constant 0.0 : f32
  %4 = constant 0 : i32
  %5 = constant 256 : i32
  %6 = arange 0, 256 : tensor<256xi32>
  %7 = for %4, %2, %5 iter(%3) : f32 {
    ^(%8: i32, %9: f32):
    %10 = splat %8 : tensor<256xi32>
    %11 = add %10, %6 : tensor<256xi32>
    %12 = splat %0 : tensor<256xptr<f32>>
    %13 = addptr %12, %11 : tensor<256xptr<f32>>
    %14 = load %13 : tensor<256xf32>
    %15 = reduce max %14 {axis = 0} : f32
    %16 = reduce sum %14 {axis = 0} : f32
    %17 = add %15, %16 : f32
    %18 = add %9, %17 : f32
    yield %18
  }
  store %1, %7
  return
}
"#;
        let kernel = tessera_tir::parse_kernel(ir).expect("the test IR parses");
        let mlir = compile_kernel(&kernel, &Target::new(GpuArch::Sm80)).expect("backend").stages.mlir;
        let (_, body) = mlir.split_once("} do {").expect("the loop");
        let body = &body[..body.find("scf.yield %").expect("the loop's yield")];
        let lines: Vec<&str> = body.lines().collect();
        let at = |pred: &dyn Fn(&str) -> bool| -> Vec<usize> { (0..lines.len()).filter(|&i| pred(lines[i])).collect() };
        let barriers = at(&|l| l.contains("nvvm.barrier0"));
        let shared_loads = at(&|l| l.contains("llvm.load") && l.contains("!llvm.ptr<3>"));
        let shared_stores = at(&|l| l.contains("llvm.store") && l.contains("!llvm.ptr<3>"));
        assert_eq!(barriers.len(), 3, "two middle barriers and one at the end:\n{body}");
        assert!(shared_loads.iter().all(|&l| l < barriers[2]), "every read before the last barrier");
        // The sum's partials are written after the max's barrier, with no barrier between them.
        let second_writes = shared_stores.iter().filter(|&&s| s > barriers[0]).count();
        assert!(second_writes > 0 && shared_stores.iter().all(|&s| s < barriers[1]), "{body}");
    }
}
