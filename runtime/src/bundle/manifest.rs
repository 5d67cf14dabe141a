//! The manifest: everything about a bundle's kernels that is not machine code.
//!
//! These types are the JSON schema of the manifest section (see
//! `docs/bundle-format.md`). Every map is a `BTreeMap` and every list has a
//! defined order, so serializing the same manifest twice gives the same bytes.

use super::expr::GridExpr;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Element or scalar type of a kernel parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// Boolean; one byte in memory.
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

impl DType {
    /// Every type, in the order of the language spec.
    pub const ALL: [DType; 9] =
        [DType::I1, DType::I8, DType::I16, DType::I32, DType::I64, DType::F16, DType::BF16, DType::F32, DType::F64];

    /// The spelling used by the language and the manifest (`bf16`).
    pub fn name(self) -> &'static str {
        match self {
            DType::I1 => "i1",
            DType::I8 => "i8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }

    /// Size in bytes of one element in device memory and of a scalar argument.
    pub fn size(self) -> usize {
        match self {
            DType::I1 | DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }

    pub fn is_int(self) -> bool {
        matches!(self, DType::I8 | DType::I16 | DType::I32 | DType::I64)
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a runtime parameter receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ParamKind {
    /// A device pointer to elements of `elem` (`x: *f32`).
    Pointer { elem: DType },
    /// A scalar passed by value (`n: i32`).
    Scalar { dtype: DType },
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamKind::Pointer { elem } => write!(f, "*{elem}"),
            ParamKind::Scalar { dtype } => write!(f, "{dtype}"),
        }
    }
}

/// Promises the caller makes about an argument (`@div(16)`, `@contig`);
/// generated code relies on them, so the runtime checks them at launch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hints {
    /// Integers: the value is a multiple of this. Pointers: the address is a
    /// multiple of this many bytes.
    pub divisibility: Option<u32>,
    /// Integers: the value is 1 (a unit stride). Pointers: rows are contiguous
    /// (not checkable at launch; recorded for tools).
    pub contiguous: bool,
}

/// One runtime parameter of a kernel's signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    #[serde(flatten)]
    pub kind: ParamKind,
    pub hints: Hints,
}

/// A compile-time parameter: fixed per variant, visible to the grid expression.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConstParam {
    pub name: String,
    pub dtype: DType,
}

/// A compile-time value of a variant or a tuning axis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConstValue {
    Int(i64),
    Bool(bool),
    Float(f64),
}

impl ConstValue {
    /// The integer this value stands for in grid expressions (booleans are 0/1;
    /// floats have none).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            ConstValue::Int(v) => Some(*v),
            ConstValue::Bool(b) => Some(i64::from(*b)),
            ConstValue::Float(_) => None,
        }
    }
}

impl fmt::Display for ConstValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConstValue::Int(v) => write!(f, "{v}"),
            ConstValue::Bool(b) => write!(f, "{b}"),
            ConstValue::Float(v) => write!(f, "{v:?}"),
        }
    }
}

/// One axis of the tuning space: a compile-time parameter, `warps` or `stages`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TuneAxis {
    pub name: String,
    pub values: Vec<ConstValue>,
}

/// Everything about a kernel that its variants share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelDecl {
    pub name: String,
    /// Runtime parameters, in launch order.
    pub params: Vec<Param>,
    /// Compile-time parameters, in source order.
    pub const_params: Vec<ConstParam>,
    /// One to three grid dimensions over scalar and compile-time parameters.
    pub grid: Vec<GridExpr>,
    pub tune_space: Vec<TuneAxis>,
    /// Runtime parameter names whose values select a tuned variant.
    pub key: Vec<String>,
    /// Conditions over scalar and compile-time parameters that a launch of a
    /// variant needs (`require(cols <= BLOCK)`): variants for which one is
    /// zero are not candidates for that launch.
    pub require: Vec<GridExpr>,
}

impl KernelDecl {
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Whether `name` is an integer scalar parameter.
    pub fn is_int_scalar(&self, name: &str) -> bool {
        self.param(name).is_some_and(|p| matches!(p.kind, ParamKind::Scalar { dtype } if dtype.is_int()))
    }
}

