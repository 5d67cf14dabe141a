//! Compiling one variant: backend, resource limits, ptxas.

use crate::assemble;
use crate::limits;
use crate::report::{Reason, Rejection};
use std::collections::BTreeMap;
use tessera_backend::ptxas::Ptxas;
use tessera_backend::{BackendError, Codegen, GpuArch, Target, compile_kernel};
use tessera_runtime::CodeObjects;
use tessera_runtime::bundle::{DIVISIBILITY, VariantInfo};
use tessera_tir::Kernel;

/// A variant ready for the bundle.
pub struct Built {
    pub info: VariantInfo,
    pub code: CodeObjects,
}

/// What one tuning point gave: its variant, maybe a specialized twin, and
/// why the twin could not be built when it was wanted and failed (the
/// unspecialized variant stands; the report lists the twin as rejected).
pub struct Variants {
    pub built: Vec<Built>,
    pub rejected: Option<Rejection>,
}

/// Compiles `kernel` (one lowered tuning point) for `arch`; with `ptxas`, also
/// to a cubin with register and spill counts. Anything that keeps the variant
/// from running on `arch` is a rejection.
///
/// When some vectorized access needs a run-time alignment check because of
/// unhinted integer parameters ([`tessera_backend::divisibility_candidates`]),
/// a second variant is compiled with those parameters assumed divisible by
/// [`DIVISIBILITY`] (as if they carried `@div(16)`): the runtime launches it
/// for arguments that are, the first one otherwise. The specialization is
/// an optimization: if it fails to build, the unspecialized variant stands
/// and the twin is reported as rejected.
pub fn compile(kernel: &Kernel, arch: GpuArch, codegen: Codegen, ptxas: Option<&Ptxas>) -> Result<Variants, Reason> {
    let (generic, candidates) = compile_one(kernel, arch, codegen, ptxas)?;
    if candidates.is_empty() {
        return Ok(Variants { built: vec![generic], rejected: None });
    }
    let divisible: Vec<String> = candidates.iter().filter_map(|&i| Some(kernel.params.get(i)?.name.clone())).collect();
    // The candidates are the parameters whose divisibility the backend found
    // to widen accesses, assuming exactly what the runtime will test.
    const _: () = assert!(tessera_backend::SPECIALIZED_DIVISIBILITY == DIVISIBILITY);
    let mut specialized = kernel.clone();
    for &i in &candidates {
        if let Some(p) = specialized.params.get_mut(i) {
            p.hints.divisibility = Some(DIVISIBILITY);
        }
    }
    match compile_one(&specialized, arch, codegen, ptxas) {
        Ok((mut twin, _)) => {
            twin.info.divisible = divisible;
            Ok(Variants { built: vec![generic, twin], rejected: None })
        }
        Err(reason) => {
            let variant = VariantInfo { divisible, ..generic.info.clone() }.label();
            Ok(Variants { built: vec![generic], rejected: Some(Rejection { variant, reason }) })
        }
    }
}

/// One compilation of `kernel`, and its divisibility candidates.
fn compile_one(
    kernel: &Kernel,
    arch: GpuArch,
    codegen: Codegen,
    ptxas: Option<&Ptxas>,
) -> Result<(Built, Vec<usize>), Reason> {
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
    Ok((Built { info, code }, compiled.divisibility_candidates))
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
