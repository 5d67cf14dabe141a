//! Lightning Attention-2 (`kernels-dsl/lightning_attn.tsr`) on the CPU
//! interpreter: the runtime's own launch plan (`tessera_runtime::
//! lightning_attention::plan`), step by step, against the float64
//! recurrence. Every output starts as NaN, so an element no kernel writes
//! fails the comparison.

use std::collections::{BTreeMap, HashMap};

use tessera_interp::{HostBuffer, Interleave, KernelArg, LaunchOptions};
use tessera_runtime::DType;
use tessera_runtime::lightning_attention::{Buf, Problem, Step, StepArg, TensorLayout, plan};
use tessera_tests::compare::{Tolerance, assert_close, tolerance};
use tessera_tests::harness::{compile, int};
use tessera_tests::inputs::{Trial, normal, trials, uniform};
use tessera_tests::layout::Layout;
use tessera_tests::reference::{AttentionShape, lightning_attention};
use tessera_tir::{Kernel, ScalarType};

const FILE: &str = "lightning_attn.tsr";

fn scalar(d: DType) -> ScalarType {
    match d {
        DType::BF16 => ScalarType::BF16,
        DType::F16 => ScalarType::F16,
        DType::I32 => ScalarType::I32,
        _ => ScalarType::F32,
    }
}

/// Host buffers by role, and the compiled specializations.
struct Interp {
    /// The tuning point every kernel is compiled at (beside the pinned DK).
    point: Point,
    /// How chained launches schedule their programs (None: one after another).
    interleave: Option<Interleave>,
    kernels: HashMap<(String, i64), Kernel>,
    bufs: BTreeMap<Buf, HostBuffer>,
}

impl Interp {
    /// Run the steps; with `split`, each chained step as two launches, the
    /// first over the first `split` walk positions, after which their slots
    /// get their segments' own states back (from `la_chunk_state` with the
    /// chained step's operands) and their flags 1, so that the second
    /// launch's first programs fold those all the way back to S0: the path
    /// of a look-back that programs running one after another never take.
    fn run(&mut self, steps: &[Step], split: Option<i32>) {
        for step in steps {
            let arg = |name: &str| match step.args.iter().find(|(n, _)| *n == name) {
                Some((_, StepArg::I32(v))) => *v,
                _ => panic!("{}: no integer `{name}`", step.kernel),
            };
            match split {
                Some(k) if step.kernel.starts_with("la_chained") => {
                    let segments = arg("seg_count");
                    assert!(0 < k && k < segments, "split {k} of {segments} segments");
                    let with = |first: i32, count: i32| {
                        let mut s = step.clone();
                        for (name, a) in &mut s.args {
                            match *name {
                                "seg_first" => *a = StepArg::I32(first),
                                "seg_count" => *a = StepArg::I32(count),
                                _ => {}
                            }
                        }
                        s
                    };
                    self.launch(&with(0, k));
                    self.assert_chain_scratch_zero(&step.kernel);
                    // The first launch's inclusive states, put back after the
                    // second (the passes after read them).
                    let Some((_, StepArg::Buf(states))) = step.args.iter().find(|(n, _)| *n == "st") else {
                        panic!("{}: no `st`", step.kernel)
                    };
                    let inclusive = self.get(*states);
                    self.launch(&own_states(step, k));
                    let slices = (arg("ev") as u64).div_ceil(self.point.block_e as u64) as i32;
                    let streams = arg("batch") * arg("heads") * slices;
                    let flags = self.bufs.get_mut(&Buf::Flags).unwrap();
                    let mut values = flags.to_f64();
                    // Flags are per segment: walk position w is segment w,
                    // or segments - 1 - w walking backwards.
                    let (w, streams, all) = (k as usize, streams as usize, segments as usize);
                    let walked = if arg("reverse") != 0 { all - w..all } else { 0..w };
                    values[walked.start * streams..walked.end * streams].fill(1.0);
                    *flags = HostBuffer::from_f64(ScalarType::I32, &values);
                    self.launch(&with(k, segments - k));
                    let mut merged = self.get(*states);
                    let (bh, per_head, slot) =
                        ((arg("batch") * arg("heads")) as usize, arg("st_bh") as usize, arg("st_seg") as usize);
                    for head in 0..bh {
                        for j in walked.clone() {
                            let at = head * per_head + j * slot..head * per_head + (j + 1) * slot;
                            merged[at.clone()].copy_from_slice(&inclusive[at]);
                        }
                    }
                    let elem = self.bufs[states].elem();
                    self.bufs.insert(*states, HostBuffer::from_f64(elem, &merged));
                }
                _ => self.launch(step),
            }
            if step.kernel.starts_with("la_chained") {
                self.assert_chain_scratch_zero(&step.kernel);
            }
            if step.kernel.starts_with("la_chunk_state") {
                self.assert_tickets_zero(&step.kernel);
            }
        }
    }

