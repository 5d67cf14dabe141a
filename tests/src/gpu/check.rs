//! `tessera-gpucheck`: every variant a case selects, run on the GPU through
//! the runtime, against the interpreter running the same specialization on
//! the same inputs, and both against the float64 reference where one exists.
//!
//! Host work (compiling specializations, interpreting, references) happens
//! before the GPU runs, spread over threads; each distinct specialization is
//! interpreted once per case (variants differing only in warps or stages
//! share it).

use crate::compare::Tolerance;
use crate::gpu::RunError;
use crate::gpu::access::has_tf32_dot;
use crate::gpu::cases::{Case, parse_cases};
use crate::gpu::compare::{compare_buffers, tolerance_for};
use crate::gpu::device::{DeviceArgs, open_runtime, subset_bundle};
use crate::gpu::inputs::{HostArgs, HostValue, case_seed, materialize};
use crate::gpu::reference::{Expected, expected};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use tessera_runtime::bundle::{ConstValue as BundleConst, VariantEntry};
use tessera_runtime::{Bundle, KernelHandle, Runtime};
use tessera_tir::{ConstValue, Kernel, ScalarType};

/// What to check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    pub bundle: PathBuf,
    /// The folder of the `.tsr` files the bundle was compiled from.
    pub sources: PathBuf,
    pub cases: PathBuf,
    /// Every variant a case matches, instead of the one nearest the defaults.
    pub all_variants: bool,
    /// The run's seed; None draws one from the clock.
    pub seed: Option<u64>,
    /// Threads for host work.
    pub threads: usize,
}

/// The verdicts of a run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Kernels of the bundle no case launched.
    pub not_checked: Vec<String>,
}

/// Output buffers by name, whole.
type Outputs = Vec<(String, Vec<f64>)>;

/// A case made ready on the host.
struct Prepared {
    case: Case,
    /// Compile-time values the case gives (not warps or stages).
    consts: Vec<(String, ConstValue)>,
    warps: Option<u32>,
    stages: Option<u32>,
    /// The specialization at the case's values and the defaults.
    default: Kernel,
    host: HostArgs,
    source: String,
}

