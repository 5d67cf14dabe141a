//! Rendered syntax diagnostics, one snapshot per code, and recovery that
//! reports every independent error of a file.

use tessera_diagnostics::{Diagnostic, SourceMap, render_all};
use tessera_syntax::ast::{Item, StmtKind};
use tessera_syntax::{codes, parse};

fn diagnose(src: &str) -> (String, Vec<Diagnostic>) {
    let mut map = SourceMap::new();
    let file = map.add("test.tsr", src);
    let (_, diagnostics) = parse(file, src);
    (render_all(&map, &diagnostics), diagnostics)
}

/// Snapshots the rendering and checks that `code` is the only code reported.
fn check(name: &str, src: &str, code: &str) {
    let (rendered, diagnostics) = diagnose(src);
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
    assert!(
        !codes.is_empty() && codes.iter().all(|c| *c == code),
        "{name}: expected only {code}, got {codes:?}\n{rendered}"
    );
    insta::assert_snapshot!(name, rendered);
}

#[test]
fn unknown_character() {
    check("E0001_unknown_character", "kernel k() {\n    let x = 1; # note\n}\n", codes::UNKNOWN_CHARACTER);
}

#[test]
fn unterminated_string() {
    check(
        "E0002_unterminated_string",
        "kernel k() {\n    static_assert(true, \"oops);\n}\n",
        codes::UNTERMINATED_STRING,
    );
}

#[test]
fn unterminated_comment() {
    check("E0003_unterminated_comment", "kernel k() { }\n/* never closed\nfn f() {}\n", codes::UNTERMINATED_COMMENT);
}

#[test]
fn unterminated_comment_inside_a_body_is_the_only_error() {
    // The comment swallows the closing braces: they are not missing twice.
    check(
        "E0003_unterminated_comment_in_body",
        "kernel k(n: i32) {\n    if n > 0 {\n        let a = 1; /* never closed\n    }\n}\n",
        codes::UNTERMINATED_COMMENT,
    );
}

#[test]
fn invalid_escape() {
    check("E0004_invalid_escape", "const S = \"a\\qb\";\n", codes::INVALID_ESCAPE);
}

#[test]
fn invalid_number() {
    check(
        "E0005_invalid_number",
        "const A = 0x;\nconst B = 12abc;\nconst C = .5;\nconst D = 1e;\n",
        codes::INVALID_NUMBER,
    );
}

#[test]
fn integer_too_large() {
    check("E0006_integer_too_large", "const BIG = 18446744073709551616;\n", codes::INTEGER_TOO_LARGE);
}

#[test]
fn unexpected_token() {
    check("E0007_unexpected_token", "kernel k(x: *f32) {\n    store(x, 1 2);\n}\n", codes::UNEXPECTED_TOKEN);
}

#[test]
fn missing_semicolon() {
    check("E0008_missing_semicolon", "kernel k() {\n    let a = 1\n    let b = a;\n}\n", codes::MISSING_SEMICOLON);
}

#[test]
fn floor_division_comment() {
    check("E0008_floor_division", "fn f(a, b) {\n    let c = a // b\n    return c;\n}\n", codes::MISSING_SEMICOLON);
}

#[test]
fn unclosed_delimiter() {
    check("E0009_unclosed_delimiter", "kernel k(x: *f32) {\n    store(x, load(x);\n}\n", codes::UNCLOSED_DELIMITER);
}

#[test]
fn unclosed_block_at_end_of_file() {
    check("E0009_unclosed_block", "kernel k() {\n    let a = 1;\n", codes::UNCLOSED_DELIMITER);
}

#[test]
fn unmatched_closing_delimiter() {
    check("E0010_unmatched_closer", "kernel k() {\n    let a = 1);\n}\n", codes::UNMATCHED_CLOSING_DELIMITER);
}

#[test]
fn expected_expression() {
    check("E0011_expected_expression", "kernel k() {\n    let a = 1 + ;\n}\n", codes::EXPECTED_EXPRESSION);
}

#[test]
fn expected_type() {
    check("E0012_expected_type", "kernel k(x: 3) { }\n", codes::EXPECTED_TYPE);
}

#[test]
fn expected_pointee_type() {
    check("E0012_expected_pointee_type", "kernel k(x: *f32, y: *, n: i32) { }\n", codes::EXPECTED_TYPE);
}

#[test]
fn expected_identifier() {
    check("E0013_expected_identifier", "kernel k() {\n    let in = 3;\n}\n", codes::EXPECTED_IDENTIFIER);
}

#[test]
fn expected_item() {
    check("E0014_expected_item", "let x = 1;\nkernel k() { }\n", codes::EXPECTED_ITEM);
}

#[test]
fn chained_comparison() {
    check("E0015_chained_comparison", "fn f(a, b, c) {\n    return a < b < c;\n}\n", codes::CHAINED_COMPARISON);
}

