//! `tessera`: the compiler driver.
//!
//! Subcommands follow the pipeline: `check` (front end only), `emit` (print
//! one stage, from the syntax tree down to PTX and SASS), `run --interp`
//! (execute on the CPU interpreter), `demo` (all of that over a folder of
//! kernels), `explain` (what a diagnostic code means).

mod commands;
mod cuda_tools;
mod error;
mod gpu;
mod launch_args;
mod source;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tessera_backend::{Codegen, GpuArch};

#[derive(Parser)]
#[command(name = "tessera", version, about = "Block-level GPU kernel compiler")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check kernel files: parse, then specialize and lower every kernel at its
    /// defaults and at every point of its tuning space.
    Check { files: Vec<PathBuf> },
    /// Print one stage of the pipeline for one kernel specialization.
    Emit {
        file: PathBuf,
        /// Kernel name (optional when the file has one kernel).
        #[arg(long)]
        kernel: Option<String>,
        /// Compile-time parameter, `NAME=VALUE` (also `warps=8`, `stages=3`).
        #[arg(long = "const", value_name = "NAME=VALUE")]
        consts: Vec<String>,
        /// ast: the syntax tree; tir-raw: the tile IR as lowered, before any
        /// pass; tir: the tile IR after the default passes; layout: the tile IR
        /// with the layout of every tensor; mlir: the generated MLIR module;
        /// llvm: LLVM IR after optimisation; ptx: PTX; sass: SASS (ptxas, then
        /// nvdisasm or cuobjdump).
        #[arg(long, default_value = "tir")]
        stage: String,
        /// Print the IR after every pass (with --stage tir).
        #[arg(long)]
        print_after_all: bool,
        /// Integer parameter assumed divisible by 16, as in the specialized
        /// variants a bundle ships (`/div16(...)` in their labels); repeatable.
        #[arg(long = "divisible", value_name = "PARAM")]
        divisible: Vec<String>,
        /// Integer parameter assumed equal to 1, as in the unit-stride twins
        /// a bundle ships (`/unit(...)` in their labels); repeatable.
        #[arg(long = "unit", value_name = "PARAM")]
        unit: Vec<String>,
        /// GPU architecture of the backend stages (layout ... sass).
        #[arg(long, default_value = "sm_90a", value_parser = gpu::parse_arch)]
        arch: GpuArch,
        #[command(flatten)]
        codegen: CodegenArgs,
    },
    /// Run a kernel over its launch grid.
    Run {
        file: PathBuf,
        /// Execute on the CPU interpreter (the only executor today).
        #[arg(long, required = true)]
        interp: bool,
        #[arg(long)]
        kernel: Option<String>,
        #[arg(long = "const", value_name = "NAME=VALUE")]
        consts: Vec<String>,
        /// Launch argument `NAME=VALUE`: a number or an expression (`+ - * /`,
        /// parentheses) of earlier scalars for scalars; for pointers one of
        /// `rand(LEN)` (uniform in [-1, 1)), `rand(LEN, LO, HI)`, `randn(LEN)`,
        /// `randn(LEN, MEAN, STD)`, `zeros(LEN)`, `fill(LEN, V)`, `arange(LEN)`
        /// or `empty(LEN)` (NaN), where LEN is an integer expression over
        /// earlier scalar arguments.
        #[arg(long = "arg", value_name = "NAME=VALUE")]
        args: Vec<String>,
        /// Print a summary of these buffers after the run.
        #[arg(long)]
        show: Vec<String>,
        /// Seed of `rand(...)` inputs (and of `--interleave`'s schedule).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Run this many programs at a time, interleaved at every atomic and
        /// fence in an order the seed fixes, instead of one after another:
        /// for kernels whose programs talk through memory.
        #[arg(long, value_name = "PROGRAMS", value_parser = clap::value_parser!(u32).range(1..))]
        interleave: Option<u32>,
    },
    /// Compile every kernel of every `.tsr` file in a folder (all tuning points)
    /// and run each on the interpreter with the launch arguments listed in the
    /// folder's `demo.args`.
    Demo {
        #[arg(default_value = "kernels-dsl")]
        dir: PathBuf,
        /// Skip the last part, every variant through the GPU backend to PTX
        /// (minutes): the specializations and the interpreter runs only.
        #[arg(long)]
        no_ptx: bool,
    },
    /// Compile every kernel of the files at every point of its tuning space,
    /// for each architecture, into a `.tsb` bundle for the runtime.
    Build {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The bundle to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Architectures, comma-separated (sm_80, sm_86, sm_89, sm_90, sm_90a).
        #[arg(long, default_value = "sm_90a")]
        arch: String,
        /// `NAME=VALUE` for every kernel that declares NAME without tuning it;
        /// `KERNEL.NAME=VALUE` for one kernel (pins a tuned NAME).
        #[arg(long = "const", value_name = "[KERNEL.]NAME=VALUE")]
        consts: Vec<String>,
        /// Build only this kernel (repeat for several; default: every kernel of the files).
        #[arg(long = "kernel", value_name = "NAME")]
        kernels: Vec<String>,
        /// Worker threads (default: one per core).
        #[arg(long)]
        jobs: Option<usize>,
        #[command(flatten)]
        codegen: CodegenArgs,
    },
    /// Explain a diagnostic code, or list all codes.
    Explain { code: Option<String> },
}

