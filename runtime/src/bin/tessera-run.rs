//! `tessera-run`: list, run, tune and benchmark the kernels of a `.tsb`
//! bundle on the local GPU. Errors are one line, `error[KIND]: message`,
//! with exit code 1.

#[path = "tessera-run/host_args.rs"]
mod host_args;

use clap::{Args, Parser, Subcommand};
use host_args::HostArg;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tessera_runtime::bundle::{BundleData, KernelEntry};
use tessera_runtime::tune::{TuneCache, default_cache_dir};
use tessera_runtime::{Bundle, Error, LaunchArgs, Pins, RawBuffer, Runtime, TuneOptions};

#[derive(Parser)]
#[command(name = "tessera-run", version, about = "Run Tessera kernel bundles on the GPU")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the kernels of a bundle: signatures, grids, tuning, variants.
    List { bundle: PathBuf },
    /// Launch a kernel once and print its pointer arguments afterwards.
    Run {
        #[command(flatten)]
        launch: Launch,
        /// Print only these buffers (default: every pointer argument).
        #[arg(long)]
        show: Vec<String>,
    },
    /// Autotune a kernel for these arguments; print the candidate table and the pick.
    Tune {
        #[command(flatten)]
        launch: Launch,
        #[command(flatten)]
        timing: Timing,
        /// Ignore and replace a cached choice.
        #[arg(long)]
        retune: bool,
    },
    /// Time every candidate (without reading or writing the tuning cache).
    Bench {
        #[command(flatten)]
        launch: Launch,
        #[command(flatten)]
        timing: Timing,
    },
    /// Remove every cached tuning choice.
    ClearCache,
}

#[derive(Args)]
struct Launch {
    bundle: PathBuf,
    /// Kernel name (optional when the bundle has one kernel).
    #[arg(long)]
    kernel: Option<String>,
    /// Launch argument `NAME=VALUE`: a number or an expression of earlier
    /// scalars; for pointers `rand(LEN)` (floats in [-1, 1), integers in
    /// [-8, 8)), `rand(LEN, LO, HI)`, `randn(LEN[, MEAN, STD])`, `zeros(LEN)`,
    /// `fill(LEN, V)`, `arange(LEN)` or `empty(LEN)` (element type from the
    /// signature).
    #[arg(long = "arg", value_name = "NAME=VALUE")]
    args: Vec<String>,
    /// Seed of `rand(...)` inputs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run only variants whose compile-time parameter NAME is VALUE (a size
    /// compiled in that must match the data, such as a head width).
    #[arg(long = "pin", value_name = "NAME=VALUE")]
    pins: Vec<String>,
}

#[derive(Args)]
struct Timing {
    /// Pointer arguments the kernel writes, compared between candidates
    /// (default: every pointer argument).
    #[arg(long, value_delimiter = ',')]
    outputs: Vec<String>,
    /// Bytes moved per launch for the GB/s column (default: the total size
    /// of the pointer arguments, i.e. each touched once).
    #[arg(long)]
    bytes: Option<u64>,
    /// Floating-point operations per launch, for the TFLOP/s column.
    #[arg(long)]
    flops: Option<u64>,
    #[arg(long, default_value_t = 25)]
    repeats: u32,
    #[arg(long, default_value_t = 3)]
    warmup: u32,
    /// Time budget in milliseconds for timing all candidates.
    #[arg(long, default_value_t = 2000)]
    budget_ms: u64,
    /// Relative and absolute tolerance for comparing outputs, `RTOL,ATOL`
    /// (default: by element type).
    #[arg(long, value_name = "RTOL,ATOL")]
    tolerance: Option<String>,
}

/// A CLI failure: the kind shown in brackets and a one-line message.
struct Failure {
    kind: &'static str,
    message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure { kind: e.kind(), message: e.to_string().replace('\n', " | ") }
    }
}

fn fail(kind: &'static str, message: impl Into<String>) -> Failure {
    Failure { kind, message: message.into() }
}

type CliResult<T> = Result<T, Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List { bundle } => list(&bundle),
        Command::Run { launch, show } => run(&launch, &show),
        Command::Tune { launch, timing, retune } => tune(&launch, &timing, retune, true),
        Command::Bench { launch, timing } => tune(&launch, &timing, true, false),
        Command::ClearCache => clear_cache(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error[{}]: {}", f.kind, f.message);
            ExitCode::FAILURE
        }
    }
}

fn list(path: &PathBuf) -> CliResult<()> {
    let data = BundleData::read(path).map_err(Error::from)?;
    let m = data.manifest();
    println!(
        "bundle {} (format {}, {}, source {})",
        path.display(),
        m.format_version,
        m.compiler_version,
        m.source_hash
    );
    for k in &m.kernels {
        print_kernel(k, data.kernel_hash(&k.decl.name).unwrap_or_default());
    }
    Ok(())
}

