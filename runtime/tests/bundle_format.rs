//! The bundle file format: round trip, determinism, and every way a file can
//! be damaged, each reported as the right typed error naming the section.

mod common;

use common::{format_writer, info, vector_add_decl};
use tessera_runtime::BundleWriter;
use tessera_runtime::bundle::{BundleData, BundleError, CodeObjects, FORMAT_VERSION, GridExpr, MAGIC, Section};

fn bytes() -> Vec<u8> {
    format_writer().to_bytes().unwrap()
}

/// Byte ranges of the sections of a bundle, from its header.
struct Layout {
    table: std::ops::Range<usize>,
    manifest: std::ops::Range<usize>,
    objects: Vec<std::ops::Range<usize>>,
}

fn layout(b: &[u8]) -> Layout {
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let count = u32_at(12);
    let manifest_len = u64_at(16);
    let table = 120..120 + 40 * count;
    let manifest = table.end..table.end + manifest_len;
    let mut objects = Vec::new();
    let mut at = manifest.end;
    for i in 0..count {
        let len = u64_at(table.start + 40 * i);
        objects.push(at..at + len);
        at += len;
    }
    assert_eq!(at, b.len());
    Layout { table, manifest, objects }
}

#[test]
fn round_trip_keeps_everything() {
    let data = BundleData::from_bytes(&bytes()).unwrap();
    let m = data.manifest();
    assert_eq!(m.format_version, FORMAT_VERSION);
    assert_eq!(m.compiler_version, "tessera 0.1.0 (test)");
    let names: Vec<&str> = m.kernels.iter().map(|k| k.decl.name.as_str()).collect();
    assert_eq!(names, ["fill", "vector_add"], "kernels are sorted by name");
    let va = data.kernel("vector_add").unwrap();
    assert_eq!(va.decl, vector_add_decl());
    assert_eq!(va.variants.len(), 6);
    let labels: Vec<String> = va.variants.iter().map(|v| v.info.label()).collect();
    assert_eq!(labels[0], "BLOCK=1024,warps=4,stages=1@sm_80");
    assert_eq!(labels[5], "BLOCK=256,warps=4,stages=1@sm_90a");
    // Every code object comes back byte for byte.
    let v = va.variants.iter().find(|v| v.info.label() == "BLOCK=256,warps=8,stages=1@sm_80").unwrap();
    let ptx = data.object(v.code.ptx.unwrap()).unwrap();
    assert_eq!(ptx, common::vector_add_ptx(256, 256, "add").as_bytes());
    let v =
        va.variants.iter().find(|v| v.info.arch == "sm_90a" && v.info.consts["BLOCK"].as_int() == Some(1024)).unwrap();
    assert_eq!(data.object(v.code.cubin.unwrap()).unwrap(), b"\x7fELF fake cubin 1024");
    assert_eq!(data.kernel_hash("vector_add").unwrap().len(), 64);
    assert_ne!(data.kernel_hash("vector_add"), data.kernel_hash("fill"));
}

#[test]
fn files_round_trip_through_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.tsb");
    format_writer().write(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes());
    let data = BundleData::read(&path).unwrap();
    assert_eq!(data.path(), Some(path.as_path()));
    let missing = BundleData::read(dir.path().join("nope.tsb")).unwrap_err();
    assert!(matches!(missing, BundleError::Io { .. }), "{missing}");
}

