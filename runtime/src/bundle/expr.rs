//! Grid expressions: the small integer expression trees of a kernel's
//! `grid(...)` and `require(...)` clauses, evaluated at every launch.
//!
//! A `Param` names a runtime scalar parameter (bound at launch) or a
//! compile-time parameter (fixed by the variant). Arithmetic is checked: an
//! overflow or a division by zero is an error, never a wrapped grid.
//! Comparisons and `And`/`Or`/`Not` (in `require` conditions only) yield 0
//! or 1 and treat any non-zero operand as true.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GridExpr {
    Int(i64),
    Param(String),
    Add(Box<GridExpr>, Box<GridExpr>),
    Sub(Box<GridExpr>, Box<GridExpr>),
    Mul(Box<GridExpr>, Box<GridExpr>),
    /// Truncating division.
    Div(Box<GridExpr>, Box<GridExpr>),
    /// Remainder of truncating division.
    Rem(Box<GridExpr>, Box<GridExpr>),
    /// Ceiling division: `a.div_euclid(b) + (a.rem_euclid(b) != 0)`, which
    /// rounds toward +infinity for positive divisors.
    Cdiv(Box<GridExpr>, Box<GridExpr>),
    Min(Box<GridExpr>, Box<GridExpr>),
    Max(Box<GridExpr>, Box<GridExpr>),
    Lt(Box<GridExpr>, Box<GridExpr>),
    Le(Box<GridExpr>, Box<GridExpr>),
    Gt(Box<GridExpr>, Box<GridExpr>),
    Ge(Box<GridExpr>, Box<GridExpr>),
    Eq(Box<GridExpr>, Box<GridExpr>),
    Ne(Box<GridExpr>, Box<GridExpr>),
    And(Box<GridExpr>, Box<GridExpr>),
    Or(Box<GridExpr>, Box<GridExpr>),
    Not(Box<GridExpr>),
}

/// Why a grid expression has no value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("parameter `{0}` has no integer value")]
    UnknownParam(String),
    #[error("division by zero in `{0}`")]
    DivisionByZero(String),
    #[error("integer overflow in `{0}`")]
    Overflow(String),
}

