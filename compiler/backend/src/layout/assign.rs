//! Layout assignment: a distributed layout for every tensor value.
//!
//! Loads, stores and atomics anchor layouts: the pointer tensor's shape gets
//! a coalesced blocked layout whose contiguous elements per thread come from
//! the axis info (16-byte vectors where contiguity, alignment and the mask
//! allow). Elementwise ops take their first anchored operand's layout
//! (forward propagation); reductions give a [`Layout::Slice`] of their
//! operand's; `expand_dims` of a slice gives the parent back; `broadcast` and
//! `permute` keep (a relabelling of) their operand's layout. Values built from
//! nothing but `splat`, `arange` and constants are *flexible*: the lowering
//! rematerializes them in whatever layout a consumer asks for, at no cost.
//! Where a consumer needs an anchored value in another layout, a
//! [`Conversion`] is recorded (through shared memory unless the two layouts
//! place the same elements in the same threads). Layouts live in side tables
//! keyed by [`ValueId`] and by op: the tile IR itself is not changed.

use std::collections::{BTreeSet, HashMap, HashSet};

use tessera_tir::{Kernel, Op, OpKind, Padding, Region, ScalarType, Type, ValueId};

use super::{AxisInfo, Layout, WARP_SIZE, analyze_axis_facts, mma::choose_warps, shared::SharedTile, wgmma};
use crate::error::{BackendError, Result, Stage};

/// How a consumer gets a value in the layout it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConversionKind {
    /// The value is rebuilt from its (flexible) definition in the new layout.
    Rematerialize,
    /// Same elements in the same threads: registers are only renamed.
    Registers,
    /// Elements move between threads through shared memory.
    SharedMemory,
}

/// A value used by an op in another layout than the one it was produced in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversion {
    /// The consuming op ([`LaidOutKernel::ops`] index) and its operand position.
    pub op: usize,
    pub operand: usize,
    pub value: ValueId,
    pub from: Layout,
    pub to: Layout,
    pub kind: ConversionKind,
}

/// The vector width of a load, store or atomic: `width` contiguous elements
/// along dimension `dim` per access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryAccess {
    pub dim: u32,
    pub width: u32,
}

/// A kernel with a layout for every tensor value.
#[derive(Debug)]
pub struct LaidOutKernel<'k> {
    pub kernel: &'k Kernel,
    pub num_warps: u32,
    /// Whether `dot`s may run on Hopper `wgmma` (sm_90a only): qualifying
    /// dots get the warpgroup accumulator tiling of
    /// [`wgmma::accumulator_tiling`], and the lowering multiplies them with
    /// `wgmma.mma_async` when their operands are pipelined.
    pub wgmma: bool,
    /// Every op in pre-order (an op before the ops of its regions).
    pub ops: Vec<&'k Op>,
    /// The layout each tensor value is produced in (for flexible values: the
    /// layout of its first use).
    pub layouts: HashMap<ValueId, Layout>,
    /// Values the lowering rebuilds at each use instead of converting.
    pub flexible: HashSet<ValueId>,
    /// The layout each op wants each tensor operand in, keyed by (op, operand).
    pub operand_layouts: HashMap<(usize, usize), Layout>,
    pub conversions: Vec<Conversion>,
    /// Vector widths of loads, stores and atomics, by op.
    pub accesses: HashMap<usize, MemoryAccess>,
    /// Rank-1 loads and stores whose pointers are contiguous but whose
    /// alignment or mask the axis info cannot prove uniform over a vector
    /// (a row start `row * stride` with an unhinted stride, a tail mask
    /// `offs < n` with an unhinted `n`): the lowering vectorizes them to this
    /// wider width behind a run-time check (first address aligned and every
    /// mask bit set), with scalar accesses as the fallback. Their layout gives
    /// each thread that many contiguous elements; [`LaidOutKernel::accesses`]
    /// keeps the width that needs no check.
    pub checked_accesses: HashMap<usize, MemoryAccess>,
    /// Loads and stores of rank 2 and more whose pointers are contiguous
    /// along their fastest axis but whose alignment or mask the axis info
    /// cannot prove uniform over a vector (rows `r[:, None] * stride` with an
    /// unhinted stride): the lowering has no run-time check for them, so
    /// they stay as narrow as the proof allows. Their parameters are
    /// specialization candidates all the same (see
    /// `divisibility_candidates`): a variant that assumes the stride
    /// divisible gets the wide access.
    pub unaligned_accesses: BTreeSet<usize>,
    pub axis_info: HashMap<ValueId, AxisInfo>,
    /// Integer values known to equal 1 everywhere ([`analyze_axis_facts`]).
    pub unit_values: BTreeSet<ValueId>,
    /// The `order` of the `make_block_ptr` every block-pointer value comes from.
    pub block_orders: HashMap<ValueId, Vec<u32>>,
    op_index: HashMap<usize, usize>,
}

impl<'k> LaidOutKernel<'k> {
    /// The index of `op` in [`LaidOutKernel::ops`].
    pub fn op_id(&self, op: &Op) -> Option<usize> {
        self.op_index.get(&(op as *const Op as usize)).copied()
    }

