//! The table of builtins (docs/language.md §5) and argument binding.
//!
//! Every builtin's parameters are listed once here, so arity, keyword names
//! and "did you mean" for keywords are checked the same way for all of them
//! (and for helpers, whose parameters come from their definitions).

use crate::codes;
use crate::suggest::did_you_mean;
use crate::value::Value;
use tessera_diagnostics::{Diagnostic, Span};
use tessera_tir::UnaryOp;

/// What a builtin computes; the lowering dispatches on this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BuiltinKind {
    ProgramId,
    NumPrograms,
    Arange,
    Zeros,
    Full,
    ZerosLike,
    FullLike,
    ExpandDims,
    BroadcastTo,
    Reshape,
    Trans,
    Permute,
    Where,
    Minimum,
    Maximum,
    Math(UnaryOp),
    Cdiv,
    To,
    Load,
    Store,
    AtomicAdd,
    Fence,
    MakeBlockPtr,
    Advance,
    Dot,
    Sum,
    Max,
    Min,
    Argmax,
    Argmin,
    Cumsum,
    Cumprod,
    StaticAssert,
    /// `range` / `static_range`: only valid as a `for` iterator.
    Range {
        unrolled: bool,
    },
}

/// A builtin: its name, its parameters (all may be given by keyword) and how
/// many leading ones are required.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Builtin {
    pub name: &'static str,
    pub kind: BuiltinKind,
    pub params: &'static [&'static str],
    pub required: usize,
}

