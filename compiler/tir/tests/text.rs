//! Round-trip and verifier tests on hand-written IR text.

use tessera_tir::codes;
use tessera_tir::{Kernel, OpKind, ValueId, parse_kernel, print_kernel, verify};

const ALL_OPS: &str = include_str!("all_ops.tir");

fn parse(text: &str) -> Kernel {
    parse_kernel(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn all_ops_file_covers_every_op_kind() {
    let k = parse(ALL_OPS);
    let mut seen = std::collections::HashSet::new();
    tessera_tir::walk_ops(&k.body, &mut |op| {
        seen.insert(std::mem::discriminant(&op.kind));
    });
    // One representative per OpKind variant; a new variant must be added here and to all_ops.tir.
    let every = [
        OpKind::Constant(tessera_tir::Constant::Int(0)),
        OpKind::ProgramId(0),
        OpKind::NumPrograms(0),
        OpKind::Arange { start: 0, end: 1 },
        OpKind::Splat,
        OpKind::Broadcast,
        OpKind::ExpandDims(0),
        OpKind::Reshape,
        OpKind::Permute(vec![]),
        OpKind::Unary(tessera_tir::UnaryOp::Neg),
        OpKind::Binary(tessera_tir::BinaryOp::Add),
        OpKind::Compare(tessera_tir::CmpPred::Eq),
        OpKind::Select,
        OpKind::Cast,
        OpKind::AddPtr,
        OpKind::Load { masked: false, has_other: false },
        OpKind::Store { masked: false },
        OpKind::AtomicAdd { masked: false },
        OpKind::MakeBlockPtr { order: vec![] },
        OpKind::Advance,
        OpKind::LoadBlock {
            boundary_check: vec![],
            padding: tessera_tir::Padding::Zero,
            evict: tessera_tir::Evict::Normal,
        },
        OpKind::StoreBlock { boundary_check: vec![] },
        OpKind::Dot { precision: tessera_tir::DotPrecision::Tf32 },
        OpKind::Reduce { kind: tessera_tir::ReduceKind::Sum, axis: 0 },
        OpKind::Scan { kind: tessera_tir::ScanKind::Cumsum, axis: 0, reverse: false },
        OpKind::For,
        OpKind::If,
        OpKind::While,
        OpKind::Yield,
        OpKind::Condition,
        OpKind::Return,
    ];
    for kind in &every {
        assert!(seen.contains(&std::mem::discriminant(kind)), "all_ops.tir lacks `{}`", kind.mnemonic());
    }
    for op in tessera_tir::UnaryOp::ALL {
        assert!(ALL_OPS.contains(&format!("= {} ", op.name())), "all_ops.tir lacks `{}`", op.name());
    }
    for op in tessera_tir::BinaryOp::ALL {
        assert!(ALL_OPS.contains(&format!("= {} ", op.name())), "all_ops.tir lacks `{}`", op.name());
    }
}

#[test]
fn all_ops_round_trips_exactly_and_verifies() {
    let k = parse(ALL_OPS);
    if let Err(errors) = verify(&k) {
        panic!("{}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"));
    }
    let printed = print_kernel(&k);
    // The file is written in canonical form (apart from its leading comments).
    let body: String = ALL_OPS.lines().filter(|l| !l.starts_with("//")).map(|l| format!("{l}\n")).collect();
    assert_eq!(printed, body);
    let again = parse(&printed);
    assert_eq!(print_kernel(&again), printed);
    // Debug, not ==: the NaN constant is not equal to itself.
    assert_eq!(format!("{again:?}"), format!("{k:?}"));
}

#[test]
fn printing_ignores_value_id_numbering() {
    let k = parse(ALL_OPS);
    // Shift every value id by 7 and reverse the type table accordingly.
    let n = k.values.len() as u32;
    let remap = |v: ValueId| ValueId(n - 1 - v.0);
    let mut shuffled = k.clone();
    shuffled.values = k.values.iter().rev().cloned().collect();
    for p in &mut shuffled.params {
        p.value = remap(p.value);
    }
    fn walk(r: &mut tessera_tir::Region, f: &dyn Fn(ValueId) -> ValueId) {
        r.args.iter_mut().for_each(|a| *a = f(*a));
        for op in &mut r.ops {
            op.operands.iter_mut().for_each(|a| *a = f(*a));
            op.results.iter_mut().for_each(|a| *a = f(*a));
            op.regions.iter_mut().for_each(|r| walk(r, f));
        }
    }
    walk(&mut shuffled.body, &remap);
    assert_ne!(shuffled, k);
    assert!(verify(&shuffled).is_ok());
    assert_eq!(print_kernel(&shuffled), print_kernel(&k));
}

const HEAD: &str = "kernel @k(%p: ptr<f32> \"p\", %n: i32 \"n\", %f: f32 \"f\") {\n";

/// Parse `body` inside a kernel with params %p: ptr<f32>, %n: i32, %f: f32,
/// and return the verifier's codes.
fn codes_of(body: &str) -> Vec<&'static str> {
    let k = parse(&format!("{HEAD}{body}\n}}"));
    codes_of_kernel(&k)
}

