//! Finding a kernel's parameters and grid clause in its source text, so that
//! launch errors (which happen before any op runs, and so have no op
//! location) can point at what they are about.
//!
//! The tile IR keeps no source positions for parameters or the grid, and
//! this crate sits below the parser; a kernel header is simple enough to
//! scan directly: `kernel NAME(PARAMS) CLAUSES {`. Comments and strings are
//! skipped. When the header cannot be found (the text is not the kernel's
//! source), the scan answers `None` and the error stays unlocated.

use std::ops::Range;

/// What a launch error is about, when it concerns the kernel's interface
/// rather than an op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LaunchSubject {
    /// The whole parameter list (a wrong argument count).
    Params,
    /// The runtime parameter with this name.
    Param(String),
    /// Grid dimension `axis`.
    Grid(usize),
    /// The `require` clause.
    Require,
}

/// A launch error's place in the source: `subject` of kernel `kernel`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaunchSite {
    pub kernel: String,
    pub subject: LaunchSubject,
}

impl LaunchSubject {
    /// The label shown under the located text.
    pub fn label(&self) -> String {
        match self {
            LaunchSubject::Params => "the kernel's parameters".to_string(),
            LaunchSubject::Param(name) => format!("parameter `{name}`"),
            LaunchSubject::Grid(axis) => format!("grid dimension {axis}"),
            LaunchSubject::Require => "the kernel's `require` conditions".to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok<'a> {
    Ident(&'a str),
    Punct(char),
    /// A number or string literal: only its extent matters here.
    Other,
}

/// Tokens with their byte ranges; comments and whitespace dropped.
fn tokens(text: &str) -> Vec<(Tok<'_>, Range<usize>)> {
    let bytes = text.as_bytes();
    let rest = |i: usize| text.get(i..).unwrap_or("");
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let start = i;
        if b.is_ascii_whitespace() {
            i += 1;
        } else if rest(i).starts_with("//") {
            i += rest(i).find('\n').unwrap_or(rest(i).len());
        } else if rest(i).starts_with("/*") {
            i += rest(i + 2).find("*/").map_or(rest(i).len(), |e| e + 4);
        } else if b == b'"' {
            // Up to the closing quote (or the line's end: unterminated).
            let body = rest(i + 1);
            let mut len = body.len();
            let mut escaped = false;
            for (j, c) in body.char_indices() {
                if !escaped && (c == '"' || c == '\n') {
                    len = j + 1;
                    break;
                }
                escaped = !escaped && c == '\\';
            }
            i += 1 + len;
            out.push((Tok::Other, start..i));
        } else if b.is_ascii_alphanumeric() || b == b'_' {
            let number = b.is_ascii_digit();
            while bytes.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || (number && *c == b'.')) {
                i += 1;
            }
            let tok = if number { Tok::Other } else { Tok::Ident(&text[start..i]) };
            out.push((tok, start..i));
        } else {
            // One character, however many bytes it takes.
            let c = rest(i).chars().next().unwrap_or('\u{fffd}');
            i += c.len_utf8();
            out.push((Tok::Punct(c), start..i));
        }
    }
    out
}

/// The byte range of `subject` in the header of kernel `kernel` in `text`.
pub(crate) fn find(text: &str, kernel: &str, subject: &LaunchSubject) -> Option<Range<usize>> {
    let toks = tokens(text);
    let at = toks
        .windows(3)
        .position(|w| w[0].0 == Tok::Ident("kernel") && w[1].0 == Tok::Ident(kernel) && w[2].0 == Tok::Punct('('))?;
    // Split the parenthesized lists of the header into their top-level
    // items: the parameter list first, then each clause's.
    let open = at + 2;
    let (params, after) = split_group(&toks, open)?;
    match subject {
        LaunchSubject::Params => Some(toks.get(open)?.1.start..toks.get(after.checked_sub(1)?)?.1.end),
        LaunchSubject::Param(name) => params
            .iter()
            .find(|item| {
                let mut words = item.iter().map(|t| t.0);
                let first = words.next();
                first == Some(Tok::Ident(name))
                    || (first == Some(Tok::Ident("const")) && words.next() == Some(Tok::Ident(name)))
            })
            .and_then(|item| Some(item.first()?.1.start..item.last()?.1.end)),
        LaunchSubject::Grid(axis) => {
            let i = clause(&toks, after, "grid")?;
            let (dims, end) = split_group(&toks, i + 1)?;
            match dims.get(*axis) {
                Some(dim) => Some(dim.first()?.1.start..dim.last()?.1.end),
                None => Some(toks.get(i)?.1.start..toks.get(end.checked_sub(1)?)?.1.end),
            }
        }
        LaunchSubject::Require => {
            let i = clause(&toks, after, "require")?;
            let (_, end) = split_group(&toks, i + 1)?;
            Some(toks.get(i)?.1.start..toks.get(end.checked_sub(1)?)?.1.end)
        }
    }
}

/// The index of the clause `name(` among the header's clauses from `toks[i]`
/// up to the body's `{`.
fn clause(toks: &[(Tok<'_>, Range<usize>)], mut i: usize, name: &str) -> Option<usize> {
    while let Some((tok, _)) = toks.get(i) {
        match tok {
            Tok::Punct('{') => return None,
            Tok::Ident(word) if *word == name && toks.get(i + 1).map(|t| t.0) == Some(Tok::Punct('(')) => {
                return Some(i);
            }
            _ => i += 1,
        }
    }
    None
}

type Item<'t, 'a> = &'t [(Tok<'a>, Range<usize>)];

/// The comma-separated top-level items of the group opened at `toks[open]`
/// and the index just past its closer.
fn split_group<'t, 'a>(toks: &'t [(Tok<'a>, Range<usize>)], open: usize) -> Option<(Vec<Item<'t, 'a>>, usize)> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = open + 1;
    for (i, (tok, _)) in toks.iter().enumerate().skip(open) {
        match tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    if i > start {
                        items.push(toks.get(start..i)?);
                    }
                    return Some((items, i + 1));
                }
            }
            Tok::Punct(',') if depth == 1 => {
                items.push(toks.get(start..i)?);
                start = i + 1;
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "// kernel k(not this)\n/* kernel k( */\nkernel k(x: *f32 @div(16), n: i32, const B: i32 = 4)\n    grid(cdiv(n, B), 2)\n{\n}\n";

    fn text_of(subject: LaunchSubject) -> Option<&'static str> {
        find(SRC, "k", &subject).map(|r| &SRC[r])
    }

    #[test]
    fn finds_parameters_and_grid_dimensions() {
        assert_eq!(text_of(LaunchSubject::Param("x".into())), Some("x: *f32 @div(16)"));
        assert_eq!(text_of(LaunchSubject::Param("n".into())), Some("n: i32"));
        assert_eq!(text_of(LaunchSubject::Param("B".into())), Some("const B: i32 = 4"));
        assert_eq!(text_of(LaunchSubject::Params), Some("(x: *f32 @div(16), n: i32, const B: i32 = 4)"));
        assert_eq!(text_of(LaunchSubject::Grid(0)), Some("cdiv(n, B)"));
        assert_eq!(text_of(LaunchSubject::Grid(1)), Some("2"));
        assert_eq!(text_of(LaunchSubject::Grid(2)), Some("grid(cdiv(n, B), 2)"));
    }

    #[test]
    fn unknown_names_and_text_are_not_located() {
        assert_eq!(text_of(LaunchSubject::Param("y".into())), None);
        assert_eq!(find(SRC, "other", &LaunchSubject::Params), None);
        assert_eq!(find("kernel k(", "k", &LaunchSubject::Params), None);
        assert_eq!(find("kernel k() { }", "k", &LaunchSubject::Grid(0)), None);
        assert_eq!(find("\"unterminated", "k", &LaunchSubject::Params), None);
    }
}
