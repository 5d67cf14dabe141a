//! Lightning Attention-2 forward and backward on a GPU, from a bundle built
//! from `kernels-dsl/lightning_attn.tsr`.
//!
//! ```no_run
//! use tessera_runtime::lightning_attention::{Inputs, LightningAttention, Problem};
//! use tessera_runtime::{Bundle, DType, Runtime};
//! # fn main() -> Result<(), tessera_runtime::Error> {
//! let rt = Runtime::new()?;
//! let la = LightningAttention::new(Bundle::open("lightning_attn.tsb")?);
//! let p = Problem::new(4, 16, 8192, 128, 128, DType::BF16);
//! # let (q, k, v, s, d_o) = todo!();
//! let inputs = Inputs { q: &q, k: &k, v: &v, decay: &s, initial_state: None };
//! let fwd = la.forward(&rt, &p, &inputs)?;                  // o, final state, saved states
//! let grads = la.backward(&rt, &p, &inputs, &fwd, &d_o)?;   // dq, dk, dv (, dS0)
//! # Ok(()) }
//! ```
//!
//! [`plan`] says what runs; this module checks the caller's buffers against
//! the problem, allocates outputs and workspace, and launches each step with
//! its pinned key width, tuning each kernel once per tuning key (cached on
//! disk like every other kernel).

pub mod plan;

pub use plan::{Buf, Problem, ProblemError, Step, StepArg, TensorLayout};

use crate::args::LaunchArgs;
use crate::device::{RawBuffer, Runtime};
use crate::error::{Error, Result};
use crate::launch::{Bundle, KernelHandle};
use crate::tune::TuneOptions;
use std::collections::BTreeMap;
use std::time::Duration;

/// The kernels of one bundle, and how to tune them.
#[derive(Clone, Debug)]
pub struct LightningAttention {
    bundle: Bundle,
    tune: TuneOptions,
    poison: bool,
    chained: bool,
    serial: bool,
    pieces: Option<usize>,
}

/// The inputs of one problem, on the device: q, k (`[.., n, d]`), v
/// (`[.., n, e]`) in the problem's element type and layout, the decay `s`
/// (f32 `[heads]`) and optionally S0 (f32 `[batch, heads, d, e]`).
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    pub q: &'a RawBuffer,
    pub k: &'a RawBuffer,
    pub v: &'a RawBuffer,
    pub decay: &'a RawBuffer,
    pub initial_state: Option<&'a RawBuffer>,
}

/// What the forward returns: the output, the final state when asked for,
/// and the segment states the backward reads.
#[derive(Debug)]
pub struct Forward {
    pub o: RawBuffer,
    pub final_state: Option<RawBuffer>,
    /// f32 `[batch*heads, segments, d, e]`: the state entering each segment
    /// (empty when the sequence is one segment). Chained
    /// ([`Problem::chains`]), the state leaving each segment instead.
    pub states: RawBuffer,
    /// f32 `[batch*heads, segments, e, d]`: `states` transposed, which the
    /// backward's dq reads (empty unless a two-pass plan has several
    /// segments).
    pub states_t: RawBuffer,
    /// Workspace of chunk-state walks cut into pieces: the parts pieces
    /// 1.. store and the tickets the pieces take (empty unless cut).
    pub parts: RawBuffer,
    tickets: RawBuffer,
    placeholder: RawBuffer,
    /// A chained plan's flags and counters, which the backward's chained
    /// pass reuses (empty otherwise).
    chain: ChainScratch,
}

/// How the programs of a chained pass coordinate: flags and counters, zero
/// between launches (from the allocation; each launch's last program zeroes
/// them again).
#[derive(Debug)]
struct ChainScratch {
    flags: RawBuffer,
    counters: RawBuffer,
}

/// Gradients of q, k, v and, when the forward had one, the initial state.
#[derive(Debug)]
pub struct Gradients {
    pub dq: RawBuffer,
    pub dk: RawBuffer,
    pub dv: RawBuffer,
    pub d_initial_state: Option<RawBuffer>,
    /// Workspace: the reverse segment states (empty when the sequence is
    /// one segment).
    pub states: RawBuffer,
    /// Workspace: the reverse states transposed, for dk (empty unless a
    /// two-pass plan has several segments).
    pub states_t: RawBuffer,
    /// Workspace: the reverse chunk states' parts and tickets.
    pub parts: RawBuffer,
    tickets: RawBuffer,
}

impl LightningAttention {
    /// Tunes each kernel with a short budget, so that a first call at a new
    /// shape costs well under a second per kernel.
    pub fn new(bundle: Bundle) -> LightningAttention {
        let tune = TuneOptions { warmup: 2, repeats: 10, budget: Duration::from_millis(150), ..TuneOptions::default() };
        LightningAttention { bundle, tune, poison: false, chained: false, serial: false, pieces: None }
    }

