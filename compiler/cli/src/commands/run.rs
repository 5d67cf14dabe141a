//! `tessera run --interp`: execute one specialization over its launch grid
//! on the CPU interpreter.

use crate::error::{CliError, CliResult, RUN_FAILED};
use crate::launch_args::{self, Launch};
use crate::source::{load, parse_consts};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;
use tessera_interp::{HostBuffer, Interleave, LaunchOptions, LaunchStats};

pub fn run(
    file: &Path,
    kernel: Option<&str>,
    consts: &[String],
    args: &[String],
    show: &[String],
    seed: u64,
    interleave: Option<Interleave>,
) -> CliResult<ExitCode> {
    let source = load(file)?;
    let consts = parse_consts(consts)?;
    let name = source.kernel(kernel)?.name.clone();
    let k = source.lower(&name, &consts)?;
    let mut launch = launch_args::build(&k, args, seed)?;
    let (stats, seconds) = execute(&k, &mut launch, interleave)?;
    let how = match interleave {
        Some(i) => format!(", {} at a time, interleaved (seed {})", i.resident, i.seed),
        None => String::new(),
    };
    println!(
        "ran `{}` on the interpreter: {} programs{how}, {} ops, {:.3} s",
        k.name, stats.programs, stats.ops_executed, seconds
    );
    for name in show {
        let index = launch.buffer_of.get(name).ok_or_else(|| {
            CliError::new(
                crate::error::ARG_MISMATCH,
                format!("--show `{name}`: not a pointer parameter of `{}`", k.name),
            )
        })?;
        println!("{name}: {}", summarize(&launch.buffers[*index]));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn execute(
    k: &tessera_tir::Kernel,
    launch: &mut Launch,
    interleave: Option<Interleave>,
) -> CliResult<(LaunchStats, f64)> {
    let start = Instant::now();
    let options = LaunchOptions { interleave, ..LaunchOptions::default() };
    let stats = tessera_interp::launch_with(k, &launch.args, &mut launch.buffers, &options)
        .map_err(|e| CliError::new(RUN_FAILED, e.to_string()))?;
    Ok((stats, start.elapsed().as_secs_f64()))
}

/// `len 1000, sum 1.25, |sum| 500.1, [0.1, 0.2, ...]`
pub fn summarize(buffer: &HostBuffer) -> String {
    let values = buffer.to_f64();
    let sum: f64 = values.iter().sum();
    let abs: f64 = values.iter().map(|v| v.abs()).sum();
    let head: Vec<String> = values.iter().take(6).map(|v| format!("{v:.4}")).collect();
    let more = if values.len() > 6 { ", ..." } else { "" };
    format!("{} x {}, sum {sum:.6}, sum|x| {abs:.6}, [{}{more}]", values.len(), buffer.elem(), head.join(", "))
}
