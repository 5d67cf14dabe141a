//! Two processes tuning the same key at once: each writes its entry
//! atomically, readers never see a partial file, and the last writer wins
//! with a valid entry.

use std::process::{Command, Stdio};
use tessera_runtime::bundle::FORMAT_VERSION;
use tessera_runtime::tune::{CacheEntry, CacheKey, TuneCache};

const CHILD_ENV: &str = "TESSERA_TEST_CACHE_CHILD";

fn key() -> CacheKey {
    CacheKey {
        kernel: "vector_add".into(),
        kernel_hash: "12".repeat(32),
        device_name: "Test GPU".into(),
        compute_capability: (9, 0),
        driver_version: 13000,
        key: "n:i32=1024".into(),
    }
}

/// A large pick, so a torn write could not parse.
fn pick(writer: &str) -> String {
    format!("{writer}-").repeat(20_000)
}

/// The body of each writer process (run by the test below, not on its own):
/// write this process's entry many times, reading in between.
#[test]
#[ignore = "a child process of two_processes_write_the_same_entry"]
fn child_writer() {
    let spec = std::env::var(CHILD_ENV).expect("run only by two_processes_write_the_same_entry");
    let Some((dir, writer)) = spec.split_once('|') else { panic!("bad {CHILD_ENV}") };
    let cache = TuneCache::new(dir);
    let mine = CacheEntry { format: FORMAT_VERSION, key: key(), pick: pick(writer), time_ms: 1.0 };
    for _ in 0..100 {
        cache.store(&mine).unwrap();
        let seen = cache.load(&key()).expect("a reader saw a partial file");
        assert!(seen.pick == pick("a") || seen.pick == pick("b"));
    }
}

#[test]
fn two_processes_write_the_same_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cache = TuneCache::new(dir.path());
    cache.store(&CacheEntry { format: FORMAT_VERSION, key: key(), pick: pick("a"), time_ms: 1.0 }).unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = ["a", "b"]
        .iter()
        .map(|w| {
            Command::new(&exe)
                .args(["--exact", "child_writer", "--ignored", "--nocapture"])
                .env(CHILD_ENV, format!("{}|{w}", dir.path().display()))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Read while they write.
    for _ in 0..200 {
        let seen = cache.load(&key()).expect("a reader saw a partial file");
        assert!(seen.pick == pick("a") || seen.pick == pick("b"));
    }
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a writer process failed: {}", String::from_utf8_lossy(&out.stdout));
    }
    let last = cache.load(&key()).unwrap();
    assert!(last.pick == pick("a") || last.pick == pick("b"));
    let files: Vec<_> = std::fs::read_dir(cache.path_of(&key()).parent().unwrap()).unwrap().collect();
    assert_eq!(files.len(), 1, "temporary files were left behind");
}
