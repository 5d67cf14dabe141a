//! Reading the sources and deciding what to compile: each kernel's tuning
//! space after `--const`, its points, and their front-end specializations.
//!
//! Lowering is done here, once per point (it does not depend on the
//! architecture and takes milliseconds), so the workers only run the backend.

use crate::codes;
use crate::error::BuildError;
use crate::options::ConstArg;
use crate::report::{Reason, Rejection};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tessera_backend::GpuArch;
use tessera_diagnostics::{Diagnostic, FileId, SourceMap, render_all};
use tessera_frontend::{KernelSignature, lower_kernel};
use tessera_runtime::bundle::variant_label;
use tessera_syntax::ast;
use tessera_tir::{ConstValue, Kernel, LAUNCH_KNOBS as KNOBS, TuneSpace};

/// A parsed source file.
pub struct Source {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub map: SourceMap,
    pub file: FileId,
    pub module: ast::Module,
    pub signatures: Vec<KernelSignature>,
}

/// Reads and parses `path`; syntax and interface errors stop the build.
pub fn load(path: &Path) -> Result<Source, BuildError> {
    let cannot_read =
        |why: String| BuildError::new(codes::CANNOT_READ, format!("cannot read `{}`: {why}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| cannot_read(e.to_string()))?;
    let text = String::from_utf8(bytes.clone()).map_err(|e| cannot_read(format!("not UTF-8 text ({e})")))?;
    let mut map = SourceMap::new();
    let file = map.add(path.display().to_string(), text);
    let (module, mut diagnostics) = tessera_syntax::parse(file, &map.get(file).text);
    let (signatures, sig_diagnostics) = tessera_frontend::signatures(&map, file, &module);
    diagnostics.extend(sig_diagnostics);
    source_errors(&map, path, &diagnostics)?;
    Ok(Source { path: path.to_path_buf(), bytes, map, file, module, signatures })
}

/// An error with the rendered diagnostics when any of them is an error.
fn source_errors(map: &SourceMap, path: &Path, diagnostics: &[Diagnostic]) -> Result<(), BuildError> {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    if errors == 0 {
        return Ok(());
    }
    Err(BuildError::new(codes::SOURCE_ERRORS, format!("{errors} error(s) in `{}`", path.display()))
        .with_rendered(render_all(map, diagnostics)))
}

/// One point of a kernel's tuning space, lowered.
pub struct Spec {
    pub kernel: Kernel,
}

/// What to build of one kernel.
pub struct KernelPlan {
    pub source: usize,
    pub sig: KernelSignature,
    /// The tuning space built: the kernel's, with pinned axes narrowed.
    pub tune: Vec<(String, Vec<ConstValue>)>,
    pub specs: Vec<Spec>,
    /// Points the front end refused, once per architecture.
    pub rejected: Vec<Rejection>,
    /// Why nothing of the kernel is built, when that is known before compiling.
    pub skipped: Option<Reason>,
    /// Time spent lowering.
    pub time: Duration,
}

/// Plans every kernel of `sources`, in order; errors for duplicate kernel
/// names, `--const`s that set nothing, and kernels the front end refuses at
/// every point.
/// With `only` non-empty, just the kernels it names (each must exist).
pub fn plan(
    sources: &[Source],
    consts: &[ConstArg],
    only: &[String],
    archs: &[GpuArch],
) -> Result<Vec<KernelPlan>, BuildError> {
    let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
    for source in sources {
        for sig in &source.signatures {
            if let Some(first) = seen.insert(&sig.name, &source.path) {
                return Err(BuildError::new(
                    codes::DUPLICATE_KERNEL,
                    format!(
                        "kernel `{}` is defined in `{}` and in `{}`",
                        sig.name,
                        first.display(),
                        source.path.display()
                    ),
                )
                .with_help("a bundle holds each kernel name once: rename one, or build them into separate bundles"));
            }
        }
    }
    check_consts_used(sources, consts)?;
    if let Some(missing) = only.iter().find(|name| !seen.contains_key(name.as_str())) {
        let names: Vec<&str> = seen.keys().copied().collect();
        return Err(BuildError::new(
            codes::UNKNOWN_KERNEL,
            format!("--kernel {missing}: no such kernel in the sources"),
        )
        .with_help(format!("the kernels are: {}", names.join(", "))));
    }
    let mut plans = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        for sig in source.signatures.iter().filter(|sig| only.is_empty() || only.contains(&sig.name)) {
            plans.push(plan_kernel(index, source, sig, consts, archs)?);
        }
    }
    Ok(plans)
}

/// Whether `sig` tunes `name`.
fn tunes(sig: &KernelSignature, name: &str) -> bool {
    sig.tune.axes.iter().any(|(axis, _)| axis == name)
}

fn declares(sig: &KernelSignature, name: &str) -> bool {
    KNOBS.contains(&name) || sig.const_param(name).is_some()
}

/// Every `--const` must set something: a qualified one names a kernel and one
/// of its parameters; an unqualified one a parameter some kernel does not tune.
fn check_consts_used(sources: &[Source], consts: &[ConstArg]) -> Result<(), BuildError> {
    let sigs = || sources.iter().flat_map(|s| &s.signatures);
    for c in consts {
        let text =
            format!("--const {}{}={}", c.kernel.as_ref().map(|k| format!("{k}.")).unwrap_or_default(), c.name, c.value);
        match &c.kernel {
            Some(kernel) => {
                let Some(sig) = sigs().find(|s| s.name == *kernel) else {
                    let names: Vec<&str> = sigs().map(|s| s.name.as_str()).collect();
                    return Err(BuildError::new(
                        codes::UNUSED_CONST,
                        format!("{text}: no kernel `{kernel}` in the sources"),
                    )
                    .with_help(format!("the kernels are: {}", names.join(", "))));
                };
                if !declares(sig, &c.name) {
                    let names: Vec<&str> = sig.const_params.iter().map(|p| p.name.as_str()).chain(KNOBS).collect();
                    return Err(BuildError::new(
                        codes::UNUSED_CONST,
                        format!("{text}: kernel `{kernel}` has no compile-time parameter `{}`", c.name),
                    )
                    .with_help(format!("`{kernel}` takes: {}", names.join(", "))));
                }
            }
            None => {
                if sigs().any(|s| declares(s, &c.name) && !tunes(s, &c.name)) {
                    continue;
                }
                let error = BuildError::new(codes::UNUSED_CONST, format!("{text} sets no kernel's parameter"));
                let tuned_by: Vec<&str> = sigs().filter(|s| tunes(s, &c.name)).map(|s| s.name.as_str()).collect();
                return Err(match tuned_by.first() {
                    Some(first) => error.with_help(format!(
                        "`{}` is tuned by {}; pin one kernel's axis with --const {first}.{}={}",
                        c.name,
                        tuned_by.join(", "),
                        c.name,
                        c.value
                    )),
                    None => error.with_help("no kernel of the sources declares a compile-time parameter of that name"),
                });
            }
        }
    }
    Ok(())
}

fn plan_kernel(
    index: usize,
    source: &Source,
    sig: &KernelSignature,
    consts: &[ConstArg],
    archs: &[GpuArch],
) -> Result<KernelPlan, BuildError> {
    let started = Instant::now();
    let mine: Vec<&ConstArg> = consts.iter().filter(|c| c.applies_to(&sig.name)).collect();
    // A qualified --const pins a tuned axis; an unqualified one never touches one.
    let tune: Vec<(String, Vec<ConstValue>)> = sig
        .tune
        .axes
        .iter()
        .map(|(name, values)| {
            let pinned = mine.iter().rev().find(|c| c.kernel.is_some() && c.name == *name);
            (name.clone(), pinned.map_or_else(|| dedup(values), |c| vec![c.value.clone()]))
        })
        .collect();
    let mut fixed: Vec<(String, ConstValue)> = Vec::new();
    for c in &mine {
        if !tunes(sig, &c.name) && declares(sig, &c.name) {
            fixed.retain(|(name, _)| *name != c.name);
            fixed.push((c.name.clone(), c.value.clone()));
        }
    }
    let mut plan = KernelPlan {
        source: index,
        sig: sig.clone(),
        tune: tune.clone(),
        specs: Vec::new(),
        rejected: Vec::new(),
        skipped: None,
        time: Duration::ZERO,
    };
    let missing = sig
        .const_params
        .iter()
        .find(|c| c.default.is_none() && !tunes(sig, &c.name) && !fixed.iter().any(|(name, _)| *name == c.name));
    if let Some(c) = missing {
        plan.skipped = Some(Reason::new(
            codes::MISSING_CONST,
            format!(
                "compile-time parameter `{}` has no default, no tune list and no --const; \
                 pass --const {}={} (or --const {}.{}=...)",
                c.name,
                c.name,
                example(c.ty),
                sig.name,
                c.name
            ),
        ));
        return Ok(plan);
    }
    let mut failures: Vec<Diagnostic> = Vec::new();
    for point in (TuneSpace { axes: tune }).points() {
        let mut values = point;
        values.extend(fixed.iter().cloned());
        match lower_kernel(&source.map, source.file, &source.module, &sig.name, &values) {
            Ok(kernel) => plan.specs.push(Spec { kernel }),
            Err(diagnostics) => {
                let errors: Vec<Diagnostic> = diagnostics.into_iter().filter(Diagnostic::is_error).collect();
                let Some(first) = errors.first() else { continue };
                // A point the kernel's `require` conditions exclude needs no
                // rendered source: the message names the values.
                let excluded = errors.iter().all(|d| d.code == tessera_frontend::codes::REQUIRE_FAILED);
                let reason = Reason::new(first.code, first.message.clone());
                let reason =
                    if excluded { reason } else { reason.with_detail(render_all(&source.map, &errors).trim_end()) };
                for arch in archs {
                    plan.rejected.push(Rejection { variant: label(&values, *arch), reason: reason.clone() });
                }
                failures.extend(errors);
            }
        }
    }
    if plan.specs.is_empty() && !failures.is_empty() {
        let mut unique: Vec<Diagnostic> = Vec::new();
        for d in failures {
            if !unique.iter().any(|u| u.code == d.code && u.span == d.span && u.message == d.message) {
                unique.push(d);
            }
        }
        return Err(BuildError::new(
            codes::SOURCE_ERRORS,
            format!("kernel `{}` in `{}` has errors at every tuning point", sig.name, source.path.display()),
        )
        .with_rendered(render_all(&source.map, &unique)));
    }
    plan.time = started.elapsed();
    Ok(plan)
}

/// The values of an axis without repeats, in order.
fn dedup(values: &[ConstValue]) -> Vec<ConstValue> {
    let mut out: Vec<ConstValue> = Vec::new();
    for v in values {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    out
}

fn example(ty: tessera_tir::ScalarType) -> &'static str {
    if ty.is_bool() {
        "true"
    } else if ty.is_int() {
        "1024"
    } else {
        "1.0"
    }
}

/// The runtime's label of a variant (`VariantInfo::label`) for a point the
/// front end refused: compile-time values by name, then warps and stages
/// (the language's defaults, 4 and 1, when the point does not set them),
/// and the occupancy when it is not 1.
pub fn label(values: &[(String, ConstValue)], arch: GpuArch) -> String {
    let knob = |name: &str, default: i64| {
        values.iter().rev().find(|(n, _)| n == name).map_or(default.to_string(), |(_, v)| v.to_string())
    };
    let consts: BTreeMap<&str, &ConstValue> =
        values.iter().filter(|(n, _)| !KNOBS.contains(&n.as_str())).map(|(n, v)| (n.as_str(), v)).collect();
    let consts = consts.into_iter().map(|(name, value)| format!("{name}={value}"));
    variant_label(consts, [knob("warps", 4), knob("stages", 1), knob("occupancy", 1)], arch.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_the_runtime_spelling() {
        let values = vec![
            ("warps".to_string(), ConstValue::Int(8)),
            ("ZED".to_string(), ConstValue::Float(0.5)),
            ("BLOCK".to_string(), ConstValue::Int(256)),
        ];
        assert_eq!(label(&values, GpuArch::Sm80), "BLOCK=256,ZED=0.5,warps=8,stages=1@sm_80");
        assert_eq!(label(&[], GpuArch::Sm90a), "warps=4,stages=1@sm_90a");
    }
}
