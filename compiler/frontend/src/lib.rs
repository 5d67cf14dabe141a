//! From syntax tree to tile IR.
//!
//! Given a parsed module and one kernel's compile-time parameter values,
//! [`lower_kernel`] produces a verified `tessera_tir::Kernel`, or every
//! problem it found as diagnostics. This is where names are resolved,
//! compile-time expressions folded, types promoted, shapes broadcast and
//! helpers inlined (the helper call graph is checked for recursion first).
//!
//! Lowering never panics on user input: every problem is a [`Diagnostic`]
//! with a code from [`codes`]; parser error nodes are skipped silently; and
//! unrolling, inlining and IR size are bounded so hostile programs fail with
//! a diagnostic instead of hanging.

mod builder;
mod builtins;
mod builtins_memory;
mod builtins_tensor;
mod callgraph;
pub mod codes;
mod consteval;
mod lower;
mod lower_call;
mod lower_expr;
mod lower_stmt;
mod meta;
mod scope;
mod shapes;
mod suggest;
mod types;
mod value;
mod visit;

pub use meta::{ConstParamSig, KernelSignature, RuntimeParamSig};
pub use tessera_tir::ConstValue;

use crate::lower::{Lowerer, coerce_const};
use crate::scope::BindingKind;
use crate::value::Value;
use std::collections::{HashMap, HashSet};
use tessera_diagnostics::{Diagnostic, FileId, SourceMap, Span};
use tessera_syntax::ast::{self, Item, Module};
use tessera_tir::passes::PassManager;
use tessera_tir::{Kernel, LAUNCH_KNOBS, OpKind};

/// Tuning points `check_file` lowers per kernel at most.
const MAX_CHECKED_POINTS: usize = 256;

/// The interfaces of every kernel of a module, and the problems found in
/// them (parameters, hints, `tune`, `key`) and in the module's items.
pub fn signatures(map: &SourceMap, file: FileId, module: &ast::Module) -> (Vec<KernelSignature>, Vec<Diagnostic>) {
    let mut lw = Lowerer::new(map, file, module, Kernel::new("", map.get(file).name.clone()));
    lw.diags = module_checks(module);
    lw.define_globals();
    let mut sigs = Vec::new();
    let mut seen = HashSet::new();
    for item in &module.items {
        if let Item::Kernel(k) = item
            && seen.insert(k.name.name.as_str())
        {
            lw.scopes.push_frame();
            sigs.push(lw.signature(k));
            lw.scopes.pop_frame();
        }
    }
    (sigs, dedup(lw.diags))
}

/// Specialize and lower one kernel. `consts` overrides defaults; it may also
/// hold `warps` and `stages`. The result has passed the IR verifier and the
/// default pass pipeline.
pub fn lower_kernel(
    map: &SourceMap,
    file: FileId,
    module: &ast::Module,
    kernel: &str,
    consts: &[(String, ConstValue)],
) -> Result<Kernel, Vec<Diagnostic>> {
    let mut k = lower_kernel_unoptimized(map, file, module, kernel, consts)?;
    match PassManager::default_pipeline().run(&mut k) {
        Ok(_) => Ok(k),
        Err(e) => Err(vec![internal_error(file, module, kernel, format!("{e}"))]),
    }
}

/// [`lower_kernel`] without the pass pipeline: the IR exactly as lowered
/// (verified). For tests of the lowering itself and `--no-opt` dumps.
pub fn lower_kernel_unoptimized(
    map: &SourceMap,
    file: FileId,
    module: &ast::Module,
    kernel: &str,
    consts: &[(String, ConstValue)],
) -> Result<Kernel, Vec<Diagnostic>> {
    let k = lower_unverified(map, file, module, kernel, consts)?;
    match tessera_tir::verify(&k) {
        Ok(()) => Ok(k),
        Err(errors) => {
            let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
            let message = format!("the IR lowered for this kernel failed verification:\n{}", list.join("\n"));
            Err(vec![internal_error(file, module, kernel, message)])
        }
    }
}

/// A compiler bug found after lowering, reported at the kernel's name.
fn internal_error(file: FileId, module: &Module, kernel: &str, detail: String) -> Diagnostic {
    let span = module
        .items
        .iter()
        .find_map(|i| match i {
            Item::Kernel(k) if k.name.name == kernel => Some(k.name.span),
            _ => None,
        })
        .unwrap_or_else(|| Span::new(file, 0, 0));
    Diagnostic::error(codes::INTERNAL_ERROR, format!("internal compiler error in kernel `{kernel}`"), span)
        .with_label("while compiling this kernel")
        .with_note(detail)
        .with_help("this is a bug in the Tessera compiler, not in your program; please report it with this file")
}

