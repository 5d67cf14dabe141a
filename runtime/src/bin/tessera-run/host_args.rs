//! Launch arguments written on the command line, with the grammar of
//! [`tessera_runtime::host_values`] (shared with the compiler's `tessera run
//! --interp`, so one `--seed` gives the same data): `NAME=VALUE`, where a
//! scalar VALUE is an expression of numbers and earlier scalars and a pointer
//! VALUE a buffer constructor, the element type coming from the kernel's
//! signature. Integer `rand(LEN)` buffers hold whole numbers in [-8, 8).

use std::collections::HashMap;
use tessera_runtime::Scalar;
use tessera_runtime::bundle::{DType, KernelDecl, ParamKind};
use tessera_runtime::host_values::{BufferSpec, Fill, SplitMix64, eval_expr};

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
    let mut rng = SplitMix64::new(seed);
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

/// Buffers are built in host memory before the upload: at most 2^32 elements.
const MAX_LEN: usize = 1 << 32;

fn make_buffer(
    elem: DType,
    text: &str,
    scalars: &HashMap<String, f64>,
    rng: &mut SplitMix64,
) -> Result<Vec<u8>, String> {
    let spec = BufferSpec::parse(text, scalars)?;
    let len = spec.length(scalars, MAX_LEN)?;
    let fill = match spec.fill {
        // Integer `rand(LEN)` means small whole numbers, [-8, 8), so index
        // and count kernels see varied data rather than all zeros.
        Fill::Uniform { lo, hi } if !elem.is_float() && lo == -1.0 && hi == 1.0 => Fill::Uniform { lo: -8.0, hi: 8.0 },
        fill => fill,
    };
    let whole = !elem.is_float() && matches!(fill, Fill::Uniform { .. } | Fill::Normal { .. });
    let mut out = Vec::with_capacity(len * elem.size());
    for (i, value) in fill.generate(len, rng).into_iter().enumerate() {
        let value = if whole { value.floor() } else { value };
        let scalar = Scalar::from_f64(elem, value)
            .ok_or_else(|| format!("element {i} = {value} is not representable as {elem}"))?;
        out.extend_from_slice(&scalar.to_le_bytes());
    }
    Ok(out)
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
            require: vec![],
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
        // The historical sequence, drawn in parameter order: floats are
        // `symmetric()`, integers `floor(8 * symmetric())`.
        let mut rng = SplitMix64::new(3);
        let x: Vec<u8> = (0..64).flat_map(|_| (rng.symmetric() as f32).to_le_bytes()).collect();
        assert_eq!(a[0], HostArg::Buffer(DType::F32, x));
        let want: Vec<i32> = (0..64).map(|_| (rng.symmetric() * 8.0).floor() as i32).collect();
        assert_eq!(ints, want);
    }

    #[test]
    fn the_harness_constructors_work_here_too() {
        let a = parse(&decl(), &specs(&["n=8", "m=0", "eps=0", "x=empty(n)", "idx=rand(n, 100, 104)"]), 1).unwrap();
        let HostArg::Buffer(_, x) = &a[0] else { panic!() };
        assert!(x.chunks_exact(4).all(|c| f32::from_le_bytes(c.try_into().unwrap()).is_nan()));
        let HostArg::Buffer(_, idx) = &a[1] else { panic!() };
        assert!(idx.chunks_exact(4).all(|c| (100..104).contains(&i32::from_le_bytes(c.try_into().unwrap()))));
        let err = parse(&decl(), &specs(&["n=2", "m=0", "eps=0", "x=randn(n)", "idx=empty(n)"]), 1).unwrap_err();
        assert_eq!(err, "bad value `empty(n)` for argument `idx`: element 0 = NaN is not representable as i32");
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
            format!(
                "bad value `ones(3)` for argument `x`: unknown constructor `ones`: expected {}",
                tessera_runtime::host_values::CONSTRUCTORS
            )
        );
        assert!(all("x=zeros(-1)", "n=1").unwrap_err().contains("not an integer in 0..=4294967296"));
        assert!(all("x=zeros(3", "n=1").unwrap_err().contains("unbalanced parentheses"));
    }
}
