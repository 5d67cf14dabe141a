//! The shared-memory hazard verifier: checks the lowered MLIR text for a
//! transient region written while another thread may still read an
//! overlapping one, or read while its writes may still be running.
//!
//! Why here: transient regions (exchanges, cross-warp reductions, staged
//! `dot` operands, bulk-store staging) are placed by the lowering's own
//! model of which regions may still be read ([`super::Lowerer::transient_alloc`]),
//! with no barrier after their reads. A slip in that model is a data race
//! that no CPU test sees and that `compute-sanitizer racecheck` finds only
//! on the GPU (the seventeenth session's state fold: a loop's initial value
//! converted for a pipelined loop in a region that overlapped one whose
//! reads were still running). So every transient use is written into the
//! text as ledger comments, from the absolute addresses the code uses, and
//! this pass replays them against the barriers:
//!
//! * `// shared write [a, b)`: the threads write bytes `[a, b)`;
//! * `// shared read [a, b)`: the threads read them (after the use's
//!   barrier);
//! * `// shared async read [a, b)`: an asynchronous reader (a `wgmma`
//!   whose operands were staged there) starts reading them, and
//!   `// shared async done [a, b)`: it was waited for (the range is then
//!   read as by the threads, until the next barrier);
//! * `nvvm.barrier0`: everything before it is complete in every thread,
//!   but the asynchronous readers not yet waited for.
//!
//! A write overlapping a range read since the last barrier or still read
//! asynchronously, or a read overlapping a range written since the last
//! barrier, is a hazard.
//! Control flow comes from the text's regions: both arms of an `scf.if`
//! from the same state, joined; an `scf.while` as zero, one or two trips
//! (a second trip sees what the first left unsynchronized). The check is
//! conservative about barriers inside branches (a barrier on one arm only
//! does not count after the join). Pipeline buffers are not in the ledger:
//! copies fill them under their own protocol (`cp.async` groups or
//! mbarriers), below every transient region.

use crate::error::{BackendError, Result, Stage};

/// A byte range of shared memory, `[start, end)`.
type Range = (u64, u64);

/// The kinds of ledger comment, each with its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Use {
    /// `// shared write [a, b)`.
    Write,
    /// `// shared read [a, b)`.
    Read,
    /// `// shared async read [a, b)`: an asynchronous reader starts.
    AsyncRead,
    /// `// shared async done [a, b)`: the asynchronous reader was waited for.
    AsyncDone,
}

impl Use {
    const ALL: [Use; 4] = [Use::Write, Use::Read, Use::AsyncRead, Use::AsyncDone];

    fn prefix(self) -> &'static str {
        match self {
            Use::Write => "// shared write [",
            Use::Read => "// shared read [",
            Use::AsyncRead => "// shared async read [",
            Use::AsyncDone => "// shared async done [",
        }
    }
}

/// The ledger comment of a `kind` use of `range`.
pub(super) fn marker(kind: Use, (start, end): Range) -> String {
    format!("{}{start}, {end})", kind.prefix())
}

/// The ledger comments of `text` as (0-based line, node), in order: what
/// [`verify`] replays, for tests that look at where uses were placed.
#[cfg(test)]
pub(crate) fn ledger(text: &str) -> Result<Vec<(usize, Node)>> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(node) = ledger_entry(line.trim(), i + 1)? {
            entries.push((i, node));
        }
    }
    Ok(entries)
}

/// The node of a ledger comment `line` (number `number`), if it is one.
fn ledger_entry(line: &str, number: usize) -> Result<Option<Node>> {
    let Some((kind, rest)) = Use::ALL.iter().find_map(|&kind| Some((kind, line.strip_prefix(kind.prefix())?))) else {
        return Ok(None);
    };
    let range = parse_range(rest).ok_or_else(|| malformed(number, "a malformed ledger comment"))?;
    Ok(Some(Node::Use(kind, Access { range, line: number })))
}

/// One access since the last barrier: its range and its line (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Access {
    pub range: Range,
    pub line: usize,
}

/// What may still be running, on some path: accesses since the last
/// barrier, and asynchronous reads not yet waited for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Unsynced {
    reads: Vec<Access>,
    writes: Vec<Access>,
    in_flight: Vec<Access>,
}

fn union(into: &mut Vec<Access>, from: Vec<Access>) {
    for a in from {
        if !into.contains(&a) {
            into.push(a);
        }
    }
}

impl Unsynced {
    fn join(mut self, other: Unsynced) -> Unsynced {
        union(&mut self.reads, other.reads);
        union(&mut self.writes, other.writes);
        union(&mut self.in_flight, other.in_flight);
        self
    }
}

