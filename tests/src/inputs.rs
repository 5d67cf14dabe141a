//! Random inputs and the seeds they come from.
//!
//! Each test runs [`DEFAULT_TRIALS`] trials. A trial's seed is derived from
//! the test's name (so a test is reproducible run after run, and two tests
//! never share a stream) and the trial's number (so each trial draws fresh
//! data). Every failure message names its trial's seed.
//!
//! Environment variables:
//! - `TESSERA_TEST_SEED=<u64>` runs exactly one trial with that seed: paste
//!   the seed of a failure here to replay it.
//! - `TESSERA_TEST_TRIALS=<n>` runs `n` trials per test instead (for a longer
//!   soak; seeds beyond the default ones are new data).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Trials per test when `TESSERA_TEST_TRIALS` is not set.
pub const DEFAULT_TRIALS: u64 = 3;

/// One trial: its seed (for messages) and the generator seeded with it.
pub struct Trial {
    pub seed: u64,
    pub index: u64,
    pub rng: StdRng,
}

impl Trial {
    pub fn new(index: u64, seed: u64) -> Trial {
        Trial { seed, index, rng: StdRng::seed_from_u64(seed) }
    }

    /// `trial 2 (TESSERA_TEST_SEED=123...)`, for failure messages.
    pub fn describe(&self) -> String {
        format!("trial {} (TESSERA_TEST_SEED={})", self.index, self.seed)
    }
}

/// The trials of the test named `test`.
///
/// Panics if one of the environment variables is set but is not a number.
pub fn trials(test: &str) -> Vec<Trial> {
    if let Some(seed) = env_u64("TESSERA_TEST_SEED") {
        return vec![Trial::new(0, seed)];
    }
    let count = env_u64("TESSERA_TEST_TRIALS").unwrap_or(DEFAULT_TRIALS);
    let base = fnv1a(test.as_bytes());
    (0..count).map(|i| Trial::new(i, splitmix64(base.wrapping_add(i)))).collect()
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    match text.trim().parse() {
        Ok(v) => Some(v),
        Err(e) => panic!("{name}={text:?} is not an unsigned integer: {e}"),
    }
}

/// FNV-1a: a stable hash of the test's name (std's hasher may change
/// between Rust releases, which would change every seed).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// SplitMix64's output function: spreads consecutive trial numbers over the
/// whole seed space.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `len` values drawn uniformly from `[lo, hi)`.
pub fn uniform(rng: &mut impl Rng, len: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..len).map(|_| rng.random_range(lo..hi)).collect()
}

/// `len` values drawn from a normal distribution (Box-Muller).
pub fn normal(rng: &mut impl Rng, len: usize, mean: f64, std_dev: f64) -> Vec<f64> {
    (0..len)
        .map(|_| {
            // 1 - [0, 1) is in (0, 1], so the logarithm is finite.
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random();
            mean + std_dev * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trials_of_one_test_differ_and_repeat() {
        let a: Vec<u64> = trials("some_test").iter().map(|t| t.seed).collect();
        let b: Vec<u64> = trials("some_test").iter().map(|t| t.seed).collect();
        let other: Vec<u64> = trials("other_test").iter().map(|t| t.seed).collect();
        // Only meaningful without the overrides, which tests do not set.
        if std::env::var_os("TESSERA_TEST_SEED").is_none() && std::env::var_os("TESSERA_TEST_TRIALS").is_none() {
            assert_eq!(a.len() as u64, DEFAULT_TRIALS);
            assert_eq!(a, b);
            assert_ne!(a, other);
            let mut unique = a.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), a.len());
        }
    }

    #[test]
    fn a_seed_replays_the_same_data() {
        let x = uniform(&mut Trial::new(0, 42).rng, 8, -1.0, 1.0);
        let y = uniform(&mut Trial::new(5, 42).rng, 8, -1.0, 1.0);
        assert_eq!(x, y);
        assert!(x.iter().all(|v| (-1.0..1.0).contains(v)));
    }

    #[test]
    fn normal_samples_have_the_requested_moments() {
        let xs = normal(&mut Trial::new(0, 7).rng, 20_000, 3.0, 2.0);
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / xs.len() as f64;
        // Standard errors: 2 / sqrt(20000) ~ 0.014 for the mean, ~0.04 for the variance.
        assert!((mean - 3.0).abs() < 0.07, "mean {mean}");
        assert!((var - 4.0).abs() < 0.2, "variance {var}");
    }
}
