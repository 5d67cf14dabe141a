//! The compiler and the runtime agree on the launch knobs a tuning axis, a
//! `--const`, a `require` or a pin may name, and on their range (the runtime
//! keeps its own copies because it does not depend on the compiler's crates).

#[test]
fn compiler_and_runtime_name_the_same_launch_knobs() {
    assert_eq!(tessera_tir::LAUNCH_KNOBS, tessera_runtime::bundle::KNOBS);
    assert_eq!(tessera_tir::MAX_OCCUPANCY, tessera_runtime::bundle::MAX_OCCUPANCY);
}
