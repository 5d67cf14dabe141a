//! What to launch for Lightning Attention-2, as data: a list of kernel
//! launches over named buffers. Pure (no device), so the CPU interpreter runs
//! the very plan the GPU runs (`tests/tests/lightning_attention.rs`), and
//! unit tests check its arithmetic.
//!
//! The kernels are those of `kernels-dsl/lightning_attn.tsr`; its header
//! derives the passes. Forward: chunk states of (k, v) when there are
//! several segments, then outputs of (q, k, v), each program folding its
//! entering state from S0 and the chunk states before it (the last segment's
//! program writes the final state). Backward: reverse chunk states of (q,
//! do), then dk from (v, do, q) and the reverse ones transposed, walking
//! backwards, dq from (do, v, k) and the forward chunk states transposed,
//! and dv from (k, q, do) and the reverse ones (writing dS0), walking
//! backwards. Every pass walks each segment the other way from the pass
//! before it, so it starts on tokens that pass read last, still in L2.
//!
//! With [`Problem::chained`] (and several segments) the forward's two
//! launches are one, `la_chained`, whose programs hand each other the
//! segment states through memory (a decoupled look-back), and likewise the
//! reverse chunk states and dk; dq and dv then read the one inclusive state
//! of the segment before theirs instead of folding chunk states.

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
    /// Tokens per segment; None: [`Problem::default_segment`] (or
    /// [`CHAINED_SEGMENT`] when chained).
    pub segment: Option<usize>,
    /// Chain the segments in one launch per pass instead of a chunk-state
    /// pass before the outputs (see the module documentation). Off by
    /// default: on the H100 chained plans were 1.46-1.74x slower than
    /// two-pass wherever they chain (docs/benchmarks.md, eleventh session).
    pub chained: bool,
    /// Pieces each chunk-state walk is cut into (see
    /// `chunk_state_program` in `kernels-dsl/lightning_attn.tsr`); None:
    /// [`Problem::default_pieces`]. The segment length must be a multiple of
    /// [`PIECE_ALIGN`] times the count when it is above 1.
    pub pieces: Option<usize>,
}

/// Tokens per piece of a chunk-state walk, by default: a segment of 16384
/// tokens walks in 4 pieces, one of 8192 in 2, shorter ones whole.
pub const PIECE_TOKENS: usize = 4096;

/// Pieces are whole multiples of this many tokens, so that every chunk-state
/// variant's block (at most 128 tokens) ends where a piece does.
pub const PIECE_ALIGN: usize = 128;

/// Tokens per segment of a chained plan: short, so that a program's keys and
/// values, read for its segment's state, are still in L2 when it walks them
/// again for the outputs (132 programs of 512 tokens of two d = 128 bf16
/// tensors: 34 MB of the H100's 50 MB).
pub const CHAINED_SEGMENT: usize = 512;

