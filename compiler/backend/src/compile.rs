//! The tile-IR entry point: kernel -> layouts -> MLIR -> LLVM IR -> PTX.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use melior::ir::Module;
use tessera_tir::passes::PassManager;
use tessera_tir::{Kernel, Op, OpKind, Param, ValueId};

use crate::{
    context::MlirContext,
    error::{BackendError, Result, Stage},
    layout::{
        LaidOutKernel, LayoutOptions, analyze_axis_facts,
        assign::{ProvenVector, proven_vector},
        assign_layouts_for, print_layouts,
    },
    lower::lower_kernel_with,
    pipeline,
    ptxas::{FunctionStats, Ptxas},
    target::{GpuArch, Target},
};

/// Static shared memory a kernel may use without opting in to more at launch.
pub const MAX_STATIC_SHARED_BYTES: u32 = 48 * 1024;

/// The most shared memory one CTA may use on `arch` (dynamic shared memory,
/// after `cudaFuncAttributeMaxDynamicSharedMemorySize`): 163 KiB on sm_80,
/// 99 KiB on sm_86 and sm_89, 227 KiB on sm_90 and sm_90a.
pub fn max_shared_bytes(arch: GpuArch) -> u32 {
    match arch {
        GpuArch::Sm80 => 163 * 1024,
        GpuArch::Sm86 | GpuArch::Sm89 => 99 * 1024,
        GpuArch::Sm90 | GpuArch::Sm90a => 227 * 1024,
    }
}

/// Every intermediate form of a compiled kernel, for `tessera emit --stage`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelStages {
    /// The tile IR annotated with layouts ([`print_layouts`]).
    pub layout: String,
    /// The MLIR module as generated (llvm, nvvm, arith, scf dialects).
    pub mlir: String,
    /// The module after the MLIR lowering pipeline, in the LLVM dialect.
    pub llvm_dialect: String,
    /// LLVM IR as translated from MLIR, before optimisation.
    pub llvm: String,
    /// LLVM IR after `default<O3>`, as given to the NVPTX code generator.
    pub llvm_optimized: String,
}

/// A kernel compiled to PTX.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledKernel {
    /// The PTX `.entry` name (the kernel's name).
    pub entry: String,
    pub target: Target,
    pub ptx: String,
    /// Bytes of dynamic shared memory the kernel uses (`.extern .shared`):
    /// launch with this many, raising `cudaFuncAttributeMaxDynamicSharedMemorySize`
    /// above [`MAX_STATIC_SHARED_BYTES`].
    pub shared_bytes: u32,
    /// Warps per CTA: launch with `32 * num_warps` threads in x.
    pub num_warps: u32,
    pub stages: KernelStages,
    /// Integer parameters (indices into the kernel's params) without a
    /// divisibility hint that feed the address or mask of an access
    /// vectorized behind a run-time check: compiled again with `@div(16)` on
    /// them, the kernel can drop those checks (see [`divisibility_candidates`]).
    pub divisibility_candidates: Vec<usize>,
    /// Integer parameters without hints whose being 1 would make some
    /// access contiguous along its fastest axis (see
    /// [`unit_stride_candidates`]): compiled again with `@contig` on them,
    /// the kernel reads and writes those tiles in vectors.
    pub unit_stride_candidates: Vec<usize>,
    /// Registers and spills of the entry, once [`CompiledKernel::assemble`] ran ptxas.
    pub ptxas: Option<FunctionStats>,
    /// Tensor maps the launch passes after the declared parameters, in
    /// order (bulk tensor copies, see [`crate::tensor_map`]).
    pub tensor_maps: Vec<crate::tensor_map::TensorMapDesc>,
}

