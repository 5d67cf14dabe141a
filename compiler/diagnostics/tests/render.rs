use tessera_diagnostics::{Diagnostic, SourceMap, Span, render};

#[test]
fn renders_location_caret_code_and_help() {
    let mut map = SourceMap::new();
    let text = "kernel k() {\n    let x = 1 +;\n}\n";
    let file = map.add("bad.tsr", text);
    let start = text.find(";").unwrap();
    let d = Diagnostic::error("E0001", "expected an expression", Span::new(file, start, start + 1))
        .with_label("found `;`")
        .with_help("finish the expression");
    let out = render(&map, &d, false);
    assert!(out.contains("[E0001]"), "{out}");
    assert!(out.contains("bad.tsr:2:16"), "{out}");
    assert!(out.contains("let x = 1 +;"), "{out}");
    assert!(out.contains("Help: finish the expression"), "{out}");
    assert!(out.contains("found `;`"), "{out}");
}

#[test]
fn line_col_counts_characters() {
    let mut map = SourceMap::new();
    let f = map.add("u.tsr", "é\nab");
    assert_eq!(map.get(f).line_col(0), (1, 1));
    assert_eq!(map.get(f).line_col(2), (1, 2));
    assert_eq!(map.get(f).line_col(4), (2, 2));
    assert_eq!(map.get(f).line_col(999), (2, 3));
}
