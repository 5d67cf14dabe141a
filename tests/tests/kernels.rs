//! Every kernel of `kernels-dsl/`, compiled by the front end and run on the
//! interpreter over random inputs, against its float64 reference.
//!
//! Each kernel runs at several sizes, including sizes that are not multiples
//! of its blocks (and size 1), at two or more points of its tuning space, with
//! strided layouts where it takes strides, over several seeded trials (see
//! `tessera_tests::inputs`). Outputs start as NaN, so an element the kernel
//! forgot to write fails, and writes outside an output's view are caught.
//! Tolerances per precision class are documented in `tessera_tests`.

use tessera_tests::harness::{Launch, compile, int, kernel_consts};
use tessera_tests::inputs::{Trial, normal, trials, uniform};
use tessera_tests::layout::Layout;
use tessera_tests::reference::{self, AttentionShape};
use tessera_tests::{Tolerance, assert_close, tolerance};
use tessera_tir::{Kernel, ScalarType};

/// `kernel (BLOCK = 64) rows=3 cols=5 trial 1 (TESSERA_TEST_SEED=...)`.
fn case(kernel: &Kernel, shape: &str, trial: &Trial) -> String {
    format!("{} ({}) {shape} {}", kernel.name, kernel_consts(kernel), trial.describe())
}

// ---------------------------------------------------------------------------
// vector_add.tsr

fn check_vector_add(kernel_name: &str, elem: ScalarType, tol: Tolerance) {
    for block in [256, 1024, 4096] {
        let kernel = compile("vector_add.tsr", kernel_name, &[("BLOCK", int(block))]);
        for mut trial in trials(kernel_name) {
            for n in [1, 17, 1000, 4097] {
                let mut launch = Launch::new();
                let x = launch.input("x", elem, &uniform(&mut trial.rng, n, -10.0, 10.0));
                let z = launch.input("z", elem, &uniform(&mut trial.rng, n, -10.0, 10.0));
                // A tail past n that the kernel must leave alone.
                launch.output("y", elem, n + 33);
                launch.int("n", n as i64);
                let out = launch.run(&kernel);
                let y = out.view("y", &Layout::contiguous(&[n]));
                assert_close(&case(&kernel, &format!("n={n}"), &trial), &y, &reference::vector_add(&x, &z), tol);
            }
        }
    }
}

#[test]
fn vector_add_f32() {
    check_vector_add("vector_add", ScalarType::F32, tolerance::F32);
}

#[test]
fn vector_add_bf16() {
    check_vector_add("vector_add_bf16", ScalarType::BF16, tolerance::BF16);
}

// ---------------------------------------------------------------------------
// softmax.tsr

/// One row-softmax kernel of `file` over `shapes`, at the (BLOCK, warps)
/// points `points(cols)` gives; every other shape reads and writes padded
/// rows (by `pads`).
fn check_row_softmax(
    file: &str,
    kernel_name: &str,
    elem: ScalarType,
    tol: Tolerance,
    shapes: &[(usize, usize)],
    points: fn(usize) -> [(i64, i64); 2],
    pads: (usize, usize),
) {
    for mut trial in trials(kernel_name) {
        // Large inputs overflow exp unless the row maximum is subtracted.
        let scale = [1.0, 30.0, 300.0][(trial.index % 3) as usize];
        for (i, &(rows, cols)) in shapes.iter().enumerate() {
            for (block, warps) in points(cols) {
                let kernel = compile(file, kernel_name, &[("BLOCK", int(block)), ("warps", int(warps))]);
                let (x_layout, y_layout) = if i % 2 == 1 {
                    (Layout::padded(&[rows, cols], pads.0), Layout::padded(&[rows, cols], pads.1))
                } else {
                    (Layout::contiguous(&[rows, cols]), Layout::contiguous(&[rows, cols]))
                };
                let mut launch = Launch::new();
                let x = launch.input_at("x", elem, &normal(&mut trial.rng, rows * cols, 0.0, scale), &x_layout);
                launch.output("y", elem, y_layout.buffer_len());
                launch.int("x_row_stride", x_layout.strides[0] as i64);
                launch.int("y_row_stride", y_layout.strides[0] as i64);
                launch.int("rows", rows as i64);
                launch.int("cols", cols as i64);
                let out = launch.run(&kernel);
                let y = out.view("y", &y_layout);
                let what = case(&kernel, &format!("rows={rows} cols={cols} scale={scale}"), &trial);
                assert_close(&what, &y, &reference::softmax(&x, rows, cols), tol);
            }
        }
    }
}

