//! `runtime-faults`: every fault a serving process can meet through
//! `tessera-runtime`, triggered on purpose and printed with its typed error.
//!
//! ```text
//! runtime-faults BUNDLE [SM80_BUNDLE]
//! ```
//!
//! `BUNDLE` must hold `softmax_bf16` (kernels-dsl/softmax.tsr) with code for
//! the local device; `SM80_BUNDLE` holds `softmax_bf16` for `sm_80` only and
//! shows what happens on a device the bundle has no cubin for: the driver
//! JIT-compiles its PTX (checked for a correct result), or the runtime says
//! why nothing can run.
//!
//! Each case prints one line, `PASS|FAIL|SKIP  <case>: <outcome>`, the outcome
//! being the error's `Display`. Exit status: 0 when every case met its
//! expected typed error (or the expected PTX fallback), 1 when one did not,
//! 2 when there is no CUDA driver or GPU (`SKIPPED (no CUDA driver)`; the
//! device-free bundle cases still run first), 3 on a usage or setup error.

mod cases;
mod softmax;

use std::path::PathBuf;
use std::process::ExitCode;
use tessera_runtime::{Error, Runtime};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (bundle, sm80) = match args.as_slice() {
        [bundle] => (PathBuf::from(bundle), None),
        [bundle, sm80] => (PathBuf::from(bundle), Some(PathBuf::from(sm80))),
        _ => {
            eprintln!("usage: runtime-faults BUNDLE [SM80_BUNDLE]   (BUNDLE holds softmax_bf16)");
            return ExitCode::from(3);
        }
    };
    let mut tally = cases::Tally::default();
    if let Err(message) = cases::bundle_files(&mut tally, &bundle) {
        eprintln!("setup: {message}");
        return ExitCode::from(3);
    }
    let rt = match Runtime::new() {
        Ok(rt) => rt,
        Err(e @ (Error::NoDriver(_) | Error::NoDevice(_))) => {
            println!("SKIPPED (no CUDA driver): {e}");
            return ExitCode::from(if tally.failed > 0 { 1 } else { 2 });
        }
        Err(e) => {
            eprintln!("setup: opening the device: {e}");
            return ExitCode::from(3);
        }
    };
    let info = rt.info();
    println!("device: {} ({}, driver {})", info.name, info.arch, info.driver_version);
    if let Err(e) = cases::arguments(&mut tally, &rt, &bundle) {
        eprintln!("setup: {e}");
        return ExitCode::from(3);
    }
    match &sm80 {
        Some(path) => {
            if let Err(e) = cases::missing_arch(&mut tally, &rt, path) {
                eprintln!("setup: {e}");
                return ExitCode::from(3);
            }
        }
        None => tally.skip("bundle without the device's architecture", "no SM80_BUNDLE given"),
    }
    println!("summary: {} passed, {} failed, {} skipped", tally.passed, tally.failed, tally.skipped);
    if tally.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
