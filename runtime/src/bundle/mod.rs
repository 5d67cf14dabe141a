//! Bundles (`.tsb`): one file holding every compiled variant of a source's
//! kernels, with the manifest the runtime needs to validate arguments,
//! compute grids, select and tune variants.
//!
//! Bundles are deterministic: the same inputs give the same bytes (kernels
//! sorted by name, variants by architecture and tuning point, code objects
//! numbered by first use, no timestamps), so they can be content-addressed and
//! diffed. Reading verifies the magic, the version, every checksum and the
//! manifest's structure before anything is used.

mod error;
mod expr;
mod format;
mod manifest;
mod validate;

pub use error::{BundleError, Section};
pub use expr::{EvalError, GridExpr};
pub use format::{FORMAT_VERSION, MAGIC};
pub use manifest::{
    CodeRefs, ConstParam, ConstValue, DIVISIBILITY, DType, Hints, KernelDecl, KernelEntry, Manifest, Param, ParamKind,
    TensorMapGeometry, TensorMapSpec, TuneAxis, VariantEntry, VariantInfo, variant_label,
};

/// The launch knobs a tuning axis or a pin may name besides compile-time
/// parameters (the compiler's `LAUNCH_KNOBS`; the runtime does not depend on
/// the compiler's crates).
pub const KNOBS: [&str; 3] = ["warps", "stages", "occupancy"];

/// The largest `occupancy` a variant may have (the compiler's `MAX_OCCUPANCY`).
pub const MAX_OCCUPANCY: u32 = 8;

pub(crate) use format::hex as hex_digest;
use format::{hex, sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A verified bundle in memory.
#[derive(Clone, Debug)]
pub struct BundleData {
    manifest: Manifest,
    objects: Vec<Vec<u8>>,
    kernel_hashes: Vec<String>,
    path: Option<PathBuf>,
}

impl BundleData {
    /// Read and verify a bundle file.
    pub fn read(path: impl AsRef<Path>) -> Result<BundleData, BundleError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| BundleError::Io { path: path.to_path_buf(), source })?;
        let mut data = BundleData::from_bytes(&bytes)?;
        data.path = Some(path.to_path_buf());
        Ok(data)
    }

    /// Verify a bundle held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<BundleData, BundleError> {
        let decoded = format::decode(bytes)?;
        validate::validate(&decoded.manifest, &decoded.objects)?;
        let kernel_hashes =
            decoded.manifest.kernels.iter().map(|k| kernel_hash(k, &decoded.object_sums)).collect::<Result<_, _>>()?;
        Ok(BundleData { manifest: decoded.manifest, objects: decoded.objects, kernel_hashes, path: None })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Where the bundle was read from, if from a file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn kernel(&self, name: &str) -> Option<&KernelEntry> {
        self.manifest.kernels.iter().find(|k| k.decl.name == name)
    }

    /// A code object by index (bounds checked when the bundle was read).
    pub fn object(&self, index: u32) -> Option<&[u8]> {
        self.objects.get(index as usize).map(Vec::as_slice)
    }

    /// Content hash of a kernel (its manifest entry and its code objects):
    /// changes whenever anything that could change its timings changes, so it
    /// keys the tuning cache.
    pub fn kernel_hash(&self, name: &str) -> Option<&str> {
        let index = self.manifest.kernels.iter().position(|k| k.decl.name == name)?;
        self.kernel_hashes.get(index).map(String::as_str)
    }
}

fn kernel_hash(kernel: &KernelEntry, sums: &[[u8; 32]]) -> Result<String, BundleError> {
    let mut bytes = serde_json::to_vec(kernel).map_err(|e| BundleError::ManifestSyntax { message: e.to_string() })?;
    for v in &kernel.variants {
        for index in [v.code.ptx, v.code.cubin].into_iter().flatten() {
            if let Some(sum) = sums.get(index as usize) {
                bytes.extend_from_slice(sum);
            }
        }
    }
    Ok(hex(&sha256(&bytes)))
}

/// The machine code of one variant as the compiler hands it over.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CodeObjects {
    pub ptx: Option<String>,
    pub cubin: Option<Vec<u8>>,
}

/// Builds a bundle. Insertion order does not matter: the output is sorted.
#[derive(Clone, Debug, Default)]
pub struct BundleWriter {
    compiler_version: String,
    source_hash: String,
    kernels: BTreeMap<String, (KernelDecl, Vec<(VariantInfo, CodeObjects)>)>,
}

impl BundleWriter {
    pub fn new(compiler_version: impl Into<String>, source_hash: impl Into<String>) -> BundleWriter {
        BundleWriter {
            compiler_version: compiler_version.into(),
            source_hash: source_hash.into(),
            kernels: BTreeMap::new(),
        }
    }

    pub fn add_kernel(&mut self, decl: KernelDecl) -> Result<(), BundleError> {
        if self.kernels.contains_key(&decl.name) {
            return Err(BundleError::inconsistent(format!("kernel `{}` added twice", decl.name)));
        }
        self.kernels.insert(decl.name.clone(), (decl, Vec::new()));
        Ok(())
    }

    pub fn add_variant(&mut self, kernel: &str, info: VariantInfo, code: CodeObjects) -> Result<(), BundleError> {
        let (_, variants) = self.kernels.get_mut(kernel).ok_or_else(|| {
            BundleError::inconsistent(format!(
                "variant {} added to kernel `{kernel}`, which was not added",
                info.label()
            ))
        })?;
        variants.push((info, code));
        Ok(())
    }

    /// The manifest and code objects, in canonical order.
    fn layout(&self) -> (Manifest, Vec<Vec<u8>>) {
        let mut objects: Vec<Vec<u8>> = Vec::new();
        let mut index_of: HashMap<[u8; 32], u32> = HashMap::new();
        let mut intern = |bytes: Vec<u8>| -> u32 {
            *index_of.entry(sha256(&bytes)).or_insert_with(|| {
                objects.push(bytes);
                (objects.len() - 1) as u32
            })
        };
        let mut kernels = Vec::new();
        for (decl, variants) in self.kernels.values() {
            let mut sorted: Vec<&(VariantInfo, CodeObjects)> = variants.iter().collect();
            sorted.sort_by_cached_key(|(info, _)| (info.arch.clone(), info.label()));
            let variants = sorted
                .into_iter()
                .map(|(info, code)| VariantEntry {
                    info: info.clone(),
                    code: CodeRefs {
                        ptx: code.ptx.as_ref().map(|p| intern(p.as_bytes().to_vec())),
                        cubin: code.cubin.as_ref().map(|c| intern(c.clone())),
                    },
                })
                .collect();
            kernels.push(KernelEntry { decl: decl.clone(), variants });
        }
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            compiler_version: self.compiler_version.clone(),
            source_hash: self.source_hash.clone(),
            kernels,
        };
        (manifest, objects)
    }

    /// The bundle's bytes; fails if the reader would reject them.
    pub fn to_bytes(&self) -> Result<Vec<u8>, BundleError> {
        let (manifest, objects) = self.layout();
        validate::validate(&manifest, &objects)?;
        let json = serde_json::to_vec(&manifest).map_err(|e| BundleError::ManifestSyntax { message: e.to_string() })?;
        Ok(format::encode(&json, &objects))
    }

    /// Write the bundle atomically (a temporary file in the same folder, then
    /// a rename), so a reader never sees half a bundle.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), BundleError> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        crate::fsutil::write_atomic(path, &bytes).map_err(|source| BundleError::Io { path: path.to_path_buf(), source })
    }
}