/// `softmax.tsr` keeps a row in one block: the tuned BLOCKs its
/// `require(cols <= BLOCK)` admits (the smallest, at 4 warps, and twice it,
/// at 8).
fn check_softmax(kernel_name: &str, elem: ScalarType, tol: Tolerance) {
    let shapes = [(1, 1), (5, 1000), (33, 17), (4, 100), (2, 4097)];
    let points = |cols: usize| {
        let block = cols.next_power_of_two().max(1024) as i64;
        [(block, 4), (2 * block, 8)]
    };
    check_row_softmax("softmax.tsr", kernel_name, elem, tol, &shapes, points, (7, 2));
}

#[test]
fn softmax_f32() {
    check_softmax("softmax", ScalarType::F32, tolerance::F32);
}

#[test]
fn softmax_bf16() {
    check_softmax("softmax_bf16", ScalarType::BF16, tolerance::BF16);
}

/// `softmax_looped.tsr`: rows of any length against one BLOCK (shorter than
/// a block, ragged over several, exactly two, and tail chunks that are all
/// -inf padding for some lanes).
fn check_softmax_looped(kernel_name: &str, elem: ScalarType, tol: Tolerance) {
    let shapes = [(1, 1), (3, 1000), (2, 2048), (3, 5000), (1, 9000)];
    check_row_softmax("softmax_looped.tsr", kernel_name, elem, tol, &shapes, |_| [(1024, 4), (2048, 8)], (5, 3));
}

#[test]
fn softmax_looped_f32() {
    check_softmax_looped("softmax_looped", ScalarType::F32, tolerance::F32);
}

#[test]
fn softmax_looped_bf16() {
    check_softmax_looped("softmax_looped_bf16", ScalarType::BF16, tolerance::BF16);
}

// ---------------------------------------------------------------------------
// layer_norm.tsr

fn check_layer_norm(kernel_name: &str, elem: ScalarType, tol: Tolerance) {
    // Chunks: cols > BLOCK at the first two points (1000 > 256, 2500 >
    // 1024) walks the row in several chunks with ragged tails, the third in
    // one. One block (CHUNKED = 0): the row read once and kept in registers,
    // at the shapes whose rows fit. Two and four chunks a trip walk rows of
    // one, one and a half, several trips.
    let points = [
        chunks(256),
        chunks(1024),
        chunks(4096),
        one_block(1024),
        one_block(4096),
        unrolled(256, 2),
        unrolled(1024, 2),
        unrolled(256, 4),
    ];
    check_layer_norm_at(kernel_name, elem, tol, &points, &[(1, 1), (3, 1000), (7, 300), (2, 2500)]);
}

/// (BLOCK, warps, ROWS, CHUNKED, UNROLL) with one row a program walked in
/// chunks, one a trip, and the fewest warps the tuning space allows the
/// block (at most 2048 lanes a warp).
fn chunks(block: i64) -> LayerNormPoint {
    (block, (block / 2048).max(4), 1, 1, 1)
}

/// As [`chunks`], with the row in one block (`CHUNKED = 0`, rows of at most
/// BLOCK columns).
fn one_block(block: i64) -> LayerNormPoint {
    (block, (block / 2048).max(4), 1, 0, 1)
}

/// As [`chunks`], `unroll` chunks a trip.
fn unrolled(block: i64, unroll: i64) -> LayerNormPoint {
    (block, (block / 2048).max(4), 1, 1, unroll)
}

/// A layer norm tuning point: (BLOCK, warps, ROWS, CHUNKED, UNROLL).
type LayerNormPoint = (i64, i64, i64, i64, i64);