fn print_kernel(k: &KernelEntry, hash: &str) {
    let d = &k.decl;
    let mut params: Vec<String> = d
        .params
        .iter()
        .map(|p| {
            let mut s = format!("{}: {}", p.name, p.kind);
            if let Some(div) = p.hints.divisibility {
                s.push_str(&format!(" @div({div})"));
            }
            if p.hints.contiguous {
                s.push_str(" @contig");
            }
            s
        })
        .collect();
    params.extend(d.const_params.iter().map(|c| format!("const {}: {}", c.name, c.dtype)));
    println!("\nkernel {}({})", d.name, params.join(", "));
    let grid: Vec<String> = d.grid.iter().map(ToString::to_string).collect();
    println!("  grid({})  key({})  hash {}", grid.join(", "), d.key.join(", "), &hash[..hash.len().min(16)]);
    let axes: Vec<String> = d
        .tune_space
        .iter()
        .map(|a| format!("{} = [{}]", a.name, a.values.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")))
        .collect();
    if !axes.is_empty() {
        println!("  tune({})", axes.join(", "));
    }
    if !d.require.is_empty() {
        let require: Vec<String> = d.require.iter().map(ToString::to_string).collect();
        println!("  require({})", require.join(", "));
    }
    let mut archs: Vec<&str> = k.variants.iter().map(|v| v.info.arch.as_str()).collect();
    archs.sort();
    archs.dedup();
    println!("  {} variants for {}", k.variants.len(), archs.join(", "));
    let width = k.variants.iter().map(|v| v.info.label().len()).max().unwrap_or(7).max(7);
    println!("    {:<width$}  {:<9}  {:>8}  {:>4}  {:>6}  entry", "variant", "code", "smem", "regs", "spills");
    for v in &k.variants {
        let code = match (v.code.ptx, v.code.cubin) {
            (Some(_), Some(_)) => "ptx+cubin",
            (Some(_), None) => "ptx",
            _ => "cubin",
        };
        let i = &v.info;
        println!(
            "    {:<width$}  {code:<9}  {:>8}  {:>4}  {:>6}  {}",
            i.label(),
            i.shared_bytes,
            i.registers,
            i.spills,
            i.entry
        );
    }
}

/// Open the bundle and the device, pick the kernel, upload the arguments.
struct Prepared {
    rt: Runtime,
    kernel: tessera_runtime::KernelHandle,
    pins: Pins,
    /// Per parameter: a device buffer or a scalar.
    values: Vec<(String, Prepared1)>,
}

enum Prepared1 {
    Buffer(RawBuffer),
    Scalar(tessera_runtime::Scalar),
}

impl Prepared {
    fn args(&self) -> LaunchArgs<'_> {
        let args = self.values.iter().fold(LaunchArgs::new(), |a, (name, v)| match v {
            Prepared1::Buffer(b) => a.arg(name, b),
            Prepared1::Scalar(s) => a.arg(name, *s),
        });
        self.pins.iter().fold(args, |a, (name, value)| a.pin(name, value))
    }

    fn buffer_bytes(&self) -> u64 {
        self.values.iter().map(|(_, v)| if let Prepared1::Buffer(b) = v { b.bytes() as u64 } else { 0 }).sum()
    }
}

fn prepare(launch: &Launch) -> CliResult<Prepared> {
    let bundle = Bundle::open(&launch.bundle)?;
    let name = match &launch.kernel {
        Some(name) => name.clone(),
        None => match bundle.data().manifest().kernels.as_slice() {
            [only] => only.decl.name.clone(),
            kernels => {
                let names: Vec<&str> = kernels.iter().map(|k| k.decl.name.as_str()).collect();
                return Err(fail(
                    "no-kernel",
                    format!("the bundle has several kernels, pick one with --kernel: {}", names.join(", ")),
                ));
            }
        },
    };
    let kernel = bundle.kernel(&name)?;
    // Parse before touching the device, so argument mistakes show everywhere.
    let host = host_args::parse(kernel.decl(), &launch.args, launch.seed).map_err(|m| fail("argument", m))?;
    let mut pins = Pins::default();
    for text in &launch.pins {
        match text.split_once('=').map(|(n, v)| (n.trim(), v.trim().parse::<i64>())) {
            Some((name, Ok(value))) => pins.set(name, value),
            _ => return Err(fail("pin", format!("--pin {text}: write NAME=INTEGER, e.g. --pin DK=128"))),
        }
    }
    pins.check(kernel.decl()).map_err(|e| fail("pin", format!("--pin: {e}")))?;
    let rt = Runtime::new()?;
    let mut values = Vec::new();
    for (param, arg) in kernel.decl().params.iter().zip(host) {
        let value = match arg {
            HostArg::Scalar(s) => Prepared1::Scalar(s),
            HostArg::Buffer(elem, bytes) => Prepared1::Buffer(rt.upload_raw(elem, &bytes)?),
        };
        values.push((param.name.clone(), value));
    }
    Ok(Prepared { rt, kernel, pins, values })
}

fn run(launch: &Launch, show: &[String]) -> CliResult<()> {
    let p = prepare(launch)?;
    for name in show {
        if !p.values.iter().any(|(n, v)| n == name && matches!(v, Prepared1::Buffer(_))) {
            return Err(fail(
                "argument",
                format!("--show {name}: kernel `{}` has no pointer argument `{name}`", p.kernel.name()),
            ));
        }
    }
    p.kernel.launch(&p.rt, &p.args())?;
    p.rt.synchronize()?;
    println!("launched `{}`", p.kernel.name());
    for (name, value) in &p.values {
        let Prepared1::Buffer(buffer) = value else { continue };
        if !show.is_empty() && !show.contains(name) {
            continue;
        }
        let bytes = p.rt.download_raw(buffer)?;
        println!("{name}: {}", summarize(buffer.elem(), &bytes));
    }
    Ok(())
}

/// `f32[1000] = [3, 3, 3, ...]  sum 3000`
fn summarize(elem: tessera_runtime::DType, bytes: &[u8]) -> String {
    let size = elem.size();
    let values: Vec<f64> = bytes.chunks_exact(size).map(|c| decode(elem, c)).collect();
    let head: Vec<String> = values.iter().take(8).map(|v| format!("{v}")).collect();
    let more = if values.len() > 8 { ", ..." } else { "" };
    let sum: f64 = values.iter().sum();
    format!("{elem}[{}] = [{}{more}]  sum {sum}", values.len(), head.join(", "))
}

fn decode(elem: tessera_runtime::DType, c: &[u8]) -> f64 {
    use tessera_runtime::DType;
    let mut a = [0u8; 8];
    a[..c.len()].copy_from_slice(c);
    match elem {
        DType::I1 => f64::from(u8::from(a[0] != 0)),
        DType::I8 => f64::from(a[0] as i8),
        DType::I16 => f64::from(i16::from_le_bytes([a[0], a[1]])),
        DType::I32 => f64::from(i32::from_le_bytes([a[0], a[1], a[2], a[3]])),
        DType::I64 => i64::from_le_bytes(a) as f64,
        DType::F16 => half::f16::from_le_bytes([a[0], a[1]]).to_f64(),
        DType::BF16 => half::bf16::from_le_bytes([a[0], a[1]]).to_f64(),
        DType::F32 => f64::from(f32::from_le_bytes([a[0], a[1], a[2], a[3]])),
        DType::F64 => f64::from_le_bytes(a),
    }
}

fn tune(launch: &Launch, timing: &Timing, retune: bool, use_cache: bool) -> CliResult<()> {
    let tolerance = match &timing.tolerance {
        None => None,
        Some(text) => {
            let parsed = text.split_once(',').and_then(|(r, a)| Some((r.trim().parse().ok()?, a.trim().parse().ok()?)));
            let (rtol, atol) = parsed
                .ok_or_else(|| fail("argument", format!("--tolerance `{text}`: write RTOL,ATOL, e.g. 1e-3,1e-5")))?;
            Some(tessera_runtime::tune::Tolerance { rtol, atol })
        }
    };
    let p = prepare(launch)?;
    let options = TuneOptions {
        outputs: (!timing.outputs.is_empty()).then(|| timing.outputs.clone()),
        tolerance,
        warmup: timing.warmup,
        repeats: timing.repeats,
        budget: Duration::from_millis(timing.budget_ms),
        retune,
        use_cache,
        bytes: Some(timing.bytes.unwrap_or_else(|| p.buffer_bytes())),
        flops: timing.flops,
        ..TuneOptions::default()
    };
    let report = p.kernel.tune(&p.rt, &p.args(), &options)?;
    println!("{report}");
    if let Some(path) = &report.cache_path {
        println!("cache: {}", path.display());
    }
    if report.pick.is_none() {
        return Err(fail("tune", format!("no candidate of `{}` ran correctly", p.kernel.name())));
    }
    Ok(())
}

fn clear_cache() -> CliResult<()> {
    let dir = default_cache_dir()
        .ok_or_else(|| fail("cache", "no cache folder: set TESSERA_CACHE_DIR, XDG_CACHE_HOME or HOME"))?;
    let removed = TuneCache::new(&dir).clear().map_err(|e| fail("cache", format!("{}: {e}", dir.display())))?;
    println!("removed {removed} tuning entries from {}", dir.display());
    Ok(())
}
