//! IR-to-IR passes and the [`PassManager`] that runs them.
//!
//! Each pass lives in its own module and has the signature
//! `fn run(&mut Kernel) -> bool` (true when it changed the kernel). The pass
//! manager verifies the kernel before the first pass and after every pass,
//! so a pass that breaks an invariant is named in the error instead of
//! surfacing later as a wrong result; with [`PassManager::print_after`] it
//! keeps the IR text after each pass (`tessera emit --stage tir`-style
//! debugging).

pub mod canonicalize;
pub mod cse;
pub mod dce;
pub mod licm;
pub mod reciprocal;
mod rewrite;
pub mod schedule;

use crate::codes;
use crate::kernel::{Kernel, Module};
use crate::printer::print_kernel;
use crate::verify::{VerifyError, verify};
use std::fmt;

/// A named pass.
#[derive(Clone, Copy)]
pub struct Pass {
    pub name: &'static str,
    /// One line for `--help`-style listings.
    pub summary: &'static str,
    pub run: fn(&mut Kernel) -> bool,
}

impl fmt::Debug for Pass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Every pass, by name.
pub const PASSES: &[Pass] = &[
    Pass {
        name: "canonicalize",
        summary: "fold constants and identities, constant branches and zero-trip loops",
        run: canonicalize::run,
    },
    Pass {
        name: "reciprocal",
        summary: "divide f32 tensors by a splat scalar as a product with its reciprocal, built once",
        run: reciprocal::run,
    },
    Pass { name: "cse", summary: "merge equal pure ops within a region scope", run: cse::run },
    Pass { name: "licm", summary: "hoist loop-invariant pure ops out of for loops", run: licm::run },
    Pass { name: "dce", summary: "remove unused ops and unused loop-carried values", run: dce::run },
    Pass {
        name: "schedule-dots",
        summary: "issue dots early and read their results late (for asynchronous tensor cores)",
        run: schedule::run,
    },
];

/// The pipeline run by [`PassManager::default_pipeline`].
pub const DEFAULT_PIPELINE: &[&str] = &["canonicalize", "reciprocal", "cse", "licm", "dce"];

/// The pass called `name`.
pub fn pass(name: &str) -> Option<Pass> {
    PASSES.iter().find(|p| p.name == name).copied()
}

/// Why a pipeline could not be built or run.
#[derive(Clone, Debug, PartialEq)]
pub enum PassError {
    /// The pipeline names no such pass.
    UnknownPass { name: String },
    /// The kernel was already invalid before the first pass.
    InvalidInput { kernel: String, errors: Vec<VerifyError> },
    /// `pass` turned a valid kernel into an invalid one; `ir` is the text it left.
    PassBrokeIr { pass: &'static str, kernel: String, errors: Vec<VerifyError>, ir: String },
}

impl PassError {
    /// The stable code of this error (E054x).
    pub fn code(&self) -> &'static str {
        match self {
            PassError::UnknownPass { .. } => codes::UNKNOWN_PASS,
            PassError::InvalidInput { .. } => codes::INVALID_INPUT_IR,
            PassError::PassBrokeIr { .. } => codes::PASS_BROKE_IR,
        }
    }
}

impl fmt::Display for PassError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list =
            |f: &mut fmt::Formatter<'_>, errors: &[VerifyError]| errors.iter().try_for_each(|e| write!(f, "\n  {e}"));
        match self {
            PassError::UnknownPass { name } => {
                let known: Vec<&str> = PASSES.iter().map(|p| p.name).collect();
                write!(f, "error[{}]: unknown pass `{name}` (known: {})", self.code(), known.join(", "))
            }
            PassError::InvalidInput { kernel, errors } => {
                write!(f, "error[{}]: kernel `{kernel}` is invalid before any pass ran:", self.code())?;
                list(f, errors)
            }
            PassError::PassBrokeIr { pass, kernel, errors, .. } => {
                write!(f, "error[{}]: pass `{pass}` produced invalid IR for kernel `{kernel}`:", self.code())?;
                list(f, errors)
            }
        }
    }
}