    /// The layout `op` (by id) wants its operand `index` in.
    pub fn operand_layout(&self, op: usize, index: usize) -> Option<&Layout> {
        self.operand_layouts.get(&(op, index))
    }
}

/// Target facts and code-generation choices layout assignment depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LayoutOptions {
    /// The target has Hopper's `wgmma.mma_async` (sm_90a).
    pub wgmma: bool,
}

/// Checks the kernel is in the supported subset and assigns layouts, for a
/// target without `wgmma`.
pub fn assign_layouts(kernel: &Kernel) -> Result<LaidOutKernel<'_>> {
    assign_layouts_for(kernel, LayoutOptions::default())
}

/// [`assign_layouts`] for a target and code-generation choices.
pub fn assign_layouts_for(kernel: &Kernel, options: LayoutOptions) -> Result<LaidOutKernel<'_>> {
    let wgmma = options.wgmma;
    let mut ops = Vec::new();
    collect_ops(&kernel.body, &mut ops);
    let op_index = ops.iter().enumerate().map(|(i, op)| (*op as *const Op as usize, i)).collect();
    for op in &ops {
        check_supported(kernel, op)?;
    }
    let (axis_info, unit_values) = analyze_axis_facts(kernel);
    let num_warps = kernel.meta.num_warps.max(1);
    if !num_warps.is_power_of_two() || num_warps > 32 {
        return Err(BackendError::new(
            Stage::ShapeCheck,
            format!("`warps({num_warps})` must be a power of two between 1 and 32"),
        ));
    }
    let mut lk = LaidOutKernel {
        kernel,
        num_warps,
        wgmma,
        ops,
        layouts: HashMap::new(),
        flexible: HashSet::new(),
        operand_layouts: HashMap::new(),
        conversions: Vec::new(),
        accesses: HashMap::new(),
        checked_accesses: HashMap::new(),
        unaligned_accesses: BTreeSet::new(),
        axis_info,
        unit_values,
        block_orders: HashMap::new(),
        op_index,
    };
    lk.block_orders = block_orders(kernel, &lk.ops)?;
    let mut assigner = Assigner {
        state: State::default(),
        wanted: HashMap::new(),
        vec_by_shape: HashMap::new(),
        block_accesses: HashMap::new(),
        checked: HashMap::new(),
        unaligned: BTreeSet::new(),
    };
    assigner.plan_accesses(&lk)?;
    assigner.region(&lk, &kernel.body)?;
    let State { status, layouts, operand_layouts, conversions } = assigner.state;
    for (value, status) in status {
        match status {
            Status::Fixed(layout) => {
                lk.layouts.insert(value, layout);
            }
            Status::Flexible => {
                lk.flexible.insert(value);
            }
        }
    }
    for value in lk.flexible.clone() {
        let layout = match layouts.get(&value) {
            Some(layout) => layout.clone(),
            None => assigner_default(&assigner.vec_by_shape, num_warps, shape_of(kernel, value)),
        };
        lk.layouts.insert(value, layout);
    }
    lk.operand_layouts = operand_layouts;
    lk.conversions = conversions;
    // A memory op's vector width: what the axis info allows, within the
    // contiguous elements its layout gives each thread.
    for (&op, &(dim, wanted)) in &assigner.wanted {
        let width = match lk.operand_layout(op, 0) {
            Some(layout) if layout.fastest_dim() == Some(dim) => wanted.min(layout.contiguous_per_thread()),
            _ => 1,
        };
        lk.accesses.insert(op, MemoryAccess { dim, width: width.max(1) });
    }
    lk.accesses.extend(assigner.block_accesses);
    for (&op, &(dim, wanted)) in &assigner.checked {
        let static_width = lk.accesses.get(&op).map_or(1, |a| a.width);
        let width = match lk.operand_layout(op, 0) {
            Some(layout) if layout.fastest_dim() == Some(dim) => wanted.min(layout.contiguous_per_thread()),
            _ => 1,
        };
        if width > static_width {
            lk.checked_accesses.insert(op, MemoryAccess { dim, width });
        }
    }
    lk.unaligned_accesses = assigner.unaligned;
    Ok(lk)
}

