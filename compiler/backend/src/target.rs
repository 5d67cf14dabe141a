//! NVPTX code-generation targets: GPU architecture, PTX ISA version, opt level.
//!
//! LLVM's NVPTX backend takes the architecture as the target-machine *CPU*
//! (`sm_90a`) and the PTX ISA version as a *feature* (`+ptx80`). Without a
//! `+ptxNN` feature LLVM picks the oldest ISA that knows the architecture,
//! which is also our default ([`GpuArch::min_ptx`]): the oldest ISA means the
//! oldest driver/ptxas that accepts the PTX. Raise it with
//! [`Target::with_ptx`] when an instruction needs a newer ISA.

use std::fmt;

use crate::error::{BackendError, Result, Stage};

/// The LLVM target triple of 64-bit CUDA PTX.
pub const NVPTX_TRIPLE: &str = "nvptx64-nvidia-cuda";

/// A GPU architecture the backend generates code for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GpuArch {
    /// A100 (Ampere).
    Sm80,
    /// RTX 30xx, A10/A40 (Ampere).
    Sm86,
    /// RTX 40xx, L4/L40 (Ada).
    Sm89,
    /// H100/H200 without the architecture-specific (`a`) features.
    Sm90,
    /// H100/H200 with `wgmma`, `setmaxnreg` and the other `sm_90a`-only instructions.
    Sm90a,
}

impl GpuArch {
    pub const ALL: [GpuArch; 5] = [GpuArch::Sm80, GpuArch::Sm86, GpuArch::Sm89, GpuArch::Sm90, GpuArch::Sm90a];

    /// The name LLVM (as CPU) and ptxas (as `-arch`) use.
    pub fn name(self) -> &'static str {
        match self {
            GpuArch::Sm80 => "sm_80",
            GpuArch::Sm86 => "sm_86",
            GpuArch::Sm89 => "sm_89",
            GpuArch::Sm90 => "sm_90",
            GpuArch::Sm90a => "sm_90a",
        }
    }

    /// Parses `sm_80` ... `sm_90a`.
    pub fn from_name(name: &str) -> Option<GpuArch> {
        GpuArch::ALL.into_iter().find(|arch| arch.name() == name)
    }

    /// The oldest PTX ISA that supports this architecture (PTX ISA manual,
    /// "Release notes"; the same table LLVM's NVPTX backend uses).
    pub fn min_ptx(self) -> PtxIsa {
        match self {
            GpuArch::Sm80 => PtxIsa::new(7, 0),
            GpuArch::Sm86 => PtxIsa::new(7, 1),
            GpuArch::Sm89 | GpuArch::Sm90 => PtxIsa::new(7, 8),
            GpuArch::Sm90a => PtxIsa::new(8, 0),
        }
    }

    /// Whether warpgroup MMA (`wgmma.mma_async`) exists on this architecture.
    pub fn has_wgmma(self) -> bool {
        self == GpuArch::Sm90a
    }
}