impl std::error::Error for PassError {}

/// One pass's run on one kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct PassRun {
    pub pass: &'static str,
    pub changed: bool,
    /// The IR after the pass, when [`PassManager::print_after`] is on.
    pub ir: Option<String>,
}

/// What a pipeline did to one kernel.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PassReport {
    pub runs: Vec<PassRun>,
}

impl PassReport {
    /// Whether any pass changed the kernel.
    pub fn changed(&self) -> bool {
        self.runs.iter().any(|r| r.changed)
    }

    /// The IR after each pass, each under a `// -----// IR after <pass>` banner.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for run in &self.runs {
            if let Some(ir) = &run.ir {
                let note = if run.changed { "" } else { " (unchanged)" };
                out.push_str(&format!("// -----// IR after {}{note} //----- //\n{ir}", run.pass));
            }
        }
        out
    }
}

/// An ordered list of passes, verified after each.
#[derive(Clone, Debug, Default)]
pub struct PassManager {
    passes: Vec<Pass>,
    print_after: bool,
}

impl PassManager {
    /// An empty pipeline (running it only verifies).
    pub fn new() -> PassManager {
        PassManager::default()
    }

    /// canonicalize, reciprocal, cse, licm, dce.
    pub fn default_pipeline() -> PassManager {
        let passes = PASSES.iter().filter(|p| DEFAULT_PIPELINE.contains(&p.name)).copied();
        let mut passes: Vec<Pass> = passes.collect();
        passes.sort_by_key(|p| DEFAULT_PIPELINE.iter().position(|&n| n == p.name));
        PassManager { passes, print_after: false }
    }

    /// A pipeline from comma-separated pass names (`"canonicalize,dce"`);
    /// empty entries are ignored.
    pub fn parse(pipeline: &str) -> Result<PassManager, PassError> {
        let mut pm = PassManager::new();
        for name in pipeline.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            pm.add(name)?;
        }
        Ok(pm)
    }

    /// Append the pass called `name`.
    pub fn add(&mut self, name: &str) -> Result<&mut PassManager, PassError> {
        let p = pass(name).ok_or_else(|| PassError::UnknownPass { name: name.to_string() })?;
        self.passes.push(p);
        Ok(self)
    }

    /// Append a pass that is not in [`PASSES`] (out-of-tree or test passes).
    pub fn add_pass(&mut self, pass: Pass) -> &mut PassManager {
        self.passes.push(pass);
        self
    }

    /// Keep the IR text after every pass in the report.
    pub fn print_after(mut self, on: bool) -> PassManager {
        self.print_after = on;
        self
    }

    /// The pass names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.passes.iter().map(|p| p.name).collect()
    }

    /// Verify `k`, then run every pass, verifying after each.
    pub fn run(&self, k: &mut Kernel) -> Result<PassReport, PassError> {
        verify(k).map_err(|errors| PassError::InvalidInput { kernel: k.name.clone(), errors })?;
        let mut report = PassReport::default();
        for p in &self.passes {
            let changed = (p.run)(k);
            if let Err(errors) = verify(k) {
                return Err(PassError::PassBrokeIr {
                    pass: p.name,
                    kernel: k.name.clone(),
                    errors,
                    ir: print_kernel(k),
                });
            }
            let ir = self.print_after.then(|| print_kernel(k));
            report.runs.push(PassRun { pass: p.name, changed, ir });
        }
        Ok(report)
    }

    /// [`PassManager::run`] on every kernel, stopping at the first error.
    pub fn run_module(&self, m: &mut Module) -> Result<Vec<PassReport>, PassError> {
        m.kernels.iter_mut().map(|k| self.run(k)).collect()
    }
}

#[cfg(test)]
mod tests;
