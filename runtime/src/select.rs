//! Which variant, and which of its code objects, runs on a device.
//!
//! The rules are NVIDIA's compatibility rules, restricted to what a bundle
//! holds:
//! * a cubin for `sm_XY` runs on devices `X.Z` with `Z >= Y` (same major);
//!   `sm_XYa` (arch-specific features) only on exactly `X.Y`; `sm_XYf`
//!   (family) like plain `sm_XY`;
//! * PTX for `sm_XY` is JIT-compiled by the driver on any device `>= X.Y`;
//!   PTX for `sm_XYa` only on `X.Y`, for `sm_XYf` within the major family.
//!
//! Preference, per tuning point: a cubin for the device's exact compute
//! capability (no JIT, no surprises), then PTX for the newest compatible arch
//! (the JIT sees the device), then a compatible older cubin.

use crate::bundle::{CodeRefs, VariantEntry};
use std::fmt;

/// Arch-specific suffix of an `sm_` target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArchSuffix {
    /// `sm_90`: forward compatible.
    Generic,
    /// `sm_100f`: portable within a family.
    Family,
    /// `sm_90a`: arch-specific features, this exact device only.
    Specific,
}

/// A GPU architecture as named in bundles: `sm_80`, `sm_90a`, `sm_100f`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arch {
    pub major: u32,
    pub minor: u32,
    pub suffix: ArchSuffix,
}

impl Arch {
    /// Parse `sm_<major><minor>[a|f]` (the minor is the last digit).
    pub fn parse(text: &str) -> Option<Arch> {
        let digits = text.strip_prefix("sm_")?;
        let (digits, suffix) = match digits.as_bytes().last()? {
            b'a' => (&digits[..digits.len() - 1], ArchSuffix::Specific),
            b'f' => (&digits[..digits.len() - 1], ArchSuffix::Family),
            _ => (digits, ArchSuffix::Generic),
        };
        if digits.len() < 2 || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (major, minor) = digits.split_at(digits.len() - 1);
        Some(Arch { major: major.parse().ok()?, minor: minor.parse().ok()?, suffix })
    }

    /// The exact architecture of a device of compute capability
    /// `major.minor`: arch-specific (`sm_90a`) where NVIDIA defines one.
    pub fn of_device(major: u32, minor: u32) -> Arch {
        let specific = matches!((major, minor), (9, 0) | (10, 0) | (10, 1) | (10, 3) | (11, 0) | (12, 0) | (12, 1));
        Arch { major, minor, suffix: if specific { ArchSuffix::Specific } else { ArchSuffix::Generic } }
    }

    /// A cubin built for `self` runs on `device`.
    pub fn cubin_runs_on(self, device: Arch) -> bool {
        match self.suffix {
            ArchSuffix::Specific => self.major == device.major && self.minor == device.minor,
            ArchSuffix::Family | ArchSuffix::Generic => self.major == device.major && self.minor <= device.minor,
        }
    }

    /// PTX built for `self` can be JIT-compiled for `device`.
    pub fn ptx_runs_on(self, device: Arch) -> bool {
        match self.suffix {
            ArchSuffix::Specific => self.major == device.major && self.minor == device.minor,
            ArchSuffix::Family => self.major == device.major && self.minor <= device.minor,
            ArchSuffix::Generic => (self.major, self.minor) <= (device.major, device.minor),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = match self.suffix {
            ArchSuffix::Generic => "",
            ArchSuffix::Family => "f",
            ArchSuffix::Specific => "a",
        };
        write!(f, "sm_{}{}{suffix}", self.major, self.minor)
    }
}

/// Which code object of a variant to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeKind {
    Cubin,
    /// JIT-compiled by the driver at module load.
    Ptx,
}

impl fmt::Display for CodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CodeKind::Cubin => "cubin",
            CodeKind::Ptx => "ptx",
        })
    }
}

