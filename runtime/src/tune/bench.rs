//! Running candidates on the device: correctness check, then timing.

use super::cache::{CacheEntry, CacheKey, TuneCache, default_cache_dir};
use super::compare::{Tolerance, compare};
use super::prune::prune;
use super::{CandidateRow, CandidateStatus, TuneOptions, TunePhases, TuneReport};
use crate::args::{ArgValue, Pins};
use crate::bundle::{DType, FORMAT_VERSION};
use crate::device::{RawBuffer, Runtime, driver_err};
use crate::error::{Error, Result};
use crate::launch::KernelHandle;
use crate::select::Choice;
use cudarc::driver::result;
use std::time::{Duration, Instant};

/// Smallest L2 flush buffer, for devices that report no L2 size.
const MIN_FLUSH_BYTES: usize = 64 << 20;

/// Outputs up to this size are compared whole between candidates; larger
/// ones through [`SAMPLE_CHUNKS`] evenly spaced chunks of this total size
/// (a broken variant is wrong nearly everywhere). Reading back and
/// comparing costs about 3 ms per MB of bf16 on the host, per candidate:
/// at 16 MB it was most of a first lightning-attention call (36
/// candidates, 2.3 s on the H100).
const COMPARE_BYTES: usize = 1 << 20;
const SAMPLE_CHUNKS: usize = 64;

/// The byte ranges of an output of `bytes` bytes (elements of `size`) that
/// are compared.
fn compared_ranges(bytes: usize, size: usize) -> Vec<(usize, usize)> {
    if bytes <= COMPARE_BYTES {
        return vec![(0, bytes)];
    }
    let chunk = (COMPARE_BYTES / SAMPLE_CHUNKS) / size * size;
    let step = bytes / SAMPLE_CHUNKS / size * size;
    (0..SAMPLE_CHUNKS).map(|i| (i * step, chunk.min(bytes - i * step))).collect()
}

/// A pointer argument: where it is, and a saved copy of its content.
struct Saved {
    param: String,
    addr: u64,
    elem: DType,
    bytes: usize,
    copy: RawBuffer,
    compared: bool,
}

