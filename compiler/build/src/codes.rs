//! Stable diagnostic codes of `tessera build` (E0720-E0739, inside the
//! driver's E07xx range; the CLI itself uses E0701-E0719).
//!
//! Codes up to E0730, and E0737, stop the build; E0731-E0736 are reasons a
//! single variant or kernel was left out of the bundle while the build went
//! on.

/// A source file named on the command line cannot be read.
pub const CANNOT_READ: &str = "E0720";
/// A source file has syntax or interface errors (rendered with the error).
pub const SOURCE_ERRORS: &str = "E0721";
/// A `--const` is not `[KERNEL.]NAME=VALUE` with an integer, float or boolean value.
pub const BAD_CONST: &str = "E0722";
/// A `--const` sets nothing: no kernel declares the name, or every kernel that does tunes it.
pub const UNUSED_CONST: &str = "E0723";
/// An `--arch` names no architecture the backend targets, or the list is empty.
pub const BAD_ARCH: &str = "E0724";
/// Two kernels of the build share a name (a bundle holds each name once).
pub const DUPLICATE_KERNEL: &str = "E0725";
/// No variant of any kernel could be built.
pub const NOTHING_BUILT: &str = "E0726";
/// The bundle could not be written.
pub const CANNOT_WRITE: &str = "E0727";
/// The bundle writer refused the compiled kernels (a bug of the build).
pub const BUNDLE_INCONSISTENT: &str = "E0728";
/// No source file was given.
pub const NO_SOURCES: &str = "E0729";
/// The `ptxas` to use cannot be run.
pub const PTXAS_UNUSABLE: &str = "E0730";

/// A kernel's grid folds compile-time parameters into constants that differ
/// between tuning points, so one grid expression cannot serve every variant.
pub const GRID_NOT_EXPRESSIBLE: &str = "E0731";
/// A compile-time parameter has no value (no default, not tuned, no `--const`).
pub const MISSING_CONST: &str = "E0732";
/// A variant needs more shared memory per block than its architecture has.
pub const SHARED_MEMORY_LIMIT: &str = "E0733";
/// A variant needs more registers per block than its architecture has.
pub const REGISTER_LIMIT: &str = "E0734";
/// A variant launches more threads per block than any architecture allows.
pub const THREAD_LIMIT: &str = "E0735";
/// The compiler panicked on a variant (a compiler bug; the build goes on without it).
pub const INTERNAL_PANIC: &str = "E0736";
/// A `--kernel` names no kernel of the sources.
pub const UNKNOWN_KERNEL: &str = "E0737";

/// Every code of this crate with a one-line summary (for `tessera explain`).
pub const ALL: &[(&str, &str)] = &[
    (CANNOT_READ, "a source file given to `tessera build` cannot be read"),
    (SOURCE_ERRORS, "a source file given to `tessera build` has errors (shown above)"),
    (BAD_CONST, "a --const of `tessera build` is not [KERNEL.]NAME=VALUE"),
    (UNUSED_CONST, "a --const of `tessera build` sets no kernel's compile-time parameter"),
    (BAD_ARCH, "--arch names an architecture the backend does not target"),
    (DUPLICATE_KERNEL, "two kernels of one build have the same name"),
    (NOTHING_BUILT, "no variant of any kernel could be built"),
    (CANNOT_WRITE, "the bundle file cannot be written"),
    (BUNDLE_INCONSISTENT, "the bundle writer refused the compiled kernels (a compiler bug)"),
    (NO_SOURCES, "`tessera build` was given no source file"),
    (PTXAS_UNUSABLE, "the ptxas to use cannot be run"),
    (UNKNOWN_KERNEL, "a --kernel of `tessera build` names no kernel of the sources"),
    (GRID_NOT_EXPRESSIBLE, "the grid folds tuned compile-time parameters into constants"),
    (MISSING_CONST, "a compile-time parameter has no default, no tune list and no --const"),
    (SHARED_MEMORY_LIMIT, "a variant needs more shared memory per block than its architecture has"),
    (REGISTER_LIMIT, "a variant needs more registers per block than its architecture has"),
    (THREAD_LIMIT, "a variant has more threads per block than a GPU allows"),
    (INTERNAL_PANIC, "the compiler panicked on a variant (a compiler bug)"),
];

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn codes_are_unique_and_in_the_build_range() {
        let mut seen = std::collections::HashSet::new();
        for (code, summary) in ALL {
            let number: u32 = code.strip_prefix('E').and_then(|n| n.parse().ok()).unwrap_or(0);
            assert!((720..=739).contains(&number), "{code} is outside E0720-E0739");
            assert!(seen.insert(*code), "{code} is listed twice");
            assert!(!summary.is_empty(), "{code} has no summary");
        }
    }
}
