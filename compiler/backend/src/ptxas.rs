//! Running NVIDIA's `ptxas` on generated PTX, and reading its `-v` report.
//!
//! `ptxas` is the real judge of our PTX (LLVM's NVPTX backend does not check
//! that an instruction exists on the chosen architecture and ISA), and its
//! verbose report gives registers and spills per kernel, the first numbers to
//! watch when tuning tile sizes.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicU64, Ordering},
};

use crate::{
    error::{BackendError, Result, Stage},
    target::GpuArch,
};

/// Per-function resource usage from `ptxas -v`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionStats {
    pub name: String,
    pub registers: u32,
    pub stack_frame_bytes: u32,
    pub spill_store_bytes: u32,
    pub spill_load_bytes: u32,
}

/// What `ptxas -v` said about one PTX module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtxasReport {
    pub functions: Vec<FunctionStats>,
    /// The size of the produced cubin.
    pub cubin_bytes: usize,
    /// The raw `-v` output (stderr), for logs.
    pub log: String,
}

/// A `ptxas` executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ptxas {
    path: PathBuf,
}

impl Ptxas {
    /// Uses the `ptxas` at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Ptxas {
        Ptxas { path: path.into() }
    }

    /// Finds `ptxas`: `$TESSERA_PTXAS`, then `$PATH`, then `$CUDA_HOME/bin`
    /// and `/usr/local/cuda/bin`.
    pub fn locate() -> Option<Ptxas> {
        if let Some(path) = std::env::var_os("TESSERA_PTXAS") {
            return Some(Ptxas::at(path));
        }
        let path_dirs =
            std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
        let cuda_dirs = std::env::var_os("CUDA_HOME").map(|home| PathBuf::from(home).join("bin"));
        path_dirs
            .into_iter()
            .chain(cuda_dirs)
            .chain([PathBuf::from("/usr/local/cuda/bin")])
            .map(|dir| dir.join("ptxas"))
            .find(|candidate| candidate.is_file())
            .map(Ptxas::at)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Assembles `ptx` for `arch` with `-v`; an error if ptxas cannot run or rejects it.
    pub fn assemble(&self, ptx: &str, arch: GpuArch) -> Result<PtxasReport> {
        let scratch = ScratchDir::new()?;
        let input = scratch.path.join("kernel.ptx");
        let output = scratch.path.join("kernel.cubin");
        std::fs::write(&input, ptx).map_err(|error| {
            BackendError::new(Stage::PtxasLaunch, format!("cannot write {}: {error}", input.display()))
        })?;
        let result = Command::new(&self.path)
            .arg(format!("-arch={}", arch.name()))
            .arg("-v")
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .output()
            .map_err(|error| {
                BackendError::new(Stage::PtxasLaunch, format!("cannot run {}: {error}", self.path.display()))
            })?;
        let log = format!("{}{}", String::from_utf8_lossy(&result.stdout), String::from_utf8_lossy(&result.stderr));
        if !result.status.success() {
            return Err(BackendError::new(
                Stage::PtxasRejected,
                format!("ptxas -arch={arch} failed ({})", result.status),
            )
            .with_detail(log));
        }
        let cubin_bytes = std::fs::metadata(&output).map(|m| m.len() as usize).unwrap_or(0);
        Ok(PtxasReport { functions: parse_verbose(&log), cubin_bytes, log })
    }
}

/// A per-call temporary directory, removed on drop.
struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    fn new() -> Result<ScratchDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = format!("tessera-ptxas-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).map_err(|error| {
            BackendError::new(Stage::PtxasLaunch, format!("cannot create {}: {error}", path.display()))
        })?;
        Ok(ScratchDir { path })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir is harmless.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Parses the per-function blocks of `ptxas -v` output:
///
/// ```text
/// ptxas info    : Compiling entry function 'add_one' for 'sm_90a'
/// ptxas info    : Function properties for add_one
///     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
/// ptxas info    : Used 8 registers, used 0 barriers, 372 bytes cmem[0]
/// ```
pub fn parse_verbose(log: &str) -> Vec<FunctionStats> {
    let mut functions: Vec<FunctionStats> = Vec::new();
    for line in log.lines() {
        let line = line.trim();
        if let Some(rest) =
            line.split("Compiling entry function '").nth(1).or_else(|| line.split("Function properties for ").nth(1))
        {
            let name = rest.split('\'').next().unwrap_or(rest).trim().to_string();
            if functions.last().is_none_or(|f| f.name != name) {
                functions.push(FunctionStats { name, ..FunctionStats::default() });
            }
        } else if let Some(current) = functions.last_mut() {
            if line.contains("bytes stack frame") {
                current.stack_frame_bytes = number_before(line, "bytes stack frame").unwrap_or(0);
                current.spill_store_bytes = number_before(line, "bytes spill stores").unwrap_or(0);
                current.spill_load_bytes = number_before(line, "bytes spill loads").unwrap_or(0);
            } else if let Some(registers) = number_before(line, "registers") {
                current.registers = registers;
            }
        }
    }
    functions
}

/// The integer just before `marker` in `line` ("Used 8 registers" -> 8).
fn number_before(line: &str, marker: &str) -> Option<u32> {
    let (before, _) = line.split_once(marker)?;
    before.split(|c: char| !c.is_ascii_digit()).rfind(|s| !s.is_empty())?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_registers_and_spills_per_function() {
        let log = "ptxas info    : 0 bytes gmem\n\
                   ptxas info    : Compiling entry function 'add_one' for 'sm_90a'\n\
                   ptxas info    : Function properties for add_one\n    \
                   0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n\
                   ptxas info    : Used 8 registers, used 0 barriers, 372 bytes cmem[0]\n\
                   ptxas info    : Compiling entry function 'big' for 'sm_80'\n\
                   ptxas info    : Function properties for big\n    \
                   40 bytes stack frame, 24 bytes spill stores, 16 bytes spill loads\n\
                   ptxas info    : Used 255 registers, 380 bytes cmem[0]\n";
        let functions = parse_verbose(log);
        assert_eq!(
            functions,
            vec![
                FunctionStats { name: "add_one".into(), registers: 8, ..FunctionStats::default() },
                FunctionStats {
                    name: "big".into(),
                    registers: 255,
                    stack_frame_bytes: 40,
                    spill_store_bytes: 24,
                    spill_load_bytes: 16
                },
            ]
        );
    }

    #[test]
    fn missing_executable_is_a_launch_error() {
        let error = Ptxas::at("/nonexistent/ptxas").assemble(".version 8.0", GpuArch::Sm90a).expect_err("no such file");
        assert_eq!(error.code(), "E0809");
        assert!(error.message.contains("/nonexistent/ptxas"), "{error}");
    }
}
