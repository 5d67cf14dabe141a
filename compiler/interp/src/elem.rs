//! Element types as Rust types: conversions and per-type arithmetic.
//!
//! Every numeric element type implements [`Elem`]. Ops dispatch on the
//! element type once per op and then run a monomorphized loop, so there is no
//! per-element enum dispatch.
//!
//! Semantics (the reference that generated code is tested against):
//! - f32 computes in f32 and f64 in f64; f16 and bf16 compute every op in f32
//!   and round the result back to nearest even after each op, as GPUs do.
//! - Integers wrap at their width; division truncates toward zero, the
//!   remainder has the dividend's sign, division or remainder by zero is an
//!   error; shift amounts are taken modulo the bit width (Euclidean, so -1
//!   shifts an i32 by 31); `shr` is arithmetic.
//! - i1 is a 1-bit integer with values 0 (false) and 1 (true): `add`, `sub`
//!   and `xor` are xor, `mul`, `and` and `min` are and, `or` and `max` are
//!   or, shifts are the identity, `neg` and `abs` are the identity; false <
//!   true.
//! - Float `min`/`max` propagate NaN and order -0 below +0 (IEEE 754-2019
//!   `minimum`/`maximum`, PTX `min.NaN`/`max.NaN`).
//! - Conversions round exactly once (see [`Elem::from_scalar`]).

use crate::buffer::HostData;
use crate::value::Data;
use half::{bf16, f16};
use std::ops::{Add, Div, Mul, Neg, Rem, Sub};
use tessera_tir::{BinaryOp, CmpPred, ScalarType, UnaryOp};

/// A number on its way between element types: ints sign-extended (or 0/1
/// for i1), floats widened exactly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Scalar {
    Int(i64),
    Float(f64),
}

/// Why an elementwise binary op failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinFault {
    /// Integer division or remainder by zero at this lane (row-major index).
    DivByZero(usize),
    /// The op is not defined on this element type.
    Undefined,
}

/// A numeric element type.
pub(crate) trait Elem: Copy + Default + PartialEq + 'static {
    const TYPE: ScalarType;
    /// The type comparisons are made in (f32 for 16-bit floats).
    type Key: Copy + PartialOrd;
    /// The type sums, products and atomic adds accumulate in: f32 for 16-bit
    /// floats, the type itself otherwise.
    type Acc: Copy;

    fn to_scalar(self) -> Scalar;
    /// Convert as `Cast` does: float to float rounds to nearest even (once,
    /// even from f64 to f16), int to float rounds to nearest even, float to
    /// int truncates toward zero saturating with NaN giving 0, int to int
    /// wraps, anything to i1 is `!= 0`, i1 to anything is 0 or 1.
    fn from_scalar(s: Scalar) -> Self;
    fn to_f64(self) -> f64;

    fn host(data: &HostData) -> Option<&[Self]>;
    fn host_mut(data: &mut HostData) -> Option<&mut [Self]>;
    fn data(data: &Data) -> Option<&[Self]>;
    fn into_data(v: Vec<Self>) -> Data;

    fn key(self) -> Self::Key;
    fn is_nan(self) -> bool;
    /// `max` and `min` as documented at the top of this module.
    fn max2(a: Self, b: Self) -> Self;
    fn min2(a: Self, b: Self) -> Self;

    fn unary(op: UnaryOp, a: &[Self]) -> Option<Vec<Self>>;
    fn binary(op: BinaryOp, a: &[Self], b: &[Self]) -> Result<Vec<Self>, BinFault>;

    fn acc(self) -> Self::Acc;
    fn from_acc(a: Self::Acc) -> Self;
    fn acc_zero() -> Self::Acc;
    fn acc_add(a: Self::Acc, b: Self::Acc) -> Self::Acc;
    fn acc_mul(a: Self::Acc, b: Self::Acc) -> Self::Acc;
}

/// Elementwise map of two equal-length slices (the caller checked lengths).
#[inline]
fn zip<T: Copy, U>(a: &[T], b: &[T], f: impl Fn(T, T) -> U) -> Vec<U> {
    a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}

