//! Shared helpers of the front-end tests (included with `mod common;`).
#![allow(dead_code)]

use tessera_diagnostics::{Diagnostic, SourceMap, render_all};
use tessera_frontend::{ConstValue, lower_kernel_unoptimized};

/// Lower `kernel` of `src` without optimization and print its IR; panics
/// with the rendered diagnostics on failure.
pub fn ir(src: &str, kernel: &str, consts: &[(&str, ConstValue)]) -> String {
    match lower(src, kernel, consts) {
        Ok(k) => tessera_tir::print_kernel(&k),
        Err((map, d)) => panic!("lowering failed:\n{}", render_all(&map, &d)),
    }
}

pub fn lower(
    src: &str,
    kernel: &str,
    consts: &[(&str, ConstValue)],
) -> Result<tessera_tir::Kernel, (SourceMap, Vec<Diagnostic>)> {
    let mut map = SourceMap::new();
    let file = map.add("test.tsr", src);
    let (module, syntax) = tessera_syntax::parse(file, src);
    if !syntax.is_empty() {
        return Err((map, syntax));
    }
    let consts: Vec<(String, ConstValue)> = consts.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
    lower_kernel_unoptimized(&map, file, &module, kernel, &consts).map_err(|d| (map, d))
}

/// The diagnostics of lowering `kernel` (empty on success).
pub fn diagnostics(src: &str, kernel: &str, consts: &[(&str, ConstValue)]) -> (SourceMap, Vec<Diagnostic>) {
    match lower(src, kernel, consts) {
        Ok(_) => (SourceMap::new(), Vec::new()),
        Err(e) => e,
    }
}

/// Ops of the printed IR: the mnemonic after `=` (or first word) per line.
pub fn count(ir: &str, needle: &str) -> usize {
    ir.matches(needle).count()
}
