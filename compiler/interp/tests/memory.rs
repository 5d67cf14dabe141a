//! Loads, stores, atomics and block pointers: bounds checks, masks,
//! padding.

mod common;

use common::*;
use tessera_interp::{HostBuffer, KernelArg, codes, launch_grid};
use tessera_tir::*;

const I64: ScalarType = ScalarType::I64;

/// `offs[r, c] = r * 4 + c + pid * 8` for a [2, 4] tile.
fn tile_offsets(b: &mut Kb) -> ValueId {
    let rows = b.arange(0, 2);
    let rows = b.expand(rows, 1);
    let four = b.ci32(4);
    let four = b.splat(four, &[2, 1]);
    let rows = b.bin(BinaryOp::Mul, rows, four);
    let rows = b.broadcast(rows, &[2, 4]);
    let cols = b.arange(0, 4);
    let cols = b.expand(cols, 0);
    let cols = b.broadcast(cols, &[2, 4]);
    let offs = b.bin(BinaryOp::Add, rows, cols);
    let pid = b.pid(0);
    let eight = b.ci32(8);
    let base = b.bin(BinaryOp::Mul, pid, eight);
    let base = b.splat(base, &[2, 4]);
    b.bin(BinaryOp::Add, offs, base)
}

#[test]
fn out_of_bounds_load_reports_index_length_lane_param_and_loc() {
    let mut b = Kb::new("oob");
    let x = b.param("x", p(F32));
    let out = b.param("out", p(F32));
    let offs = tile_offsets(&mut b);
    let xp = b.addptr(x, offs);
    let op = b.addptr(out, offs);
    b.at(12, 9);
    let v = b.load(xp, None, None);
    b.at(13, 5);
    b.store(op, v, None);
    let k = verified(b.finish());
    // 14 elements: program 0 reads 0..8, program 1 reads 8..16 and faults
    // first at element 14, lane [1, 2].
    let mut bufs = vec![HostBuffer::zeros(F32, 14), HostBuffer::zeros(F32, 16)];
    let err = launch_grid(&k, [2, 1, 1], &[KernelArg::Buffer(0), KernelArg::Buffer(1)], &mut bufs).unwrap_err();
    assert_eq!(err.code, codes::OUT_OF_BOUNDS);
    assert_eq!(err.loc, Loc { line: 12, col: 9 });
    assert_eq!(err.program, Some([1, 0, 0]));
    assert_eq!(
        err.message,
        "load out of bounds: lane [1, 2] of a [2, 4] tensor addresses element 14 of `x` (buffer 0), which has 14 elements"
    );
    assert!(err.to_string().starts_with("test.tsr:12:9: error[E0620]: load out of bounds"));
    assert!(err.to_string().ends_with("(program (1, 0, 0))"));
    assert!(err.help.is_some());
}

#[test]
fn masked_lanes_never_touch_memory_even_at_wild_addresses() {
    // offs = mask ? i : i + 2^40; loads read `other` there, stores skip them.
    let mut b = Kb::new("masked");
    let x = b.param("x", p(F32));
    let out = b.param("out", p(F32));
    let n = b.param("n", s(I64));
    let i = b.arange(0, 8);
    let i = b.cast(i, I64);
    let nn = b.splat(n, &[8]);
    let mask = b.cmp(CmpPred::Lt, i, nn);
    let wild = b.constant(Constant::Int(1 << 40), t(I64, &[8]));
    let far = b.bin(BinaryOp::Add, i, wild);
    let offs = b.op(OpKind::Select, &[mask, i, far], t(I64, &[8]));
    let xp = b.addptr(x, offs);
    let other = b.constant(Constant::Float(-1.0), t(F32, &[8]));
    let v = b.load(xp, Some(mask), Some(other));
    let op = b.addptr(out, i);
    let all = b.constant(Constant::Bool(true), t(I1, &[8]));
    b.store(op, v, Some(all));
    let k = verified(b.finish());
    let x: Vec<f64> = (0..5).map(|v| v as f64 + 0.5).collect();
    let mut bufs = vec![HostBuffer::from_f64(F32, &x), HostBuffer::filled(F32, 8, f64::NAN)];
    let args = [KernelArg::Buffer(0), KernelArg::Buffer(1), KernelArg::Int(5)];
    launch_grid(&k, [1, 1, 1], &args, &mut bufs).unwrap();
    assert_eq!(bufs[1].to_f64(), vec![0.5, 1.5, 2.5, 3.5, 4.5, -1.0, -1.0, -1.0]);
}

