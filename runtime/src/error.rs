//! The runtime's error type: every failure names what it concerns (kernel,
//! argument, variant, bundle section) so a one-line message is actionable.

use crate::args::ArgError;
use crate::bundle::BundleError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Arg(#[from] ArgError),
    #[error("no usable CUDA driver: {0}")]
    NoDriver(String),
    #[error("no CUDA device: {0}")]
    NoDevice(String),
    #[error("CUDA driver error while {during}: {message}")]
    Driver { during: String, message: String },
    #[error("the bundle has no kernel `{name}` (it has: {available})")]
    NoKernel { name: String, available: String },
    #[error("kernel `{kernel}`: no variant runs on this device ({device}, {arch}); the bundle has code for {archs}")]
    NoCompatibleVariant { kernel: String, device: String, arch: String, archs: String },
    #[error(transparent)]
    Problem(#[from] crate::lightning_attention::ProblemError),
    #[error("kernel `{kernel}` pinned to {pins}: {message}")]
    Pin { kernel: String, pins: String, message: String },
    #[error("kernel `{kernel}`: no variant admits these arguments: {message}")]
    Require { kernel: String, message: String },
    #[error("kernel `{kernel}` variant {variant}: the driver could not load its {code}: {message}")]
    ModuleLoad { kernel: String, variant: String, code: String, message: String },
    #[error("kernel `{kernel}`: grid dimension {dim}: {message}")]
    Grid { kernel: String, dim: usize, message: String },
    #[error("kernel `{kernel}` variant {variant}: launch failed: {message}")]
    Launch { kernel: String, variant: String, message: String },
    #[error("kernel `{kernel}`: tuning failed for key `{key}`: {message}")]
    Tune { kernel: String, key: String, message: String },
    #[error("tuning cache `{path}`: {source}")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("device buffer: {0}")]
    Buffer(String),
}

impl Error {
    /// A short stable name of the error's kind, for one-line CLI messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Bundle(_) => "bundle",
            Error::Arg(_) => "argument",
            Error::NoDriver(_) | Error::NoDevice(_) => "no-device",
            Error::Driver { .. } => "driver",
            Error::NoKernel { .. } => "no-kernel",
            Error::NoCompatibleVariant { .. } => "no-variant",
            Error::Pin { .. } => "pin",
            Error::Require { .. } => "require",
            Error::Problem(_) => "problem",
            Error::ModuleLoad { .. } => "module-load",
            Error::Grid { .. } => "grid",
            Error::Launch { .. } => "launch",
            Error::Tune { .. } => "tune",
            Error::Cache { .. } => "cache",
            Error::Buffer(_) => "buffer",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
