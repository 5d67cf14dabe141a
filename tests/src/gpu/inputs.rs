//! One case's arguments made concrete: scalars evaluated, buffers filled
//! from a seed, outputs poisoned; and the byte encoding the device uses.
//!
//! The same [`HostArgs`] feed the GPU launch (as little-endian bytes) and the
//! interpreter (as [`HostBuffer`]s), and their buffers, widened to f64, are
//! the inputs *as stored* that the float64 references are given.

use crate::gpu::access::pointer_access;
use half::{bf16, f16};
use std::collections::HashMap;
use tessera_interp::{HostBuffer, HostData, KernelArg};
use tessera_runtime::host_values::{BufferSpec, Fill, SplitMix64, eval_expr};
use tessera_tir::{ElemType, Kernel, ScalarType, Type};

/// The longest buffer a case may ask for: 2^34 elements.
const MAX_LEN: usize = 1 << 34;

/// One argument of a launch.
#[derive(Clone, Debug, PartialEq)]
pub enum HostValue {
    /// A scalar of type `ty`; integers are whole.
    Scalar { ty: ScalarType, value: f64 },
    Buffer {
        buffer: HostBuffer,
        /// Written by the kernel: compared after the launch.
        output: bool,
        /// Written and never read: filled with NaN, whatever the case said.
        poisoned: bool,
    },
}

/// Every argument of a launch, in the kernel's parameter order.
#[derive(Clone, Debug, PartialEq)]
pub struct HostArgs {
    pub args: Vec<(String, HostValue)>,
}

impl HostArgs {
    /// The scalar argument `name` (None if there is no such scalar).
    pub fn scalar(&self, name: &str) -> Option<f64> {
        self.args.iter().find_map(|(n, v)| match v {
            HostValue::Scalar { value, .. } if n == name => Some(*value),
            _ => None,
        })
    }

    /// The buffer argument `name`, widened to f64.
    pub fn buffer(&self, name: &str) -> Option<Vec<f64>> {
        self.args.iter().find_map(|(n, v)| match v {
            HostValue::Buffer { buffer, .. } if n == name => Some(buffer.to_f64()),
            _ => None,
        })
    }

    /// Names of the buffers the kernel writes, in parameter order.
    pub fn outputs(&self) -> Vec<&str> {
        self.args
            .iter()
            .filter_map(|(n, v)| matches!(v, HostValue::Buffer { output: true, .. }).then_some(n.as_str()))
            .collect()
    }

    /// The interpreter's arguments and buffers (buffer `i` is the `i`-th
    /// pointer argument).
    pub fn interp_args(&self) -> (Vec<KernelArg>, Vec<HostBuffer>) {
        let mut args = Vec::new();
        let mut buffers = Vec::new();
        for (_, value) in &self.args {
            match value {
                HostValue::Scalar { ty, value } if ty.is_float() => args.push(KernelArg::Float(*value)),
                HostValue::Scalar { ty: ScalarType::I1, value } => args.push(KernelArg::Bool(*value != 0.0)),
                HostValue::Scalar { value, .. } => args.push(KernelArg::Int(*value as i64)),
                HostValue::Buffer { buffer, .. } => {
                    args.push(KernelArg::Buffer(buffers.len()));
                    buffers.push(buffer.clone());
                }
            }
        }
        (args, buffers)
    }
}

