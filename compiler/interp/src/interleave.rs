//! Interleaved launches: programs that run at the same time, as on a GPU,
//! so that kernels whose programs talk to each other through memory (a
//! ticket, flags, a look-back) are tested on the paths a one-after-another
//! launch never takes: a flag not yet raised, a state replaced while it is
//! read.
//!
//! Each program runs on a thread of its own, but only one thread runs ops at
//! any moment: the one holding the turn. A program hands the turn on at
//! every `atomic_add` and `fence` (the points where programs of a GPU
//! launch observe each other) to one of the programs in flight, chosen by a
//! seeded generator, so a launch is reproducible from its seed. At most
//! `resident` programs are in flight (a GPU's resident blocks); the next in
//! grid order starts when one ends. Memory accesses between two hand-over
//! points therefore happen as one step, and every access of a program is
//! visible to the others once it has handed on: sequentially consistent,
//! which is what `fence()` and the atomics promise the kernels.

use crate::buffer::HostBuffer;
use crate::error::InterpError;
use crate::exec::{Buffers, Machine};
use crate::value::Value;
use crate::{LaunchStats, codes};
use std::rc::Rc;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::Scope;
use tessera_tir::Kernel;

/// How an interleaved launch schedules its programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interleave {
    /// Programs in flight at once (at least 1).
    pub resident: u32,
    /// Seeds the choice of the program that runs after each hand-over.
    pub seed: u64,
}

/// Who runs, and what is in flight.
struct Turns {
    /// The program (index in grid order) that may run ops now.
    running: usize,
    /// Started and not finished, in start order.
    in_flight: Vec<usize>,
    /// The next program to start.
    next: usize,
    total: usize,
    resident: usize,
    rng: u64,
    /// A program failed: every other one stops at its next hand-over.
    aborted: bool,
    /// Hand-overs so far, and how many the launch may make.
    hand_overs: u64,
    hand_over_limit: u64,
}

/// Hand-overs a launch may make: 2^17, or 256 per program when that is
/// more. Far more than a protocol needs (a few per program and published
/// value, plus the waits), and reached in a second or two by programs that
/// wait for a flag no program will raise, which would otherwise spin
/// through billions of ops first.
pub(crate) fn hand_over_limit(programs: usize) -> u64 {
    (1u64 << 17).max(256 * programs as u64)
}

impl Turns {
    /// xorshift64*: small, fast and reproducible.
    fn random(&mut self, below: usize) -> usize {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % below.max(1)
    }

    fn pick(&mut self) {
        let at = self.random(self.in_flight.len());
        if let Some(&p) = self.in_flight.get(at) {
            self.running = p;
        }
    }
}

/// The memory and the turn, shared by the threads of one launch.
pub(crate) struct Scheduler {
    memory: Mutex<Vec<HostBuffer>>,
    turns: Mutex<Turns>,
    changed: Condvar,
}

/// Why a program of an interleaved launch stops early.
pub(crate) enum Stop {
    /// Another program failed.
    Aborted,
    /// The launch made [`hand_over_limit`] hand-overs.
    Stalled(u64),
}

impl Scheduler {
    pub fn new(buffers: Vec<HostBuffer>, total: usize, how: Interleave) -> Scheduler {
        let resident = (how.resident.max(1) as usize).min(total.max(1));
        // A zero state would stay zero.
        let rng = how.seed ^ 0x9e37_79b9_7f4a_7c15;
        let mut turns = Turns {
            running: 0,
            in_flight: (0..resident.min(total)).collect(),
            next: resident.min(total),
            total,
            resident,
            rng: if rng == 0 { 1 } else { rng },
            aborted: false,
            hand_overs: 0,
            hand_over_limit: hand_over_limit(total),
        };
        turns.pick();
        Scheduler { memory: Mutex::new(buffers), turns: Mutex::new(turns), changed: Condvar::new() }
    }

