//! What a build did: per kernel, the variants built and the ones rejected
//! with their reasons, and the summary table `tessera build` prints.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// Why a variant or a kernel was left out: a stable code and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    /// A code of this crate, the backend (E08xx) or the front end.
    pub code: &'static str,
    /// One line ("needs 200000 bytes of shared memory ...").
    pub message: String,
    /// More lines when there are any (rendered diagnostics, ptxas's log).
    pub detail: Option<String>,
}

impl Reason {
    pub fn new(code: &'static str, message: impl Into<String>) -> Reason {
        Reason { code, message: message.into(), detail: None }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Reason {
        self.detail = Some(detail.into());
        self
    }
}

/// A variant that was compiled but is not in the bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// `BLOCK=4096,warps=8,stages=1@sm_80`.
    pub variant: String,
    pub reason: Reason,
}

/// One kernel of the build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelReport {
    pub name: String,
    pub source: PathBuf,
    /// Variants in the bundle.
    pub built: usize,
    pub rejected: Vec<Rejection>,
    /// Set when the kernel has no variant in the bundle for a reason of its
    /// own (a compile-time parameter without value, a grid no expression fits).
    pub skipped: Option<Reason>,
    /// Compile time of its variants, summed over worker threads.
    pub time: Duration,
}

/// The outcome of a successful [`crate::build`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildReport {
    pub output: PathBuf,
    /// Size of the bundle written.
    pub bundle_bytes: usize,
    /// SHA-256 of the sources, as recorded in the manifest.
    pub source_hash: String,
    /// Kernels in source order (files as given, kernels as written).
    pub kernels: Vec<KernelReport>,
    /// Whether ptxas ran (cubins, registers and spills are in the bundle).
    pub assembled: bool,
    pub workers: usize,
    pub elapsed: Duration,
}

impl BuildReport {
    pub fn variants_built(&self) -> usize {
        self.kernels.iter().map(|k| k.built).sum()
    }

    pub fn variants_rejected(&self) -> usize {
        self.kernels.iter().map(|k| k.rejected.len()).sum()
    }

    /// Every rejected variant and skipped kernel with its full reason, one
    /// block each; empty when nothing was left out.
    pub fn rejections(&self) -> String {
        let mut out = String::new();
        for k in &self.kernels {
            if let Some(reason) = &k.skipped {
                push_reason(&mut out, &format!("skipped kernel `{}`", k.name), reason);
            }
            for r in &k.rejected {
                push_reason(&mut out, &format!("rejected `{}` {}", k.name, r.variant), &r.reason);
            }
        }
        out
    }

    /// The table printed at the end of a build: per kernel, variants built and
    /// rejected, the rejections grouped by code, and compile time.
    pub fn summary_table(&self) -> String {
        summary_table(&self.kernels)
    }
}

fn push_reason(out: &mut String, what: &str, reason: &Reason) {
    let _ = writeln!(out, "{what}: error[{}]: {}", reason.code, reason.message);
    if let Some(detail) = &reason.detail {
        for line in detail.lines() {
            let _ = writeln!(out, "  | {line}");
        }
    }
}

