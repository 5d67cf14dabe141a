//! Axis info: per value and dimension, what is known about the integers (or
//! addresses) a tensor holds, as in Triton's `AxisInfo` analysis.
//!
//! * `contiguity[d]`: the values form runs of this many consecutive integers
//!   along `d` (each run starting at an index that is a multiple of its length);
//! * `divisibility[d]`: the first value of every run is a multiple of this
//!   power of two (bytes for pointers, the value itself for integers);
//! * `constancy[d]`: the values are equal in aligned groups of this many.
//!
//! Load and store vector widths follow from the pointers' contiguity and
//! divisibility and the mask's constancy. Facts come from `arange`, constants,
//! `splat`/`broadcast`, `program_id * BLOCK`-style arithmetic and the
//! `@div(n)` hints of kernel parameters.

use std::collections::HashMap;

use tessera_tir::{BinaryOp, CmpPred, Constant, ElemType, Kernel, Op, OpKind, Region, ValueId};

/// The largest divisibility tracked (the divisibility of 0).
pub const MAX_DIVISIBILITY: u64 = 1 << 30;

/// What is known about one value; scalars have vectors of length 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AxisInfo {
    pub contiguity: Vec<u32>,
    pub divisibility: Vec<u64>,
    pub constancy: Vec<u32>,
}

impl AxisInfo {
    /// Nothing known, for a value of `shape`.
    pub fn unknown(shape: &[u32]) -> AxisInfo {
        let rank = shape.len().max(1);
        AxisInfo { contiguity: vec![1; rank], divisibility: vec![1; rank], constancy: vec![1; rank] }
    }

    /// A value equal everywhere with divisibility `div`.
    pub fn uniform(shape: &[u32], div: u64) -> AxisInfo {
        let rank = shape.len().max(1);
        let constancy = if shape.is_empty() { vec![1] } else { shape.to_vec() };
        AxisInfo { contiguity: vec![1; rank], divisibility: vec![div; rank], constancy }
    }

    fn dims(&self) -> usize {
        self.contiguity.len()
    }
}

/// The largest power of two dividing `v` (capped at [`MAX_DIVISIBILITY`]).
pub fn pow2_divisor(v: i64) -> u64 {
    if v == 0 { MAX_DIVISIBILITY } else { (1u64 << v.unsigned_abs().trailing_zeros()).min(MAX_DIVISIBILITY) }
}

fn floor_pow2(v: u64) -> u64 {
    if v == 0 { 1 } else { 1u64 << (63 - v.leading_zeros()) }
}

/// Runs the analysis over the whole kernel.
pub fn analyze_axis_info(kernel: &Kernel) -> HashMap<ValueId, AxisInfo> {
    let mut infos = HashMap::new();
    for param in &kernel.params {
        let ty = kernel.values.get(param.value.0 as usize);
        let hinted = param.hints.divisibility.map(|d| floor_pow2(u64::from(d)));
        let div = match ty.and_then(|t| t.elem()) {
            // Unhinted pointers are at least aligned to their element.
            Some(ElemType::Ptr(pointee)) => hinted.unwrap_or(u64::from(pointee.bytes())),
            _ => hinted.unwrap_or(1),
        };
        infos.insert(param.value, AxisInfo::uniform(&[], div));
    }
    let mut analysis = Analysis { kernel, infos };
    analysis.region(&kernel.body);
    analysis.infos
}

struct Analysis<'k> {
    kernel: &'k Kernel,
    infos: HashMap<ValueId, AxisInfo>,
}

