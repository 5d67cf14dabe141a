//! `tessera build`: ahead-of-time compilation of kernel sources into a
//! `.tsb` bundle (`docs/bundle-format.md`).
//!
//! Every kernel of every source is lowered at every point of its tuning
//! space (compile-time parameters x warps x stages, after `--const` pins),
//! and each point is compiled for every requested architecture on a pool of
//! worker threads: the backend gives PTX, `ptxas` (when installed) a cubin
//! with register and spill counts. A variant that cannot run on its
//! architecture (over the shared memory, register or thread limits, refused
//! by the backend or by ptxas) is rejected with a coded reason and never
//! shipped; the build fails only when nothing at all could be built, or on
//! errors of the inputs (unreadable files, source diagnostics, bad options)
//! and of the output.
//!
//! The bundle is deterministic: the same sources and options give the same
//! bytes, whatever the number of workers or the order jobs finished in.

mod assemble;
pub mod codes;
mod decl;
mod error;
mod grid;
pub mod limits;
mod options;
mod plan;
mod progress;
mod report;
mod variant;
mod workers;

pub use error::BuildError;
pub use options::{BuildOptions, ConstArg, ProgressMode, parse_archs};
pub use report::{BuildReport, KernelReport, Reason, Rejection};

use plan::{KernelPlan, Source, Spec};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::{Duration, Instant};
use tessera_backend::GpuArch;
use tessera_runtime::BundleWriter;
use tessera_tir::ConstValue;
use variant::{Built, Variants};

/// The compiler version recorded in every bundle's manifest.
pub fn compiler_version() -> String {
    format!("tessera {}", env!("CARGO_PKG_VERSION"))
}

/// A finished job: the variant or why it was rejected, and its compile time.
type Outcome<'a> = (&'a Job, Result<Variants, Reason>, Duration);

/// One variant to compile: a lowered point of a kernel, for one architecture.
struct Job {
    kernel: usize,
    spec: usize,
    arch: GpuArch,
}

/// Builds the bundle `options` describe and writes it to `options.output`.
pub fn build(options: &BuildOptions) -> Result<BuildReport, BuildError> {
    let started = Instant::now();
    if options.sources.is_empty() {
        return Err(BuildError::new(codes::NO_SOURCES, "no source files to build")
            .with_help("name one or more .tsr files, e.g. `tessera build kernels-dsl/*.tsr -o kernels.tsb`"));
    }
    if options.archs.is_empty() {
        return Err(BuildError::new(codes::BAD_ARCH, "no architecture to build for")
            .with_help("pass --arch with one or more of sm_80, sm_86, sm_89, sm_90, sm_90a"));
    }
    if let Some(ptxas) = &options.ptxas {
        assemble::check_runs(ptxas)?;
    }
    let sources = options.sources.iter().map(|path| plan::load(path)).collect::<Result<Vec<_>, _>>()?;
    let plans = plan::plan(&sources, &options.consts, &options.kernels, &options.archs)?;

    let jobs: Vec<Job> = plans
        .iter()
        .enumerate()
        .flat_map(|(kernel, plan)| {
            (0..plan.specs.len())
                .flat_map(move |spec| options.archs.iter().map(move |&arch| Job { kernel, spec, arch }))
        })
        .collect();
    let workers = options.worker_count();
    let progress = progress::Progress::new(options.progress, jobs.len());
    let outcomes = workers::run(jobs.len(), workers, |index| {
        let started = Instant::now();
        let outcome = match jobs.get(index).and_then(|job| Some((job, spec(&plans, job)?))) {
            Some((job, spec)) => {
                let result = compile_guarded(spec, job.arch, options);
                progress.tick(&format!("{} {}", spec.kernel.name, spec_label(spec, job.arch)));
                result
            }
            None => Err(Reason::new(codes::INTERNAL_PANIC, "a build job refers to no kernel")),
        };
        (outcome, started.elapsed())
    });
    progress.finish();

    let mut per_kernel: Vec<Vec<Outcome<'_>>> = plans.iter().map(|_| Vec::new()).collect();
    for (job, (outcome, time)) in jobs.iter().zip(outcomes) {
        if let Some(bucket) = per_kernel.get_mut(job.kernel) {
            bucket.push((job, outcome, time));
        }
    }
    let source_hash = source_hash(&sources);
    let mut writer = BundleWriter::new(compiler_version(), source_hash.clone());
    let mut reports = Vec::new();
    for (plan, outcomes) in plans.iter().zip(per_kernel) {
        reports.push(add_kernel(&mut writer, &sources, plan, outcomes)?);
    }
    if reports.iter().all(|r| r.built == 0) {
        let listing = format!("{}\n{}", report_text(&reports), report::summary_table(&reports));
        return Err(BuildError::new(codes::NOTHING_BUILT, "no variant of any kernel could be built")
            .with_rendered(listing)
            .with_help("the reasons are listed above, per kernel and variant"));
    }
    let bytes = writer.to_bytes().map_err(|e| {
        BuildError::new(codes::BUNDLE_INCONSISTENT, format!("the bundle writer refused the build: {e}"))
    })?;
    write_atomic(&options.output, &bytes)?;
    Ok(BuildReport {
        output: options.output.clone(),
        bundle_bytes: bytes.len(),
        source_hash,
        kernels: reports,
        assembled: options.ptxas.is_some(),
        workers,
        elapsed: started.elapsed(),
    })
}

