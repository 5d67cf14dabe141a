#!/usr/bin/env bash
# Session 24, a short call for the device time left (carry gpu/s24/la.tsb
# gpu/s24/bin/lightning_attention): memcheck on the sanitizer problems (now with chunk-state walks in
# pieces), then the four constant-speed shapes (b*n = 131072), each checked against float64 (two
# of them cut their walks into 4 pieces) and then timed, as `session.sh la-const` does.
set -u
G=gpu/s24
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
timeout 60 "$SAN" --tool memcheck --error-exitcode 10 --print-limit 20 $G/bin/lightning_attention $G/la.tsb sanitize \
    > "$OUT/la-memcheck.txt" 2>&1
echo "memcheck: rc=$?"; grep -E 'pieces|FAIL|SUMMARY' "$OUT/la-memcheck.txt" | cut -c1-200
for shape in "64 16 2048" "16 16 8192" "4 16 32768" "1 16 131072"; do
    set -- $shape
    timeout 60 $G/bin/lightning_attention $G/la.tsb problem $1 $2 $3 128 128 > "$OUT/la-const-$3.txt" 2>&1
    echo "($1, $2, $3): rc=$?"; grep -vE '^(device|copy)' "$OUT/la-const-$3.txt" | cut -c1-200
done
