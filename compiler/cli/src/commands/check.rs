//! `tessera check`: every kernel of every file, at its defaults and at every
//! tuning point, through the front end.

use crate::error::{CliError, CliResult, SOURCE_ERRORS};
use crate::source::read;
use std::path::PathBuf;
use std::process::ExitCode;
use tessera_diagnostics::{SourceMap, render_all};

pub fn run(files: &[PathBuf]) -> CliResult<ExitCode> {
    if files.is_empty() {
        return Err(
            CliError::new(crate::error::CANNOT_READ, "no files to check").with_help("tessera check kernels-dsl/*.tsr")
        );
    }
    let mut errors = 0;
    for path in files {
        let text = read(path)?;
        let mut map = SourceMap::new();
        let diagnostics = tessera_frontend::check_file(&mut map, &path.display().to_string(), &text);
        eprint!("{}", render_all(&map, &diagnostics));
        let file_errors = diagnostics.iter().filter(|d| d.is_error()).count();
        errors += file_errors;
        println!(
            "{}: {}",
            path.display(),
            if file_errors == 0 { "ok".to_string() } else { format!("{file_errors} error(s)") }
        );
    }
    if errors > 0 {
        return Err(CliError::new(SOURCE_ERRORS, format!("{errors} error(s) in total")));
    }
    Ok(ExitCode::SUCCESS)
}
