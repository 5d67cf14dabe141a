//! The on-disk tuning cache.
//!
//! One small JSON file per (kernel hash, device, driver, tuning key), named by
//! a hash of those fields and holding them in full, so a hash collision or a
//! stale file reads as a miss, never as a wrong choice. Files are replaced
//! atomically: concurrent tuners race harmlessly (the last complete file
//! wins) and readers never see a partial file. A file that does not parse is
//! a miss and is overwritten by the next tuning.

use crate::bundle::FORMAT_VERSION;
use crate::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Everything a tuned choice depends on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheKey {
    pub kernel: String,
    /// `BundleData::kernel_hash`: the kernel's manifest entry and code.
    pub kernel_hash: String,
    pub device_name: String,
    pub compute_capability: (u32, u32),
    pub driver_version: i32,
    /// `tuning_key` of the launch.
    pub key: String,
}

impl CacheKey {
    /// Relative path of this key's entry: `tune/<kernel>/<hash>.json`.
    pub fn relative_path(&self) -> PathBuf {
        let mut h = Sha256::new();
        for field in [
            self.kernel_hash.as_str(),
            &self.device_name,
            &format!("{}.{}", self.compute_capability.0, self.compute_capability.1),
            &self.driver_version.to_string(),
            &self.key,
        ] {
            h.update((field.len() as u64).to_le_bytes());
            h.update(field.as_bytes());
        }
        let digest: [u8; 32] = h.finalize().into();
        let safe: String =
            self.kernel.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' }).take(64).collect();
        PathBuf::from("tune").join(safe).join(format!("{}.json", crate::bundle::hex_digest(&digest[..16])))
    }
}

/// A stored choice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// Layout version of this file (the bundle format's: both change together).
    pub format: u32,
    pub key: CacheKey,
    /// `VariantInfo::label` of the chosen variant.
    pub pick: String,
    /// Its median time when tuned, in milliseconds.
    pub time_ms: f64,
}

/// The cache folder: `$TESSERA_CACHE_DIR`, else `$XDG_CACHE_HOME/tessera`,
/// else `~/.cache/tessera`; None when none of these is set.
pub fn default_cache_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("TESSERA_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("tessera")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("tessera")))
}

/// A tuning cache rooted at a folder.
#[derive(Clone, Debug)]
pub struct TuneCache {
    root: PathBuf,
}

impl TuneCache {
    pub fn new(root: impl Into<PathBuf>) -> TuneCache {
        TuneCache { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path_of(&self, key: &CacheKey) -> PathBuf {
        self.root.join(key.relative_path())
    }

    /// The entry for `key`, if a complete, matching one is stored.
    pub fn load(&self, key: &CacheKey) -> Option<CacheEntry> {
        let bytes = std::fs::read(self.path_of(key)).ok()?;
        let entry: CacheEntry = serde_json::from_slice(&bytes).ok()?;
        (entry.format == FORMAT_VERSION && &entry.key == key).then_some(entry)
    }

    pub fn store(&self, entry: &CacheEntry) -> std::io::Result<PathBuf> {
        let path = self.path_of(&entry.key);
        let bytes = serde_json::to_vec_pretty(entry).map_err(std::io::Error::other)?;
        write_atomic(&path, &bytes)?;
        Ok(path)
    }

    /// Remove every tuning entry; returns how many files were removed.
    pub fn clear(&self) -> std::io::Result<usize> {
        let dir = self.root.join("tune");
        let mut count = 0;
        if dir.exists() {
            count = count_files(&dir)?;
            std::fs::remove_dir_all(&dir)?;
        }
        Ok(count)
    }
}

fn count_files(dir: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        n += if entry.file_type()?.is_dir() { count_files(&entry.path())? } else { 1 };
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: &str) -> CacheKey {
        CacheKey {
            kernel: "vector_add".into(),
            kernel_hash: "ab".repeat(32),
            device_name: "NVIDIA H100 80GB HBM3".into(),
            compute_capability: (9, 0),
            driver_version: 12080,
            key: format!("n:i32={n}"),
        }
    }

    fn entry(n: &str, pick: &str) -> CacheEntry {
        CacheEntry { format: FORMAT_VERSION, key: key(n), pick: pick.into(), time_ms: 0.25 }
    }

    #[test]
    fn every_field_is_part_of_the_key() {
        let base = key("1024");
        let mut variants = vec![];
        let mut k = base.clone();
        k.kernel_hash = "cd".repeat(32);
        variants.push(k);
        let mut k = base.clone();
        k.device_name = "NVIDIA A100".into();
        variants.push(k);
        let mut k = base.clone();
        k.compute_capability = (8, 0);
        variants.push(k);
        let mut k = base.clone();
        k.driver_version = 13000;
        variants.push(k);
        variants.push(key("2048"));
        for v in variants {
            assert_ne!(v.relative_path(), base.relative_path(), "{v:?}");
        }
        let path = base.relative_path();
        assert!(path.starts_with("tune/vector_add"), "{path:?}");
    }

    #[test]
    fn store_load_clear() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TuneCache::new(dir.path());
        assert_eq!(cache.load(&key("1024")), None);
        cache.store(&entry("1024", "BLOCK=256,warps=4,stages=1@sm_90a")).unwrap();
        assert_eq!(cache.load(&key("1024")).unwrap().pick, "BLOCK=256,warps=4,stages=1@sm_90a");
        assert_eq!(cache.load(&key("2048")), None);
        // A corrupt file is a miss, not an error.
        std::fs::write(cache.path_of(&key("1024")), b"{\"format\": 1, \"ke").unwrap();
        assert_eq!(cache.load(&key("1024")), None);
        cache.store(&entry("2048", "x")).unwrap();
        assert_eq!(cache.clear().unwrap(), 2);
        assert_eq!(cache.load(&key("2048")), None);
        assert_eq!(cache.clear().unwrap(), 0);
    }

    #[test]
    fn a_file_for_another_key_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TuneCache::new(dir.path());
        // Simulate a hash collision: another key's entry at this key's path.
        let path = cache.path_of(&key("1024"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_vec(&entry("4096", "x")).unwrap()).unwrap();
        assert_eq!(cache.load(&key("1024")), None);
    }

    #[test]
    fn concurrent_writers_never_expose_a_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TuneCache::new(dir.path());
        // Long picks make a torn write detectable (a prefix does not parse).
        let picks: Vec<String> = (0..2).map(|t| format!("{t}").repeat(64 * 1024)).collect();
        cache.store(&entry("1024", &picks[0])).unwrap();
        let picks = &picks;
        std::thread::scope(|s| {
            for pick in picks {
                let cache = cache.clone();
                s.spawn(move || {
                    for _ in 0..50 {
                        cache.store(&entry("1024", pick)).unwrap();
                    }
                });
            }
            let cache = cache.clone();
            s.spawn(move || {
                for _ in 0..200 {
                    let got = cache.load(&key("1024")).expect("a reader saw a partial or missing file");
                    assert!(picks.contains(&got.pick));
                }
            });
        });
        let last = cache.load(&key("1024")).unwrap();
        assert!(picks.contains(&last.pick));
        let leftovers: Vec<_> = std::fs::read_dir(cache.path_of(&key("1024")).parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
