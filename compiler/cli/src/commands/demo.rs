//! `tessera demo`: the main job on the built-in default. Every kernel of
//! every `.tsr` file in a folder is specialized at every point of its tuning
//! space, and each kernel listed in the folder's `demo.args` runs on the
//! interpreter with those arguments.
//!
//! `demo.args` holds one launch per line: `FILE KERNEL [NAME=VALUE]...`,
//! where `NAME=VALUE` is a compile-time constant when NAME is one (or
//! `warps`/`stages`) and a launch argument otherwise (see `launch_args`).
//! `#` starts a comment.

use crate::commands::run::{execute, summarize};
use crate::error::{BAD_ARG, CANNOT_READ, CliError, CliResult, SOURCE_ERRORS};
use crate::launch_args;
use crate::source::{load, parse_const_value, read};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;
use tessera_frontend::ConstValue;

pub fn run(dir: &Path) -> CliResult<ExitCode> {
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
                println!("{:<28} {:<26} {:>8} {:>8} {:>10}", file, sig.name, "-", "-", format!("({} from caller)", open.name));
                continue;
            }
            let points = sig.tune.points();
            let start = Instant::now();
            let mut ops = 0;
            for point in &points {
                match source.lower(&sig.name, point) {
                    Ok(k) => ops = ops.max(count_ops(&k.body)),
                    Err(_) => failures += 1,
                }
            }
            let ms = start.elapsed().as_secs_f64() * 1e3 / points.len() as f64;
            println!("{:<28} {:<26} {:>8} {:>8} {:>10.2}", file, sig.name, points.len(), ops, ms);
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
                let value = word.split_once('=').and_then(|(_, v)| parse_const_value(v));
                let value: ConstValue = value.ok_or_else(|| CliError::new(BAD_ARG, format!("{at}: bad constant `{word}`")))?;
                consts.push((name.to_string(), value));
            } else {
                args.push(word.to_string());
            }
        }
        let k = source.lower(kernel, &consts)?;
        let mut launch = launch_args::build(&k, &args, 0).map_err(|e| CliError { message: format!("{at}: {}", e.message), ..e })?;
        let (stats, seconds) = execute(&k, &mut launch)?;
        println!("{kernel} ({file}): {} programs, {} ops in {:.3} s", stats.programs, stats.ops_executed, seconds);
        let mut outputs: Vec<_> = launch.buffer_of.iter().collect();
        outputs.sort();
        for (name, index) in outputs {
            println!("    {name:<8} {}", summarize(&launch.buffers[*index]));
        }
    }
    if failures > 0 {
        return Err(CliError::new(SOURCE_ERRORS, format!("{failures} variant(s) failed to compile")));
    }
    println!("\nall kernels compiled; see `./dev.sh test` for the checks against float64 references");
    Ok(ExitCode::SUCCESS)
}

fn count_ops(region: &tessera_tir::Region) -> usize {
    let mut n = 0;
    tessera_tir::walk_ops(region, &mut |_| n += 1);
    n
}
