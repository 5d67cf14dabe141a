//! Snapshots of `vector_add` for sm_90a: its normalized PTX and its fingerprint.
//!
//! Review a change with `INSTA_UPDATE=always cargo test -p snapshot-ptx-example`
//! and `git diff`. The fingerprint here leaves ptxas out so the test needs no
//! CUDA tools; pass `Ptxas::locate().as_ref()` to snapshot registers too.

use snapshot_ptx_example::compile_for_snapshot;
use tessera_backend::GpuArch;

const SOURCE: &str = include_str!("../../../kernels-dsl/vector_add.tsr");

#[test]
fn vector_add_sm90a() {
    let snapshot =
        compile_for_snapshot("vector_add.tsr", SOURCE, "vector_add", &[("BLOCK", 1024)], GpuArch::Sm90a, None)
            .unwrap_or_else(|e| panic!("vector_add does not compile:\n{e}"));
    // The fingerprint says what matters at a glance (how loads and stores are issued), the PTX says everything.
    let (loads, stores) = (snapshot.fingerprint.ld_global.total(), snapshot.fingerprint.st_global.total());
    assert_eq!(loads, 2 * stores, "two inputs, one output");
    insta::assert_snapshot!("vector_add_sm90a_fingerprint", snapshot.fingerprint.to_string());
    insta::assert_snapshot!("vector_add_sm90a_ptx", snapshot.ptx);
}