    /// The last program of a chained launch leaves flags and counters zero.
    fn assert_chain_scratch_zero(&self, kernel: &str) {
        for b in [Buf::Flags, Buf::Counters] {
            assert!(self.get(b).iter().all(|&x| x == 0.0), "{kernel} left `{b}` nonzero");
        }
    }

    /// The piece of a chunk-state walk that finishes last leaves its
    /// ticket zero, for the next launch.
    fn assert_tickets_zero(&self, kernel: &str) {
        for b in [Buf::FwdTickets, Buf::BwdTickets] {
            if let Some(tickets) = self.bufs.get(&b) {
                assert!(tickets.to_f64().iter().all(|&x| x == 0.0), "{kernel} left `{b}` nonzero");
            }
        }
    }

    fn launch(&mut self, step: &Step) {
        {
            let dk = step.pins.iter().find(|(n, _)| *n == "DK").map_or(0, |p| p.1);
            let point = self.point;
            let kernel = self.kernels.entry((step.kernel.clone(), dk)).or_insert_with(|| {
                let mut consts = vec![("BLOCK", int(point.block)), ("BLOCK_E", int(point.block_e))];
                if dk != 0 {
                    consts.push(("DK", int(dk)));
                }
                compile(FILE, &step.kernel, &consts)
            });
            let roles: Vec<Buf> =
                step.args.iter().filter_map(|(_, a)| if let StepArg::Buf(b) = a { Some(*b) } else { None }).collect();
            let mut distinct: Vec<Buf> = roles.clone();
            distinct.sort();
            distinct.dedup();
            let mut buffers: Vec<HostBuffer> = distinct
                .iter()
                .map(|b| self.bufs.remove(b).unwrap_or_else(|| panic!("{}: no buffer for `{b}`", step.kernel)))
                .collect();
            let args: Vec<KernelArg> = kernel
                .params
                .iter()
                .map(|param| match step.args.iter().find(|(n, _)| *n == param.name) {
                    Some((_, StepArg::Buf(b))) => KernelArg::Buffer(distinct.binary_search(b).unwrap()),
                    Some((_, StepArg::I32(v))) => KernelArg::Int(i64::from(*v)),
                    Some((_, StepArg::F32(v))) => KernelArg::Float(f64::from(*v)),
                    None => panic!("the plan gives `{}` no `{}`", step.kernel, param.name),
                })
                .collect();
            assert_eq!(step.args.len(), kernel.params.len(), "{}: the plan's arguments do not match", step.kernel);
            // The kernels whose programs hand each other work.
            let interleave =
                self.interleave.filter(|_| ["la_chained", "la_chunk_state"].iter().any(|k| step.kernel.starts_with(k)));
            let options = LaunchOptions { interleave, ..LaunchOptions::default() };
            if let Err(e) = tessera_interp::launch_with(kernel, &args, &mut buffers, &options) {
                panic!("{} (DK = {dk}): {e}", step.kernel);
            }
            for (b, buffer) in distinct.into_iter().zip(buffers) {
                self.bufs.insert(b, buffer);
            }
        }
    }

