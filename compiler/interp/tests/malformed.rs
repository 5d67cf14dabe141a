//! IR that breaks an op contract (the verifier would reject it) is an
//! error, never a panic or a silent wrong answer.

mod common;

use common::*;
use tessera_interp::{HostBuffer, KernelArg, codes, launch_grid};
use tessera_tir::*;

#[test]
fn a_value_used_before_its_definition() {
    let mut b = Kb::new("undef");
    let ghost = b.k.new_value(s(I32));
    let one = b.ci32(1);
    b.at(5, 6);
    b.bin(BinaryOp::Add, ghost, one);
    let k = b.finish();
    let err = launch_grid(&k, [1, 1, 1], &[], &mut []).unwrap_err();
    assert_eq!(err.code, codes::MALFORMED);
    assert_eq!(err.loc, Loc { line: 5, col: 6 });
    assert!(err.message.contains("used before it is defined"), "{}", err.message);
}

#[test]
fn operands_of_different_types() {
    let mut b = Kb::new("mixed");
    let x = b.cf32(1.0);
    let y = b.ci32(1);
    b.bin(BinaryOp::Add, x, y);
    let err = launch_grid(&b.finish(), [1, 1, 1], &[], &mut []).unwrap_err();
    assert_eq!(err.code, codes::MALFORMED);
}

#[test]
fn float_only_op_on_integers_and_shift_on_floats() {
    let mut b = Kb::new("exp_int");
    let x = b.ci32(1);
    b.unary(UnaryOp::Exp, x);
    let err = launch_grid(&b.finish(), [1, 1, 1], &[], &mut []).unwrap_err();
    assert_eq!(err.code, codes::MALFORMED);
    let mut b = Kb::new("shl_float");
    let x = b.cf32(1.0);
    b.bin(BinaryOp::Shl, x, x);
    let err = launch_grid(&b.finish(), [1, 1, 1], &[], &mut []).unwrap_err();
    assert_eq!(err.code, codes::MALFORMED);
}

#[test]
fn a_result_type_that_disagrees_with_the_value() {
    let mut b = Kb::new("liar");
    let x = b.cf32(1.0);
    b.op(OpKind::Unary(UnaryOp::Neg), &[x], s(ScalarType::F64));
    let err = launch_grid(&b.finish(), [1, 1, 1], &[], &mut []).unwrap_err();
    assert_eq!(err.code, codes::MALFORMED);
    assert!(err.message.contains("has type f64"), "{}", err.message);
}

#[test]
fn a_tensor_typed_parameter_cannot_be_bound() {
    let mut b = Kb::new("tensor_param");
    b.param("x", t(F32, &[4]));
    let err = launch_grid(&b.finish(), [1, 1, 1], &[KernelArg::Float(1.0)], &mut []).unwrap_err();
    assert_eq!(err.code, codes::MALFORMED);
    assert_eq!(err.program, None);
}

#[test]
fn a_store_of_the_wrong_element_type() {
    let mut b = Kb::new("store_i32_to_f32");
    let x = b.param("x", p(F32));
    let v = b.ci32(1);
    b.store(x, v, None);
    let mut bufs = vec![HostBuffer::zeros(F32, 1)];
    let err = launch_grid(&b.finish(), [1, 1, 1], &[KernelArg::Buffer(0)], &mut bufs).unwrap_err();
    assert_eq!(err.code, codes::MALFORMED);
    assert_eq!(bufs[0].to_f64(), vec![0.0]);
}
