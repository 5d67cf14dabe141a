//! From syntax tree to tile IR.
//!
//! Given a parsed module and one kernel's compile-time parameter values,
//! [`lower_kernel`] produces a verified `tessera_tir::Kernel`, or every
//! problem it found as diagnostics. This is where names are resolved,
//! compile-time expressions folded, types promoted, shapes broadcast and
//! helpers inlined (the helper call graph is checked for recursion first).

pub mod codes;