    /// Run every problem with several segments as a chained plan
    /// ([`Problem::chained`]), whatever the problem says.
    pub fn with_chained(mut self, chained: bool) -> LightningAttention {
        self.chained = chained;
        self
    }

    pub fn chained(&self) -> bool {
        self.chained
    }

    /// Launch every step on the runtime's stream, one after another, even
    /// the steps a plan lets run [beside](Step::beside) the next ones (for
    /// A/Bs of the overlap).
    pub fn with_serial(mut self, serial: bool) -> LightningAttention {
        self.serial = serial;
        self
    }

    /// Cut every chunk-state walk into `pieces` pieces where a problem sets
    /// none ([`Problem::pieces`]; None: the problem's default).
    pub fn with_pieces(mut self, pieces: Option<usize>) -> LightningAttention {
        self.pieces = pieces;
        self
    }

    /// The pieces every chunk-state walk is cut into where a problem sets
    /// none (None: each problem's default).
    pub fn pieces(&self) -> Option<usize> {
        self.pieces
    }

    /// Fill every output with NaN before the kernels run (for checks: an
    /// element no kernel writes stays NaN). Costs one memset per output.
    pub fn with_poison(mut self, poison: bool) -> LightningAttention {
        self.poison = poison;
        self
    }

    /// How each kernel is tuned (outputs are set per step).
    pub fn tuning(&self) -> &TuneOptions {
        &self.tune
    }

    /// Replace the tuning options (outputs are set per step).
    pub fn with_tuning(mut self, tune: TuneOptions) -> LightningAttention {
        self.tune = tune;
        self
    }

    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// o = lightning_attention(q, k, v) for the problem `p`. Allocates the
    /// output, the final state (when `p.final_state`) and the segment states
    /// the backward reads.
    pub fn forward(&self, rt: &Runtime, p: &Problem, inputs: &Inputs<'_>) -> Result<Forward> {
        let fitted = self.fit(rt, p, inputs.initial_state.is_some())?;
        let fwd = self.alloc_forward(rt, &fitted)?;
        self.forward_into(rt, &fitted, inputs, &fwd)?;
        Ok(fwd)
    }

    /// The buffers [`LightningAttention::forward_into`] writes, for a problem
    /// returned by [`LightningAttention::fit`].
    pub fn alloc_forward(&self, rt: &Runtime, p: &Problem) -> Result<Forward> {
        Ok(Forward {
            o: self.output(rt, p, Buf::O)?,
            final_state: p.final_state.then(|| self.output(rt, p, Buf::FinalState)).transpose()?,
            states: self.output(rt, p, Buf::FwdStates)?,
            states_t: self.output(rt, p, Buf::FwdStatesT)?,
            parts: self.output(rt, p, Buf::FwdParts)?,
            // Zeroed, as tickets must be between launches.
            tickets: alloc(rt, p, Buf::FwdTickets)?,
            placeholder: alloc(rt, p, Buf::Placeholder)?,
            chain: ChainScratch {
                // Allocations start zeroed, as the flags and counters must.
                flags: alloc(rt, p, Buf::Flags)?,
                counters: alloc(rt, p, Buf::Counters)?,
            },
        })
    }

    /// The forward into buffers allocated before (no allocation: for
    /// repeated calls and timing). `p` must come from [`LightningAttention::fit`].
    pub fn forward_into(&self, rt: &Runtime, p: &Problem, inputs: &Inputs<'_>, fwd: &Forward) -> Result<()> {
        let mut bufs = Buffers::default();
        bufs.inputs(p, inputs)?;
        bufs.input(p, Buf::O, &fwd.o)?;
        bufs.input(p, Buf::FwdStates, &fwd.states)?;
        bufs.input(p, Buf::FwdStatesT, &fwd.states_t)?;
        bufs.input(p, Buf::FwdParts, &fwd.parts)?;
        bufs.input(p, Buf::FwdTickets, &fwd.tickets)?;
        bufs.chain(p, fwd)?;
        bufs.set(Buf::Placeholder, &fwd.placeholder);
        if let Some(f) = &fwd.final_state {
            bufs.input(p, Buf::FinalState, f)?;
        }
        self.run(rt, &plan::forward(p)?, &bufs)
    }

    /// Gradients of the forward that returned `fwd` from the same inputs,
    /// given do (`[.., n, e]`). Allocates them and the reverse states.
    pub fn backward(
        &self,
        rt: &Runtime,
        p: &Problem,
        inputs: &Inputs<'_>,
        fwd: &Forward,
        d_o: &RawBuffer,
    ) -> Result<Gradients> {
        let fitted = self.fit(rt, p, inputs.initial_state.is_some())?;
        let grads = self.alloc_backward(rt, &fitted)?;
        self.backward_into(rt, &fitted, inputs, fwd, d_o, &grads)?;
        Ok(grads)
    }