fn lower_unverified(
    map: &SourceMap,
    file: FileId,
    module: &ast::Module,
    kernel: &str,
    consts: &[(String, ConstValue)],
) -> Result<Kernel, Vec<Diagnostic>> {
    let mut diags = module_checks(module);
    let recursive = diags.iter().any(|d| d.code == codes::RECURSION);
    let Some(k) = module.items.iter().find_map(|i| match i {
        Item::Kernel(k) if k.name.name == kernel => Some(k),
        _ => None,
    }) else {
        let kernels: Vec<&ast::Ident> =
            module.items.iter().filter_map(|i| if let Item::Kernel(k) = i { Some(&k.name) } else { None }).collect();
        let names: Vec<&str> = kernels.iter().map(|k| k.name.as_str()).collect();
        let message = format!("no kernel named `{kernel}` in {}", map.get(file).name);
        // The request comes from outside the file, so there is no place to
        // point at for it; point at the kernel most likely meant instead.
        let closest = suggest::best_match(kernel, names.iter().copied());
        let d = match (closest.and_then(|c| kernels.iter().find(|k| k.name == c)), kernels.first()) {
            (Some(k), _) => Diagnostic::error(codes::UNKNOWN_KERNEL, message, k.span)
                .with_label("the closest kernel")
                .with_help(format!("did you mean `{}`?", k.name)),
            (None, Some(first)) => Diagnostic::error(codes::UNKNOWN_KERNEL, message, first.span)
                .with_label("the file's first kernel")
                .with_help(format!("the file defines: {}", names.join(", "))),
            (None, None) => Diagnostic::error(codes::UNKNOWN_KERNEL, message, Span::new(file, 0, 0))
                .with_label("this file")
                .with_help("the file defines no kernels"),
        };
        diags.push(d);
        return Err(dedup(diags));
    };
    let mut lw = Lowerer::new(map, file, module, Kernel::new(kernel, map.get(file).name.clone()));
    lw.diags = diags;
    lw.define_globals();
    lw.scopes.push_frame();
    let sig = lw.signature(k);
    let (values, knobs) = resolve_consts(&mut lw, k, &sig, consts);

    lw.b.kernel.consts = values.clone();
    for p in &k.params {
        let name = p.name.name.as_str();
        if let Some(r) = sig.runtime_param(name) {
            let id = lw.b.kernel.add_param(name, r.ty.clone(), r.hints.clone());
            lw.scopes.define(name, Value::Ir(id, r.ty.clone()), BindingKind::Var);
        } else if let Some((_, v)) = values.iter().find(|(n, _)| n == name) {
            lw.scopes.define(name, Value::from_const(v), BindingKind::ConstParam);
        } else {
            lw.scopes.define(name, Value::Poison, BindingKind::Var);
        }
    }
    let ready = !lw.diags.iter().any(Diagnostic::is_error);
    if ready && !recursive {
        lw.stmts(&k.body.stmts);
        // The closing brace of the body.
        let end = k.body.span.end.saturating_sub(1);
        lw.b.loc = lw.loc(Span { start: end, end, ..k.body.span });
        lw.b.emit(OpKind::Return, vec![], vec![]);
    }
    let grid = lw.grid(k, &sig, &values);
    lw.b.kernel.meta.grid = grid;
    let with_knobs: Vec<(String, ConstValue)> = values.iter().cloned().chain(knobs.values()).collect();
    lw.b.kernel.meta.require = lw.specialized_requirements(k, &sig, &with_knobs);
    lw.b.kernel.meta.tune = sig.tune.clone();
    lw.b.kernel.meta.key = sig.key.clone();
    lw.b.kernel.meta.num_warps = knobs.warps;
    lw.b.kernel.meta.num_stages = knobs.stages;
    lw.b.kernel.meta.occupancy = knobs.occupancy;
    if lw.diags.iter().any(Diagnostic::is_error) || !ready || recursive {
        return Err(dedup(lw.diags));
    }
    Ok(lw.b.finish())
}

/// The launch knobs of a specialization (see `tessera_tir::LAUNCH_KNOBS`).
struct LaunchKnobs {
    warps: u32,
    stages: u32,
    occupancy: u32,
}

