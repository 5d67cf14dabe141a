//! Launch arguments written on the command line, with the grammar of the
//! compiler's `tessera run --interp`: `NAME=VALUE`, where a scalar VALUE is a
//! number, `true`/`false`, or an expression (`+ - * /`, parentheses) of
//! scalars given before it, and a pointer VALUE is `rand(LEN)` (floats
//! uniform in [-1, 1), integers in [-8, 8)), `zeros(LEN)`, `fill(LEN, V)` or
//! `arange(LEN)`, the element type coming from the kernel's signature.

use std::collections::HashMap;
use tessera_runtime::Scalar;
use tessera_runtime::bundle::{DType, KernelDecl, ParamKind};

/// One argument, ready to upload or pass.
#[derive(Clone, Debug, PartialEq)]
pub enum HostArg {
    Scalar(Scalar),
    /// Element type and little-endian bytes.
    Buffer(DType, Vec<u8>),
}

/// Parse every `--arg` against the signature; the result is in signature order.
pub fn parse(decl: &KernelDecl, specs: &[String], seed: u64) -> Result<Vec<HostArg>, String> {
    let mut given: HashMap<&str, &str> = HashMap::new();
    let mut order = Vec::new();
    for spec in specs {
        let (name, value) =
            spec.split_once('=').ok_or_else(|| format!("malformed --arg `{spec}`: write NAME=VALUE"))?;
        let name = name.trim();
        if decl.param(name).is_none() {
            let names: Vec<&str> = decl.params.iter().map(|p| p.name.as_str()).collect();
            return Err(format!(
                "kernel `{}` has no parameter `{name}` (its parameters: {})",
                decl.name,
                names.join(", ")
            ));
        }
        if given.insert(name, value.trim()).is_some() {
            return Err(format!("argument `{name}` given twice"));
        }
        order.push(name);
    }
    if let Some(missing) = decl.params.iter().find(|p| !given.contains_key(p.name.as_str())) {
        return Err(format!(
            "missing argument `{}` of type {} for kernel `{}`: add --arg {}=...",
            missing.name, missing.kind, decl.name, missing.name
        ));
    }
    // Scalars first, in the order given, so buffer lengths can use them.
    let mut numbers: HashMap<String, f64> = HashMap::new();
    let mut values: HashMap<&str, HostArg> = HashMap::new();
    for name in order {
        let Some(ParamKind::Scalar { dtype }) = decl.param(name).map(|p| p.kind) else { continue };
        let text = given.get(name).copied().unwrap_or_default();
        let number = eval_expr(text, &numbers).map_err(|e| bad_value(name, text, &e))?;
        let scalar = Scalar::from_f64(dtype, number)
            .ok_or_else(|| bad_value(name, text, &format!("{number} is not representable as {dtype}")))?;
        numbers.insert(name.to_string(), number);
        values.insert(name, HostArg::Scalar(scalar));
    }
    let mut rng = SplitMix64(seed);
    for param in &decl.params {
        let ParamKind::Pointer { elem } = param.kind else { continue };
        let text = given.get(param.name.as_str()).copied().unwrap_or_default();
        let bytes = make_buffer(elem, text, &numbers, &mut rng).map_err(|e| bad_value(&param.name, text, &e))?;
        values.insert(&param.name, HostArg::Buffer(elem, bytes));
    }
    Ok(decl.params.iter().filter_map(|p| values.remove(p.name.as_str())).collect())
}

fn bad_value(name: &str, text: &str, why: &str) -> String {
    format!("bad value `{text}` for argument `{name}`: {why}")
}

fn make_buffer(
    elem: DType,
    text: &str,
    scalars: &HashMap<String, f64>,
    rng: &mut SplitMix64,
) -> Result<Vec<u8>, String> {
    const EXPECTED: &str = "expected rand(LEN), zeros(LEN), fill(LEN, V) or arange(LEN)";
    let open = text.find('(').ok_or(EXPECTED)?;
    let (ctor, rest) = text.split_at(open);
    let inner = rest.strip_prefix('(').and_then(|s| s.strip_suffix(')')).ok_or("unbalanced parentheses")?;
    let ctor = ctor.trim();
    let (len_text, fill) = match ctor {
        "fill" => {
            let (len, value) = inner.rsplit_once(',').ok_or("fill takes (LEN, VALUE)")?;
            (len, Some(eval_expr(value, scalars)?))
        }
        "rand" | "zeros" | "arange" => (inner, None),
        other => return Err(format!("unknown buffer constructor `{other}`: {EXPECTED}")),
    };
    let len = eval_expr(len_text, scalars)?;
    if !(0.0..=(1u64 << 32) as f64).contains(&len) || len.fract() != 0.0 {
        return Err(format!("buffer length {len} is not an integer in 0..=2^32"));
    }
    let len = len as usize;
    let mut out = Vec::with_capacity(len * elem.size());
    for i in 0..len {
        let value = match ctor {
            "rand" if elem.is_float() => rng.symmetric(),
            "rand" => (rng.symmetric() * 8.0).floor(),
            "zeros" => 0.0,
            "arange" => i as f64,
            _ => fill.unwrap_or_default(),
        };
        let scalar = Scalar::from_f64(elem, value)
            .ok_or_else(|| format!("element {i} = {value} is not representable as {elem}"))?;
        out.extend_from_slice(&scalar.to_le_bytes());
    }
    Ok(out)
}

