//! The executor: runs one program's ops, region by region.
//!
//! Values live in a slot table indexed by [`ValueId`] (SSA: each slot is
//! written once per execution of its defining op; loop bodies overwrite
//! their slots each trip). Slots hold `Rc`s so passing loop-carried values
//! and region arguments copies no tensor data.

use crate::arith;
use crate::buffer::HostBuffer;
use crate::codes;
use crate::dot;
use crate::elem::{Elem, Scalar};
use crate::error::{Fault, InterpError};
use crate::interleave::{Scheduler, Stop};
use crate::memory::{self, Memory};
use crate::reduce;
use crate::shape;
use crate::value::{Data, Tensor, Value, fmt_index, numel, with_scalar_type};
use std::rc::Rc;
use tessera_tir::{ElemType, Kernel, Loc, Op, OpKind, Region, ScalarType, Type, ValueId};

/// The terminator a region must end in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Term {
    Yield,
    Condition,
    Return,
}

/// The memory a program reads and writes: the launch's buffers, its own
/// while it runs (programs one after another), or shared with the programs
/// it is interleaved with (`program` is its index in grid order).
pub(crate) enum Buffers<'a> {
    Own(&'a mut [HostBuffer]),
    Shared { scheduler: &'a Scheduler, program: usize },
}

pub(crate) struct Machine<'a> {
    kernel: &'a Kernel,
    buffers: Buffers<'a>,
    param_buffers: Vec<Option<usize>>,
    grid: [u32; 3],
    pid: [u32; 3],
    slots: Vec<Option<Rc<Value>>>,
    /// Ops executed so far in this launch (terminators included).
    pub ops: u64,
    max_ops: u64,
}

fn tensor(v: &Value) -> Result<&Tensor, Fault> {
    match v {
        Value::Tensor(t) => Ok(t),
        Value::Block(_) => Err(Fault::malformed("a block pointer where a tensor is expected")),
    }
}

/// An integer scalar's type and value.
fn int_scalar(t: &Tensor) -> Result<(ScalarType, i64), Fault> {
    let ty = t.data.scalar_type().filter(|s| s.is_int() && !s.is_bool() && t.shape.is_empty());
    let values = memory::int_values(t)?;
    match (ty, values.as_slice()) {
        (Some(ty), [v]) => Ok((ty, *v)),
        _ => Err(Fault::malformed("loop bounds must be integer scalars")),
    }
}

fn bool_scalar(t: &Tensor) -> Result<bool, Fault> {
    match (&t.data, t.shape.is_empty()) {
        (Data::I1(v), true) if v.len() == 1 => Ok(v[0]),
        _ => Err(Fault::malformed("a condition must be an i1 scalar")),
    }
}

/// Whether `v` is representable in the integer type `ty`.
fn fits(ty: ScalarType, v: i64) -> bool {
    let bits = ty.bits();
    bits >= 64 || (-(1i64 << (bits - 1))..(1i64 << (bits - 1))).contains(&v)
}

fn int_value(ty: ScalarType, v: i64) -> Value {
    let data = with_scalar_type!(ty, T => T::into_data(vec![T::from_scalar(Scalar::Int(v))]));
    Value::Tensor(Tensor { shape: Vec::new(), data })
}

