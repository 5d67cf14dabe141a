//! Elementwise ops: arithmetic in the value's type, rounding of 16-bit
//! floats after every op, integer wrapping, division by zero, casts.

mod common;

use common::*;
use half::{bf16, f16};
use tessera_interp::{HostBuffer, HostData, KernelArg, codes, launch_grid};
use tessera_tir::*;

/// A kernel `out[i] = f(x[i], y[i])` over `n` lanes of `elem`, with `f`
/// built by `body`; returns the output buffer.
fn run2(
    elem: ScalarType,
    out_elem: ScalarType,
    x: &[f64],
    y: &[f64],
    body: impl FnOnce(&mut Kb, ValueId, ValueId) -> ValueId,
) -> Result<HostBuffer, tessera_interp::InterpError> {
    let n = x.len() as u32;
    let mut b = Kb::new("ew");
    let px = b.param("x", p(elem));
    let py = b.param("y", p(elem));
    let po = b.param("out", p(out_elem));
    let offs = b.arange(0, n as i64);
    let ax = b.addptr(px, offs);
    let ay = b.addptr(py, offs);
    let ao = b.addptr(po, offs);
    let vx = b.load(ax, None, None);
    let vy = b.load(ay, None, None);
    b.at(7, 3);
    let r = body(&mut b, vx, vy);
    b.store(ao, r, None);
    let k = verified(b.finish());
    let mut bufs = vec![
        HostBuffer::from_f64(elem, x),
        HostBuffer::from_f64(elem, y),
        HostBuffer::filled(out_elem, x.len(), f64::NAN),
    ];
    launch_grid(&k, [1, 1, 1], &[KernelArg::Buffer(0), KernelArg::Buffer(1), KernelArg::Buffer(2)], &mut bufs)?;
    Ok(bufs.pop().unwrap())
}

fn binary(elem: ScalarType, op: BinaryOp, x: &[f64], y: &[f64]) -> Vec<f64> {
    run2(elem, elem, x, y, |b, a, c| b.bin(op, a, c)).unwrap().to_f64()
}

fn unary(elem: ScalarType, op: UnaryOp, x: &[f64]) -> Vec<f64> {
    run2(elem, elem, x, x, |b, a, _| b.unary(op, a)).unwrap().to_f64()
}

#[test]
fn bf16_add_rounds_back_to_bf16() {
    // 2^-9 is below half an ulp of 1.0 in bf16 (2^-8): the sum stays 1.0.
    let r = binary(ScalarType::BF16, BinaryOp::Add, &[1.0, 1.0, 1.0], &[2f64.powi(-9), 2f64.powi(-7), 2f64.powi(-8)]);
    // 1 + 2^-8 is a tie and rounds to even (1.0).
    assert_eq!(r, vec![1.0, 1.0 + 2f64.powi(-7), 1.0]);
}

#[test]
fn bf16_rounds_after_every_op_not_once_at_the_end() {
    // (x + y) - x: in f32 throughout this would give y = 2^-9; rounding the
    // sum to bf16 first loses y entirely.
    let r = run2(ScalarType::BF16, ScalarType::BF16, &[1.0], &[2f64.powi(-9)], |b, x, y| {
        let s = b.bin(BinaryOp::Add, x, y);
        b.bin(BinaryOp::Sub, s, x)
    })
    .unwrap();
    assert_eq!(r.to_f64(), vec![0.0]);
    let f = run2(ScalarType::F32, ScalarType::F32, &[1.0], &[2f64.powi(-9)], |b, x, y| {
        let s = b.bin(BinaryOp::Add, x, y);
        b.bin(BinaryOp::Sub, s, x)
    })
    .unwrap();
    assert_eq!(f.to_f64(), vec![2f64.powi(-9)]);
}

#[test]
fn f16_ops_round_to_f16() {
    // 1/3 in f16 is 0x3555 = 0.333251953125.
    let r = binary(ScalarType::F16, BinaryOp::Div, &[1.0, 65504.0], &[3.0, 0.5]);
    assert_eq!(r[0], f16::from_f32(1.0 / 3.0).to_f64());
    assert_eq!(r[0], 0.333251953125);
    assert!(r[1].is_infinite(), "65504 / 0.5 overflows f16");
    let e = unary(ScalarType::F16, UnaryOp::Exp, &[1.0]);
    assert_eq!(e[0], f16::from_f32(std::f32::consts::E).to_f64());
    let s = unary(ScalarType::BF16, UnaryOp::Sqrt, &[2.0]);
    assert_eq!(s[0], bf16::from_f32(2f32.sqrt()).to_f64());
}

