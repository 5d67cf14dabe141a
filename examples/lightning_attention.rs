//! Lightning Attention-2 forward and backward on the GPU, from a bundle built
//! from `kernels-dsl/lightning_attn.tsr`: checked against float64, then timed.
//!
//! ```sh
//! cargo build --release -p tessera-tests --example lightning_attention
//! target/release/tessera build kernels-dsl/lightning_attn.tsr -o la.tsb --arch sm_90a
//! target/release/examples/lightning_attention la.tsb                  # one problem: check, time
//! target/release/examples/lightning_attention la.tsb check            # the correctness matrix
//! target/release/examples/lightning_attention la.tsb bench --json F   # benchmark shapes, first call
//! target/release/examples/lightning_attention la.tsb first            # the first call alone
//! TESSERA_PRINT_TUNING=1 target/release/examples/lightning_attention la.tsb first   # ... with each tuning's phases
//! target/release/examples/lightning_attention la.tsb segments [B H N D]...   # times per segment length
//! target/release/examples/lightning_attention la.tsb problem 64 16 2048 128 128   # one problem, checked and timed
//! target/release/examples/lightning_attention la.tsb compare [B H N D]...   # two-pass against chained plans
//! target/release/examples/lightning_attention la.tsb lengths 1 16 65536 128 8192 8256   # segment lengths, A/B
//! target/release/examples/lightning_attention a.tsb ab b.tsb -- 1 16 65536 128   # bundles, A/B
//! target/release/examples/lightning_attention a.tsb ab serial -- 1 16 65536 128  # steps beside others or not
//! target/release/examples/lightning_attention a.tsb ab pieces=1 -- 1 16 131072 128  # chunk-state walks whole
//! target/release/examples/lightning_attention la.tsb --chained check   # any mode, with chained plans
//! target/release/examples/lightning_attention la.tsb --pieces 1 profile 1 16 131072 128 128   # any mode, walks whole
//! ```
//!
//! Checks: fresh random inputs, outputs poisoned with NaN before the run,
//! every element finite afterwards, and the relative Frobenius error of o,
//! dq, dk, dv (and the final state, dS0) against the f64 recurrence of
//! `tessera_tests::reference` on sampled (batch, head) slices.
//! Timings: medians of CUDA-event times with the L2 flushed before each run,
//! beside the device-to-device copy bandwidth of the same process.

use std::time::Instant;

use half::{bf16, f16};
use rand::Rng;
use tessera_runtime::lightning_attention::{Forward, Gradients, Inputs, LightningAttention, Problem, TensorLayout};
use tessera_runtime::{Bundle, DType, RawBuffer, Runtime};
use tessera_tests::inputs::{Trial, normal};
use tessera_tests::reference::{AttentionShape, lightning_attention};

type Res<T> = Result<T, String>;

/// The largest decay s of timed problems (`--max-decay`; default 0.11).
static MAX_DECAY: std::sync::OnceLock<f64> = std::sync::OnceLock::new();

fn max_decay() -> f64 {
    MAX_DECAY.get().copied().unwrap_or(0.11)
}