impl LaunchKnobs {
    /// By name, as `require` conditions read them.
    fn values(&self) -> [(String, ConstValue); 3] {
        [
            ("warps".to_string(), ConstValue::Int(self.warps.into())),
            ("stages".to_string(), ConstValue::Int(self.stages.into())),
            ("occupancy".to_string(), ConstValue::Int(self.occupancy.into())),
        ]
    }
}

/// The compile-time values of a specialization, in parameter order, and its
/// launch knobs.
fn resolve_consts(
    lw: &mut Lowerer<'_>,
    k: &ast::Kernel,
    sig: &KernelSignature,
    consts: &[(String, ConstValue)],
) -> (Vec<(String, ConstValue)>, LaunchKnobs) {
    let mut knobs = LaunchKnobs { warps: 4, stages: 1, occupancy: 1 };
    let mut given: HashMap<&str, ConstValue> = HashMap::new();
    for (name, v) in consts {
        match name.as_str() {
            knob if LAUNCH_KNOBS.contains(&knob) => {
                if let Some(value) = lw.knob_value(knob, k.name.span, &Value::from_const(v)) {
                    match knob {
                        "warps" => knobs.warps = value,
                        "stages" => knobs.stages = value,
                        _ => knobs.occupancy = value,
                    }
                }
            }
            _ => match sig.const_param(name) {
                Some(c) => match coerce_const(&Value::from_const(v), c.ty) {
                    Some(cv) => {
                        given.insert(name, cv.to_const().unwrap_or_else(|| v.clone()));
                    }
                    None => {
                        lw.error(
                            Diagnostic::error(
                                codes::CONST_TYPE_MISMATCH,
                                format!("compile-time parameter `{name}` is `{}`, but was given {v}", c.ty),
                                c.span,
                            )
                            .with_label(format!("declared `{}` here", c.ty))
                            .with_help(format!("give `{name}` a value of type `{}`", c.ty)),
                        );
                    }
                },
                None => {
                    let names = sig.const_params.iter().map(|c| c.name.as_str()).chain(LAUNCH_KNOBS);
                    let mut d = Diagnostic::error(
                        codes::UNKNOWN_CONST_PARAM,
                        format!("kernel `{}` has no compile-time parameter `{name}`", k.name.name),
                        k.name.span,
                    )
                    .with_label("given a value for an unknown parameter");
                    d = match suggest::did_you_mean(name, names) {
                        Some(s) => d.with_help(s),
                        None if sig.runtime_param(name).is_some() => {
                            d.with_help(format!("`{name}` is a runtime parameter: pass it when launching"))
                        }
                        None => d.with_help("only `const` parameters, `warps` and `stages` take compile-time values"),
                    };
                    lw.error(d);
                }
            },
        }
    }
    let mut values = Vec::new();
    for c in &sig.const_params {
        match given.get(c.name.as_str()).cloned().or_else(|| c.default.clone()) {
            Some(v) => values.push((c.name.clone(), v)),
            None => {
                let tuned = sig.tune.axes.iter().any(|(n, _)| *n == c.name);
                let how = if tuned {
                    "pick a value from its `tune` list, or give it a default".to_string()
                } else {
                    format!(
                        "give it a default (`const {}: {} = ...`), list it in `tune(...)`, or pass it when compiling",
                        c.name, c.ty
                    )
                };
                lw.error(
                    Diagnostic::error(
                        codes::MISSING_CONST_PARAM,
                        format!("compile-time parameter `{}` has no value", c.name),
                        c.span,
                    )
                    .with_label("no default and no value given")
                    .with_help(how),
                );
            }
        }
    }
    (values, knobs)
}

