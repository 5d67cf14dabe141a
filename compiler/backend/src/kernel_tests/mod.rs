//! Tile-IR kernels compiled end to end for sm_80 and sm_90a, checked by
//! ptxas, with a short fingerprint of the PTX snapshotted per kernel.

use std::fmt::Write as _;

use crate::{GpuArch, Target, compile_kernel, ptxas::Ptxas};

/// Counts of the instructions that show whether the lowering did what it should.
fn fingerprint(ptx: &str) -> Vec<(&'static str, usize)> {
    let count = |needle: &str| ptx.lines().filter(|l| l.trim_start().starts_with(needle)).count();
    vec![
        ("ld.global.v4", count("ld.global.v4")),
        ("st.global.v4", count("st.global.v4")),
        ("ld.global (scalar)", count("ld.global.b") + count("ld.global.u") + count("ld.global.f")),
        ("st.global (scalar)", count("st.global.b") + count("st.global.u") + count("st.global.f")),
        ("atom.global", count("atom.global")),
        ("shfl.sync", count("shfl.sync")),
        ("bar.sync", count("bar.sync") + count("barrier.sync")),
        ("ex2", count("ex2.")),
    ]
}

/// Compiles `ir` for sm_80 and sm_90a, assembles each PTX with ptxas (a
/// rejection fails the test), and returns the fingerprint text of both
/// (`None` when ptxas is absent, after printing a SKIPPED line).
fn compile_and_check(name: &str, ir: &str) -> (Option<String>, Vec<crate::CompiledKernel>) {
    let kernel = tessera_tir::parse_kernel(ir).unwrap_or_else(|e| panic!("{name}: the test IR does not parse: {e:?}"));
    if let Err(e) = tessera_tir::verify(&kernel) {
        panic!("{name}: the test IR does not verify: {e:?}");
    }
    let ptxas = Ptxas::locate();
    let mut text = String::new();
    let mut compiled = Vec::new();
    for arch in [GpuArch::Sm80, GpuArch::Sm90a] {
        let mut k = compile_kernel(&kernel, &Target::new(arch))
            .unwrap_or_else(|e| panic!("compiling {name} for {arch}:\n{e}"));
        if let Some(dir) = std::env::var_os("TESSERA_BACKEND_DUMP") {
            let base = std::path::Path::new(&dir).join(format!("{name}.{arch}"));
            for (ext, body) in [("ptx", &k.ptx), ("mlir", &k.stages.mlir), ("layout", &k.stages.layout), ("ll", &k.stages.llvm_optimized)] {
                std::fs::write(base.with_extension(format!("{arch}.{ext}")), body).expect("dump");
            }
        }
        let _ = writeln!(text, "{arch}: shared {} B, {} warps", k.shared_bytes, k.num_warps);
        for (what, n) in fingerprint(&k.ptx) {
            let _ = writeln!(text, "  {what}: {n}");
        }
        match &ptxas {
            Some(ptxas) => {
                let stats = k.assemble(ptxas).unwrap_or_else(|e| panic!("ptxas rejected {name} for {arch}:\n{e}"));
                let _ = writeln!(
                    text,
                    "  registers: {}, spill stores: {} B, spill loads: {} B",
                    stats.registers, stats.spill_store_bytes, stats.spill_load_bytes
                );
            }
            None => eprintln!("SKIPPED ptxas check of {name} for {arch}: ptxas not found (set TESSERA_PTXAS)"),
        }
        compiled.push(k);
    }
    (ptxas.map(|_| text), compiled)
}

#[test]
fn vector_add_uses_16_byte_vector_accesses() {
    let (fingerprint, compiled) = compile_and_check("vector_add", include_str!("vector_add.tir"));
    for k in &compiled {
        assert!(k.ptx.contains("ld.global.v4"), "{}", k.ptx);
        assert!(k.ptx.contains("st.global.v4"), "{}", k.ptx);
        assert!(k.ptx.contains(".maxntid 128, 1, 1"), "{}", k.ptx);
        assert_eq!(k.shared_bytes, 0);
        assert!(k.stages.layout.contains("#blocked<spt = [4], tpw = [32], wpc = [4], order = [0]>"), "{}", k.stages.layout);
    }
    if let Some(fingerprint) = fingerprint {
        insta::assert_snapshot!(fingerprint);
    }
}
