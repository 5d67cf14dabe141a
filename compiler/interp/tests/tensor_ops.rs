//! Shape ops, reductions, scans and `dot`, against direct computations.

mod common;

use common::*;
use half::bf16;
use tessera_interp::{HostBuffer, KernelArg, launch_grid};
use tessera_tir::*;

/// Load `x` (row-major, `shape`) as one tile, apply `body`, store the
/// result flattened; returns the stored values.
fn apply(elem: ScalarType, shape: &[u32], x: &[f64], body: impl FnOnce(&mut Kb, ValueId) -> ValueId) -> Vec<f64> {
    let n: u32 = shape.iter().product();
    let mut b = Kb::new("apply");
    let px = b.param("x", p(elem));
    let po = b.param("out", p(elem));
    let offs = b.arange(0, n as i64);
    let ptrs = b.addptr(px, offs);
    let flat = b.load(ptrs, None, None);
    let ty = b.ty(flat).with_shape(shape.to_vec());
    let tile = b.op(OpKind::Reshape, &[flat], ty);
    let r = body(&mut b, tile);
    let rty = b.ty(r);
    let out_elem = rty.scalar_elem().unwrap();
    assert_eq!(out_elem, elem, "apply stores results of the input's type");
    let m = rty.num_elements();
    let r =
        if rty.shape().len() == 1 { r } else { b.op(OpKind::Reshape, &[r], Type::tensor(out_elem, vec![m as u32])) };
    let oo = b.arange(0, m as i64);
    let op = b.addptr(po, oo);
    let r = if b.ty(r).shape().is_empty() { b.splat(r, &[1]) } else { r };
    b.store(op, r, None);
    let k = verified(b.finish());
    let mut bufs = vec![HostBuffer::from_f64(elem, x), HostBuffer::filled(elem, m as usize, f64::NAN)];
    launch_grid(&k, [1, 1, 1], &[KernelArg::Buffer(0), KernelArg::Buffer(1)], &mut bufs).unwrap();
    bufs[1].to_f64()
}

fn iota(n: usize) -> Vec<f64> {
    (0..n).map(|v| v as f64).collect()
}

#[test]
fn permute_transposes() {
    let got = apply(I32, &[2, 3, 4], &iota(24), |b, x| b.op(OpKind::Permute(vec![2, 0, 1]), &[x], t(I32, &[4, 2, 3])));
    let mut want = Vec::new();
    for k in 0..4 {
        for i in 0..2 {
            for j in 0..3 {
                want.push((i * 12 + j * 4 + k) as f64);
            }
        }
    }
    assert_eq!(got, want);
}