/// Runs the check, printing one line per (case, variant) and a summary.
pub fn run(opts: &CheckOptions, out: &mut dyn FnMut(&str)) -> Result<Summary, RunError> {
    let bundle = Bundle::open(&opts.bundle).map_err(|e| RunError::Input(e.to_string()))?;
    let text = std::fs::read_to_string(&opts.cases)
        .map_err(|e| RunError::Input(format!("cannot read case file `{}`: {e}", opts.cases.display())))?;
    let cases = parse_cases(&text).map_err(|e| RunError::Input(format!("{}: {e}", opts.cases.display())))?;
    let seed = opts.seed.unwrap_or_else(clock_seed);
    let mut summary = Summary::default();
    out(&format!(
        "tessera-gpucheck: {} cases from {}, bundle {}, seed {seed} (replay with --seed {seed})",
        cases.len(),
        opts.cases.display(),
        opts.bundle.display()
    ));

    let mut prepared = Vec::new();
    for (index, case) in cases.into_iter().enumerate() {
        let at = format!("{}:{}", opts.cases.display(), case.line);
        if bundle.data().kernel(&case.kernel).is_none() {
            out(&format!("SKIP  {}  ({at}): not in the bundle", case.label()));
            summary.skipped += 1;
            continue;
        }
        match prepare(opts, &bundle, case.clone(), case_seed(seed, index)) {
            Ok(p) => prepared.push(p),
            Err(e) => {
                out(&format!("FAIL  {}  ({at}): {e}", case.label()));
                summary.failed += 1;
            }
        }
    }

    let rt = open_runtime().map_err(RunError::NoGpu)?;
    out(&format!("device: {} ({})", rt.info().name, rt.info().arch));

    // The variants of each case, then the host work they need.
    let mut plans: Vec<(usize, KernelHandle, Vec<usize>)> = Vec::new();
    for (i, p) in prepared.iter().enumerate() {
        let handle = bundle.kernel(&p.case.kernel).map_err(|e| RunError::Input(e.to_string()))?;
        let at = format!("{}:{}", opts.cases.display(), p.case.line);
        let candidates = match handle.candidates(&rt) {
            Ok(c) => c,
            Err(e) => {
                out(&format!("FAIL  {}  ({at}): {e}", p.case.label()));
                summary.failed += 1;
                continue;
            }
        };
        let matching: Vec<usize> =
            candidates.iter().map(|c| c.variant).filter(|&v| matches_case(&handle.variants()[v], p)).collect();
        // Variants whose `require` conditions the case's arguments break
        // (a softmax BLOCK shorter than its rows) are not runs of the case.
        let ints = |name: &str| p.host.scalar(name).filter(|v| v.fract() == 0.0).map(|v| v as i64);
        let (admitted, refused): (Vec<usize>, Vec<usize>) = matching
            .into_iter()
            .partition(|&v| tessera_runtime::admits_with(handle.decl(), &handle.variants()[v].info, &ints));
        if !refused.is_empty() && opts.all_variants {
            let mut conditions: Vec<String> = handle.decl().require.iter().map(|r| format!("`{r}`")).collect();
            if refused.iter().any(|&v| handle.variants()[v].info.is_specialized()) {
                conditions.push("their assumptions (divisible by 16, equal to 1)".into());
            }
            out(&format!(
                "SKIP  {}  ({at}): {} variant(s) break {} for these arguments",
                p.case.label(),
                refused.len(),
                conditions.join(" or ")
            ));
        }
        let chosen = if opts.all_variants { admitted } else { nearest_default(&handle, &admitted, p) };
        if chosen.is_empty() {
            // A specialization the bundle was not built with: nothing to check.
            out(&format!(
                "SKIP  {}  ({at}): the bundle has no variant with {} for this device",
                p.case.label(),
                describe_consts(p)
            ));
            summary.skipped += 1;
            continue;
        }
        plans.push((i, handle, chosen));
    }
    let host = host_work(&prepared, &plans, opts.threads.max(1));

    let mut launched: BTreeSet<String> = BTreeSet::new();
    for (i, handle, chosen) in &plans {
        let p = &prepared[*i];
        launched.insert(p.case.kernel.clone());
        let tf32 = has_tf32_dot(&p.default);
        let reference = host.references.get(i);
        for &v in chosen {
            let variant = &handle.variants()[v];
            let key = (*i, const_key(&variant.info.consts));
            let interp = host.interp.get(&key);
            let (ok, detail) = check_variant(&rt, bundle.data(), p, variant, tf32, interp, reference);
            let verdict = if ok { "PASS" } else { "FAIL" };
            if ok {
                summary.passed += 1;
            } else {
                summary.failed += 1;
            }
            out(&format!(
                "{verdict}  {}  [{}]  ({}:{}): {detail}",
                p.case.label(),
                variant.info.label(),
                opts.cases.display(),
                p.case.line
            ));
        }
    }
    summary.not_checked = bundle
        .data()
        .manifest()
        .kernels
        .iter()
        .map(|k| k.decl.name.clone())
        .filter(|name| !launched.contains(name))
        .collect();
    for name in &summary.not_checked {
        out(&format!("NOT CHECKED  {name}: no case launches it"));
    }
    out(&format!(
        "summary: {} passed, {} failed, {} skipped, {} kernels not checked",
        summary.passed,
        summary.failed,
        summary.skipped,
        summary.not_checked.len()
    ));
    Ok(summary)
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
}