impl fmt::Display for GpuArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A PTX ISA version (`.version 8.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PtxIsa {
    pub major: u8,
    pub minor: u8,
}

impl PtxIsa {
    /// The newest ISA LLVM 22's NVPTX backend can emit.
    pub const LLVM_MAX: PtxIsa = PtxIsa::new(9, 0);

    pub const fn new(major: u8, minor: u8) -> PtxIsa {
        PtxIsa { major, minor }
    }

    /// The NVPTX target feature selecting this ISA: `+ptx80` for 8.0.
    pub fn feature(self) -> String {
        format!("+ptx{}{}", self.major, self.minor)
    }
}

impl fmt::Display for PtxIsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// How hard LLVM optimises before PTX emission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptLevel {
    /// No LLVM IR pipeline; codegen at `-O0` (for debugging the lowering).
    O0,
    /// `default<O3>` on the IR and aggressive codegen, as `nvcc`/Triton do.
    O3,
}

/// Code-generation choices kept switchable to compare against on a GPU, or
/// to fall back to. The default is the fastest code we know how to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Codegen {
    /// Wait for every `wgmma` product right after issuing it, in source
    /// order: no `schedule-dots`, no product in flight past its `dot`.
    pub sync_wgmma: bool,
    /// `eviction_policy` on pipelined copies as `cp.async ...
    /// .L2::cache_hint` with a `createpolicy` operand (PTX 7.4+). Off by
    /// default: ptxas 13.0 folds the policy into the copies' uniform
    /// memory descriptor so that, in la_chained's pipelined loops, it shares
    /// a uniform register with the stage's shared-memory offset, and the H100
    /// stops the kernel with an illegal instruction at that copy (seen
    /// 2026-12-05). Without it the hint is dropped; the copies are correct.
    pub l2_cache_hints: bool,
    /// Pipelined block loads copy with `cp.async` even where the bulk
    /// tensor copy engine could (sm_90a, [`crate::lower`]'s `bulk_copy`):
    /// for comparison.
    pub cp_async_only: bool,
    /// Bulk-stored blocks leave one copy a row even where their rows are
    /// contiguous in global memory and one copy would do ([`crate::lower`]'s
    /// `bulk_store`): for comparison.
    pub bulk_store_rows: bool,
}

/// A complete code-generation target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    pub arch: GpuArch,
    pub ptx: PtxIsa,
    pub opt: OptLevel,
    pub codegen: Codegen,
}

impl Target {
    /// `arch` at its oldest PTX ISA, optimised at O3, default code generation.
    pub fn new(arch: GpuArch) -> Target {
        Target { arch, ptx: arch.min_ptx(), opt: OptLevel::O3, codegen: Codegen::default() }
    }

    pub fn with_codegen(self, codegen: Codegen) -> Target {
        Target { codegen, ..self }
    }

    /// The same target with another PTX ISA; rejects an ISA older than the
    /// architecture or newer than LLVM can emit.
    pub fn with_ptx(self, ptx: PtxIsa) -> Result<Target> {
        if ptx < self.arch.min_ptx() {
            return Err(BackendError::new(
                Stage::TargetMachine,
                format!("PTX ISA {ptx} is older than {}, which needs at least {}", self.arch, self.arch.min_ptx()),
            ));
        }
        if ptx > PtxIsa::LLVM_MAX {
            return Err(BackendError::new(
                Stage::TargetMachine,
                format!("PTX ISA {ptx} is newer than LLVM 22 can emit (at most {})", PtxIsa::LLVM_MAX),
            ));
        }
        Ok(Target { ptx, ..self })
    }

    pub fn with_opt(self, opt: OptLevel) -> Target {
        Target { opt, ..self }
    }

    /// The NVPTX target-machine feature string (`+ptx80`).
    pub fn features(&self) -> String {
        self.ptx.feature()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for arch in GpuArch::ALL {
            assert_eq!(GpuArch::from_name(arch.name()), Some(arch));
        }
        assert_eq!(GpuArch::from_name("sm_70"), None);
    }

    #[test]
    fn features_spell_the_ptx_version() {
        assert_eq!(Target::new(GpuArch::Sm90a).features(), "+ptx80");
        assert_eq!(Target::new(GpuArch::Sm80).features(), "+ptx70");
        assert_eq!(Target::new(GpuArch::Sm89).with_ptx(PtxIsa::new(8, 6)).map(|t| t.features()), Ok("+ptx86".into()));
    }

    #[test]
    fn ptx_too_old_or_too_new_is_rejected() {
        let error = Target::new(GpuArch::Sm90a).with_ptx(PtxIsa::new(7, 8)).expect_err("7.8 predates sm_90a");
        assert_eq!(error.code(), "E0806");
        assert!(error.message.contains("sm_90a, which needs at least 8.0"), "{error}");
        assert!(Target::new(GpuArch::Sm80).with_ptx(PtxIsa::new(9, 1)).is_err());
    }
}
