//! `tessera emit`: print one stage of the pipeline for one specialization.

use crate::error::{BAD_ARG, CliError, CliResult, UNKNOWN_STAGE};
use crate::gpu;
use crate::source::{load, parse_consts};
use std::path::Path;
use std::process::ExitCode;
use tessera_backend::{Codegen, GpuArch};
use tessera_runtime::bundle::DIVISIBILITY;

/// Stages this build can print, in pipeline order: the front end's, then the
/// GPU backend's ([`gpu::STAGES`]).
pub const STAGES: &[&str] = &["ast", "tir-raw", "tir", "layout", "mlir", "llvm", "ptx", "sass"];

/// What to print: the stage, and how the specialization is made.
pub struct Emit<'a> {
    pub stage: &'a str,
    pub print_after_all: bool,
    /// Integer parameters assumed divisible by 16 (the build's specialized twins).
    pub divisible: &'a [String],
    /// Integer parameters assumed equal to 1 (the build's unit-stride twins).
    pub unit: &'a [String],
    pub arch: GpuArch,
}

pub fn run(
    file: &Path,
    kernel: Option<&str>,
    consts: &[String],
    what: &Emit<'_>,
    codegen: Codegen,
) -> CliResult<ExitCode> {
    let Emit { stage, print_after_all, divisible, unit, arch } = *what;
    let assume = |k: &mut tessera_tir::Kernel| -> CliResult<()> {
        assume_hint(k, "unit", unit, |p| p.hints.contiguous = true)?;
        assume_hint(k, "divisible", divisible, |p| p.hints.divisibility = Some(DIVISIBILITY))
    };
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
            let mut k = source.lower_unoptimized(&signature.name, &consts)?;
            assume(&mut k)?;
            print!("{}", tessera_tir::printer::print_kernel(&k));
        }
        backend if gpu::STAGES.contains(&backend) => {
            let mut k = source.lower(&signature.name, &consts)?;
            assume(&mut k)?;
            let at = gpu::Context { kernel: &signature.name, file, arch, stage: backend, codegen };
            print!("{}", gpu::stage_text(&k, backend, &at)?);
        }
        _ => {
            if print_after_all {
                let mut k = source.lower_unoptimized(&signature.name, &consts)?;
                assume(&mut k)?;
                println!("// ----- lowered -----\n{}", tessera_tir::printer::print_kernel(&k));
                let report = tessera_tir::passes::PassManager::default_pipeline()
                    .print_after(true)
                    .run(&mut k)
                    .map_err(|e| CliError::new(crate::error::SOURCE_ERRORS, e.to_string()))?;
                print!("{}", report.dump());
            } else {
                let mut k = source.lower(&signature.name, &consts)?;
                assume(&mut k)?;
                print!("{}", tessera_tir::printer::print_kernel(&k));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Gives the integer parameters `names` a hint (`set`), as the build does for
/// a variant's specialized twins; an unknown or non-integer name is an
/// error naming the option (`--OPTION NAME`).
fn assume_hint(
    kernel: &mut tessera_tir::Kernel,
    option: &str,
    names: &[String],
    set: impl Fn(&mut tessera_tir::Param),
) -> CliResult<()> {
    for name in names {
        match kernel.params.iter().position(|p| &p.name == name).filter(|&i| kernel.is_integer_param(i)) {
            Some(i) => set(&mut kernel.params[i]),
            None => {
                let integers: Vec<&str> = (0..kernel.params.len())
                    .filter(|&i| kernel.is_integer_param(i))
                    .map(|i| kernel.params[i].name.as_str())
                    .collect();
                return Err(CliError::new(
                    BAD_ARG,
                    format!("`--{option} {name}`: `{}` has no integer parameter `{name}`", kernel.name),
                )
                .with_help(format!("its integer parameters: {}", integers.join(", "))));
            }
        }
    }
    Ok(())
}
