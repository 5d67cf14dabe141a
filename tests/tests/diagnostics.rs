//! The bad-program corpus: one realistic mistake per diagnostic code.
//!
//! Every file of `tests/diagnostics/` is named after the code it must
//! produce (`E0201_shape_mismatch_in_add.tsr`). A `.tsr` file is checked
//! like `tessera check` does (parse, then every kernel at its defaults and
//! tuning points), unless header comments say otherwise:
//!
//! - `// kernel: NAME` lowers that one kernel (for problems that only a
//!   caller can cause: an unknown kernel, a missing compile-time value);
//! - `// const: NAME=VALUE ...` gives it compile-time values;
//! - `// launch: NAME=VALUE ...` also runs it on the interpreter; a scalar is
//!   a number or `true`/`false`, a pointer `rand(LEN)` or `zeros(LEN)` (a
//!   buffer of the pointee type; `zeros(LEN, DTYPE)` for another type);
//!   parameters left out are left out of the argument list;
//! - `// max-ops: N` lowers the interpreter's op limit for that launch.
//!
//! Files under `ir/` are tile-IR text, parsed by `tessera_tir::parse_kernel`
//! and then verified. The first error must carry the file's code, and the
//! full rendered output is snapshotted so that a change of wording, span or
//! help shows up in review.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use tessera_diagnostics::{Diagnostic, FileId, SourceMap, render_all};
use tessera_frontend::{ConstValue, lower_kernel};
use tessera_interp::{HostBuffer, KernelArg, LaunchOptions};
use tessera_syntax::ast::Item;
use tessera_tir::{ElemType, Kernel, ScalarType, Type};

/// Codes that no `.tsr` program or launch of one can produce, with why.
const UNREACHABLE: &[(&str, &str)] = &[
    // The front end's own bug report: lowering produced IR that fails
    // verification. A program that triggers it is a compiler bug to fix.
    ("E0399", "internal compiler error"),
    // The CLI makes one buffer per pointer parameter; only API callers can
    // pass an index past the buffer slice.
    ("E0604", "buffer index past the buffer list"),
    // Grid expressions are checked by the front end to use only integer
    // parameters (E0402), and the arguments' kinds are checked (E0602)
    // before the grid is evaluated.
    ("E0606", "grid names a parameter without an integer argument"),
    // The front end rejects more than three grid dimensions (E0401).
    ("E0611", "more than three grid dimensions"),
    // Lowered kernels are verified; only hand-built IR breaks op contracts.
    ("E0625", "malformed IR"),
    // Only the programs an interleaved launch stops get it; the launch
    // reports the error of the program that stopped them.
    ("E0627", "program stopped by another program's failure"),
];

/// E05xx codes that IR text cannot produce: the parser checks names and
/// scopes itself (E0503, E0504), types every value it defines, builds the
/// body's arguments from the parameter list, and closes a region at its
/// terminator; the pass-manager codes need a pipeline, not text.
const UNREACHABLE_FROM_IR_TEXT: &[(&str, &str)] = &[
    ("E0520", "multiple definition: the parser reports E0504 first"),
    ("E0521", "use not dominated: the parser reports E0503 for a use outside its region"),
    ("E0522", "value id without a type: the parser types every value"),
    ("E0523", "body arguments are built from the parameters"),
    ("E0525", "terminator not last: the parser ends a region at its terminator"),
    ("E0540", "unknown pass: a pipeline problem"),
    ("E0541", "invalid input IR: a pipeline problem"),
    ("E0542", "a pass broke the IR: a pipeline problem"),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("diagnostics")
}

/// The corpus files of one folder with one extension, sorted.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    out
}

/// `E0201` from `.../E0201_shape_mismatch.tsr`.
fn code_of(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let code = stem.split('_').next().unwrap_or_default();
    assert!(
        code.len() == 5 && code.starts_with("E0") && code[1..].bytes().all(|b| b.is_ascii_digit()),
        "{}: the file name must start with a code such as E0201_",
        path.display()
    );
    code.to_string()
}

/// The value of a `// NAME: ...` header comment.
fn directive<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("// {name}:");
    text.lines().find_map(|l| l.trim().strip_prefix(prefix.as_str())).map(str::trim)
}