/// Evaluate `+ - * /` over numbers and known scalar names.
pub fn eval_expr(text: &str, scalars: &HashMap<String, f64>) -> Result<f64, String> {
    let tokens = tokenize(text)?;
    let mut pos = 0;
    let value = sum(&tokens, &mut pos, scalars)?;
    match tokens.get(pos) {
        None => Ok(value),
        Some(t) => Err(format!("unexpected `{t}`")),
    }
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

/// The compiler CLI's generator, so `--seed` gives the same data in both.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    fn symmetric(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_runtime::bundle::{GridExpr, Hints, Param};

    fn decl() -> KernelDecl {
        let p = |name: &str, kind| Param { name: name.into(), kind, hints: Hints::default() };
        KernelDecl {
            name: "k".into(),
            params: vec![
                p("x", ParamKind::Pointer { elem: DType::F32 }),
                p("idx", ParamKind::Pointer { elem: DType::I32 }),
                p("n", ParamKind::Scalar { dtype: DType::I32 }),
                p("m", ParamKind::Scalar { dtype: DType::I64 }),
                p("eps", ParamKind::Scalar { dtype: DType::F16 }),
            ],
            const_params: vec![],
            grid: vec![GridExpr::Int(1)],
            tune_space: vec![],
            key: vec![],
        }
    }

    fn specs(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scalars_may_use_earlier_scalars_and_buffers_take_their_dtype() {
        let args =
            parse(&decl(), &specs(&["n=4", "m=n*2+1", "eps=1e-3", "x=arange(n)", "idx=fill(m - 6, 7)"]), 0).unwrap();
        assert_eq!(args[2], HostArg::Scalar(Scalar::I32(4)));
        assert_eq!(args[3], HostArg::Scalar(Scalar::I64(9)));
        let x: Vec<u8> = [0.0f32, 1.0, 2.0, 3.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(args[0], HostArg::Buffer(DType::F32, x));
        let idx: Vec<u8> = [7i32, 7, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(args[1], HostArg::Buffer(DType::I32, idx));
    }

    #[test]
    fn rand_is_seeded_and_typed() {
        let a = parse(&decl(), &specs(&["n=64", "m=0", "eps=0", "x=rand(n)", "idx=rand(n)"]), 3).unwrap();
        let b = parse(&decl(), &specs(&["n=64", "m=0", "eps=0", "x=rand(n)", "idx=rand(n)"]), 3).unwrap();
        assert_eq!(a, b);
        let HostArg::Buffer(_, idx) = &a[1] else { panic!() };
        let ints: Vec<i32> = idx.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
        assert!(ints.iter().all(|v| (-8..8).contains(v)) && ints.iter().any(|v| *v != ints[0]), "{ints:?}");
    }

    #[test]
    fn errors_are_one_line_and_name_the_argument() {
        let err = |s: &[&str]| parse(&decl(), &specs(s), 0).unwrap_err();
        assert_eq!(err(&["q=1"]), "kernel `k` has no parameter `q` (its parameters: x, idx, n, m, eps)");
        assert_eq!(err(&["n=1", "n=2"]), "argument `n` given twice");
        assert_eq!(err(&["n"]), "malformed --arg `n`: write NAME=VALUE");
        assert_eq!(err(&["n=1"]), "missing argument `x` of type *f32 for kernel `k`: add --arg x=...");
        let all = |x: &str, n: &str| parse(&decl(), &specs(&[n, "m=1", "eps=0", x, "idx=zeros(1)"]), 0);
        assert_eq!(
            all("x=zeros(1)", "n=1.5").unwrap_err(),
            "bad value `1.5` for argument `n`: 1.5 is not representable as i32"
        );
        assert_eq!(
            all("x=zeros(k)", "n=1").unwrap_err(),
            "bad value `zeros(k)` for argument `x`: `k` is neither a number nor an earlier scalar argument"
        );
        assert_eq!(
            all("x=ones(3)", "n=1").unwrap_err(),
            "bad value `ones(3)` for argument `x`: unknown buffer constructor `ones`: expected rand(LEN), zeros(LEN), fill(LEN, V) or arange(LEN)"
        );
        assert!(all("x=zeros(-1)", "n=1").unwrap_err().contains("not an integer in 0..=2^32"));
        assert!(all("x=zeros(3", "n=1").unwrap_err().contains("unbalanced parentheses"));
    }

    #[test]
    fn expressions() {
        let s = HashMap::from([("n".to_string(), 10.0)]);
        assert_eq!(eval_expr("(n - 2) / 4", &s), Ok(2.0));
        assert_eq!(eval_expr("-n + 1e1", &s), Ok(0.0));
        assert!(eval_expr("n n", &s).is_err());
        assert!(eval_expr("", &s).is_err());
        assert!(eval_expr("n % 2", &s).unwrap_err().contains("unexpected character `%`"));
    }
}
