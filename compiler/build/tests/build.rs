//! End-to-end builds: real kernels through the front end, the backend and
//! (when `TESSERA_PTXAS` or a CUDA install provides it) ptxas, into bundles
//! reopened with the runtime's reader.

use std::path::{Path, PathBuf};
use tessera_backend::GpuArch;
use tessera_build::{BuildError, BuildOptions, BuildReport, ConstArg, ProgressMode, build, codes};
use tessera_runtime::bundle::{BundleData, ConstValue, DType, GridExpr, ParamKind};

fn kernels_dsl(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kernels-dsl").join(file)
}

fn options(sources: Vec<PathBuf>, output: &Path, consts: &[&str]) -> BuildOptions {
    let mut options = BuildOptions::new(sources, output, vec![GpuArch::Sm80, GpuArch::Sm90a]);
    options.consts = consts.iter().map(|c| ConstArg::parse(c).expect("valid --const")).collect();
    options.jobs = Some(2);
    options.progress = ProgressMode::Off;
    options
}

fn build_ok(options: &BuildOptions) -> BuildReport {
    build(options).unwrap_or_else(|e| panic!("build failed:\n{e}"))
}

fn build_err(options: &BuildOptions) -> BuildError {
    match build(options) {
        Ok(report) => panic!("build succeeded: {}", report.summary_table()),
        Err(e) => e,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn b(e: GridExpr) -> Box<GridExpr> {
    Box::new(e)
}

#[test]
fn vector_add_and_softmax_build_into_a_bundle_the_runtime_reads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("kernels.tsb");
    let sources = vec![kernels_dsl("vector_add.tsr"), kernels_dsl("softmax.tsr")];
    let opts = options(sources.clone(), &out, &["softmax.BLOCK=2048", "softmax_bf16.BLOCK=2048"]);
    let report = build_ok(&opts);
    let assembled = opts.ptxas.is_some();
    assert_eq!(report.assembled, assembled);
    assert_eq!(report.variants_rejected(), 0, "{}", report.rejections());
    let built: Vec<(&str, usize)> = report.kernels.iter().map(|k| (k.name.as_str(), k.built)).collect();
    // vector_add: 3 BLOCK x 2 warps; softmax: BLOCK pinned to 2048 x 4 warps (all within its
    // `require`); each for two architectures, and again specialized on the divisibility of the
    // parameters behind their run-time vector checks (all of them but vector_add's one point with
    // one element per thread, which has no vector to check).
    assert_eq!(built, [("vector_add", 22), ("vector_add_bf16", 22), ("softmax", 16), ("softmax_bf16", 16)]);
    let table = report.summary_table();
    assert!(table.contains("vector_add ") && table.lines().last().is_some_and(|l| l.starts_with("total")), "{table}");

    let bundle = BundleData::read(&out).expect("the runtime reads the bundle");
    let manifest = bundle.manifest();
    assert_eq!(manifest.compiler_version, format!("tessera {}", env!("CARGO_PKG_VERSION")));
    let digests: Vec<u8> = sources
        .iter()
        .flat_map(|p| {
            let text = std::fs::read(p).expect("source");
            hex_bytes(&sha256_hex(&text))
        })
        .collect();
    assert_eq!(manifest.source_hash, sha256_hex(&digests));
    assert_eq!(report.source_hash, manifest.source_hash);
    let names: Vec<&str> = manifest.kernels.iter().map(|k| k.decl.name.as_str()).collect();
    assert_eq!(names, ["softmax", "softmax_bf16", "vector_add", "vector_add_bf16"]);

    let vector_add = bundle.kernel("vector_add").expect("vector_add");
    let decl = &vector_add.decl;
    let params: Vec<(&str, ParamKind, Option<u32>)> =
        decl.params.iter().map(|p| (p.name.as_str(), p.kind, p.hints.divisibility)).collect();
    let f32_ptr = ParamKind::Pointer { elem: DType::F32 };
    assert_eq!(
        params,
        [
            ("x", f32_ptr, Some(16)),
            ("z", f32_ptr, Some(16)),
            ("y", f32_ptr, Some(16)),
            ("n", ParamKind::Scalar { dtype: DType::I32 }, None)
        ]
    );
    assert_eq!(decl.const_params.len(), 1);
    assert_eq!((decl.const_params[0].name.as_str(), decl.const_params[0].dtype), ("BLOCK", DType::I32));
    assert_eq!(decl.grid, [GridExpr::Cdiv(b(GridExpr::Param("n".into())), b(GridExpr::Param("BLOCK".into())))]);
    let axes: Vec<(&str, Vec<ConstValue>)> =
        decl.tune_space.iter().map(|a| (a.name.as_str(), a.values.clone())).collect();
    let ints = |v: &[i64]| v.iter().map(|&i| ConstValue::Int(i)).collect::<Vec<_>>();
    assert_eq!(axes, [("BLOCK", ints(&[256, 1024, 4096])), ("warps", ints(&[4, 8]))]);
    assert_eq!(decl.key, ["n"]);

    let mut points: Vec<(String, i64, u32)> = Vec::new();
    for v in &vector_add.variants {
        let info = &v.info;
        if !info.divisible.is_empty() {
            assert_eq!(info.divisible, ["n"], "{}", info.label());
            continue;
        }
        assert_eq!(info.entry, "vector_add");
        assert_eq!(info.stages, 1);
        let block = info.consts.get("BLOCK").and_then(ConstValue::as_int).expect("BLOCK is recorded");
        points.push((info.arch.clone(), block, info.warps));
        let ptx = v.code.ptx.and_then(|i| bundle.object(i)).expect("every variant ships PTX");
        let ptx = std::str::from_utf8(ptx).expect("PTX is text");
        assert!(ptx.contains(".entry vector_add") && ptx.contains(&format!(".target {}", info.arch)), "{ptx}");
        assert_eq!(v.code.cubin.is_some(), assembled, "{}", info.label());
        if let Some(cubin) = v.code.cubin.and_then(|i| bundle.object(i)) {
            assert_eq!(cubin.get(..4), Some(&b"\x7fELF"[..]), "a cubin is an ELF file");
            assert!(info.registers > 0, "{}: ptxas reports registers", info.label());
        }
        // The grid evaluates with the variant's own BLOCK.
        let grid = decl.grid[0].eval(&|name| match name {
            "n" => Some(10_000),
            other => info.consts.get(other).and_then(ConstValue::as_int),
        });
        assert_eq!(grid, Ok((10_000 + block - 1) / block));
    }
    points.sort();
    let mut expected = Vec::new();
    for arch in ["sm_80", "sm_90a"] {
        for block in [256, 1024, 4096] {
            for warps in [4, 8] {
                expected.push((arch.to_string(), block, warps));
            }
        }
    }
    assert_eq!(points, expected);

    let softmax = bundle.kernel("softmax").expect("softmax");
    let specialized: Vec<&[String]> =
        softmax.variants.iter().map(|v| v.info.divisible.as_slice()).filter(|d| !d.is_empty()).collect();
    assert_eq!(specialized.len(), 8);
    assert!(specialized.iter().all(|d| *d == ["x_row_stride", "y_row_stride", "cols"]), "{specialized:?}");
    assert_eq!(softmax.decl.grid, [GridExpr::Param("rows".into())]);
    assert_eq!(softmax.decl.tune_space.len(), 2, "BLOCK (pinned to one value) and warps");
    let p = |name: &str| b(GridExpr::Param(name.into()));
    assert_eq!(
        softmax.decl.require,
        [
            GridExpr::Le(p("cols"), p("BLOCK")),
            GridExpr::Le(p("BLOCK"), b(GridExpr::Mul(b(GridExpr::Int(2048)), p("warps")))),
            GridExpr::Ge(p("BLOCK"), b(GridExpr::Mul(b(GridExpr::Int(64)), p("warps"))))
        ],
        "the conditions as written, compile-time parameters by name"
    );
    assert!(softmax.variants.iter().all(|v| v.info.consts.get("BLOCK") == Some(&ConstValue::Int(2048))));
    let mut warps: Vec<u32> =
        softmax.variants.iter().filter(|v| v.info.divisible.is_empty()).map(|v| v.info.warps).collect();
    warps.sort();
    assert_eq!(warps, [4, 4, 8, 8, 16, 16, 32, 32]);
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).filter_map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[test]
fn building_twice_gives_the_same_bytes_whatever_the_worker_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let consts = ["vector_add.BLOCK=256", "vector_add_bf16.BLOCK=1024"];
    let first = dir.path().join("first.tsb");
    let second = dir.path().join("second.tsb");
    let mut opts = options(vec![kernels_dsl("vector_add.tsr")], &first, &consts);
    opts.jobs = Some(1);
    let report = build_ok(&opts);
    // 2 kernels x 2 warps x 2 archs, and the specializations on `n` of those with vectors to check
    // (all but vector_add at 8 warps, one element per thread).
    assert_eq!(report.variants_built(), 14, "{}", report.summary_table());
    let mut opts = options(vec![kernels_dsl("vector_add.tsr")], &second, &consts);
    opts.jobs = Some(3);
    build_ok(&opts);
    let (a, b) = (std::fs::read(&first).expect("first"), std::fs::read(&second).expect("second"));
    assert!(a == b, "the two bundles differ ({} and {} bytes)", a.len(), b.len());
    // A pin narrows the recorded tuning space to what was built.
    let bundle = BundleData::read(&first).expect("readable");
    let axis = &bundle.kernel("vector_add").expect("vector_add").decl.tune_space[0];
    assert_eq!((axis.name.as_str(), axis.values.as_slice()), ("BLOCK", &[ConstValue::Int(256)][..]));
}