/// Evaluates a case's launch arguments against `kernel`'s parameters and
/// fills its buffers from `seed` (the generator of `tessera run --interp`
/// and `tessera-run`, so a case's data can be replayed there).
pub fn materialize(kernel: &Kernel, given: &[(String, String)], seed: u64) -> Result<HostArgs, String> {
    for (name, _) in given {
        if !kernel.params.iter().any(|p| &p.name == name) {
            let names: Vec<&str> = kernel.params.iter().map(|p| p.name.as_str()).collect();
            return Err(format!("kernel `{}` has no parameter `{name}` (it has: {})", kernel.name, names.join(", ")));
        }
    }
    let text_of = |name: &str| given.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    // Scalars first, in the order given, so later values and lengths may use them.
    let mut scalars: HashMap<String, f64> = HashMap::new();
    for (name, text) in given {
        let Some(param) = kernel.params.iter().find(|p| &p.name == name) else { continue };
        let Some(Type::Tensor { elem: ElemType::Scalar(ty), .. }) = kernel.values.get(param.value.0 as usize) else {
            continue;
        };
        let value = eval_expr(text, &scalars).map_err(|e| format!("argument `{name}`: {e}"))?;
        if !ty.is_float() && value.fract() != 0.0 {
            return Err(format!("argument `{name}` = {value} must be a whole number (it is {ty})"));
        }
        scalars.insert(name.clone(), value);
    }
    let access = pointer_access(kernel);
    let mut rng = SplitMix64::new(seed);
    let mut args = Vec::new();
    for param in &kernel.params {
        let text = text_of(&param.name).ok_or_else(|| {
            format!("missing argument `{}` of kernel `{}`: add {}=...", param.name, kernel.name, param.name)
        })?;
        let value = match kernel.values.get(param.value.0 as usize) {
            Some(Type::Tensor { elem: ElemType::Scalar(ty), .. }) => {
                HostValue::Scalar { ty: *ty, value: scalars.get(&param.name).copied().unwrap_or_default() }
            }
            Some(Type::Tensor { elem: ElemType::Ptr(elem), .. }) => {
                let spec = BufferSpec::parse(text, &scalars).map_err(|e| format!("argument `{}`: {e}", param.name))?;
                let len = spec.length(&scalars, MAX_LEN).map_err(|e| format!("argument `{}`: {e}", param.name))?;
                let use_ = access.iter().find(|a| a.param == param.name);
                let poisoned = use_.is_some_and(|a| a.write_only());
                let output = use_.is_none_or(|a| a.written);
                let fill = if poisoned { Fill::Empty } else { spec.fill };
                let values = fill.generate(len, &mut rng);
                HostValue::Buffer { buffer: HostBuffer::from_f64(*elem, &values), output, poisoned }
            }
            other => return Err(format!("parameter `{}` has a type the checker cannot pass: {other:?}", param.name)),
        };
        args.push((param.name.clone(), value));
    }
    Ok(HostArgs { args })
}

/// The little-endian bytes of a buffer, as device memory holds it.
pub fn encode(buffer: &HostBuffer) -> Vec<u8> {
    fn le<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
        v.iter().flat_map(|&x| f(x)).collect()
    }
    match &buffer.data {
        HostData::I1(v) => v.iter().map(|&b| u8::from(b)).collect(),
        HostData::I8(v) => le(v, i8::to_le_bytes),
        HostData::I16(v) => le(v, i16::to_le_bytes),
        HostData::I32(v) => le(v, i32::to_le_bytes),
        HostData::I64(v) => le(v, i64::to_le_bytes),
        HostData::F16(v) => le(v, f16::to_le_bytes),
        HostData::BF16(v) => le(v, bf16::to_le_bytes),
        HostData::F32(v) => le(v, f32::to_le_bytes),
        HostData::F64(v) => le(v, f64::to_le_bytes),
    }
}

/// Elements of `elem` read from little-endian bytes, widened to f64 (a
/// trailing partial element is ignored).
pub fn decode(elem: ScalarType, bytes: &[u8]) -> Vec<f64> {
    fn each<const N: usize>(bytes: &[u8], f: impl Fn([u8; N]) -> f64) -> Vec<f64> {
        bytes.chunks_exact(N).map(|c| f(c.try_into().unwrap_or([0; N]))).collect()
    }
    match elem {
        ScalarType::I1 => bytes.iter().map(|&b| f64::from(u8::from(b != 0))).collect(),
        ScalarType::I8 => each(bytes, |b: [u8; 1]| f64::from(i8::from_le_bytes(b))),
        ScalarType::I16 => each(bytes, |b| f64::from(i16::from_le_bytes(b))),
        ScalarType::I32 => each(bytes, |b| f64::from(i32::from_le_bytes(b))),
        ScalarType::I64 => each(bytes, |b| i64::from_le_bytes(b) as f64),
        ScalarType::F16 => each(bytes, |b| f16::from_le_bytes(b).to_f64()),
        ScalarType::BF16 => each(bytes, |b| bf16::from_le_bytes(b).to_f64()),
        ScalarType::F32 => each(bytes, |b| f64::from(f32::from_le_bytes(b))),
        ScalarType::F64 => each(bytes, f64::from_le_bytes),
    }
}

