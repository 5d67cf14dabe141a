//! `tessera demo`: the main job on the built-in default. Every kernel of
//! every `.tsr` file in a folder is specialized at every point of its tuning
//! space, and each kernel listed in the folder's `demo.args` runs on the
//! interpreter with those arguments.
//!
//! `demo.args` holds one launch per line: `FILE KERNEL [NAME=VALUE]...`,
//! where `NAME=VALUE` is a compile-time constant when NAME is one (or
//! `warps`/`stages`) and a launch argument otherwise (see `launch_args`).
//! `#` starts a comment.
//!
//! Last, every variant goes through the GPU backend to PTX for sm_90a (and
//! through ptxas when it is installed): a table of registers, spills, shared
//! memory and PTX size, then the kernels the backend does not support yet and why.

use crate::commands::run::{execute, summarize};
use crate::error::{BAD_ARG, CANNOT_READ, CliError, CliResult, SOURCE_ERRORS};
use crate::source::{LoadedSource, load, read};
use crate::{cuda_tools, gpu, launch_args};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;
use tessera_backend::{GpuArch, Target, codes, compile_kernel, normalize::normalize_ptx, ptxas::Ptxas};
use tessera_frontend::{ConstValue, KernelSignature};

/// The architecture of the demo's PTX table.
const DEMO_ARCH: GpuArch = GpuArch::Sm90a;

pub fn run(dir: &Path, with_ptx: bool) -> CliResult<ExitCode> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| CliError::new(CANNOT_READ, format!("cannot read folder `{}`: {e}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "tsr"))
        .collect();
    files.sort();

    println!("compiling {} files in {}", files.len(), dir.display());
    println!("{:<28} {:<26} {:>8} {:>8} {:>10}", "file", "kernel", "variants", "ops", "ms/variant");
    let mut failures = 0;
    for path in &files {
        let source = load(path)?;
        for sig in &source.signatures {
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            // A compile-time parameter with no default and no tuning list is the
            // caller's choice (e.g. softmax's BLOCK >= cols): demo.args gives it.
            let tuned = |name: &str| sig.tune.axes.iter().any(|(axis, _)| axis == name);
            if let Some(open) = sig.const_params.iter().find(|c| c.default.is_none() && !tuned(&c.name)) {
                println!(
                    "{:<28} {:<26} {:>8} {:>8} {:>10}",
                    file,
                    sig.name,
                    "-",
                    "-",
                    format!("({} from caller)", open.name)
                );
                continue;
            }
            let points = sig.tune.points();
            let start = Instant::now();
            let mut ops = 0;
            let mut variants = 0;
            for point in &points {
                match source.lower_point(&sig.name, point) {
                    Ok(Some(k)) => {
                        ops = ops.max(count_ops(&k.body));
                        variants += 1;
                    }
                    // Excluded by the kernel's `require` conditions: not a variant.
                    Ok(None) => {}
                    Err(_) => failures += 1,
                }
            }
            let ms = start.elapsed().as_secs_f64() * 1e3 / points.len() as f64;
            println!("{:<28} {:<26} {:>8} {:>8} {:>10.2}", file, sig.name, variants, ops, ms);
        }
    }

    let args_path = dir.join("demo.args");
    let listing = read(&args_path)?;
    println!("\nrunning on the CPU interpreter ({})", args_path.display());
    for (line_no, line) in listing.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let at = format!("{}:{}", args_path.display(), line_no + 1);
        let mut words = line.split_whitespace();
        let (Some(file), Some(kernel)) = (words.next(), words.next()) else {
            return Err(CliError::new(BAD_ARG, format!("{at}: expected `FILE KERNEL NAME=VALUE...`")));
        };
        let source = load(&dir.join(file))?;
        let sig = source.kernel(Some(kernel))?;
        let mut consts = Vec::new();
        let mut args = Vec::new();
        for word in words {
            let name = word.split('=').next().unwrap_or("");
            let is_const = sig.const_params.iter().any(|c| c.name == name) || name == "warps" || name == "stages";
            if is_const {
                let value = word.split_once('=').and_then(|(_, v)| ConstValue::parse(v));
                let value: ConstValue =
                    value.ok_or_else(|| CliError::new(BAD_ARG, format!("{at}: bad constant `{word}`")))?;
                consts.push((name.to_string(), value));
            } else {
                args.push(word.to_string());
            }
        }
        let k = source.lower(kernel, &consts)?;
        let mut launch =
            launch_args::build(&k, &args, 0).map_err(|e| CliError { message: format!("{at}: {}", e.message), ..e })?;
        let (stats, seconds) = execute(&k, &mut launch, None)?;
        println!("{kernel} ({file}): {} programs, {} ops in {:.3} s", stats.programs, stats.ops_executed, seconds);
        let mut outputs: Vec<_> = launch.buffer_of.iter().collect();
        outputs.sort();
        for (name, index) in outputs {
            println!("    {name:<8} {}", summarize(&launch.buffers[*index]));
        }
    }
    if with_ptx {
        failures += ptx_table(dir, &files, &listing)?;
    }
    if failures > 0 {
        return Err(CliError::new(SOURCE_ERRORS, format!("{failures} variant(s) failed to compile")));
    }
    println!("\nall kernels compiled; see `./dev.sh test` for the checks against float64 references");
    Ok(ExitCode::SUCCESS)
}