    fn get(&self, b: Buf) -> Vec<f64> {
        self.bufs[&b].to_f64()
    }
}

/// The chunk-state launch that writes, into a chained step's state slots,
/// the own states of the segments at its first `walked` walk positions.
fn own_states(chained: &Step, walked: i32) -> Step {
    let mut step = chained.clone();
    step.kernel = chained.kernel.replace("la_chained", "la_chunk_state");
    let get = |name: &str| chained.args.iter().find(|(n, _)| *n == name).map(|(_, a)| *a);
    let (Some(StepArg::I32(segments)), Some(StepArg::I32(reverse)), Some(StepArg::F32(c_state))) =
        (get("seg_count"), get("reverse"), get("c_state"))
    else {
        panic!("{}: no seg_count, reverse or c_state", chained.kernel)
    };
    let first = if reverse != 0 { segments - walked } else { 0 };
    let (parts, tickets) = plan::piece_scratch(reverse != 0);
    let Some(StepArg::I32(seg_len)) = get("seg_len") else { panic!("{}: no seg_len", chained.kernel) };
    let wanted = [
        "k",
        "v",
        "st",
        "s",
        "batch",
        "heads",
        "n",
        "ev",
        "seg_len",
        "stride_kb",
        "stride_kh",
        "stride_kn",
        "stride_vb",
        "stride_vh",
        "stride_vn",
        "st_bh",
        "st_seg",
        "st_r",
        "st_c",
        "reverse",
    ];
    step.args.retain(|(n, _)| wanted.contains(n));
    step.args.extend([
        // The own states only: no transposed copy (`has_t` 0 never writes `st_t`).
        ("st_t", StepArg::Buf(Buf::Placeholder)),
        ("has_t", StepArg::I32(0)),
        ("scale", StepArg::F32(c_state)),
        ("seg_first", StepArg::I32(first)),
        ("seg_count", StepArg::I32(walked)),
        // Whole walks: one piece; the parts and tickets are empty (a chained
        // plan's pieces are 1) and never touched.
        ("part", StepArg::Buf(parts)),
        ("ticket", StepArg::Buf(tickets)),
        ("part_bh", StepArg::I32(0)),
        ("part_seg", StepArg::I32(0)),
        ("pieces", StepArg::I32(1)),
        ("piece_len", StepArg::I32(seg_len)),
    ]);
    step.outputs = vec!["st"];
    step
}

/// The `[b, h, n, w]` view of a tensor of width `w` as the problem stores it,
/// checked against the strides the plan passes to the kernels.
fn layout(p: &Problem, w: usize) -> Layout {
    let shape = [p.batch, p.heads, p.n, w];
    let layout = match p.layout {
        TensorLayout::Bhnd => Layout::contiguous(&shape),
        TensorLayout::Bnhd => Layout::permuted(&shape, &[0, 2, 1, 3]),
    };
    assert_eq!(layout.stride_args()[..3], p.strides(w), "{p}: the plan's strides");
    layout
}

fn tol(d: DType) -> Tolerance {
    match d {
        DType::BF16 => tolerance::BF16,
        DType::F16 => tolerance::F16,
        _ => Tolerance { rel_frobenius: 1e-5, max_abs: 1e-4 },
    }
}

/// One problem: random inputs, the forward and backward plans, every output
/// against the reference.
/// How chained steps run on the interpreter: `split` (see [`Interp::run`]),
/// or `interleave`d.
#[derive(Clone, Copy, Default)]
struct Schedule {
    split: Option<i32>,
    interleave: Option<Interleave>,
}

