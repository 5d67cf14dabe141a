#!/usr/bin/env bash
# Session 24, the bench call (carry gpu/s24/la.tsb gpu/s24/bin/lightning_attention: main with
# pieces-sum merged, full bundle): the bench (each shape checked first), the constant-speed shapes,
# then Nsight Compute's chunk-state times at s = 0, (1, 16, 131072), with whole walks and with the
# default 4 pieces (what the pieces cost with no decay; NCU_S0=0 skips it). The peers follow in the
# next call.
set -u
G=gpu/s24
GPU_DIR=$G bash tests/gpu/session.sh la
GPU_DIR=$G bash tests/gpu/session.sh la-const
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ "${NCU_S0:-1}" = 1 ] && for pieces in 1 4; do
    log="$OUT/ncu-s0-pieces$pieces.txt"
    timeout 60 $G/bin/lightning_attention $G/la.tsb --pieces $pieces --max-decay 0 profile 1 16 131072 128 128 > "$log" 2>&1
    timeout 90 "$NCU" --clock-control none --section SpeedOfLight --kernel-name regex:la_chunk_state -c 2 \
        $G/bin/lightning_attention $G/la.tsb --pieces $pieces --max-decay 0 profile 1 16 131072 128 128 >> "$log" 2>&1
    echo "s = 0, pieces $pieces: rc=$?"; grep -E "^  la_|Duration|DRAM Throughput|L2 Cache Throughput" "$log" | cut -c1-150
done
