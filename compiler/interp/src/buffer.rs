//! Host buffers: the global memory a launch reads and writes.

use crate::elem::{Elem, Scalar};
use half::{bf16, f16};
use tessera_tir::ScalarType;

/// The typed elements of one buffer.
#[derive(Clone, Debug, PartialEq)]
pub enum HostData {
    I1(Vec<bool>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Evaluates `$e` with `$v` bound to the typed vector of a [`HostData`].
macro_rules! host_visit {
    ($data:expr, $v:ident => $e:expr) => {
        match $data {
            HostData::I1($v) => $e,
            HostData::I8($v) => $e,
            HostData::I16($v) => $e,
            HostData::I32($v) => $e,
            HostData::I64($v) => $e,
            HostData::F16($v) => $e,
            HostData::BF16($v) => $e,
            HostData::F32($v) => $e,
            HostData::F64($v) => $e,
        }
    };
}

/// One buffer of global memory, as a pointer parameter sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct HostBuffer {
    pub data: HostData,
}

impl HostBuffer {
    /// A buffer of `elem` holding `values`, each converted as `Cast` converts
    /// an f64: floats round to nearest even, ints truncate (saturating).
    pub fn from_f64(elem: ScalarType, values: &[f64]) -> HostBuffer {
        fn conv<T: Elem>(values: &[f64]) -> Vec<T> {
            values.iter().map(|&v| T::from_scalar(Scalar::Float(v))).collect()
        }
        let data = match elem {
            ScalarType::I1 => HostData::I1(conv(values)),
            ScalarType::I8 => HostData::I8(conv(values)),
            ScalarType::I16 => HostData::I16(conv(values)),
            ScalarType::I32 => HostData::I32(conv(values)),
            ScalarType::I64 => HostData::I64(conv(values)),
            ScalarType::F16 => HostData::F16(conv(values)),
            ScalarType::BF16 => HostData::BF16(conv(values)),
            ScalarType::F32 => HostData::F32(conv(values)),
            ScalarType::F64 => HostData::F64(conv(values)),
        };
        HostBuffer { data }
    }

    /// `len` zeros of `elem`.
    pub fn zeros(elem: ScalarType, len: usize) -> HostBuffer {
        HostBuffer::filled(elem, len, 0.0)
    }

    /// A buffer of no elements (a placeholder while a buffer is lent out).
    pub fn empty() -> HostBuffer {
        HostBuffer { data: HostData::I8(Vec::new()) }
    }

    /// `len` copies of `value` converted to `elem` (e.g. NaN to poison an
    /// output buffer, so unwritten elements show).
    pub fn filled(elem: ScalarType, len: usize, value: f64) -> HostBuffer {
        HostBuffer::from_f64(elem, &vec![value; len])
    }

    /// Every element widened to f64 (exact for every type but i64 beyond
    /// 2^53; i1 gives 0 or 1).
    pub fn to_f64(&self) -> Vec<f64> {
        host_visit!(&self.data, v => v.iter().map(|x| x.to_f64()).collect())
    }

    pub fn len(&self) -> usize {
        host_visit!(&self.data, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn elem(&self) -> ScalarType {
        match &self.data {
            HostData::I1(_) => ScalarType::I1,
            HostData::I8(_) => ScalarType::I8,
            HostData::I16(_) => ScalarType::I16,
            HostData::I32(_) => ScalarType::I32,
            HostData::I64(_) => ScalarType::I64,
            HostData::F16(_) => ScalarType::F16,
            HostData::BF16(_) => ScalarType::BF16,
            HostData::F32(_) => ScalarType::F32,
            HostData::F64(_) => ScalarType::F64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_f64_rounds_to_the_element_type() {
        let b = HostBuffer::from_f64(ScalarType::BF16, &[1.0 + 1.0 / 512.0, 3.0]);
        assert_eq!(b.to_f64(), vec![1.0, 3.0]);
        let i = HostBuffer::from_f64(ScalarType::I8, &[300.0, -2.7, f64::NAN]);
        assert_eq!(i.to_f64(), vec![127.0, -2.0, 0.0]);
        assert_eq!(i.elem(), ScalarType::I8);
        assert_eq!(i.len(), 3);
    }

    #[test]
    fn filled_with_nan_poisons_floats() {
        let b = HostBuffer::filled(ScalarType::F16, 4, f64::NAN);
        assert!(b.to_f64().iter().all(|v| v.is_nan()));
        assert_eq!(HostBuffer::zeros(ScalarType::I1, 2).data, HostData::I1(vec![false, false]));
    }
}