#[test]
fn float_binary_ops_match_rust() {
    let x = [1.5, -2.25, 7.0, -0.0, 3.0];
    let y = [0.5, 4.0, -3.0, 0.0, f64::NAN];
    let f = |op, g: fn(f32, f32) -> f32| {
        let got = binary(ScalarType::F32, op, &x, &y);
        for i in 0..x.len() {
            let want = g(x[i] as f32, y[i] as f32) as f64;
            assert!(got[i] == want || (got[i].is_nan() && want.is_nan()), "{op:?} lane {i}: {} vs {want}", got[i]);
        }
    };
    f(BinaryOp::Add, |a, b| a + b);
    f(BinaryOp::Sub, |a, b| a - b);
    f(BinaryOp::Mul, |a, b| a * b);
    f(BinaryOp::Div, |a, b| a / b);
    f(BinaryOp::Rem, |a, b| a % b);
    // NaN propagates through min/max.
    f(BinaryOp::Min, |a, b| if a.is_nan() || b.is_nan() { f32::NAN } else { a.min(b) });
    f(BinaryOp::Max, |a, b| if a.is_nan() || b.is_nan() { f32::NAN } else { a.max(b) });
    // f64 stays f64: 0.1 + 0.2 is not 0.3 in f64 (nor rounded to f32).
    assert_eq!(binary(ScalarType::F64, BinaryOp::Add, &[0.1], &[0.2]), vec![0.1 + 0.2]);
}

#[test]
fn float_unary_ops_match_rust_f32() {
    let x = [0.25f64, 1.5, 3.0, 0.7];
    type Case = (UnaryOp, fn(f32) -> f32);
    let cases: [Case; 14] = [
        (UnaryOp::Neg, |v| -v),
        (UnaryOp::Exp, f32::exp),
        (UnaryOp::Exp2, f32::exp2),
        (UnaryOp::Log, f32::ln),
        (UnaryOp::Log2, f32::log2),
        (UnaryOp::Sqrt, f32::sqrt),
        (UnaryOp::Rsqrt, |v| 1.0 / v.sqrt()),
        (UnaryOp::Abs, f32::abs),
        (UnaryOp::Sin, f32::sin),
        (UnaryOp::Cos, f32::cos),
        (UnaryOp::Sigmoid, |v| 1.0 / (1.0 + (-v).exp())),
        (UnaryOp::Tanh, f32::tanh),
        (UnaryOp::Floor, f32::floor),
        (UnaryOp::Ceil, f32::ceil),
    ];
    for (op, g) in cases {
        let got = unary(ScalarType::F32, op, &x);
        let want: Vec<f64> = x.iter().map(|&v| g(v as f32) as f64).collect();
        assert_eq!(got, want, "{op:?}");
    }
}