/// The compile-time point and code-generation facts of one variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantInfo {
    /// Value of every compile-time parameter.
    pub consts: BTreeMap<String, ConstValue>,
    pub warps: u32,
    pub stages: u32,
    /// Programs per multiprocessor its registers were budgeted for (the
    /// `occupancy` knob; 1, the default, when a bundle predates it).
    #[serde(default = "one")]
    pub occupancy: u32,
    /// Integer runtime parameters this variant's code assumes are multiples
    /// of [`DIVISIBILITY`] (the build compiled it with `@div(16)` on them, so
    /// rows and tails need no run-time vector checks): the runtime admits it
    /// only for launches whose arguments are, and then prefers it to its
    /// unspecialized twin. Empty for an unspecialized variant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub divisible: Vec<String>,
    /// Integer runtime parameters this variant's code assumes equal to 1
    /// (the build compiled it with `@contig` on them: strides of tiles'
    /// last axes, so those tiles move in vectors): the runtime admits it only
    /// for launches whose arguments are 1, and then prefers it to its twins
    /// without the assumption. Empty for a variant that assumes none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unit: Vec<String>,
    /// Tensor maps the code reads with the bulk tensor copy engine, passed
    /// after the declared parameters in this order: the runtime encodes
    /// each from the launch's arguments. Empty for most variants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tensor_maps: Vec<TensorMapSpec>,
    /// Target architecture, e.g. `sm_90a` or `sm_80`.
    pub arch: String,
    /// Dynamic shared memory the kernel needs at launch, in bytes.
    pub shared_bytes: u32,
    pub registers: u32,
    /// Bytes spilled to local memory (0 when unknown or none).
    pub spills: u32,
    /// Entry-point symbol in the code objects.
    pub entry: String,
}

impl VariantInfo {
    /// A variant of `entry` for `arch` on `warps` warps with nothing else
    /// recorded: no compile-time values, one stage, occupancy 1, no shared
    /// memory, registers (0: unknown) or spills, no specialization and no
    /// tensor map. Tools and tests set the fields that matter to them by
    /// struct update.
    pub fn new(entry: impl Into<String>, arch: impl Into<String>, warps: u32) -> VariantInfo {
        VariantInfo {
            consts: BTreeMap::new(),
            warps,
            stages: 1,
            occupancy: 1,
            divisible: Vec::new(),
            unit: Vec::new(),
            tensor_maps: Vec::new(),
            arch: arch.into(),
            shared_bytes: 0,
            registers: 0,
            spills: 0,
            entry: entry.into(),
        }
    }

    /// Threads per program.
    pub fn threads(&self) -> u32 {
        self.warps.saturating_mul(32)
    }

    /// The integer value of compile-time parameter `name`, or of the
    /// `warps`, `stages` and `occupancy` knobs.
    pub fn value(&self, name: &str) -> Option<i64> {
        match name {
            "warps" => Some(i64::from(self.warps)),
            "stages" => Some(i64::from(self.stages)),
            "occupancy" => Some(i64::from(self.occupancy)),
            _ => self.consts.get(name).and_then(ConstValue::as_int),
        }
    }

    /// Short human-readable name: `BLOCK=1024,warps=4,stages=1@sm_90a`
    /// (see [`variant_label`]), then `/unit(a)` for a variant that assumes
    /// `a` equal to 1 and `/div16(b,c)` for one that assumes `b` and `c`
    /// divisible by 16.
    pub fn label(&self) -> String {
        let consts = self.consts.iter().map(|(k, v)| format!("{k}={v}"));
        let knobs = [self.warps, self.stages, self.occupancy].map(|k| k.to_string());
        let mut label = variant_label(consts, knobs, &self.arch);
        if !self.unit.is_empty() {
            label.push_str(&format!("/unit({})", self.unit.join(",")));
        }
        if !self.divisible.is_empty() {
            label.push_str(&format!("/div{DIVISIBILITY}({})", self.divisible.join(",")));
        }
        label
    }

    /// Whether this variant assumes anything of its arguments
    /// ([`VariantInfo::divisible`], [`VariantInfo::unit`]).
    pub fn is_specialized(&self) -> bool {
        !self.divisible.is_empty() || !self.unit.is_empty()
    }

