//! Kernel interfaces and launch metadata: parameters and their hints,
//! `grid`, `tune` and `key` clauses.

use crate::codes;
use crate::lower::{LResult, Lowerer, Reported, coerce_const, is_compile_time};
use crate::suggest::did_you_mean;
use crate::value::Value;
use std::collections::HashMap;
use tessera_diagnostics::{Diagnostic, Span};
use tessera_syntax::ast::{self, BinOp, Clause, Expr, ExprKind, UnOp};
use tessera_tir::{ConstValue, ElemType, MetaExpr, ParamHints, ScalarType, TuneSpace, Type};

/// A runtime parameter: its IR type (a scalar or a scalar pointer) and hints.
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeParamSig {
    pub name: String,
    pub ty: Type,
    pub hints: ParamHints,
    pub span: Span,
}

/// A compile-time parameter and its default, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct ConstParamSig {
    pub name: String,
    pub ty: ScalarType,
    pub default: Option<ConstValue>,
    pub span: Span,
}

/// A source kernel's interface before specialization.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelSignature {
    pub name: String,
    pub runtime_params: Vec<RuntimeParamSig>,
    pub const_params: Vec<ConstParamSig>,
    pub tune: TuneSpace,
    pub key: Vec<String>,
    pub span: Span,
}

impl KernelSignature {
    pub fn const_param(&self, name: &str) -> Option<&ConstParamSig> {
        self.const_params.iter().find(|c| c.name == name)
    }
    pub fn runtime_param(&self, name: &str) -> Option<&RuntimeParamSig> {
        self.runtime_params.iter().find(|c| c.name == name)
    }
}

