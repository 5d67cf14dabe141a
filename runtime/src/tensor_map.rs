//! Tensor maps for variants that copy with the bulk tensor copy engine
//! (TMA, sm_90a): each [`TensorMapSpec`] of the variant is encoded from the
//! launch's arguments (`cuTensorMapEncodeTiled`) and passed by value after
//! the declared parameters, where the kernel reads it in place.

use crate::args::ArgValue;
use crate::bundle::{DType, KernelDecl, TensorMapGeometry, TensorMapSpec};
use crate::device::{Runtime, describe};
use cudarc::driver::sys::{
    self, CUtensorMap, CUtensorMapDataType, CUtensorMapFloatOOBfill, CUtensorMapInterleave, CUtensorMapL2promotion,
    CUtensorMapSwizzle,
};

/// The tensor maps of one launch, in the variant's order; `scalar` gives an
/// integer argument by name. The error says which map and which argument.
pub(crate) fn encode_all(
    rt: &Runtime,
    decl: &KernelDecl,
    specs: &[TensorMapSpec],
    bound: &[ArgValue],
    scalar: &dyn Fn(&str) -> Option<i64>,
) -> Result<Vec<CUtensorMap>, String> {
    specs
        .iter()
        .map(|spec| {
            encode(rt, decl, spec, bound, scalar).map_err(|e| format!("the tensor map of `{}`: {e}", spec.base))
        })
        .collect()
}

fn encode(
    rt: &Runtime,
    decl: &KernelDecl,
    spec: &TensorMapSpec,
    bound: &[ArgValue],
    scalar: &dyn Fn(&str) -> Option<i64>,
) -> Result<CUtensorMap, String> {
    let base = decl
        .params
        .iter()
        .position(|p| p.name == spec.base)
        .and_then(|i| bound.get(i))
        .and_then(|a| match a {
            ArgValue::Pointer { addr, .. } => Some(*addr),
            ArgValue::Scalar(_) => None,
        })
        .ok_or("its base is not a bound pointer argument")?;
    let (base, geometry) = match spec.geometry(scalar)? {
        Some(geometry) => (aligned_base(base)?, geometry),
        // An empty view reads as zeros: a one-element view of a zeroed
        // line, every other box element outside it.
        None => {
            let line = rt.zeroed_line().map_err(|e| e.to_string())?;
            let rank = spec.dims.len();
            (line, TensorMapGeometry { dims: vec![1; rank], stride_bytes: vec![16; rank.saturating_sub(1)] })
        }
    };
    let mut map = CUtensorMap { opaque: [0; 16] };
    let element_strides = vec![1u32; spec.dims.len()];
    // SAFETY: every array has the map's rank (checked with the bundle), the
    // map is written in place, and the address is only recorded.
    let result = unsafe {
        sys::cuTensorMapEncodeTiled(
            &mut map,
            data_type(spec.elem),
            spec.dims.len() as u32,
            base as *mut std::ffi::c_void,
            geometry.dims.as_ptr(),
            geometry.stride_bytes.as_ptr(),
            spec.box_dims.as_ptr(),
            element_strides.as_ptr(),
            CUtensorMapInterleave::CU_TENSOR_MAP_INTERLEAVE_NONE,
            swizzle(spec.swizzle),
            CUtensorMapL2promotion::CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
            CUtensorMapFloatOOBfill::CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE,
        )
    };
    result
        .result()
        .map_err(|e| format!("cuTensorMapEncodeTiled refused {geometry:?} at {base:#x}: {}", describe(&e)))?;
    Ok(map)
}

/// `base` when the copy engine can address it (16-byte aligned).
fn aligned_base(base: u64) -> Result<u64, String> {
    if base.is_multiple_of(16) { Ok(base) } else { Err(format!("the base address {base:#x} is not 16-byte aligned")) }
}

