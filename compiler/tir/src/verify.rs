//! The IR verifier: checks the invariants of [`crate`] and every op contract
//! of [`crate::ops`].
//!
//! Run after the front end builds a kernel and after every pass (the
//! [`PassManager`](crate::passes::PassManager) does this), so a bug is caught
//! at the stage that introduced it rather than as a wrong answer later.
//! Each problem is a [`VerifyError`] with a stable code (E0520–E0539, see
//! [`crate::codes`]); the verifier reports every structural problem it finds
//! and at most one contract violation per op, so one bad op does not bury
//! the others.

use crate::codes;
use crate::kernel::{Kernel, Loc, Op, Region, ValueId};
use crate::ops::{BinaryOp, Constant, OpKind, Padding, ReduceKind, UnaryOp};
use crate::printer::Numbering;
use crate::types::{ElemType, ScalarType, Type};
use std::collections::HashSet;
use std::fmt;

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// One of the E0520–E0539 codes of [`crate::codes`].
    pub code: &'static str,
    /// Names the op by mnemonic and printed result (`` `add` (%7): ...``).
    pub message: String,
    /// The offending op's source location ([`Loc::UNKNOWN`] for kernel-level problems).
    pub loc: Loc,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[{}]: {}", self.code, self.message)?;
        if self.loc.is_known() {
            write!(f, " at {}:{}", self.loc.line, self.loc.col)?;
        }
        Ok(())
    }
}

/// Check `k`; every problem found, in body order, on failure.
pub fn verify(k: &Kernel) -> Result<(), Vec<VerifyError>> {
    let mut v =
        Verifier { k, names: Numbering::of(k), errors: Vec::new(), defined: HashSet::new(), scopes: Vec::new() };
    v.kernel();
    if v.errors.is_empty() { Ok(()) } else { Err(v.errors) }
}

/// Which terminator ends a region.
#[derive(Clone, Copy, PartialEq)]
enum Term {
    Return,
    Yield,
    Condition,
}

impl Term {
    fn name(self) -> &'static str {
        match self {
            Term::Return => "return",
            Term::Yield => "yield",
            Term::Condition => "condition",
        }
    }
    fn matches(self, kind: &OpKind) -> bool {
        matches!(
            (self, kind),
            (Term::Return, OpKind::Return) | (Term::Yield, OpKind::Yield) | (Term::Condition, OpKind::Condition)
        )
    }
}

type Check = Result<(), (&'static str, String)>;

fn fail<T>(code: &'static str, message: impl Into<String>) -> Result<T, (&'static str, String)> {
    Err((code, message.into()))
}

struct Verifier<'k> {
    k: &'k Kernel,
    names: Numbering,
    errors: Vec<VerifyError>,
    defined: HashSet<ValueId>,
    /// Values visible at the current point, innermost region last.
    scopes: Vec<HashSet<ValueId>>,
}