fn codes_of_kernel(k: &Kernel) -> Vec<&'static str> {
    match verify(k) {
        Ok(()) => vec![],
        Err(errors) => errors.iter().map(|e| e.code).collect(),
    }
}

#[test]
fn verifier_accepts_the_fixture_heads() {
    assert_eq!(codes_of("return"), Vec::<&str>::new());
}

#[test]
fn structural_errors() {
    let base = parse(&format!("{HEAD}  %a = neg %n : i32\n  %b = neg %a : i32\n  return\n}}"));
    let mut twice = base.clone();
    let dup = twice.body.ops[0].clone();
    twice.body.ops.insert(1, dup);
    assert_eq!(codes_of_kernel(&twice), [codes::MULTIPLE_DEFINITION]);

    let mut swapped = base.clone();
    swapped.body.ops.swap(0, 1);
    assert_eq!(codes_of_kernel(&swapped), [codes::USE_NOT_DOMINATED]);

    let mut out_of_range = base.clone();
    out_of_range.body.ops[1].operands[0] = ValueId(99);
    assert_eq!(codes_of_kernel(&out_of_range), [codes::VALUE_OUT_OF_RANGE]);

    let mut args = base.clone();
    args.body.args.pop();
    assert_eq!(codes_of_kernel(&args), [codes::BODY_ARGS_MISMATCH]);

    assert_eq!(codes_of("  %a = neg %n : i32"), [codes::MISSING_TERMINATOR]);
    // The parser rejects an op after `return` in text (E0525 at its
    // position); the verifier must still catch it in built IR.
    let mut late = base.clone();
    let ret = late.body.ops[2].clone();
    late.body.ops.insert(2, ret);
    assert_eq!(codes_of_kernel(&late), [codes::TERMINATOR_NOT_LAST]);
    assert_eq!(codes_of("  yield"), [codes::WRONG_TERMINATOR]);
    assert_eq!(
        codes_of("  %c = constant 0 : i32\n  for %c, %n, %n {\n    ^(%i: i32):\n    return\n  }\n  return"),
        [codes::WRONG_TERMINATOR]
    );
}

#[test]
fn region_values_do_not_escape() {
    // Built by hand: the parser rejects this text, the verifier must too.
    let mut k = parse(&format!(
        "{HEAD}  %c = constant true : i1\n  if %c {{\n    %x = neg %n : i32\n    yield\n  }} else {{\n    yield\n  }}\n  %y = neg %n : i32\n  return\n}}"
    ));
    let inner = k.body.ops[1].regions[0].ops[0].results[0];
    k.body.ops[2].operands[0] = inner;
    let errors = verify(&k).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, codes::USE_NOT_DOMINATED);
    assert_eq!(errors[0].message, "`neg` (%5): operand %4 is not defined before this op in an enclosing region");
}

