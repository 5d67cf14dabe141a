#!/usr/bin/env bash
# The next session's first call (carry gpu/s23): branch pieces-v2 (each chunk-state walk in pieces
# of 4096 tokens from the end its weights decay toward; docs/lightning-attention.md, "What should
# pay next") against its own bundle with whole walks (`ab pieces=1`), and against main's kernels and
# binary, at the multi-segment and constant-speed shapes, decays U(0, 0.11) (the bench's draw, whose
# head 1 has s = 0.00073 and reaches past every segment) and s = 0; then the full bundle's
# correctness matrix and sanitizers.
# Build here first:
#   git checkout main: target/release/tessera build kernels-dsl/lightning_attn.tsr -o gpu/s23/ab/main.tsb --arch sm_90a \
#       --kernel la_output_bf16 --kernel la_chunk_state_bf16 --const la_output_bf16.DK=128 --const la_chunk_state_bf16.DK=128
#     cargo build --release -p tessera-tests --example lightning_attention; cp it to gpu/s23/bin/lightning_attention-main
#   git checkout pieces-v2: the same into gpu/s23/ab/pieces.tsb and gpu/s23/bin/lightning_attention-pieces;
#     the full bundle (la_chunk_state_* and la_output_* of every dtype) into gpu/s23/la.tsb, and the
#     binary also as gpu/s23/bin/lightning_attention (for session.sh la-check).
set -u
SHAPES="1 16 131072 128 1 16 65536 128 2 16 32768 128 4 16 32768 128 4 16 8192 128 16 16 8192 128"
# Each round appends to one file a side (at most 8 files come back).
for round in 1 2; do
    s=$SECONDS
    TESSERA_CACHE_DIR=/tmp/tc-pieces timeout 140 gpu/s23/bin/lightning_attention-pieces gpu/s23/ab/pieces.tsb ab pieces=1 \
        -- $SHAPES >> "$OUT/ab-pieces.txt" 2>&1
    echo "pieces round $round: rc=$? $((SECONDS - s)) s"; grep -E '^b=|WRONG|correct' "$OUT/ab-pieces.txt" | cut -c1-170
    s=$SECONDS
    TESSERA_CACHE_DIR=/tmp/tc-main timeout 140 gpu/s23/bin/lightning_attention-main gpu/s23/ab/main.tsb ab \
        -- $SHAPES >> "$OUT/ab-main.txt" 2>&1
    echo "main round $round: rc=$? $((SECONDS - s)) s"; grep -E '^b=|WRONG|correct' "$OUT/ab-main.txt" | cut -c1-170
done
s=$SECONDS
TESSERA_CACHE_DIR=/tmp/tc-s0 timeout 120 gpu/s23/bin/lightning_attention-pieces gpu/s23/ab/pieces.tsb --max-decay 0 ab pieces=1 \
    -- 1 16 131072 128 1 16 65536 128 > "$OUT/ab-pieces-s0.txt" 2>&1
echo "s = 0: rc=$? $((SECONDS - s)) s"; grep -E '^b=|WRONG|correct' "$OUT/ab-pieces-s0.txt" | cut -c1-170
GPU_DIR=gpu/s23 bash tests/gpu/session.sh la-check