impl<'a> Machine<'a> {
    pub fn new(
        kernel: &'a Kernel,
        buffers: Buffers<'a>,
        param_buffers: Vec<Option<usize>>,
        grid: [u32; 3],
        max_ops: u64,
    ) -> Machine<'a> {
        Machine {
            kernel,
            buffers,
            param_buffers,
            grid,
            pid: [0; 3],
            slots: vec![None; kernel.values.len()],
            ops: 0,
            max_ops,
        }
    }

    /// Run program `pid` with the parameters' values.
    pub fn run_program(&mut self, pid: [u32; 3], params: &[Rc<Value>]) -> Result<(), InterpError> {
        self.pid = pid;
        if self.ops > self.max_ops {
            return Err(self.op_limit(Loc::UNKNOWN));
        }
        self.slots.iter_mut().for_each(|s| *s = None);
        let kernel = self.kernel;
        self.run_region(&kernel.body, params.to_vec(), Term::Return, Loc::UNKNOWN)?;
        Ok(())
    }

    fn error(&self, loc: Loc, fault: Fault) -> InterpError {
        InterpError {
            code: fault.code,
            message: fault.message,
            loc,
            program: Some(self.pid),
            source: self.kernel.source.clone(),
            site: None,
            help: fault.help,
        }
    }

    fn op_limit(&self, loc: Loc) -> InterpError {
        let fault = Fault::new(
            codes::OP_LIMIT,
            format!("the launch executed more than {} ops; a loop probably never ends", self.max_ops),
        )
        .with_help("check the loop's condition and that its variable advances towards the end");
        self.error(loc, fault)
    }

    fn check_limit(&self, loc: Loc) -> Result<(), InterpError> {
        if self.ops > self.max_ops { Err(self.op_limit(loc)) } else { Ok(()) }
    }

    fn get(&self, id: ValueId) -> Result<Rc<Value>, Fault> {
        self.slots
            .get(id.0 as usize)
            .cloned()
            .flatten()
            .ok_or_else(|| Fault::malformed(format!("{id} is used before it is defined")))
    }

    /// Check `v` against the IR type of `id`, then bind it.
    fn define(&mut self, id: ValueId, v: Rc<Value>) -> Result<(), Fault> {
        let Some(ty) = self.kernel.values.get(id.0 as usize) else {
            return Err(Fault::malformed(format!("{id} has no type")));
        };
        let ok = match (ty, &*v) {
            (Type::Tensor { elem, shape }, Value::Tensor(t)) => {
                t.shape == *shape
                    && t.data.len() == numel(shape)
                    && match elem {
                        ElemType::Scalar(s) => t.data.scalar_type() == Some(*s),
                        ElemType::Ptr(_) => matches!(t.data, Data::Ptr(_)),
                    }
            }
            (Type::BlockPtr { block, .. }, Value::Block(bp)) => bp.block == *block,
            _ => false,
        };
        if !ok {
            let found = match &*v {
                Value::Tensor(t) => format!(
                    "{} of shape {}",
                    t.data.scalar_type().map_or("ptr".to_string(), |s| s.to_string()),
                    fmt_index(&t.shape)
                ),
                Value::Block(bp) => format!("a block pointer of block {}", fmt_index(&bp.block)),
            };
            return Err(Fault::malformed(format!("{id} has type {ty} but its value is {found}")));
        }
        self.slots[id.0 as usize] = Some(v);
        Ok(())
    }

    /// Bind `args`, run the ops, and return the terminator's operands.
    fn run_region(
        &mut self,
        region: &Region,
        args: Vec<Rc<Value>>,
        term: Term,
        owner: Loc,
    ) -> Result<Vec<Rc<Value>>, InterpError> {
        if region.args.len() != args.len() {
            let f = Fault::malformed(format!("a region takes {} arguments, given {}", region.args.len(), args.len()));
            return Err(self.error(owner, f));
        }
        for (&id, v) in region.args.iter().zip(args) {
            self.define(id, v).map_err(|f| self.error(owner, f))?;
        }
        for op in &region.ops {
            self.ops += 1;
            if op.kind.is_terminator() {
                let found = match op.kind {
                    OpKind::Yield => Term::Yield,
                    OpKind::Condition => Term::Condition,
                    _ => Term::Return,
                };
                if found != term {
                    let f = Fault::malformed(format!(
                        "`{}` ends a region that needs another terminator",
                        op.kind.mnemonic()
                    ));
                    return Err(self.error(op.loc, f));
                }
                return op
                    .operands
                    .iter()
                    .map(|&v| self.get(v))
                    .collect::<Result<_, _>>()
                    .map_err(|f| self.error(op.loc, f));
            }
            self.exec(op)?;
        }
        Err(self.error(owner, Fault::malformed("a region ends without a terminator")))
    }

    fn exec(&mut self, op: &Op) -> Result<(), InterpError> {
        let results = match op.kind {
            OpKind::For => self.exec_for(op)?,
            OpKind::If => self.exec_if(op)?,
            OpKind::While => self.exec_while(op)?,
            _ => self.compute(op).map_err(|f| self.error(op.loc, f))?.map(Rc::new).into_iter().collect(),
        };
        if results.len() != op.results.len() {
            let f = Fault::malformed(format!(
                "`{}` produced {} value(s) for {} result(s)",
                op.kind.mnemonic(),
                results.len(),
                op.results.len()
            ));
            return Err(self.error(op.loc, f));
        }
        for (&id, v) in op.results.iter().zip(results) {
            self.define(id, v).map_err(|f| self.error(op.loc, f))?;
        }
        Ok(())
    }

    fn operands(&self, op: &Op) -> Result<Vec<Rc<Value>>, Fault> {
        op.operands.iter().map(|&v| self.get(v)).collect()
    }

    fn region<'r>(&self, op: &'r Op, i: usize) -> Result<&'r Region, InterpError> {
        op.regions
            .get(i)
            .ok_or_else(|| self.error(op.loc, Fault::malformed(format!("`{}` lacks region {i}", op.kind.mnemonic()))))
    }

    /// `for`: runs while `iv < upper` (step > 0) or `iv > upper` (step < 0);
    /// stops early if the next `iv` would not fit the bounds' type.
    fn exec_for(&mut self, op: &Op) -> Result<Vec<Rc<Value>>, InterpError> {
        let fail = |m: &Machine, f: Fault| m.error(op.loc, f);
        let vals = self.operands(op).map_err(|f| fail(self, f))?;
        let [lower, upper, step, inits @ ..] = vals.as_slice() else {
            return Err(fail(self, Fault::malformed("`for` takes lower, upper and step")));
        };
        let bound = |v: &Value| tensor(v).and_then(int_scalar);
        let (ty, lower) = bound(lower).map_err(|f| fail(self, f))?;
        let (_, upper) = bound(upper).map_err(|f| fail(self, f))?;
        let (_, step) = bound(step).map_err(|f| fail(self, f))?;
        if step == 0 {
            let f = Fault::new(codes::ZERO_STEP, "`for` loop with step 0 would never end")
                .with_help("use a positive step to count up or a negative one to count down");
            return Err(fail(self, f));
        }
        let body = self.region(op, 0)?;
        let mut iters = inits.to_vec();
        let mut iv = lower;
        while (step > 0 && iv < upper) || (step < 0 && iv > upper) {
            self.check_limit(op.loc)?;
            let mut args = Vec::with_capacity(1 + iters.len());
            args.push(Rc::new(int_value(ty, iv)));
            args.extend(iters);
            iters = self.run_region(body, args, Term::Yield, op.loc)?;
            match iv.checked_add(step).filter(|&next| fits(ty, next)) {
                Some(next) => iv = next,
                None => break,
            }
        }
        Ok(iters)
    }

    fn exec_if(&mut self, op: &Op) -> Result<Vec<Rc<Value>>, InterpError> {
        let cond = match self.operands(op).map_err(|f| self.error(op.loc, f))?.as_slice() {
            [c] => tensor(c).and_then(bool_scalar).map_err(|f| self.error(op.loc, f))?,
            _ => return Err(self.error(op.loc, Fault::malformed("`if` takes one condition"))),
        };
        let region = self.region(op, if cond { 0 } else { 1 })?;
        self.run_region(region, Vec::new(), Term::Yield, op.loc)
    }

    fn exec_while(&mut self, op: &Op) -> Result<Vec<Rc<Value>>, InterpError> {
        let mut carried = self.operands(op).map_err(|f| self.error(op.loc, f))?;
        let before = self.region(op, 0)?;
        let body = self.region(op, 1)?;
        loop {
            self.check_limit(op.loc)?;
            let cond = match self.run_region(before, carried.clone(), Term::Condition, op.loc)?.as_slice() {
                [c] => tensor(c).and_then(bool_scalar).map_err(|f| self.error(op.loc, f))?,
                _ => return Err(self.error(op.loc, Fault::malformed("`condition` takes one i1 operand"))),
            };
            if !cond {
                return Ok(carried);
            }
            carried = self.run_region(body, carried, Term::Yield, op.loc)?;
        }
    }

    /// The result's IR type.
    fn result_type(&self, op: &Op) -> Result<&'a Type, Fault> {
        let kernel = self.kernel;
        op.results
            .first()
            .and_then(|r| kernel.values.get(r.0 as usize))
            .ok_or_else(|| Fault::malformed(format!("`{}` has no result", op.kind.mnemonic())))
    }

    fn result_scalar(&self, op: &Op) -> Result<(ScalarType, &'a [u32]), Fault> {
        let ty = self.result_type(op)?;
        match ty.scalar_elem() {
            Some(s) => Ok((s, ty.shape())),
            None => Err(Fault::malformed(format!("`{}` must have a numeric result, not {ty}", op.kind.mnemonic()))),
        }
    }

    /// Every op but control flow and terminators: its result, if any.
    fn compute(&mut self, op: &Op) -> Result<Option<Value>, Fault> {
        let vals = self.operands(op)?;
        let arity = |n: usize| -> Result<(), Fault> {
            if vals.len() == n {
                Ok(())
            } else {
                Err(Fault::malformed(format!("`{}` takes {n} operand(s), found {}", op.kind.mnemonic(), vals.len())))
            }
        };
        let t = |i: usize| -> Result<&Tensor, Fault> {
            vals.get(i).ok_or_else(|| Fault::malformed("missing operand")).and_then(|v| tensor(v))
        };
        let out_shape = || self.result_type(op).map(|ty| ty.shape().to_vec());
        let scalar_i32 = |v: u32| Tensor { shape: Vec::new(), data: Data::I32(vec![v as i32]) };
        let axis_of = |axis: u8, of: [u32; 3]| -> Result<u32, Fault> {
            of.get(axis as usize).copied().ok_or_else(|| Fault::malformed(format!("grid axis {axis} (0, 1 or 2)")))
        };
        let tensor_result = match &op.kind {
            OpKind::Constant(c) => {
                arity(0)?;
                let (elem, shape) = self.result_scalar(op)?;
                shape::constant(*c, elem, shape)
            }
            OpKind::ProgramId(axis) => scalar_i32(axis_of(*axis, self.pid)?),
            OpKind::NumPrograms(axis) => scalar_i32(axis_of(*axis, self.grid)?),
            OpKind::Arange { start, end } => shape::arange(*start, *end)?,
            OpKind::Splat => {
                arity(1)?;
                shape::splat(t(0)?, &out_shape()?)?
            }
            OpKind::Broadcast => {
                arity(1)?;
                shape::broadcast(t(0)?, &out_shape()?)?
            }
            OpKind::ExpandDims(axis) => {
                arity(1)?;
                let mut expected = t(0)?.shape.clone();
                if *axis as usize > expected.len() {
                    return Err(Fault::malformed(format!("expand_dims at axis {axis} of rank {}", expected.len())));
                }
                expected.insert(*axis as usize, 1);
                if out_shape()? != expected {
                    return Err(Fault::malformed(format!(
                        "expand_dims result must have shape {}",
                        fmt_index(&expected)
                    )));
                }
                shape::reshape(t(0)?, &expected)?
            }
            OpKind::Reshape => {
                arity(1)?;
                shape::reshape(t(0)?, &out_shape()?)?
            }
            OpKind::Permute(perm) => {
                arity(1)?;
                shape::permute(t(0)?, perm)?
            }
            OpKind::Unary(u) => {
                arity(1)?;
                arith::unary(*u, t(0)?)?
            }
            OpKind::Binary(b) => {
                arity(2)?;
                arith::binary(*b, t(0)?, t(1)?)?
            }
            OpKind::Compare(p) => {
                arity(2)?;
                arith::compare(*p, t(0)?, t(1)?)?
            }
            OpKind::Select => {
                arity(3)?;
                arith::select(t(0)?, t(1)?, t(2)?)?
            }
            OpKind::Cast => {
                arity(1)?;
                arith::cast(t(0)?, self.result_scalar(op)?.0)?
            }
            OpKind::AddPtr => {
                arity(2)?;
                memory::addptr(t(0)?, t(1)?)?
            }
            OpKind::Load { masked, has_other } => {
                arity(1 + usize::from(*masked) + usize::from(*has_other))?;
                if *has_other && !*masked {
                    return Err(Fault::malformed("a load with `other` must be masked"));
                }
                let pointee = self.result_scalar(op)?.0;
                let mask = if *masked { Some(t(1)?) } else { None };
                let other = if *has_other { Some(t(2)?) } else { None };
                self.with_memory(|m| m.load(pointee, t(0)?, mask, other))?
            }
            OpKind::Store { masked } => {
                arity(2 + usize::from(*masked))?;
                let mask = if *masked { Some(t(2)?) } else { None };
                self.with_memory(|m| m.store(t(0)?, t(1)?, mask))?;
                return Ok(None);
            }
            // Where programs observe each other, an interleaved program
            // hands the turn on first (`interleave`).
            OpKind::AtomicAdd { masked } => {
                arity(2 + usize::from(*masked))?;
                self.hand_over()?;
                let mask = if *masked { Some(t(2)?) } else { None };
                self.with_memory(|m| m.atomic_add(t(0)?, t(1)?, mask))?
            }
            // Every access is visible to every program once made (programs
            // one after another, or one at a time between hand-overs).
            OpKind::Fence => {
                arity(0)?;
                self.hand_over()?;
                return Ok(None);
            }
            OpKind::MakeBlockPtr { .. } => {
                let operands: Vec<&Tensor> = (0..vals.len()).map(t).collect::<Result<_, _>>()?;
                let Type::BlockPtr { block, .. } = self.result_type(op)? else {
                    return Err(Fault::malformed("make_block_ptr must produce a block pointer"));
                };
                return Ok(Some(Value::Block(memory::make_block_ptr(&operands, block)?)));
            }
            OpKind::Advance => {
                let Some(Value::Block(bp)) = vals.first().map(|v| &**v) else {
                    return Err(Fault::malformed("advance takes a block pointer"));
                };
                let offsets: Vec<&Tensor> = (1..vals.len()).map(t).collect::<Result<_, _>>()?;
                return Ok(Some(Value::Block(memory::advance(bp, &offsets)?)));
            }
            // The eviction hint is about caches the interpreter has none of.
            OpKind::LoadBlock { boundary_check, padding, .. } => {
                arity(1)?;
                let Value::Block(bp) = &*vals[0] else {
                    return Err(Fault::malformed("load_block takes a block pointer"));
                };
                let elem = self.result_scalar(op)?.0;
                self.with_memory(|m| m.load_block(elem, bp, boundary_check, *padding))?
            }
            OpKind::StoreBlock { boundary_check } => {
                arity(2)?;
                let Value::Block(bp) = &*vals[0] else {
                    return Err(Fault::malformed("store_block takes a block pointer"));
                };
                self.with_memory(|m| m.store_block(bp, t(1)?, boundary_check))?;
                return Ok(None);
            }
            OpKind::Dot { precision } => {
                arity(3)?;
                dot::dot(t(0)?, t(1)?, t(2)?, *precision)?
            }
            OpKind::Reduce { kind, axis } => {
                arity(1)?;
                reduce::reduce(*kind, *axis, t(0)?)?
            }
            OpKind::Scan { kind, axis, reverse } => {
                arity(1)?;
                reduce::scan(*kind, *axis, *reverse, t(0)?)?
            }
            OpKind::For | OpKind::If | OpKind::While | OpKind::Yield | OpKind::Condition | OpKind::Return => {
                return Err(Fault::malformed(format!("`{}` in an unexpected place", op.kind.mnemonic())));
            }
        };
        Ok(Some(Value::Tensor(tensor_result)))
    }

    fn with_memory<R>(&mut self, f: impl FnOnce(&mut Memory<'_>) -> Result<R, Fault>) -> Result<R, Fault> {
        let (param_buffers, params) = (&self.param_buffers, &self.kernel.params);
        match &mut self.buffers {
            Buffers::Own(buffers) => f(&mut Memory { buffers, param_buffers, params }),
            Buffers::Shared { scheduler, .. } => {
                let mut buffers = scheduler.memory();
                f(&mut Memory { buffers: &mut buffers, param_buffers, params })
            }
        }
    }

    /// An interleaved program lets another one run (see `interleave`).
    fn hand_over(&self) -> Result<(), Fault> {
        match &self.buffers {
            Buffers::Own(_) => Ok(()),
            Buffers::Shared { scheduler, program } => scheduler.hand_over(*program).map_err(|stop| match stop {
                Stop::Aborted => Fault::aborted(),
                Stop::Stalled(limit) => Fault::new(
                    codes::OP_LIMIT,
                    format!(
                        "the interleaved launch handed over {limit} times; its programs are probably waiting \
                         for each other"
                    ),
                )
                .with_help("check that every flag a program waits for is raised by a program that has started"),
            }),
        }
    }
}