/// A kernel whose big tuning point transposes a 256x256 f32 tile (256 KiB
/// through shared memory, over every architecture's limit) and whose small
/// point fits.
const TRANSPOSE: &str = "
kernel transpose(x: *f32 @div(16), y: *f32 @div(16), const R: i32 = 16)
    grid(1)
    tune(R = [16, 256])
{
    let r = arange(0, R);
    let c = arange(0, 256);
    let tile = load(x + r[:, None] * 256 + c[None, :]);
    store(y + c[:, None] * R + r[None, :], trans(tile));
}
";

#[test]
fn variants_over_the_shared_memory_limit_are_rejected_and_listed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("transpose.tsr");
    std::fs::write(&source, TRANSPOSE).expect("write source");
    let out = dir.path().join("t.tsb");
    let report = build_ok(&options(vec![source], &out, &[]));
    let kernel = &report.kernels[0];
    assert_eq!(kernel.built, 2, "R=16 on both archs:\n{}", report.rejections());
    let rejected: Vec<&str> = kernel.rejected.iter().map(|r| r.variant.as_str()).collect();
    assert_eq!(rejected, ["R=256,warps=4,stages=1@sm_80", "R=256,warps=4,stages=1@sm_90a"]);
    for r in &kernel.rejected {
        assert!(r.reason.message.contains("shared memory"), "{:?}", r.reason);
    }
    let listing = report.rejections();
    assert!(listing.contains("rejected `transpose` R=256,warps=4,stages=1@sm_80: error[E08"), "{listing}");
    // Both rejections are one group: their messages differ only in numbers.
    assert!(report.summary_table().contains("2x E08"), "{}", report.summary_table());
    let bundle = BundleData::read(&out).expect("readable");
    let variants = &bundle.kernel("transpose").expect("transpose").variants;
    assert!(variants.iter().all(|v| v.info.consts.get("R") == Some(&ConstValue::Int(16))));
    assert_eq!(variants.len(), 2);
}

