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
//! The value grammar is [`tessera_runtime::host_values`], the one of
//! `tessera run --interp` and `tessera-run`.
//!
//! Values are kept as text until the kernel is known; parsing a line only
//! checks its shape, so that every error names its line.

use std::collections::HashMap;
use std::fmt;
use tessera_runtime::host_values::BufferSpec;

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
            .filter(|(_, v)| BufferSpec::parse(v, &HashMap::new()).is_err())
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
}