impl CompiledKernel {
    /// Assembles the PTX with `ptxas` (an error if it rejects it) and records
    /// the entry's registers and spills.
    pub fn assemble(&mut self, ptxas: &Ptxas) -> Result<&FunctionStats> {
        let report = ptxas.assemble(&self.ptx, self.target.arch)?;
        let stats = report.functions.into_iter().find(|f| f.name == self.entry).ok_or_else(|| {
            BackendError::new(Stage::PtxasRejected, format!("ptxas reported nothing about `{}`", self.entry))
                .with_detail(report.log)
        })?;
        Ok(self.ptxas.insert(stats))
    }
}

/// Layout assignment as `target` needs it: with Hopper's warpgroup tiling of
/// qualifying `dot`s on sm_90a (what `compile_kernel` and `tessera emit
/// --stage layout|mlir` both print).
pub fn assign_layouts_for_target<'k>(kernel: &'k Kernel, target: &Target) -> Result<LaidOutKernel<'k>> {
    let options = LayoutOptions { wgmma: target.arch == GpuArch::Sm90a };
    assign_layouts_for(kernel, options)
}

/// The kernel as `target` runs it: on sm_90a, where `wgmma` runs
/// asynchronously and the lowering waits for a product where it is first
/// read, a kernel with 16-bit dots has each block reordered by the
/// `schedule-dots` pass (dots issued early, their readers late); otherwise
/// the kernel as given.
pub fn schedule_for_target<'k>(kernel: &'k Kernel, target: &Target) -> Result<Cow<'k, Kernel>> {
    if target.arch != GpuArch::Sm90a || target.codegen.sync_wgmma || !has_16_bit_dots(kernel) {
        return Ok(Cow::Borrowed(kernel));
    }
    let mut scheduled = kernel.clone();
    let passes =
        PassManager::parse("schedule-dots").map_err(|e| BackendError::new(Stage::MalformedIr, e.to_string()))?;
    let report = passes.run(&mut scheduled).map_err(|e| BackendError::new(Stage::MalformedIr, e.to_string()))?;
    Ok(if report.changed() { Cow::Owned(scheduled) } else { Cow::Borrowed(kernel) })
}

/// Whether some `dot` multiplies bf16 or f16 (the ones `wgmma` runs; the
/// others are synchronous, and reordering around them only moves their
/// staging in shared memory).
fn has_16_bit_dots(kernel: &Kernel) -> bool {
    let mut found = false;
    tessera_tir::walk_ops(&kernel.body, &mut |op| {
        if matches!(op.kind, tessera_tir::OpKind::Dot { .. })
            && let Some(&a) = op.operands.first()
            && let Some(elem) = kernel.values.get(a.0 as usize).and_then(|t| t.scalar_elem())
        {
            found |= matches!(elem, tessera_tir::ScalarType::BF16 | tessera_tir::ScalarType::F16);
        }
    });
    found
}

