//! `schedule-dots`: within each block, issue `dot`s early and read their
//! results late.
//!
//! On targets whose tensor-core instructions run asynchronously (Hopper's
//! `wgmma`), the backend waits for a product only where its result is first
//! read. The order of the ops then decides what overlaps the tensor cores:
//! a loop body written `x = dot(..) * w; y = dot(..) * m; ...` would wait
//! right after each issue. This pass reorders each block by list
//! scheduling: every op takes one time unit, a `dot` [`DOT_LATENCY`]; at
//! each step the op that may start earliest goes next, ties going to the
//! longest latency-weighted path to the block's end, then to source order.
//! Dots and what feeds them move up, their readers move down to where the
//! products are due, and independent work fills the gap.
//!
//! Only the order changes, and only where nothing observes it: data
//! dependences are kept, loads, stores and atomics keep their relative
//! order, ops with regions (loops, branches) are fixed points that nothing
//! crosses, and the terminator stays last. Not in the default pipeline: the
//! backend runs it for targets that issue dots asynchronously.

use crate::kernel::{Kernel, Op, Region, ValueId};
use crate::ops::OpKind;
use std::collections::HashMap;

/// The time a `dot` is assumed to take, in units of one op.
pub const DOT_LATENCY: u64 = 64;

pub fn run(k: &mut Kernel) -> bool {
    region(&mut k.body)
}

fn region(region_: &mut Region) -> bool {
    let mut changed = false;
    let ops = std::mem::take(&mut region_.ops);
    let mut out = Vec::with_capacity(ops.len());
    let mut run_: Vec<Op> = Vec::new();
    for mut op in ops {
        for r in &mut op.regions {
            changed |= region(r);
        }
        if op.regions.is_empty() && !op.kind.is_terminator() {
            run_.push(op);
            continue;
        }
        changed |= schedule(&mut run_);
        out.append(&mut run_);
        out.push(op);
    }
    changed |= schedule(&mut run_);
    out.append(&mut run_);
    region_.ops = out;
    changed
}

fn latency(op: &Op) -> u64 {
    if matches!(op.kind, OpKind::Dot { .. }) { DOT_LATENCY } else { 1 }
}

fn touches_memory(op: &Op) -> bool {
    matches!(op.kind, OpKind::Load { .. } | OpKind::LoadBlock { .. } | OpKind::Store { .. } | OpKind::StoreBlock { .. })
        || matches!(op.kind, OpKind::AtomicAdd { .. } | OpKind::Fence)
}

/// Reorders a run of region-free, non-terminator ops; true when the order changed.
fn schedule(ops: &mut Vec<Op>) -> bool {
    let n = ops.len();
    if n < 2 || !ops.iter().any(|op| matches!(op.kind, OpKind::Dot { .. })) {
        return false;
    }
    let producer: HashMap<ValueId, usize> =
        ops.iter().enumerate().flat_map(|(i, op)| op.results.iter().map(move |&r| (r, i))).collect();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut last_memory = None;
    for (i, op) in ops.iter().enumerate() {
        for v in &op.operands {
            if let Some(&p) = producer.get(v)
                && !preds[i].contains(&p)
            {
                preds[i].push(p);
            }
        }
        if touches_memory(op) {
            if let Some(p) = last_memory
                && !preds[i].contains(&p)
            {
                preds[i].push(p);
            }
            last_memory = Some(i);
        }
    }
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ps) in preds.iter().enumerate() {
        for &p in ps {
            succs[p].push(i);
        }
    }
    // Latency-weighted path to the end of the run (predecessors come first
    // in source order, so one backward sweep suffices).
    let mut height = vec![0u64; n];
    for i in (0..n).rev() {
        height[i] = latency(&ops[i]) + succs[i].iter().map(|&s| height[s]).max().unwrap_or(0);
    }
    let mut waiting: Vec<usize> = preds.iter().map(Vec::len).collect();
    let mut earliest = vec![0u64; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    let mut now = 0u64;
    while !ready.is_empty() {
        let start = |i: usize| earliest[i].max(now);
        let Some((at, &pick)) =
            ready.iter().enumerate().min_by_key(|&(_, &i)| (start(i), std::cmp::Reverse(height[i]), i))
        else {
            break;
        };
        ready.swap_remove(at);
        let began = start(pick);
        now = began + 1;
        order.push(pick);
        for &s in &succs[pick] {
            earliest[s] = earliest[s].max(began + latency(&ops[pick]));
            waiting[s] -= 1;
            if waiting[s] == 0 {
                ready.push(s);
            }
        }
    }
    if order.len() != n || order.iter().enumerate().all(|(k, &i)| k == i) {
        return false;
    }
    let mut slots: Vec<Option<Op>> = std::mem::take(ops).into_iter().map(Some).collect();
    *ops = order.into_iter().filter_map(|i| slots[i].take()).collect();
    true
}