/// Compiles every variant of every kernel to PTX for [`DEMO_ARCH`] and prints
/// one row per variant; kernels the backend declines are listed after the
/// table with the reason. Returns how many variants failed with a real error
/// (printed on stderr).
fn ptx_table(dir: &Path, files: &[std::path::PathBuf], listing: &str) -> CliResult<usize> {
    let ptxas = cuda_tools::locate("ptxas").map(Ptxas::at);
    println!("\ncompiling every variant to PTX for {DEMO_ARCH}");
    match &ptxas {
        Some(p) => println!("registers and spills from {}", p.path().display()),
        None => println!("ptxas not found: no registers or spills ({})", cuda_tools::install_help()),
    }
    println!(
        "{:<26} {:<56} {:>9} {:>15} {:>9} {:>9}",
        "kernel", "variant", "registers", "spills (st/ld)", "shared B", "PTX lines"
    );
    let mut failures = 0;
    // (kernel, reason, variants): one line per reason, however many variants share it.
    let mut unsupported: Vec<(String, String, usize)> = Vec::new();
    // Variants that do not fit the target (E0816), which `tessera build` leaves out too.
    let mut rejected: Vec<String> = Vec::new();
    for path in files {
        let source = load(path)?;
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        for sig in &source.signatures {
            let caller = match caller_consts(listing, &file, sig) {
                Ok(consts) => consts,
                Err(missing) => {
                    let reason = format!("`{missing}` has no default: give it in {}", dir.join("demo.args").display());
                    unsupported.push((sig.name.clone(), reason, 1));
                    continue;
                }
            };
            for point in sig.tune.points() {
                let consts: Vec<(String, ConstValue)> = caller.iter().cloned().chain(point).collect();
                let mut variant = consts.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(" ");
                if variant.is_empty() {
                    variant = "defaults".to_string();
                }
                let kernel = match source.lower_point(&sig.name, &consts) {
                    Ok(Some(kernel)) => kernel,
                    Ok(None) => continue,
                    Err(_) => {
                        failures += 1;
                        continue;
                    }
                };
                match compile_variant(&kernel, ptxas.as_ref(), &source, path, &sig.name) {
                    Ok(row) => println!("{:<26} {:<56} {row}", sig.name, variant),
                    Err(Declined(reason)) => match unsupported.iter_mut().find(|u| u.0 == sig.name && u.1 == reason) {
                        Some(entry) => entry.2 += 1,
                        None => unsupported.push((sig.name.clone(), reason, 1)),
                    },
                    Err(Rejected(reason)) => rejected.push(reason),
                    Err(Failed(error)) => {
                        eprintln!("{error}");
                        failures += 1;
                    }
                }
            }
        }
    }
    if !rejected.is_empty() {
        println!("\nrejected: the variant does not fit {DEMO_ARCH} (`tessera build` leaves these out of bundles):");
        for reason in &rejected {
            println!("  {reason}");
        }
    }
    if !unsupported.is_empty() {
        println!("\nnot compiled by the backend yet:");
        for (kernel, reason, variants) in &unsupported {
            let plural = if *variants == 1 { "" } else { "s" };
            println!("  {kernel} ({variants} variant{plural}): {reason}");
        }
    }
    Ok(failures)
}

