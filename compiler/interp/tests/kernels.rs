//! Whole kernels over grids, against f64 references and against exact
//! emulations of the documented rounding.

mod common;

use common::*;
use tessera_interp::{HostBuffer, KernelArg, launch};
use tessera_tir::*;

fn cdiv(param: &str, by: i64) -> MetaExpr {
    MetaExpr::Cdiv(Box::new(MetaExpr::Param(param.into())), Box::new(MetaExpr::Int(by)))
}

/// `tensor op splat(scalar)`.
fn bs(b: &mut Kb, op: BinaryOp, tensor: ValueId, scalar: ValueId) -> ValueId {
    let shape = b.ty(tensor).shape().to_vec();
    let s = b.splat(scalar, &shape);
    b.bin(op, tensor, s)
}

/// `rows[:, None] * stride + cols[None, :]` as an [R, C] i32 tile.
fn offsets_2d(b: &mut Kb, rows: ValueId, stride: ValueId, cols: ValueId) -> ValueId {
    let r = b.ty(rows).shape()[0];
    let c = b.ty(cols).shape()[0];
    let rows = b.expand(rows, 1);
    let rows = bs(b, BinaryOp::Mul, rows, stride);
    let rows = b.broadcast(rows, &[r, c]);
    let cols = b.expand(cols, 0);
    let cols = b.broadcast(cols, &[r, c]);
    b.bin(BinaryOp::Add, rows, cols)
}

const BLOCK: u32 = 128;

fn tiled_sum_kernel() -> Kernel {
    let mut b = Kb::new("tiled_sum");
    let x = b.param("x", p(F32));
    let out = b.param("out", p(F32));
    let n = b.param("n", s(I32));
    b.grid(vec![cdiv("n", BLOCK as i64)]);
    let pid = b.pid(0);
    let block = b.ci32(BLOCK as i64);
    let start = b.bin(BinaryOp::Mul, pid, block);
    let lanes = b.arange(0, BLOCK as i64);
    let offs = bs(&mut b, BinaryOp::Add, lanes, start);
    let nn = b.splat(n, &[BLOCK]);
    let mask = b.cmp(CmpPred::Lt, offs, nn);
    let ptrs = b.addptr(x, offs);
    let zero = b.constant(Constant::Float(0.0), t(F32, &[BLOCK]));
    let v = b.load(ptrs, Some(mask), Some(zero));
    let sum = b.reduce(ReduceKind::Sum, 0, v);
    b.atomic_add(out, sum, None);
    verified(b.finish())
}

#[test]
fn tiled_sum_over_a_grid() {
    let k = tiled_sum_kernel();
    let n = 1000usize;
    let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64 / 997.0 - 0.3).collect();
    let xs = HostBuffer::from_f64(F32, &x);
    let mut bufs = vec![xs.clone(), HostBuffer::zeros(F32, 1)];
    let stats = launch(&k, &[KernelArg::Buffer(0), KernelArg::Buffer(1), KernelArg::Int(n as i64)], &mut bufs).unwrap();
    assert_eq!(stats.programs, 8);
    // Exact emulation: f32 block sums in order, added in program order.
    let xf = xs.to_f64();
    let mut want = 0f32;
    for chunk in xf.chunks(BLOCK as usize) {
        let mut s = chunk[0] as f32;
        for &v in &chunk[1..] {
            s += v as f32;
        }
        want += s;
    }
    let got = bufs[1].to_f64()[0];
    assert_eq!(got, want as f64);
    let reference: f64 = xf.iter().sum();
    assert_close(&[got], &[reference], 1e-5);
}

/// C = A @ B with 64x64x64 tiles; A: [M, K], B: [K, N] row-major.
fn matmul_kernel(elem: ScalarType, precision: DotPrecision) -> Kernel {
    const T: u32 = 64;
    let mut b = Kb::new("matmul");
    let pa = b.param("a", p(elem));
    let pb = b.param("b", p(elem));
    let pc = b.param("c", p(F32));
    b.param("M", s(I32));
    let n = b.param("N", s(I32));
    let kdim = b.param("K", s(I32));
    b.grid(vec![cdiv("M", T as i64), cdiv("N", T as i64)]);
    let tile = b.ci32(T as i64);
    let pm = b.pid(0);
    let pn = b.pid(1);
    let m0 = b.bin(BinaryOp::Mul, pm, tile);
    let n0 = b.bin(BinaryOp::Mul, pn, tile);
    let lanes = b.arange(0, T as i64);
    let rm = bs(&mut b, BinaryOp::Add, lanes, m0);
    let rn = bs(&mut b, BinaryOp::Add, lanes, n0);
    let a_offs = offsets_2d(&mut b, rm, kdim, lanes);
    let b_offs = offsets_2d(&mut b, lanes, n, rn);
    let zero = b.ci32(0);
    let acc = b.constant(Constant::Float(0.0), t(F32, &[T, T]));
    b.at(20, 5);
    let acc = b.for_loop(zero, kdim, tile, &[acc], |b, k0, iters| {
        let ao = bs(b, BinaryOp::Add, a_offs, k0);
        let kn = b.bin(BinaryOp::Mul, k0, n);
        let bo = bs(b, BinaryOp::Add, b_offs, kn);
        let ap = b.addptr(pa, ao);
        let bp = b.addptr(pb, bo);
        let at = b.load(ap, None, None);
        let bt = b.load(bp, None, None);
        vec![b.op(OpKind::Dot { precision }, &[at, bt, iters[0]], t(F32, &[T, T]))]
    });
    let c_offs = offsets_2d(&mut b, rm, n, rn);
    let cp = b.addptr(pc, c_offs);
    b.store(cp, acc[0], None);
    verified(b.finish())
}

