#!/usr/bin/env bash
# The twenty-first session's first call (carry gpu/ab gpu/bin gpu/s20): the fold A/B (main's bf16
# DK=128 kernels, gpu/ab/base.tsb, against branch fold-coalesced's, gpu/ab/fold.tsb; one binary,
# gpu/bin/lightning_attention from main), then the pieces A/B (branch pieces-s20's bundle, binary
# and session.sh in gpu/s20). Rebuild: tests/gpu/ab-bundle.sh base (main) and fold (the branch);
# on pieces-s20: tessera build kernels-dsl/lightning_attn.tsr -o gpu/s20/la.tsb --arch sm_90a
# --kernel la_chunk_state_bf16 --kernel la_output_bf16 --kernel la_zero_states, its example to
# gpu/s20/bin/, its tests/gpu/session.sh to gpu/s20/session-pieces.sh.
set -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/summary.txt"
s=$SECONDS
TESSERA_CACHE_DIR=/tmp/tc-fold timeout 240 gpu/bin/lightning_attention gpu/ab/base.tsb \
    ab gpu/ab/fold.tsb -- 1 16 131072 128 64 16 2048 128 1 16 65536 128 4 16 8192 128 > "$OUT/ab-fold.txt" 2>&1
echo "fold A/B: rc=$? $((SECONDS - s)) s" | tee -a "$OUT/summary.txt"
grep -vE '^PASS' "$OUT/ab-fold.txt" | cut -c1-200 | tee -a "$OUT/summary.txt"
mkdir -p "$OUT/pieces"
GPU_DIR=gpu/s20 OUT="$OUT/pieces" TESSERA_CACHE_DIR=/tmp/tc-pieces LA_PIECES_SHAPES="1 16 131072,1 16 65536" \
    bash gpu/s20/session-pieces.sh la-pieces
