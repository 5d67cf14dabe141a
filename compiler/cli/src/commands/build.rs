//! `tessera build`: every tuning point of every kernel of the given files,
//! for each architecture, into one `.tsb` bundle (`tessera_build`).

use crate::error::{CliError, CliResult};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tessera_backend::Codegen;
use tessera_build::{BuildError, BuildOptions, ConstArg, build, parse_archs};

pub fn run(
    files: &[PathBuf],
    output: &Path,
    arch: &str,
    consts: &[String],
    kernels: &[String],
    jobs: Option<usize>,
    codegen: Codegen,
) -> CliResult<ExitCode> {
    let archs = parse_archs(arch).map_err(cli_error)?;
    let mut options = BuildOptions::new(files.to_vec(), output, archs);
    options.consts = consts.iter().map(|c| ConstArg::parse(c)).collect::<Result<_, _>>().map_err(cli_error)?;
    options.kernels = kernels.to_vec();
    options.jobs = jobs;
    options.codegen = codegen;
    if options.ptxas.is_none() {
        eprintln!(
            "warning: ptxas not found (set TESSERA_PTXAS, or add it to PATH): the bundle holds PTX only, \
             without cubins or register counts"
        );
    }
    let report = build(&options).map_err(cli_error)?;
    eprint!("{}", report.rejections());
    print!("{}", report.summary_table());
    println!(
        "wrote {} ({} bytes): {} variant(s) of {} kernel(s) for {}{} in {:.1}s on {} worker(s)",
        report.output.display(),
        report.bundle_bytes,
        report.variants_built(),
        report.kernels.iter().filter(|k| k.built > 0).count(),
        arch,
        if report.assembled { ", with cubins" } else { ", PTX only" },
        report.elapsed.as_secs_f64(),
        report.workers
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints the rendered diagnostics a build error carries; the rest becomes
/// the driver's error line.
fn cli_error(error: BuildError) -> CliError {
    if let Some(rendered) = &error.rendered {
        eprint!("{rendered}");
        if !rendered.ends_with('\n') {
            eprintln!();
        }
    }
    let cli = CliError::new(error.code, error.message);
    match error.help {
        Some(help) => cli.with_help(help),
        None => cli,
    }
}
