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
use std::sync::{Condvar, Mutex, MutexGuard};

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

    /// Program `me` ended: the next program starts, and the turn moves on.
    pub fn finish(&self, me: usize) {
        {
            let mut t = self.lock();
            t.in_flight.retain(|&p| p != me);
            while t.in_flight.len() < t.resident && t.next < t.total {
                let next = t.next;
                t.in_flight.push(next);
                t.next += 1;
            }
            t.pick();
        }
        self.changed.notify_all();
    }

    /// Program `me` failed: every program stops.
    pub fn abort(&self) {
        self.lock().aborted = true;
        self.changed.notify_all();
    }
}
