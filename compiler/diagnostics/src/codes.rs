//! Stable diagnostic codes.
//!
//! Each code names one kind of problem and is never reused. Each stage
//! defines the constants of its range in its own crate (`codes` module), and
//! `tests/diagnostics/` keeps one bad program per code:
//!
//! | range | stage | crate |
//! |---|---|---|
//! | E00xx | lexing and parsing | tessera-syntax |
//! | E01xx | names, items, helper calls | tessera-frontend |
//! | E02xx | types and shapes | tessera-frontend |
//! | E03xx | compile-time evaluation, specialization | tessera-frontend |
//! | E04xx | kernel metadata (grid, tune, key, hints) | tessera-frontend |
//! | E05xx | IR text parsing and verification | tessera-tir |
//! | E06xx | interpreter (run-time) errors | tessera-interp |
//! | E07xx | driver and command line | tessera (cli) |
//! | E08xx | GPU backend: layouts, MLIR, LLVM, PTX, ptxas | tessera-backend |
