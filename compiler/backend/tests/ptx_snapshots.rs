//! PTX snapshots of every kernel in `kernels-dsl/`, for sm_80 and sm_90a.
//!
//! Each kernel is compiled from source at its defaults (parameters without a
//! default get the values a caller would pass, as in `demo.args`) and two
//! snapshots are kept per target: the normalized PTX ([`normalize_ptx`]) and
//! its [`PtxFingerprint`] with ptxas's registers and spills. A kernel the
//! backend declines (E0811-E0813: an op or shape it does not compile yet) has
//! the error as both snapshots, so they change, and ask to be reviewed, the
//! day support lands: `INSTA_UPDATE=always cargo test -p tessera-backend --test
//! ptx_snapshots`, then read the new `.snap` files.
//!
//! Every PTX goes through ptxas when it is installed; with `CI=true` a missing
//! ptxas fails the tests instead of skipping the fingerprints.

use std::path::{Path, PathBuf};

use tessera_backend::{
    BackendError, GpuArch, Target, codes, compile_kernel, fingerprint::PtxFingerprint, normalize::normalize_ptx,
    ptxas::Ptxas,
};
use tessera_frontend::ConstValue;

/// One kernel of `kernels-dsl/` and the compile-time values a caller must give.
struct Case {
    /// The test's name, which names its snapshots.
    name: &'static str,
    file: &'static str,
    kernel: &'static str,
    consts: &'static [(&'static str, i64)],
}

/// A test per kernel (so a failure names it) and the list of all of them.
macro_rules! snapshot_tests {
    ($($test:ident: $file:literal $kernel:literal [$($name:literal = $value:literal),*];)*) => {
        const CASES: &[Case] = &[$(Case { name: stringify!($test), file: $file, kernel: $kernel, consts: &[$(($name, $value)),*] }),*];
        $(
            #[test]
            fn $test() {
                snapshot(&Case { name: stringify!($test), file: $file, kernel: $kernel, consts: &[$(($name, $value)),*] });
            }
        )*
    };
}

snapshot_tests! {
    vector_add: "vector_add.tsr" "vector_add" [];
    vector_add_bf16: "vector_add.tsr" "vector_add_bf16" [];
    softmax: "softmax.tsr" "softmax" ["BLOCK" = 1024];
    softmax_bf16: "softmax.tsr" "softmax_bf16" ["BLOCK" = 1024];
    softmax_looped: "softmax_looped.tsr" "softmax_looped" [];
    softmax_looped_bf16: "softmax_looped.tsr" "softmax_looped_bf16" ["warps" = 8];
    layer_norm_fwd: "layer_norm.tsr" "layer_norm_fwd" [];
    layer_norm_fwd_bf16: "layer_norm.tsr" "layer_norm_fwd_bf16" [];
    matmul: "matmul.tsr" "matmul" [];
    matmul_block_ptr: "matmul.tsr" "matmul_block_ptr" [];
    matmul_block_ptr_wgmma: "matmul.tsr" "matmul_block_ptr" ["BLOCK_N" = 256, "warps" = 8, "stages" = 3];
    matmul_aligned_wgmma: "matmul.tsr" "matmul_aligned" ["BLOCK_N" = 256, "warps" = 8, "stages" = 3];
    linear_attention_fwd: "linear_attention.tsr" "linear_attention_fwd" ["D" = 64];
    linear_attention_fwd_bf16: "linear_attention.tsr" "linear_attention_fwd_bf16" ["D" = 64];
    la_chunk_state_bf16: "lightning_attn.tsr" "la_chunk_state_bf16" ["stages" = 2];
    la_chunk_state_f16: "lightning_attn.tsr" "la_chunk_state_f16" ["DK" = 128, "BLOCK_E" = 32, "warps" = 8, "stages" = 2];
    la_chunk_state_f32: "lightning_attn.tsr" "la_chunk_state_f32" ["DK" = 32, "stages" = 2];
    la_output_bf16: "lightning_attn.tsr" "la_output_bf16" ["DK" = 128, "warps" = 8, "stages" = 2];
    la_output_f16: "lightning_attn.tsr" "la_output_f16" ["BLOCK_E" = 32, "stages" = 2];
    la_output_f32: "lightning_attn.tsr" "la_output_f32" ["DK" = 32, "stages" = 2];
    la_chained_bf16: "lightning_attn.tsr" "la_chained_bf16" ["DK" = 128, "BLOCK_E" = 128, "warps" = 8, "stages" = 2];
    la_chained_f16: "lightning_attn.tsr" "la_chained_f16" ["BLOCK_E" = 32, "stages" = 2];
    la_chained_f32: "lightning_attn.tsr" "la_chained_f32" ["DK" = 32, "stages" = 2];
    prefix_sum: "prefix_sum.tsr" "prefix_sum" [];
}

const ARCHS: [GpuArch; 2] = [GpuArch::Sm80, GpuArch::Sm90a];

fn kernels_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kernels-dsl")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// ptxas, if installed; in CI its absence is a failure.
fn ptxas() -> Option<Ptxas> {
    let found = Ptxas::locate();
    assert!(
        found.is_some() || !in_ci(),
        "CI=true but ptxas was not found: `./dev.sh test` installs it and exports TESSERA_PTXAS"
    );
    found
}