/// Problems of the module as a whole: duplicate items, names taken from
/// builtins, duplicate helper parameters, recursion.
fn module_checks(module: &Module) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for item in &module.items {
        let (name, what) = match item {
            Item::Kernel(k) => (&k.name, "kernel"),
            Item::Function(f) => (&f.name, "helper"),
            Item::Const(c) => (&c.name, "constant"),
        };
        if let Some(first) = seen.get(name.name.as_str()) {
            out.push(
                Diagnostic::error(
                    codes::DUPLICATE_ITEM,
                    format!("`{}` is defined more than once", name.name),
                    name.span,
                )
                .with_label(format!("{what} defined again"))
                .with_secondary(*first, "first defined here")
                .with_help("rename one of them"),
            );
            continue;
        }
        seen.insert(&name.name, name.span);
        if builtins::lookup(&name.name).is_some() {
            out.push(
                Diagnostic::error(
                    codes::SHADOWS_BUILTIN,
                    format!("{what} `{}` has the name of a builtin", name.name),
                    name.span,
                )
                .with_label("builtin name")
                .with_help("rename it: builtins cannot be redefined"),
            );
        }
        if let Item::Function(f) = item {
            let mut params: HashMap<&str, Span> = HashMap::new();
            for p in &f.params {
                if let Some(first) = params.insert(&p.name.name, p.name.span) {
                    out.push(
                        Diagnostic::error(
                            codes::DUPLICATE_PARAM,
                            format!("parameter `{}` is declared twice", p.name.name),
                            p.name.span,
                        )
                        .with_label("declared again")
                        .with_secondary(first, "first declared here"),
                    );
                }
            }
        }
    }
    out.extend(callgraph::CallGraph::build(module).recursion_errors());
    out
}

/// Drop repeated diagnostics (same code, span and message), keeping order.
fn dedup(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = HashSet::new();
    diags.into_iter().filter(|d| seen.insert((d.code, d.span, d.message.clone()))).collect()
}

/// The spans of the kernels and helpers whose header (name, parameters,
/// clauses) holds a syntax error. The parser drops a parameter list it
/// cannot read, so every use of those parameters in the item would be
/// reported as unknown: later diagnostics inside such an item are noise.
fn broken_headers(module: &Module, syntax: &[Diagnostic]) -> Vec<Span> {
    let mut out = Vec::new();
    for item in &module.items {
        let (span, body) = match item {
            Item::Kernel(k) => (k.span, k.body.span),
            Item::Function(f) => (f.span, f.body.span),
            _ => continue,
        };
        if syntax.iter().any(|d| d.is_error() && span.start <= d.span.start && d.span.start < body.start) {
            out.push(span);
        }
    }
    out
}

/// Parse and lower every kernel of a file at its default specialization and
/// at every point of its tuning space; all diagnostics, syntax errors too.
/// A kernel with a compile-time parameter that has neither a default nor a
/// `tune` list cannot be specialized here: only its interface is checked.
pub fn check_file(map: &mut SourceMap, name: &str, text: &str) -> Vec<Diagnostic> {
    let file = map.add(name, text);
    let (module, mut diags) = tessera_syntax::parse(file, text);
    let map = &*map;
    let broken = broken_headers(&module, &diags);
    let in_broken = |d: &Diagnostic| broken.iter().any(|s| s.start <= d.span.start && d.span.end <= s.end);
    let (sigs, sig_diags) = signatures(map, file, &module);
    diags.extend(sig_diags.into_iter().filter(|d| !in_broken(d)));
    for sig in &sigs {
        let tuned = |c: &ConstParamSig| sig.tune.axes.iter().any(|(n, _)| *n == c.name);
        if sig.const_params.iter().any(|c| c.default.is_none() && !tuned(c)) {
            continue;
        }
        let mut points: Vec<(bool, Vec<(String, ConstValue)>)> = Vec::new();
        if sig.const_params.iter().all(|c| c.default.is_some()) {
            points.push((true, Vec::new()));
        }
        points.extend(sig.tune.points().into_iter().take(MAX_CHECKED_POINTS).map(|p| (false, p)));
        for (defaults, point) in points {
            if let Err(ds) = lower_kernel(map, file, &module, &sig.name, &point) {
                // A tuning point its `require` conditions exclude is not a
                // variant, not an error; the defaults must satisfy them.
                let excluded = |d: &Diagnostic| !defaults && d.code == codes::REQUIRE_FAILED;
                diags.extend(ds.into_iter().filter(|d| !in_broken(d) && !excluded(d)));
            }
        }
    }
    dedup(diags)
}

/// Parse `text` and lower `kernel`; on failure, the rendered diagnostics.
pub fn compile_str(name: &str, text: &str, kernel: &str, consts: &[(String, ConstValue)]) -> Result<Kernel, String> {
    let mut map = SourceMap::new();
    let file = map.add(name, text);
    let (module, syntax) = tessera_syntax::parse(file, text);
    if syntax.iter().any(Diagnostic::is_error) {
        return Err(tessera_diagnostics::render_all(&map, &syntax));
    }
    lower_kernel(&map, file, &module, kernel, consts).map_err(|d| tessera_diagnostics::render_all(&map, &d))
}
