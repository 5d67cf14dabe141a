//! Backward slices: what a value is computed from.
//!
//! Used to find the runtime parameters behind an address or a mask (the
//! build specializes those on divisibility, as Triton does at launch).

use crate::kernel::{Kernel, Op, Region, ValueId};
use crate::ops::OpKind;
use std::collections::{HashMap, HashSet};

/// Indices into `k.params` of the parameters that flow into any of `roots`:
/// through operands, through the results of `for`/`if`/`while` (what their
/// regions yield) and through loop-carried region arguments.
pub fn params_feeding(k: &Kernel, roots: &[ValueId]) -> Vec<usize> {
    let mut def: HashMap<ValueId, &Op> = HashMap::new();
    let mut arg_owner: HashMap<ValueId, &Op> = HashMap::new();
    index(&k.body, &mut def, &mut arg_owner);
    let mut seen: HashSet<ValueId> = HashSet::new();
    let mut work: Vec<ValueId> = roots.to_vec();
    while let Some(v) = work.pop() {
        if !seen.insert(v) {
            continue;
        }
        if let Some(op) = def.get(&v).or_else(|| arg_owner.get(&v)) {
            work.extend(op.operands.iter().copied());
            for r in &op.regions {
                if let Some(terminator) = r.ops.last() {
                    work.extend(terminator.operands.iter().copied());
                }
            }
        }
    }
    k.params.iter().enumerate().filter(|(_, p)| seen.contains(&p.value)).map(|(i, _)| i).collect()
}

/// The `make_block_ptr` that block-pointer value `v` comes from, through
/// `advance`s (with their amounts along axis `dim`, nearest first) and
/// through loops' carried values (`carried` maps a body argument to the
/// value it starts as); `defs` maps a value to the op defining it. `None`
/// when anything else makes the pointer.
pub fn block_origin<'k>(
    defs: &HashMap<ValueId, &'k Op>,
    carried: &HashMap<ValueId, ValueId>,
    mut v: ValueId,
    dim: usize,
) -> Option<(&'k Op, Vec<ValueId>)> {
    let mut advances = Vec::new();
    loop {
        if let Some(&init) = carried.get(&v) {
            v = init;
            continue;
        }
        let op = *defs.get(&v)?;
        match op.kind {
            OpKind::Advance => {
                advances.extend(op.operands.get(1 + dim).copied());
                v = *op.operands.first()?;
            }
            OpKind::MakeBlockPtr { .. } => return Some((op, advances)),
            _ => return None,
        }
    }
}

fn index<'a>(region: &'a Region, def: &mut HashMap<ValueId, &'a Op>, arg_owner: &mut HashMap<ValueId, &'a Op>) {
    for op in &region.ops {
        for &r in &op.results {
            def.insert(r, op);
        }
        for r in &op.regions {
            for &a in &r.args {
                arg_owner.insert(a, op);
            }
            index(r, def, arg_owner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_kernel;

    #[test]
    fn follows_operands_loops_and_yields() {
        let k = parse_kernel(
            "kernel @k(%0: ptr<f32> \"x\", %1: i32 \"stride\", %2: i32 \"n\", %3: i32 \"unused\", %4: i32 \"steps\") {
  %5 = program_id 0 : i32
  %6 = mul %5, %1 : i32
  %7 = constant 0 : i32
  %8 = constant 1 : i32
  %9 = for %7, %4, %8 iter(%6) : i32 {
    ^(%10: i32, %11: i32):
    %12 = add %11, %2 : i32
    yield %12
  }
  %13 = addptr %0, %9 : ptr<f32>
  %14 = constant 1.0 : f32
  store %13, %14
  return
}",
        )
        .expect("parses");
        let addptr = ValueId(13);
        // x, stride (the initial value), n (yielded), steps (the loop bound).
        assert_eq!(params_feeding(&k, &[addptr]), vec![0, 1, 2, 4]);
        assert_eq!(params_feeding(&k, &[ValueId(6)]), vec![1]);
        assert!(params_feeding(&k, &[ValueId(14)]).is_empty());
    }
}
