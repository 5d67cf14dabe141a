//! A valid file that uses every construct of docs/language.md parses without
//! diagnostics, into the tree the spec describes.

use tessera_diagnostics::FileId;
use tessera_syntax::ast::*;
use tessera_syntax::parse;

const SOURCE: &str = r#"
// Constants, helpers and kernels, in any order.
const LOG2E: f32 = 1.25;
const MASK = 0xFF_FF;

fn softplus(x) { return log(1.0 + exp(x)); }
fn tile_offsets(pid: i32, const B: i32) -> tensor { return pid * B + arange(0, B); }
fn pair(a, b) { return (a, b); }

/* A kernel with every clause, in an unusual order. */
kernel matmul(a: *bf16 @div(16), b: *bf16, c: *f32 @div(16), m: i32, n: i32, k: i32,
              stride_am: i32 @contig, const BM: i32 = 64, const BN: i32, const BK: i32 = 32)
    key(m, n)
    tune(BN = [32, 64], warps = [4, 8], stages = [1, 2])
    grid(cdiv(m, BM), cdiv(n, BN))
{
    let pid = program_id(0);
    let mut acc = zeros((BM, BN), f32);
    let rows: i32 = pid * BM + arange(0, BM)[:, None];
    let cols = arange(0, BN)[None, :];
    let (lo, hi) = pair(0, k);
    for kk in range(lo, hi, BK) {
        let x = load(a + rows * stride_am + kk, mask = rows < m, other = 0.0);
        acc += dot(x, x.to(bf16)) * 2.5E+4;
        acc = acc - 1e-3;
    }
    let i = 0b1010 % 3;
    while i < 10 && !(i == 4) || false { i = i + 1; }
    if i >= 3 {
        i -= 1;
    } else if i != 2 {
        i *= 2;
        i /= 2;
        i %= 7;
    } else {
        static_assert(BM % 16 == 0, "BM must be \"a multiple\" of 16\n");
    }
    let bits = (i << 2 >> 1) & 3 | 4 ^ 5;
    let t = (i,);
    let u = [1, 2, 3];
    let v = -i as f32 as bf16;
    let w = load(c, boundary_check = (0, 1), padding = "zero");
    store(c + rows + cols, acc.to(f32), mask = None);
    return;
}
"#;

fn module() -> Module {
    let (module, diagnostics) = parse(FileId(0), SOURCE);
    assert!(diagnostics.is_empty(), "unexpected diagnostics: {diagnostics:#?}");
    module
}

fn stmt_kinds(block: &Block) -> Vec<&StmtKind> {
    block.stmts.iter().map(|s| &s.kind).collect()
}

fn name(e: &Expr) -> &str {
    match &e.kind {
        ExprKind::Name(id) => &id.name,
        other => panic!("expected a name, got {other:?}"),
    }
}

#[test]
fn items_in_order() {
    let m = module();
    let names: Vec<&str> = m
        .items
        .iter()
        .map(|item| match item {
            Item::Const(c) => c.name.name.as_str(),
            Item::Function(f) => f.name.name.as_str(),
            Item::Kernel(k) => k.name.name.as_str(),
        })
        .collect();
    assert_eq!(names, ["LOG2E", "MASK", "softplus", "tile_offsets", "pair", "matmul"]);
    let Item::Const(c) = &m.items[0] else { panic!() };
    assert_eq!(c.ty.as_ref().map(|t| t.name.name.as_str()), Some("f32"));
    assert_eq!(c.value.kind, ExprKind::Float(1.25));
    let Item::Const(c) = &m.items[1] else { panic!() };
    assert!(c.ty.is_none());
    assert_eq!(c.value.kind, ExprKind::Int(0xFFFF));
}

#[test]
fn helper_signatures() {
    let m = module();
    let Item::Function(f) = &m.items[2] else { panic!() };
    assert_eq!(f.params.len(), 1);
    assert!(f.params[0].ty.is_none() && f.ret.is_none());
    let Item::Function(f) = &m.items[3] else { panic!() };
    assert!(f.params[1].is_const);
    assert_eq!(f.params[1].ty.as_ref().map(|t| t.name.name.as_str()), Some("i32"));
    assert_eq!(f.ret.as_ref().map(|t| t.name.name.as_str()), Some("tensor"));
    let [Stmt { kind: StmtKind::Return(Some(value)), .. }] = f.body.stmts.as_slice() else { panic!() };
    // `pid * B + arange(0, B)`: `*` binds tighter than `+`.
    let ExprKind::Binary { op: BinOp::Add, lhs, rhs } = &value.kind else { panic!("{value:?}") };
    assert!(matches!(lhs.kind, ExprKind::Binary { op: BinOp::Mul, .. }));
    assert!(matches!(&rhs.kind, ExprKind::Call { callee, args } if callee.name == "arange" && args.len() == 2));
    let Item::Function(f) = &m.items[4] else { panic!() };
    let [Stmt { kind: StmtKind::Return(Some(value)), .. }] = f.body.stmts.as_slice() else { panic!() };
    assert!(matches!(&value.kind, ExprKind::Tuple(items) if items.len() == 2));
}