#[test]
fn op_contract_errors() {
    let cases: &[(&str, &str)] = &[
        (codes::OPERAND_COUNT, "  %a = neg %n, %n : i32"),
        (
            codes::RESULT_COUNT,
            "  %v = splat %f : tensor<4xf32>\n  %q = splat %p : tensor<4xptr<f32>>\n  %r = store %q, %v : f32",
        ),
        (codes::REGION_SHAPE, "  %c = constant true : i1\n  if %c {\n    yield\n  }"),
        (codes::OPERAND_TYPE, "  %a = exp %n : i32"),
        (codes::OPERAND_TYPE, "  %a = and %f, %f : f32"),
        (
            codes::SHAPE_MISMATCH,
            "  %a = splat %n : tensor<4xi32>\n  %b = splat %n : tensor<8xi32>\n  %c = add %a, %b : tensor<4xi32>",
        ),
        (codes::SHAPE_MISMATCH, "  %a = splat %n : tensor<4xi32>\n  %b = reshape %a : tensor<3xi32>"),
        (codes::SHAPE_MISMATCH, "  %a = splat %n : tensor<4x2xi32>\n  %b = broadcast %a : tensor<4x3xi32>"),
        (codes::RESULT_TYPE, "  %a = add %n, %n : i64"),
        (codes::RESULT_TYPE, "  %a = cmp lt %n, %n : i32"),
        (codes::ATTRIBUTE_RANGE, "  %a = program_id 3 : i32"),
        (codes::ATTRIBUTE_RANGE, "  %a = arange 4, 4 : tensor<1xi32>"),
        (
            codes::ATTRIBUTE_RANGE,
            "  %a = splat %n : tensor<4x2xi32>\n  %b = permute %a {perm = [0, 0]} : tensor<4x2xi32>",
        ),
        (codes::ATTRIBUTE_RANGE, "  %a = splat %n : tensor<4xi32>\n  %b = reduce sum %a {axis = 1} : i32"),
        (codes::ATTRIBUTE_RANGE, "  %a = splat %n : tensor<4xi32>\n  %b = expand_dims %a {axis = 2} : tensor<4x1xi32>"),
        (
            codes::MEMORY_OPERAND,
            "  %q = splat %p : tensor<4xptr<f32>>\n  %m = splat %n : tensor<4xi32>\n  %a = load %q, %m : tensor<4xf32>",
        ),
        (
            codes::MEMORY_OPERAND,
            "  %q = splat %p : tensor<4xptr<f32>>\n  %m = constant true : tensor<4xi1>\n  %o = constant 0 : tensor<4xi32>\n  %a = load %q, %m, %o : tensor<4xf32>",
        ),
        (codes::MEMORY_OPERAND, "  %a = load %n : i32"),
        (
            codes::MEMORY_OPERAND,
            "  %a = splat %n : tensor<4xi32>\n  %q = splat %p : tensor<4xptr<f32>>\n  store %q, %a",
        ),
        (
            codes::REGION_SIGNATURE,
            "  %c = constant 0 : i32\n  %r = for %c, %n, %n iter(%f) : f32 {\n    ^(%i: i32, %x: f32):\n    yield %i\n  }",
        ),
        (
            codes::REGION_SIGNATURE,
            "  %t = constant true : i1\n  %r = if %t : f32 {\n    yield %f\n  } else {\n    yield %n\n  }",
        ),
        (codes::REGION_SHAPE, "  %c = constant 0 : i32\n  for %c, %n, %n {\n    yield\n  }"),
        (codes::CONTROL_OPERAND, "  if %n {\n    yield\n  } else {\n    yield\n  }"),
        (codes::CONTROL_OPERAND, "  for %f, %f, %f {\n    ^(%i: f32):\n    yield\n  }"),
        (
            codes::CONTROL_OPERAND,
            "  %r = while %n : i32 {\n    ^(%i: i32):\n    condition %i\n  } do {\n    ^(%j: i32):\n    yield %j\n  }",
        ),
        (
            codes::DOT_TYPES,
            "  %a = constant 1.0 : tensor<16x16xf16>\n  %c = constant 0.0 : tensor<16x16xf16>\n  %d = dot %a, %a, %c {precision = tf32} : tensor<16x16xf16>",
        ),
        (
            codes::SHAPE_MISMATCH,
            "  %a = constant 1.0 : tensor<16x8xf16>\n  %c = constant 0.0 : tensor<16x16xf32>\n  %d = dot %a, %a, %c {precision = tf32} : tensor<16x16xf32>",
        ),
        (codes::INVALID_TYPE, "  %a = constant 1.0 : tensor<0xf32>"),
        (codes::CONSTANT_TYPE, "  %a = constant 1.5 : i32"),
        (codes::CONSTANT_TYPE, "  %a = constant 300 : i8"),
    ];
    for (code, body) in cases {
        let got = codes_of(&format!("{body}\n  return"));
        assert_eq!(got, [*code], "for:\n{body}");
    }
}