/// Why a variant has no row.
enum NoRow {
    /// The backend does not support the kernel (yet or on this target): the reason.
    Declined(String),
    /// The variant needs more registers or shared memory than the target has.
    Rejected(String),
    /// A real error.
    Failed(CliError),
}
use NoRow::{Declined, Failed, Rejected};

/// The table columns after kernel and variant.
fn compile_variant(
    kernel: &tessera_tir::Kernel,
    ptxas: Option<&Ptxas>,
    source: &LoadedSource,
    path: &Path,
    name: &str,
) -> Result<String, NoRow> {
    let at = gpu::Context { kernel: name, file: path, arch: DEMO_ARCH, stage: "ptx", codegen: Default::default() };
    let mut compiled = match compile_kernel(kernel, &Target::new(DEMO_ARCH)) {
        Ok(compiled) => compiled,
        Err(error) if gpu::is_unsupported(&error) => {
            let loc = error.loc.map(|l| format!(" ({}:{}:{})", source.map.get(source.file).name, l.line, l.col));
            return Err(Declined(format!("[{}] {}{}", error.code(), error.message, loc.unwrap_or_default())));
        }
        Err(error) if error.code() == codes::RESOURCE_LIMIT => {
            return Err(Rejected(format!("[{}] {}", error.code(), error.message)));
        }
        Err(error) => return Err(Failed(gpu::report(&error, &at))),
    };
    let (registers, spills) = match ptxas {
        Some(ptxas) => {
            let stats = compiled.assemble(ptxas).map_err(|e| Failed(gpu::report(&e, &at)))?;
            (stats.registers.to_string(), format!("{}/{} B", stats.spill_store_bytes, stats.spill_load_bytes))
        }
        None => ("-".to_string(), "-".to_string()),
    };
    let lines = normalize_ptx(&compiled.ptx).lines().count();
    Ok(format!("{registers:>9} {spills:>15} {:>9} {lines:>9}", compiled.shared_bytes))
}

/// The values `demo.args` gives for the kernel's compile-time parameters that
/// have neither a default nor a tuning list (its first line for the kernel);
/// `Err(name)` names one it does not give.
fn caller_consts(listing: &str, file: &str, sig: &KernelSignature) -> Result<Vec<(String, ConstValue)>, String> {
    let tuned = |name: &str| sig.tune.axes.iter().any(|(axis, _)| axis == name);
    let open: Vec<&str> =
        sig.const_params.iter().filter(|c| c.default.is_none() && !tuned(&c.name)).map(|c| c.name.as_str()).collect();
    let line = listing
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").split_whitespace().collect::<Vec<_>>())
        .find(|words| matches!(words.as_slice(), [f, k, ..] if *f == file && *k == sig.name))
        .unwrap_or_default();
    open.into_iter()
        .map(|name| {
            line.iter()
                .filter_map(|word| word.split_once('='))
                .find(|(n, _)| *n == name)
                .and_then(|(_, value)| ConstValue::parse(value))
                .map(|value| (name.to_string(), value))
                .ok_or_else(|| name.to_string())
        })
        .collect()
}

fn count_ops(region: &tessera_tir::Region) -> usize {
    let mut n = 0;
    tessera_tir::walk_ops(region, &mut |_| n += 1);
    n
}