fn check(p: &Problem, trial: &mut Trial, point: Point, decay: (f64, f64), schedule: Schedule) {
    let shape = AttentionShape { batch: p.batch, heads: p.heads, n: p.n, d: p.d, e: p.e };
    let elem = scalar(p.dtype);
    let rng = &mut trial.rng;
    let round = |x: Vec<f64>| HostBuffer::from_f64(elem, &x).to_f64();
    let q = round(normal(rng, p.elements(p.d), 0.0, 1.0));
    let k = round(normal(rng, p.elements(p.d), 0.0, 1.0));
    let v = round(normal(rng, p.elements(p.e), 0.0, 1.0));
    let d_o = round(normal(rng, p.elements(p.e), 0.0, 1.0));
    let s: Vec<f64> = if decay.1 > decay.0 {
        uniform(rng, p.heads, decay.0, decay.1).iter().map(|&x| x as f32 as f64).collect()
    } else {
        vec![decay.0; p.heads]
    };
    let s0 = p.initial_state.then(|| normal(rng, p.head_state_elements(), 0.0, 1.0));
    let want = lightning_attention(&q, &k, &v, &s, f64::from(p.scale), s0.as_deref(), Some(&d_o), shape);

    let mut run = Interp { point, interleave: schedule.interleave, kernels: HashMap::new(), bufs: BTreeMap::new() };
    let mut put = |b: Buf, values: Option<Vec<f64>>| {
        let (dtype, shape) = p.buffer(b);
        let len = shape.iter().product();
        let buffer = match values {
            Some(v) => HostBuffer::from_f64(scalar(dtype), &v),
            None => HostBuffer::filled(scalar(dtype), len, f64::NAN),
        };
        run.bufs.insert(b, buffer);
    };
    let (lk, lv) = (layout(p, p.d), layout(p, p.e));
    put(Buf::Q, Some(lk.scatter(&q)));
    put(Buf::K, Some(lk.scatter(&k)));
    put(Buf::V, Some(lv.scatter(&v)));
    put(Buf::DO, Some(lv.scatter(&d_o)));
    put(Buf::Decay, Some(s.clone()));
    put(Buf::InitialState, s0.clone());
    for b in [
        Buf::O,
        Buf::DQ,
        Buf::DK,
        Buf::DV,
        Buf::FwdStates,
        Buf::BwdStates,
        Buf::FwdStatesT,
        Buf::BwdStatesT,
        Buf::FinalState,
        Buf::DInitialState,
        Buf::FwdParts,
        Buf::BwdParts,
    ] {
        put(b, None);
    }
    // A chained plan's flags and counters, and the chunk states' tickets,
    // start zero, as allocations do.
    for b in [Buf::Flags, Buf::Counters, Buf::FwdTickets, Buf::BwdTickets] {
        put(b, Some(vec![0.0; p.buffer(b).1.iter().product()]));
    }
    put(Buf::Placeholder, Some(vec![f64::NAN; 4]));
    // Steps the plan lets run beside later ones run as late as they may, so
    // a step that reads their output too early finds NaN.
    let latest = |steps: Vec<Step>| plan::latest_order(&steps).into_iter().cloned().collect::<Vec<_>>();
    run.run(&latest(plan::forward(p).expect("a valid problem")), schedule.split);
    run.run(&latest(plan::backward(p).expect("a valid problem")), schedule.split);

    let what = |name: &str| format!("{name}: {p} s={s:?} {}", trial.describe());
    let t = tol(p.dtype);
    let outputs = [
        ("o", Buf::O, &lv, &want.o),
        ("dq", Buf::DQ, &lk, &want.dq),
        ("dk", Buf::DK, &lk, &want.dk),
        ("dv", Buf::DV, &lv, &want.dv),
    ];
    let worst: Vec<_> =
        outputs.iter().map(|(name, b, l, want)| assert_close(&what(name), &l.gather(&run.get(*b)), want, t)).collect();
    let errors: Vec<String> = worst.iter().map(|c| format!("{:.2e}", c.rel_frobenius)).collect();
    println!("{}: relative errors of o, dq, dk, dv: {}", what(""), errors.join(" "));
    // States stay f32 on chip; compare them with the operands' tolerance.
    if p.final_state {
        assert_close(&what("final state"), &run.get(Buf::FinalState), &want.final_state, t);
    }
    if p.initial_state {
        assert_close(&what("dS0"), &run.get(Buf::DInitialState), &want.d_initial_state, t);
    }
}

