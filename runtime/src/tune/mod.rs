//! Autotuning: pick the fastest correct variant for a tuning key.
//!
//! On the first launch for a key (or on `KernelHandle::tune`), every
//! candidate (one runnable variant per tuning point, minus those the cost
//! model rules out) runs on the real arguments: once to check its outputs
//! against the first working candidate (outputs over 16 MiB through 64
//! evenly spaced chunks, so that reading them back does not dominate the
//! tuning), then warm-up runs, then timed runs
//! between CUDA events with the L2 cache flushed before each; the median is
//! its time. Argument buffers are restored to their original content before
//! every checked run and after tuning, so tuning never changes the caller's
//! data. The pick is remembered per process and in the on-disk cache.

mod bench;
mod cache;
mod compare;
mod key;
mod prune;

pub use cache::{CacheEntry, CacheKey, TuneCache, default_cache_dir};
pub use compare::{Tolerance, compare};
pub use key::{bucket, pinned_key, tuning_key};
pub use prune::prune;

pub(crate) use bench::tune;

use crate::error::{Error, Result};
use crate::select::{Choice, CodeKind};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How to tune.
#[derive(Clone, Debug)]
pub struct TuneOptions {
    /// Pointer arguments the kernel writes; their contents are compared
    /// between candidates. None: every pointer argument is compared.
    pub outputs: Option<Vec<String>>,
    /// Allowed difference between candidates; None: by element type (see
    /// [`Tolerance::for_dtype`]).
    pub tolerance: Option<Tolerance>,
    pub warmup: u32,
    /// Timed runs per candidate (fewer if the budget runs out; at least 3).
    pub repeats: u32,
    /// Wall-clock budget for timing all candidates.
    pub budget: Duration,
    /// Ignore (and overwrite) a cached choice.
    pub retune: bool,
    /// Read and write the on-disk cache.
    pub use_cache: bool,
    /// Cache folder; None: [`default_cache_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Skip variants the device cannot run (shared memory, registers, threads).
    pub prune: bool,
    /// Bytes moved per launch, for the GB/s column.
    pub bytes: Option<u64>,
    /// Floating-point operations per launch, for the TFLOP/s column.
    pub flops: Option<u64>,
}

impl Default for TuneOptions {
    fn default() -> TuneOptions {
        TuneOptions {
            outputs: None,
            tolerance: None,
            warmup: 3,
            repeats: 25,
            budget: Duration::from_secs(2),
            retune: false,
            use_cache: true,
            cache_dir: None,
            prune: true,
            bytes: None,
            flops: None,
        }
    }
}

/// What became of a candidate.
#[derive(Clone, Debug, PartialEq)]
pub enum CandidateStatus {
    /// Ran, matched the reference, timed.
    Ok,
    /// Chosen from the cache without running.
    Cached,
    /// Ruled out by the cost model.
    Pruned(String),
    LoadFailed(String),
    LaunchFailed(String),
    /// Its outputs differ from the first working candidate's.
    Mismatch(String),
}

impl fmt::Display for CandidateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CandidateStatus::Ok => f.write_str("ok"),
            CandidateStatus::Cached => f.write_str("cached"),
            CandidateStatus::Pruned(why) => write!(f, "pruned: {why}"),
            CandidateStatus::LoadFailed(why) => write!(f, "load failed: {why}"),
            CandidateStatus::LaunchFailed(why) => write!(f, "launch failed: {why}"),
            CandidateStatus::Mismatch(why) => write!(f, "wrong result: {why}"),
        }
    }
}

/// One row of the candidate table.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateRow {
    pub label: String,
    pub choice: Choice,
    /// Median time in milliseconds.
    pub time_ms: Option<f64>,
    pub gbps: Option<f64>,
    pub tflops: Option<f64>,
    pub status: CandidateStatus,
}

/// The outcome of tuning one key.
#[derive(Clone, Debug, PartialEq)]
pub struct TuneReport {
    pub kernel: String,
    pub key: String,
    pub device: String,
    pub from_cache: bool,
    /// Wall-clock time spent tuning (or reading the cache).
    pub elapsed: Duration,
    /// Where a tuning's time went (zero when read from the cache).
    pub phases: TunePhases,
    pub rows: Vec<CandidateRow>,
    /// Index into `rows` of the pick.
    pub pick: Option<usize>,
    /// Where the pick was stored or read, if the disk cache was used.
    pub cache_path: Option<PathBuf>,
}

