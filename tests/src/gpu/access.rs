//! What a kernel does with its pointer parameters, read off its tile IR.
//!
//! The checker must know which buffers are outputs: they are poisoned with
//! NaN before the launch (so an element the kernel forgets to write fails)
//! and compared afterwards. Case files cannot be trusted to say so, and a
//! kernel that accumulates into a buffer (`atomic_add`, read-modify-write)
//! needs its initial contents: so a buffer is poisoned only when the kernel
//! writes it and never reads it, and compared whenever it writes it.
//!
//! Every pointer value is traced back to the parameters it derives from
//! (through `addptr`, `splat`, `broadcast`, block pointers, and values
//! carried by loops and branches, conservatively: a value leaving a region
//! derives from everything that entered it).

use tessera_tir::{ElemType, Kernel, Op, OpKind, Region, Type, ValueId};

/// How a kernel uses one pointer parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub param: String,
    pub read: bool,
    pub written: bool,
}

impl Access {
    /// Written and never read: poisoned before the launch.
    pub fn write_only(&self) -> bool {
        self.written && !self.read
    }
}

/// The access of every pointer parameter of `kernel`, in parameter order.
pub fn pointer_access(kernel: &Kernel) -> Vec<Access> {
    let pointers: Vec<(usize, &tessera_tir::Param)> = kernel
        .params
        .iter()
        .filter(|p| matches!(kernel.values.get(p.value.0 as usize), Some(Type::Tensor { elem: ElemType::Ptr(_), .. })))
        .enumerate()
        .collect();
    // One bit per pointer parameter: a kernel with more than 64 of them
    // marks the rest as read and written (still correct, just not poisoned).
    let mut roots = vec![0u64; kernel.values.len()];
    for &(bit, param) in pointers.iter().take(64) {
        if let Some(slot) = roots.get_mut(param.value.0 as usize) {
            *slot = 1 << bit;
        }
    }
    // Forward propagation to a fixed point (loops feed values back).
    loop {
        let mut changed = false;
        propagate(kernel, &kernel.body, &mut roots, &mut changed);
        if !changed {
            break;
        }
    }
    let (mut read, mut written) = (0u64, 0u64);
    let mut mark = |op: &Op| {
        let mask = |i: usize| op.operands.get(i).and_then(|v| roots.get(v.0 as usize)).copied().unwrap_or(0);
        match op.kind {
            OpKind::Load { .. } | OpKind::LoadBlock { .. } => read |= mask(0),
            OpKind::Store { .. } | OpKind::StoreBlock { .. } => written |= mask(0),
            OpKind::AtomicAdd { .. } => {
                read |= mask(0);
                written |= mask(0);
            }
            _ => {}
        }
    };
    tessera_tir::walk_ops(&kernel.body, &mut mark);
    pointers
        .iter()
        .map(|&(bit, param)| {
            let known = bit < 64;
            let has = |set: u64| !known || set & (1 << bit) != 0;
            Access { param: param.name.clone(), read: has(read), written: has(written) }
        })
        .collect()
}

fn carries_pointers(kernel: &Kernel, v: ValueId) -> bool {
    matches!(kernel.values.get(v.0 as usize), Some(Type::Tensor { elem: ElemType::Ptr(_), .. } | Type::BlockPtr { .. }))
}

fn union(roots: &mut [u64], v: ValueId, mask: u64, changed: &mut bool) {
    if let Some(slot) = roots.get_mut(v.0 as usize)
        && *slot | mask != *slot
    {
        *slot |= mask;
        *changed = true;
    }
}

fn propagate(kernel: &Kernel, region: &Region, roots: &mut Vec<u64>, changed: &mut bool) {
    for op in &region.ops {
        let get = |roots: &[u64], v: &ValueId| roots.get(v.0 as usize).copied().unwrap_or(0);
        let mut mask = op.operands.iter().filter(|v| carries_pointers(kernel, **v)).fold(0, |m, v| m | get(roots, v));
        // What a region yields flows out of the op and back into its
        // arguments (the next trip of a loop).
        for r in &op.regions {
            if let Some(term) = r.ops.last() {
                mask |= term.operands.iter().fold(0, |m, v| m | get(roots, v));
            }
        }
        if mask != 0 {
            for &result in &op.results {
                if carries_pointers(kernel, result) {
                    union(roots, result, mask, changed);
                }
            }
            if !op.regions.is_empty() {
                for r in &op.regions {
                    for &arg in &r.args {
                        if carries_pointers(kernel, arg) {
                            union(roots, arg, mask, changed);
                        }
                    }
                }
            }
        }
        for r in &op.regions {
            propagate(kernel, r, roots, changed);
        }
    }
}

/// Whether some `dot` of the kernel multiplies f32 operands as tf32: its
/// f32 results then carry tf32 rounding, and need the TF32 tolerance.
pub fn has_tf32_dot(kernel: &Kernel) -> bool {
    let mut found = false;
    tessera_tir::walk_ops(&kernel.body, &mut |op| {
        if let OpKind::Dot { precision: tessera_tir::DotPrecision::Tf32 } = op.kind {
            let f32_operand = op.operands.first().and_then(|v| kernel.values.get(v.0 as usize)).is_some_and(|t| {
                matches!(t, Type::Tensor { elem: ElemType::Scalar(tessera_tir::ScalarType::F32), .. })
            });
            found |= f32_operand;
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::compile;
    use crate::harness::int;

    fn access(file: &str, kernel: &str, consts: &[(&str, tessera_tir::ConstValue)]) -> Vec<(String, bool, bool)> {
        pointer_access(&compile(file, kernel, consts)).into_iter().map(|a| (a.param, a.read, a.written)).collect()
    }

    fn s(name: &str, read: bool, written: bool) -> (String, bool, bool) {
        (name.to_string(), read, written)
    }

    #[test]
    fn outputs_of_the_kernel_library() {
        assert_eq!(
            access("vector_add.tsr", "vector_add", &[]),
            vec![s("x", true, false), s("z", true, false), s("y", false, true)]
        );
        // Loop-carried pointers (matmul advances a and b inside its K loop).
        assert_eq!(
            access("matmul.tsr", "matmul", &[]),
            vec![s("a", true, false), s("b", true, false), s("c", false, true)]
        );
        assert_eq!(
            access("matmul.tsr", "matmul_block_ptr", &[]),
            vec![s("a", true, false), s("b", true, false), s("c", false, true)]
        );
        assert_eq!(
            access("layer_norm.tsr", "layer_norm_fwd", &[]),
            vec![
                s("x", true, false),
                s("y", false, true),
                s("w", true, false),
                s("b", true, false),
                s("mean", false, true),
                s("rstd", false, true)
            ]
        );
        let la = access("linear_attention.tsr", "linear_attention_fwd", &[("D", int(16))]);
        assert_eq!(
            la,
            vec![
                s("q", true, false),
                s("k", true, false),
                s("v", true, false),
                s("o", false, true),
                s("s", true, false)
            ]
        );
    }

    #[test]
    fn tf32_dots_are_found() {
        assert!(has_tf32_dot(&compile("linear_attention.tsr", "linear_attention_fwd", &[("D", int(16))])));
        // bf16 operands: the dot is exact into f32.
        assert!(!has_tf32_dot(&compile("matmul.tsr", "matmul", &[])));
        assert!(!has_tf32_dot(&compile("softmax.tsr", "softmax", &[("BLOCK", int(1024))])));
    }
}
