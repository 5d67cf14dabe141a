#!/usr/bin/env bash
# Lightning Attention-2 on the GPU machine, in one call (the device tool):
#   bash tests/gpu/lightning.sh DIR [STAGE...]
# DIR holds `lightning_attention` (examples/lightning_attention.rs, release)
# and `la.tsb` (tessera build kernels-dsl/lightning_attn.tsr --arch sm_90a);
# wheels of lightning-attn and fla-core in .whl/. Stages (default: all, in
# this order): sanity bench peers report check sanitizer; also racecheck
# (compute-sanitizer's shared-memory hazards), picks, profile and stalls (ncu,
# after bench has filled the tuning cache). Logs and results go to $OUT (or ./out).
set -uo pipefail
DIR=$1; shift
STAGES=${*:-sanity bench peers report check sanitizer}
OUT=${OUT:-out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TESSERA_CACHE_DIR=/tmp/tessera-cache
X=$DIR/lightning_attention; B=$DIR/la.tsb
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader
for stage in $STAGES; do
    echo "=== $stage $(date -u +%H:%M:%S)"
    case $stage in
        sanity) timeout 120 "$X" "$B" 2>&1 | tee "$OUT/sanity.txt" ;;
        bench) timeout 300 "$X" "$B" bench --json "$OUT/ours.json" 2>&1 | tee "$OUT/bench.txt" ;;
        peers) timeout 420 python3 tests/gpu/la_peers.py "$OUT/peers.json" 2>&1 | tee "$OUT/peers.txt" ;;
        report) python3 tests/gpu/la_report.py "$OUT/ours.json" "$OUT/peers.json" "$OUT/table.md" "$OUT/plot.png" ;;
        check) timeout 400 "$X" "$B" check 2>&1 | tee "$OUT/check.txt" | grep -v '^PASS' ;;
        picks) find "$TESSERA_CACHE_DIR" -type f | while read -r f; do tr -d '\n ' < "$f" | cut -c1-600; echo; done | tee "$OUT/picks.txt" ;;
        profile) timeout 300 ncu --clock-control none --kernel-name regex:la_ -c 8 --section SpeedOfLight --section Occupancy --section LaunchStats "$X" "$B" profile 2>&1 | grep -E "la_|Duration|DRAM Throughput|Memory Throughput|Compute \(SM\)|Achieved Occupancy|Registers Per|Theoretical Occupancy|Grid Size|Block Size|Waves" | tee "$OUT/profile.txt" ;;
        stalls) timeout 300 ncu --clock-control none --kernel-name regex:la_output -c 1 --section WarpStateStats --section InstructionStats --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section SpeedOfLight "$X" "$B" profile > "$OUT/stalls.txt" 2>&1; grep -E "Stall|Warp Cycles|Issue|Executed Ipc|Shared|Bank|Duration" "$OUT/stalls.txt" | head -60 ;;
        sanitizer) timeout 300 compute-sanitizer --tool memcheck --print-limit 20 "$X" "$B" sanitize 2>&1 | tail -25 | tee "$OUT/sanitizer.txt" ;;
        # Shared-memory hazards between threads (transient regions are reused without trailing barriers).
        racecheck) timeout 300 compute-sanitizer --tool racecheck --racecheck-report hazard --print-limit 20 "$X" "$B" sanitize 2>&1 | tail -25 | tee "$OUT/racecheck.txt" ;;
    esac
done
