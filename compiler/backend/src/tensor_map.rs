//! Tensor maps: what a kernel that copies with the bulk tensor copy engine
//! (TMA, sm_90a) needs the runtime to encode at launch.
//!
//! A pipelined block load whose view is addressed by kernel parameters
//! alone (its base a pointer parameter, every extent and stride a parameter
//! or a constant) is copied by `cp.async.bulk.tensor` from a CUDA tensor
//! map. The map holds the view's base, extents and strides, which only the
//! launch knows, so the kernel takes it as an extra parameter after the
//! declared ones (`.param .align 64 .b8 [128]`, read in place through its
//! generic address: a `__grid_constant__`). [`TensorMapDesc`] says how the
//! runtime builds each from the arguments (`cuTensorMapEncodeTiled`): the
//! bundle records them per variant, in parameter order.

use tessera_tir::ScalarType;

/// An extent or stride of a tensor map: an integer parameter's value at
/// launch, or a constant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Extent {
    Param(String),
    Const(i64),
}

/// One tensor map parameter: a 2-D view read in boxes of `box_dims`.
///
/// Dimension 0 is the view's contiguous axis (unit stride; the copies'
/// rows), dimension 1 the other. The box lands in shared memory as one
/// swizzle panel of [`crate::layout::shared::SharedTile::wgmma_panels`]:
/// `box_dims[0]` elements of `swizzle_bytes` bytes per row.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorMapDesc {
    /// The pointer parameter holding the view's base (16-byte aligned).
    pub base: String,
    pub elem: ScalarType,
    /// Extents in elements, dimension 0 first.
    pub dims: Vec<Extent>,
    /// Strides in elements of dimensions 1 and up (dimension 0's is 1);
    /// multiples of 16 bytes, as the copy engine requires.
    pub strides: Vec<Extent>,
    /// Elements per box along each dimension (at most 256 each).
    pub box_dims: Vec<u32>,
    /// The shared-memory swizzle: 32, 64 or 128 bytes, `box_dims[0]`
    /// elements.
    pub swizzle_bytes: u32,
}
