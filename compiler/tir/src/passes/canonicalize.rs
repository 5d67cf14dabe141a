//! `canonicalize`: local simplifications that never make code slower.
//!
//! - constant folding of elementwise ops (unary, binary, compare, cast) on
//!   constants, and of splat/broadcast/reshape/expand_dims/permute of a
//!   constant (a constant is the same literal at every element, so these
//!   just retype it);
//! - algebraic identities: `x+0`, `x-0`, `x*1`, `x/1`, `x|0`, `x^0`, `x&-1`,
//!   shifts by 0, `min(x,x)`; and for integers `x*0`, `x&0`, `x-x`, `x^x`
//!   (float `x*0` is not 0 for NaN or infinity, and `x+0.0` is not `x` for
//!   `x = -0.0`, so floats only drop `+ -0.0` and `- +0.0`);
//! - `cast` to the operand's own type; `cast(cast(x))` when the inner cast
//!   is exact (widening) and the outer one returns to `x`'s type, or is
//!   itself exact (then one cast suffices);
//! - `select` on a constant condition; `if` on a constant condition (the
//!   taken region is inlined); `for` whose constant bounds give zero trips.
//!
//! Folding never produces a new f16/bf16 value by arithmetic (that would
//! need half-precision rounding) and never folds what can fail at run time
//! (integer division by zero) or whose result depends on the target's math
//! library (exp, log, sin, ...).

use super::rewrite::Substitution;
use crate::kernel::{Kernel, Op, ValueId};
use crate::ops::{BinaryOp, CmpPred, Constant, OpKind, UnaryOp, cast_is_widening};
use crate::types::{ScalarType, Type};
use std::collections::{HashMap, VecDeque};

pub fn run(k: &mut Kernel) -> bool {
    let mut cx = Canonicalizer {
        values: &k.values,
        consts: HashMap::new(),
        casts: HashMap::new(),
        subst: Substitution::default(),
        changed: false,
    };
    let ops = std::mem::take(&mut k.body.ops);
    k.body.ops = cx.region(ops);
    cx.changed
}

/// A constant element, normalized to its type (integers sign-extended from
/// their width).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Val {
    Int(i64),
    Float(f64),
    Bool(bool),
}

fn wrap(v: i64, bits: u32) -> i64 {
    if bits >= 64 {
        v
    } else {
        let shift = 64 - bits;
        (v << shift) >> shift
    }
}

fn val_of(c: Constant, s: ScalarType) -> Option<Val> {
    match c {
        Constant::Bool(b) if s.is_bool() => Some(Val::Bool(b)),
        Constant::Int(v) if s.is_int() && !s.is_bool() => Some(Val::Int(wrap(v, s.bits()))),
        Constant::Float(x) if s.is_float() => Some(Val::Float(x)),
        _ => None,
    }
}

fn constant_of(v: Val) -> Constant {
    match v {
        Val::Int(i) => Constant::Int(i),
        Val::Float(x) => Constant::Float(x),
        Val::Bool(b) => Constant::Bool(b),
    }
}

/// Round an exact result to `s`; None where we cannot round exactly like
/// the target (16-bit floats).
fn round(x: f64, s: ScalarType) -> Option<Val> {
    match s {
        ScalarType::F64 => Some(Val::Float(x)),
        ScalarType::F32 => Some(Val::Float(x as f32 as f64)),
        _ => None,
    }
}

fn eval_unary(u: UnaryOp, v: Val, s: ScalarType) -> Option<Val> {
    let bits = s.bits();
    match (u, v) {
        (UnaryOp::Neg, Val::Int(a)) => Some(Val::Int(wrap(a.wrapping_neg(), bits))),
        (UnaryOp::Not, Val::Int(a)) => Some(Val::Int(wrap(!a, bits))),
        (UnaryOp::Abs, Val::Int(a)) => Some(Val::Int(wrap(a.wrapping_abs(), bits))),
        (UnaryOp::Not, Val::Bool(b)) => Some(Val::Bool(!b)),
        // Exact in every float format.
        (UnaryOp::Neg, Val::Float(x)) => Some(Val::Float(-x)),
        (UnaryOp::Abs, Val::Float(x)) => Some(Val::Float(x.abs())),
        (UnaryOp::Floor, Val::Float(x)) => Some(Val::Float(x.floor())),
        (UnaryOp::Ceil, Val::Float(x)) => Some(Val::Float(x.ceil())),
        // Correctly rounded in f64, hence (double rounding is innocuous for
        // sqrt) in f32.
        (UnaryOp::Sqrt, Val::Float(x)) => round(x.sqrt(), s),
        _ => None,
    }
}