#[test]
fn writing_is_deterministic_and_independent_of_insertion_order() {
    assert_eq!(bytes(), bytes());
    // Same content added in another order.
    let mut w = BundleWriter::new("tessera 0.1.0 (test)", "0".repeat(64));
    w.add_kernel(common::fill_decl()).unwrap();
    w.add_kernel(vector_add_decl()).unwrap();
    let fill = tessera_runtime::bundle::VariantInfo {
        consts: Default::default(),
        entry: "fill".into(),
        ..info(0, 1, "sm_80")
    };
    w.add_variant("fill", fill, CodeObjects { ptx: Some(".version 7.0\n// fill\n".into()), cubin: None }).unwrap();
    for block in [1024, 256] {
        let code = CodeObjects { ptx: None, cubin: Some(format!("\x7fELF fake cubin {block}").into_bytes()) };
        w.add_variant("vector_add", info(block, 4, "sm_90a"), code).unwrap();
        for warps in [8, 4] {
            let code = CodeObjects { ptx: Some(common::vector_add_ptx(block as u32, warps * 32, "add")), cubin: None };
            w.add_variant("vector_add", info(block, warps, "sm_80"), code).unwrap();
        }
    }
    assert_eq!(w.to_bytes().unwrap(), bytes());
    // And the same kernel hash, which keys the tuning cache.
    let a = BundleData::from_bytes(&bytes()).unwrap();
    let b = BundleData::from_bytes(&w.to_bytes().unwrap()).unwrap();
    assert_eq!(a.kernel_hash("vector_add"), b.kernel_hash("vector_add"));
}

#[test]
fn identical_code_objects_are_stored_once() {
    let mut w = BundleWriter::new("t", "s");
    w.add_kernel(vector_add_decl()).unwrap();
    let same = CodeObjects { ptx: Some("// same".into()), cubin: None };
    w.add_variant("vector_add", info(256, 4, "sm_80"), same.clone()).unwrap();
    w.add_variant("vector_add", info(256, 4, "sm_90"), same).unwrap();
    let b = w.to_bytes().unwrap();
    assert_eq!(layout(&b).objects.len(), 1);
}

#[test]
fn wrong_magic_is_not_a_bundle() {
    let mut b = bytes();
    b[0] = b'P';
    let err = BundleData::from_bytes(&b).unwrap_err();
    assert!(matches!(err, BundleError::BadMagic { .. }), "{err}");
    assert!(err.to_string().starts_with("not a Tessera bundle"), "{err}");
    let err = BundleData::from_bytes(b"{\"kernels\": []}").unwrap_err();
    assert!(matches!(err, BundleError::BadMagic { .. }), "{err}");
    let err = BundleData::from_bytes(&MAGIC[..5]).unwrap_err();
    assert!(matches!(err, BundleError::BadMagic { .. }), "{err}");
}

#[test]
fn a_future_version_names_both_versions() {
    // Version 1 (before `require` conditions), 2 (before tensor maps) and a future version 4.
    for other in [1u32, 2, 4] {
        let mut b = bytes();
        b[8..12].copy_from_slice(&other.to_le_bytes());
        let err = BundleData::from_bytes(&b).unwrap_err();
        assert!(matches!(err, BundleError::UnsupportedVersion { found, supported: 3 } if found == other), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "bundle format version {other} is not supported: this runtime reads version 3 \
                 (rebuild the bundle with a matching compiler, or use a matching runtime)"
            )
        );
    }
    // A newer header layout is irrelevant: only magic and version are read.
    let mut future = MAGIC.to_vec();
    future.extend_from_slice(&7u32.to_le_bytes());
    future.extend_from_slice(b"whatever version 7 lays out next");
    assert!(matches!(BundleData::from_bytes(&future), Err(BundleError::UnsupportedVersion { found: 7, .. })));
}

fn flipped(at: usize) -> BundleError {
    let mut b = bytes();
    b[at] ^= 0x20;
    BundleData::from_bytes(&b).unwrap_err()
}

