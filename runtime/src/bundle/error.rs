//! Why a bundle could not be read or written.

use std::fmt;
use std::path::PathBuf;

/// A region of a bundle file, for error messages (see `docs/bundle-format.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Magic,
    Version,
    /// The fixed-size header after the version (counts, lengths, checksums).
    Header,
    /// The table of code-object lengths and checksums.
    CodeTable,
    Manifest,
    /// One code object, by index in the code table.
    CodeObject(u32),
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Section::Magic => f.write_str("magic bytes"),
            Section::Version => f.write_str("format version"),
            Section::Header => f.write_str("header"),
            Section::CodeTable => f.write_str("code table"),
            Section::Manifest => f.write_str("manifest"),
            Section::CodeObject(i) => write!(f, "code object {i}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot access bundle `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not a Tessera bundle: the file starts with {found:02x?}, a .tsb file starts with {expected:02x?}")]
    BadMagic { found: Vec<u8>, expected: [u8; 8] },
    #[error(
        "bundle format version {found} is not supported: this runtime reads version {supported} \
         (rebuild the bundle with a matching compiler, or use a matching runtime)"
    )]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("bundle is truncated in the {section}: it needs {needed} bytes there, the file has {available}")]
    Truncated { section: Section, needed: u64, available: u64 },
    #[error("bundle is corrupted: the {section} checksum does not match (stored {stored}, computed {computed})")]
    ChecksumMismatch { section: Section, stored: String, computed: String },
    #[error("bundle has {count} unexpected bytes after the last code object")]
    TrailingBytes { count: u64 },
    #[error("bundle manifest is not valid: {message}")]
    ManifestSyntax { message: String },
    #[error("bundle is inconsistent: {message}")]
    Inconsistent { message: String },
}

impl BundleError {
    pub(crate) fn inconsistent(message: impl Into<String>) -> BundleError {
        BundleError::Inconsistent { message: message.into() }
    }
}
