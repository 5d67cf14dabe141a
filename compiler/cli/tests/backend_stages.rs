//! `tessera emit` through the GPU backend: the stages after `tir`, `--arch`,
//! backend errors, and the CUDA tools behind `--stage sass`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera")).current_dir(workspace_root()).args(args).output().expect("tessera runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `emit vector_add` at BLOCK=1024 for `stage` and `arch`; must succeed.
fn emit_vector_add(stage: &str, arch: &str) -> String {
    let o = tessera(&[
        "emit",
        "kernels-dsl/vector_add.tsr",
        "--kernel",
        "vector_add",
        "--const",
        "BLOCK=1024",
        "--stage",
        stage,
        "--arch",
        arch,
    ]);
    assert!(o.status.success(), "--stage {stage} --arch {arch} failed:\n{}", stderr(&o));
    stdout(&o)
}

#[test]
fn every_backend_stage_prints_its_form() {
    let layout = emit_vector_add("layout", "sm_90a");
    assert!(layout.contains("#blocked<"), "no layouts in:\n{layout}");
    let mlir = emit_vector_add("mlir", "sm_90a");
    assert!(mlir.contains("llvm.func @vector_add"), "no kernel function in:\n{mlir}");
    let llvm = emit_vector_add("llvm", "sm_90a");
    assert!(llvm.contains("define ptx_kernel void @vector_add"), "no kernel in the LLVM IR:\n{llvm}");
    let ptx = emit_vector_add("ptx", "sm_90a");
    assert!(ptx.contains(".target sm_90a") && ptx.contains("ld.global."), "{ptx}");
}

#[test]
fn arch_selects_the_ptx_target_and_isa() {
    let ptx = emit_vector_add("ptx", "sm_80");
    assert!(ptx.contains(".target sm_80") && ptx.contains(".version 7.0"), "{ptx}");
    let ptx = emit_vector_add("ptx", "sm_89");
    assert!(ptx.contains(".target sm_89") && ptx.contains(".version 7.8"), "{ptx}");
}

#[test]
fn unknown_arch_lists_the_known_ones() {
    let o =
        tessera(&["emit", "kernels-dsl/vector_add.tsr", "--kernel", "vector_add", "--stage", "ptx", "--arch", "sm_70"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("expected one of sm_80, sm_86, sm_89, sm_90, sm_90a"), "{}", stderr(&o));
}

#[test]
fn backend_errors_name_kernel_target_stage_and_location() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("odd.tsr");
    // 48 lanes: the front end accepts it, the backend needs powers of two.
    let source = "kernel odd(x: *f32, y: *f32) grid(1) {\n    let offs = arange(0, 48);\n    \
                  store(y + offs, load(x + offs));\n}\n";
    std::fs::write(&file, source).expect("write the kernel");
    let path = file.to_string_lossy().into_owned();
    let o = tessera(&["emit", &path, "--stage", "ptx", "--arch", "sm_80"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("error[E0813]: kernel `odd` for sm_80 (stage `ptx`)"), "{err}");
    assert!(err.contains(&format!("--> {path}:2:")), "no source location in:\n{err}");
    let explained = tessera(&["explain", "E0813"]);
    assert!(explained.status.success() && stdout(&explained).starts_with("E0813: "), "{}", stdout(&explained));
}

#[test]
fn sass_disassembles_or_says_how_to_install_the_tools() {
    let o = tessera(&[
        "emit",
        "kernels-dsl/vector_add.tsr",
        "--kernel",
        "vector_add",
        "--const",
        "BLOCK=1024",
        "--stage",
        "sass",
        "--arch",
        "sm_90a",
    ]);
    if o.status.success() {
        let sass = stdout(&o);
        assert!(sass.contains("LDG.E") && sass.contains("EXIT"), "not SASS of vector_add:\n{sass}");
        return;
    }
    let err = stderr(&o);
    assert!(!in_ci(), "CI=true but --stage sass failed (./dev.sh installs ptxas and nvdisasm):\n{err}");
    assert!(err.contains("error[E0710]") && err.contains("./dev.sh setup"), "{err}");
    eprintln!("SKIPPED the SASS check: CUDA tools not installed");
}

#[test]
fn sass_without_cuda_tools_is_e0710_with_install_help() {
    if Path::new("/usr/local/cuda/bin/ptxas").exists() {
        eprintln!("SKIPPED: /usr/local/cuda/bin/ptxas is found whatever the environment says");
        return;
    }
    let empty = tempfile::tempdir().expect("a temporary folder");
    let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(workspace_root())
        .args(["emit", "kernels-dsl/vector_add.tsr", "--kernel", "vector_add", "--stage", "sass"])
        .env_clear()
        .env("PATH", empty.path())
        .env("HOME", empty.path())
        .output()
        .expect("tessera runs");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("error[E0710]: ptxas not found"), "{err}");
    assert!(err.contains("nvidia-cuda-nvcc==13.0.*") && err.contains("TESSERA_CUDA_BIN"), "{err}");
}

