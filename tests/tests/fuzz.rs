//! Fuzzing the front end with damaged real programs.
//!
//! Inputs are the real corpus (every `.tsr` of `kernels-dsl/` and
//! `tests/diagnostics/`) after a few random edits (byte ranges and tokens
//! deleted, inserted, duplicated or swapped, fragments spliced in from other
//! files, truncation, random unicode), plus wholly random text and token
//! soup. For each input the front end must not panic, and every kernel must
//! either lower to IR that verifies or be refused with at least one error
//! whose span lies inside the file; `check_file` must agree (no errors only
//! if nothing failed). A panic is caught and reported with the input.
//!
//! `TESSERA_FUZZ_CASES` sets the number of cases (default 12000: two thirds
//! mutated, one third random; about ten seconds in the debug profile). A
//! failure prints the whole (shrunk) input, so no seed is needed to replay it.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tessera_diagnostics::{Diagnostic, SourceMap};
use tessera_frontend::{check_file, lower_kernel, signatures};

/// The corpus: (file name, text).
fn corpus() -> &'static [(String, String)] {
    static CORPUS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<PathBuf> = Vec::new();
        for dir in [root.join("../kernels-dsl"), root.join("diagnostics")] {
            let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
            files.extend(
                entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "tsr")),
            );
        }
        files.sort();
        let corpus: Vec<(String, String)> = files
            .iter()
            .map(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
                (name, std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display())))
            })
            .collect();
        assert!(corpus.len() > 100, "the fuzz corpus has only {} files", corpus.len());
        corpus
    })
}

/// Every distinct token of the corpus, for insertions and token soup.
fn token_pool() -> &'static [String] {
    static POOL: OnceLock<Vec<String>> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut pool: Vec<String> = corpus()
            .iter()
            .flat_map(|(_, text)| token_spans(text.as_bytes()).into_iter().map(|r| text[r].to_string()))
            .collect();
        pool.sort();
        pool.dedup();
        pool
    })
}

/// Byte ranges of the tokens of `text`, roughly as the lexer sees them: runs
/// of identifier and number characters, one UTF-8 character of anything
/// else; whitespace separates and is not a token.
fn token_spans(text: &[u8]) -> Vec<Range<usize>> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        let start = i;
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if word(b) {
            while i < text.len() && word(text[i]) {
                i += 1;
            }
        } else {
            i += 1;
            while i < text.len() && text[i] & 0xC0 == 0x80 {
                i += 1;
            }
        }
        out.push(start..i);
    }
    out
}

/// One random edit. Positions and lengths are reduced modulo the current
/// text's size when applied, so every value is valid for every input.
#[derive(Clone, Debug)]
enum Mutation {
    DeleteBytes { at: usize, len: usize },
    DuplicateBytes { at: usize, len: usize, to: usize },
    SwapBytes { a: usize, b: usize, len: usize },
    InsertToken { at: usize, token: usize },
    DeleteTokens { at: usize, count: usize },
    DuplicateToken { at: usize, to: usize },
    SwapTokens { a: usize, b: usize },
    Splice { at: usize, file: usize, from: usize, len: usize },
    Truncate { at: usize },
    InsertChar { at: usize, ch: char },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let pos = any::<usize>();
    prop_oneof![
        (pos, 1..40usize).prop_map(|(at, len)| Mutation::DeleteBytes { at, len }),
        (pos, 1..60usize, pos).prop_map(|(at, len, to)| Mutation::DuplicateBytes { at, len, to }),
        (pos, pos, 1..30usize).prop_map(|(a, b, len)| Mutation::SwapBytes { a, b, len }),
        (pos, pos).prop_map(|(at, token)| Mutation::InsertToken { at, token }),
        (pos, 1..4usize).prop_map(|(at, count)| Mutation::DeleteTokens { at, count }),
        (pos, pos).prop_map(|(at, to)| Mutation::DuplicateToken { at, to }),
        (pos, pos).prop_map(|(a, b)| Mutation::SwapTokens { a, b }),
        (pos, pos, pos, 1..200usize).prop_map(|(at, file, from, len)| Mutation::Splice { at, file, from, len }),
        pos.prop_map(|at| Mutation::Truncate { at }),
        (pos, any::<char>()).prop_map(|(at, ch)| Mutation::InsertChar { at, ch }),
    ]
}

fn splice(text: &mut Vec<u8>, at: usize, remove: usize, insert: &[u8]) {
    let at = at.min(text.len());
    let end = (at + remove).min(text.len());
    text.splice(at..end, insert.iter().copied());
}

