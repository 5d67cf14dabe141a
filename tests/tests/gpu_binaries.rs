//! `tessera-gpucheck` and `tessera-bench` without a GPU: a clear error and
//! exit code 2 (after their inputs were read), usage errors apart; and no
//! compiler backend in their dependency tree (the GPU machine has no LLVM).

use std::process::{Command, Output};
use tessera_runtime::bundle::{DType, GridExpr, Hints, KernelDecl, Param, ParamKind, VariantInfo};
use tessera_runtime::{BundleWriter, CodeObjects};

fn bundle(dir: &std::path::Path) -> std::path::PathBuf {
    let decl = KernelDecl {
        name: "vector_add".into(),
        params: vec![Param {
            name: "x".into(),
            kind: ParamKind::Pointer { elem: DType::F32 },
            hints: Hints::default(),
        }],
        const_params: vec![],
        grid: vec![GridExpr::Int(1)],
        tune_space: vec![],
        key: vec![],
        require: vec![],
    };
    let info = VariantInfo::new("vector_add", "sm_90a", 4);
    let mut w = BundleWriter::new("test", "0");
    w.add_kernel(decl).unwrap();
    w.add_variant("vector_add", info, CodeObjects { ptx: Some("// ptx".into()), cubin: None }).unwrap();
    let path = dir.join("k.tsb");
    w.write(&path).unwrap();
    path
}

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap()
}

/// Whether this machine has a driver and a GPU (then the no-GPU tests cannot run).
fn has_gpu() -> bool {
    tessera_runtime::Runtime::new().is_ok()
}

#[test]
fn without_a_gpu_both_binaries_exit_2_with_a_clear_error() {
    if has_gpu() {
        println!("SKIPPED: this machine has a GPU");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tessera-gpucheck-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = bundle(&dir);
    let p = path.to_str().unwrap();
    for (bin, args) in [
        (env!("CARGO_BIN_EXE_tessera-gpucheck"), vec![p, "--sources", "../kernels-dsl", "--cases", "gpu/check.cases"]),
        (env!("CARGO_BIN_EXE_tessera-bench"), vec![p, "--sources", "../kernels-dsl"]),
    ] {
        let out = run(bin, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bin}: {stderr}");
        assert!(stderr.contains("error: no CUDA driver"), "{bin}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_inputs_and_usage_have_their_own_exit_codes() {
    let gpucheck = env!("CARGO_BIN_EXE_tessera-gpucheck");
    let out = run(gpucheck, &["/nonexistent.tsb", "--sources", "../kernels-dsl"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.tsb"));
    let out = run(gpucheck, &["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(64));
    // A malformed case file is reported with its line, before any GPU is needed.
    let dir = std::env::temp_dir().join(format!("tessera-gpucheck-cases-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = dir.join("bad.cases");
    std::fs::write(&cases, "vector_add.tsr vector_add n=1\nvector_add.tsr vector_add n\n").unwrap();
    let path = bundle(&dir);
    let out =
        run(gpucheck, &[path.to_str().unwrap(), "--sources", "../kernels-dsl", "--cases", cases.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2: `n` is not NAME=VALUE"));
    std::fs::remove_dir_all(&dir).ok();
}

/// The case file shipped for the GPU run parses and names only kernels of the library.
#[test]
fn the_shipped_case_file_is_valid() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/gpu/check.cases")).unwrap();
    let cases = tessera_tests::gpu::cases::parse_cases(&text).unwrap();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    for case in &cases {
        let source =
            std::fs::read_to_string(format!("{}/../kernels-dsl/{}", env!("CARGO_MANIFEST_DIR"), case.file)).unwrap();
        assert!(source.contains(&format!("kernel {}(", case.kernel)), "line {}: {}", case.line, case.kernel);
    }
}

#[test]
fn no_compiler_backend_in_the_dependency_tree() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .args(["tree", "-p", "tessera-tests", "-e", "normal", "--prefix", "none", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    let output = match output {
        Ok(o) if o.status.success() => o,
        Ok(o) => panic!("cargo tree failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            println!("SKIPPED (cargo not available: {e})");
            return;
        }
    };
    let tree = String::from_utf8_lossy(&output.stdout);
    let names: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(names.contains(&"tessera-runtime") && names.contains(&"tessera-interp"), "{tree}");
    for forbidden in ["tessera-backend", "llvm-sys", "mlir-sys", "inkwell", "melior"] {
        assert!(!names.contains(&forbidden), "`{forbidden}` is in the tree:\n{tree}");
    }
}