/// `b=2 h=4 n=4097 d=64 e=64 bf16 Bhnd seg=512 scale=1 S0=true final=true`, for messages
/// (`seg=16384 pieces=4` where chunk-state walks are cut).
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "b={} h={} n={} d={} e={} {} {:?} seg={}{}{} scale={} S0={} final={}",
            self.batch,
            self.heads,
            self.n,
            self.d,
            self.e,
            self.dtype,
            self.layout,
            self.segment_len(),
            if self.pieces() > 1 { format!(" pieces={}", self.pieces()) } else { String::new() },
            if self.chained { " chained" } else { "" },
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
            chained: false,
            pieces: None,
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
        if let Some(pieces) = self.pieces {
            let seg = self.segment_len();
            if pieces == 0 || (pieces > 1 && !seg.is_multiple_of(pieces * PIECE_ALIGN)) {
                return bad(format!(
                    "{pieces} pieces of a {seg}-token segment: the pieces must be at least 1, and several \
                     pieces split the segment into multiples of {PIECE_ALIGN} tokens"
                ));
            }
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
    /// segment, written once and folded by the segments after) stay small
    /// next to the tokens' own traffic, short enough that the output
    /// kernel's programs fill 90% of `sm_count` multiprocessors, one program
    /// each (the tuned variants take a whole multiprocessor), counting one
    /// program per 128 value columns: the widest `BLOCK_E`, which reads q
    /// and k once (the H100's segment sweep, seventh and eighth sessions:
    /// at (1, 16, 65536) eight segments beat four, forward 0.579 against
    /// 0.620 ms, forward+backward 1.980 against 2.177). A multiple of 256, at
    /// least 512 (or n). One segment skips the pre-pass (see
    /// [`Problem::prepass`]).
    pub fn default_segment(&self, sm_count: usize) -> usize {
        let programs = self.batch * self.heads * self.e.div_ceil(128);
        let want_segments = (sm_count * 9 / 10).max(1).div_ceil(programs.max(1)).max(1);
        let seg = self.n.div_ceil(want_segments).div_ceil(256) * 256;
        seg.max(512).min(self.n.div_ceil(256) * 256)
    }

    /// The segment length of a chained plan: [`CHAINED_SEGMENT`], unless
    /// [`Problem::default_segment`] makes the sequence one segment (nothing
    /// to chain).
    pub fn default_chained_segment(&self, sm_count: usize) -> usize {
        let seg = self.default_segment(sm_count);
        if seg >= self.n { seg } else { CHAINED_SEGMENT }
    }

    /// Whether each direction runs chunk states before its outputs (the
    /// forward's of (k, v), the backward's reverse ones of (q, do)): with
    /// several segments (the state entering each folds those before it),
    /// unless chained. One segment starts from S0 or zeros; the final state
    /// and dS0 always come from the output program of the segment walked
    /// last.
    pub fn prepass(&self) -> bool {
        self.segments() > 1 && !self.chained
    }

    /// Whether the segments hand each other their states in the pass that
    /// walks them (`la_chained`): chained, with several segments.
    pub fn chains(&self) -> bool {
        self.segments() > 1 && self.chained
    }

    /// Tokens per segment, with the segment rule for 132 multiprocessors
    /// (the H100's) when none is set.
    pub fn segment_len(&self) -> usize {
        self.segment.unwrap_or_else(|| self.segment_for(132))
    }

    /// The default segment length for `sm_count` multiprocessors.
    pub fn segment_for(&self, sm_count: usize) -> usize {
        if self.chained { self.default_chained_segment(sm_count) } else { self.default_segment(sm_count) }
    }

    pub fn segments(&self) -> usize {
        self.n.div_ceil(self.segment_len().max(1))
    }

    /// Pieces a chunk-state walk is cut into: as set, or
    /// [`Problem::default_pieces`]; 1 without chunk states.
    pub fn pieces(&self) -> usize {
        if !self.prepass() {
            return 1;
        }
        self.pieces.unwrap_or_else(|| self.default_pieces())
    }

    /// One piece per [`PIECE_TOKENS`] of a segment, at most 4, where the
    /// segment splits into pieces of a multiple of [`PIECE_ALIGN`] tokens. A head whose decay
    /// reach ends inside the first piece costs only programs that exit;
    /// one that reaches further spreads its walk over several
    /// multiprocessors instead of one (docs/lightning-attention.md).
    pub fn default_pieces(&self) -> usize {
        let seg = self.segment_len();
        let pieces = (seg / PIECE_TOKENS).clamp(1, 4);
        if seg.is_multiple_of(pieces * PIECE_ALIGN) { pieces } else { 1 }
    }

    /// Tokens per piece of a chunk-state walk (the segment when it is one
    /// piece).
    pub fn piece_len(&self) -> usize {
        self.segment_len() / self.pieces()
    }

    /// Elements of one q/k (`d`) or v/o (`e`) tensor.
    pub fn elements(&self, width: usize) -> usize {
        self.batch * self.heads * self.n * width
    }

    /// Elements of a segment-state buffer (at full size).
    pub fn state_elements(&self) -> usize {
        self.batch * self.heads * self.segments() * self.d * self.e
    }

    /// Segments a state buffer holds: none when no pass fills it (one
    /// segment).
    fn state_segments(&self) -> usize {
        if self.segments() > 1 { self.segments() } else { 0 }
    }

    /// Segments a transposed copy of the chunk states holds: those of a
    /// two-pass plan with several segments (chained plans make none).
    fn copy_segments(&self) -> usize {
        if self.prepass() { self.segments() } else { 0 }
    }

    /// Segments with parts of a chunk state in `FwdParts`/`BwdParts`:
    /// those of a plan whose chunk-state walks are cut into pieces.
    fn part_segments(&self) -> usize {
        if self.pieces() > 1 { self.state_segments() } else { 0 }
    }

    /// Tickets of a chunk-state pass cut into pieces: one per segment and
    /// (batch, head, value slice) of the narrowest width (32 columns).
    fn ticket_count(&self) -> usize {
        self.part_segments() * self.batch * self.heads * self.e.div_ceil(32)
    }

    /// Flags of a chained pass: one per segment and stream (a (batch,
    /// head, value slice)), for the narrowest slice any variant takes (32
    /// columns); none unless chained.
    fn flag_count(&self) -> usize {
        if self.chains() { self.segments() * self.batch * self.heads * self.d.max(self.e).div_ceil(32) } else { 0 }
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
            Buf::FwdStates | Buf::BwdStates => (DType::F32, vec![batch * heads, self.state_segments(), d, e]),
            Buf::FwdStatesT | Buf::BwdStatesT => (DType::F32, vec![batch * heads, self.copy_segments(), e, d]),
            Buf::FwdParts | Buf::BwdParts => {
                (DType::F32, vec![batch * heads, self.part_segments(), self.pieces().saturating_sub(1), d, e])
            }
            Buf::FwdTickets | Buf::BwdTickets => (DType::I32, vec![self.ticket_count()]),
            Buf::Flags => (DType::I32, vec![self.flag_count()]),
            Buf::Counters => (DType::I32, vec![2]),
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
    /// states (none with one segment), the transposed copies of both (a
    /// two-pass plan's), the parts and tickets of walks cut into pieces, a
    /// chained plan's flags and counters, and a 16-byte placeholder.
    pub fn workspace_bytes(&self, backward: bool) -> usize {
        let per_segment = self.batch * self.heads * self.d * self.e * 4;
        let passes = if backward { 2 } else { 1 };
        let segments = passes * (self.state_segments() + self.copy_segments());
        let parts = passes * self.part_segments() * self.pieces().saturating_sub(1);
        let tickets = passes * 4 * self.ticket_count();
        let chain = if self.chains() { 4 * (self.flag_count() + 2) } else { 0 };
        per_segment * (segments + parts) + tickets + chain + 16
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
    /// f32 `[batch*heads, segments, d, e]`: the state each segment
    /// contributes, decayed to its end (kept for the backward's dq); the last
    /// segment's slot is never written or read.
    FwdStates,
    /// Same shape: each segment's reverse contribution, decayed to its
    /// start; the first segment's slot is never written or read.
    /// Chained, the forward's holds each segment's inclusive state (the
    /// state leaving it, `[d, e]`), the reverse one R^T leaving each
    /// segment backwards (`[e, d]`, as dk carries it); during the chained
    /// pass a slot holds the segment's own state first.
    BwdStates,
    /// f32 `[batch*heads, segments, e, d]`: [`Buf::FwdStates`] transposed,
    /// which dq folds (it reads H^T) a row at a time; written by the same
    /// chunk-state pass, two-pass plans only.
    FwdStatesT,
    /// [`Buf::BwdStates`] transposed, for dk (R^T), likewise.
    BwdStatesT,
    /// f32 `[batch*heads, segments, pieces - 1, d, e]`: the parts of the
    /// forward chunk states that pieces 1.. of a walk store for the piece
    /// that finishes last to add (empty unless the walks are cut into
    /// pieces; piece 0 stores its part in the state's own slot).
    FwdParts,
    /// The same for the reverse chunk states.
    BwdParts,
    /// i32 tickets of the forward chunk-state pass, one per (batch, head,
    /// segment, 32-column value slice): how many pieces have stored their
    /// part; the last zeroes it. Zero between launches (from the allocation).
    FwdTickets,
    /// The same for the reverse chunk states.
    BwdTickets,
    /// i32 flags of a chained pass (0 nothing yet, 1 the segment's own state
    /// published, 3 being replaced by, 2 replaced by its inclusive state);
    /// zero between launches.
    Flags,
    /// i32 `[2]`: a chained pass's ticket and finished-program count; zero
    /// between launches.
    Counters,
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
            Buf::FwdStatesT => "forward states, transposed",
            Buf::BwdStatesT => "reverse states, transposed",
            Buf::FwdParts => "forward chunk-state parts",
            Buf::BwdParts => "reverse chunk-state parts",
            Buf::FwdTickets => "forward chunk-state tickets",
            Buf::BwdTickets => "reverse chunk-state tickets",
            Buf::Flags => "chain flags",
            Buf::Counters => "chain counters",
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
    /// May run beside the steps after it, up to the first that
    /// [depends on](Step::depends_on) it (on a second stream on the GPU).
    pub beside: bool,
}

impl Step {
    fn new(kernel: String) -> Step {
        Step { kernel, pins: Vec::new(), args: Vec::new(), outputs: Vec::new(), beside: false }
    }

    /// The buffers the step reads or writes.
    pub fn buffers(&self) -> impl Iterator<Item = Buf> + '_ {
        self.args.iter().filter_map(|(_, a)| match a {
            StepArg::Buf(b) => Some(*b),
            _ => None,
        })
    }

    /// The buffers the step writes.
    pub fn writes(&self) -> impl Iterator<Item = Buf> + '_ {
        self.args.iter().filter_map(|(name, a)| match a {
            StepArg::Buf(b) if self.outputs.contains(name) => Some(*b),
            _ => None,
        })
    }

    /// Whether this step must wait for `earlier`: one writes a buffer the
    /// other reads or writes.
    pub fn depends_on(&self, earlier: &Step) -> bool {
        earlier.writes().any(|w| self.buffers().any(|b| b == w))
            || self.writes().any(|w| earlier.buffers().any(|b| b == w))
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
    fn run_beside(mut self) -> Step {
        self.beside = true;
        self
    }
}

/// The plan with every step [beside](Step::beside) the ones after it moved
/// as late as it may go: past each later step until one depends on it. A
/// second stream may run such a step anywhere from its place in the plan to
/// that point, so this order (which the interpreter's tests run) is the
/// other end of what the GPU may do.
pub fn latest_order(steps: &[Step]) -> Vec<&Step> {
    let mut order: Vec<&Step> = Vec::with_capacity(steps.len());
    let mut held: Vec<&Step> = Vec::new();
    for step in steps {
        // The held steps this one depends on run just before it. (Held steps
        // never depend on each other: the later one's arrival released the
        // earlier, as the GPU's runner joins its side stream there.)
        let (due, kept): (Vec<&Step>, Vec<&Step>) = held.drain(..).partition(|h| step.depends_on(h));
        order.extend(due);
        held = kept;
        if step.beside { held.push(step) } else { order.push(step) }
    }
    order.extend(held);
    order
}

/// Where an output pass's entering states come from.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fold {
    /// One segment: S0 or zeros.
    Nothing,
    /// The chunk states of every segment walked before (`fold` = 1).
    Chunks(Buf),
    /// The inclusive state of the segment walked just before (`fold` = 2).
    Inclusive(Buf),
}