fn check_layer_norm_at(
    kernel_name: &str,
    elem: ScalarType,
    tol: Tolerance,
    points: &[LayerNormPoint],
    shapes: &[(usize, usize)],
) {
    let eps = 1e-5;
    for &(block, warps, rows_per_program, chunked, unroll) in points {
        let consts = [
            ("BLOCK", int(block)),
            ("warps", int(warps)),
            ("ROWS", int(rows_per_program)),
            ("CHUNKED", int(chunked)),
            ("UNROLL", int(unroll)),
        ];
        let kernel = compile("layer_norm.tsr", kernel_name, &consts);
        for mut trial in trials(kernel_name) {
            for (i, &(rows, cols)) in shapes.iter().enumerate() {
                // A one-block variant requires rows that fit.
                if chunked == 0 && cols as i64 > block {
                    continue;
                }
                let (x_layout, y_layout) = if i % 2 == 1 {
                    (Layout::padded(&[rows, cols], 5), Layout::padded(&[rows, cols], 3))
                } else {
                    (Layout::contiguous(&[rows, cols]), Layout::contiguous(&[rows, cols]))
                };
                let rng = &mut trial.rng;
                let mut launch = Launch::new();
                // A mean well away from zero tests the centering.
                let x = launch.input_at("x", elem, &normal(rng, rows * cols, 2.0, 3.0), &x_layout);
                let w = launch.input("w", elem, &normal(rng, cols, 1.0, 0.3));
                let b = launch.input("b", elem, &normal(rng, cols, 0.0, 0.5));
                launch.output("y", elem, y_layout.buffer_len());
                launch.output("mean", ScalarType::F32, rows);
                launch.output("rstd", ScalarType::F32, rows);
                launch.int("x_row_stride", x_layout.strides[0] as i64);
                launch.int("y_row_stride", y_layout.strides[0] as i64);
                launch.int("rows", rows as i64);
                launch.int("cols", cols as i64);
                launch.float("eps", eps);
                let out = launch.run(&kernel);
                let want = reference::layer_norm(&x, &w, &b, rows, cols, eps);
                let what = case(&kernel, &format!("rows={rows} cols={cols}"), &trial);
                assert_close(&format!("{what}: y"), &out.view("y", &y_layout), &want.y, tol);
                // The statistics are f32 in every variant.
                assert_close(&format!("{what}: mean"), out.get("mean"), &want.mean, tolerance::F32);
                assert_close(&format!("{what}: rstd"), out.get("rstd"), &want.rstd, tolerance::F32);
            }
        }
    }
}

#[test]
fn layer_norm_f32() {
    check_layer_norm("layer_norm_fwd", ScalarType::F32, tolerance::F32);
}

#[test]
fn layer_norm_bf16() {
    check_layer_norm("layer_norm_fwd_bf16", ScalarType::BF16, tolerance::BF16);
}

/// Blocks past 8192 lanes: a row that fits is held in quarter blocks and
/// writes its output a quarter at a time (10000 of 16384: the last quarter
/// all masked; 15000: ragged in the last); a longer row is walked in
/// quarter-block chunks (20000 > 16384), one, two or four a trip.
#[test]
fn layer_norm_long_rows() {
    let shapes = [(2, 10000), (1, 15000), (1, 20000)];
    let points = [chunks(16384), one_block(16384), unrolled(16384, 2), unrolled(16384, 4)];
    check_layer_norm_at("layer_norm_fwd", ScalarType::F32, tolerance::F32, &points, &shapes);
    check_layer_norm_at("layer_norm_fwd_bf16", ScalarType::BF16, tolerance::BF16, &points, &shapes);
}

/// Two rows a program (`ROWS = 2`, 4096- and 8192-lane chunks): an odd number of rows
/// leaves the last program one live row; rows shorter than a chunk, ragged
/// over several, and one row alone.
#[test]
fn layer_norm_two_rows_a_program() {
    let shapes = [(1, 1), (3, 1000), (5, 9000), (4, 4096), (2, 20000)];
    for (name, elem, tol) in [
        ("layer_norm_fwd", ScalarType::F32, tolerance::F32),
        ("layer_norm_fwd_bf16", ScalarType::BF16, tolerance::BF16),
    ] {
        check_layer_norm_at(name, elem, tol, &[(4096, 8, 2, 1, 1), (4096, 16, 2, 1, 1), (8192, 16, 2, 1, 1)], &shapes);
    }
}

