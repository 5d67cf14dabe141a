//! The fault cases, grouped by what they need: a bundle file only, the
//! device and a good bundle, or a bundle without the device's architecture.
//! Every case states the typed error it expects, so a message that is right
//! in words but wrong in kind (or a fault that slips through) fails.

use crate::softmax::{self, COLS, KERNEL, ROWS};
use half::bf16;
use std::path::{Path, PathBuf};
use tessera_runtime::bundle::{BundleError, FORMAT_VERSION, MAGIC};
use tessera_runtime::select::{Arch, CodeKind};
use tessera_runtime::{ArgError, ArgValue, Bundle, DType, DeviceBuffer, Error, LaunchArgs, Runtime};

/// Counts of outcomes; each case prints its own line.
#[derive(Default)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// One line, whatever the message: multi-line errors (a tuning table) are joined.
fn one_line(text: &str) -> String {
    text.trim_end().replace('\n', " | ")
}

impl Tally {
    fn pass(&mut self, case: &str, outcome: &str) {
        self.passed += 1;
        println!("PASS  {case}: {}", one_line(outcome));
    }

    fn fail(&mut self, case: &str, outcome: &str) {
        self.failed += 1;
        println!("FAIL  {case}: {}", one_line(outcome));
    }

    pub fn skip(&mut self, case: &str, why: &str) {
        self.skipped += 1;
        println!("SKIP  {case}: {why}");
    }

    /// `outcome` must be an error that `expected` accepts (`what` names it).
    fn expect<T>(&mut self, case: &str, what: &str, outcome: Result<T, Error>, expected: impl FnOnce(&Error) -> bool) {
        match outcome {
            Err(e) if expected(&e) => self.pass(case, &e.to_string()),
            Err(e) => self.fail(case, &format!("expected {what}, got a {} error: {e}", e.kind())),
            Ok(_) => self.fail(case, &format!("expected {what}, but it succeeded")),
        }
    }
}