/// See [`BuildReport::summary_table`]; also used for the error when nothing was built.
pub(crate) fn summary_table(kernels: &[KernelReport]) -> String {
    let rows: Vec<[String; 5]> = kernels
        .iter()
        .map(|k| {
            let why = match &k.skipped {
                Some(reason) => format!("skipped: {} {}", reason.code, reason.message),
                None => grouped(&k.rejected),
            };
            [k.name.clone(), k.built.to_string(), k.rejected.len().to_string(), seconds(k.time), why]
        })
        .collect();
    let total = [
        "total".to_string(),
        kernels.iter().map(|k| k.built).sum::<usize>().to_string(),
        kernels.iter().map(|k| k.rejected.len()).sum::<usize>().to_string(),
        seconds(kernels.iter().map(|k| k.time).sum()),
        String::new(),
    ];
    let header = ["kernel", "built", "rejected", "time", "why rejected"].map(String::from);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows).chain(std::iter::once(&total)) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows).chain(std::iter::once(&total)) {
        let [name, built, rejected, time, why] = row;
        let line = format!(
            "{name:<w0$}  {built:>w1$}  {rejected:>w2$}  {time:>w3$}  {why}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Rejections grouped by code and message up to the numbers in it (so the
/// same problem at different tile sizes or architectures is one group):
/// `2x E0733: needs 262144 bytes of shared memory per block, ...` with the
/// first message of each group, shortened.
fn grouped(rejected: &[Rejection]) -> String {
    let mut groups: Vec<(&'static str, String, &str, usize)> = Vec::new();
    for r in rejected {
        let shape = without_numbers(&r.reason.message);
        match groups.iter_mut().find(|(code, s, _, _)| *code == r.reason.code && *s == shape) {
            Some(group) => group.3 += 1,
            None => groups.push((r.reason.code, shape, &r.reason.message, 1)),
        }
    }
    let shown: Vec<String> =
        groups.iter().map(|(code, _, message, count)| format!("{count}x {code}: {}", shorten(message, 100))).collect();
    shown.join("; ")
}

/// `message` with every run of digits replaced by `#`, and architecture
/// names (`sm_90a`) by `sm_#`.
fn without_numbers(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        if !c.is_ascii_digit() {
            if out.ends_with("sm_#") && c.is_ascii_lowercase() {
                continue;
            }
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

/// The first line of `text`, at most `max` characters (an ellipsis marks a cut).
fn shorten(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() <= max {
        return line.to_string();
    }
    let kept: String = line.chars().take(max.saturating_sub(3)).collect();
    format!("{}...", kept.trim_end())
}

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes;

    fn kernel(name: &str, built: usize, rejected: Vec<Rejection>, skipped: Option<Reason>, ms: u64) -> KernelReport {
        KernelReport {
            name: name.into(),
            source: PathBuf::from("k.tsr"),
            built,
            rejected,
            skipped,
            time: Duration::from_millis(ms),
        }
    }

    fn rejected(variant: &str, code: &'static str, message: &str) -> Rejection {
        Rejection { variant: variant.into(), reason: Reason::new(code, message).with_detail("log line") }
    }

    #[test]
    fn summary_groups_rejections_by_code_and_message_shape_and_totals() {
        let kernels = vec![
            kernel("vector_add", 12, vec![], None, 1500),
            kernel(
                "big",
                1,
                vec![
                    rejected("X=1@sm_80", codes::SHARED_MEMORY_LIMIT, "needs 70000 bytes, more than 65536 on sm_80"),
                    rejected("X=2@sm_80", codes::SHARED_MEMORY_LIMIT, "needs 140000 bytes, more than 65536 on sm_80"),
                    rejected("X=2@sm_90a", tessera_backend::codes::PTXAS_REJECTED, "ptxas failed"),
                ],
                None,
                250,
            ),
            kernel("softmax", 0, vec![], Some(Reason::new(codes::MISSING_CONST, "`BLOCK` has no value")), 0),
        ];
        let table = summary_table(&kernels);
        let expected = "\
kernel      built  rejected  time  why rejected
vector_add     12         0  1.5s
big             1         3  0.2s  2x E0733: needs 70000 bytes, more than 65536 on sm_80; 1x E0810: ptxas failed
softmax         0         0  0.0s  skipped: E0732 `BLOCK` has no value
total          13         3  1.8s
";
        assert_eq!(table, expected);
    }

    #[test]
    fn long_messages_are_cut_to_their_first_line() {
        assert_eq!(shorten("short\nsecond line", 100), "short");
        assert_eq!(shorten("abcdefghij", 8), "abcde...");
        assert_eq!(without_numbers("R = 256 on sm_80"), "R = # on sm_#");
        assert_eq!(without_numbers("on sm_90a, not sm_80"), "on sm_#, not sm_#");
    }

    #[test]
    fn rejections_list_every_variant_with_its_detail() {
        let report = BuildReport {
            output: PathBuf::from("out.tsb"),
            bundle_bytes: 10,
            source_hash: String::new(),
            kernels: vec![kernel(
                "big",
                1,
                vec![rejected("X=1@sm_80", codes::SHARED_MEMORY_LIMIT, "too big")],
                None,
                0,
            )],
            assembled: true,
            workers: 2,
            elapsed: Duration::ZERO,
        };
        assert_eq!(report.rejections(), "rejected `big` X=1@sm_80: error[E0733]: too big\n  | log line\n");
        assert_eq!((report.variants_built(), report.variants_rejected()), (1, 1));
    }
}
