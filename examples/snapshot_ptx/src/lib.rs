//! The helper a project needs to snapshot the PTX of its Tessera kernels:
//! compile one kernel of a `.tsr` source for one GPU architecture and return
//! its PTX normalized for snapshots, with the fingerprint of that PTX.
//!
//! `tests/vector_add.rs` shows the insta test built on it; the recipe is in
//! `docs/snapshot-testing.md`.

use tessera_backend::{
    GpuArch, Target, compile_kernel, fingerprint::PtxFingerprint, normalize::normalize_ptx, ptxas::Ptxas,
};
use tessera_frontend::ConstValue;

/// A kernel compiled for snapshots.
pub struct Snapshot {
    /// The PTX without comments, banner and blank-line runs ([`normalize_ptx`]).
    pub ptx: String,
    /// Instruction counts and shared memory; registers and spills when `ptxas` was given.
    pub fingerprint: PtxFingerprint,
}

/// Compiles `kernel` of the source `text` (named `file` in diagnostics) with the
/// compile-time values `consts` for `arch`; with `ptxas`, also assembles the PTX
/// (a rejection is an error) and records registers and spills.
pub fn compile_for_snapshot(
    file: &str,
    text: &str,
    kernel: &str,
    consts: &[(&str, i64)],
    arch: GpuArch,
    ptxas: Option<&Ptxas>,
) -> Result<Snapshot, String> {
    let consts: Vec<(String, ConstValue)> = consts.iter().map(|(n, v)| (n.to_string(), ConstValue::Int(*v))).collect();
    let tile_ir = tessera_frontend::compile_str(file, text, kernel, &consts)?;
    let mut compiled = compile_kernel(&tile_ir, &Target::new(arch)).map_err(|e| e.to_string())?;
    if let Some(ptxas) = ptxas {
        compiled.assemble(ptxas).map_err(|e| e.to_string())?;
    }
    Ok(Snapshot { ptx: normalize_ptx(&compiled.ptx), fingerprint: PtxFingerprint::of_kernel(&compiled) })
}
