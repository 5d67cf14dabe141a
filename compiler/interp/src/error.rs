//! Run-time errors of a launch.

use std::fmt;
use tessera_diagnostics::{Diagnostic, FileId, SourceMap, Span};
use tessera_tir::Loc;

/// A launch that failed: before running (arguments, grid; `program` is None
/// and `loc` unknown) or in an op of one program.
#[derive(Clone, Debug, PartialEq)]
pub struct InterpError {
    /// A code of [`crate::codes`].
    pub code: &'static str,
    pub message: String,
    /// The failing op's source location (unknown for launch errors).
    pub loc: Loc,
    /// The failing program's id, for errors inside a program.
    pub program: Option<[u32; 3]>,
    /// The kernel's source file name (`Kernel::source`).
    pub source: String,
    /// How to fix it, when that is knowable.
    pub help: Option<String>,
}

impl InterpError {
    /// A diagnostic pointing at `loc` in `file` (the file the kernel was
    /// compiled from), for rendering with the source line.
    pub fn to_diagnostic(&self, map: &SourceMap, file: FileId) -> Diagnostic {
        let offset = byte_offset(&map.get(file).text, self.loc);
        let mut message = self.message.clone();
        if let Some([x, y, z]) = self.program {
            message.push_str(&format!(" (program ({x}, {y}, {z}))"));
        }
        let mut d = Diagnostic::error(self.code, message, Span::new(file, offset, offset));
        if let Some(help) = &self.help {
            d = d.with_help(help.clone());
        }
        d
    }
}

/// The byte offset of a 1-based line and character column (clamped to the
/// text; 0 for an unknown location).
fn byte_offset(text: &str, loc: Loc) -> usize {
    if !loc.is_known() {
        return 0;
    }
    let mut start = 0;
    for _ in 1..loc.line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line = &text[start..];
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    let col = (loc.col.max(1) - 1) as usize;
    start + line.char_indices().nth(col).map_or(line.len(), |(i, _)| i)
}

/// `kernel.tsr:12:5: error[E0620]: message (program (1, 0, 0))`.
impl fmt::Display for InterpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if self.loc.is_known() {
            write!(f, ":{}:{}", self.loc.line, self.loc.col)?;
        }
        write!(f, ": error[{}]: {}", self.code, self.message)?;
        if let Some([x, y, z]) = self.program {
            write!(f, " (program ({x}, {y}, {z}))")?;
        }
        Ok(())
    }
}

impl std::error::Error for InterpError {}

/// An error found inside an op before its location is known; the executor
/// adds the location and program.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Fault {
    pub code: &'static str,
    pub message: String,
    pub help: Option<String>,
}

impl Fault {
    pub fn new(code: &'static str, message: impl Into<String>) -> Fault {
        Fault { code, message: message.into(), help: None }
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Fault {
        self.help = Some(help.into());
        self
    }
    /// An op contract the verifier should have caught.
    pub fn malformed(message: impl Into<String>) -> Fault {
        Fault::new(crate::codes::MALFORMED, message)
            .with_help("the IR breaks an op contract; run the tile-IR verifier on it")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_code_and_program() {
        let e = InterpError {
            code: "E0620",
            message: "load out of bounds".into(),
            loc: Loc { line: 12, col: 5 },
            program: Some([1, 0, 0]),
            source: "k.tsr".into(),
            help: None,
        };
        assert_eq!(e.to_string(), "k.tsr:12:5: error[E0620]: load out of bounds (program (1, 0, 0))");
        let launch = InterpError { loc: Loc::UNKNOWN, program: None, ..e };
        assert_eq!(launch.to_string(), "k.tsr: error[E0620]: load out of bounds");
    }

    #[test]
    fn diagnostic_points_at_the_column() {
        let mut map = SourceMap::new();
        let file = map.add("k.tsr", "line one\n  é x = 1\n");
        assert_eq!(byte_offset(&map.get(file).text, Loc { line: 2, col: 5 }), 9 + 2 + 2 + 1);
        assert_eq!(byte_offset("ab", Loc { line: 9, col: 1 }), 2);
        let e = InterpError {
            code: "E0622",
            message: "division by zero".into(),
            loc: Loc { line: 2, col: 3 },
            program: None,
            source: "k.tsr".into(),
            help: Some("guard the divisor".into()),
        };
        let d = e.to_diagnostic(&map, file);
        assert_eq!(d.span.start, 11);
        assert_eq!(d.help.as_deref(), Some("guard the divisor"));
    }
}
