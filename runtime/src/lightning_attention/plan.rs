//! What to launch for Lightning Attention-2, as data: a list of kernel
//! launches over named buffers. Pure (no device), so the CPU interpreter runs
//! the very plan the GPU runs (`tests/tests/lightning_attention.rs`), and
//! unit tests check its arithmetic.
//!
//! The kernels are those of `kernels-dsl/lightning_attn.tsr`; its header
//! derives the passes. Forward: chunk states of (k, v), a scan (with the
//! initial state, giving the final one), outputs of (q, k, v). Backward:
//! reverse chunk states of (q, do), a reverse scan (giving dS0), then the
//! output kernel three times: dq from (do, v, k) and the forward states
//! transposed, dk from (v, do, q) and the reverse states transposed, dv from
//! (k, q, do) and the reverse states, the last two walking backwards.

use crate::bundle::DType;
use std::fmt;

/// How q, k, v (and o, do, the gradients) are laid out in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorLayout {
    /// `[batch, heads, n, width]`, contiguous (lightning-attn's layout).
    Bhnd,
    /// `[batch, n, heads, width]`, contiguous (fla's layout).
    Bnhd,
}

/// One Lightning Attention problem.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub batch: usize,
    pub heads: usize,
    pub n: usize,
    /// Width of q and k.
    pub d: usize,
    /// Width of v and o.
    pub e: usize,
    /// Element type of q, k, v, o, do and the gradients (bf16, f16 or f32).
    pub dtype: DType,
    pub layout: TensorLayout,
    /// The scale c of k^T v (1 by default).
    pub scale: f32,
    /// An initial state S0, f32 `[batch, heads, d, e]`, is given.
    pub initial_state: bool,
    /// The final state H(n-1), f32 `[batch, heads, d, e]`, is wanted.
    pub final_state: bool,
    /// Tokens per segment; None: [`Problem::default_segment`].
    pub segment: Option<usize>,
}

/// `b=2 h=4 n=4097 d=64 e=64 bf16 Bhnd seg=512 scale=1 S0=true final=true`, for messages.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "b={} h={} n={} d={} e={} {} {:?} seg={} scale={} S0={} final={}",
            self.batch,
            self.heads,
            self.n,
            self.d,
            self.e,
            self.dtype,
            self.layout,
            self.segment_len(),
            self.scale,
            self.initial_state,
            self.final_state
        )
    }
}

/// Head widths the kernels are compiled for.
pub const WIDTHS: [usize; 4] = [32, 64, 128, 256];

/// Why a problem cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("lightning attention: {0}")]
pub struct ProblemError(pub String);

impl Problem {
    /// A problem with scale 1, no initial or final state, `[b, h, n, d]` layout.
    pub fn new(batch: usize, heads: usize, n: usize, d: usize, e: usize, dtype: DType) -> Problem {
        Problem {
            batch,
            heads,
            n,
            d,
            e,
            dtype,
            layout: TensorLayout::Bhnd,
            scale: 1.0,
            initial_state: false,
            final_state: false,
            segment: None,
        }
    }

    pub fn check(&self) -> Result<(), ProblemError> {
        let bad = |m: String| Err(ProblemError(m));
        if self.batch == 0 || self.heads == 0 || self.n == 0 {
            return bad(format!(
                "batch, heads and n must be at least 1 (got {}, {}, {})",
                self.batch, self.heads, self.n
            ));
        }
        for (name, w) in [("d", self.d), ("e", self.e)] {
            if !WIDTHS.contains(&w) {
                return bad(format!("{name} = {w} is not a compiled head width (one of 32, 64, 128, 256)"));
            }
        }
        if !matches!(self.dtype, DType::BF16 | DType::F16 | DType::F32) {
            return bad(format!("element type {} is not supported (bf16, f16 or f32)", self.dtype));
        }
        if !self.scale.is_finite() {
            return bad(format!("scale {} is not finite", self.scale));
        }
        if self.segment == Some(0) {
            return bad("a segment must hold at least one token".into());
        }
        // Every index the kernels form is an i32.
        let largest = self.batch * self.heads * self.n * self.d.max(self.e);
        let states = self.batch * self.heads * self.segments() * self.d * self.e;
        if largest.max(states) > i32::MAX as usize {
            return bad(format!("{largest} elements per tensor is more than 32-bit indices reach"));
        }
        Ok(())
    }

