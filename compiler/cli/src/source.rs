//! Loading kernel sources and choosing a specialization from the command line.

use crate::error::{BAD_CONST, CANNOT_READ, CliError, CliResult, SOURCE_ERRORS, UNKNOWN_KERNEL};
use std::path::Path;
use tessera_diagnostics::{Diagnostic, FileId, SourceMap, render_all};
use tessera_frontend::{ConstValue, KernelSignature};
use tessera_syntax::ast;

/// A parsed source file and the signatures of its kernels.
pub struct LoadedSource {
    pub map: SourceMap,
    pub file: FileId,
    pub module: ast::Module,
    pub signatures: Vec<KernelSignature>,
}

pub fn read(path: &Path) -> CliResult<String> {
    std::fs::read_to_string(path)
        .map_err(|e| CliError::new(CANNOT_READ, format!("cannot read `{}`: {e}", path.display())))
}

/// Read and parse `path`; syntax and signature errors are rendered and fail.
pub fn load(path: &Path) -> CliResult<LoadedSource> {
    let text = read(path)?;
    let mut map = SourceMap::new();
    let file = map.add(path.display().to_string(), text);
    let (module, mut diagnostics) = tessera_syntax::parse(file, &map.get(file).text);
    let (signatures, sig_diagnostics) = tessera_frontend::signatures(&map, file, &module);
    diagnostics.extend(sig_diagnostics);
    fail_on_errors(&map, &diagnostics)?;
    Ok(LoadedSource { map, file, module, signatures })
}

/// Print diagnostics; an error among them fails the command.
pub fn fail_on_errors(map: &SourceMap, diagnostics: &[Diagnostic]) -> CliResult<()> {
    if diagnostics.is_empty() {
        return Ok(());
    }
    eprint!("{}", render_all(map, diagnostics));
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    if errors == 0 {
        return Ok(());
    }
    Err(CliError::new(
        SOURCE_ERRORS,
        format!("{errors} error(s) in `{}`", map.get(map.files().next().map_or(FileId(0), |f| f.0)).name),
    ))
}

impl LoadedSource {
    /// The kernel named on the command line, or the file's only kernel.
    pub fn kernel(&self, name: Option<&str>) -> CliResult<&KernelSignature> {
        let names = || self.signatures.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
        match name {
            Some(name) => self.signatures.iter().find(|s| s.name == name).ok_or_else(|| {
                CliError::new(UNKNOWN_KERNEL, format!("no kernel `{name}` in `{}`", self.map.get(self.file).name))
                    .with_help(format!("kernels in this file: {}", names()))
            }),
            None if self.signatures.len() == 1 => Ok(&self.signatures[0]),
            None => Err(CliError::new(
                UNKNOWN_KERNEL,
                format!(
                    "`{}` has {} kernels; say which with --kernel",
                    self.map.get(self.file).name,
                    self.signatures.len()
                ),
            )
            .with_help(format!("kernels in this file: {}", names()))),
        }
    }

    /// Lower one specialization through the default passes; its diagnostics
    /// are rendered on failure.
    pub fn lower(&self, kernel: &str, consts: &[(String, ConstValue)]) -> CliResult<tessera_tir::Kernel> {
        self.rendered(kernel, tessera_frontend::lower_kernel(&self.map, self.file, &self.module, kernel, consts))
    }

    /// Lower one tuning point: `None` when the kernel's `require` conditions
    /// exclude it (it is no variant, which is not an error).
    pub fn lower_point(&self, kernel: &str, consts: &[(String, ConstValue)]) -> CliResult<Option<tessera_tir::Kernel>> {
        match tessera_frontend::lower_kernel(&self.map, self.file, &self.module, kernel, consts) {
            Err(d) if d.iter().filter(|d| d.is_error()).all(|d| d.code == tessera_frontend::codes::REQUIRE_FAILED) => {
                Ok(None)
            }
            lowered => self.rendered(kernel, lowered).map(Some),
        }
    }

    /// Lower one specialization as the front end produced it, before any pass.
    pub fn lower_unoptimized(&self, kernel: &str, consts: &[(String, ConstValue)]) -> CliResult<tessera_tir::Kernel> {
        let lowered = tessera_frontend::lower_kernel_unoptimized(&self.map, self.file, &self.module, kernel, consts);
        self.rendered(kernel, lowered)
    }

    fn rendered(
        &self,
        kernel: &str,
        lowered: Result<tessera_tir::Kernel, Vec<Diagnostic>>,
    ) -> CliResult<tessera_tir::Kernel> {
        lowered.map_err(|diagnostics| {
            eprint!("{}", render_all(&self.map, &diagnostics));
            CliError::new(SOURCE_ERRORS, format!("kernel `{kernel}` does not compile with these parameters"))
        })
    }
}

/// Parse `--const NAME=VALUE` options.
pub fn parse_consts(consts: &[String]) -> CliResult<Vec<(String, ConstValue)>> {
    consts
        .iter()
        .map(|c| {
            let bad = || {
                CliError::new(BAD_CONST, format!("malformed --const `{c}`"))
                    .with_help("write NAME=VALUE, e.g. --const BLOCK=64 or --const EVEN=true")
            };
            let (name, value) = c.split_once('=').ok_or_else(bad)?;
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() {
                return Err(bad());
            }
            let value = ConstValue::parse(value).ok_or_else(bad)?;
            Ok((name.to_string(), value))
        })
        .collect()
}