impl GridExpr {
    /// Evaluate with `lookup` giving the value of each parameter name.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<i64>) -> Result<i64, EvalError> {
        let overflow = || EvalError::Overflow(self.to_string());
        let div_zero = || EvalError::DivisionByZero(self.to_string());
        let bin =
            |a: &GridExpr, b: &GridExpr| -> Result<(i64, i64), EvalError> { Ok((a.eval(lookup)?, b.eval(lookup)?)) };
        match self {
            GridExpr::Int(v) => Ok(*v),
            GridExpr::Param(p) => lookup(p).ok_or_else(|| EvalError::UnknownParam(p.clone())),
            GridExpr::Add(a, b) => bin(a, b).and_then(|(a, b)| a.checked_add(b).ok_or_else(overflow)),
            GridExpr::Sub(a, b) => bin(a, b).and_then(|(a, b)| a.checked_sub(b).ok_or_else(overflow)),
            GridExpr::Mul(a, b) => bin(a, b).and_then(|(a, b)| a.checked_mul(b).ok_or_else(overflow)),
            GridExpr::Div(a, b) | GridExpr::Rem(a, b) | GridExpr::Cdiv(a, b) => {
                let (a, b) = bin(a, b)?;
                if b == 0 {
                    return Err(div_zero());
                }
                match self {
                    GridExpr::Div(..) => a.checked_div(b).ok_or_else(overflow),
                    GridExpr::Rem(..) => a.checked_rem(b).ok_or_else(overflow),
                    // Exactly the compiler's definition (`MetaExpr::eval`), so the
                    // runtime launches the grid the interpreter ran.
                    _ => {
                        let q = a.checked_div_euclid(b).ok_or_else(overflow)?;
                        let r = a.checked_rem_euclid(b).ok_or_else(overflow)?;
                        q.checked_add(i64::from(r != 0)).ok_or_else(overflow)
                    }
                }
            }
            GridExpr::Min(a, b) => bin(a, b).map(|(a, b)| a.min(b)),
            GridExpr::Max(a, b) => bin(a, b).map(|(a, b)| a.max(b)),
            GridExpr::Lt(a, b) => bin(a, b).map(|(a, b)| i64::from(a < b)),
            GridExpr::Le(a, b) => bin(a, b).map(|(a, b)| i64::from(a <= b)),
            GridExpr::Gt(a, b) => bin(a, b).map(|(a, b)| i64::from(a > b)),
            GridExpr::Ge(a, b) => bin(a, b).map(|(a, b)| i64::from(a >= b)),
            GridExpr::Eq(a, b) => bin(a, b).map(|(a, b)| i64::from(a == b)),
            GridExpr::Ne(a, b) => bin(a, b).map(|(a, b)| i64::from(a != b)),
            GridExpr::And(a, b) => bin(a, b).map(|(a, b)| i64::from(a != 0 && b != 0)),
            GridExpr::Or(a, b) => bin(a, b).map(|(a, b)| i64::from(a != 0 || b != 0)),
            GridExpr::Not(a) => a.eval(lookup).map(|a| i64::from(a == 0)),
        }
    }

    /// Whether the expression compares or combines conditions (allowed in
    /// `require`, not in `grid`).
    pub fn is_condition(&self) -> bool {
        let own = matches!(
            self,
            GridExpr::Lt(..)
                | GridExpr::Le(..)
                | GridExpr::Gt(..)
                | GridExpr::Ge(..)
                | GridExpr::Eq(..)
                | GridExpr::Ne(..)
                | GridExpr::And(..)
                | GridExpr::Or(..)
                | GridExpr::Not(_)
        );
        own || self.children().iter().any(|c| c.is_condition())
    }

    /// Every parameter name the expression reads, in order of appearance.
    pub fn params(&self) -> Vec<&str> {
        match self {
            GridExpr::Param(p) => vec![p.as_str()],
            _ => self.children().into_iter().flat_map(GridExpr::params).collect(),
        }
    }

    /// The operands of a node, in order.
    fn children(&self) -> Vec<&GridExpr> {
        match self {
            GridExpr::Int(_) | GridExpr::Param(_) => Vec::new(),
            GridExpr::Not(a) => vec![a],
            GridExpr::Lt(a, b)
            | GridExpr::Le(a, b)
            | GridExpr::Gt(a, b)
            | GridExpr::Ge(a, b)
            | GridExpr::Eq(a, b)
            | GridExpr::Ne(a, b)
            | GridExpr::And(a, b)
            | GridExpr::Or(a, b)
            | GridExpr::Add(a, b)
            | GridExpr::Sub(a, b)
            | GridExpr::Mul(a, b)
            | GridExpr::Div(a, b)
            | GridExpr::Rem(a, b)
            | GridExpr::Cdiv(a, b)
            | GridExpr::Min(a, b)
            | GridExpr::Max(a, b) => vec![a, b],
        }
    }
}