    /// Tokens per segment: long enough that the segment states (d*e f32 per
    /// segment, a few passes) stay small next to the tokens' own traffic,
    /// short enough that the output kernel's programs (batch * heads *
    /// segments * value slices, counted at 64 value columns per program, the
    /// widest `BLOCK_E`) fill 90% of `sm_count` multiprocessors, one program
    /// each (the tuned variants take a whole multiprocessor). A multiple of
    /// 256, at least 512 (or n). One segment skips the pre-pass (see
    /// [`Problem::forward_prepass`]).
    pub fn default_segment(&self, sm_count: usize) -> usize {
        let programs = self.batch * self.heads * self.e.div_ceil(64);
        let want_segments = (sm_count * 9 / 10).max(1).div_ceil(programs.max(1)).max(1);
        let seg = self.n.div_ceil(want_segments).div_ceil(256) * 256;
        seg.max(512).min(self.n.div_ceil(256) * 256)
    }

    /// Whether the forward runs chunk states and their scan before the
    /// outputs: with several segments (for the state entering each), or for
    /// the final state. One segment starts from S0 or zeros.
    pub fn forward_prepass(&self) -> bool {
        self.segments() > 1 || self.final_state
    }

    /// Whether the backward runs reverse chunk states and their scan: with
    /// several segments, or for dS0.
    pub fn backward_prepass(&self) -> bool {
        self.segments() > 1 || self.initial_state
    }

    pub fn segment_len(&self) -> usize {
        self.segment.unwrap_or_else(|| self.default_segment(132))
    }

    pub fn segments(&self) -> usize {
        self.n.div_ceil(self.segment_len().max(1))
    }

    /// Elements of one q/k (`d`) or v/o (`e`) tensor.
    pub fn elements(&self, width: usize) -> usize {
        self.batch * self.heads * self.n * width
    }

    /// Elements of a segment-state buffer (at full size).
    pub fn state_elements(&self) -> usize {
        self.batch * self.heads * self.segments() * self.d * self.e
    }

    /// Segments a state buffer holds: none when no pre-pass fills it.
    fn state_segments(&self, b: Buf) -> usize {
        let used = match b {
            Buf::FwdStates => self.forward_prepass(),
            _ => self.backward_prepass(),
        };
        if used { self.segments() } else { 0 }
    }

    /// Elements of S0, the final state or dS0.
    pub fn head_state_elements(&self) -> usize {
        self.batch * self.heads * self.d * self.e
    }

    /// Element type and shape of a buffer role, in storage order: tensors as
    /// the layout stores them (`[b, h, n, w]` or `[b, n, h, w]`), the decay
    /// `[heads]`, segment states `[b*h, segments, d, e]`, S0 and the final
    /// state `[b, h, d, e]`.
    pub fn buffer(&self, b: Buf) -> (DType, Vec<usize>) {
        let (batch, heads, n, d, e) = (self.batch, self.heads, self.n, self.d, self.e);
        match b {
            Buf::Q | Buf::K | Buf::DQ | Buf::DK | Buf::V | Buf::O | Buf::DO | Buf::DV => {
                let w = self.width_of(b);
                let shape = match self.layout {
                    TensorLayout::Bhnd => vec![batch, heads, n, w],
                    TensorLayout::Bnhd => vec![batch, n, heads, w],
                };
                (self.dtype, shape)
            }
            Buf::Decay => (DType::F32, vec![heads]),
            Buf::FwdStates | Buf::BwdStates => (DType::F32, vec![batch * heads, self.state_segments(b), d, e]),
            Buf::InitialState | Buf::FinalState | Buf::DInitialState => (DType::F32, vec![batch, heads, d, e]),
            Buf::Placeholder => (DType::F32, vec![4]),
        }
    }