    /// The parameters this variant assumes something of.
    pub fn assumed(&self) -> impl Iterator<Item = &str> {
        self.unit.iter().chain(&self.divisible).map(String::as_str)
    }

    /// The same compile-time point and launch knobs as `other`: the same
    /// tuning point, whatever the architecture or specialization.
    pub fn same_point(&self, other: &VariantInfo) -> bool {
        self.consts == other.consts
            && self.warps == other.warps
            && self.stages == other.stages
            && self.occupancy == other.occupancy
    }

    /// Whether the integer arguments given by `args` (by name) meet this
    /// variant's [`VariantInfo::divisible`] and [`VariantInfo::unit`]
    /// assumptions, and its tensor maps can address the views they give
    /// (a negative row stride, say, leaves the launch to a twin without
    /// tensor maps).
    pub fn assumptions_hold(&self, args: &dyn Fn(&str) -> Option<i64>) -> bool {
        self.specializations_hold(args) && self.tensor_maps.iter().all(|map| map.geometry(args).is_ok())
    }

    /// The [`VariantInfo::divisible`] and [`VariantInfo::unit`] part of
    /// [`VariantInfo::assumptions_hold`].
    pub fn specializations_hold(&self, args: &dyn Fn(&str) -> Option<i64>) -> bool {
        self.divisible.iter().all(|name| args(name).is_some_and(|v| v % i64::from(DIVISIBILITY) == 0))
            && self.unit.iter().all(|name| args(name) == Some(1))
    }

    /// What this variant assumes of its arguments, for messages: `a and b
    /// equal to 1, c divisible by 16`.
    pub fn assumptions(&self) -> String {
        let mut parts = Vec::new();
        if !self.unit.is_empty() {
            parts.push(format!("{} equal to 1", self.unit.join(", ")));
        }
        if !self.divisible.is_empty() {
            parts.push(format!("{} divisible by {DIVISIBILITY}", self.divisible.join(", ")));
        }
        if !self.tensor_maps.is_empty() {
            parts.push("strides its tensor maps can address (positive multiples of 16 bytes)".into());
        }
        parts.join("; ")
    }
}

/// How to build one tensor map (a CUDA `CUtensorMap`, 128 bytes) at launch:
/// a view of `base` with extents `dims` and element strides `strides` (of
/// dimensions 1 and up; dimension 0, the contiguous one, has stride 1),
/// read in boxes of `box_dims` elements that land in shared memory with a
/// `swizzle`-byte swizzle. Out-of-view elements read as zeros.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorMapSpec {
    /// The pointer parameter holding the view's base.
    pub base: String,
    pub elem: DType,
    /// Extents in elements, dimension 0 (contiguous) first.
    pub dims: Vec<GridExpr>,
    /// Element strides of dimensions 1 and up.
    pub strides: Vec<GridExpr>,
    /// Box extents, dimension 0 first.
    pub box_dims: Vec<u32>,
    /// Shared-memory swizzle in bytes: 32, 64 or 128.
    pub swizzle: u32,
}

/// The extents of a tensor-map dimension: at most 2^32.
const MAX_TENSOR_MAP_DIM: i64 = 1 << 32;
/// Tensor-map strides: positive multiples of 16 bytes below 2^40.
const MAX_TENSOR_MAP_STRIDE_BYTES: i64 = 1 << 40;

/// A tensor map's extents and byte strides for one launch
/// ([`TensorMapSpec::geometry`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorMapGeometry {
    pub dims: Vec<u64>,
    pub stride_bytes: Vec<u64>,
}

