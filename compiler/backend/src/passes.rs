//! The MLIR pass pipeline from our GPU-level dialect mix to the LLVM dialect.
//!
//! Kernels are built as `llvm.func`s marked `nvvm.kernel` whose bodies mix
//! `arith`, `scf`, `cf`, `nvvm` and `llvm` operations. Lowering them needs no
//! `gpu` dialect outlining: structured control flow goes to `cf`, the NVVM ops
//! that have no LLVM intrinsic (`wgmma.mma_async`, ...) become PTX inline
//! assembly (`convert-nvvm-to-llvm`), then `arith`/`cf` go to `llvm`. The
//! remaining `nvvm` ops translate to NVVM intrinsics in `translate`.

use melior::{
    ir::{Module, operation::OperationLike},
    pass::PassManager,
    utility::parse_pass_pipeline,
};

use crate::{
    context::MlirContext,
    error::{Result, Stage},
};

/// The lowering pipeline, in `mlir-opt --pass-pipeline` syntax.
pub const NVVM_TO_LLVM_PIPELINE: &str = "builtin.module(\
    canonicalize, cse, \
    convert-scf-to-cf, \
    convert-nvvm-to-llvm, \
    convert-arith-to-llvm, \
    convert-cf-to-llvm, \
    reconcile-unrealized-casts)";

/// Verifies `module` (stage [`Stage::MlirVerify`]).
pub fn verify(mlir: &MlirContext, module: &Module) -> Result<()> {
    mlir.take_diagnostics();
    if module.as_operation().verify() {
        Ok(())
    } else {
        Err(mlir.error(Stage::MlirVerify, "the generated module does not verify"))
    }
}

/// Runs `pipeline` on `module` in place, with the IR verifier after each pass.
pub fn run_pipeline(mlir: &MlirContext, module: &mut Module, pipeline: &str) -> Result<()> {
    mlir.take_diagnostics();
    let manager = PassManager::new(mlir.mlir());
    manager.enable_verifier(true);
    parse_pass_pipeline(manager.as_operation_pass_manager(), pipeline)
        .map_err(|error| mlir.error(Stage::PassPipelineParse, format!("`{pipeline}`: {error}")))?;
    manager.run(module).map_err(|_| mlir.error(Stage::PassPipelineRun, format!("pipeline `{pipeline}` failed")))
}

/// Lowers a kernel module to the LLVM dialect with [`NVVM_TO_LLVM_PIPELINE`].
pub fn to_llvm_dialect(mlir: &MlirContext, module: &mut Module) -> Result<()> {
    run_pipeline(mlir, module, NVVM_TO_LLVM_PIPELINE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_pass_is_a_parse_error_naming_the_pass() {
        let mlir = MlirContext::new();
        let mut module = Module::parse(mlir.mlir(), "module {}").expect("empty module parses");
        let error = run_pipeline(&mlir, &mut module, "builtin.module(no-such-pass)").expect_err("unknown pass");
        assert_eq!(error.code(), "E0802");
        assert!(error.to_string().contains("no-such-pass"), "{error}");
    }

    #[test]
    fn a_failing_pass_reports_mlir_diagnostics() {
        let mlir = MlirContext::new();
        // One-shot bufferization fails on a tensor op it cannot bufferize, and
        // says so only through a diagnostic (the pass result is a bare failure).
        let source = r#"
            func.func @f(%t: tensor<4xf32>) -> tensor<4xf32> {
              %0 = builtin.unrealized_conversion_cast %t : tensor<4xf32> to tensor<4xf32>
              return %0 : tensor<4xf32>
            }"#;
        let mut module = Module::parse(mlir.mlir(), source).expect("parses");
        let error =
            run_pipeline(&mlir, &mut module, "builtin.module(one-shot-bufferize)").expect_err("not bufferizable");
        assert_eq!(error.code(), "E0803");
        assert_eq!(error.diagnostics.len(), 1, "{error}");
        assert_eq!(error.diagnostics[0].message, "op was not bufferized", "{error}");
        assert!(error.diagnostics[0].notes[0].message.contains("builtin.unrealized_conversion_cast"), "{error}");
    }

    #[test]
    fn arith_and_scf_lower_to_the_llvm_dialect() {
        let mlir = MlirContext::new();
        let source = r#"
            llvm.func @k(%n: i32, %p: !llvm.ptr<1>) attributes {nvvm.kernel} {
              %t = nvvm.read.ptx.sreg.tid.x : i32
              %c = arith.cmpi slt, %t, %n : i32
              scf.if %c {
                %x = arith.addi %t, %n : i32
                llvm.store %x, %p : i32, !llvm.ptr<1>
              }
              llvm.return
            }"#;
        let mut module = Module::parse(mlir.mlir(), source).expect("parses");
        to_llvm_dialect(&mlir, &mut module).expect("lowers");
        let text = module.as_operation().to_string();
        assert!(!text.contains("arith."), "{text}");
        assert!(!text.contains("scf."), "{text}");
        assert!(text.contains("llvm.icmp \"slt\""), "{text}");
    }
}