impl Verifier<'_> {
    fn describe(&self, op: &Op) -> String {
        match op.results.first() {
            Some(&r) => format!("`{}` ({})", op.kind.mnemonic(), self.names.name(r)),
            None => format!("`{}`", op.kind.mnemonic()),
        }
    }

    fn report(&mut self, code: &'static str, message: String, loc: Loc) {
        self.errors.push(VerifyError { code, message, loc });
    }

    fn in_range(&self, v: ValueId) -> bool {
        (v.0 as usize) < self.k.values.len()
    }

    /// Record a definition; `what` describes the defining op or region.
    fn define(&mut self, v: ValueId, what: &str, loc: Loc) {
        if !self.in_range(v) {
            let msg = format!("{what}: value {} has no type (the kernel has {} values)", v, self.k.values.len());
            self.report(codes::VALUE_OUT_OF_RANGE, msg, loc);
            return;
        }
        if !self.defined.insert(v) {
            let msg = format!("{what}: {} is defined more than once", self.names.name(v));
            self.report(codes::MULTIPLE_DEFINITION, msg, loc);
        }
        if let Err(why) = check_type(&self.k.values[v.0 as usize]) {
            let msg = format!("{what}: {} has an invalid type: {why}", self.names.name(v));
            self.report(codes::INVALID_TYPE, msg, loc);
        }
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(v);
        }
    }

    fn kernel(&mut self) {
        let k = self.k;
        let param_values: Vec<ValueId> = k.params.iter().map(|p| p.value).collect();
        if param_values != k.body.args {
            let msg = format!(
                "kernel `{}`: body arguments {:?} are not the parameters' values {:?}",
                k.name, k.body.args, param_values
            );
            self.report(codes::BODY_ARGS_MISMATCH, msg, Loc::UNKNOWN);
        }
        self.region(&k.body, Term::Return, &format!("kernel `{}`", k.name));
    }

    fn region(&mut self, region: &Region, term: Term, owner: &str) {
        self.scopes.push(HashSet::new());
        for &a in &region.args {
            self.define(a, &format!("argument of a region of {owner}"), Loc::UNKNOWN);
        }
        let last = region.ops.len().checked_sub(1);
        for (i, op) in region.ops.iter().enumerate() {
            self.op(op);
            if op.kind.is_terminator() && Some(i) != last {
                let msg = format!("{} is a terminator but is followed by other ops", self.describe(op));
                self.report(codes::TERMINATOR_NOT_LAST, msg, op.loc);
            }
        }
        match region.ops.last() {
            Some(op) if op.kind.is_terminator() && !term.matches(&op.kind) => {
                let msg = format!("{}: a region of {owner} must end in `{}`", self.describe(op), term.name());
                self.report(codes::WRONG_TERMINATOR, msg, op.loc);
            }
            Some(op) if op.kind.is_terminator() => {}
            last => {
                let loc = last.map_or(Loc::UNKNOWN, |op| op.loc);
                let msg = format!("a region of {owner} does not end in `{}`", term.name());
                self.report(codes::MISSING_TERMINATOR, msg, loc);
            }
        }
        self.scopes.pop();
    }

    fn op(&mut self, op: &Op) {
        let what = self.describe(op);
        let mut typed = true;
        for &v in &op.operands {
            if !self.in_range(v) {
                typed = false;
                let msg = format!("{what}: operand {v} has no type (the kernel has {} values)", self.k.values.len());
                self.report(codes::VALUE_OUT_OF_RANGE, msg, op.loc);
            } else if !self.scopes.iter().any(|s| s.contains(&v)) {
                let msg = format!(
                    "{what}: operand {} is not defined before this op in an enclosing region",
                    self.names.name(v)
                );
                self.report(codes::USE_NOT_DOMINATED, msg, op.loc);
            }
        }
        let terms: &[Term] = match op.kind {
            OpKind::For => &[Term::Yield],
            OpKind::If => &[Term::Yield, Term::Yield],
            OpKind::While => &[Term::Condition, Term::Yield],
            _ => &[],
        };
        for (i, region) in op.regions.iter().enumerate() {
            self.region(region, terms.get(i).copied().unwrap_or(Term::Yield), &what);
        }
        for &r in &op.results {
            typed &= self.in_range(r);
            self.define(r, &what, op.loc);
        }
        if typed && op.regions.iter().all(|r| r.args.iter().all(|&a| self.in_range(a))) {
            let region_yields =
                op.regions.iter().all(|r| r.ops.last().is_none_or(|t| t.operands.iter().all(|&v| self.in_range(v))));
            if region_yields && let Err((code, msg)) = self.contract(op) {
                self.report(code, format!("{what}: {msg}"), op.loc);
            }
        }
    }

    fn ty(&self, v: ValueId) -> &Type {
        &self.k.values[v.0 as usize]
    }

    fn tys(&self, vs: &[ValueId]) -> Vec<Type> {
        vs.iter().map(|&v| self.ty(v).clone()).collect()
    }

    /// The op's contract from [`crate::ops`]; all ids are in range here.
    fn contract(&self, op: &Op) -> Check {
        let n = op.operands.len();
        let (want_results, want_regions) = match &op.kind {
            OpKind::Store { .. }
            | OpKind::StoreBlock { .. }
            | OpKind::Fence
            | OpKind::Yield
            | OpKind::Condition
            | OpKind::Return => (Some(0), 0),
            OpKind::For => (None, 1),
            OpKind::If | OpKind::While => (None, 2),
            _ => (Some(1), 0),
        };
        if let Some(want) = want_results
            && op.results.len() != want
        {
            return fail(codes::RESULT_COUNT, format!("expected {want} result(s), found {}", op.results.len()));
        }
        if op.regions.len() != want_regions {
            return fail(codes::REGION_SHAPE, format!("expected {want_regions} region(s), found {}", op.regions.len()));
        }
        let operand = |i: usize| self.ty(op.operands[i]);
        let result = || self.ty(op.results[0]);
        let count = |want: usize| -> Check {
            if n == want {
                Ok(())
            } else {
                fail(codes::OPERAND_COUNT, format!("expected {want} operand(s), found {n}"))
            }
        };
        let result_is = |want: &Type| -> Check {
            if result() == want {
                Ok(())
            } else {
                fail(codes::RESULT_TYPE, format!("result type is {}, expected {want}", result()))
            }
        };
        match &op.kind {
            OpKind::Constant(c) => {
                count(0)?;
                let Some(s) = result().scalar_elem() else {
                    return fail(codes::RESULT_TYPE, format!("result type {} is not numeric", result()));
                };
                constant_fits(c, s).map_err(|m| (codes::CONSTANT_TYPE, m))
            }
            OpKind::ProgramId(axis) | OpKind::NumPrograms(axis) => {
                count(0)?;
                if *axis > 2 {
                    return fail(codes::ATTRIBUTE_RANGE, format!("axis {axis} is not 0, 1 or 2"));
                }
                result_is(&Type::scalar(ScalarType::I32))
            }
            OpKind::Arange { start, end } => {
                count(0)?;
                let len = end.checked_sub(*start).and_then(|l| u32::try_from(l).ok()).filter(|&l| l > 0);
                let Some(len) = len else {
                    return fail(codes::ATTRIBUTE_RANGE, format!("empty or oversized range {start}..{end}"));
                };
                result_is(&Type::tensor(ScalarType::I32, vec![len]))
            }
            OpKind::Splat => {
                count(1)?;
                let src = tensor(operand(0))?;
                if !src.1.is_empty() {
                    return fail(codes::SHAPE_MISMATCH, format!("operand {} is not a scalar", operand(0)));
                }
                result_is(&Type::Tensor { elem: src.0, shape: result().shape().to_vec() })
            }
            OpKind::Broadcast => {
                count(1)?;
                let (elem, from) = tensor(operand(0))?;
                let (_, to) = tensor(result())?;
                let ok = from.len() == to.len() && from.iter().zip(to).all(|(&f, &t)| f == t || f == 1);
                if !ok {
                    return fail(codes::SHAPE_MISMATCH, format!("cannot broadcast {} to {}", operand(0), result()));
                }
                result_is(&Type::Tensor { elem, shape: to.to_vec() })
            }
            OpKind::ExpandDims(axis) => {
                count(1)?;
                let (elem, shape) = tensor(operand(0))?;
                let axis = *axis as usize;
                if axis > shape.len() {
                    return fail(codes::ATTRIBUTE_RANGE, format!("axis {axis} out of range for {}", operand(0)));
                }
                let mut out = shape.to_vec();
                out.insert(axis, 1);
                result_is(&Type::Tensor { elem, shape: out })
            }
            OpKind::Reshape => {
                count(1)?;
                let (elem, _) = tensor(operand(0))?;
                tensor(result())?;
                if operand(0).num_elements() != result().num_elements() {
                    let msg = format!("cannot reshape {} to {}: element counts differ", operand(0), result());
                    return fail(codes::SHAPE_MISMATCH, msg);
                }
                result_is(&Type::Tensor { elem, shape: result().shape().to_vec() })
            }
            OpKind::Permute(perm) => {
                count(1)?;
                let (elem, shape) = tensor(operand(0))?;
                if !is_permutation(perm, shape.len()) {
                    return fail(
                        codes::ATTRIBUTE_RANGE,
                        format!("{perm:?} is not a permutation of {} axes", shape.len()),
                    );
                }
                let out = perm.iter().map(|&p| shape[p as usize]).collect();
                result_is(&Type::Tensor { elem, shape: out })
            }
            OpKind::Unary(u) => {
                count(1)?;
                let s = numeric(operand(0))?;
                if u.float_only() && !s.is_float() {
                    return fail(
                        codes::OPERAND_TYPE,
                        format!("`{}` needs a float operand, found {}", u.name(), operand(0)),
                    );
                }
                if *u == UnaryOp::Not && s.is_float() {
                    return fail(
                        codes::OPERAND_TYPE,
                        format!("`not` needs an integer or i1 operand, found {}", operand(0)),
                    );
                }
                result_is(operand(0))
            }
            OpKind::Binary(b) => {
                count(2)?;
                let s = same_type(operand(0), operand(1))?;
                numeric(operand(0))?;
                if b.int_only() && s.is_float() {
                    return fail(
                        codes::OPERAND_TYPE,
                        format!("`{}` needs integer operands, found {}", b.name(), operand(0)),
                    );
                }
                if matches!(b, BinaryOp::Shl | BinaryOp::Shr) && s.is_bool() {
                    return fail(codes::OPERAND_TYPE, format!("`{}` does not take i1 operands", b.name()));
                }
                result_is(operand(0))
            }
            OpKind::Compare(_) => {
                count(2)?;
                same_type(operand(0), operand(1))?;
                result_is(&Type::tensor(ScalarType::I1, operand(0).shape().to_vec()))
            }
            OpKind::Select => {
                count(3)?;
                same_type(operand(1), operand(2))?;
                if *operand(0) != Type::tensor(ScalarType::I1, operand(1).shape().to_vec()) {
                    let msg = format!("condition {} is not i1 of the operands' shape {}", operand(0), operand(1));
                    return fail(codes::SHAPE_MISMATCH, msg);
                }
                result_is(operand(1))
            }
            OpKind::Cast => {
                count(1)?;
                numeric(operand(0))?;
                let Some(to) = result().scalar_elem() else {
                    return fail(codes::RESULT_TYPE, format!("result type {} is not numeric", result()));
                };
                result_is(&Type::tensor(to, operand(0).shape().to_vec()))
            }
            OpKind::AddPtr => {
                count(2)?;
                let (elem, shape) = tensor(operand(0))?;
                if elem.pointee().is_none() {
                    return fail(codes::OPERAND_TYPE, format!("first operand {} is not a pointer", operand(0)));
                }
                if !operand(1).scalar_elem().is_some_and(|s| s.is_int() && !s.is_bool()) {
                    return fail(codes::OPERAND_TYPE, format!("offset {} is not an integer", operand(1)));
                }
                if operand(1).shape() != shape {
                    return fail(codes::SHAPE_MISMATCH, format!("offset {} does not match {}", operand(1), operand(0)));
                }
                result_is(operand(0))
            }
            OpKind::Load { masked, has_other } => {
                if *has_other && !masked {
                    return fail(codes::MEMORY_OPERAND, "an `other` value needs a mask");
                }
                count(1 + usize::from(*masked) + usize::from(*has_other))?;
                let value = self.pointee_tensor(operand(0))?;
                if *masked {
                    mask_fits(operand(1), operand(0))?;
                }
                if *has_other && *operand(2) != value {
                    return fail(codes::MEMORY_OPERAND, format!("`other` is {}, expected {value}", operand(2)));
                }
                result_is(&value)
            }
            OpKind::Store { masked } | OpKind::AtomicAdd { masked } => {
                count(2 + usize::from(*masked))?;
                let value = self.pointee_tensor(operand(0))?;
                if *operand(1) != value {
                    return fail(codes::MEMORY_OPERAND, format!("stored value is {}, expected {value}", operand(1)));
                }
                if *masked {
                    mask_fits(operand(2), operand(0))?;
                }
                if matches!(op.kind, OpKind::AtomicAdd { .. }) { result_is(&value) } else { Ok(()) }
            }
            OpKind::MakeBlockPtr { order } => {
                let Type::BlockPtr { elem, block } = result() else {
                    return fail(codes::RESULT_TYPE, format!("result type {} is not a block pointer", result()));
                };
                let rank = block.len();
                count(1 + 3 * rank)?;
                if *operand(0) != Type::ptr(*elem, vec![]) {
                    let msg = format!("base {} is not a scalar ptr<{elem}>", operand(0));
                    return fail(codes::MEMORY_OPERAND, msg);
                }
                for (i, &v) in op.operands.iter().enumerate().skip(1) {
                    let (what, want) = match (i - 1) / rank {
                        0 => ("shape", ScalarType::I64),
                        1 => ("stride", ScalarType::I64),
                        _ => ("offset", ScalarType::I32),
                    };
                    if *self.ty(v) != Type::scalar(want) {
                        let msg = format!("{what} operand {} is {}, expected {want}", self.names.name(v), self.ty(v));
                        return fail(codes::OPERAND_TYPE, msg);
                    }
                }
                if !is_permutation(order, rank) {
                    return fail(
                        codes::ATTRIBUTE_RANGE,
                        format!("order {order:?} is not a permutation of {rank} axes"),
                    );
                }
                Ok(())
            }
            OpKind::Advance => {
                let rank = block_ptr(operand(0))?.1.len();
                count(1 + rank)?;
                for &v in &op.operands[1..] {
                    if *self.ty(v) != Type::scalar(ScalarType::I32) {
                        let msg = format!("offset {} is {}, expected i32", self.names.name(v), self.ty(v));
                        return fail(codes::OPERAND_TYPE, msg);
                    }
                }
                result_is(operand(0))
            }
            OpKind::LoadBlock { boundary_check, padding, .. } => {
                count(1)?;
                let (elem, block) = block_ptr(operand(0))?;
                check_axes(boundary_check, block.len())?;
                if *padding == Padding::Nan && !elem.is_float() {
                    return fail(codes::ATTRIBUTE_RANGE, format!("nan padding needs a float element, found {elem}"));
                }
                result_is(&Type::tensor(elem, block.to_vec()))
            }
            OpKind::StoreBlock { boundary_check } => {
                count(2)?;
                let (elem, block) = block_ptr(operand(0))?;
                check_axes(boundary_check, block.len())?;
                let want = Type::tensor(elem, block.to_vec());
                if *operand(1) != want {
                    return fail(codes::MEMORY_OPERAND, format!("stored value is {}, expected {want}", operand(1)));
                }
                Ok(())
            }
            OpKind::Dot { .. } => {
                count(3)?;
                let (a, b, acc) = (operand(0), operand(1), operand(2));
                let (sa, sb, sc) = (a.shape(), b.shape(), acc.shape());
                let ok = sa.len() == 2 && sb.len() == 2 && sc.len() == 2;
                if !ok || sa[1] != sb[0] || sc[0] != sa[0] || sc[1] != sb[1] {
                    return fail(codes::SHAPE_MISMATCH, format!("cannot compute {acc} + {a} @ {b}"));
                }
                let ea = numeric(a)?;
                if b.scalar_elem() != Some(ea) {
                    return fail(codes::DOT_TYPES, format!("operands {a} and {b} differ in element type"));
                }
                let want_acc = match ea {
                    s if s.is_float() => ScalarType::F32,
                    ScalarType::I8 => ScalarType::I32,
                    s => return fail(codes::DOT_TYPES, format!("`dot` does not take {s} operands")),
                };
                if acc.scalar_elem() != Some(want_acc) {
                    return fail(codes::DOT_TYPES, format!("accumulator {acc} must have element type {want_acc}"));
                }
                result_is(acc)
            }
            OpKind::Reduce { kind, axis } => {
                count(1)?;
                let s = numeric(operand(0))?;
                let shape = operand(0).shape();
                if *axis as usize >= shape.len() {
                    return fail(codes::ATTRIBUTE_RANGE, format!("axis {axis} out of range for {}", operand(0)));
                }
                let mut out = shape.to_vec();
                out.remove(*axis as usize);
                let elem = if matches!(kind, ReduceKind::Argmax | ReduceKind::Argmin) { ScalarType::I32 } else { s };
                result_is(&Type::tensor(elem, out))
            }
            OpKind::Scan { axis, .. } => {
                count(1)?;
                numeric(operand(0))?;
                if *axis as usize >= operand(0).shape().len() {
                    return fail(codes::ATTRIBUTE_RANGE, format!("axis {axis} out of range for {}", operand(0)));
                }
                result_is(operand(0))
            }
            OpKind::For => {
                if n < 3 {
                    return fail(codes::OPERAND_COUNT, format!("expected lower, upper and step operands, found {n}"));
                }
                let bound = operand(0);
                if !bound.is_scalar() || !bound.scalar_elem().is_some_and(|s| s.is_int() && !s.is_bool()) {
                    return fail(codes::CONTROL_OPERAND, format!("lower bound {bound} is not an integer scalar"));
                }
                if operand(1) != bound || operand(2) != bound {
                    let msg = format!("bounds {}, {} and {} differ in type", bound, operand(1), operand(2));
                    return fail(codes::CONTROL_OPERAND, msg);
                }
                let inits = self.tys(&op.operands[3..]);
                let mut args = vec![bound.clone()];
                args.extend(inits.iter().cloned());
                self.region_signature(&op.regions[0], &args, &inits, "body")?;
                self.results_are(op, &inits)
            }
            OpKind::If => {
                count(1)?;
                if *operand(0) != Type::scalar(ScalarType::I1) {
                    return fail(codes::CONTROL_OPERAND, format!("condition {} is not an i1 scalar", operand(0)));
                }
                let results = self.tys(&op.results);
                self.region_signature(&op.regions[0], &[], &results, "then region")?;
                self.region_signature(&op.regions[1], &[], &results, "else region")
            }
            OpKind::While => {
                let inits = self.tys(&op.operands);
                self.region_signature(&op.regions[0], &inits, &[], "before region")?;
                self.region_signature(&op.regions[1], &inits, &inits, "body")?;
                self.results_are(op, &inits)
            }
            OpKind::Condition => {
                count(1)?;
                if *operand(0) != Type::scalar(ScalarType::I1) {
                    return fail(codes::CONTROL_OPERAND, format!("condition {} is not an i1 scalar", operand(0)));
                }
                Ok(())
            }
            OpKind::Yield => Ok(()),
            OpKind::Return | OpKind::Fence => count(0),
        }
    }

    /// A region's argument types are `args`, and if it ends in `yield`, the
    /// yielded types are `yields`.
    fn region_signature(&self, region: &Region, args: &[Type], yields: &[Type], what: &str) -> Check {
        let have = self.tys(&region.args);
        if have.len() != args.len() {
            let msg = format!("{what} has {} argument(s), expected {}", have.len(), args.len());
            return fail(codes::REGION_SHAPE, msg);
        }
        if have != args {
            return fail(
                codes::REGION_SIGNATURE,
                format!("{what} arguments are {}, expected {}", list(&have), list(args)),
            );
        }
        if let Some(last) = region.ops.last()
            && last.kind == OpKind::Yield
        {
            let got = self.tys(&last.operands);
            if got != yields {
                let msg = format!("{what} yields {}, expected {}", list(&got), list(yields));
                return fail(codes::REGION_SIGNATURE, msg);
            }
        }
        Ok(())
    }

    fn results_are(&self, op: &Op, want: &[Type]) -> Check {
        let have = self.tys(&op.results);
        if have.len() != want.len() {
            return fail(codes::RESULT_COUNT, format!("expected {} result(s), found {}", want.len(), have.len()));
        }
        if have != want {
            return fail(codes::REGION_SIGNATURE, format!("results are {}, expected {}", list(&have), list(want)));
        }
        Ok(())
    }

    /// The value type a load through `ptrs` produces.
    fn pointee_tensor(&self, ptrs: &Type) -> Result<Type, (&'static str, String)> {
        match ptrs {
            Type::Tensor { elem: ElemType::Ptr(p), shape } => Ok(Type::tensor(*p, shape.clone())),
            _ => fail(codes::MEMORY_OPERAND, format!("pointer operand {ptrs} is not a pointer tensor")),
        }
    }
}