#[test]
fn broadcast_and_expand_dims_repeat_rows_and_columns() {
    let got = apply(I32, &[3], &[1.0, 2.0, 3.0], |b, x| {
        let col = b.expand(x, 1);
        b.broadcast(col, &[3, 2])
    });
    assert_eq!(got, vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
    let got = apply(I32, &[3], &[1.0, 2.0, 3.0], |b, x| {
        let row = b.expand(x, 0);
        b.broadcast(row, &[2, 3])
    });
    assert_eq!(got, vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
}

#[test]
fn reductions_along_axes() {
    let x = [3.0, -1.0, 4.0, 1.0, -5.0, 9.0];
    assert_eq!(apply(F32, &[2, 3], &x, |b, v| b.reduce(ReduceKind::Sum, 0, v)), vec![4.0, -6.0, 13.0]);
    assert_eq!(apply(F32, &[2, 3], &x, |b, v| b.reduce(ReduceKind::Sum, 1, v)), vec![6.0, 5.0]);
    assert_eq!(apply(F32, &[2, 3], &x, |b, v| b.reduce(ReduceKind::Max, 1, v)), vec![4.0, 9.0]);
    assert_eq!(apply(F32, &[2, 3], &x, |b, v| b.reduce(ReduceKind::Min, 0, v)), vec![1.0, -5.0, 4.0]);
    assert_eq!(apply(F32, &[6], &x, |b, v| b.reduce(ReduceKind::Sum, 0, v)), vec![11.0]);
    let arg = |kind, x: &[f64]| {
        apply(I32, &[x.len() as u32], &x.iter().map(|&v| v * 2.0).collect::<Vec<_>>(), |b, v| {
            let i = b.reduce(kind, 0, v);
            b.cast(i, I32)
        })
    };
    // First index of the extreme.
    assert_eq!(arg(ReduceKind::Argmax, &[1.0, 7.0, 3.0, 7.0]), vec![1.0]);
    assert_eq!(arg(ReduceKind::Argmin, &[4.0, 0.0, 0.0, 7.0]), vec![1.0]);
}

#[test]
fn f32_sum_is_sequential_in_f32() {
    // 1 + 2^-24 + 2^-24 ... in f32, in order: each tiny term is lost.
    let mut x = vec![1.0];
    x.extend(vec![2f64.powi(-24); 15]);
    let got = apply(F32, &[16], &x, |b, v| b.reduce(ReduceKind::Sum, 0, v));
    let mut want = 0f32;
    for &v in &x {
        want += v as f32;
    }
    assert_eq!(got, vec![want as f64]);
    assert_eq!(got, vec![1.0]);
}

#[test]
fn bf16_sum_accumulates_in_f32_and_rounds_once() {
    // 256 copies of 1.0 plus 1.0: summing in bf16 would stick at 256.
    let x = vec![1.0; 300];
    let got = apply(ScalarType::BF16, &[300], &x, |b, v| b.reduce(ReduceKind::Sum, 0, v));
    assert_eq!(got, vec![bf16::from_f32(300.0).to_f64()]);
    assert_eq!(got, vec![300.0]);
}

#[test]
fn nan_propagates_through_max_and_min() {
    let x = [1.0, f64::NAN, 3.0];
    assert!(apply(F32, &[3], &x, |b, v| b.reduce(ReduceKind::Max, 0, v))[0].is_nan());
    assert!(apply(F32, &[3], &x, |b, v| b.reduce(ReduceKind::Min, 0, v))[0].is_nan());
}

#[test]
fn scans_are_inclusive_and_reverse() {
    let scan = |kind, axis, reverse, shape: &[u32], x: &[f64]| {
        apply(I32, shape, x, |b, v| {
            let ty = b.ty(v);
            b.op(OpKind::Scan { kind, axis, reverse }, &[v], ty)
        })
    };
    assert_eq!(scan(ScanKind::Cumsum, 0, false, &[4], &[1.0, 2.0, 3.0, 4.0]), vec![1.0, 3.0, 6.0, 10.0]);
    assert_eq!(scan(ScanKind::Cumsum, 0, true, &[4], &[1.0, 2.0, 3.0, 4.0]), vec![10.0, 9.0, 7.0, 4.0]);
    assert_eq!(
        scan(ScanKind::Cumprod, 1, false, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        vec![1.0, 2.0, 6.0, 4.0, 20.0, 120.0]
    );
    assert_eq!(scan(ScanKind::Cumsum, 0, false, &[2, 2], &[1.0, 2.0, 3.0, 4.0]), vec![1.0, 2.0, 4.0, 6.0]);
}

/// `out = acc + a @ b` for one tile, through the interpreter.
fn dot(
    elem: ScalarType,
    acc_elem: ScalarType,
    precision: DotPrecision,
    (m, k, n): (u32, u32, u32),
    a: &[f64],
    b_vals: &[f64],
    acc: &[f64],
) -> Vec<f64> {
    let mut b = Kb::new("dot");
    let pa = b.param("a", p(elem));
    let pb = b.param("b", p(elem));
    let pc = b.param("c", p(acc_elem));
    let tile = |b: &mut Kb, ptr: ValueId, rows: u32, cols: u32| {
        let offs = b.arange(0, (rows * cols) as i64);
        let ptrs = b.addptr(ptr, offs);
        let flat = b.load(ptrs, None, None);
        let ty = b.ty(flat).with_shape(vec![rows, cols]);
        (b.op(OpKind::Reshape, &[flat], ty), ptrs)
    };
    let (ta, _) = tile(&mut b, pa, m, k);
    let (tb, _) = tile(&mut b, pb, k, n);
    let (tc, cptrs) = tile(&mut b, pc, m, n);
    let r = b.op(OpKind::Dot { precision }, &[ta, tb, tc], t(acc_elem, &[m, n]));
    let flat = b.op(OpKind::Reshape, &[r], t(acc_elem, &[m * n]));
    b.store(cptrs, flat, None);
    let kern = verified(b.finish());
    let mut bufs =
        vec![HostBuffer::from_f64(elem, a), HostBuffer::from_f64(elem, b_vals), HostBuffer::from_f64(acc_elem, acc)];
    let args = [KernelArg::Buffer(0), KernelArg::Buffer(1), KernelArg::Buffer(2)];
    launch_grid(&kern, [1, 1, 1], &args, &mut bufs).unwrap();
    bufs[2].to_f64()
}

#[test]
fn tf32_rounds_inputs_and_ieee_does_not() {
    // 1 + 2^-11 is not a tf32 value (10 mantissa bits): it rounds to 1.
    let a = [1.0 + 2f64.powi(-11)];
    let b = [1.0];
    let shape = (1, 1, 1);
    assert_eq!(dot(F32, F32, DotPrecision::Tf32, shape, &a, &b, &[0.0]), vec![1.0]);
    assert_eq!(dot(F32, F32, DotPrecision::Ieee, shape, &a, &b, &[0.0]), vec![1.0 + 2f64.powi(-11)]);
    // 1 + 3 * 2^-11 rounds up (to even) to 1 + 2^-9.
    let a = [1.0 + 3.0 * 2f64.powi(-11)];
    assert_eq!(dot(F32, F32, DotPrecision::Tf32, shape, &a, &b, &[0.0]), vec![1.0 + 2f64.powi(-9)]);
}

#[test]
fn dot_accumulates_exact_products_in_k_order() {
    // acc + a @ b with products that need f32 precision: bf16 inputs
    // 1 + 2^-7 squared is exact in f32, not in bf16.
    let x = 1.0 + 2f64.powi(-7);
    let got = dot(ScalarType::BF16, F32, DotPrecision::Tf32, (1, 2, 1), &[x, 1.0], &[x, 1.0], &[0.5]);
    assert_eq!(got, vec![0.5 + x * x + 1.0]);
    // Order matters in f32: (2^24 + 1) + 1 loses both ones one at a time.
    let big = 2f64.powi(24);
    let got = dot(F32, F32, DotPrecision::Ieee, (1, 2, 1), &[1.0, 1.0], &[1.0, 1.0], &[big]);
    assert_eq!(got, vec![big]);
    // i8 into i32.
    let got =
        dot(ScalarType::I8, I32, DotPrecision::Tf32, (1, 3, 1), &[127.0, -128.0, 5.0], &[127.0, 127.0, 2.0], &[1.0]);
    assert_eq!(got, vec![1.0 + 127.0 * 127.0 - 128.0 * 127.0 + 10.0]);
}

#[test]
fn dot_matches_an_f64_reference_on_a_tile() {
    let (m, k, n) = (16u32, 32u32, 8u32);
    let a: Vec<f64> = (0..m * k).map(|i| ((i * 37 % 101) as f64 - 50.0) / 64.0).collect();
    let b: Vec<f64> = (0..k * n).map(|i| ((i * 53 % 97) as f64 - 48.0) / 32.0).collect();
    let acc: Vec<f64> = (0..m * n).map(|i| i as f64 / 8.0).collect();
    let got = dot(F32, F32, DotPrecision::Ieee, (m, k, n), &a, &b, &acc);
    let mut want = acc.clone();
    for i in 0..m as usize {
        for j in 0..n as usize {
            for kk in 0..k as usize {
                want[i * n as usize + j] += a[i * k as usize + kk] * b[kk * n as usize + j];
            }
        }
    }
    // Inputs are multiples of 2^-6 with few bits: every step is exact.
    assert_eq!(got, want);
}