    pub fn alloc_backward(&self, rt: &Runtime, p: &Problem) -> Result<Gradients> {
        Ok(Gradients {
            dq: self.output(rt, p, Buf::DQ)?,
            dk: self.output(rt, p, Buf::DK)?,
            dv: self.output(rt, p, Buf::DV)?,
            d_initial_state: p.initial_state.then(|| self.output(rt, p, Buf::DInitialState)).transpose()?,
            states: self.output(rt, p, Buf::BwdStates)?,
            states_t: self.output(rt, p, Buf::BwdStatesT)?,
            parts: self.output(rt, p, Buf::BwdParts)?,
            tickets: alloc(rt, p, Buf::BwdTickets)?,
        })
    }

    /// The backward into buffers from [`LightningAttention::alloc_backward`].
    pub fn backward_into(
        &self,
        rt: &Runtime,
        p: &Problem,
        inputs: &Inputs<'_>,
        fwd: &Forward,
        d_o: &RawBuffer,
        grads: &Gradients,
    ) -> Result<()> {
        let mut bufs = Buffers::default();
        bufs.inputs(p, inputs)?;
        bufs.input(p, Buf::DO, d_o)?;
        bufs.input(p, Buf::FwdStates, &fwd.states)?;
        bufs.input(p, Buf::FwdStatesT, &fwd.states_t)?;
        bufs.chain(p, fwd)?;
        bufs.set(Buf::Placeholder, &fwd.placeholder);
        bufs.input(p, Buf::DQ, &grads.dq)?;
        bufs.input(p, Buf::DK, &grads.dk)?;
        bufs.input(p, Buf::DV, &grads.dv)?;
        bufs.input(p, Buf::BwdStates, &grads.states)?;
        bufs.input(p, Buf::BwdStatesT, &grads.states_t)?;
        bufs.input(p, Buf::BwdParts, &grads.parts)?;
        bufs.input(p, Buf::BwdTickets, &grads.tickets)?;
        if p.initial_state {
            let g = grads.d_initial_state.as_ref().ok_or_else(|| {
                Error::Buffer(
                    "lightning attention: the problem has an initial state but no buffer for its gradient".into(),
                )
            })?;
            bufs.input(p, Buf::DInitialState, g)?;
        }
        self.run(rt, &plan::backward(p)?, &bufs)
    }

    fn output(&self, rt: &Runtime, p: &Problem, b: Buf) -> Result<RawBuffer> {
        let buffer = alloc(rt, p, b)?;
        if self.poison {
            rt.fill_bytes(&buffer, 0xFF)?;
        }
        Ok(buffer)
    }

    /// The problem as it will run on this device: checked, chained when
    /// this runner chains, with its segment length fixed from the device's
    /// multiprocessor count.
    pub fn fit(&self, rt: &Runtime, p: &Problem, initial_state: bool) -> Result<Problem> {
        let mut p = p.clone();
        p.initial_state = initial_state;
        p.chained |= self.chained;
        p.pieces = p.pieces.or(self.pieces);
        p.check()?;
        if p.segment.is_none() {
            p.segment = Some(p.segment_for(rt.info().sm_count as usize));
        }
        Ok(p)
    }

    /// Launch every step of a plan, in order, as one piece of work on the
    /// runtime's stream. A step the plan lets run beside the next ones goes
    /// on the runtime's side stream, launched just after the step that
    /// follows it, and the steps after it run on the priority stream until
    /// the first that depends on it (or that tunes) joins the streams: so
    /// their thread blocks take the multiprocessors first, and the beside
    /// step fills the ones they leave. (A beside step's blocks taking them
    /// first would leave its longest programs holding multiprocessors that
    /// a pass of one wave of programs needs.)
    pub fn run(&self, rt: &Runtime, steps: &[Step], bufs: &Buffers<'_>) -> Result<()> {
        let main = rt.stream();
        // Beside steps not yet joined, and those of them not yet launched.
        let mut open: Vec<&Step> = Vec::new();
        let mut waiting: Vec<Waiting<'_>> = Vec::new();
        for step in steps {
            let kernel = self.bundle.kernel(&step.kernel)?;
            let args = launch_args(step, bufs)?;
            let options = self.options(step);
            // Tuning times its candidates on the runtime's stream, with
            // nothing beside them. (Only asked where streams are in play:
            // the launch binds the arguments again.)
            let tunes = (step.beside || !open.is_empty()) && !kernel.is_chosen(&args)?;
            if !open.is_empty() && (tunes || open.iter().any(|b| step.depends_on(b))) {
                join(rt, &mut open, &mut waiting)?;
            }
            if step.beside && !self.serial && !tunes {
                // From here on the side stream holds what the steps so far
                // left (and the priority stream takes the next steps).
                let (side, priority) = (rt.side_stream()?, rt.priority_stream()?);
                if open.is_empty() {
                    side.wait_for(main)?;
                    priority.wait_for(main)?;
                } else {
                    side.wait_for(priority)?;
                }
                open.push(step);
                waiting.push((kernel, args, options));
                continue;
            }
            let stream = if open.is_empty() { main } else { rt.priority_stream()? };
            kernel.launch_tuned(rt, stream, &args, &options)?;
            launch_beside(rt, &mut waiting)?;
        }
        if !open.is_empty() {
            join(rt, &mut open, &mut waiting)?;
        }
        Ok(())
    }