pub(crate) fn tune(
    handle: &KernelHandle,
    rt: &Runtime,
    bound: &[ArgValue],
    pins: &Pins,
    opts: &TuneOptions,
) -> Result<TuneReport> {
    let start = Instant::now();
    let decl = handle.decl();
    let key = handle.launch_key(bound, pins);
    let tune_err = |message: String| Error::Tune { kernel: decl.name.clone(), key: key.clone(), message };
    if let Some(outputs) = &opts.outputs {
        for name in outputs {
            if !decl
                .params
                .iter()
                .any(|p| &p.name == name && matches!(p.kind, crate::bundle::ParamKind::Pointer { .. }))
            {
                return Err(tune_err(format!("output `{name}` is not a pointer parameter of the kernel")));
            }
        }
    }
    let info = rt.info();
    let candidates = handle.candidates_for(rt, bound, pins)?;
    let label = |c: &Choice| handle.variants().get(c.variant).map(|v| v.info.label()).unwrap_or_default();
    let mut report = TuneReport {
        kernel: decl.name.clone(),
        key: key.clone(),
        device: info.name.clone(),
        from_cache: false,
        elapsed: Duration::ZERO,
        phases: TunePhases::default(),
        rows: Vec::new(),
        pick: None,
        cache_path: None,
    };

    let cache_key = CacheKey {
        kernel: decl.name.clone(),
        kernel_hash: handle.hash().to_string(),
        device_name: info.name.clone(),
        compute_capability: info.compute_capability,
        driver_version: info.driver_version,
        key: key.clone(),
    };
    let cache = opts.use_cache.then(|| opts.cache_dir.clone().or_else(default_cache_dir)).flatten().map(TuneCache::new);
    // A pick that names no current candidate (a stale or foreign entry) is a miss.
    let cached = cache.as_ref().filter(|_| !opts.retune).and_then(|c| {
        let entry = c.load(&cache_key)?;
        let choice = *candidates.iter().find(|choice| label(choice) == entry.pick)?;
        Some((c, entry, choice))
    });
    if let Some((cache, entry, choice)) = cached {
        report.from_cache = true;
        report.rows.push(CandidateRow {
            label: entry.pick.clone(),
            choice,
            time_ms: Some(entry.time_ms),
            gbps: rate(opts.bytes, entry.time_ms, 1e9),
            tflops: rate(opts.flops, entry.time_ms, 1e12),
            status: CandidateStatus::Cached,
        });
        report.pick = Some(0);
        report.cache_path = Some(cache.path_of(&cache_key));
        report.elapsed = start.elapsed();
        return Ok(report);
    }

    // Save every pointer argument, so each candidate starts from the same data
    // and the caller's buffers are left as they were.
    let setup = Instant::now();
    rt.synchronize()?;
    let mut saved = Vec::new();
    for (param, arg) in decl.params.iter().zip(bound) {
        if let ArgValue::Pointer { addr, elem, len } = *arg {
            let bytes = len * elem.size();
            let copy = rt.alloc_raw(DType::I8, bytes)?;
            rt.copy_raw(copy.addr(), addr, bytes)?;
            let compared = opts.outputs.as_ref().is_none_or(|o| o.contains(&param.name));
            saved.push(Saved { param: param.name.clone(), addr, elem, bytes, copy, compared });
        }
    }
    let flush = rt.alloc_raw(DType::I8, (info.l2_bytes * 2).max(MIN_FLUSH_BYTES))?;
    let per_candidate = opts.budget / candidates.len().max(1) as u32;
    report.phases.setup = setup.elapsed();

    let mut reference: Option<Vec<Vec<u8>>> = None;
    for choice in &candidates {
        let variant = handle.variants().get(choice.variant);
        let mut row = CandidateRow {
            label: label(choice),
            choice: *choice,
            time_ms: None,
            gbps: None,
            tflops: None,
            status: CandidateStatus::Ok,
        };
        if let Some(why) = variant.filter(|_| opts.prune).and_then(|v| prune(&v.info, info)) {
            row.status = CandidateStatus::Pruned(why);
            report.rows.push(row);
            continue;
        }
        let loading = Instant::now();
        let loaded = handle.module(rt, *choice);
        report.phases.loading += loading.elapsed();
        if let Err(e) = loaded {
            // The row already names the kernel and variant.
            row.status = CandidateStatus::LoadFailed(match e {
                Error::ModuleLoad { message, .. } => message,
                other => other.to_string(),
            });
            report.rows.push(row);
            continue;
        }
        match run_candidate(handle, rt, *choice, bound, &saved, &flush, opts, per_candidate, &mut report.phases) {
            Err(Error::Launch { message, .. }) => row.status = CandidateStatus::LaunchFailed(message),
            Err(e) => row.status = CandidateStatus::LaunchFailed(e.to_string()),
            Ok((outputs, median)) => {
                let comparing = Instant::now();
                let mismatch = match &reference {
                    None => None,
                    Some(want) => check(&saved, &outputs, want, opts.tolerance),
                };
                report.phases.checking += comparing.elapsed();
                match mismatch {
                    Some(why) => row.status = CandidateStatus::Mismatch(why),
                    None => {
                        reference.get_or_insert(outputs);
                        row.time_ms = Some(median);
                        row.gbps = rate(opts.bytes, median, 1e9);
                        row.tflops = rate(opts.flops, median, 1e12);
                    }
                }
            }
        }
        report.rows.push(row);
    }
    restore(rt, &saved)?;
    rt.synchronize()?;

    report.pick = report
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status == CandidateStatus::Ok)
        .min_by(|(_, a), (_, b)| a.time_ms.unwrap_or(f64::MAX).total_cmp(&b.time_ms.unwrap_or(f64::MAX)))
        .map(|(i, _)| i);
    if let (Some(cache), Some(picked)) = (&cache, report.picked()) {
        let entry = CacheEntry {
            format: FORMAT_VERSION,
            key: cache_key,
            pick: picked.label.clone(),
            time_ms: picked.time_ms.unwrap_or_default(),
        };
        let path = cache.path_of(&entry.key);
        cache.store(&entry).map_err(|source| Error::Cache { path: path.clone(), source })?;
        report.cache_path = Some(path);
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

/// Work per second in units of `unit` (1e9: GB/s), given work per launch.
fn rate(work: Option<u64>, ms: f64, unit: f64) -> Option<f64> {
    work.filter(|_| ms > 0.0).map(|w| w as f64 / (ms * 1e-3) / unit)
}

fn restore(rt: &Runtime, saved: &[Saved]) -> Result<()> {
    for s in saved {
        rt.copy_raw(s.addr, s.copy.addr(), s.bytes)?;
    }
    Ok(())
}

/// Compare compared outputs with the reference; the reason if they differ.
fn check(saved: &[Saved], got: &[Vec<u8>], want: &[Vec<u8>], tol: Option<Tolerance>) -> Option<String> {
    let compared = saved.iter().filter(|s| s.compared);
    for ((s, g), w) in compared.zip(got).zip(want) {
        if let Err(why) = compare(s.elem, g, w, tol.unwrap_or(Tolerance::for_dtype(s.elem))) {
            return Some(format!("`{}`: {why}", s.param));
        }
    }
    None
}

/// Check run, then timing (each added to its phase). Returns the compared
/// outputs and the median time.
#[allow(clippy::too_many_arguments)]
fn run_candidate(
    handle: &KernelHandle,
    rt: &Runtime,
    choice: Choice,
    bound: &[ArgValue],
    saved: &[Saved],
    flush: &RawBuffer,
    opts: &TuneOptions,
    budget: Duration,
    phases: &mut TunePhases,
) -> Result<(Vec<Vec<u8>>, f64)> {
    let stream = rt.stream();
    let checking = Instant::now();
    restore(rt, saved)?;
    handle.launch_choice(rt, stream, choice, bound)?;
    rt.synchronize()?;
    let mut outputs = Vec::new();
    for s in saved.iter().filter(|s| s.compared) {
        let mut host = Vec::new();
        for (offset, len) in compared_ranges(s.bytes, s.elem.size()) {
            let mut part = vec![0u8; len];
            if len > 0 {
                rt.bind()?;
                // SAFETY: the range lies inside the argument's `s.bytes` bytes; the stream is idle.
                unsafe { result::memcpy_dtoh_sync(&mut part, s.addr + offset as u64) }
                    .map_err(driver_err("reading outputs"))?;
            }
            host.extend_from_slice(&part);
        }
        outputs.push(host);
    }

    phases.checking += checking.elapsed();
    let timing = Instant::now();
    for _ in 0..opts.warmup {
        handle.launch_choice(rt, stream, choice, bound)?;
    }
    rt.synchronize()?;
    let started = Instant::now();
    let mut times = Vec::new();
    while times.len() < opts.repeats.max(1) as usize && (times.len() < 3 || started.elapsed() < budget) {
        rt.bind()?;
        // SAFETY: the flush buffer holds `flush.bytes()` bytes.
        unsafe { result::memset_d8_async(flush.addr(), times.len() as u8, flush.bytes(), stream.raw()) }
            .map_err(driver_err("flushing the L2 cache"))?;
        times.push(f64::from(rt.time_ms(|| handle.launch_choice(rt, stream, choice, bound))?));
    }
    phases.timing += timing.elapsed();
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    Ok((outputs, median))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_outputs_are_compared_in_aligned_chunks_inside_the_buffer() {
        assert_eq!(compared_ranges(1000, 4), vec![(0, 1000)]);
        let bytes = (100 << 20) + 6;
        let ranges = compared_ranges(bytes, 2);
        assert_eq!(ranges.len(), SAMPLE_CHUNKS);
        assert!(ranges.iter().all(|&(o, l)| o % 2 == 0 && l % 2 == 0 && o + l <= bytes && l > 0));
        assert!(ranges.iter().map(|r| r.1).sum::<usize>() <= COMPARE_BYTES);
        assert!(ranges.last().unwrap().0 > bytes / 2, "the chunks spread over the whole buffer");
    }
}
