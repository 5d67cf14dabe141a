#!/usr/bin/env bash
# Twenty-second session, same warm machine as call1 (carry gpu/s22f .whl).
# 1. The chunk state with stages = [2, 3, 4] (ab/stages4.tsb) against [2, 3] (ab/base.tsb), bf16 DK = 128.
# 2. Each kernel's duration (Nsight Compute, one pass, call1's tuned picks) at (1, 16, 131072), the bench's draw.
# 3. The peers on the bench's shapes.
set -u
G=gpu/s22f
s=$SECONDS
TESSERA_CACHE_DIR=/tmp/tc-stages timeout 120 $G/ab/lightning_attention-dqfirst $G/ab/base.tsb ab $G/ab/stages4.tsb \
    -- 1 16 131072 128 1 16 65536 128 2 16 32768 128 > "$OUT/ab-stages.txt" 2>&1
echo "stages: rc=$? $((SECONDS - s)) s"; grep -E '^b=|WRONG|correct' "$OUT/ab-stages.txt" | cut -c1-170
for i in 0 1; do for f in /tmp/tc-stages/ab-$i/tune/la_chunk_state_bf16/*.json; do
    echo "bundle $i chunk state: $(tr -d '\n ' < "$f" | sed 's/.*"key":"\([^"]*\)"},"pick":"\([^"]*\)".*/\1 -> \2/')"
done; done
export TESSERA_CACHE_DIR=/tmp/tessera-cache
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
s=$SECONDS
timeout 60 $G/ab/lightning_attention-dqfirst $G/la.tsb profile 1 16 131072 128 128 > /dev/null 2>&1
timeout 90 "$NCU" --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum \
    --kernel-name regex:la_ -c 6 $G/ab/lightning_attention-dqfirst $G/la.tsb profile 1 16 131072 128 128 > "$OUT/ncu-131072.txt" 2>&1
echo "ncu: rc=$? $((SECONDS - s)) s"
grep -E "^  la_|gpu__time_duration|dram__bytes" "$OUT/ncu-131072.txt" | cut -c1-150
GPU_DIR=$G bash tests/gpu/session.sh la-peers
