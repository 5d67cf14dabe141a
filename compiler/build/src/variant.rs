//! Compiling one variant: backend, resource limits, ptxas.

use crate::assemble;
use crate::limits;
use crate::report::{Reason, Rejection};
use std::collections::BTreeMap;
use tessera_backend::ptxas::Ptxas;
use tessera_backend::tensor_map::{Extent, TensorMapDesc};
use tessera_backend::{BackendError, Codegen, GpuArch, Target, compile_kernel};
use tessera_runtime::CodeObjects;
use tessera_runtime::bundle::{DIVISIBILITY, GridExpr, TensorMapSpec, VariantInfo};
use tessera_tir::Kernel;

/// A variant ready for the bundle.
pub struct Built {
    pub info: VariantInfo,
    pub code: CodeObjects,
}

/// What one tuning point gave: its variant, maybe specialized twins, and
/// why a twin could not be built when it was wanted and failed (the others
/// stand; the report lists the twin as rejected).
pub struct Variants {
    pub built: Vec<Built>,
    pub rejected: Vec<Rejection>,
}

/// Compiles `kernel` (one lowered tuning point) for `arch`; with `ptxas`, also
/// to a cubin with register and spill counts. Anything that keeps the variant
/// from running on `arch` is a rejection.
///
/// Up to two specialized twins follow, each launched by the runtime only for
/// arguments that meet what it assumes (Triton's specializations, done ahead
/// of time):
/// - when some vectorized access needs a run-time alignment check because of
///   unhinted integer parameters ([`tessera_backend::divisibility_candidates`]),
///   a twin with those parameters assumed divisible by [`DIVISIBILITY`] (as
///   if they carried `@div(16)`);
/// - when unhinted strides of tiles' last axes keep tiles from moving in
///   vectors ([`tessera_backend::unit_stride_candidates`]), a twin with them
///   assumed equal to 1 (`@contig`), and divisible whatever that kernel's
///   own divisibility candidates are (the row strides and tails of the now
///   contiguous tiles).
///
/// A specialization is an optimization: if it fails to build, the others
/// stand and it is reported as rejected; if its PTX is the generic
/// variant's, it is dropped.
pub fn compile(kernel: &Kernel, arch: GpuArch, codegen: Codegen, ptxas: Option<&Ptxas>) -> Result<Variants, Reason> {
    let (generic, candidates) = compile_one(kernel, arch, codegen, ptxas)?;
    let mut variants = Variants { built: Vec::new(), rejected: Vec::new() };
    if !candidates.divisible.is_empty() {
        variants.twin(&generic, kernel, &[], &candidates.divisible, (arch, codegen, ptxas));
    }
    if !candidates.unit.is_empty() {
        let mut contiguous = kernel.clone();
        assume(&mut contiguous, &candidates.unit, &[]);
        match divisibility_candidates_of(&contiguous, arch, codegen) {
            Ok(divisible) => variants.twin(&generic, kernel, &candidates.unit, &divisible, (arch, codegen, ptxas)),
            Err(reason) => variants.rejected.push(Rejection {
                variant: specialized_info(&generic.info, kernel, &candidates.unit, &[]).label(),
                reason,
            }),
        }
    }
    variants.built.insert(0, generic);
    Ok(variants)
}

impl Variants {
    /// Compiles `kernel` assuming the parameters `unit` (indices) equal to
    /// 1 and `divisible` divisible by [`DIVISIBILITY`], as a twin of `generic`.
    fn twin(
        &mut self,
        generic: &Built,
        kernel: &Kernel,
        unit: &[usize],
        divisible: &[usize],
        (arch, codegen, ptxas): (GpuArch, Codegen, Option<&Ptxas>),
    ) {
        let mut specialized = kernel.clone();
        assume(&mut specialized, unit, divisible);
        let info = specialized_info(&generic.info, kernel, unit, divisible);
        match compile_one(&specialized, arch, codegen, ptxas) {
            // The same code as the generic variant: the assumptions bought
            // nothing, and a twin would only cost the tuner a candidate and
            // the manifest an entry (the bundle shares equal code objects).
            Ok((twin, _)) if twin.code.ptx == generic.code.ptx => {}
            Ok((mut twin, _)) => {
                twin.info.unit = info.unit;
                twin.info.divisible = info.divisible;
                self.built.push(twin);
            }
            Err(reason) => self.rejected.push(Rejection { variant: info.label(), reason }),
        }
    }
}

/// Puts `@contig` on the parameters `unit` and `@div(16)` on `divisible`.
fn assume(kernel: &mut Kernel, unit: &[usize], divisible: &[usize]) {
    // The candidates are the parameters whose divisibility the backend found
    // to widen accesses, assuming exactly what the runtime will test.
    const _: () = assert!(tessera_backend::SPECIALIZED_DIVISIBILITY == DIVISIBILITY);
    for &i in unit {
        if let Some(p) = kernel.params.get_mut(i) {
            p.hints.contiguous = true;
        }
    }
    for &i in divisible {
        if let Some(p) = kernel.params.get_mut(i) {
            p.hints.divisibility = Some(DIVISIBILITY);
        }
    }
}

