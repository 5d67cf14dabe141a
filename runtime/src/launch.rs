//! Bundles opened for launching, and kernel handles.

use crate::args::{ArgValue, LaunchArgs, Pins};
use crate::bundle::{BundleData, KernelDecl, KernelEntry, VariantEntry};
use crate::device::{Runtime, Stream, describe};
use crate::error::{Error, Result};
use crate::module::{self, Loaded};
use crate::select::{self, Choice};
use crate::tensor_map;
use crate::tune::{self, TuneOptions, TuneReport};
use cudarc::driver::result;
use cudarc::driver::sys::{CUfunction_attribute, CUtensorMap};
use std::collections::HashMap;
use std::ffi::c_void;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Dynamic shared memory a kernel may use without opting in.
const DEFAULT_SHARED_LIMIT: u32 = 48 * 1024;

/// Largest grid along y and z (x allows 2^31 - 1).
const MAX_GRID_YZ: i64 = 65535;

/// `TESSERA_PRINT_TUNING` set (and not `0`): every tuning a launch runs
/// prints its candidate table and where its time went to stderr.
fn print_tuning() -> bool {
    std::env::var_os("TESSERA_PRINT_TUNING").is_some_and(|v| !v.is_empty() && v != "0")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain maps: still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A verified bundle whose kernels can be launched.
#[derive(Clone, Debug)]
pub struct Bundle {
    data: Arc<BundleData>,
    handles: Arc<Mutex<HashMap<String, KernelHandle>>>,
}

impl Bundle {
    /// Read and verify a `.tsb` file (no device needed).
    pub fn open(path: impl AsRef<Path>) -> Result<Bundle> {
        Ok(Bundle::from_data(BundleData::read(path)?))
    }

    pub fn from_data(data: BundleData) -> Bundle {
        Bundle { data: Arc::new(data), handles: Arc::default() }
    }

    pub fn data(&self) -> &BundleData {
        &self.data
    }

    /// The kernel called `name`. Handles are shared: modules loaded and
    /// choices tuned through one are seen by all.
    pub fn kernel(&self, name: &str) -> Result<KernelHandle> {
        if let Some(handle) = lock(&self.handles).get(name) {
            return Ok(handle.clone());
        }
        let index =
            self.data.manifest().kernels.iter().position(|k| k.decl.name == name).ok_or_else(|| Error::NoKernel {
                name: name.to_string(),
                available: self
                    .data
                    .manifest()
                    .kernels
                    .iter()
                    .map(|k| k.decl.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let entry = &self.data.manifest().kernels[index];
        let decl = &entry.decl;
        let specialized = entry.variants.iter().any(|v| v.info.is_specialized());
        let require_reads = (0..decl.params.len())
            .filter(|&i| {
                let name = decl.params[i].name.as_str();
                decl.require.iter().any(|r| r.params().contains(&name))
                    || entry.variants.iter().any(|v| v.info.assumed().any(|d| d == name))
            })
            .collect();
        let handle = KernelHandle(Arc::new(KernelShared {
            data: self.data.clone(),
            index,
            modules: Mutex::default(),
            tuned: Mutex::default(),
            admitted: Mutex::default(),
            require_reads,
            specialized,
        }));
        lock(&self.handles).insert(name.to_string(), handle.clone());
        Ok(handle)
    }
}

#[derive(Debug)]
struct KernelShared {
    data: Arc<BundleData>,
    index: usize,
    /// Loaded modules by variant index.
    modules: Mutex<HashMap<usize, Arc<Loaded>>>,
    /// Tuned choice by tuning key, for this process.
    tuned: Mutex<HashMap<String, Choice>>,
    /// Which variants admit a launch (the `require` part of its tuning
    /// key), by the values of the scalar arguments the conditions read: the
    /// conditions are evaluated once per distinct values, not per launch.
    admitted: Mutex<HashMap<Vec<Option<i64>>, String>>,
    /// The parameters (by index) that the `require` conditions and the
    /// specialized variants' assumptions (divisible, equal to 1) read.
    require_reads: Vec<usize>,
    /// Some variant is specialized on its arguments (divisible, equal to 1).
    specialized: bool,
}

/// One kernel of a bundle.
#[derive(Clone, Debug)]
pub struct KernelHandle(Arc<KernelShared>);

impl KernelHandle {
    pub(crate) fn entry(&self) -> &KernelEntry {
        // The index was found in this very manifest, which never changes.
        &self.0.data.manifest().kernels[self.0.index]
    }

    pub fn name(&self) -> &str {
        &self.entry().decl.name
    }

    pub fn decl(&self) -> &KernelDecl {
        &self.entry().decl
    }

    pub fn variants(&self) -> &[VariantEntry] {
        &self.entry().variants
    }

    /// Content hash of the kernel (keys the tuning cache).
    pub fn hash(&self) -> &str {
        self.0.data.kernel_hash(self.name()).unwrap_or_default()
    }

    /// The runnable variant of every tuning point on `rt`'s device.
    pub fn candidates(&self, rt: &Runtime) -> Result<Vec<Choice>> {
        let choices = select::select(self.variants(), rt.info().arch);
        if choices.is_empty() {
            return Err(Error::NoCompatibleVariant {
                kernel: self.name().to_string(),
                device: rt.info().name.clone(),
                arch: rt.info().arch.to_string(),
                archs: select::archs(self.variants()).join(", "),
            });
        }
        Ok(choices)
    }

    /// The candidates for a launch with `bound` arguments: those `pins`
    /// admit ([`Self::candidates_pinned`]) whose `require` conditions and
    /// divisibility assumptions hold ([`admits`]), a specialized variant
    /// replacing its unspecialized twin; an error names the conditions and
    /// the arguments when none does.
    pub fn candidates_for(&self, rt: &Runtime, bound: &[ArgValue], pins: &Pins) -> Result<Vec<Choice>> {
        let pinned = self.candidates_pinned(rt, pins)?;
        let decl = self.decl();
        if decl.require.is_empty() && !self.0.specialized {
            return Ok(pinned);
        }
        let info = |c: &Choice| self.variants().get(c.variant).map(|v| &v.info);
        let admitted: Vec<Choice> =
            pinned.iter().copied().filter(|c| info(c).is_some_and(|i| admits(decl, i, bound))).collect();
        if !admitted.is_empty() {
            return Ok(prefer_specialized(self.variants(), admitted));
        }
        let conditions: Vec<String> = decl.require.iter().map(|r| format!("`{r}`")).collect();
        let mut names: Vec<&str> = decl.require.iter().flat_map(|r| r.params()).collect();
        names.sort_unstable();
        names.dedup();
        let arguments: Vec<String> =
            names.iter().filter_map(|n| Some(format!("{n} = {}", scalar_arg(decl, bound, n)?))).collect();
        let constants: Vec<String> = names
            .iter()
            .filter(|n| decl.const_params.iter().any(|c| c.name == **n))
            .map(|n| self.values_among(&pinned, n))
            .collect();
        let mut message = format!("it requires {} with {}", conditions.join(" and "), arguments.join(", "));
        if !constants.is_empty() {
            message.push_str(&format!(", and the bundle's variants for this device have {}", constants.join("; ")));
        }
        Err(Error::Require { kernel: self.name().to_string(), message })
    }

    /// `NAME in {v, ...}`: the values of compile-time parameter `name` among
    /// the variants of `choices`, for messages.
    fn values_among(&self, choices: &[Choice], name: &str) -> String {
        let mut seen: Vec<i64> =
            choices.iter().filter_map(|c| self.variants().get(c.variant)?.info.value(name)).collect();
        seen.sort_unstable();
        seen.dedup();
        let seen: Vec<String> = seen.iter().map(i64::to_string).collect();
        format!("{name} in {{{}}}", seen.join(", "))
    }

    /// The tuning key of a launch: [`tune::pinned_key`], plus, for a kernel
    /// with `require` conditions, which variants admit the arguments (two
    /// launches share a tuned choice only if they may run the same variants).
    pub(crate) fn launch_key(&self, bound: &[ArgValue], pins: &Pins) -> String {
        let decl = self.decl();
        let key = tune::pinned_key(decl, bound, pins);
        if decl.require.is_empty() && !self.0.specialized {
            return key;
        }
        // The conditions read these arguments (and the variants' constants).
        let read: Vec<Option<i64>> = self
            .0
            .require_reads
            .iter()
            .map(|&i| match bound.get(i) {
                Some(ArgValue::Scalar(s)) => s.as_int(),
                _ => None,
            })
            .collect();
        if let Some(hex) = lock(&self.0.admitted).get(&read) {
            return format!("{key}|admits={hex}");
        }
        let mut mask = vec![0u8; self.variants().len().div_ceil(8)];
        for (i, v) in self.variants().iter().enumerate() {
            if admits(decl, &v.info, bound) {
                mask[i / 8] |= 1 << (i % 8);
            }
        }
        let hex: String = mask.iter().map(|b| format!("{b:02x}")).collect();
        lock(&self.0.admitted).insert(read, hex.clone());
        format!("{key}|admits={hex}")
    }

    /// The candidates that `pins` admit (pins are checked against the
    /// signature by [`LaunchArgs::bind`]); an error lists the values the
    /// bundle has when no variant matches.
    pub fn candidates_pinned(&self, rt: &Runtime, pins: &Pins) -> Result<Vec<Choice>> {
        let all = self.candidates(rt)?;
        let info = |c: &Choice| self.variants().get(c.variant).map(|v| &v.info);
        let admitted: Vec<Choice> = all.iter().copied().filter(|c| info(c).is_some_and(|i| pins.admit(i))).collect();
        if !admitted.is_empty() {
            return Ok(admitted);
        }
        let values: Vec<String> = pins.iter().map(|(name, _)| self.values_among(&all, name)).collect();
        Err(Error::Pin {
            kernel: self.name().to_string(),
            pins: pins.to_string(),
            message: format!("no variant for this device has these values (the bundle has {})", values.join("; ")),
        })
    }

    /// Validate `args` and launch on the runtime's stream. The first launch
    /// for a tuning key with several candidate variants autotunes (or reads
    /// the tuning cache) with default options.
    pub fn launch(&self, rt: &Runtime, args: &LaunchArgs<'_>) -> Result<()> {
        self.launch_on(rt, rt.stream(), args)
    }

    /// As [`KernelHandle::launch`], on `stream`.
    pub fn launch_on(&self, rt: &Runtime, stream: &Stream, args: &LaunchArgs<'_>) -> Result<()> {
        self.launch_tuned(rt, stream, args, &TuneOptions::default())
    }

    /// As [`KernelHandle::launch_on`], tuning with `options` when this
    /// launch's tuning key has no choice yet.
    pub fn launch_tuned(
        &self,
        rt: &Runtime,
        stream: &Stream,
        args: &LaunchArgs<'_>,
        options: &TuneOptions,
    ) -> Result<()> {
        let bound = args.bind(self.decl())?;
        let choice = self.choose(rt, &bound, args.pins(), options)?;
        self.launch_choice(rt, stream, choice, &bound)
    }

    /// Benchmark every candidate for these arguments and remember the fastest
    /// (see [`TuneOptions`]); returns the candidate table.
    pub fn tune(&self, rt: &Runtime, args: &LaunchArgs<'_>, options: &TuneOptions) -> Result<TuneReport> {
        let bound = args.bind(self.decl())?;
        let report = tune::tune(self, rt, &bound, args.pins(), options)?;
        if let Some(choice) = report.picked_choice() {
            lock(&self.0.tuned).insert(report.key.clone(), choice);
        }
        Ok(report)
    }

    /// Whether launches with these arguments have their variant chosen in
    /// this handle already (the only candidate, tuned, or read from the
    /// tuning cache), so that launching runs nothing but the kernel: no
    /// tuning runs on the runtime's stream.
    pub fn is_chosen(&self, args: &LaunchArgs<'_>) -> Result<bool> {
        let bound = args.bind(self.decl())?;
        Ok(lock(&self.0.tuned).contains_key(&self.launch_key(&bound, args.pins())))
    }

    /// The variant to launch for `bound`: the only candidate, or the tuned one.
    pub(crate) fn choose(
        &self,
        rt: &Runtime,
        bound: &[ArgValue],
        pins: &Pins,
        options: &TuneOptions,
    ) -> Result<Choice> {
        // A tuned key needs no variant selection: the hot path of repeated launches.
        let key = self.launch_key(bound, pins);
        if let Some(choice) = lock(&self.0.tuned).get(&key) {
            return Ok(*choice);
        }
        let candidates = self.candidates_for(rt, bound, pins)?;
        if let [only] = candidates.as_slice() {
            lock(&self.0.tuned).insert(key, *only);
            return Ok(*only);
        }
        let report = tune::tune(self, rt, bound, pins, options)?;
        if print_tuning() {
            eprintln!("{report}");
        }
        let choice = report.picked_choice().ok_or_else(|| Error::Tune {
            kernel: self.name().to_string(),
            key: key.clone(),
            message: format!("no candidate ran correctly:\n{report}"),
        })?;
        lock(&self.0.tuned).insert(key, choice);
        Ok(choice)
    }

    /// The loaded module of a choice, loading it on first use.
    pub(crate) fn module(&self, rt: &Runtime, choice: Choice) -> Result<Arc<Loaded>> {
        if let Some(m) = lock(&self.0.modules).get(&choice.variant) {
            return Ok(m.clone());
        }
        let variant = self.variant(choice)?;
        let load_err = |message: String| Error::ModuleLoad {
            kernel: self.name().to_string(),
            variant: variant.info.label(),
            code: choice.code.to_string(),
            message,
        };
        let image = self.0.data.object(choice.object).ok_or_else(|| load_err("missing code object".into()))?;
        let loaded = module::load(&rt.ctx, image, choice.code, &variant.info.entry).map_err(load_err)?;
        let shared = variant.info.shared_bytes;
        if shared > DEFAULT_SHARED_LIMIT {
            // SAFETY: a valid function of the current context.
            unsafe {
                result::function::set_function_attribute(
                    loaded.function,
                    CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    shared as i32,
                )
            }
            .map_err(|e| load_err(format!("cannot allow {shared} bytes of dynamic shared memory: {}", describe(&e))))?;
            // Prefer the largest shared-memory carveout, so that two CTAs of
            // up to ~113 KB each fit one SM (the driver may otherwise pick a
            // smaller one). A hint: a driver that declines it still runs
            // the kernel, so its error is not one.
            // SAFETY: a valid function of the current context.
            let _ = unsafe {
                result::function::set_function_attribute(
                    loaded.function,
                    CUfunction_attribute::CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT,
                    100,
                )
            };
        }
        let loaded = Arc::new(loaded);
        lock(&self.0.modules).insert(choice.variant, loaded.clone());
        Ok(loaded)
    }

    fn variant(&self, choice: Choice) -> Result<&VariantEntry> {
        self.variants().get(choice.variant).ok_or_else(|| Error::Launch {
            kernel: self.name().to_string(),
            variant: format!("#{}", choice.variant),
            message: "no such variant".into(),
        })
    }

    /// Launch one chosen variant with bound arguments.
    pub(crate) fn launch_choice(
        &self,
        rt: &Runtime,
        stream: &Stream,
        choice: Choice,
        bound: &[ArgValue],
    ) -> Result<()> {
        let variant = self.variant(choice)?;
        let info = &variant.info;
        let launch_err =
            |message: String| Error::Launch { kernel: self.name().to_string(), variant: info.label(), message };
        // Tensor maps the arguments cannot give fail below, naming the stride.
        if !info.specializations_hold(&|name| scalar_arg(self.decl(), bound, name)) {
            return Err(launch_err(format!(
                "this variant assumes {}, and the arguments ({}) are not",
                info.assumptions(),
                info.assumed()
                    .map(|name| match scalar_arg(self.decl(), bound, name) {
                        Some(v) => format!("{name} = {v}"),
                        None => format!("{name} missing"),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let Some(grid) = grid(self.decl(), info, bound)? else { return Ok(()) };
        let threads = info.threads();
        if threads > rt.info().max_threads_per_block {
            return Err(launch_err(format!(
                "{threads} threads per block, the device allows {}",
                rt.info().max_threads_per_block
            )));
        }
        if info.shared_bytes > rt.info().max_shared_per_block {
            return Err(launch_err(format!(
                "{} bytes of shared memory, the device allows {}",
                info.shared_bytes,
                rt.info().max_shared_per_block
            )));
        }
        let loaded = self.module(rt, choice)?;
        // One 8-byte slot per argument; the driver reads each parameter's
        // size from the kernel's signature.
        let mut storage: Vec<u64> = bound
            .iter()
            .map(|a| match a {
                ArgValue::Pointer { addr, .. } => *addr,
                ArgValue::Scalar(s) => {
                    let mut b = [0u8; 8];
                    let le = s.to_le_bytes();
                    b[..le.len()].copy_from_slice(&le);
                    u64::from_le_bytes(b)
                }
            })
            .collect();
        rt.bind()?;
        let scalar = |name: &str| scalar_arg(self.decl(), bound, name);
        let mut maps =
            tensor_map::encode_all(rt, self.decl(), &info.tensor_maps, bound, &scalar).map_err(launch_err)?;
        let mut params: Vec<*mut c_void> = storage.iter_mut().map(|s| (s as *mut u64).cast::<c_void>()).collect();
        // Tensor maps follow, passed by value (the driver copies 128 bytes).
        params.extend(maps.iter_mut().map(|m| (m as *mut CUtensorMap).cast::<c_void>()));
        // SAFETY: the arguments were validated against the signature, the
        // pointers are live device allocations borrowed by the caller, and
        // `storage` and `maps` outlive the call (the driver copies parameters at launch).
        unsafe {
            result::launch_kernel(loaded.function, grid, (threads, 1, 1), info.shared_bytes, stream.raw(), &mut params)
        }
        .map_err(|e| launch_err(describe(&e)))?;
        Ok(())
    }
}

/// The integer value of scalar parameter `name` in `bound`.
fn scalar_arg(decl: &KernelDecl, bound: &[ArgValue], name: &str) -> Option<i64> {
    let i = decl.params.iter().position(|p| p.name == name)?;
    match bound.get(i) {
        Some(ArgValue::Scalar(s)) => s.as_int(),
        _ => None,
    }
}

/// Whether variant `info` admits a launch with `bound`: every `require`
/// condition of the kernel, evaluated with the arguments and the variant's
/// compile-time values, is non-zero, and the arguments meet what it
/// assumes of them (divisible by 16, equal to 1). A condition without a value (an overflow, a division by zero) does
/// not admit.
pub fn admits(decl: &KernelDecl, info: &crate::bundle::VariantInfo, bound: &[ArgValue]) -> bool {
    admits_with(decl, info, &|name| scalar_arg(decl, bound, name))
}

/// [`admits`] with the integer arguments given by name through `args`.
pub fn admits_with(decl: &KernelDecl, info: &crate::bundle::VariantInfo, args: &dyn Fn(&str) -> Option<i64>) -> bool {
    let lookup = |name: &str| args(name).or_else(|| info.value(name));
    info.assumptions_hold(args) && decl.require.iter().all(|r| r.eval(&lookup).is_ok_and(|v| v != 0))
}

/// `admitted` without the variants that have a more specialized twin (same
/// tuning point, same architecture) admitted too: the twin runs the same
/// computation with fewer run-time checks and wider accesses, so only it is
/// worth tuning and launching. Twins rank by what they assume: a unit-stride
/// twin (vector tiles where the other reads elements) above a divisibility
/// one (no alignment checks), above the unspecialized variant.
fn prefer_specialized(variants: &[VariantEntry], admitted: Vec<Choice>) -> Vec<Choice> {
    let info = |c: &Choice| variants.get(c.variant).map(|v| &v.info);
    let rank = |i: &crate::bundle::VariantInfo| (!i.unit.is_empty(), i.unit.len(), i.divisible.len());
    let outranked = |c: &Choice| {
        info(c).is_some_and(|i| {
            admitted.iter().any(|o| info(o).is_some_and(|j| j.same_point(i) && j.arch == i.arch && rank(j) > rank(i)))
        })
    };
    admitted.iter().copied().filter(|c| !outranked(c)).collect()
}

/// The launch grid of a variant for bound arguments; None when a dimension
/// is zero (nothing to launch).
pub(crate) fn grid(
    decl: &KernelDecl,
    info: &crate::bundle::VariantInfo,
    bound: &[ArgValue],
) -> Result<Option<(u32, u32, u32)>> {
    let lookup = |name: &str| -> Option<i64> {
        if decl.params.iter().any(|p| p.name == name) {
            return scalar_arg(decl, bound, name);
        }
        info.consts.get(name).and_then(|v| v.as_int())
    };
    let mut dims = [1u32; 3];
    for (dim, expr) in decl.grid.iter().enumerate() {
        let err = |message: String| Error::Grid { kernel: decl.name.clone(), dim, message };
        let value = expr.eval(&lookup).map_err(|e| err(e.to_string()))?;
        let max = if dim == 0 { i64::from(i32::MAX) } else { MAX_GRID_YZ };
        if value < 0 || value > max {
            return Err(err(format!("`{expr}` = {value}, outside 0..={max}")));
        }
        if value == 0 {
            return Ok(None);
        }
        if let Some(slot) = dims.get_mut(dim) {
            *slot = value as u32;
        }
    }
    Ok(Some((dims[0], dims[1], dims[2])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Scalar;
    use crate::bundle::{ConstValue, DType, GridExpr, Hints, Param, ParamKind, VariantInfo};
    use std::collections::BTreeMap;

    fn setup(grid: Vec<GridExpr>) -> (KernelDecl, VariantInfo) {
        let decl = KernelDecl {
            name: "k".into(),
            params: vec![
                Param { name: "x".into(), kind: ParamKind::Pointer { elem: DType::F32 }, hints: Hints::default() },
                Param { name: "n".into(), kind: ParamKind::Scalar { dtype: DType::I32 }, hints: Hints::default() },
            ],
            const_params: vec![],
            grid,
            tune_space: vec![],
            key: vec![],
            require: vec![],
        };
        let info = VariantInfo {
            consts: BTreeMap::from([("BLOCK".into(), ConstValue::Int(256))]),
            ..VariantInfo::new("k", "sm_80", 4)
        };
        (decl, info)
    }

    fn args(n: i32) -> Vec<ArgValue> {
        vec![ArgValue::Pointer { addr: 256, elem: DType::F32, len: 1 }, ArgValue::Scalar(Scalar::I32(n))]
    }

    fn b(e: GridExpr) -> Box<GridExpr> {
        Box::new(e)
    }

    #[test]
    fn grid_reads_scalars_and_variant_constants() {
        let cdiv = GridExpr::Cdiv(b(GridExpr::Param("n".into())), b(GridExpr::Param("BLOCK".into())));
        let (decl, info) = setup(vec![cdiv.clone(), GridExpr::Int(3)]);
        assert_eq!(grid(&decl, &info, &args(1000)).unwrap(), Some((4, 3, 1)));
        assert_eq!(grid(&decl, &info, &args(0)).unwrap(), None, "an empty grid launches nothing");
        let (decl, info) = setup(vec![GridExpr::Sub(b(GridExpr::Int(0)), b(GridExpr::Param("n".into())))]);
        assert_eq!(
            grid(&decl, &info, &args(5)).unwrap_err().to_string(),
            "kernel `k`: grid dimension 0: `(0 - n)` = -5, outside 0..=2147483647"
        );
        let (decl, info) = setup(vec![GridExpr::Int(1), GridExpr::Param("n".into())]);
        assert!(grid(&decl, &info, &args(70000)).unwrap_err().to_string().contains("outside 0..=65535"));
        let (decl, info) = setup(vec![GridExpr::Param("x".into())]);
        assert_eq!(
            grid(&decl, &info, &args(5)).unwrap_err().to_string(),
            "kernel `k`: grid dimension 0: parameter `x` has no integer value"
        );
    }
}

#[cfg(test)]
mod require_tests {
    use super::*;
    use crate::args::Scalar;
    use crate::bundle::{ConstValue, DType, GridExpr, Hints, Param, ParamKind, VariantInfo};
    use std::collections::BTreeMap;

    fn p(name: &str) -> Box<GridExpr> {
        Box::new(GridExpr::Param(name.into()))
    }

    fn decl(require: Vec<GridExpr>) -> KernelDecl {
        KernelDecl {
            name: "softmax".into(),
            params: vec![Param {
                name: "cols".into(),
                kind: ParamKind::Scalar { dtype: DType::I32 },
                hints: Hints::default(),
            }],
            const_params: vec![],
            grid: vec![GridExpr::Int(1)],
            tune_space: vec![],
            key: vec![],
            require,
        }
    }

    fn variant(block: i64, warps: u32) -> VariantInfo {
        VariantInfo {
            consts: BTreeMap::from([("BLOCK".into(), ConstValue::Int(block))]),
            ..VariantInfo::new("softmax", "sm_90a", warps)
        }
    }

    /// A variant admits a launch when every condition holds with the
    /// arguments, its compile-time values and its warps; one that has no
    /// value (division by zero) does not admit.
    #[test]
    fn conditions_read_arguments_constants_and_warps() {
        let wide = GridExpr::Le(p("cols"), p("BLOCK"));
        let lanes = GridExpr::Le(p("BLOCK"), Box::new(GridExpr::Mul(Box::new(GridExpr::Int(1024)), p("warps"))));
        let d = decl(vec![wide, lanes]);
        let cols = |c: i32| vec![ArgValue::Scalar(Scalar::I32(c))];
        assert!(admits(&d, &variant(4096, 4), &cols(4096)));
        assert!(!admits(&d, &variant(4096, 4), &cols(4097)), "the row does not fit");
        assert!(!admits(&d, &variant(8192, 4), &cols(10)), "too many elements per thread");
        assert!(admits(&d, &variant(8192, 8), &cols(8000)));
        let by_zero = decl(vec![GridExpr::Rem(p("cols"), Box::new(GridExpr::Int(0)))]);
        assert!(!admits(&by_zero, &variant(1, 4), &cols(3)));
        assert!(admits(&decl(vec![]), &variant(1, 4), &cols(1 << 20)), "no condition admits everything");
    }

    fn specialized(block: i64, warps: u32) -> VariantInfo {
        VariantInfo { divisible: vec!["cols".into()], ..variant(block, warps) }
    }

    fn entry(info: VariantInfo) -> VariantEntry {
        VariantEntry { info, code: crate::bundle::CodeRefs { ptx: None, cubin: Some(0) } }
    }

    /// A variant specialized on `cols % 16 == 0` admits only such launches;
    /// its unspecialized twin admits every launch.
    #[test]
    fn divisibility_assumptions_admit_only_divisible_arguments() {
        let d = decl(vec![]);
        let cols = |c: i32| vec![ArgValue::Scalar(Scalar::I32(c))];
        assert!(admits(&d, &specialized(4096, 4), &cols(4096)));
        assert!(admits(&d, &specialized(4096, 4), &cols(0)));
        assert!(!admits(&d, &specialized(4096, 4), &cols(4095)));
        assert!(!admits(&d, &specialized(4096, 4), &cols(4104)), "divisible by 8, not by 16");
        assert!(admits(&d, &variant(4096, 4), &cols(4095)));
        assert_eq!(specialized(4096, 4).label(), "BLOCK=4096,warps=4,stages=1@sm_90a/div16(cols)");
    }

    /// The variants (by index) [`prefer_specialized`] keeps of `admitted`.
    fn kept(variants: &[VariantEntry], admitted: &[usize]) -> Vec<usize> {
        let choice = |&variant: &usize| Choice { variant, code: crate::select::CodeKind::Cubin, object: 0 };
        prefer_specialized(variants, admitted.iter().map(choice).collect()).iter().map(|c| c.variant).collect()
    }

    /// Among admitted choices, a specialized variant replaces its twin (same
    /// point and arch) and no other variant.
    #[test]
    fn a_specialized_variant_replaces_only_its_own_twin() {
        let variants = vec![
            entry(variant(4096, 4)),
            entry(specialized(4096, 4)),
            entry(variant(4096, 8)),
            entry(variant(2048, 4)),
        ];
        assert_eq!(kept(&variants, &[0, 1, 2, 3]), vec![1, 2, 3]);
        // Without its specialized twin among the admitted, the generic one stays.
        assert_eq!(kept(&variants, &[0, 2]), vec![0, 2]);
    }

    /// A variant that assumes `stride == 1` (and `cols % 16 == 0`).
    fn unit_twin(block: i64, warps: u32) -> VariantInfo {
        VariantInfo { unit: vec!["stride".into()], ..specialized(block, warps) }
    }

    /// A twin that copies through tensor maps is admitted only where the
    /// arguments give maps the copy engine takes: a negative or unaligned
    /// row stride (which its divisibility assumption lets through) leaves
    /// the launch to the twin without them.
    #[test]
    fn a_twin_with_tensor_maps_needs_strides_the_engine_takes() {
        let d = strided_decl();
        let map = crate::bundle::TensorMapSpec {
            base: "x".into(),
            elem: DType::BF16,
            dims: vec![GridExpr::Param("cols".into()), GridExpr::Int(64)],
            strides: vec![GridExpr::Param("stride".into())],
            box_dims: vec![64, 64],
            swizzle: 128,
        };
        let bulk = VariantInfo { tensor_maps: vec![map], ..specialized(4096, 4) };
        assert!(admits(&d, &bulk, &strided_args(4096, 4096)));
        assert!(!admits(&d, &bulk, &strided_args(4096, -4096)), "a negative stride");
        assert!(!admits(&d, &bulk, &strided_args(4096, 4)), "8 bytes");
        assert!(admits(&d, &specialized(4096, 4), &strided_args(4096, -4096)));
        assert!(admits(&d, &bulk, &strided_args(0, 3)), "an empty view takes any stride");
        assert!(bulk.assumptions().ends_with("strides its tensor maps can address (positive multiples of 16 bytes)"));
    }

    /// `decl` with a `stride` parameter after `cols`.
    fn strided_decl() -> KernelDecl {
        let mut d = decl(vec![]);
        d.params.push(Param {
            name: "stride".into(),
            kind: ParamKind::Scalar { dtype: DType::I32 },
            hints: Hints::default(),
        });
        d
    }

    /// Arguments of [`strided_decl`].
    fn strided_args(cols: i32, stride: i32) -> Vec<ArgValue> {
        vec![ArgValue::Scalar(Scalar::I32(cols)), ArgValue::Scalar(Scalar::I32(stride))]
    }

    /// A unit-stride twin admits only launches whose stride is 1 (and meet
    /// its divisibility too), names both assumptions in its label, and
    /// outranks the divisibility twin and the generic variant of its point.
    #[test]
    fn a_unit_stride_twin_admits_only_unit_strides_and_outranks_the_others() {
        let d = strided_decl();
        assert!(admits(&d, &unit_twin(4096, 4), &strided_args(4096, 1)));
        assert!(!admits(&d, &unit_twin(4096, 4), &strided_args(4096, 2)), "a stride of 2");
        assert!(!admits(&d, &unit_twin(4096, 4), &strided_args(4095, 1)), "cols not divisible");
        assert!(admits(&d, &specialized(4096, 4), &strided_args(4096, 2)));
        assert_eq!(unit_twin(4096, 4).label(), "BLOCK=4096,warps=4,stages=1@sm_90a/unit(stride)/div16(cols)");
        assert_eq!(unit_twin(4096, 4).assumptions(), "stride equal to 1; cols divisible by 16");

        let variants = vec![
            entry(variant(4096, 4)),
            entry(specialized(4096, 4)),
            entry(unit_twin(4096, 4)),
            entry(variant(4096, 8)),
        ];
        assert_eq!(kept(&variants, &[0, 1, 2, 3]), vec![2, 3]);
        assert_eq!(kept(&variants, &[0, 1, 3]), vec![1, 3], "the stride is not 1: the divisibility twin");
        assert_eq!(kept(&variants, &[0, 2, 3]), vec![2, 3], "cols divisible, stride 1");
    }
}