impl Analysis<'_> {
    fn shape(&self, v: ValueId) -> Vec<u32> {
        self.kernel.values.get(v.0 as usize).map(|t| t.shape().to_vec()).unwrap_or_default()
    }

    fn info(&self, v: ValueId) -> AxisInfo {
        self.infos.get(&v).cloned().unwrap_or_else(|| AxisInfo::unknown(&self.shape(v)))
    }

    fn region(&mut self, region: &Region) {
        for &arg in &region.args {
            // Kernel parameters (the body's arguments) keep their hinted facts.
            if !self.infos.contains_key(&arg) {
                let shape = self.shape(arg);
                self.infos.insert(arg, AxisInfo::unknown(&shape));
            }
        }
        for op in &region.ops {
            self.op(op);
            for inner in &op.regions {
                self.region(inner);
            }
        }
    }

    fn op(&mut self, op: &Op) {
        let Some(&result) = op.results.first() else { return };
        let shape = self.shape(result);
        let operand = |i: usize| op.operands.get(i).map(|&v| self.info(v));
        let info = match (&op.kind, operand(0), operand(1)) {
            (OpKind::Constant(Constant::Int(c)), _, _) => AxisInfo::uniform(&shape, pow2_divisor(*c)),
            (OpKind::Constant(Constant::Bool(b)), _, _) => AxisInfo::uniform(&shape, pow2_divisor(i64::from(*b))),
            (OpKind::Constant(Constant::Float(_)) | OpKind::ProgramId(_) | OpKind::NumPrograms(_), _, _) => {
                AxisInfo::uniform(&shape, 1)
            }
            (OpKind::Arange { start, .. }, _, _) => AxisInfo {
                contiguity: vec![shape.first().copied().unwrap_or(1)],
                divisibility: vec![pow2_divisor(*start)],
                constancy: vec![1],
            },
            (OpKind::Splat, Some(a), _) => AxisInfo::uniform(&shape, a.divisibility[0]),
            (OpKind::Broadcast, Some(a), _) => {
                let from = op.operands.first().map(|&v| self.shape(v)).unwrap_or_default();
                let mut info = a.clone();
                for (d, (&f, &t)) in from.iter().zip(&shape).enumerate() {
                    if f == 1 && t > 1 && d < info.dims() {
                        info.constancy[d] = t;
                        info.contiguity[d] = 1;
                    }
                }
                info
            }
            (OpKind::ExpandDims(axis), Some(a), _) => {
                let from = op.operands.first().map(|&v| self.shape(v)).unwrap_or_default();
                if from.is_empty() {
                    AxisInfo::uniform(&shape, a.divisibility[0])
                } else {
                    // Along the new unit dimension every element starts a run.
                    let div = (0..a.dims()).map(|d| if a.contiguity[d] > 1 { 1 } else { a.divisibility[d] }).min();
                    let axis = (*axis as usize).min(a.dims());
                    let mut info = a.clone();
                    info.contiguity.insert(axis, 1);
                    info.divisibility.insert(axis, div.unwrap_or(1));
                    info.constancy.insert(axis, 1);
                    info
                }
            }
            (OpKind::Binary(BinaryOp::Add), Some(a), Some(b)) => add(&a, &b, 1, true),
            (OpKind::Binary(BinaryOp::Sub), Some(a), Some(b)) => add(&a, &b, 1, false),
            (OpKind::Binary(BinaryOp::Mul), Some(a), Some(b)) => AxisInfo {
                contiguity: vec![1; a.dims()],
                divisibility: a.divisibility.iter().zip(&b.divisibility).map(|(x, y)| (x * y).min(MAX_DIVISIBILITY)).collect(),
                constancy: gcd(&a.constancy, &b.constancy),
            },
            (OpKind::AddPtr, Some(a), Some(b)) => {
                let bytes = self.kernel.values.get(result.0 as usize).and_then(|t| t.elem()).and_then(ElemType::pointee);
                add(&a, &b, u64::from(bytes.map_or(1, |s| s.bytes())), true)
            }
            (OpKind::Compare(pred), Some(a), Some(b)) => {
                let mut constancy = gcd(&a.constancy, &b.constancy);
                if matches!(pred, CmpPred::Lt | CmpPred::Ge) {
                    // `offs < n` with runs of `offs` aligned to k and n a multiple
                    // of k is constant over each run.
                    for (d, (c, &dim)) in constancy.iter_mut().zip(&shape).enumerate() {
                        if b.constancy[d] == dim && a.contiguity[d] > 1 {
                            let k = u64::from(a.contiguity[d]).min(a.divisibility[d]).min(b.divisibility[d]);
                            *c = (*c).max(k as u32);
                        }
                    }
                }
                AxisInfo { contiguity: vec![1; a.dims()], divisibility: vec![1; a.dims()], constancy }
            }
            (OpKind::Cast, Some(a), _) if self.is_int_to_int(op) => a,
            (kind, _, _) if kind.is_elementwise() => {
                let mut info = AxisInfo::unknown(&shape);
                for &v in &op.operands {
                    info.constancy = gcd(&info.constancy, &self.info(v).constancy);
                }
                if op.operands.iter().all(|&v| self.info(v).constancy.iter().zip(&shape).all(|(c, d)| c == d)) {
                    info.constancy = shape.clone();
                }
                info
            }
            _ => AxisInfo::unknown(&shape),
        };
        self.infos.insert(result, info);
    }

    fn is_int_to_int(&self, op: &Op) -> bool {
        let elem = |v: ValueId| self.kernel.values.get(v.0 as usize).and_then(|t| t.scalar_elem());
        match (op.operands.first().and_then(|&v| elem(v)), op.results.first().and_then(|&v| elem(v))) {
            (Some(from), Some(to)) => from.is_int() && to.is_int() && !to.is_bool() && to.bits() >= from.bits(),
            _ => false,
        }
    }
}