/// `generic`'s info with the assumptions (by parameter name) of a twin.
fn specialized_info(generic: &VariantInfo, kernel: &Kernel, unit: &[usize], divisible: &[usize]) -> VariantInfo {
    let names = |ids: &[usize]| ids.iter().filter_map(|&i| Some(kernel.params.get(i)?.name.clone())).collect();
    VariantInfo { unit: names(unit), divisible: names(divisible), ..generic.clone() }
}

/// The divisibility candidates of `kernel` as the backend lays it out for
/// `arch`, without compiling it further.
fn divisibility_candidates_of(kernel: &Kernel, arch: GpuArch, codegen: Codegen) -> Result<Vec<usize>, Reason> {
    let target = Target::new(arch).with_codegen(codegen);
    let scheduled = tessera_backend::schedule_for_target(kernel, &target).map_err(backend_reason)?;
    let laid_out = tessera_backend::assign_layouts_for_target(&scheduled, &target).map_err(backend_reason)?;
    Ok(tessera_backend::divisibility_candidates(&laid_out))
}

/// The specialization candidates of one compilation (parameter indices).
struct Candidates {
    divisible: Vec<usize>,
    unit: Vec<usize>,
}

/// One compilation of `kernel`, and its specialization candidates.
fn compile_one(
    kernel: &Kernel,
    arch: GpuArch,
    codegen: Codegen,
    ptxas: Option<&Ptxas>,
) -> Result<(Built, Candidates), Reason> {
    let compiled = compile_kernel(kernel, &Target::new(arch).with_codegen(codegen)).map_err(backend_reason)?;
    let threads = compiled.num_warps.saturating_mul(32);
    limits::check_launch(arch, threads, compiled.shared_bytes)?;
    let mut info = VariantInfo {
        consts: kernel
            .consts
            .iter()
            .map(|(name, v)| (name.clone(), crate::decl::const_value(v)))
            .collect::<BTreeMap<_, _>>(),
        warps: compiled.num_warps,
        stages: kernel.meta.num_stages,
        occupancy: kernel.meta.occupancy,
        arch: arch.name().to_string(),
        shared_bytes: compiled.shared_bytes,
        registers: 0,
        spills: 0,
        divisible: Vec::new(),
        unit: Vec::new(),
        tensor_maps: compiled.tensor_maps.iter().map(tensor_map_spec).collect(),
        entry: compiled.entry.clone(),
    };
    let mut code = CodeObjects { ptx: None, cubin: None };
    if let Some(ptxas) = ptxas {
        let assembled = assemble::assemble(ptxas, &compiled.ptx, arch, &compiled.entry)?;
        limits::check_registers(arch, threads, assembled.stats.registers)?;
        info.registers = assembled.stats.registers;
        info.spills = assembled.stats.spill_store_bytes;
        code.cubin = Some(assembled.cubin);
    }
    code.ptx = Some(compiled.ptx);
    let candidates = Candidates { divisible: compiled.divisibility_candidates, unit: compiled.unit_stride_candidates };
    Ok((Built { info, code }, candidates))
}

/// A backend failure as a rejection: its E08xx code, the stage and message on
/// one line, the op and MLIR diagnostics below.
fn backend_reason(error: BackendError) -> Reason {
    let mut message = format!("{}: {}", error.stage.name(), error.message);
    match (&error.op, error.loc) {
        (Some(op), Some(loc)) => message.push_str(&format!(" (op `{op}` at {}:{})", loc.line, loc.col)),
        (Some(op), None) => message.push_str(&format!(" (op `{op}`)")),
        _ => {}
    }
    let mut detail: Vec<String> = error.diagnostics.iter().map(ToString::to_string).collect();
    detail.extend(error.detail.clone());
    let reason = Reason::new(error.code(), message);
    if detail.is_empty() { reason } else { reason.with_detail(detail.join("\n")) }
}

/// A tensor map as the manifest records it.
fn tensor_map_spec(desc: &TensorMapDesc) -> TensorMapSpec {
    let expr = |e: &Extent| match e {
        Extent::Param(name) => GridExpr::Param(name.clone()),
        Extent::Const(c) => GridExpr::Int(*c),
    };
    TensorMapSpec {
        base: desc.base.clone(),
        elem: crate::decl::dtype(desc.elem),
        dims: desc.dims.iter().map(expr).collect(),
        strides: desc.strides.iter().map(expr).collect(),
        box_dims: desc.box_dims.clone(),
        swizzle: desc.swizzle_bytes,
    }
}
