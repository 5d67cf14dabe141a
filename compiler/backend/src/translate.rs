//! LLVM dialect -> LLVM IR text, through MLIR's C API.
//!
//! MLIR translates into an `llvm::Module` living in an `LLVMContext` we pass
//! in. We give it a private context, print the module and dispose of both:
//! the text is the hand-off to inkwell (which parses it into its own context)
//! and a readable artifact for debugging and golden tests. Passing the module
//! pointer across would save a print/parse, but ties inkwell's lifetimes to a
//! module it did not create; the text costs microseconds for kernel-sized IR.

use std::ffi::CStr;

use inkwell::llvm_sys::{
    core::{LLVMContextCreate, LLVMContextDispose, LLVMDisposeMessage, LLVMDisposeModule, LLVMPrintModuleToString},
    prelude::{LLVMContextRef, LLVMModuleRef},
};
use melior::ir::Module;

use crate::{
    context::MlirContext,
    error::{Result, Stage},
};

/// Owns an `LLVMContext` (and optionally a module in it) until dropped.
struct LlvmScratch {
    context: LLVMContextRef,
    module: LLVMModuleRef,
}

impl Drop for LlvmScratch {
    fn drop(&mut self) {
        // SAFETY: both were created by us and are disposed exactly once,
        // the module before its context.
        unsafe {
            if !self.module.is_null() {
                LLVMDisposeModule(self.module);
            }
            LLVMContextDispose(self.context);
        }
    }
}

/// Translates an LLVM-dialect module (after [`crate::lower`]) to LLVM IR text.
pub fn to_llvm_ir(mlir: &MlirContext, module: &Module) -> Result<String> {
    mlir.take_diagnostics();
    // SAFETY: the context is fresh; the module operation is alive for the
    // call; mlir-sys and llvm-sys name the same opaque `LLVMContext` type, and
    // both resolve to the single statically linked copy of LLVM.
    let mut scratch = LlvmScratch { context: unsafe { LLVMContextCreate() }, module: std::ptr::null_mut() };
    scratch.module =
        unsafe { mlir_sys::mlirTranslateModuleToLLVMIR(module.as_operation().to_raw(), scratch.context.cast()).cast() };
    if scratch.module.is_null() {
        return Err(mlir.error(Stage::LlvmTranslate, "MLIR could not translate the module to LLVM IR"));
    }
    // SAFETY: the module is valid; the message is freed with LLVMDisposeMessage.
    unsafe {
        let raw = LLVMPrintModuleToString(scratch.module);
        let text = CStr::from_ptr(raw).to_string_lossy().into_owned();
        LLVMDisposeMessage(raw);
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_attribute_becomes_ptx_kernel_calling_convention() {
        let mlir = MlirContext::new();
        let source = r#"
            llvm.func @k(%p: !llvm.ptr<1>) attributes {nvvm.kernel} {
              %t = nvvm.read.ptx.sreg.tid.x : i32
              %q = llvm.getelementptr %p[%t] : (!llvm.ptr<1>, i32) -> !llvm.ptr<1>, f32
              %v = llvm.load %q : !llvm.ptr<1> -> f32
              llvm.store %v, %p : f32, !llvm.ptr<1>
              llvm.return
            }"#;
        let module = Module::parse(mlir.mlir(), source).expect("parses");
        let ir = to_llvm_ir(&mlir, &module).expect("translates");
        assert!(ir.contains("define ptx_kernel void @k(ptr addrspace(1) %0)"), "{ir}");
        assert!(ir.contains("@llvm.nvvm.read.ptx.sreg.tid.x()"), "{ir}");
    }

    #[test]
    fn untranslatable_op_is_an_error_with_diagnostics() {
        let mlir = MlirContext::new();
        // An un-lowered `arith` op has no LLVM IR translation.
        let source = r#"
            llvm.func @k(%a: i32) {
              %b = arith.addi %a, %a : i32
              llvm.return
            }"#;
        let module = Module::parse(mlir.mlir(), source).expect("parses");
        let error = to_llvm_ir(&mlir, &module).expect_err("arith is not translatable");
        assert_eq!(error.code(), "E0804");
        assert!(error.to_string().contains("arith.addi"), "{error}");
    }
}
