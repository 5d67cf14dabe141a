//! Helpers shared by the passes: value substitution, use counts and the
//! purity predicates that decide what a pass may move or delete.

use crate::kernel::{Op, Region, ValueId};
use crate::ops::{BinaryOp, OpKind};
use crate::types::Type;
use std::collections::HashMap;

/// Replacements of values by equivalent, dominating values.
#[derive(Default)]
pub(crate) struct Substitution {
    map: HashMap<ValueId, ValueId>,
}

impl Substitution {
    /// From now on, uses of `from` read `to`.
    pub(crate) fn replace(&mut self, from: ValueId, to: ValueId) {
        let to = self.resolve(to);
        if from != to {
            self.map.insert(from, to);
        }
    }

    /// The value `v` stands for, following chains of replacements.
    pub(crate) fn resolve(&self, mut v: ValueId) -> ValueId {
        // Chains are acyclic: `replace` always maps to an already resolved value.
        while let Some(&next) = self.map.get(&v) {
            v = next;
        }
        v
    }

    /// Rewrite `op`'s own operands (not those inside its regions).
    pub(crate) fn apply(&self, op: &mut Op) {
        for o in &mut op.operands {
            *o = self.resolve(*o);
        }
    }
}

/// How many times each value is used as an operand, anywhere in `region`.
pub(crate) fn use_counts(region: &Region) -> HashMap<ValueId, usize> {
    let mut uses = HashMap::new();
    crate::kernel::walk_ops(region, &mut |op| {
        for &o in &op.operands {
            *uses.entry(o).or_insert(0) += 1;
        }
    });
    uses
}

/// Ops that compute a value from their operands alone: no effects, no
/// memory reads, no regions. These may be merged (CSE) and moved (LICM).
pub(crate) fn is_pure(op: &Op) -> bool {
    op.regions.is_empty()
        && !op.kind.has_side_effects()
        && !matches!(op.kind, OpKind::Load { .. } | OpKind::LoadBlock { .. })
}

/// Pure ops that cannot fail at run time, so they may execute where the
/// original program would not have (hoisting out of a loop that runs zero
/// times). Integer division and remainder can divide by zero.
pub(crate) fn is_speculatable(values: &[Type], op: &Op) -> bool {
    if !is_pure(op) {
        return false;
    }
    match op.kind {
        OpKind::Binary(BinaryOp::Div | BinaryOp::Rem) => op
            .results
            .iter()
            .all(|&r| values.get(r.0 as usize).and_then(|t| t.scalar_elem()).is_some_and(|s| s.is_float())),
        _ => true,
    }
}

/// Whether anything in `regions` has an effect beyond computing values.
pub(crate) fn regions_have_effects(regions: &[Region]) -> bool {
    let mut effects = false;
    for r in regions {
        crate::kernel::walk_ops(r, &mut |op| effects |= op.kind.has_side_effects() && !op.kind.is_terminator());
    }
    effects
}
