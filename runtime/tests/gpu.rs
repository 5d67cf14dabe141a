//! End-to-end tests on a real device: a hand-written PTX vector add through
//! the whole API. Without a CUDA driver or GPU each test prints
//! `SKIPPED (no CUDA driver): ...` and passes.

mod common;

use common::{info, ptx_writer, vector_add_decl, vector_add_ptx};
use std::path::Path;
use tessera_runtime::bundle::{BundleData, CodeObjects};
use tessera_runtime::tune::CandidateStatus;
use tessera_runtime::{ArgError, ArgValue, Bundle, BundleWriter, DType, Error, LaunchArgs, Runtime, TuneOptions};

fn runtime_or_skip(test: &str) -> Option<Runtime> {
    match Runtime::new() {
        Ok(rt) => Some(rt),
        Err(e @ (Error::NoDriver(_) | Error::NoDevice(_))) => {
            println!("SKIPPED (no CUDA driver): {test}: {e}");
            None
        }
        Err(e) => panic!("{test}: the driver is present but failed: {e}"),
    }
}

fn bundle(w: &BundleWriter) -> Bundle {
    Bundle::from_data(BundleData::from_bytes(&w.to_bytes().unwrap()).unwrap())
}

fn inputs(n: usize) -> (Vec<f32>, Vec<f32>) {
    ((0..n).map(|i| i as f32 * 0.5).collect(), (0..n).map(|i| 1000.0 - i as f32).collect())
}

fn options(cache: &Path) -> TuneOptions {
    TuneOptions { outputs: Some(vec!["y".into()]), cache_dir: Some(cache.to_path_buf()), ..TuneOptions::default() }
}

#[test]
fn vector_add_through_the_whole_api() {
    let Some(rt) = runtime_or_skip("vector_add_through_the_whole_api") else { return };
    println!("device: {:?}", rt.info());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("va.tsb");
    ptx_writer().write(&path).unwrap();
    let bundle = Bundle::open(&path).unwrap();
    let kernel = bundle.kernel("vector_add").unwrap();
    assert_eq!(kernel.candidates(&rt).unwrap().len(), 4);

    for n in [1000usize, 4096, 100_003] {
        let (x, z) = inputs(n);
        let (dx, dz) = (rt.upload(&x).unwrap(), rt.upload(&z).unwrap());
        let dy = rt.alloc_zeros::<f32>(n).unwrap();
        let args = LaunchArgs::new().arg("x", &dx).arg("z", &dz).arg("y", &dy).arg("n", n as i32);
        let report = kernel.tune(&rt, &args, &options(dir.path())).unwrap();
        println!("{report}");
        assert!(report.picked().is_some());
        assert_eq!(rt.download(&dy).unwrap(), vec![0.0; n], "tuning restores the caller's buffers");
        kernel.launch(&rt, &args).unwrap();
        let y = rt.download(&dy).unwrap();
        for i in 0..n {
            assert_eq!(y[i], x[i] + z[i], "n = {n}, element {i}");
        }
    }
    // Positional arguments and another stream.
    let (x, z) = inputs(1000);
    let (dx, dz, dy) = (rt.upload(&x).unwrap(), rt.upload(&z).unwrap(), rt.alloc_zeros::<f32>(1000).unwrap());
    let stream = rt.new_stream().unwrap();
    kernel.launch_on(&rt, &stream, &LaunchArgs::new().push(&dx).push(&dz).push(&dy).push(1000i32)).unwrap();
    stream.synchronize().unwrap();
    assert_eq!(rt.download(&dy).unwrap()[999], x[999] + z[999]);
    // An empty grid launches nothing.
    kernel.launch(&rt, &LaunchArgs::new().push(&dx).push(&dz).push(&dy).push(0i32)).unwrap();
}