#[test]
fn explain_lists_the_backend_codes() {
    let o = tessera(&["explain"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = stdout(&o);
    for code in ["E0800", "E0810", "E0812", "E0710"] {
        assert!(all.lines().any(|l| l.starts_with(code)), "{code} missing from:\n{all}");
    }
}

/// `tessera demo` lists a variant that does not fit the target (E0816) as
/// rejected, as `tessera build` does, and still succeeds.
#[test]
fn demo_lists_variants_over_the_resource_limits_and_succeeds() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A 128x256 f32 accumulator: 256 registers per thread on 4 warps (rejected), 128 on 8.
    let kernel = "kernel big(a: *bf16 @div(16), b: *bf16 @div(16), c: *f32 @div(16))\n    tune(warps = [4, 8])\n{\n    \
                  let m = arange(0, 128);\n    let n = arange(0, 256);\n    let k = arange(0, 64);\n    \
                  let x = load(a + m[:, None] * 64 + k[None, :]);\n    let y = load(b + n[:, None] * 64 + k[None, :]);\n    \
                  store(c + m[:, None] * 256 + n[None, :], dot(x, trans(y)));\n}\n";
    std::fs::write(dir.path().join("big.tsr"), kernel).expect("write kernel");
    std::fs::write(dir.path().join("demo.args"), "# no launches\n").expect("write demo.args");
    let o = tessera(&["demo", dir.path().to_str().expect("utf-8 path")]);
    let out = stdout(&o);
    assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{}", stderr(&o));
    assert!(out.contains("rejected: the variant does not fit sm_90a"), "{out}");
    assert!(out.contains("[E0816] `big` (warps = 4, stages = 1): a 128x256 accumulator on 4 warps"), "{out}");
    assert!(out.contains("all kernels compiled"), "{out}");
}

/// `--stage layout` shows the layouts the target's code is built from: on
/// sm_90a the warpgroup tiling of a `dot` that runs on `wgmma`.
#[test]
fn layout_stage_follows_the_target() {
    let layout = |arch: &str| {
        let o = tessera(&[
            "emit",
            "kernels-dsl/matmul.tsr",
            "--kernel",
            "matmul_block_ptr",
            "--const",
            "stages=3",
            "--stage",
            "layout",
            "--arch",
            arch,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let (ampere, hopper) = (layout("sm_80"), layout("sm_90a"));
    assert!(ampere.contains("#mma<v2, wpc = [2, 2]>"), "{ampere}");
    assert!(hopper.contains("#mma<v2, wpc = [4, 1]>"), "{hopper}");
}

/// `--divisible` prints a bundle's specialized twin: vector_add's `n` divisible
/// by 16 lets every access be a 16-byte vector without a run-time check; a
/// name that is not an integer parameter is E0704 with the ones there are.
#[test]
fn divisible_emits_the_specialized_twin() {
    let emit = |extra: &[&str]| emit_ptx("kernels-dsl/vector_add.tsr", "vector_add", extra);
    let vectors = |o: &Output| stdout(o).matches("ld.global.v4").count();
    let (generic, twin) = (emit(&[]), emit(&["--divisible", "n"]));
    assert!(generic.status.success() && twin.status.success(), "{}{}", stderr(&generic), stderr(&twin));
    assert_ne!(stdout(&generic), stdout(&twin), "the hint changes the code");
    assert!(vectors(&twin) >= vectors(&generic) && vectors(&twin) > 0, "16-byte loads in the twin:\n{}", stdout(&twin));
    let bad = emit(&["--divisible", "x"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("error[E0704]") && stderr(&bad).contains("integer parameters: n"),
        "{}",
        stderr(&bad)
    );
}

/// `tessera emit FILE --kernel KERNEL --stage ptx` with `extra` arguments.
fn emit_ptx(file: &str, kernel: &str, extra: &[&str]) -> Output {
    let mut args = vec!["emit", file, "--kernel", kernel, "--stage", "ptx"];
    args.extend_from_slice(extra);
    tessera(&args)
}

/// `--unit` prints a bundle's unit-stride twin: the generic matmul with its
/// column strides equal to 1 (and row strides and bounds divisible) moves
/// its tiles in 16-byte vectors, where the generic variant reads element by
/// element; an unknown name is E0704 naming the option.
#[test]
fn unit_emits_the_unit_stride_twin() {
    let emit = |extra: &[&str]| emit_ptx("kernels-dsl/matmul.tsr", "matmul", extra);
    let vectors = |o: &Output| stdout(o).lines().filter(|l| l.contains("ld.global") && l.contains(".v4.")).count();
    let generic = emit(&[]);
    let mut twin_args = Vec::new();
    for name in ["stride_ak", "stride_bn", "stride_cn"] {
        twin_args.extend(["--unit", name]);
    }
    for name in ["N", "K", "stride_am", "stride_bk", "stride_cm"] {
        twin_args.extend(["--divisible", name]);
    }
    let twin = emit(&twin_args);
    assert!(generic.status.success() && twin.status.success(), "{}{}", stderr(&generic), stderr(&twin));
    assert_eq!(vectors(&generic), 0, "{}", stdout(&generic));
    assert!(vectors(&twin) > 0, "16-byte loads in the twin:\n{}", stdout(&twin));
    let bad = emit(&["--unit", "a"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("error[E0704]") && stderr(&bad).contains("`--unit a`"), "{}", stderr(&bad));
}

/// The uniform registers SASS memory instructions take their descriptor
/// from (`desc[URn]`) that no instruction of the kernel writes (a 64-bit
/// write defines its pair). Empty for code ptxas compiled soundly.
fn unwritten_descriptors(sass: &str) -> Vec<String> {
    let mut written = std::collections::HashSet::new();
    let mut used = std::collections::BTreeSet::new();
    for line in sass.lines() {
        let Some(code) = line.split("*/").nth(1) else { continue };
        let mut words = code.split_whitespace().skip_while(|w| w.starts_with('@'));
        let opcode = words.next().unwrap_or("");
        if let Some(dest) = words.next().map(|w| w.trim_end_matches(',')) {
            if let Some(n) = dest.strip_prefix("UR").and_then(|n| n.parse::<u32>().ok()) {
                written.insert(n);
                if opcode.contains(".64") || opcode.contains("WIDE") {
                    written.insert(n + 1);
                }
            }
        }
        for piece in code.split("desc[UR").skip(1) {
            if let Some(n) = piece.split(']').next().and_then(|n| n.parse::<u32>().ok()) {
                used.insert(n);
            }
        }
    }
    used.into_iter().filter(|n| !written.contains(n)).map(|n| format!("UR{n}")).collect()
}

/// The chained lightning kernel's copies, whose L2 eviction hints made ptxas
/// 13.0 emit `LDGSTS [R+UR0], desc[UR1]` with neither register written (an
/// illegal instruction on the H100): by default no hint reaches them and
/// every descriptor is written. With `--l2-cache-hints` the defect is
/// recorded, so that a ptxas that fixes it is noticed.
#[test]
fn chained_copies_use_only_written_descriptors() {
    let emit = |extra: &[&str]| {
        let mut args = vec![
            "emit",
            "kernels-dsl/lightning_attn.tsr",
            "--kernel",
            "la_chained_bf16",
            "--const",
            "DK=128",
            "--const",
            "BLOCK=64",
            "--const",
            "BLOCK_E=32",
            "--const",
            "warps=8",
            "--const",
            "stages=2",
            "--stage",
            "sass",
        ];
        args.extend_from_slice(extra);
        tessera(&args)
    };
    let o = emit(&[]);
    if !o.status.success() {
        assert!(!in_ci(), "CI=true but --stage sass failed:\n{}", stderr(&o));
        eprintln!("SKIPPED the descriptor check: CUDA tools not installed");
        return;
    }
    let sass = stdout(&o);
    assert!(sass.contains("LDGSTS"), "no pipelined copies in:\n{sass}");
    assert_eq!(unwritten_descriptors(&sass), Vec::<String>::new());
    let hinted = emit(&["--l2-cache-hints"]);
    assert!(hinted.status.success(), "{}", stderr(&hinted));
    let unwritten = unwritten_descriptors(&stdout(&hinted));
    assert!(
        !unwritten.is_empty(),
        "ptxas now writes every descriptor of the hinted copies: try Codegen::l2_cache_hints on the H100"
    );
}
