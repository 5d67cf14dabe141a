//! Case files: the launches `tessera-gpucheck` runs, one per line.
//!
//! The grammar is the one of `kernels-dsl/demo.args` (`FILE KERNEL
//! NAME=VALUE...`, `#` starts a comment), so a demo listing is a valid case
//! file. A NAME is a compile-time parameter of the kernel, `warps` or
//! `stages` when the kernel's signature says so (decided later, against the
//! kernel: see [`Case::split`]), and a launch argument otherwise:
//!
//! - a scalar VALUE is an expression of numbers and earlier scalars with
//!   `+ - * /` and parentheses (`x_row_stride=cols`, `n=rows*cols`);
//! - a pointer VALUE is a constructor: `rand(LEN)` (uniform in [-1, 1)),
//!   `rand(LEN, LO, HI)`, `randn(LEN)` or `randn(LEN, MEAN, STD)` (normal),
//!   `zeros(LEN)`, `fill(LEN, V)`, `arange(LEN)` or `empty(LEN)` (NaN: an
//!   output the kernel must write in full). Buffers the kernel only writes
//!   are poisoned with NaN whatever their constructor says.
//!
//! Values are kept as text until the kernel is known; parsing a line only
//! checks its shape, so that every error names its line.

use std::collections::HashMap;
use std::fmt;

/// `NAME=VALUE` pairs, in the order written.
pub type Assignments = Vec<(String, String)>;

/// One line of a case file.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// 1-based line number, for messages.
    pub line: usize,
    /// The `.tsr` file, relative to the sources folder.
    pub file: String,
    pub kernel: String,
    /// Every `NAME=VALUE`, in the order written.
    pub assignments: Assignments,
}

impl Case {
    /// `vector_add n=4097`: the kernel and its scalar arguments, for report lines.
    pub fn label(&self) -> String {
        let scalars: Vec<String> = self
            .assignments
            .iter()
            .filter(|(_, v)| BufferSpec::parse(v).is_err())
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        format!("{} {}", self.kernel, scalars.join(" "))
    }

    /// Splits the assignments into compile-time values (names for which
    /// `is_const` holds) and launch arguments.
    pub fn split(&self, is_const: impl Fn(&str) -> bool) -> (Assignments, Assignments) {
        self.assignments.iter().cloned().partition(|(name, _)| is_const(name))
    }
}

/// A malformed case file line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Every case of a case file; the first malformed line is an error.
pub fn parse_cases(text: &str) -> Result<Vec<Case>, CaseError> {
    let mut cases = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let err = |message: String| CaseError { line, message };
        let words = split_words(content).map_err(err)?;
        let [file, kernel, rest @ ..] = words.as_slice() else {
            return Err(err(format!("expected `FILE KERNEL NAME=VALUE...`, found `{content}`")));
        };
        if !file.ends_with(".tsr") {
            return Err(err(format!("`{file}` is not a .tsr file; a case starts with `FILE KERNEL`")));
        }
        let mut assignments: Vec<(String, String)> = Vec::new();
        for word in rest {
            let Some((name, value)) = word.split_once('=') else {
                return Err(err(format!("`{word}` is not NAME=VALUE")));
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(err(format!("`{name}` is not a parameter name")));
            }
            if assignments.iter().any(|(n, _)| n == name) {
                return Err(err(format!("`{name}` is given twice")));
            }
            assignments.push((name.to_string(), value.to_string()));
        }
        cases.push(Case { line, file: file.to_string(), kernel: kernel.to_string(), assignments });
    }
    Ok(cases)
}

/// Splits at whitespace outside parentheses, so `fill(n, 0.5)` stays one word.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or_else(|| format!("unmatched `)` in `{text}`"))?,
            c if c.is_whitespace() && depth == 0 => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                continue;
            }
            _ => {}
        }
        word.push(c);
    }
    if depth != 0 {
        return Err(format!("unclosed `(` in `{text}`"));
    }
    if !word.is_empty() {
        words.push(word);
    }
    Ok(words)
}

/// How a pointer argument's buffer is filled.
#[derive(Clone, Debug, PartialEq)]
pub enum Fill {
    Uniform {
        lo: f64,
        hi: f64,
    },
    Normal {
        mean: f64,
        std_dev: f64,
    },
    Constant(f64),
    Arange,
    /// NaN everywhere: an output.
    Empty,
}

/// A buffer constructor, its length still an unevaluated expression.
#[derive(Clone, Debug, PartialEq)]
pub struct BufferSpec {
    pub len: String,
    pub fill: Fill,
}