/// Removes `name VALUE` from `args` and parses VALUE; exits with a message
/// when VALUE is missing, not `what`, or the flag is given twice.
fn take_flag<T: std::str::FromStr>(
    args: &mut Vec<String>,
    name: &str,
    what: &str,
    valid: impl Fn(&T) -> bool,
) -> Option<T> {
    let i = args.iter().position(|a| a == name)?;
    let Some(value) = args.get(i + 1).and_then(|x| x.parse::<T>().ok()).filter(|x| valid(x)) else {
        eprintln!("{name} takes {what}");
        std::process::exit(2);
    };
    args.drain(i..i + 2);
    if args.iter().any(|a| a == name) {
        eprintln!("{name} is given more than once");
        std::process::exit(2);
    }
    Some(value)
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `--chained` anywhere: every problem runs as a chained plan.
    let chained = args.iter().any(|a| a == "--chained");
    args.retain(|a| a != "--chained");
    // `--serial` anywhere: every step on one stream, none beside another.
    let serial = args.iter().any(|a| a == "--serial");
    args.retain(|a| a != "--serial");
    // `--pieces N` anywhere: every chunk-state walk in N pieces (for
    // `profile`, where `ab pieces=N` cannot reach).
    let pieces = take_flag(&mut args, "--pieces", "a whole number >= 1", |x: &usize| *x >= 1);
    // `--max-decay X` anywhere: timed problems draw each head's decay s from
    // U(0, X) (default 0.11; 0: no decay, where the pre-passes read every
    // token).
    if let Some(value) =
        take_flag(&mut args, "--max-decay", "a finite number >= 0", |x: &f64| x.is_finite() && *x >= 0.0)
    {
        MAX_DECAY.set(value).expect("main sets it once, first");
    }
    let Some(bundle) = args.first() else {
        eprintln!(
            "usage: lightning_attention BUNDLE [--chained] [--serial] [--pieces N] [--max-decay X] [check | sanitize | bench [--json FILE] | first | segments [B H N D]... | compare [B H N D]... | lengths B H N D SEG... | ab (BUNDLE | serial | pieces=N)... -- [B H N D]... | problem B H N D E [SEG] | profile [B H N D E]]"
        );
        std::process::exit(2);
    };
    let json = args.iter().position(|a| a == "--json").and_then(|i| args.get(i + 1)).cloned();
    let result = (|| -> Res<bool> {
        // The bundle first: a bad file is reported without a device.
        let la = LightningAttention::new(Bundle::open(bundle).map_err(|e| e.to_string())?)
            .with_chained(chained)
            .with_serial(serial)
            .with_pieces(pieces);
        let rt = Runtime::new().map_err(|e| e.to_string())?;
        println!("device: {} ({} SMs)", rt.info().name, rt.info().sm_count);
        match args.get(1).map(String::as_str) {
            None => {
                let mut p = Problem::new(2, 4, 4097, 64, 64, DType::BF16);
                p.initial_state = true;
                p.final_state = true;
                let ok = check(&rt, &la, &p, 1.0, 1)?;
                let t = time(&rt, &la, &p, 10)?;
                println!("forward {:.3} ms, forward+backward {:.3} ms", t.0, t.1);
                Ok(ok)
            }
            Some("check") => check_matrix(&rt, &la),
            Some("sanitize") => sanitize(&rt, &la),
            Some("profile") => {
                // One forward and backward at (4, 16, 8192, 128) or `profile B H N D E`,
                // for ncu (run after `bench` or `problem` with the same tuning cache,
                // so that nothing tunes under the profiler).
                let dims: Vec<usize> = args[2..]
                    .iter()
                    .map(|a| a.parse())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("profile B H N D E: {e}"))?;
                let p = match dims[..] {
                    [] => Problem::new(4, 16, 8192, 128, 128, DType::BF16),
                    [b, h, n, d, e] => Problem::new(b, h, n, d, e, DType::BF16),
                    _ => return Err("usage: profile [B H N D E]".into()),
                };
                // The bench's draw (seed 5), so the tuned picks and the decays
                // are the ones the bench timed.
                let input = random(&rt, &p, max_decay(), 5)?;
                let fwd = dev(la.forward(&rt, &p, &input.inputs()))?;
                dev(la.backward(&rt, &p, &input.inputs(), &fwd, input.d_o()))?;
                dev(rt.synchronize())?;
                Ok(true)
            }
            Some("bench") => bench(&rt, &la, json.as_deref()),
            Some("first") => first_call(&rt, &la).map(|_| true),
            // segments [B H N D]...: the sweep at those shapes (default: the bench's).
            Some("segments") => segments(&rt, &la, &shape_args("segments", &args[2..])?),
            // compare [B H N D]...: both plans at those shapes (default: the bench's).
            Some("compare") => compare(&rt, &la, &shape_args("compare", &args[2..])?),
            // lengths B H N D SEG...: one shape at several segment lengths, timed alternately.
            Some("lengths") => {
                let nums: Vec<usize> = args[2..]
                    .iter()
                    .map(|a| a.parse().map_err(|e| format!("lengths: `{a}`: {e}")))
                    .collect::<Res<_>>()?;
                match nums[..] {
                    [b, h, n, d, _, ..] => lengths(&rt, &la, [b, h, n, d], &nums[4..]),
                    _ => Err("usage: lengths B H N D SEG...".into()),
                }
            }
            // ab OTHER.tsb... -- [B H N D]...: this bundle against others, timed
            // alternately; `serial` for OTHER: this bundle with every step on one stream;
            // `pieces=N`: this bundle with every chunk-state walk in N pieces.
            Some("ab") => {
                let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
                let mut plans = vec![(bundle.clone(), la.clone())];
                for path in &args[2..split] {
                    let other = if path == "serial" {
                        la.clone().with_serial(true)
                    } else if let Some(count) = path.strip_prefix("pieces=") {
                        let count = count.parse().map_err(|e| format!("ab: `{path}`: {e}"))?;
                        la.clone().with_pieces(Some(count))
                    } else {
                        LightningAttention::new(Bundle::open(path).map_err(|e| e.to_string())?)
                            .with_chained(chained)
                            .with_serial(serial)
                    };
                    plans.push((path.clone(), other));
                }
                ab(&rt, &plans, &shape_args("ab", args.get(split + 1..).unwrap_or_default())?)
            }
            Some("problem") => {
                // problem B H N D E [SEG]: one problem checked, then timed (Bhnd, bf16).
                let num = |i: usize| -> Res<usize> {
                    args.get(i).ok_or("problem B H N D E [SEG]")?.parse().map_err(|e| format!("argument {i}: {e}"))
                };
                let mut p = Problem::new(num(2)?, num(3)?, num(4)?, num(5)?, num(6)?, DType::BF16);
                p.segment = args.get(7).map(|_| num(7)).transpose()?;
                let correct = check(&rt, &la, &p, max_decay(), 77)?;
                let bw = copy_bandwidth(&rt)?;
                let (f, fb) = time(&rt, &la, &p, 15)?;
                let (floor_f, floor_fb) = floors(&p, bw);
                println!(
                    "{p}: forward {f:.3} ms ({:.2}x floor {floor_f:.3}), forward+backward {fb:.3} ms ({:.2}x floor {floor_fb:.3}), copy {:.0} GB/s",
                    f / floor_f,
                    fb / floor_fb,
                    bw / 1e9
                );
                Ok(correct)
            }
            Some(other) => Err(format!(
                "unknown mode `{other}` (check, sanitize, bench, first, segments, compare, lengths, ab, problem, profile)"
            )),
        }
    })();
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