fn gcd(a: &[u32], b: &[u32]) -> Vec<u32> {
    // Everything is a power of two: the gcd is the minimum.
    a.iter().zip(b).map(|(x, y)| *x.min(y)).collect()
}

/// `a + b * scale` (`scale` is the pointee size for `addptr`); `commutes` is
/// false for `a - b`, whose contiguity comes from `a` only.
fn add(a: &AxisInfo, b: &AxisInfo, scale: u64, commutes: bool) -> AxisInfo {
    let dims = a.dims().min(b.dims());
    let contiguity = (0..dims)
        .map(|d| {
            let left = a.contiguity[d].min(b.constancy[d]);
            if commutes { left.max(a.constancy[d].min(b.contiguity[d])) } else { left }
        })
        .collect();
    let divisibility =
        (0..dims).map(|d| a.divisibility[d].min((b.divisibility[d] * scale).min(MAX_DIVISIBILITY))).collect();
    AxisInfo { contiguity, divisibility, constancy: gcd(&a.constancy, &b.constancy) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value printed as `%n`.
    fn value(kernel: &Kernel, n: u32) -> ValueId {
        let names = tessera_tir::printer::Numbering::of(kernel);
        (0..kernel.values.len() as u32).map(ValueId).find(|&v| names.name(v) == format!("%{n}")).expect("value")
    }

    fn infos(text: &str) -> (Kernel, HashMap<ValueId, AxisInfo>) {
        let kernel = tessera_tir::parse_kernel(text).unwrap_or_else(|e| panic!("{e:?}"));
        let infos = analyze_axis_info(&kernel);
        (kernel, infos)
    }

    #[test]
    fn block_offsets_with_hinted_pointer_are_contiguous_and_aligned() {
        let (kernel, infos) = infos(
            "kernel @k(%0: ptr<f32> \"x\" {div = 16}, %1: i32 \"n\" {div = 16}) source(\"k\") grid(1) warps(4) stages(1) {
  %2 = program_id 0 : i32
  %3 = constant 1024 : i32
  %4 = mul %2, %3 : i32
  %5 = arange 0, 1024 : tensor<1024xi32>
  %6 = splat %4 : tensor<1024xi32>
  %7 = add %6, %5 : tensor<1024xi32>
  %8 = splat %1 : tensor<1024xi32>
  %9 = cmp lt %7, %8 : tensor<1024xi1>
  %10 = splat %0 : tensor<1024xptr<f32>>
  %11 = addptr %10, %7 : tensor<1024xptr<f32>>
  %12 = load %11, %9 : tensor<1024xf32>
  return
}",
        );
        let at = |n: u32| infos[&value(&kernel, n)].clone();
        assert_eq!(at(4).divisibility, vec![1024]);
        assert_eq!(at(7), AxisInfo { contiguity: vec![1024], divisibility: vec![1024], constancy: vec![1] });
        assert_eq!(at(9).constancy, vec![16], "the mask is uniform over aligned runs of 16");
        assert_eq!(at(11), AxisInfo { contiguity: vec![1024], divisibility: vec![16], constancy: vec![1] });
    }

    #[test]
    fn unhinted_values_know_little() {
        let (kernel, infos) = infos(
            "kernel @k(%0: ptr<f16> \"x\", %1: i32 \"s\") source(\"k\") grid(1) warps(4) stages(1) {
  %2 = arange 0, 64 : tensor<64xi32>
  %3 = splat %1 : tensor<64xi32>
  %4 = mul %2, %3 : tensor<64xi32>
  %5 = splat %0 : tensor<64xptr<f16>>
  %6 = addptr %5, %4 : tensor<64xptr<f16>>
  return
}",
        );
        assert_eq!(infos[&value(&kernel, 4)].contiguity, vec![1]);
        assert_eq!(infos[&value(&kernel, 6)], AxisInfo { contiguity: vec![1], divisibility: vec![2], constancy: vec![1] });
        assert_eq!(pow2_divisor(-48), 16);
        assert_eq!(pow2_divisor(0), MAX_DIVISIBILITY);
    }
}
