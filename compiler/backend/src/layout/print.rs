//! The layout stage as text (`tessera emit --stage layout`): the kernel's
//! tile IR with each tensor value's layout appended as a `//` comment (so the
//! text still parses as tile IR), followed by the conversions and the vector
//! width of every memory access.

use std::collections::HashMap;
use std::fmt::Write as _;

use tessera_tir::{ValueId, print_kernel, printer::Numbering};

use super::{ConversionKind, LaidOutKernel};

/// Prints `lk`: IR lines annotated with layouts, then conversions and accesses.
pub fn print_layouts(lk: &LaidOutKernel) -> String {
    let kernel = lk.kernel;
    let names = Numbering::of(kernel);
    let by_name: HashMap<String, ValueId> =
        (0..kernel.values.len() as u32).map(ValueId).map(|v| (names.name(v), v)).collect();
    let layout_of = |name: &str| by_name.get(name).and_then(|v| lk.layouts.get(v));
    let mut out = String::new();
    for line in print_kernel(kernel).lines() {
        let trimmed = line.trim_start();
        let mut notes: Vec<String> = Vec::new();
        if trimmed.starts_with('%') {
            if let Some((lhs, _)) = trimmed.split_once(" = ") {
                let results: Vec<&str> = lhs.split(", ").collect();
                for name in &results {
                    if let Some(layout) = layout_of(name) {
                        notes.push(if results.len() == 1 { layout.to_string() } else { format!("{name}: {layout}") });
                    }
                }
            }
        } else if let Some(args) = trimmed.strip_prefix("^(") {
            for arg in args.split(", %") {
                let name = format!("%{}", arg.trim_start_matches('%').split(':').next().unwrap_or(""));
                if let Some(layout) = layout_of(&name) {
                    notes.push(format!("{name}: {layout}"));
                }
            }
        }
        out.push_str(line);
        if !notes.is_empty() {
            let _ = write!(out, "  // {}", notes.join(", "));
        }
        out.push('\n');
    }
    let describe = |op: usize| {
        lk.ops.get(op).map_or_else(
            || format!("op #{op}"),
            |op| {
                let results: Vec<String> = op.results.iter().map(|&r| names.name(r)).collect();
                let mut text = op.kind.mnemonic().to_string();
                if !results.is_empty() {
                    text = format!("{} = {text}", results.join(", "));
                }
                if op.loc.is_known() {
                    let _ = write!(text, " at {}:{}", op.loc.line, op.loc.col);
                }
                format!("`{text}`")
            },
        )
    };
    let mut conversions: Vec<_> = lk.conversions.iter().collect();
    conversions.sort_by_key(|c| (c.op, c.operand));
    for c in conversions {
        let how = match c.kind {
            ConversionKind::Rematerialize => "rematerialized",
            ConversionKind::Registers => "registers renamed",
            ConversionKind::SharedMemory => "through shared memory",
        };
        let _ = writeln!(
            out,
            "// convert {} for operand {} of {}: {} -> {} ({how})",
            names.name(c.value),
            c.operand,
            describe(c.op),
            c.from,
            c.to
        );
    }
    let mut accesses: Vec<_> = lk.accesses.iter().collect();
    accesses.sort_by_key(|(op, _)| **op);
    for (&op, access) in accesses {
        let _ = writeln!(
            out,
            "// access {}: {} element(s) per vector along dim {}",
            describe(op),
            access.width,
            access.dim
        );
    }
    out
}
