//! Launch arguments written on the command line (`--arg n=1000`,
//! `--arg x='rand(n * 4)'`) turned into interpreter arguments and buffers.
//!
//! Grammar: `NAME=VALUE`; a scalar VALUE is a number, `true`/`false` or an
//! expression of earlier scalars; a pointer VALUE is a buffer constructor
//! (`rand(LEN)`, `rand(LEN, LO, HI)`, `randn(LEN[, MEAN, STD])`, `zeros(LEN)`,
//! `fill(LEN, V)`, `arange(LEN)`, `empty(LEN)`). The grammar and the seeded
//! generator live in `tessera_runtime::host_values`, shared with `tessera-run`
//! and the GPU harness so one `--seed` gives the same data in all three.

use crate::error::{ARG_MISMATCH, BAD_ARG, CliError, CliResult};
use std::collections::HashMap;
use tessera_interp::{HostBuffer, KernelArg};
use tessera_runtime::host_values::{BufferSpec, CONSTRUCTORS, SplitMix64, eval_expr};
use tessera_tir::{ElemType, Kernel, ScalarType, Type};

/// The interpreter's arguments and buffers for one launch, plus the buffer
/// index of every pointer parameter (for `--show`).
pub struct Launch {
    pub args: Vec<KernelArg>,
    pub buffers: Vec<HostBuffer>,
    pub buffer_of: HashMap<String, usize>,
}

pub fn build(kernel: &Kernel, specs: &[String], seed: u64) -> CliResult<Launch> {
    let mut given: HashMap<String, &str> = HashMap::new();
    let mut order = Vec::new();
    for spec in specs {
        let (name, value) = spec.split_once('=').ok_or_else(|| {
            CliError::new(BAD_ARG, format!("malformed --arg `{spec}`")).with_help("write NAME=VALUE, e.g. --arg n=1000")
        })?;
        let name = name.trim();
        if !kernel.params.iter().any(|p| p.name == name) {
            let names: Vec<&str> = kernel.params.iter().map(|p| p.name.as_str()).collect();
            return Err(CliError::new(ARG_MISMATCH, format!("kernel `{}` has no parameter `{name}`", kernel.name))
                .with_help(format!("its runtime parameters are: {}", names.join(", "))));
        }
        if given.insert(name.to_string(), value.trim()).is_some() {
            return Err(CliError::new(ARG_MISMATCH, format!("argument `{name}` given twice")));
        }
        order.push(name.to_string());
    }
    if let Some(missing) = kernel.params.iter().find(|p| !given.contains_key(&p.name)) {
        return Err(CliError::new(
            ARG_MISMATCH,
            format!(
                "missing argument `{}` of type {} for kernel `{}`",
                missing.name,
                kernel.ty(missing.value),
                kernel.name
            ),
        )
        .with_help(format!("add --arg {}=...", missing.name)));
    }

    // Scalars first, in the order given, so buffer lengths can use them.
    let mut scalars: HashMap<String, f64> = HashMap::new();
    let mut values: HashMap<String, KernelArg> = HashMap::new();
    for name in &order {
        let Some(param) = kernel.params.iter().find(|p| &p.name == name) else { continue };
        let Type::Tensor { elem: ElemType::Scalar(ty), .. } = kernel.ty(param.value) else { continue };
        let text = given[name];
        let number = eval_expr(text, &scalars).map_err(|e| bad_value(name, text, &e))?;
        let arg = match ty {
            ScalarType::I1 => KernelArg::Bool(number != 0.0),
            t if t.is_float() => KernelArg::Float(number),
            _ => {
                if number.fract() != 0.0 {
                    return Err(bad_value(name, text, "an integer parameter needs an integer value"));
                }
                KernelArg::Int(number as i64)
            }
        };
        scalars.insert(name.clone(), number);
        values.insert(name.clone(), arg);
    }

    let mut rng = SplitMix64::new(seed);
    let mut buffers = Vec::new();
    let mut buffer_of = HashMap::new();
    for param in &kernel.params {
        let Type::Tensor { elem: ElemType::Ptr(elem), .. } = kernel.ty(param.value) else { continue };
        let text = given[&param.name];
        let buffer = make_buffer(*elem, text, &scalars, &mut rng).map_err(|e| bad_value(&param.name, text, &e))?;
        buffer_of.insert(param.name.clone(), buffers.len());
        values.insert(param.name.clone(), KernelArg::Buffer(buffers.len()));
        buffers.push(buffer);
    }
    let args = kernel.params.iter().filter_map(|p| values.remove(&p.name)).collect();
    Ok(Launch { args, buffers, buffer_of })
}

fn bad_value(name: &str, text: &str, why: &str) -> CliError {
    CliError::new(BAD_ARG, format!("bad value `{text}` for argument `{name}`: {why}"))
        .with_help(format!("scalars take numbers or expressions of earlier scalars; pointers take {CONSTRUCTORS}"))
}

/// The interpreter holds buffers in memory: at most 2^32 elements.
const MAX_LEN: usize = 1 << 32;

fn make_buffer(
    elem: ScalarType,
    text: &str,
    scalars: &HashMap<String, f64>,
    rng: &mut SplitMix64,
) -> Result<HostBuffer, String> {
    let spec = BufferSpec::parse(text, scalars)?;
    let len = spec.length(scalars, MAX_LEN)?;
    Ok(HostBuffer::from_f64(elem, &spec.fill.generate(len, rng)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_take_the_element_type_and_the_seeded_sequence() {
        let s = HashMap::from([("n".to_string(), 4.0)]);
        let mut rng = SplitMix64::new(5);
        let x = make_buffer(ScalarType::F64, "rand(n)", &s, &mut rng).unwrap();
        let mut again = SplitMix64::new(5);
        assert_eq!(x.to_f64(), (0..4).map(|_| again.symmetric()).collect::<Vec<_>>());
        let idx = make_buffer(ScalarType::I32, "arange(n * 2 - 1)", &s, &mut rng).unwrap();
        assert_eq!(idx.to_f64(), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let err = make_buffer(ScalarType::F32, "ones(n)", &s, &mut rng).unwrap_err();
        assert!(err.contains("unknown constructor `ones`"), "{err}");
        assert!(make_buffer(ScalarType::F32, "zeros(n * 2 ^ 40)", &s, &mut rng).is_err());
        let err = make_buffer(ScalarType::F32, "zeros(n * 1e10)", &s, &mut rng).unwrap_err();
        assert!(err.contains("not an integer in 0..=4294967296"), "{err}");
    }
}