const fn b(name: &'static str, kind: BuiltinKind, params: &'static [&'static str], required: usize) -> Builtin {
    Builtin { name, kind, params, required }
}

use BuiltinKind as K;

const X: &[&str] = &["x"];
const REDUCE: &[&str] = &["x", "axis", "keep_dims"];
const SCAN: &[&str] = &["x", "axis", "reverse"];
const RANGE: &[&str] = &["start", "end", "step"];

pub(crate) const BUILTINS: &[Builtin] = &[
    b("program_id", K::ProgramId, &["axis"], 1),
    b("num_programs", K::NumPrograms, &["axis"], 1),
    b("arange", K::Arange, &["start", "end"], 2),
    b("zeros", K::Zeros, &["shape", "dtype"], 1),
    b("full", K::Full, &["shape", "value", "dtype"], 2),
    b("zeros_like", K::ZerosLike, X, 1),
    b("full_like", K::FullLike, &["x", "value"], 2),
    b("expand_dims", K::ExpandDims, &["x", "axis"], 2),
    b("broadcast_to", K::BroadcastTo, &["x", "shape"], 2),
    b("reshape", K::Reshape, &["x", "shape"], 2),
    b("trans", K::Trans, X, 1),
    b("permute", K::Permute, &["x", "dims"], 2),
    b("where", K::Where, &["condition", "x", "y"], 3),
    b("minimum", K::Minimum, &["x", "y"], 2),
    b("maximum", K::Maximum, &["x", "y"], 2),
    b("exp", K::Math(UnaryOp::Exp), X, 1),
    b("exp2", K::Math(UnaryOp::Exp2), X, 1),
    b("log", K::Math(UnaryOp::Log), X, 1),
    b("log2", K::Math(UnaryOp::Log2), X, 1),
    b("sqrt", K::Math(UnaryOp::Sqrt), X, 1),
    b("rsqrt", K::Math(UnaryOp::Rsqrt), X, 1),
    b("abs", K::Math(UnaryOp::Abs), X, 1),
    b("sin", K::Math(UnaryOp::Sin), X, 1),
    b("cos", K::Math(UnaryOp::Cos), X, 1),
    b("sigmoid", K::Math(UnaryOp::Sigmoid), X, 1),
    b("tanh", K::Math(UnaryOp::Tanh), X, 1),
    b("floor", K::Math(UnaryOp::Floor), X, 1),
    b("ceil", K::Math(UnaryOp::Ceil), X, 1),
    b("cdiv", K::Cdiv, &["x", "div"], 2),
    b("to", K::To, &["x", "dtype"], 2),
    b("load", K::Load, &["pointer", "mask", "other", "boundary_check", "padding", "eviction_policy"], 1),
    b("store", K::Store, &["pointer", "value", "mask", "boundary_check"], 2),
    b("atomic_add", K::AtomicAdd, &["pointer", "value", "mask"], 2),
    b("fence", K::Fence, &[], 0),
    b("make_block_ptr", K::MakeBlockPtr, &["base", "shape", "strides", "offsets", "block_shape", "order"], 6),
    b("advance", K::Advance, &["base", "offsets"], 2),
    b("dot", K::Dot, &["a", "b", "acc", "precision"], 2),
    b("sum", K::Sum, REDUCE, 1),
    b("max", K::Max, REDUCE, 1),
    b("min", K::Min, REDUCE, 1),
    b("argmax", K::Argmax, REDUCE, 2),
    b("argmin", K::Argmin, REDUCE, 2),
    b("cumsum", K::Cumsum, SCAN, 1),
    b("cumprod", K::Cumprod, SCAN, 1),
    b("static_assert", K::StaticAssert, &["cond", "msg"], 1),
    b("range", K::Range { unrolled: false }, RANGE, 1),
    b("static_range", K::Range { unrolled: true }, RANGE, 1),
];

pub(crate) fn lookup(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// One evaluated argument of a call.
#[derive(Clone, Debug)]
pub(crate) struct ArgVal {
    /// The keyword and its span, for keyword arguments.
    pub keyword: Option<(String, Span)>,
    pub value: Value,
    /// The span of the argument's expression.
    pub span: Span,
}

/// A bound argument: its value and the span of its expression.
#[derive(Clone, Debug)]
pub(crate) struct Bound {
    pub value: Value,
    pub span: Span,
}

/// Match positional and keyword arguments to `params` (name, required).
/// Slots of optional parameters not given, or given as `None`, are `None`.
// The error is produced at most once per call; boxing it buys nothing.
#[allow(clippy::result_large_err)]
pub(crate) fn bind_args(
    callee: &str,
    params: &[(&str, bool)],
    args: Vec<ArgVal>,
    call_span: Span,
) -> Result<Vec<Option<Bound>>, Diagnostic> {
    let mut slots: Vec<Option<Bound>> = vec![None; params.len()];
    let mut given = vec![false; params.len()];
    let mut positional = 0;
    for arg in args {
        let index = match &arg.keyword {
            None => {
                if positional >= params.len() {
                    return Err(Diagnostic::error(
                        codes::TOO_MANY_ARGS,
                        format!("`{callee}` takes at most {} arguments, but more were given", params.len()),
                        arg.span,
                    )
                    .with_label("this argument has no parameter")
                    .with_help(format!("`{callee}` takes ({})", param_list(params))));
                }
                positional += 1;
                positional - 1
            }
            Some((kw, kw_span)) => match params.iter().position(|(p, _)| p == kw) {
                Some(i) => i,
                None => {
                    let accepted = param_list(params);
                    let mut d = Diagnostic::error(
                        codes::UNKNOWN_KEYWORD,
                        format!("`{callee}` has no parameter named `{kw}`"),
                        *kw_span,
                    )
                    .with_label("unknown keyword");
                    d = match did_you_mean(kw, params.iter().map(|(p, _)| *p)) {
                        Some(s) => d.with_help(format!("{s} `{callee}` accepts: {accepted}")),
                        None => d.with_help(format!("`{callee}` accepts: {accepted}")),
                    };
                    return Err(d);
                }
            },
        };
        if given[index] {
            let span = arg.keyword.as_ref().map_or(arg.span, |(_, s)| *s);
            return Err(Diagnostic::error(
                codes::DUPLICATE_ARG,
                format!("argument `{}` of `{callee}` is given more than once", params[index].0),
                span,
            )
            .with_label("given again here"));
        }
        given[index] = true;
        // `None` for an optional parameter means "not given".
        if arg.value != Value::None || params[index].1 {
            slots[index] = Some(Bound { value: arg.value, span: arg.span });
        }
    }
    for (i, (name, required)) in params.iter().enumerate() {
        if *required && !given[i] {
            return Err(Diagnostic::error(
                codes::MISSING_ARG,
                format!("`{callee}` is missing its argument `{name}`"),
                call_span,
            )
            .with_label(format!("`{name}` not given"))
            .with_help(format!("`{callee}` takes ({})", param_list(params))));
        }
    }
    Ok(slots)
}

fn param_list(params: &[(&str, bool)]) -> String {
    let names: Vec<String> =
        params.iter().map(|(p, required)| if *required { p.to_string() } else { format!("{p}?") }).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(v: i64) -> ArgVal {
        ArgVal { keyword: None, value: Value::Int(v), span: Span::default() }
    }
    fn kw(k: &str, v: i64) -> ArgVal {
        ArgVal { keyword: Some((k.to_string(), Span::default())), value: Value::Int(v), span: Span::default() }
    }
    const P: &[(&str, bool)] = &[("x", true), ("axis", false), ("keep_dims", false)];

    #[test]
    fn binds_positional_and_keywords() {
        let s = bind_args("sum", P, vec![pos(1), kw("keep_dims", 2)], Span::default()).unwrap();
        assert_eq!(s[0].as_ref().map(|b| b.value.clone()), Some(Value::Int(1)));
        assert!(s[1].is_none());
        assert_eq!(s[2].as_ref().map(|b| b.value.clone()), Some(Value::Int(2)));
    }

    #[test]
    fn reports_each_problem() {
        let code = |args| bind_args("sum", P, args, Span::default()).unwrap_err().code;
        assert_eq!(code(vec![pos(1), pos(2), pos(3), pos(4)]), codes::TOO_MANY_ARGS);
        assert_eq!(code(vec![kw("axis", 0)]), codes::MISSING_ARG);
        assert_eq!(code(vec![pos(1), kw("axes", 0)]), codes::UNKNOWN_KEYWORD);
        assert_eq!(code(vec![pos(1), kw("x", 0)]), codes::DUPLICATE_ARG);
        let d = bind_args("sum", P, vec![pos(1), kw("axes", 0)], Span::default()).unwrap_err();
        assert!(d.help.unwrap().contains("did you mean `axis`?"));
    }

    #[test]
    fn table_names_are_unique() {
        for (i, a) in BUILTINS.iter().enumerate() {
            assert!(a.required <= a.params.len(), "{}", a.name);
            assert!(BUILTINS[i + 1..].iter().all(|b| b.name != a.name), "{}", a.name);
        }
    }
}
