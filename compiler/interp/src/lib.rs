//! Executes a tile-IR kernel over its whole launch grid on host buffers.
//!
//! This is the reference semantics that generated GPU code is tested
//! against, so every choice is exact and deterministic:
//! - arguments are checked before anything runs (count, kinds, buffer
//!   element types, integer ranges, grid) — codes E0601-E0611;
//! - programs run one after another in grid order, x fastest, then y, then
//!   z, so atomics and racing stores have one defined outcome; or, asked
//!   for ([`Interleave`]), several at a time, interleaved at their atomics
//!   and fences in an order a seed fixes (see the `interleave` module);
//! - each op follows its contract in `tessera_tir::ops`; numeric details
//!   (rounding, wrapping, NaN) are documented in the `elem`, `dot` and
//!   `reduce` modules, memory rules in `memory`;
//! - errors inside a program (out-of-bounds access, division by zero, zero
//!   loop step, runaway loops) carry the op's location and the program id.
//!
//! A loop is runaway when the launch has executed more than
//! [`LaunchOptions::max_ops`] ops (default 2^32); the check runs at every
//! loop trip and at every program start.

pub mod codes;

mod args;
mod arith;
mod buffer;
mod dot;
mod elem;
mod error;
mod exec;
mod interleave;
mod locate;
mod memory;
mod reduce;
mod shape;
mod value;

pub use args::KernelArg;
pub use buffer::{HostBuffer, HostData};
pub use error::InterpError;
pub use interleave::Interleave;
pub use locate::{LaunchSite, LaunchSubject};

use std::rc::Rc;
use tessera_tir::Kernel;

/// What a launch did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LaunchStats {
    /// Programs run (the grid's size).
    pub programs: u64,
    /// Ops executed over all programs, terminators included.
    pub ops_executed: u64,
}

/// Knobs of a launch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaunchOptions {
    /// The grid; None evaluates `kernel.meta.grid` with the arguments.
    pub grid: Option<[u32; 3]>,
    /// Ops the whole launch (interleaved: each program) may execute before
    /// it is reported as runaway (E0624).
    pub max_ops: u64,
    /// Run programs interleaved rather than one after another.
    pub interleave: Option<Interleave>,
}

impl Default for LaunchOptions {
    fn default() -> LaunchOptions {
        LaunchOptions { grid: None, max_ops: 1 << 32, interleave: None }
    }
}

/// Run `kernel` over the grid of its metadata, evaluated with the integer
/// arguments by parameter name.
pub fn launch(kernel: &Kernel, args: &[KernelArg], buffers: &mut [HostBuffer]) -> Result<LaunchStats, InterpError> {
    launch_with(kernel, args, buffers, &LaunchOptions::default())
}

/// Run `kernel` over an explicit grid.
pub fn launch_grid(
    kernel: &Kernel,
    grid: [u32; 3],
    args: &[KernelArg],
    buffers: &mut [HostBuffer],
) -> Result<LaunchStats, InterpError> {
    launch_with(kernel, args, buffers, &LaunchOptions { grid: Some(grid), ..LaunchOptions::default() })
}

/// Run `kernel` with explicit options.
pub fn launch_with(
    kernel: &Kernel,
    args: &[KernelArg],
    buffers: &mut [HostBuffer],
    options: &LaunchOptions,
) -> Result<LaunchStats, InterpError> {
    let bound = args::bind(kernel, args, buffers)?;
    args::check_require(kernel, args)?;
    let grid = match options.grid {
        Some(grid) => {
            for (axis, &d) in grid.iter().enumerate() {
                args::grid_dim(kernel, axis, &d.to_string(), i64::from(d))?;
            }
            grid
        }
        None => args::eval_grid(kernel, args)?,
    };
    if let Some(how) = options.interleave {
        let launch = interleave::Launch { kernel, values: &bound.values, param_buffers: bound.buffers, grid };
        return launch.run(buffers, options.max_ops, how);
    }
    let params: Vec<Rc<value::Value>> = bound.values.into_iter().map(Rc::new).collect();
    let mut machine = exec::Machine::new(kernel, exec::Buffers::Own(buffers), bound.buffers, grid, options.max_ops);
    let mut programs = 0u64;
    for z in 0..grid[2] {
        for y in 0..grid[1] {
            for x in 0..grid[0] {
                machine.run_program([x, y, z], &params)?;
                programs += 1;
            }
        }
    }
    Ok(LaunchStats { programs, ops_executed: machine.ops })
}
