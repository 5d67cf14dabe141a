//! One small program per language feature; the unoptimized IR of each is
//! snapshotted, and key properties are asserted directly as well.

mod common;

use common::{count, ir};
use tessera_frontend::ConstValue;

#[test]
fn weak_type_promotion() {
    let src = r#"
kernel k(a: *i8, b: *f16, c: *bf16, d: *i32, out8: *i8, out16: *f16, out32: *f32, outi: *i32) {
    let offs = arange(0, 4);
    let x = load(a + offs);
    let h = load(b + offs);
    let g = load(c + offs);
    let i = load(d + offs);
    store(out8 + offs, x + 1);          // i8 stays i8
    store(out16 + offs, h * 2.0);       // f16 stays f16
    store(out32 + offs, i + 1.5);       // weak float with int: f32
    store(out32 + offs, h + g);         // f16 with bf16: f32
    store(outi + offs, i + x);          // the wider integer
    store(out32 + offs, h + i);         // float with integer: the float
}
"#;
    let out = ir(src, "k", &[]);
    assert!(out.contains("add %") && out.contains("tensor<4xi8>"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn control_flow() {
    let src = r#"
kernel k(p: *f32, n: i32, m: i64, const UNROLL: i32 = 3, const FLAG: bool = false) {
    let acc = 0.0;
    let count = 0;
    for i in range(n, 0, -1) {               // counts down: runs while i > 0
        acc += load(p + i);
        count += 1;
    }
    for j in range(0, m) {                   // an i64 bound gives an i64 induction variable
        acc = acc * 0.5;
    }
    for u in static_range(0, UNROLL) {       // unrolled: no loop op
        acc += u;
    }
    if FLAG {                                // compile-time: only one branch is lowered
        acc = 100.0;
    } else {
        acc -= 1.0;
    }
    let best = acc;
    if acc > 2.0 {                           // runtime: an if op yielding `best`
        best = 2.0;
        let scratch = 5;                     // local to the branch
    }
    let k = 0;
    while k < count {
        k += 2;
    }
    store(p, best + k);
}
"#;
    let out = ir(src, "k", &[]);
    assert_eq!(count(&out, "= for ") + count(&out, "  for "), 2, "{out}");
    assert_eq!(count(&out, "= if "), 1, "{out}");
    assert_eq!(count(&out, "= while "), 1, "{out}");
    assert!(out.contains("^(%") && out.contains(": i64"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn helpers_are_inlined() {
    let src = r#"
fn offsets(pid: i32, const B: i32) -> tensor { return pid * B + arange(0, B); }
fn stats(x) {
    let s = sum(x, 0);
    return (s, max(x, 0));
}
fn softplus(x) { return log(1.0 + exp(x)); }
fn emit(p, v) { store(p, v); }
kernel k(x: *f32, y: *f32) {
    let offs = offsets(program_id(0), 8);
    let v = load(x + offs);
    let (s, m) = stats(v);
    emit(y, softplus(s - m));
}
"#;
    let out = ir(src, "k", &[]);
    assert_eq!(count(&out, "reduce sum"), 1, "{out}");
    assert_eq!(count(&out, "reduce max"), 1, "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn shape_builtins() {
    let src = r#"
kernel k(p: *f32, q: *f32) {
    let r = arange(0, 4);
    let c = arange(0, 8);
    let tile = load(p + r[:, None] * 8 + c[None, :]);            // [4, 8]
    let t = trans(tile);                                         // [8, 4]
    let flat = reshape(t, (32,));
    let back = reshape(flat, [4, 8]);
    let e = expand_dims(r, 1);                                   // [4, 1]
    let b = broadcast_to(e, (4, 8));
    let z = zeros((4, 8), f32);
    let f = full((4, 8), 2, f16);
    let zl = zeros_like(back);
    let fl = full_like(back, 3.0);
    let per = permute(tile, (1, 0));
    let sum_all = back + b + z + f + zl + fl + trans(per);
    store(q + r[:, None] * 8 + c[None, :], sum_all);
}
"#;
    let out = ir(src, "k", &[]);
    assert!(out.contains("permute") && out.contains("reshape") && out.contains("broadcast"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn reductions_and_scans() {
    let src = r#"
kernel k(p: *f16, q: *f16, i: *i32, f: *f32) {
    let r = arange(0, 4);
    let c = arange(0, 8);
    let x = load(p + r[:, None] * 8 + c[None, :]);
    store(q + r, sum(x, 1));
    store(q, sum(x));
    store(q + c[None, :], max(x, 0, keep_dims = true));
    store(i + r, argmax(x, 1));
    store(i + c, argmin(x, -2));
    store(p + r[:, None] * 8 + c[None, :], cumsum(x, 1, reverse = true));
    store(f + r[:, None] * 8 + c[None, :], cumprod(x.to(f32), axis = 1));
}
"#;
    let out = ir(src, "k", &[]);
    // 16-bit sums: cast up, reduce, cast back.
    assert!(out.contains("reduce sum") && out.contains("tensor<4x8xf32>"), "{out}");
    assert!(out.contains("{axis = 1, reverse}"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn arithmetic_builtins() {
    let src = r#"
const SCALE: f32 = 0.5;
kernel k(p: *f32, n: i32, m: i32) {
    let offs = arange(0, 16);
    let x = load(p + offs);
    let a = where(x > 0.0, x, 0);
    let b = minimum(a, 6.0) + maximum(x, SCALE);
    let c = exp(x) + exp2(x) + log(x) + log2(x) + sqrt(x) + rsqrt(x) + abs(x) + sin(x) + cos(x);
    let d = sigmoid(x) + tanh(x) + floor(x) + ceil(x);
    let e = exp(offs);                                   // int input: cast to f32
    let blocks = cdiv(n, m);                             // runtime: (n + m - 1) / m
    let folded = cdiv(10, 4);                            // compile time: 3
    let casts = x.to(i32) + to(x, i32) + (x as i32);
    let ids = program_id(1) + num_programs(2);
    static_assert(folded == 3, "cdiv folds");
    let old = atomic_add(p + offs, b + c + d + e, mask = offs < blocks);
    store(p + offs, old + (casts + ids + folded).to(f32));
}
"#;
    let out = ir(src, "k", &[]);
    assert!(out.contains("atomic_add") && out.contains("select"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn specialization_and_metadata() {
    let src = r#"
const ROWS_PER_PROGRAM: i32 = 2;
kernel k(x: *f32 @div(16), n: i32 @div(8), s: i32 @contig, m: i64, const B: i32 = 64, const FAST: bool = true)
    grid(cdiv(n, B * ROWS_PER_PROGRAM), max(m, 1) - 0, 2 * 3)
    tune(B = [32, 64], warps = [2, 4], stages = [1, 3])
    key(n, m)
{
    static_assert(B % 32 == 0, "B must be a multiple of 32");
    if FAST { store(x + arange(0, B), 1.0); }
}
"#;
    let out =
        ir(src, "k", &[("B", ConstValue::Int(32)), ("warps", ConstValue::Int(2)), ("stages", ConstValue::Int(3))]);
    assert!(out.contains("grid(cdiv(n, 64), (max(m, 1) - 0), 6)"), "{out}");
    assert!(out.contains("warps(2) stages(3)"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn locations_are_recorded() {
    let src = "kernel k(p: *f32) {\n    let v = load(p);\n    store(p, v * 2.0);\n}\n";
    let k = common::lower(src, "k", &[]).unwrap_or_else(|_| panic!("lowering failed"));
    let mut locs = Vec::new();
    tessera_tir::walk_ops(&k.body, &mut |op| locs.push((op.kind.mnemonic(), op.loc.line, op.loc.col)));
    assert!(locs.contains(&("load", 2, 13)), "{locs:?}");
    assert!(locs.contains(&("store", 3, 5)), "{locs:?}");
    assert!(locs.contains(&("return", 4, 1)), "{locs:?}");
}

/// `require` conditions: compile-time values are substituted, conditions
/// that then hold are dropped, the rest (over runtime parameters) stay for
/// the launcher; the signature keeps them by name for bundles; a point that
/// breaks one is no specialization (E0419).
#[test]
fn require_conditions_specialize() {
    let src = r#"
kernel k(x: *f32, cols: i32, rows: i32, const BLOCK: i32 = 1024)
    grid(rows)
    tune(BLOCK = [256, 1024, 4096], warps = [4, 8])
    require(cols <= BLOCK, BLOCK <= 256 * 4 * warps, !(rows == 0) && cols % 2 == 0 || true)
{
    store(x + arange(0, BLOCK), 1.0);
}
"#;
    let out = ir(src, "k", &[("BLOCK", ConstValue::Int(1024)), ("warps", ConstValue::Int(4))]);
    // The second condition holds at this point and is gone; the third reads
    // runtime parameters and stays (in the IR text's function spelling).
    assert!(out.contains(" require(le(cols, 1024), or(and(not(eq(rows, 0)), eq((cols % 2), 0)), 1))"), "{out}");
    let (map, diags) = common::lower(src, "k", &[("BLOCK", ConstValue::Int(4096)), ("warps", ConstValue::Int(2))])
        .expect_err("4096 lanes on 2 warps break the second condition");
    assert_eq!(diags.first().map(|d| d.code), Some("E0419"), "{}", tessera_diagnostics::render_all(&map, &diags));
    let mut map = tessera_diagnostics::SourceMap::new();
    let file = map.add("k.tsr", src);
    let (module, _) = tessera_syntax::parse(file, src);
    let (sigs, _) = tessera_frontend::signatures(&map, file, &module);
    let require: Vec<String> = sigs[0].require.iter().map(ToString::to_string).collect();
    assert_eq!(require[..2], ["(cols <= BLOCK)", "(BLOCK <= (1024 * warps))"]);
}

/// `eviction_policy` on a block-pointer load becomes the load's `evict`
/// attribute (absent for the default); a tensor of pointers refuses it, and
/// an unknown policy names the accepted ones.
#[test]
fn eviction_policy_is_a_block_load_attribute() {
    let src = r#"
kernel k(p: *f16, q: *f16) {
    let bp = make_block_ptr(p, (64, 32), (32, 1), (0, 0), (64, 32), (1, 0));
    let a = load(bp, eviction_policy = "evict_first");
    let b = load(bp, eviction_policy = "evict_last");
    let c = load(bp, eviction_policy = "evict_normal");
    store(q + arange(0, 64)[:, None] * 32 + arange(0, 32)[None, :], a + b + c);
}
"#;
    let out = ir(src, "k", &[]);
    assert_eq!(count(&out, "{evict = first}"), 1, "{out}");
    assert_eq!(count(&out, "{evict = last}"), 1, "{out}");
    assert_eq!(count(&out, "evict = normal"), 0, "{out}");
    let codes = |src: &str| -> Vec<String> {
        common::diagnostics(src, "k", &[]).1.iter().map(|d| d.code.to_string()).collect()
    };
    let pointers = r#"kernel k(p: *f32) { let x = load(p + arange(0, 4), eviction_policy = "evict_first"); }"#;
    assert_eq!(codes(pointers), ["E0208"]);
    let unknown = r#"
kernel k(p: *f16) {
    let bp = make_block_ptr(p, (64, 32), (32, 1), (0, 0), (64, 32), (1, 0));
    let x = load(bp, eviction_policy = "evict_soon");
}
"#;
    assert_eq!(codes(unknown), ["E0225"]);
}
