//! Run-time errors of a launch.

use crate::locate::{self, LaunchSite};
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
    /// For launch errors: the kernel and the parameter or grid dimension at
    /// fault (boxed: most errors have none, and errors travel in `Result`s).
    pub site: Option<Box<LaunchSite>>,
    /// How to fix it, when that is knowable.
    pub help: Option<String>,
}

impl InterpError {
    /// A diagnostic pointing at `loc` in `file` (the file the kernel was
    /// compiled from), for rendering with the source line; a launch error
    /// points at its parameter or grid dimension in the kernel's header.
    pub fn to_diagnostic(&self, map: &SourceMap, file: FileId) -> Diagnostic {
        let text = &map.get(file).text;
        let mut message = self.message.clone();
        if let Some([x, y, z]) = self.program {
            message.push_str(&format!(" (program ({x}, {y}, {z}))"));
        }
        let located = match &self.site {
            Some(site) if !self.loc.is_known() => {
                locate::find(text, &site.kernel, &site.subject).map(|r| (r, site.subject.label()))
            }
            _ => None,
        };
        let mut d = match located {
            Some((range, label)) => {
                Diagnostic::error(self.code, message, Span::new(file, range.start, range.end)).with_label(label)
            }
            None => {
                let offset = byte_offset(text, self.loc);
                Diagnostic::error(self.code, message, Span::new(file, offset, offset))
            }
        };
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
    /// An interleaved program stopped because another one failed.
    pub fn aborted() -> Fault {
        Fault::new(crate::codes::ABORTED, "stopped: another program of the launch failed")
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
    use crate::locate::LaunchSubject;

    #[test]
    fn display_names_file_line_code_and_program() {
        let e = InterpError {
            code: "E0620",
            message: "load out of bounds".into(),
            loc: Loc { line: 12, col: 5 },
            program: Some([1, 0, 0]),
            source: "k.tsr".into(),
            site: None,
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
            site: None,
            help: Some("guard the divisor".into()),
        };
        let d = e.to_diagnostic(&map, file);
        assert_eq!(d.span.start, 11);
        assert_eq!(d.help.as_deref(), Some("guard the divisor"));
    }

    #[test]
    fn launch_error_points_at_its_parameter() {
        let mut map = SourceMap::new();
        let text = "kernel k(x: *f32, n: i32) grid(n) {\n}\n";
        let file = map.add("k.tsr", text);
        let e = InterpError {
            code: "E0602",
            message: "wrong kind".into(),
            loc: Loc::UNKNOWN,
            program: None,
            source: "k.tsr".into(),
            site: Some(Box::new(LaunchSite { kernel: "k".into(), subject: LaunchSubject::Param("n".into()) })),
            help: None,
        };
        let d = e.to_diagnostic(&map, file);
        assert_eq!(&text[d.span.range()], "n: i32");
        assert_eq!(d.label.as_deref(), Some("parameter `n`"));
        let site = |kernel: &str, subject| Some(Box::new(LaunchSite { kernel: kernel.into(), subject }));
        let grid = InterpError { site: site("k", LaunchSubject::Grid(0)), ..e.clone() };
        assert_eq!(&text[grid.to_diagnostic(&map, file).span.range()], "n");
        let elsewhere = InterpError { site: site("other", LaunchSubject::Params), ..e };
        assert_eq!(elsewhere.to_diagnostic(&map, file).span.range(), 0..0);
    }
}