#[test]
fn masked_load_without_other_reads_zero_and_masked_store_writes_nothing() {
    let mut b = Kb::new("masked_store");
    let x = b.param("x", p(I32));
    let n = b.param("n", s(I32));
    let i = b.arange(0, 8);
    let nn = b.splat(n, &[8]);
    let mask = b.cmp(CmpPred::Lt, i, nn);
    let xp = b.addptr(x, i);
    let v = b.load(xp, Some(mask), None);
    let one = b.constant(Constant::Int(100), t(I32, &[8]));
    let v = b.bin(BinaryOp::Add, v, one);
    b.store(xp, v, Some(mask));
    let k = verified(b.finish());
    let mut bufs = vec![HostBuffer::from_f64(I32, &[1.0, 2.0, 3.0, 4.0, 5.0])];
    launch_grid(&k, [1, 1, 1], &[KernelArg::Buffer(0), KernelArg::Int(3)], &mut bufs).unwrap();
    assert_eq!(bufs[0].to_f64(), vec![101.0, 102.0, 103.0, 4.0, 5.0]);
    // n = 6 > 5 elements: lane 5 faults, and the store writes nothing.
    let before = bufs[0].clone();
    let err = launch_grid(&k, [1, 1, 1], &[KernelArg::Buffer(0), KernelArg::Int(6)], &mut bufs).unwrap_err();
    assert_eq!(err.code, codes::OUT_OF_BOUNDS);
    assert!(err.message.contains("lane [5]"), "{}", err.message);
    assert_eq!(bufs[0], before);
}

#[test]
fn negative_offsets_are_out_of_bounds() {
    let mut b = Kb::new("neg");
    let x = b.param("src", p(F32));
    let minus = b.constant(Constant::Int(-1), s(I32));
    let xp = b.addptr(x, minus);
    b.load(xp, None, None);
    let k = verified(b.finish());
    let mut bufs = vec![HostBuffer::zeros(F32, 4)];
    let err = launch_grid(&k, [1, 1, 1], &[KernelArg::Buffer(0)], &mut bufs).unwrap_err();
    assert_eq!(err.code, codes::OUT_OF_BOUNDS);
    assert!(err.message.contains("lane [] of a [] tensor addresses element -1 of `src`"), "{}", err.message);
}

#[test]
fn atomic_add_applies_lanes_in_order_and_returns_old_values() {
    // Every lane of every program adds to out[0]; old values are stored.
    let mut b = Kb::new("atomics");
    let out = b.param("out", p(F32));
    let olds = b.param("olds", p(F32));
    let i = b.arange(0, 4);
    let zero = b.constant(Constant::Int(0), t(I32, &[4]));
    let ptrs = b.addptr(out, zero);
    let vals = b.cast(i, F32);
    let one = b.constant(Constant::Float(1.0), t(F32, &[4]));
    let vals = b.bin(BinaryOp::Add, vals, one);
    let three = b.constant(Constant::Int(3), t(I32, &[4]));
    let mask = b.cmp(CmpPred::Lt, i, three);
    let old = b.atomic_add(ptrs, vals, Some(mask));
    let pid = b.pid(0);
    let four = b.ci32(4);
    let base = b.bin(BinaryOp::Mul, pid, four);
    let base = b.splat(base, &[4]);
    let at = b.bin(BinaryOp::Add, base, i);
    let op = b.addptr(olds, at);
    b.store(op, old, None);
    let k = verified(b.finish());
    let mut bufs = vec![HostBuffer::zeros(F32, 1), HostBuffer::filled(F32, 8, f64::NAN)];
    launch_grid(&k, [2, 1, 1], &[KernelArg::Buffer(0), KernelArg::Buffer(1)], &mut bufs).unwrap();
    // Lanes add 1, 2, 3 (lane 3 masked off, old value 0).
    assert_eq!(bufs[0].to_f64(), vec![12.0]);
    assert_eq!(bufs[1].to_f64(), vec![0.0, 1.0, 3.0, 0.0, 6.0, 7.0, 9.0, 0.0]);
}

/// A 2-D block pointer over a `rows x cols` f32 matrix (row-major) at
/// (pid0 * 4, pid1 * 4), block 4x4.
fn block_ptr(b: &mut Kb, base: ValueId, rows: ValueId, cols: ValueId) -> ValueId {
    let r64 = b.cast(rows, I64);
    let c64 = b.cast(cols, I64);
    let one = b.constant(Constant::Int(1), s(I64));
    let four = b.ci32(4);
    let p0 = b.pid(0);
    let p1 = b.pid(1);
    let o0 = b.bin(BinaryOp::Mul, p0, four);
    let o1 = b.bin(BinaryOp::Mul, p1, four);
    let ty = Type::BlockPtr { elem: F32, block: vec![4, 4] };
    b.op(OpKind::MakeBlockPtr { order: vec![1, 0] }, &[base, r64, c64, c64, one, o0, o1], ty)
}

#[test]
fn block_pointers_pad_and_skip_on_checked_axes() {
    // Copy a 5x7 matrix with 4x4 blocks over a 2x2 grid: the edge blocks
    // read padding and skip their out-of-view lanes when storing.
    let mut b = Kb::new("copy_blocks");
    let src = b.param("src", p(F32));
    let dst = b.param("dst", p(F32));
    let rows = b.param("rows", s(I32));
    let cols = b.param("cols", s(I32));
    let from = block_ptr(&mut b, src, rows, cols);
    let to = block_ptr(&mut b, dst, rows, cols);
    let tile = b.op(
        OpKind::LoadBlock { boundary_check: vec![0, 1], padding: Padding::Zero, evict: Evict::Normal },
        &[from],
        t(F32, &[4, 4]),
    );
    b.effect(OpKind::StoreBlock { boundary_check: vec![0, 1] }, &[to, tile]);
    let k = verified(b.finish());
    let src: Vec<f64> = (0..35).map(|v| v as f64).collect();
    let mut bufs = vec![HostBuffer::from_f64(F32, &src), HostBuffer::filled(F32, 35, f64::NAN)];
    let args = [KernelArg::Buffer(0), KernelArg::Buffer(1), KernelArg::Int(5), KernelArg::Int(7)];
    launch_grid(&k, [2, 2, 1], &args, &mut bufs).unwrap();
    assert_eq!(bufs[1].to_f64(), src);
}