    /// The width of a token of q, k, v, o or a gradient (d or e).
    fn width_of(&self, b: Buf) -> usize {
        match b {
            Buf::Q | Buf::K | Buf::DQ | Buf::DK => self.d,
            _ => self.e,
        }
    }

    /// The batch, head and token strides of a tensor of width `w`.
    pub fn strides(&self, w: usize) -> [i64; 3] {
        let (h, n, w) = (self.heads as i64, self.n as i64, w as i64);
        match self.layout {
            TensorLayout::Bhnd => [h * n * w, n * w, w],
            TensorLayout::Bnhd => [n * h * w, w, h * w],
        }
    }

    /// Device memory the plan allocates beyond inputs, outputs and
    /// gradients: the forward states (kept for the backward), the reverse
    /// states (none without a pre-pass), and a 16-byte placeholder.
    pub fn workspace_bytes(&self, backward: bool) -> usize {
        let per_segment = self.batch * self.heads * self.d * self.e * 4;
        let mut segments = self.state_segments(Buf::FwdStates);
        if backward {
            segments += self.state_segments(Buf::BwdStates);
        }
        per_segment * segments + 16
    }

    fn suffix(&self) -> &'static str {
        match self.dtype {
            DType::F16 => "f16",
            DType::F32 => "f32",
            _ => "bf16",
        }
    }
}

/// The buffers a plan names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Buf {
    Q,
    K,
    V,
    O,
    DO,
    DQ,
    DK,
    DV,
    /// s, f32 `[heads]`.
    Decay,
    /// f32 `[batch*heads, segments, d, e]`: after the forward, the state
    /// entering each segment (kept for the backward's dq).
    FwdStates,
    /// Same shape: the reverse state entering each segment from its end.
    BwdStates,
    InitialState,
    FinalState,
    DInitialState,
    /// Stands for an absent optional state (never read or written).
    Placeholder,
}

impl fmt::Display for Buf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Buf::Q => "q",
            Buf::K => "k",
            Buf::V => "v",
            Buf::O => "o",
            Buf::DO => "do",
            Buf::DQ => "dq",
            Buf::DK => "dk",
            Buf::DV => "dv",
            Buf::Decay => "s",
            Buf::FwdStates => "forward states",
            Buf::BwdStates => "reverse states",
            Buf::InitialState => "initial state",
            Buf::FinalState => "final state",
            Buf::DInitialState => "initial-state gradient",
            Buf::Placeholder => "placeholder",
        };
        f.write_str(name)
    }
}

/// A launch argument of a plan step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StepArg {
    Buf(Buf),
    I32(i32),
    F32(f32),
}

