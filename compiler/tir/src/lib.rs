//! The tile IR (TIR): a typed SSA IR of block operations.
//!
//! A [`Kernel`] is one specialization of a source kernel: every compile-time
//! parameter has been substituted, helpers inlined. Every value has a
//! [`Type`] (element type plus static shape). Control flow is structured:
//! `for`, `if` and `while` ops own [`Region`]s whose arguments are the loop
//! induction variable and loop-carried values.
//!
//! Invariants (checked by [`verify`] after construction and after every pass):
//! - every [`ValueId`] is defined exactly once, before its uses, in an
//!   enclosing region (dominance is lexical);
//! - operand counts and types match each op's contract in [`ops`];
//! - every region ends in its terminator (`yield`, `condition`, `return`).
//!
//! The text form ([`printer`], [`parser`]) is canonical and round-trips;
//! [`passes`] holds the optimization pipeline run by [`passes::PassManager`].

pub mod codes;
pub mod kernel;
pub mod ops;
pub mod parser;
pub mod passes;
pub mod printer;
pub mod slice;
pub mod types;
pub mod verify;

pub use kernel::*;
pub use ops::*;
pub use parser::{IrParseError, parse_kernel, parse_module};
pub use printer::{print_kernel, print_module};
pub use types::*;
pub use verify::{VerifyError, verify};