/// The language's text form: `cdiv(n, BLOCK)`, `(b * h)`.
impl fmt::Display for GridExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let infix = |f: &mut fmt::Formatter<'_>, a: &GridExpr, op: &str, b: &GridExpr| write!(f, "({a} {op} {b})");
        match self {
            GridExpr::Int(v) => write!(f, "{v}"),
            GridExpr::Param(p) => write!(f, "{p}"),
            GridExpr::Add(a, b) => infix(f, a, "+", b),
            GridExpr::Sub(a, b) => infix(f, a, "-", b),
            GridExpr::Mul(a, b) => infix(f, a, "*", b),
            GridExpr::Div(a, b) => infix(f, a, "/", b),
            GridExpr::Rem(a, b) => infix(f, a, "%", b),
            GridExpr::Cdiv(a, b) => write!(f, "cdiv({a}, {b})"),
            GridExpr::Min(a, b) => write!(f, "min({a}, {b})"),
            GridExpr::Max(a, b) => write!(f, "max({a}, {b})"),
            GridExpr::Lt(a, b) => infix(f, a, "<", b),
            GridExpr::Le(a, b) => infix(f, a, "<=", b),
            GridExpr::Gt(a, b) => infix(f, a, ">", b),
            GridExpr::Ge(a, b) => infix(f, a, ">=", b),
            GridExpr::Eq(a, b) => infix(f, a, "==", b),
            GridExpr::Ne(a, b) => infix(f, a, "!=", b),
            GridExpr::And(a, b) => infix(f, a, "&&", b),
            GridExpr::Or(a, b) => infix(f, a, "||", b),
            GridExpr::Not(a) => write!(f, "!{a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use GridExpr::*;

    fn p(name: &str) -> Box<GridExpr> {
        Box::new(Param(name.into()))
    }
    fn i(v: i64) -> Box<GridExpr> {
        Box::new(Int(v))
    }
    fn env(n: i64) -> impl Fn(&str) -> Option<i64> {
        move |name| match name {
            "n" => Some(n),
            "BLOCK" => Some(1024),
            _ => None,
        }
    }

    #[test]
    fn cdiv_rounds_up_and_matches_the_language() {
        let e = Cdiv(p("n"), p("BLOCK"));
        assert_eq!(e.eval(&env(1000)), Ok(1));
        assert_eq!(e.eval(&env(1024)), Ok(1));
        assert_eq!(e.eval(&env(1025)), Ok(2));
        assert_eq!(e.eval(&env(0)), Ok(0));
        assert_eq!(e.eval(&env(-1)), Ok(0));
        assert_eq!(Cdiv(i(-7), i(2)).eval(&env(0)), Ok(-3));
        // Negative divisors follow the compiler's euclidean definition.
        assert_eq!(Cdiv(i(7), i(-2)).eval(&env(0)), Ok(-2));
        assert_eq!(e.to_string(), "cdiv(n, BLOCK)");
    }

    #[test]
    fn every_operator_evaluates() {
        let cases: Vec<(GridExpr, i64)> = vec![
            (Add(p("n"), i(3)), 13),
            (Sub(p("n"), i(3)), 7),
            (Mul(p("n"), i(3)), 30),
            (Div(p("n"), i(3)), 3),
            (Rem(p("n"), i(3)), 1),
            (Min(p("n"), i(3)), 3),
            (Max(p("n"), i(3)), 10),
            (Div(i(-7), i(2)), -3),
            (Rem(i(-7), i(2)), -1),
        ];
        for (e, want) in cases {
            assert_eq!(e.eval(&env(10)), Ok(want), "{e}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(Cdiv(p("m"), i(2)).eval(&env(1)), Err(EvalError::UnknownParam("m".into())));
        assert_eq!(Div(p("n"), i(0)).eval(&env(1)), Err(EvalError::DivisionByZero("(n / 0)".into())));
        assert_eq!(Rem(p("n"), i(0)).eval(&env(1)), Err(EvalError::DivisionByZero("(n % 0)".into())));
        assert_eq!(Mul(i(i64::MAX), i(2)).eval(&env(1)), Err(EvalError::Overflow(format!("({} * 2)", i64::MAX))));
        assert_eq!(Div(i(i64::MIN), i(-1)).eval(&env(1)).map_err(|e| matches!(e, EvalError::Overflow(_))), Err(true));
    }

    #[test]
    fn params_are_listed_in_order() {
        let e = Mul(Box::new(Cdiv(p("n"), p("BLOCK"))), p("h"));
        assert_eq!(e.params(), vec!["n", "BLOCK", "h"]);
    }
}
