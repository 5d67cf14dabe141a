//! `tessera-bench`: how fast the bundle's kernels run, against the copy
//! bandwidth of the same device.
//!
//! Method (the runtime tuner's, so bench and tuner agree): CUDA events
//! around each launch, warm-up runs first, a buffer of 4x the L2 size
//! written before every timed run so no input starts in cache, the median
//! of `runs` timed runs. Every variant is first checked once against a
//! float64 reference computed on the host for a few rows (first, last and
//! some in between); a wrong variant is reported and not timed. The
//! remaining variants are timed through [`tessera_runtime::KernelHandle::tune`]
//! on a bundle of just those variants, which gives every tune point's time
//! and the tuner's pick.

use crate::compare::tolerance;
use crate::gpu::RunError;
use crate::gpu::compare::compare_buffers;
use crate::gpu::device::{Driver, median, open_runtime, subset_bundle};
use crate::reference;
use half::bf16;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;
use tessera_runtime::bundle::{BundleData, DType, VariantEntry};
use tessera_runtime::tune::CandidateStatus;
use tessera_runtime::{Bundle, LaunchArgs, RawBuffer, Runtime, TuneOptions, TuneReport};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub bundle: PathBuf,
    pub json: Option<PathBuf>,
    /// Bytes of the copy-bandwidth buffer.
    pub copy_bytes: usize,
    /// Square matmul sizes.
    pub matmul_sizes: Vec<usize>,
    /// Row widths of softmax and layer norm.
    pub row_widths: Vec<usize>,
    /// Bytes of each row-wise tensor (rows = bytes / (2 cols)).
    pub tensor_bytes: usize,
    pub warmup: u32,
    pub runs: u32,
    /// Time allowed for each variant's timed runs (fewer runs past it).
    pub variant_budget: Duration,
    pub seed: u64,
}

/// The matmul kernels, and the row-wise kernels with their bf16 names.
pub const MATMUL_KERNELS: &[&str] = &["matmul", "matmul_block_ptr", "matmul_aligned"];
pub const SOFTMAX_KERNEL: &str = "softmax_bf16";
/// Softmax over rows of any length (online max and sum over BLOCK-wide chunks).
pub const SOFTMAX_LOOPED_KERNEL: &str = "softmax_looped_bf16";
pub const LAYER_NORM_KERNEL: &str = "layer_norm_fwd_bf16";

/// Runs everything; returns the JSON document and whether any variant was wrong.
pub fn run(opts: &BenchOptions, out: &mut dyn FnMut(&str)) -> Result<(Value, bool), RunError> {
    let bundle = Bundle::open(&opts.bundle).map_err(|e| RunError::Input(e.to_string()))?;
    let rt = open_runtime().map_err(RunError::NoGpu)?;
    let driver = Driver::new().map_err(RunError::Device)?;
    let info = rt.info().clone();
    out(&format!(
        "tessera-bench: {} ({}, {} SMs, L2 {} MiB), bundle {}",
        info.name,
        info.arch,
        info.sm_count,
        info.l2_bytes >> 20,
        opts.bundle.display()
    ));
    let mut bench = Bench { rt: &rt, driver: &driver, data: bundle.data(), opts, wrong: false };
    let flush_bytes = (info.l2_bytes * 4).max(256 << 20);
    let flush = rt.alloc_raw(DType::I8, flush_bytes).map_err(|e| RunError::Device(e.to_string()))?;

    let copy = bench.copy_bandwidth(&flush).map_err(RunError::Device)?;
    let copy_gbps = copy["gbps"].as_f64().unwrap_or(f64::NAN);
    out(&format!(
        "\ncopy: {:.0} MiB device-to-device, median {:.3} ms of {} runs: {:.0} GB/s (read + write)",
        opts.copy_bytes as f64 / (1 << 20) as f64,
        copy["median_ms"].as_f64().unwrap_or(f64::NAN),
        opts.runs,
        copy_gbps
    ));

    let mut matmul = Vec::new();
    out("\nmatmul bf16 (f32 accumulate), TFLOP/s per tune point");
    for &size in &opts.matmul_sizes {
        match bench.matmul(size, out) {
            Ok(mut results) => matmul.append(&mut results),
            Err(e) => out(&format!("  M=N=K={size}: {e}")),
        }
    }
    let mut rows = Vec::new();
    out(&format!(
        "\nrow-wise bf16, GB/s (input read once + output written once) and ratio to copy {copy_gbps:.0} GB/s"
    ));
    for kernel in [SOFTMAX_KERNEL, SOFTMAX_LOOPED_KERNEL, LAYER_NORM_KERNEL] {
        for &cols in &opts.row_widths {
            match bench.rowwise(kernel, cols, copy_gbps, out) {
                Ok(Some(result)) => rows.push(result),
                Ok(None) => {}
                Err(e) => out(&format!("  {kernel} cols={cols}: {e}")),
            }
        }
    }
    let doc = json!({
        "device": {
            "name": info.name,
            "arch": info.arch.to_string(),
            "sm_count": info.sm_count,
            "l2_bytes": info.l2_bytes,
            "driver_version": info.driver_version,
        },
        "bundle": opts.bundle.display().to_string(),
        "method": {
            "warmup": opts.warmup,
            "runs": opts.runs,
            "statistic": "median of CUDA-event times, L2 flushed before each run",
            "flush_bytes": flush_bytes,
            "variant_budget_s": opts.variant_budget.as_secs_f64(),
        },
        "copy": copy,
        "matmul": matmul,
        "rowwise": rows,
    });
    Ok((doc, bench.wrong))
}

