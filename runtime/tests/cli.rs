//! The `tessera-run` binary: listing bundles and one-line errors, without a GPU.

mod common;

use std::process::{Command, Output};

fn tessera_run(args: &[&str], cache: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera-run")).args(args).env("TESSERA_CACHE_DIR", cache).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn list_shows_kernels_signatures_and_variants() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.tsb");
    common::format_writer().write(&path).unwrap();
    let out = tessera_run(&["list", path.to_str().unwrap()], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "kernel vector_add(x: *f32 @div(16), z: *f32 @div(16), y: *f32 @div(16), n: i32, const BLOCK: i32)"
        ),
        "{text}"
    );
    assert!(text.contains("  grid(cdiv(n, BLOCK))  key(n)"), "{text}");
    assert!(text.contains("  tune(BLOCK = [256, 1024], warps = [4, 8])"), "{text}");
    assert!(text.contains("  6 variants for sm_80, sm_90a"), "{text}");
    assert!(text.contains("BLOCK=1024,warps=8,stages=1@sm_80"), "{text}");
    assert!(text.contains("kernel fill(out: *f16, value: f16, stride: i64 @contig)"), "{text}");
}

#[test]
fn errors_are_one_line_with_their_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.tsb");
    common::format_writer().write(&path).unwrap();
    let p = path.to_str().unwrap();
    // A complete vector_add launch with one `--pin`.
    let pinned = |pin: &'static str| {
        let args = ["--arg", "n=10", "--arg", "x=rand(n)", "--arg", "z=rand(n)", "--arg", "y=zeros(n)"];
        [vec!["run", p, "--kernel", "vector_add"], args.to_vec(), vec!["--pin", pin]].concat()
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["list", "/nonexistent.tsb"], "error[bundle]: cannot access bundle `/nonexistent.tsb`"),
        (vec!["run", p], "error[no-kernel]: the bundle has several kernels, pick one with --kernel: fill, vector_add"),
        (
            vec!["run", p, "--kernel", "nope"],
            "error[no-kernel]: the bundle has no kernel `nope` (it has: fill, vector_add)",
        ),
        (
            vec!["run", p, "--kernel", "vector_add", "--arg", "n=10"],
            "error[argument]: missing argument `x` of type *f32 for kernel `vector_add`: add --arg x=...",
        ),
        (
            pinned("D=64"),
            "error[pin]: --pin: kernel `vector_add` has no compile-time parameter to pin as `D=64` (it has: BLOCK, warps, stages, occupancy)",
        ),
        (pinned("BLOCK=big"), "error[pin]: --pin BLOCK=big: write NAME=INTEGER, e.g. --pin DK=128"),
    ];
    for (args, want) in cases {
        let out = tessera_run(&args, dir.path());
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with(want), "{args:?}: got `{err}`, wanted `{want}`");
    }
    // A corrupted file names the section.
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let err = stderr(&tessera_run(&["list", p], dir.path()));
    assert!(err.starts_with("error[bundle]: bundle is corrupted: the code object 6 checksum does not match"), "{err}");
}

#[test]
fn run_without_a_device_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.tsb");
    common::ptx_writer().write(&path).unwrap();
    let args = [
        "run",
        path.to_str().unwrap(),
        "--arg",
        "n=100",
        "--arg",
        "x=rand(n)",
        "--arg",
        "z=rand(n)",
        "--arg",
        "y=zeros(n)",
    ];
    let out = tessera_run(&args, dir.path());
    if out.status.success() {
        println!("a GPU is present; covered by tests/gpu.rs");
        assert!(stdout(&out).contains("launched `vector_add`"));
        return;
    }
    let err = stderr(&out);
    assert!(err.starts_with("error[no-device]: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn clear_cache_reports_what_it_removed() {
    let dir = tempfile::tempdir().unwrap();
    let entry = dir.path().join("tune/vector_add/0123.json");
    std::fs::create_dir_all(entry.parent().unwrap()).unwrap();
    std::fs::write(&entry, "{}").unwrap();
    let out = tessera_run(&["clear-cache"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("removed 1 tuning entries from {}", dir.path().display()));
    assert!(!entry.exists());
}
