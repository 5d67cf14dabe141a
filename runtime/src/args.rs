//! Launch arguments and their validation against a kernel's signature.
//!
//! Validation needs no device: a pointer argument is its address, element
//! type and length, so everything the signature promises (count, types, null,
//! alignment, `@div`, `@contig`) is checked here and tested without a GPU.

use crate::bundle::{DType, KernelDecl, ParamKind};
use half::{bf16, f16};
use std::fmt;

/// A scalar argument value, typed as in the signature.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    F16(f16),
    BF16(bf16),
    F32(f32),
    F64(f64),
}

impl Scalar {
    pub fn dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::I1,
            Scalar::I8(_) => DType::I8,
            Scalar::I16(_) => DType::I16,
            Scalar::I32(_) => DType::I32,
            Scalar::I64(_) => DType::I64,
            Scalar::F16(_) => DType::F16,
            Scalar::BF16(_) => DType::BF16,
            Scalar::F32(_) => DType::F32,
            Scalar::F64(_) => DType::F64,
        }
    }

    /// The integer value of an integer or boolean scalar.
    pub fn as_int(self) -> Option<i64> {
        match self {
            Scalar::Bool(b) => Some(i64::from(b)),
            Scalar::I8(v) => Some(v.into()),
            Scalar::I16(v) => Some(v.into()),
            Scalar::I32(v) => Some(v.into()),
            Scalar::I64(v) => Some(v),
            _ => None,
        }
    }

    /// Little-endian bytes as the kernel receives them.
    pub fn to_le_bytes(self) -> Vec<u8> {
        match self {
            Scalar::Bool(b) => vec![u8::from(b)],
            Scalar::I8(v) => v.to_le_bytes().to_vec(),
            Scalar::I16(v) => v.to_le_bytes().to_vec(),
            Scalar::I32(v) => v.to_le_bytes().to_vec(),
            Scalar::I64(v) => v.to_le_bytes().to_vec(),
            Scalar::F16(v) => v.to_le_bytes().to_vec(),
            Scalar::BF16(v) => v.to_le_bytes().to_vec(),
            Scalar::F32(v) => v.to_le_bytes().to_vec(),
            Scalar::F64(v) => v.to_le_bytes().to_vec(),
        }
    }

    /// Convert a number to a scalar of `dtype`, if it is representable
    /// (integers must be whole and in range; floats round).
    pub fn from_f64(dtype: DType, value: f64) -> Option<Scalar> {
        let int = |lo: f64, hi: f64| (value.fract() == 0.0 && value >= lo && value <= hi).then_some(value);
        Some(match dtype {
            DType::I1 => Scalar::Bool(value != 0.0),
            DType::I8 => Scalar::I8(int(i8::MIN.into(), i8::MAX.into())? as i8),
            DType::I16 => Scalar::I16(int(i16::MIN.into(), i16::MAX.into())? as i16),
            DType::I32 => Scalar::I32(int(i32::MIN.into(), i32::MAX.into())? as i32),
            DType::I64 => Scalar::I64(int(-9.223_372_036_854_776e18, 9.223_372_036_854_775e18)? as i64),
            DType::F16 => Scalar::F16(f16::from_f64(value)),
            DType::BF16 => Scalar::BF16(bf16::from_f64(value)),
            DType::F32 => Scalar::F32(value as f32),
            DType::F64 => Scalar::F64(value),
        })
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(v) => write!(f, "{v}"),
            Scalar::I8(v) => write!(f, "{v}"),
            Scalar::I16(v) => write!(f, "{v}"),
            Scalar::I32(v) => write!(f, "{v}"),
            Scalar::I64(v) => write!(f, "{v}"),
            Scalar::F16(v) => write!(f, "{v}"),
            Scalar::BF16(v) => write!(f, "{v}"),
            Scalar::F32(v) => write!(f, "{v}"),
            Scalar::F64(v) => write!(f, "{v}"),
        }
    }
}

/// One argument as the validator sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ArgValue {
    /// A device allocation (or a view of one): its address, element type and
    /// number of elements.
    Pointer {
        addr: u64,
        elem: DType,
        len: usize,
    },
    Scalar(Scalar),
}

