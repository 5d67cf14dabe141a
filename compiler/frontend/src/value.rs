//! The lowering-time value model.
//!
//! While a kernel body is lowered, an expression evaluates either to a
//! compile-time value (folded, never materialized unless it meets a runtime
//! value) or to an IR value: a scalar, a block tensor, a tensor of pointers or
//! a block pointer, each with its [`Type`].

use tessera_tir::{ConstValue, ElemType, ScalarType, Type, ValueId};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// A compile-time integer (weakly typed: it takes the type it meets).
    Int(i64),
    /// A compile-time float (weakly typed).
    Float(f64),
    Bool(bool),
    Str(String),
    /// `None`: an absent optional argument, or a `[None, :]` subscript.
    None,
    /// A dtype name used as a value (`f32` in `zeros(s, f32)`).
    DType(ScalarType),
    /// `(a, b)` / `[a, b]` and helper tuple returns.
    Tuple(Vec<Value>),
    /// A runtime value of the IR.
    Ir(ValueId, Type),
    /// The result of a call that returns nothing.
    Unit,
    /// Stands for a value whose computation already failed with a reported
    /// diagnostic; every use fails silently so one mistake gives one error.
    Poison,
}

impl Value {
    /// Compile-time numbers and booleans: the values that fold.
    pub(crate) fn is_const_scalar(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Float(_) | Value::Bool(_))
    }

    pub(crate) fn to_const(&self) -> Option<ConstValue> {
        match self {
            Value::Int(v) => Some(ConstValue::Int(*v)),
            Value::Float(v) => Some(ConstValue::Float(*v)),
            Value::Bool(v) => Some(ConstValue::Bool(*v)),
            _ => None,
        }
    }

    pub(crate) fn from_const(c: &ConstValue) -> Value {
        match c {
            ConstValue::Int(v) => Value::Int(*v),
            ConstValue::Float(v) => Value::Float(*v),
            ConstValue::Bool(v) => Value::Bool(*v),
        }
    }

    /// The IR type of a runtime value.
    pub(crate) fn ir_type(&self) -> Option<&Type> {
        match self {
            Value::Ir(_, ty) => Some(ty),
            _ => None,
        }
    }

    /// How the value reads in messages: `compile-time int 3`, `tensor<64xf32>`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Int(v) => format!("compile-time int {v}"),
            Value::Float(v) => format!("compile-time float {v:?}"),
            Value::Bool(v) => format!("compile-time bool {v}"),
            Value::Str(s) => format!("string {s:?}"),
            Value::None => "None".to_string(),
            Value::DType(t) => format!("dtype {t}"),
            Value::Tuple(items) => format!("a tuple of {} values", items.len()),
            Value::Ir(_, ty) => describe_type(ty),
            Value::Unit => "no value".to_string(),
            Value::Poison => "an erroneous value".to_string(),
        }
    }
}

/// `f32` for scalars, `tensor<64xf32>` for tensors, `pointer ptr<f32>`.
pub(crate) fn describe_type(ty: &Type) -> String {
    match ty {
        Type::Tensor { elem: ElemType::Ptr(_), shape } if shape.is_empty() => format!("pointer {ty}"),
        Type::Tensor { shape, .. } if shape.is_empty() => format!("scalar {ty}"),
        Type::BlockPtr { .. } => format!("block pointer {ty}"),
        _ => ty.to_string(),
    }
}

/// The IR type a weakly typed compile-time scalar gets on its own: `i32`
/// (or `i64` when it does not fit), `f32`, `bool`.
pub(crate) fn default_type(v: &Value) -> Option<ScalarType> {
    match v {
        Value::Int(i) if i32::try_from(*i).is_ok() => Some(ScalarType::I32),
        Value::Int(_) => Some(ScalarType::I64),
        Value::Float(_) => Some(ScalarType::F32),
        Value::Bool(_) => Some(ScalarType::I1),
        _ => None,
    }
}

/// Whether a compile-time integer fits an integer type (bool takes 0 and 1).
pub(crate) fn int_fits(v: i64, ty: ScalarType) -> bool {
    match ty {
        ScalarType::I1 => v == 0 || v == 1,
        ScalarType::I8 => i8::try_from(v).is_ok(),
        ScalarType::I16 => i16::try_from(v).is_ok(),
        ScalarType::I32 => i32::try_from(v).is_ok(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_types_follow_magnitude() {
        assert_eq!(default_type(&Value::Int(7)), Some(ScalarType::I32));
        assert_eq!(default_type(&Value::Int(1 << 40)), Some(ScalarType::I64));
        assert_eq!(default_type(&Value::Float(1.0)), Some(ScalarType::F32));
        assert_eq!(default_type(&Value::Str("a".into())), None);
    }

    #[test]
    fn fits() {
        assert!(int_fits(127, ScalarType::I8));
        assert!(!int_fits(128, ScalarType::I8));
        assert!(!int_fits(2, ScalarType::I1));
        assert!(int_fits(i64::MAX, ScalarType::I64));
    }
}
