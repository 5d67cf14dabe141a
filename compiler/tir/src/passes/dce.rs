//! `dce`: dead code elimination.
//!
//! Removes ops none of whose results is used and that have no effect:
//! pure ops and loads (a load only reads), and `for`/`if` ops whose regions
//! contain no store or atomic. `while` loops are kept, since removing one
//! could turn a program that never ends into one that does. Also drops the
//! loop-carried values of a `for` that nothing reads: the result is unused
//! and the region argument feeds nothing but effect-free ops in the body
//! whose values in turn feed only each other and the argument's own `yield`
//! slot; that computation then dies in turn. Runs to a fixed point.

use super::rewrite::{regions_have_effects, use_counts};
use crate::kernel::{Kernel, Op, Region, ValueId, walk_ops};
use crate::ops::OpKind;
use std::collections::{HashMap, HashSet};

pub fn run(k: &mut Kernel) -> bool {
    let mut changed = false;
    loop {
        let mut uses = use_counts(&k.body);
        let mut round = prune_loop_carried(&mut k.body, &mut uses);
        round |= sweep(&mut k.body, &mut uses);
        if !round {
            return changed;
        }
        changed = true;
    }
}

fn removable(op: &Op) -> bool {
    match op.kind {
        OpKind::For | OpKind::If => !regions_have_effects(&op.regions),
        OpKind::While => false,
        _ => op.regions.is_empty() && !op.kind.has_side_effects(),
    }
}

fn unuse(uses: &mut HashMap<ValueId, usize>, v: ValueId) {
    if let Some(n) = uses.get_mut(&v) {
        *n = n.saturating_sub(1);
    }
}

/// Remove dead ops, last to first so a chain dies in one sweep.
fn sweep(region: &mut Region, uses: &mut HashMap<ValueId, usize>) -> bool {
    let mut changed = false;
    let mut kept = Vec::with_capacity(region.ops.len());
    for mut op in std::mem::take(&mut region.ops).into_iter().rev() {
        let dead = removable(&op) && op.results.iter().all(|r| uses.get(r).copied().unwrap_or(0) == 0);
        if dead {
            changed = true;
            for &o in &op.operands {
                unuse(uses, o);
            }
            for r in &op.regions {
                walk_ops(r, &mut |inner| inner.operands.iter().for_each(|&o| unuse(uses, o)));
            }
            continue;
        }
        // Reverse order: uses inside a region come after the values it
        // reads from the enclosing region, so sweep regions first.
        for r in &mut op.regions {
            changed |= sweep(r, uses);
        }
        kept.push(op);
    }
    kept.reverse();
    region.ops = kept;
    changed
}

/// Whether loop-carried slot `i` of a `for` body influences nothing but
/// its own next value: every use of the region argument, and of the
/// results of top-level effect-free ops computed from it, is by such an op
/// or by `yield` slot `i`.
fn slot_is_private(body: &Region, i: usize, uses: &HashMap<ValueId, usize>) -> bool {
    let Some(&arg) = body.args.get(1 + i) else { return false };
    let mut tainted: HashSet<ValueId> = HashSet::from([arg]);
    let mut internal_uses = 0;
    let Some((yield_op, ops)) = body.ops.split_last() else {
        return false;
    };
    for op in ops {
        let reads = op.operands.iter().filter(|o| tainted.contains(o)).count();
        if reads > 0 && op.regions.is_empty() && !op.kind.has_side_effects() {
            internal_uses += reads;
            tainted.extend(op.results.iter().copied());
        }
    }
    internal_uses += usize::from(yield_op.operands.get(i).is_some_and(|v| tainted.contains(v)));
    let total: usize = tainted.iter().map(|v| uses.get(v).copied().unwrap_or(0)).sum();
    total == internal_uses
}

fn prune_loop_carried(region: &mut Region, uses: &mut HashMap<ValueId, usize>) -> bool {
    let mut changed = false;
    for op in &mut region.ops {
        for r in &mut op.regions {
            changed |= prune_loop_carried(r, uses);
        }
        if op.kind != OpKind::For || op.regions.len() != 1 {
            continue;
        }
        let iters = op.results.len();
        let body = &mut op.regions[0];
        let well_formed = op.operands.len() == 3 + iters
            && body.args.len() == 1 + iters
            && body.ops.last().is_some_and(|y| y.kind == OpKind::Yield && y.operands.len() == iters);
        if !well_formed {
            continue;
        }
        for i in (0..iters).rev() {
            let dead = uses.get(&op.results[i]).copied().unwrap_or(0) == 0 && slot_is_private(body, i, uses);
            let Some(y) = body.ops.last_mut() else { continue };
            if dead {
                let yielded = y.operands.remove(i);
                unuse(uses, yielded);
                unuse(uses, op.operands[3 + i]);
                op.operands.remove(3 + i);
                op.results.remove(i);
                body.args.remove(1 + i);
                changed = true;
            }
        }
    }
    changed
}