    fn options(&self, step: &Step) -> TuneOptions {
        TuneOptions { outputs: Some(step.outputs.iter().map(|s| s.to_string()).collect()), ..self.tune.clone() }
    }
}

/// A beside step's launch, held until the step after it is launched.
type Waiting<'a> = (KernelHandle, LaunchArgs<'a>, TuneOptions);

/// Launch the beside steps still waiting, on the side stream.
fn launch_beside(rt: &Runtime, waiting: &mut Vec<Waiting<'_>>) -> Result<()> {
    for (kernel, args, options) in waiting.drain(..) {
        kernel.launch_tuned(rt, rt.side_stream()?, &args, &options)?;
    }
    Ok(())
}

/// Launch the beside steps still waiting, and make the runtime's stream
/// wait for the side and priority streams.
fn join(rt: &Runtime, open: &mut Vec<&Step>, waiting: &mut Vec<Waiting<'_>>) -> Result<()> {
    launch_beside(rt, waiting)?;
    rt.stream().wait_for(rt.side_stream()?)?;
    rt.stream().wait_for(rt.priority_stream()?)?;
    open.clear();
    Ok(())
}

/// A step's arguments, its buffers looked up by role.
fn launch_args<'a>(step: &Step, bufs: &Buffers<'a>) -> Result<LaunchArgs<'a>> {
    let mut args = LaunchArgs::new();
    for (name, arg) in &step.args {
        args = match *arg {
            StepArg::Buf(b) => args.arg(name, bufs.get(b)?),
            StepArg::I32(v) => args.arg(name, v),
            StepArg::F32(v) => args.arg(name, v),
        };
    }
    for (name, value) in &step.pins {
        args = args.pin(name, *value);
    }
    Ok(args)
}

fn alloc(rt: &Runtime, p: &Problem, b: Buf) -> Result<RawBuffer> {
    let (elem, shape) = p.buffer(b);
    rt.alloc_raw(elem, shape.iter().product())
}

/// The buffers of one plan, by role.
#[derive(Default)]
pub struct Buffers<'a> {
    map: BTreeMap<Buf, &'a RawBuffer>,
}

impl<'a> Buffers<'a> {
    pub fn set(&mut self, b: Buf, buffer: &'a RawBuffer) {
        self.map.insert(b, buffer);
    }

    /// The problem's inputs, checked.
    pub fn inputs(&mut self, p: &Problem, inputs: &Inputs<'a>) -> Result<()> {
        self.input(p, Buf::Q, inputs.q)?;
        self.input(p, Buf::K, inputs.k)?;
        self.input(p, Buf::V, inputs.v)?;
        self.input(p, Buf::Decay, inputs.decay)?;
        match inputs.initial_state {
            Some(s0) if p.initial_state => self.input(p, Buf::InitialState, s0),
            None if !p.initial_state => Ok(()),
            _ => Err(Error::Buffer(
                "lightning attention: the problem and the inputs disagree on the initial state".into(),
            )),
        }
    }

    /// A caller's buffer, after checking its element type and length.
    pub fn input(&mut self, p: &Problem, b: Buf, buffer: &'a RawBuffer) -> Result<()> {
        let (elem, shape) = p.buffer(b);
        let len: usize = shape.iter().product();
        if buffer.elem() != elem {
            return Err(Error::Buffer(format!(
                "lightning attention: `{b}` holds {}, the problem needs {elem}",
                buffer.elem()
            )));
        }
        if buffer.len() < len {
            return Err(Error::Buffer(format!(
                "lightning attention: `{b}` holds {} elements, the problem needs {len} ({shape:?} {elem})",
                buffer.len(),
            )));
        }
        self.set(b, buffer);
        Ok(())
    }

    /// A chained plan's flags and counters, from the forward that allocated them.
    fn chain(&mut self, p: &Problem, fwd: &'a Forward) -> Result<()> {
        self.input(p, Buf::Flags, &fwd.chain.flags)?;
        self.input(p, Buf::Counters, &fwd.chain.counters)
    }

    fn get(&self, b: Buf) -> Result<&'a RawBuffer> {
        self.map.get(&b).copied().ok_or_else(|| Error::Buffer(format!("lightning attention: no buffer for `{b}`")))
    }
}
