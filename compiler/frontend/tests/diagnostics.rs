//! One bad program per front-end diagnostic code: each must report its code
//! (and the table must cover every code of `codes::ALL`).

mod common;

use tessera_diagnostics::render_all;
use tessera_frontend::{ConstValue, codes};

/// (code, program, kernel, compile-time values)
type Case = (&'static str, &'static str, &'static str, &'static [(&'static str, ConstValue)]);

const NONE: &[(&str, ConstValue)] = &[];

const CASES: &[Case] = &[
    (codes::UNKNOWN_NAME, "kernel k(p: *f32) { let offs = arange(0, 4); store(p + ofs, 1.0); }", "k", NONE),
    (codes::UNKNOWN_FUNCTION, "kernel k(p: *f32) { store(p, lod(p)); }", "k", NONE),
    (codes::DUPLICATE_ITEM, "fn f(x) { return x; } fn f(y) { return y; } kernel k() { }", "k", NONE),
    (codes::SHADOWS_BUILTIN, "fn sum(x) { return x; } kernel k() { }", "k", NONE),
    (codes::TOO_MANY_ARGS, "kernel k(p: *f32) { let x = program_id(0, 1); }", "k", NONE),
    (codes::MISSING_ARG, "kernel k(p: *f32) { store(p); }", "k", NONE),
    (codes::UNKNOWN_KEYWORD, "kernel k(p: *f32) { let x = load(p, masks = true); }", "k", NONE),
    (codes::DUPLICATE_ARG, "kernel k(p: *f32) { let x = load(p, pointer = p); }", "k", NONE),
    (
        codes::RECURSION,
        "fn a(x) { return b(x); } fn b(x) { return a(x); } kernel k(p: *f32) { store(p, a(1.0)); }",
        "k",
        NONE,
    ),
    (codes::MISPLACED_RETURN, "fn f(x) { return x; let y = 1; } kernel k(p: *f32) { store(p, f(1.0)); }", "k", NONE),
    (codes::DUPLICATE_PARAM, "kernel k(p: *f32, p: *f32) { }", "k", NONE),
    (codes::UNKNOWN_KERNEL, "kernel k() { }", "kk", NONE),
    (codes::MISSING_CONST_PARAM, "kernel k(const B: i32) { }", "k", NONE),
    (codes::UNKNOWN_CONST_PARAM, "kernel k(const B: i32 = 4) { }", "k", &[("C", ConstValue::Int(1))]),
    (codes::RANGE_OUTSIDE_FOR, "kernel k() { let r = range(4); }", "k", NONE),
    (codes::INLINE_TOO_DEEP, DEEP, "k", NONE),
    (codes::FUNCTION_AS_VALUE, "kernel k(p: *f32) { let f = exp; }", "k", NONE),
    (codes::BAD_FOR_ITERATOR, "kernel k() { for i in 4 { } }", "k", NONE),
    (codes::KERNEL_CALL, "kernel j() { } kernel k() { j(); }", "k", NONE),
    (codes::UNKNOWN_TYPE, "kernel k(p: *f23) { }", "k", NONE),
    (codes::ASSIGN_TO_CONST, "kernel k(const B: i32 = 4) { B = 8; }", "k", NONE),
    (codes::SHAPE_MISMATCH, "kernel k() { let x = arange(0, 4) + arange(0, 8); }", "k", NONE),
    (codes::BAD_OPERAND_TYPES, "kernel k(p: *f32) { let x = load(p) << 2; }", "k", NONE),
    (
        codes::TYPE_CHANGED,
        "kernel k(p: *f32, n: i32) { let acc = 0; for i in range(0, n) { acc += load(p + i); } }",
        "k",
        NONE,
    ),
    (codes::CONDITION_NOT_BOOL, "kernel k(n: i32) { if n { } }", "k", NONE),
    (codes::NOT_A_POINTER, "kernel k(n: i32) { let x = load(n); }", "k", NONE),
    (codes::MASK_NOT_BOOL, "kernel k(p: *f32) { let x = load(p + arange(0, 4), mask = arange(0, 4)); }", "k", NONE),
    (codes::OTHER_WITHOUT_MASK, "kernel k(p: *f32) { let x = load(p, other = 0.0); }", "k", NONE),
    (codes::WRONG_POINTER_KIND, "kernel k(p: *f32) { let x = load(p, boundary_check = (0,)); }", "k", NONE),
    (codes::DOT_SHAPE, "kernel k() { let x = dot(zeros((16, 16), f16), zeros((32, 16), f16)); }", "k", NONE),
    (codes::DOT_TYPE, "kernel k() { let x = dot(zeros((16, 16), f16), zeros((16, 16), f32)); }", "k", NONE),
    (codes::AXIS_OUT_OF_RANGE, "kernel k() { let x = sum(zeros((4, 4)), 2); }", "k", NONE),
    (codes::EXPECTED_DTYPE, "kernel k() { let x = zeros((4,), 3); }", "k", NONE),
    (codes::BAD_PARAM_TYPE, "kernel k(p: **f32) { }", "k", NONE),
    (codes::BAD_CAST, "kernel k(p: *f32) { let x = 1.0 as *f32; }", "k", NONE),
    (codes::RESHAPE_COUNT, "kernel k() { let x = reshape(zeros((4, 4)), (3, 5)); }", "k", NONE),
    (codes::BAD_PERMUTATION, "kernel k() { let x = permute(zeros((4, 4)), (0, 0)); }", "k", NONE),
    (codes::NO_VALUE, "fn f(p) { store(p, 1.0); } kernel k(p: *f32) { let x = f(p) + 1; }", "k", NONE),
    (codes::TUPLE_ARITY, "fn f() { return (1, 2); } kernel k() { let (a, b, c) = f(); }", "k", NONE),
    (codes::PARAM_TYPE_MISMATCH, "fn f(x: i32) { return x; } kernel k(p: *f32) { store(p, f(load(p))); }", "k", NONE),
    (codes::LET_TYPE_MISMATCH, "kernel k(p: *f32) { let x: i32 = load(p); }", "k", NONE),
    (codes::BAD_INDEX, "kernel k() { let x = arange(0, 4)[1]; }", "k", NONE),
    (codes::EXPECTED_TENSOR, "kernel k() { let m = max(3, 4); }", "k", NONE),
    (codes::NOT_CARRIABLE, "kernel k(n: i32) { let t = f32; for i in range(0, n) { t = f16; } }", "k", NONE),
    (codes::EXPECTED_SHAPE, "kernel k() { let x = zeros(1.5); }", "k", NONE),
    (
        codes::BAD_OPTION,
        "kernel k() { let x = dot(zeros((16, 16)), zeros((16, 16)), precision = \"tf64\"); }",
        "k",
        NONE,
    ),
    (
        codes::BLOCK_PTR_RANK,
        "kernel k(p: *f32) { let b = make_block_ptr(p, (4, 4), (4, 1), (0, 0, 0), (4, 4), (1, 0)); }",
        "k",
        NONE,
    ),
    (codes::EXPECTED_NUMBER, "kernel k(p: *f32) { store(p, \"one\"); }", "k", NONE),
    (codes::RETURN_TYPE_MISMATCH, "fn f(x) -> i32 { return x; } kernel k(p: *f32) { store(p, f(1.5)); }", "k", NONE),
    (codes::EXPECTED_INT, "kernel k() { for i in range(0, 4.5) { } }", "k", NONE),
    (codes::NOT_CONSTANT, "kernel k(n: i32) { let x = arange(0, n); }", "k", NONE),
    (codes::CONST_OVERFLOW, "const BIG: i64 = 9223372036854775807 + 1; kernel k() { }", "k", NONE),
    (codes::CONST_DIV_ZERO, "kernel k(const B: i32 = 0) { let x = 4 / B; }", "k", NONE),
    (
        codes::STATIC_ASSERT_FAILED,
        "kernel k(const B: i32 = 48) { static_assert(B % 32 == 0, \"B must be a multiple of 32\"); }",
        "k",
        NONE,
    ),
    (codes::CONST_OUT_OF_RANGE, "kernel k(p: *i8) { store(p, load(p) + 300); }", "k", NONE),
    (codes::LITERAL_TOO_LARGE, "kernel k() { let x = 9223372036854775808; }", "k", NONE),
    (codes::UNROLL_LIMIT, "kernel k() { for i in static_range(0, 100000) { } }", "k", NONE),
    (codes::ZERO_STEP, "kernel k(n: i32) { for i in range(0, n, 0) { } }", "k", NONE),
    (codes::BAD_ARANGE, "kernel k() { let x = arange(8, 4); }", "k", NONE),
    (codes::BAD_DIMENSION, "kernel k() { let x = zeros((4, 0)); }", "k", NONE),
    (codes::KERNEL_TOO_LARGE, HUGE, "k", NONE),
    (codes::CONST_TYPE_MISMATCH, "kernel k(const B: i32 = 1.5) { }", "k", NONE),
    (codes::SHIFT_OUT_OF_RANGE, "kernel k() { let x = 1 << 70; }", "k", NONE),
    (codes::GRID_ARITY, "kernel k(n: i32) grid(n, n, n, n) { }", "k", NONE),
    (codes::GRID_PARAM_TYPE, "kernel k(p: *f32) grid(p) { }", "k", NONE),
    (codes::GRID_EXPR, "kernel k(n: i32) grid(n << 1) { }", "k", NONE),
    (codes::TUNE_UNKNOWN, "kernel k(const BLOCK: i32 = 4) tune(BLOK = [1, 2]) { }", "k", NONE),
    (codes::BAD_WARPS, "kernel k() tune(warps = [3]) { }", "k", NONE),
    (codes::BAD_STAGES, "kernel k() tune(stages = [0]) { }", "k", NONE),
    (codes::TUNE_VALUES, "kernel k(const B: i32 = 4) tune(B = [4, 4]) { }", "k", NONE),
    (codes::BAD_KEY, "kernel k(p: *f32) key(p) { }", "k", NONE),
    (codes::UNKNOWN_HINT, "kernel k(n: i32 @dvi(16)) { }", "k", NONE),
    (codes::HINT_PARAM_TYPE, "kernel k(x: f32 @div(16)) { }", "k", NONE),
    (codes::BAD_HINT_ARG, "kernel k(n: i32 @div(12)) { }", "k", NONE),
    (codes::DUPLICATE_META_ENTRY, "kernel k(n: i32) key(n, n) { }", "k", NONE),
    (codes::UNTYPED_PARAM, "kernel k(n) { }", "k", NONE),
    (codes::CONST_PARAM_TYPE, "kernel k(const P: *f32) { }", "k", NONE),
    (codes::HINT_ON_CONST, "kernel k(const B: i32 @div(16) = 16) { }", "k", NONE),
    (codes::TUNE_VALUE_TYPE, "kernel k(const B: i32 = 4) tune(B = [1.5]) { }", "k", NONE),
    (codes::REQUIRE_EXPR, "kernel k(p: *f32, n: i32) require(p > n) { }", "k", NONE),
    (codes::REQUIRE_EXPR, "kernel k(n: i32) require(load(n) > 0) { }", "k", NONE),
    (codes::REQUIRE_FAILED, "kernel k(n: i32, const B: i32 = 64) require(B % 128 == 0) { }", "k", NONE),
    (codes::BAD_OCCUPANCY, "kernel k() tune(occupancy = [1, 16]) { }", "k", NONE),
];

/// Helpers nested deeper than the inlining limit (acyclic).
const DEEP: &str = include_str!("deep_helpers.tsr");

/// Unrolling that produces more ops than a specialization may hold.
const HUGE: &str = "kernel k(p: *f32) {
    for i in static_range(0, 4000) { for j in static_range(0, 15) { store(p + i, 1.0); } }
}";

#[test]
fn every_case_reports_its_code() {
    let mut failures = Vec::new();
    for (code, src, kernel, consts) in CASES {
        let (map, diags) = common::diagnostics(src, kernel, consts);
        if !diags.iter().any(|d| d.code == *code) {
            failures.push(format!("{code}: expected in\n{src}\ngot:\n{}", render_all(&map, &diags)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n-----\n"));
}

#[test]
fn every_code_has_a_case() {
    let missing: Vec<&str> = codes::ALL
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| *c != codes::INTERNAL_ERROR && !CASES.iter().any(|(k, ..)| k == c))
        .collect();
    assert!(missing.is_empty(), "codes without a bad program: {missing:?}");
}

#[test]
fn messages_name_what_met_what() {
    let (_, d) = common::diagnostics("kernel k() { let x = arange(0, 4) + arange(0, 8); }", "k", NONE);
    assert!(d[0].message.contains("[4]") && d[0].message.contains("[8]"), "{}", d[0].message);
    assert_eq!(d[0].secondary.len(), 1, "both operands are pointed at");

    let (_, d) = common::diagnostics("kernel k(p: *f32) { let offs = 1; store(p + ofs, 1.0); }", "k", NONE);
    assert_eq!(d[0].help.as_deref(), Some("did you mean `offs`?"));

    let (_, d) = common::diagnostics("kernel k(p: *f32) { let x = load(p, masks = true); }", "k", NONE);
    let help = d[0].help.clone().unwrap_or_default();
    assert!(help.contains("mask") && help.contains("boundary_check"), "{help}");

    let src = "fn a(x) { return b(x); } fn b(x) { return a(x); } kernel k(p: *f32) { store(p, a(1.0)); }";
    let (_, d) = common::diagnostics(src, "k", NONE);
    assert!(d[0].message.contains("a -> b -> a"), "{}", d[0].message);
    assert_eq!(d[0].secondary.len(), 2, "one label per call in the cycle");

    let src = "kernel k(const B: i32 = 48) { static_assert(B % 32 == 0, \"B must be a multiple of 32\"); }";
    let (_, d) = common::diagnostics(src, "k", NONE);
    assert!(d[0].message.contains("B must be a multiple of 32"));

    let (_, d) = common::diagnostics("kernel k(const B: i32) { }", "k", NONE);
    assert!(d[0].message.contains("`B`") && d[0].help.as_deref().unwrap_or("").contains("default"));

    let src = "kernel k(p: *f32, n: i32) { let acc = 0; for i in range(0, n) { acc += load(p + i); } }";
    let (_, d) = common::diagnostics(src, "k", NONE);
    assert!(d[0].message.contains("from scalar i32") && d[0].message.contains("f32"), "{}", d[0].message);
}

/// Parser error nodes are skipped silently: only the syntax error is reported.
#[test]
fn syntax_errors_do_not_cascade() {
    let mut map = tessera_diagnostics::SourceMap::new();
    let d =
        tessera_frontend::check_file(&mut map, "bad.tsr", "kernel k(p: *f32) { let x = ; store(p, x); let y = 1 + ; }");
    assert!(!d.is_empty());
    assert!(d.iter().all(|d| d.code.starts_with("E00")), "{}", render_all(&map, &d));

    // A parameter list lost to a syntax error does not make every use of
    // its parameters unknown.
    let src = "kernel k(x: *f32, y: *, n: i32, const B: i32 = 4) grid(cdiv(n, B)) { store(y, load(x) * n); }";
    let d = tessera_frontend::check_file(&mut map, "header.tsr", src);
    let codes: Vec<&str> = d.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0012"], "{}", render_all(&map, &d));
}

#[test]
fn help_fits_the_context() {
    let (_, d) = common::diagnostics("kernel k(n: i32) { if n > 0 { return; } }", "k", NONE);
    assert!(d[0].help.as_deref().unwrap_or("").contains("kernels cannot return early"), "{:?}", d[0].help);

    let (_, d) = common::diagnostics("kernel k() tune(num_stages = [2, 3]) { }", "k", NONE);
    assert!(d[0].help.as_deref().unwrap_or("").starts_with("did you mean `stages`?"), "{:?}", d[0].help);
    let (_, d) = common::diagnostics("kernel k(const B: i32 = 4) tune(zzz = [2, 3]) { }", "k", NONE);
    let help = d[0].help.clone().unwrap_or_default();
    assert_eq!(help, "tuning axes are the compile-time parameters (B) and `warps`, `stages`");

    let (_, d) = common::diagnostics("kernel k() { let a = full((4,), f32, -1.0); }", "k", NONE);
    assert_eq!(d[0].message, "the dtype argument of `full` must be a dtype, found compile-time float -1.0");
    assert!(d[0].notes.iter().any(|n| n.contains("full(shape, value, dtype)")), "{:?}", d[0].notes);

    let (map, d) = common::diagnostics(
        "kernel k(n: i32) {\n    let t = f32;\n    if n > 0 {\n        t = i8;\n    }\n}",
        "k",
        NONE,
    );
    let text = &map.get(d[0].span.file).text;
    assert_eq!(&text[d[0].span.range()], "t = i8;", "{}", render_all(&map, &d));
    assert_eq!(d[0].secondary.first().map(|l| &text[l.span.range()]), Some("t"));

    let (_, d) = common::diagnostics("kernel k() { }", "kk", NONE);
    assert_eq!(d[0].label.as_deref(), Some("the closest kernel"));
}

/// Hostile programs end with a diagnostic, not a hang or a panic.
#[test]
fn nested_unrolling_is_bounded() {
    let src = "kernel k() { for i in static_range(0, 4000) { for j in static_range(0, 4000) { for l in static_range(0, 4000) { } } } }";
    let (_, d) = common::diagnostics(src, "k", NONE);
    assert!(d.iter().any(|d| d.code == codes::UNROLL_LIMIT));
}

/// No prefix of a valid program makes the front end panic (error recovery
/// leaves `Error` nodes and half-built items everywhere).
#[test]
fn truncated_programs_never_panic() {
    let src = include_str!("deep_helpers.tsr").to_string()
        + "kernel m(a: *f16, c: *f32, n: i32, const B: i32 = 16) grid(cdiv(n, B)) tune(B = [16, 32]) key(n) {
    let r = arange(0, B);
    let acc = zeros((B, B), f32);
    for k in range(0, n, B) {
        let x = load(a + r[:, None] * n + (k + r)[None, :], mask = r[:, None] < n, other = 0.0);
        acc = dot(x, trans(x), acc);
        if k > 4 { acc = acc * 0.5; }
    }
    store(c + r[:, None] * B + r[None, :], acc);
}";
    for end in (0..src.len()).step_by(3) {
        if let Some(prefix) = src.get(..end) {
            let mut map = tessera_diagnostics::SourceMap::new();
            let _ = tessera_frontend::check_file(&mut map, "t.tsr", prefix);
        }
    }
}