impl Lowerer<'_> {
    /// The signature of `k`; problems go to `self.diags`. File constants
    /// must already be defined.
    pub(crate) fn signature(&mut self, k: &ast::Kernel) -> KernelSignature {
        let mut sig = KernelSignature {
            name: k.name.name.clone(),
            runtime_params: Vec::new(),
            const_params: Vec::new(),
            tune: TuneSpace::default(),
            key: Vec::new(),
            span: k.name.span,
        };
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for p in &k.params {
            if let Some(first) = seen.get(p.name.name.as_str()) {
                self.error(
                    Diagnostic::error(
                        codes::DUPLICATE_PARAM,
                        format!("parameter `{}` is declared twice", p.name.name),
                        p.name.span,
                    )
                    .with_label("declared again")
                    .with_secondary(*first, "first declared here"),
                );
                continue;
            }
            seen.insert(&p.name.name, p.name.span);
            if p.is_const {
                if let Ok(c) = self.const_param_sig(p) {
                    sig.const_params.push(c);
                }
            } else if let Ok(r) = self.runtime_param_sig(p) {
                sig.runtime_params.push(r);
            }
        }
        // A repeated clause is a syntax error; the first one counts.
        if let Some(Clause::Tune { entries, .. }) = k.clauses.iter().find(|c| matches!(c, Clause::Tune { .. })) {
            sig.tune = self.tune_space(entries, &sig);
        }
        if let Some(Clause::Key { params, .. }) = k.clauses.iter().find(|c| matches!(c, Clause::Key { .. })) {
            sig.key = self.key(params, &sig, k);
        }
        sig
    }

    fn const_param_sig(&mut self, p: &ast::Param) -> LResult<ConstParamSig> {
        for h in &p.hints {
            self.error(
                Diagnostic::error(
                    codes::HINT_ON_CONST,
                    format!("hint `@{}` on the compile-time parameter `{}`", h.name.name, p.name.name),
                    h.span,
                )
                .with_label("not for compile-time parameters")
                .with_help("hints describe runtime arguments; a compile-time value is already known exactly"),
            );
        }
        let ty = match &p.ty {
            Some(t) => match self.resolve_type(t)? {
                ElemType::Scalar(s) => s,
                ElemType::Ptr(_) => {
                    return Err(self.error(
                        Diagnostic::error(
                            codes::CONST_PARAM_TYPE,
                            format!("compile-time parameter `{}` cannot be a pointer", p.name.name),
                            t.span,
                        )
                        .with_label("pointer type")
                        .with_help("compile-time parameters are numbers or bools, e.g. `const BLOCK: i32`"),
                    ));
                }
            },
            None => {
                return Err(self.error(
                    Diagnostic::error(
                        codes::CONST_PARAM_TYPE,
                        format!("compile-time parameter `{}` needs a type", p.name.name),
                        p.name.span,
                    )
                    .with_label("no type")
                    .with_help(format!("write `const {}: i32`", p.name.name)),
                ));
            }
        };
        let default = match &p.default {
            None => None,
            Some(e) => {
                let v = self.value_expr(e)?;
                if !v.is_const_scalar() {
                    return Err(self.const_expected(e.span, &v, &format!("the default of `{}`", p.name.name)));
                }
                let what = format!("the default of `{}`", p.name.name);
                let Some(t) = &p.ty else { return Err(Reported) };
                self.coerce_const_to_type(v, e.span, t, &what)?.to_const()
            }
        };
        Ok(ConstParamSig { name: p.name.name.clone(), ty, default, span: p.name.span })
    }

    pub(crate) fn const_expected(&mut self, span: Span, v: &Value, what: &str) -> Reported {
        match v {
            Value::Ir(_, t) => self.not_constant(span, what, t),
            v => self.error(
                Diagnostic::error(
                    codes::EXPECTED_NUMBER,
                    format!("{what} must be a number or bool, found {}", v.describe()),
                    span,
                )
                .with_label(v.describe()),
            ),
        }
    }

    fn runtime_param_sig(&mut self, p: &ast::Param) -> LResult<RuntimeParamSig> {
        let Some(t) = &p.ty else {
            return Err(self.error(
                Diagnostic::error(
                    codes::UNTYPED_PARAM,
                    format!("kernel parameter `{}` needs a type", p.name.name),
                    p.name.span,
                )
                .with_label("no type")
                .with_help(format!(
                    "write `{}: i32`, `{}: *f32`, or `const {}: i32` for a compile-time value",
                    p.name.name, p.name.name, p.name.name
                )),
            ));
        };
        let elem = self.resolve_type(t)?;
        let ty = Type::Tensor { elem, shape: Vec::new() };
        let mut hints = ParamHints::default();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for h in &p.hints {
            if let Some(first) = seen.insert(h.name.name.as_str(), h.span) {
                self.error(
                    Diagnostic::error(
                        codes::DUPLICATE_META_ENTRY,
                        format!("hint `@{}` is given twice", h.name.name),
                        h.span,
                    )
                    .with_label("again")
                    .with_secondary(first, "first here"),
                );
                continue;
            }
            let is_int = matches!(elem, ElemType::Scalar(s) if s.is_int() && !s.is_bool());
            let is_ptr = matches!(elem, ElemType::Ptr(_));
            match h.name.name.as_str() {
                "div" => {
                    if !(is_int || is_ptr) {
                        self.hint_type(h, p, "integer or pointer");
                        continue;
                    }
                    match self.hint_arg(h) {
                        Some(n) => hints.divisibility = Some(n),
                        None => continue,
                    }
                }
                "contig" => {
                    if !is_int {
                        self.hint_type(h, p, "integer");
                        continue;
                    }
                    if let Some(extra) = h.args.first() {
                        self.error(
                            Diagnostic::error(codes::BAD_HINT_ARG, "`@contig` takes no arguments", extra.span)
                                .with_label("unexpected argument")
                                .with_help("write `@contig`"),
                        );
                        continue;
                    }
                    hints.contiguous = true;
                }
                other => {
                    let mut d = Diagnostic::error(codes::UNKNOWN_HINT, format!("unknown hint `@{other}`"), h.name.span)
                        .with_label("not a hint");
                    d = d.with_help(match did_you_mean(other, ["div", "contig"]) {
                        Some(s) => format!("{s} the hints are `@div(n)` and `@contig`"),
                        None => "the hints are `@div(n)` and `@contig`".to_string(),
                    });
                    self.error(d);
                }
            }
        }
        Ok(RuntimeParamSig { name: p.name.name.clone(), ty, hints, span: p.name.span })
    }

    fn hint_type(&mut self, h: &ast::Hint, p: &ast::Param, wanted: &str) {
        let ty = p.ty.as_ref().map(crate::lower::type_text).unwrap_or_default();
        self.error(
            Diagnostic::error(
                codes::HINT_PARAM_TYPE,
                format!("hint `@{}` needs an {wanted} parameter, but `{}` is `{ty}`", h.name.name, p.name.name),
                h.span,
            )
            .with_label(format!("on a `{ty}` parameter"))
            .with_help("remove the hint"),
        );
    }

    /// The `n` of `@div(n)`: a compile-time power of two.
    fn hint_arg(&mut self, h: &ast::Hint) -> Option<u32> {
        let [arg] = h.args.as_slice() else {
            self.error(
                Diagnostic::error(
                    codes::BAD_HINT_ARG,
                    format!("`@div` takes one argument, {} given", h.args.len()),
                    h.span,
                )
                .with_label("wrong number of arguments")
                .with_help("write `@div(16)`"),
            );
            return None;
        };
        let v = self.value_expr(arg).ok()?;
        match v {
            Value::Int(n) if n > 0 && (n as u64).is_power_of_two() && n <= i64::from(u32::MAX) => Some(n as u32),
            v => {
                self.error(
                    Diagnostic::error(
                        codes::BAD_HINT_ARG,
                        format!("`@div` needs a positive power of two, found {}", v.describe()),
                        arg.span,
                    )
                    .with_label("not a power of two")
                    .with_help("divisibility hints are powers of two such as 8 or 16"),
                );
                None
            }
        }
    }

    fn tune_space(&mut self, entries: &[ast::TuneEntry], sig: &KernelSignature) -> TuneSpace {
        let mut space = TuneSpace::default();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for e in entries {
            let name = e.name.name.as_str();
            if let Some(first) = seen.insert(name, e.name.span) {
                self.error(
                    Diagnostic::error(
                        codes::DUPLICATE_META_ENTRY,
                        format!("`{name}` appears twice in `tune`"),
                        e.name.span,
                    )
                    .with_label("again")
                    .with_secondary(first, "first here"),
                );
                continue;
            }
            let ty = match name {
                "warps" | "stages" => ScalarType::I32,
                _ => match sig.const_param(name) {
                    Some(c) => c.ty,
                    None => {
                        let consts: Vec<&str> = sig.const_params.iter().map(|c| c.name.as_str()).collect();
                        let names = consts.iter().copied().chain(["warps", "stages"]);
                        let mut d = Diagnostic::error(
                            codes::TUNE_UNKNOWN,
                            format!("`tune` names `{name}`, which is not a compile-time parameter"),
                            e.name.span,
                        )
                        .with_label("unknown tuning axis");
                        d = if sig.runtime_param(name).is_some() {
                            d.with_help(format!(
                                "`{name}` is a runtime parameter; make it `const {name}: i32` to tune it"
                            ))
                        } else if let Some(axis) = triton_tuning_alias(name) {
                            d.with_help(format!("did you mean `{axis}`? (Triton's `{name}` is `{axis}` in Tessera)"))
                        } else if let Some(s) = did_you_mean(name, names) {
                            d.with_help(s)
                        } else if consts.is_empty() {
                            d.with_help("tuning axes are `warps`, `stages` and the compile-time parameters (none here)")
                        } else {
                            d.with_help(format!(
                                "tuning axes are the compile-time parameters ({}) and `warps`, `stages`",
                                consts.join(", ")
                            ))
                        };
                        self.error(d);
                        continue;
                    }
                },
            };
            if e.values.is_empty() {
                self.error(
                    Diagnostic::error(codes::TUNE_VALUES, format!("`tune` gives no values for `{name}`"), e.span)
                        .with_label("empty list")
                        .with_help(format!("list at least one value: `{name} = [..]`")),
                );
                continue;
            }
            let mut values: Vec<ConstValue> = Vec::new();
            let mut ok = true;
            for v in &e.values {
                match self.tune_value(name, ty, v) {
                    Some(c) if values.contains(&c) => {
                        self.error(
                            Diagnostic::error(
                                codes::TUNE_VALUES,
                                format!("`{name}` lists the value {c} twice"),
                                v.span,
                            )
                            .with_label("repeated value"),
                        );
                        ok = false;
                    }
                    Some(c) => values.push(c),
                    None => ok = false,
                }
            }
            if ok {
                space.axes.push((name.to_string(), values));
            }
        }
        space
    }

    fn tune_value(&mut self, name: &str, ty: ScalarType, e: &Expr) -> Option<ConstValue> {
        let v = self.value_expr(e).ok()?;
        if !is_compile_time(&v) || !v.is_const_scalar() {
            self.const_expected(e.span, &v, &format!("a `tune` value of `{name}`"));
            return None;
        }
        match name {
            "warps" => match v {
                Value::Int(w) if (1..=32).contains(&w) && (w as u64).is_power_of_two() => Some(ConstValue::Int(w)),
                _ => {
                    self.bad_warps(e.span, &v);
                    None
                }
            },
            "stages" => match v {
                Value::Int(s) if (1..=i64::from(u32::MAX)).contains(&s) => Some(ConstValue::Int(s)),
                _ => {
                    self.bad_stages(e.span, &v);
                    None
                }
            },
            _ => match coerce_const(&v, ty) {
                Some(c) => c.to_const(),
                None => {
                    self.error(
                        Diagnostic::error(
                            codes::TUNE_VALUE_TYPE,
                            format!("`{name}` is `{ty}`, but `tune` gives it {}", v.describe()),
                            e.span,
                        )
                        .with_label(format!("not {} `{ty}` value", crate::lower::article(ty))),
                    );
                    None
                }
            },
        }
    }

    pub(crate) fn bad_warps(&mut self, span: Span, v: &Value) {
        self.error(
            Diagnostic::error(
                codes::BAD_WARPS,
                format!("`warps` must be a power of two from 1 to 32, found {}", v.describe()),
                span,
            )
            .with_label("invalid warp count")
            .with_help("use 1, 2, 4, 8, 16 or 32"),
        );
    }

    pub(crate) fn bad_stages(&mut self, span: Span, v: &Value) {
        self.error(
            Diagnostic::error(
                codes::BAD_STAGES,
                format!("`stages` must be an integer of at least 1, found {}", v.describe()),
                span,
            )
            .with_label("invalid stage count")
            .with_help("1 disables software pipelining; 2 to 4 are typical"),
        );
    }

    fn key(&mut self, params: &[ast::Ident], sig: &KernelSignature, k: &ast::Kernel) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for p in params {
            if let Some(first) = seen.insert(p.name.as_str(), p.span) {
                self.error(
                    Diagnostic::error(
                        codes::DUPLICATE_META_ENTRY,
                        format!("`{}` appears twice in `key`", p.name),
                        p.span,
                    )
                    .with_label("again")
                    .with_secondary(first, "first here"),
                );
                continue;
            }
            let problem = match sig.runtime_param(&p.name) {
                Some(r) if matches!(r.ty.elem(), Some(ElemType::Ptr(_))) => Some(format!("`{}` is a pointer", p.name)),
                Some(_) => None,
                None if sig.const_param(&p.name).is_some() => Some(format!(
                    "`{}` is a compile-time parameter (each value is compiled separately already)",
                    p.name
                )),
                None if k.params.iter().any(|q| q.name.name == p.name) => {
                    Some(format!("`{}` is not a valid parameter", p.name))
                }
                None => Some(format!("`{}` is not a parameter of `{}`", p.name, sig.name)),
            };
            match problem {
                None => out.push(p.name.clone()),
                Some(why) => {
                    let mut d = Diagnostic::error(
                        codes::BAD_KEY,
                        format!("`key` entries must be runtime scalar parameters: {why}"),
                        p.span,
                    )
                    .with_label("not a runtime scalar parameter");
                    let scalars =
                        sig.runtime_params.iter().filter(|r| r.ty.scalar_elem().is_some()).map(|r| r.name.as_str());
                    if let Some(s) = did_you_mean(&p.name, scalars) {
                        d = d.with_help(s);
                    }
                    self.error(d);
                }
            }
        }
        out
    }

    // ---- grid ------------------------------------------------------------------------

    /// The grid of a specialization: compile-time parameters substituted.
    pub(crate) fn grid(
        &mut self,
        k: &ast::Kernel,
        sig: &KernelSignature,
        consts: &[(String, ConstValue)],
    ) -> Vec<MetaExpr> {
        let Some(Clause::Grid { dims, span }) = k.clauses.iter().find(|c| matches!(c, Clause::Grid { .. })) else {
            return vec![MetaExpr::Int(1)];
        };
        if dims.is_empty() || dims.len() > 3 {
            self.error(
                Diagnostic::error(
                    codes::GRID_ARITY,
                    format!("`grid` has {} dimensions; it takes one to three", dims.len()),
                    *span,
                )
                .with_label("wrong number of dimensions")
                .with_help("write `grid(x)`, `grid(x, y)` or `grid(x, y, z)`"),
            );
            return vec![MetaExpr::Int(1)];
        }
        dims.iter().map(|d| self.grid_expr(d, sig, consts).unwrap_or(MetaExpr::Int(1))).collect()
    }

    fn grid_expr(&mut self, e: &Expr, sig: &KernelSignature, consts: &[(String, ConstValue)]) -> LResult<MetaExpr> {
        let r = match &e.kind {
            ExprKind::Int(v) => match i64::try_from(*v) {
                Ok(v) => Some(MetaExpr::Int(v)),
                Err(_) => return Err(self.value_expr(e).err().unwrap_or(Reported)),
            },
            ExprKind::Name(id) => {
                if let Some((_, c)) = consts.iter().find(|(n, _)| *n == id.name) {
                    match c {
                        ConstValue::Int(v) => Some(MetaExpr::Int(*v)),
                        other => return Err(self.grid_param_type(id.span, &id.name, &format!("compile-time {other}"))),
                    }
                } else if let Some(r) = sig.runtime_param(&id.name) {
                    match r.ty.elem() {
                        Some(ElemType::Scalar(s)) if s.is_int() && !s.is_bool() => {
                            Some(MetaExpr::Param(id.name.clone()))
                        }
                        _ => return Err(self.grid_param_type(id.span, &id.name, &r.ty.to_string())),
                    }
                } else {
                    match self.name(id)? {
                        Value::Int(v) => Some(MetaExpr::Int(v)),
                        v => return Err(self.grid_param_type(id.span, &id.name, &v.describe())),
                    }
                }
            }
            ExprKind::Unary { op: UnOp::Neg, operand } => {
                let x = self.grid_expr(operand, sig, consts)?;
                fold(MetaExpr::Sub(Box::new(MetaExpr::Int(0)), Box::new(x)))
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let make: fn(Box<MetaExpr>, Box<MetaExpr>) -> MetaExpr = match op {
                    BinOp::Add => MetaExpr::Add,
                    BinOp::Sub => MetaExpr::Sub,
                    BinOp::Mul => MetaExpr::Mul,
                    BinOp::Div => MetaExpr::Div,
                    BinOp::Rem => MetaExpr::Rem,
                    _ => return Err(self.grid_construct(e.span, &format!("the operator `{}`", op.symbol()))),
                };
                let (a, b) = (self.grid_expr(lhs, sig, consts)?, self.grid_expr(rhs, sig, consts)?);
                if matches!(op, BinOp::Div | BinOp::Rem) && b == MetaExpr::Int(0) {
                    return Err(self.error(
                        Diagnostic::error(
                            codes::CONST_DIV_ZERO,
                            format!("grid expression `{}` by zero", op.symbol()),
                            rhs.span,
                        )
                        .with_label("this is zero"),
                    ));
                }
                fold(make(Box::new(a), Box::new(b)))
            }
            ExprKind::Call { callee, args } if matches!(callee.name.as_str(), "cdiv" | "min" | "max") => {
                let [x, y] = args.as_slice() else {
                    return Err(self.grid_construct(
                        e.span,
                        &format!("`{}` with {} arguments (it takes two)", callee.name, args.len()),
                    ));
                };
                if x.name.is_some() || y.name.is_some() {
                    return Err(self.grid_construct(e.span, "keyword arguments"));
                }
                let (a, b) = (self.grid_expr(&x.value, sig, consts)?, self.grid_expr(&y.value, sig, consts)?);
                let make: fn(Box<MetaExpr>, Box<MetaExpr>) -> MetaExpr = match callee.name.as_str() {
                    "cdiv" => MetaExpr::Cdiv,
                    "min" => MetaExpr::Min,
                    _ => MetaExpr::Max,
                };
                if callee.name == "cdiv" && b == MetaExpr::Int(0) {
                    return Err(self.error(
                        Diagnostic::error(codes::CONST_DIV_ZERO, "grid expression `cdiv` by zero", y.value.span)
                            .with_label("this is zero"),
                    ));
                }
                fold(make(Box::new(a), Box::new(b)))
            }
            ExprKind::Error => return Err(Reported),
            ExprKind::Call { callee, .. } => {
                return Err(self.grid_construct(callee.span, &format!("a call of `{}`", callee.name)));
            }
            _ => return Err(self.grid_construct(e.span, "this expression")),
        };
        match r {
            Some(m) => Ok(m),
            None => Err(self.error(
                Diagnostic::error(codes::CONST_OVERFLOW, "grid expression overflows i64", e.span)
                    .with_label("overflows"),
            )),
        }
    }

    fn grid_param_type(&mut self, span: Span, name: &str, ty: &str) -> Reported {
        self.error(
            Diagnostic::error(
                codes::GRID_PARAM_TYPE,
                format!("the grid uses `{name}`, which is {ty}, not an integer"),
                span,
            )
            .with_label("not an integer parameter")
            .with_help("grid sizes are integer expressions of integer parameters"),
        )
    }

    fn grid_construct(&mut self, span: Span, what: &str) -> Reported {
        self.error(
            Diagnostic::error(codes::GRID_EXPR, format!("{what} cannot be used in a grid expression"), span)
                .with_label("not allowed in `grid`")
                .with_help("grid expressions use `+ - * / %`, `cdiv`, `min`, `max`, integer literals and parameters"),
        )
    }
}

/// Fold a node whose operands are both constants. None on overflow.
fn fold(m: MetaExpr) -> Option<MetaExpr> {
    let both = |a: &MetaExpr, b: &MetaExpr| matches!((a, b), (MetaExpr::Int(_), MetaExpr::Int(_)));
    let foldable = match &m {
        MetaExpr::Add(a, b)
        | MetaExpr::Sub(a, b)
        | MetaExpr::Mul(a, b)
        | MetaExpr::Div(a, b)
        | MetaExpr::Rem(a, b)
        | MetaExpr::Cdiv(a, b)
        | MetaExpr::Min(a, b)
        | MetaExpr::Max(a, b) => both(a, b),
        _ => false,
    };
    if !foldable {
        return Some(m);
    }
    m.eval(&|_| None).map(MetaExpr::Int)
}

/// The Tessera tuning axis for Triton's spelling of it (`num_warps`,
/// `num_stages`), which users porting Triton configs write by habit.
fn triton_tuning_alias(name: &str) -> Option<&'static str> {
    match name {
        "num_warps" => Some("warps"),
        "num_stages" => Some("stages"),
        _ => None,
    }
}
