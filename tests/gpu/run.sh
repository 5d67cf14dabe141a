#!/usr/bin/env bash
# The GPU run: correctness under compute-sanitizer, correctness of every variant, benchmarks,
# and the peer anchors, all on one card in one go. Run from the repository root:
#
#   tests/gpu/run.sh [BUNDLE] [BIN_DIR]      (defaults: kernels.tsb, target/release)
#
# BIN_DIR holds tessera-gpucheck and tessera-bench (built with `cargo build --release -p
# tessera-tests --bins`; no LLVM or Rust is needed here). Outputs go to $OUT (default
# ./gpu-out): sanitizer.txt, racecheck.txt, gpucheck.txt, bench.txt, bench.json, peers.txt,
# peers.json and summary.txt (8 files). Each step has a time budget (seconds, override with the variables
# below) so the whole run fits in 10 minutes; a step that runs out is reported as TIMEOUT.
set -u

BUNDLE=${1:-kernels.tsb}
BIN=${2:-target/release}
OUT=${OUT:-./gpu-out}
SOURCES=${SOURCES:-kernels-dsl}
CASES=${CASES:-tests/gpu/check.cases}
T_SANITIZER=${T_SANITIZER:-90}
T_CHECK=${T_CHECK:-110}
T_BENCH=${T_BENCH:-240}
T_PEERS=${T_PEERS:-120}
HERE=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
note() { echo "$*" | tee -a "$SUMMARY"; }

for f in "$BUNDLE" "$BIN/tessera-gpucheck" "$BIN/tessera-bench"; do
  if [ ! -e "$f" ]; then note "missing $f"; exit 3; fi
done
note "tessera GPU run: bundle $BUNDLE, binaries $BIN, $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /' | tee -a "$SUMMARY"

# step NAME BUDGET LOG COMMAND...: runs COMMAND under a time limit, logging stdout and stderr.
step() {
  local name=$1 budget=$2 log=$3; shift 3
  local start=$SECONDS
  timeout -k 10 "$budget" "$@" > "$log" 2>&1
  local rc=$?
  local took=$((SECONDS - start))
  case $rc in
    0) note "$name: ok (${took}s)";;
    124|137) note "$name: TIMEOUT after ${budget}s (partial output in $(basename "$log"))";;
    *) note "$name: exit $rc (${took}s)";;
  esac
  return 0
}

# 1. compute-sanitizer memcheck on the ragged cases (tails and padded rows are where
#    out-of-bounds accesses hide), default variant of each.
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1 || true)
if [ -z "$SANITIZER" ]; then
  SANITIZER=$(python3 - <<'PY' 2>/dev/null
import glob, site
for d in site.getsitepackages():
    for p in glob.glob(d + "/nvidia/**/compute-sanitizer", recursive=True):
        print(p); raise SystemExit
PY
)
fi
RAGGED=$(mktemp)
grep -E '#.*ragged' "$CASES" > "$RAGGED"
if [ -n "$SANITIZER" ] && [ -x "$SANITIZER" ]; then
  step "sanitizer (memcheck, $(wc -l < "$RAGGED") ragged cases)" "$T_SANITIZER" "$OUT/sanitizer.txt" \
    "$SANITIZER" --tool memcheck --error-exitcode 10 --print-limit 20 \
    "$BIN/tessera-gpucheck" "$BUNDLE" --sources "$SOURCES" --cases "$RAGGED"
  note "  $(grep -E 'ERROR SUMMARY' "$OUT/sanitizer.txt" | tail -1)"
  # Shared-memory hazards: transient regions are reused without trailing barriers.
  step "racecheck ($(wc -l < "$RAGGED") ragged cases)" "$T_SANITIZER" "$OUT/racecheck.txt" \
    "$SANITIZER" --tool racecheck --racecheck-report hazard --error-exitcode 10 --print-limit 20 \
    "$BIN/tessera-gpucheck" "$BUNDLE" --sources "$SOURCES" --cases "$RAGGED"
  note "  $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$OUT/racecheck.txt" | tail -1)"
else
  echo "compute-sanitizer not found (PATH, /usr/local/cuda*/bin, pip nvidia packages)" > "$OUT/sanitizer.txt"
  note "sanitizer: SKIPPED, compute-sanitizer not found"
fi

# 2. Every variant of the bundle on every case, against the interpreter and float64.
step "gpucheck (all variants)" "$T_CHECK" "$OUT/gpucheck.txt" \
  "$BIN/tessera-gpucheck" "$BUNDLE" --sources "$SOURCES" --cases "$CASES" --all-variants
note "  $(grep -E '^summary:' "$OUT/gpucheck.txt" | tail -1)"
grep -E '^(FAIL|NOT CHECKED)' "$OUT/gpucheck.txt" | head -15 | sed 's/^/  /' | cut -c1-220 | tee -a "$SUMMARY"

# 3. Benchmarks of the bundle.
step "bench" "$T_BENCH" "$OUT/bench.txt" "$BIN/tessera-bench" "$BUNDLE" --sources "$SOURCES" --json "$OUT/bench.json"
grep -E '^copy:|variants correct|tuner.s pick|^   WRONG|skipped' "$OUT/bench.txt" | sed 's/^ */  /' | cut -c1-200 | tee -a "$SUMMARY"

# 4. Peers: torch and Triton 3.6 on the same shapes, same card.
step "peers (torch, triton)" "$T_PEERS" "$OUT/peers.txt" python3 "$HERE/peers.py" --json "$OUT/peers.json"
grep -E '^copy:|^  (torch|triton)' "$OUT/peers.txt" | cut -c1-160 | tee -a "$SUMMARY"

rm -f "$RAGGED"
note "outputs: $(cd "$OUT" && ls | tr '\n' ' ')"
