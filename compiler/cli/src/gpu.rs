//! The GPU backend seen from the driver: the backend stages of `tessera emit`
//! (`layout`, `mlir`, `llvm`, `ptx`, `sass`), and backend errors reported with
//! the kernel, target and stage they happened in.

use std::path::Path;
use std::process::Command;

use tessera_backend::{
    BackendError, Codegen, CompiledKernel, GpuArch, Stage, Target, assign_layouts_for_target, codes, compile_kernel,
    layout, lower, schedule_for_target,
};
use tessera_tir::Kernel;

use crate::cuda_tools;
use crate::error::{CANNOT_READ, CliError, DISASSEMBLY_FAILED};

/// The backend stages `emit` prints, in pipeline order.
pub const STAGES: &[&str] = &["layout", "mlir", "llvm", "ptx", "sass"];

/// Parses `--arch` (`sm_80` ... `sm_90a`).
pub fn parse_arch(name: &str) -> Result<GpuArch, String> {
    GpuArch::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = GpuArch::ALL.iter().map(|a| a.name()).collect();
        format!("unknown GPU architecture; expected one of {}", names.join(", "))
    })
}

/// Where a backend error happened, for its report.
pub struct Context<'a> {
    pub kernel: &'a str,
    /// The kernel's source file, for `file:line:col`.
    pub file: &'a Path,
    pub arch: GpuArch,
    /// The `emit` stage (or `demo`) that ran the backend.
    pub stage: &'a str,
    pub codegen: Codegen,
}

/// Whether the backend declined the kernel as not supported (yet or on this
/// target) rather than failing on it: such kernels are listed, not errors.
pub fn is_unsupported(error: &BackendError) -> bool {
    [codes::UNSUPPORTED_OP, codes::NON_POWER_OF_TWO, codes::TARGET_UNSUPPORTED_OP].contains(&error.code())
}

/// A backend error as a driver error: its E08xx code, the kernel, target and
/// stage, the source location of the op it is about, then MLIR's diagnostics
/// and the failing tool's output.
pub fn report(error: &BackendError, at: &Context) -> CliError {
    let mut message = format!(
        "kernel `{}` for {} (stage `{}`): {}: {}",
        at.kernel,
        at.arch,
        at.stage,
        error.stage.name(),
        error.message
    );
    if let Some(op) = &error.op {
        message.push_str(&format!(" (op `{op}`)"));
    }
    if let Some(loc) = error.loc {
        message.push_str(&format!("\n  --> {}:{}:{}", at.file.display(), loc.line, loc.col));
    }
    for diagnostic in &error.diagnostics {
        for line in diagnostic.to_string().lines() {
            message.push_str(&format!("\n  {line}"));
        }
    }
    if let Some(detail) = &error.detail {
        for line in detail.lines() {
            message.push_str(&format!("\n  | {line}"));
        }
    }
    CliError::new(error.code(), message)
}

/// The text of backend stage `stage` for `kernel`.
///
/// `layout` and `mlir` stop after their own step, so they print even when a
/// later step fails; `llvm` is the LLVM IR after `default<O3>` (what the NVPTX
/// code generator reads); `sass` assembles with ptxas and disassembles with
/// nvdisasm, or cuobjdump when nvdisasm is absent.
pub fn stage_text(kernel: &Kernel, stage: &str, at: &Context) -> Result<String, CliError> {
    let target = Target::new(at.arch).with_codegen(at.codegen);
    let fail = |error: BackendError| report(&error, at);
    match stage {
        "layout" => {
            let kernel = schedule_for_target(kernel, &target).map_err(fail)?;
            Ok(layout::print_layouts(&assign_layouts_for_target(&kernel, &target).map_err(fail)?))
        }
        "mlir" => {
            let kernel = schedule_for_target(kernel, &target).map_err(fail)?;
            let laid_out = assign_layouts_for_target(&kernel, &target).map_err(fail)?;
            Ok(lower::lower_kernel_with(&laid_out, target.codegen, target.ptx).map_err(fail)?.mlir)
        }
        "llvm" => Ok(compile_kernel(kernel, &target).map_err(fail)?.stages.llvm_optimized),
        "ptx" => Ok(compile_kernel(kernel, &target).map_err(fail)?.ptx),
        _ => {
            let compiled = compile_kernel(kernel, &target).map_err(fail)?;
            sass(&compiled, at)
        }
    }
}

