//! LLVM IR -> PTX with inkwell's NVPTX target machine.

use std::sync::Once;

use inkwell::{
    OptimizationLevel,
    context::Context,
    memory_buffer::MemoryBuffer,
    passes::PassBuilderOptions,
    targets::{
        CodeModel, FileType, InitializationConfig, RelocMode, Target as LlvmTarget, TargetMachine, TargetTriple,
    },
};

use crate::{
    error::{BackendError, Result, Stage},
    target::{NVPTX_TRIPLE, OptLevel, Target},
};

/// Registers the NVPTX target with LLVM once per process.
fn initialize_nvptx() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| LlvmTarget::initialize_nvptx(&InitializationConfig::default()));
}

/// Creates the NVPTX target machine for `target`.
fn target_machine(target: &Target) -> Result<TargetMachine> {
    initialize_nvptx();
    let triple = TargetTriple::create(NVPTX_TRIPLE);
    let llvm_target = LlvmTarget::from_triple(&triple).map_err(|error| {
        BackendError::new(Stage::TargetMachine, format!("LLVM has no target for `{NVPTX_TRIPLE}`"))
            .with_detail(error.to_string())
    })?;
    let level = match target.opt {
        OptLevel::O0 => OptimizationLevel::None,
        OptLevel::O3 => OptimizationLevel::Aggressive,
    };
    llvm_target
        .create_target_machine(
            &triple,
            target.arch.name(),
            &target.features(),
            level,
            RelocMode::Default,
            CodeModel::Default,
        )
        .ok_or_else(|| {
            BackendError::new(
                Stage::TargetMachine,
                format!("cannot create an NVPTX target machine for {} with `{}`", target.arch, target.features()),
            )
        })
}

/// The output of code generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ptx {
    /// PTX assembly text.
    pub text: String,
    /// The LLVM IR that was fed to the code generator (after optimisation).
    pub optimized_ir: String,
}

/// Parses `llvm_ir` into a fresh inkwell context, sets the NVPTX triple and
/// data layout, optimises it (at [`OptLevel::O3`]) and emits PTX.
pub fn emit_ptx(llvm_ir: &str, module_name: &str, target: &Target) -> Result<Ptx> {
    let machine = target_machine(target)?;
    let context = Context::create();
    let buffer = MemoryBuffer::create_from_memory_range_copy(llvm_ir.as_bytes(), module_name);
    let module = context.create_module_from_ir(buffer).map_err(|error| {
        BackendError::new(Stage::LlvmIrParse, format!("LLVM rejected the IR of `{module_name}`"))
            .with_detail(error.to_string())
    })?;
    module.set_triple(&machine.get_triple());
    module.set_data_layout(&machine.get_target_data().get_data_layout());
    module.verify().map_err(|error| {
        BackendError::new(Stage::LlvmIrParse, format!("the LLVM IR of `{module_name}` does not verify"))
            .with_detail(error.to_string())
    })?;
    if target.opt == OptLevel::O3 {
        module.run_passes("default<O3>", &machine, PassBuilderOptions::create()).map_err(|error| {
            BackendError::new(Stage::LlvmOptimize, format!("`default<O3>` failed on `{module_name}`"))
                .with_detail(error.to_string())
        })?;
    }
    let optimized_ir = module.print_to_string().to_string();
    let buffer = machine.write_to_memory_buffer(&module, FileType::Assembly).map_err(|error| {
        BackendError::new(Stage::PtxEmit, format!("NVPTX code generation failed for `{module_name}` ({})", target.arch))
            .with_detail(error.to_string())
    })?;
    let text = String::from_utf8_lossy(buffer.as_slice()).trim_end_matches('\0').to_string();
    Ok(Ptx { text, optimized_ir })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{GpuArch, PtxIsa};

    const TINY: &str = r#"
define ptx_kernel void @tiny(ptr addrspace(1) %p) {
  %t = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %q = getelementptr float, ptr addrspace(1) %p, i32 %t
  store float 1.0, ptr addrspace(1) %q
  ret void
}
declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()
"#;

    #[test]
    fn emits_entry_with_requested_target_and_version() {
        let target = Target::new(GpuArch::Sm90a).with_ptx(PtxIsa::new(8, 6)).expect("valid ISA");
        let ptx = emit_ptx(TINY, "tiny", &target).expect("codegen");
        assert!(ptx.text.contains(".version 8.6"), "{}", ptx.text);
        assert!(ptx.text.contains(".target sm_90a"), "{}", ptx.text);
        assert!(ptx.text.contains(".visible .entry tiny("), "{}", ptx.text);
        assert!(ptx.optimized_ir.contains("target triple = \"nvptx64-nvidia-cuda\""), "{}", ptx.optimized_ir);
    }

    #[test]
    fn default_isa_per_arch_is_what_llvm_prints() {
        for arch in GpuArch::ALL {
            let ptx = emit_ptx(TINY, "tiny", &Target::new(arch)).expect("codegen");
            let version = format!(".version {}", arch.min_ptx());
            assert!(ptx.text.contains(&version), "{arch}: expected {version} in\n{}", ptx.text);
            assert!(ptx.text.contains(&format!(".target {}", arch.name())), "{}", ptx.text);
        }
    }

    #[test]
    fn malformed_ir_is_a_parse_error_with_llvm_message() {
        let error = emit_ptx("define void @f( {", "bad", &Target::new(GpuArch::Sm80)).expect_err("malformed");
        assert_eq!(error.code(), "E0805");
        assert!(error.detail.as_deref().is_some_and(|d| !d.is_empty()), "{error}");
    }
}
