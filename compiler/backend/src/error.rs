//! Backend errors: which stage failed, why, and what MLIR said about it.
//!
//! MLIR reports problems through the context's diagnostic handler rather than
//! through return values (a failed pass returns a bare "failure"). The
//! [`crate::context::MlirContext`] collects those diagnostics and every error
//! built after a failure carries them, so a message reads "lowering pass
//! pipeline failed: loc(...): failed to legalize operation 'scf.if'" instead of
//! "pass failed".

use std::fmt;

use crate::codes;

/// A stage of the MLIR -> LLVM IR -> PTX path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Building MLIR operations, types and attributes.
    MlirBuild,
    /// Verifying the built MLIR module.
    MlirVerify,
    /// Checking that the target architecture has every operation used.
    TargetCheck,
    /// Parsing the textual pass pipeline.
    PassPipelineParse,
    /// Running the lowering pass pipeline.
    PassPipelineRun,
    /// Translating the LLVM-dialect module to LLVM IR.
    LlvmTranslate,
    /// Parsing and verifying LLVM IR in inkwell's context.
    LlvmIrParse,
    /// Creating the NVPTX target machine.
    TargetMachine,
    /// Running LLVM's optimisation pipeline.
    LlvmOptimize,
    /// Emitting PTX.
    PtxEmit,
    /// Launching `ptxas`.
    PtxasLaunch,
    /// `ptxas` rejecting the PTX.
    PtxasRejected,
    /// Checking the tile IR against what the backend compiles.
    UnsupportedOp,
    /// Checking the variant fits the target (shared memory, registers).
    ResourceLimit,
    /// Checking tensor shapes (every dimension a power of two).
    ShapeCheck,
    /// Reading the tile IR (values, operand counts).
    MalformedIr,
    /// Assigning and reconciling distributed layouts.
    Layout,
    /// Checking the lowered kernel's shared-memory uses for races.
    SharedHazard,
}

impl Stage {
    /// The stable diagnostic code of a failure in this stage.
    pub fn code(self) -> &'static str {
        match self {
            Stage::MlirBuild => codes::MLIR_BUILD,
            Stage::MlirVerify => codes::MLIR_VERIFY,
            Stage::TargetCheck => codes::TARGET_UNSUPPORTED_OP,
            Stage::PassPipelineParse => codes::PASS_PIPELINE_PARSE,
            Stage::PassPipelineRun => codes::PASS_PIPELINE_RUN,
            Stage::LlvmTranslate => codes::LLVM_TRANSLATE,
            Stage::LlvmIrParse => codes::LLVM_IR_PARSE,
            Stage::TargetMachine => codes::TARGET_MACHINE,
            Stage::LlvmOptimize => codes::LLVM_OPTIMIZE,
            Stage::PtxEmit => codes::PTX_EMIT,
            Stage::PtxasLaunch => codes::PTXAS_LAUNCH,
            Stage::PtxasRejected => codes::PTXAS_REJECTED,
            Stage::UnsupportedOp => codes::UNSUPPORTED_OP,
            Stage::ResourceLimit => codes::RESOURCE_LIMIT,
            Stage::ShapeCheck => codes::NON_POWER_OF_TWO,
            Stage::MalformedIr => codes::MALFORMED_IR,
            Stage::Layout => codes::LAYOUT_INTERNAL,
            Stage::SharedHazard => codes::SHARED_HAZARD,
        }
    }

    /// A short human name of the stage, used as the message prefix.
    pub fn name(self) -> &'static str {
        match self {
            Stage::MlirBuild => "building MLIR",
            Stage::MlirVerify => "verifying MLIR",
            Stage::TargetCheck => "checking the target supports the kernel",
            Stage::PassPipelineParse => "parsing the MLIR pass pipeline",
            Stage::PassPipelineRun => "running the MLIR lowering pipeline",
            Stage::LlvmTranslate => "translating MLIR to LLVM IR",
            Stage::LlvmIrParse => "parsing LLVM IR",
            Stage::TargetMachine => "creating the NVPTX target machine",
            Stage::LlvmOptimize => "optimising LLVM IR",
            Stage::PtxEmit => "emitting PTX",
            Stage::PtxasLaunch => "running ptxas",
            Stage::PtxasRejected => "assembling PTX with ptxas",
            Stage::UnsupportedOp => "checking the kernel is supported",
            Stage::ResourceLimit => "checking the variant fits the target",
            Stage::ShapeCheck => "checking tensor shapes",
            Stage::MalformedIr => "reading the tile IR",
            Stage::Layout => "assigning layouts",
            Stage::SharedHazard => "checking shared-memory uses for races",
        }
    }
}

/// The severity MLIR gave a diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlirSeverity {
    Error,
    Warning,
    Remark,
    Note,
}

impl fmt::Display for MlirSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MlirSeverity::Error => "error",
            MlirSeverity::Warning => "warning",
            MlirSeverity::Remark => "remark",
            MlirSeverity::Note => "note",
        })
    }
}