fn list(tys: &[Type]) -> String {
    let items: Vec<String> = tys.iter().map(Type::to_string).collect();
    format!("({})", items.join(", "))
}

fn check_type(ty: &Type) -> Result<(), String> {
    if ty.shape().contains(&0) {
        return Err("a dimension is 0".to_string());
    }
    if let Type::BlockPtr { block, .. } = ty
        && block.is_empty()
    {
        return Err("a block pointer needs at least one dimension".to_string());
    }
    Ok(())
}

fn tensor(ty: &Type) -> Result<(ElemType, &[u32]), (&'static str, String)> {
    match ty {
        Type::Tensor { elem, shape } => Ok((*elem, shape)),
        Type::BlockPtr { .. } => fail(codes::OPERAND_TYPE, format!("expected a tensor or scalar, found {ty}")),
    }
}

fn numeric(ty: &Type) -> Result<ScalarType, (&'static str, String)> {
    match ty.scalar_elem() {
        Some(s) => Ok(s),
        None => fail(codes::OPERAND_TYPE, format!("expected a numeric operand, found {ty}")),
    }
}

fn block_ptr(ty: &Type) -> Result<(ScalarType, &[u32]), (&'static str, String)> {
    match ty {
        Type::BlockPtr { elem, block } => Ok((*elem, block)),
        Type::Tensor { .. } => fail(codes::MEMORY_OPERAND, format!("expected a block pointer, found {ty}")),
    }
}

