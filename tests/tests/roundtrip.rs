//! The IR text form is a faithful serialization: every kernel of
//! `kernels-dsl/`, at its default specialization and at every tuning point,
//! prints to text that parses back to a kernel that verifies and prints to
//! the same text.

use std::path::{Path, PathBuf};
use tessera_diagnostics::{SourceMap, render_all};
use tessera_frontend::{ConstValue, KernelSignature, lower_kernel, signatures};

/// The value given to a compile-time parameter that has neither a default
/// nor a `tune` list (softmax's `BLOCK`, linear attention's `D`): a power of
/// two that every kernel here accepts for such a parameter.
const UNSET_CONST: i64 = 64;

fn kernel_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernels-dsl");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tsr"))
        .collect();
    files.sort();
    files
}

/// The specializations to test: the defaults, then every tuning point; each
/// completed with [`UNSET_CONST`] for parameters nothing else gives a value.
fn specializations(sig: &KernelSignature) -> Vec<Vec<(String, ConstValue)>> {
    let mut points = vec![Vec::new()];
    points.extend(sig.tune.points());
    for point in &mut points {
        for c in &sig.const_params {
            if c.default.is_none() && !point.iter().any(|(n, _)| *n == c.name) {
                point.push((c.name.clone(), ConstValue::Int(UNSET_CONST)));
            }
        }
    }
    points
}

fn describe(point: &[(String, ConstValue)]) -> String {
    let parts: Vec<String> = point.iter().map(|(n, v)| format!("{n}={v}")).collect();
    if parts.is_empty() { "defaults".to_string() } else { parts.join(" ") }
}

#[test]
fn every_kernel_specialization_round_trips_through_ir_text() {
    let mut checked = 0;
    for path in kernel_files() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
        let mut map = SourceMap::new();
        let file = map.add(name.clone(), text.clone());
        let (module, syntax) = tessera_syntax::parse(file, &text);
        assert!(syntax.is_empty(), "{name}:\n{}", render_all(&map, &syntax));
        let (sigs, diags) = signatures(&map, file, &module);
        assert!(diags.is_empty(), "{name}:\n{}", render_all(&map, &diags));
        for sig in &sigs {
            for point in specializations(sig) {
                let what = format!("{name}: `{}` at {}", sig.name, describe(&point));
                let k = match lower_kernel(&map, file, &module, &sig.name, &point) {
                    Ok(k) => k,
                    // A tuning point its `require` conditions exclude is no specialization.
                    Err(d) if d.iter().filter(|d| d.is_error()).all(|d| d.code == "E0419") => continue,
                    Err(d) => panic!("{what} does not compile:\n{}", render_all(&map, &d)),
                };
                let printed = tessera_tir::print_kernel(&k);
                let parsed = tessera_tir::parse_kernel(&printed)
                    .unwrap_or_else(|e| panic!("{what}: the printed IR does not parse: {e}\n{printed}"));
                if let Err(errors) = tessera_tir::verify(&parsed) {
                    let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                    panic!("{what}: the parsed IR does not verify:\n{}\n{printed}", list.join("\n"));
                }
                let reprinted = tessera_tir::print_kernel(&parsed);
                assert!(
                    printed == reprinted,
                    "{what}: printing the parsed IR changes it:\n{}",
                    diff(&printed, &reprinted)
                );
                checked += 1;
            }
        }
    }
    // Five files, eleven kernels, dozens of tuning points: a smaller count
    // means kernels or tuning points went missing.
    assert!(checked >= 50, "only {checked} specializations checked");
    println!("{checked} specializations round-tripped");
}

/// The first differing line of two texts, with its neighbours.
fn diff(a: &str, b: &str) -> String {
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let at = al.iter().zip(&bl).position(|(x, y)| x != y).unwrap_or(al.len().min(bl.len()));
    let from = at.saturating_sub(2);
    let show =
        |lines: &[&str]| lines.iter().skip(from).take(5).map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n");
    format!("first difference at line {}:\nprinted:\n{}\nreprinted:\n{}", at + 1, show(&al), show(&bl))
}