#[test]
fn integer_ops_wrap_at_their_width() {
    let max = i32::MAX as f64;
    assert_eq!(binary(ScalarType::I32, BinaryOp::Add, &[max], &[1.0]), vec![i32::MIN as f64]);
    assert_eq!(binary(ScalarType::I32, BinaryOp::Mul, &[65536.0], &[65536.0]), vec![0.0]);
    assert_eq!(binary(ScalarType::I8, BinaryOp::Add, &[127.0], &[1.0]), vec![-128.0]);
    assert_eq!(binary(ScalarType::I16, BinaryOp::Sub, &[-32768.0], &[1.0]), vec![32767.0]);
    // Truncating division, remainder with the dividend's sign.
    assert_eq!(binary(ScalarType::I32, BinaryOp::Div, &[-7.0, 7.0], &[2.0, -2.0]), vec![-3.0, -3.0]);
    assert_eq!(binary(ScalarType::I32, BinaryOp::Rem, &[-7.0, 7.0], &[2.0, -2.0]), vec![-1.0, 1.0]);
    // Shift amounts modulo 32; shr is arithmetic.
    assert_eq!(binary(ScalarType::I32, BinaryOp::Shl, &[1.0, 1.0], &[33.0, 31.0]), vec![2.0, i32::MIN as f64]);
    assert_eq!(binary(ScalarType::I32, BinaryOp::Shr, &[-16.0, -16.0], &[2.0, 34.0]), vec![-4.0, -4.0]);
    assert_eq!(binary(ScalarType::I64, BinaryOp::Shl, &[1.0], &[40.0]), vec![2f64.powi(40)]);
    assert_eq!(binary(ScalarType::I32, BinaryOp::And, &[12.0], &[10.0]), vec![8.0]);
    assert_eq!(binary(ScalarType::I32, BinaryOp::Or, &[12.0], &[10.0]), vec![14.0]);
    assert_eq!(binary(ScalarType::I32, BinaryOp::Xor, &[12.0], &[10.0]), vec![6.0]);
    assert_eq!(binary(ScalarType::I32, BinaryOp::Min, &[-3.0], &[2.0]), vec![-3.0]);
    assert_eq!(unary(ScalarType::I32, UnaryOp::Neg, &[i32::MIN as f64]), vec![i32::MIN as f64]);
    assert_eq!(unary(ScalarType::I32, UnaryOp::Abs, &[-5.0]), vec![5.0]);
    assert_eq!(unary(ScalarType::I8, UnaryOp::Not, &[5.0]), vec![-6.0]);
}

#[test]
fn bool_ops_are_logical() {
    let x = [0.0, 0.0, 1.0, 1.0];
    let y = [0.0, 1.0, 0.0, 1.0];
    assert_eq!(binary(I1, BinaryOp::And, &x, &y), vec![0.0, 0.0, 0.0, 1.0]);
    assert_eq!(binary(I1, BinaryOp::Or, &x, &y), vec![0.0, 1.0, 1.0, 1.0]);
    assert_eq!(binary(I1, BinaryOp::Xor, &x, &y), vec![0.0, 1.0, 1.0, 0.0]);
    assert_eq!(unary(I1, UnaryOp::Not, &x), vec![1.0, 1.0, 0.0, 0.0]);
}

#[test]
fn integer_division_by_zero_is_an_error_at_the_op() {
    let err = run2(I32, I32, &[1.0, 2.0, 3.0], &[1.0, 0.0, 1.0], |b, x, y| b.bin(BinaryOp::Div, x, y)).unwrap_err();
    assert_eq!(err.code, codes::DIV_BY_ZERO);
    assert_eq!(err.loc, Loc { line: 7, col: 3 });
    assert_eq!(err.program, Some([0, 0, 0]));
    assert!(err.message.contains("lane [1]"), "{}", err.message);
    assert_eq!(err.to_string(), format!("test.tsr:7:3: error[E0622]: {} (program (0, 0, 0))", err.message));
    let rem = run2(ScalarType::I8, ScalarType::I8, &[1.0], &[0.0], |b, x, y| b.bin(BinaryOp::Rem, x, y)).unwrap_err();
    assert_eq!(rem.code, codes::DIV_BY_ZERO);
    assert!(rem.message.contains("remainder"));
    // Float division by zero is IEEE: infinity, not an error.
    assert_eq!(binary(ScalarType::F32, BinaryOp::Div, &[1.0], &[0.0]), vec![f64::INFINITY]);
}

#[test]
fn comparisons_are_signed_and_ordered() {
    let x = [1.0, f64::NAN, -1.0, 2.0];
    let y = [1.0, f64::NAN, 1.0, 1.0];
    let cmp = |elem, pred| run2(elem, I1, &x, &y, |b, a, c| b.cmp(pred, a, c)).unwrap().to_f64();
    assert_eq!(cmp(ScalarType::F32, CmpPred::Eq), vec![1.0, 0.0, 0.0, 0.0]);
    assert_eq!(cmp(ScalarType::F32, CmpPred::Ne), vec![0.0, 1.0, 1.0, 1.0]);
    assert_eq!(cmp(ScalarType::F32, CmpPred::Lt), vec![0.0, 0.0, 1.0, 0.0]);
    assert_eq!(cmp(ScalarType::F32, CmpPred::Le), vec![1.0, 0.0, 1.0, 0.0]);
    assert_eq!(cmp(ScalarType::F32, CmpPred::Gt), vec![0.0, 0.0, 0.0, 1.0]);
    assert_eq!(cmp(ScalarType::F32, CmpPred::Ge), vec![1.0, 0.0, 0.0, 1.0]);
    // Signed: -1 < 1 (NaN loads as 0 in ints).
    assert_eq!(cmp(I32, CmpPred::Lt), vec![0.0, 0.0, 1.0, 0.0]);
}