/// `p` with S0 and the final state, in segments of `segment` tokens.
fn with_states(mut p: Problem, segment: usize) -> Problem {
    p.segment = Some(segment);
    p.initial_state = true;
    p.final_state = true;
    p
}

/// Tokens per step and value columns per program: both kernels (chunk
/// states and outputs) take the same two.
#[derive(Clone, Copy)]
struct Point {
    block: i64,
    block_e: i64,
}

const POINT_16BIT: Point = Point { block: 64, block_e: 32 };
const POINT_F32: Point = Point { block: 32, block_e: 32 };

/// bf16 over lengths that are one token, ragged, exactly a block and several
/// segments, with d != e both ways, both layouts, and every optional state
/// (one-segment plans, which run the output kernel alone, with and without
/// S0 and the final state).
#[test]
fn lightning_attention_bf16() {
    let cases = [
        // (n, d, e, segment, layout, S0, final, scale)
        (1, 32, 32, None, TensorLayout::Bhnd, false, false, 1.0),
        (17, 32, 64, None, TensorLayout::Bnhd, true, true, 1.0),
        (64, 64, 32, Some(64), TensorLayout::Bhnd, false, true, 0.5),
        (200, 32, 32, Some(64), TensorLayout::Bnhd, true, false, 1.0),
        (150, 32, 64, Some(128), TensorLayout::Bhnd, true, true, 0.25),
        (1000, 64, 64, Some(320), TensorLayout::Bnhd, true, true, 1.0),
        // One segment with S0 and no final state: the forward and dq start
        // from S0; dS0 comes from the dv pass's program.
        (100, 64, 32, None, TensorLayout::Bhnd, true, false, 1.0),
        // Several segments, neither state: neither pre-pass computes the
        // chunk state of the segment walked last (forward the last, backward
        // the first); their slots stay NaN, and no program may read them.
        (300, 32, 64, Some(64), TensorLayout::Bhnd, false, false, 1.0),
        // Segments that are not whole blocks: each chunk-state walk starts
        // (forward states) or ends (reverse states) on a partial block.
        (250, 32, 32, Some(100), TensorLayout::Bnhd, true, true, 1.0),
    ];
    for mut trial in trials("lightning_attention_bf16").into_iter().take(2) {
        for (i, &(n, d, e, segment, layout, s0, fin, scale)) in cases.iter().enumerate() {
            let mut p = Problem::new(2, 2, n, d, e, DType::BF16);
            p.layout = layout;
            p.segment = segment;
            p.initial_state = s0;
            p.final_state = fin;
            p.scale = scale;
            // s = 0 (no decay) first, then decays up to 1.
            let decay = if i == 0 || (trial.index == 0 && i == 1) { (0.0, 0.0) } else { (0.0, 1.0) };
            check(&p, &mut trial, POINT_16BIT, decay, Schedule::default());
        }
    }
}

#[test]
fn lightning_attention_f16() {
    for mut trial in trials("lightning_attention_f16").into_iter().take(2) {
        let p = with_states(Problem::new(1, 2, 130, 32, 32, DType::F16), 64);
        check(&p, &mut trial, POINT_16BIT, (0.0, 1.0), Schedule::default());
        let mut p = Problem::new(2, 1, 33, 64, 32, DType::F16);
        p.layout = TensorLayout::Bnhd;
        check(&p, &mut trial, POINT_16BIT, (0.0, 0.0), Schedule::default());
    }
}

