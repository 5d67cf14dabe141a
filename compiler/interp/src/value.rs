//! Run-time values: typed tensors, pointers and block pointers.

use half::{bf16, f16};
use tessera_tir::ScalarType;

/// A global-memory address: an element offset into the buffer bound to a
/// pointer parameter. Keeping the parameter (not the buffer) lets errors
/// name it; its buffer is looked up when memory is touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ptr {
    /// Index of the pointer parameter the address derives from.
    pub param: u32,
    /// Offset in elements; may be anything until memory is accessed.
    pub off: i64,
}

/// The elements of a tensor, row-major, one typed vector per element type.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Data {
    I1(Vec<bool>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Ptr(Vec<Ptr>),
}

/// Evaluates `$e` with `$v` bound to the typed vector of any [`Data`]
/// (pointers included), for code generic over `T: Copy`.
macro_rules! visit_any {
    ($data:expr, $v:ident => $e:expr) => {
        match $data {
            Data::I1($v) => $e,
            Data::I8($v) => $e,
            Data::I16($v) => $e,
            Data::I32($v) => $e,
            Data::I64($v) => $e,
            Data::F16($v) => $e,
            Data::BF16($v) => $e,
            Data::F32($v) => $e,
            Data::F64($v) => $e,
            Data::Ptr($v) => $e,
        }
    };
}

/// Like [`visit_any`], wrapping each arm's vector result back into the same
/// variant of [`Data`].
macro_rules! map_any {
    ($data:expr, $v:ident => $e:expr) => {
        match $data {
            Data::I1($v) => Data::I1($e),
            Data::I8($v) => Data::I8($e),
            Data::I16($v) => Data::I16($e),
            Data::I32($v) => Data::I32($e),
            Data::I64($v) => Data::I64($e),
            Data::F16($v) => Data::F16($e),
            Data::BF16($v) => Data::BF16($e),
            Data::F32($v) => Data::F32($e),
            Data::F64($v) => Data::F64($e),
            Data::Ptr($v) => Data::Ptr($e),
        }
    };
}

/// Evaluates `$e` with `$v` bound to the vector of a numeric [`Data`]
/// (generic over `T: Elem`), or `$ptr` for pointers.
macro_rules! visit_num {
    ($data:expr, $v:ident => $e:expr, ptr => $ptr:expr) => {
        match $data {
            Data::I1($v) => $e,
            Data::I8($v) => $e,
            Data::I16($v) => $e,
            Data::I32($v) => $e,
            Data::I64($v) => $e,
            Data::F16($v) => $e,
            Data::BF16($v) => $e,
            Data::F32($v) => $e,
            Data::F64($v) => $e,
            Data::Ptr(_) => $ptr,
        }
    };
}

/// Evaluates a generic expression with the type parameter `$t` bound to the
/// Rust type of a [`ScalarType`].
macro_rules! with_scalar_type {
    ($ty:expr, $t:ident => $e:expr) => {
        match $ty {
            ScalarType::I1 => {
                type $t = bool;
                $e
            }
            ScalarType::I8 => {
                type $t = i8;
                $e
            }
            ScalarType::I16 => {
                type $t = i16;
                $e
            }
            ScalarType::I32 => {
                type $t = i32;
                $e
            }
            ScalarType::I64 => {
                type $t = i64;
                $e
            }
            ScalarType::F16 => {
                type $t = half::f16;
                $e
            }
            ScalarType::BF16 => {
                type $t = half::bf16;
                $e
            }
            ScalarType::F32 => {
                type $t = f32;
                $e
            }
            ScalarType::F64 => {
                type $t = f64;
                $e
            }
        }
    };
}

pub(crate) use {map_any, visit_num, with_scalar_type};

impl Data {
    pub fn len(&self) -> usize {
        visit_any!(self, v => v.len())
    }