/// Rows whose mean is 600 times their spread, walked in chunks (one and two
/// a trip): the variance comes from squares around the finished mean (a
/// second walk). From unshifted sums, E[x^2] - E[x]^2 would cancel some 19
/// of f32's 24 bits (y off by about 8e-2); centered, what is left is f32's
/// rounding of the mean itself against the spread (some 4e-4).
#[test]
fn layer_norm_chunked_statistics_far_from_zero() {
    let (rows, cols, eps) = (3, 2500, 1e-5);
    let tol = Tolerance { rel_frobenius: 1e-3, max_abs: 1e-3 };
    for (block, unroll) in [(256, 1), (1024, 1), (256, 2)] {
        let consts = [("BLOCK", int(block)), ("UNROLL", int(unroll))];
        let kernel = compile("layer_norm.tsr", "layer_norm_fwd", &consts);
        for mut trial in trials("layer_norm_fwd far from zero") {
            let rng = &mut trial.rng;
            let mut launch = Launch::new();
            let x = launch.input("x", ScalarType::F32, &normal(rng, rows * cols, 300.0, 0.5));
            let w = launch.input("w", ScalarType::F32, &normal(rng, cols, 1.0, 0.3));
            let b = launch.input("b", ScalarType::F32, &normal(rng, cols, 0.0, 0.5));
            launch.output("y", ScalarType::F32, rows * cols);
            launch.output("mean", ScalarType::F32, rows);
            launch.output("rstd", ScalarType::F32, rows);
            launch.int("x_row_stride", cols as i64);
            launch.int("y_row_stride", cols as i64);
            launch.int("rows", rows as i64);
            launch.int("cols", cols as i64);
            launch.float("eps", eps);
            let out = launch.run(&kernel);
            let want = reference::layer_norm(&x, &w, &b, rows, cols, eps);
            let what = case(&kernel, "mean 300, spread 0.5", &trial);
            assert_close(&format!("{what}: y"), out.get("y"), &want.y, tol);
            assert_close(&format!("{what}: mean"), out.get("mean"), &want.mean, tolerance::F32);
            assert_close(&format!("{what}: rstd"), out.get("rstd"), &want.rstd, tol);
        }
    }
}

// ---------------------------------------------------------------------------
// matmul.tsr

/// Both matmul kernels at three tile shapes. Shapes cover a single element,
/// tails of M, N and K at once, several tiles per axis, and more tile-rows
/// than GROUP_M (600 / 64 = 10 > 8: a short last group).
fn check_matmul(kernel_name: &str) {
    let shapes = [(1, 1, 1), (17, 33, 65), (128, 96, 80), (600, 16, 8), (65, 300, 130)];
    for (bm, bn, bk) in [(64, 64, 32), (128, 128, 64), (64, 256, 32)] {
        let kernel = compile_matmul(kernel_name, bm, bn, bk);
        for mut trial in trials(kernel_name) {
            for (i, &(m, n, k)) in shapes.iter().enumerate() {
                // Alternate dense operands with a padded A, a column-major B
                // and a padded C.
                let layouts = if i % 2 == 1 {
                    [Layout::padded(&[m, k], 3), Layout::permuted(&[k, n], &[1, 0]), Layout::padded(&[m, n], 5)]
                } else {
                    [Layout::contiguous(&[m, k]), Layout::contiguous(&[k, n]), Layout::contiguous(&[m, n])]
                };
                run_matmul(&kernel, &mut trial, [m, n, k], &layouts);
            }
        }
    }
}

fn compile_matmul(kernel_name: &str, bm: i64, bn: i64, bk: i64) -> Kernel {
    let consts = [("BLOCK_M", int(bm)), ("BLOCK_N", int(bn)), ("BLOCK_K", int(bk)), ("GROUP_M", int(8))];
    compile("matmul.tsr", kernel_name, &consts)
}

/// One matmul launch on random operands laid out as `[a, b, c]`, checked
/// against the float64 product.
fn run_matmul(kernel: &Kernel, trial: &mut Trial, [m, n, k]: [usize; 3], [a_layout, b_layout, c_layout]: &[Layout; 3]) {
    let bf16 = ScalarType::BF16;
    let mut launch = Launch::new();
    let a = launch.input_at("a", bf16, &uniform(&mut trial.rng, m * k, -1.0, 1.0), a_layout);
    let b = launch.input_at("b", bf16, &uniform(&mut trial.rng, k * n, -1.0, 1.0), b_layout);
    launch.output("c", bf16, c_layout.buffer_len());
    launch.ints(&["M", "N", "K"], &[m as i64, n as i64, k as i64]);
    launch.ints(&["stride_am", "stride_ak"], &a_layout.stride_args());
    launch.ints(&["stride_bk", "stride_bn"], &b_layout.stride_args());
    launch.ints(&["stride_cm", "stride_cn"], &c_layout.stride_args());
    let out = launch.run(kernel);
    let what = case(kernel, &format!("M={m} N={n} K={k}"), trial);
    assert_close(&what, &out.view("c", c_layout), &reference::matmul(&a, &b, m, n, k), tolerance::BF16);
}

#[test]
fn matmul_pointers() {
    check_matmul("matmul");
}

#[test]
fn matmul_block_pointers() {
    check_matmul("matmul_block_ptr");
}

