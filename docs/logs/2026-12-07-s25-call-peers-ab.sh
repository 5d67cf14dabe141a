#!/usr/bin/env bash
# Session 25, the second call on the warm machine after the bench (2026-12-07-s24-call-la.sh):
# the peers at the bench's shapes (carry .whl), then an A/B at the constant-speed shapes of
# main's bf16 kernels (DIR/ab/base.tsb, DK pinned to 128) against the same with 8 pieces a
# 16384-token segment (`pieces=8`, for the forward's tail at (1, 16, 131072)) and against the
# chunk states with the piece as the slow index of the grid's y (DIR/ab/order.tsb: every
# segment's first piece runs before any second, so the walks that end at the segments' starts,
# which the output pass reads first, run last), two rounds; then one round with no decay
# (s = 0), where the pieces lose, with whole walks (`pieces=1`) beside. Each plan is checked
# against float64 first, whole and cut. Carry DIR/ab, DIR/bin/lightning_attention, .whl.
# Built here (branch pieces-order's kernels-dsl/lightning_attn.tsr for order.tsb, main's for base.tsb):
#   target/release/tessera build SRC -o DIR/ab/X.tsb --arch sm_90a --kernel la_chunk_state_bf16 \
#       --kernel la_output_bf16 --const la_chunk_state_bf16.DK=128 --const la_output_bf16.DK=128
# About 450 s; SKIP_PEERS=1 for the A/B alone (about 200 s).
set -u
D=${1:-gpu/s24}
[ -n "${SKIP_PEERS:-}" ] || GPU_DIR=$D bash tests/gpu/session.sh la-peers
LA="$D/bin/lightning_attention"
for round in 1 2; do
    echo "== ab round $round"
    TESSERA_CACHE_DIR=/tmp/tc-ab timeout 100 "$LA" "$D/ab/base.tsb" ab pieces=8 "$D/ab/order.tsb" \
        -- 1 16 131072 128 4 16 32768 128 16 16 8192 128 64 16 2048 128 2>&1 | grep -vE '^PASS' | cut -c1-200
done | tee "$OUT/s25-ab.txt"
echo "== ab, no decay" | tee "$OUT/s25-ab-s0.txt"
TESSERA_CACHE_DIR=/tmp/tc-ab timeout 80 "$LA" "$D/ab/base.tsb" --max-decay 0 ab pieces=1 "$D/ab/order.tsb" \
    -- 1 16 131072 128 4 16 32768 128 2>&1 | grep -vE '^PASS' | cut -c1-200 | tee -a "$OUT/s25-ab-s0.txt"