    /// The element type of numeric data (None for pointers).
    pub fn scalar_type(&self) -> Option<ScalarType> {
        Some(match self {
            Data::I1(_) => ScalarType::I1,
            Data::I8(_) => ScalarType::I8,
            Data::I16(_) => ScalarType::I16,
            Data::I32(_) => ScalarType::I32,
            Data::I64(_) => ScalarType::I64,
            Data::F16(_) => ScalarType::F16,
            Data::BF16(_) => ScalarType::BF16,
            Data::F32(_) => ScalarType::F32,
            Data::F64(_) => ScalarType::F64,
            Data::Ptr(_) => return None,
        })
    }
}

/// A scalar (empty shape) or block tensor.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tensor {
    pub shape: Vec<u32>,
    pub data: Data,
}

/// A block pointer: a `shape`d, `strides`d view at `base`, whose loads read
/// the `block` tile at `offsets`. All vectors have the block's rank.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BlockPtr {
    pub base: Ptr,
    pub shape: Vec<i64>,
    pub strides: Vec<i64>,
    pub offsets: Vec<i64>,
    pub block: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Tensor(Tensor),
    Block(BlockPtr),
}

/// Number of elements of a shape.
pub(crate) fn numel(shape: &[u32]) -> usize {
    shape.iter().map(|&d| d as usize).product()
}

/// Row-major strides (in elements) of a shape.
pub(crate) fn row_major_strides(shape: &[u32]) -> Vec<usize> {
    let mut strides = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1] as usize;
    }
    strides
}

/// The multi-index of row-major position `lane` in `shape`.
pub(crate) fn unravel(lane: usize, shape: &[u32]) -> Vec<u32> {
    let mut idx = vec![0u32; shape.len()];
    let mut rest = lane;
    for (i, &d) in shape.iter().enumerate().rev() {
        let d = d.max(1) as usize;
        idx[i] = (rest % d) as u32;
        rest /= d;
    }
    idx
}

/// `[3, 6]`: a multi-index for messages (`[]` for a scalar).
pub(crate) fn fmt_index(idx: &[u32]) -> String {
    let parts: Vec<String> = idx.iter().map(u32::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// Read `src` through `strides` (in elements, 0 to repeat) into a new
/// row-major tensor of `shape`: the engine of broadcast and permute.
pub(crate) fn gather<T: Copy>(src: &[T], shape: &[u32], strides: &[usize]) -> Vec<T> {
    let n = numel(shape);
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    let Some((&inner, outer)) = shape.split_last() else {
        // A scalar: one element.
        out.extend(src.first().copied());
        return out;
    };
    let inner_stride = strides.last().copied().unwrap_or(0);
    let mut idx = vec![0u32; outer.len()];
    loop {
        let base: usize = idx.iter().zip(strides).map(|(&i, &s)| i as usize * s).sum();
        if inner_stride == 1 {
            out.extend_from_slice(&src[base..base + inner as usize]);
        } else {
            out.extend((0..inner as usize).map(|j| src[base + j * inner_stride]));
        }
        // Odometer over the outer axes.
        let mut axis = outer.len();
        loop {
            if axis == 0 {
                return out;
            }
            axis -= 1;
            idx[axis] += 1;
            if idx[axis] < outer[axis] {
                break;
            }
            idx[axis] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_permutes_and_broadcasts() {
        // [[0, 1, 2], [3, 4, 5]] transposed.
        let src: Vec<i32> = (0..6).collect();
        assert_eq!(gather(&src, &[3, 2], &[1, 3]), vec![0, 3, 1, 4, 2, 5]);
        // [1, 3] -> [2, 3]
        assert_eq!(gather(&src[..3], &[2, 3], &[0, 1]), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(gather(&src[..1], &[], &[]), vec![0]);
    }

    #[test]
    fn unravel_is_row_major() {
        assert_eq!(unravel(7, &[2, 3, 4]), vec![0, 1, 3]);
        assert_eq!(row_major_strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(fmt_index(&[3, 6]), "[3, 6]");
    }
}