#[test]
fn source_errors_are_rendered_and_stop_the_build() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("bad.tsr");
    std::fs::write(&source, "kernel k(x: *f32) grid(1) {\n    store(x, undefined_name);\n}\n").expect("write");
    let error = build_err(&options(vec![source.clone()], &dir.path().join("bad.tsb"), &[]));
    assert_eq!(error.code, codes::SOURCE_ERRORS);
    let text = error.to_string();
    assert!(text.contains("[E0101]") && text.contains("undefined_name"), "{text}");
    assert!(text.contains("bad.tsr:2:"), "the diagnostic points into the file: {text}");
    assert!(!dir.path().join("bad.tsb").exists(), "no bundle is written");

    std::fs::write(&source, "kernel k(x: *f32 grid(1) {}\n").expect("write");
    let error = build_err(&options(vec![source], &dir.path().join("bad.tsb"), &[]));
    assert_eq!(error.code, codes::SOURCE_ERRORS);
    assert!(error.to_string().contains("[E00"), "a syntax error: {error}");
}

#[test]
fn input_and_output_problems_have_their_own_codes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("k.tsb");
    let missing = build_err(&options(vec![dir.path().join("missing.tsr")], &out, &[]));
    assert_eq!(missing.code, codes::CANNOT_READ);
    assert!(missing.message.contains("missing.tsr"), "{missing}");

    // linear attention's D has no default and no tune list: nothing to build without --const D.
    let d_missing = build_err(&options(vec![kernels_dsl("linear_attention.tsr")], &out, &[]));
    assert_eq!(d_missing.code, codes::NOTHING_BUILT);
    let listing = d_missing.to_string();
    assert!(
        listing.contains("skipped kernel `linear_attention_fwd`: error[E0732]") && listing.contains("--const D="),
        "{listing}"
    );

    let twice = build_err(&options(vec![kernels_dsl("softmax.tsr"), kernels_dsl("softmax.tsr")], &out, &[]));
    assert_eq!(twice.code, codes::DUPLICATE_KERNEL);

    let unused = build_err(&options(vec![kernels_dsl("vector_add.tsr")], &out, &["BLOCK=64"]));
    assert_eq!(unused.code, codes::UNUSED_CONST);
    assert!(unused.help.as_deref().is_some_and(|h| h.contains("--const vector_add.BLOCK=64")), "{unused}");
    let unknown = build_err(&options(vec![kernels_dsl("vector_add.tsr")], &out, &["vector_add.TILE=64"]));
    assert_eq!(unknown.code, codes::UNUSED_CONST);

    let mut only = options(vec![kernels_dsl("vector_add.tsr")], &out, &[]);
    only.kernels = vec!["vector_add".into(), "vector_sub".into()];
    let no_such = build_err(&only);
    assert_eq!(no_such.code, codes::UNKNOWN_KERNEL);
    assert!(no_such.message.contains("--kernel vector_sub"), "{no_such}");
    assert!(no_such.help.as_deref().is_some_and(|h| h.contains("vector_add, vector_add_bf16")), "{no_such}");

    let unwritable = dir.path().join("no-such-folder").join("k.tsb");
    let opts = options(
        vec![kernels_dsl("vector_add.tsr")],
        &unwritable,
        &["vector_add.BLOCK=256", "vector_add.warps=4", "vector_add_bf16.BLOCK=256", "vector_add_bf16.warps=4"],
    );
    let error = build_err(&opts);
    assert_eq!(error.code, codes::CANNOT_WRITE);
    assert!(error.message.contains("no-such-folder"), "{error}");
}