impl BufferSpec {
    /// `rand(n, -2, 2)` and the other constructors; the reason when `text` is none.
    pub fn parse(text: &str) -> Result<BufferSpec, String> {
        const EXPECTED: &str = "expected rand(LEN[, LO, HI]), randn(LEN[, MEAN, STD]), zeros(LEN), fill(LEN, V), \
                                arange(LEN) or empty(LEN)";
        let text = text.trim();
        let open = text.find('(').ok_or(EXPECTED)?;
        let inner = text[open + 1..].strip_suffix(')').ok_or("a constructor ends with `)`")?;
        let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
        let number = |s: &str| eval_expr(s, &HashMap::new());
        let ctor = text[..open].trim();
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
                return Err(format!("wrong number of arguments to `{ctor}`: {EXPECTED}"));
            }
            _ => return Err(format!("unknown constructor `{ctor}`: {EXPECTED}")),
        };
        Ok(BufferSpec { len: len.to_string(), fill })
    }

    /// The buffer's length, given the scalar arguments.
    pub fn length(&self, scalars: &HashMap<String, f64>) -> Result<usize, String> {
        let len = eval_expr(&self.len, scalars)?;
        if !(0.0..=(1u64 << 34) as f64).contains(&len) || len.fract() != 0.0 {
            return Err(format!("buffer length {len} is not an integer in 0..=2^34"));
        }
        Ok(len as usize)
    }
}

/// Evaluates `+ - * /` (and unary minus, parentheses) over numbers and the
/// names of `scalars`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_demo_listing_parses() {
        let text = "# comment\n\nsoftmax.tsr softmax BLOCK=1024 rows=64 cols=1000 x=rand(rows*cols) # tail\n\
                    linear_attention.tsr la D=32 s=fill(2, 0.05)\n";
        let cases = parse_cases(text).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].line, 3);
        assert_eq!(cases[0].file, "softmax.tsr");
        assert_eq!(cases[0].kernel, "softmax");
        assert_eq!(cases[0].assignments[3], ("x".to_string(), "rand(rows*cols)".to_string()));
        assert_eq!(cases[1].line, 4);
        assert_eq!(cases[1].assignments[1], ("s".to_string(), "fill(2, 0.05)".to_string()));
        assert_eq!(cases[0].label(), "softmax BLOCK=1024 rows=64 cols=1000");
        let (consts, args) = cases[0].split(|n| n == "BLOCK");
        assert_eq!(consts, vec![("BLOCK".to_string(), "1024".to_string())]);
        assert_eq!(args.len(), 3);
    }

    #[test]
    fn malformed_lines_name_their_line() {
        let err = |text: &str| parse_cases(text).unwrap_err();
        assert_eq!(err("a.tsr k n=1\nb.tsr k n").to_string(), "line 2: `n` is not NAME=VALUE");
        assert_eq!(err("a.tsr").line, 1);
        assert!(err("a.txt k").message.contains("not a .tsr file"));
        assert!(err("a.tsr k n=1 n=2").message.contains("given twice"));
        assert!(err("a.tsr k x=rand(n").message.contains("unclosed"));
        assert!(err("a.tsr k x=rand(n))").message.contains("unmatched"));
        assert!(err("a.tsr k a-b=1").message.contains("not a parameter name"));
    }

    #[test]
    fn expressions_read_earlier_scalars() {
        let s = HashMap::from([("rows".to_string(), 37.0), ("cols".to_string(), 1000.0)]);
        assert_eq!(eval_expr("rows * cols", &s), Ok(37000.0));
        assert_eq!(eval_expr("(cols - 8) / 4 + -1", &s), Ok(247.0));
        assert_eq!(eval_expr("1e-5", &s), Ok(1e-5));
        assert_eq!(eval_expr("2.5E+2", &s), Ok(250.0));
        assert!(eval_expr("n", &s).unwrap_err().contains("`n`"));
        assert!(eval_expr("(rows", &s).unwrap_err().contains("missing `)`"));
        assert!(eval_expr("rows cols", &s).unwrap_err().contains("unexpected `cols`"));
        assert!(eval_expr("", &s).is_err());
        assert!(eval_expr("rows $", &s).is_err());
    }

    #[test]
    fn buffer_constructors() {
        let spec = BufferSpec::parse("rand(n * 2)").unwrap();
        assert_eq!(spec.fill, Fill::Uniform { lo: -1.0, hi: 1.0 });
        assert_eq!(spec.length(&HashMap::from([("n".to_string(), 5.0)])), Ok(10));
        assert_eq!(BufferSpec::parse("rand(4, 0.01, 0.11)").unwrap().fill, Fill::Uniform { lo: 0.01, hi: 0.11 });
        assert_eq!(BufferSpec::parse("randn(4, 2, 3)").unwrap().fill, Fill::Normal { mean: 2.0, std_dev: 3.0 });
        assert_eq!(BufferSpec::parse("fill(4, -0.5)").unwrap().fill, Fill::Constant(-0.5));
        assert_eq!(BufferSpec::parse("zeros(4)").unwrap().fill, Fill::Constant(0.0));
        assert_eq!(BufferSpec::parse("empty(4)").unwrap().fill, Fill::Empty);
        assert_eq!(BufferSpec::parse("arange(4)").unwrap().fill, Fill::Arange);
        assert!(BufferSpec::parse("rand(4, 1, 1)").unwrap_err().contains("LO < HI"));
        assert!(BufferSpec::parse("fill(4)").unwrap_err().contains("wrong number of arguments"));
        assert!(BufferSpec::parse("ones(4)").unwrap_err().contains("unknown constructor `ones`"));
        assert!(BufferSpec::parse("1024").is_err());
        assert!(BufferSpec::parse("rand(n)").unwrap().length(&HashMap::new()).is_err());
        assert!(BufferSpec::parse("rand(-1)").unwrap().length(&HashMap::new()).unwrap_err().contains("not an integer"));
    }
}