/// The integer parameters without hints behind the addresses and masks of
/// `laid_out`'s checked and unaligned accesses, in parameter order. A row
/// start `row * stride` or a tail mask `offs < n` is checked per vector at
/// run time (rank 1), or not vectorized at all (rank 2 and more), because
/// nothing says `stride` or `n` is a multiple of the vector; a variant
/// specialized on their divisibility needs no check, no scalar fallback and
/// fewer registers (Triton specializes every integer argument divisible by
/// 16 the same way, at JIT time).
pub fn divisibility_candidates(laid_out: &LaidOutKernel<'_>) -> Vec<usize> {
    let unhinted = |i: &usize| is_unhinted_integer(laid_out.kernel, *i);
    let checked: Vec<usize> = laid_out.checked_accesses.keys().copied().collect();
    let mut params: BTreeSet<usize> = params_behind(laid_out, &checked).into_iter().filter(unhinted).collect();
    // An unvectorized tile's address and mask may take parameters that only
    // move other axes (`rows` in a row mask): the ones kept are those whose
    // divisibility, taken away from all of them assumed, narrows an access.
    let unaligned: Vec<usize> = laid_out.unaligned_accesses.iter().copied().collect();
    let behind: Vec<usize> = params_behind(laid_out, &unaligned).into_iter().filter(unhinted).collect();
    if !behind.is_empty() {
        let widths = |assumed: &[usize]| -> Vec<u32> {
            let assume = |p: &mut Param| p.hints.divisibility = Some(SPECIALIZED_DIVISIBILITY);
            proven_with(laid_out, &unaligned, assumed, assume).iter().map(|v| v.map_or(1, |v| v.width)).collect()
        };
        let all = widths(&behind);
        for &p in &behind {
            let others: Vec<usize> = behind.iter().copied().filter(|&q| q != p).collect();
            if widths(&others) != all {
                params.insert(p);
            }
        }
    }
    // A pipelined block load whose view is contiguous (its last stride
    // promised 1) copies in proven vectors, with one loop version and, on
    // sm_90a, through the bulk tensor copy engine, once its other strides
    // are known multiples of the vector.
    for (make, fast) in block_views_in_dot_loops(laid_out) {
        let rank = (make.operands.len() - 1) / 3;
        let strides = &make.operands[1 + rank..1 + 2 * rank];
        if strides.get(fast).is_some_and(|s| laid_out.unit_values.contains(s)) {
            let others: Vec<ValueId> =
                strides.iter().enumerate().filter(|&(d, _)| d != fast).map(|(_, &s)| s).collect();
            params.extend(tessera_tir::slice::params_feeding(laid_out.kernel, &others).into_iter().filter(unhinted));
        }
    }
    params.into_iter().collect()
}

/// The `make_block_ptr`s that the block loads of carried block pointers
/// inside loops with a `dot` (the loads a pipeline copies) read from,
/// through the loops' carried values and `advance`s, each with its
/// contiguous axis (`order[0]`).
fn block_views_in_dot_loops<'k>(laid_out: &LaidOutKernel<'k>) -> Vec<(&'k Op, usize)> {
    let mut defs: HashMap<ValueId, &Op> = HashMap::new();
    let mut carried: HashMap<ValueId, ValueId> = HashMap::new();
    tessera_tir::walk_ops(&laid_out.kernel.body, &mut |op| {
        defs.extend(op.results.iter().map(|&r| (r, op)));
        if let (OpKind::For, Some(body)) = (&op.kind, op.regions.first()) {
            // Body arguments after the induction variable start as operands 3...
            carried.extend(body.args.iter().skip(1).zip(op.operands.iter().skip(3)).map(|(&a, &i)| (a, i)));
        }
    });
    let mut views: Vec<(&Op, usize)> = Vec::new();
    for id in ops_in_dot_loops(laid_out) {
        let load = laid_out.ops[id];
        // Only loads of carried block pointers are pipelined.
        let Some(&ptr) = load.operands.first().filter(|p| carried.contains_key(p)) else { continue };
        if !matches!(load.kind, OpKind::LoadBlock { .. }) {
            continue;
        }
        if let Some((make, _)) = tessera_tir::slice::block_origin(&defs, &carried, ptr, 0)
            && let OpKind::MakeBlockPtr { order } = &make.kind
            && let Some(&fast) = order.first()
            && !views.iter().any(|(m, _)| std::ptr::eq(*m, make))
        {
            views.push((make, fast as usize));
        }
    }
    views
}