#[test]
fn a_flipped_byte_in_each_section_is_caught_and_named() {
    let b = bytes();
    let l = layout(&b);
    let checksum = |e: BundleError| match e {
        BundleError::ChecksumMismatch { section, .. } => section,
        other => panic!("expected a checksum error, got {other:?}"),
    };
    assert!(matches!(flipped(3), BundleError::BadMagic { .. }));
    assert!(matches!(flipped(9), BundleError::UnsupportedVersion { .. }));
    // Every header byte: counts, lengths and the stored checksums.
    for at in 12..120 {
        assert_eq!(checksum(flipped(at)), Section::Header, "header byte {at}");
    }
    for at in [l.table.start, l.table.start + 8, l.table.end - 1] {
        assert_eq!(checksum(flipped(at)), Section::CodeTable, "table byte {at}");
    }
    for at in [l.manifest.start, l.manifest.start + l.manifest.len() / 2, l.manifest.end - 1] {
        assert_eq!(checksum(flipped(at)), Section::Manifest, "manifest byte {at}");
    }
    for (i, range) in l.objects.iter().enumerate() {
        for at in [range.start, range.end - 1] {
            assert_eq!(checksum(flipped(at)), Section::CodeObject(i as u32), "object {i} byte {at}");
        }
    }
    let msg = flipped(l.objects[1].start).to_string();
    assert!(msg.starts_with("bundle is corrupted: the code object 1 checksum does not match (stored "), "{msg}");
}

#[test]
fn truncation_anywhere_is_reported_with_its_section() {
    let b = bytes();
    let l = layout(&b);
    let cases = [
        (4, None),
        (10, Some(Section::Version)),
        (12, Some(Section::Header)),
        (100, Some(Section::Header)),
        (l.table.start + 3, Some(Section::CodeTable)),
        (l.manifest.start, Some(Section::Manifest)),
        (l.manifest.end - 1, Some(Section::Manifest)),
        (l.objects[0].start + 1, Some(Section::CodeObject(0))),
        (b.len() - 1, Some(Section::CodeObject(l.objects.len() as u32 - 1))),
    ];
    for (len, want) in cases {
        let err = BundleData::from_bytes(&b[..len]).unwrap_err();
        match (want, &err) {
            (None, BundleError::BadMagic { .. }) => {}
            (Some(want), BundleError::Truncated { section, .. }) => assert_eq!(*section, want, "cut at {len}"),
            _ => panic!("cut at {len}: unexpected {err:?}"),
        }
    }
    let err = BundleData::from_bytes(&b[..l.manifest.start + 10]).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("bundle is truncated in the manifest: it needs {} bytes there, the file has 10", l.manifest.len())
    );
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut b = bytes();
    b.extend_from_slice(b"junk");
    assert!(matches!(BundleData::from_bytes(&b), Err(BundleError::TrailingBytes { count: 4 })));
}

/// Re-encode a bundle around an edited manifest, with valid checksums, so
/// only the structural checks can object.
fn with_manifest(edit: impl FnOnce(&mut serde_json::Value)) -> BundleError {
    edited(edit).unwrap_err()
}

/// The test bundle read back after `edit` changed its manifest.
fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> Result<BundleData, BundleError> {
    let b = bytes();
    let l = layout(&b);
    let mut manifest: serde_json::Value = serde_json::from_slice(&b[l.manifest.clone()]).unwrap();
    edit(&mut manifest);
    let json = serde_json::to_vec(&manifest).unwrap();
    let objects: Vec<Vec<u8>> = l.objects.iter().map(|r| b[r.clone()].to_vec()).collect();
    BundleData::from_bytes(&reencode(&json, &objects))
}

/// A tensor map over `vector_add`'s `x`: 32 f32 (128 bytes) a box row.
fn tensor_map() -> serde_json::Value {
    serde_json::json!({"base": "x", "elem": "f32", "dims": [{"Param": "n"}, {"Int": 4}], "strides": [{"Param": "n"}],
                       "box_dims": [32, 8], "swizzle": 128})
}