#[inline]
fn map<T: Copy, U>(a: &[T], f: impl Fn(T) -> U) -> Vec<U> {
    a.iter().map(|&x| f(x)).collect()
}

/// Comparison of keys: signed for ints, ordered for floats (every predicate
/// but `ne` is false with NaN).
pub(crate) fn compare<T: Elem>(pred: CmpPred, a: &[T], b: &[T]) -> Vec<bool> {
    match pred {
        CmpPred::Eq => zip(a, b, |x, y| x.key() == y.key()),
        CmpPred::Ne => zip(a, b, |x, y| x.key() != y.key()),
        CmpPred::Lt => zip(a, b, |x, y| x.key() < y.key()),
        CmpPred::Le => zip(a, b, |x, y| x.key() <= y.key()),
        CmpPred::Gt => zip(a, b, |x, y| x.key() > y.key()),
        CmpPred::Ge => zip(a, b, |x, y| x.key() >= y.key()),
    }
}

/// Round an f64 to f32 by round-to-odd: truncate, then set the last bit if
/// anything was lost. Rounding that result to nearest even at 11 or 8
/// significant bits equals rounding the f64 directly (24 >= 2 * 11 + 2), so
/// f64 -> f16/bf16 rounds once, not twice.
pub(crate) fn f64_to_f32_odd(x: f64) -> f32 {
    let f = x as f32;
    if !f.is_finite() || f as f64 == x {
        return f;
    }
    let mut bits = f.to_bits();
    if (f as f64).abs() > x.abs() {
        bits -= 1;
    }
    f32::from_bits(bits | 1)
}

/// Round an i64 to f64 by round-to-odd (see [`f64_to_f32_odd`]).
pub(crate) fn i64_to_f64_odd(v: i64) -> f64 {
    let f = v as f64;
    let back = f as i128;
    let exact = i128::from(v);
    if back == exact {
        return f;
    }
    let mut bits = f.to_bits();
    if back.abs() > exact.abs() {
        bits -= 1;
    }
    f64::from_bits(bits | 1)
}

/// The arithmetic of the types floats compute in (f32 and f64).
pub(crate) trait Real:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Rem<Output = Self>
    + Neg<Output = Self>
{
    const ONE: Self;
    fn exp(self) -> Self;
    fn exp2(self) -> Self;
    fn ln(self) -> Self;
    fn log2(self) -> Self;
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn tanh(self) -> Self;
    fn floor(self) -> Self;
    fn ceil(self) -> Self;
    fn is_nan(self) -> bool;
    fn is_sign_negative(self) -> bool;
}