/// The integer parameters without hints that, each alone promised equal to
/// 1 (`@contig`), make the address of some load, store or atomic of
/// `laid_out` contiguous over more elements along its fastest axis: a
/// stride multiplying a tile's last-axis offsets (`offs_k[None, :] *
/// stride_ak`), not one that moves rows (`offs_m[:, None] * stride_am`,
/// whose being 1 would only make columns contiguous). Without the promise
/// such a tile is read an element at a time; Triton specializes arguments
/// equal to 1 at JIT time, the build compiles a twin that assumes it.
///
/// The contiguous stride of a block view that a loop feeding a `dot` reads
/// is a candidate too: promised 1, that view's loads copy in vectors (and
/// through the bulk tensor copy engine on sm_90a, once
/// [`divisibility_candidates`] made its other strides multiples of 16).
///
/// Empty unless some access so widened runs in a loop that feeds a `dot`
/// (a matmul's K loop, an attention's walk: where tile kernels move most
/// of their bytes). A twin doubles a kernel's variants in the bundle and its
/// build time, which tiles moved once a program (a state stored at its end)
/// or a few times before its main loop (lightning attention's fold of
/// earlier segments' states) do not repay. Once a loop's tiles justify it,
/// every candidate is kept (the matmul's C tile too).
pub fn unit_stride_candidates(laid_out: &LaidOutKernel<'_>) -> Vec<usize> {
    let accesses: Vec<usize> = laid_out
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| matches!(op.kind, OpKind::Load { .. } | OpKind::Store { .. } | OpKind::AtomicAdd { .. }))
        .map(|(i, _)| i)
        .collect();
    let mut hot = false;
    let mut candidates = Vec::new();
    // The contiguous strides of block views read in such loops: promised 1,
    // their loads copy in proven vectors ([`divisibility_candidates`]).
    for (make, fast) in block_views_in_dot_loops(laid_out) {
        let rank = (make.operands.len() - 1) / 3;
        let Some(&stride) = make.operands.get(1 + rank + fast) else { continue };
        if laid_out.unit_values.contains(&stride) {
            continue;
        }
        for p in tessera_tir::slice::params_feeding(laid_out.kernel, &[stride]) {
            let mut hinted = laid_out.kernel.clone();
            if !is_unhinted_integer(&hinted, p) || candidates.contains(&p) {
                continue;
            }
            hinted.params[p].hints.contiguous = true;
            if analyze_axis_facts(&hinted).1.contains(&stride) {
                hot = true;
                candidates.push(p);
            }
        }
    }
    let behind: Vec<usize> =
        params_behind(laid_out, &accesses).into_iter().filter(|&i| is_unhinted_integer(laid_out.kernel, i)).collect();
    if behind.is_empty() {
        return candidates;
    }
    let contiguity = |vectors: &[Option<ProvenVector>]| -> Vec<u32> {
        vectors.iter().map(|v| v.map_or(1, |v| v.contiguous)).collect()
    };
    // Without assumptions: the axis info layout assignment computed.
    let base = contiguity(
        &accesses
            .iter()
            .map(|&id| proven_vector(laid_out.kernel, laid_out.ops[id], &laid_out.axis_info))
            .collect::<Vec<_>>(),
    );
    let in_loops = ops_in_dot_loops(laid_out);
    for p in behind {
        let widened: Vec<usize> = contiguity(&proven_with(laid_out, &accesses, &[p], |p| p.hints.contiguous = true))
            .iter()
            .zip(&base)
            .zip(&accesses)
            .filter(|((with, without), _)| with > without)
            .map(|(_, &id)| id)
            .collect();
        if !widened.is_empty() && !candidates.contains(&p) {
            hot |= widened.iter().any(|id| in_loops.contains(id));
            candidates.push(p);
        }
    }
    candidates.sort_unstable();
    if hot { candidates } else { Vec::new() }
}

/// Whether parameter `i` is an integer without a divisibility or `@contig`
/// hint (what the build may specialize on).
fn is_unhinted_integer(kernel: &Kernel, i: usize) -> bool {
    kernel.is_integer_param(i)
        && kernel.params.get(i).is_some_and(|p| p.hints.divisibility.is_none() && !p.hints.contiguous)
}

