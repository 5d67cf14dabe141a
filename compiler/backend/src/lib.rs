//! The Tessera GPU backend: MLIR -> LLVM IR -> PTX.
//!
//! Kernels are built with [melior] as MLIR `llvm.func`s (marked `nvvm.kernel`)
//! whose bodies use the upstream `arith`, `scf`, `nvvm` and `llvm` dialects
//! ([`emit`]); an MLIR pass pipeline lowers them to the LLVM dialect
//! ([`passes`]); MLIR's C API translates that to LLVM IR ([`translate`]);
//! inkwell's NVPTX target machine turns the IR into PTX ([`codegen`]); and
//! `ptxas`, when installed, validates the PTX and reports registers and spills
//! ([`ptxas`]). [`pipeline::compile`] runs the whole path.
//!
//! MLIR and LLVM are linked statically, once: melior's mlir-sys and inkwell's
//! llvm-sys both link the component archives of the same LLVM 22 install, so
//! MLIR's translation and inkwell's codegen share one copy of LLVM's globals.
//! `docs/backend-notes.md` records versions, link flags and pitfalls.
//!
//! Every failure is a [`BackendError`] naming its stage, with a stable E08xx
//! code ([`codes`]) and the diagnostics MLIR emitted.

pub mod capability;
pub mod codegen;
pub mod codes;
pub mod compile;
pub mod context;
pub mod emit;
pub mod error;
pub mod fingerprint;
pub mod layout;
pub mod lower;
pub mod normalize;
pub mod passes;
pub mod pipeline;
pub mod ptxas;
pub mod sample;
pub mod target;
pub mod tensor_map;
pub mod translate;

#[cfg(test)]
mod kernel_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use compile::{
    CompiledKernel, KernelStages, SPECIALIZED_DIVISIBILITY, assign_layouts_for_target, compile_kernel,
    divisibility_candidates, schedule_for_target, unit_stride_candidates,
};
pub use context::MlirContext;
pub use error::{BackendError, MlirDiagnostic, Result, Stage};
pub use pipeline::{Artifacts, compile};
pub use target::{Codegen, GpuArch, OptLevel, PtxIsa, Target};
