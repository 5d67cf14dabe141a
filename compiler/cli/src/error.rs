//! Errors of the driver itself (E07xx): bad command lines, unreadable files.
//! Problems in kernel sources are diagnostics, rendered where they occur.

use std::fmt;

pub const CANNOT_READ: &str = "E0701";
pub const UNKNOWN_KERNEL: &str = "E0702";
pub const BAD_CONST: &str = "E0703";
pub const BAD_ARG: &str = "E0704";
pub const ARG_MISMATCH: &str = "E0705";
pub const UNKNOWN_STAGE: &str = "E0706";
pub const SOURCE_ERRORS: &str = "E0707";
pub const RUN_FAILED: &str = "E0708";
pub const UNKNOWN_CODE: &str = "E0709";
/// `ptxas`, `nvdisasm` or `cuobjdump` is needed (for `--stage sass`) and not installed.
pub const CUDA_TOOL_MISSING: &str = "E0710";
/// `nvdisasm`/`cuobjdump` could not disassemble the cubin ptxas produced.
pub const DISASSEMBLY_FAILED: &str = "E0711";

pub const ALL: &[(&str, &str)] = &[
    (CANNOT_READ, "a file or folder named on the command line cannot be read"),
    (UNKNOWN_KERNEL, "no kernel of that name in the file, or --kernel missing where the file has several"),
    (BAD_CONST, "a --const is not NAME=VALUE with a number or boolean"),
    (BAD_ARG, "a --arg (or a demo.args entry) is malformed"),
    (ARG_MISMATCH, "launch arguments do not match the kernel's parameters"),
    (UNKNOWN_STAGE, "--stage names no stage this build can print"),
    (SOURCE_ERRORS, "the kernel source has errors (shown above)"),
    (RUN_FAILED, "the interpreter stopped with a run-time error"),
    (UNKNOWN_CODE, "`tessera explain` was given an unknown code"),
    (CUDA_TOOL_MISSING, "a CUDA tool (ptxas, nvdisasm, cuobjdump) is needed and not installed"),
    (DISASSEMBLY_FAILED, "nvdisasm or cuobjdump failed on the cubin"),
];

#[derive(Debug)]
pub struct CliError {
    pub code: &'static str,
    pub message: String,
    pub help: Option<String>,
}

impl CliError {
    pub fn new(code: &'static str, message: impl Into<String>) -> CliError {
        CliError { code, message: message.into(), help: None }
    }
    pub fn with_help(mut self, help: impl Into<String>) -> CliError {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[{}]: {}", self.code, self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

pub type CliResult<T> = Result<T, CliError>;