impl TensorMapSpec {
    /// The extents and byte strides this map has for the integer arguments
    /// `args` gives (by name): `None` when the view is empty (an extent of
    /// 0 or less), an error naming the expression for what the copy engine
    /// cannot address (a stride that is not a positive multiple of 16
    /// bytes below 2^40, an extent past 2^32, an argument missing).
    pub fn geometry(&self, args: &dyn Fn(&str) -> Option<i64>) -> Result<Option<TensorMapGeometry>, String> {
        let eval = |e: &GridExpr| e.eval(args).map_err(|err| format!("`{e}`: {err}"));
        let mut dims = Vec::with_capacity(self.dims.len());
        let mut empty = false;
        for e in &self.dims {
            let d = eval(e)?;
            if d > MAX_TENSOR_MAP_DIM {
                return Err(format!("extent `{e}` = {d} is past the copy engine's 2^32"));
            }
            empty |= d <= 0;
            dims.push(d.max(0) as u64);
        }
        let size = self.elem.size() as i64;
        let mut stride_bytes = Vec::with_capacity(self.strides.len());
        for e in &self.strides {
            let s = eval(e)?;
            let bytes = s.checked_mul(size).unwrap_or(i64::MAX);
            if !empty && (s <= 0 || bytes % 16 != 0 || bytes >= MAX_TENSOR_MAP_STRIDE_BYTES) {
                return Err(format!(
                    "stride `{e}` = {s} elements of {}: the copy engine needs a positive multiple of 16 bytes below 2^40",
                    self.elem
                ));
            }
            stride_bytes.push(bytes.max(0) as u64);
        }
        Ok((!empty).then_some(TensorMapGeometry { dims, stride_bytes }))
    }
}

/// A variant's label, the key of tuning caches and build reports:
/// `NAME=VALUE,` for each compile-time value (`consts`, in name order), then
/// `warps=W,stages=S`, `,occupancy=O` when O is not 1 (so labels from before
/// the knob stay the same), and `@ARCH`. `knobs` is (warps, stages,
/// occupancy) as written (a build report may label a point whose value the
/// front end refused).
pub fn variant_label(consts: impl IntoIterator<Item = String>, knobs: [String; 3], arch: &str) -> String {
    let [warps, stages, occupancy] = knobs;
    let mut s = String::new();
    for c in consts {
        s.push_str(&c);
        s.push(',');
    }
    let occupancy = if occupancy == "1" { String::new() } else { format!(",occupancy={occupancy}") };
    format!("{s}warps={warps},stages={stages}{occupancy}@{arch}")
}

/// The divisor a specialized variant assumes of its [`VariantInfo::divisible`]
/// arguments (16, as Triton's specialization: 16-byte vectors of any
/// element type down to bytes).
pub const DIVISIBILITY: u32 = 16;

fn one() -> u32 {
    1
}

/// Indices into the bundle's code-object table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRefs {
    /// PTX text (UTF-8), JIT-compiled by the driver.
    pub ptx: Option<u32>,
    /// A cubin for exactly `arch`.
    pub cubin: Option<u32>,
}

/// One compiled variant as recorded in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantEntry {
    #[serde(flatten)]
    pub info: VariantInfo,
    pub code: CodeRefs,
}

/// One kernel as recorded in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelEntry {
    #[serde(flatten)]
    pub decl: KernelDecl,
    pub variants: Vec<VariantEntry>,
}

/// The manifest section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub compiler_version: String,
    /// SHA-256 (hex) of the `.tsr` source the bundle was compiled from.
    pub source_hash: String,
    /// Sorted by name.
    pub kernels: Vec<KernelEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(occupancy: u32) -> VariantInfo {
        VariantInfo {
            consts: BTreeMap::from([("BLOCK".to_string(), ConstValue::Int(64))]),
            stages: 2,
            occupancy,
            registers: 128,
            ..VariantInfo::new("k", "sm_90a", 8)
        }
    }

    /// A manifest written before the `occupancy` knob reads as occupancy 1;
    /// the label names the knob only when it is not 1, so labels (and the
    /// tuning caches keyed by them) of such variants do not change.
    #[test]
    fn occupancy_defaults_to_one_and_labels_only_when_set() {
        let mut json = serde_json::to_value(info(1)).expect("serializes");
        json.as_object_mut().expect("an object").remove("occupancy");
        let old: VariantInfo = serde_json::from_value(json).expect("reads without the field");
        assert_eq!(old, info(1));
        assert_eq!(old.label(), "BLOCK=64,warps=8,stages=2@sm_90a");
        assert_eq!(info(2).label(), "BLOCK=64,warps=8,stages=2,occupancy=2@sm_90a");
        assert_eq!(info(2).value("occupancy"), Some(2));
    }
}
