//! A fixed pool of scoped threads pulling job indices from a shared counter:
//! long and short jobs balance themselves, and results come back in job
//! order whatever order they finished in (the bundle must not depend on it).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `work(i)` for every `i < count` on `workers` threads; results in index order.
pub fn run<T: Send>(count: usize, workers: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let mut finished: Vec<(usize, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.clamp(1, count.max(1)))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= count {
                            break done;
                        }
                        done.push((index, work(index)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap_or_else(|payload| std::panic::resume_unwind(payload)))
            .collect()
    });
    finished.sort_by_key(|(index, _)| *index);
    finished.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::run;

    #[test]
    fn results_come_back_in_index_order() {
        // Later jobs finish first: order must not follow completion.
        let results = run(16, 4, |i| {
            std::thread::sleep(std::time::Duration::from_millis(16 - i as u64));
            i * 10
        });
        assert_eq!(results, (0..16).map(|i| i * 10).collect::<Vec<_>>());
        assert_eq!(run(0, 8, |i| i), Vec::<usize>::new());
        assert_eq!(run(3, 0, |i| i), vec![0, 1, 2]);
    }
}