/// One kernel launch.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub kernel: String,
    /// Compile-time values the data fixes (the key width `DK`).
    pub pins: Vec<(&'static str, i64)>,
    pub args: Vec<(&'static str, StepArg)>,
    /// The parameters the step writes (compared between tuning candidates).
    pub outputs: Vec<&'static str>,
}

impl Step {
    fn new(kernel: String) -> Step {
        Step { kernel, pins: Vec::new(), args: Vec::new(), outputs: Vec::new() }
    }
    fn buf(mut self, name: &'static str, b: Buf) -> Step {
        self.args.push((name, StepArg::Buf(b)));
        self
    }
    fn out(mut self, name: &'static str, b: Buf) -> Step {
        self.outputs.push(name);
        self.buf(name, b)
    }
    fn int(mut self, name: &'static str, v: i64) -> Step {
        self.args.push((name, StepArg::I32(v as i32)));
        self
    }
    fn float(mut self, name: &'static str, v: f32) -> Step {
        self.args.push((name, StepArg::F32(v)));
        self
    }
    fn strides(self, prefix: [&'static str; 3], s: [i64; 3]) -> Step {
        self.int(prefix[0], s[0]).int(prefix[1], s[1]).int(prefix[2], s[2])
    }
    fn pin(mut self, name: &'static str, v: usize) -> Step {
        self.pins.push((name, v as i64));
        self
    }
}

/// Operands of one output pass: (q, k, v, o) roles, key and value widths,
/// the state buffer and whether it is read transposed.
struct OutputPass {
    q: Buf,
    k: Buf,
    v: Buf,
    o: Buf,
    key_width: usize,
    value_width: usize,
    states: StateIn,
    transposed: bool,
    reverse: bool,
    c_inter: f32,
    c_state: f32,
}

/// Where an output pass finds the state entering each segment.
#[derive(Clone, Copy)]
enum StateIn {
    /// A segment-state buffer the pre-pass filled.
    Segments(Buf),
    /// One segment, entering with S0 (`[batch, heads, d, e]`).
    Initial,
    /// One segment, entering with zeros.
    Zeros,
}

impl StateIn {
    /// The forward's entering states (the dq pass reads them too).
    fn forward(p: &Problem) -> StateIn {
        match (p.forward_prepass(), p.initial_state) {
            (true, _) => StateIn::Segments(Buf::FwdStates),
            (false, true) => StateIn::Initial,
            (false, false) => StateIn::Zeros,
        }
    }

    /// The reverse states entering each segment from its end.
    fn backward(p: &Problem) -> StateIn {
        if p.backward_prepass() { StateIn::Segments(Buf::BwdStates) } else { StateIn::Zeros }
    }
}

/// The chunk states of the segments the scan reads: all but the one it
/// walks last (the last segment forward, the first in reverse), which only
/// the final state (`last_needed`: forward) or dS0 (reverse) would read.
fn chunk_state(p: &Problem, k: Buf, v: Buf, states: Buf, reverse: bool, scale: f32, last_needed: bool) -> Step {
    let seg = p.segment_len() as i64;
    let segments = p.segments() as i64;
    let (first, count) = match (last_needed, reverse) {
        (true, _) => (0, segments),
        (false, false) => (0, segments - 1),
        (false, true) => (1, segments - 1),
    };
    let (d, e) = (p.d as i64, p.e as i64);
    Step::new(format!("la_chunk_state_{}", p.suffix()))
        .buf("k", k)
        .buf("v", v)
        .out("st", states)
        .buf("s", Buf::Decay)
        .int("batch", p.batch as i64)
        .int("heads", p.heads as i64)
        .int("n", p.n as i64)
        .int("ev", e)
        .int("seg_len", seg)
        .strides(["stride_kb", "stride_kh", "stride_kn"], p.strides(p.width_of(k)))
        .strides(["stride_vb", "stride_vh", "stride_vn"], p.strides(p.width_of(v)))
        .int("st_bh", p.segments() as i64 * d * e)
        .int("st_seg", d * e)
        .int("st_r", e)
        .int("st_c", 1)
        .int("reverse", i64::from(reverse))
        .float("scale", scale)
        .int("seg_first", first)
        .int("seg_count", count)
        .pin("DK", p.d)
}

fn scan(p: &Problem, states: Buf, init: Option<Buf>, fin: Option<Buf>, reverse: bool) -> Step {
    let mut step =
        Step::new("la_state_scan".into()).out("states", states).buf("init", init.unwrap_or(Buf::Placeholder));
    step = match fin {
        Some(f) => step.out("fin", f),
        None => step.buf("fin", Buf::Placeholder),
    };
    step.buf("s", Buf::Decay)
        .int("batch", p.batch as i64)
        .int("heads", p.heads as i64)
        .int("n", p.n as i64)
        .int("seg_len", p.segment_len() as i64)
        .int("size", (p.d * p.e) as i64)
        .int("has_init", i64::from(init.is_some()))
        .int("has_fin", i64::from(fin.is_some()))
        .int("reverse", i64::from(reverse))
        .int("fin_shift", i64::from(reverse))
        .int("has_last", i64::from(fin.is_some()))
}

fn output(p: &Problem, pass: OutputPass) -> Step {
    let (d, e) = (p.d as i64, p.e as i64);
    // States are [d, e] row-major; a transposed read sees [e, d].
    let (st_r, st_c) = if pass.transposed { (1, e) } else { (e, 1) };
    let (states, st_bh, has_state) = match pass.states {
        StateIn::Segments(b) => (b, p.segments() as i64 * d * e, 1),
        StateIn::Initial => (Buf::InitialState, d * e, 1),
        StateIn::Zeros => (Buf::Placeholder, 0, 0),
    };
    Step::new(format!("la_output_{}", p.suffix()))
        .buf("q", pass.q)
        .buf("k", pass.k)
        .buf("v", pass.v)
        .out("o", pass.o)
        .buf("st", states)
        .buf("s", Buf::Decay)
        .int("batch", p.batch as i64)
        .int("heads", p.heads as i64)
        .int("n", p.n as i64)
        .int("ev", pass.value_width as i64)
        .int("seg_len", p.segment_len() as i64)
        .strides(["stride_qb", "stride_qh", "stride_qn"], p.strides(p.width_of(pass.q)))
        .strides(["stride_kb", "stride_kh", "stride_kn"], p.strides(p.width_of(pass.k)))
        .strides(["stride_vb", "stride_vh", "stride_vn"], p.strides(p.width_of(pass.v)))
        .strides(["stride_ob", "stride_oh", "stride_on"], p.strides(p.width_of(pass.o)))
        .int("st_bh", st_bh)
        .int("st_seg", d * e)
        .int("st_r", st_r)
        .int("st_c", st_c)
        .int("has_state", has_state)
        .int("reverse", i64::from(pass.reverse))
        .float("c_intra", p.scale)
        .float("c_inter", pass.c_inter)
        .float("c_state", pass.c_state)
        .pin("DK", pass.key_width)
}

/// The forward: o, and the final state when asked for. Leaves the entering
/// state of every segment in [`Buf::FwdStates`] for the backward. Fails for
/// a problem [`Problem::check`] refuses (its sizes would not fit the i32
/// arguments, for one).
pub fn forward(p: &Problem) -> Result<Vec<Step>, ProblemError> {
    p.check()?;
    let c = p.scale;
    let mut steps = Vec::with_capacity(3);
    if p.forward_prepass() {
        steps.push(chunk_state(p, Buf::K, Buf::V, Buf::FwdStates, false, c, p.final_state));
        steps.push(scan(
            p,
            Buf::FwdStates,
            p.initial_state.then_some(Buf::InitialState),
            p.final_state.then_some(Buf::FinalState),
            false,
        ));
    }
    steps.push(output(
        p,
        OutputPass {
            q: Buf::Q,
            k: Buf::K,
            v: Buf::V,
            o: Buf::O,
            key_width: p.d,
            value_width: p.e,
            states: StateIn::forward(p),
            transposed: false,
            reverse: false,
            c_inter: 1.0,
            c_state: c,
        },
    ));
    Ok(steps)
}

/// The backward, after [`forward`] (it reads the forward's entering
/// states): dq, dk, dv, and dS0 when there is an initial state.
pub fn backward(p: &Problem) -> Result<Vec<Step>, ProblemError> {
    p.check()?;
    let c = p.scale;
    let pass = |q, k, v, o, key_width, value_width, states, transposed, reverse, c_inter, c_state| OutputPass {
        q,
        k,
        v,
        o,
        key_width,
        value_width,
        states,
        transposed,
        reverse,
        c_inter,
        c_state,
    };
    let (fwd, rev) = (StateIn::forward(p), StateIn::backward(p));
    let mut steps = Vec::with_capacity(5);
    if p.backward_prepass() {
        steps.push(chunk_state(p, Buf::Q, Buf::DO, Buf::BwdStates, true, 1.0, p.initial_state));
        steps.push(scan(p, Buf::BwdStates, None, p.initial_state.then_some(Buf::DInitialState), true));
    }
    // dq(t) = do(t) H(t)^T: queries do, keys v, values k.
    steps.push(output(p, pass(Buf::DO, Buf::V, Buf::K, Buf::DQ, p.e, p.d, fwd, true, false, 1.0, c)));
    // dk(j) = c v(j) R(j)^T: queries v, keys do, values q, backwards.
    steps.push(output(p, pass(Buf::V, Buf::DO, Buf::Q, Buf::DK, p.e, p.d, rev, true, true, c, 1.0)));
    // dv(j) = c k(j) R(j): queries k, keys q, values do, backwards.
    steps.push(output(p, pass(Buf::K, Buf::Q, Buf::DO, Buf::DV, p.d, p.e, rev, false, true, c, 1.0)));
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_fill_the_device_and_stay_long() {
        // 64 heads x 2 value slices already fill 132 multiprocessors.
        let p = Problem::new(4, 16, 8192, 128, 128, DType::BF16);
        assert_eq!(p.default_segment(132), 8192);
        let p = Problem::new(8, 16, 2048, 128, 128, DType::BF16);
        assert_eq!(p.default_segment(132), 2048);
        // 16 heads x 2 slices: four segments.
        let p = Problem::new(1, 16, 65536, 128, 128, DType::BF16);
        assert_eq!(p.default_segment(132), 16384);
        let p = Problem::new(2, 16, 32768, 128, 128, DType::BF16);
        assert_eq!(p.default_segment(132), 16384);
        // e = 64 is one slice per head.
        let p = Problem::new(4, 16, 8192, 64, 64, DType::BF16);
        assert_eq!(p.default_segment(132), 4096);
        // Short sequences are one segment, however few programs that makes.
        let p = Problem::new(1, 1, 17, 64, 64, DType::BF16);
        assert_eq!(p.default_segment(132), 256);
        assert_eq!(p.segments(), 1);
    }

    fn kernels(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.kernel.as_str()).collect()
    }

    fn arg(step: &Step, name: &str) -> Option<StepArg> {
        step.args.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }

    /// The chunk states of the segment the scan walks last (the last one
    /// forward, the first in reverse) are computed only for the final state
    /// or dS0, and the scan reads that segment's slot only then.
    #[test]
    fn the_segment_scanned_last_has_no_chunk_state_unless_a_state_is_wanted() {
        let mut p = Problem::new(1, 2, 4000, 64, 64, DType::BF16);
        p.segment = Some(1024);
        let range = |step: &Step| (arg(step, "seg_first"), arg(step, "seg_count"), arg(step, "has_last"));
        let i = |v: i32| Some(StepArg::I32(v));
        let (fwd, bwd) = (forward(&p).unwrap(), backward(&p).unwrap());
        assert_eq!(range(&fwd[0]), (i(0), i(3), None));
        assert_eq!(arg(&fwd[1], "has_last"), i(0));
        assert_eq!(range(&bwd[0]), (i(1), i(3), None));
        assert_eq!(arg(&bwd[1], "has_last"), i(0));
        p.final_state = true;
        p.initial_state = true;
        let (fwd, bwd) = (forward(&p).unwrap(), backward(&p).unwrap());
        assert_eq!(range(&fwd[0]), (i(0), i(4), None));
        assert_eq!(arg(&fwd[1], "has_last"), i(1));
        assert_eq!(range(&bwd[0]), (i(0), i(4), None));
        assert_eq!(arg(&bwd[1], "has_last"), i(1));
    }

    #[test]
    fn one_segment_skips_the_prepass_unless_a_state_is_wanted() {
        let mut p = Problem::new(1, 2, 1000, 64, 64, DType::BF16);
        p.segment = Some(1024);
        let fwd = forward(&p).unwrap();
        assert_eq!(kernels(&fwd), ["la_output_bf16"]);
        assert_eq!(arg(&fwd[0], "has_state"), Some(StepArg::I32(0)));
        assert_eq!(arg(&fwd[0], "st"), Some(StepArg::Buf(Buf::Placeholder)));
        assert_eq!(kernels(&backward(&p).unwrap()), ["la_output_bf16"; 3]);
        assert_eq!(p.workspace_bytes(true), 16);
        assert_eq!(p.buffer(Buf::FwdStates).1, vec![2, 0, 64, 64]);

        // S0 enters the forward (and dq) directly; dS0 needs the reverse scan.
        p.initial_state = true;
        let fwd = forward(&p).unwrap();
        assert_eq!(kernels(&fwd), ["la_output_bf16"]);
        assert_eq!(arg(&fwd[0], "st"), Some(StepArg::Buf(Buf::InitialState)));
        assert_eq!(arg(&fwd[0], "st_bh"), Some(StepArg::I32(64 * 64)));
        let bwd = backward(&p).unwrap();
        assert_eq!(kernels(&bwd)[..2], ["la_chunk_state_bf16", "la_state_scan"]);
        assert_eq!(arg(&bwd[2], "st"), Some(StepArg::Buf(Buf::InitialState)));
        assert_eq!(arg(&bwd[3], "st"), Some(StepArg::Buf(Buf::BwdStates)));
        assert_eq!(p.workspace_bytes(true), 2 * 64 * 64 * 4 + 16);

        // The final state needs the forward scan.
        p.initial_state = false;
        p.final_state = true;
        assert_eq!(kernels(&forward(&p).unwrap()).len(), 3);
        assert_eq!(kernels(&backward(&p).unwrap()).len(), 3);

        // Several segments always scan.
        p.final_state = false;
        p.segment = Some(512);
        assert_eq!(kernels(&forward(&p).unwrap()).len(), 3);
        assert_eq!(kernels(&backward(&p).unwrap()).len(), 5);
        assert_eq!(p.workspace_bytes(false), 2 * 2 * 64 * 64 * 4 + 16);
    }

    #[test]
    fn strides_follow_the_layout() {
        let mut p = Problem::new(2, 3, 5, 32, 64, DType::F32);
        assert_eq!(p.strides(32), [480, 160, 32]);
        p.layout = TensorLayout::Bnhd;
        assert_eq!(p.strides(64), [960, 64, 192]);
    }

    #[test]
    fn bad_problems_name_what_is_wrong() {
        let mut p = Problem::new(1, 1, 10, 48, 64, DType::BF16);
        assert_eq!(
            p.check().unwrap_err().to_string(),
            "lightning attention: d = 48 is not a compiled head width (one of 32, 64, 128, 256)"
        );
        p.d = 64;
        p.n = 0;
        assert!(p.check().unwrap_err().to_string().contains("at least 1"));
        p.n = 10;
        p.dtype = DType::I32;
        assert!(p.check().unwrap_err().to_string().contains("i32 is not supported"));
        // The plans refuse what `check` refuses.
        assert!(forward(&p).is_err() && backward(&p).is_err());
    }

    #[test]
    fn backward_pins_the_key_width_of_each_pass() {
        let mut p = Problem::new(1, 2, 1000, 32, 64, DType::BF16);
        p.segment = Some(512);
        let pins: Vec<i64> = backward(&p).unwrap().iter().filter_map(|s| s.pins.first().map(|x| x.1)).collect();
        // chunk states keyed by q (d), dq keyed by v (e), dk by do (e), dv by q (d).
        assert_eq!(pins, vec![32, 64, 64, 32]);
        let steps = forward(&p).unwrap();
        assert_eq!(kernels(&steps), ["la_chunk_state_bf16", "la_state_scan", "la_output_bf16"]);
    }
}
