//! Launch-argument values written as text, shared by every front door that
//! takes them: the compiler's `tessera run --interp`, `tessera-run` and the
//! GPU test harness (`tessera-gpucheck`), so one grammar and one `--seed`
//! mean the same data everywhere.
//!
//! - A scalar is an expression ([`eval_expr`]) of numbers, `true`/`false`
//!   and the names of earlier scalars, with `+ - * /`, unary minus and
//!   parentheses (`n=rows*cols`, `eps=1e-5`).
//! - A buffer is a constructor ([`BufferSpec`]): `rand(LEN)` (uniform in
//!   [-1, 1)), `rand(LEN, LO, HI)`, `randn(LEN)` or `randn(LEN, MEAN, STD)`
//!   (normal), `zeros(LEN)`, `fill(LEN, V)`, `arange(LEN)` or `empty(LEN)`
//!   (NaN: an output the kernel must write in full). LEN is an expression
//!   over the scalars; the element type comes from the kernel, so a spec
//!   only makes f64 values ([`Fill::generate`]) for the caller to narrow.
//!
//! Random values come from [`SplitMix64`]: small, dependency-free and the
//! same on every machine, so a seed replays a run anywhere.

use std::collections::HashMap;

/// Every buffer constructor, for error messages and help texts.
pub const CONSTRUCTORS: &str =
    "rand(LEN[, LO, HI]), randn(LEN[, MEAN, STD]), zeros(LEN), fill(LEN, V), arange(LEN) or empty(LEN)";

/// How a buffer's elements are made.
#[derive(Clone, Debug, PartialEq)]
pub enum Fill {
    /// Uniform in `[lo, hi)`.
    Uniform {
        lo: f64,
        hi: f64,
    },
    /// Normal (Box-Muller).
    Normal {
        mean: f64,
        std_dev: f64,
    },
    Constant(f64),
    /// `0, 1, 2, ...`.
    Arange,
    /// NaN everywhere: an output.
    Empty,
}

impl Fill {
    /// `len` values as this fill says; only the random fills draw from `rng`,
    /// one draw per value for `Uniform` and two for `Normal`.
    pub fn generate(&self, len: usize, rng: &mut SplitMix64) -> Vec<f64> {
        match *self {
            Fill::Uniform { lo, hi } => (0..len).map(|_| rng.uniform(lo, hi)).collect(),
            Fill::Normal { mean, std_dev } => (0..len).map(|_| rng.normal(mean, std_dev)).collect(),
            Fill::Constant(v) => vec![v; len],
            Fill::Arange => (0..len).map(|i| i as f64).collect(),
            Fill::Empty => vec![f64::NAN; len],
        }
    }
}

/// A buffer constructor, its length still an unevaluated expression (the
/// scalars it names may not be known when the text is read).
#[derive(Clone, Debug, PartialEq)]
pub struct BufferSpec {
    pub len: String,
    pub fill: Fill,
}

impl BufferSpec {
    /// `rand(n, -2, 2)` and the other constructors; the reason when `text` is
    /// none. The values after LEN (`fill(n, eps)`) may name `scalars`.
    pub fn parse(text: &str, scalars: &HashMap<String, f64>) -> Result<BufferSpec, String> {
        let expected = || format!("expected {CONSTRUCTORS}");
        let text = text.trim();
        let open = text.find('(').ok_or_else(expected)?;
        let (ctor, rest) = text.split_at(open);
        let inner = rest.strip_prefix('(').and_then(|s| s.strip_suffix(')')).ok_or("unbalanced parentheses")?;
        let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
        let number = |s: &str| eval_expr(s, scalars);
        let ctor = ctor.trim();
        let (len, fill) = match (ctor, parts.as_slice()) {
            ("rand", [len]) => (len, Fill::Uniform { lo: -1.0, hi: 1.0 }),
            ("rand", [len, lo, hi]) => {
                let (lo, hi) = (number(lo)?, number(hi)?);
                if lo >= hi || !lo.is_finite() || !hi.is_finite() {
                    return Err(format!("rand needs LO < HI, got {lo} and {hi}"));
                }
                (len, Fill::Uniform { lo, hi })
            }
            ("randn", [len]) => (len, Fill::Normal { mean: 0.0, std_dev: 1.0 }),
            ("randn", [len, mean, std_dev]) => {
                let (mean, std_dev) = (number(mean)?, number(std_dev)?);
                if std_dev < 0.0 || !mean.is_finite() || !std_dev.is_finite() {
                    return Err(format!("randn needs a finite mean and STD >= 0, got {mean} and {std_dev}"));
                }
                (len, Fill::Normal { mean, std_dev })
            }
            ("zeros", [len]) => (len, Fill::Constant(0.0)),
            ("fill", [len, value]) => (len, Fill::Constant(number(value)?)),
            ("arange", [len]) => (len, Fill::Arange),
            ("empty", [len]) => (len, Fill::Empty),
            ("rand" | "randn" | "zeros" | "fill" | "arange" | "empty", _) => {
                return Err(format!("wrong number of arguments to `{ctor}`: {}", expected()));
            }
            _ => return Err(format!("unknown constructor `{ctor}`: {}", expected())),
        };
        Ok(BufferSpec { len: len.to_string(), fill })
    }

