//! Argument and grid checks before any program runs.

mod common;

use common::*;
use tessera_interp::{HostBuffer, InterpError, KernelArg, codes, launch, launch_grid};
use tessera_tir::*;

/// `x: *f32, n: i32, scale: f32, flag: bool`; stores `scale` to x[pid]
/// when `flag`.
fn kernel(grid: Vec<MetaExpr>) -> Kernel {
    let mut b = Kb::new("k");
    let x = b.param("x", p(F32));
    b.param("n", s(I32));
    let scale = b.param("scale", s(F32));
    let flag = b.param("flag", s(I1));
    b.grid(grid);
    let pid = b.pid(0);
    let ptr = b.addptr(x, pid);
    let old = b.load(ptr, None, None);
    let ty = b.ty(old);
    let v = b.op(OpKind::Select, &[flag, scale, old], ty);
    b.store(ptr, v, None);
    verified(b.finish())
}

fn cdiv_n(by: i64) -> Vec<MetaExpr> {
    vec![MetaExpr::Cdiv(Box::new(MetaExpr::Param("n".into())), Box::new(MetaExpr::Int(by)))]
}

fn args(n: i64) -> Vec<KernelArg> {
    vec![KernelArg::Buffer(0), KernelArg::Int(n), KernelArg::Float(2.5), KernelArg::Bool(true)]
}

fn run(k: &Kernel, args: &[KernelArg], bufs: &mut [HostBuffer]) -> Result<u64, InterpError> {
    launch(k, args, bufs).map(|s| s.programs)
}

#[test]
fn grid_comes_from_metadata_and_scalar_args() {
    let k = kernel(cdiv_n(4));
    let mut bufs = vec![HostBuffer::zeros(F32, 3)];
    assert_eq!(run(&k, &args(10), &mut bufs).unwrap(), 3);
    assert_eq!(bufs[0].to_f64(), vec![2.5; 3]);
}

#[test]
fn wrong_argument_count() {
    let k = kernel(cdiv_n(4));
    let err = run(&k, &args(4)[..3], &mut [HostBuffer::zeros(F32, 1)]).unwrap_err();
    assert_eq!(err.code, codes::ARG_COUNT);
    assert_eq!(err.program, None);
    assert_eq!(err.to_string(), "test.tsr: error[E0601]: kernel `k` takes 4 argument(s) but 3 were given");
    assert!(err.help.as_deref().unwrap().contains("`x`, `n`, `scale`, `flag`"));
}

#[test]
fn wrong_argument_kinds() {
    let k = kernel(cdiv_n(4));
    let mut bufs = vec![HostBuffer::zeros(F32, 1)];
    let cases: [(usize, KernelArg, &str); 5] = [
        (0, KernelArg::Int(0), "expected a buffer"),
        (1, KernelArg::Float(1.0), "expected an integer"),
        (1, KernelArg::Buffer(0), "expected an integer"),
        (2, KernelArg::Int(1), "expected a float"),
        (3, KernelArg::Int(1), "expected a bool"),
    ];
    for (i, arg, expected) in cases {
        let mut a = args(4);
        a[i] = arg;
        let err = run(&k, &a, &mut bufs).unwrap_err();
        assert_eq!(err.code, codes::ARG_KIND, "{err}");
        assert!(err.message.contains(expected), "{err}");
    }
}

#[test]
fn buffer_of_the_wrong_element_type_names_param_and_types() {
    let k = kernel(cdiv_n(4));
    let err = run(&k, &args(4), &mut [HostBuffer::zeros(ScalarType::BF16, 4)]).unwrap_err();
    assert_eq!(err.code, codes::BUFFER_TYPE);
    assert_eq!(err.message, "parameter `x` points to f32 but buffer 0 holds bf16");
}

#[test]
fn buffer_index_past_the_end() {
    let k = kernel(cdiv_n(4));
    let mut a = args(4);
    a[0] = KernelArg::Buffer(3);
    let err = run(&k, &a, &mut [HostBuffer::zeros(F32, 4)]).unwrap_err();
    assert_eq!(err.code, codes::BUFFER_INDEX);
}

#[test]
fn integer_argument_out_of_range_for_i32() {
    let k = kernel(cdiv_n(4));
    let err = run(&k, &args(1 << 31), &mut [HostBuffer::zeros(F32, 4)]).unwrap_err();
    assert_eq!(err.code, codes::INT_RANGE);
    assert!(err.message.contains("2147483648"), "{err}");
    assert!(
        run(&k, &args(-(1 << 31)), &mut [HostBuffer::zeros(F32, 4)]).is_err_and(|e| e.code == codes::GRID_NEGATIVE)
    );
}

#[test]
fn grid_errors_each_have_their_code() {
    let bin = |f: fn(Box<MetaExpr>, Box<MetaExpr>) -> MetaExpr, a: MetaExpr, b: MetaExpr| f(Box::new(a), Box::new(b));
    let n = || MetaExpr::Param("n".into());
    let cases = [
        (vec![MetaExpr::Param("scale".into())], 4, codes::GRID_PARAM),
        (vec![MetaExpr::Param("nope".into())], 4, codes::GRID_PARAM),
        (vec![bin(MetaExpr::Div, MetaExpr::Int(4), bin(MetaExpr::Sub, n(), n()))], 4, codes::GRID_DIV_ZERO),
        (vec![bin(MetaExpr::Mul, MetaExpr::Int(i64::MAX), n())], 4, codes::GRID_OVERFLOW),
        (vec![bin(MetaExpr::Mul, MetaExpr::Int(1 << 20), n())], 1 << 20, codes::GRID_OVERFLOW),
        (vec![bin(MetaExpr::Sub, MetaExpr::Int(1), n())], 4, codes::GRID_NEGATIVE),
        (cdiv_n(4), 0, codes::GRID_EMPTY),
        (vec![MetaExpr::Int(1); 4], 4, codes::GRID_RANK),
    ];
    for (grid, nv, code) in cases {
        let k = kernel(grid);
        let err = run(&k, &args(nv), &mut [HostBuffer::zeros(F32, 4)]).unwrap_err();
        assert_eq!(err.code, code, "{err}");
        assert!(err.message.starts_with("grid") || code == codes::GRID_RANK, "{err}");
    }
    // An explicit empty grid is refused too.
    let k = kernel(cdiv_n(4));
    let err = launch_grid(&k, [1, 0, 1], &args(4), &mut [HostBuffer::zeros(F32, 4)]).unwrap_err();
    assert_eq!(err.code, codes::GRID_EMPTY);
}

#[test]
fn all_codes_are_distinct_and_listed() {
    let mut seen = std::collections::HashSet::new();
    for (code, summary) in codes::ALL {
        assert!(code.starts_with("E06") && code.len() == 5, "{code}");
        assert!(seen.insert(*code), "{code} listed twice");
        assert!(!summary.is_empty());
    }
    assert_eq!(codes::ALL.len(), 20);
}
