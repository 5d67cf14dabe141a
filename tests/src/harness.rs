//! Compiling kernels of `kernels-dsl/` and launching them on the interpreter.
//!
//! A test compiles one specialization with [`compile`], then fills a
//! [`Launch`] with named arguments (so a test reads like the kernel's
//! signature and cannot silently pass them in the wrong order), runs it, and
//! reads its outputs back as f64.

use std::path::{Path, PathBuf};
use tessera_interp::{HostBuffer, KernelArg};
use tessera_tir::{ConstValue, Kernel, ScalarType};

use crate::layout::Layout;

/// The folder of the kernel library.
pub fn kernels_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("kernels-dsl")
}

/// Every `.tsr` file of the kernel library, sorted by name.
pub fn kernel_files() -> Vec<PathBuf> {
    let dir = kernels_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "tsr"))
        .collect();
    files.sort();
    files
}

/// The text of `kernels-dsl/<file>`.
pub fn source(file: &str) -> String {
    let path = kernels_dir().join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Compiles `kernel` of `kernels-dsl/<file>` with the compile-time values
/// `consts`, panicking with the rendered diagnostics if that fails.
///
/// Every value given for a tuned parameter must be one of that parameter's
/// values in the kernel's `tune` clause: tests claim to cover points of the
/// tuning space, and this keeps the claim true when the clause changes.
/// Compile-time parameters outside the tuning space (sizes the caller picks,
/// such as a head width) may take any value.
pub fn compile(file: &str, kernel: &str, consts: &[(&str, ConstValue)]) -> Kernel {
    let owned: Vec<(String, ConstValue)> = consts.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
    let compiled = tessera_frontend::compile_str(file, &source(file), kernel, &owned)
        .unwrap_or_else(|e| panic!("{file}: kernel `{kernel}` with {} does not compile:\n{e}", describe(consts)));
    for (name, value) in consts {
        if let Some((_, values)) = compiled.meta.tune.axes.iter().find(|(axis, _)| axis == name) {
            assert!(
                values.contains(value),
                "{file}: {name} = {value} is not in the tuning space of `{kernel}` ({name} = {values:?})"
            );
        }
    }
    compiled
}

/// `BLOCK = 64, D = 16`, for messages.
pub fn describe(consts: &[(&str, ConstValue)]) -> String {
    if consts.is_empty() {
        return "the default compile-time values".to_string();
    }
    consts.iter().map(|(n, v)| format!("{n} = {v}")).collect::<Vec<_>>().join(", ")
}

/// An integer compile-time value.
pub fn int(v: i64) -> ConstValue {
    ConstValue::Int(v)
}

/// The arguments and buffers of one launch, by parameter name.
#[derive(Default)]
pub struct Launch {
    args: Vec<(String, Arg)>,
    buffers: Vec<HostBuffer>,
    interleave: Option<tessera_interp::Interleave>,
}

enum Arg {
    Buffer(usize),
    Int(i64),
    Float(f64),
}

impl Launch {
    pub fn new() -> Launch {
        Launch::default()
    }

    /// An input buffer of `elem` holding `values`; returns them as stored
    /// (rounded to `elem`), which is what references must be given.
    pub fn input(&mut self, name: &str, elem: ScalarType, values: &[f64]) -> Vec<f64> {
        let buffer = HostBuffer::from_f64(elem, values);
        let stored = buffer.to_f64();
        self.add_buffer(name, buffer);
        stored
    }

    /// An input holding the dense `values` at `layout` (NaN outside the
    /// view); returns the dense values as stored.
    pub fn input_at(&mut self, name: &str, elem: ScalarType, values: &[f64], layout: &Layout) -> Vec<f64> {
        layout.gather(&self.input(name, elem, &layout.scatter(values)))
    }

    /// An output buffer of `len` elements, all NaN until the kernel writes them.
    pub fn output(&mut self, name: &str, elem: ScalarType, len: usize) {
        self.add_buffer(name, HostBuffer::filled(elem, len, f64::NAN));
    }

    pub fn int(&mut self, name: &str, value: i64) {
        self.args.push((name.to_string(), Arg::Int(value)));
    }

    /// Several integer arguments, e.g. the strides of one tensor.
    pub fn ints(&mut self, names: &[&str], values: &[i64]) {
        assert_eq!(names.len(), values.len(), "{names:?} and {values:?} differ in length");
        for (name, &value) in names.iter().zip(values) {
            self.int(name, value);
        }
    }

    /// Run the programs interleaved ([`tessera_interp::Interleave`]) rather
    /// than one after another.
    pub fn interleave(&mut self, how: tessera_interp::Interleave) {
        self.interleave = Some(how);
    }

    pub fn float(&mut self, name: &str, value: f64) {
        self.args.push((name.to_string(), Arg::Float(value)));
    }

    fn add_buffer(&mut self, name: &str, buffer: HostBuffer) {
        self.args.push((name.to_string(), Arg::Buffer(self.buffers.len())));
        self.buffers.push(buffer);
    }

    /// Runs `kernel` over its whole grid, panicking if an argument is
    /// missing or unknown or the interpreter reports an error.
    pub fn run(mut self, kernel: &Kernel) -> Outputs {
        for (name, _) in &self.args {
            assert!(
                kernel.params.iter().any(|p| &p.name == name),
                "`{}` has no runtime parameter `{name}`",
                kernel.name
            );
        }
        let args: Vec<KernelArg> = kernel
            .params
            .iter()
            .map(|param| match self.args.iter().find(|(name, _)| *name == param.name) {
                Some((_, Arg::Buffer(i))) => KernelArg::Buffer(*i),
                Some((_, Arg::Int(v))) => KernelArg::Int(*v),
                Some((_, Arg::Float(v))) => KernelArg::Float(*v),
                None => panic!("no argument for parameter `{}` of `{}`", param.name, kernel.name),
            })
            .collect();
        let options = tessera_interp::LaunchOptions { interleave: self.interleave, ..Default::default() };
        if let Err(e) = tessera_interp::launch_with(kernel, &args, &mut self.buffers, &options) {
            panic!("launching `{}` with {}: {e}", kernel.name, kernel_consts(kernel));
        }
        let buffers = self
            .args
            .iter()
            .filter_map(|(name, arg)| match arg {
                Arg::Buffer(i) => Some((name.clone(), self.buffers[*i].to_f64())),
                Arg::Int(_) | Arg::Float(_) => None,
            })
            .collect();
        Outputs { buffers }
    }
}

/// The compile-time values of a specialization, for messages.
pub fn kernel_consts(kernel: &Kernel) -> String {
    let consts: Vec<(&str, ConstValue)> = kernel.consts.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    describe(&consts)
}

/// Every buffer of a finished launch, widened to f64.
pub struct Outputs {
    buffers: Vec<(String, Vec<f64>)>,
}

impl Outputs {
    /// The whole buffer passed as `name`.
    pub fn get(&self, name: &str) -> &[f64] {
        match self.buffers.iter().find(|(n, _)| n == name) {
            Some((_, values)) => values,
            None => panic!("no buffer named `{name}` in this launch"),
        }
    }

    /// The dense view of buffer `name` at `layout`, after checking that the
    /// kernel wrote nothing outside the view.
    pub fn view(&self, name: &str, layout: &Layout) -> Vec<f64> {
        let buffer = self.get(name);
        let stray = layout.stray_writes(buffer);
        assert!(stray.is_empty(), "`{name}` was written outside its view at offsets {stray:?}");
        layout.gather(buffer)
    }
}