/// The text as a tree of regions.
#[derive(Debug)]
pub(crate) enum Node {
    Use(Use, Access),
    Barrier,
    /// `scf.if`: the then region and the else region (empty when absent).
    Branch(Vec<Node>, Vec<Node>),
    /// `scf.while`: its before and after regions, as one trip.
    Loop(Vec<Node>),
    /// Any other region (run once where it stands).
    Block(Vec<Node>),
}

fn overlaps(a: Range, b: Range) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Checks the lowered function body `text` (see the module docs).
pub(super) fn verify(text: &str) -> Result<()> {
    let lines: Vec<(usize, &str)> = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).collect();
    let mut at = 0;
    let nodes = parse_region(&lines, &mut at)?;
    if let Some(&(number, _)) = lines.get(at) {
        return Err(malformed(number, "a `}` that closes no region"));
    }
    run(&nodes, Unsynced::default()).map(|_| ())
}

fn parse_range(rest: &str) -> Option<Range> {
    let (start, end) = rest.strip_suffix(')')?.split_once(", ")?;
    Some((start.parse().ok()?, end.parse().ok()?))
}

fn malformed(line: usize, what: &str) -> BackendError {
    BackendError::new(Stage::SharedHazard, format!("lowered line {line}: {what}"))
}

/// The nodes up to the end of the current region (a line starting with
/// `}`, left for the caller) or of the text.
fn parse_region(lines: &[(usize, &str)], at: &mut usize) -> Result<Vec<Node>> {
    let mut nodes = Vec::new();
    while let Some(&(number, line)) = lines.get(*at) {
        if line.starts_with('}') {
            return Ok(nodes);
        }
        *at += 1;
        if let Some(node) = ledger_entry(line, number)? {
            nodes.push(node);
        } else if line == "nvvm.barrier0" {
            nodes.push(Node::Barrier);
        } else if line.ends_with('{') && !line.starts_with("//") {
            let first = parse_region(lines, at)?;
            let close = |at: &mut usize| -> Result<&str> {
                let &(_, l) = lines.get(*at).ok_or_else(|| malformed(number, "a region that never closes"))?;
                *at += 1;
                Ok(l)
            };
            let end = close(at)?;
            let second = if end.starts_with("} else {") || end.starts_with("} do {") {
                let second = parse_region(lines, at)?;
                close(at)?;
                second
            } else {
                Vec::new()
            };
            nodes.push(if line.contains("scf.if") {
                Node::Branch(first, second)
            } else if line.contains("scf.while") {
                let mut trip = first;
                trip.extend(second);
                Node::Loop(trip)
            } else {
                let mut block = first;
                block.extend(second);
                Node::Block(block)
            });
        }
    }
    Ok(nodes)
}

/// Runs `nodes` from `state`: the unsynchronized accesses at their end.
fn run(nodes: &[Node], mut state: Unsynced) -> Result<Unsynced> {
    for node in nodes {
        state = match node {
            Node::Use(Use::Write, w) => {
                if let Some(r) = state.reads.iter().find(|r| overlaps(r.range, w.range)) {
                    return Err(hazard("writes", *w, "read", *r));
                }
                if let Some(r) = state.in_flight.iter().find(|r| overlaps(r.range, w.range)) {
                    return Err(hazard("writes", *w, "read asynchronously (not waited for)", *r));
                }
                state.writes.push(*w);
                state
            }
            Node::Use(kind @ (Use::Read | Use::AsyncRead), r) => {
                if let Some(w) = state.writes.iter().find(|w| overlaps(w.range, r.range)) {
                    return Err(hazard("reads", *r, "written", *w));
                }
                match kind {
                    Use::Read => state.reads.push(*r),
                    _ => state.in_flight.push(*r),
                }
                state
            }
            Node::Use(Use::AsyncDone, done) => {
                // Read until here: as by the threads, until the next barrier.
                let (waited, running) = state.in_flight.into_iter().partition(|r| r.range == done.range);
                state.in_flight = running;
                union(&mut state.reads, waited);
                state
            }
            Node::Barrier => Unsynced { in_flight: state.in_flight, ..Unsynced::default() },
            Node::Branch(then, otherwise) => {
                let a = run(then, state.clone())?;
                let b = run(otherwise, state)?;
                a.join(b)
            }
            Node::Loop(trip) => {
                let first = run(trip, state.clone())?;
                let second = run(trip, state.clone().join(first.clone()))?;
                state.join(first).join(second)
            }
            Node::Block(block) => run(block, state)?,
        };
    }
    Ok(state)
}