#[test]
fn block_loads_pad_with_zero_or_nan_and_advance_moves_the_window() {
    // Load the block at (4, 4) of a 5x7 matrix (only [0..1, 0..3] in view),
    // advanced there from (0, 0), and store it densely to a 4x4 output.
    for padding in [Padding::Zero, Padding::Nan] {
        let mut b = Kb::new("pad");
        let src = b.param("src", p(F32));
        let out = b.param("out", p(F32));
        let rows = b.param("rows", s(I32));
        let cols = b.param("cols", s(I32));
        let bp = block_ptr(&mut b, src, rows, cols);
        let four = b.ci32(4);
        let ty = b.ty(bp);
        let bp = b.op(OpKind::Advance, &[bp, four, four], ty);
        let tile = b.op(
            OpKind::LoadBlock { boundary_check: vec![0, 1], padding, evict: Evict::Normal },
            &[bp],
            t(F32, &[4, 4]),
        );
        let i = b.arange(0, 16);
        let op = b.addptr(out, i);
        let flat = b.op(OpKind::Reshape, &[tile], t(F32, &[16]));
        b.store(op, flat, None);
        let k = verified(b.finish());
        let src: Vec<f64> = (0..35).map(|v| v as f64).collect();
        let mut bufs = vec![HostBuffer::from_f64(F32, &src), HostBuffer::zeros(F32, 16)];
        let args = [KernelArg::Buffer(0), KernelArg::Buffer(1), KernelArg::Int(5), KernelArg::Int(7)];
        launch_grid(&k, [1, 1, 1], &args, &mut bufs).unwrap();
        let got = bufs[1].to_f64();
        let pad = if padding == Padding::Zero { 0.0 } else { f64::NAN };
        for r in 0..4 {
            for c in 0..4 {
                let want = if 4 + r < 5 && 4 + c < 7 { src[(4 + r) * 7 + 4 + c] } else { pad };
                let g = got[r * 4 + c];
                assert!(g == want || (g.is_nan() && want.is_nan()), "{padding:?} [{r}, {c}]: {g} vs {want}");
            }
        }
    }
}

#[test]
fn block_access_outside_the_view_on_an_unchecked_axis_is_an_error() {
    let mut b = Kb::new("unchecked");
    let src = b.param("src", p(F32));
    let rows = b.param("rows", s(I32));
    let cols = b.param("cols", s(I32));
    let bp = block_ptr(&mut b, src, rows, cols);
    b.at(4, 2);
    b.op(
        OpKind::LoadBlock { boundary_check: vec![1], padding: Padding::Zero, evict: Evict::Normal },
        &[bp],
        t(F32, &[4, 4]),
    );
    let k = verified(b.finish());
    let mut bufs = vec![HostBuffer::zeros(F32, 35)];
    let args = [KernelArg::Buffer(0), KernelArg::Int(5), KernelArg::Int(7)];
    // Program (0, 0) is inside on both axes; (1, 0) leaves the 5 rows.
    let err = launch_grid(&k, [2, 1, 1], &args, &mut bufs).unwrap_err();
    assert_eq!(err.code, codes::BLOCK_OUT_OF_BOUNDS);
    assert_eq!(err.program, Some([1, 0, 0]));
    assert_eq!(err.loc, Loc { line: 4, col: 2 });
    assert!(err.message.contains("lane [1, 0] of the block is at 5 on axis 0"), "{}", err.message);
    // A view larger than the buffer is caught by the buffer's bounds.
    let mut small = vec![HostBuffer::zeros(F32, 20)];
    let err = launch_grid(&k, [1, 1, 1], &args, &mut small).unwrap_err();
    assert_eq!(err.code, codes::OUT_OF_BOUNDS);
    assert!(err.message.contains("lane [3, 0] of a [4, 4] tensor addresses element 21"), "{}", err.message);
}

#[test]
fn negative_block_shape_is_an_error() {
    let mut b = Kb::new("neg_shape");
    let src = b.param("src", p(F32));
    let rows = b.param("rows", s(I32));
    let cols = b.param("cols", s(I32));
    block_ptr(&mut b, src, rows, cols);
    let k = verified(b.finish());
    let mut bufs = vec![HostBuffer::zeros(F32, 35)];
    let args = [KernelArg::Buffer(0), KernelArg::Int(-5), KernelArg::Int(7)];
    let err = launch_grid(&k, [1, 1, 1], &args, &mut bufs).unwrap_err();
    assert_eq!(err.code, codes::BLOCK_SHAPE);
}
