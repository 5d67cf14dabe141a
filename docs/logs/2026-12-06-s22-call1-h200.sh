#!/usr/bin/env bash
# The twenty-second session's first call (carry gpu/s22/ab gpu/s22/bin): main (the 40 / s reach,
# ddab10d) against branch state-copies (dk and dq fold row-major transposed copies of the chunk
# states). Their plans differ, so each runs its own binary: `ab` with one bundle checks it at
# (2, 4, 4097) with S0, then times the shapes; A, B, A, B for drift. Decays U(0, 0.11).
# Rebuild: on main, tessera build ... --kernel la_output_bf16 --kernel la_chunk_state_bf16
# --const la_output_bf16.DK=128 --const la_chunk_state_bf16.DK=128 (and DK=64 into *-64.tsb) into
# gpu/s22/ab/main.tsb, the example into gpu/s22/bin/lightning_attention-main; the same on
# state-copies into copies.tsb and lightning_attention-copies.
set -u
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/summary.txt"
SHAPES="64 16 2048 128 16 16 8192 128 4 16 32768 128 1 16 131072 128 8 16 2048 128 4 16 8192 128 2 16 32768 128 1 16 65536 128"
for round in 1 2; do
    for b in main copies; do
        s=$SECONDS
        TESSERA_CACHE_DIR=/tmp/tc-$b timeout 100 gpu/s22/bin/lightning_attention-$b gpu/s22/ab/$b.tsb ab -- $SHAPES \
            > "$OUT/ab-$b-$round.txt" 2>&1
        echo "$b round $round: rc=$? $((SECONDS - s)) s" | tee -a "$OUT/summary.txt"
        grep -E '^b=|WRONG|rror' "$OUT/ab-$b-$round.txt" | cut -c1-200 | tee -a "$OUT/summary.txt"
        TESSERA_CACHE_DIR=/tmp/tc-$b-64 timeout 60 gpu/s22/bin/lightning_attention-$b gpu/s22/ab/$b-64.tsb ab -- 4 16 8192 64 \
            > "$OUT/ab64-$b-$round.txt" 2>&1
        grep -E '^b=|WRONG|rror' "$OUT/ab64-$b-$round.txt" | cut -c1-200 | tee -a "$OUT/summary.txt"
    done
done
# Then the reverse chunk states beside dq (a second stream) against every step on one stream:
# one bundle (main's), one binary (the overlap's), `ab serial`.
s=$SECONDS
TESSERA_CACHE_DIR=/tmp/tc-ovl timeout 150 gpu/s22/bin/lightning_attention-ovl gpu/s22/ab/main.tsb ab serial -- $SHAPES \
    > "$OUT/ab-overlap.txt" 2>&1
echo "overlap: rc=$? $((SECONDS - s)) s" | tee -a "$OUT/summary.txt"
grep -E '^b=|WRONG|rror|correct' "$OUT/ab-overlap.txt" | cut -c1-200 | tee -a "$OUT/summary.txt"