/// One diagnostic emitted by MLIR, copied out of the C API callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlirDiagnostic {
    pub severity: MlirSeverity,
    /// The printed MLIR location (`loc("add_one":3:7)`, `loc(unknown)`).
    pub location: String,
    pub message: String,
    /// Attached notes, in order (for instance "see current operation: ...").
    pub notes: Vec<MlirDiagnostic>,
}

impl fmt::Display for MlirDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.severity, self.message)?;
        for note in &self.notes {
            for line in note.to_string().lines() {
                write!(f, "\n  {line}")?;
            }
        }
        Ok(())
    }
}

/// A failure of the backend, tagged with its stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError {
    pub stage: Stage,
    /// What failed, in our words ("no NVPTX target: ...", "ptxas exited with status 255").
    pub message: String,
    /// What MLIR reported while the stage ran (empty for the LLVM and ptxas stages).
    pub diagnostics: Vec<MlirDiagnostic>,
    /// Extra text from the tool that failed (LLVM's error string, ptxas's stderr).
    pub detail: Option<String>,
    /// The tile-IR op the error is about (its mnemonic), for errors about the kernel.
    pub op: Option<String>,
    /// Where that op came from in the kernel's source (`line:col`), when known.
    pub loc: Option<tessera_tir::Loc>,
}

impl BackendError {
    pub fn new(stage: Stage, message: impl Into<String>) -> BackendError {
        BackendError { stage, message: message.into(), diagnostics: Vec::new(), detail: None, op: None, loc: None }
    }

    /// An error about the tile-IR op `op` (its mnemonic) at `loc`.
    pub fn at_op(stage: Stage, op: &str, loc: tessera_tir::Loc, message: impl Into<String>) -> BackendError {
        BackendError {
            op: Some(op.to_string()),
            loc: loc.is_known().then_some(loc),
            ..BackendError::new(stage, message)
        }
    }

    pub fn with_diagnostics(mut self, diagnostics: Vec<MlirDiagnostic>) -> BackendError {
        self.diagnostics = diagnostics;
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> BackendError {
        self.detail = Some(detail.into());
        self
    }

    /// The stable diagnostic code (E08xx) of this error.
    pub fn code(&self) -> &'static str {
        self.stage.code()
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[{}]: {}: {}", self.code(), self.stage.name(), self.message)?;
        match (&self.op, self.loc) {
            (Some(op), Some(loc)) => write!(f, " (op `{op}` at {}:{})", loc.line, loc.col)?,
            (Some(op), None) => write!(f, " (op `{op}`)")?,
            _ => {}
        }
        for diagnostic in &self.diagnostics {
            for line in diagnostic.to_string().lines() {
                write!(f, "\n  {line}")?;
            }
        }
        if let Some(detail) = &self.detail {
            for line in detail.lines() {
                write!(f, "\n  | {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for BackendError {}

/// The result type of every fallible backend function.
pub type Result<T> = std::result::Result<T, BackendError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_stage_code_diagnostics_and_detail() {
        let error = BackendError::new(Stage::PassPipelineRun, "pipeline failed")
            .with_diagnostics(vec![MlirDiagnostic {
                severity: MlirSeverity::Error,
                location: "loc(\"k\":1:2)".into(),
                message: "failed to legalize operation 'scf.if'".into(),
                notes: vec![MlirDiagnostic {
                    severity: MlirSeverity::Note,
                    location: "loc(\"k\":1:2)".into(),
                    message: "see current operation".into(),
                    notes: vec![],
                }],
            }])
            .with_detail("line one\nline two");
        assert_eq!(
            error.to_string(),
            "error[E0803]: running the MLIR lowering pipeline: pipeline failed\n  \
             loc(\"k\":1:2): error: failed to legalize operation 'scf.if'\n    \
             loc(\"k\":1:2): note: see current operation\n  | line one\n  | line two"
        );
    }

    #[test]
    fn every_stage_has_a_distinct_code() {
        let stages = [
            Stage::MlirBuild,
            Stage::MlirVerify,
            Stage::TargetCheck,
            Stage::PassPipelineParse,
            Stage::PassPipelineRun,
            Stage::LlvmTranslate,
            Stage::LlvmIrParse,
            Stage::TargetMachine,
            Stage::LlvmOptimize,
            Stage::PtxEmit,
            Stage::PtxasLaunch,
            Stage::PtxasRejected,
            Stage::UnsupportedOp,
            Stage::ResourceLimit,
            Stage::ShapeCheck,
            Stage::MalformedIr,
            Stage::Layout,
            Stage::SharedHazard,
        ];
        let codes: std::collections::HashSet<_> = stages.iter().map(|s| s.code()).collect();
        assert_eq!(codes.len(), stages.len());
        assert_eq!(codes.len(), crate::codes::ALL.len());
    }
}