struct Bench<'a> {
    rt: &'a Runtime,
    driver: &'a Driver,
    data: &'a BundleData,
    opts: &'a BenchOptions,
    /// Some variant gave a wrong result.
    wrong: bool,
}

/// Arguments of one kernel: named device buffers and scalars.
struct Args<'b> {
    buffers: Vec<(&'static str, &'b RawBuffer)>,
    ints: Vec<(&'static str, i32)>,
    floats: Vec<(&'static str, f32)>,
}

impl Args<'_> {
    fn launch_args(&self) -> LaunchArgs<'_> {
        let mut args = LaunchArgs::new();
        for (name, buffer) in &self.buffers {
            args = args.arg(name, *buffer);
        }
        for (name, v) in &self.ints {
            args = args.arg(name, *v);
        }
        for (name, v) in &self.floats {
            args = args.arg(name, *v);
        }
        args
    }
}

/// Rows checked against the reference: first, last and six spread between.
pub fn sample_rows(rows: usize) -> Vec<usize> {
    let mut picked: BTreeSet<usize> = (0..8).map(|i| i * rows.saturating_sub(1) / 7).collect();
    picked.retain(|&r| r < rows);
    picked.into_iter().collect()
}

/// `len` bf16 values uniform in [lo, hi), fast (SplitMix64, 16 bits each).
pub fn random_bf16(len: usize, lo: f32, hi: f32, seed: u64) -> Vec<bf16> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        for k in 0..4 {
            if out.len() < len {
                let u = ((z >> (16 * k)) & 0xffff) as f32 / 65536.0;
                out.push(bf16::from_f32(lo + (hi - lo) * u));
            }
        }
    }
    out
}

