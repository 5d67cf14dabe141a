//! `tessera-gpucheck BUNDLE --sources kernels-dsl [--cases FILE] [--all-variants] [--seed N]`
//!
//! Runs each case of a case file on the GPU (every variant it matches with
//! `--all-variants`, else the one nearest the source's defaults), on the
//! interpreter, and against the float64 reference, and prints one line per
//! (kernel, variant, case). Exit codes: see `tessera_tests::gpu`.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use tessera_tests::gpu::{self, check};

#[derive(Parser, Debug)]
#[command(
    name = "tessera-gpucheck",
    about = "Check a bundle's kernels on the GPU against the interpreter and float64 references"
)]
struct Cli {
    /// The `.tsb` bundle to check.
    bundle: PathBuf,
    /// Folder of the `.tsr` sources the bundle was compiled from.
    #[arg(long)]
    sources: PathBuf,
    /// Case file (`FILE KERNEL NAME=VALUE...` per line); default: SOURCES/demo.args.
    #[arg(long)]
    cases: Option<PathBuf>,
    /// Check every variant a case matches, not only the one nearest the defaults.
    #[arg(long)]
    all_variants: bool,
    /// Seed of the random inputs (default: a fresh one, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Threads for interpreter and reference work (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    let cli: Cli = match gpu::parse_command_line() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let threads = cli.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let opts = check::CheckOptions {
        cases: cli.cases.clone().unwrap_or_else(|| cli.sources.join("demo.args")),
        bundle: cli.bundle,
        sources: cli.sources,
        all_variants: cli.all_variants,
        seed: cli.seed,
        threads,
    };
    if let Ok(data) = tessera_runtime::bundle::BundleData::read(&opts.bundle) {
        println!("bundle: {}", gpu::source_of_bundle(&data, &opts.sources));
    }
    match check::run(&opts, &mut |line| println!("{line}")) {
        Ok(summary) if summary.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(gpu::EXIT_FAILED),
        Err(error) => error.report(),
    }
}