/// The errors that mean "not supported (yet, or on this target)" rather than a bug.
fn is_unsupported(error: &BackendError) -> bool {
    [codes::UNSUPPORTED_OP, codes::NON_POWER_OF_TWO, codes::TARGET_UNSUPPORTED_OP].contains(&error.code())
}

fn snapshot(case: &Case) {
    let path = kernels_dir().join(case.file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let consts: Vec<(String, ConstValue)> =
        case.consts.iter().map(|(name, value)| (name.to_string(), ConstValue::Int(*value))).collect();
    let kernel = tessera_frontend::compile_str(case.file, &text, case.kernel, &consts)
        .unwrap_or_else(|rendered| panic!("{} does not compile:\n{rendered}", case.kernel));
    let ptxas = ptxas();
    for arch in ARCHS {
        let name = format!("{}__{arch}", case.name);
        let mut compiled = match compile_kernel(&kernel, &Target::new(arch)) {
            Ok(compiled) => compiled,
            Err(error) if is_unsupported(&error) => {
                let declined = format!("not compiled: {error}");
                insta::assert_snapshot!(format!("{name}__ptx"), declined);
                insta::assert_snapshot!(format!("{name}__fingerprint"), declined);
                continue;
            }
            Err(error) => panic!("compiling {} for {arch}:\n{error}", case.kernel),
        };
        let fingerprint = PtxFingerprint::of_ptx(&compiled.ptx);
        // The PTX agrees with what the backend says it generated.
        assert_eq!(fingerprint.entries, [kernel.name.as_str()], "{name}");
        assert_eq!(fingerprint.target, arch.name(), "{name}");
        assert_eq!(fingerprint.threads, Some(32 * compiled.num_warps), "{name}: .maxntid/.reqntid");
        let declared = fingerprint.static_shared_bytes > 0 || fingerprint.dynamic_shared;
        assert_eq!(declared, compiled.shared_bytes > 0, "{name}: needs {} B of shared memory", compiled.shared_bytes);
        insta::assert_snapshot!(format!("{name}__ptx"), normalize_ptx(&compiled.ptx));
        match &ptxas {
            Some(ptxas) => {
                compiled.assemble(ptxas).unwrap_or_else(|e| panic!("ptxas rejected {name}:\n{e}"));
                insta::assert_snapshot!(
                    format!("{name}__fingerprint"),
                    PtxFingerprint::of_kernel(&compiled).to_string()
                );
            }
            None => eprintln!("SKIPPED fingerprint of {name}: ptxas not found (set TESSERA_PTXAS)"),
        }
    }
}

/// A new kernel file or kernel fails here until it has a case above.
#[test]
fn every_kernel_in_kernels_dsl_has_a_case() {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(kernels_dir()).expect("kernels-dsl/ exists");
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.extension().is_none_or(|ext| ext != "tsr") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a readable kernel file");
        let file = path.file_name().and_then(|f| f.to_str()).unwrap_or_default().to_string();
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("kernel ") {
                let name = rest.split(|c: char| c == '(' || c.is_whitespace()).next().unwrap_or_default();
                found.push((file.clone(), name.to_string()));
            }
        }
    }
    found.sort();
    // A kernel may have several cases (other compile-time points).
    let mut cases: Vec<(String, String)> = CASES.iter().map(|c| (c.file.to_string(), c.kernel.to_string())).collect();
    cases.sort();
    cases.dedup();
    assert_eq!(cases, found, "add a snapshot_tests! line for each kernel of kernels-dsl/ (and drop removed ones)");
}

/// With `CI=true`, ptxas must be there: the fingerprints need it.
#[test]
fn ptxas_is_installed_in_ci() {
    if let Some(ptxas) = ptxas() {
        assert!(ptxas.path().is_file(), "ptxas at {} does not exist", ptxas.path().display());
    }
}

/// Which unhinted integer parameters stand behind run-time vector checks or
/// unvectorized rows (what the build specializes on): a row's strides and
/// its tail bound, a flat kernel's length, the strides of a [rows, cols]
/// tile (layer norm's two rows a program, which without them read x one
/// element at a time); none where every access is proven (block pointers,
/// the lightning-attention output kernel).
#[test]
fn divisibility_candidates_are_the_parameters_behind_checked_accesses() {
    let cases: [(&str, &str, &[(&str, i64)], &[&str]); 6] = [
        ("softmax.tsr", "softmax_bf16", &[("BLOCK", 4096), ("warps", 8)], &["x_row_stride", "y_row_stride", "cols"]),
        ("layer_norm.tsr", "layer_norm_fwd", &[("BLOCK", 1024)], &["x_row_stride", "y_row_stride", "cols"]),
        (
            "layer_norm.tsr",
            "layer_norm_fwd_bf16",
            &[("BLOCK", 4096), ("ROWS", 2), ("warps", 16)],
            &["x_row_stride", "y_row_stride", "cols"],
        ),
        ("vector_add.tsr", "vector_add", &[("BLOCK", 1024)], &["n"]),
        ("matmul.tsr", "matmul_aligned", &[("BLOCK_M", 64), ("BLOCK_N", 64), ("BLOCK_K", 32)], &[]),
        ("lightning_attn.tsr", "la_output_bf16", &[("DK", 128), ("BLOCK_E", 64), ("warps", 8), ("stages", 3)], &[]),
    ];
    check_candidates(&cases, |compiled| &compiled.divisibility_candidates);
}

