//! The whole path: verified MLIR module -> target check -> LLVM dialect -> LLVM IR -> PTX.

use melior::ir::Module;

use crate::{capability, codegen, context::MlirContext, error::Result, passes, target::Target, translate};

/// Everything produced on the way to PTX, kept for debugging and golden tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifacts {
    /// The module after lowering, in the LLVM dialect.
    pub llvm_dialect: String,
    /// LLVM IR as translated from MLIR (before LLVM optimisation).
    pub llvm_ir: String,
    /// LLVM IR after optimisation, as given to the NVPTX code generator.
    pub optimized_ir: String,
    /// PTX assembly.
    pub ptx: String,
}

/// Verifies, lowers (in place), translates and compiles `module` for `target`.
pub fn compile(mlir: &MlirContext, module: &mut Module, name: &str, target: &Target) -> Result<Artifacts> {
    passes::verify(mlir, module)?;
    capability::check(module, target)?;
    passes::to_llvm_dialect(mlir, module)?;
    let llvm_dialect = module.as_operation().to_string();
    let llvm_ir = translate::to_llvm_ir(mlir, module)?;
    let ptx = codegen::emit_ptx(&llvm_ir, name, target)?;
    Ok(Artifacts { llvm_dialect, llvm_ir, optimized_ir: ptx.optimized_ir, ptx: ptx.text })
}