impl ArgValue {
    fn describe(&self) -> String {
        match self {
            ArgValue::Pointer { elem, .. } => format!("a pointer to {elem}"),
            ArgValue::Scalar(s) => format!("a {} scalar", s.dtype()),
        }
    }
}

/// Anything that can be passed as a kernel argument.
pub trait IntoArg {
    fn into_arg(self) -> ArgValue;
}

macro_rules! scalar_into_arg {
    ($($t:ty => $v:ident),*) => {$(
        impl IntoArg for $t {
            fn into_arg(self) -> ArgValue { ArgValue::Scalar(Scalar::$v(self)) }
        }
    )*};
}
scalar_into_arg!(bool => Bool, i8 => I8, i16 => I16, i32 => I32, i64 => I64, f16 => F16, bf16 => BF16, f32 => F32, f64 => F64);

impl IntoArg for Scalar {
    fn into_arg(self) -> ArgValue {
        ArgValue::Scalar(self)
    }
}

impl IntoArg for ArgValue {
    fn into_arg(self) -> ArgValue {
        self
    }
}

/// Arguments of one launch, named (`arg`) or positional (`push`). Borrows the
/// buffers it points to, so they outlive the launch call.
#[derive(Clone, Debug, Default)]
pub struct LaunchArgs<'a> {
    given: Vec<(Option<String>, ArgValue)>,
    pins: Pins,
    _buffers: std::marker::PhantomData<&'a ()>,
}

impl<'a> LaunchArgs<'a> {
    pub fn new() -> LaunchArgs<'a> {
        LaunchArgs::default()
    }

    /// Set the parameter called `name`.
    pub fn arg(mut self, name: &str, value: impl IntoArg + 'a) -> LaunchArgs<'a> {
        self.given.push((Some(name.to_string()), value.into_arg()));
        self
    }

    /// Set the next parameter in signature order (positional arguments fill
    /// the signature from the start, before any named ones are matched).
    pub fn push(mut self, value: impl IntoArg + 'a) -> LaunchArgs<'a> {
        self.given.push((None, value.into_arg()));
        self
    }

    /// Launch only variants whose compile-time parameter `name` is `value`:
    /// for parameters that must match the data (a head width compiled in),
    /// which a bundle holds one specialization of per value. Pins are part of
    /// the tuning key.
    pub fn pin(mut self, name: &str, value: i64) -> LaunchArgs<'a> {
        self.pins.set(name, value);
        self
    }

    pub fn pins(&self) -> &Pins {
        &self.pins
    }

    /// Validate against `decl` (the pins too); on success the values are in
    /// signature order.
    pub fn bind(&self, decl: &KernelDecl) -> Result<Vec<ArgValue>, ArgError> {
        self.pins.check(decl)?;
        bind(decl, &self.given)
    }
}

/// Compile-time values a launch fixes (see [`LaunchArgs::pin`]), sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pins(Vec<(String, i64)>);

impl Pins {
    pub fn set(&mut self, name: &str, value: i64) {
        self.0.retain(|(n, _)| n != name);
        self.0.push((name.to_string(), value));
        self.0.sort();
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, i64)> {
        self.0.iter().map(|(n, v)| (n.as_str(), *v))
    }

    /// Whether the pins allow a variant.
    pub fn admit(&self, info: &crate::bundle::VariantInfo) -> bool {
        self.iter().all(|(name, value)| info.value(name) == Some(value))
    }