/// Exact f32 dots: the result matches the f64 reference to f32 rounding.
#[test]
fn lightning_attention_f32() {
    for mut trial in trials("lightning_attention_f32").into_iter().take(1) {
        let p = Problem { scale: 0.5, ..with_states(Problem::new(1, 2, 70, 32, 32, DType::F32), 32) };
        check(&p, &mut trial, POINT_F32, (0.0, 1.0), Schedule::default());
    }
}

/// The chained plan (`la_chained`: one launch per pass, segments handing
/// each other their states through memory), over the same kinds of
/// problem: several segments (some not whole blocks, a short last one), d
/// != e both ways, both layouts, every optional state, no decay; and with
/// each chained launch split in two, so that a look-back folds the
/// contributions of every segment before it and S0.
#[test]
fn lightning_attention_chained_bf16() {
    let cases = [
        // (n, d, e, segment, layout, S0, final, scale, split)
        (200, 32, 32, 64, TensorLayout::Bhnd, true, true, 1.0, None),
        (250, 32, 64, 100, TensorLayout::Bnhd, true, false, 0.5, None),
        (300, 64, 32, 64, TensorLayout::Bhnd, false, true, 1.0, None),
        (300, 32, 64, 64, TensorLayout::Bhnd, true, true, 1.0, Some(3)),
        (330, 64, 32, 64, TensorLayout::Bnhd, true, true, 0.25, Some(4)),
        // One segment: the plain output kernel alone.
        (100, 32, 32, 128, TensorLayout::Bhnd, true, true, 1.0, None),
    ];
    for mut trial in trials("lightning_attention_chained_bf16").into_iter().take(2) {
        for (i, &(n, d, e, segment, layout, s0, fin, scale, split)) in cases.iter().enumerate() {
            let mut p = Problem::new(2, 2, n, d, e, DType::BF16);
            p.layout = layout;
            p.segment = Some(segment);
            p.chained = true;
            p.initial_state = s0;
            p.final_state = fin;
            p.scale = scale;
            // Split launches fold states across several segments: decays
            // small enough (or none) that far segments still count.
            let decay = match (split, trial.index) {
                (Some(_), 0) => (0.0, 0.0),
                (Some(_), _) => (0.0, 0.02),
                (None, 0) if i == 0 => (0.0, 0.0),
                (None, _) => (0.0, 1.0),
            };
            check(&p, &mut trial, POINT_16BIT, decay, Schedule { split, ..Schedule::default() });
        }
    }
}

#[test]
fn lightning_attention_chained_f16_f32() {
    for mut trial in trials("lightning_attention_chained_f16_f32").into_iter().take(1) {
        let p = Problem { chained: true, ..with_states(Problem::new(1, 2, 130, 32, 32, DType::F16), 32) };
        check(&p, &mut trial, POINT_16BIT, (0.0, 0.02), Schedule { split: Some(2), ..Schedule::default() });
        let p = Problem { chained: true, scale: 0.5, ..with_states(Problem::new(1, 2, 70, 32, 32, DType::F32), 32) };
        check(&p, &mut trial, POINT_F32, (0.0, 0.05), Schedule { split: Some(1), ..Schedule::default() });
    }
}

/// Chained plans with their programs interleaved (two to five in flight,
/// handing over at every atomic and fence, 24 seeds): look-backs meet
/// segments that have published nothing yet, own states only, and states
/// being replaced while they read them. The schedule depends on the seed
/// alone (no program's control flow depends on the data); several seeds
/// read a state while its segment replaces it, which only the sequence
/// lock's second flag read catches.
#[test]
fn lightning_attention_chained_interleaved() {
    for mut trial in trials("lightning_attention_chained_interleaved").into_iter().take(1) {
        for seed in 0..24 {
            let interleave = Some(Interleave { resident: 2 + (seed % 4) as u32, seed });
            let p = Problem { chained: true, ..with_states(Problem::new(1, 2, 300, 32, 64, DType::BF16), 64) };
            check(&p, &mut trial, POINT_16BIT, (0.0, 0.02), Schedule { interleave, ..Schedule::default() });
        }
    }
}

