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
//! `@div(n)` hints of kernel parameters. An integer parameter with the
//! `@contig` hint is the constant 1 (the caller promises it, the runtime
//! checks it at launch, and the lowering uses the constant): `offs * stride`
//! keeps the contiguity of `offs`, so strided loads of contiguous rows still
//! vectorize.

use std::collections::{BTreeSet, HashMap};

use tessera_tir::{BinaryOp, CmpPred, Constant, ElemType, Kernel, Op, OpKind, Param, Region, ValueId};

/// Rounds of a loop's fixpoint before its carried values are given up on.
const MAX_LOOP_ROUNDS: usize = 8;

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
    analyze_axis_facts(kernel).0
}

/// The axis info of every value, and the integer values known to equal 1
/// everywhere (`@contig` parameters, the constant 1, and their splats,
/// broadcasts, integer casts and products).
pub fn analyze_axis_facts(kernel: &Kernel) -> (HashMap<ValueId, AxisInfo>, BTreeSet<ValueId>) {
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
    let ones = kernel.params.iter().filter(|p| is_unit_stride(kernel, p)).map(|p| p.value).collect();
    let mut analysis = Analysis { kernel, infos, ones };
    analysis.region(&kernel.body);
    (analysis.infos, analysis.ones)
}

/// Whether `param` is an integer the caller promises to be 1 (`@contig`).
pub fn is_unit_stride(kernel: &Kernel, param: &Param) -> bool {
    let elem = kernel.values.get(param.value.0 as usize).and_then(|t| t.scalar_elem());
    param.hints.contiguous && elem.is_some_and(|e| e.is_int() && !e.is_bool())
}

