#!/usr/bin/env bash
# Twenty-second session (carry gpu/s22f): state-copies + the reverse chunk states beside dq.
# 1. A/B of the runner: v1 (reverse chunk states launched first, beside dq) against dq-first (dq on
#    a stream of the greatest priority, launched first; the chunk states after it), each against its
#    own --serial, on the multi-segment shapes. The winner's binary becomes bin/lightning_attention.
# 2. The correctness matrix (its sanitizers ran on this bundle on an H200 at 23:36), the bench,
#    the constant-speed shapes, with the winner.
set -u
G=gpu/s22f
SHAPES="1 16 131072 128 1 16 65536 128 2 16 32768 128 4 16 32768 128 4 16 8192 128"
for v in v1 dqfirst; do
    s=$SECONDS
    TESSERA_CACHE_DIR=/tmp/tc-$v timeout 150 $G/ab/lightning_attention-$v $G/la.tsb ab serial -- $SHAPES > "$OUT/ab-$v.txt" 2>&1
    echo "$v: rc=$? $((SECONDS - s)) s"; grep -E '^b=|WRONG|correct' "$OUT/ab-$v.txt" | cut -c1-160
done
# The sum of forward+backward over the shapes, beside (not serial) rows.
sum() { grep -E '^b=' "$OUT/ab-$1.txt" | grep -v ' serial:' | sed 's/.*forward+backward \([0-9.]*\) ms.*/\1/' | awk '{s+=$1} END {printf "%.4f", s}'; }
a=$(sum v1); b=$(sum dqfirst)
if [ -n "$b" ] && ! grep -q WRONG "$OUT/ab-dqfirst.txt" && awk "BEGIN {exit !($b < 0.995 * $a)}"; then
    cp $G/ab/lightning_attention-dqfirst $G/bin/lightning_attention; echo "winner dqfirst ($b against $a ms)"
else
    echo "winner v1 ($a against $b ms)"
fi
export TESSERA_CACHE_DIR=/tmp/tessera-cache
s=$SECONDS
timeout 200 $G/bin/lightning_attention $G/la.tsb check > "$OUT/la-check.txt" 2>&1
echo "matrix: rc=$? $((SECONDS - s)) s, $(grep -c '^PASS' "$OUT/la-check.txt") passed, $(grep -c '^FAIL' "$OUT/la-check.txt") failed"
grep '^FAIL' "$OUT/la-check.txt" | head -5 | cut -c1-200
GPU_DIR=$G bash tests/gpu/session.sh la
GPU_DIR=$G bash tests/gpu/session.sh la-const
