//! Compiling the same source twice gives the same bytes.
//!
//! Bundles are checked for determinism, so every stage must be a function of
//! the kernel alone: no iteration over hash maps (Rust seeds each `HashMap`
//! differently, per thread and per instance), no addresses, no clocks. Every
//! kernel of `kernels-dsl/` is compiled at its defaults for sm_80 and sm_90a
//! on two threads at once (different hash seeds, fresh MLIR and LLVM
//! contexts), and each stage of the two results must be identical.

use std::path::{Path, PathBuf};

use tessera_tir::ConstValue;

use crate::{CompiledKernel, GpuArch, Target, compile_kernel};

/// Compile-time parameters without a default, with the value a caller passes
/// (as in `tests/ptx_snapshots.rs`).
const REQUIRED: &[(&str, i64)] = &[("D", 64), ("BLOCK", 1024)];

fn kernels_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kernels-dsl")
}

/// One kernel of `kernels-dsl/` at its defaults.
struct Case {
    file: String,
    text: String,
    kernel: String,
    /// Values for the compile-time parameters that lack a default.
    consts: Vec<(String, ConstValue)>,
}

/// Every `kernel` item of `kernels-dsl/`.
fn every_kernel() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(kernels_dir())
        .expect("kernels-dsl/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "tsr"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let file = path.file_name().and_then(|f| f.to_str()).unwrap_or_default().to_string();
        let text = std::fs::read_to_string(&path).expect("a readable kernel file");
        for (at, _) in text.match_indices("\nkernel ") {
            let header = &text[at + "\nkernel ".len()..];
            let Some((name, rest)) = header.split_once('(') else { continue };
            let params = parameter_list(rest);
            let consts = params
                .split(',')
                .filter_map(|p| p.trim().strip_prefix("const "))
                .filter(|p| !p.contains('='))
                .map(|p| {
                    let const_name = p.split(':').next().unwrap_or_default().trim();
                    let value = REQUIRED.iter().find(|(n, _)| *n == const_name).unwrap_or_else(|| {
                        panic!("`{const_name}` of {name} in {file} has no default: add a value to REQUIRED")
                    });
                    (const_name.to_string(), ConstValue::Int(value.1))
                })
                .collect();
            out.push(Case { file: file.clone(), text: text.clone(), kernel: name.trim().to_string(), consts });
        }
    }
    out
}

/// The text up to the `)` that closes a parameter list (`@div(16)` nests).
fn parameter_list(after_open: &str) -> &str {
    let mut depth = 0u32;
    for (i, c) in after_open.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return &after_open[..i],
            ')' => depth -= 1,
            _ => {}
        }
    }
    after_open
}

/// The stages of a compiled kernel, named, in pipeline order.
fn stages(k: &CompiledKernel) -> [(&'static str, &str); 6] {
    [
        ("layout", &k.stages.layout),
        ("mlir", &k.stages.mlir),
        ("llvm dialect", &k.stages.llvm_dialect),
        ("llvm ir", &k.stages.llvm),
        ("optimized llvm ir", &k.stages.llvm_optimized),
        ("ptx", &k.ptx),
    ]
}

/// The first line where `a` and `b` differ, with its number.
fn first_difference(a: &str, b: &str) -> String {
    let mut lines = a.lines().zip(b.lines()).enumerate();
    match lines.find(|(_, (x, y))| x != y) {
        Some((n, (x, y))) => format!("line {}:\n  - {x}\n  + {y}", n + 1),
        None => format!("{} lines vs {} lines", a.lines().count(), b.lines().count()),
    }
}

#[test]
fn every_kernel_compiles_to_the_same_bytes_twice() {
    let kernels = every_kernel();
    assert!(kernels.len() >= 10, "found only {} kernels in kernels-dsl/", kernels.len());
    for Case { file, text, kernel, consts } in &kernels {
        for arch in [GpuArch::Sm80, GpuArch::Sm90a] {
            let target = Target::new(arch);
            // From source, on two threads: each has its own hash seeds and
            // its own contexts.
            let compile = || {
                let tir = tessera_frontend::compile_str(file, text, kernel, consts)
                    .unwrap_or_else(|e| panic!("{kernel} does not compile in the front end:\n{e}"));
                (tessera_tir::print_kernel(&tir), compile_kernel(&tir, &target))
            };
            let [(tir_a, a), (tir_b, b)] = std::thread::scope(|s| {
                [s.spawn(compile), s.spawn(compile)].map(|run| run.join().expect("the compile thread panicked"))
            });
            assert!(
                tir_a == tir_b,
                "{kernel}: the tile IR differs between two compiles, {}",
                first_difference(&tir_a, &tir_b)
            );
            let (a, b) = match (a, b) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(a), Err(b)) => {
                    assert_eq!(a.to_string(), b.to_string(), "{kernel} for {arch}: different errors");
                    continue;
                }
                (a, b) => panic!("{kernel} for {arch}: one compile failed: {:?} / {:?}", a.err(), b.err()),
            };
            for ((stage, x), (_, y)) in stages(&a).into_iter().zip(stages(&b)) {
                assert!(
                    x == y,
                    "{kernel} for {arch}: the {stage} differs between two compiles, {}",
                    first_difference(x, y)
                );
            }
            assert_eq!(a.shared_bytes, b.shared_bytes, "{kernel} for {arch}");
        }
    }
}
