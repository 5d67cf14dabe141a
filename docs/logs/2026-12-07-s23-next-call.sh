#!/usr/bin/env bash
# The next session's first call (carry gpu/s24): branch pieces-sum (patch
# docs/logs/2026-12-07-s23-pieces-sum.patch: chunk-state walks in pieces of 4096 tokens, the last
# piece of a (head, segment, value slice) to finish adds the others' parts, so the folds read one
# state a segment as on main) against its own bundle with whole walks (`ab pieces=1`) and against
# main's binary and kernels, at the pre-pass and constant-speed shapes, decays U(0, 0.11) and s = 0;
# then the full bundle's correctness matrix, memcheck and racecheck (the tickets' protocol is only
# checked on the interpreter so far).
# Build here first (apply the patch on a branch, then regenerate the PTX snapshots with
# INSTA_UPDATE=always cargo test --release -p tessera-backend --test ptx_snapshots):
#   on main: target/release/tessera build kernels-dsl/lightning_attn.tsr -o gpu/s24/ab/main.tsb --arch sm_90a \
#       --kernel la_output_bf16 --kernel la_chunk_state_bf16 --const la_output_bf16.DK=128 --const la_chunk_state_bf16.DK=128
#     cargo build --release -p tessera-tests --example lightning_attention; cp it to gpu/s24/bin/lightning_attention-main
#   on pieces-sum: the same into gpu/s24/ab/sum.tsb and gpu/s24/bin/lightning_attention-sum (and
#     gpu/s24/bin/lightning_attention); the full bundle (la_chunk_state_* and la_output_* of every
#     dtype) into gpu/s24/la.tsb.
set -u
SHAPES="1 16 131072 128 1 16 65536 128 2 16 32768 128 4 16 32768 128 4 16 8192 128 16 16 8192 128"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for round in $(seq 1 ${ROUNDS:-2}); do
    s=$SECONDS
    TESSERA_CACHE_DIR=/tmp/tc-sum timeout 150 gpu/s24/bin/lightning_attention-sum gpu/s24/ab/sum.tsb ab pieces=1 \
        -- $SHAPES >> "$OUT/ab-sum.txt" 2>&1
    echo "sum round $round: rc=$? $((SECONDS - s)) s"; grep -E '^b=|WRONG|correct' "$OUT/ab-sum.txt" | tail -13 | cut -c1-170
    s=$SECONDS
    TESSERA_CACHE_DIR=/tmp/tc-main timeout 120 gpu/s24/bin/lightning_attention-main gpu/s24/ab/main.tsb ab \
        -- $SHAPES >> "$OUT/ab-main.txt" 2>&1
    echo "main round $round: rc=$? $((SECONDS - s)) s"; grep -E '^b=|WRONG|correct' "$OUT/ab-main.txt" | tail -7 | cut -c1-170
done
s=$SECONDS
TESSERA_CACHE_DIR=/tmp/tc-s0 timeout 100 gpu/s24/bin/lightning_attention-sum gpu/s24/ab/sum.tsb --max-decay 0 ab pieces=1 \
    -- 1 16 131072 128 1 16 65536 128 > "$OUT/ab-sum-s0.txt" 2>&1
echo "s = 0: rc=$? $((SECONDS - s)) s"; grep -E '^b=|WRONG|correct' "$OUT/ab-sum-s0.txt" | cut -c1-170
GPU_DIR=gpu/s24 bash tests/gpu/session.sh la-check
