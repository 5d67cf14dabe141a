#!/usr/bin/env bash
# Session 23, first call (carry gpu/s23): pieces-v2 (chunk-state walks in pieces of 4096 tokens)
# against its own bundle with whole walks (`pieces=1`) and against pieces+exchange-pad (the same
# runtime, the compiler padding exchange rows), and main's binary and kernels, two rounds; s = 0;
# then pieces' full bundle: correctness matrix, memcheck, racecheck.
set -u
SHAPES="1 16 131072 128 1 16 65536 128 2 16 32768 128 4 16 32768 128 4 16 8192 128 16 16 8192 128"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for round in $(seq 1 ${ROUNDS:-2}); do
    s=$SECONDS
    TESSERA_CACHE_DIR=/tmp/tc-pieces timeout 170 gpu/s23/bin/lightning_attention-pieces gpu/s23/ab/pieces.tsb ab pieces=1 gpu/s23/ab/pieces-pad.tsb \
        -- $SHAPES >> "$OUT/ab-pieces.txt" 2>&1
    echo "pieces round $round: rc=$? $((SECONDS - s)) s"; grep -E '^b=|WRONG|correct' "$OUT/ab-pieces.txt" | tail -19 | cut -c1-170
    s=$SECONDS
    TESSERA_CACHE_DIR=/tmp/tc-main timeout 120 gpu/s23/bin/lightning_attention-main gpu/s23/ab/main.tsb ab \
        -- $SHAPES >> "$OUT/ab-main.txt" 2>&1
    echo "main round $round: rc=$? $((SECONDS - s)) s"; grep -E '^b=|WRONG|correct' "$OUT/ab-main.txt" | tail -7 | cut -c1-170
done
s=$SECONDS
TESSERA_CACHE_DIR=/tmp/tc-s0 timeout 100 gpu/s23/bin/lightning_attention-pieces gpu/s23/ab/pieces.tsb --max-decay 0 ab pieces=1 \
    -- 1 16 131072 128 1 16 65536 128 > "$OUT/ab-pieces-s0.txt" 2>&1
echo "s = 0: rc=$? $((SECONDS - s)) s"; grep -E '^b=|WRONG|correct' "$OUT/ab-pieces-s0.txt" | cut -c1-170
GPU_DIR=gpu/s23 bash tests/gpu/session.sh la-check