/// Which unhinted integer parameters, equal to 1, would make an access
/// contiguous along its fastest axis (what the build's unit-stride twin
/// assumes): the column strides of the generic matmul's A, B and C tiles,
/// not their row strides; none where columns are contiguous already (row
/// kernels, whose strides only move rows), hinted (`matmul_aligned`), or
/// where the tiles they would widen move outside the loops that feed `dot`s
/// (lightning attention's states: stored at the end, folded before the walk).
#[test]
fn unit_stride_candidates_are_the_strides_of_last_axes() {
    let cases: [(&str, &str, &[(&str, i64)], &[&str]); 6] = [
        (
            "matmul.tsr",
            "matmul",
            &[("BLOCK_M", 64), ("BLOCK_N", 64), ("BLOCK_K", 32)],
            &["stride_ak", "stride_bn", "stride_cn"],
        ),
        ("softmax.tsr", "softmax_bf16", &[("BLOCK", 4096), ("warps", 8)], &[]),
        ("layer_norm.tsr", "layer_norm_fwd_bf16", &[("BLOCK", 4096), ("ROWS", 2), ("warps", 16)], &[]),
        ("matmul.tsr", "matmul_aligned", &[("BLOCK_M", 64), ("BLOCK_N", 64), ("BLOCK_K", 32)], &[]),
        ("lightning_attn.tsr", "la_chunk_state_bf16", &[("DK", 128), ("BLOCK_E", 64), ("warps", 8)], &[]),
        ("lightning_attn.tsr", "la_output_bf16", &[("DK", 128), ("BLOCK_E", 64), ("warps", 8), ("stages", 3)], &[]),
    ];
    check_candidates(&cases, |compiled| &compiled.unit_stride_candidates);
}

/// Compiles each (file, kernel, constants) for sm_90a and compares the names
/// of the parameters `candidates` picks from the result with the expected.
fn check_candidates(
    cases: &[(&str, &str, &[(&str, i64)], &[&str])],
    candidates: impl Fn(&tessera_backend::CompiledKernel) -> &Vec<usize>,
) {
    for &(file, name, consts, want) in cases {
        let path = kernels_dir().join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let consts: Vec<(String, ConstValue)> =
            consts.iter().map(|(n, v)| (n.to_string(), ConstValue::Int(*v))).collect();
        let kernel = tessera_frontend::compile_str(file, &text, name, &consts)
            .unwrap_or_else(|rendered| panic!("{name} does not compile:\n{rendered}"));
        let compiled = compile_kernel(&kernel, &Target::new(GpuArch::Sm90a)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got: Vec<&str> = candidates(&compiled).iter().map(|&i| kernel.params[i].name.as_str()).collect();
        assert_eq!(got, want, "{name}");
    }
}

/// Two rows a program (the div16 twin) scale [2, BLOCK] tiles by `w[None, :]` and
/// `b[None, :]`: the expanded row keeps the loaded row's distribution, so
/// inside the walk nothing goes through shared memory (each chunk went
/// through it four times, with barriers, when `expand_dims` took a default
/// layout); only the per-row mean and rstd do, once a program.
#[test]
fn expanded_rows_keep_their_layout() {
    let path = kernels_dir().join("layer_norm.tsr");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let consts: Vec<(String, ConstValue)> = [("BLOCK", 4096), ("ROWS", 2), ("warps", 16)]
        .iter()
        .map(|(n, v)| (n.to_string(), ConstValue::Int(*v)))
        .collect();
    let mut kernel = tessera_frontend::compile_str("layer_norm.tsr", &text, "layer_norm_fwd_bf16", &consts)
        .unwrap_or_else(|rendered| panic!("layer_norm_fwd_bf16 does not compile:\n{rendered}"));
    // The div16 twin, which the runtime launches for aligned rows (without
    // it the [2, BLOCK] tiles are read an element at a time, in another
    // layout than the vectorized row of weights).
    for param in &mut kernel.params {
        if ["x_row_stride", "y_row_stride", "cols"].contains(&param.name.as_str()) {
            param.hints.divisibility = Some(tessera_backend::SPECIALIZED_DIVISIBILITY);
        }
    }
    let laid_out = tessera_backend::assign_layouts_for_target(&kernel, &Target::new(GpuArch::Sm90a))
        .unwrap_or_else(|e| panic!("layout: {e}"));
    let through_shared: Vec<&str> = laid_out
        .conversions
        .iter()
        .filter(|c| c.kind == tessera_backend::layout::ConversionKind::SharedMemory)
        .map(|c| laid_out.ops[c.op].kind.mnemonic())
        .collect();
    assert_eq!(through_shared, ["store", "store"], "{}", tessera_backend::layout::print_layouts(&laid_out));
}
