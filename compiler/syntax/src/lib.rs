//! The Tessera kernel language: tokens, syntax tree, parser.
//!
//! `parse(file_id, text)` never fails and never panics: it returns the best
//! [`ast::Module`] it could recover together with every syntax error found.
//! Names are not resolved here (dtype names such as `f32` are plain
//! identifiers); the front end gives them meaning.

pub mod ast;
pub mod codes;
pub mod lexer;
mod parser;

pub use parser::parse;
