//! Control flow, program ids, grid order and launch statistics.

mod common;

use common::*;
use tessera_interp::{HostBuffer, KernelArg, LaunchOptions, codes, launch_grid, launch_with};
use tessera_tir::*;

/// `out[0] = sum of iv over for iv in lower..upper by step` (i32).
fn for_sum(lower: i64, upper: i64, step: i64) -> Result<f64, tessera_interp::InterpError> {
    let mut b = Kb::new("for_sum");
    let out = b.param("out", p(I32));
    let lo = b.ci32(lower);
    let hi = b.ci32(upper);
    let st = b.ci32(step);
    let zero = b.ci32(0);
    b.at(3, 4);
    let r = b.for_loop(lo, hi, st, &[zero], |b, iv, iters| vec![b.bin(BinaryOp::Add, iters[0], iv)]);
    b.store(out, r[0], None);
    let k = verified(b.finish());
    let mut bufs = vec![HostBuffer::zeros(I32, 1)];
    launch_grid(&k, [1, 1, 1], &[KernelArg::Buffer(0)], &mut bufs)?;
    Ok(bufs[0].to_f64()[0])
}

#[test]
fn for_loops_count_up_and_down() {
    assert_eq!(for_sum(0, 10, 3).unwrap(), 18.0); // 0 + 3 + 6 + 9
    assert_eq!(for_sum(10, 0, -3).unwrap(), 22.0); // 10 + 7 + 4 + 1
    assert_eq!(for_sum(5, 5, 1).unwrap(), 0.0);
    assert_eq!(for_sum(5, 0, 1).unwrap(), 0.0);
    // The induction variable never wraps: MAX-3, MAX-1, then stop.
    let max = i32::MAX as i64;
    assert_eq!(for_sum(max - 3, max, 2).unwrap(), ((max - 3) as i32).wrapping_add((max - 1) as i32) as f64);
}

#[test]
fn for_with_step_zero_is_an_error() {
    let err = for_sum(0, 10, 0).unwrap_err();
    assert_eq!(err.code, codes::ZERO_STEP);
    assert_eq!(err.loc, Loc { line: 3, col: 4 });
}

#[test]
fn if_runs_one_branch() {
    // out[pid] = pid even ? pid * 10 : -1
    let mut b = Kb::new("branch");
    let out = b.param("out", p(I32));
    let pid = b.pid(0);
    let two = b.ci32(2);
    let zero = b.ci32(0);
    let r = b.bin(BinaryOp::Rem, pid, two);
    let even = b.cmp(CmpPred::Eq, r, zero);
    let v = b.if_op(
        even,
        &[s(I32)],
        |b| {
            let ten = b.ci32(10);
            vec![b.bin(BinaryOp::Mul, pid, ten)]
        },
        |b| vec![b.ci32(-1)],
    );
    let ptr = b.addptr(out, pid);
    b.store(ptr, v[0], None);
    let k = verified(b.finish());
    let mut bufs = vec![HostBuffer::zeros(I32, 4)];
    launch_grid(&k, [4, 1, 1], &[KernelArg::Buffer(0)], &mut bufs).unwrap();
    assert_eq!(bufs[0].to_f64(), vec![0.0, -1.0, 20.0, -1.0]);
}

/// `while i < n { i += 1; acc *= 3 }`, storing (i, acc).
fn while_kernel() -> Kernel {
    let mut b = Kb::new("powers");
    let out = b.param("out", p(I32));
    let n = b.param("n", s(I32));
    let i0 = b.ci32(0);
    let a0 = b.ci32(1);
    b.at(9, 1);
    let r = b.while_loop(
        &[i0, a0],
        |b, c| b.cmp(CmpPred::Lt, c[0], n),
        |b, c| {
            let one = b.ci32(1);
            let three = b.ci32(3);
            vec![b.bin(BinaryOp::Add, c[0], one), b.bin(BinaryOp::Mul, c[1], three)]
        },
    );
    b.at(10, 1);
    b.store(out, r[0], None);
    let one = b.ci32(1);
    let second = b.addptr(out, one);
    b.store(second, r[1], None);
    verified(b.finish())
}

