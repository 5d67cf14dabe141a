//! Every pass, alone and in the default pipeline, keeps the all-ops kernel
//! valid (the pass manager verifies after each pass) and printable.

use tessera_tir::passes::{PASSES, PassManager};
use tessera_tir::{parse_kernel, print_kernel};

const ALL_OPS: &str = include_str!("all_ops.tir");

#[test]
fn each_pass_keeps_all_ops_valid() {
    for pass in PASSES {
        let mut k = parse_kernel(ALL_OPS).unwrap();
        let pm = PassManager::parse(pass.name).unwrap();
        pm.run(&mut k).unwrap_or_else(|e| panic!("{e}"));
        let text = print_kernel(&k);
        assert_eq!(print_kernel(&parse_kernel(&text).unwrap()), text);
    }
}

#[test]
fn default_pipeline_on_all_ops_reaches_a_fixed_point() {
    let mut k = parse_kernel(ALL_OPS).unwrap();
    let pm = PassManager::default_pipeline();
    let first = pm.run(&mut k).unwrap();
    assert!(first.changed());
    // Stores, atomics and the while loop survive; dead arithmetic does not.
    let text = print_kernel(&k);
    assert_eq!(text.matches("  store ").count(), 2, "{text}");
    assert_eq!(text.matches("store_block ").count(), 2, "{text}");
    assert_eq!(text.matches("atomic_add ").count(), 2, "{text}");
    assert!(text.contains("= while "), "{text}");
    for dead in ["= scan ", "= dot ", "= permute ", "= reshape ", "= if ", "= for "] {
        assert!(!text.contains(dead), "{dead} survived:\n{text}");
    }
    let mut rounds = 1;
    while pm.run(&mut k).unwrap().changed() {
        rounds += 1;
        assert!(rounds < 5, "the pipeline does not converge:\n{}", print_kernel(&k));
    }
}