    /// Every pin names a compile-time parameter of `decl` (or a launch
    /// knob: `warps`, `stages`, `occupancy`): checked with the arguments,
    /// before any device work.
    pub fn check(&self, decl: &KernelDecl) -> Result<(), ArgError> {
        match self.iter().find(|(name, _)| {
            !crate::bundle::KNOBS.contains(name) && !decl.const_params.iter().any(|p| p.name == *name)
        }) {
            None => Ok(()),
            Some((name, value)) => Err(ArgError::UnknownPin {
                kernel: decl.name.clone(),
                pin: format!("{name}={value}"),
                params: decl
                    .const_params
                    .iter()
                    .map(|p| p.name.as_str())
                    .chain(crate::bundle::KNOBS)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

impl fmt::Display for Pins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.iter().map(|(n, v)| format!("{n}={v}")).collect();
        f.write_str(&parts.join(","))
    }
}

/// An argument that does not fit the kernel's signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    #[error("kernel `{kernel}` has no parameter `{arg}` (its parameters: {params})")]
    Unknown { kernel: String, arg: String, params: String },
    #[error("kernel `{kernel}` has no compile-time parameter to pin as `{pin}` (it has: {params})")]
    UnknownPin { kernel: String, pin: String, params: String },
    #[error("kernel `{kernel}`: argument `{arg}` is given twice")]
    Duplicate { kernel: String, arg: String },
    #[error("kernel `{kernel}` takes {expected} arguments, {given} were given")]
    TooMany { kernel: String, expected: usize, given: usize },
    #[error("kernel `{kernel}`: missing argument `{arg}` of type {kind}")]
    Missing { kernel: String, arg: String, kind: String },
    #[error("kernel `{kernel}`: argument `{arg}` expects {expected}, got {found}")]
    TypeMismatch { kernel: String, arg: String, expected: String, found: String },
    #[error("kernel `{kernel}`: argument `{arg}` is a null pointer")]
    NullPointer { kernel: String, arg: String },
    #[error("kernel `{kernel}`: argument `{arg}` at address {addr:#x} is not aligned to {align} bytes ({why})")]
    Misaligned { kernel: String, arg: String, addr: u64, align: u64, why: String },
    #[error(
        "kernel `{kernel}`: argument `{arg}` = {value} is not a multiple of {divisor} (the signature promises @div({divisor}))"
    )]
    NotDivisible { kernel: String, arg: String, value: i64, divisor: u32 },
    #[error("kernel `{kernel}`: argument `{arg}` = {value}, but the signature promises @contig (a unit stride, 1)")]
    NotContiguous { kernel: String, arg: String, value: i64 },
}