/// The generic matmul's strides are all parameters: the build adds a twin
/// that assumes the column strides equal to 1 (and the row strides and
/// bounds divisible), whose tiles move in 16-byte vectors where the generic
/// variant reads element by element; the runtime admits it for row-major
/// operands only.
#[test]
fn the_generic_matmul_gets_a_unit_stride_twin_with_vector_tiles() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("matmul.tsb");
    let mut consts = Vec::new();
    for kernel in ["matmul", "matmul_block_ptr", "matmul_aligned"] {
        for (name, value) in
            [("BLOCK_M", 64), ("BLOCK_N", 64), ("BLOCK_K", 32), ("GROUP_M", 8), ("warps", 4), ("stages", 3)]
        {
            consts.push(format!("{kernel}.{name}={value}"));
        }
    }
    let consts: Vec<&str> = consts.iter().map(String::as_str).collect();
    let mut opts = options(vec![kernels_dsl("matmul.tsr")], &out, &consts);
    opts.archs = vec![GpuArch::Sm90a];
    let report = build_ok(&opts);
    assert_eq!(report.variants_rejected(), 0, "{}", report.rejections());
    let bundle = BundleData::read(&out).expect("bundle reads back");
    let matmul = bundle.kernel("matmul").expect("matmul");
    let labels: Vec<String> = matmul.variants.iter().map(|v| v.info.label()).collect();
    let point = "BLOCK_K=32,BLOCK_M=64,BLOCK_N=64,GROUP_M=8,warps=4,stages=3@sm_90a";
    assert_eq!(
        labels,
        [
            point.to_string(),
            format!("{point}/unit(stride_ak,stride_bn,stride_cn)/div16(N,K,stride_am,stride_bk,stride_cm)")
        ]
    );
    let ptx = |i: usize| {
        let object = matmul.variants[i].code.ptx.and_then(|o| bundle.object(o)).expect("PTX");
        String::from_utf8(object.to_vec()).expect("PTX is text")
    };
    let vector_loads = |text: &str| text.lines().filter(|l| l.contains("ld.global") && l.contains(".v4.")).count();
    let vector_copies = |text: &str| text.matches("cp.async.cg.shared.global").count();
    assert_eq!(vector_loads(&ptx(0)) + vector_copies(&ptx(0)), 0, "the generic variant reads element by element");
    // The twin's tiles are 16-byte vectors, pipelined: `cp.async` copies.
    assert!(vector_copies(&ptx(1)) > 0, "the twin copies 16-byte vectors:\n{}", ptx(1));
    // Block views: the generic variant checks its strides at run time and
    // copies with `cp.async`; the twin for contiguous rows (the strides
    // along them 1, the others divisible) copies through the bulk tensor
    // copy engine, from the two tensor maps the runtime encodes at launch.
    let block_ptr = bundle.kernel("matmul_block_ptr").expect("block_ptr");
    let labels: Vec<String> = block_ptr.variants.iter().map(|v| v.info.label()).collect();
    assert_eq!(labels, [point.to_string(), format!("{point}/unit(stride_ak,stride_bn)/div16(stride_am,stride_bk)")]);
    assert!(block_ptr.variants[0].info.tensor_maps.is_empty());
    let maps: Vec<(&str, &[u32])> =
        block_ptr.variants[1].info.tensor_maps.iter().map(|m| (m.base.as_str(), m.box_dims.as_slice())).collect();
    // 64x32 A and 32x64 B tiles of bf16: rows of 64 and 128 bytes, one box each.
    assert_eq!(maps, [("a", &[32u32, 64][..]), ("b", &[64u32, 32][..])]);
    let code = |v: usize| {
        let object = block_ptr.variants[v].code.ptx.and_then(|o| bundle.object(o)).expect("PTX");
        String::from_utf8(object.to_vec()).expect("PTX is text")
    };
    assert!(code(0).contains("cp.async.cg.shared.global") && !code(0).contains("cp.async.bulk"));
    assert!(code(1).contains("cp.async.bulk.tensor.2d") && !code(1).contains("cp.async.cg"));
}