fn spec<'a>(plans: &'a [KernelPlan], job: &Job) -> Option<&'a Spec> {
    plans.get(job.kernel)?.specs.get(job.spec)
}

/// [`variant::compile`], with a panic of the compiler turned into a rejection
/// of that variant (the other variants still build).
fn compile_guarded(spec: &Spec, arch: GpuArch, options: &BuildOptions) -> Result<Variants, Reason> {
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        variant::compile(&spec.kernel, arch, options.codegen, options.ptxas.as_ref())
    }))
    .unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without message".into());
        Err(Reason::new(codes::INTERNAL_PANIC, format!("the compiler panicked: {what}")))
    })
}

/// The runtime's label of a lowered point's variant on `arch`.
fn spec_label(spec: &Spec, arch: GpuArch) -> String {
    let mut values = spec.kernel.consts.clone();
    values.push(("warps".into(), ConstValue::Int(i64::from(spec.kernel.meta.num_warps))));
    values.push(("stages".into(), ConstValue::Int(i64::from(spec.kernel.meta.num_stages))));
    values.push(("occupancy".into(), ConstValue::Int(i64::from(spec.kernel.meta.occupancy))));
    plan::label(&values, arch)
}

/// Adds a kernel's built variants to the bundle (when its grid can be
/// expressed for all of them) and reports on it.
fn add_kernel(
    writer: &mut BundleWriter,
    sources: &[Source],
    plan: &KernelPlan,
    outcomes: Vec<Outcome<'_>>,
) -> Result<KernelReport, BuildError> {
    let mut report = KernelReport {
        name: plan.sig.name.clone(),
        source: sources.get(plan.source).map(|s| s.path.clone()).unwrap_or_default(),
        built: 0,
        rejected: plan.rejected.clone(),
        skipped: plan.skipped.clone(),
        time: plan.time,
    };
    let mut built: Vec<(&Spec, Built, String)> = Vec::new();
    for (job, outcome, time) in outcomes {
        report.time += time;
        let Some(spec) = plan.specs.get(job.spec) else { continue };
        let label = spec_label(spec, job.arch);
        match outcome {
            Ok(variants) => {
                built.extend(variants.built.into_iter().map(|variant| (spec, variant, label.clone())));
                report.rejected.extend(variants.rejected);
            }
            Err(reason) => report.rejected.push(Rejection { variant: label, reason }),
        }
    }
    if built.is_empty() {
        return Ok(report);
    }
    let grids: Vec<grid::VariantGrid<'_>> = built
        .iter()
        .map(|(spec, _, _)| grid::VariantGrid { grid: &spec.kernel.meta.grid, consts: &spec.kernel.consts })
        .collect();
    let grid = match grid::generalize(&grids) {
        Ok(grid) => grid,
        Err(why) => {
            let reason = Reason::new(codes::GRID_NOT_EXPRESSIBLE, why).with_detail(
                "help: use each compile-time parameter by itself in `grid(...)`, e.g. `cdiv(n, BLOCK)`; \
                 a bundle evaluates one grid expression for every variant",
            );
            report
                .rejected
                .extend(built.into_iter().map(|(_, _, variant)| Rejection { variant, reason: reason.clone() }));
            report.skipped = Some(reason);
            return Ok(report);
        }
    };
    let decl = decl::kernel_decl(&plan.sig, &plan.tune, grid)
        .map_err(|why| BuildError::new(codes::BUNDLE_INCONSISTENT, format!("kernel `{}`: {why}", plan.sig.name)))?;
    let inconsistent = |e: tessera_runtime::BundleError| {
        BuildError::new(
            codes::BUNDLE_INCONSISTENT,
            format!("the bundle writer refused kernel `{}`: {e}", plan.sig.name),
        )
    };
    writer.add_kernel(decl).map_err(inconsistent)?;
    report.built = built.len();
    for (_, variant, _) in built {
        writer.add_variant(&plan.sig.name, variant.info, variant.code).map_err(inconsistent)?;
    }
    Ok(report)
}

fn report_text(kernels: &[KernelReport]) -> String {
    BuildReport {
        output: Default::default(),
        bundle_bytes: 0,
        source_hash: String::new(),
        kernels: kernels.to_vec(),
        assembled: false,
        workers: 0,
        elapsed: Duration::ZERO,
    }
    .rejections()
}

/// SHA-256 (hex) of the sources: of the file itself when there is one (so it
/// matches `sha256sum`), else of the files' digests in command-line order.
fn source_hash(sources: &[Source]) -> String {
    let digest = match sources {
        [one] => Sha256::digest(&one.bytes),
        many => {
            let mut hasher = Sha256::new();
            for source in many {
                hasher.update(Sha256::digest(&source.bytes));
            }
            hasher.finalize()
        }
    };
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a
/// rename, so a reader never sees half a bundle.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let cannot_write =
        |why: String| BuildError::new(codes::CANNOT_WRITE, format!("cannot write `{}`: {why}", path.display()));
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| cannot_write(e.to_string()))?;
    file.write_all(bytes).and_then(|()| file.as_file().sync_all()).map_err(|e| cannot_write(e.to_string()))?;
    file.persist(path).map_err(|e| cannot_write(e.error.to_string()))?;
    Ok(())
}