/// Assembles the kernel's PTX with ptxas and disassembles the cubin.
fn sass(compiled: &CompiledKernel, at: &Context) -> Result<String, CliError> {
    let ptxas = cuda_tools::require("ptxas", "to assemble PTX for --stage sass")?;
    let (tool, args) = match (cuda_tools::locate("nvdisasm"), cuda_tools::locate("cuobjdump")) {
        (Some(nvdisasm), _) => (nvdisasm, ["-c"]),
        (None, Some(cuobjdump)) => (cuobjdump, ["-sass"]),
        (None, None) => return Err(cuda_tools::missing(&["nvdisasm", "cuobjdump"], "to disassemble the cubin")),
    };
    let scratch = tempfile::tempdir()
        .map_err(|e| CliError::new(CANNOT_READ, format!("cannot create a temporary folder: {e}")))?;
    let ptx = scratch.path().join(format!("{}.ptx", compiled.entry));
    let cubin = scratch.path().join(format!("{}.cubin", compiled.entry));
    std::fs::write(&ptx, &compiled.ptx)
        .map_err(|e| CliError::new(CANNOT_READ, format!("cannot write {}: {e}", ptx.display())))?;
    let assembled =
        Command::new(&ptxas).arg(format!("-arch={}", at.arch)).arg(&ptx).arg("-o").arg(&cubin).output().map_err(
            |e| report(&BackendError::new(Stage::PtxasLaunch, format!("cannot run {}: {e}", ptxas.display())), at),
        )?;
    if !assembled.status.success() {
        let error =
            BackendError::new(Stage::PtxasRejected, format!("ptxas -arch={} failed ({})", at.arch, assembled.status))
                .with_detail(String::from_utf8_lossy(&assembled.stderr).into_owned());
        return Err(report(&error, at));
    }
    let disassembled = Command::new(&tool)
        .args(args)
        .arg(&cubin)
        .output()
        .map_err(|e| CliError::new(DISASSEMBLY_FAILED, format!("cannot run {}: {e}", tool.display())))?;
    if !disassembled.status.success() {
        return Err(CliError::new(
            DISASSEMBLY_FAILED,
            format!(
                "{} failed ({}): {}",
                tool.display(),
                disassembled.status,
                String::from_utf8_lossy(&disassembled.stderr).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&disassembled.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_names_parse_and_unknown_ones_list_the_choices() {
        assert_eq!(parse_arch("sm_90a"), Ok(GpuArch::Sm90a));
        assert_eq!(parse_arch("sm_80"), Ok(GpuArch::Sm80));
        let error = parse_arch("sm_70").expect_err("sm_70 is not a target");
        assert!(error.contains("sm_80, sm_86, sm_89, sm_90, sm_90a"), "{error}");
    }

    #[test]
    fn reports_name_kernel_target_stage_and_source_location() {
        let error = BackendError::at_op(
            Stage::UnsupportedOp,
            "dot",
            tessera_tir::Loc { line: 41, col: 19 },
            "`dot` is not compiled yet",
        )
        .with_detail("help: run it on the interpreter");
        let at = Context {
            kernel: "matmul",
            file: Path::new("kernels-dsl/matmul.tsr"),
            arch: GpuArch::Sm80,
            stage: "ptx",
            codegen: Codegen::default(),
        };
        let text = report(&error, &at).to_string();
        assert_eq!(
            text,
            "error[E0812]: kernel `matmul` for sm_80 (stage `ptx`): checking the kernel is supported: \
             `dot` is not compiled yet (op `dot`)\n  --> kernels-dsl/matmul.tsr:41:19\n  | help: run it on the interpreter"
        );
        assert!(is_unsupported(&error));
        assert!(!is_unsupported(&BackendError::new(Stage::PtxasRejected, "bad PTX")));
    }
}