/// Elementwise operands: one type. Returns the element type.
fn same_type(a: &Type, b: &Type) -> Result<ScalarType, (&'static str, String)> {
    let (ea, sa) = tensor(a)?;
    let (eb, sb) = tensor(b)?;
    if sa != sb {
        return fail(codes::SHAPE_MISMATCH, format!("operand shapes differ: {a} vs {b}"));
    }
    if ea != eb {
        return fail(codes::OPERAND_TYPE, format!("operand types differ: {a} vs {b}"));
    }
    // Pointers compare and select like integers.
    Ok(ea.scalar().unwrap_or(ScalarType::I64))
}

fn mask_fits(mask: &Type, ptrs: &Type) -> Check {
    let want = Type::tensor(ScalarType::I1, ptrs.shape().to_vec());
    if *mask != want {
        return fail(codes::MEMORY_OPERAND, format!("mask is {mask}, expected {want}"));
    }
    Ok(())
}

fn is_permutation(perm: &[u32], rank: usize) -> bool {
    let mut seen = vec![false; rank];
    perm.len() == rank
        && perm.iter().all(|&p| match seen.get_mut(p as usize) {
            Some(s) if !*s => {
                *s = true;
                true
            }
            _ => false,
        })
}

fn check_axes(axes: &[u32], rank: usize) -> Check {
    let mut seen = HashSet::new();
    for &a in axes {
        if a as usize >= rank || !seen.insert(a) {
            return fail(codes::ATTRIBUTE_RANGE, format!("boundary_check {axes:?} is not a set of axes below {rank}"));
        }
    }
    Ok(())
}

