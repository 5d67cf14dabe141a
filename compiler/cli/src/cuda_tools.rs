//! Finding NVIDIA's command-line tools: `ptxas` (PTX to cubin), `nvdisasm`
//! and `cuobjdump` (cubin to SASS).
//!
//! None of them is needed to build Tessera; they check and disassemble what the
//! backend generates. They come from a CUDA toolkit or, without one, from
//! NVIDIA's PyPI wheels, which `./dev.sh setup` installs into a Python venv.

use std::path::{Path, PathBuf};

use crate::error::{CUDA_TOOL_MISSING, CliError};

/// Where `./dev.sh setup` puts the venv with the CUDA wheels (under the user's cache).
const VENV_UNDER_CACHE: &str = "tessera/cuda-venv";

/// The NVIDIA wheels' bin folder inside a venv's `site-packages`.
const WHEEL_BIN: &str = "nvidia/cu13/bin";

/// Finds `tool` (`ptxas`, `nvdisasm`, `cuobjdump`), in this order: for ptxas
/// `$TESSERA_PTXAS`; `$TESSERA_CUDA_BIN/tool`; next to `$TESSERA_PTXAS` (the
/// wheels share one folder); `$PATH`; `$CUDA_HOME/bin`; `/usr/local/cuda/bin`;
/// the venv of `./dev.sh setup` (`$TESSERA_CUDA_VENV` or `~/.cache/tessera/cuda-venv`).
pub fn locate(tool: &str) -> Option<PathBuf> {
    let ptxas_env = std::env::var_os("TESSERA_PTXAS").map(PathBuf::from);
    if tool == "ptxas"
        && let Some(path) = &ptxas_env
    {
        return Some(path.clone());
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    dirs.extend(std::env::var_os("TESSERA_CUDA_BIN").map(PathBuf::from));
    dirs.extend(ptxas_env.as_deref().and_then(Path::parent).map(Path::to_path_buf));
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.extend(std::env::var_os("CUDA_HOME").map(|home| PathBuf::from(home).join("bin")));
    dirs.push(PathBuf::from("/usr/local/cuda/bin"));
    dirs.extend(venv_bin_dirs());
    dirs.into_iter().map(|dir| dir.join(tool)).find(|candidate| candidate.is_file())
}

/// `locate`, or an error that says how to install the tool.
pub fn require(tool: &str, purpose: &str) -> Result<PathBuf, CliError> {
    locate(tool).ok_or_else(|| missing(&[tool], purpose))
}

/// The error for tools that are not installed, with the ways to install them.
pub fn missing(tools: &[&str], purpose: &str) -> CliError {
    CliError::new(CUDA_TOOL_MISSING, format!("{} not found ({purpose})", tools.join(" or "))).with_help(install_help())
}

pub fn install_help() -> String {
    format!(
        "run `./dev.sh setup` (installs NVIDIA's wheels into a venv in ~/.cache/{VENV_UNDER_CACHE}), or \
         `pip install nvidia-cuda-nvcc==13.0.* nvidia-cuda-nvdisasm nvidia-cuda-cuobjdump` and set \
         TESSERA_CUDA_BIN to the venv's lib/python3.X/site-packages/{WHEEL_BIN}; \
         with a CUDA toolkit, put its bin folder on PATH"
    )
}

/// The wheels' bin folders of every venv `./dev.sh setup` may have made.
fn venv_bin_dirs() -> Vec<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")));
    let venvs = std::env::var_os("TESSERA_CUDA_VENV")
        .map(PathBuf::from)
        .into_iter()
        .chain(cache.map(|c| c.join(VENV_UNDER_CACHE)));
    let mut dirs = Vec::new();
    for venv in venvs {
        let Ok(entries) = std::fs::read_dir(venv.join("lib")) else { continue };
        let mut pythons: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("python3")))
            .collect();
        pythons.sort();
        dirs.extend(pythons.into_iter().map(|python| python.join("site-packages").join(WHEEL_BIN)));
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tools_name_themselves_and_how_to_install() {
        let error = missing(&["nvdisasm", "cuobjdump"], "to disassemble the cubin");
        let text = error.to_string();
        assert!(text.starts_with("error[E0710]: nvdisasm or cuobjdump not found (to disassemble the cubin)"), "{text}");
        assert!(text.contains("./dev.sh setup") && text.contains("nvidia-cuda-nvdisasm"), "{text}");
    }
}