#[test]
fn arguments_are_checked_before_launch() {
    let Some(rt) = runtime_or_skip("arguments_are_checked_before_launch") else { return };
    let kernel = bundle(&ptx_writer()).kernel("vector_add").unwrap();
    let dx = rt.alloc_zeros::<f32>(64).unwrap();
    let dh = rt.alloc_zeros::<half::f16>(64).unwrap();
    let err = |args: LaunchArgs<'_>| match kernel.launch(&rt, &args) {
        Err(Error::Arg(e)) => e,
        other => panic!("expected an argument error, got {other:?}"),
    };
    let e = err(LaunchArgs::new().arg("x", &dh).arg("z", &dx).arg("y", &dx).arg("n", 64i32));
    assert!(matches!(e, ArgError::TypeMismatch { .. }), "{e}");
    let shifted = ArgValue::Pointer { addr: dx.raw().addr() + 4, elem: DType::F32, len: 60 };
    let e = err(LaunchArgs::new().arg("x", shifted).arg("z", &dx).arg("y", &dx).arg("n", 64i32));
    assert_eq!(
        e.to_string(),
        format!(
            "kernel `vector_add`: argument `x` at address {:#x} is not aligned to 16 bytes (the signature promises @div(16))",
            dx.raw().addr() + 4
        )
    );
    let e = err(LaunchArgs::new().arg("x", &dx).arg("z", &dx).arg("y", &dx).arg("n", 64i64));
    assert!(matches!(e, ArgError::TypeMismatch { .. }), "{e}");
    let e = err(LaunchArgs::new().arg("x", &dx).arg("z", &dx).arg("n", 64i32));
    assert!(matches!(e, ArgError::Missing { .. }), "{e}");
}

#[test]
fn tuning_drops_wrong_broken_and_impossible_variants_and_caches_the_pick() {
    let Some(rt) = runtime_or_skip("tuning_drops_wrong_broken_and_impossible_variants") else { return };
    let mut w = ptx_writer();
    // Computes x - z: must be caught by the output check.
    let wrong = CodeObjects { ptx: Some(vector_add_ptx(512, 128, "sub")), cubin: None };
    w.add_variant("vector_add", info(512, 4, "sm_80"), wrong).unwrap();
    // Does not assemble: a load failure, reported and skipped.
    let broken = CodeObjects { ptx: Some(vector_add_ptx(2048, 128, "frobnicate")), cubin: None };
    w.add_variant("vector_add", info(2048, 4, "sm_80"), broken).unwrap();
    // Needs more shared memory than any GPU has: pruned without a launch.
    let huge = tessera_runtime::bundle::VariantInfo { shared_bytes: 4 << 20, ..info(4096, 4, "sm_80") };
    w.add_variant("vector_add", huge, CodeObjects { ptx: Some(vector_add_ptx(4096, 128, "add")), cubin: None })
        .unwrap();
    let kernel = bundle(&w).kernel("vector_add").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let n = 50_000;
    let (x, z) = inputs(n);
    let (dx, dz, dy) = (rt.upload(&x).unwrap(), rt.upload(&z).unwrap(), rt.alloc_zeros::<f32>(n).unwrap());
    let args = LaunchArgs::new().arg("x", &dx).arg("z", &dz).arg("y", &dy).arg("n", n as i32);
    let opts = TuneOptions { bytes: Some(3 * 4 * n as u64), ..options(dir.path()) };
    let report = kernel.tune(&rt, &args, &opts).unwrap();
    println!("{report}");
    assert!(!report.from_cache);
    assert_eq!(report.rows.len(), 7);
    let status = |block: &str| {
        let row = report.rows.iter().find(|r| r.label.starts_with(&format!("BLOCK={block},"))).unwrap();
        row.status.clone()
    };
    assert!(matches!(status("512"), CandidateStatus::Mismatch(_)), "{:?}", status("512"));
    assert!(matches!(status("2048"), CandidateStatus::LoadFailed(_)), "{:?}", status("2048"));
    assert!(matches!(status("4096"), CandidateStatus::Pruned(_)), "{:?}", status("4096"));
    let ok = report.rows.iter().filter(|r| r.status == CandidateStatus::Ok).count();
    assert_eq!(ok, 4);
    let picked = report.picked().unwrap();
    assert!(picked.gbps.unwrap() > 0.0);
    assert!(report.rows.iter().filter(|r| r.status == CandidateStatus::Ok).all(|r| r.time_ms >= picked.time_ms));
    let cache_file = report.cache_path.clone().unwrap();
    assert!(cache_file.starts_with(dir.path()) && cache_file.exists());

    // Same bucket (n = 50_000 -> 65536): served from the cache.
    let again = kernel.tune(&rt, &args, &opts).unwrap();
    assert!(again.from_cache);
    assert_eq!(again.picked().unwrap().label, picked.label);
    let retuned = kernel.tune(&rt, &args, &TuneOptions { retune: true, ..opts.clone() }).unwrap();
    assert!(!retuned.from_cache);
    kernel.launch(&rt, &args).unwrap();
    let y = rt.download(&dy).unwrap();
    assert!((0..n).all(|i| y[i] == x[i] + z[i]));
}