/// A seed for every case of a run: the run's seed mixed with the case's
/// index (SplitMix64), so cases never share data and one seed replays all.
pub fn case_seed(run_seed: u64, case_index: usize) -> u64 {
    let mut z = run_seed.wrapping_add((case_index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::{compile, int};

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn outputs_are_poisoned_and_inputs_repeat_per_seed() {
        let kernel = compile("vector_add.tsr", "vector_add_bf16", &[]);
        let case = given(&[("n", "37"), ("x", "rand(n)"), ("z", "randn(n, 2, 3)"), ("y", "zeros(n)")]);
        let a = materialize(&kernel, &case, 7).unwrap();
        let again = materialize(&kernel, &case, 7).unwrap();
        assert_eq!((a.buffer("x"), a.buffer("z")), (again.buffer("x"), again.buffer("z")));
        assert_ne!(a.buffer("x"), materialize(&kernel, &case, 8).unwrap().buffer("x"));
        assert_eq!(a.scalar("n"), Some(37.0));
        let x = a.buffer("x").unwrap();
        assert_eq!(x.len(), 37);
        assert!(x.iter().all(|v| (-1.0..1.0).contains(v)));
        // Stored as bf16: the values are already rounded.
        assert!(x.iter().all(|&v| f64::from(bf16::from_f64(v)) == v));
        // `zeros(n)` for a write-only buffer still becomes NaN.
        assert!(a.buffer("y").unwrap().iter().all(|v| v.is_nan()));
        assert_eq!(a.outputs(), vec!["y"]);
        let (args, buffers) = a.interp_args();
        assert_eq!(args, vec![KernelArg::Buffer(0), KernelArg::Buffer(1), KernelArg::Buffer(2), KernelArg::Int(37)]);
        assert_eq!(buffers.len(), 3);
    }

    #[test]
    fn argument_errors_name_the_argument() {
        let kernel = compile("vector_add.tsr", "vector_add", &[]);
        let err = |pairs: &[(&str, &str)]| materialize(&kernel, &given(pairs), 1).unwrap_err();
        assert!(err(&[("n", "4"), ("x", "rand(n)"), ("z", "rand(n)")]).contains("missing argument `y`"));
        assert!(err(&[("m", "4")]).contains("no parameter `m`"));
        assert!(err(&[("n", "4.5")]).contains("whole number"));
        assert!(err(&[("n", "4"), ("x", "rand(m)"), ("z", "rand(n)"), ("y", "empty(n)")]).contains("argument `x`"));
        assert!(err(&[("n", "4"), ("x", "4"), ("z", "rand(n)"), ("y", "empty(n)")]).contains("argument `x`"));
    }

    #[test]
    fn the_interpreter_runs_materialized_arguments() {
        let kernel = compile("softmax.tsr", "softmax", &[("BLOCK", int(1024))]);
        let case = given(&[
            ("rows", "3"),
            ("cols", "50"),
            ("x_row_stride", "cols"),
            ("y_row_stride", "cols"),
            ("x", "rand(rows*cols)"),
            ("y", "zeros(rows*cols)"),
        ]);
        let a = materialize(&kernel, &case, 3).unwrap();
        let (args, mut buffers) = a.interp_args();
        tessera_interp::launch(&kernel, &args, &mut buffers).unwrap();
        let y = buffers[1].to_f64();
        let row: f64 = y[..50].iter().sum();
        assert!((row - 1.0).abs() < 1e-5, "{row}");
    }

    #[test]
    fn bytes_round_trip_for_every_type() {
        let values = [0.0, 1.0, -2.0, 3.5, 100.0];
        for elem in [
            ScalarType::I8,
            ScalarType::I16,
            ScalarType::I32,
            ScalarType::I64,
            ScalarType::F16,
            ScalarType::BF16,
            ScalarType::F32,
            ScalarType::F64,
        ] {
            let buffer = HostBuffer::from_f64(elem, &values);
            let bytes = encode(&buffer);
            assert_eq!(bytes.len(), values.len() * elem.bytes() as usize, "{elem}");
            assert_eq!(decode(elem, &bytes), buffer.to_f64(), "{elem}");
        }
        assert_eq!(decode(ScalarType::I1, &encode(&HostBuffer::from_f64(ScalarType::I1, &[0.0, 2.0]))), vec![0.0, 1.0]);
        // NaN poison survives the trip (as NaN) in every float type.
        for elem in [ScalarType::F16, ScalarType::BF16, ScalarType::F32] {
            assert!(decode(elem, &encode(&HostBuffer::filled(elem, 2, f64::NAN))).iter().all(|v| v.is_nan()));
        }
    }

    #[test]
    fn case_seeds_differ() {
        let seeds: Vec<u64> = (0..100).map(|i| case_seed(42, i)).collect();
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seeds.len());
        assert_ne!(case_seed(42, 0), case_seed(43, 0));
    }
}
