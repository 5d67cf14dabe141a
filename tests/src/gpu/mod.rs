//! Checking and timing compiled kernels on a real GPU: the library behind
//! `tessera-gpucheck` and `tessera-bench`, runnable on a machine with a
//! CUDA driver but no compiler toolchain (runtime, front end and
//! interpreter only; never the backend).
//!
//! - [`cases`] reads case files (the grammar of `kernels-dsl/demo.args`).
//! - [`access`] finds a kernel's outputs in its IR (to poison and compare).
//! - [`inputs`] makes a case's arguments concrete, seeded.
//! - [`compare`] compares whole buffers with the per-dtype tolerances.
//! - [`reference`] feeds the float64 references of [`crate::reference`].
//! - [`device`] uploads, launches one variant, reads back, times copies.
//! - [`check`] and [`bench`] are the two binaries' drivers.
//!
//! Exit codes of both binaries: 0 all passed, 1 a check failed, 2 no CUDA
//! driver or GPU, 3 unreadable inputs (bundle, sources, case file), 64 bad
//! command line.

pub mod access;
pub mod bench;
pub mod cases;
pub mod check;
pub mod compare;
pub mod device;
pub mod inputs;
pub mod reference;

/// Exit code: a check failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: no usable CUDA driver or no GPU.
pub const EXIT_NO_GPU: u8 = device::EXIT_NO_GPU;
/// Exit code: the bundle, sources or case file cannot be read.
pub const EXIT_BAD_INPUT: u8 = 3;
/// Exit code: the command line is malformed.
pub const EXIT_USAGE: u8 = 64;

/// The command line of a GPU binary, or the exit code after clap printed
/// why it is not one (usage, 64) or the help asked for (0).
pub fn parse_command_line<T: clap::Parser>() -> Result<T, std::process::ExitCode> {
    T::try_parse().map_err(|e| {
        let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
        let _ = e.print();
        std::process::ExitCode::from(code)
    })
}

/// Why a GPU check or benchmark could not run at all.
#[derive(Debug)]
pub enum RunError {
    /// Unreadable bundle, sources or case file (exit 3).
    Input(String),
    /// No driver or no GPU (exit 2).
    NoGpu(String),
    /// A driver failure outside any one case (exit 1).
    Device(String),
}

impl RunError {
    /// Print the error and give the binary's exit code for it.
    pub fn report(&self) -> std::process::ExitCode {
        let (why, code) = match self {
            RunError::Input(why) => (why, EXIT_BAD_INPUT),
            RunError::NoGpu(why) => (why, EXIT_NO_GPU),
            RunError::Device(why) => (why, EXIT_FAILED),
        };
        eprintln!("error: {why}");
        std::process::ExitCode::from(code)
    }
}

/// Which `.tsr` file of `sources` the bundle was compiled from (its
/// manifest records the SHA-256 of the source), for the report's header: a
/// bundle matching no file is stale or from elsewhere, and its results say
/// nothing about the sources at hand.
pub fn source_of_bundle(data: &tessera_runtime::bundle::BundleData, sources: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    let want = &data.manifest().source_hash;
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(sources)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "tsr"));
    files.sort();
    for path in &files {
        if let Ok(bytes) = std::fs::read(path) {
            let hex: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
            if &hex == want {
                return format!("compiled from {}", path.display());
            }
        }
    }
    format!("its source hash {} matches no .tsr file of {} (several sources, or stale)", want, sources.display())
}
