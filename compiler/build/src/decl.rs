//! A kernel's interface in the bundle's terms: front-end signatures and
//! tile-IR values mapped to the runtime's manifest types.

use tessera_frontend::KernelSignature;
use tessera_runtime::bundle::{self, ConstParam, DType, Hints, KernelDecl, Param, ParamKind, TuneAxis};
use tessera_tir::{ConstValue, ElemType, ScalarType, Type};

pub fn dtype(s: ScalarType) -> DType {
    match s {
        ScalarType::I1 => DType::I1,
        ScalarType::I8 => DType::I8,
        ScalarType::I16 => DType::I16,
        ScalarType::I32 => DType::I32,
        ScalarType::I64 => DType::I64,
        ScalarType::F16 => DType::F16,
        ScalarType::BF16 => DType::BF16,
        ScalarType::F32 => DType::F32,
        ScalarType::F64 => DType::F64,
    }
}

pub fn const_value(v: &ConstValue) -> bundle::ConstValue {
    match v {
        ConstValue::Int(i) => bundle::ConstValue::Int(*i),
        ConstValue::Float(f) => bundle::ConstValue::Float(*f),
        ConstValue::Bool(b) => bundle::ConstValue::Bool(*b),
    }
}

/// How a runtime parameter is passed; `None` for a type no launch can pass
/// (the front end only gives parameters scalar and pointer types).
fn param_kind(ty: &Type) -> Option<ParamKind> {
    match ty {
        Type::Tensor { elem: ElemType::Scalar(s), shape } if shape.is_empty() => {
            Some(ParamKind::Scalar { dtype: dtype(*s) })
        }
        Type::Tensor { elem: ElemType::Ptr(s), shape } if shape.is_empty() => {
            Some(ParamKind::Pointer { elem: dtype(*s) })
        }
        _ => None,
    }
}

/// The manifest entry of a kernel (without variants): `tune` is the tuning
/// space actually built (after `--const` pins), `grid` the generalized grid.
pub fn kernel_decl(
    sig: &KernelSignature,
    tune: &[(String, Vec<ConstValue>)],
    grid: Vec<bundle::GridExpr>,
) -> Result<KernelDecl, String> {
    let params = sig
        .runtime_params
        .iter()
        .map(|p| {
            let kind = param_kind(&p.ty)
                .ok_or_else(|| format!("parameter `{}` has type `{}`, which a launch cannot pass", p.name, p.ty))?;
            let hints = Hints { divisibility: p.hints.divisibility, contiguous: p.hints.contiguous };
            Ok(Param { name: p.name.clone(), kind, hints })
        })
        .collect::<Result<_, String>>()?;
    Ok(KernelDecl {
        name: sig.name.clone(),
        params,
        const_params: sig
            .const_params
            .iter()
            .map(|c| ConstParam { name: c.name.clone(), dtype: dtype(c.ty) })
            .collect(),
        grid,
        tune_space: tune
            .iter()
            .map(|(name, values)| TuneAxis { name: name.clone(), values: values.iter().map(const_value).collect() })
            .collect(),
        key: sig.key.clone(),
        require: sig.require.iter().map(crate::grid::convert).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scalar_type_maps_to_the_dtype_of_the_same_name() {
        for s in ScalarType::ALL {
            assert_eq!(dtype(s).name(), s.name());
        }
    }

    #[test]
    fn parameters_are_scalars_or_pointers() {
        assert_eq!(param_kind(&Type::scalar(ScalarType::I32)), Some(ParamKind::Scalar { dtype: DType::I32 }));
        assert_eq!(param_kind(&Type::ptr(ScalarType::BF16, vec![])), Some(ParamKind::Pointer { elem: DType::BF16 }));
        assert_eq!(param_kind(&Type::tensor(ScalarType::F32, vec![4])), None);
    }
}