/// Where the wall-clock time of one tuning went.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TunePhases {
    /// Saving the arguments and allocating the L2 flush buffer.
    pub setup: Duration,
    /// Loading candidates' modules (the first use of each variant).
    pub loading: Duration,
    /// Each candidate's checked run: restoring the arguments, the launch,
    /// reading back and comparing its outputs.
    pub checking: Duration,
    /// Warm-up and timed runs.
    pub timing: Duration,
}

impl fmt::Display for TunePhases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "setup {:.1} ms, module loads {:.1} ms, checks {:.1} ms, timing {:.1} ms",
            ms(self.setup),
            ms(self.loading),
            ms(self.checking),
            ms(self.timing)
        )
    }
}

impl TuneReport {
    pub fn picked(&self) -> Option<&CandidateRow> {
        self.pick.and_then(|i| self.rows.get(i))
    }

    pub(crate) fn picked_choice(&self) -> Option<Choice> {
        self.picked().map(|r| r.choice)
    }
}

impl fmt::Display for TuneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = if self.from_cache { "from cache" } else { "tuned" };
        let key = if self.key.is_empty() { "(none)" } else { &self.key };
        write!(
            f,
            "kernel `{}` on {}, key {key}: {source} in {:.1} ms",
            self.kernel,
            self.device,
            self.elapsed.as_secs_f64() * 1e3
        )?;
        if self.from_cache {
            writeln!(f)?;
        } else {
            writeln!(f, " ({})", self.phases)?;
        }
        let width = self.rows.iter().map(|r| r.label.len()).max().unwrap_or(7).max(7);
        writeln!(
            f,
            "  {:<width$}  {:<5}  {:>10}  {:>9}  {:>9}  status",
            "variant", "code", "time (ms)", "GB/s", "TFLOP/s"
        )?;
        let num = |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
        for (i, r) in self.rows.iter().enumerate() {
            let mark = if Some(i) == self.pick { "*" } else { " " };
            let code = match r.choice.code {
                CodeKind::Cubin => "cubin",
                CodeKind::Ptx => "ptx",
            };
            writeln!(
                f,
                "{mark} {:<width$}  {code:<5}  {:>10}  {:>9}  {:>9}  {}",
                r.label,
                num(r.time_ms, 4),
                num(r.gbps, 1),
                num(r.tflops, 2),
                r.status
            )?;
        }
        match self.picked() {
            Some(r) => write!(f, "pick: {}", r.label),
            None => write!(f, "pick: none (no candidate ran correctly)"),
        }
    }
}

/// Remove every cached tuning choice under the default cache folder;
/// returns how many entries were removed.
pub fn clear_cache() -> Result<usize> {
    let Some(dir) = default_cache_dir() else { return Ok(0) };
    TuneCache::new(&dir).clear().map_err(|source| Error::Cache { path: dir, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_marks_the_pick_and_shows_every_status() {
        let row = |label: &str, time: Option<f64>, status| CandidateRow {
            label: label.into(),
            choice: Choice { variant: 0, code: CodeKind::Ptx, object: 0 },
            time_ms: time,
            gbps: time.map(|t| 12.0 / t),
            tflops: None,
            status,
        };
        let report = TuneReport {
            kernel: "add".into(),
            key: "n:i32=1024".into(),
            device: "GPU".into(),
            from_cache: false,
            elapsed: Duration::from_millis(12),
            phases: TunePhases {
                setup: Duration::from_millis(1),
                loading: Duration::from_millis(2),
                checking: Duration::from_millis(3),
                timing: Duration::from_millis(6),
            },
            rows: vec![
                row("BLOCK=256,warps=4,stages=1@sm_80", Some(0.5), CandidateStatus::Ok),
                row("BLOCK=1024,warps=4,stages=1@sm_80", Some(0.25), CandidateStatus::Ok),
                row("BLOCK=4096,warps=4,stages=1@sm_80", None, CandidateStatus::Mismatch("max error 1".into())),
                row("BLOCK=8192,warps=4,stages=1@sm_80", None, CandidateStatus::Pruned("too much".into())),
            ],
            pick: Some(1),
            cache_path: None,
        };
        let text = report.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "kernel `add` on GPU, key n:i32=1024: tuned in 12.0 ms \
             (setup 1.0 ms, module loads 2.0 ms, checks 3.0 ms, timing 6.0 ms)"
        );
        assert!(lines[3].starts_with("* BLOCK=1024"), "{text}");
        assert!(lines[3].contains("0.2500") && lines[3].contains("48.0"), "{text}");
        assert!(lines[4].ends_with("wrong result: max error 1"), "{text}");
        assert!(lines[5].ends_with("pruned: too much"), "{text}");
        assert_eq!(lines[6], "pick: BLOCK=1024,warps=4,stages=1@sm_80");
    }
}