/// The `order` of every block-pointer value, traced from its
/// `make_block_ptr` through `advance`, loop-carried values and `if` results
/// (ops in pre-order visit a loop before its body). Orders are checked to be
/// permutations of the block's axes.
fn block_orders(kernel: &Kernel, ops: &[&Op]) -> Result<HashMap<ValueId, Vec<u32>>> {
    let mut orders: HashMap<ValueId, Vec<u32>> = HashMap::new();
    let is_block = |v: ValueId| matches!(kernel.values.get(v.0 as usize), Some(Type::BlockPtr { .. }));
    // Twice: an `if` is visited before the ops of its branches.
    for op in ops.iter().chain(ops.iter()) {
        match &op.kind {
            OpKind::MakeBlockPtr { order } => {
                let rank = op.results.first().map_or(0, |&r| match kernel.values.get(r.0 as usize) {
                    Some(Type::BlockPtr { block, .. }) => block.len(),
                    _ => 0,
                });
                let mut sorted = order.clone();
                sorted.sort_unstable();
                if sorted != (0..rank as u32).collect::<Vec<_>>() {
                    return Err(BackendError::at_op(
                        Stage::MalformedIr,
                        "make_block_ptr",
                        op.loc,
                        format!("order {order:?} is not a permutation of the {rank} block axes"),
                    ));
                }
                for &r in &op.results {
                    orders.insert(r, order.clone());
                }
            }
            OpKind::Advance => {
                if let (Some(&src), Some(&r)) = (op.operands.first(), op.results.first())
                    && let Some(order) = orders.get(&src).cloned()
                {
                    orders.insert(r, order);
                }
            }
            OpKind::For | OpKind::While => {
                let skip = if matches!(op.kind, OpKind::For) { 3 } else { 0 };
                let arg_skip = if matches!(op.kind, OpKind::For) { 1 } else { 0 };
                for (i, &init) in op.operands.iter().skip(skip).enumerate() {
                    if !is_block(init) {
                        continue;
                    }
                    let Some(order) = orders.get(&init).cloned() else { continue };
                    for region in &op.regions {
                        if let Some(&arg) = region.args.get(arg_skip + i) {
                            orders.insert(arg, order.clone());
                        }
                    }
                    if let Some(&r) = op.results.get(i) {
                        orders.insert(r, order);
                    }
                }
            }
            OpKind::If => {
                for (i, &r) in op.results.iter().enumerate() {
                    let yielded = op.regions.iter().filter_map(|reg| reg.ops.last()?.operands.get(i).copied());
                    if let Some(order) = yielded.filter_map(|v| orders.get(&v).cloned()).next() {
                        orders.insert(r, order);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(orders)
}

fn collect_ops<'k>(region: &'k Region, out: &mut Vec<&'k Op>) {
    for op in &region.ops {
        out.push(op);
        for inner in &op.regions {
            collect_ops(inner, out);
        }
    }
}

/// The `wgmma` accumulator tiling for `dot` op `op` with an `[m, n]` result,
/// when the target has `wgmma` and the dot is one the lowering can run on it:
/// 16-bit inputs into f32, K a multiple of 16, in a kernel with at least two
/// pipeline stages, each operand either a zero-padded `load_block` (which
/// the software pipeliner puts in shared memory, where `wgmma` reads it) or
/// a register value the lowering stages there, with tiles of whole
/// swizzle panels.
/// The tiling is a valid `mma.sync` tiling too (banded ones included), so a
/// dot the lowering then finds unsuitable still runs, on `mma.sync`.
fn wgmma_accumulator(lk: &LaidOutKernel, op: &Op, shape: [u32; 2]) -> Option<Layout> {
    if !lk.wgmma || lk.kernel.meta.num_stages < 2 {
        return None;
    }
    let tensor = |v: Option<&ValueId>| match v.and_then(|v| lk.kernel.values.get(v.0 as usize)) {
        Some(Type::Tensor { elem, shape }) => Some((elem.scalar()?, shape.clone())),
        _ => None,
    };
    let (a_elem, a_shape) = tensor(op.operands.first())?;
    let (b_elem, _) = tensor(op.operands.get(1))?;
    let (acc_elem, _) = tensor(op.operands.get(2))?;
    let sixteen_bit = matches!(a_elem, ScalarType::BF16 | ScalarType::F16) && a_elem == b_elem;
    let k = a_shape.get(1).copied()?;
    if !sixteen_bit || acc_elem != ScalarType::F32 || k == 0 || !k.is_multiple_of(wgmma::WGMMA_K) {
        return None;
    }
    // The load's tile, stored with `order[0]` contiguous, must be whole
    // swizzle panels (see `SharedTile::wgmma_panels`).
    let from_block_load = |v: ValueId| {
        let Some(load) = lk.ops.iter().find(|o| o.results.first() == Some(&v)) else { return false };
        let zero_padded = matches!(load.kind, OpKind::LoadBlock { padding: Padding::Zero, .. });
        let order = load.operands.first().and_then(|ptr| lk.block_orders.get(ptr));
        let shape = shape_of(lk.kernel, v);
        let panels = match (order.and_then(|o| o.first()), shape) {
            (Some(&fast @ 0..=1), &[d0, d1]) => {
                let (rows, cols) = if fast == 1 { (d0, d1) } else { (d1, d0) };
                SharedTile::wgmma_panels(rows, cols, 2).is_some()
            }
            _ => false,
        };
        zero_padded && panels
    };
    // Any other operand is staged from registers, into panels when its rows
    // (taken along its last dimension, the usual register order) are.
    let staged_panels = |v: ValueId| {
        let is_block_load =
            lk.ops.iter().any(|o| o.results.first() == Some(&v) && matches!(o.kind, OpKind::LoadBlock { .. }));
        match shape_of(lk.kernel, v) {
            &[rows, cols] => !is_block_load && SharedTile::wgmma_panels(rows, cols, 2).is_some(),
            _ => false,
        }
    };
    if !op.operands.iter().take(2).all(|&v| from_block_load(v) || staged_panels(v)) {
        return None;
    }
    wgmma::accumulator_tiling(shape, lk.num_warps).map(|tiling| tiling.layout())
}

/// The shape of a tensor value; block pointers are scalars here (one value
/// per thread, no layout).
fn shape_of(kernel: &Kernel, v: ValueId) -> &[u32] {
    match kernel.values.get(v.0 as usize) {
        Some(Type::Tensor { shape, .. }) => shape,
        _ => &[],
    }
}

/// Rejects what the backend does not compile yet, naming the op.
fn check_supported(kernel: &Kernel, op: &Op) -> Result<()> {
    let unsupported = |what: &str| {
        Err(BackendError::at_op(
            Stage::UnsupportedOp,
            op.kind.mnemonic(),
            op.loc,
            format!("{what} are not supported by this backend version yet"),
        ))
    };
    if let OpKind::Dot { .. } = op.kind {
        let rank2 = |i: usize| op.operands.get(i).map(|&v| shape_of(kernel, v).len()) == Some(2);
        if !(rank2(0) && rank2(1) && rank2(2)) {
            return unsupported("`dot` of operands that are not rank 2");
        }
    }
    for &v in op.results.iter().chain(op.regions.iter().flat_map(|r| r.args.iter())) {
        let Some(ty) = kernel.values.get(v.0 as usize) else {
            return Err(BackendError::at_op(
                Stage::MalformedIr,
                op.kind.mnemonic(),
                op.loc,
                format!("{v} has no type"),
            ));
        };
        if let Some(&d) = ty.shape().iter().find(|d| !d.is_power_of_two()) {
            return Err(BackendError::at_op(
                Stage::ShapeCheck,
                op.kind.mnemonic(),
                op.loc,
                format!("the result type {ty} has dimension {d}, which is not a power of two"),
            )
            .with_detail(format!("help: pad the block to {} and mask the extra elements", d.next_power_of_two())));
        }
    }
    for &v in &op.operands {
        if kernel.values.get(v.0 as usize).is_none() {
            return Err(BackendError::at_op(
                Stage::MalformedIr,
                op.kind.mnemonic(),
                op.loc,
                format!("operand {v} is not a value of the kernel"),
            ));
        }
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Status {
    Fixed(Layout),
    Flexible,
}

#[derive(Clone, Default)]
struct State {
    status: HashMap<ValueId, Status>,
    /// First-use layouts of flexible values.
    layouts: HashMap<ValueId, Layout>,
    operand_layouts: HashMap<(usize, usize), Layout>,
    conversions: Vec<Conversion>,
}

struct Assigner {
    state: State,
    /// Per memory op: the dimension and vector width the axis info allows.
    wanted: HashMap<usize, (u32, u32)>,
    /// Per tensor shape: the widest vector any memory op on that shape wants.
    vec_by_shape: HashMap<Vec<u32>, u32>,
    /// Vector widths of block-pointer loads and stores, by op.
    block_accesses: HashMap<usize, MemoryAccess>,
    /// Per rank-1 load or store: the dimension and the wider width its
    /// contiguity allows behind a run-time alignment and mask check.
    checked: HashMap<usize, (u32, u32)>,
    /// Accesses of rank 2+ narrowed by alignment or mask alone.
    unaligned: BTreeSet<usize>,
}

/// The largest power of two at most `v` (1 for 0), as a `u32`.
fn floor_pow2(v: u64) -> u32 {
    if v == 0 { 1 } else { 1u32 << (63 - v.min(u64::from(u32::MAX)).leading_zeros()) }
}

fn assigner_default(vec_by_shape: &HashMap<Vec<u32>, u32>, num_warps: u32, shape: &[u32]) -> Layout {
    let numel: u64 = shape.iter().map(|&d| u64::from(d)).product();
    let per_thread = (numel / u64::from(WARP_SIZE * num_warps)).max(1);
    let vec = u64::from(vec_by_shape.get(shape).copied().unwrap_or(1)).min(per_thread);
    Layout::default_blocked(shape, num_warps, vec as u32)
}

impl Assigner {
    fn default_for(&self, lk: &LaidOutKernel, shape: &[u32]) -> Layout {
        assigner_default(&self.vec_by_shape, lk.num_warps, shape)
    }

    /// Vector widths the axis info allows for every load, store and atomic.
    fn plan_accesses(&mut self, lk: &LaidOutKernel) -> Result<()> {
        for (id, op) in lk.ops.iter().enumerate() {
            let is_atomic = match op.kind {
                OpKind::Load { .. } | OpKind::Store { .. } => false,
                OpKind::AtomicAdd { .. } => true,
                _ => continue,
            };
            let Some(&ptr) = op.operands.first() else {
                return Err(BackendError::at_op(Stage::MalformedIr, op.kind.mnemonic(), op.loc, "no pointer operand"));
            };
            let shape = shape_of(lk.kernel, ptr).to_vec();
            let Some(proven) = proven_vector(lk.kernel, op, &lk.axis_info) else { continue };
            let (dim, contiguous) = (proven.dim, proven.contiguous);
            let width = if is_atomic { 1 } else { proven.width };
            self.wanted.insert(id, (dim, width));
            // Contiguity alone bounds the checked width: alignment and the
            // mask are tested at run time.
            let checked = shape.len() == 1 && !is_atomic && contiguous > width;
            if checked {
                self.checked.insert(id, (dim, contiguous));
            } else if !is_atomic && contiguous > width {
                self.unaligned.insert(id);
            }
            let entry = self.vec_by_shape.entry(shape).or_insert(1);
            *entry = (*entry).max(if checked { contiguous } else { width });
        }
        Ok(())
    }

    fn fixed(&self, lk: &LaidOutKernel, v: ValueId) -> Option<Layout> {
        if shape_of(lk.kernel, v).is_empty() {
            return None;
        }
        match self.state.status.get(&v) {
            Some(Status::Fixed(layout)) => Some(layout.clone()),
            _ => None,
        }
    }

    fn set(&mut self, lk: &LaidOutKernel, v: ValueId, status: Status) {
        if !shape_of(lk.kernel, v).is_empty() {
            self.state.status.insert(v, status);
        }
    }

    /// Records that operand `index` of op `op` is wanted in `layout`.
    fn request(&mut self, lk: &LaidOutKernel, op: usize, index: usize, v: ValueId, layout: &Layout) {
        let shape = shape_of(lk.kernel, v);
        if shape.is_empty() {
            return;
        }
        self.state.operand_layouts.insert((op, index), layout.clone());
        let from = match self.state.status.get(&v) {
            Some(Status::Fixed(from)) => from.clone(),
            _ => match self.state.layouts.get(&v) {
                Some(first) if first != layout => {
                    let conversion = Conversion {
                        op,
                        operand: index,
                        value: v,
                        from: first.clone(),
                        to: layout.clone(),
                        kind: ConversionKind::Rematerialize,
                    };
                    self.state.conversions.push(conversion);
                    return;
                }
                Some(_) => return,
                None => {
                    self.state.layouts.insert(v, layout.clone());
                    return;
                }
            },
        };
        if from != *layout {
            let kind = if from.thread_map(shape).same_distribution(&layout.thread_map(shape)) {
                ConversionKind::Registers
            } else {
                ConversionKind::SharedMemory
            };
            self.state.conversions.push(Conversion { op, operand: index, value: v, from, to: layout.clone(), kind });
        }
    }

    fn op_id(lk: &LaidOutKernel, op: &Op) -> Result<usize> {
        lk.op_id(op).ok_or_else(|| BackendError::at_op(Stage::Layout, op.kind.mnemonic(), op.loc, "op not indexed"))
    }

    fn region(&mut self, lk: &LaidOutKernel, region: &Region) -> Result<()> {
        for op in &region.ops {
            self.op(lk, op)?;
        }
        Ok(())
    }

    fn op(&mut self, lk: &LaidOutKernel, op: &Op) -> Result<()> {
        let id = Self::op_id(lk, op)?;
        let malformed =
            || BackendError::at_op(Stage::MalformedIr, op.kind.mnemonic(), op.loc, "missing operand or result");
        let first = op.operands.first().copied();
        match &op.kind {
            OpKind::Constant(_) | OpKind::Splat | OpKind::Arange { .. } => {
                for &r in &op.results {
                    self.set(lk, r, Status::Flexible);
                }
            }
            kind if kind.is_elementwise() => {
                let result = *op.results.first().ok_or_else(malformed)?;
                match op.operands.iter().find_map(|&v| self.fixed(lk, v)) {
                    Some(layout) => {
                        for (i, &v) in op.operands.iter().enumerate() {
                            self.request(lk, id, i, v, &layout);
                        }
                        self.set(lk, result, Status::Fixed(layout));
                    }
                    None => self.set(lk, result, Status::Flexible),
                }
            }
            OpKind::Load { .. } | OpKind::Store { .. } | OpKind::AtomicAdd { .. } => {
                let ptr = first.ok_or_else(malformed)?;
                let shape = shape_of(lk.kernel, ptr).to_vec();
                if !shape.is_empty() {
                    let layout = self.default_for(lk, &shape);
                    for (i, &v) in op.operands.iter().enumerate() {
                        self.request(lk, id, i, v, &layout);
                    }
                    for &r in &op.results {
                        self.set(lk, r, Status::Fixed(layout.clone()));
                    }
                }
            }
            OpKind::Reduce { axis, .. } | OpKind::Scan { axis, .. } => {
                let v = first.ok_or_else(malformed)?;
                let layout = self.fixed(lk, v).unwrap_or_else(|| self.default_for(lk, shape_of(lk.kernel, v)));
                self.request(lk, id, 0, v, &layout);
                let result = *op.results.first().ok_or_else(malformed)?;
                let result_layout = match op.kind {
                    OpKind::Reduce { .. } => Layout::Slice { dim: *axis, parent: Box::new(layout) },
                    _ => layout,
                };
                self.set(lk, result, Status::Fixed(result_layout));
            }
            OpKind::ExpandDims(axis) => {
                let v = first.ok_or_else(malformed)?;
                let result = *op.results.first().ok_or_else(malformed)?;
                match self.fixed(lk, v) {
                    Some(Layout::Slice { dim, parent }) if dim == *axis => {
                        self.request(lk, id, 0, v, &Layout::Slice { dim, parent: parent.clone() });
                        self.set(lk, result, Status::Fixed(*parent));
                    }
                    // A blocked operand keeps its distribution: the result
                    // adds a one-element dimension, and the operand is its
                    // slice without moving (a row of weights `w[None, :]`
                    // beside [rows, cols] tiles would otherwise go through
                    // shared memory twice per use).
                    Some(layout) => {
                        let parent = layout
                            .with_unit_dim(*axis)
                            .unwrap_or_else(|| self.default_for(lk, shape_of(lk.kernel, result)));
                        self.request(lk, id, 0, v, &Layout::Slice { dim: *axis, parent: Box::new(parent.clone()) });
                        self.set(lk, result, Status::Fixed(parent));
                    }
                    None => self.set(lk, result, Status::Flexible),
                }
            }
            OpKind::Broadcast => {
                let v = first.ok_or_else(malformed)?;
                let result = *op.results.first().ok_or_else(malformed)?;
                match self.fixed(lk, v) {
                    Some(layout) => {
                        self.request(lk, id, 0, v, &layout);
                        self.set(lk, result, Status::Fixed(layout));
                    }
                    None => self.set(lk, result, Status::Flexible),
                }
            }
            OpKind::Permute(perm) => {
                let v = first.ok_or_else(malformed)?;
                let result = *op.results.first().ok_or_else(malformed)?;
                let layout = match self.fixed(lk, v) {
                    Some(layout @ Layout::Blocked { .. }) => layout,
                    _ => self.default_for(lk, shape_of(lk.kernel, v)),
                };
                let permuted = layout.permuted(perm).ok_or_else(|| {
                    BackendError::at_op(Stage::MalformedIr, "permute", op.loc, format!("bad permutation {perm:?}"))
                })?;
                self.request(lk, id, 0, v, &layout);
                self.set(lk, result, Status::Fixed(permuted));
            }
            OpKind::Reshape => {
                let v = first.ok_or_else(malformed)?;
                let result = *op.results.first().ok_or_else(malformed)?;
                let layout = self.fixed(lk, v).unwrap_or_else(|| self.default_for(lk, shape_of(lk.kernel, v)));
                self.request(lk, id, 0, v, &layout);
                let result_layout = self.default_for(lk, shape_of(lk.kernel, result));
                self.set(lk, result, Status::Fixed(result_layout));
            }
            OpKind::For => {
                let inits = op.operands.get(3..).ok_or_else(malformed)?;
                let body = op.regions.first().ok_or_else(malformed)?;
                let args = body.args.get(1..).ok_or_else(malformed)?;
                self.carried(lk, op, id, 3, inits, &[(body, args)])?;
            }
            OpKind::While => {
                let (before, body) =
                    (op.regions.first().ok_or_else(malformed)?, op.regions.get(1).ok_or_else(malformed)?);
                self.carried(lk, op, id, 0, &op.operands, &[(before, &before.args), (body, &body.args)])?;
            }
            OpKind::If => {
                for region in &op.regions {
                    self.region(lk, region)?;
                }
                for (i, &result) in op.results.iter().enumerate() {
                    let yielded: Vec<ValueId> = op
                        .regions
                        .iter()
                        .filter_map(|r| r.ops.last())
                        .filter_map(|y| y.operands.get(i).copied())
                        .collect();
                    let layout = yielded
                        .iter()
                        .find_map(|&v| self.fixed(lk, v))
                        .unwrap_or_else(|| self.default_for(lk, shape_of(lk.kernel, result)));
                    self.yield_in(lk, &op.regions, i, &layout)?;
                    self.set(lk, result, Status::Fixed(layout));
                }
            }
            OpKind::Dot { .. } => {
                let result = *op.results.first().ok_or_else(malformed)?;
                let shape = shape_of(lk.kernel, result);
                let (m, n) = (shape.first().copied().unwrap_or(1), shape.get(1).copied().unwrap_or(1));
                let acc = wgmma_accumulator(lk, op, [m, n]).unwrap_or_else(|| Layout::Mma {
                    warps_per_cta: choose_warps([m, n], lk.num_warps).to_vec(),
                    banded: false,
                });
                for i in 0..2 {
                    let v = *op.operands.get(i).ok_or_else(malformed)?;
                    let layout = self.fixed(lk, v).unwrap_or_else(|| self.default_for(lk, shape_of(lk.kernel, v)));
                    self.request(lk, id, i, v, &layout);
                }
                let v = *op.operands.get(2).ok_or_else(malformed)?;
                self.request(lk, id, 2, v, &acc);
                self.set(lk, result, Status::Fixed(acc));
            }
            OpKind::MakeBlockPtr { .. } | OpKind::Advance => {}
            OpKind::LoadBlock { .. } | OpKind::StoreBlock { .. } => {
                let order = lk.block_orders.get(&first.ok_or_else(malformed)?).cloned().ok_or_else(|| {
                    BackendError::at_op(
                        Stage::Layout,
                        op.kind.mnemonic(),
                        op.loc,
                        "the block pointer's origin is unknown",
                    )
                })?;
                let (shape, elem) = match lk.kernel.values.get(first.ok_or_else(malformed)?.0 as usize) {
                    Some(Type::BlockPtr { elem, block }) => (block.clone(), *elem),
                    _ => return Err(malformed()),
                };
                let numel: u32 = shape.iter().product();
                let fast = order.first().copied().unwrap_or(0);
                let per_thread = (numel / (WARP_SIZE * lk.num_warps)).max(1);
                let vec =
                    (16 / elem.bytes().max(1)).min(shape.get(fast as usize).copied().unwrap_or(1)).min(per_thread);
                let layout = Layout::blocked_in_order(&shape, lk.num_warps, vec.max(1), &order);
                self.block_accesses.insert(id, MemoryAccess { dim: fast, width: vec.max(1) });
                for &r in &op.results {
                    self.set(lk, r, Status::Fixed(layout.clone()));
                }
                if let Some(&value) = op.operands.get(1) {
                    self.request(lk, id, 1, value, &layout);
                }
            }
            OpKind::Yield
            | OpKind::Condition
            | OpKind::Return
            | OpKind::Fence
            | OpKind::ProgramId(_)
            | OpKind::NumPrograms(_) => {}
            OpKind::Unary(_)
            | OpKind::Binary(_)
            | OpKind::Compare(_)
            | OpKind::Select
            | OpKind::Cast
            | OpKind::AddPtr => {
                return Err(BackendError::at_op(
                    Stage::Layout,
                    op.kind.mnemonic(),
                    op.loc,
                    "op reached layout assignment",
                ));
            }
        }
        Ok(())
    }

    /// Requests yield operand `index` of each region's terminator in `layout`.
    fn yield_in(&mut self, lk: &LaidOutKernel, regions: &[Region], index: usize, layout: &Layout) -> Result<()> {
        for region in regions {
            if let Some(terminator) = region.ops.last().filter(|t| matches!(t.kind, OpKind::Yield)) {
                let id = Self::op_id(lk, terminator)?;
                if let Some(&v) = terminator.operands.get(index) {
                    self.request(lk, id, index, v, layout);
                }
            }
        }
        Ok(())
    }

    /// Loop-carried values (`for` iters, `while` carried values): each takes
    /// its init's layout, or else the layout the body yields (found by a
    /// trial pass over the body whose effects are discarded), or the default.
    /// A value the body yields as a tensor-core accumulator keeps that layout
    /// even when its init is anchored elsewhere (a loaded state updated by a
    /// `dot`): the init is converted once before the loop instead of the
    /// carried value twice per iteration.
    fn carried(
        &mut self,
        lk: &LaidOutKernel,
        op: &Op,
        id: usize,
        first_init: usize,
        inits: &[ValueId],
        regions: &[(&Region, &[ValueId])],
    ) -> Result<()> {
        let mut layouts: Vec<Option<Layout>> = inits.iter().map(|&v| self.fixed(lk, v)).collect();
        let tensor = |v: ValueId| !shape_of(lk.kernel, v).is_empty();
        if inits.iter().any(|&v| tensor(v)) {
            let saved = self.state.clone();
            for (region, args) in regions {
                for &arg in args.iter() {
                    self.set(lk, arg, Status::Flexible);
                }
                self.region(lk, region)?;
            }
            if let Some((body, _)) = regions.last() {
                let yielded = body.ops.last().map(|y| y.operands.clone()).unwrap_or_default();
                for (i, layout) in layouts.iter_mut().enumerate() {
                    let from_body = yielded.get(i).and_then(|&v| self.fixed(lk, v));
                    match (&layout, from_body) {
                        (None, from_body) => *layout = from_body,
                        (Some(_), Some(acc @ Layout::Mma { .. })) => *layout = Some(acc),
                        _ => {}
                    }
                }
            }
            self.state = saved;
        }
        let layouts: Vec<Option<Layout>> =
            inits
                .iter()
                .zip(layouts)
                .map(|(&v, l)| {
                    if tensor(v) {
                        Some(l.unwrap_or_else(|| self.default_for(lk, shape_of(lk.kernel, v))))
                    } else {
                        None
                    }
                })
                .collect();
        for (i, (&v, layout)) in inits.iter().zip(&layouts).enumerate() {
            if let Some(layout) = layout {
                self.request(lk, id, first_init + i, v, layout);
            }
        }
        for (region, args) in regions {
            for (&arg, layout) in args.iter().zip(&layouts) {
                if let Some(layout) = layout {
                    self.set(lk, arg, Status::Fixed(layout.clone()));
                }
            }
            self.region(lk, region)?;
        }
        if let Some((body, _)) = regions.last() {
            for (i, layout) in layouts.iter().enumerate() {
                if let Some(layout) = layout {
                    self.yield_in(lk, std::slice::from_ref(body), i, layout)?;
                }
            }
        }
        for (&result, layout) in op.results.iter().zip(&layouts) {
            if let Some(layout) = layout {
                self.set(lk, result, Status::Fixed(layout.clone()));
            }
        }
        Ok(())
    }
}

/// What the axis info proves about a load's or store's vectors along its
/// fastest axis (`dim`, the last): `width` elements need no run-time check
/// (contiguity, alignment and mask all allow it, at most 16 bytes);
/// `contiguous` is what contiguity alone would allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvenVector {
    pub dim: u32,
    pub width: u32,
    pub contiguous: u32,
}

/// [`ProvenVector`] of the load, store or atomic `op` under `axis_info`;
/// `None` for other ops and scalar accesses.
pub fn proven_vector(kernel: &Kernel, op: &Op, axis_info: &HashMap<ValueId, AxisInfo>) -> Option<ProvenVector> {
    let (masked, mask_index) = match op.kind {
        OpKind::Load { masked, .. } => (masked, 1),
        OpKind::Store { masked } => (masked, 2),
        OpKind::AtomicAdd { masked } => (masked, 2),
        _ => return None,
    };
    let ptr = *op.operands.first()?;
    let shape = shape_of(kernel, ptr);
    let dim = shape.len().checked_sub(1)?;
    let pointee = kernel.values.get(ptr.0 as usize).and_then(Type::elem).and_then(|e| e.pointee());
    let bytes = u64::from(pointee.map_or(1, |p| p.bytes()));
    let info = axis_info.get(&ptr).cloned().unwrap_or_else(|| AxisInfo::unknown(shape));
    let mut width = u64::from(info.contiguity[dim]).min(info.divisibility[dim] / bytes).min(16 / bytes);
    if masked && let Some(mask) = op.operands.get(mask_index).and_then(|m| axis_info.get(m)) {
        width = width.min(u64::from(mask.constancy[dim]));
    }
    Some(ProvenVector {
        dim: dim as u32,
        width: floor_pow2(width),
        contiguous: floor_pow2(u64::from(info.contiguity[dim]).min(16 / bytes)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bf16 row `x + row * stride + arange(0, 1024)` loaded under `offs < n`.
    fn row_load(stride_hint: &str, n_hint: &str) -> Kernel {
        let text = format!(
            "kernel @k(%0: ptr<bf16> \"x\" {{div = 16}}, %1: i32 \"stride\" {stride_hint}, %2: i32 \"n\" {n_hint}) source(\"k\") grid(1) warps(4) stages(1) {{
  %3 = program_id 0 : i32
  %4 = mul %3, %1 : i32
  %5 = addptr %0, %4 : ptr<bf16>
  %6 = arange 0, 1024 : tensor<1024xi32>
  %7 = splat %2 : tensor<1024xi32>
  %8 = cmp lt %6, %7 : tensor<1024xi1>
  %9 = splat %5 : tensor<1024xptr<bf16>>
  %10 = addptr %9, %6 : tensor<1024xptr<bf16>>
  %11 = load %10, %8 : tensor<1024xbf16>
  return
}}"
        );
        tessera_tir::parse_kernel(&text).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn load_access(lk: &LaidOutKernel) -> (Option<MemoryAccess>, Option<MemoryAccess>) {
        let id = lk.ops.iter().position(|op| matches!(op.kind, OpKind::Load { .. })).expect("a load");
        (lk.accesses.get(&id).copied(), lk.checked_accesses.get(&id).copied())
    }

    #[test]
    fn an_unproven_row_access_is_vectorized_behind_a_check() {
        let kernel = row_load("{div = 1}", "{div = 1}");
        let lk = assign_layouts(&kernel).expect("layouts");
        let (plain, checked) = load_access(&lk);
        assert_eq!(plain.map(|a| a.width), Some(1), "alignment and mask are unknown");
        assert_eq!(checked, Some(MemoryAccess { dim: 0, width: 8 }), "8 bf16 = 16 bytes behind the check");
        assert!(lk.layouts.values().all(|l| l.contiguous_per_thread() == 8), "{:?}", lk.layouts);
    }

    #[test]
    fn a_proven_row_access_needs_no_check() {
        let kernel = row_load("{div = 16}", "{div = 16}");
        let lk = assign_layouts(&kernel).expect("layouts");
        let (plain, checked) = load_access(&lk);
        assert_eq!(plain.map(|a| a.width), Some(8));
        assert_eq!(checked, None);
    }
}