/// A twin whose code is the generic variant's is not shipped: `prefix_sum`'s
/// `n` feeds masks of pointers that are not aligned anyway (`x` carries no
/// hint), so assuming it divisible by 16 changes nothing in the PTX.
#[test]
fn twins_with_the_generic_code_are_dropped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("prefix_sum.tsb");
    let mut opts = options(vec![kernels_dsl("prefix_sum.tsr")], &out, &[]);
    opts.archs = vec![GpuArch::Sm90a];
    let report = build_ok(&opts);
    assert_eq!(report.variants_rejected(), 0, "{}", report.rejections());
    let bundle = BundleData::read(&out).expect("bundle reads back");
    let labels: Vec<String> =
        bundle.kernel("prefix_sum").expect("prefix_sum").variants.iter().map(|v| v.info.label()).collect();
    assert_eq!(labels.len(), 4, "one variant a tuning point: {labels:?}");
    assert!(labels.iter().all(|l| !l.contains("/div16") && !l.contains("/unit")), "{labels:?}");
}

/// `--kernel` builds only the kernels it names (the others of the sources
/// are neither compiled nor recorded).
#[test]
fn kernel_selection_builds_only_the_named_kernels() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("k.tsb");
    let mut opts = options(vec![kernels_dsl("vector_add.tsr")], &out, &["vector_add_bf16.BLOCK=256"]);
    opts.archs = vec![GpuArch::Sm90a];
    opts.kernels = vec!["vector_add_bf16".into()];
    build_ok(&opts);
    let bundle = BundleData::read(&out).expect("bundle reads back");
    let names: Vec<&str> = bundle.manifest().kernels.iter().map(|k| k.decl.name.as_str()).collect();
    assert_eq!(names, ["vector_add_bf16"]);
}
