//! What to build: sources, output, architectures, compile-time values, jobs.

use crate::codes;
use crate::error::BuildError;
use std::path::PathBuf;
use tessera_backend::ptxas::Ptxas;
use tessera_backend::{Codegen, GpuArch};
use tessera_frontend::ConstValue;

/// A `--const`: `NAME=VALUE` for every kernel that declares `NAME` without
/// tuning it, or `KERNEL.NAME=VALUE` for one kernel, which also pins a tuned
/// `NAME` to that single value. `NAME` may be `warps` or `stages`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConstArg {
    pub kernel: Option<String>,
    pub name: String,
    pub value: ConstValue,
}

impl ConstArg {
    /// Parses `[KERNEL.]NAME=VALUE`; VALUE is an integer, a float (with `.` or
    /// an exponent) or `true`/`false`.
    pub fn parse(text: &str) -> Result<ConstArg, BuildError> {
        let bad = |why: &str| {
            BuildError::new(codes::BAD_CONST, format!("--const `{text}` {why}"))
                .with_help("write NAME=VALUE (e.g. BLOCK=1024) or KERNEL.NAME=VALUE (e.g. softmax.BLOCK=2048)")
        };
        let (target, value) = text.split_once('=').ok_or_else(|| bad("has no `=`"))?;
        let (kernel, name) = match target.trim().split_once('.') {
            Some((kernel, name)) => (Some(kernel.trim().to_string()), name.trim()),
            None => (None, target.trim()),
        };
        let is_ident = |s: &str| {
            s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if !is_ident(name) || kernel.as_deref().is_some_and(|k| !is_ident(k)) {
            return Err(bad("does not name a parameter"));
        }
        let value = parse_value(value.trim()).ok_or_else(|| bad("has a value that is no integer, float or boolean"))?;
        Ok(ConstArg { kernel, name: name.to_string(), value })
    }

    /// Whether this argument is for `kernel`.
    pub fn applies_to(&self, kernel: &str) -> bool {
        self.kernel.as_deref().is_none_or(|k| k == kernel)
    }
}

fn parse_value(text: &str) -> Option<ConstValue> {
    match text {
        "true" => return Some(ConstValue::Bool(true)),
        "false" => return Some(ConstValue::Bool(false)),
        _ => {}
    }
    if let Ok(v) = text.parse::<i64>() {
        return Some(ConstValue::Int(v));
    }
    // Digits, signs, a point and an exponent only: `inf` and `nan` parse as
    // f64 but are no compile-time values.
    let looks_float = text.contains(['.', 'e', 'E']) && text.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
    match text.parse::<f64>() {
        Ok(v) if looks_float && v.is_finite() => Some(ConstValue::Float(v)),
        _ => None,
    }
}

/// Parses a comma-separated list such as `sm_90a,sm_80` (repeats dropped, order kept).
pub fn parse_archs(text: &str) -> Result<Vec<GpuArch>, BuildError> {
    let known = || GpuArch::ALL.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ");
    let mut archs = Vec::new();
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let arch = GpuArch::from_name(name).ok_or_else(|| {
            BuildError::new(codes::BAD_ARCH, format!("unknown architecture `{name}`"))
                .with_help(format!("the backend targets {}", known()))
        })?;
        if !archs.contains(&arch) {
            archs.push(arch);
        }
    }
    if archs.is_empty() {
        return Err(BuildError::new(codes::BAD_ARCH, format!("--arch `{text}` names no architecture"))
            .with_help(format!("list one or more of {}, separated by commas", known())));
    }
    Ok(archs)
}

/// How progress is shown on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, else periodic lines.
    #[default]
    Auto,
    /// Periodic plain lines (logs, CI).
    Lines,
    /// Nothing (tests, library use).
    Off,
}

/// Everything [`crate::build`] needs.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// `.tsr` files; kernel names must be unique across them.
    pub sources: Vec<PathBuf>,
    /// The bundle to write (atomically).
    pub output: PathBuf,
    pub archs: Vec<GpuArch>,
    pub consts: Vec<ConstArg>,
    /// The kernels to build, by name; empty: every kernel of the sources.
    pub kernels: Vec<String>,
    /// Worker threads; `None`: one per available core.
    pub jobs: Option<usize>,
    /// `ptxas` for cubins and register counts; `None`: PTX only.
    pub ptxas: Option<Ptxas>,
    pub progress: ProgressMode,
    /// Code-generation switches (default: the fastest code).
    pub codegen: Codegen,
}

impl BuildOptions {
    /// Options for `sources` -> `output` for `archs`, with `ptxas` located as
    /// the backend does (`$TESSERA_PTXAS`, `$PATH`, `$CUDA_HOME/bin`).
    pub fn new(sources: Vec<PathBuf>, output: impl Into<PathBuf>, archs: Vec<GpuArch>) -> BuildOptions {
        BuildOptions {
            sources,
            output: output.into(),
            archs,
            consts: Vec::new(),
            kernels: Vec::new(),
            jobs: None,
            ptxas: Ptxas::locate(),
            progress: ProgressMode::Auto,
            codegen: Codegen::default(),
        }
    }

    /// The number of worker threads to run.
    pub fn worker_count(&self) -> usize {
        self.jobs
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consts_parse_with_and_without_a_kernel() {
        let c = ConstArg::parse("BLOCK=1024").expect("valid");
        assert_eq!(c, ConstArg { kernel: None, name: "BLOCK".into(), value: ConstValue::Int(1024) });
        assert!(c.applies_to("softmax") && c.applies_to("matmul"));
        let c = ConstArg::parse("softmax.eps = 1e-5").expect("valid");
        assert_eq!(c.kernel.as_deref(), Some("softmax"));
        assert_eq!(c.value, ConstValue::Float(1e-5));
        assert!(c.applies_to("softmax") && !c.applies_to("matmul"));
        assert_eq!(ConstArg::parse("FLAG=true").map(|c| c.value), Ok(ConstValue::Bool(true)));
        assert_eq!(ConstArg::parse("X=-2.5").map(|c| c.value), Ok(ConstValue::Float(-2.5)));
    }

    #[test]
    fn malformed_consts_are_e0722() {
        for text in ["BLOCK", "=3", "BLOCK=", "BLOCK=abc", "BLOCK=inf", "BLOCK=nan", "1X=3", "a.b.c=1", "k.=1"] {
            let error = ConstArg::parse(text).expect_err(text);
            assert_eq!(error.code, codes::BAD_CONST, "{text}");
            assert!(error.message.contains(text), "{error}");
        }
    }

    #[test]
    fn archs_parse_dedup_and_reject_unknown_names() {
        assert_eq!(parse_archs("sm_90a, sm_80,sm_90a"), Ok(vec![GpuArch::Sm90a, GpuArch::Sm80]));
        let error = parse_archs("sm_90a,sm_70").expect_err("sm_70 is not targeted");
        assert_eq!(error.code, codes::BAD_ARCH);
        assert!(error.message.contains("sm_70") && error.help.as_deref().is_some_and(|h| h.contains("sm_80")));
        assert_eq!(parse_archs(" , ").map_err(|e| e.code), Err(codes::BAD_ARCH));
    }
}
