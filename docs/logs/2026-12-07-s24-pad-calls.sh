#!/usr/bin/env bash
# Branch pad-sum (exchange-pad on main with the pieces; snapshots regenerated): what a merge needs,
# in two calls on one H100 lease (artifacts in gpu/s25, built in the twenty-fourth session from
# pad-sum a0669c8 + b40f17d with /tmp/wt-pad's tessera, main's from 002a078; rebuild per the
# commands in docs/benchmarks.md if missing).
#   call 1, `bash docs/logs/2026-12-07-s24-pad-calls.sh ab`, carry gpu/s25/ab gpu/s25/bench-mm-main.tsb
#     gpu/s25/bench-mm-pad.tsb gpu/s25/bin/lightning_attention gpu/s25/bin/tessera-bench: the
#     lightning A/B (main's kernels, then pad's; two rounds) and the matmuls, alternately
#   call 2, `bash docs/logs/2026-12-07-s24-pad-calls.sh check`, carry gpu/s25/kernels.tsb
#     gpu/s25/bin/tessera-gpucheck: every variant against the interpreter, memcheck, racecheck
#   call 3, the same with CHECK_BUNDLE=kernels-ln.tsb, carry gpu/s25/kernels-ln.tsb gpu/s25/bin/tessera-gpucheck
set -u
G=gpu/s25
case ${1:?ab|check} in
    ab)
        nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
        for round in 1 2; do
            TESSERA_CACHE_DIR=/tmp/tc-pad timeout 150 $G/bin/lightning_attention $G/ab/main.tsb ab $G/ab/pad.tsb \
                -- 1 16 131072 128 4 16 32768 128 1 16 65536 128 4 16 8192 128 >> "$OUT/ab-pad.txt" 2>&1
            echo "lightning round $round: rc=$?"; grep -E '^b=|WRONG|correct' "$OUT/ab-pad.txt" | tail -10 | cut -c1-170
        done
        for side in main pad main pad; do
            timeout 120 $G/bin/tessera-bench $G/bench-mm-$side.tsb --sources kernels-dsl --cols 4096 >> "$OUT/bench-mm-$side.txt" 2>&1
            echo "matmul $side: rc=$?"; grep -E 'pick|WRONG|copy:' "$OUT/bench-mm-$side.txt" | tail -4 | cut -c1-160
        done
        ;;
    check) GPU_DIR=$G bash tests/gpu/session.sh check ;;
esac