/// Chunk-state walks cut into pieces (segments of 512 tokens in 4 pieces
/// of 128): heads whose reach ends in the first piece, in a later one, or
/// nowhere (s = 0), forwards and in reverse, with S0 and the final state.
/// Parts start NaN, so a last piece that adds a part no piece stored, or a
/// fold that reads a state no piece completed, fails; and the pieces run
/// interleaved too (two to five programs in flight, handing over at every
/// atomic and fence), so that any piece may be the one that finishes last.
#[test]
fn lightning_attention_pieces() {
    for mut trial in trials("lightning_attention_pieces").into_iter().take(1) {
        for (dtype, point) in [(DType::BF16, POINT_16BIT), (DType::F32, POINT_F32)] {
            let p = Problem { pieces: Some(4), ..with_states(Problem::new(1, 4, 1700, 32, 64, dtype), 512) };
            assert_eq!((p.pieces(), p.piece_len()), (4, 128));
            for decay in [(0.0, 1.0), (0.0, 0.0), (0.0, 0.3)] {
                check(&p, &mut trial, point, decay, Schedule::default());
            }
        }
        for seed in 0..8 {
            let interleave = Some(Interleave { resident: 2 + (seed % 4) as u32, seed });
            let p = Problem { pieces: Some(4), ..with_states(Problem::new(1, 2, 1100, 32, 64, DType::BF16), 512) };
            check(&p, &mut trial, POINT_16BIT, (0.0, 0.05), Schedule { interleave, ..Schedule::default() });
        }
    }
}