#[test]
fn select_picks_per_lane() {
    let r = run2(ScalarType::F32, ScalarType::F32, &[1.0, 5.0, 3.0], &[4.0, 2.0, 3.0], |b, x, y| {
        let c = b.cmp(CmpPred::Lt, x, y);
        let ty = b.ty(x);
        b.op(OpKind::Select, &[c, x, y], ty)
    })
    .unwrap();
    assert_eq!(r.to_f64(), vec![1.0, 2.0, 3.0]);
}

fn cast(from: ScalarType, to: ScalarType, x: &[f64]) -> Vec<f64> {
    run2(from, to, x, x, |b, a, _| b.cast(a, to)).unwrap().to_f64()
}

#[test]
fn casts_follow_the_documented_rules() {
    // float -> int truncates toward zero, saturates, NaN -> 0.
    assert_eq!(
        cast(ScalarType::F32, I32, &[2.9, -2.9, 1e20, -1e20, f64::NAN]),
        vec![2.0, -2.0, i32::MAX as f64, i32::MIN as f64, 0.0]
    );
    assert_eq!(cast(ScalarType::F32, ScalarType::I8, &[300.0, -300.0]), vec![127.0, -128.0]);
    // int -> int wraps or sign-extends.
    assert_eq!(cast(I32, ScalarType::I8, &[300.0, -129.0]), vec![44.0, 127.0]);
    assert_eq!(cast(ScalarType::I8, ScalarType::I64, &[-5.0]), vec![-5.0]);
    // anything -> i1 is != 0; i1 -> int is 0 or 1.
    assert_eq!(cast(ScalarType::F32, I1, &[0.0, -0.0, 0.5, f64::NAN]), vec![0.0, 0.0, 1.0, 1.0]);
    assert_eq!(cast(I32, I1, &[0.0, 7.0]), vec![0.0, 1.0]);
    assert_eq!(cast(I1, I32, &[1.0, 0.0]), vec![1.0, 0.0]);
    // float -> float rounds to nearest even.
    let third = 1.0f64 / 3.0;
    assert_eq!(cast(ScalarType::F64, ScalarType::F32, &[third]), vec![(third as f32) as f64]);
    assert_eq!(cast(ScalarType::F32, ScalarType::BF16, &[1.0 + 2f64.powi(-8)]), vec![1.0]);
    assert_eq!(cast(ScalarType::F32, ScalarType::BF16, &[1.0 + 3.0 * 2f64.powi(-8)]), vec![1.0 + 2f64.powi(-6)]);
    // int -> float rounds to nearest even: 2^24 + 1 is a tie in f32.
    assert_eq!(cast(I32, ScalarType::F32, &[16777217.0]), vec![16777216.0]);
    assert_eq!(cast(ScalarType::BF16, ScalarType::F16, &[65536.0]), vec![f64::INFINITY]);
}

#[test]
fn constants_take_the_result_type() {
    let mut b = Kb::new("consts");
    let out = b.param("out", p(ScalarType::F16));
    let offs = b.arange(0, 2);
    let ptrs = b.addptr(out, offs);
    let c = b.constant(Constant::Float(0.1), t(ScalarType::F16, &[2]));
    b.store(ptrs, c, None);
    let k = verified(b.finish());
    let mut bufs = vec![HostBuffer::zeros(ScalarType::F16, 2)];
    launch_grid(&k, [1, 1, 1], &[KernelArg::Buffer(0)], &mut bufs).unwrap();
    assert_eq!(bufs[0].data, HostData::F16(vec![f16::from_f64(0.1); 2]));
}
