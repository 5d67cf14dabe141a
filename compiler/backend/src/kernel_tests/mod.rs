//! Tile-IR kernels compiled end to end for sm_80 and sm_90a, checked by
//! ptxas, with a short fingerprint of the PTX snapshotted per kernel.

use std::fmt::Write as _;

mod determinism;
mod shared_hazards;
mod tensor_core;

use crate::{GpuArch, Target, compile_kernel, ptxas::Ptxas};

/// Counts of the instructions that show whether the lowering did what it should.
fn fingerprint(ptx: &str) -> Vec<(&'static str, usize)> {
    let count = |needle: &str| ptx.lines().filter(|l| l.trim_start().starts_with(needle)).count();
    vec![
        ("ld.global.v4", count("ld.global.v4")),
        ("st.global.v4", count("st.global.v4")),
        ("ld.global.v2", count("ld.global.v2")),
        ("st.global.v2", count("st.global.v2")),
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
        let mut k =
            compile_kernel(&kernel, &Target::new(arch)).unwrap_or_else(|e| panic!("compiling {name} for {arch}:\n{e}"));
        if let Some(dir) = std::env::var_os("TESSERA_BACKEND_DUMP") {
            let base = std::path::Path::new(&dir).join(format!("{name}.{arch}"));
            for (ext, body) in [
                ("ptx", &k.ptx),
                ("mlir", &k.stages.mlir),
                ("layout", &k.stages.layout),
                ("ll", &k.stages.llvm_optimized),
            ] {
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
        assert!(
            k.stages.layout.contains("#blocked<spt = [4], tpw = [32], wpc = [4], order = [0]>"),
            "{}",
            k.stages.layout
        );
    }
    if let Some(fingerprint) = fingerprint {
        insta::assert_snapshot!(fingerprint);
    }
}

/// The fingerprint snapshot plus what every kernel's PTX must show.
fn check(name: &str, ir: &str, must_contain: &[&str]) -> Vec<crate::CompiledKernel> {
    let (fingerprint, compiled) = compile_and_check(name, ir);
    for k in &compiled {
        for needle in must_contain {
            assert!(k.ptx.contains(needle), "{name} for {}: `{needle}` missing from\n{}", k.target.arch, k.ptx);
        }
    }
    if let Some(fingerprint) = fingerprint {
        insta::assert_snapshot!(name, fingerprint);
    }
    compiled
}

#[test]
fn softmax_row_reduces_with_shuffles_and_shared_memory() {
    let compiled =
        check("softmax", include_str!("softmax.tir"), &["shfl.sync.bfly", "bar.sync", "max.NaN.f32", "ex2.approx.f32"]);
    for k in &compiled {
        // f32 `exp` is one multiply and one SFU `ex2`, with no detour through f64.
        assert!(!k.ptx.contains(".f64"), "{}", k.ptx);
        // Four warps along the row: each cross-warp step needs 4 partials of
        // 4 bytes; the sum's go beside the max's, so no barrier separates
        // the max's reads from the sum's writes.
        assert_eq!(k.shared_bytes, 32);
        assert_eq!(k.ptx.matches("bar.sync").count(), 2, "one barrier per cross-warp step");
        // The mask on an unhinted `n` is not provably uniform over vectors: a
        // vector load behind a run-time check, scalar predicated loads as the fallback.
        let vector = k.ptx.matches("ld.global.v4").count();
        assert!(vector > 0, "{}", k.ptx);
        assert!(k.ptx.matches("ld.global.").count() > vector, "no scalar fallback:\n{}", k.ptx);
    }
}

#[test]
fn softmax_2d_uses_slices_and_vector_accesses() {
    let compiled =
        check("softmax_2d", include_str!("softmax_2d.tir"), &["ld.global.v4", "st.global.v4", "shfl.sync.bfly"]);
    for k in &compiled {
        let layout = &k.stages.layout;
        assert!(
            layout.contains("#slice<dim = 1, #blocked<spt = [1, 4], tpw = [1, 32], wpc = [2, 2], order = [1, 0]>>"),
            "{layout}"
        );
        assert!(!layout.contains("through shared memory"), "no layout conversion is needed:\n{layout}");
    }
}

#[test]
fn layer_norm_two_reductions_and_rsqrt() {
    let compiled =
        check("layer_norm", include_str!("layer_norm.tir"), &["ld.global.v4", "rsqrt.approx.f32", "div.rn.f32"]);
    for k in &compiled {
        assert_eq!(k.num_warps, 8);
        assert!(k.ptx.contains(".maxntid 256, 1, 1"), "{}", k.ptx);
    }
}

#[test]
fn cumsum_goes_through_shared_memory() {
    let compiled = check("cumsum", include_str!("cumsum.tir"), &["bar.sync", "st.shared", "ld.shared"]);
    for k in &compiled {
        // 256 f32 and 256 i32 elements, side by side (no barrier between the
        // first scan's reads and the second's writes).
        assert_eq!(k.shared_bytes, 2048);
    }
}

#[test]
fn atomic_add_f32_and_i32() {
    check("atomics", include_str!("atomics.tir"), &["atom.global.add.f32", "atom.global.add.u32"]);
}

#[test]
fn loop_carries_a_tensor() {
    let compiled = check("loop", include_str!("loop.tir"), &["ld.global", "shfl.sync.bfly"]);
    for k in &compiled {
        assert!(k.stages.layout.contains("%10: #blocked"), "the carried tensor has a layout:\n{}", k.stages.layout);
    }
}

#[test]
fn if_yields_tensors_and_scalars() {
    check("branch", include_str!("branch.tir"), &["shfl.sync.bfly", "ld.global"]);
}

#[test]
fn layout_stage_annotates_every_tensor_and_still_parses() {
    let kernel = tessera_tir::parse_kernel(include_str!("vector_add.tir")).expect("parses");
    let laid_out = crate::layout::assign_layouts(&kernel).expect("layouts");
    let text = crate::layout::print_layouts(&laid_out);
    insta::assert_snapshot!("vector_add_layout", text);
    // The annotations are comments: the text reads back as the same kernel.
    let reparsed = tessera_tir::parse_kernel(&text).expect("the layout stage parses as tile IR");
    assert_eq!(tessera_tir::print_kernel(&reparsed), tessera_tir::print_kernel(&kernel));
}

fn compile_error(ir: &str) -> crate::BackendError {
    let kernel = tessera_tir::parse_kernel(ir).expect("parses");
    compile_kernel(&kernel, &Target::new(GpuArch::Sm90a)).expect_err("must be rejected")
}

#[test]
fn integer_dot_is_rejected_naming_the_op_and_its_location() {
    let error = compile_error(
        "kernel @mm(%0: ptr<i32> \"c\") source(\"mm.tsr\") grid(1) warps(4) stages(1) {
  %1 = constant 1 : tensor<16x16xi8>
  %2 = constant 0 : tensor<16x16xi32>
  %3 = dot %1, %1, %2 {precision = ieee} : tensor<16x16xi32> loc(7:13)
  return
}",
    );
    assert_eq!(error.code(), "E0812", "{error}");
    assert_eq!(error.op.as_deref(), Some("dot"));
    assert_eq!(error.loc, Some(tessera_tir::Loc { line: 7, col: 13 }));
    assert!(error.to_string().contains("dot of i8 into i32 is not supported on tensor cores"), "{error}");
}

#[test]
fn block_pointer_orders_must_permute_the_axes() {
    let error = compile_error(
        "kernel @bp(%0: ptr<f16> \"a\", %1: i64 \"n\") source(\"bp.tsr\") grid(1) warps(4) stages(1) {
  %2 = constant 1 : i64
  %3 = constant 0 : i32
  %4 = make_block_ptr %0, %1, %1, %1, %2, %3, %3 {order = [1, 1]} : blockptr<64x32xf16> loc(3:10)
  return
}",
    );
    assert_eq!(error.op.as_deref(), Some("make_block_ptr"), "{error}");
    assert!(error.to_string().contains("order [1, 1] is not a permutation of the 2 block axes"), "{error}");
}

#[test]
fn non_power_of_two_blocks_are_rejected_with_a_fix() {
    let error = compile_error(
        "kernel @odd(%0: ptr<f32> \"x\") source(\"odd.tsr\") grid(1) warps(4) stages(1) {
  %1 = arange 0, 100 : tensor<100xi32> loc(2:9)
  %2 = splat %0 : tensor<100xptr<f32>>
  %3 = addptr %2, %1 : tensor<100xptr<f32>>
  %4 = load %3 : tensor<100xf32>
  store %3, %4
  return
}",
    );
    assert_eq!(error.code(), "E0813", "{error}");
    assert_eq!(error.op.as_deref(), Some("arange"));
    assert!(error.to_string().contains("pad the block to 128"), "{error}");
}