/// Operands of one output pass: (q, k, v, o) roles, key and value widths,
/// the states it folds (or, chained, writes) and their strides as it sees
/// them, and the final state (or dS0) its last-walked segment writes.
struct OutputPass {
    q: Buf,
    k: Buf,
    v: Buf,
    o: Buf,
    key_width: usize,
    value_width: usize,
    fold: Fold,
    /// Row and column strides of a `[key_width, value_width]` state tile.
    state_strides: (i64, i64),
    init: Option<Buf>,
    /// The same for S0 (`[d, e]` row-major; dq reads it transposed).
    init_strides: (i64, i64),
    fin: Option<Buf>,
    reverse: bool,
    c_inter: f32,
    c_state: f32,
}

/// The parts and tickets of the chunk-state walks in one direction. Pieces
/// 1.. store their parts, and every piece takes a ticket, in scratch that no
/// other step reads (and tuning does not compare: which piece finishes last,
/// and so which parts are stored, varies). With whole walks both are empty
/// and never touched.
pub fn piece_scratch(reverse: bool) -> (Buf, Buf) {
    if reverse { (Buf::BwdParts, Buf::BwdTickets) } else { (Buf::FwdParts, Buf::FwdTickets) }
}

/// The chunk states of every segment but the one walked last (the last
/// segment forward, the first in reverse): no segment comes after it, and
/// the final state or dS0 comes from its output program.
fn chunk_state(p: &Problem, k: Buf, v: Buf, states: (Buf, Buf), reverse: bool, scale: f32) -> Step {
    let seg = p.segment_len() as i64;
    let segments = p.segments() as i64;
    let first = i64::from(reverse);
    let (d, e) = (p.d as i64, p.e as i64);
    let pieces = p.pieces() as i64;
    let (parts, tickets) = piece_scratch(reverse);
    Step::new(format!("la_chunk_state_{}", p.suffix()))
        .buf("k", k)
        .buf("v", v)
        .out("st", states.0)
        .out("st_t", states.1)
        .buf("part", parts)
        .buf("ticket", tickets)
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
        .int("part_bh", segments * (pieces - 1) * d * e)
        .int("part_seg", (pieces - 1) * d * e)
        .int("pieces", pieces)
        .int("piece_len", p.piece_len() as i64)
        .int("st_r", e)
        .int("st_c", 1)
        .int("has_t", 1)
        .int("reverse", i64::from(reverse))
        .float("scale", scale)
        .int("seg_first", first)
        .int("seg_count", segments - 1)
        .pin("DK", p.d)
}