fn eval_binary(b: BinaryOp, x: Val, y: Val, s: ScalarType) -> Option<Val> {
    let bits = s.bits();
    match (x, y) {
        (Val::Int(a), Val::Int(c)) => {
            let shift = (c & i64::from(bits - 1)) as u32;
            let r = match b {
                BinaryOp::Add => a.wrapping_add(c),
                BinaryOp::Sub => a.wrapping_sub(c),
                BinaryOp::Mul => a.wrapping_mul(c),
                BinaryOp::Div if c != 0 => a.wrapping_div(c),
                BinaryOp::Rem if c != 0 => a.wrapping_rem(c),
                BinaryOp::Div | BinaryOp::Rem => return None,
                BinaryOp::Min => a.min(c),
                BinaryOp::Max => a.max(c),
                BinaryOp::And => a & c,
                BinaryOp::Or => a | c,
                BinaryOp::Xor => a ^ c,
                BinaryOp::Shl => a << shift,
                BinaryOp::Shr => a >> shift,
            };
            Some(Val::Int(wrap(r, bits)))
        }
        (Val::Bool(a), Val::Bool(c)) => match b {
            BinaryOp::And => Some(Val::Bool(a && c)),
            BinaryOp::Or => Some(Val::Bool(a || c)),
            BinaryOp::Xor => Some(Val::Bool(a != c)),
            _ => None,
        },
        (Val::Float(a), Val::Float(c)) => match b {
            BinaryOp::Add => round(a + c, s),
            BinaryOp::Sub => round(a - c, s),
            BinaryOp::Mul => round(a * c, s),
            BinaryOp::Div => round(a / c, s),
            BinaryOp::Rem => round(a % c, s),
            // NaN handling of min/max is the target's business.
            BinaryOp::Min if !a.is_nan() && !c.is_nan() => Some(Val::Float(a.min(c))),
            BinaryOp::Max if !a.is_nan() && !c.is_nan() => Some(Val::Float(a.max(c))),
            _ => None,
        },
        _ => None,
    }
}

fn eval_cmp(p: CmpPred, x: Val, y: Val) -> Option<bool> {
    fn cmp<T: PartialOrd>(p: CmpPred, a: T, c: T) -> bool {
        match p {
            CmpPred::Eq => a == c,
            CmpPred::Ne => a != c,
            CmpPred::Lt => a < c,
            CmpPred::Le => a <= c,
            CmpPred::Gt => a > c,
            CmpPred::Ge => a >= c,
        }
    }
    match (x, y) {
        (Val::Int(a), Val::Int(c)) => Some(cmp(p, a, c)),
        (Val::Float(a), Val::Float(c)) => Some(cmp(p, a, c)),
        (Val::Bool(a), Val::Bool(c)) if matches!(p, CmpPred::Eq | CmpPred::Ne) => Some(cmp(p, a, c)),
        _ => None,
    }
}

/// Casts from i1 are not folded: whether `true` widens to 1 or -1 is the
/// interpreter's and code generator's business.
fn eval_cast(v: Val, to: ScalarType) -> Option<Val> {
    match v {
        Val::Bool(_) => None,
        _ if to.is_bool() => Some(Val::Bool(match v {
            Val::Int(a) => a != 0,
            Val::Float(x) => x != 0.0,
            Val::Bool(b) => b,
        })),
        Val::Int(a) if to.is_int() => Some(Val::Int(wrap(a, to.bits()))),
        Val::Int(a) => match to {
            ScalarType::F64 => Some(Val::Float(a as f64)),
            ScalarType::F32 => Some(Val::Float(a as f32 as f64)),
            _ => None,
        },
        // `as` truncates toward zero, saturates and maps NaN to 0, as the contract says.
        Val::Float(x) if to.is_int() => Some(Val::Int(match to {
            ScalarType::I8 => x as i8 as i64,
            ScalarType::I16 => x as i16 as i64,
            ScalarType::I32 => x as i32 as i64,
            _ => x as i64,
        })),
        Val::Float(x) => round(x, to),
    }
}

