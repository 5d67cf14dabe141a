//! The `tessera` driver end to end: exit codes, where output goes, and the
//! E07xx codes of its own errors.
//!
//! `CARGO_BIN_EXE_tessera` exists only inside the `tessera` package, so the
//! binary is built here with the Cargo that runs this test, into the same
//! target directory and profile (a no-op when it is up to date).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `tessera` binary of this test's target directory and profile.
fn tessera_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // This test runs as TARGET/PROFILE/deps/cli-HASH.
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("TARGET/PROFILE/deps");
        let target_dir = profile_dir.parent().expect("TARGET");
        let profile = profile_dir.file_name().and_then(|n| n.to_str()).expect("a profile name");
        let mut build = Command::new(env!("CARGO"));
        build.current_dir(workspace_root()).args(["build", "-q", "-p", "tessera", "--bin", "tessera", "--target-dir"]);
        build.arg(target_dir);
        match profile {
            "debug" => {}
            "release" => {
                build.arg("--release");
            }
            other => {
                build.args(["--profile", other]);
            }
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building the tessera binary failed");
        let bin = profile_dir.join(format!("tessera{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "{} was not built", bin.display());
        bin
    })
}

/// Run `tessera ARGS` in the workspace root.
fn tessera(args: &[&str]) -> Output {
    Command::new(tessera_bin()).current_dir(workspace_root()).args(args).output().expect("tessera runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert that `o` failed with exit status 1 and an `error[CODE]` on stderr.
fn assert_fails_with(o: &Output, code: &str) {
    assert_eq!(o.status.code(), Some(1), "expected exit 1 with {code}; stderr:\n{}", stderr(o));
    assert!(stderr(o).contains(&format!("error[{code}]")), "expected {code} on stderr:\n{}", stderr(o));
}

fn kernel_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(workspace_root().join("kernels-dsl"))
        .expect("kernels-dsl exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tsr"))
        .map(|p| format!("kernels-dsl/{}", p.file_name().and_then(|n| n.to_str()).unwrap_or_default()))
        .collect();
    files.sort();
    files
}

#[test]
fn check_accepts_every_shipped_kernel() {
    let files = kernel_files();
    let mut args = vec!["check"];
    args.extend(files.iter().map(String::as_str));
    let o = tessera(&args);
    assert!(o.status.success(), "tessera check failed:\n{}", stderr(&o));
    for f in &files {
        assert!(stdout(&o).contains(&format!("{f}: ok")), "no `ok` line for {f}:\n{}", stdout(&o));
    }
}

/// The README's first command runs `tessera demo kernels-dsl`: every line of
/// `kernels-dsl/demo.args` must still name a kernel and its parameters as the
/// sources declare them, and run on the interpreter (the PTX table, minutes,
/// is skipped here; `backend_stages` covers it).
#[test]
fn demo_runs_every_listed_kernel() {
    let o = tessera(&["demo", "kernels-dsl", "--no-ptx"]);
    assert!(o.status.success(), "tessera demo failed:\n{}{}", stdout(&o), stderr(&o));
    let listing = std::fs::read_to_string(workspace_root().join("kernels-dsl/demo.args")).expect("demo.args");
    let launches = listing.lines().filter(|l| !l.split('#').next().unwrap_or("").trim().is_empty()).count();
    let ran = stdout(&o).lines().filter(|l| l.contains(" programs, ")).count();
    assert_eq!(ran, launches, "every line of demo.args runs once:\n{}", stdout(&o));
}

#[test]
fn check_reports_source_errors_on_stderr() {
    let o = tessera(&["check", "tests/diagnostics/E0201_shape_mismatch.tsr"]);
    assert_fails_with(&o, "E0707");
    let err = stderr(&o);
    assert!(err.contains("[E0201] Error: shapes [32] and [64] do not broadcast"), "no E0201 in:\n{err}");
    assert!(err.contains("E0201_shape_mismatch.tsr:5:"), "no location in:\n{err}");
    assert!(stdout(&o).contains("1 error(s)"), "{}", stdout(&o));
}

