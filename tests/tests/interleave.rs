//! Interleaved launches on the interpreter (`tessera_interp::Interleave`):
//! programs in flight at once, handing over at atomics and fences. What a
//! launch computes must not depend on the schedule where the kernel says it
//! does not; a wait that never ends must end the launch with an error, not
//! hang it; and a failing program's error must be the launch's.

use tessera_interp::{HostBuffer, Interleave, InterpError, KernelArg, LaunchOptions, codes};
use tessera_tir::{ConstValue, Kernel, ScalarType};

fn kernel(src: &str, name: &str) -> Kernel {
    let consts: [(String, ConstValue); 0] = [];
    tessera_frontend::compile_str("interleave.tsr", src, name, &consts).unwrap_or_else(|e| panic!("{e}"))
}

fn launch(
    k: &Kernel,
    args: &[KernelArg],
    buffers: &mut [HostBuffer],
    how: Option<Interleave>,
) -> Result<(), InterpError> {
    let options = LaunchOptions { interleave: how, ..LaunchOptions::default() };
    tessera_interp::launch_with(k, args, buffers, &options).map(|_| ())
}

/// Every program takes a ticket and adds its ticket to a total: the tickets
/// are a permutation of the programs whatever the schedule, and each program
/// writes where its ticket says.
#[test]
fn tickets_are_a_permutation_under_every_schedule() {
    let src = r#"
kernel tickets(ticket: *i32, out: *i32, total: *i32) grid(16) {
    let t = atomic_add(ticket, 1);
    fence();
    store(out + t, program_id(0));
    atomic_add(total, t);
}
"#;
    let k = kernel(src, "tickets");
    let mut orders = std::collections::HashSet::new();
    for seed in 0..8 {
        let mut buffers = vec![
            HostBuffer::from_f64(ScalarType::I32, &[0.0]),
            HostBuffer::from_f64(ScalarType::I32, &[-1.0; 16]),
            HostBuffer::from_f64(ScalarType::I32, &[0.0]),
        ];
        let args = [KernelArg::Buffer(0), KernelArg::Buffer(1), KernelArg::Buffer(2)];
        launch(&k, &args, &mut buffers, Some(Interleave { resident: 4, seed })).expect("launch");
        let mut order = buffers[1].to_f64();
        orders.insert(order.iter().map(|&x| x as i64).collect::<Vec<_>>());
        order.sort_by(f64::total_cmp);
        assert_eq!(order, (0..16).map(f64::from).collect::<Vec<_>>(), "seed {seed}");
        assert_eq!(buffers[0].to_f64(), [16.0]);
        assert_eq!(buffers[2].to_f64(), [120.0]);
    }
    // With four in flight, the seeds give programs different tickets.
    assert!(orders.len() > 1, "every seed ran the programs in one order");
}

/// Programs waiting for a flag no program raises end the launch with E0624
/// after a bounded number of hand-overs, instead of spinning for ever.
#[test]
fn a_wait_that_never_ends_is_an_error() {
    let src = r#"
kernel wait_forever(flag: *i32, out: *i32) grid(3) {
    while atomic_add(flag, 0) == 0 {
    }
    store(out + program_id(0), 1);
}
"#;
    let k = kernel(src, "wait_forever");
    let mut buffers =
        vec![HostBuffer::from_f64(ScalarType::I32, &[0.0]), HostBuffer::from_f64(ScalarType::I32, &[0.0; 3])];
    let args = [KernelArg::Buffer(0), KernelArg::Buffer(1)];
    let started = std::time::Instant::now();
    let err = launch(&k, &args, &mut buffers, Some(Interleave { resident: 3, seed: 1 })).expect_err("a stall");
    assert_eq!(err.code, codes::OP_LIMIT, "{err}");
    assert!(err.message.contains("waiting for each other"), "{err}");
    assert!(started.elapsed().as_secs() < 60, "took {:?}", started.elapsed());
    // The caller's buffers come back.
    assert_eq!(buffers[1].to_f64(), [0.0; 3]);
}

/// One program's out-of-bounds store is the launch's error (not the other
/// programs' having been stopped), and the stores before it stay.
#[test]
fn a_failing_program_gives_the_launch_its_error() {
    let src = r#"
kernel overrun(out: *i32) grid(4) {
    let p = program_id(0);
    fence();
    store(out + p * 2, p);
}
"#;
    let k = kernel(src, "overrun");
    for seed in 0..4 {
        let mut buffers = vec![HostBuffer::from_f64(ScalarType::I32, &[-1.0; 5])];
        let err = launch(&k, &[KernelArg::Buffer(0)], &mut buffers, Some(Interleave { resident: 2, seed }))
            .expect_err("program 3 writes past the end");
        assert_eq!(err.code, codes::OUT_OF_BOUNDS, "seed {seed}: {err}");
        assert_eq!(err.program, Some([3, 0, 0]), "seed {seed}");
        assert_eq!(buffers[0].len(), 5);
    }
}

/// A grid far larger than the programs in flight: threads are started as
/// programs start (never more than `resident` at once), and every program
/// runs exactly once.
#[test]
fn large_grids_run_every_program_once() {
    let src = r#"
kernel count(hits: *i32) grid(5000) {
    atomic_add(hits + program_id(0), 1);
}
"#;
    let k = kernel(src, "count");
    let mut buffers = vec![HostBuffer::from_f64(ScalarType::I32, &[0.0; 5000])];
    launch(&k, &[KernelArg::Buffer(0)], &mut buffers, Some(Interleave { resident: 3, seed: 9 })).expect("launch");
    assert_eq!(buffers[0].to_f64(), vec![1.0; 5000]);
}

/// Programs that never look at each other compute the same bits whatever
/// the schedule: softmax over 64 rows, one after another and interleaved.
#[test]
fn independent_programs_give_the_same_bits_in_any_order() {
    let k = tessera_tests::harness::compile("softmax.tsr", "softmax", &[("BLOCK", tessera_tests::harness::int(1024))]);
    let (rows, cols) = (64usize, 200usize);
    let x: Vec<f64> = (0..rows * cols).map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0).collect();
    let run = |how: Option<Interleave>| {
        let mut buffers =
            vec![HostBuffer::from_f64(ScalarType::F32, &x), HostBuffer::filled(ScalarType::F32, rows * cols, f64::NAN)];
        let args: Vec<KernelArg> = k
            .params
            .iter()
            .map(|p| match p.name.as_str() {
                "x" => KernelArg::Buffer(0),
                "y" => KernelArg::Buffer(1),
                "rows" => KernelArg::Int(rows as i64),
                "cols" | "x_row_stride" | "y_row_stride" => KernelArg::Int(cols as i64),
                other => panic!("softmax has a parameter `{other}`"),
            })
            .collect();
        launch(&k, &args, &mut buffers, how).expect("launch");
        buffers[1].to_f64()
    };
    let one_at_a_time = run(None);
    assert!(one_at_a_time.iter().all(|v| v.is_finite()));
    for seed in 0..3 {
        let interleaved = run(Some(Interleave { resident: 5, seed }));
        assert!(one_at_a_time.iter().zip(&interleaved).all(|(a, b)| a.to_bits() == b.to_bits()), "seed {seed}");
    }
}
