//! `tessera explain`: what each stable diagnostic code means.

use crate::error::{CliError, CliResult, UNKNOWN_CODE};
use std::process::ExitCode;

/// Every code of every stage, in code order.
pub fn all_codes() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<(&str, &str)> = [
        tessera_syntax::codes::ALL,
        tessera_frontend::codes::ALL,
        tessera_tir::codes::ALL,
        tessera_interp::codes::ALL,
        crate::error::ALL,
        tessera_backend::codes::ALL,
        tessera_build::codes::ALL,
    ]
    .concat();
    all.sort();
    all
}

pub fn run(code: Option<&str>) -> CliResult<ExitCode> {
    let all = all_codes();
    match code {
        None => {
            for (code, summary) in &all {
                println!("{code}  {summary}");
            }
        }
        Some(code) => {
            let code = code.to_ascii_uppercase();
            let (code, summary) = all.iter().find(|(c, _)| *c == code).ok_or_else(|| {
                CliError::new(UNKNOWN_CODE, format!("no diagnostic code `{code}`"))
                    .with_help("`tessera explain` lists all codes")
            })?;
            println!("{code}: {summary}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