/// The arguments `la_output` and `la_chained` share: operands, sizes,
/// strides, S0 and the final state, direction and scales.
fn walk_args(p: &Problem, kernel: &str, pass: &OutputPass) -> Step {
    let (d, e) = (p.d as i64, p.e as i64);
    let step = Step::new(format!("{kernel}_{}", p.suffix()))
        .buf("q", pass.q)
        .buf("k", pass.k)
        .buf("v", pass.v)
        .out("o", pass.o)
        .buf("init", pass.init.unwrap_or(Buf::Placeholder));
    let step = match pass.fin {
        Some(f) => step.out("fin", f),
        None => step.buf("fin", Buf::Placeholder),
    };
    step.buf("s", Buf::Decay)
        .int("batch", p.batch as i64)
        .int("heads", p.heads as i64)
        .int("n", p.n as i64)
        .int("ev", pass.value_width as i64)
        .int("seg_len", p.segment_len() as i64)
        .strides(["stride_qb", "stride_qh", "stride_qn"], p.strides(p.width_of(pass.q)))
        .strides(["stride_kb", "stride_kh", "stride_kn"], p.strides(p.width_of(pass.k)))
        .strides(["stride_vb", "stride_vh", "stride_vn"], p.strides(p.width_of(pass.v)))
        .strides(["stride_ob", "stride_oh", "stride_on"], p.strides(p.width_of(pass.o)))
        .int("st_seg", d * e)
        .int("st_r", pass.state_strides.0)
        .int("st_c", pass.state_strides.1)
        .int("head_st", d * e)
        .int("has_init", i64::from(pass.init.is_some()))
        .int("has_fin", i64::from(pass.fin.is_some()))
        .int("reverse", i64::from(pass.reverse))
        .float("c_intra", p.scale)
        .float("c_inter", pass.c_inter)
        .float("c_state", pass.c_state)
        .pin("DK", pass.key_width)
}

fn output(p: &Problem, pass: OutputPass) -> Step {
    let (states, fold) = match pass.fold {
        Fold::Nothing => (None, 0),
        Fold::Chunks(b) => (Some(b), 1),
        Fold::Inclusive(b) => (Some(b), 2),
    };
    let st_bh = if states.is_some() { (p.segments() * p.d * p.e) as i64 } else { 0 };
    walk_args(p, "la_output", &pass)
        .buf("st", states.unwrap_or(Buf::Placeholder))
        .int("st_bh", st_bh)
        .int("fold", fold)
        .int("init_r", pass.init_strides.0)
        .int("init_c", pass.init_strides.1)
}

/// A chained pass: outputs, and the inclusive state of every segment but
/// the one walked last in `states` (read by a later pass with
/// [`Fold::Inclusive`]).
fn chained(p: &Problem, pass: OutputPass, states: Buf) -> Step {
    walk_args(p, "la_chained", &pass)
        .out("st", states)
        .buf("flags", Buf::Flags)
        .buf("counters", Buf::Counters)
        .int("st_bh", (p.segments() * p.d * p.e) as i64)
        .int("seg_first", 0)
        .int("seg_count", p.segments() as i64)
}

/// The forward: o, and the final state when asked for. Leaves the segment
/// states in [`Buf::FwdStates`] for the backward's dq. Fails for a problem
/// [`Problem::check`] refuses (its sizes would not fit the i32 arguments,
/// for one).
pub fn forward(p: &Problem) -> Result<Vec<Step>, ProblemError> {
    p.check()?;
    let c = p.scale;
    let pass = OutputPass {
        q: Buf::Q,
        k: Buf::K,
        v: Buf::V,
        o: Buf::O,
        key_width: p.d,
        value_width: p.e,
        fold: Fold::Nothing,
        state_strides: (p.e as i64, 1),
        init: p.initial_state.then_some(Buf::InitialState),
        init_strides: (p.e as i64, 1),
        fin: p.final_state.then_some(Buf::FinalState),
        reverse: false,
        c_inter: 1.0,
        c_state: c,
    };
    if p.chains() {
        return Ok(vec![chained(p, pass, Buf::FwdStates)]);
    }
    let mut steps = Vec::with_capacity(2);
    let fold = if p.prepass() {
        steps.push(chunk_state(p, Buf::K, Buf::V, (Buf::FwdStates, Buf::FwdStatesT), false, c));
        Fold::Chunks(Buf::FwdStates)
    } else {
        Fold::Nothing
    };
    steps.push(output(p, OutputPass { fold, ..pass }));
    Ok(steps)
}