#[test]
fn duplicate_clause() {
    check("E0016_duplicate_clause", "kernel k(n: i32) grid(n) key(n) grid(1) { }\n", codes::INVALID_CLAUSE);
}

#[test]
fn unknown_clause() {
    check("E0016_unknown_clause", "kernel k(n: i32) grdi(n) { }\n", codes::INVALID_CLAUSE);
}

#[test]
fn invalid_assignment_target() {
    check(
        "E0017_invalid_assignment_target",
        "kernel k(x: *f32) {\n    x[0] = 1.0;\n}\n",
        codes::INVALID_ASSIGNMENT_TARGET,
    );
}

#[test]
fn tl_prefix() {
    check(
        "E0018_tl_prefix",
        "kernel k(x: *f32) {\n    let i = tl.program_id(0);\n    let y = load(x).to(tl.bfloat16);\n}\n",
        codes::TL_PREFIX,
    );
}

#[test]
fn assignment_in_condition() {
    check(
        "E0019_assignment_in_condition",
        "fn f(a, b) {\n    if a = b { return a; }\n}\n",
        codes::ASSIGNMENT_IN_CONDITION,
    );
}

#[test]
fn python_def() {
    check("E0020_python_def", "def add(x, y):\n    return x + y\n", codes::PYTHON_SYNTAX);
}

#[test]
fn python_colon_block() {
    check("E0020_python_colon", "fn f(n) {\n    for i in range(n):\n        f(i);\n}\n", codes::PYTHON_SYNTAX);
}

#[test]
fn python_boolean_operators() {
    check("E0020_python_and", "fn f(a, b) {\n    if a and b { return a; }\n}\n", codes::PYTHON_SYNTAX);
}

#[test]
fn nesting_too_deep() {
    let src = format!("fn f(a) {{ return {}a{}; }}\n", "(".repeat(300), ")".repeat(300));
    check("E0021_nesting_too_deep", &src, codes::NESTING_TOO_DEEP);
}

#[test]
fn missing_method_call() {
    check("E0022_missing_method_call", "fn f(x) {\n    return x.shape;\n}\n", codes::MISSING_METHOD_CALL);
}

#[test]
fn missing_method_call_help_names_the_fix() {
    let help = |src: &str| diagnose(src).1.first().and_then(|d| d.help.clone()).unwrap_or_default();
    assert!(help("fn f(x) { return x.T; }").contains("`trans(x)`"));
    assert!(help("fn f(x) { return x.dtype; }").contains("no `.dtype`"));
    assert!(help("fn f(x) { return x.sum; }").contains("`.sum()`"));
}

#[test]
fn every_code_is_listed_once() {
    let mut seen: Vec<&str> = codes::ALL.iter().map(|(c, _)| *c).collect();
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), n, "duplicate code in codes::ALL");
    assert!(seen.iter().all(|c| c.starts_with("E00") && c.len() == 5));
}

#[test]
fn three_independent_errors_are_all_reported() {
    let src = "\
kernel k(x: *f32, n: i32) {
    let a = 1 +;
    store(x, a;
    let b = a
    let c = b;
}
fn g(y) { return y; }
";
    let (rendered, diagnostics) = diagnose(src);
    let found: Vec<(&str, u32)> = diagnostics.iter().map(|d| (d.code, d.span.start)).collect();
    assert_eq!(
        found.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        [codes::EXPECTED_EXPRESSION, codes::UNCLOSED_DELIMITER, codes::MISSING_SEMICOLON],
        "{rendered}"
    );
    // The statements around the errors and the next item survive.
    let mut map = SourceMap::new();
    let (module, _) = parse(map.add("t.tsr", src), src);
    assert_eq!(module.items.len(), 2);
    let Item::Kernel(k) = &module.items[0] else { panic!() };
    let kinds: Vec<&StmtKind> = k.body.stmts.iter().map(|s| &s.kind).collect();
    assert!(matches!(kinds[0], StmtKind::Error), "{kinds:?}");
    assert!(matches!(kinds[1], StmtKind::Expr(_)), "{kinds:?}");
    assert!(matches!(kinds[2], StmtKind::Let { .. }) && matches!(kinds[3], StmtKind::Let { .. }), "{kinds:?}");
}

#[test]
fn errors_in_every_item_are_reported() {
    let src = "\
kernel a() { let x = ; }
fn b(y) { return y +; }
const C: = 3;
kernel d() { let z = (1, ]; }
";
    let (rendered, diagnostics) = diagnose(src);
    let lines: Vec<u32> =
        diagnostics.iter().map(|d| src[..d.span.start as usize].matches('\n').count() as u32 + 1).collect();
    assert_eq!(lines, [1, 2, 3, 4], "{rendered}");
}
