//! No input panics the parser, loops forever or overflows the stack, and
//! every diagnostic's spans lie inside the file.

use proptest::prelude::*;
use tessera_diagnostics::{Diagnostic, FileId};
use tessera_syntax::parse;

fn check_spans(text: &str, diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        for span in std::iter::once(d.span).chain(d.secondary.iter().map(|l| l.span)) {
            assert!(span.start <= span.end && span.end as usize <= text.len(), "{d:?} out of range in {text:?}");
            assert!(text.is_char_boundary(span.start as usize) && text.is_char_boundary(span.end as usize));
        }
    }
}

/// Fragments of valid and invalid Tessera, glued at random.
const SOUP: &[&str] = &[
    "kernel",
    "fn",
    "const",
    "let",
    "mut",
    "for",
    "in",
    "while",
    "if",
    "else",
    "return",
    "true",
    "None",
    "as",
    "x",
    "tl",
    "load",
    "grid",
    "tune",
    "key",
    "def",
    "elif",
    "and",
    "f32",
    "*",
    "+",
    "-",
    "/",
    "%",
    "<<",
    ">>",
    "&",
    "|",
    "^",
    "&&",
    "||",
    "!",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "+=",
    "-=",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    ":",
    ".",
    "->",
    "@",
    "1",
    "0x1F",
    "2.5e3",
    "\"s\"",
    "\"",
    "//",
    "/*",
    "*/",
    "\n",
    " ",
    "#",
    "€",
    "1e",
    ".5",
    "99999999999999999999",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(SOUP), 0..120).prop_map(|parts| parts.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        let (_, diagnostics) = parse(FileId(0), &text);
        check_spans(&text, &diagnostics);
    }

    #[test]
    fn token_soup_never_panics(text in soup()) {
        let (_, diagnostics) = parse(FileId(0), &text);
        check_spans(&text, &diagnostics);
    }

    /// A valid kernel with one random fragment spliced in somewhere.
    #[test]
    fn damaged_kernel_never_panics(at in 0usize..200, fragment in prop::sample::select(SOUP)) {
        let valid = "kernel k(x: *f32, n: i32, const B: i32 = 4) grid(n) {\n    let i = arange(0, B);\n    \
                     store(x + i, load(x + i, mask = i < n) * 2.0, mask = i < n);\n}\n";
        let mut at = at.min(valid.len());
        while !valid.is_char_boundary(at) {
            at -= 1;
        }
        let text = format!("{}{}{}", &valid[..at], fragment, &valid[at..]);
        let (_, diagnostics) = parse(FileId(0), &text);
        check_spans(&text, &diagnostics);
    }
}

#[test]
fn deep_nesting_is_a_diagnostic() {
    for open in ["(", "[", "{", "-", "!", "-("] {
        let text = format!("fn f() {{ return {}1; }}", open.repeat(100_000));
        let (_, diagnostics) = parse(FileId(0), &text);
        assert!(diagnostics.iter().any(|d| d.code == tessera_syntax::codes::NESTING_TOO_DEEP), "{open}");
        check_spans(&text, &diagnostics);
    }
}

#[test]
fn long_chains_parse_quickly() {
    let text = format!("fn f(a) {{ return {}a; }}", "a + ".repeat(20_000));
    let start = std::time::Instant::now();
    let (_, diagnostics) = parse(FileId(0), &text);
    assert!(diagnostics.iter().any(|d| d.code == tessera_syntax::codes::NESTING_TOO_DEEP));
    let stmts = "let x = a * b + c;\n".repeat(20_000);
    let text = format!("fn f(a, b, c) {{ {stmts} }}");
    let (_, diagnostics) = parse(FileId(0), &text);
    assert!(diagnostics.is_empty());
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}

#[test]
fn empty_and_blank_files() {
    for text in ["", "   \n\t", "// only a comment", "/**/"] {
        let (module, diagnostics) = parse(FileId(0), text);
        assert!(module.items.is_empty() && diagnostics.is_empty(), "{text:?}");
    }
}
