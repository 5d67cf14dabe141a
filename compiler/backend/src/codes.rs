//! Stable diagnostic codes of the backend (range E08xx).
//!
//! Each code names the stage of the MLIR -> LLVM IR -> PTX path that failed, so
//! a report tells at a glance whether the IR we built was wrong (E0800-E0803),
//! whether a library refused it (E0804-E0808), or the external assembler did
//! (E0809-E0810); E0811 is a kernel using an instruction its target lacks.

/// An MLIR operation, type or attribute could not be built (bad attribute text,
/// unknown operation, wrong operand count).
pub const MLIR_BUILD: &str = "E0800";
/// The MLIR module we built does not verify.
pub const MLIR_VERIFY: &str = "E0801";
/// The MLIR pass pipeline text does not parse (unknown pass or option).
pub const PASS_PIPELINE_PARSE: &str = "E0802";
/// A pass of the lowering pipeline failed (an op left unconverted, a legality failure).
pub const PASS_PIPELINE_RUN: &str = "E0803";
/// The LLVM-dialect module could not be translated to LLVM IR.
pub const LLVM_TRANSLATE: &str = "E0804";
/// LLVM could not parse or verify the LLVM IR text produced by translation.
pub const LLVM_IR_PARSE: &str = "E0805";
/// The NVPTX target or target machine could not be created.
pub const TARGET_MACHINE: &str = "E0806";
/// The LLVM optimisation pipeline failed.
pub const LLVM_OPTIMIZE: &str = "E0807";
/// The NVPTX code generator could not emit PTX.
pub const PTX_EMIT: &str = "E0808";
/// `ptxas` could not be run (not installed, not executable).
pub const PTXAS_LAUNCH: &str = "E0809";
/// `ptxas` rejected the PTX.
pub const PTXAS_REJECTED: &str = "E0810";

/// An operation needs a newer GPU architecture than the target (checked
/// before LLVM, whose instruction selector would abort the process).
pub const TARGET_UNSUPPORTED_OP: &str = "E0811";

/// The tile IR uses an operation or type this backend does not compile yet
/// (`dot`, block pointers, an atomic on an unsupported element type).
pub const UNSUPPORTED_OP: &str = "E0812";
/// A tensor dimension is not a power of two (distributed layouts need powers of two).
pub const NON_POWER_OF_TWO: &str = "E0813";
/// The kernel breaks a tile-IR invariant the backend relies on (an undefined
/// value, a wrong operand count); the verifier should have caught it.
pub const MALFORMED_IR: &str = "E0814";
/// Layout assignment produced layouts the lowering cannot reconcile (a backend bug).
pub const LAYOUT_INTERNAL: &str = "E0815";

/// The variant does not fit the target: it needs more shared memory than a
/// block may use, or a `dot` accumulator too large for a thread's registers.
pub const RESOURCE_LIMIT: &str = "E0816";

/// The lowered kernel would race on shared memory: a transient region is
/// written while an overlapping one may still be read, or read before a
/// barrier after its writes (a backend bug, caught before PTX is emitted).
pub const SHARED_HAZARD: &str = "E0817";

/// Every backend code with a one-line summary (for `tessera explain` and the docs).
pub const ALL: &[(&str, &str)] = &[
    (MLIR_BUILD, "an MLIR operation, type or attribute could not be built"),
    (MLIR_VERIFY, "the generated MLIR module does not verify"),
    (PASS_PIPELINE_PARSE, "the MLIR pass pipeline does not parse"),
    (PASS_PIPELINE_RUN, "a pass of the MLIR lowering pipeline failed"),
    (LLVM_TRANSLATE, "the LLVM-dialect module could not be translated to LLVM IR"),
    (LLVM_IR_PARSE, "LLVM could not parse or verify the translated LLVM IR"),
    (TARGET_MACHINE, "the NVPTX target machine could not be created"),
    (LLVM_OPTIMIZE, "the LLVM optimisation pipeline failed"),
    (PTX_EMIT, "the NVPTX code generator could not emit PTX"),
    (PTXAS_LAUNCH, "ptxas could not be run"),
    (PTXAS_REJECTED, "ptxas rejected the generated PTX"),
    (TARGET_UNSUPPORTED_OP, "an operation needs a newer GPU architecture than the target"),
    (UNSUPPORTED_OP, "the kernel uses a tile-IR operation the backend does not compile yet"),
    (NON_POWER_OF_TWO, "a tensor dimension is not a power of two"),
    (MALFORMED_IR, "the kernel breaks a tile-IR invariant the backend relies on"),
    (LAYOUT_INTERNAL, "layout assignment and lowering disagree (a backend bug)"),
    (RESOURCE_LIMIT, "the variant needs more shared memory or registers than the target has"),
    (SHARED_HAZARD, "the lowered kernel would race on shared memory (a backend bug)"),
];

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn codes_are_unique_and_in_the_backend_range() {
        let mut seen = std::collections::HashSet::new();
        for (code, summary) in ALL {
            assert!(code.starts_with("E08") && code.len() == 5, "{code} is outside E08xx");
            assert!(seen.insert(*code), "{code} is listed twice");
            assert!(!summary.is_empty(), "{code} has no summary");
        }
    }
}
