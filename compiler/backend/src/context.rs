//! The MLIR context the backend builds and lowers in, with diagnostics captured.
//!
//! MLIR reports why something failed only through the context's diagnostic
//! engine; the C API hands back a bare null or "failure". [`MlirContext`]
//! attaches a handler that copies every diagnostic into a buffer (instead of
//! letting MLIR print to stderr), and [`MlirContext::error`] drains that buffer
//! into the [`BackendError`] of the stage that failed.
//!
//! Multi-threading is off: the backend compiles one small kernel module at a
//! time on machines with few cores, and single-threaded pass execution keeps
//! diagnostics in a deterministic order on the thread that ran the pipeline.

use std::{cell::RefCell, rc::Rc};

use melior::{
    Context,
    diagnostic::{Diagnostic, DiagnosticSeverity},
    dialect::{DialectHandle, DialectRegistry},
    utility::{register_all_dialects, register_all_llvm_translations, register_all_passes},
};

use crate::error::{BackendError, MlirDiagnostic, MlirSeverity, Stage};

/// The dialects the backend emits or lowers through, loaded eagerly so that
/// generic `OperationBuilder`s find their operations.
fn used_dialects() -> [DialectHandle; 12] {
    // SAFETY: each `mlirGetDialectHandle__*__` returns a static handle.
    unsafe {
        [
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__func__()),
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__arith__()),
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__math__()),
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__scf__()),
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__cf__()),
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__index__()),
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__vector__()),
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__memref__()),
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__gpu__()),
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__nvgpu__()),
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__nvvm__()),
            DialectHandle::from_raw(mlir_sys::mlirGetDialectHandle__llvm__()),
        ]
    }
}

/// An MLIR context with every dialect, pass and LLVM-IR translation registered
/// and a diagnostic handler that captures what MLIR says.
pub struct MlirContext {
    context: Context,
    diagnostics: Rc<RefCell<Vec<MlirDiagnostic>>>,
}

impl MlirContext {
    /// Creates a context ready for building, lowering and translating GPU kernels.
    pub fn new() -> MlirContext {
        let registry = DialectRegistry::new();
        // All dialects *and their extensions*: the ConvertToLLVM and
        // LLVM-translation interfaces of arith, nvvm, gpu, ... are attached as
        // registry extensions, and the lowering passes look them up.
        register_all_dialects(&registry);
        let context = Context::new_with_registry(&registry, false);
        for dialect in used_dialects() {
            dialect.load_dialect(&context);
        }
        register_all_llvm_translations(&context);
        // Passes live in a process-wide registry; melior guards this with a `Once`.
        register_all_passes();

        let diagnostics = Rc::new(RefCell::new(Vec::new()));
        let sink = Rc::clone(&diagnostics);
        context.attach_diagnostic_handler(move |diagnostic| {
            sink.borrow_mut().push(capture(&diagnostic));
            // Handled: MLIR must not also print it to stderr.
            true
        });
        MlirContext { context, diagnostics }
    }

    /// The melior context, for building IR.
    pub fn mlir(&self) -> &Context {
        &self.context
    }

    /// Removes and returns the diagnostics collected since the last call.
    pub fn take_diagnostics(&self) -> Vec<MlirDiagnostic> {
        std::mem::take(&mut *self.diagnostics.borrow_mut())
    }

    /// Builds the error of a failed `stage`, carrying the diagnostics MLIR
    /// emitted since the last drain.
    pub fn error(&self, stage: Stage, message: impl Into<String>) -> BackendError {
        BackendError::new(stage, message).with_diagnostics(self.take_diagnostics())
    }
}

impl Default for MlirContext {
    fn default() -> MlirContext {
        MlirContext::new()
    }
}

/// Copies a diagnostic (valid only during the callback) into owned data.
fn capture(diagnostic: &Diagnostic) -> MlirDiagnostic {
    let severity = match diagnostic.severity() {
        DiagnosticSeverity::Error => MlirSeverity::Error,
        DiagnosticSeverity::Warning => MlirSeverity::Warning,
        DiagnosticSeverity::Remark => MlirSeverity::Remark,
        DiagnosticSeverity::Note => MlirSeverity::Note,
    };
    let notes =
        (0..diagnostic.note_count()).filter_map(|index| diagnostic.note(index).ok()).map(|n| capture(&n)).collect();
    MlirDiagnostic { severity, location: diagnostic.location().to_string(), message: diagnostic.to_string(), notes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use melior::ir::Type;

    #[test]
    fn parse_errors_are_captured_not_printed() {
        let context = MlirContext::new();
        assert!(Type::parse(context.mlir(), "!llvm.ptr<1>").is_some());
        assert!(context.take_diagnostics().is_empty());

        assert!(Type::parse(context.mlir(), "!nvvm.no_such_type").is_none());
        let error = context.error(Stage::MlirBuild, "cannot parse type");
        assert_eq!(error.diagnostics.len(), 1, "{error}");
        assert_eq!(error.diagnostics[0].severity, MlirSeverity::Error);
        assert!(!error.diagnostics[0].message.is_empty(), "{error}");
        // Drained: the next error starts clean.
        assert!(context.take_diagnostics().is_empty());
    }

    #[test]
    fn gpu_dialects_are_loaded() {
        let context = MlirContext::new();
        for op in ["nvvm.mma.sync", "nvvm.wgmma.mma_async", "llvm.getelementptr", "arith.addf", "scf.if"] {
            assert!(context.mlir().is_registered_operation(op), "{op} is not registered");
        }
    }
}
