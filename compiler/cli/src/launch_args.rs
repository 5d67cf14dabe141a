//! Launch arguments written on the command line (`--arg n=1000`,
//! `--arg x='rand(n * 4)'`) turned into interpreter arguments and buffers.
//!
//! Grammar: `NAME=VALUE`; a scalar VALUE is a number or `true`/`false`; a
//! pointer VALUE is `rand(LEN)` (uniform in [-1, 1)), `zeros(LEN)`,
//! `fill(LEN, V)` or `arange(LEN)`. LEN is an integer expression with `+ - *
//! /`, parentheses and the names of scalar arguments given before it.

use crate::error::{ARG_MISMATCH, BAD_ARG, CliError, CliResult};
use crate::rng::SplitMix64;
use std::collections::HashMap;
use tessera_interp::{HostBuffer, KernelArg};
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
        .with_help("scalars take numbers or expressions of earlier scalars; pointers take rand(LEN), zeros(LEN), fill(LEN, V) or arange(LEN)")
}

fn make_buffer(
    elem: ScalarType,
    text: &str,
    scalars: &HashMap<String, f64>,
    rng: &mut SplitMix64,
) -> Result<HostBuffer, String> {
    let open = text.find('(').ok_or("expected rand(LEN), zeros(LEN), fill(LEN, V) or arange(LEN)")?;
    let inner = text[open..].strip_prefix('(').and_then(|s| s.strip_suffix(')')).ok_or("unbalanced parentheses")?;
    let ctor = text[..open].trim();
    let (len_text, fill) = match ctor {
        "fill" => {
            let comma = inner.rfind(',').ok_or("fill takes (LEN, VALUE)")?;
            (&inner[..comma], Some(eval_expr(&inner[comma + 1..], scalars)?))
        }
        _ => (inner, None),
    };
    let len = eval_expr(len_text, scalars)?;
    if len < 0.0 || len.fract() != 0.0 || len > (1u64 << 32) as f64 {
        return Err(format!("buffer length {len} is not an integer in 0..=2^32"));
    }
    let len = len as usize;
    let values: Vec<f64> = match ctor {
        "rand" => (0..len).map(|_| rng.symmetric()).collect(),
        "zeros" => vec![0.0; len],
        "fill" => vec![fill.unwrap_or(0.0); len],
        "arange" => (0..len).map(|i| i as f64).collect(),
        other => return Err(format!("unknown buffer constructor `{other}`")),
    };
    Ok(HostBuffer::from_f64(elem, &values))
}

/// Evaluate `+ - * /` over numbers and known scalar names.
pub fn eval_expr(text: &str, scalars: &HashMap<String, f64>) -> Result<f64, String> {
    let tokens = tokenize(text)?;
    let mut pos = 0;
    let value = sum(&tokens, &mut pos, scalars)?;
    if pos != tokens.len() {
        return Err(format!("unexpected `{}`", tokens[pos]));
    }
    Ok(value)
}

fn tokenize(text: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if "+-*/()".contains(c) {
            tokens.push(c.to_string());
            chars.next();
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                let exponent_sign = (c == '-' || c == '+')
                    && word.ends_with(['e', 'E'])
                    && word.starts_with(|d: char| d.is_ascii_digit());
                if !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || exponent_sign) {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(word);
        } else {
            return Err(format!("unexpected character `{c}`"));
        }
    }
    if tokens.is_empty() {
        return Err("empty value".into());
    }
    Ok(tokens)
}

fn sum(t: &[String], pos: &mut usize, s: &HashMap<String, f64>) -> Result<f64, String> {
    let mut value = product(t, pos, s)?;
    while let Some(op) = t.get(*pos).filter(|op| *op == "+" || *op == "-") {
        *pos += 1;
        let rhs = product(t, pos, s)?;
        value = if op == "+" { value + rhs } else { value - rhs };
    }
    Ok(value)
}

fn product(t: &[String], pos: &mut usize, s: &HashMap<String, f64>) -> Result<f64, String> {
    let mut value = atom(t, pos, s)?;
    while let Some(op) = t.get(*pos).filter(|op| *op == "*" || *op == "/") {
        *pos += 1;
        let rhs = atom(t, pos, s)?;
        value = if op == "*" { value * rhs } else { value / rhs };
    }
    Ok(value)
}

fn atom(t: &[String], pos: &mut usize, s: &HashMap<String, f64>) -> Result<f64, String> {
    let token = t.get(*pos).ok_or("expression ends too early")?;
    *pos += 1;
    match token.as_str() {
        "(" => {
            let v = sum(t, pos, s)?;
            if t.get(*pos).map(String::as_str) != Some(")") {
                return Err("missing `)`".into());
            }
            *pos += 1;
            Ok(v)
        }
        "-" => Ok(-atom(t, pos, s)?),
        "true" => Ok(1.0),
        "false" => Ok(0.0),
        word => word
            .parse::<f64>()
            .ok()
            .or_else(|| s.get(word).copied())
            .ok_or_else(|| format!("`{word}` is neither a number nor an earlier scalar argument")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_use_earlier_scalars() {
        let s = HashMap::from([("n".to_string(), 10.0), ("d".to_string(), 4.0)]);
        assert_eq!(eval_expr("n * d + 2", &s), Ok(42.0));
        assert_eq!(eval_expr("(n - 2) / 4", &s), Ok(2.0));
        assert_eq!(eval_expr("1e-3", &s), Ok(1e-3));
        assert!(eval_expr("m", &s).unwrap_err().contains("`m`"));
        assert!(eval_expr("(n", &s).is_err());
        assert!(eval_expr("", &s).is_err());
    }
}