/// Whether a literal can be an element of type `s`. Integers may be given in
/// the signed or unsigned range of the width (`255` and `-1` are both i8).
fn constant_fits(c: &Constant, s: ScalarType) -> Result<(), String> {
    let ok = match *c {
        Constant::Bool(_) => s.is_bool(),
        Constant::Float(_) => s.is_float(),
        Constant::Int(v) => {
            let bits = s.bits();
            s.is_int() && !s.is_bool() && (bits >= 64 || (v >= -(1i64 << (bits - 1)) && v < (1i64 << bits)))
        }
    };
    if ok { Ok(()) } else { Err(format!("literal {} is not a value of {s}", crate::printer::constant_text(c))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_fit_their_types() {
        assert!(constant_fits(&Constant::Bool(true), ScalarType::I1).is_ok());
        assert!(constant_fits(&Constant::Int(1), ScalarType::I1).is_err());
        assert!(constant_fits(&Constant::Float(1.0), ScalarType::F16).is_ok());
        assert!(constant_fits(&Constant::Float(1.0), ScalarType::I32).is_err());
        assert!(constant_fits(&Constant::Bool(true), ScalarType::F32).is_err());
        assert!(constant_fits(&Constant::Int(255), ScalarType::I8).is_ok());
        assert!(constant_fits(&Constant::Int(-128), ScalarType::I8).is_ok());
        assert_eq!(
            constant_fits(&Constant::Int(256), ScalarType::I8),
            Err("literal 256 is not a value of i8".to_string())
        );
        assert!(constant_fits(&Constant::Int(i64::MIN), ScalarType::I64).is_ok());
        assert!(constant_fits(&Constant::Int(1), ScalarType::F32).is_err());
    }

    #[test]
    fn permutations() {
        assert!(is_permutation(&[1, 0], 2));
        assert!(!is_permutation(&[1, 1], 2));
        assert!(!is_permutation(&[0, 2], 2));
        assert!(!is_permutation(&[0], 2));
        assert!(is_permutation(&[], 0));
    }
}