    /// The buffer's length, given the scalar arguments; at most `max` (each
    /// caller knows how much it can hold).
    pub fn length(&self, scalars: &HashMap<String, f64>, max: usize) -> Result<usize, String> {
        let len = eval_expr(&self.len, scalars)?;
        if !(0.0..=max as f64).contains(&len) || len.fract() != 0.0 {
            return Err(format!("buffer length {len} is not an integer in 0..={max}"));
        }
        Ok(len as usize)
    }
}

/// Evaluates `+ - * /` (and unary minus, parentheses) over numbers,
/// `true`/`false` (1 and 0) and the names of `scalars`.
pub fn eval_expr(text: &str, scalars: &HashMap<String, f64>) -> Result<f64, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens: &tokens, pos: 0, scalars };
    let value = parser.sum()?;
    match tokens.get(parser.pos) {
        None => Ok(value),
        Some(extra) => Err(format!("unexpected `{extra}` in `{text}`")),
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
                // `1e-5`: a sign right after the exponent of a number.
                let exponent_sign = (c == '-' || c == '+')
                    && word.ends_with(['e', 'E'])
                    && word.starts_with(|d: char| d.is_ascii_digit() || d == '.');
                if !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || exponent_sign) {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(word);
        } else {
            return Err(format!("unexpected character `{c}` in `{text}`"));
        }
    }
    if tokens.is_empty() {
        return Err("empty value".into());
    }
    Ok(tokens)
}

/// Recursive descent over the tokens: `sum := product (('+'|'-') product)*`,
/// `product := atom (('*'|'/') atom)*`, `atom := '(' sum ')' | '-' atom | word`.
struct Parser<'a> {
    tokens: &'a [String],
    pos: usize,
    scalars: &'a HashMap<String, f64>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(String::as_str)
    }

    fn sum(&mut self) -> Result<f64, String> {
        let mut value = self.product()?;
        while let Some(op @ ("+" | "-")) = self.peek() {
            let plus = op == "+";
            self.pos += 1;
            let rhs = self.product()?;
            value = if plus { value + rhs } else { value - rhs };
        }
        Ok(value)
    }

    fn product(&mut self) -> Result<f64, String> {
        let mut value = self.atom()?;
        while let Some(op @ ("*" | "/")) = self.peek() {
            let times = op == "*";
            self.pos += 1;
            let rhs = self.atom()?;
            value = if times { value * rhs } else { value / rhs };
        }
        Ok(value)
    }

    fn atom(&mut self) -> Result<f64, String> {
        let token = self.peek().ok_or("the expression ends too early")?.to_string();
        self.pos += 1;
        match token.as_str() {
            "(" => {
                let value = self.sum()?;
                if self.peek() != Some(")") {
                    return Err("missing `)`".into());
                }
                self.pos += 1;
                Ok(value)
            }
            "-" => Ok(-self.atom()?),
            "true" => Ok(1.0),
            "false" => Ok(0.0),
            word => word
                .parse::<f64>()
                .ok()
                .or_else(|| self.scalars.get(word).copied())
                .ok_or_else(|| format!("`{word}` is neither a number nor an earlier scalar argument")),
        }
    }
}