/// What to do with one op.
enum Action {
    Keep,
    /// Becomes `constant c` (same result, same type).
    Fold(Constant),
    /// Removed; its results are these values.
    Forward(Vec<ValueId>),
    /// Replaced by these ops; its results are these values.
    Inline(Vec<Op>, Vec<ValueId>),
}

struct Canonicalizer<'k> {
    values: &'k [Type],
    consts: HashMap<ValueId, Constant>,
    /// Result of a `cast` -> its operand.
    casts: HashMap<ValueId, ValueId>,
    subst: Substitution,
    changed: bool,
}

impl Canonicalizer<'_> {
    fn ty(&self, v: ValueId) -> Option<&Type> {
        self.values.get(v.0 as usize)
    }

    fn elem(&self, v: ValueId) -> Option<ScalarType> {
        self.ty(v).and_then(Type::scalar_elem)
    }

    fn val(&self, v: ValueId, s: ScalarType) -> Option<Val> {
        self.consts.get(&v).and_then(|&c| val_of(c, s))
    }

    fn region(&mut self, ops: Vec<Op>) -> Vec<Op> {
        let mut queue: VecDeque<Op> = ops.into();
        let mut out = Vec::with_capacity(queue.len());
        while let Some(mut op) = queue.pop_front() {
            self.subst.apply(&mut op);
            for r in &mut op.regions {
                let inner = std::mem::take(&mut r.ops);
                r.ops = self.region(inner);
            }
            match self.simplify(&mut op) {
                Action::Keep => {
                    match (&op.kind, op.results.first(), op.operands.first()) {
                        (OpKind::Constant(c), Some(&r), _) => {
                            self.consts.insert(r, *c);
                        }
                        (OpKind::Cast, Some(&r), Some(&src)) => {
                            self.casts.insert(r, src);
                        }
                        _ => {}
                    }
                    out.push(op);
                }
                Action::Fold(c) => {
                    self.changed = true;
                    op.kind = OpKind::Constant(c);
                    op.operands.clear();
                    if let Some(&r) = op.results.first() {
                        self.consts.insert(r, c);
                    }
                    out.push(op);
                }
                Action::Forward(values) => {
                    self.changed = true;
                    for (&r, &v) in op.results.iter().zip(&values) {
                        self.subst.replace(r, v);
                    }
                }
                Action::Inline(ops, values) => {
                    self.changed = true;
                    for (&r, &v) in op.results.iter().zip(&values) {
                        self.subst.replace(r, v);
                    }
                    for inner in ops.into_iter().rev() {
                        queue.push_front(inner);
                    }
                }
            }
        }
        out
    }

    fn simplify(&mut self, op: &mut Op) -> Action {
        let result_elem = op.results.first().and_then(|&r| self.elem(r));
        let n = op.operands.len();
        match op.kind.clone() {
            OpKind::Splat | OpKind::Broadcast | OpKind::Reshape | OpKind::ExpandDims(_) | OpKind::Permute(_)
                if n == 1 =>
            {
                match self.consts.get(&op.operands[0]) {
                    Some(&c) => Action::Fold(c),
                    None => Action::Keep,
                }
            }
            OpKind::Unary(u) if n == 1 => {
                let Some(s) = result_elem else { return Action::Keep };
                match self.val(op.operands[0], s).and_then(|v| eval_unary(u, v, s)) {
                    Some(v) => Action::Fold(constant_of(v)),
                    None => Action::Keep,
                }
            }
            OpKind::Binary(b) if n == 2 => {
                let Some(s) = result_elem else { return Action::Keep };
                let (x, y) = (op.operands[0], op.operands[1]);
                if let (Some(a), Some(c)) = (self.val(x, s), self.val(y, s))
                    && let Some(v) = eval_binary(b, a, c, s)
                {
                    return Action::Fold(constant_of(v));
                }
                self.identity(b, x, y, s)
            }
            OpKind::Compare(p) if n == 2 => {
                let Some(s) = self.elem(op.operands[0]) else {
                    return Action::Keep;
                };
                let folded = match (self.val(op.operands[0], s), self.val(op.operands[1], s)) {
                    (Some(a), Some(c)) => eval_cmp(p, a, c),
                    _ => None,
                };
                match folded {
                    Some(b) => Action::Fold(Constant::Bool(b)),
                    None => Action::Keep,
                }
            }
            OpKind::Select if n == 3 => match self.consts.get(&op.operands[0]) {
                Some(Constant::Bool(true)) => Action::Forward(vec![op.operands[1]]),
                Some(Constant::Bool(false)) => Action::Forward(vec![op.operands[2]]),
                _ => Action::Keep,
            },
            OpKind::Cast if n == 1 => self.cast(op),
            OpKind::If if n == 1 && op.regions.len() == 2 => {
                let taken = match self.consts.get(&op.operands[0]) {
                    Some(Constant::Bool(true)) => 0,
                    Some(Constant::Bool(false)) => 1,
                    _ => return Action::Keep,
                };
                let mut ops = std::mem::take(&mut op.regions[taken].ops);
                match ops.pop() {
                    Some(y) if y.kind == OpKind::Yield && y.operands.len() == op.results.len() => {
                        Action::Inline(ops, y.operands)
                    }
                    other => {
                        // Not well formed: leave the op as it was.
                        ops.extend(other);
                        op.regions[taken].ops = ops;
                        Action::Keep
                    }
                }
            }
            OpKind::For if n >= 3 && op.results.len() == n - 3 => {
                let Some(s) = self.elem(op.operands[0]) else {
                    return Action::Keep;
                };
                let bounds = (self.val(op.operands[0], s), self.val(op.operands[1], s), self.val(op.operands[2], s));
                match bounds {
                    (Some(Val::Int(lo)), Some(Val::Int(hi)), Some(Val::Int(step)))
                        if (step > 0 && lo >= hi) || (step < 0 && lo <= hi) =>
                    {
                        Action::Forward(op.operands[3..].to_vec())
                    }
                    _ => Action::Keep,
                }
            }
            _ => Action::Keep,
        }
    }

    fn identity(&self, b: BinaryOp, x: ValueId, y: ValueId, s: ScalarType) -> Action {
        let is = |v: ValueId, want: &dyn Fn(Val) -> bool| self.val(v, s).is_some_and(want);
        let zero = |v: Val| matches!(v, Val::Int(0) | Val::Bool(false));
        let one = |v: Val| matches!(v, Val::Int(1)) || v == Val::Float(1.0);
        let all_ones = |v: Val| matches!(v, Val::Int(-1) | Val::Bool(true));
        let neg_zero = |v: Val| matches!(v, Val::Float(f) if f == 0.0 && f.is_sign_negative());
        let pos_zero = |v: Val| matches!(v, Val::Float(f) if f == 0.0 && f.is_sign_positive());
        let int = s.is_int() && !s.is_bool();
        let zero_const = || Action::Fold(Constant::Int(0));
        let fwd = |v: ValueId| Action::Forward(vec![v]);
        match b {
            BinaryOp::Add if int && is(y, &zero) => fwd(x),
            BinaryOp::Add if int && is(x, &zero) => fwd(y),
            BinaryOp::Add if is(y, &neg_zero) => fwd(x),
            BinaryOp::Add if is(x, &neg_zero) => fwd(y),
            BinaryOp::Sub if int && is(y, &zero) => fwd(x),
            BinaryOp::Sub if is(y, &pos_zero) => fwd(x),
            BinaryOp::Sub if int && x == y => zero_const(),
            BinaryOp::Mul if is(y, &one) => fwd(x),
            BinaryOp::Mul if is(x, &one) => fwd(y),
            BinaryOp::Mul if int && (is(x, &zero) || is(y, &zero)) => zero_const(),
            BinaryOp::Div if is(y, &one) => fwd(x),
            BinaryOp::Or | BinaryOp::Xor if is(y, &zero) => fwd(x),
            BinaryOp::Or | BinaryOp::Xor if is(x, &zero) => fwd(y),
            BinaryOp::Xor if int && x == y => zero_const(),
            BinaryOp::Xor if s.is_bool() && x == y => Action::Fold(Constant::Bool(false)),
            BinaryOp::And if is(y, &all_ones) => fwd(x),
            BinaryOp::And if is(x, &all_ones) => fwd(y),
            BinaryOp::And if int && (is(x, &zero) || is(y, &zero)) => zero_const(),
            BinaryOp::And | BinaryOp::Or | BinaryOp::Min | BinaryOp::Max if x == y => fwd(x),
            BinaryOp::Shl | BinaryOp::Shr if int && is(y, &zero) => fwd(x),
            _ => Action::Keep,
        }
    }

    fn cast(&mut self, op: &mut Op) -> Action {
        let (src, Some(&res)) = (op.operands[0], op.results.first()) else {
            return Action::Keep;
        };
        let (Some(from_ty), Some(to_ty)) = (self.ty(src), self.ty(res)) else {
            return Action::Keep;
        };
        if from_ty == to_ty {
            return Action::Forward(vec![src]);
        }
        let (Some(b), Some(c)) = (from_ty.scalar_elem(), to_ty.scalar_elem()) else {
            return Action::Keep;
        };
        if let Some(v) = self.val(src, b).and_then(|v| eval_cast(v, c)) {
            return Action::Fold(constant_of(v));
        }
        let Some(&inner) = self.casts.get(&src) else {
            return Action::Keep;
        };
        let Some(a) = self.elem(inner) else { return Action::Keep };
        if !cast_is_widening(a, b) {
            return Action::Keep;
        }
        if a == c {
            return Action::Forward(vec![inner]);
        }
        if a != ScalarType::I1 && cast_is_widening(b, c) {
            op.operands[0] = inner;
            self.changed = true;
        }
        Action::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_folding_wraps_to_the_width() {
        assert_eq!(eval_binary(BinaryOp::Add, Val::Int(127), Val::Int(1), ScalarType::I8), Some(Val::Int(-128)));
        assert_eq!(eval_binary(BinaryOp::Shl, Val::Int(1), Val::Int(33), ScalarType::I32), Some(Val::Int(2)));
        assert_eq!(eval_binary(BinaryOp::Shr, Val::Int(-8), Val::Int(1), ScalarType::I32), Some(Val::Int(-4)));
        assert_eq!(eval_binary(BinaryOp::Div, Val::Int(-7), Val::Int(2), ScalarType::I32), Some(Val::Int(-3)));
        assert_eq!(eval_binary(BinaryOp::Rem, Val::Int(-7), Val::Int(2), ScalarType::I32), Some(Val::Int(-1)));
        assert_eq!(eval_binary(BinaryOp::Div, Val::Int(1), Val::Int(0), ScalarType::I32), None);
        assert_eq!(val_of(Constant::Int(255), ScalarType::I8), Some(Val::Int(-1)));
        assert_eq!(eval_unary(UnaryOp::Abs, Val::Int(-128), ScalarType::I8), Some(Val::Int(-128)));
    }

    #[test]
    fn float_folding_rounds_or_declines() {
        assert_eq!(
            eval_binary(BinaryOp::Add, Val::Float(0.1), Val::Float(0.2), ScalarType::F32),
            round(0.1 + 0.2, ScalarType::F32)
        );
        assert_eq!(eval_binary(BinaryOp::Add, Val::Float(1.0), Val::Float(2.0), ScalarType::F16), None);
        assert_eq!(eval_binary(BinaryOp::Max, Val::Float(f64::NAN), Val::Float(2.0), ScalarType::F32), None);
        assert_eq!(eval_unary(UnaryOp::Exp, Val::Float(1.0), ScalarType::F32), None);
        assert_eq!(eval_cmp(CmpPred::Ne, Val::Float(f64::NAN), Val::Float(f64::NAN)), Some(true));
        assert_eq!(eval_cmp(CmpPred::Eq, Val::Float(f64::NAN), Val::Float(f64::NAN)), Some(false));
    }

    #[test]
    fn casts_follow_the_contract() {
        assert_eq!(eval_cast(Val::Float(-3.7), ScalarType::I32), Some(Val::Int(-3)));
        assert_eq!(eval_cast(Val::Float(1e20), ScalarType::I32), Some(Val::Int(i32::MAX as i64)));
        assert_eq!(eval_cast(Val::Float(f64::NAN), ScalarType::I8), Some(Val::Int(0)));
        assert_eq!(eval_cast(Val::Int(300), ScalarType::I8), Some(Val::Int(44)));
        assert_eq!(eval_cast(Val::Float(0.5), ScalarType::I1), Some(Val::Bool(true)));
        assert_eq!(eval_cast(Val::Bool(true), ScalarType::I32), None);
        assert_eq!(eval_cast(Val::Int(16777217), ScalarType::F32), Some(Val::Float(16777216.0)));
    }
}
