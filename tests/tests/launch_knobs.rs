//! The compiler and the runtime agree on the launch knobs a tuning axis, a
//! `--const`, a `require` or a pin may name (the runtime keeps its own list
//! because it does not depend on the compiler's crates).

#[test]
fn compiler_and_runtime_name_the_same_launch_knobs() {
    assert_eq!(tessera_tir::LAUNCH_KNOBS, tessera_runtime::bundle::KNOBS);
}