/// A variant chosen to run: its index in the kernel's variant list and the
/// code object to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub variant: usize,
    pub code: CodeKind,
    /// Index of that code object in the bundle's code table.
    pub object: u32,
}

/// Rank of a (variant, code) pair on `device`; higher is better, None when it
/// cannot run.
fn rank(arch: Arch, code: CodeRefs, device: Arch) -> Option<(u8, Arch, CodeKind, u32)> {
    let exact = arch.major == device.major && arch.minor == device.minor;
    if let Some(obj) = code.cubin.filter(|_| exact && arch.cubin_runs_on(device)) {
        return Some((3, arch, CodeKind::Cubin, obj));
    }
    if let Some(obj) = code.ptx.filter(|_| arch.ptx_runs_on(device)) {
        return Some((2, arch, CodeKind::Ptx, obj));
    }
    code.cubin.filter(|_| arch.cubin_runs_on(device)).map(|obj| (1, arch, CodeKind::Cubin, obj))
}

/// The best runnable variant of every tuning point (same compile-time
/// values and launch knobs, [`crate::bundle::VariantInfo::same_point`]) and specialization
/// (its divisible and unit parameters), in the order they first appear.
/// Empty when nothing runs on `device`.
pub fn select(variants: &[VariantEntry], device: Arch) -> Vec<Choice> {
    let mut best: Vec<(usize, (u8, Arch, CodeKind, u32))> = Vec::new();
    for (index, v) in variants.iter().enumerate() {
        let Some(arch) = Arch::parse(&v.info.arch) else { continue };
        let Some(r) = rank(arch, v.code, device) else { continue };
        let same_point = |(i, _): &(usize, _)| {
            let w: &VariantEntry = &variants[*i];
            w.info.same_point(&v.info) && w.info.divisible == v.info.divisible && w.info.unit == v.info.unit
        };
        match best.iter_mut().find(|b| same_point(b)) {
            Some(slot) if (slot.1.0, slot.1.1) < (r.0, r.1) => *slot = (index, r),
            Some(_) => {}
            None => best.push((index, r)),
        }
    }
    best.into_iter().map(|(variant, (_, _, code, object))| Choice { variant, code, object }).collect()
}

