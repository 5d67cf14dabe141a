//! Build progress on stderr: a bar on a terminal, periodic lines elsewhere
//! (logs and CI keep a readable record without carriage-return noise).

use crate::options::ProgressMode;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lines mode prints at most this often (and always at the end).
const LINE_INTERVAL: Duration = Duration::from_secs(5);

pub struct Progress {
    total: usize,
    kind: Kind,
}

enum Kind {
    Bar(ProgressBar),
    Lines(Mutex<LineState>),
    Off,
}

struct LineState {
    done: usize,
    started: Instant,
    last: Instant,
}

impl Progress {
    pub fn new(mode: ProgressMode, total: usize) -> Progress {
        let kind = match mode {
            ProgressMode::Off => Kind::Off,
            ProgressMode::Auto if std::io::stderr().is_terminal() => {
                let bar = ProgressBar::new(total as u64);
                let style = ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:32} {pos}/{len} variants, {per_sec}, ETA {eta} {msg}",
                );
                if let Ok(style) = style {
                    bar.set_style(style);
                }
                bar.enable_steady_tick(Duration::from_millis(200));
                Kind::Bar(bar)
            }
            ProgressMode::Auto | ProgressMode::Lines => {
                let now = Instant::now();
                Kind::Lines(Mutex::new(LineState { done: 0, started: now, last: now }))
            }
        };
        Progress { total, kind }
    }

    /// One variant finished (built or rejected); `label` names it.
    pub fn tick(&self, label: &str) {
        match &self.kind {
            Kind::Bar(bar) => {
                bar.set_message(label.to_string());
                bar.inc(1);
            }
            Kind::Lines(state) => {
                let Ok(mut state) = state.lock() else { return };
                state.done += 1;
                let now = Instant::now();
                if now.duration_since(state.last) >= LINE_INTERVAL || state.done == self.total {
                    state.last = now;
                    eprintln!("{}", line(state.done, self.total, now.duration_since(state.started)));
                }
            }
            Kind::Off => {}
        }
    }

    pub fn finish(&self) {
        if let Kind::Bar(bar) = &self.kind {
            bar.finish_and_clear();
        }
    }
}

/// `building: 12/40 variants (30%), 2.4/s, ETA 12s`.
fn line(done: usize, total: usize, elapsed: Duration) -> String {
    let percent = (done * 100).checked_div(total).unwrap_or(100);
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-3);
    let eta = if rate > 0.0 { format!("{:.0}s", total.saturating_sub(done) as f64 / rate) } else { "?".into() };
    format!("building: {done}/{total} variants ({percent}%), {rate:.1}/s, ETA {eta}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_count_percentage_rate_and_eta() {
        assert_eq!(line(10, 40, Duration::from_secs(5)), "building: 10/40 variants (25%), 2.0/s, ETA 15s");
        assert_eq!(line(0, 0, Duration::ZERO), "building: 0/0 variants (100%), 0.0/s, ETA ?");
    }
}
