//! Kernel interfaces and launch metadata: parameters and their hints,
//! `grid`, `tune`, `key` and `require` clauses.

use crate::codes;
use crate::lower::{LResult, Lowerer, Reported, coerce_const, is_compile_time};
use crate::suggest::did_you_mean;
use crate::value::Value;
use std::collections::HashMap;
use tessera_diagnostics::{Diagnostic, Span};
use tessera_syntax::ast::{self, BinOp, Clause, Expr, ExprKind, UnOp};
use tessera_tir::{
    ConstValue, ElemType, LAUNCH_KNOBS, MAX_OCCUPANCY, MetaCmp, MetaExpr, ParamHints, ScalarType, TuneSpace, Type,
};

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
    /// The `require` conditions over runtime and compile-time parameters
    /// (by name), as bundles record them.
    pub require: Vec<MetaExpr>,
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
            require: Vec::new(),
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
        sig.require = self.requirements(k, &sig);
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
                "warps" | "stages" | "occupancy" => ScalarType::I32,
                _ => match sig.const_param(name) {
                    Some(c) => c.ty,
                    None => {
                        let consts: Vec<&str> = sig.const_params.iter().map(|c| c.name.as_str()).collect();
                        let names = consts.iter().copied().chain(LAUNCH_KNOBS);
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
            knob if LAUNCH_KNOBS.contains(&knob) => {
                self.knob_value(knob, e.span, &v).map(|k| ConstValue::Int(k.into()))
            }
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

    /// The value of launch knob `name` (`warps`, `stages`, `occupancy`), or
    /// an error at `span` naming the knob's range.
    pub(crate) fn knob_value(&mut self, name: &str, span: Span, v: &Value) -> Option<u32> {
        let int = match v {
            Value::Int(i) => u32::try_from(*i).ok(),
            _ => None,
        };
        // (valid value, code, what it must be, label, help)
        let (valid, code, must, label, help) = match name {
            "warps" => (
                int.filter(|w| (1..=32).contains(w) && w.is_power_of_two()),
                codes::BAD_WARPS,
                "a power of two from 1 to 32".to_string(),
                "invalid warp count",
                "use 1, 2, 4, 8, 16 or 32",
            ),
            "stages" => (
                int.filter(|&s| s >= 1),
                codes::BAD_STAGES,
                "an integer of at least 1".to_string(),
                "invalid stage count",
                "1 disables software pipelining; 2 to 4 are typical",
            ),
            _ => (
                int.filter(|o| (1..=MAX_OCCUPANCY).contains(o)),
                codes::BAD_OCCUPANCY,
                format!("an integer from 1 to {MAX_OCCUPANCY}"),
                "invalid occupancy",
                "programs per multiprocessor the registers are budgeted for: 1 (no cap) or 2 are typical",
            ),
        };
        if valid.is_none() {
            self.error(
                Diagnostic::error(code, format!("`{name}` must be {must}, found {}", v.describe()), span)
                    .with_label(label)
                    .with_help(help),
            );
        }
        valid
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
        self.meta_expr(e, sig, consts, MetaClause::Grid)
    }

    // ---- require ---------------------------------------------------------------------

    /// The `require` conditions of `k` over runtime and compile-time
    /// parameters (compile-time ones kept by name): what bundles record.
    pub(crate) fn requirements(&mut self, k: &ast::Kernel, sig: &KernelSignature) -> Vec<MetaExpr> {
        require_clause(k).iter().filter_map(|c| self.meta_expr(c, sig, &[], MetaClause::Require).ok()).collect()
    }

    /// The `require` conditions of a specialization: compile-time values
    /// substituted, conditions that hold dropped; one that fails is an
    /// error (the point is not a variant). What stays reads runtime
    /// parameters and is checked at each launch.
    pub(crate) fn specialized_requirements(
        &mut self,
        k: &ast::Kernel,
        sig: &KernelSignature,
        consts: &[(String, ConstValue)],
    ) -> Vec<MetaExpr> {
        let mut out = Vec::new();
        for cond in require_clause(k) {
            match self.meta_expr(cond, sig, consts, MetaClause::Require) {
                Ok(MetaExpr::Int(0)) => {
                    let values: Vec<String> = consts
                        .iter()
                        .filter(|(name, _)| mentions(cond, name))
                        .map(|(name, value)| format!("{name} = {value}"))
                        .collect();
                    let at = if values.is_empty() { String::new() } else { format!(" at {}", values.join(", ")) };
                    self.error(
                        Diagnostic::error(
                            codes::REQUIRE_FAILED,
                            format!("this specialization breaks its kernel's `require` condition{at}"),
                            cond.span,
                        )
                        .with_label("false for these compile-time values")
                        .with_help("choose compile-time values that satisfy the condition (tessera build lists such tuning points as rejected)"),
                    );
                }
                Ok(MetaExpr::Int(_)) | Err(_) => {}
                Ok(kept) => out.push(kept),
            }
        }
        out
    }

    /// A `grid` dimension or a `require` condition as a [`MetaExpr`]:
    /// integer literals, integer parameters (compile-time ones from
    /// `consts`, or kept by name when absent there), `+ - * / %`, `cdiv`,
    /// `min`, `max`; a condition also compares and combines with `&& || !`.
    fn meta_expr(
        &mut self,
        e: &Expr,
        sig: &KernelSignature,
        consts: &[(String, ConstValue)],
        clause: MetaClause,
    ) -> LResult<MetaExpr> {
        let r = match &e.kind {
            ExprKind::Int(v) => match i64::try_from(*v) {
                Ok(v) => Some(MetaExpr::Int(v)),
                Err(_) => return Err(self.value_expr(e).err().unwrap_or(Reported)),
            },
            ExprKind::Bool(v) if clause == MetaClause::Require => Some(MetaExpr::Int(i64::from(*v))),
            ExprKind::Name(id) => {
                if let Some((_, c)) = consts.iter().find(|(n, _)| *n == id.name) {
                    match c {
                        ConstValue::Int(v) => Some(MetaExpr::Int(*v)),
                        other => {
                            return Err(self.meta_param_type(
                                clause,
                                id.span,
                                &id.name,
                                &format!("compile-time {other}"),
                            ));
                        }
                    }
                } else if let Some(r) = sig.runtime_param(&id.name) {
                    match r.ty.elem() {
                        Some(ElemType::Scalar(s)) if s.is_int() && !s.is_bool() => {
                            Some(MetaExpr::Param(id.name.clone()))
                        }
                        _ => return Err(self.meta_param_type(clause, id.span, &id.name, &r.ty.to_string())),
                    }
                } else if let Some(c) = sig.const_param(&id.name) {
                    // Kept by name: the signature's form, read per variant.
                    if c.ty.is_int() && !c.ty.is_bool() {
                        Some(MetaExpr::Param(id.name.clone()))
                    } else {
                        return Err(self.meta_param_type(clause, id.span, &id.name, &format!("compile-time {}", c.ty)));
                    }
                } else if clause == MetaClause::Require && LAUNCH_KNOBS.contains(&id.name.as_str()) {
                    // The variant's launch knobs (substituted in a specialization).
                    Some(MetaExpr::Param(id.name.clone()))
                } else {
                    match self.name(id)? {
                        Value::Int(v) => Some(MetaExpr::Int(v)),
                        v => return Err(self.meta_param_type(clause, id.span, &id.name, &v.describe())),
                    }
                }
            }
            ExprKind::Unary { op: UnOp::Neg, operand } => {
                let x = self.meta_expr(operand, sig, consts, clause)?;
                fold(MetaExpr::Sub(Box::new(MetaExpr::Int(0)), Box::new(x)))
            }
            ExprKind::Unary { op: UnOp::Not, operand } if clause == MetaClause::Require => {
                let x = self.meta_expr(operand, sig, consts, clause)?;
                fold(MetaExpr::Not(Box::new(x)))
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let cmp = match op {
                    BinOp::Lt => Some(MetaCmp::Lt),
                    BinOp::Le => Some(MetaCmp::Le),
                    BinOp::Gt => Some(MetaCmp::Gt),
                    BinOp::Ge => Some(MetaCmp::Ge),
                    BinOp::Eq => Some(MetaCmp::Eq),
                    BinOp::Ne => Some(MetaCmp::Ne),
                    _ => None,
                };
                let make: Option<fn(Box<MetaExpr>, Box<MetaExpr>) -> MetaExpr> = match op {
                    BinOp::Add => Some(MetaExpr::Add),
                    BinOp::Sub => Some(MetaExpr::Sub),
                    BinOp::Mul => Some(MetaExpr::Mul),
                    BinOp::Div => Some(MetaExpr::Div),
                    BinOp::Rem => Some(MetaExpr::Rem),
                    BinOp::And if clause == MetaClause::Require => Some(MetaExpr::And),
                    BinOp::Or if clause == MetaClause::Require => Some(MetaExpr::Or),
                    _ => None,
                };
                if make.is_none() && (cmp.is_none() || clause != MetaClause::Require) {
                    return Err(self.meta_construct(clause, e.span, &format!("the operator `{}`", op.symbol())));
                }
                let (a, b) = (self.meta_expr(lhs, sig, consts, clause)?, self.meta_expr(rhs, sig, consts, clause)?);
                if matches!(op, BinOp::Div | BinOp::Rem) && b == MetaExpr::Int(0) {
                    return Err(self.error(
                        Diagnostic::error(
                            codes::CONST_DIV_ZERO,
                            format!("{} expression `{}` by zero", clause.name(), op.symbol()),
                            rhs.span,
                        )
                        .with_label("this is zero"),
                    ));
                }
                match (make, cmp) {
                    (Some(make), _) => fold(make(Box::new(a), Box::new(b))),
                    (None, Some(cmp)) => fold(MetaExpr::Cmp(cmp, Box::new(a), Box::new(b))),
                    (None, None) => None,
                }
            }
            ExprKind::Call { callee, args } if matches!(callee.name.as_str(), "cdiv" | "min" | "max") => {
                let [x, y] = args.as_slice() else {
                    return Err(self.meta_construct(
                        clause,
                        e.span,
                        &format!("`{}` with {} arguments (it takes two)", callee.name, args.len()),
                    ));
                };
                if x.name.is_some() || y.name.is_some() {
                    return Err(self.meta_construct(clause, e.span, "keyword arguments"));
                }
                let (a, b) =
                    (self.meta_expr(&x.value, sig, consts, clause)?, self.meta_expr(&y.value, sig, consts, clause)?);
                let make: fn(Box<MetaExpr>, Box<MetaExpr>) -> MetaExpr = match callee.name.as_str() {
                    "cdiv" => MetaExpr::Cdiv,
                    "min" => MetaExpr::Min,
                    _ => MetaExpr::Max,
                };
                if callee.name == "cdiv" && b == MetaExpr::Int(0) {
                    return Err(self.error(
                        Diagnostic::error(
                            codes::CONST_DIV_ZERO,
                            format!("{} expression `cdiv` by zero", clause.name()),
                            y.value.span,
                        )
                        .with_label("this is zero"),
                    ));
                }
                fold(make(Box::new(a), Box::new(b)))
            }
            ExprKind::Error => return Err(Reported),
            ExprKind::Call { callee, .. } => {
                return Err(self.meta_construct(clause, callee.span, &format!("a call of `{}`", callee.name)));
            }
            _ => return Err(self.meta_construct(clause, e.span, "this expression")),
        };
        match r {
            Some(m) => Ok(m),
            None => Err(self.error(
                Diagnostic::error(codes::CONST_OVERFLOW, format!("{} expression overflows i64", clause.name()), e.span)
                    .with_label("overflows"),
            )),
        }
    }

    fn meta_param_type(&mut self, clause: MetaClause, span: Span, name: &str, ty: &str) -> Reported {
        let (code, what, help) = match clause {
            MetaClause::Grid => {
                (codes::GRID_PARAM_TYPE, "the grid", "grid sizes are integer expressions of integer parameters")
            }
            MetaClause::Require => (
                codes::REQUIRE_EXPR,
                "the `require` condition",
                "`require` conditions compare integer expressions of integer parameters",
            ),
        };
        self.error(
            Diagnostic::error(code, format!("{what} uses `{name}`, which is {ty}, not an integer"), span)
                .with_label("not an integer parameter")
                .with_help(help),
        )
    }

    fn meta_construct(&mut self, clause: MetaClause, span: Span, what: &str) -> Reported {
        let d = match clause {
            MetaClause::Grid => {
                Diagnostic::error(codes::GRID_EXPR, format!("{what} cannot be used in a grid expression"), span)
                    .with_label("not allowed in `grid`")
                    .with_help(
                        "grid expressions use `+ - * / %`, `cdiv`, `min`, `max`, integer literals and parameters",
                    )
            }
            MetaClause::Require => {
                Diagnostic::error(codes::REQUIRE_EXPR, format!("{what} cannot be used in a `require` condition"), span)
                    .with_label("not allowed in `require`")
                    .with_help(
                        "`require` conditions use `+ - * / %`, `cdiv`, `min`, `max`, comparisons, `&& || !`, \
                         integer literals and integer parameters",
                    )
            }
        };
        self.error(d)
    }
}

/// The clause a [`MetaExpr`] is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MetaClause {
    Grid,
    Require,
}

impl MetaClause {
    fn name(self) -> &'static str {
        match self {
            MetaClause::Grid => "grid",
            MetaClause::Require => "require",
        }
    }
}

/// The conditions of `k`'s `require` clause (none without one).
fn require_clause(k: &ast::Kernel) -> &[Expr] {
    k.clauses
        .iter()
        .find_map(|c| match c {
            Clause::Require { conds, .. } => Some(conds.as_slice()),
            _ => None,
        })
        .unwrap_or(&[])
}

/// Whether `e` reads the name `name`.
fn mentions(e: &Expr, name: &str) -> bool {
    let mut found = false;
    crate::visit::walk_expr(e, &mut |x: &Expr| {
        if let ExprKind::Name(id) = &x.kind {
            found |= id.name == name;
        }
    });
    found
}

/// Fold a node whose operands are both constants. None on overflow.
fn fold(m: MetaExpr) -> Option<MetaExpr> {
    if !m.params().is_empty() {
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
