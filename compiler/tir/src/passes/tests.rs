//! Pass tests: IR text in, IR text out. Every kernel here has the
//! parameters `%0: i32`, `%1: f32`, `%2: ptr<i32>`, `%3: ptr<f32>`; bodies
//! use named values, outputs are canonical.

use super::*;
use crate::parser::parse_kernel;

const HEAD: &str = "kernel @k(%0: i32 \"n\", %1: f32 \"f\", %2: ptr<i32> \"pi\", %3: ptr<f32> \"pf\") source(\"\") grid(1) warps(4) stages(1) {\n";

fn parse(body: &str) -> Kernel {
    let text = format!("{HEAD}{body}}}\n");
    parse_kernel(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Run `pipeline` on a kernel with `body`; the body text after it.
fn run(pipeline: &str, body: &str) -> String {
    let mut k = parse(body);
    PassManager::parse(pipeline).unwrap().run(&mut k).unwrap_or_else(|e| panic!("{e}"));
    let text = print_kernel(&k);
    text.strip_prefix(HEAD).and_then(|t| t.strip_suffix("}\n")).unwrap_or(&text).to_string()
}

fn changed(pipeline: &str, body: &str) -> bool {
    let mut k = parse(body);
    PassManager::parse(pipeline).unwrap().run(&mut k).unwrap().changed()
}

#[test]
fn canonicalize_folds_constants_through_splats() {
    let body = "  %a = constant 2 : i32
  %b = constant 3 : i32
  %c = mul %a, %b : i32
  %d = splat %c : tensor<4xi32>
  %e = add %d, %d : tensor<4xi32>
  %t = cmp gt %e, %d : tensor<4xi1>
  %f = constant 1.5 : f32
  %g = cast %f : i32
  %q = splat %2 : tensor<4xptr<i32>>
  store %q, %e, %t
  %h = splat %g : tensor<4xi32>
  store %q, %h
  return
";
    assert_eq!(
        run("canonicalize", body),
        "  %4 = constant 2 : i32
  %5 = constant 3 : i32
  %6 = constant 6 : i32
  %7 = constant 6 : tensor<4xi32>
  %8 = constant 12 : tensor<4xi32>
  %9 = constant true : tensor<4xi1>
  %10 = constant 1.5 : f32
  %11 = constant 1 : i32
  %12 = splat %2 : tensor<4xptr<i32>>
  store %12, %8, %9
  %13 = constant 1 : tensor<4xi32>
  store %12, %13
  return
"
    );
    assert_eq!(
        run("canonicalize,dce", body),
        "  %4 = constant 12 : tensor<4xi32>
  %5 = constant true : tensor<4xi1>
  %6 = splat %2 : tensor<4xptr<i32>>
  store %6, %4, %5
  %7 = constant 1 : tensor<4xi32>
  store %6, %7
  return
"
    );
}

#[test]
fn canonicalize_does_not_fold_what_it_cannot_round_or_that_traps() {
    let body = "  %a = constant 1 : i32
  %z = constant 0 : i32
  %d = div %a, %z : i32
  %h = constant 1.0 : f16
  %s = add %h, %h : f16
  %e = exp %1 : f32
  %c = constant 2.0 : f32
  %x = exp %c : f32
  return
";
    let out = run("canonicalize", body);
    assert!(out.contains("= div %4, %5 : i32"), "{out}");
    assert!(out.contains("= add %7, %7 : f16"), "{out}");
    assert!(out.contains("= exp %10 : f32"), "{out}");
    assert!(!changed("canonicalize", body));
}

#[test]
fn canonicalize_applies_identities() {
    let body = "  %z = constant 0 : i32
  %o = constant 1 : i32
  %a = add %0, %z : i32
  %b = add %z, %a : i32
  %c = mul %b, %o : i32
  %d = mul %c, %z : i32
  %e = sub %c, %c : i32
  %f = shl %c, %z : i32
  %g = min %f, %f : i32
  %s1 = add %d, %e : i32
  %s2 = add %s1, %g : i32
  %fz = constant 0.0 : f32
  %fn = constant -0.0 : f32
  %fo = constant 1.0 : f32
  %x = add %1, %fz : f32
  %y = add %x, %fn : f32
  %w = mul %y, %fo : f32
  %v = mul %w, %fz : f32
  %r = sub %v, %fz : f32
  %p = splat %3 : tensor<1xptr<f32>>
  %rv = splat %r : tensor<1xf32>
  store %p, %rv
  %q = splat %2 : tensor<1xptr<i32>>
  %sv = splat %s2 : tensor<1xi32>
  store %q, %sv
  return
";
    assert_eq!(
        run("canonicalize,dce", body),
        "  %4 = constant 0.0 : f32
  %5 = add %1, %4 : f32
  %6 = mul %5, %4 : f32
  %7 = splat %3 : tensor<1xptr<f32>>
  %8 = splat %6 : tensor<1xf32>
  store %7, %8
  %9 = splat %2 : tensor<1xptr<i32>>
  %10 = splat %0 : tensor<1xi32>
  store %9, %10
  return
"
    );
}

#[test]
fn canonicalize_removes_redundant_casts() {
    let body = "  %same = cast %0 : i32
  %wide = cast %1 : f64
  %back = cast %wide : f32
  %narrow = cast %same : i8
  %mid = cast %narrow : i32
  %long = cast %mid : i64
  %lossy = cast %1 : f16
  %lossy_back = cast %lossy : f32
  %s = add %back, %lossy_back : f32
  %l = cast %long : f32
  %t = add %s, %l : f32
  %p = splat %3 : tensor<1xptr<f32>>
  %tv = splat %t : tensor<1xf32>
  store %p, %tv
  return
";
    assert_eq!(
        run("canonicalize,dce", body),
        "  %4 = cast %0 : i8
  %5 = cast %4 : i64
  %6 = cast %1 : f16
  %7 = cast %6 : f32
  %8 = add %1, %7 : f32
  %9 = cast %5 : f32
  %10 = add %8, %9 : f32
  %11 = splat %3 : tensor<1xptr<f32>>
  %12 = splat %10 : tensor<1xf32>
  store %11, %12
  return
"
    );
}

#[test]
fn canonicalize_folds_constant_control_flow() {
    let body = "  %t = constant true : i1
  %m = constant true : tensor<2xi1>
  %a = splat %1 : tensor<2xf32>
  %b = constant 0.0 : tensor<2xf32>
  %s = select %m, %a, %b : tensor<2xf32>
  %r = if %t : tensor<2xf32> {
    %n = neg %s : tensor<2xf32>
    yield %n
  } else {
    yield %b
  } loc(5:3)
  %lo = constant 8 : i32
  %hi = constant 4 : i32
  %st = constant 1 : i32
  %out = for %lo, %hi, %st iter(%r) : tensor<2xf32> {
    ^(%i: i32, %acc: tensor<2xf32>):
    %x = exp %acc : tensor<2xf32>
    yield %x
  }
  %p = splat %3 : tensor<2xptr<f32>>
  store %p, %out
  return
";
    assert_eq!(
        run("canonicalize,dce", body),
        "  %4 = splat %1 : tensor<2xf32>
  %5 = neg %4 : tensor<2xf32>
  %6 = splat %3 : tensor<2xptr<f32>>
  store %6, %5
  return
"
    );
}

#[test]
fn canonicalize_keeps_loops_that_may_run() {
    let body = "  %lo = constant 0 : i32
  %st = constant 1 : i32
  for %lo, %0, %st {
    ^(%i: i32):
    yield
  }
  %neg = constant -1 : i32
  for %lo, %lo, %neg {
    ^(%j: i32):
    yield
  }
  return
";
    let out = run("canonicalize", body);
    assert_eq!(out.matches("for ").count(), 1, "{out}");
    assert!(out.contains("for %4, %0, %5 {"), "{out}");
}

#[test]
fn cse_merges_within_scopes_only() {
    let body = "  %a = add %0, %0 : i32
  %b = add %0, %0 : i32
  %c = constant 0 : i32
  %d = constant 0 : i32
  %one = constant 1 : i32
  %q = splat %2 : tensor<1xptr<i32>>
  %l1 = load %q : tensor<1xi32>
  %l2 = load %q : tensor<1xi32>
  %r = for %c, %0, %one iter(%b) : i32 {
    ^(%i: i32, %acc: i32):
    %e = add %0, %0 : i32
    %f = add %acc, %e : i32
    %g = add %acc, %e : i32
    %h = mul %f, %g : i32
    yield %h
  }
  %t = cmp lt %r, %d : i1
  %u = if %t : i32 {
    %v = mul %a, %a : i32
    yield %v
  } else {
    %w = mul %a, %a : i32
    yield %w
  }
  %x = mul %a, %a : i32
  %s = add %u, %x : i32
  %sv = splat %s : tensor<1xi32>
  %y = add %l1, %l2 : tensor<1xi32>
  store %q, %y
  store %q, %sv
  return
";
    assert_eq!(
        run("cse", body),
        "  %4 = add %0, %0 : i32
  %5 = constant 0 : i32
  %6 = constant 1 : i32
  %7 = splat %2 : tensor<1xptr<i32>>
  %8 = load %7 : tensor<1xi32>
  %9 = load %7 : tensor<1xi32>
  %10 = for %5, %0, %6 iter(%4) : i32 {
    ^(%11: i32, %12: i32):
    %13 = add %12, %4 : i32
    %14 = mul %13, %13 : i32
    yield %14
  }
  %15 = cmp lt %10, %5 : i1
  %16 = if %15 : i32 {
    %17 = mul %4, %4 : i32
    yield %17
  } else {
    %18 = mul %4, %4 : i32
    yield %18
  }
  %19 = mul %4, %4 : i32
  %20 = add %16, %19 : i32
  %21 = splat %20 : tensor<1xi32>
  %22 = add %8, %9 : tensor<1xi32>
  store %7, %22
  store %7, %21
  return
"
    );
}

#[test]
fn cse_tells_negative_zero_from_zero() {
    let body = "  %a = constant 0.0 : f32
  %b = constant -0.0 : f32
  %c = add %a, %b : f32
  return
";
    assert!(!changed("cse", body));
}

#[test]
fn dce_removes_dead_ops_and_loop_carried_values() {
    let body = "  %dead = mul %0, %0 : i32
  %dead2 = neg %dead : i32
  %q = splat %2 : tensor<1xptr<i32>>
  %unused_load = load %q : tensor<1xi32>
  %c = constant 0 : i32
  %one = constant 1 : i32
  %live, %gone = for %c, %0, %one iter(%c, %0) : i32, i32 {
    ^(%i: i32, %a: i32, %b: i32):
    %a2 = add %a, %i : i32
    %b2 = mul %b, %b : i32
    yield %a2, %b2
  }
  %empty = for %c, %0, %one iter(%c) : i32 {
    ^(%k: i32, %z: i32):
    %z2 = add %z, %k : i32
    yield %z2
  }
  for %c, %0, %one {
    ^(%j: i32):
    %v = splat %j : tensor<1xi32>
    store %q, %v
    yield
  }
  %w = while %c : i32 {
    ^(%x: i32):
    %cond = cmp lt %x, %0 : i1
    condition %cond
  } do {
    ^(%y: i32):
    yield %y
  }
  %lv = splat %live : tensor<1xi32>
  store %q, %lv
  return
";
    assert_eq!(
        run("dce", body),
        "  %4 = splat %2 : tensor<1xptr<i32>>
  %5 = constant 0 : i32
  %6 = constant 1 : i32
  %7 = for %5, %0, %6 iter(%5) : i32 {
    ^(%8: i32, %9: i32):
    %10 = add %9, %8 : i32
    yield %10
  }
  for %5, %0, %6 {
    ^(%11: i32):
    %12 = splat %11 : tensor<1xi32>
    store %4, %12
    yield
  }
  %13 = while %5 : i32 {
    ^(%14: i32):
    %15 = cmp lt %14, %0 : i1
    condition %15
  } do {
    ^(%16: i32):
    yield %16
  }
  %17 = splat %7 : tensor<1xi32>
  store %4, %17
  return
"
    );
}

#[test]
fn licm_hoists_invariants_out_of_nested_loops() {
    let body = "  %c = constant 0 : i32
  %one = constant 1 : i32
  %q = splat %2 : tensor<4xptr<i32>>
  for %c, %0, %one {
    ^(%i: i32):
    for %c, %0, %one {
      ^(%j: i32):
      %inv = mul %0, %0 : i32
      %div = div %0, %inv : i32
      %idx = add %inv, %i : i32
      %v = splat %idx : tensor<4xi32>
      %l = load %q : tensor<4xi32>
      %s = add %l, %v : tensor<4xi32>
      %k = constant 7 : tensor<4xi32>
      %dv = splat %div : tensor<4xi32>
      %t = add %s, %k : tensor<4xi32>
      %u = add %t, %dv : tensor<4xi32>
      store %q, %u
      yield
    }
    yield
  }
  return
";
    assert_eq!(
        run("licm", body),
        "  %4 = constant 0 : i32
  %5 = constant 1 : i32
  %6 = splat %2 : tensor<4xptr<i32>>
  %7 = mul %0, %0 : i32
  %8 = constant 7 : tensor<4xi32>
  for %4, %0, %5 {
    ^(%9: i32):
    %10 = add %7, %9 : i32
    %11 = splat %10 : tensor<4xi32>
    for %4, %0, %5 {
      ^(%12: i32):
      %13 = div %0, %7 : i32
      %14 = load %6 : tensor<4xi32>
      %15 = add %14, %11 : tensor<4xi32>
      %16 = splat %13 : tensor<4xi32>
      %17 = add %15, %8 : tensor<4xi32>
      %18 = add %17, %16 : tensor<4xi32>
      store %6, %18
      yield
    }
    yield
  }
  return
"
    );
}

/// The output kernel's shape: two products each read right away, then a
/// third. Both independent dots go first, the third's operands are built
/// while they run, their readers come when the products are due; the load
/// stays before the store and the terminator last.
#[test]
fn schedule_dots_issues_products_early_and_reads_them_late() {
    let body = "  %q = splat %3 : tensor<16x16xptr<f32>>
  %x = load %q : tensor<16x16xf32>
  %a = cast %x : tensor<16x16xbf16>
  %z = constant 0.0 : tensor<16x16xf32>
  %d1 = dot %a, %a, %z {precision = tf32} : tensor<16x16xf32>
  %w = splat %1 : tensor<16x16xf32>
  %r1 = mul %d1, %w : tensor<16x16xf32>
  %d2 = dot %a, %a, %z {precision = tf32} : tensor<16x16xf32>
  %r2 = add %d2, %r1 : tensor<16x16xf32>
  store %q, %r2
  %e = exp %x : tensor<16x16xf32>
  %b = cast %e : tensor<16x16xbf16>
  %d3 = dot %a, %b, %x {precision = tf32} : tensor<16x16xf32>
  store %q, %d3
  return
";
    assert_eq!(
        run("schedule-dots", body),
        "  %4 = splat %3 : tensor<16x16xptr<f32>>
  %5 = load %4 : tensor<16x16xf32>
  %6 = cast %5 : tensor<16x16xbf16>
  %7 = constant 0.0 : tensor<16x16xf32>
  %8 = dot %6, %6, %7 {precision = tf32} : tensor<16x16xf32>
  %9 = dot %6, %6, %7 {precision = tf32} : tensor<16x16xf32>
  %10 = exp %5 : tensor<16x16xf32>
  %11 = cast %10 : tensor<16x16xbf16>
  %12 = dot %6, %11, %5 {precision = tf32} : tensor<16x16xf32>
  %13 = splat %1 : tensor<16x16xf32>
  %14 = mul %8, %13 : tensor<16x16xf32>
  %15 = add %9, %14 : tensor<16x16xf32>
  store %4, %15
  store %4, %12
  return
"
    );
    // Already in that order: nothing changes.
    let scheduled = run("schedule-dots", body);
    assert!(!changed("schedule-dots", &scheduled));
}

/// Loops and branches are fixed points: ops are reordered on either side,
/// never across, and inside the body as their own block.
#[test]
fn schedule_dots_never_moves_ops_across_control_flow() {
    let body = "  %q = splat %3 : tensor<16x16xptr<f32>>
  %x = load %q : tensor<16x16xf32>
  %a = cast %x : tensor<16x16xbf16>
  %z = constant 0.0 : tensor<16x16xf32>
  %c = constant 0 : i32
  %one = constant 1 : i32
  %y = for %c, %0, %one iter(%x) : tensor<16x16xf32> {
    ^(%i: i32, %acc: tensor<16x16xf32>):
    %s = mul %acc, %acc : tensor<16x16xf32>
    %d = dot %a, %a, %z {precision = tf32} : tensor<16x16xf32>
    %t = add %d, %s : tensor<16x16xf32>
    yield %t
  }
  %d2 = dot %a, %a, %y {precision = tf32} : tensor<16x16xf32>
  store %q, %d2
  return
";
    let out = run("schedule-dots", body);
    let position = |needle: &str| out.find(needle).unwrap_or_else(|| panic!("{needle} in\n{out}"));
    // In the body the dot moves above the independent multiply.
    assert!(position("= dot %6, %6, %7") < position("= mul "), "{out}");
    // The dot after the loop stays after it.
    assert!(position("= for ") < position("= dot %6, %6, %10"), "{out}");
}

#[test]
fn passes_report_no_change_on_clean_input() {
    let body = "  %a = add %0, %0 : i32
  %q = splat %2 : tensor<1xptr<i32>>
  %v = splat %a : tensor<1xi32>
  store %q, %v
  return
";
    for p in PASSES {
        assert!(!changed(p.name, body), "{} claims a change", p.name);
    }
}

#[test]
fn default_pipeline_cleans_a_loop() {
    let body = "  %pid = program_id 0 : i32 loc(2:9)
  %bs = constant 64 : i32
  %start = mul %pid, %bs : i32
  %r = arange 0, 64 : tensor<64xi32>
  %zero = constant 0 : i32
  %one = constant 1 : i32
  %four = constant 4 : i32
  %init = constant 0.0 : tensor<64xf32>
  %acc = for %zero, %four, %one iter(%init) : tensor<64xf32> {
    ^(%i: i32, %a: tensor<64xf32>):
    %base = splat %start : tensor<64xi32>
    %offs = add %base, %r : tensor<64xi32>
    %base2 = splat %start : tensor<64xi32>
    %offs2 = add %base2, %r : tensor<64xi32>
    %n = splat %0 : tensor<64xi32>
    %mask = cmp lt %offs2, %n : tensor<64xi1>
    %ps = splat %3 : tensor<64xptr<f32>>
    %p = addptr %ps, %offs : tensor<64xptr<f32>>
    %x = load %p, %mask : tensor<64xf32> loc(7:13)
    %y = add %a, %x : tensor<64xf32>
    %dead = mul %y, %y : tensor<64xf32>
    yield %y
  } loc(5:5)
  %ps2 = splat %3 : tensor<64xptr<f32>>
  %base3 = splat %start : tensor<64xi32>
  %offs3 = add %base3, %r : tensor<64xi32>
  %out = addptr %ps2, %offs3 : tensor<64xptr<f32>>
  store %out, %acc loc(10:5)
  return
";
    assert_eq!(
        run("canonicalize,cse,licm,dce", body),
        "  %4 = program_id 0 : i32 loc(2:9)
  %5 = constant 64 : i32
  %6 = mul %4, %5 : i32
  %7 = arange 0, 64 : tensor<64xi32>
  %8 = constant 0 : i32
  %9 = constant 1 : i32
  %10 = constant 4 : i32
  %11 = constant 0.0 : tensor<64xf32>
  %12 = splat %6 : tensor<64xi32>
  %13 = add %12, %7 : tensor<64xi32>
  %14 = splat %0 : tensor<64xi32>
  %15 = cmp lt %13, %14 : tensor<64xi1>
  %16 = splat %3 : tensor<64xptr<f32>>
  %17 = addptr %16, %13 : tensor<64xptr<f32>>
  %18 = for %8, %10, %9 iter(%11) : tensor<64xf32> {
    ^(%19: i32, %20: tensor<64xf32>):
    %21 = load %17, %15 : tensor<64xf32> loc(7:13)
    %22 = add %20, %21 : tensor<64xf32>
    yield %22
  } loc(5:5)
  %23 = splat %3 : tensor<64xptr<f32>>
  %24 = splat %6 : tensor<64xi32>
  %25 = add %24, %7 : tensor<64xi32>
  %26 = addptr %23, %25 : tensor<64xptr<f32>>
  store %26, %18 loc(10:5)
  return
"
    );
    // cse ran before licm hoisted the loop's copies of these; a second round merges them.
    let twice = run("canonicalize,cse,licm,dce,cse,dce", body);
    assert!(twice.contains("  store %17, %18 loc(10:5)\n"), "{twice}");
    let mut k = parse(body);
    let report = PassManager::default_pipeline().run(&mut k).unwrap();
    assert_eq!(
        report.runs.iter().map(|r| r.pass).collect::<Vec<_>>(),
        ["canonicalize", "reciprocal", "cse", "licm", "dce"]
    );
}

#[test]
fn pass_manager_names_unknown_passes() {
    let err = PassManager::parse("cse, fold").unwrap_err();
    assert_eq!(err.code(), codes::UNKNOWN_PASS);
    assert_eq!(
        err.to_string(),
        "error[E0540]: unknown pass `fold` (known: canonicalize, reciprocal, cse, licm, dce, schedule-dots)"
    );
    assert_eq!(PassManager::parse(" cse,,dce ").unwrap().names(), ["cse", "dce"]);
}

#[test]
fn pass_manager_rejects_invalid_input() {
    let mut k = parse("  %a = add %0, %1 : i32\n  return\n");
    let err = PassManager::default_pipeline().run(&mut k).unwrap_err();
    assert_eq!(err.code(), codes::INVALID_INPUT_IR);
    assert!(err.to_string().contains("kernel `k` is invalid before any pass ran"), "{err}");
}

#[test]
fn pass_manager_blames_the_pass_that_broke_the_ir() {
    fn drop_return(k: &mut Kernel) -> bool {
        k.body.ops.pop().is_some()
    }
    let mut pm = PassManager::parse("canonicalize").unwrap();
    pm.add_pass(Pass { name: "drop-return", summary: "a broken pass", run: drop_return });
    let mut k = parse("  return\n");
    match pm.run(&mut k).unwrap_err() {
        PassError::PassBrokeIr { pass, errors, ir, .. } => {
            assert_eq!(pass, "drop-return");
            assert_eq!(errors[0].code, codes::MISSING_TERMINATOR);
            assert!(ir.ends_with("{\n}\n"), "{ir}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn print_after_dumps_each_stage() {
    let mut k = parse("  %a = constant 1 : i32\n  %b = add %a, %a : i32\n  return\n");
    let report = PassManager::parse("canonicalize,dce").unwrap().print_after(true).run(&mut k).unwrap();
    let dump = report.dump();
    assert!(dump.starts_with("// -----// IR after canonicalize //----- //\nkernel @k("), "{dump}");
    assert!(dump.contains("%5 = constant 2 : i32\n"), "{dump}");
    assert!(dump.contains("// -----// IR after dce //----- //\n"), "{dump}");
    assert!(dump.ends_with("{\n  return\n}\n"), "{dump}");
    assert!(report.runs.iter().all(|r| r.changed));
    let quiet = PassManager::parse("dce").unwrap().run(&mut k).unwrap();
    assert_eq!(quiet.runs[0].ir, None);
    assert!(!quiet.changed());
}

#[test]
fn reciprocal_turns_divisions_by_a_splat_into_products() {
    // Two divisions by the same scalar share one reciprocal; a division by a
    // tensor and a scalar division stay divisions.
    let body = "  %q = splat %3 : tensor<4xptr<f32>>
  %x = load %q : tensor<4xf32>
  %s = splat %1 : tensor<4xf32>
  %a = div %x, %s : tensor<4xf32>
  %b = div %a, %s : tensor<4xf32>
  %c = div %b, %x : tensor<4xf32>
  %d = div %1, %1 : f32
  %e = splat %d : tensor<4xf32>
  %g = add %c, %e : tensor<4xf32>
  store %q, %g
  return
";
    assert_eq!(
        run("reciprocal", body),
        "  %4 = splat %3 : tensor<4xptr<f32>>
  %5 = load %4 : tensor<4xf32>
  %6 = splat %1 : tensor<4xf32>
  %7 = constant 1.0 : f32
  %8 = div %7, %1 : f32
  %9 = splat %8 : tensor<4xf32>
  %10 = mul %5, %9 : tensor<4xf32>
  %11 = mul %10, %9 : tensor<4xf32>
  %12 = div %11, %5 : tensor<4xf32>
  %13 = div %1, %1 : f32
  %14 = splat %13 : tensor<4xf32>
  %15 = add %12, %14 : tensor<4xf32>
  store %4, %15
  return
"
    );
}

#[test]
fn reciprocal_leaves_f64_and_16_bit_divisions() {
    for ty in ["f64", "bf16", "f16"] {
        let body = format!(
            "  %x = constant 3.0 : tensor<4x{ty}>
  %v = constant 2.0 : {ty}
  %s = splat %v : tensor<4x{ty}>
  %a = div %x, %s : tensor<4x{ty}>
  %c = cast %a : tensor<4xf32>
  %q = splat %3 : tensor<4xptr<f32>>
  store %q, %c
  return
"
        );
        assert!(!changed("reciprocal", &body), "{ty}");
    }
}

#[test]
fn reciprocal_inside_a_branch_is_not_reused_after_it() {
    // The reciprocal built in the `if` does not dominate the division after it.
    let body = "  %q = splat %3 : tensor<4xptr<f32>>
  %x = load %q : tensor<4xf32>
  %s = splat %1 : tensor<4xf32>
  %t = constant true : i1
  if %t {
    %a = div %x, %s : tensor<4xf32>
    store %q, %a
    yield
  } else {
    yield
  }
  %b = div %x, %s : tensor<4xf32>
  store %q, %b
  return
";
    let out = run("reciprocal", body);
    assert_eq!(out.matches("div %").count(), 2, "{out}");
    assert_eq!(out.matches("mul %").count(), 2, "{out}");
    let mut k = parse(body);
    PassManager::parse("reciprocal").unwrap().run(&mut k).expect("verifies");
}
