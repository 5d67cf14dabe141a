pub mod build;
pub mod check;
pub mod demo;
pub mod emit;
pub mod explain;
pub mod run;