#[test]
fn kernel_signature_and_clauses() {
    let m = module();
    let Item::Kernel(k) = &m.items[5] else { panic!() };
    assert_eq!(k.params.len(), 10);
    let a = &k.params[0];
    let ty = a.ty.as_ref().unwrap();
    assert_eq!((ty.pointer_depth, ty.name.name.as_str()), (1, "bf16"));
    assert_eq!(a.hints.len(), 1);
    assert_eq!(a.hints[0].name.name, "div");
    assert_eq!(a.hints[0].args[0].kind, ExprKind::Int(16));
    assert_eq!(k.params[6].hints[0].name.name, "contig");
    assert!(k.params[6].hints[0].args.is_empty());
    let bm = &k.params[7];
    assert!(bm.is_const);
    assert_eq!(bm.default.as_ref().map(|e| &e.kind), Some(&ExprKind::Int(64)));
    assert!(k.params[8].is_const && k.params[8].default.is_none());

    let [Clause::Key { params, .. }, Clause::Tune { entries, .. }, Clause::Grid { dims, .. }] = k.clauses.as_slice()
    else {
        panic!("{:?}", k.clauses)
    };
    assert_eq!(params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["m", "n"]);
    let tune: Vec<(&str, usize)> = entries.iter().map(|e| (e.name.name.as_str(), e.values.len())).collect();
    assert_eq!(tune, [("BN", 2), ("warps", 2), ("stages", 2)]);
    assert_eq!(entries[0].values[1].kind, ExprKind::Int(64));
    assert_eq!(dims.len(), 2);
}