    /// The launch's buffers (uncontended: only the running program asks).
    pub fn memory(&self) -> MutexGuard<'_, Vec<HostBuffer>> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn into_buffers(self) -> Vec<HostBuffer> {
        self.memory.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, Turns> {
        self.turns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait until program `me` holds the turn.
    pub fn wait_turn(&self, me: usize) -> Result<(), Stop> {
        let mut t = self.lock();
        while t.running != me && !t.aborted {
            t = self.changed.wait(t).unwrap_or_else(|e| e.into_inner());
        }
        if t.aborted { Err(Stop::Aborted) } else { Ok(()) }
    }

    /// Program `me` hands the turn on (possibly to itself) and waits for it back.
    pub fn hand_over(&self, me: usize) -> Result<(), Stop> {
        {
            let mut t = self.lock();
            t.hand_overs += 1;
            if t.hand_overs > t.hand_over_limit {
                return Err(Stop::Stalled(t.hand_over_limit));
            }
            t.pick();
        }
        self.changed.notify_all();
        self.wait_turn(me)
    }

    /// The programs in flight from the start.
    fn first(&self) -> Vec<usize> {
        self.lock().in_flight.clone()
    }

    /// Program `me` ended: the programs that start in its place (to be given
    /// threads), and the turn moves on.
    pub fn finish(&self, me: usize) -> Vec<usize> {
        let mut started = Vec::new();
        {
            let mut t = self.lock();
            t.in_flight.retain(|&p| p != me);
            while t.in_flight.len() < t.resident && t.next < t.total {
                let next = t.next;
                t.in_flight.push(next);
                started.push(next);
                t.next += 1;
            }
            t.pick();
        }
        self.changed.notify_all();
        started
    }

    /// Program `me` failed: every program stops.
    pub fn abort(&self) {
        self.lock().aborted = true;
        self.changed.notify_all();
    }
}

/// One interleaved launch: what every program's thread needs.
pub(crate) struct Launch<'k> {
    pub kernel: &'k Kernel,
    pub values: &'k [Value],
    pub param_buffers: Vec<Option<usize>>,
    pub grid: [u32; 3],
}

/// What one program's thread ended with, and the ops it ran.
type Outcome = (Result<(), InterpError>, u64);

impl Launch<'_> {
    /// Runs the grid: a thread per program in flight (never more than
    /// `resident`), each started when a program ends; the first program to
    /// fail gives the launch's error. The caller's buffers are lent to the
    /// threads meanwhile.
    pub fn run(&self, buffers: &mut [HostBuffer], max_ops: u64, how: Interleave) -> Result<LaunchStats, InterpError> {
        let [gx, gy, gz] = self.grid;
        let total = (gx as usize) * (gy as usize) * (gz as usize);
        let held: Vec<HostBuffer> = buffers.iter_mut().map(|b| std::mem::replace(b, HostBuffer::empty())).collect();
        let scheduler = Scheduler::new(held, total, how);
        let outcomes: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for program in scheduler.first() {
                self.spawn(scope, &scheduler, &outcomes, max_ops, program);
            }
        });
        for (slot, buffer) in buffers.iter_mut().zip(scheduler.into_buffers()) {
            *slot = buffer;
        }
        let outcomes = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
        let ops = outcomes.iter().map(|o| o.1).sum();
        // The failure that stopped the launch, not the programs it stopped.
        let mut errors: Vec<InterpError> = outcomes.into_iter().filter_map(|o| o.0.err()).collect();
        match errors.iter().position(|e| e.code != codes::ABORTED) {
            Some(at) => Err(errors.swap_remove(at)),
            None => match errors.pop() {
                Some(e) => Err(e),
                None => Ok(LaunchStats { programs: total as u64, ops_executed: ops }),
            },
        }
    }

    /// Program `program` on a thread of its own, which gives the programs
    /// starting when it ends their threads.
    fn spawn<'s, 'e: 's>(
        &'e self,
        scope: &'s Scope<'s, 'e>,
        scheduler: &'e Scheduler,
        outcomes: &'e Mutex<Vec<Outcome>>,
        max_ops: u64,
        program: usize,
    ) {
        scope.spawn(move || {
            let (started, outcome) = self.program(scheduler, max_ops, program);
            outcomes.lock().unwrap_or_else(|e| e.into_inner()).push(outcome);
            for next in started {
                self.spawn(scope, scheduler, outcomes, max_ops, next);
            }
        });
    }

    /// Runs program `program` when its turn comes: the programs that start
    /// when it ends, and its outcome.
    fn program(&self, scheduler: &Scheduler, max_ops: u64, program: usize) -> (Vec<usize>, Outcome) {
        if scheduler.wait_turn(program).is_err() {
            return (Vec::new(), (Ok(()), 0));
        }
        let [gx, gy, _] = self.grid;
        let (gx, gy) = (gx as usize, gy as usize);
        let pid = [(program % gx) as u32, ((program / gx) % gy) as u32, (program / (gx * gy)) as u32];
        let params: Vec<Rc<Value>> = self.values.iter().cloned().map(Rc::new).collect();
        let memory = Buffers::Shared { scheduler, program };
        let mut machine = Machine::new(self.kernel, memory, self.param_buffers.clone(), self.grid, max_ops);
        // A panic must not leave the other threads waiting for the turn.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| machine.run_program(pid, &params)));
        match run {
            Ok(Ok(())) => (scheduler.finish(program), (Ok(()), machine.ops)),
            Ok(Err(e)) => {
                scheduler.abort();
                (Vec::new(), (Err(e), machine.ops))
            }
            Err(panic) => {
                scheduler.abort();
                std::panic::resume_unwind(panic)
            }
        }
    }
}