fn prepare(opts: &CheckOptions, bundle: &Bundle, case: Case, seed: u64) -> Result<Prepared, String> {
    let decl = &bundle.data().kernel(&case.kernel).ok_or("not in the bundle")?.decl;
    let is_const = |n: &str| n == "warps" || n == "stages" || decl.const_params.iter().any(|c| c.name == n);
    let (const_text, arg_text) = case.split(is_const);
    let mut consts = Vec::new();
    let (mut warps, mut stages) = (None, None);
    for (name, text) in const_text {
        let value = ConstValue::parse(&text).ok_or_else(|| format!("`{name}={text}` is not a compile-time value"))?;
        let knob = || match value {
            ConstValue::Int(v) if (1..=1024).contains(&v) => Ok(v as u32),
            _ => Err(format!("`{name}={text}` must be a small positive integer")),
        };
        match name.as_str() {
            "warps" => warps = Some(knob()?),
            "stages" => stages = Some(knob()?),
            _ => consts.push((name, value)),
        }
    }
    let path = opts.sources.join(&case.file);
    let source = std::fs::read_to_string(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let default = tessera_frontend::compile_str(&case.file, &source, &case.kernel, &consts)
        .map_err(|e| format!("the sources do not compile at {}:\n{e}", describe(&consts)))?;
    let host = materialize(&default, &arg_text, seed)?;
    Ok(Prepared { case, consts, warps, stages, default, host, source })
}

fn describe(consts: &[(String, ConstValue)]) -> String {
    if consts.is_empty() {
        return "the default compile-time values".into();
    }
    consts.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(",")
}

fn describe_consts(p: &Prepared) -> String {
    let mut parts = vec![describe(&p.consts)];
    parts.extend(p.warps.map(|w| format!("warps={w}")));
    parts.extend(p.stages.map(|s| format!("stages={s}")));
    parts.join(",")
}

fn same_value(bundle: &BundleConst, case: &ConstValue) -> bool {
    match (bundle, case) {
        (BundleConst::Int(a), ConstValue::Int(b)) => a == b,
        (BundleConst::Bool(a), ConstValue::Bool(b)) => a == b,
        (BundleConst::Float(a), ConstValue::Float(b)) => a == b,
        (BundleConst::Float(a), ConstValue::Int(b)) => *a == *b as f64,
        _ => false,
    }
}

fn matches_case(variant: &VariantEntry, p: &Prepared) -> bool {
    let info = &variant.info;
    p.consts.iter().all(|(name, value)| info.consts.get(name).is_some_and(|v| same_value(v, value)))
        && p.warps.is_none_or(|w| w == info.warps)
        && p.stages.is_none_or(|s| s == info.stages)
}

/// The matching variant nearest the source's defaults: fewest compile-time
/// values, warps and stages differing from the default specialization.
fn nearest_default(handle: &KernelHandle, matching: &[usize], p: &Prepared) -> Vec<usize> {
    let distance = |v: usize| {
        let info = &handle.variants()[v].info;
        let consts = p.default.consts.iter().filter(|(n, d)| !info.consts.get(n).is_some_and(|v| same_value(v, d)));
        consts.count()
            + usize::from(info.warps != p.default.meta.num_warps)
            + usize::from(info.stages != p.default.meta.num_stages)
    };
    matching.iter().copied().min_by_key(|&v| distance(v)).into_iter().collect()
}

/// A variant's compile-time values as a map key.
fn const_key(consts: &BTreeMap<String, BundleConst>) -> String {
    consts.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(",")
}

fn to_tir(value: &BundleConst) -> ConstValue {
    match value {
        BundleConst::Int(v) => ConstValue::Int(*v),
        BundleConst::Bool(v) => ConstValue::Bool(*v),
        BundleConst::Float(v) => ConstValue::Float(*v),
    }
}

/// Interpreter outputs per (case, specialization) and references per case.
struct HostResults {
    interp: BTreeMap<(usize, String), Result<Outputs, String>>,
    references: BTreeMap<usize, Result<Vec<Expected>, String>>,
}

enum Job {
    Interp { case: usize, key: String, consts: Vec<(String, ConstValue)> },
    Reference { case: usize },
}

fn host_work(prepared: &[Prepared], plans: &[(usize, KernelHandle, Vec<usize>)], threads: usize) -> HostResults {
    let mut jobs = Vec::new();
    for (i, handle, chosen) in plans {
        jobs.push(Job::Reference { case: *i });
        let mut seen = BTreeSet::new();
        for &v in chosen {
            let info = &handle.variants()[v].info;
            let key = const_key(&info.consts);
            if seen.insert(key.clone()) {
                // The launch knobs too: a `require` may read them (`BLOCK <= 2048 * warps`),
                // and any variant's knobs satisfy it with its own constants.
                let mut consts: Vec<(String, ConstValue)> =
                    info.consts.iter().map(|(n, v)| (n.clone(), to_tir(v))).collect();
                consts.push(("warps".into(), ConstValue::Int(i64::from(info.warps))));
                consts.push(("stages".into(), ConstValue::Int(i64::from(info.stages))));
                jobs.push(Job::Interp { case: *i, key, consts });
            }
        }
    }
    // Largest first would be better balanced; cases are small enough that
    // a shared queue suffices.
    let queue = Mutex::new(jobs.into_iter());
    let results = Mutex::new(HostResults { interp: BTreeMap::new(), references: BTreeMap::new() });
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let job = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                    let Some(job) = job else { break };
                    match job {
                        Job::Interp { case, key, consts } => {
                            let result = interpret(&prepared[case], &consts);
                            if let Ok(mut r) = results.lock() {
                                r.interp.insert((case, key), result);
                            }
                        }
                        Job::Reference { case } => {
                            let p = &prepared[case];
                            let result = expected(&p.case.kernel, &p.default.consts, &p.host);
                            if let (Some(result), Ok(mut r)) = (result, results.lock()) {
                                r.references.insert(case, result);
                            }
                        }
                    }
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Runs the specialization `consts` of the case's kernel on the interpreter.
fn interpret(p: &Prepared, consts: &[(String, ConstValue)]) -> Result<Outputs, String> {
    let kernel = tessera_frontend::compile_str(&p.case.file, &p.source, &p.case.kernel, consts)
        .map_err(|e| format!("the sources do not compile at {}:\n{e}", describe(consts)))?;
    let (args, mut buffers) = p.host.interp_args();
    tessera_interp::launch(&kernel, &args, &mut buffers).map_err(|e| format!("the interpreter failed: {e}"))?;
    Ok(buffer_names(&p.host)
        .into_iter()
        .zip(buffers)
        .filter(|(name, _)| p.host.outputs().contains(&name.as_str()))
        .map(|(name, b)| (name, b.to_f64()))
        .collect())
}

/// Names of the pointer arguments, in order (the interpreter's buffer order).
fn buffer_names(host: &HostArgs) -> Vec<String> {
    host.args.iter().filter(|(_, v)| matches!(v, HostValue::Buffer { .. })).map(|(n, _)| n.clone()).collect()
}

fn elem_of(host: &HostArgs, name: &str) -> ScalarType {
    host.args
        .iter()
        .find_map(|(n, v)| match v {
            HostValue::Buffer { buffer, .. } if n == name => Some(buffer.elem()),
            _ => None,
        })
        .unwrap_or(ScalarType::F32)
}

/// Launches one variant and compares every output; (passed, details).
fn check_variant(
    rt: &Runtime,
    data: &tessera_runtime::bundle::BundleData,
    p: &Prepared,
    variant: &VariantEntry,
    tf32: bool,
    interp: Option<&Result<Outputs, String>>,
    reference: Option<&Result<Vec<Expected>, String>>,
) -> (bool, String) {
    let gpu = match run_on_gpu(rt, data, p, variant) {
        Ok(outputs) => outputs,
        Err(e) => return (false, format!("GPU: {e}")),
    };
    let mut ok = true;
    let mut detail = String::new();
    let mut note = |pass: bool, text: String| {
        ok &= pass;
        if !detail.is_empty() {
            detail.push_str("; ");
        }
        detail.push_str(&text);
        if !pass {
            detail.push_str(" FAIL");
        }
    };
    let tol = |name: &str| -> Tolerance { tolerance_for(elem_of(&p.host, name), tf32) };
    match interp {
        Some(Ok(want)) => {
            for (name, got) in &gpu {
                match want.iter().find(|(n, _)| n == name) {
                    Some((_, w)) => {
                        let cmp = compare_buffers(got, w);
                        note(cmp.within(tol(name)), format!("{name} gpu~interp {cmp}"));
                    }
                    None => note(false, format!("{name}: the interpreter has no such output")),
                }
            }
        }
        Some(Err(e)) => note(false, format!("interpreter: {e}")),
        None => note(false, "interpreter: not run".into()),
    }
    match reference {
        None => detail.push_str("; no float64 reference"),
        Some(Err(e)) => note(false, format!("reference: {e}")),
        Some(Ok(expected)) => {
            for e in expected {
                let versus = |label: &str, outputs: &Outputs, note: &mut dyn FnMut(bool, String)| {
                    let Some((_, buffer)) = outputs.iter().find(|(n, _)| *n == e.output) else {
                        note(false, format!("{} {label}~f64: no such output", e.output));
                        return;
                    };
                    if e.layout.buffer_len() > buffer.len() {
                        note(false, format!("{} {label}~f64: the buffer is shorter than its view", e.output));
                        return;
                    }
                    let cmp = compare_buffers(&e.layout.gather(buffer), &e.values);
                    note(cmp.within(tol(&e.output)), format!("{} {label}~f64 {cmp}", e.output));
                    // A poisoned output must still be NaN outside its view.
                    let stray = e.layout.stray_writes(buffer);
                    if !stray.is_empty()
                        && p.host
                            .args
                            .iter()
                            .any(|(n, v)| *n == e.output && matches!(v, HostValue::Buffer { poisoned: true, .. }))
                    {
                        note(
                            false,
                            format!(
                                "{} {label}: {} writes outside the view (first at {})",
                                e.output,
                                stray.len(),
                                stray[0]
                            ),
                        );
                    }
                };
                versus("gpu", &gpu, &mut note);
                if let Some(Ok(interp)) = interp {
                    versus("interp", interp, &mut note);
                }
            }
        }
    }
    let mut line = String::new();
    let _ = write!(line, "{detail}");
    (ok, line)
}

fn run_on_gpu(
    rt: &Runtime,
    data: &tessera_runtime::bundle::BundleData,
    p: &Prepared,
    variant: &VariantEntry,
) -> Result<Outputs, String> {
    let single = subset_bundle(data, &p.case.kernel, &|v| v == variant)?;
    let handle = single.kernel(&p.case.kernel).map_err(|e| e.to_string())?;
    let args = DeviceArgs::upload(rt, &p.host, &handle.decl().params)?;
    handle.launch(rt, &args.launch_args()).map_err(|e| e.to_string())?;
    rt.synchronize().map_err(|e| format!("the kernel failed: {e}"))?;
    p.host.outputs().into_iter().map(|name| Ok((name.to_string(), args.download(rt, name)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_values_match_bundle_values_of_their_kind() {
        assert!(same_value(&BundleConst::Int(3), &ConstValue::Int(3)));
        assert!(!same_value(&BundleConst::Int(3), &ConstValue::Bool(true)));
    }
}
