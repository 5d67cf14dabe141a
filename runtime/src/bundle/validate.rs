//! Structural consistency of a manifest with its code objects: what the
//! checksums cannot catch (a writer bug, a hand-edited file). The writer runs
//! the same checks, so it never produces a file the reader rejects.

use super::error::BundleError;
use super::manifest::{ConstValue, DType, KernelDecl, KernelEntry, Manifest, ParamKind, TensorMapSpec};
use crate::select::Arch;
use std::collections::{BTreeSet, HashSet};

use super::{KNOBS, MAX_OCCUPANCY};

pub(crate) fn validate(manifest: &Manifest, objects: &[Vec<u8>]) -> Result<(), BundleError> {
    let mut names = HashSet::new();
    let mut used = vec![false; objects.len()];
    for kernel in &manifest.kernels {
        let name = &kernel.decl.name;
        if name.is_empty() {
            return Err(BundleError::inconsistent("a kernel has an empty name"));
        }
        if !names.insert(name.as_str()) {
            return Err(BundleError::inconsistent(format!("kernel `{name}` appears twice")));
        }
        check_decl(kernel)?;
        check_variants(kernel, objects, &mut used)?;
    }
    if let Some(orphan) = used.iter().position(|u| !u) {
        return Err(BundleError::inconsistent(format!("code object {orphan} is used by no variant")));
    }
    Ok(())
}

fn check_decl(kernel: &KernelEntry) -> Result<(), BundleError> {
    let d = &kernel.decl;
    let err = |what: String| Err(BundleError::inconsistent(format!("kernel `{}`: {what}", d.name)));
    let mut seen = HashSet::new();
    for name in d.params.iter().map(|p| &p.name).chain(d.const_params.iter().map(|c| &c.name)) {
        if name.is_empty() || !seen.insert(name.as_str()) {
            return err(format!("parameter name `{name}` is empty or repeated"));
        }
    }
    for p in &d.params {
        if let Some(0) = p.hints.divisibility {
            return err(format!("parameter `{}` has divisibility hint 0", p.name));
        }
    }
    if d.grid.is_empty() || d.grid.len() > 3 {
        return err(format!("the grid has {} dimensions, expected 1 to 3", d.grid.len()));
    }
    if let Some(g) = d.grid.iter().find(|g| g.is_condition()) {
        return err(format!("the grid dimension `{g}` is a condition"));
    }
    for (clause, name) in d
        .grid
        .iter()
        .flat_map(|g| g.params().into_iter().map(|n| ("grid", n)))
        .chain(d.require.iter().flat_map(|r| r.params().into_iter().map(|n| ("require condition", n))))
    {
        let scalar_int = d.is_int_scalar(name);
        let constant = d.const_params.iter().any(|c| c.name == name);
        let knob = clause != "grid" && KNOBS.contains(&name);
        if !scalar_int && !constant && !knob {
            return err(format!("the {clause} reads `{name}`, which is no integer scalar or compile-time parameter"));
        }
    }
    for key in &d.key {
        if d.param(key).is_none() {
            return err(format!("tuning key `{key}` is not a runtime parameter"));
        }
    }
    for axis in &d.tune_space {
        if !KNOBS.contains(&axis.name.as_str()) && !d.const_params.iter().any(|c| c.name == axis.name) {
            return err(format!("tuning axis `{}` is neither a compile-time parameter nor warps/stages", axis.name));
        }
    }
    Ok(())
}

