//! Elementwise ops: unary, binary, compare, select and cast. Semantics per
//! element type are in [`crate::elem`].

use crate::codes;
use crate::elem::{BinFault, Elem, compare as compare_typed};
use crate::error::Fault;
use crate::value::{Data, Tensor, fmt_index, unravel, visit_num, with_scalar_type};
use tessera_tir::{BinaryOp, CmpPred, ScalarType, UnaryOp};

fn same_shape(a: &Tensor, b: &Tensor, what: &str) -> Result<(), Fault> {
    if a.shape == b.shape && a.data.len() == b.data.len() {
        Ok(())
    } else {
        Err(Fault::malformed(format!(
            "{what} operands have shapes {} and {}",
            fmt_index(&a.shape),
            fmt_index(&b.shape)
        )))
    }
}

fn type_name(d: &Data) -> String {
    d.scalar_type().map_or("a pointer".to_string(), |s| s.to_string())
}

pub(crate) fn unary(op: UnaryOp, t: &Tensor) -> Result<Tensor, Fault> {
    fn typed<T: Elem>(op: UnaryOp, v: &[T]) -> Result<Data, Fault> {
        T::unary(op, v)
            .map(T::into_data)
            .ok_or_else(|| Fault::malformed(format!("`{}` is not defined on {}", op.name(), T::TYPE)))
    }
    let data = visit_num!(&t.data, v => typed(op, v)?,
        ptr => return Err(Fault::malformed(format!("`{}` of a pointer", op.name()))));
    Ok(Tensor { shape: t.shape.clone(), data })
}

pub(crate) fn binary(op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<Tensor, Fault> {
    same_shape(a, b, op.name())?;
    fn typed<T: Elem>(op: BinaryOp, x: &[T], b: &Data, shape: &[u32]) -> Result<Data, Fault> {
        let y = T::data(b)
            .ok_or_else(|| Fault::malformed(format!("`{}` of {} and {}", op.name(), T::TYPE, type_name(b))))?;
        match T::binary(op, x, y) {
            Ok(r) => Ok(T::into_data(r)),
            Err(BinFault::Undefined) => Err(Fault::malformed(format!("`{}` is not defined on {}", op.name(), T::TYPE))),
            Err(BinFault::DivByZero(lane)) => {
                let what = if op == BinaryOp::Rem { "remainder" } else { "division" };
                Err(Fault::new(
                    codes::DIV_BY_ZERO,
                    format!("integer {what} by zero in {} at lane {}", T::TYPE, fmt_index(&unravel(lane, shape))),
                )
                .with_help("guard the divisor, e.g. `where(d != 0, x / d, 0)`, or divide floats"))
            }
        }
    }
    let data = visit_num!(&a.data, x => typed(op, x, &b.data, &a.shape)?,
        ptr => return Err(Fault::malformed(format!("`{}` of pointers (use addptr)", op.name()))));
    Ok(Tensor { shape: a.shape.clone(), data })
}

/// Signed for ints, ordered for floats; pointers compare by (parameter,
/// offset).
pub(crate) fn compare(pred: CmpPred, a: &Tensor, b: &Tensor) -> Result<Tensor, Fault> {
    same_shape(a, b, "cmp")?;
    fn typed<T: Elem>(pred: CmpPred, x: &[T], b: &Data) -> Result<Vec<bool>, Fault> {
        let y = T::data(b).ok_or_else(|| Fault::malformed(format!("cmp of {} and {}", T::TYPE, type_name(b))))?;
        Ok(compare_typed(pred, x, y))
    }
    let out = visit_num!(&a.data, x => typed(pred, x, &b.data)?, ptr => match (&a.data, &b.data) {
        (Data::Ptr(x), Data::Ptr(y)) => {
            let cmp = |f: fn(&crate::value::Ptr, &crate::value::Ptr) -> bool| -> Vec<bool> {
                x.iter().zip(y).map(|(p, q)| f(p, q)).collect()
            };
            match pred {
                CmpPred::Eq => cmp(|p, q| p == q),
                CmpPred::Ne => cmp(|p, q| p != q),
                CmpPred::Lt => cmp(|p, q| p < q),
                CmpPred::Le => cmp(|p, q| p <= q),
                CmpPred::Gt => cmp(|p, q| p > q),
                CmpPred::Ge => cmp(|p, q| p >= q),
            }
        }
        _ => return Err(Fault::malformed("cmp of a pointer and a number")),
    });
    Ok(Tensor { shape: a.shape.clone(), data: Data::I1(out) })
}

/// `select(cond, a, b)`: `a` where `cond`, else `b`.
pub(crate) fn select(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor, Fault> {
    same_shape(cond, a, "select")?;
    same_shape(a, b, "select")?;
    let Data::I1(c) = &cond.data else {
        return Err(Fault::malformed(format!("select's condition is {}, not i1", type_name(&cond.data))));
    };
    fn pick<T: Copy>(c: &[bool], x: &[T], y: &[T]) -> Vec<T> {
        c.iter().zip(x.iter().zip(y)).map(|(&c, (&x, &y))| if c { x } else { y }).collect()
    }
    let data = match (&a.data, &b.data) {
        (Data::I1(x), Data::I1(y)) => Data::I1(pick(c, x, y)),
        (Data::I8(x), Data::I8(y)) => Data::I8(pick(c, x, y)),
        (Data::I16(x), Data::I16(y)) => Data::I16(pick(c, x, y)),
        (Data::I32(x), Data::I32(y)) => Data::I32(pick(c, x, y)),
        (Data::I64(x), Data::I64(y)) => Data::I64(pick(c, x, y)),
        (Data::F16(x), Data::F16(y)) => Data::F16(pick(c, x, y)),
        (Data::BF16(x), Data::BF16(y)) => Data::BF16(pick(c, x, y)),
        (Data::F32(x), Data::F32(y)) => Data::F32(pick(c, x, y)),
        (Data::F64(x), Data::F64(y)) => Data::F64(pick(c, x, y)),
        (Data::Ptr(x), Data::Ptr(y)) => Data::Ptr(pick(c, x, y)),
        (x, y) => {
            return Err(Fault::malformed(format!("select of {} and {}", type_name(x), type_name(y))));
        }
    };
    Ok(Tensor { shape: a.shape.clone(), data })
}

/// `cast` to `to`, as documented on [`Elem::from_scalar`].
pub(crate) fn cast(t: &Tensor, to: ScalarType) -> Result<Tensor, Fault> {
    fn typed<S: Elem>(v: &[S], to: ScalarType) -> Data {
        with_scalar_type!(to, T => {
            if S::TYPE == T::TYPE {
                S::into_data(v.to_vec())
            } else {
                T::into_data(v.iter().map(|&x| T::from_scalar(x.to_scalar())).collect())
            }
        })
    }
    let data = visit_num!(&t.data, v => typed(v, to), ptr => return Err(Fault::malformed("cast of a pointer")));
    Ok(Tensor { shape: t.shape.clone(), data })
}