/// The pre-passes read only the blocks a decay reaches: tokens farther than
/// 40 / s from the end their chunk state's weights decay toward weigh under
/// e^-40 of the nearest token (`blocks_in_reach` in the kernel), and each
/// walk stops before their blocks. Here those tokens (with two blocks of
/// slack), and every token of the segment no chunk state covers, are NaN: a
/// walk that read one would spread it through its state. The states still
/// match the float64 sums, and a head with s = 0 reads (and needs) every
/// token of its segments.
#[test]
fn chunk_states_read_only_blocks_within_the_decay() {
    for mut trial in trials("chunk_states_read_only_blocks_within_the_decay").into_iter().take(1) {
        // Four segments of 512 tokens (8 blocks); a head reached by 2
        // blocks, one by 5, one by all.
        let s = [4.0, 0.2, 0.0];
        // Walks whole, and in 4 pieces of 128 tokens (2 blocks).
        for (pieces, reverse) in [(1, false), (1, true), (4, false), (4, true)] {
            let p =
                Problem { segment: Some(512), pieces: Some(pieces), ..Problem::new(1, 3, 2048, 32, 64, DType::BF16) };
            let step = if reverse { &plan::backward(&p).unwrap()[0] } else { &plan::forward(&p).unwrap()[0] };
            assert!(step.kernel.starts_with("la_chunk_state"), "{}", step.kernel);
            let role = |name: &str| match step.args.iter().find(|(n, _)| *n == name) {
                Some((_, StepArg::Buf(b))) => *b,
                _ => panic!("{}: no buffer `{name}`", step.kernel),
            };
            let (kb, vb, states, copies) = (role("k"), role("v"), role("st"), role("st_t"));
            let (dk, dv) = (p.d, p.e);
            let rng = &mut trial.rng;
            let bf16 = |x: Vec<f64>| HostBuffer::from_f64(ScalarType::BF16, &x).to_f64();
            let (k, v) = (bf16(normal(rng, p.elements(dk), 0.0, 1.0)), bf16(normal(rng, p.elements(dv), 0.0, 1.0)));
            let seg = p.segment_len();
            let walked = |j: usize| if reverse { j > 0 } else { j + 1 < p.segments() };
            // Distance of token t from the end its segment's weights decay toward.
            let dist = |t: usize| {
                let (a, b) = (t / seg * seg, (t / seg * seg + seg).min(p.n));
                if reverse { t - a } else { b - 1 - t }
            };
            let slack = 2.0 * POINT_16BIT.block as f64;
            let unread = |h: usize, t: usize| !walked(t / seg) || (s[h] > 0.0 && dist(t) as f64 > 40.0 / s[h] + slack);
            let poison = |x: &[f64], w: usize| {
                let mut x = x.to_vec();
                for h in 0..p.heads {
                    for t in (0..p.n).filter(|&t| unread(h, t)) {
                        x[(h * p.n + t) * w..(h * p.n + t + 1) * w].fill(f64::NAN);
                    }
                }
                x
            };
            let mut run =
                Interp { point: POINT_16BIT, interleave: None, kernels: HashMap::new(), bufs: BTreeMap::new() };
            run.bufs.insert(kb, HostBuffer::from_f64(ScalarType::BF16, &poison(&k, dk)));
            run.bufs.insert(vb, HostBuffer::from_f64(ScalarType::BF16, &poison(&v, dv)));
            run.bufs.insert(Buf::Decay, HostBuffer::from_f64(ScalarType::F32, &s));
            let len = p.buffer(states).1.iter().product();
            run.bufs.insert(states, HostBuffer::filled(ScalarType::F32, len, f64::NAN));
            run.bufs.insert(copies, HostBuffer::filled(ScalarType::F32, len, f64::NAN));
            let (parts, tickets) = plan::piece_scratch(reverse);
            let size = |b: Buf| p.buffer(b).1.iter().product();
            run.bufs.insert(parts, HostBuffer::filled(ScalarType::F32, size(parts), f64::NAN));
            run.bufs.insert(tickets, HostBuffer::filled(ScalarType::I32, size(tickets), 0.0));
            run.bufs.insert(Buf::Placeholder, HostBuffer::filled(ScalarType::F32, 4, f64::NAN));
            run.launch(step);
            run.assert_tickets_zero(&step.kernel);
            let (got, got_t) = (run.get(states), run.get(copies));

            let mut poisoned = 0;
            for h in 0..p.heads {
                for j in (0..p.segments()).filter(|&j| walked(j)) {
                    let tokens = j * seg..((j + 1) * seg).min(p.n);
                    poisoned += tokens.clone().filter(|&t| unread(h, t)).count();
                    let mut want = vec![0.0; dk * dv];
                    for t in tokens {
                        let w = (-s[h] * dist(t) as f64).exp();
                        for r in 0..dk {
                            for c in 0..dv {
                                want[r * dv + c] += w * k[(h * p.n + t) * dk + r] * v[(h * p.n + t) * dv + c];
                            }
                        }
                    }
                    let at = (h * p.segments() + j) * dk * dv;
                    let what = format!("{pieces} pieces, reverse {reverse}: head {h} (s = {}), segment {j}", s[h]);
                    assert_close(&what, &got[at..at + dk * dv], &want, tolerance::BF16);
                    // The copy is the same state transposed, [dv, dk] row-major, bit for bit.
                    for (r, c) in (0..dk).flat_map(|r| (0..dv).map(move |c| (r, c))) {
                        let (a, b) = (got[at + r * dv + c], got_t[at + c * dk + r]);
                        assert!(a.to_bits() == b.to_bits(), "{what}: copy ({c}, {r}) is {b}, the state {a}");
                    }
                }
            }
            // Of each walked segment, 373 tokens of the first head (past
            // 10 + 128) and 183 of the second (past 200 + 128) are NaN.
            assert_eq!(poisoned, 3 * (373 + 183), "NaN tokens inside walked segments");
        }
    }
}