/// `A=1 B=2.5 C=true` as (name, value) pairs.
fn assignments(spec: &str) -> Vec<(String, String)> {
    spec.split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or_else(|| panic!("`{kv}` is not NAME=VALUE"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn const_value(text: &str) -> ConstValue {
    match text {
        "true" => ConstValue::Bool(true),
        "false" => ConstValue::Bool(false),
        _ => match text.parse::<i64>() {
            Ok(i) => ConstValue::Int(i),
            Err(_) => ConstValue::Float(text.parse().unwrap_or_else(|_| panic!("bad constant `{text}`"))),
        },
    }
}

/// Every diagnostic a `.tsr` corpus file produces, with the map to render it.
fn diagnose_source(name: &str, text: &str) -> (SourceMap, Vec<Diagnostic>) {
    let mut map = SourceMap::new();
    let kernel = directive(text, "kernel");
    let launch = directive(text, "launch");
    if kernel.is_none() && launch.is_none() {
        let diags = tessera_frontend::check_file(&mut map, name, text);
        return (map, diags);
    }
    let file = map.add(name, text);
    let (module, syntax) = tessera_syntax::parse(file, text);
    if syntax.iter().any(Diagnostic::is_error) {
        return (map, syntax);
    }
    let kernel = kernel.map(str::to_string).unwrap_or_else(|| {
        module
            .items
            .iter()
            .find_map(|i| if let Item::Kernel(k) = i { Some(k.name.name.clone()) } else { None })
            .expect("a launch case needs a kernel")
    });
    let consts: Vec<(String, ConstValue)> = directive(text, "const")
        .map(|spec| assignments(spec).into_iter().map(|(k, v)| (k, const_value(&v))).collect())
        .unwrap_or_default();
    let k = match lower_kernel(&map, file, &module, &kernel, &consts) {
        Ok(k) => k,
        Err(diags) => return (map, diags),
    };
    let Some(launch) = launch else {
        panic!("{name}: kernel `{kernel}` compiled without errors");
    };
    let (args, mut buffers) = launch_args(&k, launch);
    let mut options = LaunchOptions::default();
    if let Some(limit) = directive(text, "max-ops") {
        options.max_ops = limit.parse().expect("max-ops is a number");
    }
    let diags = match tessera_interp::launch_with(&k, &args, &mut buffers, &options) {
        Ok(_) => Vec::new(),
        Err(e) => vec![e.to_diagnostic(&map, file)],
    };
    (map, diags)
}

/// The interpreter arguments of a `// launch:` line, in parameter order.
fn launch_args(k: &Kernel, spec: &str) -> (Vec<KernelArg>, Vec<HostBuffer>) {
    let given: HashMap<String, String> = assignments(spec).into_iter().collect();
    for name in given.keys() {
        assert!(k.params.iter().any(|p| &p.name == name), "kernel `{}` has no parameter `{name}`", k.name);
    }
    let mut args = Vec::new();
    let mut buffers = Vec::new();
    for p in &k.params {
        let Some(value) = given.get(&p.name) else { continue };
        match k.ty(p.value) {
            Type::Tensor { elem: ElemType::Ptr(pointee), .. } => {
                let (ctor, inner) = value
                    .strip_suffix(')')
                    .and_then(|v| v.split_once('('))
                    .unwrap_or_else(|| panic!("pointer argument `{value}` is not rand(LEN) or zeros(LEN)"));
                let (len, elem) = match inner.split_once(',') {
                    Some((len, ty)) => (len, ScalarType::from_name(ty.trim()).expect("a dtype")),
                    None => (inner, *pointee),
                };
                let len: usize = len.trim().parse().expect("a buffer length");
                let values: Vec<f64> = match ctor {
                    // Deterministic values in [-1, 1): the corpus needs no randomness.
                    "rand" => (0..len).map(|i| ((i * 7919) % 2000) as f64 / 1000.0 - 1.0).collect(),
                    "zeros" => vec![0.0; len],
                    _ => panic!("unknown buffer constructor `{ctor}`"),
                };
                args.push(KernelArg::Buffer(buffers.len()));
                buffers.push(HostBuffer::from_f64(elem, &values));
            }
            _ => args.push(match value.as_str() {
                "true" => KernelArg::Bool(true),
                "false" => KernelArg::Bool(false),
                v => match v.parse::<i64>() {
                    Ok(i) => KernelArg::Int(i),
                    Err(_) => KernelArg::Float(v.parse().unwrap_or_else(|_| panic!("bad scalar `{v}`"))),
                },
            }),
        }
    }
    (args, buffers)
}

/// Every diagnostic an IR text corpus file produces: the parse error, or the
/// verifier's errors (located by line and column of the text).
fn diagnose_ir(name: &str, text: &str) -> (SourceMap, Vec<Diagnostic>) {
    let mut map = SourceMap::new();
    let file = map.add(name, text);
    let diags = match tessera_tir::parse_kernel(text) {
        Err(e) => vec![e.to_diagnostic(file)],
        Ok(k) => match tessera_tir::verify(&k) {
            Ok(()) => Vec::new(),
            Err(errors) => errors
                .iter()
                .map(|e| {
                    let offset = offset_of(text, e.loc.line, e.loc.col);
                    Diagnostic::error(e.code, e.message.clone(), tessera_diagnostics::Span::new(file, offset, offset))
                })
                .collect(),
        },
    };
    (map, diags)
}

/// The byte offset of a 1-based line and character column (0 when unknown).
fn offset_of(text: &str, line: u32, col: u32) -> usize {
    if line == 0 {
        return 0;
    }
    let mut start = 0;
    for l in text.split_inclusive('\n').take(line as usize - 1) {
        start += l.len();
    }
    let rest = &text[start.min(text.len())..];
    start + rest.char_indices().nth(col.saturating_sub(1) as usize).map_or(rest.len(), |(i, _)| i)
}

/// Check one corpus file and return its rendered diagnostics.
fn check_case(path: &Path, ir: bool) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let name = if ir { format!("diagnostics/ir/{file_name}") } else { format!("diagnostics/{file_name}") };
    let (map, diags) = if ir { diagnose_ir(&name, &text) } else { diagnose_source(&name, &text) };
    let rendered = render_all(&map, &diags);
    let code = code_of(path);
    let first = diags.iter().find(|d| d.is_error());
    assert_eq!(
        first.map(|d| d.code),
        Some(code.as_str()),
        "{name}: the first error should be {code}; got:\n{rendered}"
    );
    for d in &diags {
        let len = map.get(FileId(d.span.file.0)).text.len();
        assert!(d.span.start <= d.span.end && d.span.end as usize <= len, "{name}: span {:?} out of range", d.span);
    }
    rendered
}

#[test]
fn every_source_case_reports_its_code() {
    let mut failures = Vec::new();
    for path in files(&corpus_dir(), "tsr") {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        match std::panic::catch_unwind(|| check_case(&path, false)) {
            Ok(rendered) => insta::assert_snapshot!(stem, rendered),
            Err(e) => failures.push(panic_message(&e)),
        }
    }
    assert!(failures.is_empty(), "{} corpus files failed:\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn every_ir_case_reports_its_code() {
    let mut failures = Vec::new();
    for path in files(&corpus_dir().join("ir"), "tir") {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        match std::panic::catch_unwind(|| check_case(&path, true)) {
            Ok(rendered) => insta::assert_snapshot!(format!("ir_{stem}"), rendered),
            Err(e) => failures.push(panic_message(&e)),
        }
    }
    assert!(failures.is_empty(), "{} IR corpus files failed:\n{}", failures.len(), failures.join("\n\n"));
}

fn panic_message(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}

/// Codes with a corpus file in `dir` (by extension).
fn covered(dir: &Path, ext: &str) -> BTreeSet<String> {
    files(dir, ext).iter().map(|p| code_of(p)).collect()
}

/// Every code in `all` has a corpus file or a reason in `unreachable`; every
/// corpus file and every allow-list entry names a code of `all`.
fn assert_coverage(all: &[&(&str, &str)], have: &BTreeSet<String>, unreachable: &[(&str, &str)], what: &str) {
    let known: BTreeSet<&str> = all.iter().map(|(c, _)| *c).collect();
    let missing: Vec<String> = all
        .iter()
        .filter(|(c, _)| !have.contains(*c) && !unreachable.iter().any(|(u, _)| u == c))
        .map(|(c, s)| format!("{c} ({s})"))
        .collect();
    assert!(missing.is_empty(), "{what} codes without a corpus file: {missing:?}");
    for code in have {
        assert!(known.contains(code.as_str()), "{what} corpus file for {code}, which is not a code of ALL");
    }
    for (code, _) in unreachable {
        assert!(known.contains(code), "{code} is allow-listed but is not a code of ALL");
        assert!(!have.contains(*code), "{code} is allow-listed as unreachable but has a corpus file");
    }
}

#[test]
fn every_source_code_has_a_corpus_file() {
    let all: Vec<&(&str, &str)> = tessera_syntax::codes::ALL
        .iter()
        .chain(tessera_frontend::codes::ALL)
        .chain(tessera_interp::codes::ALL)
        .collect();
    assert_coverage(&all, &covered(&corpus_dir(), "tsr"), UNREACHABLE, "source");
}

#[test]
fn every_ir_text_code_has_a_corpus_file() {
    let all: Vec<&(&str, &str)> = tessera_tir::codes::ALL.iter().collect();
    assert_coverage(&all, &covered(&corpus_dir().join("ir"), "tir"), UNREACHABLE_FROM_IR_TEXT, "IR");
}