/// [`proven_vector`] of each of the accesses `ops` (indices into
/// `laid_out.ops`) with `assume` applied to the parameters `params`, the
/// axis info recomputed under those hints.
fn proven_with(
    laid_out: &LaidOutKernel<'_>,
    ops: &[usize],
    params: &[usize],
    assume: impl Fn(&mut Param),
) -> Vec<Option<ProvenVector>> {
    let mut hinted = laid_out.kernel.clone();
    for &i in params {
        if let Some(p) = hinted.params.get_mut(i) {
            assume(p);
        }
    }
    let (info, _) = analyze_axis_facts(&hinted);
    ops.iter().map(|&id| proven_vector(&hinted, laid_out.ops[id], &info)).collect()
}

/// The ids (indices into `laid_out.ops`) of the ops inside a `for` or
/// `while` body, at any depth, that has a `dot` somewhere in it.
fn ops_in_dot_loops(laid_out: &LaidOutKernel<'_>) -> BTreeSet<usize> {
    let mut inside = BTreeSet::new();
    tessera_tir::walk_ops(&laid_out.kernel.body, &mut |op| {
        if matches!(op.kind, OpKind::For | OpKind::While) {
            let mut body = Vec::new();
            let mut has_dot = false;
            for region in &op.regions {
                tessera_tir::walk_ops(region, &mut |nested| {
                    has_dot |= matches!(nested.kind, OpKind::Dot { .. });
                    body.extend(laid_out.op_id(nested));
                });
            }
            if has_dot {
                inside.extend(body);
            }
        }
    });
    inside
}

/// The divisibility a specialized variant assumes of its candidates (the
/// runtime's `bundle::DIVISIBILITY`, which the backend does not depend on;
/// the build checks they agree).
pub const SPECIALIZED_DIVISIBILITY: u32 = 16;

/// The parameters the addresses and masks of the accesses `ops` (indices
/// into `laid_out.ops`) are computed from.
fn params_behind(laid_out: &LaidOutKernel<'_>, ops: &[usize]) -> Vec<usize> {
    let mut roots = Vec::new();
    for &id in ops {
        let Some(op) = laid_out.ops.get(id) else { continue };
        // Address and mask: operands 0 and 1 of a load, 0 and 2 of a store.
        let mask = match op.kind {
            OpKind::Load { masked: true, .. } => op.operands.get(1),
            OpKind::Store { masked: true } => op.operands.get(2),
            _ => None,
        };
        roots.extend(op.operands.first().into_iter().chain(mask).copied());
    }
    tessera_tir::slice::params_feeding(laid_out.kernel, &roots)
}

/// Compiles one tile-IR kernel for `target` (non-power-of-two tensor shapes
/// are rejected with E0813; a variant needing more shared memory than the
/// target allows with E0812).
pub fn compile_kernel(kernel: &Kernel, target: &Target) -> Result<CompiledKernel> {
    check_accumulator_registers(kernel)?;
    let kernel = &*schedule_for_target(kernel, target)?;
    let laid_out = assign_layouts_for_target(kernel, target)?;
    let layout = print_layouts(&laid_out);
    let divisibility_candidates = divisibility_candidates(&laid_out);
    let unit_stride_candidates = unit_stride_candidates(&laid_out);
    let lowered = lower_kernel_with(&laid_out, target.codegen, target.ptx)?;
    let limit = max_shared_bytes(target.arch);
    if lowered.shared_bytes > limit {
        return Err(BackendError::new(
            Stage::ResourceLimit,
            format!(
                "`{}` ({}) needs {} bytes of shared memory, more than the {limit} bytes a CTA may use on {}",
                kernel.name,
                variant_params(kernel),
                lowered.shared_bytes,
                target.arch
            ),
        )
        .with_detail("help: use smaller blocks or fewer pipeline stages for this target"));
    }
    let mlir = MlirContext::new();
    let mut module = Module::parse(mlir.mlir(), &lowered.mlir).ok_or_else(|| {
        let error = mlir.error(Stage::MlirBuild, format!("MLIR rejected the module generated for `{}`", kernel.name));
        let line = error.diagnostics.first().and_then(|d| diagnostic_line(&d.location));
        match line.and_then(|n| lowered.mlir.lines().nth(n.saturating_sub(1))) {
            Some(text) => error.with_detail(format!("generated line: {}", text.trim())),
            None => error,
        }
    })?;
    let artifacts = pipeline::compile(&mlir, &mut module, &kernel.name, target)?;
    Ok(CompiledKernel {
        entry: kernel.name.clone(),
        target: *target,
        ptx: artifacts.ptx,
        shared_bytes: lowered.shared_bytes,
        num_warps: laid_out.num_warps,
        divisibility_candidates,
        unit_stride_candidates,
        stages: KernelStages {
            layout,
            mlir: lowered.mlir,
            llvm_dialect: artifacts.llvm_dialect,
            llvm: artifacts.llvm_ir,
            llvm_optimized: artifacts.optimized_ir,
        },
        ptxas: None,
        tensor_maps: lowered.tensor_maps,
    })
}

