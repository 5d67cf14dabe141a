#!/usr/bin/env bash
# The twenty-second session's first call (an H200 came; carry gpu/s22/ab gpu/s22/bin): first the
# whole of docs/logs/2026-12-06-s21-next-call.sh (main against state-copies, A, B, A, B), then the
# lines below: the reverse chunk states beside dq (v1: launched first on a side stream) against
# every step on one stream, one bundle (main's), one binary (the overlap's), `ab serial`.
set -u
SHAPES="64 16 2048 128 16 16 8192 128 4 16 32768 128 1 16 131072 128 8 16 2048 128 4 16 8192 128 2 16 32768 128 1 16 65536 128"
s=$SECONDS
TESSERA_CACHE_DIR=/tmp/tc-ovl timeout 150 gpu/s22/bin/lightning_attention-ovl gpu/s22/ab/main.tsb ab serial -- $SHAPES \
    > "$OUT/ab-overlap.txt" 2>&1
echo "overlap: rc=$? $((SECONDS - s)) s" | tee -a "$OUT/summary.txt"
grep -E '^b=|WRONG|rror|correct' "$OUT/ab-overlap.txt" | cut -c1-200 | tee -a "$OUT/summary.txt"