/// `B H N D` groups of numbers, as `segments` and `compare` take them.
fn shape_args(mode: &str, args: &[String]) -> Res<Vec<[usize; 4]>> {
    let nums: Vec<usize> =
        args.iter().map(|a| a.parse().map_err(|e| format!("{mode}: `{a}`: {e}"))).collect::<Res<_>>()?;
    if !nums.len().is_multiple_of(4) {
        return Err(format!("{mode} takes shapes as B H N D groups, got {} numbers", nums.len()));
    }
    Ok(nums.chunks(4).map(|c| [c[0], c[1], c[2], c[3]]).collect())
}

fn dev<T>(r: tessera_runtime::Result<T>) -> Res<T> {
    r.map_err(|e| e.to_string())
}

/// Host values rounded to `dtype`, and their little-endian bytes.
fn encode(dtype: DType, values: &[f64]) -> (Vec<f64>, Vec<u8>) {
    let mut bytes = Vec::with_capacity(values.len() * dtype.size());
    let mut stored = Vec::with_capacity(values.len());
    for &v in values {
        match dtype {
            DType::BF16 => {
                let x = bf16::from_f64(v);
                stored.push(x.to_f64());
                bytes.extend_from_slice(&x.to_le_bytes());
            }
            DType::F16 => {
                let x = f16::from_f64(v);
                stored.push(x.to_f64());
                bytes.extend_from_slice(&x.to_le_bytes());
            }
            _ => {
                let x = v as f32;
                stored.push(f64::from(x));
                bytes.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
    (stored, bytes)
}

fn decode(dtype: DType, bytes: &[u8]) -> Vec<f64> {
    match dtype {
        DType::BF16 => bytes.chunks_exact(2).map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f64()).collect(),
        DType::F16 => bytes.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f64()).collect(),
        _ => bytes.chunks_exact(4).map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect(),
    }
}

/// A random problem's inputs on the device, and their stored values on the host.
struct Random {
    host: [Vec<f64>; 4],
    s: Vec<f64>,
    s0: Option<Vec<f64>>,
    dev: [RawBuffer; 4],
    s_dev: RawBuffer,
    s0_dev: Option<RawBuffer>,
}

/// Standard normal values rounded to `dtype`, drawn in parallel chunks (the
/// benchmark shapes hold up to 2^28 elements per tensor).
fn random_tensor(dtype: DType, len: usize, seed: u64) -> (Vec<f64>, Vec<u8>) {
    const CHUNK: usize = 1 << 20;
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get()).min(32);
    let starts: Vec<usize> = (0..len).step_by(CHUNK).collect();
    let chunks: Vec<(Vec<f64>, Vec<u8>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let starts = &starts;
                scope.spawn(move || {
                    starts
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % threads == t)
                        .map(|(i, &start)| {
                            let mut rng = Trial::new(0, seed.wrapping_mul(0x9E37_79B9).wrapping_add(i as u64)).rng;
                            (i, encode(dtype, &normal(&mut rng, CHUNK.min(len - start), 0.0, 1.0)))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<_> = handles.into_iter().flat_map(|h| h.join().expect("generator thread")).collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, c)| c).collect()
    });
    let mut stored = Vec::with_capacity(len);
    let mut bytes = Vec::with_capacity(len * dtype.size());
    for (s, b) in chunks {
        stored.extend_from_slice(&s);
        bytes.extend_from_slice(&b);
    }
    (stored, bytes)
}

impl Random {
    fn inputs(&self) -> Inputs<'_> {
        let [q, k, v, _] = &self.dev;
        Inputs { q, k, v, decay: &self.s_dev, initial_state: self.s0_dev.as_ref() }
    }

    fn d_o(&self) -> &RawBuffer {
        &self.dev[3]
    }
}

fn random(rt: &Runtime, p: &Problem, max_decay: f64, seed: u64) -> Res<Random> {
    let mut rng = Trial::new(0, seed).rng;
    let sizes = [p.elements(p.d), p.elements(p.d), p.elements(p.e), p.elements(p.e)];
    let mut host: [Vec<f64>; 4] = Default::default();
    let mut devs = Vec::new();
    for (i, len) in sizes.into_iter().enumerate() {
        let (stored, bytes) = random_tensor(p.dtype, len, seed * 4 + i as u64);
        host[i] = stored;
        devs.push(dev(rt.upload_raw(p.dtype, &bytes))?);
    }
    let s: Vec<f64> = (0..p.heads).map(|_| f64::from((rng.random::<f64>() * max_decay) as f32)).collect();
    let (s, s_bytes) = encode(DType::F32, &s);
    let s_dev = dev(rt.upload_raw(DType::F32, &s_bytes))?;
    let (s0, s0_dev) = if p.initial_state {
        let (v, b) = encode(DType::F32, &normal(&mut rng, p.head_state_elements(), 0.0, 1.0));
        (Some(v), Some(dev(rt.upload_raw(DType::F32, &b))?))
    } else {
        (None, None)
    };
    let dev: [RawBuffer; 4] = devs.try_into().map_err(|_| "four inputs".to_string())?;
    Ok(Random { host, s, s0, dev, s_dev, s0_dev })
}

/// The dense [n, w] slice of (b, h) of a stored tensor.
fn slice(p: &Problem, w: usize, stored: &[f64], b: usize, h: usize) -> Vec<f64> {
    let [sb, sh, sn] = p.strides(w).map(|x| x as usize);
    let mut out = Vec::with_capacity(p.n * w);
    for t in 0..p.n {
        out.extend_from_slice(&stored[b * sb + h * sh + t * sn..][..w]);
    }
    out
}