fn round_tf32(x: f32) -> f32 {
    let bits = x.to_bits();
    f32::from_bits(bits.wrapping_add(0x0FFF + ((bits >> 13) & 1)) & !0x1FFF)
}

fn run_matmul(elem: ScalarType, precision: DotPrecision, size: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let a: Vec<f64> =
        (0..size * size).map(|i| ((i * 7 + 3) % 23) as f64 / 11.0 - 1.0 + 1e-4 * (i % 13) as f64).collect();
    let b: Vec<f64> = (0..size * size).map(|i| ((i * 5 + 1) % 19) as f64 / 9.0 - 1.0 + 1e-4 * (i % 7) as f64).collect();
    let (ab, bb) = (HostBuffer::from_f64(elem, &a), HostBuffer::from_f64(elem, &b));
    let (a, b) = (ab.to_f64(), bb.to_f64());
    let mut bufs = vec![ab, bb, HostBuffer::filled(F32, size * size, f64::NAN)];
    let k = matmul_kernel(elem, precision);
    let n = size as i64;
    let args = [
        KernelArg::Buffer(0),
        KernelArg::Buffer(1),
        KernelArg::Buffer(2),
        KernelArg::Int(n),
        KernelArg::Int(n),
        KernelArg::Int(n),
    ];
    let stats = launch(&k, &args, &mut bufs).unwrap();
    assert_eq!(stats.programs, (size as u64 / 64).pow(2));
    (a, b, bufs[2].to_f64())
}

#[test]
fn matmul_256_tf32_matches_exact_emulation_and_f64() {
    let size = 256;
    let (a, b, got) = run_matmul(F32, DotPrecision::Tf32, size);
    let mut max_err = 0f64;
    for i in 0..size {
        for j in 0..size {
            let mut emu = 0f32;
            let mut reference = 0f64;
            for k in 0..size {
                emu += round_tf32(a[i * size + k] as f32) * round_tf32(b[k * size + j] as f32);
                reference += a[i * size + k] * b[k * size + j];
            }
            let g = got[i * size + j];
            assert_eq!(g, emu as f64, "c[{i}, {j}]");
            max_err = max_err.max((g - reference).abs() / reference.abs().max(1.0));
        }
    }
    // tf32 keeps about 3 decimal digits per input.
    assert!(max_err < 5e-3, "max relative error {max_err}");
}

#[test]
fn matmul_256_ieee_uses_fused_multiply_add_in_k_order() {
    let size = 256;
    let (a, b, got) = run_matmul(F32, DotPrecision::Ieee, size);
    for i in (0..size).step_by(7) {
        for j in 0..size {
            let mut emu = 0f32;
            let mut reference = 0f64;
            for k in 0..size {
                emu = (a[i * size + k] as f32).mul_add(b[k * size + j] as f32, emu);
                reference += a[i * size + k] * b[k * size + j];
            }
            assert_eq!(got[i * size + j], emu as f64, "c[{i}, {j}]");
            assert_close(&[got[i * size + j]], &[reference], 1e-4);
        }
    }
}

#[test]
fn matmul_128_bf16_accumulates_in_f32() {
    let size = 128;
    let (a, b, got) = run_matmul(ScalarType::BF16, DotPrecision::Tf32, size);
    for i in 0..size {
        for j in 0..size {
            let mut emu = 0f32;
            for k in 0..size {
                emu += a[i * size + k] as f32 * b[k * size + j] as f32;
            }
            assert_eq!(got[i * size + j], emu as f64, "c[{i}, {j}]");
        }
    }
}

#[test]
fn softmax_over_1000_rows_of_1000() {
    const COLS: u32 = 1024;
    let mut b = Kb::new("softmax");
    let x = b.param("x", p(F32));
    let y = b.param("y", p(F32));
    let rows = b.param("rows", s(I32));
    let cols = b.param("cols", s(I32));
    let _ = rows;
    b.grid(vec![MetaExpr::Param("rows".into())]);
    let row = b.pid(0);
    let start = b.bin(BinaryOp::Mul, row, cols);
    let lanes = b.arange(0, COLS as i64);
    let cc = b.splat(cols, &[COLS]);
    let mask = b.cmp(CmpPred::Lt, lanes, cc);
    let offs = bs(&mut b, BinaryOp::Add, lanes, start);
    let xp = b.addptr(x, offs);
    let ninf = b.constant(Constant::Float(f64::NEG_INFINITY), t(F32, &[COLS]));
    let v = b.load(xp, Some(mask), Some(ninf));
    let m = b.reduce(ReduceKind::Max, 0, v);
    let shifted = bs(&mut b, BinaryOp::Sub, v, m);
    let e = b.unary(UnaryOp::Exp, shifted);
    let sum = b.reduce(ReduceKind::Sum, 0, e);
    let out = bs(&mut b, BinaryOp::Div, e, sum);
    let yp = b.addptr(y, offs);
    b.store(yp, out, Some(mask));
    let k = verified(b.finish());

    let (r, c) = (1000usize, 1000usize);
    let x: Vec<f64> = (0..r * c).map(|i| ((i * 2654435761usize) % 1000) as f64 / 100.0 - 5.0).collect();
    let mut bufs = vec![HostBuffer::from_f64(F32, &x), HostBuffer::filled(F32, r * c, f64::NAN)];
    let args = [KernelArg::Buffer(0), KernelArg::Buffer(1), KernelArg::Int(r as i64), KernelArg::Int(c as i64)];
    let stats = launch(&k, &args, &mut bufs).unwrap();
    assert_eq!(stats.programs, r as u64);
    let got = bufs[1].to_f64();
    let mut want = Vec::with_capacity(r * c);
    for row in x.chunks(c) {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
        want.extend(row.iter().map(|v| (v - m).exp() / s));
    }
    assert_close(&got, &want, 1e-6);
}
