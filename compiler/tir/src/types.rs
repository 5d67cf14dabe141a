//! Element types, shapes and value types of the tile IR.

use std::fmt;

/// A scalar element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScalarType {
    /// Boolean (masks, comparison results).
    I1,
    I8,
    I16,
    I32,
    I64,
    F16,
    BF16,
    F32,
    F64,
}

impl ScalarType {
    pub const ALL: [ScalarType; 9] = [
        ScalarType::I1,
        ScalarType::I8,
        ScalarType::I16,
        ScalarType::I32,
        ScalarType::I64,
        ScalarType::F16,
        ScalarType::BF16,
        ScalarType::F32,
        ScalarType::F64,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ScalarType::I1 => "i1",
            ScalarType::I8 => "i8",
            ScalarType::I16 => "i16",
            ScalarType::I32 => "i32",
            ScalarType::I64 => "i64",
            ScalarType::F16 => "f16",
            ScalarType::BF16 => "bf16",
            ScalarType::F32 => "f32",
            ScalarType::F64 => "f64",
        }
    }

    /// Parse an IR or source spelling (`bool` is accepted for `i1`).
    pub fn from_name(name: &str) -> Option<ScalarType> {
        Some(match name {
            "i1" | "bool" => ScalarType::I1,
            "i8" => ScalarType::I8,
            "i16" => ScalarType::I16,
            "i32" => ScalarType::I32,
            "i64" => ScalarType::I64,
            "f16" => ScalarType::F16,
            "bf16" => ScalarType::BF16,
            "f32" => ScalarType::F32,
            "f64" => ScalarType::F64,
            _ => return None,
        })
    }

    pub fn is_float(self) -> bool {
        matches!(self, ScalarType::F16 | ScalarType::BF16 | ScalarType::F32 | ScalarType::F64)
    }
    pub fn is_int(self) -> bool {
        !self.is_float()
    }
    pub fn is_bool(self) -> bool {
        self == ScalarType::I1
    }
    /// Bits of storage (i1 is stored as one byte in memory, 1 bit here).
    pub fn bits(self) -> u32 {
        match self {
            ScalarType::I1 => 1,
            ScalarType::I8 => 8,
            ScalarType::I16 | ScalarType::F16 | ScalarType::BF16 => 16,
            ScalarType::I32 | ScalarType::F32 => 32,
            ScalarType::I64 | ScalarType::F64 => 64,
        }
    }
    /// Bytes one element occupies in global memory.
    pub fn bytes(self) -> u32 {
        self.bits().div_ceil(8)
    }
}

impl fmt::Display for ScalarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The element of a tensor: a number or a pointer to numbers in global memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElemType {
    Scalar(ScalarType),
    /// A global-memory address of an element of the given type.
    Ptr(ScalarType),
}

impl ElemType {
    pub fn scalar(self) -> Option<ScalarType> {
        match self {
            ElemType::Scalar(s) => Some(s),
            ElemType::Ptr(_) => None,
        }
    }
    pub fn pointee(self) -> Option<ScalarType> {
        match self {
            ElemType::Ptr(s) => Some(s),
            ElemType::Scalar(_) => None,
        }
    }
}

impl fmt::Display for ElemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElemType::Scalar(s) => write!(f, "{s}"),
            ElemType::Ptr(s) => write!(f, "ptr<{s}>"),
        }
    }
}

/// A static shape; empty for scalars. Dimensions are positive but need not be
/// powers of two.
pub type Shape = Vec<u32>;

/// The type of an IR value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// A scalar (`shape` empty) or a block tensor of `elem`.
    Tensor { elem: ElemType, shape: Shape },
    /// A block pointer (tensor descriptor): a base pointer with a
    /// rank-`block.len()` view (shape, strides, offsets held as operands of
    /// the `make_block_ptr` that made it) whose loads yield `block`-shaped
    /// tensors of `elem`.
    BlockPtr { elem: ScalarType, block: Shape },
}

impl Type {
    pub fn scalar(s: ScalarType) -> Type {
        Type::Tensor { elem: ElemType::Scalar(s), shape: Vec::new() }
    }
    pub fn tensor(s: ScalarType, shape: Shape) -> Type {
        Type::Tensor { elem: ElemType::Scalar(s), shape }
    }
    pub fn ptr(pointee: ScalarType, shape: Shape) -> Type {
        Type::Tensor { elem: ElemType::Ptr(pointee), shape }
    }
    pub fn elem(&self) -> Option<ElemType> {
        match self {
            Type::Tensor { elem, .. } => Some(*elem),
            Type::BlockPtr { .. } => None,
        }
    }
    /// The scalar element type of a numeric value (None for pointers, block pointers).
    pub fn scalar_elem(&self) -> Option<ScalarType> {
        self.elem().and_then(ElemType::scalar)
    }
    pub fn shape(&self) -> &[u32] {
        match self {
            Type::Tensor { shape, .. } => shape,
            Type::BlockPtr { block, .. } => block,
        }
    }
    pub fn is_scalar(&self) -> bool {
        matches!(self, Type::Tensor { shape, .. } if shape.is_empty())
    }
    pub fn num_elements(&self) -> u64 {
        self.shape().iter().map(|&d| d as u64).product()
    }
    /// Same shape, another element type.
    pub fn with_elem(&self, elem: ElemType) -> Type {
        Type::Tensor { elem, shape: self.shape().to_vec() }
    }
    /// Same element type, another shape.
    pub fn with_shape(&self, shape: Shape) -> Type {
        match self {
            Type::Tensor { elem, .. } => Type::Tensor { elem: *elem, shape },
            Type::BlockPtr { elem, .. } => Type::BlockPtr { elem: *elem, block: shape },
        }
    }
}

/// IR text form: `f32`, `ptr<bf16>`, `tensor<64x32xf32>`,
/// `tensor<128xptr<f16>>`, `blockptr<64x64xbf16>`.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Tensor { elem, shape } if shape.is_empty() => write!(f, "{elem}"),
            Type::Tensor { elem, shape } => {
                f.write_str("tensor<")?;
                for d in shape {
                    write!(f, "{d}x")?;
                }
                write!(f, "{elem}>")
            }
            Type::BlockPtr { elem, block } => {
                f.write_str("blockptr<")?;
                for d in block {
                    write!(f, "{d}x")?;
                }
                write!(f, "{elem}>")
            }
        }
    }
}