#[test]
fn verifier_messages_name_the_op_and_location() {
    let k = parse(&format!("{HEAD}  %a = exp %n : i32 loc(4:9)\n  return\n}}"));
    let errors = verify(&k).unwrap_err();
    assert_eq!(errors[0].to_string(), "error[E0530]: `exp` (%3): `exp` needs a float operand, found i32 at 4:9");
    assert_eq!(errors[0].loc, tessera_tir::Loc { line: 4, col: 9 });
}

#[test]
fn every_verifier_code_is_documented() {
    let documented: Vec<&str> = codes::ALL.iter().map(|(c, _)| *c).collect();
    for code in [
        codes::MULTIPLE_DEFINITION,
        codes::USE_NOT_DOMINATED,
        codes::VALUE_OUT_OF_RANGE,
        codes::BODY_ARGS_MISMATCH,
        codes::MISSING_TERMINATOR,
        codes::TERMINATOR_NOT_LAST,
        codes::WRONG_TERMINATOR,
        codes::OPERAND_COUNT,
        codes::RESULT_COUNT,
        codes::REGION_SHAPE,
        codes::OPERAND_TYPE,
        codes::SHAPE_MISMATCH,
        codes::RESULT_TYPE,
        codes::ATTRIBUTE_RANGE,
        codes::MEMORY_OPERAND,
        codes::REGION_SIGNATURE,
        codes::CONTROL_OPERAND,
        codes::DOT_TYPES,
        codes::INVALID_TYPE,
        codes::CONSTANT_TYPE,
    ] {
        assert!(documented.contains(&code), "{code}");
    }
}

/// `require` conditions print in the IR text's function spelling and read back.
#[test]
fn require_conditions_round_trip() {
    let text = "kernel @k(%0: i32 \"cols\", %1: i32 \"rows\") source(\"k.tsr\") grid(rows) warps(4) stages(1) \
                require(le(cols, 1024), or(and(not(eq(rows, 0)), ne((cols % 2), 1)), gt(rows, lt(cols, 3)))) {\n  return\n}\n";
    let k = parse(text);
    assert_eq!(k.meta.require.len(), 2);
    assert_eq!(print_kernel(&k), text);
    let with = |cols: i64, rows: i64| {
        move |name: &str| match name {
            "cols" => Some(cols),
            "rows" => Some(rows),
            _ => None,
        }
    };
    let eval = |i: usize, cols, rows| k.meta.require[i].eval(&with(cols, rows));
    assert_eq!((eval(0, 512, 3), eval(0, 1025, 3)), (Some(1), Some(0)));
    assert_eq!((eval(1, 512, 3), eval(1, 511, 0), eval(1, 2, 2)), (Some(1), Some(0), Some(1)), "{}", k.meta.require[1]);
}