/// A scratch copy of a bundle, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn write(name: &str, bytes: &[u8]) -> Result<Scratch, String> {
        let path = std::env::temp_dir().join(format!("runtime-faults-{}-{name}.tsb", std::process::id()));
        std::fs::write(&path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // A leftover file in the temp folder is harmless.
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Damaged and foreign files: no device needed. Err only when the setup
/// itself fails (the good bundle cannot be read).
pub fn bundle_files(tally: &mut Tally, path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let bundle = Bundle::open(path).map_err(|e| format!("the intact bundle {} must open: {e}", path.display()))?;
    let names: Vec<&str> = bundle.data().manifest().kernels.iter().map(|k| k.decl.name.as_str()).collect();
    tally.pass("intact bundle (control)", &format!("opens, {} bytes, kernels {}", bytes.len(), names.join(", ")));

    tally.expect("unknown kernel name", "Error::NoKernel", bundle.kernel("no_such_kernel"), |e| {
        matches!(e, Error::NoKernel { .. })
    });

    let mut corrupted = bytes.clone();
    let middle = corrupted.len() / 2;
    if let Some(byte) = corrupted.get_mut(middle) {
        *byte ^= 0x40;
    }
    let file = Scratch::write("corrupted", &corrupted)?;
    tally.expect(
        &format!("corrupted bundle (byte {middle} of {} flipped)", bytes.len()),
        "BundleError::ChecksumMismatch",
        Bundle::open(&file.0),
        |e| matches!(e, Error::Bundle(BundleError::ChecksumMismatch { .. })),
    );

    let file = Scratch::write("truncated", &bytes[..middle])?;
    tally.expect(
        &format!("truncated bundle (first {middle} of {} bytes)", bytes.len()),
        "BundleError::Truncated",
        Bundle::open(&file.0),
        |e| matches!(e, Error::Bundle(BundleError::Truncated { .. })),
    );

    // The version is bytes 8..12 (docs/bundle-format.md); it is read before
    // the header checksum, so a newer file is "unsupported", not "corrupted".
    let future = FORMAT_VERSION + 1;
    let mut newer = bytes.clone();
    if let Some(version) = newer.get_mut(8..12) {
        version.copy_from_slice(&future.to_le_bytes());
    }
    let file = Scratch::write("future", &newer)?;
    tally.expect(
        &format!("future format version ({future})"),
        "BundleError::UnsupportedVersion",
        Bundle::open(&file.0),
        |e| {
            matches!(e, Error::Bundle(BundleError::UnsupportedVersion { found, supported })
                if *found == future && *supported == FORMAT_VERSION)
        },
    );

    let file = Scratch::write("text", b"softmax_bf16 = not a bundle\n")?;
    tally.expect(
        "not a bundle (a text file)",
        "BundleError::BadMagic",
        Bundle::open(&file.0),
        |e| matches!(e, Error::Bundle(BundleError::BadMagic { expected, .. }) if *expected == MAGIC),
    );
    Ok(())
}

fn arg_error(e: &Error, expected: impl FnOnce(&ArgError) -> bool) -> bool {
    matches!(e, Error::Arg(a) if expected(a))
}

/// Launches with arguments that break the signature's promises, around one
/// correct launch (the control). Err only on a setup failure.
pub fn arguments(tally: &mut Tally, rt: &Runtime, path: &Path) -> Result<(), Error> {
    let kernel = Bundle::open(path)?.kernel(KERNEL)?;
    match softmax::run_and_check(rt, &kernel) {
        Ok(err) => tally.pass("valid launch (control)", &format!("{ROWS}x{COLS} correct, max error {err:.2e}")),
        Err(why) => tally.fail("valid launch (control)", &why),
    }
    let x: DeviceBuffer<bf16> = rt.upload(&softmax::input(ROWS, COLS))?;
    let y: DeviceBuffer<bf16> = rt.alloc_zeros(ROWS * COLS)?;
    let x_f32: DeviceBuffer<f32> = rt.alloc_zeros(ROWS * COLS)?;
    let (rows, cols) = (ROWS as i32, COLS as i32);

    tally.expect(
        "wrong dtype (an f32 buffer for x: *bf16)",
        "ArgError::TypeMismatch",
        kernel.launch(rt, &softmax::args(&x_f32, &y, ROWS, COLS)),
        |e| arg_error(e, |a| matches!(a, ArgError::TypeMismatch { arg, .. } if arg == "x")),
    );

    let wide_cols = LaunchArgs::new()
        .arg("x", &x)
        .arg("y", &y)
        .arg("x_row_stride", cols)
        .arg("y_row_stride", cols)
        .arg("rows", rows)
        .arg("cols", i64::from(cols));
    tally.expect(
        "wrong scalar type (i64 for cols: i32)",
        "ArgError::TypeMismatch",
        kernel.launch(rt, &wide_cols),
        |e| arg_error(e, |a| matches!(a, ArgError::TypeMismatch { arg, .. } if arg == "cols")),
    );

    let few = LaunchArgs::new().arg("x", &x).arg("y", &y).arg("rows", rows);
    tally.expect("too few arguments (x, y, rows)", "ArgError::Missing", kernel.launch(rt, &few), |e| {
        arg_error(e, |a| matches!(a, ArgError::Missing { .. }))
    });

    let many = LaunchArgs::new().push(&x).push(&y).push(cols).push(cols).push(rows).push(cols).push(cols);
    tally.expect("too many arguments (7 positional)", "ArgError::TooMany", kernel.launch(rt, &many), |e| {
        arg_error(e, |a| matches!(a, ArgError::TooMany { given: 7, .. }))
    });

    let misnamed = LaunchArgs::new()
        .arg("x", &x)
        .arg("y", &y)
        .arg("x_row_stride", cols)
        .arg("y_row_stride", cols)
        .arg("rows", rows)
        .arg("columns", cols);
    tally.expect("unknown argument name (columns)", "ArgError::Unknown", kernel.launch(rt, &misnamed), |e| {
        arg_error(e, |a| matches!(a, ArgError::Unknown { arg, .. } if arg == "columns"))
    });

    // Raw pointers are constructible (`ArgValue::Pointer`), so a foreign
    // allocator's addresses can be passed; the validator is what stands
    // between a bad one and a device fault.
    let raw = |addr: u64, len: usize| ArgValue::Pointer { addr, elem: DType::BF16, len };
    let base = x.raw().addr();
    tally.expect(
        "null pointer for x",
        "ArgError::NullPointer",
        kernel.launch(rt, &softmax::args(raw(0, ROWS * COLS), &y, ROWS, COLS)),
        |e| arg_error(e, |a| matches!(a, ArgError::NullPointer { arg, .. } if arg == "x")),
    );
    tally.expect(
        "misaligned pointer for x (base + 2 bytes, x is @div(16))",
        "ArgError::Misaligned (16)",
        kernel.launch(rt, &softmax::args(raw(base + 2, ROWS * COLS - 1), &y, ROWS, COLS - 1)),
        |e| arg_error(e, |a| matches!(a, ArgError::Misaligned { align: 16, .. })),
    );
    tally.expect(
        "misaligned pointer for x (base + 1 byte, inside a bf16)",
        "ArgError::Misaligned (2)",
        kernel.launch(rt, &softmax::args(raw(base + 1, ROWS * COLS - 1), &y, ROWS, COLS - 1)),
        |e| arg_error(e, |a| matches!(a, ArgError::Misaligned { align: 2, .. })),
    );

    let negative = LaunchArgs::new()
        .arg("x", &x)
        .arg("y", &y)
        .arg("x_row_stride", cols)
        .arg("y_row_stride", cols)
        .arg("rows", -1i32)
        .arg("cols", cols);
    tally.expect("negative grid (rows = -1)", "Error::Grid", kernel.launch(rt, &negative), |e| {
        matches!(e, Error::Grid { dim: 0, .. })
    });
    Ok(())
}

/// A bundle without code for the device's own architecture: the runtime
/// either JIT-compiles compatible PTX (and the result must be right) or says
/// which architectures the bundle has. Which one is expected follows from
/// the bundle's contents and NVIDIA's compatibility rules.
pub fn missing_arch(tally: &mut Tally, rt: &Runtime, path: &Path) -> Result<(), Error> {
    let case = "bundle without the device's architecture";
    let kernel = Bundle::open(path)?.kernel(KERNEL)?;
    let device = rt.info().arch;
    let archs = |pred: &dyn Fn(Arch) -> bool, code: &dyn Fn(&tessera_runtime::bundle::VariantEntry) -> bool| {
        kernel.variants().iter().any(|v| code(v) && Arch::parse(&v.info.arch).is_some_and(pred))
    };
    if archs(&|a| a.cubin_runs_on(device), &|v| v.code.cubin.is_some()) {
        tally.skip(case, &format!("the bundle has a cubin that runs on this device ({device}); use a newer GPU"));
        return Ok(());
    }
    let expect_ptx = archs(&|a| a.ptx_runs_on(device), &|v| v.code.ptx.is_some());
    let mut bundle_archs: Vec<&str> = kernel.variants().iter().map(|v| v.info.arch.as_str()).collect();
    bundle_archs.sort();
    bundle_archs.dedup();
    let case = format!("{case} ({} on {device})", bundle_archs.join(", "));
    match (kernel.candidates(rt), expect_ptx) {
        (Ok(choices), true) => {
            if let Some(c) = choices.iter().find(|c| c.code != CodeKind::Ptx) {
                tally.fail(&case, &format!("expected PTX only, variant #{} loads a {}", c.variant, c.code));
                return Ok(());
            }
            match softmax::run_and_check(rt, &kernel) {
                Ok(err) => tally.pass(
                    &case,
                    &format!(
                        "falls back to PTX: {} candidates JIT-compiled by the driver, {ROWS}x{COLS} correct, \
                         max error {err:.2e}",
                        choices.len()
                    ),
                ),
                Err(why) => tally.fail(&case, &format!("falls back to PTX, but {why}")),
            }
        }
        (Ok(choices), false) => tally
            .fail(&case, &format!("expected Error::NoCompatibleVariant, got {} runnable candidates", choices.len())),
        (Err(e @ Error::NoCompatibleVariant { .. }), false) => {
            tally.pass(&case, &format!("no PTX fallback possible: {e}"))
        }
        (Err(e), _) => tally.fail(&case, &format!("expected a PTX fallback, got a {} error: {e}", e.kind())),
    }
    Ok(())
}