fn apply(text: &mut Vec<u8>, m: &Mutation) {
    let n = text.len().max(1);
    let tokens = token_spans(text);
    let token = |i: usize| tokens.get(i % tokens.len().max(1)).cloned();
    match *m {
        Mutation::DeleteBytes { at, len } => splice(text, at % n, len, &[]),
        Mutation::DuplicateBytes { at, len, to } => {
            let at = at % n;
            let piece = text[at.min(text.len())..(at + len).min(text.len())].to_vec();
            splice(text, to % n, 0, &piece);
        }
        Mutation::SwapBytes { a, b, len } => {
            let (a, b) = ((a % n).min(b % n), (a % n).max(b % n));
            let len = len.min(b - a).min(text.len().saturating_sub(b));
            for i in 0..len {
                text.swap(a + i, b + i);
            }
        }
        Mutation::InsertToken { at, token } => {
            let pool = token_pool();
            let t = format!(" {} ", pool[token % pool.len()]);
            splice(text, at % n, 0, t.as_bytes());
        }
        Mutation::DeleteTokens { at, count } => {
            if let (Some(first), Some(last)) = (token(at), token(at.wrapping_add(count - 1)))
                && first.start <= last.end
            {
                splice(text, first.start, last.end - first.start, &[]);
            }
        }
        Mutation::DuplicateToken { at, to } => {
            if let (Some(t), Some(dest)) = (token(at), token(to)) {
                let piece = text[t].to_vec();
                splice(text, dest.start, 0, &piece);
            }
        }
        Mutation::SwapTokens { a, b } => {
            if let (Some(x), Some(y)) = (token(a), token(b)) {
                let (x, y) = if x.start <= y.start { (x, y) } else { (y, x) };
                if x.end <= y.start {
                    let (tx, ty) = (text[x.clone()].to_vec(), text[y.clone()].to_vec());
                    splice(text, y.start, y.len(), &tx);
                    splice(text, x.start, x.len(), &ty);
                }
            }
        }
        Mutation::Splice { at, file, from, len } => {
            let files = corpus();
            let other = files[file % files.len()].1.as_bytes();
            let from = from % other.len().max(1);
            let piece = &other[from.min(other.len())..(from + len).min(other.len())];
            splice(text, at % n, 0, piece);
        }
        Mutation::Truncate { at } => text.truncate(at % n),
        Mutation::InsertChar { at, ch } => {
            let mut buf = [0u8; 4];
            splice(text, at % n, 0, ch.encode_utf8(&mut buf).as_bytes());
        }
    }
}

/// Whether every span of `diags` lies inside `len` bytes.
fn spans_in_range(diags: &[Diagnostic], len: usize) -> Result<(), String> {
    match diags.iter().find(|d| d.span.start > d.span.end || d.span.end as usize > len) {
        Some(d) => {
            Err(format!("span {}..{} of {} outside the {len}-byte input: {d}", d.span.start, d.span.end, d.code))
        }
        None => Ok(()),
    }
}

/// What the inputs of one test did, to show that the fuzzer reaches
/// lowering and not only the parser.
#[derive(Default)]
struct Tally {
    inputs: std::cell::Cell<u32>,
    kernels_lowered: std::cell::Cell<u32>,
    kernels_refused: std::cell::Cell<u32>,
}

impl Tally {
    fn report(&self, what: &str, asked: u32) {
        println!(
            "fuzz: {} {what} inputs run ({asked} cases asked, the rest shrinking); kernels lowered and verified: {}, refused with errors: {}",
            self.inputs.get(),
            self.kernels_lowered.get(),
            self.kernels_refused.get()
        );
    }
}

/// Run the front end over `text` and check its contract; a broken contract
/// or a panic is an error naming the input.
fn check(text: &str, tally: &Tally) -> Result<(), TestCaseError> {
    tally.inputs.set(tally.inputs.get() + 1);
    match catch_unwind(AssertUnwindSafe(|| front_end_contract(text))) {
        Ok(Ok((lowered, refused))) => {
            tally.kernels_lowered.set(tally.kernels_lowered.get() + lowered);
            tally.kernels_refused.set(tally.kernels_refused.get() + refused);
            Ok(())
        }
        Ok(Err(why)) => Err(TestCaseError::fail(format!("{why}\ninput:\n{text:?}"))),
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(TestCaseError::fail(format!("panic: {msg}\ninput:\n{text:?}")))
        }
    }
}