/// SplitMix64 (Steele, Lea and Flood): a 64-bit counter through a mixing
/// function. Not for cryptography; chosen because it is tiny, fast and needs
/// no dependency, and its sequence is fixed forever (changing it would change
/// the data behind every recorded `--seed`).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [-1, 1).
    pub fn symmetric(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    /// Uniform in `[lo, hi)`. For `[-1, 1)` this is exactly [`symmetric`](Self::symmetric)
    /// (the scaling by 2 is exact), so `rand(LEN)` keeps its historical values.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let value = lo + (hi - lo) * self.unit();
        // Rounding can reach `hi` when the range is wide relative to `lo`.
        if value < hi { value } else { lo }
    }

    /// Normal with the given mean and standard deviation (Box-Muller, two draws).
    pub fn normal(&mut self, mean: f64, std_dev: f64) -> f64 {
        // 1 - [0, 1) is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        mean + std_dev * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_read_earlier_scalars() {
        let s = HashMap::from([("rows".to_string(), 37.0), ("cols".to_string(), 1000.0)]);
        assert_eq!(eval_expr("rows * cols", &s), Ok(37000.0));
        assert_eq!(eval_expr("(cols - 8) / 4 + -1", &s), Ok(247.0));
        assert_eq!(eval_expr("-rows + 3.7e1", &s), Ok(0.0));
        assert_eq!(eval_expr("1e-5", &s), Ok(1e-5));
        assert_eq!(eval_expr("2.5E+2", &s), Ok(250.0));
        assert_eq!(eval_expr("true + false", &s), Ok(1.0));
        assert!(eval_expr("n", &s).unwrap_err().contains("`n`"));
        assert!(eval_expr("(rows", &s).unwrap_err().contains("missing `)`"));
        assert!(eval_expr("rows cols", &s).unwrap_err().contains("unexpected `cols`"));
        assert!(eval_expr("rows % 2", &s).unwrap_err().contains("unexpected character `%`"));
        assert!(eval_expr("", &s).is_err());
        assert!(eval_expr("rows *", &s).unwrap_err().contains("ends too early"));
    }

    #[test]
    fn buffer_constructors() {
        let none = HashMap::new();
        let spec = BufferSpec::parse("rand(n * 2)", &none).unwrap();
        assert_eq!(spec.fill, Fill::Uniform { lo: -1.0, hi: 1.0 });
        assert_eq!(spec.length(&HashMap::from([("n".to_string(), 5.0)]), 100), Ok(10));
        assert_eq!(BufferSpec::parse("rand(4, 0.01, 0.11)", &none).unwrap().fill, Fill::Uniform { lo: 0.01, hi: 0.11 });
        assert_eq!(BufferSpec::parse("randn(4, 2, 3)", &none).unwrap().fill, Fill::Normal { mean: 2.0, std_dev: 3.0 });
        assert_eq!(BufferSpec::parse("fill(4, -0.5)", &none).unwrap().fill, Fill::Constant(-0.5));
        assert_eq!(BufferSpec::parse(" zeros(4) ", &none).unwrap().fill, Fill::Constant(0.0));
        assert_eq!(BufferSpec::parse("empty(4)", &none).unwrap().fill, Fill::Empty);
        assert_eq!(BufferSpec::parse("arange(4)", &none).unwrap().fill, Fill::Arange);
        assert!(BufferSpec::parse("rand(4, 1, 1)", &none).unwrap_err().contains("LO < HI"));
        assert!(BufferSpec::parse("randn(4, 0, -1)", &none).unwrap_err().contains("STD >= 0"));
        assert!(BufferSpec::parse("fill(4)", &none).unwrap_err().contains("wrong number of arguments"));
        assert_eq!(
            BufferSpec::parse("ones(4)", &none).unwrap_err(),
            format!("unknown constructor `ones`: expected {CONSTRUCTORS}")
        );
        assert!(BufferSpec::parse("zeros(3", &none).unwrap_err().contains("unbalanced parentheses"));
        assert!(BufferSpec::parse("1024", &none).is_err());
        let scalars = HashMap::from([("eps".to_string(), 0.25)]);
        assert_eq!(BufferSpec::parse("fill(4, eps * 2)", &scalars).unwrap().fill, Fill::Constant(0.5));
        assert!(BufferSpec::parse("fill(4, eps)", &none).unwrap_err().contains("`eps`"));
        assert!(BufferSpec::parse("rand(n)", &none).unwrap().length(&HashMap::new(), 100).is_err());
        let err = BufferSpec::parse("rand(-1)", &none).unwrap().length(&HashMap::new(), 100).unwrap_err();
        assert_eq!(err, "buffer length -1 is not an integer in 0..=100");
        assert!(BufferSpec::parse("rand(101)", &none).unwrap().length(&HashMap::new(), 100).is_err());
        assert!(BufferSpec::parse("rand(2.5)", &none).unwrap().length(&HashMap::new(), 100).is_err());
    }

    #[test]
    fn the_generator_sequence_is_pinned() {
        // SplitMix64's published first outputs for seed 0; every recorded
        // `--seed` depends on this sequence.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        // `rand(LEN)` is `symmetric`, bit for bit.
        let (mut a, mut b) = (SplitMix64::new(9), SplitMix64::new(9));
        for _ in 0..1000 {
            assert_eq!(a.uniform(-1.0, 1.0).to_bits(), b.symmetric().to_bits());
        }
    }

    #[test]
    fn fills_generate_their_values() {
        let mut rng = SplitMix64::new(3);
        let u = Fill::Uniform { lo: 0.01, hi: 0.11 }.generate(1000, &mut rng);
        assert!(u.iter().all(|v| (0.01..0.11).contains(v)));
        assert!(u.iter().any(|v| *v != u[0]));
        let n = Fill::Normal { mean: 2.0, std_dev: 0.5 }.generate(4000, &mut rng);
        let mean = n.iter().sum::<f64>() / n.len() as f64;
        assert!((mean - 2.0).abs() < 0.05, "{mean}");
        assert_eq!(Fill::Constant(7.0).generate(2, &mut rng), vec![7.0, 7.0]);
        assert_eq!(Fill::Arange.generate(3, &mut rng), vec![0.0, 1.0, 2.0]);
        assert!(Fill::Empty.generate(2, &mut rng).iter().all(|v| v.is_nan()));
        // Deterministic fills leave the generator where it was.
        let (mut a, mut b) = (SplitMix64::new(5), SplitMix64::new(5));
        Fill::Arange.generate(10, &mut a);
        assert_eq!(a.next_u64(), b.next_u64());
    }
}