/// f32 accumulator registers a thread may hold for one `dot`: past this,
/// together with the operand fragments, a thread needs more than the 255
/// registers it can have, and ptxas falls back to spilling nearly everything
/// (seen on the H100: 128x256 on 4 warps compiled to 32 registers and 17 KB
/// of spills, 60x slower, and gave wrong results).
const MAX_ACCUMULATOR_REGISTERS: u64 = 128;

/// Reject a variant whose `dot` accumulators cannot live in registers.
fn check_accumulator_registers(kernel: &Kernel) -> Result<()> {
    let threads = 32 * u64::from(kernel.meta.num_warps.max(1));
    let mut error = None;
    tessera_tir::walk_ops(&kernel.body, &mut |op| {
        if error.is_some() || !matches!(op.kind, tessera_tir::OpKind::Dot { .. }) {
            return;
        }
        let Some(&result) = op.results.first() else { return };
        let acc = kernel.ty(result);
        let per_thread = acc.num_elements().div_ceil(threads);
        if per_thread > MAX_ACCUMULATOR_REGISTERS {
            let shape: Vec<String> = acc.shape().iter().map(u32::to_string).collect();
            error = Some(
                BackendError::at_op(
                    Stage::ResourceLimit,
                    "dot",
                    op.loc,
                    format!(
                        "`{}` ({}): a {} accumulator on {} warps needs {per_thread} registers per thread, more than the {MAX_ACCUMULATOR_REGISTERS} a thread can spare",
                        kernel.name,
                        variant_params(kernel),
                        shape.join("x"),
                        kernel.meta.num_warps
                    ),
                )
                .with_detail("help: use more warps for this tile, or a smaller tile"),
            );
        }
    });
    error.map_or(Ok(()), Err)
}

/// `BLOCK_M = 128, ..., warps = 4, stages = 3`: the variant, for messages.
fn variant_params(kernel: &Kernel) -> String {
    let mut params: Vec<String> = kernel.consts.iter().map(|(name, value)| format!("{name} = {value}")).collect();
    params.push(format!("warps = {}", kernel.meta.num_warps));
    params.push(format!("stages = {}", kernel.meta.num_stages));
    if kernel.meta.occupancy != 1 {
        params.push(format!("occupancy = {}", kernel.meta.occupancy));
    }
    params.join(", ")
}

/// The line number in an MLIR location such as `loc("-":12:5)`.
fn diagnostic_line(location: &str) -> Option<usize> {
    let inner = location.strip_prefix("loc(")?.strip_suffix(')')?;
    let mut parts = inner.rsplitn(3, ':');
    let _col = parts.next()?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::diagnostic_line;

    #[test]
    fn reads_the_line_of_an_mlir_location() {
        assert_eq!(diagnostic_line("loc(\"-\":12:5)"), Some(12));
        assert_eq!(diagnostic_line("loc(unknown)"), None);
    }
}