/// Relative Frobenius error accumulated over slices.
#[derive(Default)]
struct Err2 {
    diff: f64,
    norm: f64,
}

impl Err2 {
    fn add(&mut self, got: &[f64], want: &[f64]) {
        for (g, w) in got.iter().zip(want) {
            self.diff += (g - w) * (g - w);
            self.norm += w * w;
        }
    }
    fn rel(&self) -> f64 {
        if self.norm == 0.0 { self.diff.sqrt() } else { (self.diff / self.norm).sqrt() }
    }
}

fn limit(dtype: DType) -> f64 {
    match dtype {
        DType::BF16 => 1e-2,
        DType::F16 => 5e-3,
        _ => 1e-5,
    }
}

/// Forward and backward of one random problem against float64; prints one line.
fn check(rt: &Runtime, la: &LightningAttention, p: &Problem, max_decay: f64, seed: u64) -> Res<bool> {
    let la = la.clone().with_poison(true);
    let input = random(rt, p, max_decay, seed)?;
    let fwd = dev(la.forward(rt, p, &input.inputs()))?;
    let grads = dev(la.backward(rt, p, &input.inputs(), &fwd, input.d_o()))?;
    let get = |b: &RawBuffer, dtype: DType| -> Res<Vec<f64>> { Ok(decode(dtype, &dev(rt.download_raw(b))?)) };
    let outs = [get(&fwd.o, p.dtype)?, get(&grads.dq, p.dtype)?, get(&grads.dk, p.dtype)?, get(&grads.dv, p.dtype)?];
    let fin = fwd.final_state.as_ref().map(|b| get(b, DType::F32)).transpose()?;
    let ds0 = grads.d_initial_state.as_ref().map(|b| get(b, DType::F32)).transpose()?;
    let unwritten: usize =
        outs.iter().chain(fin.iter()).chain(ds0.iter()).map(|o| o.iter().filter(|x| !x.is_finite()).count()).sum();

    // Sample (batch, head) slices: all of them for small problems.
    let bh = p.batch * p.heads;
    let cost = p.n * p.d * p.e;
    let mut samples: Vec<usize> = if bh * cost <= 1 << 26 { (0..bh).collect() } else { vec![0, bh / 2, bh - 1] };
    samples.dedup();
    let mut errs: [Err2; 6] = Default::default();
    let shape = AttentionShape { batch: 1, heads: 1, n: p.n, d: p.d, e: p.e };
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = samples
            .iter()
            .map(|&i| {
                let (b, h) = (i / p.heads, i % p.heads);
                let input = &input;
                scope.spawn(move || {
                    let [q, k, v, d_o] = &input.host;
                    let s0 = input.s0.as_ref().map(|s| s[i * p.d * p.e..][..p.d * p.e].to_vec());
                    let want = lightning_attention(
                        &slice(p, p.d, q, b, h),
                        &slice(p, p.d, k, b, h),
                        &slice(p, p.e, v, b, h),
                        &[input.s[h]],
                        f64::from(p.scale),
                        s0.as_deref(),
                        Some(&slice(p, p.e, d_o, b, h)),
                        shape,
                    );
                    (i, want)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("reference thread")).collect()
    });
    for (i, want) in results {
        let (b, h) = (i / p.heads, i % p.heads);
        errs[0].add(&slice(p, p.e, &outs[0], b, h), &want.o);
        errs[1].add(&slice(p, p.d, &outs[1], b, h), &want.dq);
        errs[2].add(&slice(p, p.d, &outs[2], b, h), &want.dk);
        errs[3].add(&slice(p, p.e, &outs[3], b, h), &want.dv);
        let st = i * p.d * p.e..(i + 1) * p.d * p.e;
        if let Some(f) = &fin {
            errs[4].add(&f[st.clone()], &want.final_state);
        }
        if let Some(g) = &ds0 {
            errs[5].add(&g[st], &want.d_initial_state);
        }
    }
    let lim = limit(p.dtype);
    let ok = unwritten == 0 && errs.iter().all(|e| e.rel() <= lim);
    let fitted = dev(la.fit(rt, p, p.initial_state))?;
    println!(
        "{} {fitted} s<={max_decay}: o {:.2e} dq {:.2e} dk {:.2e} dv {:.2e} final {:.2e} dS0 {:.2e} non-finite {unwritten} (limit {lim:.0e}, {} of {bh} heads)",
        if ok { "PASS" } else { "FAIL" },
        errs[0].rel(),
        errs[1].rel(),
        errs[2].rel(),
        errs[3].rel(),
        errs[4].rel(),
        errs[5].rel(),
        samples.len()
    );
    Ok(ok)
}

/// Issue 5's matrix: n in {1, 17, 64, 1000, 4097, 65536}, every width (d != e
/// too), s = 0 and up to 1, with and without S0 and the final state, both
/// layouts, the three element types; then chunk-state walks in pieces.
fn check_matrix(rt: &Runtime, la: &LightningAttention) -> Res<bool> {
    let mut all = true;
    let mut seed = 11;
    let mut run = |p: Problem, max_decay: f64| -> Res<()> {
        seed += 1;
        all &= check(rt, la, &p, max_decay, seed)?;
        Ok(())
    };
    let widths = [(32, 32), (64, 64), (128, 128), (256, 256), (64, 128), (128, 64), (32, 256)];
    for dtype in [DType::BF16, DType::F16, DType::F32] {
        for (i, &n) in [1, 17, 64, 1000, 4097].iter().enumerate() {
            for (j, &(d, e)) in widths.iter().enumerate() {
                if dtype == DType::F32 && (d > 128 || e > 128) && n > 1000 {
                    continue; // exact-f32 dots run on FMA units: keep the big ones for bf16/f16
                }
                let mut p = Problem::new(2, 3, n, d, e, dtype);
                p.layout = if (i + j) % 2 == 0 { TensorLayout::Bhnd } else { TensorLayout::Bnhd };
                p.initial_state = (i + j) % 3 != 0;
                p.final_state = (i + j) % 2 == 1;
                p.scale = if j % 3 == 2 { 0.125 } else { 1.0 };
                run(p, if (i + j) % 4 == 0 { 0.0 } else { 1.0 })?;
            }
        }
    }
    for dtype in [DType::BF16, DType::F16] {
        let mut p = Problem::new(1, 2, 65536, 128, 128, dtype);
        p.initial_state = true;
        p.final_state = true;
        run(p.clone(), 0.0)?;
        p.layout = TensorLayout::Bnhd;
        run(p, 1.0)?;
    }
    let mut p = Problem::new(1, 1, 65536, 64, 32, DType::F32);
    p.initial_state = true;
    run(p, 0.05)?;
    // Chunk-state walks in pieces (the shapes above are cut too finely for
    // the default's 4096-token pieces): with no decay every piece is within
    // reach and the last to finish adds three parts; with s up to 0.2, a
    // head's reach ends in its second, third or fourth piece.
    for (i, dtype) in [DType::BF16, DType::F16, DType::F32].into_iter().enumerate() {
        for max_decay in [0.0, 0.2] {
            run(pieces_problem(dtype, i % 2 == 0), max_decay)?;
        }
    }
    println!("{}", if all { "all checks passed" } else { "SOME CHECKS FAILED" });
    Ok(all)
}

/// Ragged sizes for compute-sanitizer: few heads, every width pair kind.
fn sanitize(rt: &Runtime, la: &LightningAttention) -> Res<bool> {
    let mut all = true;
    for (i, &(n, d, e)) in
        [(1, 32, 32), (17, 64, 128), (1000, 128, 64), (4097, 128, 128), (333, 256, 32)].iter().enumerate()
    {
        for dtype in [DType::BF16, DType::F32] {
            let mut p = Problem::new(1, 2, n, d, e, dtype);
            p.initial_state = i % 2 == 0;
            p.final_state = true;
            p.layout = if i % 2 == 0 { TensorLayout::Bnhd } else { TensorLayout::Bhnd };
            p.segment = Some(256);
            all &= check(rt, la, &p, 1.0, 100 + i as u64)?;
        }
    }
    // The pieces' parts and tickets (global memory: memcheck's side).
    for (i, dtype) in [DType::BF16, DType::F32].into_iter().enumerate() {
        all &= check(rt, la, &pieces_problem(dtype, i == 0), 0.0, 110 + i as u64)?;
    }
    Ok(all)
}

/// Five segments of 1024 tokens (the last of one token), each chunk-state
/// walk in 4 pieces of 256.
fn pieces_problem(dtype: DType, bnhd: bool) -> Problem {
    let mut p = Problem::new(2, 3, 4097, 128, 64, dtype);
    p.segment = Some(1024);
    p.pieces = Some(4);
    p.initial_state = true;
    p.final_state = true;
    p.layout = if bnhd { TensorLayout::Bnhd } else { TensorLayout::Bhnd };
    p
}

/// Median forward and forward+backward times (ms) on fresh random inputs.
fn time(rt: &Runtime, la: &LightningAttention, p: &Problem, runs: usize) -> Res<(f64, f64)> {
    time_on(rt, la, p, &random(rt, p, max_decay(), 5)?, runs)
}

/// Median forward and forward+backward times (ms) on `input`, L2 flushed
/// before each.
fn time_on(rt: &Runtime, la: &LightningAttention, p: &Problem, input: &Random, runs: usize) -> Res<(f64, f64)> {
    let fp = dev(la.fit(rt, p, input.s0_dev.is_some()))?;
    let fwd: Forward = dev(la.alloc_forward(rt, &fp))?;
    let grads: Gradients = dev(la.alloc_backward(rt, &fp))?;
    let flush = dev(rt.alloc_raw(DType::I8, 256 << 20))?;
    let inputs = input.inputs();
    let forward = || la.forward_into(rt, &fp, &inputs, &fwd);
    let backward = || la.backward_into(rt, &fp, &inputs, &fwd, input.d_o(), &grads);
    // Warm up: tunes (or reads the cache) and loads every module.
    for _ in 0..3 {
        dev(forward())?;
        dev(backward())?;
    }
    let mut f = Vec::new();
    let mut fb = Vec::new();
    for i in 0..runs {
        dev(rt.fill_bytes(&flush, i as u8))?;
        f.push(f64::from(dev(rt.time_ms(forward))?));
        dev(rt.fill_bytes(&flush, i as u8))?;
        fb.push(f64::from(dev(rt.time_ms(|| {
            forward()?;
            backward()
        }))?));
    }
    Ok((median(f), median(fb)))
}

/// Times each (plan, problem) of `runs` in `rounds` rounds, alternating
/// them so that a machine's drift reaches each alike, and keeps each one's
/// lowest (forward, forward+backward) median: the A/Bs' timing. The runs
/// differ in plan or segments, not in tensors, so one draw of the inputs
/// serves them all (at (1, 16, 131072) a draw is 4 x 2^28 elements and
/// takes seconds).
fn alternate(rt: &Runtime, runs: &[(&LightningAttention, &Problem)], rounds: usize) -> Res<Vec<(f64, f64)>> {
    let tensors = |p: &Problem| (p.batch, p.heads, p.n, p.d, p.e, p.dtype, p.layout, p.initial_state);
    let Some(&(_, first)) = runs.first() else { return Ok(Vec::new()) };
    if runs.iter().any(|(_, p)| tensors(p) != tensors(first)) {
        return Err("alternate: the runs must read the same tensors".into());
    }
    let input = random(rt, first, max_decay(), 5)?;
    let mut best = vec![(f64::MAX, f64::MAX); runs.len()];
    for _ in 0..rounds {
        for (k, (la, p)) in runs.iter().enumerate() {
            let (f, fb) = time_on(rt, la, p, &input, 15)?;
            best[k] = (best[k].0.min(f), best[k].1.min(fb));
        }
    }
    Ok(best)
}

/// The memory floors (ms) of the forward (4 tensors) and forward+backward
/// (11 tensors) of `b*h*n*d` bf16 elements at `bw` bytes per second.
fn floors(p: &Problem, bw: f64) -> (f64, f64) {
    let tensor = (p.batch * p.heads * p.n * p.d * 2) as f64;
    (4.0 * tensor / bw * 1e3, 11.0 * tensor / bw * 1e3)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Device-to-device copy of 1 GiB: bytes read + written per second.
fn copy_bandwidth(rt: &Runtime) -> Res<f64> {
    let bytes = 1 << 30;
    let src = dev(rt.alloc_raw(DType::I8, bytes))?;
    let dst = dev(rt.alloc_raw(DType::I8, bytes))?;
    for _ in 0..3 {
        dev(rt.copy_bytes(&dst, &src, bytes))?;
    }
    let mut t = Vec::new();
    for _ in 0..20 {
        t.push(f64::from(dev(rt.time_ms(|| rt.copy_bytes(&dst, &src, bytes)))?));
    }
    Ok(2.0 * bytes as f64 / (median(t) * 1e-3))
}

/// Issue 5's benchmark shapes, `[b, h, n, d = e]`.
const BENCH_SHAPES: [[usize; 4]; 5] =
    [[8, 16, 2048, 128], [4, 16, 8192, 128], [2, 16, 32768, 128], [1, 16, 65536, 128], [4, 16, 8192, 64]];

/// Constant speed: b*n = 131072 from n = 2048 to 131072.
const CONSTANT_SPEED_SHAPES: [[usize; 4]; 4] =
    [[64, 16, 2048, 128], [16, 16, 8192, 128], [4, 16, 32768, 128], [1, 16, 131072, 128]];

/// The first forward+backward at (4, 16, 8192, 128) from an empty tuning
/// cache (tuning included), the second, and one by new handles on the warm
/// cache, in seconds; printed as one line.
fn first_call(rt: &Runtime, la: &LightningAttention) -> Res<(f64, f64, f64)> {
    let cache = std::env::temp_dir().join(format!("tessera-la-first-call-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    // New kernel handles (nothing tuned in this process) on the cache folder,
    // tuned as `la` tunes.
    let on_cache = || {
        let tuning = tessera_runtime::TuneOptions { cache_dir: Some(cache.clone()), ..la.tuning().clone() };
        LightningAttention::new(Bundle::from_data(la.bundle().data().clone())).with_tuning(tuning)
    };
    let p = Problem::new(4, 16, 8192, 128, 128, DType::BF16);
    let input = random(rt, &p, max_decay(), 3)?;
    let call = |handles: &LightningAttention| -> Res<f64> {
        let start = Instant::now();
        let fwd = dev(handles.forward(rt, &p, &input.inputs()))?;
        dev(handles.backward(rt, &p, &input.inputs(), &fwd, input.d_o()))?;
        dev(rt.synchronize())?;
        Ok(start.elapsed().as_secs_f64())
    };
    let fresh = on_cache();
    let first = call(&fresh)?;
    let second = call(&fresh)?;
    // As a new process would: new handles, the warm on-disk cache.
    let cached = call(&on_cache())?;
    println!(
        "first call (empty cache, tuning included) {first:.3} s; second call {:.1} ms; fresh handles, warm cache {:.1} ms",
        second * 1e3,
        cached * 1e3
    );
    let _ = std::fs::remove_dir_all(&cache);
    Ok((first, second, cached))
}

fn bench(rt: &Runtime, la: &LightningAttention, json: Option<&str>) -> Res<bool> {
    let mut lines = Vec::new();
    // Rewritten after every row, so a call cut short keeps the rows it measured.
    let save = |lines: &Vec<String>| -> Res<()> {
        match json {
            Some(path) => std::fs::write(path, lines.join("\n") + "\n").map_err(|e| format!("writing {path}: {e}")),
            None => Ok(()),
        }
    };
    let (first, second, cached) = first_call(rt, la)?;
    lines.push(format!(r#"{{"first_call_s": {first}, "second_call_s": {second}, "warm_cache_s": {cached}}}"#));
    let bw = copy_bandwidth(rt)?;
    println!("copy bandwidth {:.0} GB/s", bw / 1e9);
    println!("decay s ~ U(0, {}) per head", max_decay());
    lines.push(format!(r#"{{"copy_gbps": {}, "max_decay": {}}}"#, bw / 1e9, max_decay()));
    save(&lines)?;
    let shapes = BENCH_SHAPES.iter().chain(&CONSTANT_SPEED_SHAPES);
    let mut all_correct = true;
    for (i, &[b, h, n, d]) in shapes.enumerate() {
        let p = Problem::new(b, h, n, d, d, DType::BF16);
        // Every timed shape is first checked against float64 on fresh inputs.
        let correct = check(rt, la, &p, max_decay(), 900 + i as u64)?;
        all_correct &= correct;
        let (f, fb) = time(rt, la, &p, 15)?;
        let (floor_f, floor_fb) = floors(&p, bw);
        let fitted = dev(la.fit(rt, &p, false))?;
        let extra = fitted.workspace_bytes(true);
        println!(
            "b={b} h={h} n={n} d=e={d}: forward {f:.3} ms ({:.2}x floor {floor_f:.3}), forward+backward {fb:.3} ms ({:.2}x floor {floor_fb:.3}), seg {}, workspace {:.1} MB",
            f / floor_f,
            fb / floor_fb,
            fitted.segment_len(),
            extra as f64 / 1e6
        );
        lines.push(format!(
            r#"{{"b": {b}, "h": {h}, "n": {n}, "d": {d}, "fwd_ms": {f}, "fwdbwd_ms": {fb}, "floor_fwd_ms": {floor_f}, "floor_fwdbwd_ms": {floor_fb}, "segment": {}, "workspace_bytes": {extra}, "checked": {correct}}}"#,
            fitted.segment_len()
        ));
        save(&lines)?;
    }
    if !all_correct {
        println!("SOME TIMED SHAPES FAILED THEIR CHECK");
    }
    Ok(all_correct)
}

/// Forward and forward+backward times at several segment lengths, beside the
/// default's: the data `Problem::default_segment` is chosen from. The tuning
/// key does not hold the segment length, so each length tunes afresh (new
/// kernel handles on a cache folder of its own, under `TESSERA_CACHE_DIR` or
/// the temporary folder, `seg-LEN`), and its own picks are what is timed.
/// Shapes are `[b, h, n, d = e]`, the bench's when none are given; lengths
/// run from 512 tokens to the whole sequence (at most 16 segments). Every
/// segment length here is covered by the correctness matrix's multi-segment
/// problems (the kernels are the same; only the grid and the pre-pass
/// change).
fn segments(rt: &Runtime, la: &LightningAttention, shapes: &[[usize; 4]]) -> Res<bool> {
    let root = std::env::var_os("TESSERA_CACHE_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let shapes = if shapes.is_empty() { &BENCH_SHAPES[..] } else { shapes };
    for &[b, h, n, d] in shapes {
        let base = Problem::new(b, h, n, d, d, DType::BF16);
        let default = dev(la.fit(rt, &base, false))?.segment_len();
        // Chained plans take short segments (their states cost nothing to
        // fold), two-pass ones at most 16.
        let (lens, most): (&[usize], usize) = if la.chained() {
            (&[256, 384, 512, 768, 1024, 2048, 4096], 1024)
        } else {
            (&[512, 1024, 2048, 4096, 8192, 16384, 32768, 65536], 16)
        };
        let mut lens: Vec<usize> =
            lens.iter().copied().chain([n]).filter(|&s| s <= n && n / s <= most).chain([default]).collect();
        lens.sort_unstable();
        lens.dedup();
        for seg in lens {
            let tuning = tessera_runtime::TuneOptions {
                cache_dir: Some(root.join(format!("seg-{b}-{h}-{n}-{d}-{seg}"))),
                ..la.tuning().clone()
            };
            let fresh = LightningAttention::new(Bundle::from_data(la.bundle().data().clone()))
                .with_tuning(tuning)
                .with_chained(la.chained());
            let mut p = base.clone();
            p.segment = Some(seg);
            let (f, fb) = time(rt, &fresh, &p, 9)?;
            let mark = if seg == default { " (default)" } else { "" };
            println!(
                "b={b} h={h} n={n} d=e={d} seg {seg:>6} ({:>3} segments): forward {f:.3} ms, forward+backward {fb:.3} ms{mark}",
                n.div_ceil(seg)
            );
        }
    }
    Ok(true)
}

/// One shape (`[b, h, n, d = e]`) at each segment length of `lens`: each
/// checked against float64, then timed in three alternating rounds (the
/// lowest median of each kept), beside the copy bandwidth: an A/B of the
/// segmentation on one machine. One tuning cache serves every length (the
/// tuning key does not hold it), so only the segmentation differs.
fn lengths(rt: &Runtime, la: &LightningAttention, [b, h, n, d]: [usize; 4], lens: &[usize]) -> Res<bool> {
    let bw = copy_bandwidth(rt)?;
    println!("copy bandwidth {:.0} GB/s", bw / 1e9);
    let problems: Vec<Problem> = lens
        .iter()
        .map(|&seg| {
            let mut p = Problem::new(b, h, n, d, d, DType::BF16);
            p.segment = Some(seg);
            p
        })
        .collect();
    let mut all_correct = true;
    for (i, p) in problems.iter().enumerate() {
        all_correct &= check(rt, la, p, max_decay(), 1500 + i as u64)?;
    }
    let runs: Vec<_> = problems.iter().map(|p| (la, p)).collect();
    let best = alternate(rt, &runs, 3)?;
    let (floor_f, floor_fb) = floors(&problems[0], bw);
    for (p, (f, fb)) in problems.iter().zip(best) {
        let (seg, segments) = (p.segment_len(), p.segments());
        println!(
            "b={b} h={h} n={n} d=e={d} seg {seg:>6} ({segments} segments, last {}): forward {f:.3} ms ({:.3}x floor), forward+backward {fb:.3} ms ({:.3}x floor)",
            n - (segments - 1) * seg,
            f / floor_f,
            fb / floor_fb
        );
    }
    Ok(all_correct)
}

/// Bundles against each other (an A/B of kernel builds on one machine): each
/// checked against float64 on a ragged problem with S0 and the final state
/// (d = e of the first shape: an A/B bundle pins one width), then timed at each shape
/// (`[b, h, n, d = e]`, the bench's when none are given) in three rounds
/// alternating the bundles, the lowest median of each kept. Every bundle
/// tunes into its own cache folder.
fn ab(rt: &Runtime, plans: &[(String, LightningAttention)], shapes: &[[usize; 4]]) -> Res<bool> {
    let shapes = if shapes.is_empty() { &BENCH_SHAPES[..] } else { shapes };
    let root = std::env::var_os("TESSERA_CACHE_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let plans: Vec<(&String, LightningAttention)> = plans
        .iter()
        .enumerate()
        .map(|(i, (name, la))| {
            let tuning =
                tessera_runtime::TuneOptions { cache_dir: Some(root.join(format!("ab-{i}"))), ..la.tuning().clone() };
            (name, la.clone().with_tuning(tuning))
        })
        .collect();
    let bw = copy_bandwidth(rt)?;
    println!("copy bandwidth {:.0} GB/s", bw / 1e9);
    let mut all_correct = true;
    let width = shapes.first().map_or(128, |s| s[3]);
    for (name, la) in &plans {
        // Segments of 1024 tokens take any plan's piece count up to 8; the
        // second check cuts every walk (the plan's count, else 4) with no
        // decay, so every piece is within reach and the parts are summed.
        let mut p = Problem::new(2, 4, 4097, width, width, DType::BF16);
        p.initial_state = true;
        p.final_state = true;
        p.segment = Some(1024);
        let mut cut = p.clone();
        cut.pieces = Some(la.pieces().unwrap_or(4));
        let correct = check(rt, la, &p, 1.0, 1700)? & check(rt, la, &cut, 0.0, 1701)?;
        println!("{name}: {}", if correct { "correct" } else { "WRONG" });
        all_correct &= correct;
    }
    for &[b, h, n, d] in shapes {
        let p = Problem::new(b, h, n, d, d, DType::BF16);
        let runs: Vec<_> = plans.iter().map(|(_, la)| (la, &p)).collect();
        let best = alternate(rt, &runs, 3)?;
        let (floor_f, floor_fb) = floors(&p, bw);
        for ((name, _), (f, fb)) in plans.iter().zip(best) {
            println!(
                "b={b} h={h} n={n} d=e={d} {name}: forward {f:.3} ms ({:.3}x floor), forward+backward {fb:.3} ms ({:.3}x floor)",
                f / floor_f,
                fb / floor_fb
            );
        }
    }
    Ok(all_correct)
}

/// The two-pass and the chained plan at each shape (`[b, h, n, d = e]`, the
/// bench's when none are given), each checked against float64 first, then
/// timed alternately twice (the lower median of each kept), beside the copy
/// bandwidth: an A/B on one machine.
fn compare(rt: &Runtime, la: &LightningAttention, shapes: &[[usize; 4]]) -> Res<bool> {
    let shapes = if shapes.is_empty() { &BENCH_SHAPES[..] } else { shapes };
    let bw = copy_bandwidth(rt)?;
    println!("copy bandwidth {:.0} GB/s", bw / 1e9);
    let plans = [la.clone().with_chained(false), la.clone().with_chained(true)];
    let mut all_correct = true;
    for (i, &[b, h, n, d]) in shapes.iter().enumerate() {
        let p = Problem::new(b, h, n, d, d, DType::BF16);
        for plan in &plans {
            all_correct &= check(rt, plan, &p, max_decay(), 1300 + i as u64)?;
        }
        let runs: Vec<_> = plans.iter().map(|plan| (plan, &p)).collect();
        let best = alternate(rt, &runs, 2)?;
        let (floor_f, floor_fb) = floors(&p, bw);
        for (plan, &(f, fb)) in plans.iter().zip(&best) {
            let fitted = dev(plan.fit(rt, &p, false))?;
            println!(
                "{}: forward {f:.3} ms ({:.2}x floor), forward+backward {fb:.3} ms ({:.2}x floor), {} segments, workspace {:.1} MB",
                if plan.chained() { "chained " } else { "two-pass" },
                f / floor_f,
                fb / floor_fb,
                fitted.segments(),
                fitted.workspace_bytes(true) as f64 / 1e6
            );
        }
        println!(
            "b={b} h={h} n={n} d=e={d}: chained / two-pass: forward {:.3}, forward+backward {:.3}",
            best[1].0 / best[0].0,
            best[1].1 / best[0].1
        );
    }
    if !all_correct {
        println!("SOME COMPARED SHAPES FAILED THEIR CHECK");
    }
    Ok(all_correct)
}
