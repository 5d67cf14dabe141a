//! `cse`: common subexpression elimination of pure ops.
//!
//! Two pure ops (see [`is_pure`]) with the same kind, attributes, operands
//! and result types compute the same value, so the later one is replaced by
//! the earlier when the earlier dominates it: it is in the same region
//! before it, or in an enclosing region. Scopes follow regions: an op inside
//! a loop body may reuse a value computed before the loop, never the other
//! way round, and sibling regions (`then`/`else`) share nothing. Loads are
//! not pure (a store may come between two of them) and are never merged.

use super::rewrite::{Substitution, is_pure};
use crate::kernel::{Kernel, Op, Region, ValueId};
use crate::types::Type;
use std::collections::HashMap;

pub fn run(k: &mut Kernel) -> bool {
    let mut cx = Cse { values: &k.values, scopes: Vec::new(), subst: Substitution::default(), changed: false };
    cx.region(&mut k.body);
    cx.changed
}

/// What makes two pure ops equal. The kind is keyed by its `Debug` text:
/// `OpKind` holds floats and so is not `Eq`; `Debug` tells `0.0` from
/// `-0.0` and gives every NaN one spelling, which is the equality wanted.
#[derive(PartialEq, Eq, Hash)]
struct Key {
    kind: String,
    operands: Vec<ValueId>,
    result_types: Vec<Option<Type>>,
}

struct Cse<'k> {
    values: &'k [Type],
    scopes: Vec<HashMap<Key, Vec<ValueId>>>,
    subst: Substitution,
    changed: bool,
}

impl Cse<'_> {
    fn region(&mut self, region: &mut Region) {
        self.scopes.push(HashMap::new());
        let ops = std::mem::take(&mut region.ops);
        let mut kept = Vec::with_capacity(ops.len());
        for mut op in ops {
            self.subst.apply(&mut op);
            for r in &mut op.regions {
                self.region(r);
            }
            if self.merge(&op) {
                self.changed = true;
            } else {
                kept.push(op);
            }
        }
        region.ops = kept;
        self.scopes.pop();
    }

    /// Record `op`, or forward its results to an equal earlier op's and
    /// return true.
    fn merge(&mut self, op: &Op) -> bool {
        if !is_pure(op) || op.results.is_empty() {
            return false;
        }
        let key = Key {
            kind: format!("{:?}", op.kind),
            operands: op.operands.clone(),
            result_types: op.results.iter().map(|r| self.values.get(r.0 as usize).cloned()).collect(),
        };
        let earlier = self.scopes.iter().rev().find_map(|s| s.get(&key)).cloned();
        match earlier {
            Some(values) => {
                for (&r, &v) in op.results.iter().zip(&values) {
                    self.subst.replace(r, v);
                }
                true
            }
            None => {
                if let Some(scope) = self.scopes.last_mut() {
                    scope.insert(key, op.results.clone());
                }
                false
            }
        }
    }
}