#[test]
fn while_carries_values_until_the_condition_fails() {
    let k = while_kernel();
    let mut bufs = vec![HostBuffer::zeros(I32, 2)];
    launch_grid(&k, [1, 1, 1], &[KernelArg::Buffer(0), KernelArg::Int(4)], &mut bufs).unwrap();
    assert_eq!(bufs[0].to_f64(), vec![4.0, 81.0]);
    // i32 wraps: 3^21 overflows.
    launch_grid(&k, [1, 1, 1], &[KernelArg::Buffer(0), KernelArg::Int(21)], &mut bufs).unwrap();
    assert_eq!(bufs[0].to_f64(), vec![21.0, 3i32.wrapping_pow(21) as f64]);
}

#[test]
fn runaway_while_is_reported_not_hung() {
    let k = while_kernel();
    let mut bufs = vec![HostBuffer::zeros(I32, 2)];
    // A huge n is a loop that would run for ages; a small op budget stops it.
    let options = LaunchOptions { grid: Some([1, 1, 1]), max_ops: 10_000, interleave: None };
    let err =
        launch_with(&k, &[KernelArg::Buffer(0), KernelArg::Int(i32::MAX as i64)], &mut bufs, &options).unwrap_err();
    assert_eq!(err.code, codes::OP_LIMIT);
    assert_eq!(err.loc, Loc { line: 9, col: 1 });
    assert!(err.message.contains("more than 10000 ops"), "{}", err.message);
    assert!(err.help.is_some());
}

#[test]
fn programs_run_in_grid_order_x_fastest() {
    // Each program takes a ticket from an atomic counter and records it at
    // its linear id; it also stores its ids and the grid size.
    let mut b = Kb::new("order");
    let counter = b.param("counter", p(I32));
    let tickets = b.param("tickets", p(I32));
    let ids = b.param("ids", p(I32));
    let (x, y, z) = (b.pid(0), b.pid(1), b.pid(2));
    let nx = b.op(OpKind::NumPrograms(0), &[], s(I32));
    let ny = b.op(OpKind::NumPrograms(1), &[], s(I32));
    let nz = b.op(OpKind::NumPrograms(2), &[], s(I32));
    let yz = b.bin(BinaryOp::Mul, z, ny);
    let yz = b.bin(BinaryOp::Add, yz, y);
    let lin = b.bin(BinaryOp::Mul, yz, nx);
    let lin = b.bin(BinaryOp::Add, lin, x);
    let one = b.ci32(1);
    let ticket = b.atomic_add(counter, one, None);
    let tp = b.addptr(tickets, lin);
    b.store(tp, ticket, None);
    // ids[lin] = x + 10 y + 100 z + 1000 (nx * ny * nz)
    let ten = b.ci32(10);
    let hundred = b.ci32(100);
    let thousand = b.ci32(1000);
    let ty = b.bin(BinaryOp::Mul, y, ten);
    let tz = b.bin(BinaryOp::Mul, z, hundred);
    let total = b.bin(BinaryOp::Mul, nx, ny);
    let total = b.bin(BinaryOp::Mul, total, nz);
    let total = b.bin(BinaryOp::Mul, total, thousand);
    let id = b.bin(BinaryOp::Add, x, ty);
    let id = b.bin(BinaryOp::Add, id, tz);
    let id = b.bin(BinaryOp::Add, id, total);
    let ip = b.addptr(ids, lin);
    b.store(ip, id, None);
    let k = verified(b.finish());
    let mut bufs = vec![HostBuffer::zeros(I32, 1), HostBuffer::filled(I32, 24, -1.0), HostBuffer::zeros(I32, 24)];
    let args = [KernelArg::Buffer(0), KernelArg::Buffer(1), KernelArg::Buffer(2)];
    let stats = launch_grid(&k, [2, 3, 4], &args, &mut bufs).unwrap();
    assert_eq!(stats.programs, 24);
    // Straight-line code: every op of every program, terminator included.
    let per_program = k.body.ops.len() as u64;
    assert_eq!(stats.ops_executed, 24 * per_program);
    assert_eq!(bufs[1].to_f64(), (0..24).map(f64::from).collect::<Vec<_>>());
    let mut want = Vec::new();
    for z in 0..4 {
        for y in 0..3 {
            for x in 0..2 {
                want.push((x + 10 * y + 100 * z + 24_000) as f64);
            }
        }
    }
    assert_eq!(bufs[2].to_f64(), want);
}
