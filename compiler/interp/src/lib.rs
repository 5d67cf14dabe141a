//! Executes a tile-IR kernel over its whole launch grid on host buffers.
pub mod codes;