/// The backward, after [`forward`] (it reads the forward's segment states):
/// the reverse chunk states, dk, dq, dv, and dS0 when there is an initial
/// state; chained, dk hands the reverse states on itself.
pub fn backward(p: &Problem) -> Result<Vec<Step>, ProblemError> {
    p.check()?;
    let (c, d, e) = (p.scale, p.d as i64, p.e as i64);
    let mut steps = Vec::with_capacity(4);
    let pass = |q, k, v, o, widths: (usize, usize), reverse, c_inter, c_state| OutputPass {
        q,
        k,
        v,
        o,
        key_width: widths.0,
        value_width: widths.1,
        fold: Fold::Nothing,
        state_strides: (1, e),
        init: None,
        init_strides: (e, 1),
        fin: None,
        reverse,
        c_inter,
        c_state,
    };
    // dq needs only the forward's states, so it runs beside the reverse
    // chunk states: their programs' lengths follow each head's decay reach,
    // and dq fills the multiprocessors the short ones leave. Then dk walks
    // back over (v, do, q) and dv back over (k, q, do).
    // dk(j) = c v(j) R(j)^T: queries v, keys do, values q, backwards.
    let dk = pass(Buf::V, Buf::DO, Buf::Q, Buf::DK, (p.e, p.d), true, c, 1.0);
    // dq(t) = do(t) H(t)^T: queries do, keys v, values k; H from S0 too,
    // read transposed from the forward's [d, e] states.
    let dq = pass(Buf::DO, Buf::V, Buf::K, Buf::DQ, (p.e, p.d), false, 1.0, c);
    let dq = OutputPass { init: p.initial_state.then_some(Buf::InitialState), init_strides: (1, e), ..dq };
    // dv(j) = c k(j) R(j): queries k, keys q, values do, backwards; its
    // first segment ends with R(0), and dS0 = lambda R(0).
    let dv = pass(Buf::K, Buf::Q, Buf::DO, Buf::DV, (p.d, p.e), true, c, 1.0);
    let dv = OutputPass { fin: p.initial_state.then_some(Buf::DInitialState), ..dv };
    if p.chains() {
        // dk carries R^T and leaves it [e, d] row-major: dv reads it transposed.
        steps.push(chained(p, OutputPass { state_strides: (d, 1), ..dk }, Buf::BwdStates));
        steps.push(output(p, OutputPass { fold: Fold::Inclusive(Buf::FwdStates), ..dq }));
        steps.push(output(p, OutputPass { fold: Fold::Inclusive(Buf::BwdStates), state_strides: (1, d), ..dv }));
        return Ok(steps);
    }
    if !p.prepass() {
        for pass in [dk, dq, dv] {
            steps.push(output(p, pass));
        }
        return Ok(steps);
    }
    steps.push(chunk_state(p, Buf::Q, Buf::DO, (Buf::BwdStates, Buf::BwdStatesT), true, 1.0).run_beside());
    // The reverse chunk states are R, [d, e] like the forward's: dk folds
    // R^T and dq H^T from the copies, [e, d] row-major, a row at a time.
    steps.push(output(p, OutputPass { fold: Fold::Chunks(Buf::FwdStatesT), state_strides: (d, 1), ..dq }));
    steps.push(output(p, OutputPass { fold: Fold::Chunks(Buf::BwdStatesT), state_strides: (d, 1), ..dk }));
    steps.push(output(p, OutputPass { fold: Fold::Chunks(Buf::BwdStates), state_strides: (e, 1), ..dv }));
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_fill_the_device_and_stay_long() {
        // 128 heads fill 132 multiprocessors at 90%.
        let p = Problem::new(8, 16, 2048, 128, 128, DType::BF16);
        assert_eq!(p.default_segment(132), 2048);
        // 64 heads: two segments.
        let p = Problem::new(4, 16, 8192, 128, 128, DType::BF16);
        assert_eq!(p.default_segment(132), 4096);
        let p = Problem::new(4, 16, 32768, 128, 128, DType::BF16);
        assert_eq!(p.default_segment(132), 16384);
        // 16 heads: eight segments.
        let p = Problem::new(1, 16, 65536, 128, 128, DType::BF16);
        assert_eq!(p.default_segment(132), 8192);
        let p = Problem::new(1, 16, 131072, 128, 128, DType::BF16);
        assert_eq!(p.default_segment(132), 16384);
        let p = Problem::new(2, 16, 32768, 128, 128, DType::BF16);
        assert_eq!(p.default_segment(132), 8192);
        // e = 256 counts two programs per head.
        let p = Problem::new(4, 16, 8192, 256, 256, DType::BF16);
        assert_eq!(p.default_segment(132), 8192);
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

    /// The segment walked last (the last one forward, the first in reverse)
    /// has no chunk state whatever is wanted: the final state and dS0 come
    /// from its output program, which alone has `fin` to write.
    #[test]
    fn the_segment_walked_last_has_no_chunk_state() {
        let mut p = Problem::new(1, 2, 4000, 64, 64, DType::BF16);
        p.segment = Some(1024);
        let range = |step: &Step| (arg(step, "seg_first"), arg(step, "seg_count"));
        let i = |v: i32| Some(StepArg::I32(v));
        for states in [false, true] {
            p.final_state = states;
            p.initial_state = states;
            let (fwd, bwd) = (forward(&p).unwrap(), backward(&p).unwrap());
            assert_eq!(kernels(&fwd), ["la_chunk_state_bf16", "la_output_bf16"]);
            assert_eq!(kernels(&bwd), ["la_chunk_state_bf16", "la_output_bf16", "la_output_bf16", "la_output_bf16"]);
            assert_eq!(range(&fwd[0]), (i(0), i(3)));
            assert_eq!(range(&bwd[0]), (i(1), i(3)));
            let written: Vec<_> = bwd.iter().map(|s| arg(s, "o").or(arg(s, "st"))).collect();
            let buf = |b: Buf| Some(StepArg::Buf(b));
            assert_eq!(written, [buf(Buf::BwdStates), buf(Buf::DQ), buf(Buf::DK), buf(Buf::DV)]);
            let reverse: Vec<_> = bwd.iter().map(|s| arg(s, "reverse")).collect();
            assert_eq!(reverse, [i(1), i(0), i(1), i(1)]);
            assert_eq!(arg(&fwd[1], "fold"), i(1));
            let fin = |step: &Step| (arg(step, "fin"), arg(step, "has_fin"));
            let buf = |b: Buf| Some(StepArg::Buf(b));
            let want_fin = if states { (buf(Buf::FinalState), i(1)) } else { (buf(Buf::Placeholder), i(0)) };
            assert_eq!(fin(&fwd[1]), want_fin);
            // dq and dk never write a state; dv writes dS0.
            assert_eq!(fin(&bwd[1]), (buf(Buf::Placeholder), i(0)));
            assert_eq!(fin(&bwd[2]), (buf(Buf::Placeholder), i(0)));
            let want_ds0 = if states { (buf(Buf::DInitialState), i(1)) } else { (buf(Buf::Placeholder), i(0)) };
            assert_eq!(fin(&bwd[3]), want_ds0);
            // S0 enters the forward and dq (transposed), never the reverse passes.
            let init: Vec<_> = [&fwd[1], &bwd[1], &bwd[2], &bwd[3]].iter().map(|s| arg(s, "has_init")).collect();
            assert_eq!(init, [i(states as i32), i(states as i32), i(0), i(0)]);
        }
    }

    /// The reverse chunk states run beside dq (which reads only the
    /// forward's states) and before dk; nothing else overlaps.
    #[test]
    fn reverse_chunk_states_run_beside_dq_alone() {
        let mut p = Problem::new(1, 2, 4000, 64, 64, DType::BF16);
        p.segment = Some(1024);
        for states in [false, true] {
            p.final_state = states;
            p.initial_state = states;
            let (fwd, bwd) = (forward(&p).unwrap(), backward(&p).unwrap());
            assert!(fwd.iter().all(|s| !s.beside));
            let beside: Vec<_> = bwd.iter().map(|s| s.beside).collect();
            assert_eq!(beside, [true, false, false, false]);
            assert!(!bwd[1].depends_on(&bwd[0]), "dq waits for the reverse chunk states");
            assert!(bwd[2].depends_on(&bwd[0]) && bwd[3].depends_on(&bwd[0]));
            // The latest order runs them just before dk.
            let order: Vec<_> = latest_order(&bwd).into_iter().map(|s| arg(s, "o").or(arg(s, "st"))).collect();
            let buf = |b: Buf| Some(StepArg::Buf(b));
            assert_eq!(order, [buf(Buf::DQ), buf(Buf::BwdStates), buf(Buf::DK), buf(Buf::DV)]);
            assert_eq!(latest_order(&fwd), fwd.iter().collect::<Vec<_>>());
        }
        // One segment: no chunk states, nothing beside.
        p.segment = Some(4096);
        assert!(backward(&p).unwrap().iter().all(|s| !s.beside));
    }

    /// A step moved late goes just before the first step that depends on
    /// it, with the held steps it depends on in turn; held to the end, it
    /// runs last.
    #[test]
    fn latest_order_holds_steps_until_a_dependent() {
        let step = |name: &str, reads: &[Buf], writes: &[Buf], beside: bool| {
            let mut s = Step::new(name.to_string());
            for (i, &b) in reads.iter().enumerate() {
                s.args.push((["r0", "r1", "r2"][i], StepArg::Buf(b)));
            }
            for (i, &b) in writes.iter().enumerate() {
                let name = ["w0", "w1", "w2"][i];
                s.outputs.push(name);
                s.args.push((name, StepArg::Buf(b)));
            }
            s.beside = beside;
            s
        };
        let names = |order: Vec<&Step>| order.iter().map(|s| s.kernel.clone()).collect::<Vec<_>>();
        let a = step("a", &[Buf::Q], &[Buf::FwdStates], true);
        let b = step("b", &[Buf::FwdStates], &[Buf::BwdStates], true);
        let c = step("c", &[Buf::K], &[Buf::DK], false);
        let d = step("d", &[Buf::BwdStates], &[Buf::DV], false);
        let e = step("e", &[Buf::V], &[Buf::Q], false);
        let f = step("f", &[Buf::FwdStates], &[Buf::O], false);
        // f reads what a writes: a runs just before it.
        assert_eq!(names(latest_order(&[a.clone(), c.clone(), f])), ["c", "a", "f"]);
        // e writes what a reads.
        assert_eq!(names(latest_order(&[a.clone(), c.clone(), e])), ["c", "a", "e"]);
        // b depends on a, so a goes when b comes (as the GPU's runner joins
        // the side stream there); b waits for d.
        assert_eq!(names(latest_order(&[a.clone(), b.clone(), c.clone(), d])), ["a", "c", "b", "d"]);
        // Nothing depends on them: last, in order.
        assert_eq!(names(latest_order(&[a.clone(), c.clone(), b.clone()])), ["c", "a", "b"]);
        assert_eq!(names(latest_order(&[a, c])), ["c", "a"]);
    }

    /// Every fold reads its states a row at a time: dk and dq, which carry
    /// R^T and H^T, read the transposed copies the chunk-state passes write
    /// ([e, d] row-major); S0 alone is still read transposed by dq (one tile
    /// a program).
    #[test]
    fn folds_read_states_by_rows() {
        let mut p = Problem::new(1, 2, 4000, 32, 64, DType::BF16);
        p.segment = Some(1024);
        p.initial_state = true;
        let (fwd, bwd) = (forward(&p).unwrap(), backward(&p).unwrap());
        let i = |v: i32| Some(StepArg::I32(v));
        let buf = |b: Buf| Some(StepArg::Buf(b));
        let (d, e) = (32, 64);
        for (step, states, copy) in
            [(&fwd[0], Buf::FwdStates, Buf::FwdStatesT), (&bwd[0], Buf::BwdStates, Buf::BwdStatesT)]
        {
            assert_eq!((arg(step, "st"), arg(step, "st_t"), arg(step, "has_t")), (buf(states), buf(copy), i(1)));
            assert!(step.outputs.contains(&"st") && step.outputs.contains(&"st_t"), "{:?}", step.outputs);
        }
        let fold = |s: &Step| (arg(s, "st"), arg(s, "st_r"), arg(s, "st_c"));
        assert_eq!(fold(&fwd[1]), (buf(Buf::FwdStates), i(e), i(1)));
        assert_eq!(fold(&bwd[1]), (buf(Buf::FwdStatesT), i(d), i(1)), "dq");
        assert_eq!(fold(&bwd[2]), (buf(Buf::BwdStatesT), i(d), i(1)), "dk");
        assert_eq!(fold(&bwd[3]), (buf(Buf::BwdStates), i(e), i(1)), "dv");
        let init = |s: &Step| (arg(s, "init"), arg(s, "init_r"), arg(s, "init_c"));
        assert_eq!(init(&fwd[1]), (buf(Buf::InitialState), i(e), i(1)));
        assert_eq!(init(&bwd[1]), (buf(Buf::InitialState), i(1), i(e)), "dq reads S0 transposed");
    }

    #[test]
    fn one_segment_runs_outputs_alone() {
        let mut p = Problem::new(1, 2, 1000, 64, 64, DType::BF16);
        p.segment = Some(1024);
        for (s0, fin) in [(false, false), (true, false), (false, true), (true, true)] {
            p.initial_state = s0;
            p.final_state = fin;
            let fwd = forward(&p).unwrap();
            assert_eq!(kernels(&fwd), ["la_output_bf16"]);
            assert_eq!(arg(&fwd[0], "fold"), Some(StepArg::I32(0)));
            assert_eq!(arg(&fwd[0], "st"), Some(StepArg::Buf(Buf::Placeholder)));
            let want_init = if s0 { Buf::InitialState } else { Buf::Placeholder };
            assert_eq!(arg(&fwd[0], "init"), Some(StepArg::Buf(want_init)));
            assert_eq!(kernels(&backward(&p).unwrap()), ["la_output_bf16"; 3]);
            assert_eq!(p.workspace_bytes(true), 16);
            assert_eq!(p.buffer(Buf::FwdStates).1, vec![2, 0, 64, 64]);
        }
        // Several segments: chunk states in both directions.
        p.segment = Some(512);
        assert_eq!(kernels(&forward(&p).unwrap()).len(), 2);
        assert_eq!(kernels(&backward(&p).unwrap()).len(), 4);
        // The forward states and their transposed copy.
        assert_eq!(p.workspace_bytes(false), 2 * (2 * 2 * 64 * 64 * 4) + 16);
        assert_eq!(p.buffer(Buf::FwdStatesT).1, vec![2, 2, 64, 64]);
    }

    /// Long segments cut their chunk-state walks into pieces of 4096 tokens
    /// (at most 4): pieces 1.. store parts in scratch of their own, every
    /// piece takes a ticket, and the folds read one state a segment as
    /// before. Short or unaligned segments walk whole, with no scratch.
    #[test]
    fn long_segments_walk_in_pieces() {
        let pieces = |n: usize, seg: usize| {
            let p = Problem { segment: Some(seg), ..Problem::new(1, 16, n, 128, 128, DType::BF16) };
            (p.pieces(), p.piece_len())
        };
        assert_eq!(pieces(131072, 16384), (4, 4096));
        assert_eq!(pieces(65536, 8192), (2, 4096));
        assert_eq!(pieces(8192, 4096), (1, 4096));
        assert_eq!(pieces(100000, 12288), (3, 4096));
        assert_eq!(pieces(100000, 12000), (1, 12000), "12000 / 2 is not a multiple of 128");
        assert_eq!(pieces(16384, 16384), (1, 16384), "one segment: no chunk states");
        let mut p = Problem::new(1, 16, 131072, 128, 128, DType::BF16);
        p.segment = Some(16384);
        assert!(p.to_string().contains(" seg=16384 pieces=4 "), "{p}");
        assert!(!Problem::new(1, 16, 8192, 128, 128, DType::BF16).to_string().contains("pieces"));
        assert_eq!(p.buffer(Buf::FwdStates).1, vec![16, 8, 128, 128]);
        assert_eq!(p.buffer(Buf::BwdParts), (DType::F32, vec![16, 8, 3, 128, 128]));
        assert_eq!(p.buffer(Buf::FwdTickets), (DType::I32, vec![8 * 16 * 4]));
        let state = 16 * 128 * 128 * 4;
        assert_eq!(p.workspace_bytes(true), 2 * (2 * 8 + 8 * 3) * state + 2 * 4 * (8 * 16 * 4) + 16);
        let (fwd, bwd) = (forward(&p).unwrap(), backward(&p).unwrap());
        let i = |v: i64| Some(StepArg::I32(v as i32));
        let buf = |b: Buf| Some(StepArg::Buf(b));
        for (step, parts, tickets) in
            [(&fwd[0], Buf::FwdParts, Buf::FwdTickets), (&bwd[0], Buf::BwdParts, Buf::BwdTickets)]
        {
            assert!(step.kernel.starts_with("la_chunk_state"), "{}", step.kernel);
            assert_eq!((arg(step, "part"), arg(step, "ticket")), (buf(parts), buf(tickets)));
            assert_eq!((arg(step, "pieces"), arg(step, "piece_len")), (i(4), i(4096)));
            let slot = 128 * 128;
            assert_eq!((arg(step, "part_seg"), arg(step, "part_bh")), (i(3 * slot), i(8 * 3 * slot)));
            // Neither is compared between tuning candidates, nor read by another step.
            assert_eq!(step.outputs, ["st", "st_t"]);
            for other in fwd.iter().chain(&bwd).filter(|o| !std::ptr::eq(*o, step)) {
                assert!(other.buffers().all(|b| b != parts && b != tickets), "{}", other.kernel);
            }
        }
        // The folds read one slot a segment, as with whole walks.
        for step in [&fwd[1], &bwd[1], &bwd[2], &bwd[3]] {
            assert_eq!(arg(step, "st_seg"), i(128 * 128), "{}", step.kernel);
        }
        // Whole walks: no scratch.
        p.pieces = Some(1);
        assert_eq!(p.buffer(Buf::FwdParts).1.iter().product::<usize>(), 0);
        assert_eq!(p.buffer(Buf::FwdTickets).1, vec![0]);
        let step = &forward(&p).unwrap()[0];
        assert_eq!((arg(step, "part"), arg(step, "ticket")), (buf(Buf::FwdParts), buf(Buf::FwdTickets)));
        assert_eq!(p.workspace_bytes(true), 2 * 2 * 8 * state + 16);
        // A count that does not split the segment into aligned pieces.
        p.pieces = Some(3);
        assert!(p.check().is_err());
    }

    /// Chained: one launch per chained pass, dq and dv reading the one
    /// inclusive state before them, states strided as each pass carries them.
    #[test]
    fn chained_plans_hand_states_on_in_one_launch() {
        let mut p = Problem::new(1, 2, 4000, 32, 64, DType::BF16);
        p.chained = true;
        assert_eq!(p.segment_len(), CHAINED_SEGMENT);
        assert_eq!(p.segments(), 8);
        assert!(p.chains() && !p.prepass());
        p.initial_state = true;
        p.final_state = true;
        let (fwd, bwd) = (forward(&p).unwrap(), backward(&p).unwrap());
        assert_eq!(kernels(&fwd), ["la_chained_bf16"]);
        assert_eq!(kernels(&bwd), ["la_chained_bf16", "la_output_bf16", "la_output_bf16"]);
        let i = |v: i64| Some(StepArg::I32(v as i32));
        let buf = |b: Buf| Some(StepArg::Buf(b));
        // The forward leaves H [d, e]; dk leaves R^T [e, d].
        assert_eq!(
            (arg(&fwd[0], "st"), arg(&fwd[0], "st_r"), arg(&fwd[0], "st_c")),
            (buf(Buf::FwdStates), i(64), i(1))
        );
        assert_eq!(
            (arg(&bwd[0], "st"), arg(&bwd[0], "st_r"), arg(&bwd[0], "st_c")),
            (buf(Buf::BwdStates), i(32), i(1))
        );
        assert_eq!((arg(&fwd[0], "seg_first"), arg(&fwd[0], "seg_count")), (i(0), i(8)));
        assert_eq!(arg(&bwd[0], "reverse"), i(1));
        // What tuning compares: the outputs and the inclusive states.
        assert_eq!(fwd[0].outputs, ["o", "fin", "st"]);
        assert_eq!(bwd[0].outputs, ["o", "st"]);
        // dq reads H^T, dv reads R from R^T, each one state (fold 2).
        assert_eq!(
            (arg(&bwd[1], "fold"), arg(&bwd[1], "st"), arg(&bwd[1], "st_r"), arg(&bwd[1], "st_c")),
            (i(2), buf(Buf::FwdStates), i(1), i(64))
        );
        assert_eq!(
            (arg(&bwd[2], "fold"), arg(&bwd[2], "st"), arg(&bwd[2], "st_r"), arg(&bwd[2], "st_c")),
            (i(2), buf(Buf::BwdStates), i(1), i(32))
        );
        assert_eq!(arg(&bwd[2], "fin"), buf(Buf::DInitialState));
        // Workspace: a state buffer of 8 segments per direction, the flags
        // (32-column slices of the wider width) and two counters.
        let states = 2 * 8 * 32 * 64 * 4;
        assert_eq!(p.workspace_bytes(true), 2 * states + 4 * (8 * 2 * 2 + 2) + 16);
        assert_eq!(p.workspace_bytes(false), states + 4 * (8 * 2 * 2 + 2) + 16);
        // A sequence that is one segment anyway runs the plain output kernel.
        let mut short = Problem::new(8, 16, 2048, 128, 128, DType::BF16);
        short.chained = true;
        assert_eq!(short.default_chained_segment(132), 2048);
        assert_eq!(kernels(&forward(&short).unwrap()), ["la_output_bf16"]);
        assert_eq!(short.workspace_bytes(true), 16);
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
        // chunk states keyed by q (d), dk by do (e), dq by v (e), dv by q (d).
        assert_eq!(pins, vec![32, 64, 64, 32]);
        let steps = forward(&p).unwrap();
        assert_eq!(kernels(&steps), ["la_chunk_state_bf16", "la_output_bf16"]);
    }
}
