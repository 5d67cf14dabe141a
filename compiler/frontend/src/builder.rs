//! Appends ops to the kernel under construction.
//!
//! Nested regions are built on a stack of op lists: `push_block` opens the
//! list of a region being lowered (a loop body, a branch), `pop_block` closes
//! it and hands its ops to the structured op that will own them.

use tessera_tir::{Kernel, Loc, Op, OpKind, Region, Type, ValueId};

/// The most ops one specialization may hold; unrolling past it is reported
/// instead of exhausting memory.
pub(crate) const MAX_OPS: usize = 200_000;

pub(crate) struct Builder {
    pub kernel: Kernel,
    stack: Vec<Vec<Op>>,
    /// Source location given to the ops emitted next.
    pub loc: Loc,
    op_count: usize,
}

impl Builder {
    pub(crate) fn new(kernel: Kernel) -> Builder {
        Builder { kernel, stack: vec![Vec::new()], loc: Loc::UNKNOWN, op_count: 0 }
    }

    /// True once the op limit is passed.
    pub(crate) fn over_limit(&self) -> bool {
        self.op_count > MAX_OPS
    }

    pub(crate) fn new_value(&mut self, ty: Type) -> ValueId {
        self.kernel.new_value(ty)
    }

    /// Append an op with fresh results of `result_types`.
    pub(crate) fn emit(&mut self, kind: OpKind, operands: Vec<ValueId>, result_types: Vec<Type>) -> Vec<ValueId> {
        self.emit_with_regions(kind, operands, result_types, Vec::new())
    }

    pub(crate) fn emit_with_regions(
        &mut self,
        kind: OpKind,
        operands: Vec<ValueId>,
        result_types: Vec<Type>,
        regions: Vec<Region>,
    ) -> Vec<ValueId> {
        let results: Vec<ValueId> = result_types.into_iter().map(|t| self.kernel.new_value(t)).collect();
        let op = Op { kind, operands, results: results.clone(), regions, loc: self.loc };
        self.op_count += 1;
        if let Some(top) = self.stack.last_mut() {
            top.push(op);
        }
        results
    }

    /// Append an op with one result.
    pub(crate) fn emit1(&mut self, kind: OpKind, operands: Vec<ValueId>, ty: Type) -> ValueId {
        let results = self.emit(kind, operands, vec![ty]);
        results[0]
    }

    pub(crate) fn push_block(&mut self) {
        self.stack.push(Vec::new());
    }

    /// Continue appending to a region's ops taken earlier by `pop_block`.
    pub(crate) fn resume_block(&mut self, ops: Vec<Op>) {
        self.stack.push(ops);
    }

    pub(crate) fn pop_block(&mut self) -> Vec<Op> {
        // The body list at the bottom is never popped by balanced callers.
        if self.stack.len() > 1 { self.stack.pop().unwrap_or_default() } else { Vec::new() }
    }

    /// The finished kernel: the bottom op list becomes the body.
    pub(crate) fn finish(mut self) -> Kernel {
        let body = std::mem::take(&mut self.stack[0]);
        self.kernel.body.ops = body;
        self.kernel
    }
}