/// A variant's tensor maps round-trip; one the copy engine could not take,
/// or that reads what the kernel does not have, is named.
#[test]
fn tensor_maps_are_kept_and_checked() {
    let data = edited(|m| m["kernels"][1]["variants"][0]["tensor_maps"] = serde_json::json!([tensor_map()]))
        .expect("a valid map");
    let map = &data.manifest().kernels[1].variants[0].info.tensor_maps[0];
    assert_eq!((map.base.as_str(), map.box_dims.as_slice(), map.swizzle), ("x", &[32, 8][..], 128));
    assert_eq!(map.dims, vec![GridExpr::Param("n".into()), GridExpr::Int(4)]);
    let bad = |field: &str, value: serde_json::Value| {
        let mut map = tensor_map();
        map[field] = value;
        with_manifest(move |m| m["kernels"][1]["variants"][0]["tensor_maps"] = serde_json::json!([map])).to_string()
    };
    for (err, want) in [
        (bad("base", "n".into()), "tensor map 0: its base `n` is not a `*f32` parameter"),
        (bad("elem", "bf16".into()), "its base `x` is not a `*bf16` parameter"),
        (bad("dims", serde_json::json!([{"Param": "BLOCK"}, {"Int": 4}])), "reads `BLOCK`, which is no integer scalar"),
        (bad("box_dims", serde_json::json!([32, 0])), "a box extent of 0 (1 to 256)"),
        (bad("swizzle", 64.into()), "a 64-byte swizzle over box rows of 128 bytes"),
        (bad("strides", serde_json::json!([])), "2 extents, 0 strides and 2 box extents"),
    ] {
        assert!(err.contains(want), "wanted `{want}` in `{err}`");
    }
}

fn sha(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

fn reencode(manifest: &[u8], objects: &[Vec<u8>]) -> Vec<u8> {
    let mut table = Vec::new();
    for o in objects {
        table.extend_from_slice(&(o.len() as u64).to_le_bytes());
        table.extend_from_slice(&sha(o));
    }
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(objects.len() as u32).to_le_bytes());
    out.extend_from_slice(&(manifest.len() as u64).to_le_bytes());
    out.extend_from_slice(&sha(manifest));
    out.extend_from_slice(&sha(&table));
    let h = sha(&out[8..88]);
    out.extend_from_slice(&h);
    out.extend_from_slice(&table);
    out.extend_from_slice(manifest);
    for o in objects {
        out.extend_from_slice(o);
    }
    out
}

#[test]
fn the_test_encoder_matches_the_writer() {
    let b = bytes();
    let l = layout(&b);
    let objects: Vec<Vec<u8>> = l.objects.iter().map(|r| b[r.clone()].to_vec()).collect();
    assert_eq!(reencode(&b[l.manifest.clone()], &objects), b);
}

