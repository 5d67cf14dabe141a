//! End-to-end tests: sample kernels through the whole path, checked by ptxas.
//!
//! The ptxas checks run when `ptxas` is found (see [`Ptxas::locate`]; set
//! `TESSERA_PTXAS` to point at one) and otherwise print a visible SKIPPED line.

use melior::ir::Module;

use crate::{
    GpuArch, MlirContext, PtxIsa, Result, Target, compile,
    ptxas::{Ptxas, PtxasReport},
    sample,
};

/// Assembles `ptx` with ptxas if available, printing the report. With
/// `TESSERA_BACKEND_DUMP=<dir>`, also writes the PTX to `<dir>/<what>.<arch>.ptx`.
fn check_with_ptxas(ptx: &str, arch: GpuArch, what: &str) -> Option<PtxasReport> {
    if let Some(dir) = std::env::var_os("TESSERA_BACKEND_DUMP") {
        let path = std::path::Path::new(&dir).join(format!("{what}.{arch}.ptx"));
        std::fs::write(&path, ptx).unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    }
    let Some(ptxas) = Ptxas::locate() else {
        eprintln!("SKIPPED ptxas check of {what} for {arch}: ptxas not found (set TESSERA_PTXAS or add it to PATH)");
        return None;
    };
    match ptxas.assemble(ptx, arch) {
        Ok(report) => {
            for f in &report.functions {
                eprintln!(
                    "ptxas {arch} {}: {} registers, {} B stack, {} B spill stores, {} B spill loads",
                    f.name, f.registers, f.stack_frame_bytes, f.spill_store_bytes, f.spill_load_bytes
                );
            }
            Some(report)
        }
        Err(error) => panic!("ptxas rejected {what} for {arch}:\n{error}\n--- PTX ---\n{ptx}"),
    }
}

fn compile_sample<'c>(
    mlir: &'c MlirContext,
    build: fn(&'c MlirContext) -> Result<Module<'c>>,
    name: &str,
    target: &Target,
) -> crate::Artifacts {
    let mut module = build(mlir).unwrap_or_else(|error| panic!("building {name}: {error}"));
    compile(mlir, &mut module, name, target)
        .unwrap_or_else(|error| panic!("compiling {name} for {}: {error}", target.arch))
}

#[test]
fn add_one_compiles_for_every_arch_and_assembles() {
    for arch in GpuArch::ALL {
        let mlir = MlirContext::new();
        let target = Target::new(arch);
        let artifacts = compile_sample(&mlir, sample::add_one, "add_one", &target);
        let ptx = &artifacts.ptx;
        assert!(artifacts.llvm_ir.contains("define ptx_kernel void @add_one("), "{}", artifacts.llvm_ir);
        assert!(ptx.contains(&format!(".version {}", arch.min_ptx())), "{ptx}");
        assert!(ptx.contains(&format!(".target {}", arch.name())), "{ptx}");
        assert!(ptx.contains(".visible .entry add_one("), "{ptx}");
        // The bounds check, the +1.0 and the global load/store survive O3.
        assert!(ptx.contains("setp.ge.s32"), "{ptx}");
        assert!(ptx.contains("add.rn.f32") && ptx.contains("0f3F800000"), "x + 1.0f missing:\n{ptx}");
        assert!(ptx.contains("ld.global.b32"), "{ptx}");
        assert!(ptx.contains("st.global.b32"), "{ptx}");
        if let Some(report) = check_with_ptxas(ptx, arch, "add_one") {
            let stats = report.functions.iter().find(|f| f.name == "add_one").expect("ptxas reports add_one");
            assert!(stats.registers > 0 && stats.spill_store_bytes == 0, "{stats:?}");
        }
    }
}

#[test]
fn mma_sync_bf16_emits_the_tensor_core_instruction() {
    for arch in [GpuArch::Sm80, GpuArch::Sm90a] {
        let mlir = MlirContext::new();
        let artifacts = compile_sample(&mlir, sample::mma_bf16_m16n8k16, "mma_bf16_m16n8k16", &Target::new(arch));
        assert!(artifacts.llvm_ir.contains("@llvm.nvvm.mma.m16n8k16.row.col.bf16"), "{}", artifacts.llvm_ir);
        assert!(artifacts.ptx.contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"), "{}", artifacts.ptx);
        check_with_ptxas(&artifacts.ptx, arch, "mma_bf16_m16n8k16");
    }
}

#[test]
fn wgmma_lowers_to_inline_ptx_for_sm90a() {
    let mlir = MlirContext::new();
    let target = Target::new(GpuArch::Sm90a);
    let artifacts = compile_sample(&mlir, sample::wgmma_bf16_m64n8k16, "wgmma_bf16_m64n8k16", &target);
    // convert-nvvm-to-llvm turned the op into inline assembly.
    assert!(artifacts.llvm_dialect.contains("llvm.inline_asm"), "{}", artifacts.llvm_dialect);
    let ptx = &artifacts.ptx;
    assert!(ptx.contains("wgmma.fence.sync.aligned"), "{ptx}");
    assert!(ptx.contains("wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16"), "{ptx}");
    assert!(ptx.contains("wgmma.commit_group.sync.aligned"), "{ptx}");
    let wait: &[&str] = &["wgmma.wait_group.sync.aligned", "0;"];
    assert!(ptx.lines().any(|l| l.split_whitespace().eq(wait.iter().copied())), "{ptx}");
    assert!(ptx.contains(".reqntid 128, 1, 1"), "{ptx}");
    check_with_ptxas(ptx, GpuArch::Sm90a, "wgmma_bf16_m64n8k16");
}

#[test]
fn wgmma_for_sm90_without_a_is_refused_before_llvm() {
    // LLVM would abort the process ("Cannot select: intrinsic
    // %llvm.nvvm.wgmma.fence.sync.aligned") instead of returning an error.
    let mlir = MlirContext::new();
    let mut module = sample::wgmma_bf16_m64n8k16(&mlir).expect("builds");
    let target = Target::new(GpuArch::Sm90).with_ptx(PtxIsa::new(8, 0)).expect("valid ISA");
    let error = compile(&mlir, &mut module, "wgmma", &target).expect_err("sm_90 has no wgmma");
    assert_eq!(error.code(), "E0811", "{error}");
}

#[test]
fn ptxas_rejection_is_an_error_with_its_log() {
    let Some(ptxas) = Ptxas::locate() else {
        eprintln!("SKIPPED ptxas rejection check: ptxas not found (set TESSERA_PTXAS or add it to PATH)");
        return;
    };
    let ptx = ".version 8.0\n.target sm_90a\n.address_size 64\n.visible .entry k() { bogusop; ret; }\n";
    let error = ptxas.assemble(ptx, GpuArch::Sm90a).expect_err("invalid PTX");
    assert_eq!(error.code(), "E0810");
    assert!(error.detail.as_deref().is_some_and(|d| d.contains("bogusop")), "{error}");
}

#[test]
fn llvm_and_mlir_are_linked_statically() {
    // A shared libLLVM/libMLIR next to the static copy would give two sets of
    // LLVM globals (and abort on duplicate command-line option registration).
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps is readable on Linux");
    let shared: Vec<&str> = maps.lines().filter(|l| l.contains("libLLVM") || l.contains("libMLIR")).collect();
    assert!(shared.is_empty(), "LLVM/MLIR shared libraries are mapped:\n{}", shared.join("\n"));
}
