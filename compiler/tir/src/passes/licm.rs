//! `licm`: loop-invariant code motion out of `for` bodies.
//!
//! An op directly in a `for` body moves to just before the loop when it is
//! pure, cannot fail at run time (see [`is_speculatable`]: the loop may run
//! zero times), and reads only values defined outside the loop or by ops
//! already hoisted. Loads, stores and atomics never move. Inner loops are
//! processed first, so an invariant climbs as far out as it can.

use super::rewrite::is_speculatable;
use crate::kernel::{Kernel, Op, Region, ValueId};
use crate::ops::OpKind;
use crate::types::Type;
use std::collections::HashSet;

pub fn run(k: &mut Kernel) -> bool {
    region(&k.values, &mut k.body)
}

fn region(values: &[Type], region_: &mut Region) -> bool {
    let mut changed = false;
    let ops = std::mem::take(&mut region_.ops);
    let mut out = Vec::with_capacity(ops.len());
    for mut op in ops {
        for r in &mut op.regions {
            changed |= region(values, r);
        }
        if op.kind == OpKind::For
            && let Some(body) = op.regions.first_mut()
        {
            let hoisted = hoist(values, body);
            changed |= !hoisted.is_empty();
            out.extend(hoisted);
        }
        out.push(op);
    }
    region_.ops = out;
    changed
}

/// Every value defined in `region`: arguments and results, at any depth.
fn defined_in(region: &Region, into: &mut HashSet<ValueId>) {
    into.extend(region.args.iter().copied());
    for op in &region.ops {
        into.extend(op.results.iter().copied());
        for r in &op.regions {
            defined_in(r, into);
        }
    }
}

fn hoist(values: &[Type], body: &mut Region) -> Vec<Op> {
    let mut inside = HashSet::new();
    defined_in(body, &mut inside);
    let mut hoisted = Vec::new();
    let mut kept = Vec::with_capacity(body.ops.len());
    for op in std::mem::take(&mut body.ops) {
        if is_speculatable(values, &op) && op.operands.iter().all(|o| !inside.contains(o)) {
            for r in &op.results {
                inside.remove(r);
            }
            hoisted.push(op);
        } else {
            kept.push(op);
        }
    }
    body.ops = kept;
    hoisted
}