struct Analysis<'k> {
    kernel: &'k Kernel,
    infos: HashMap<ValueId, AxisInfo>,
    /// Integer values equal to 1 everywhere: `@contig` parameters, the
    /// constant 1, and their splats, broadcasts and integer casts.
    ones: BTreeSet<ValueId>,
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
            match (&op.kind, op.regions.first()) {
                (OpKind::For, Some(body)) => self.for_loop(op, body),
                _ => {
                    for inner in &op.regions {
                        self.region(inner);
                    }
                }
            }
        }
    }

    /// A `for` loop: the induction variable is `lower + k * step`; each
    /// loop-carried value holds what is true of its init and of every value
    /// the body yields for it (Triton's fixpoint: start from the init's
    /// facts, weaken them by what the body yields until nothing changes).
    /// Pointers advanced by a multiple of the block stay contiguous.
    fn for_loop(&mut self, op: &Op, body: &Region) {
        let (Some(&iv), [lower, _, step, inits @ ..]) = (body.args.first(), op.operands.as_slice()) else {
            self.region(body);
            return;
        };
        // iv = lower + k * step: divisible by what divides both.
        let div = self.info(*lower).divisibility[0].min(self.info(*step).divisibility[0]);
        self.infos.insert(iv, AxisInfo::uniform(&[], div));
        let args = body.args.get(1..).unwrap_or_default();
        let yielded: Vec<ValueId> = match body.ops.last() {
            Some(y) if matches!(y.kind, OpKind::Yield) => y.operands.clone(),
            _ => Vec::new(),
        };
        let mut carried: Vec<AxisInfo> = inits.iter().map(|&v| self.info(v)).collect();
        let mut stable = false;
        for _ in 0..MAX_LOOP_ROUNDS {
            for (&arg, info) in args.iter().zip(&carried) {
                self.infos.insert(arg, info.clone());
            }
            self.region(body);
            let next: Vec<AxisInfo> = carried
                .iter()
                .enumerate()
                .map(|(i, c)| match yielded.get(i) {
                    Some(&y) => meet(c, &self.info(y)),
                    None => AxisInfo {
                        contiguity: vec![1; c.dims()],
                        divisibility: vec![1; c.dims()],
                        constancy: vec![1; c.dims()],
                    },
                })
                .collect();
            if next == carried {
                stable = true;
                break;
            }
            carried = next;
        }
        if !stable {
            // Still weakening: assume nothing of the carried values.
            carried = args.iter().map(|&a| AxisInfo::unknown(&self.shape(a))).collect();
            for (&arg, info) in args.iter().zip(&carried) {
                self.infos.insert(arg, info.clone());
            }
            self.region(body);
        }
        for (&result, info) in op.results.iter().zip(carried) {
            self.infos.insert(result, info);
        }
    }

    fn op(&mut self, op: &Op) {
        let Some(&result) = op.results.first() else { return };
        let shape = self.shape(result);
        let one = |i: usize| op.operands.get(i).is_some_and(|v| self.ones.contains(v));
        let is_one = match &op.kind {
            OpKind::Constant(Constant::Int(1)) => true,
            OpKind::Splat | OpKind::Broadcast | OpKind::ExpandDims(_) => one(0),
            OpKind::Cast => one(0) && self.is_int_to_int(op),
            OpKind::Binary(BinaryOp::Mul) => one(0) && one(1),
            _ => false,
        };
        if is_one {
            self.ones.insert(result);
        }
        // `x * 1` and `1 * x` are `x`.
        if let (OpKind::Binary(BinaryOp::Mul), Some(&a), Some(&b)) = (&op.kind, op.operands.first(), op.operands.get(1))
            && (self.ones.contains(&a) || self.ones.contains(&b))
        {
            let other = if self.ones.contains(&b) { a } else { b };
            let info = self.info(other);
            self.infos.insert(result, info);
            return;
        }
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
                divisibility: a
                    .divisibility
                    .iter()
                    .zip(&b.divisibility)
                    .map(|(x, y)| (x * y).min(MAX_DIVISIBILITY))
                    .collect(),
                constancy: gcd(&a.constancy, &b.constancy),
            },
            (OpKind::AddPtr, Some(a), Some(b)) => {
                let bytes =
                    self.kernel.values.get(result.0 as usize).and_then(|t| t.elem()).and_then(ElemType::pointee);
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
                // Constant over a group where every operand is.
                let mut info = AxisInfo::unknown(&shape);
                if !shape.is_empty() {
                    info.constancy = shape.clone();
                    for &v in &op.operands {
                        info.constancy = gcd(&info.constancy, &self.info(v).constancy);
                    }
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

/// What is true of both `a` and `b` (facts are powers of two: the minimum).
fn meet(a: &AxisInfo, b: &AxisInfo) -> AxisInfo {
    AxisInfo {
        contiguity: gcd(&a.contiguity, &b.contiguity),
        divisibility: a.divisibility.iter().zip(&b.divisibility).map(|(x, y)| *x.min(y)).collect(),
        constancy: gcd(&a.constancy, &b.constancy),
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
        assert_eq!(
            infos[&value(&kernel, 6)],
            AxisInfo { contiguity: vec![1], divisibility: vec![2], constancy: vec![1] }
        );
        assert_eq!(pow2_divisor(-48), 16);
        assert_eq!(pow2_divisor(0), MAX_DIVISIBILITY);
    }

    #[test]
    fn a_contig_stride_is_one_and_keeps_rows_contiguous() {
        // a + rows * stride_m + cols * stride_k with stride_m divisible by 8
        // elements and stride_k promised to be 1.
        let text = "kernel @k(%0: ptr<bf16> \"a\" {div = 16}, %1: i32 \"sm\" {div = 8}, %2: i32 \"sk\" {HINT}) source(\"k\") grid(1) warps(4) stages(1) {
  %3 = arange 0, 16 : tensor<16xi32>
  %4 = arange 0, 64 : tensor<64xi32>
  %5 = expand_dims %3 {axis = 1} : tensor<16x1xi32>
  %6 = splat %1 : tensor<16x1xi32>
  %7 = mul %5, %6 : tensor<16x1xi32>
  %8 = expand_dims %4 {axis = 0} : tensor<1x64xi32>
  %9 = splat %2 : tensor<1x64xi32>
  %10 = mul %8, %9 : tensor<1x64xi32>
  %11 = broadcast %7 : tensor<16x64xi32>
  %12 = broadcast %10 : tensor<16x64xi32>
  %13 = add %11, %12 : tensor<16x64xi32>
  %14 = splat %0 : tensor<16x64xptr<bf16>>
  %15 = addptr %14, %13 : tensor<16x64xptr<bf16>>
  %16 = constant 64 : i32
  %17 = mul %16, %2 : i32
  return
}";
        let (kernel, hinted) = infos(&text.replace("HINT", "contig"));
        let at = |n: u32| hinted[&value(&kernel, n)].clone();
        assert_eq!(at(10).contiguity, vec![1, 64], "offs * 1 keeps the contiguity of offs");
        assert_eq!(at(15).contiguity, vec![1, 64]);
        assert_eq!(at(15).divisibility[1], 16, "rows start 16-byte aligned: 8-element vectors");
        assert_eq!(at(17).divisibility, vec![64], "64 * 1 is 64");
        // Without the promise the stride is unknown: nothing is contiguous.
        let (kernel, unhinted) = infos(&text.replace("HINT", "div = 1"));
        assert_eq!(unhinted[&value(&kernel, 15)].contiguity, vec![1, 1]);
    }
}