#[test]
fn kernel_body() {
    let m = module();
    let Item::Kernel(k) = &m.items[5] else { panic!() };
    let stmts = stmt_kinds(&k.body);
    assert_eq!(stmts.len(), 16);

    let StmtKind::Let { pattern: Pattern::Name(acc), ty: None, value } = stmts[1] else { panic!("{:?}", stmts[1]) };
    assert_eq!(acc.name, "acc");
    let ExprKind::Call { args, .. } = &value.kind else { panic!() };
    assert!(matches!(&args[0].value.kind, ExprKind::Tuple(dims) if dims.len() == 2));

    // `pid * BM + arange(0, BM)[:, None]`, typed.
    let StmtKind::Let { ty: Some(ty), value, .. } = stmts[2] else { panic!() };
    assert_eq!(ty.name.name, "i32");
    let ExprKind::Binary { op: BinOp::Add, rhs, .. } = &value.kind else { panic!() };
    let ExprKind::Index { indices, .. } = &rhs.kind else { panic!("{rhs:?}") };
    assert!(matches!(indices.as_slice(), [IndexItem::Full(_), IndexItem::NewAxis(_)]));

    let StmtKind::Let { pattern: Pattern::Tuple(names, _), .. } = stmts[4] else { panic!() };
    assert_eq!(names.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["lo", "hi"]);

    let StmtKind::For { var, iter, body } = stmts[5] else { panic!() };
    assert_eq!(var.name, "kk");
    assert!(matches!(&iter.kind, ExprKind::Call { callee, args } if callee.name == "range" && args.len() == 3));
    let body = stmt_kinds(body);
    let StmtKind::Let { value, .. } = body[0] else { panic!() };
    let ExprKind::Call { args, .. } = &value.kind else { panic!() };
    let keywords: Vec<Option<&str>> = args.iter().map(|a| a.name.as_ref().map(|n| n.name.as_str())).collect();
    assert_eq!(keywords, [None, Some("mask"), Some("other")]);
    let StmtKind::Assign { target, op: Some(BinOp::Add), value } = body[1] else { panic!("{:?}", body[1]) };
    assert_eq!(target.name, "acc");
    let ExprKind::Binary { op: BinOp::Mul, lhs, rhs } = &value.kind else { panic!() };
    assert_eq!(rhs.kind, ExprKind::Float(2.5e4));
    let ExprKind::Call { args, .. } = &lhs.kind else { panic!() };
    let ExprKind::Method { receiver, method, args: margs } = &args[1].value.kind else { panic!() };
    assert_eq!((name(receiver), method.name.as_str(), name(&margs[0].value)), ("x", "to", "bf16"));
    assert!(matches!(body[2], StmtKind::Assign { op: None, .. }));

    // `i < 10 && !(i == 4) || false`: `||` at the top, `&&` below it.
    let StmtKind::While { cond, .. } = stmts[7] else { panic!() };
    let ExprKind::Binary { op: BinOp::Or, lhs, .. } = &cond.kind else { panic!() };
    let ExprKind::Binary { op: BinOp::And, lhs: lt, rhs: not } = &lhs.kind else { panic!() };
    assert!(matches!(lt.kind, ExprKind::Binary { op: BinOp::Lt, .. }));
    let ExprKind::Unary { op: UnOp::Not, operand } = &not.kind else { panic!() };
    assert!(matches!(operand.kind, ExprKind::Binary { op: BinOp::Eq, .. }));

    // if / else if / else: the `else if` is an else block holding one `if`.
    let StmtKind::If { else_block: Some(else_block), .. } = stmts[8] else { panic!() };
    let [Stmt { kind: StmtKind::If { cond, then_block, else_block: Some(last) }, .. }] = else_block.stmts.as_slice()
    else {
        panic!()
    };
    assert!(matches!(cond.kind, ExprKind::Binary { op: BinOp::Ne, .. }));
    let ops: Vec<_> = then_block
        .stmts
        .iter()
        .map(|s| match &s.kind {
            StmtKind::Assign { op, .. } => *op,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ops, [Some(BinOp::Mul), Some(BinOp::Div), Some(BinOp::Rem)]);
    let [Stmt { kind: StmtKind::Expr(call), .. }] = last.stmts.as_slice() else { panic!() };
    let ExprKind::Call { args, .. } = &call.kind else { panic!() };
    assert_eq!(args[1].value.kind, ExprKind::Str("BM must be \"a multiple\" of 16\n".into()));

    // `(i << 2 >> 1) & 3 | 4 ^ 5` is `((..) & 3) | (4 ^ 5)`.
    let StmtKind::Let { value, .. } = stmts[9] else { panic!() };
    let ExprKind::Binary { op: BinOp::BitOr, lhs, rhs } = &value.kind else { panic!() };
    assert!(matches!(rhs.kind, ExprKind::Binary { op: BinOp::BitXor, .. }));
    let ExprKind::Binary { op: BinOp::BitAnd, lhs, .. } = &lhs.kind else { panic!() };
    let ExprKind::Binary { op: BinOp::Shr, lhs, .. } = &lhs.kind else { panic!() };
    assert!(matches!(lhs.kind, ExprKind::Binary { op: BinOp::Shl, .. }));

    // `(i,)` is a 1-tuple, `[1, 2, 3]` a tuple too.
    let StmtKind::Let { value, .. } = stmts[10] else { panic!() };
    assert!(matches!(&value.kind, ExprKind::Tuple(items) if items.len() == 1));
    let StmtKind::Let { value, .. } = stmts[11] else { panic!() };
    assert!(matches!(&value.kind, ExprKind::Tuple(items) if items.len() == 3));

    // `-i as f32 as bf16` is `((-i) as f32) as bf16`.
    let StmtKind::Let { value, .. } = stmts[12] else { panic!() };
    let ExprKind::Cast { expr, ty } = &value.kind else { panic!() };
    assert_eq!(ty.name.name, "bf16");
    let ExprKind::Cast { expr, .. } = &expr.kind else { panic!() };
    assert!(matches!(expr.kind, ExprKind::Unary { op: UnOp::Neg, .. }));

    let StmtKind::Expr(store) = stmts[14] else { panic!() };
    let ExprKind::Call { args, .. } = &store.kind else { panic!() };
    assert_eq!(args[2].value.kind, ExprKind::None);
    assert_eq!(stmts[15], &StmtKind::Return(None));
}

#[test]
fn parenthesised_expression_is_not_a_tuple() {
    let (m, d) = parse(FileId(0), "fn f(a, b) { return (a + b) * 2; }");
    assert!(d.is_empty());
    let Item::Function(f) = &m.items[0] else { panic!() };
    let StmtKind::Return(Some(e)) = &f.body.stmts[0].kind else { panic!() };
    let ExprKind::Binary { op: BinOp::Mul, lhs, .. } = &e.kind else { panic!() };
    assert!(matches!(lhs.kind, ExprKind::Binary { op: BinOp::Add, .. }));
    // The parenthesised expression's span includes its parentheses.
    assert_eq!((lhs.span.start, lhs.span.end), (20, 27));
}

#[test]
fn spans_cover_their_source() {
    let src = "kernel k(n: i32) { let x = n + 1; }";
    let (m, d) = parse(FileId(3), src);
    assert!(d.is_empty());
    let Item::Kernel(k) = &m.items[0] else { panic!() };
    assert_eq!(&src[k.span.range()], src);
    assert_eq!(k.span.file, FileId(3));
    assert_eq!(&src[k.body.stmts[0].span.range()], "let x = n + 1;");
    let StmtKind::Let { value, .. } = &k.body.stmts[0].kind else { panic!() };
    assert_eq!(&src[value.span.range()], "n + 1");
}