fn hazard(verb: &str, access: Access, other: &str, earlier: Access) -> BackendError {
    BackendError::new(
        Stage::SharedHazard,
        format!(
            "lowered line {} {verb} shared bytes [{}, {}) while [{}, {}) {other} at line {} may still be in use (no barrier between them on some path)",
            access.line, access.range.0, access.range.1, earlier.range.0, earlier.range.1, earlier.line
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(lines: &[&str]) -> String {
        lines.join("\n")
    }

    /// A use of [0, 64) written, a barrier, read; then a write of `next`.
    fn use_then_write(next: Range) -> String {
        body(&[&marker(Use::Write, (0, 64)), "nvvm.barrier0", &marker(Use::Read, (0, 64)), &marker(Use::Write, next)])
    }

    #[test]
    fn a_use_written_then_read_across_a_barrier_is_clean() {
        verify(&use_then_write((64, 128))).unwrap();
    }

    #[test]
    fn a_write_over_a_region_still_read_is_a_hazard() {
        let error = verify(&use_then_write((32, 96))).unwrap_err();
        assert_eq!(error.code(), "E0817");
        let message = error.to_string();
        assert!(message.contains("line 4 writes shared bytes [32, 96) while [0, 64) read at line 3"), "{message}");
    }

    #[test]
    fn a_read_without_the_barrier_after_its_writes_is_a_hazard() {
        let text = body(&[&marker(Use::Write, (0, 64)), &marker(Use::Read, (0, 64))]);
        assert!(verify(&text).unwrap_err().to_string().contains("reads shared bytes [0, 64)"));
    }

    #[test]
    fn a_loop_body_that_reuses_its_region_needs_a_barrier_at_its_end() {
        let trip = |end_barrier: bool| {
            let mut lines = vec![
                "%v1:2 = scf.while (%a = %b) : (i32) -> (i32) {".to_string(),
                "scf.condition(%c) %a : i32".to_string(),
                "} do {".to_string(),
                marker(Use::Write, (0, 64)),
                "nvvm.barrier0".to_string(),
                marker(Use::Read, (0, 64)),
            ];
            if end_barrier {
                lines.push("nvvm.barrier0".to_string());
            }
            lines.push("scf.yield %a : i32".to_string());
            lines.push("}".to_string());
            lines.join("\n")
        };
        verify(&trip(true)).unwrap();
        let message = verify(&trip(false)).unwrap_err().to_string();
        assert!(message.contains("writes shared bytes [0, 64) while [0, 64) read at line 6"), "{message}");
    }

    #[test]
    fn both_arms_of_a_branch_start_from_the_same_state_and_join() {
        // Each arm alone is clean; after the join, the else arm's read is
        // still unsynchronized, so the write after the branch is a hazard.
        let text = body(&[
            "scf.if %p {",
            &marker(Use::Write, (0, 64)),
            "nvvm.barrier0",
            "} else {",
            &marker(Use::Read, (128, 192)),
            "}",
            &marker(Use::Write, (128, 256)),
        ]);
        let message = verify(&text).unwrap_err().to_string();
        assert!(message.contains("line 7 writes shared bytes [128, 256) while [128, 192) read at line 5"), "{message}");
    }

    #[test]
    fn an_asynchronous_read_outlives_barriers_until_its_wait() {
        let bar = "nvvm.barrier0".to_string();
        let staged = [marker(Use::Write, (0, 64)), bar.clone(), marker(Use::AsyncRead, (0, 64))];
        let with = |tail: &[String]| staged.iter().chain(tail).cloned().collect::<Vec<_>>().join("\n");
        // Another use's barrier does not end the running read.
        let message = verify(&with(&[bar.clone(), marker(Use::Write, (32, 96))])).unwrap_err().to_string();
        assert!(message.contains("line 5 writes shared bytes [32, 96) while [0, 64) read asynchronously"), "{message}");
        // Waited for, then a barrier: the region is free.
        verify(&with(&[marker(Use::AsyncDone, (0, 64)), bar.clone(), marker(Use::Write, (32, 96))])).unwrap();
        // Waited for but no barrier since: other threads may still be before the wait.
        let message =
            verify(&with(&[marker(Use::AsyncDone, (0, 64)), marker(Use::Write, (32, 96))])).unwrap_err().to_string();
        assert!(message.contains("while [0, 64) read at line 3"), "{message}");
    }

    #[test]
    fn unbalanced_regions_are_reported_not_a_panic() {
        let text = body(&["scf.if %p {", &marker(Use::Write, (0, 64))]);
        assert!(verify(&text).unwrap_err().to_string().contains("never closes"));
        let text = body(&[&marker(Use::Write, (0, 64)), "}", &marker(Use::Read, (0, 64))]);
        assert!(verify(&text).unwrap_err().to_string().contains("line 2: a `}` that closes no region"));
    }
}
