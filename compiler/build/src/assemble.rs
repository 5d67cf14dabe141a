//! Running `ptxas` to get a variant's cubin and its registers and spills.
//!
//! The backend's [`Ptxas::assemble`] validates PTX and reports statistics but
//! discards the cubin; a bundle ships it, so this runs the same command and
//! keeps the output, reusing the backend's parser of the `-v` report.

use crate::codes;
use crate::error::BuildError;
use crate::report::Reason;
use std::process::Command;
use tessera_backend::GpuArch;
use tessera_backend::ptxas::{FunctionStats, Ptxas, parse_verbose};

/// A cubin and what ptxas said about its entry.
pub struct Assembled {
    pub cubin: Vec<u8>,
    pub stats: FunctionStats,
}

/// Checks that `ptxas` runs at all (`ptxas --version`), so a broken
/// installation stops the build once instead of rejecting every variant.
pub fn check_runs(ptxas: &Ptxas) -> Result<(), BuildError> {
    let unusable = |why: String| {
        BuildError::new(codes::PTXAS_UNUSABLE, format!("cannot run ptxas `{}`: {why}", ptxas.path().display()))
            .with_help("point TESSERA_PTXAS at a working ptxas, or unset it to build PTX only")
    };
    let output = Command::new(ptxas.path()).arg("--version").output().map_err(|e| unusable(e.to_string()))?;
    if !output.status.success() {
        return Err(unusable(format!("`--version` exited with {}", output.status)));
    }
    Ok(())
}

/// Assembles `ptx` for `arch`; a rejection when ptxas fails or says nothing
/// about `entry`.
pub fn assemble(ptxas: &Ptxas, ptx: &str, arch: GpuArch, entry: &str) -> Result<Assembled, Reason> {
    let launch = |what: String| Reason::new(tessera_backend::codes::PTXAS_LAUNCH, what);
    let scratch = tempfile::Builder::new()
        .prefix("tessera-build-")
        .tempdir()
        .map_err(|e| launch(format!("cannot create a scratch folder for ptxas: {e}")))?;
    let input = scratch.path().join("kernel.ptx");
    let output = scratch.path().join("kernel.cubin");
    std::fs::write(&input, ptx).map_err(|e| launch(format!("cannot write {}: {e}", input.display())))?;
    let result = Command::new(ptxas.path())
        .arg(format!("-arch={}", arch.name()))
        .arg("-v")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .output()
        .map_err(|e| launch(format!("cannot run {}: {e}", ptxas.path().display())))?;
    let log = format!("{}{}", String::from_utf8_lossy(&result.stdout), String::from_utf8_lossy(&result.stderr));
    if !result.status.success() {
        return Err(Reason::new(
            tessera_backend::codes::PTXAS_REJECTED,
            format!("ptxas -arch={arch} rejected the PTX ({})", result.status),
        )
        .with_detail(log.trim_end()));
    }
    let stats = parse_verbose(&log).into_iter().find(|f| f.name == entry).ok_or_else(|| {
        Reason::new(tessera_backend::codes::PTXAS_REJECTED, format!("ptxas reported nothing about `{entry}`"))
            .with_detail(log.trim_end())
    })?;
    let cubin = std::fs::read(&output).map_err(|e| launch(format!("cannot read {}: {e}", output.display())))?;
    Ok(Assembled { cubin, stats })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_ptxas_is_unusable_and_a_launch_failure() {
        let missing = Ptxas::at("/nonexistent/ptxas");
        let error = check_runs(&missing).expect_err("no such file");
        assert_eq!(error.code, codes::PTXAS_UNUSABLE);
        assert!(error.message.contains("/nonexistent/ptxas"), "{error}");
        let reason = assemble(&missing, ".version 8.0", GpuArch::Sm90a, "k").err().map(|r| r.code);
        assert_eq!(reason, Some(tessera_backend::codes::PTXAS_LAUNCH));
    }
}