/// Match given arguments to the signature and check every promise.
pub fn bind(decl: &KernelDecl, given: &[(Option<String>, ArgValue)]) -> Result<Vec<ArgValue>, ArgError> {
    let kernel = || decl.name.clone();
    let mut slots: Vec<Option<ArgValue>> = vec![None; decl.params.len()];
    let positional = given.iter().filter(|(n, _)| n.is_none()).count();
    if positional > decl.params.len() || given.len() > decl.params.len() {
        return Err(ArgError::TooMany { kernel: kernel(), expected: decl.params.len(), given: given.len() });
    }
    let mut next = 0;
    for (name, value) in given {
        let index = match name {
            None => {
                next += 1;
                next - 1
            }
            Some(name) => decl.params.iter().position(|p| &p.name == name).ok_or_else(|| ArgError::Unknown {
                kernel: kernel(),
                arg: name.clone(),
                params: decl.params.iter().map(|p| format!("{}: {}", p.name, p.kind)).collect::<Vec<_>>().join(", "),
            })?,
        };
        let Some(slot) = slots.get_mut(index) else {
            return Err(ArgError::TooMany { kernel: kernel(), expected: decl.params.len(), given: given.len() });
        };
        if slot.is_some() {
            return Err(ArgError::Duplicate { kernel: kernel(), arg: decl.params[index].name.clone() });
        }
        *slot = Some(*value);
    }
    let mut bound = Vec::with_capacity(slots.len());
    for (param, slot) in decl.params.iter().zip(slots) {
        let arg = || param.name.clone();
        let value =
            slot.ok_or_else(|| ArgError::Missing { kernel: kernel(), arg: arg(), kind: param.kind.to_string() })?;
        let mismatch = || ArgError::TypeMismatch {
            kernel: kernel(),
            arg: arg(),
            expected: match param.kind {
                ParamKind::Pointer { elem } => format!("a pointer to {elem}"),
                ParamKind::Scalar { dtype } => format!("a {dtype} scalar"),
            },
            found: value.describe(),
        };
        match (param.kind, value) {
            (ParamKind::Pointer { elem }, ArgValue::Pointer { addr, elem: found, .. }) => {
                if elem != found {
                    return Err(mismatch());
                }
                if addr == 0 {
                    return Err(ArgError::NullPointer { kernel: kernel(), arg: arg() });
                }
                let misaligned =
                    |align: u64, why: String| ArgError::Misaligned { kernel: kernel(), arg: arg(), addr, align, why };
                let natural = elem.size() as u64;
                if addr % natural != 0 {
                    return Err(misaligned(natural, format!("the size of {elem}")));
                }
                if let Some(div) = param.hints.divisibility.map(u64::from).filter(|d| addr % d != 0) {
                    return Err(misaligned(div, format!("the signature promises @div({div})")));
                }
            }
            (ParamKind::Scalar { dtype }, ArgValue::Scalar(s)) => {
                if s.dtype() != dtype {
                    return Err(mismatch());
                }
                if let Some(v) = s.as_int().filter(|_| dtype.is_int()) {
                    if let Some(d) = param.hints.divisibility.filter(|d| v % i64::from(*d) != 0) {
                        return Err(ArgError::NotDivisible { kernel: kernel(), arg: arg(), value: v, divisor: d });
                    }
                    if param.hints.contiguous && v != 1 {
                        return Err(ArgError::NotContiguous { kernel: kernel(), arg: arg(), value: v });
                    }
                }
            }
            _ => return Err(mismatch()),
        }
        bound.push(value);
    }
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{GridExpr, Hints, Param};

    fn decl() -> KernelDecl {
        let param = |name: &str, kind, divisibility, contiguous| Param {
            name: name.into(),
            kind,
            hints: Hints { divisibility, contiguous },
        };
        KernelDecl {
            name: "add".into(),
            params: vec![
                param("x", ParamKind::Pointer { elem: DType::F32 }, Some(16), false),
                param("y", ParamKind::Pointer { elem: DType::F32 }, None, false),
                param("n", ParamKind::Scalar { dtype: DType::I32 }, Some(4), false),
                param("stride", ParamKind::Scalar { dtype: DType::I64 }, None, true),
                param("alpha", ParamKind::Scalar { dtype: DType::F32 }, None, false),
            ],
            const_params: vec![],
            grid: vec![GridExpr::Int(1)],
            tune_space: vec![],
            key: vec![],
            require: vec![],
        }
    }

    fn ptr(addr: u64) -> ArgValue {
        ArgValue::Pointer { addr, elem: DType::F32, len: 8 }
    }

    fn good() -> LaunchArgs<'static> {
        LaunchArgs::new()
            .arg("x", ptr(0x1000))
            .arg("y", ptr(0x2004))
            .arg("n", 8i32)
            .arg("stride", 1i64)
            .arg("alpha", 2.0f32)
    }

    #[test]
    fn named_and_positional_arguments_bind_in_signature_order() {
        let bound = good().bind(&decl()).unwrap();
        assert_eq!(bound[2], ArgValue::Scalar(Scalar::I32(8)));
        let positional = LaunchArgs::new()
            .push(ptr(0x1000))
            .push(ptr(0x2004))
            .arg("alpha", 2.0f32)
            .arg("stride", 1i64)
            .arg("n", 8i32);
        assert_eq!(positional.bind(&decl()).unwrap(), bound);
    }

    fn err(args: LaunchArgs<'_>) -> String {
        args.bind(&decl()).unwrap_err().to_string()
    }

    #[test]
    fn count_and_name_errors_name_the_kernel_and_argument() {
        assert_eq!(err(good().arg("z", 1i32)), "kernel `add` takes 5 arguments, 6 were given");
        assert_eq!(
            err(LaunchArgs::new().arg("z", 1i32)),
            "kernel `add` has no parameter `z` (its parameters: x: *f32, y: *f32, n: i32, stride: i64, alpha: f32)"
        );
        assert_eq!(err(LaunchArgs::new().arg("n", 4i32).arg("n", 8i32)), "kernel `add`: argument `n` is given twice");
        assert_eq!(
            err(LaunchArgs::new().push(ptr(0x1000)).arg("x", ptr(0x1000))),
            "kernel `add`: argument `x` is given twice"
        );
        assert_eq!(err(LaunchArgs::new().arg("x", ptr(0x1000))), "kernel `add`: missing argument `y` of type *f32");
        let six = (0..6).fold(LaunchArgs::new(), |a, _| a.push(1i32));
        assert_eq!(err(six), "kernel `add` takes 5 arguments, 6 were given");
    }

    #[test]
    fn type_errors() {
        assert_eq!(
            err(replace(good(), "x", ArgValue::Pointer { addr: 0x1000, elem: DType::F16, len: 1 })),
            "kernel `add`: argument `x` expects a pointer to f32, got a pointer to f16"
        );
        assert_eq!(
            err(replace(good(), "n", 8i64)),
            "kernel `add`: argument `n` expects a i32 scalar, got a i64 scalar"
        );
        assert_eq!(
            err(replace(good(), "n", ptr(0x1000))),
            "kernel `add`: argument `n` expects a i32 scalar, got a pointer to f32"
        );
        assert_eq!(
            err(replace(good(), "x", 3i32)),
            "kernel `add`: argument `x` expects a pointer to f32, got a i32 scalar"
        );
    }

    #[test]
    fn pointer_promises() {
        assert_eq!(err(replace(good(), "x", ptr(0))), "kernel `add`: argument `x` is a null pointer");
        assert_eq!(
            err(replace(good(), "x", ptr(0x1008))),
            "kernel `add`: argument `x` at address 0x1008 is not aligned to 16 bytes (the signature promises @div(16))"
        );
        assert_eq!(
            err(replace(good(), "y", ptr(0x2002))),
            "kernel `add`: argument `y` at address 0x2002 is not aligned to 4 bytes (the size of f32)"
        );
    }

    #[test]
    fn integer_promises() {
        assert_eq!(
            err(replace(good(), "n", 10i32)),
            "kernel `add`: argument `n` = 10 is not a multiple of 4 (the signature promises @div(4))"
        );
        assert!(replace(good(), "n", -8i32).bind(&decl()).is_ok());
        assert_eq!(
            err(replace(good(), "stride", 2i64)),
            "kernel `add`: argument `stride` = 2, but the signature promises @contig (a unit stride, 1)"
        );
    }

    #[test]
    fn scalars_convert_only_when_representable() {
        assert_eq!(Scalar::from_f64(DType::I32, 7.0), Some(Scalar::I32(7)));
        assert_eq!(Scalar::from_f64(DType::I32, 7.5), None);
        assert_eq!(Scalar::from_f64(DType::I8, 300.0), None);
        assert_eq!(Scalar::from_f64(DType::I1, 2.0), Some(Scalar::Bool(true)));
        assert_eq!(Scalar::from_f64(DType::F16, 0.5), Some(Scalar::F16(f16::from_f32(0.5))));
        assert_eq!(Scalar::I32(-2).to_le_bytes(), vec![0xfe, 0xff, 0xff, 0xff]);
    }

    /// `good()` with one argument's value replaced.
    fn replace<'a>(args: LaunchArgs<'a>, name: &str, value: impl IntoArg + 'a) -> LaunchArgs<'a> {
        let value = value.into_arg();
        LaunchArgs {
            given: args
                .given
                .into_iter()
                .map(|(n, v)| if n.as_deref() == Some(name) { (n, value) } else { (n, v) })
                .collect(),
            pins: args.pins,
            _buffers: std::marker::PhantomData,
        }
    }

    #[test]
    fn pins_admit_matching_variants_and_print_sorted() {
        use crate::bundle::ConstValue;
        let args = LaunchArgs::new().pin("DK", 128).pin("BLOCK", 64).pin("DK", 64);
        assert_eq!(args.pins().to_string(), "BLOCK=64,DK=64");
        let info = |dk: i64, warps: u32| crate::bundle::VariantInfo {
            consts: std::collections::BTreeMap::from([
                ("DK".to_string(), ConstValue::Int(dk)),
                ("BLOCK".to_string(), ConstValue::Int(64)),
            ]),
            ..crate::bundle::VariantInfo::new("k", "sm_90a", warps)
        };
        assert!(args.pins().admit(&info(64, 4)));
        assert!(!args.pins().admit(&info(128, 4)));
        let warps = LaunchArgs::new().pin("warps", 8);
        assert!(warps.pins().admit(&info(64, 8)) && !warps.pins().admit(&info(64, 4)));
    }
}
