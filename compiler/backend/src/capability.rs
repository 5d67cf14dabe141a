//! Which NVVM operations need which GPU architecture, checked before codegen.
//!
//! LLVM's NVPTX instruction selector does not return an error for an
//! intrinsic the target lacks: it calls `report_fatal_error("Cannot select:
//! intrinsic %llvm.nvvm.wgmma...")`, which aborts the whole process. So the
//! backend refuses such operations itself, on the MLIR module, where it can
//! still name the operation and its location. The table lists the operation
//! families the lowering emits or is planned to; ops not listed are available
//! on every supported architecture (sm_80 and newer).

use melior::ir::{
    Module,
    operation::{OperationLike, WalkOrder, WalkResult},
};

use crate::{
    error::{BackendError, Result, Stage},
    target::{GpuArch, Target},
};

/// Operation-name prefixes and the oldest architecture that has them.
const REQUIREMENTS: &[(&str, GpuArch)] = &[
    // Warpgroup MMA and register reallocation exist only on sm_90a.
    ("nvvm.wgmma.", GpuArch::Sm90a),
    ("nvvm.setmaxregister", GpuArch::Sm90a),
    // Hopper: TMA, clusters, proxy fences, elect, stmatrix.
    ("nvvm.cp.async.bulk.", GpuArch::Sm90),
    ("nvvm.cluster.", GpuArch::Sm90),
    ("nvvm.read.ptx.sreg.cluster", GpuArch::Sm90),
    ("nvvm.fence.proxy", GpuArch::Sm90),
    ("nvvm.fence.mbarrier_init", GpuArch::Sm90),
    ("nvvm.elect.sync", GpuArch::Sm90),
    ("nvvm.stmatrix", GpuArch::Sm90),
];

/// The oldest architecture that has `operation`, if it is not available everywhere.
pub fn required_arch(operation: &str) -> Option<GpuArch> {
    REQUIREMENTS.iter().find(|(prefix, _)| operation.starts_with(prefix)).map(|&(_, arch)| arch)
}

/// Whether `target` has everything `required` has. The `a` variants are
/// supersets of their base (sm_90a has all of sm_90), and later generations
/// of the list are supersets of earlier ones.
fn satisfies(target: GpuArch, required: GpuArch) -> bool {
    target >= required
}

/// Checks every operation of `module` against `target`; the error names the
/// first operation the target lacks and where it is.
pub fn check(module: &Module, target: &Target) -> Result<()> {
    let mut failure = None;
    module.as_operation().walk(WalkOrder::PreOrder, |operation| {
        let name = operation.name();
        let name = name.as_string_ref().as_str().unwrap_or("");
        match required_arch(name) {
            Some(required) if !satisfies(target.arch, required) => {
                failure = Some(BackendError::new(
                    Stage::TargetCheck,
                    format!("`{name}` at {} needs {required}, but the target is {}", operation.location(), target.arch),
                ));
                WalkResult::Interrupt
            }
            _ => WalkResult::Advance,
        }
    });
    failure.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{context::MlirContext, sample};

    #[test]
    fn wgmma_needs_sm90a() {
        assert_eq!(required_arch("nvvm.wgmma.mma_async"), Some(GpuArch::Sm90a));
        assert_eq!(required_arch("nvvm.mma.sync"), None);
        let mlir = MlirContext::new();
        let module = sample::wgmma_bf16_m64n8k16(&mlir).expect("builds");
        assert!(check(&module, &Target::new(GpuArch::Sm90a)).is_ok());
        let error = check(&module, &Target::new(GpuArch::Sm90)).expect_err("sm_90 lacks wgmma");
        assert_eq!(error.code(), "E0811");
        assert!(error.message.starts_with("`nvvm.wgmma.fence.aligned` at loc(\"wgmma_bf16_m64n8k16\")"), "{error}");
        assert!(error.message.ends_with("needs sm_90a, but the target is sm_90"), "{error}");
    }

    #[test]
    fn mma_sync_is_fine_everywhere() {
        let mlir = MlirContext::new();
        let module = sample::mma_bf16_m16n8k16(&mlir).expect("builds");
        for arch in GpuArch::ALL {
            assert!(check(&module, &Target::new(arch)).is_ok(), "{arch}");
        }
    }
}
