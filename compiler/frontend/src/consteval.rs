//! Folding of compile-time arithmetic.
//!
//! Integers are i64 and overflow is an error (not a wrap): a compile-time
//! value that silently wrapped would size tensors or pick branches wrongly.
//! Integer division by zero is an error; float division follows IEEE, which
//! is how programs spell infinities (`-1.0 / 0.0`).

use crate::value::Value;
use tessera_syntax::ast::{BinOp, UnOp};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FoldError {
    Overflow,
    DivByZero,
    ShiftRange,
    /// The operator does not apply to these operand kinds.
    BadOperands,
}

enum Num {
    I(i64),
    F(f64),
}

fn num(v: &Value) -> Option<Num> {
    match v {
        Value::Int(i) => Some(Num::I(*i)),
        Value::Float(f) => Some(Num::F(*f)),
        _ => None,
    }
}

/// Fold `a op b` for compile-time scalars (`Int`, `Float`, `Bool`).
pub(crate) fn fold_binary(op: BinOp, a: &Value, b: &Value) -> Result<Value, FoldError> {
    use BinOp::*;
    if let (Value::Bool(x), Value::Bool(y)) = (a, b) {
        return Ok(Value::Bool(match op {
            And | BitAnd => *x && *y,
            Or | BitOr => *x || *y,
            BitXor | Ne => x != y,
            Eq => x == y,
            _ => return Err(FoldError::BadOperands),
        }));
    }
    let (Some(x), Some(y)) = (num(a), num(b)) else { return Err(FoldError::BadOperands) };
    match (x, y) {
        (Num::I(x), Num::I(y)) => fold_int(op, x, y),
        (Num::F(x), Num::F(y)) => fold_float(op, x, y),
        (Num::I(x), Num::F(y)) => fold_float(op, x as f64, y),
        (Num::F(x), Num::I(y)) => fold_float(op, x, y as f64),
    }
}

fn fold_int(op: BinOp, x: i64, y: i64) -> Result<Value, FoldError> {
    use BinOp::*;
    let checked = |r: Option<i64>| r.map(Value::Int).ok_or(FoldError::Overflow);
    match op {
        Add => checked(x.checked_add(y)),
        Sub => checked(x.checked_sub(y)),
        Mul => checked(x.checked_mul(y)),
        Div | Rem if y == 0 => Err(FoldError::DivByZero),
        Div => checked(x.checked_div(y)),
        Rem => checked(x.checked_rem(y)),
        Shl | Shr if !(0..64).contains(&y) => Err(FoldError::ShiftRange),
        Shl => Ok(Value::Int(x.wrapping_shl(y as u32))),
        Shr => Ok(Value::Int(x >> y)),
        BitAnd => Ok(Value::Int(x & y)),
        BitOr => Ok(Value::Int(x | y)),
        BitXor => Ok(Value::Int(x ^ y)),
        And | Or => Err(FoldError::BadOperands),
        Eq => Ok(Value::Bool(x == y)),
        Ne => Ok(Value::Bool(x != y)),
        Lt => Ok(Value::Bool(x < y)),
        Le => Ok(Value::Bool(x <= y)),
        Gt => Ok(Value::Bool(x > y)),
        Ge => Ok(Value::Bool(x >= y)),
    }
}

fn fold_float(op: BinOp, x: f64, y: f64) -> Result<Value, FoldError> {
    use BinOp::*;
    Ok(match op {
        Add => Value::Float(x + y),
        Sub => Value::Float(x - y),
        Mul => Value::Float(x * y),
        Div => Value::Float(x / y),
        Rem => Value::Float(x % y),
        Eq => Value::Bool(x == y),
        Ne => Value::Bool(x != y),
        Lt => Value::Bool(x < y),
        Le => Value::Bool(x <= y),
        Gt => Value::Bool(x > y),
        Ge => Value::Bool(x >= y),
        Shl | Shr | BitAnd | BitOr | BitXor | And | Or => return Err(FoldError::BadOperands),
    })
}

/// Fold `-a` / `!a` for compile-time scalars.
pub(crate) fn fold_unary(op: UnOp, a: &Value) -> Result<Value, FoldError> {
    match (op, a) {
        (UnOp::Neg, Value::Int(i)) => i.checked_neg().map(Value::Int).ok_or(FoldError::Overflow),
        (UnOp::Neg, Value::Float(f)) => Ok(Value::Float(-f)),
        (UnOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
        (UnOp::Not, Value::Int(i)) => Ok(Value::Int(!i)),
        _ => Err(FoldError::BadOperands),
    }
}

/// `ceil(a / b)` as the runtime computes it, `(a + b - 1) / b`, checked.
pub(crate) fn cdiv(a: i64, b: i64) -> Result<i64, FoldError> {
    if b == 0 {
        return Err(FoldError::DivByZero);
    }
    a.checked_add(b).and_then(|s| s.checked_sub(1)).and_then(|s| s.checked_div(b)).ok_or(FoldError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_folding_is_checked() {
        assert_eq!(fold_binary(BinOp::Add, &Value::Int(2), &Value::Int(3)), Ok(Value::Int(5)));
        assert_eq!(fold_binary(BinOp::Mul, &Value::Int(i64::MAX), &Value::Int(2)), Err(FoldError::Overflow));
        assert_eq!(fold_binary(BinOp::Div, &Value::Int(1), &Value::Int(0)), Err(FoldError::DivByZero));
        assert_eq!(fold_binary(BinOp::Div, &Value::Int(-7), &Value::Int(2)), Ok(Value::Int(-3)));
        assert_eq!(fold_binary(BinOp::Rem, &Value::Int(-7), &Value::Int(2)), Ok(Value::Int(-1)));
        assert_eq!(fold_binary(BinOp::Shl, &Value::Int(1), &Value::Int(64)), Err(FoldError::ShiftRange));
        assert_eq!(fold_binary(BinOp::Lt, &Value::Int(1), &Value::Int(2)), Ok(Value::Bool(true)));
    }

    #[test]
    fn float_folding_is_ieee() {
        assert_eq!(
            fold_binary(BinOp::Div, &Value::Float(-1.0), &Value::Float(0.0)),
            Ok(Value::Float(f64::NEG_INFINITY))
        );
        assert_eq!(fold_binary(BinOp::Mul, &Value::Int(2), &Value::Float(1.5)), Ok(Value::Float(3.0)));
        assert_eq!(fold_binary(BinOp::BitAnd, &Value::Float(1.0), &Value::Int(1)), Err(FoldError::BadOperands));
    }

    #[test]
    fn bools_and_unary() {
        assert_eq!(fold_binary(BinOp::And, &Value::Bool(true), &Value::Bool(false)), Ok(Value::Bool(false)));
        assert_eq!(fold_binary(BinOp::Add, &Value::Bool(true), &Value::Bool(true)), Err(FoldError::BadOperands));
        assert_eq!(fold_unary(UnOp::Neg, &Value::Int(i64::MIN)), Err(FoldError::Overflow));
        assert_eq!(fold_unary(UnOp::Not, &Value::Bool(true)), Ok(Value::Bool(false)));
        assert_eq!(cdiv(10, 4), Ok(3));
        assert_eq!(cdiv(1, 0), Err(FoldError::DivByZero));
    }
}
