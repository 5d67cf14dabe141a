//! `tessera-runtime`: what a serving machine runs to use Tessera kernels.
//!
//! It reads `.tsb` bundles (every compiled variant of a source's kernels plus
//! a manifest), validates launch arguments against each kernel's typed
//! signature, computes the grid, selects the variants that run on the device
//! (an exact-arch cubin, else PTX for the driver to JIT), autotunes among them
//! on the first launch per tuning key (cached on disk), and launches through
//! the CUDA driver API. No LLVM, no compiler: the driver library is loaded at
//! run time, so the crate builds on machines without CUDA.
//!
//! ```no_run
//! use tessera_runtime::{Bundle, LaunchArgs, Runtime};
//!
//! # fn main() -> Result<(), tessera_runtime::Error> {
//! let rt = Runtime::new()?; // device 0; a clear error without driver or GPU
//! let bundle = Bundle::open("vector_add.tsb")?; // checksums and structure verified
//! let kernel = bundle.kernel("vector_add")?;
//!
//! let n = 1000;
//! let x = rt.upload(&vec![1.0f32; n])?;
//! let z = rt.upload(&vec![2.0f32; n])?;
//! let y = rt.alloc_zeros::<f32>(n)?;
//! // Named (`arg`) or positional (`push`) arguments, checked against the
//! // signature: count, types, null and misaligned pointers, `@div` hints.
//! let args = LaunchArgs::new().arg("x", &x).arg("z", &z).arg("y", &y).arg("n", n as i32);
//! kernel.launch(&rt, &args)?; // tunes on first use for this `key(n)` bucket
//! assert_eq!(rt.download(&y)?[0], 3.0);
//! # Ok(())
//! # }
//! ```
//!
//! Modules: [`bundle`] (file format, reader, writer), [`select`] (which code
//! runs on which device), [`tune`] (autotuning and its cache), [`host_values`]
//! (the `--arg` grammar and seeded data every front door shares),
//! [`lightning_attention`] (Lightning Attention-2 forward and backward from a
//! bundle of `kernels-dsl/lightning_attn.tsr`); the launch API is re-exported
//! at the root.

mod args;
pub mod bundle;
mod device;
mod error;
mod fsutil;
pub mod host_values;
mod launch;
pub mod lightning_attention;
mod module;
pub mod select;
mod tensor_map;
pub mod tune;

pub use args::{ArgError, ArgValue, IntoArg, LaunchArgs, Pins, Scalar, bind};
pub use bundle::{BundleError, BundleWriter, CodeObjects, DType};
pub use device::{DeviceBuffer, DeviceInfo, Element, RawBuffer, Runtime, Stream};
pub use error::{Error, Result};
pub use launch::{Bundle, KernelHandle, admits, admits_with};
pub use tune::{TuneOptions, TunePhases, TuneReport, clear_cache};
