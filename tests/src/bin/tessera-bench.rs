//! `tessera-bench BUNDLE --sources kernels-dsl [--json FILE]`
//!
//! Copy bandwidth, matmul TFLOP/s per tune point and the tuner's pick, and
//! softmax / layer-norm GB/s against the copy bandwidth, each variant
//! checked against a float64 reference before it is timed (see
//! `tessera_tests::gpu::bench` for the method). Exit codes: see
//! `tessera_tests::gpu`; 1 when some variant computed a wrong result.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tessera_tests::gpu::{self, bench};

#[derive(Parser, Debug)]
#[command(name = "tessera-bench", about = "Benchmark a bundle's kernels on the GPU")]
struct Cli {
    /// The `.tsb` bundle to benchmark.
    bundle: PathBuf,
    /// Folder of the `.tsr` sources (to report which one the bundle comes from).
    #[arg(long)]
    sources: PathBuf,
    /// Write every number as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Square matmul sizes, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = [4096usize, 8192])]
    matmul: Vec<usize>,
    /// Row widths of softmax and layer norm, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = [4096usize, 8192, 16384, 32768])]
    cols: Vec<usize>,
    /// MiB per row-wise tensor.
    #[arg(long, default_value_t = 256)]
    tensor_mib: usize,
    /// MiB of the copy-bandwidth buffer.
    #[arg(long, default_value_t = 1024)]
    copy_mib: usize,
    /// Timed runs per variant (the median is reported).
    #[arg(long, default_value_t = 50)]
    runs: u32,
    #[arg(long, default_value_t = 5)]
    warmup: u32,
    /// Seconds allowed for each variant's timed runs (fewer runs past it, at least 3).
    #[arg(long, default_value_t = 2.0)]
    variant_budget_s: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    let cli: Cli = match gpu::parse_command_line() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if cli.matmul.contains(&0)
        || cli.cols.contains(&0)
        || cli.runs == 0
        || !cli.variant_budget_s.is_finite()
        || cli.variant_budget_s <= 0.0
    {
        eprintln!("error: sizes, --runs and --variant-budget-s must be positive");
        return ExitCode::from(gpu::EXIT_USAGE);
    }
    let opts = bench::BenchOptions {
        bundle: cli.bundle,
        json: cli.json,
        copy_bytes: cli.copy_mib << 20,
        matmul_sizes: cli.matmul,
        row_widths: cli.cols,
        tensor_bytes: cli.tensor_mib << 20,
        warmup: cli.warmup,
        runs: cli.runs,
        variant_budget: Duration::from_secs_f64(cli.variant_budget_s),
        seed: cli.seed,
    };
    if let Ok(data) = tessera_runtime::bundle::BundleData::read(&opts.bundle) {
        println!("bundle: {}", gpu::source_of_bundle(&data, &cli.sources));
    }
    match bench::run(&opts, &mut |line| println!("{line}")) {
        Ok((doc, wrong)) => {
            if let Some(path) = &opts.json {
                let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
                if let Err(e) = std::fs::write(path, text + "\n") {
                    eprintln!("error: cannot write `{}`: {e}", path.display());
                    return ExitCode::from(gpu::EXIT_BAD_INPUT);
                }
                println!("\nwrote {}", path.display());
            }
            if wrong { ExitCode::from(gpu::EXIT_FAILED) } else { ExitCode::SUCCESS }
        }
        Err(error) => error.report(),
    }
}
