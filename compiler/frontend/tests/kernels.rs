//! End-to-end lowering of the reference kernels: the IR of each is
//! snapshotted (unoptimized, so the snapshots show the lowering itself).

mod common;

use common::ir;
use tessera_frontend::ConstValue;

const VECTOR_ADD: &str = r#"
kernel vector_add(x: *f32 @div(16), z: *f32 @div(16), y: *f32 @div(16), n: i32,
                  const BLOCK: i32 = 1024)
    grid(cdiv(n, BLOCK))
    tune(BLOCK = [256, 1024, 4096], warps = [4, 8])
    key(n)
{
    let offs = program_id(0) * BLOCK + arange(0, BLOCK);
    let mask = offs < n;
    let a = load(x + offs, mask = mask, other = 0.0);
    let b = load(z + offs, mask = mask, other = 0.0);
    store(y + offs, a + b, mask = mask);
}
"#;

#[test]
fn vector_add() {
    insta::assert_snapshot!(ir(VECTOR_ADD, "vector_add", &[("BLOCK", ConstValue::Int(256))]));
}

const SOFTMAX_OK: &str = r#"
const NEG_INF: f32 = -1.0 / 0.0;

kernel softmax(x: *bf16, y: *bf16, stride: i32, rows: i32, cols: i32, const BLOCK: i32)
    grid(rows)
    tune(warps = [4, 8])
    key(cols)
{
    let row = program_id(0);
    let offs = arange(0, BLOCK);
    let mask = offs < cols;
    let v = load(x + row * stride + offs, mask = mask, other = NEG_INF).to(f32);
    let num = exp(v - max(v, 0));
    store(y + row * stride + offs, num / sum(num, 0), mask = mask);
}
"#;

#[test]
fn softmax() {
    insta::assert_snapshot!(ir(SOFTMAX_OK, "softmax", &[("BLOCK", ConstValue::Int(128))]));
}

const LAYER_NORM: &str = r#"
kernel layer_norm(x: *f16, y: *f16, w: *f16, b: *f16, stride: i32, cols: i32, eps: f32, const BLOCK: i32 = 256)
    grid(17)
{
    let row = program_id(0);
    let offs = arange(0, BLOCK);
    let mask = offs < cols;
    let xv = load(x + row * stride + offs, mask = mask, other = 0.0).to(f32);
    let mean = sum(xv, 0) / cols;
    let d = where(mask, xv - mean, 0.0);
    let var = sum(d * d, 0) / cols;
    let rstd = rsqrt(var + eps);
    let wv = load(w + offs, mask = mask);
    let bv = load(b + offs, mask = mask);
    store(y + row * stride + offs, d * rstd * wv + bv, mask = mask);
}
"#;

#[test]
fn layer_norm() {
    insta::assert_snapshot!(ir(LAYER_NORM, "layer_norm", &[]));
}

const MATMUL: &str = r#"
kernel matmul(a: *f16 @div(16), b: *f16 @div(16), c: *f32 @div(16), M: i32, N: i32, K: i32,
              stride_am: i32, stride_ak: i32 @contig, stride_bk: i32, stride_bn: i32 @contig,
              stride_cm: i32, stride_cn: i32 @contig,
              const BM: i32 = 32, const BN: i32 = 16, const BK: i32 = 16)
    grid(cdiv(M, BM), cdiv(N, BN))
    tune(BM = [32, 64], warps = [4, 8], stages = [2, 3])
    key(M, N, K)
{
    let rm = program_id(0) * BM + arange(0, BM);
    let rn = program_id(1) * BN + arange(0, BN);
    let rk = arange(0, BK);
    let a_ptrs = a + rm[:, None] * stride_am + rk[None, :] * stride_ak;
    let b_ptrs = b + rk[:, None] * stride_bk + rn[None, :] * stride_bn;
    let acc = zeros((BM, BN), f32);
    for k in range(0, K, BK) {
        let x = load(a_ptrs, mask = (rm[:, None] < M) & (rk[None, :] + k < K), other = 0.0);
        let y = load(b_ptrs, mask = (rk[:, None] + k < K) & (rn[None, :] < N), other = 0.0);
        acc = dot(x, y, acc);
        a_ptrs += BK * stride_ak;
        b_ptrs += BK * stride_bk;
    }
    let c_ptrs = c + rm[:, None] * stride_cm + rn[None, :] * stride_cn;
    store(c_ptrs, acc, mask = (rm[:, None] < M) & (rn[None, :] < N));
}
"#;

#[test]
fn matmul_pointer_arithmetic() {
    insta::assert_snapshot!(ir(MATMUL, "matmul", &[]));
}