/// Code-generation switches shared by `emit` and `build`.
#[derive(clap::Args)]
struct CodegenArgs {
    /// Wait for each `wgmma` product right after issuing it, in source
    /// order (the code before products ran until read; for comparison).
    #[arg(long)]
    sync_wgmma: bool,
    /// Give pipelined copies of loads with `eviction_policy` an L2 cache
    /// policy (`cp.async ... .L2::cache_hint`; sm_89/sm_90/sm_90a). Off by
    /// default: ptxas 13.0 miscompiles it in pipelined loops (an illegal
    /// instruction on the H100); for a later ptxas.
    #[arg(long)]
    l2_cache_hints: bool,
    /// Copy pipelined block loads with `cp.async` even where the bulk
    /// tensor copy engine (TMA) could, on sm_90a (for comparison).
    #[arg(long)]
    cp_async_only: bool,
    /// Copy bulk-stored blocks out one row at a time even where their rows
    /// are contiguous and one copy would do, on sm_90a (for comparison).
    #[arg(long)]
    bulk_store_rows: bool,
}

impl From<CodegenArgs> for Codegen {
    fn from(args: CodegenArgs) -> Codegen {
        Codegen {
            sync_wgmma: args.sync_wgmma,
            l2_cache_hints: args.l2_cache_hints,
            cp_async_only: args.cp_async_only,
            bulk_store_rows: args.bulk_store_rows,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { files } => commands::check::run(&files),
        Command::Emit { file, kernel, consts, stage, print_after_all, divisible, unit, arch, codegen } => {
            let what =
                commands::emit::Emit { stage: &stage, print_after_all, divisible: &divisible, unit: &unit, arch };
            commands::emit::run(&file, kernel.as_deref(), &consts, &what, codegen.into())
        }
        Command::Run { file, interp: _, kernel, consts, args, show, seed, interleave } => {
            let interleave = interleave.map(|resident| tessera_interp::Interleave { resident, seed });
            commands::run::run(&file, kernel.as_deref(), &consts, &args, &show, seed, interleave)
        }
        Command::Demo { dir, no_ptx } => commands::demo::run(&dir, !no_ptx),
        Command::Build { files, output, arch, consts, kernels, jobs, codegen } => {
            commands::build::run(&files, &output, &arch, &consts, &kernels, jobs, codegen.into())
        }
        Command::Explain { code } => commands::explain::run(code.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}