#[test]
fn exact_arch_cubin_is_preferred_and_runs() {
    let Some(rt) = runtime_or_skip("exact_arch_cubin_is_preferred_and_runs") else { return };
    if rt.info().compute_capability != (9, 0) {
        println!("SKIPPED (device is not sm_90): exact_arch_cubin_is_preferred_and_runs");
        return;
    }
    let cubin =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vector_add_1024x128.sm_90a.cubin")).unwrap();
    let mut w = BundleWriter::new("t", "s");
    w.add_kernel(vector_add_decl()).unwrap();
    let ptx = CodeObjects { ptx: Some(vector_add_ptx(1024, 128, "add")), cubin: None };
    w.add_variant("vector_add", info(1024, 4, "sm_80"), ptx).unwrap();
    w.add_variant("vector_add", info(1024, 4, "sm_90a"), CodeObjects { ptx: None, cubin: Some(cubin) }).unwrap();
    let kernel = bundle(&w).kernel("vector_add").unwrap();
    let choices = kernel.candidates(&rt).unwrap();
    assert_eq!(choices.len(), 1);
    assert_eq!(kernel.variants()[choices[0].variant].info.arch, "sm_90a");
    assert_eq!(choices[0].code, tessera_runtime::select::CodeKind::Cubin);
    let (x, z) = inputs(3000);
    let (dx, dz, dy) = (rt.upload(&x).unwrap(), rt.upload(&z).unwrap(), rt.alloc_zeros::<f32>(3000).unwrap());
    kernel.launch(&rt, &LaunchArgs::new().push(&dx).push(&dz).push(&dy).push(3000i32)).unwrap();
    assert_eq!(rt.download(&dy).unwrap()[2999], x[2999] + z[2999]);
}

#[test]
fn large_dynamic_shared_memory_is_opted_into() {
    let Some(rt) = runtime_or_skip("large_dynamic_shared_memory_is_opted_into") else { return };
    let bytes = 96 * 1024;
    if rt.info().max_shared_per_block < bytes {
        println!(
            "SKIPPED (device allows {} B of shared memory): large_dynamic_shared_memory",
            rt.info().max_shared_per_block
        );
        return;
    }
    let mut w = BundleWriter::new("t", "s");
    w.add_kernel(vector_add_decl()).unwrap();
    let big = tessera_runtime::bundle::VariantInfo { shared_bytes: bytes, ..info(256, 4, "sm_80") };
    w.add_variant("vector_add", big, CodeObjects { ptx: Some(vector_add_ptx(256, 128, "add")), cubin: None }).unwrap();
    let kernel = bundle(&w).kernel("vector_add").unwrap();
    let (x, z) = inputs(1000);
    let (dx, dz, dy) = (rt.upload(&x).unwrap(), rt.upload(&z).unwrap(), rt.alloc_zeros::<f32>(1000).unwrap());
    kernel.launch(&rt, &LaunchArgs::new().push(&dx).push(&dz).push(&dy).push(1000i32)).unwrap();
    assert_eq!(rt.download(&dy).unwrap()[10], x[10] + z[10]);
}