/// The contract for one input; on success, how many kernels lowered and how
/// many were refused.
fn front_end_contract(text: &str) -> Result<(u32, u32), String> {
    let len = text.len();
    let mut checked = SourceMap::new();
    let file_diags = check_file(&mut checked, "fuzz.tsr", text);
    spans_in_range(&file_diags, len)?;

    let mut map = SourceMap::new();
    let file = map.add("fuzz.tsr", text);
    let (module, syntax) = tessera_syntax::parse(file, text);
    spans_in_range(&syntax, len)?;
    let (sigs, sig_diags) = signatures(&map, file, &module);
    spans_in_range(&sig_diags, len)?;
    // Kernels with every compile-time default that failed to lower.
    let mut failed_at_defaults = Vec::new();
    let (mut lowered, mut refused) = (0, 0);
    for sig in &sigs {
        match lower_kernel(&map, file, &module, &sig.name, &[]) {
            Ok(k) => {
                lowered += 1;
                if let Err(errors) = tessera_tir::verify(&k) {
                    let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                    return Err(format!(
                        "kernel `{}` lowered to IR that fails verification:\n{}",
                        sig.name,
                        list.join("\n")
                    ));
                }
            }
            Err(diags) => {
                refused += 1;
                if sig.const_params.iter().all(|c| c.default.is_some()) {
                    failed_at_defaults.push(sig.name.clone());
                }
                if !diags.iter().any(Diagnostic::is_error) {
                    return Err(format!("kernel `{}` failed without an error diagnostic", sig.name));
                }
                spans_in_range(&diags, len)?;
            }
        }
    }
    // `check_file` parses the same text and lowers the same kernels at the
    // same defaults: if it reports no error, neither may the parts.
    if !file_diags.iter().any(Diagnostic::is_error) {
        if syntax.iter().chain(&sig_diags).any(Diagnostic::is_error) {
            return Err("check_file reports no error, but the syntax or signatures have errors".to_string());
        }
        if !failed_at_defaults.is_empty() {
            return Err(format!("check_file reports no error, but {failed_at_defaults:?} failed to lower"));
        }
    }
    Ok((lowered, refused))
}

/// Cases per test, scaled by `TESSERA_FUZZ_CASES` (the total over both tests).
fn cases(share: f64) -> u32 {
    let total: f64 = std::env::var("TESSERA_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(12000.0);
    (total * share).round().max(1.0) as u32
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config { cases, failure_persistence: None, max_shrink_iters: 256, ..Config::default() })
}

#[test]
fn mutated_corpus_never_breaks_the_front_end() {
    let n = cases(2.0 / 3.0);
    let strategy = (any::<usize>(), prop::collection::vec(mutation(), 1..5));
    let tally = Tally::default();
    let result = runner(n).run(&strategy, |(file, mutations)| {
        let files = corpus();
        let mut text = files[file % files.len()].1.as_bytes().to_vec();
        for m in &mutations {
            apply(&mut text, m);
        }
        check(&String::from_utf8_lossy(&text), &tally)
    });
    tally.report("mutated", n);
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn random_inputs_never_break_the_front_end() {
    let n = cases(1.0 / 3.0);
    // Arbitrary text; token soup (mostly grammatical tokens in a random
    // order); token soup inside a kernel body, so that lowering runs.
    let pool_len = token_pool().len();
    let soup = prop::collection::vec(0..pool_len, 0..60).prop_map(|ids| {
        let pool = token_pool();
        ids.iter().map(|&i| pool[i].as_str()).collect::<Vec<_>>().join(" ")
    });
    let strategy = prop_oneof![
        "(?s).{0,300}",
        soup.clone(),
        soup.prop_map(|body| format!("kernel k(x: *f32, y: *f32, n: i32, const B: i32 = 16) grid(n) {{\n{body}\n}}")),
    ];
    let tally = Tally::default();
    let result = runner(n).run(&strategy, |text| check(&text, &tally));
    tally.report("random", n);
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn mutations_keep_inputs_in_bounds() {
    // The edits themselves must never panic, whatever their numbers.
    let mut text = b"kernel k(x: *f32) { store(x, 1.0); }".to_vec();
    let extremes = [0, 1, 7, usize::MAX, usize::MAX / 2];
    for &a in &extremes {
        for &b in &extremes {
            for m in [
                Mutation::DeleteBytes { at: a, len: 3 },
                Mutation::DuplicateBytes { at: a, len: 5, to: b },
                Mutation::SwapBytes { a, b, len: 4 },
                Mutation::InsertToken { at: a, token: b },
                Mutation::DeleteTokens { at: a, count: 2 },
                Mutation::DuplicateToken { at: a, to: b },
                Mutation::SwapTokens { a, b },
                Mutation::Splice { at: a, file: b, from: a, len: 10 },
                Mutation::InsertChar { at: a, ch: 'λ' },
            ] {
                apply(&mut text, &m);
            }
        }
    }
    apply(&mut text, &Mutation::Truncate { at: 0 });
    assert!(text.is_empty());
    apply(&mut text, &Mutation::SwapTokens { a: 3, b: 4 });
    apply(&mut text, &Mutation::DeleteTokens { at: 3, count: 2 });
    assert!(text.is_empty());
}
