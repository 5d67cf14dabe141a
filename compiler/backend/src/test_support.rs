//! What the backend's unit tests share: the kernels of `kernels-dsl/` they
//! compile, and compiling one at given compile-time values.

use tessera_tir::ConstValue;

use crate::{CompiledKernel, Target, compile_kernel};

pub(crate) const MATMUL: &str = include_str!("../../../kernels-dsl/matmul.tsr");
pub(crate) const LIGHTNING: &str = include_str!("../../../kernels-dsl/lightning_attn.tsr");

/// The tile IR of `kernel` in `source` at the compile-time values `consts`.
pub(crate) fn tir_of(source: &str, kernel: &str, consts: &[(&str, i64)]) -> tessera_tir::Kernel {
    let consts: Vec<(String, ConstValue)> = consts.iter().map(|(n, v)| (n.to_string(), ConstValue::Int(*v))).collect();
    tessera_frontend::compile_str("kernel.tsr", source, kernel, &consts).expect("front end")
}

/// `kernel` of `source` at the compile-time values `consts`, for `target`.
pub(crate) fn compiled(source: &str, kernel: &str, consts: &[(&str, i64)], target: Target) -> CompiledKernel {
    compile_kernel(&tir_of(source, kernel, consts), &target).expect("backend")
}