const MATMUL_BLOCK_PTR: &str = r#"
kernel matmul_bp(a: *bf16, b: *bf16, c: *bf16, M: i32, N: i32, K: i32,
                 stride_am: i32, stride_ak: i32, stride_bk: i32, stride_bn: i32, stride_cm: i32, stride_cn: i32,
                 const BM: i32 = 32, const BN: i32 = 32, const BK: i32 = 16)
    grid(cdiv(M, BM) * cdiv(N, BN))
{
    let pid = program_id(0);
    let grid_n = cdiv(N, BN);
    let pid_m = pid / grid_n;
    let pid_n = pid % grid_n;
    let a_bp = make_block_ptr(a, (M, K), (stride_am, stride_ak), (pid_m * BM, 0), (BM, BK), (1, 0));
    let b_bp = make_block_ptr(b, (K, N), (stride_bk, stride_bn), (0, pid_n * BN), (BK, BN), (1, 0));
    let acc = zeros((BM, BN), f32);
    for k in range(0, K, BK) {
        let x = load(a_bp, boundary_check = (0, 1));
        let y = load(b_bp, boundary_check = (0, 1), padding = "zero");
        acc = dot(x, y, acc);
        a_bp = advance(a_bp, (0, BK));
        b_bp = advance(b_bp, (BK, 0));
    }
    let c_bp = make_block_ptr(c, (M, N), (stride_cm, stride_cn), (pid_m * BM, pid_n * BN), (BM, BN), (1, 0));
    store(c_bp, acc, boundary_check = (0, 1));
}
"#;

#[test]
fn matmul_block_pointers() {
    insta::assert_snapshot!(ir(MATMUL_BLOCK_PTR, "matmul_bp", &[]));
}

const LINEAR_ATTENTION: &str = r#"
// Causal linear attention with a per-head decay, chunk by chunk, carrying
// the [D, E] state across chunks.
kernel linear_attn(q: *bf16, k: *bf16, v: *bf16, o: *bf16, log_decay: *f32, T: i32, H: i32,
                   const D: i32 = 16, const E: i32 = 16, const C: i32 = 16)
    grid(H * 2)
{
    let bh = program_id(0);
    let lam = load(log_decay + bh % H);
    let base_qk = bh * T * D;
    let base_v = bh * T * E;
    let rc = arange(0, C);
    let rd = arange(0, D);
    let re = arange(0, E);
    let diff = (rc[:, None] - rc[None, :]).to(f32);
    let intra = where(rc[:, None] >= rc[None, :], exp(lam * diff), 0.0);
    let q_decay = exp(lam * (rc + 1).to(f32));
    let k_decay = exp(lam * (C - 1 - rc).to(f32));
    let chunk_decay = exp(lam * C);
    let state = zeros((D, E), f32);
    for t0 in range(0, T, C) {
        let rows = t0 + rc;
        let rmask = rows < T;
        let qt = load(q + base_qk + rows[:, None] * D + rd[None, :], mask = rmask[:, None], other = 0.0);
        let kt = load(k + base_qk + rows[:, None] * D + rd[None, :], mask = rmask[:, None], other = 0.0);
        let vt = load(v + base_v + rows[:, None] * E + re[None, :], mask = rmask[:, None], other = 0.0);
        let s = dot(qt, trans(kt)) * intra;
        let out = dot(s.to(bf16), vt) + dot(qt.to(f32), state, precision = "ieee") * q_decay[:, None];
        store(o + base_v + rows[:, None] * E + re[None, :], out, mask = rmask[:, None]);
        let kd = kt.to(f32) * k_decay[:, None];
        state = state * chunk_decay + dot(trans(kd), vt.to(f32));
    }
}
"#;

#[test]
fn linear_attention() {
    insta::assert_snapshot!(ir(LINEAR_ATTENTION, "linear_attn", &[]));
}

/// The kernels also go through the optimizing pipeline (verified after each pass).
#[test]
fn reference_kernels_survive_the_pass_pipeline() {
    for (src, name) in [
        (VECTOR_ADD, "vector_add"),
        (LAYER_NORM, "layer_norm"),
        (MATMUL, "matmul"),
        (MATMUL_BLOCK_PTR, "matmul_bp"),
        (LINEAR_ATTENTION, "linear_attn"),
    ] {
        let k = tessera_frontend::compile_str("k.tsr", src, name, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k.name, name);
        assert!(tessera_tir::verify(&k).is_ok());
    }
}

/// `check_file` lowers every tuning point of every kernel.
#[test]
fn check_file_accepts_the_reference_kernels() {
    for src in [VECTOR_ADD, SOFTMAX_OK, LAYER_NORM, MATMUL, MATMUL_BLOCK_PTR, LINEAR_ATTENTION] {
        let mut map = tessera_diagnostics::SourceMap::new();
        let d = tessera_frontend::check_file(&mut map, "k.tsr", src);
        assert!(d.is_empty(), "{}", tessera_diagnostics::render_all(&map, &d));
    }
}

/// The kernels written in the repository's DSL folder lower at every point.
#[test]
fn kernels_dsl_folder_checks_clean() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../kernels-dsl");
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "tsr") {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut map = tessera_diagnostics::SourceMap::new();
            let d = tessera_frontend::check_file(&mut map, &path.display().to_string(), &text);
            assert!(d.is_empty(), "{}", tessera_diagnostics::render_all(&map, &d));
        }
    }
}