/// The distinct architectures of a variant list, sorted, for messages.
pub fn archs(variants: &[VariantEntry]) -> Vec<String> {
    let mut archs: Vec<String> = variants.iter().map(|v| v.info.arch.clone()).collect();
    archs.sort();
    archs.dedup();
    archs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::VariantInfo;
    use std::collections::BTreeMap;

    fn variant(arch: &str, block: i64, ptx: bool, cubin: bool) -> VariantEntry {
        VariantEntry {
            info: VariantInfo {
                consts: BTreeMap::from([("BLOCK".to_string(), crate::bundle::ConstValue::Int(block))]),
                ..VariantInfo::new("k", arch, 4)
            },
            code: CodeRefs { ptx: ptx.then_some(0), cubin: cubin.then_some(1) },
        }
    }

    fn arch(s: &str) -> Arch {
        Arch::parse(s).unwrap()
    }

    #[test]
    fn arch_names_round_trip() {
        for s in ["sm_80", "sm_86", "sm_90a", "sm_100a", "sm_100f", "sm_120"] {
            assert_eq!(arch(s).to_string(), s);
        }
        for bad in ["sm_", "sm_9", "sm_9x", "compute_90", "sm_1000", "sm_90b", "", "sm_a"] {
            assert_eq!(Arch::parse(bad), None, "{bad}");
        }
        assert_eq!(Arch::of_device(9, 0).to_string(), "sm_90a");
        assert_eq!(Arch::of_device(8, 6).to_string(), "sm_86");
    }

    #[test]
    fn compatibility_rules() {
        let h100 = Arch::of_device(9, 0);
        let a10 = Arch::of_device(8, 6);
        assert!(arch("sm_90a").cubin_runs_on(h100));
        assert!(!arch("sm_90a").cubin_runs_on(Arch::of_device(10, 0)));
        assert!(arch("sm_80").cubin_runs_on(a10));
        assert!(!arch("sm_80").cubin_runs_on(h100), "cubins do not cross a major version");
        assert!(arch("sm_80").ptx_runs_on(h100));
        assert!(!arch("sm_90").ptx_runs_on(a10));
        assert!(!arch("sm_90a").ptx_runs_on(Arch::of_device(10, 0)));
        assert!(arch("sm_100f").ptx_runs_on(Arch::of_device(10, 3)));
        assert!(!arch("sm_100f").ptx_runs_on(Arch::of_device(12, 0)));
    }

    #[test]
    fn exact_cubin_beats_ptx_beats_older_cubin() {
        let h100 = Arch::of_device(9, 0);
        let vs = vec![variant("sm_80", 256, true, true), variant("sm_90a", 256, true, true)];
        assert_eq!(select(&vs, h100), vec![Choice { variant: 1, code: CodeKind::Cubin, object: 1 }]);

        // Without an exact cubin, the newest compatible PTX is JIT-compiled.
        let vs = vec![variant("sm_80", 256, true, true), variant("sm_90a", 256, true, false)];
        assert_eq!(select(&vs, h100), vec![Choice { variant: 1, code: CodeKind::Ptx, object: 0 }]);
        let vs = vec![variant("sm_90a", 256, true, false), variant("sm_80", 256, true, true)];
        assert_eq!(select(&vs, h100), vec![Choice { variant: 0, code: CodeKind::Ptx, object: 0 }]);

        // An older cubin of the same major runs when nothing better exists.
        let a10 = Arch::of_device(8, 6);
        let vs = vec![variant("sm_80", 256, false, true)];
        assert_eq!(select(&vs, a10), vec![Choice { variant: 0, code: CodeKind::Cubin, object: 1 }]);
        // ...but PTX for the same arch is preferred to it (the JIT targets sm_86).
        let vs = vec![variant("sm_80", 256, true, true)];
        assert_eq!(select(&vs, a10), vec![Choice { variant: 0, code: CodeKind::Ptx, object: 0 }]);
    }

    #[test]
    fn one_choice_per_tuning_point() {
        let vs = vec![
            variant("sm_80", 256, true, false),
            variant("sm_80", 1024, true, false),
            variant("sm_90a", 256, false, true),
        ];
        let picks = select(&vs, Arch::of_device(9, 0));
        assert_eq!(picks.len(), 2);
        assert_eq!((picks[0].variant, picks[0].code), (2, CodeKind::Cubin));
        assert_eq!((picks[1].variant, picks[1].code), (1, CodeKind::Ptx));
    }

    #[test]
    fn nothing_runs_on_an_older_device() {
        let vs = vec![variant("sm_90a", 256, true, true)];
        assert!(select(&vs, Arch::of_device(8, 0)).is_empty());
        assert_eq!(archs(&vs), vec!["sm_90a".to_string()]);
    }

    #[test]
    fn a_specialized_variant_is_its_own_choice() {
        let generic = variant("sm_90a", 256, false, true);
        let mut specialized = variant("sm_90a", 256, false, true);
        specialized.info.divisible = vec!["n".into()];
        let picks = select(&[generic, specialized], Arch::of_device(9, 0));
        assert_eq!(picks.iter().map(|c| c.variant).collect::<Vec<_>>(), vec![0, 1]);
    }

    /// `occupancy` is a launch knob like warps: two variants differing only
    /// in it are two tuning points (each a candidate), not two codes of one.
    #[test]
    fn occupancy_is_part_of_the_tuning_point() {
        let one = variant("sm_90a", 256, false, true);
        let mut two = variant("sm_90a", 256, false, true);
        two.info.occupancy = 2;
        let picks = select(&[one, two], Arch::of_device(9, 0));
        assert_eq!(picks.iter().map(|c| c.variant).collect::<Vec<_>>(), vec![0, 1]);
    }
}