#[test]
fn structural_inconsistencies_are_named() {
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|m| m["format_version"] = 2.into()), "the manifest says format version 2, the header says 3"),
        (Box::new(|m| m["kernels"][1]["name"] = "fill".into()), "kernel `fill` appears twice"),
        (
            Box::new(|m| m["kernels"][1]["variants"][0]["code"]["ptx"] = 99.into()),
            "refers to ptx code object 99, the bundle has",
        ),
        (
            Box::new(|m| m["kernels"][1]["variants"][0]["arch"] = "gfx90a".into()),
            "names architecture `gfx90a`, expected sm_<major><minor>[a|f]",
        ),
        (
            Box::new(|m| m["kernels"][1]["grid"] = serde_json::json!([{"Param": "y"}])),
            "the grid reads `y`, which is no integer scalar or compile-time parameter",
        ),
        (Box::new(|m| m["kernels"][1]["grid"] = serde_json::json!([])), "the grid has 0 dimensions"),
        (
            Box::new(|m| m["kernels"][1]["grid"] = serde_json::json!([{"Le": [{"Param": "n"}, {"Int": 4}]}])),
            "the grid dimension `(n <= 4)` is a condition",
        ),
        (
            Box::new(|m| m["kernels"][1]["require"] = serde_json::json!([{"Le": [{"Param": "n"}, {"Param": "x"}]}])),
            "the require condition reads `x`, which is no integer scalar or compile-time parameter",
        ),
        (Box::new(|m| m["kernels"][1]["key"] = serde_json::json!(["m"])), "tuning key `m` is not a runtime parameter"),
        (
            Box::new(|m| m["kernels"][1]["variants"][0]["consts"] = serde_json::json!({})),
            "gives compile-time values for {}, the kernel declares {\"BLOCK\"}",
        ),
        (Box::new(|m| m["kernels"][1]["variants"][0]["warps"] = 0.into()), "has 0 warps"),
        (Box::new(|m| m["kernels"][1]["variants"][0]["occupancy"] = 9.into()), "and occupancy 9"),
        (Box::new(|m| m["kernels"][1]["variants"][1] = m["kernels"][1]["variants"][0].clone()), "appears twice"),
        (
            Box::new(|m| m["kernels"][1]["variants"][0]["divisible"] = serde_json::json!(["x"])),
            "assumes `x` divisible, which is not an integer parameter of the kernel",
        ),
        (
            Box::new(|m| m["kernels"][1]["variants"][0]["divisible"] = serde_json::json!(["nope"])),
            "assumes `nope` divisible",
        ),
        (
            Box::new(|m| m["kernels"][1]["variants"][0]["unit"] = serde_json::json!(["x"])),
            "assumes `x` equal to 1, which is not an integer parameter of the kernel",
        ),
        (
            Box::new(|m| {
                m["kernels"][1]["variants"][0]["unit"] = serde_json::json!(["n"]);
                m["kernels"][1]["variants"][0]["divisible"] = serde_json::json!(["n"]);
            }),
            "assumes `n` both equal to 1 and divisible by 16, which no argument is",
        ),
        (
            Box::new(|m| m["kernels"][0]["variants"][0]["code"] = serde_json::json!({"ptx": null, "cubin": null})),
            "has no code object",
        ),
        (
            Box::new(|m| m["kernels"][0]["params"][0]["hints"]["divisibility"] = 0.into()),
            "parameter `out` has divisibility hint 0",
        ),
        (
            Box::new(|m| {
                let v = m["kernels"][1]["variants"][5].clone();
                m["kernels"][1]["variants"] = serde_json::json!([v]);
            }),
            "is used by no variant",
        ),
    ];
    for (edit, want) in cases {
        let err = with_manifest(edit);
        assert!(matches!(err, BundleError::Inconsistent { .. }), "{want}: got {err:?}");
        assert!(err.to_string().contains(want), "wanted `{want}` in `{err}`");
    }
    let err = with_manifest(|m| m["kernels"] = "none".into());
    assert!(matches!(err, BundleError::ManifestSyntax { .. }), "{err:?}");
}

#[test]
fn the_writer_refuses_what_the_reader_would_reject() {
    let mut w = BundleWriter::new("t", "s");
    let mut decl = vector_add_decl();
    decl.grid = vec![GridExpr::Param("x".into())];
    w.add_kernel(decl).unwrap();
    w.add_variant("vector_add", info(256, 4, "sm_80"), CodeObjects { ptx: Some("//".into()), cubin: None }).unwrap();
    let err = w.to_bytes().unwrap_err();
    assert!(err.to_string().contains("the grid reads `x`"), "{err}");
    assert!(w.add_kernel(vector_add_decl()).is_err(), "duplicate kernel");
    assert!(w.add_variant("nope", info(256, 4, "sm_80"), CodeObjects::default()).is_err());
    let mut w = BundleWriter::new("t", "s");
    w.add_kernel(vector_add_decl()).unwrap();
    w.add_variant("vector_add", info(256, 4, "sm_80"), CodeObjects { ptx: Some("a\0b".into()), cubin: None }).unwrap();
    assert!(w.to_bytes().unwrap_err().to_string().contains("not UTF-8 text without NUL bytes"));
}