fn data_type(elem: DType) -> CUtensorMapDataType {
    use CUtensorMapDataType::*;
    match elem {
        DType::I1 | DType::I8 => CU_TENSOR_MAP_DATA_TYPE_UINT8,
        DType::I16 => CU_TENSOR_MAP_DATA_TYPE_UINT16,
        DType::I32 => CU_TENSOR_MAP_DATA_TYPE_INT32,
        DType::I64 => CU_TENSOR_MAP_DATA_TYPE_INT64,
        DType::F16 => CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
        DType::BF16 => CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
        DType::F32 => CU_TENSOR_MAP_DATA_TYPE_FLOAT32,
        DType::F64 => CU_TENSOR_MAP_DATA_TYPE_FLOAT64,
    }
}

fn swizzle(bytes: u32) -> CUtensorMapSwizzle {
    match bytes {
        32 => CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_32B,
        64 => CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_64B,
        _ => CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_128B,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::GridExpr;

    fn spec() -> TensorMapSpec {
        TensorMapSpec {
            base: "a".into(),
            elem: DType::BF16,
            dims: vec![GridExpr::Param("K".into()), GridExpr::Param("M".into())],
            strides: vec![GridExpr::Param("stride_am".into())],
            box_dims: vec![64, 128],
            swizzle: 128,
        }
    }

    fn args(k: i64, m: i64, stride: i64) -> impl Fn(&str) -> Option<i64> {
        move |name| match name {
            "K" => Some(k),
            "M" => Some(m),
            "stride_am" => Some(stride),
            _ => None,
        }
    }

    #[test]
    fn extents_and_byte_strides_come_from_the_arguments() {
        let g = spec().geometry(&args(4096, 300, 4104)).expect("valid").expect("not empty");
        assert_eq!(g, TensorMapGeometry { dims: vec![4096, 300], stride_bytes: vec![8208] });
    }

    /// A view offset by the program's (batch, head) (lightning attention's
    /// q, `[b, n, h, d]` here): rank 4, the outer strides need not grow.
    #[test]
    fn rank_4_views_take_every_stride_in_bytes() {
        let p = |n: &str| GridExpr::Param(n.into());
        let spec = TensorMapSpec {
            base: "q".into(),
            elem: DType::BF16,
            dims: vec![GridExpr::Int(128), p("n"), p("batch"), p("heads")],
            strides: vec![p("stride_qn"), p("stride_qb"), p("stride_qh")],
            box_dims: vec![64, 64, 1, 1],
            swizzle: 128,
        };
        let (b, h, n) = (2, 16, 4097);
        let args = move |name: &str| match name {
            "n" => Some(n),
            "batch" => Some(b),
            "heads" => Some(h),
            "stride_qn" => Some(h * 128),
            "stride_qb" => Some(n * h * 128),
            "stride_qh" => Some(128),
            _ => None,
        };
        let g = spec.geometry(&args).expect("valid").expect("not empty");
        let bytes = |elements: i64| (2 * elements) as u64;
        assert_eq!(g.dims, vec![128, n as u64, b as u64, h as u64]);
        assert_eq!(g.stride_bytes, vec![bytes(h * 128), bytes(n * h * 128), bytes(128)]);
    }

    #[test]
    fn an_empty_view_is_no_error() {
        assert_eq!(spec().geometry(&args(0, 300, 8)), Ok(None));
        assert_eq!(spec().geometry(&args(64, -1, 8)), Ok(None));
    }

    /// What the engine cannot address is refused with the argument named.
    #[test]
    fn unaligned_or_negative_strides_and_bases_are_refused() {
        let err = spec().geometry(&args(64, 64, 12)).expect_err("24 bytes");
        assert!(err.contains("stride `stride_am` = 12 elements of bf16"), "{err}");
        let err = spec().geometry(&args(64, 64, -8)).expect_err("negative");
        assert!(err.contains("positive multiple of 16 bytes"), "{err}");
        let err = aligned_base(0x1008).expect_err("unaligned base");
        assert!(err.contains("0x1008 is not 16-byte aligned"), "{err}");
        assert_eq!(aligned_base(0x1000), Ok(0x1000));
        let err = spec().geometry(&args(1 << 33, 64, 8)).expect_err("too long");
        assert!(err.contains("past the copy engine's 2^32"), "{err}");
        let err = spec().geometry(&|_| None).expect_err("unbound");
        assert!(err.contains("`K`"), "{err}");
    }
}