fn check_variants(kernel: &KernelEntry, objects: &[Vec<u8>], used: &mut [bool]) -> Result<(), BundleError> {
    let d = &kernel.decl;
    let const_names: BTreeSet<&str> = d.const_params.iter().map(|c| c.name.as_str()).collect();
    let mut points = HashSet::new();
    for v in &kernel.variants {
        let info = &v.info;
        let err = |what: String| {
            Err(BundleError::inconsistent(format!("kernel `{}` variant {}: {what}", d.name, info.label())))
        };
        let given: BTreeSet<&str> = info.consts.keys().map(String::as_str).collect();
        if given != const_names {
            return err(format!("gives compile-time values for {given:?}, the kernel declares {const_names:?}"));
        }
        if info.consts.values().any(|v| matches!(v, ConstValue::Float(f) if !f.is_finite())) {
            return err("has a non-finite compile-time value".into());
        }
        if !(1..=32).contains(&info.warps) || info.stages == 0 || !(1..=MAX_OCCUPANCY).contains(&info.occupancy) {
            return err(format!("has {} warps, {} stages and occupancy {}", info.warps, info.stages, info.occupancy));
        }
        if Arch::parse(&info.arch).is_none() {
            return err(format!("names architecture `{}`, expected sm_<major><minor>[a|f]", info.arch));
        }
        for name in &info.divisible {
            if !d.is_int_scalar(name) {
                return err(format!("assumes `{name}` divisible, which is not an integer parameter of the kernel"));
            }
        }
        for name in &info.unit {
            if !d.is_int_scalar(name) {
                return err(format!("assumes `{name}` equal to 1, which is not an integer parameter of the kernel"));
            }
            if info.divisible.contains(name) {
                return err(format!("assumes `{name}` both equal to 1 and divisible by 16, which no argument is"));
            }
        }
        for (i, map) in info.tensor_maps.iter().enumerate() {
            if let Err(what) = check_tensor_map(d, map) {
                return err(format!("tensor map {i}: {what}"));
            }
        }
        if info.entry.is_empty() || info.entry.contains('\0') {
            return err("has no valid entry-point name".into());
        }
        // Two variants with the same point and arch would make selection ambiguous.
        if !points.insert(info.label()) {
            return err("appears twice".into());
        }
        if v.code.ptx.is_none() && v.code.cubin.is_none() {
            return err("has no code object".into());
        }
        for (kind, index) in [("ptx", v.code.ptx), ("cubin", v.code.cubin)] {
            let Some(index) = index else { continue };
            let Some(object) = objects.get(index as usize) else {
                return err(format!("refers to {kind} code object {index}, the bundle has {}", objects.len()));
            };
            if kind == "ptx" && (std::str::from_utf8(object).is_err() || object.contains(&0)) {
                return err(format!("its PTX (code object {index}) is not UTF-8 text without NUL bytes"));
            }
            if let Some(slot) = used.get_mut(index as usize) {
                *slot = true;
            }
        }
    }
    Ok(())
}

/// What the copy engine accepts of a tensor map (`cuTensorMapEncodeTiled`'s
/// limits on boxes and swizzles), over the kernel's own parameters.
fn check_tensor_map(d: &KernelDecl, map: &TensorMapSpec) -> Result<(), String> {
    match d.param(&map.base).map(|p| p.kind) {
        Some(ParamKind::Pointer { elem }) if elem == map.elem => {}
        _ => return Err(format!("its base `{}` is not a `*{}` parameter", map.base, map.elem)),
    }
    if map.elem == DType::I1 {
        return Err(format!("elements of {} have no tensor-map type", map.elem));
    }
    let rank = map.dims.len();
    if !(1..=5).contains(&rank) || map.strides.len() + 1 != rank || map.box_dims.len() != rank {
        return Err(format!(
            "{rank} extents, {} strides and {} box extents (1 to 5 extents, one stride fewer, as many box extents)",
            map.strides.len(),
            map.box_dims.len()
        ));
    }
    if let Some(b) = map.box_dims.iter().find(|b| !(1..=256).contains(*b)) {
        return Err(format!("a box extent of {b} (1 to 256)"));
    }
    let row_bytes = u64::from(map.box_dims[0]) * map.elem.size() as u64;
    if !matches!(map.swizzle, 32 | 64 | 128) || row_bytes != u64::from(map.swizzle) {
        return Err(format!("a {}-byte swizzle over box rows of {row_bytes} bytes", map.swizzle));
    }
    for name in map.dims.iter().chain(&map.strides).flat_map(|e| e.params()) {
        if !d.is_int_scalar(name) {
            return Err(format!("reads `{name}`, which is no integer scalar parameter"));
        }
    }
    Ok(())
}
