//! Transient shared memory across a moving base: a state built from tiles
//! converted through shared memory, then carried into a `wgmma` pipeline
//! whose buffers pin the bottom of shared memory. Before the fix, the
//! state's conversion to the accumulator layout was placed by offsets from
//! the new base while the last exchange's reads (offsets from the old one)
//! were still running: the race `compute-sanitizer racecheck` found in the
//! lightning output kernel's vector fold (seventeenth session). The lowering's
//! hazard verifier ([`crate::lower`]'s `shared_hazards`) now rejects such a
//! kernel (E0817); this one must compile, its ledger must show the overlap
//! that a barrier makes safe, and ptxas must accept it.

use tessera_tir::ConstValue;

use crate::lower::shared_hazards::{Node, Use, ledger};
use crate::{GpuArch, Target, compile_kernel, ptxas::Ptxas};

const FOLD_THEN_WALK: &str = include_str!("fold_then_walk.tsr");

#[test]
fn a_state_converted_for_a_pipeline_waits_for_the_reads_under_its_region() {
    for (block, warps) in [(64, 8), (64, 4), (16, 8)] {
        let consts: Vec<(String, ConstValue)> = [("BLOCK", block), ("warps", warps), ("stages", 2)]
            .iter()
            .map(|(n, v)| (n.to_string(), ConstValue::Int(*v)))
            .collect();
        let label = format!("BLOCK={block} warps={warps}");
        let tir = tessera_frontend::compile_str("fold_then_walk.tsr", FOLD_THEN_WALK, "fold_then_walk", &consts)
            .unwrap_or_else(|e| panic!("{label}: front end:\n{e}"));
        let mut k = compile_kernel(&tir, &Target::new(GpuArch::Sm90a))
            .unwrap_or_else(|e| panic!("{label}: the hazard verifier or the backend rejected it:\n{e}"));
        let mlir = &k.stages.mlir;
        assert!(mlir.contains("wgmma.mma_async"), "{label}: the loop runs on wgmma");
        // The case this test exists for: a region written after the base
        // moved overlaps one read before it (what a barrier must separate).
        let entries = ledger(mlir).expect("the ledger parses");
        let of = |write: bool| -> Vec<(usize, (u64, u64))> {
            entries
                .iter()
                .filter_map(|(i, n)| match (n, write) {
                    (Node::Use(Use::Write, a), true) | (Node::Use(Use::Read, a), false) => Some((*i, a.range)),
                    _ => None,
                })
                .collect()
        };
        let (writes, reads) = (of(true), of(false));
        let lines: Vec<&str> = mlir.lines().collect();
        let reused = writes.iter().any(|&(w, (ws, we))| {
            reads.iter().any(|&(r, (rs, re))| {
                r < w && ws < re && rs < we && lines[r..w].iter().any(|l| l.trim() == "nvvm.barrier0")
            })
        });
        assert!(reused, "{label}: no region reused across the pipeline's base:\n{writes:?}\n{reads:?}");
        match Ptxas::locate() {
            Some(ptxas) => {
                k.assemble(&ptxas).unwrap_or_else(|e| panic!("{label}: ptxas rejected it:\n{e}"));
            }
            None => eprintln!("SKIPPED ptxas check of fold_then_walk {label}: ptxas not found (set TESSERA_PTXAS)"),
        }
    }
}