fn bf16_bytes(values: &[bf16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn status_text(status: &CandidateStatus) -> String {
    status.to_string()
}

/// The tune report as JSON rows, and the pick.
fn report_json(report: &TuneReport, work: f64, unit: &str) -> (Vec<Value>, Value) {
    let rate = |ms: Option<f64>| ms.map(|t| work / (t * 1e-3));
    let rows = report
        .rows
        .iter()
        .map(|r| json!({ "variant": r.label, "time_ms": r.time_ms, unit: rate(r.time_ms), "status": status_text(&r.status) }))
        .collect();
    let pick = match report.picked() {
        Some(r) => json!({ "variant": r.label, "time_ms": r.time_ms, unit: rate(r.time_ms) }),
        None => Value::Null,
    };
    (rows, pick)
}

impl Bench<'_> {
    fn dev<T>(&self, r: tessera_runtime::Result<T>) -> Result<T, String> {
        r.map_err(|e| e.to_string())
    }

    fn copy_bandwidth(&self, flush: &RawBuffer) -> Result<Value, String> {
        let bytes = self.opts.copy_bytes;
        let src = self.dev(self.rt.alloc_raw(DType::I8, bytes))?;
        let dst = self.dev(self.rt.alloc_raw(DType::I8, bytes))?;
        let times = self.driver.time_copies(&dst, &src, flush, self.opts.warmup as usize, self.opts.runs as usize)?;
        let ms = median(&times);
        Ok(
            json!({ "bytes": bytes, "median_ms": ms, "runs": times.len(), "gbps": 2.0 * bytes as f64 / (ms * 1e-3) / 1e9 }),
        )
    }

    fn tune_options(&self, outputs: &[&str], candidates: usize) -> TuneOptions {
        TuneOptions {
            outputs: Some(outputs.iter().map(|s| s.to_string()).collect()),
            warmup: self.opts.warmup,
            repeats: self.opts.runs,
            budget: self.opts.variant_budget * candidates.max(1) as u32,
            retune: true,
            use_cache: false,
            ..TuneOptions::default()
        }
    }

    /// The variants of `kernel` that run here and `keep` accepts.
    fn candidates(&self, kernel: &str, keep: &dyn Fn(&VariantEntry) -> bool) -> Result<Vec<VariantEntry>, String> {
        let bundle = Bundle::from_data(self.data.clone());
        let handle = bundle.kernel(kernel).map_err(|e| e.to_string())?;
        let choices = handle.candidates(self.rt).map_err(|e| e.to_string())?;
        Ok(choices.iter().map(|c| handle.variants()[c.variant].clone()).filter(|v| keep(v)).collect())
    }

    /// Launches one variant; None if it ran, else why not.
    fn launch_one(&self, kernel: &str, variant: &VariantEntry, args: &Args<'_>) -> Option<String> {
        let launched = subset_bundle(self.data, kernel, &|v| v == variant).and_then(|single| {
            let handle = single.kernel(kernel).map_err(|e| e.to_string())?;
            handle.launch(self.rt, &args.launch_args()).map_err(|e| e.to_string())?;
            self.rt.synchronize().map_err(|e| format!("the kernel failed: {e}"))
        });
        launched.err()
    }

    fn matmul(&mut self, size: usize, out: &mut dyn FnMut(&str)) -> Result<Vec<Value>, String> {
        let kernels: Vec<&str> = MATMUL_KERNELS.iter().copied().filter(|k| self.data.kernel(k).is_some()).collect();
        if kernels.is_empty() {
            out("  (the bundle has no matmul kernel)");
            return Ok(Vec::new());
        }
        let (m, n, k) = (size, size, size);
        let a = random_bf16(m * k, -1.0, 1.0, self.opts.seed ^ 1);
        let b = random_bf16(k * n, -1.0, 1.0, self.opts.seed ^ 2);
        let rows = sample_rows(m);
        let want = matmul_rows(&a, &b, n, k, &rows);
        let da = self.dev(self.rt.upload_raw(DType::BF16, &bf16_bytes(&a)))?;
        let db = self.dev(self.rt.upload_raw(DType::BF16, &bf16_bytes(&b)))?;
        let dc = self.dev(self.rt.alloc_raw(DType::BF16, m * n))?;
        let poison = vec![0xffu8; m * n * 2];
        let (mi, ni, ki) = (m as i32, n as i32, k as i32);
        let args = Args {
            buffers: vec![("a", &da), ("b", &db), ("c", &dc)],
            ints: vec![
                ("M", mi),
                ("N", ni),
                ("K", ki),
                ("stride_am", ki),
                ("stride_ak", 1),
                ("stride_bk", ni),
                ("stride_bn", 1),
                ("stride_cm", ni),
                ("stride_cn", 1),
            ],
            floats: vec![],
        };
        let flops = 2.0 * (m * n * k) as f64;
        let mut results = Vec::new();
        for kernel in kernels {
            let candidates = self.candidates(kernel, &|_| true)?;
            let mut verified = Vec::new();
            let mut rejected = Vec::new();
            for variant in &candidates {
                self.driver.write(&dc, &poison)?;
                let verdict = match self.launch_one(kernel, variant, &args) {
                    Some(why) => Err(format!("launch: {why}")),
                    None => self.check_rows(&dc, n, &rows, &want, DType::BF16),
                };
                match verdict {
                    Ok(()) => verified.push(variant.clone()),
                    Err(why) => rejected.push((variant.info.label(), why)),
                }
            }
            let entry = self.time_verified(kernel, &verified, &args, &["c"], flops, "tflops", 1e12)?;
            out(&format!("  {kernel} M=N=K={size}: {} of {} variants correct", verified.len(), candidates.len()));
            self.print_points(&entry, "TFLOP/s", 1e12, None, out);
            self.print_rejected(&rejected, out);
            let mut entry = entry;
            entry["kernel"] = json!(kernel);
            entry["m"] = json!(m);
            entry["n"] = json!(n);
            entry["k"] = json!(k);
            entry["flops"] = json!(flops);
            results.push(entry);
        }
        Ok(results)
    }

    /// Times the verified variants through the tuner; the JSON entry.
    #[allow(clippy::too_many_arguments)]
    fn time_verified(
        &self,
        kernel: &str,
        verified: &[VariantEntry],
        args: &Args<'_>,
        outputs: &[&str],
        work: f64,
        unit: &str,
        scale: f64,
    ) -> Result<Value, String> {
        if verified.is_empty() {
            return Ok(json!({ "points": [], "pick": Value::Null }));
        }
        let subset = subset_bundle(self.data, kernel, &|v| verified.contains(v))?;
        let handle = subset.kernel(kernel).map_err(|e| e.to_string())?;
        let report = handle
            .tune(self.rt, &args.launch_args(), &self.tune_options(outputs, verified.len()))
            .map_err(|e| e.to_string())?;
        let (points, pick) = report_json(&report, work / scale, unit);
        Ok(json!({ "points": points, "pick": pick }))
    }

    fn print_points(&self, entry: &Value, unit: &str, _scale: f64, copy_gbps: Option<f64>, out: &mut dyn FnMut(&str)) {
        let key = if unit == "TFLOP/s" { "tflops" } else { "gbps" };
        let pick = entry["pick"]["variant"].as_str().unwrap_or("");
        let mut points: Vec<&Value> = entry["points"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
        points.sort_by(|a, b| b[key].as_f64().unwrap_or(0.0).total_cmp(&a[key].as_f64().unwrap_or(0.0)));
        for p in points {
            let label = p["variant"].as_str().unwrap_or("?");
            let mark = if label == pick { "*" } else { " " };
            let rate = p[key].as_f64();
            let ratio = match (copy_gbps, rate) {
                (Some(c), Some(r)) if c > 0.0 => format!("  {:.2}x copy", r / c),
                _ => String::new(),
            };
            match rate {
                Some(r) => out(&format!(
                    "   {mark} {label:<64} {:>9.4} ms {r:>9.1} {unit}{ratio}",
                    p["time_ms"].as_f64().unwrap_or(f64::NAN)
                )),
                None => out(&format!("   {mark} {label:<64} {}", p["status"].as_str().unwrap_or(""))),
            }
        }
        if !pick.is_empty() {
            out(&format!("     tuner's pick: {pick}"));
        }
    }

    fn print_rejected(&mut self, rejected: &[(String, String)], out: &mut dyn FnMut(&str)) {
        for (label, why) in rejected {
            if !why.starts_with("launch:") {
                self.wrong = true;
            }
            out(&format!("   WRONG {label}: {why} (not timed)"));
        }
    }

    /// Compares the sampled rows of `buffer` ([rows, cols] of `elem`) with `want`.
    fn check_rows(
        &self,
        buffer: &RawBuffer,
        cols: usize,
        rows: &[usize],
        want: &[Vec<f64>],
        elem: DType,
    ) -> Result<(), String> {
        let size = elem.size();
        for (&row, want) in rows.iter().zip(want) {
            let bytes = self.driver.read(buffer, row * cols * size, cols * size)?;
            let got = decode(elem, &bytes);
            let cmp = compare_buffers(&got, want);
            let tol = if elem == DType::F32 { tolerance::F32 } else { tolerance::BF16 };
            if !cmp.within(tol) {
                return Err(format!("row {row}: {cmp}"));
            }
        }
        Ok(())
    }

    fn rowwise(
        &mut self,
        kernel: &str,
        cols: usize,
        copy_gbps: f64,
        out: &mut dyn FnMut(&str),
    ) -> Result<Option<Value>, String> {
        if self.data.kernel(kernel).is_none() {
            if cols == self.opts.row_widths.first().copied().unwrap_or(cols) {
                out(&format!("  {kernel}: not in the bundle"));
            }
            return Ok(None);
        }
        let rows = (self.opts.tensor_bytes / (cols * 2)).max(1);
        let softmax = kernel == SOFTMAX_KERNEL || kernel == SOFTMAX_LOOPED_KERNEL;
        // Only variants whose `require` conditions admit the shape (the
        // one-pass softmax holds a whole row: `require(cols <= BLOCK)`).
        let decl = self.data.kernel(kernel).map(|k| k.decl.clone()).ok_or("kernel not in the bundle")?;
        let ints = |name: &str| match name {
            "rows" => Some(rows as i64),
            "cols" | "x_row_stride" | "y_row_stride" => Some(cols as i64),
            _ => None,
        };
        let all = self.candidates(kernel, &|_| true)?;
        let candidates: Vec<VariantEntry> =
            all.iter().filter(|v| tessera_runtime::admits_with(&decl, &v.info, &ints)).cloned().collect();
        if candidates.is_empty() {
            let blocks: BTreeSet<String> =
                all.iter().filter_map(|v| v.info.consts.get("BLOCK")).map(|b| b.to_string()).collect();
            let conditions: Vec<String> = decl.require.iter().map(|r| format!("`{r}`")).collect();
            out(&format!(
                "  {kernel} {rows}x{cols}: skipped, no variant admits it ({}; the bundle has BLOCK = {})",
                conditions.join(" and "),
                blocks.into_iter().collect::<Vec<_>>().join(", ")
            ));
            return Ok(None);
        }
        let x = random_bf16(rows * cols, -4.0, 4.0, self.opts.seed ^ (cols as u64) ^ 3);
        let w = random_bf16(cols, 0.7, 1.3, self.opts.seed ^ 4);
        let b = random_bf16(cols, -0.5, 0.5, self.opts.seed ^ 5);
        let sample = sample_rows(rows);
        let eps = 1e-5f32;
        let x_rows: Vec<Vec<f64>> =
            sample.iter().map(|&r| x[r * cols..(r + 1) * cols].iter().map(|v| v.to_f64()).collect()).collect();
        let (w64, b64): (Vec<f64>, Vec<f64>) =
            (w.iter().map(|v| v.to_f64()).collect(), b.iter().map(|v| v.to_f64()).collect());
        let mut want_stats: Vec<(f64, f64)> = Vec::new();
        let want_y: Vec<Vec<f64>> = if softmax {
            x_rows.iter().map(|row| reference::softmax(row, 1, cols)).collect()
        } else {
            x_rows
                .iter()
                .map(|row| {
                    let ln = reference::layer_norm(row, &w64, &b64, 1, cols, f64::from(eps));
                    want_stats.push((ln.mean[0], ln.rstd[0]));
                    ln.y
                })
                .collect()
        };
        let dx = self.dev(self.rt.upload_raw(DType::BF16, &bf16_bytes(&x)))?;
        drop(x);
        let dy = self.dev(self.rt.alloc_raw(DType::BF16, rows * cols))?;
        let dw = self.dev(self.rt.upload_raw(DType::BF16, &bf16_bytes(&w)))?;
        let db = self.dev(self.rt.upload_raw(DType::BF16, &bf16_bytes(&b)))?;
        let dmean = self.dev(self.rt.alloc_raw(DType::F32, rows))?;
        let drstd = self.dev(self.rt.alloc_raw(DType::F32, rows))?;
        let (ri, ci) = (rows as i32, cols as i32);
        let ints = vec![("x_row_stride", ci), ("y_row_stride", ci), ("rows", ri), ("cols", ci)];
        let args = if softmax {
            Args { buffers: vec![("x", &dx), ("y", &dy)], ints, floats: vec![] }
        } else {
            Args {
                buffers: vec![("x", &dx), ("y", &dy), ("w", &dw), ("b", &db), ("mean", &dmean), ("rstd", &drstd)],
                ints,
                floats: vec![("eps", eps)],
            }
        };
        let poison = vec![0xffu8; rows * cols * 2];
        let stats_poison = vec![0xffu8; rows * 4];
        let mut verified = Vec::new();
        let mut rejected = Vec::new();
        for variant in &candidates {
            self.driver.write(&dy, &poison)?;
            self.driver.write(&dmean, &stats_poison)?;
            self.driver.write(&drstd, &stats_poison)?;
            let verdict = match self.launch_one(kernel, variant, &args) {
                Some(why) => Err(format!("launch: {why}")),
                None => self.check_rows(&dy, cols, &sample, &want_y, DType::BF16).and_then(|()| {
                    if softmax {
                        return Ok(());
                    }
                    let means: Vec<Vec<f64>> = want_stats.iter().map(|s| vec![s.0]).collect();
                    let rstds: Vec<Vec<f64>> = want_stats.iter().map(|s| vec![s.1]).collect();
                    self.check_rows(&dmean, 1, &sample, &means, DType::F32)?;
                    self.check_rows(&drstd, 1, &sample, &rstds, DType::F32)
                }),
            };
            match verdict {
                Ok(()) => verified.push(variant.clone()),
                Err(why) => rejected.push((variant.info.label(), why)),
            }
        }
        let bytes = 2.0 * (rows * cols * 2) as f64;
        let outputs: &[&str] = if softmax { &["y"] } else { &["y", "mean", "rstd"] };
        let mut entry = self.time_verified(kernel, &verified, &args, outputs, bytes, "gbps", 1e9)?;
        out(&format!("  {kernel} {rows}x{cols}: {} of {} variants correct", verified.len(), candidates.len()));
        self.print_points(&entry, "GB/s", 1e9, Some(copy_gbps), out);
        self.print_rejected(&rejected, out);
        let pick_gbps = entry["pick"]["gbps"].as_f64();
        entry["kernel"] = json!(kernel);
        entry["rows"] = json!(rows);
        entry["cols"] = json!(cols);
        entry["bytes"] = json!(bytes);
        entry["pick_ratio_to_copy"] = json!(pick_gbps.map(|g| g / copy_gbps));
        Ok(Some(entry))
    }
}

fn decode(elem: DType, bytes: &[u8]) -> Vec<f64> {
    match elem {
        DType::F32 => bytes.chunks_exact(4).map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))).collect(),
        _ => bytes.chunks_exact(2).map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f64()).collect(),
    }
}

