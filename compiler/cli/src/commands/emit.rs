//! `tessera emit`: print one stage of the pipeline for one specialization.

use crate::error::{CliError, CliResult, UNKNOWN_STAGE};
use crate::gpu;
use crate::source::{load, parse_consts};
use std::path::Path;
use std::process::ExitCode;
use tessera_backend::{Codegen, GpuArch};

/// Stages this build can print, in pipeline order: the front end's, then the
/// GPU backend's ([`gpu::STAGES`]).
pub const STAGES: &[&str] = &["ast", "tir-raw", "tir", "layout", "mlir", "llvm", "ptx", "sass"];

pub fn run(
    file: &Path,
    kernel: Option<&str>,
    consts: &[String],
    stage: &str,
    print_after_all: bool,
    arch: GpuArch,
    codegen: Codegen,
) -> CliResult<ExitCode> {
    if !STAGES.contains(&stage) {
        return Err(CliError::new(UNKNOWN_STAGE, format!("unknown stage `{stage}`"))
            .with_help(format!("stages: {}", STAGES.join(", "))));
    }
    let source = load(file)?;
    let consts = parse_consts(consts)?;
    let signature = source.kernel(kernel)?;
    match stage {
        "ast" => {
            let item = source
                .module
                .items
                .iter()
                .find(|item| matches!(item, tessera_syntax::ast::Item::Kernel(k) if k.name.name == signature.name));
            println!("{item:#?}");
        }
        "tir-raw" => {
            let k = source.lower_unoptimized(&signature.name, &consts)?;
            print!("{}", tessera_tir::printer::print_kernel(&k));
        }
        backend if gpu::STAGES.contains(&backend) => {
            let k = source.lower(&signature.name, &consts)?;
            let at = gpu::Context { kernel: &signature.name, file, arch, stage: backend, codegen };
            print!("{}", gpu::stage_text(&k, backend, &at)?);
        }
        _ => {
            if print_after_all {
                let mut k = source.lower_unoptimized(&signature.name, &consts)?;
                println!("// ----- lowered -----\n{}", tessera_tir::printer::print_kernel(&k));
                let report = tessera_tir::passes::PassManager::default_pipeline()
                    .print_after(true)
                    .run(&mut k)
                    .map_err(|e| CliError::new(crate::error::SOURCE_ERRORS, e.to_string()))?;
                print!("{}", report.dump());
            } else {
                let k = source.lower(&signature.name, &consts)?;
                print!("{}", tessera_tir::printer::print_kernel(&k));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