macro_rules! impl_real {
    ($t:ty) => {
        impl Real for $t {
            const ONE: $t = 1.0;
            fn exp(self) -> $t {
                <$t>::exp(self)
            }
            fn exp2(self) -> $t {
                <$t>::exp2(self)
            }
            fn ln(self) -> $t {
                <$t>::ln(self)
            }
            fn log2(self) -> $t {
                <$t>::log2(self)
            }
            fn sqrt(self) -> $t {
                <$t>::sqrt(self)
            }
            fn abs(self) -> $t {
                <$t>::abs(self)
            }
            fn sin(self) -> $t {
                <$t>::sin(self)
            }
            fn cos(self) -> $t {
                <$t>::cos(self)
            }
            fn tanh(self) -> $t {
                <$t>::tanh(self)
            }
            fn floor(self) -> $t {
                <$t>::floor(self)
            }
            fn ceil(self) -> $t {
                <$t>::ceil(self)
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn is_sign_negative(self) -> bool {
                <$t>::is_sign_negative(self)
            }
        }
    };
}
impl_real!(f32);
impl_real!(f64);

/// NaN-propagating maximum with -0 < +0.
#[inline]
fn real_max<C: Real>(a: C, b: C) -> C {
    if a.is_nan() || a > b {
        a
    } else if b.is_nan() || b > a || a.is_sign_negative() {
        // b is NaN, larger, or equal to a zero a that is -0.
        b
    } else {
        a
    }
}

/// NaN-propagating minimum with -0 < +0.
#[inline]
fn real_min<C: Real>(a: C, b: C) -> C {
    if a.is_nan() || a < b {
        a
    } else if b.is_nan() || b < a {
        b
    } else if a.is_sign_negative() {
        a
    } else {
        b
    }
}

fn real_unary<C: Real>(op: UnaryOp, a: &[C]) -> Option<Vec<C>> {
    Some(match op {
        UnaryOp::Neg => map(a, |x| -x),
        UnaryOp::Not => return None,
        UnaryOp::Exp => map(a, C::exp),
        UnaryOp::Exp2 => map(a, C::exp2),
        UnaryOp::Log => map(a, C::ln),
        UnaryOp::Log2 => map(a, C::log2),
        UnaryOp::Sqrt => map(a, C::sqrt),
        UnaryOp::Rsqrt => map(a, |x| C::ONE / x.sqrt()),
        UnaryOp::Abs => map(a, C::abs),
        UnaryOp::Sin => map(a, C::sin),
        UnaryOp::Cos => map(a, C::cos),
        UnaryOp::Sigmoid => map(a, |x| C::ONE / (C::ONE + (-x).exp())),
        UnaryOp::Tanh => map(a, C::tanh),
        UnaryOp::Floor => map(a, C::floor),
        UnaryOp::Ceil => map(a, C::ceil),
    })
}

fn real_binary<C: Real>(op: BinaryOp, a: &[C], b: &[C]) -> Result<Vec<C>, BinFault> {
    Ok(match op {
        BinaryOp::Add => zip(a, b, |x, y| x + y),
        BinaryOp::Sub => zip(a, b, |x, y| x - y),
        BinaryOp::Mul => zip(a, b, |x, y| x * y),
        BinaryOp::Div => zip(a, b, |x, y| x / y),
        BinaryOp::Rem => zip(a, b, |x, y| x % y),
        BinaryOp::Min => zip(a, b, real_min),
        BinaryOp::Max => zip(a, b, real_max),
        BinaryOp::And | BinaryOp::Or | BinaryOp::Xor | BinaryOp::Shl | BinaryOp::Shr => {
            return Err(BinFault::Undefined);
        }
    })
}

macro_rules! impl_data_access {
    ($t:ty, $variant:ident) => {
        fn host(data: &HostData) -> Option<&[$t]> {
            match data {
                HostData::$variant(v) => Some(v),
                _ => None,
            }
        }
        fn host_mut(data: &mut HostData) -> Option<&mut [$t]> {
            match data {
                HostData::$variant(v) => Some(v),
                _ => None,
            }
        }
        fn data(data: &Data) -> Option<&[$t]> {
            match data {
                Data::$variant(v) => Some(v),
                _ => None,
            }
        }
        fn into_data(v: Vec<$t>) -> Data {
            Data::$variant(v)
        }
    };
}

/// f32 and f64: compute in themselves.
macro_rules! impl_wide_float {
    ($t:ty, $variant:ident, $from_f64:expr, $from_i64:expr) => {
        impl Elem for $t {
            const TYPE: ScalarType = ScalarType::$variant;
            type Key = $t;
            type Acc = $t;
            fn to_scalar(self) -> Scalar {
                Scalar::Float(self as f64)
            }
            fn from_scalar(s: Scalar) -> $t {
                match s {
                    Scalar::Int(v) => $from_i64(v),
                    Scalar::Float(v) => $from_f64(v),
                }
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            impl_data_access!($t, $variant);
            fn key(self) -> $t {
                self
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn max2(a: $t, b: $t) -> $t {
                real_max(a, b)
            }
            fn min2(a: $t, b: $t) -> $t {
                real_min(a, b)
            }
            fn unary(op: UnaryOp, a: &[$t]) -> Option<Vec<$t>> {
                real_unary(op, a)
            }
            fn binary(op: BinaryOp, a: &[$t], b: &[$t]) -> Result<Vec<$t>, BinFault> {
                real_binary(op, a, b)
            }
            fn acc(self) -> $t {
                self
            }
            fn from_acc(a: $t) -> $t {
                a
            }
            fn acc_zero() -> $t {
                0.0
            }
            fn acc_add(a: $t, b: $t) -> $t {
                a + b
            }
            fn acc_mul(a: $t, b: $t) -> $t {
                a * b
            }
        }
    };
}
impl_wide_float!(f32, F32, f64_to_f32_rne, |v: i64| v as f32);
impl_wide_float!(f64, F64, |v: f64| v, |v: i64| v as f64);

fn f64_to_f32_rne(v: f64) -> f32 {
    v as f32
}

/// f16 and bf16: compute in f32, round back after every op.
macro_rules! impl_half_float {
    ($t:ty, $variant:ident) => {
        impl Elem for $t {
            const TYPE: ScalarType = ScalarType::$variant;
            type Key = f32;
            type Acc = f32;
            fn to_scalar(self) -> Scalar {
                Scalar::Float(self.to_f64())
            }
            fn from_scalar(s: Scalar) -> $t {
                let x = match s {
                    Scalar::Int(v) => i64_to_f64_odd(v),
                    Scalar::Float(v) => v,
                };
                <$t>::from_f32(f64_to_f32_odd(x))
            }
            fn to_f64(self) -> f64 {
                <$t>::to_f64(self)
            }
            impl_data_access!($t, $variant);
            fn key(self) -> f32 {
                self.to_f32()
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn max2(a: $t, b: $t) -> $t {
                <$t>::from_f32(real_max(a.to_f32(), b.to_f32()))
            }
            fn min2(a: $t, b: $t) -> $t {
                <$t>::from_f32(real_min(a.to_f32(), b.to_f32()))
            }
            fn unary(op: UnaryOp, a: &[$t]) -> Option<Vec<$t>> {
                let wide: Vec<f32> = map(a, <$t>::to_f32);
                real_unary(op, &wide).map(|r| map(&r, <$t>::from_f32))
            }
            fn binary(op: BinaryOp, a: &[$t], b: &[$t]) -> Result<Vec<$t>, BinFault> {
                let wa: Vec<f32> = map(a, <$t>::to_f32);
                let wb: Vec<f32> = map(b, <$t>::to_f32);
                real_binary(op, &wa, &wb).map(|r| map(&r, <$t>::from_f32))
            }
            fn acc(self) -> f32 {
                self.to_f32()
            }
            fn from_acc(a: f32) -> $t {
                <$t>::from_f32(a)
            }
            fn acc_zero() -> f32 {
                0.0
            }
            fn acc_add(a: f32, b: f32) -> f32 {
                a + b
            }
            fn acc_mul(a: f32, b: f32) -> f32 {
                a * b
            }
        }
    };
}
impl_half_float!(f16, F16);
impl_half_float!(bf16, BF16);

macro_rules! impl_int {
    ($t:ty, $variant:ident) => {
        impl Elem for $t {
            const TYPE: ScalarType = ScalarType::$variant;
            type Key = $t;
            type Acc = $t;
            fn to_scalar(self) -> Scalar {
                Scalar::Int(self as i64)
            }
            fn from_scalar(s: Scalar) -> $t {
                match s {
                    Scalar::Int(v) => v as $t,
                    Scalar::Float(v) => v as $t,
                }
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            impl_data_access!($t, $variant);
            fn key(self) -> $t {
                self
            }
            fn is_nan(self) -> bool {
                false
            }
            fn max2(a: $t, b: $t) -> $t {
                a.max(b)
            }
            fn min2(a: $t, b: $t) -> $t {
                a.min(b)
            }
            fn unary(op: UnaryOp, a: &[$t]) -> Option<Vec<$t>> {
                match op {
                    UnaryOp::Neg => Some(map(a, <$t>::wrapping_neg)),
                    UnaryOp::Not => Some(map(a, |x| !x)),
                    UnaryOp::Abs => Some(map(a, <$t>::wrapping_abs)),
                    _ => None,
                }
            }
            fn binary(op: BinaryOp, a: &[$t], b: &[$t]) -> Result<Vec<$t>, BinFault> {
                let checked = |f: fn($t, $t) -> $t| -> Result<Vec<$t>, BinFault> {
                    match b.iter().position(|&y| y == 0) {
                        Some(lane) => Err(BinFault::DivByZero(lane)),
                        None => Ok(zip(a, b, f)),
                    }
                };
                Ok(match op {
                    BinaryOp::Add => zip(a, b, <$t>::wrapping_add),
                    BinaryOp::Sub => zip(a, b, <$t>::wrapping_sub),
                    BinaryOp::Mul => zip(a, b, <$t>::wrapping_mul),
                    BinaryOp::Div => checked(<$t>::wrapping_div)?,
                    BinaryOp::Rem => checked(<$t>::wrapping_rem)?,
                    BinaryOp::Min => zip(a, b, <$t>::min),
                    BinaryOp::Max => zip(a, b, <$t>::max),
                    BinaryOp::And => zip(a, b, |x, y| x & y),
                    BinaryOp::Or => zip(a, b, |x, y| x | y),
                    BinaryOp::Xor => zip(a, b, |x, y| x ^ y),
                    // `wrapping_sh*` mask the amount to the width: modulo
                    // the bit width, Euclidean for negative amounts.
                    BinaryOp::Shl => zip(a, b, |x, y| x.wrapping_shl(y as u32)),
                    BinaryOp::Shr => zip(a, b, |x, y| x.wrapping_shr(y as u32)),
                })
            }
            fn acc(self) -> $t {
                self
            }
            fn from_acc(a: $t) -> $t {
                a
            }
            fn acc_zero() -> $t {
                0
            }
            fn acc_add(a: $t, b: $t) -> $t {
                a.wrapping_add(b)
            }
            fn acc_mul(a: $t, b: $t) -> $t {
                a.wrapping_mul(b)
            }
        }
    };
}
impl_int!(i8, I8);
impl_int!(i16, I16);
impl_int!(i32, I32);
impl_int!(i64, I64);

impl Elem for bool {
    const TYPE: ScalarType = ScalarType::I1;
    type Key = bool;
    type Acc = bool;
    fn to_scalar(self) -> Scalar {
        Scalar::Int(i64::from(self))
    }
    fn from_scalar(s: Scalar) -> bool {
        match s {
            Scalar::Int(v) => v != 0,
            Scalar::Float(v) => v != 0.0,
        }
    }
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
    impl_data_access!(bool, I1);
    fn key(self) -> bool {
        self
    }
    fn is_nan(self) -> bool {
        false
    }
    fn max2(a: bool, b: bool) -> bool {
        a | b
    }
    fn min2(a: bool, b: bool) -> bool {
        a & b
    }
    fn unary(op: UnaryOp, a: &[bool]) -> Option<Vec<bool>> {
        match op {
            UnaryOp::Neg | UnaryOp::Abs => Some(a.to_vec()),
            UnaryOp::Not => Some(map(a, |x| !x)),
            _ => None,
        }
    }
    fn binary(op: BinaryOp, a: &[bool], b: &[bool]) -> Result<Vec<bool>, BinFault> {
        Ok(match op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Xor => zip(a, b, |x, y| x ^ y),
            BinaryOp::Mul | BinaryOp::And | BinaryOp::Min => zip(a, b, |x, y| x & y),
            BinaryOp::Or | BinaryOp::Max => zip(a, b, |x, y| x | y),
            BinaryOp::Shl | BinaryOp::Shr => a.to_vec(),
            BinaryOp::Div | BinaryOp::Rem => match b.iter().position(|&y| !y) {
                Some(lane) => return Err(BinFault::DivByZero(lane)),
                // x / 1 = x and x % 1 = 0.
                None if op == BinaryOp::Div => a.to_vec(),
                None => vec![false; a.len()],
            },
        })
    }
    fn acc(self) -> bool {
        self
    }
    fn from_acc(a: bool) -> bool {
        a
    }
    fn acc_zero() -> bool {
        false
    }
    fn acc_add(a: bool, b: bool) -> bool {
        a ^ b
    }
    fn acc_mul(a: bool, b: bool) -> bool {
        a & b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f64_to_bf16_rounds_once() {
        // 1 + 2^-8 is the midpoint between bf16 1.0 and 1 + 2^-7; a hair
        // above it must round up, although f32 would first round it to the
        // midpoint itself (and then to even, 1.0).
        let x = 1.0 + 2f64.powi(-8) + 2f64.powi(-40);
        assert_eq!(bf16::from_scalar(Scalar::Float(x)).to_f64(), 1.0 + 2f64.powi(-7));
        let tie = 1.0 + 2f64.powi(-8);
        assert_eq!(bf16::from_scalar(Scalar::Float(tie)).to_f64(), 1.0);
    }

    #[test]
    fn f64_to_f16_rounds_once() {
        let x = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        assert_eq!(f16::from_scalar(Scalar::Float(x)).to_f64(), 1.0 + 2f64.powi(-10));
        assert_eq!(f16::from_scalar(Scalar::Float(1e-30)).to_f64(), 0.0);
        assert!(f16::from_scalar(Scalar::Float(1e6)).to_f64().is_infinite());
    }

    #[test]
    fn i64_to_bf16_rounds_once() {
        // 2^60 + 2^52 + 1: just above the bf16 midpoint 2^60 + 2^52, which
        // an f64 would round onto.
        let v = (1i64 << 60) + (1 << 52) + 1;
        assert_eq!(bf16::from_scalar(Scalar::Int(v)).to_f64(), 2f64.powi(60) + 2f64.powi(53));
        assert_eq!(i64_to_f64_odd(7), 7.0);
    }

    #[test]
    fn float_to_int_truncates_and_saturates() {
        assert_eq!(i32::from_scalar(Scalar::Float(-2.9)), -2);
        assert_eq!(i8::from_scalar(Scalar::Float(1e9)), 127);
        assert_eq!(i16::from_scalar(Scalar::Float(f64::NAN)), 0);
        assert_eq!(i8::from_scalar(Scalar::Int(300)), 44);
        assert!(bool::from_scalar(Scalar::Float(f64::NAN)));
        assert!(!bool::from_scalar(Scalar::Int(0)));
    }

    #[test]
    fn min_max_propagate_nan_and_order_zeros() {
        assert!(f32::max2(f32::NAN, 1.0).is_nan());
        assert!(f32::min2(1.0, f32::NAN).is_nan());
        assert!(f32::max2(-0.0, 0.0).is_sign_positive());
        assert!(f32::max2(0.0, -0.0).is_sign_positive());
        assert!(f32::min2(0.0, -0.0).is_sign_negative());
        assert!(f32::min2(-0.0, 0.0).is_sign_negative());
    }

    #[test]
    fn integer_ops_wrap_and_shift_modulo_width() {
        let r = i32::binary(BinaryOp::Add, &[i32::MAX], &[1]).unwrap();
        assert_eq!(r, vec![i32::MIN]);
        assert_eq!(i32::binary(BinaryOp::Shl, &[1], &[33]).unwrap(), vec![2]);
        assert_eq!(i32::binary(BinaryOp::Shr, &[-8], &[-31]).unwrap(), vec![-4]);
        assert_eq!(i8::binary(BinaryOp::Div, &[-7], &[2]).unwrap(), vec![-3]);
        assert_eq!(i8::binary(BinaryOp::Rem, &[-7], &[2]).unwrap(), vec![-1]);
        assert_eq!(i32::binary(BinaryOp::Div, &[1, 2], &[1, 0]), Err(BinFault::DivByZero(1)));
        assert_eq!(i32::binary(BinaryOp::Div, &[i32::MIN], &[-1]).unwrap(), vec![i32::MIN]);
    }
}