/// `matmul_aligned`: row-major operands whose rows are multiples of 8
/// elements (its hints), ragged M and tails of N and K against the blocks.
#[test]
fn matmul_aligned_block_pointers() {
    for (bm, bn, bk) in [(64, 64, 32), (128, 128, 64)] {
        let kernel = compile_matmul("matmul_aligned", bm, bn, bk);
        for mut trial in trials("matmul_aligned") {
            for (m, n, k) in [(1, 8, 8), (17, 40, 72), (129, 96, 80), (600, 16, 136)] {
                let layouts = [Layout::contiguous(&[m, k]), Layout::contiguous(&[k, n]), Layout::contiguous(&[m, n])];
                run_matmul(&kernel, &mut trial, [m, n, k], &layouts);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// linear_attention.tsr

/// Runs one linear-attention problem. With `fla_layout`, the tensors are
/// stored as [batch, n, heads, *] (and o with padded rows), which only the
/// strides reveal to the kernel.
fn run_linear_attention(kernel: &Kernel, elem: ScalarType, shape: AttentionShape, trial: &mut Trial, fla_layout: bool) {
    let (qk, vo) = (shape.qk_shape(), shape.vo_shape());
    let (q_layout, v_layout, o_layout) = if fla_layout {
        let o_padded = Layout::padded(&[shape.batch, shape.n, shape.heads, shape.e], 3);
        let o_layout = Layout {
            shape: vo.to_vec(),
            strides: vec![o_padded.strides[0], o_padded.strides[2], o_padded.strides[1], 1],
        };
        (Layout::permuted(&qk, &[0, 2, 1, 3]), Layout::permuted(&vo, &[0, 2, 1, 3]), o_layout)
    } else {
        (Layout::contiguous(&qk), Layout::contiguous(&vo), Layout::contiguous(&vo))
    };
    // The first trial has no decay at all: every past token weighs fully.
    let s: Vec<f64> = if trial.index == 0 {
        vec![0.0; shape.heads]
    } else {
        // In (0, 1].
        uniform(&mut trial.rng, shape.heads, 0.0, 1.0).iter().map(|u| 1.0 - u).collect()
    };
    let rng = &mut trial.rng;
    let mut launch = Launch::new();
    let q = launch.input_at("q", elem, &normal(rng, qk.iter().product(), 0.0, 1.0), &q_layout);
    let k = launch.input_at("k", elem, &normal(rng, qk.iter().product(), 0.0, 1.0), &q_layout);
    let v = launch.input_at("v", elem, &normal(rng, vo.iter().product(), 0.0, 1.0), &v_layout);
    let s = launch.input("s", ScalarType::F32, &s);
    launch.output("o", elem, o_layout.buffer_len());
    launch.ints(&["batch", "heads", "n", "e"], &[shape.batch, shape.heads, shape.n, shape.e].map(|x| x as i64));
    let strides = |l: &Layout| l.stride_args()[..3].to_vec();
    launch.ints(&["stride_qb", "stride_qh", "stride_qn"], &strides(&q_layout));
    launch.ints(&["stride_kb", "stride_kh", "stride_kn"], &strides(&q_layout));
    launch.ints(&["stride_vb", "stride_vh", "stride_vn"], &strides(&v_layout));
    launch.ints(&["stride_ob", "stride_oh", "stride_on"], &strides(&o_layout));
    let out = launch.run(kernel);
    let AttentionShape { n, d, e, .. } = shape;
    let what = case(kernel, &format!("n={n} d={d} e={e} s={s:?} fla_layout={fla_layout}"), trial);
    let tol = if elem == ScalarType::BF16 { tolerance::BF16 } else { tolerance::TF32 };
    let want = reference::linear_attention(&q, &k, &v, &s, shape);
    assert_close(&what, &out.view("o", &o_layout), &want, tol);
}

fn check_linear_attention(kernel_name: &str, elem: ScalarType, lengths: &[usize], points: &[(i64, i64)]) {
    for &(d, e) in &[(16, 32), (32, 16), (32, 32)] {
        for &(block, block_e) in points {
            let consts = [("D", int(d as i64)), ("BLOCK", int(block)), ("BLOCK_E", int(block_e))];
            let kernel = compile("linear_attention.tsr", kernel_name, &consts);
            for mut trial in trials(kernel_name) {
                for (i, &n) in lengths.iter().enumerate() {
                    let shape = AttentionShape { batch: 2, heads: 2, n, d, e };
                    run_linear_attention(&kernel, elem, shape, &mut trial, i % 2 == 1);
                }
            }
        }
    }
}

#[test]
fn linear_attention_f32() {
    let points = [(16, 16), (32, 32), (64, 64), (64, 16)];
    check_linear_attention("linear_attention_fwd", ScalarType::F32, &[1, 17, 64, 100, 129], &points);
}

#[test]
fn linear_attention_bf16() {
    check_linear_attention("linear_attention_fwd_bf16", ScalarType::BF16, &[1, 17, 100], &[(16, 32), (64, 16)]);
}

// ---------------------------------------------------------------------------
// The library as a whole

/// Every file of the library parses, and every kernel's signature and
/// clauses check clean; kernels whose compile-time parameters all have
/// defaults or tuned values are also lowered at every point of their tuning
/// space. (Kernels with a caller-given size, such as linear attention's D,
/// are lowered by their tests above.)
// ---------------------------------------------------------------------------
// prefix_sum.tsr

/// The single-pass scan. Each program learns the sum before its block from
/// the programs before it, through memory (ticket, status, totals, prefixes).
/// One after another, programs always find their predecessor's prefix
/// published: this checks the arithmetic and the bookkeeping of the
/// protocol (every block takes one ticket and ends with status 2).
/// Interleaved (three programs in flight, handing over at every atomic and
/// fence, several seeds), look-backs also meet totals alone and wait.
#[test]
fn prefix_sum() {
    let one_at_a_time = [None];
    let interleaved: Vec<_> = (0..6).map(|seed| Some(tessera_interp::Interleave { resident: 3, seed })).collect();
    for (block, warps) in [(1024, 4), (4096, 8)] {
        let kernel = compile("prefix_sum.tsr", "prefix_sum", &[("BLOCK", int(block)), ("warps", int(warps))]);
        for mut trial in trials("prefix_sum") {
            for (n, schedule) in [1usize, 17, 1024, 5000, 20000]
                .iter()
                .flat_map(|&n| one_at_a_time.iter().map(move |s| (n, *s)))
                .chain(interleaved.iter().map(|s| (20000, *s)))
            {
                let blocks = n.div_ceil(block as usize);
                let mut launch = Launch::new();
                if let Some(how) = schedule {
                    launch.interleave(how);
                }
                let x = launch.input("x", ScalarType::F32, &uniform(&mut trial.rng, n, -1.0, 1.0));
                // A tail past n that the kernel must leave alone.
                launch.output("y", ScalarType::F32, n + 7);
                launch.output("totals", ScalarType::F32, blocks);
                launch.output("prefixes", ScalarType::F32, blocks);
                launch.input("status", ScalarType::I32, &vec![0.0; blocks]);
                launch.input("ticket", ScalarType::I32, &[0.0]);
                launch.int("n", n as i64);
                let out = launch.run(&kernel);
                let want = reference::prefix_sum(&x);
                let what = case(&kernel, &format!("n={n} {schedule:?}"), &trial);
                assert_close(&format!("{what}: y"), &out.view("y", &Layout::contiguous(&[n])), &want, tolerance::F32);
                let block_ends: Vec<f64> = (0..blocks).map(|b| want[((b + 1) * block as usize).min(n) - 1]).collect();
                assert_close(&format!("{what}: prefixes"), out.get("prefixes"), &block_ends, tolerance::F32);
                assert_eq!(out.get("status"), vec![2.0; blocks], "{what}: status");
                assert_eq!(out.get("ticket"), [blocks as f64], "{what}: ticket");
            }
        }
    }
}

#[test]
fn every_kernel_file_checks_clean() {
    let files = tessera_tests::harness::kernel_files();
    let names: Vec<String> = files.iter().filter_map(|p| Some(p.file_name()?.to_str()?.to_string())).collect();
    for expected in ["linear_attention.tsr", "layer_norm.tsr", "matmul.tsr", "softmax.tsr", "vector_add.tsr"] {
        assert!(names.iter().any(|n| n == expected), "kernels-dsl/ has no {expected} (found {names:?})");
    }
    for (path, name) in files.iter().zip(&names) {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut map = tessera_diagnostics::SourceMap::new();
        let diagnostics = tessera_frontend::check_file(&mut map, name, &text);
        assert!(
            diagnostics.is_empty(),
            "{name} has diagnostics:\n{}",
            tessera_diagnostics::render_all(&map, &diagnostics)
        );
    }
}