#[test]
fn emit_tir_prints_ir_that_parses_back() {
    let o = tessera(&[
        "emit",
        "kernels-dsl/vector_add.tsr",
        "--kernel",
        "vector_add",
        "--stage",
        "tir",
        "--const",
        "BLOCK=256",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let k = tessera_tir::parse_kernel(&text).unwrap_or_else(|e| panic!("emitted IR does not parse: {e}\n{text}"));
    assert_eq!(k.name, "vector_add");
    assert!(text.contains("BLOCK = 256"), "the specialization is not in the header:\n{text}");
    assert!(tessera_tir::verify(&k).is_ok());
}

#[test]
fn emit_ast_prints_the_syntax_tree() {
    let o = tessera(&["emit", "kernels-dsl/vector_add.tsr", "--kernel", "vector_add_bf16", "--stage", "ast"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("vector_add_bf16") && text.contains("block_offsets"), "{text}");
}

#[test]
fn run_on_the_interpreter_computes_the_sum() {
    let o = tessera(&[
        "run",
        "kernels-dsl/vector_add.tsr",
        "--interp",
        "--kernel",
        "vector_add",
        "--const",
        "BLOCK=256",
        "--arg",
        "n=1000",
        "--arg",
        "x=arange(n)",
        "--arg",
        "z=fill(n, 1)",
        "--arg",
        "y=zeros(n)",
        "--show",
        "y",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // ceil(1000 / 256) = 4 programs; y[i] = i + 1 sums to 500500.
    assert!(out.contains("4 programs"), "{out}");
    assert!(out.contains("y: 1000 x f32, sum 500500.000000"), "{out}");
    assert!(out.contains("[1.0000, 2.0000, 3.0000"), "{out}");
}

/// `--interleave N`: the single-pass scan with four programs in flight
/// (its look-backs then meet totals alone), the same prefixes as run one
/// after another, to the printed digits.
#[test]
fn run_interleaved_programs() {
    let args = |interleave: Option<&'static str>| {
        let mut a = vec![
            "run",
            "kernels-dsl/prefix_sum.tsr",
            "--interp",
            "--const",
            "BLOCK=1024",
            "--arg",
            "n=20000",
            "--arg",
            "x=fill(n, 0.5)",
            "--arg",
            "y=empty(n)",
            "--arg",
            "totals=empty(20)",
            "--arg",
            "prefixes=empty(20)",
            "--arg",
            "status=zeros(20)",
            "--arg",
            "ticket=zeros(1)",
            "--show",
            "prefixes",
            "--seed",
            "5",
        ];
        if let Some(n) = interleave {
            a.extend(["--interleave", n]);
        }
        a
    };
    let (one, four) = (tessera(&args(None)), tessera(&args(Some("4"))));
    assert!(one.status.success() && four.status.success(), "{}{}", stderr(&one), stderr(&four));
    let prefixes = |o: &std::process::Output| stdout(o).lines().find(|l| l.starts_with("prefixes:")).map(String::from);
    assert_eq!(prefixes(&one), prefixes(&four));
    // Block b ends at 512 (b + 1), exactly, and the last at 10000: 512 * 190 + 10000.
    assert!(prefixes(&four).is_some_and(|p| p.contains("sum 107280.000000")), "{}", stdout(&four));
    assert!(stdout(&four).contains("20 programs, 4 at a time, interleaved (seed 5)"), "{}", stdout(&four));
    // No programs in flight is refused, naming the option.
    let none = tessera(&args(Some("0")));
    assert!(!none.status.success(), "{}", stdout(&none));
    assert!(stderr(&none).contains("invalid value '0' for '--interleave"), "{}", stderr(&none));
}

#[test]
fn explain_names_a_code_and_rejects_unknown_ones() {
    let o = tessera(&["explain", "E0001"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "E0001: unknown character");
    assert_fails_with(&tessera(&["explain", "E9999"]), "E0709");
}

#[test]
fn command_line_mistakes_have_their_codes() {
    let va = "kernels-dsl/vector_add.tsr";
    assert_fails_with(&tessera(&["emit", va, "--kernel", "vector_add", "--stage", "llvm-ir"]), "E0706");
    assert_fails_with(&tessera(&["emit", va, "--kernel", "vector_sub"]), "E0702");
    // Two kernels in the file and no --kernel.
    assert_fails_with(&tessera(&["emit", va]), "E0702");
    assert_fails_with(&tessera(&["emit", va, "--kernel", "vector_add", "--const", "BLOCK"]), "E0703");
    assert_fails_with(&tessera(&["emit", va, "--kernel", "vector_add", "--const", "BLOCK=big"]), "E0703");
    let run = ["run", va, "--interp", "--kernel", "vector_add", "--arg", "x=rand(8)", "--arg", "z=rand(8)"];
    assert_fails_with(&tessera(&[&run[..], &["--arg", "y=zeros(8)", "--arg", "n"]].concat()), "E0704");
    assert_fails_with(&tessera(&[&run[..], &["--arg", "y=zeros(8)"]].concat()), "E0705");
    assert_fails_with(&tessera(&["check", "kernels-dsl/no_such_file.tsr"]), "E0701");
}
