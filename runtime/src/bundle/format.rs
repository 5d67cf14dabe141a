//! The byte layout of a `.tsb` file (normative description:
//! `docs/bundle-format.md`).
//!
//! ```text
//! 0    8   magic  89 54 53 42 0D 0A 1A 0A  ("\x89TSB\r\n\x1a\n")
//! 8    4   format version (u32 LE)
//! 12   4   code object count N (u32 LE)
//! 16   8   manifest length M (u64 LE)
//! 24   32  SHA-256 of the manifest bytes
//! 56   32  SHA-256 of the code table
//! 88   32  SHA-256 of bytes 8..88 (the header checksum)
//! 120  40N code table: per object, length (u64 LE) then SHA-256
//! ...  M   manifest (UTF-8 JSON)
//! ...      code objects, back to back, in table order; the file ends there
//! ```
//!
//! The version is read before anything that a later version may lay out
//! differently, so an old runtime names a newer file's version instead of
//! reporting corruption.

use super::error::{BundleError, Section};
use super::manifest::Manifest;
use sha2::{Digest, Sha256};

/// First eight bytes of every bundle. The high byte catches 7-bit transfers,
/// CR LF and the ^Z catch newline translation, as in PNG.
pub const MAGIC: [u8; 8] = *b"\x89TSB\r\n\x1a\n";

/// The format version this runtime writes and reads (2: kernels carry
/// `require` conditions).
pub const FORMAT_VERSION: u32 = 3;

/// Offset of the code table (end of the fixed header).
pub(crate) const HEADER_END: usize = 120;
const TABLE_ENTRY: usize = 40;

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lay out a bundle. `manifest` must already be the canonical JSON bytes.
pub(crate) fn encode(manifest: &[u8], objects: &[Vec<u8>]) -> Vec<u8> {
    let mut table = Vec::with_capacity(objects.len() * TABLE_ENTRY);
    for object in objects {
        table.extend_from_slice(&(object.len() as u64).to_le_bytes());
        table.extend_from_slice(&sha256(object));
    }
    let mut out =
        Vec::with_capacity(HEADER_END + table.len() + manifest.len() + objects.iter().map(Vec::len).sum::<usize>());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(objects.len() as u32).to_le_bytes());
    out.extend_from_slice(&(manifest.len() as u64).to_le_bytes());
    out.extend_from_slice(&sha256(manifest));
    out.extend_from_slice(&sha256(&table));
    let header_sum = sha256(&out[8..88]);
    out.extend_from_slice(&header_sum);
    out.extend_from_slice(&table);
    out.extend_from_slice(manifest);
    for object in objects {
        out.extend_from_slice(object);
    }
    out
}

/// A bundle's sections, checked byte-wise but not yet for meaning.
pub(crate) struct Decoded {
    pub manifest: Manifest,
    pub objects: Vec<Vec<u8>>,
    /// SHA-256 of each code object, as stored and verified.
    pub object_sums: Vec<[u8; 32]>,
}

/// A cursor that reports which section ran out of bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: u64, section: Section) -> Result<&'a [u8], BundleError> {
        let available = (self.bytes.len() - self.pos) as u64;
        if len > available {
            return Err(BundleError::Truncated { section, needed: len, available });
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.bytes[start..self.pos])
    }

    fn u32(&mut self, section: Section) -> Result<u32, BundleError> {
        let b = self.take(4, section)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, section: Section) -> Result<u64, BundleError> {
        let b = self.take(8, section)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn sum(&mut self, section: Section) -> Result<[u8; 32], BundleError> {
        let b = self.take(32, section)?;
        let mut a = [0u8; 32];
        a.copy_from_slice(b);
        Ok(a)
    }
}

fn check(section: Section, stored: &[u8; 32], bytes: &[u8]) -> Result<(), BundleError> {
    let computed = sha256(bytes);
    if &computed != stored {
        return Err(BundleError::ChecksumMismatch { section, stored: hex(stored), computed: hex(&computed) });
    }
    Ok(())
}

/// Check magic, version and every checksum, and split the file into its
/// sections. Nothing is allocated from a length before the header checksum
/// has vouched for it, and never beyond the file's size.
pub(crate) fn decode(bytes: &[u8]) -> Result<Decoded, BundleError> {
    let mut r = Reader { bytes, pos: 0 };
    let magic = r
        .take(8, Section::Magic)
        .map_err(|_| BundleError::BadMagic { found: bytes.iter().take(8).copied().collect(), expected: MAGIC })?;
    if magic != MAGIC {
        return Err(BundleError::BadMagic { found: magic.to_vec(), expected: MAGIC });
    }
    let version = r.u32(Section::Version)?;
    if version != FORMAT_VERSION {
        return Err(BundleError::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
    }
    let count = r.u32(Section::Header)?;
    let manifest_len = r.u64(Section::Header)?;
    let manifest_sum = r.sum(Section::Header)?;
    let table_sum = r.sum(Section::Header)?;
    let header_sum = r.sum(Section::Header)?;
    check(Section::Header, &header_sum, &bytes[8..88])?;

    let table = r.take(u64::from(count) * TABLE_ENTRY as u64, Section::CodeTable)?;
    check(Section::CodeTable, &table_sum, table)?;
    let manifest_bytes = r.take(manifest_len, Section::Manifest)?;
    check(Section::Manifest, &manifest_sum, manifest_bytes)?;
    let manifest: Manifest =
        serde_json::from_slice(manifest_bytes).map_err(|e| BundleError::ManifestSyntax { message: e.to_string() })?;

    let mut table = Reader { bytes: table, pos: 0 };
    let mut objects = Vec::with_capacity(count as usize);
    let mut object_sums = Vec::with_capacity(count as usize);
    for index in 0..count {
        let len = table.u64(Section::CodeTable)?;
        let sum = table.sum(Section::CodeTable)?;
        let object = r.take(len, Section::CodeObject(index))?;
        check(Section::CodeObject(index), &sum, object)?;
        objects.push(object.to_vec());
        object_sums.push(sum);
    }
    let trailing = (bytes.len() - r.pos) as u64;
    if trailing != 0 {
        return Err(BundleError::TrailingBytes { count: trailing });
    }
    if manifest.format_version != version {
        return Err(BundleError::inconsistent(format!(
            "the manifest says format version {}, the header says {version}",
            manifest.format_version
        )));
    }
    Ok(Decoded { manifest, objects, object_sums })
}