#[test]
fn driver_failures_name_the_kernel_and_variant() {
    let Some(rt) = runtime_or_skip("driver_failures_name_the_kernel_and_variant") else { return };
    let dx = rt.alloc_zeros::<f32>(16).unwrap();
    let args = LaunchArgs::new().push(&dx).push(&dx).push(&dx).push(16i32);

    let mut w = BundleWriter::new("t", "s");
    w.add_kernel(vector_add_decl()).unwrap();
    let broken = CodeObjects { ptx: Some(vector_add_ptx(256, 128, "frobnicate")), cubin: None };
    w.add_variant("vector_add", info(256, 4, "sm_80"), broken).unwrap();
    let err = bundle(&w).kernel("vector_add").unwrap().launch(&rt, &args).unwrap_err();
    assert!(matches!(err, Error::ModuleLoad { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "kernel `vector_add` variant BLOCK=256,warps=4,stages=1@sm_80: the driver could not load its ptx: "
        ),
        "{msg}"
    );
    println!("module load error: {msg}");

    if rt.info().compute_capability.0 < 10 {
        let mut w = BundleWriter::new("t", "s");
        w.add_kernel(vector_add_decl()).unwrap();
        let future = CodeObjects { ptx: Some(vector_add_ptx(256, 128, "add")), cubin: None };
        w.add_variant("vector_add", info(256, 4, "sm_100a"), future).unwrap();
        let err = bundle(&w).kernel("vector_add").unwrap().launch(&rt, &args).unwrap_err();
        assert!(matches!(err, Error::NoCompatibleVariant { .. }), "{err:?}");
        assert!(err.to_string().ends_with(&format!("{}); the bundle has code for sm_100a", rt.info().arch)), "{err}");
    }
}

#[test]
fn the_cli_runs_and_tunes_on_the_device() {
    let Some(_rt) = runtime_or_skip("the_cli_runs_and_tunes_on_the_device") else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("va.tsb");
    ptx_writer().write(&path).unwrap();
    let p = path.to_str().unwrap();
    let launch = ["--arg", "n=1000", "--arg", "x=arange(n)", "--arg", "z=fill(n, 2)", "--arg", "y=zeros(n)"];
    let cli = |sub: &[&str]| {
        let mut args: Vec<&str> = sub.to_vec();
        args.extend(launch);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-run"))
            .args(&args)
            .env("TESSERA_CACHE_DIR", dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        println!("$ tessera-run {}\n{text}", args.join(" "));
        text
    };
    // The first launch tunes (4 candidates) and caches the pick.
    let run = cli(&["run", p, "--show", "y"]);
    assert!(run.contains("y: f32[1000] = [2, 3, 4, 5, 6, 7, 8, 9, ...]  sum 501500"), "{run}");
    let cached = cli(&["tune", p, "--outputs", "y"]);
    assert!(cached.contains("from cache") && cached.contains("cached"), "{cached}");
    let tune = cli(&["tune", p, "--outputs", "y", "--retune"]);
    assert!(tune.contains("tuned in") && tune.contains("pick: BLOCK="), "{tune}");
    assert_eq!(tune.lines().filter(|l| l.ends_with("  ok")).count(), 4, "{tune}");
    let bench = cli(&["bench", p, "--repeats", "5"]);
    assert_eq!(bench.lines().filter(|l| l.contains("@sm_80")).count(), 5, "{bench}");
}

/// Allocation, fills, uploads and copies are ordered on the runtime's
/// (non-blocking) stream with the kernels around them. The fills once ran on
/// the legacy default stream, unordered with that stream: a poison fill of
/// a 512 MiB output could land after the kernel that wrote it (lightning
/// attention's dv at b = 64, H100, 2026-12-05). Here each step's result is
/// read back after a chain of large fills and copies enqueued without waits.
#[test]
fn fills_and_copies_are_ordered_with_the_stream() {
    let Some(rt) = runtime_or_skip("fills_and_copies_are_ordered_with_the_stream") else { return };
    let bytes = 256 << 20;
    let a = rt.alloc_raw(DType::I8, bytes).unwrap();
    let b = rt.alloc_raw(DType::I8, bytes).unwrap();
    for round in 1..=4u8 {
        rt.fill_bytes(&a, round).unwrap();
        rt.copy_bytes(&b, &a, bytes).unwrap();
        rt.fill_bytes(&a, 0xFF).unwrap();
        let got = rt.download_raw(&b).unwrap();
        assert!(got.iter().all(|&x| x == round), "round {round}: the copy did not see the fill before it");
        let poisoned = rt.download_raw(&a).unwrap();
        assert!(poisoned.iter().all(|&x| x == 0xFF), "round {round}: the last fill did not land");
    }
    let up = rt.upload_raw(DType::I8, &vec![7u8; bytes]).unwrap();
    rt.copy_bytes(&b, &up, bytes).unwrap();
    assert!(rt.download_raw(&b).unwrap().iter().all(|&x| x == 7), "the upload was not complete before the copy");
}