/// Rows `rows` of `a [m, k] @ b [k, n]` in f64 (b widened once).
pub fn matmul_rows(a: &[bf16], b: &[bf16], n: usize, k: usize, rows: &[usize]) -> Vec<Vec<f64>> {
    let b32: Vec<f32> = b.iter().map(|v| v.to_f32()).collect();
    rows.iter()
        .map(|&i| {
            let mut acc = vec![0.0f64; n];
            for p in 0..k {
                let aip = a[i * k + p].to_f64();
                for (c, &bv) in acc.iter_mut().zip(&b32[p * n..(p + 1) * n]) {
                    *c += aip * f64::from(bv);
                }
            }
            acc
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_rows_cover_both_ends() {
        assert_eq!(sample_rows(1), vec![0]);
        assert_eq!(sample_rows(3), vec![0, 1, 2]);
        let rows = sample_rows(4096);
        assert_eq!(rows.len(), 8);
        assert_eq!((rows[0], rows[7]), (0, 4095));
    }

    #[test]
    fn random_bf16_is_in_range_and_seeded() {
        let x = random_bf16(1001, -4.0, 4.0, 9);
        assert_eq!(x.len(), 1001);
        assert!(x.iter().all(|v| (-4.0..=4.0).contains(&v.to_f32())));
        assert_eq!(x, random_bf16(1001, -4.0, 4.0, 9));
        assert_ne!(x, random_bf16(1001, -4.0, 4.0, 10));
        let mean = x.iter().map(|v| v.to_f64()).sum::<f64>() / 1001.0;
        assert!(mean.abs() < 0.5, "{mean}");
    }

    #[test]
    fn matmul_rows_match_the_full_reference() {
        let (m, n, k) = (5, 7, 9);
        let a = random_bf16(m * k, -1.0, 1.0, 1);
        let b = random_bf16(k * n, -1.0, 1.0, 2);
        let a64: Vec<f64> = a.iter().map(|v| v.to_f64()).collect();
        let b64: Vec<f64> = b.iter().map(|v| v.to_f64()).collect();
        let full = reference::matmul(&a64, &b64, m, n, k);
        for (row, got) in [1, 4].iter().zip(matmul_rows(&a, &b, n, k, &[1, 4])) {
            for (g, w) in got.iter().zip(&full[row * n..(row + 1) * n]) {
                assert!((g - w).abs() < 1e-12);
            }
        }
    }
}
