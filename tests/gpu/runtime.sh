#!/usr/bin/env bash
# The runtime's GPU run: list a bundle, tune softmax_bf16 and matmul_block_ptr at two shapes
# each (the first run tunes, the second must read the tuning cache), two tuners racing on one
# new shape into the same cache (both succeed, a third run hits the cache, every cache file
# parses), then every fault case of `runtime-faults`. Run from the repository root:
#
#   tests/gpu/runtime.sh [RT_DIR]      (default: gpu/rt)
#
# RT_DIR holds tessera-run, runtime-faults, both.tsb (sm_90a + sm_80: softmax.tsr and
# matmul.tsr, BLOCK=4096) and sm80.tsb (sm_80 only: softmax.tsr); no Rust, LLVM or CUDA
# toolkit is needed, only the driver. The tuning cache is a fresh temporary folder
# (TESSERA_CACHE_DIR). Everything goes to $OUT/runtime.txt (default OUT: ./gpu-out); a short
# summary goes to stdout (and to the end of runtime.txt). Each step has a time limit, so the
# whole run fits in 5 minutes. Exit status: 0 when every check passed, 1 otherwise, 3 when an
# input is missing.
set -u
# Arguments like x=rand(rows*cols) travel through word splitting: no pathname expansion.
set -f

RT=${1:-gpu/rt}
OUT=${OUT:-./gpu-out}
T_STEP=${T_STEP:-60}
mkdir -p "$OUT"
LOG="$OUT/runtime.txt"
: > "$LOG"
SUMMARY=$(mktemp)
FAILED=0

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
log() { echo "$*" >> "$LOG"; }
note() { echo "$*" | tee -a "$SUMMARY" >> "$LOG"; }
check() { # check OK|FAIL MESSAGE
  [ "$1" = OK ] || FAILED=$((FAILED + 1))
  note "$1  $2"
}

for f in "$RT/tessera-run" "$RT/runtime-faults" "$RT/both.tsb" "$RT/sm80.tsb"; do
  if [ ! -e "$f" ]; then echo "missing $f" | tee "$LOG"; exit 3; fi
done
chmod +x "$RT/tessera-run" "$RT/runtime-faults" 2>/dev/null
TR="$RT/tessera-run"
export TESSERA_CACHE_DIR
TESSERA_CACHE_DIR=$(mktemp -d)
trap 'rm -rf "$TESSERA_CACHE_DIR" "$SUMMARY"' EXIT

note "tessera runtime GPU run: $RT, cache $TESSERA_CACHE_DIR, $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /' \
  | tee -a "$SUMMARY" >> "$LOG"

# run NAME CMD...: logs the command, its output and its exit status and wall time; sets RC,
# WALL (seconds) and TEXT (the output).
run() {
  local name=$1; shift
  log ""
  log "=== $name"
  log "\$ $*"
  local start end
  start=$(date +%s.%N)
  TEXT=$(timeout -k 5 "$T_STEP" "$@" 2>&1)
  RC=$?
  end=$(date +%s.%N)
  WALL=$(secs "$start" "$end")
  log "$TEXT"
  log "--- exit $RC, wall ${WALL}s"
}

# 1. The bundle's contents.
run "list both.tsb" "$TR" list "$RT/both.tsb"
if [ $RC -eq 0 ]; then check OK "list: $(grep -c '^kernel ' <<< "$TEXT") kernels"; else check FAIL "list: exit $RC"; fi

# The tool's own report: "kernel `k` on GPU, key ...: tuned in 812.3 ms" or "...: from cache in 0.4 ms".
source_of() { grep -m1 -oE '(tuned|from cache) in [0-9.]+ ms' <<< "$TEXT"; }

# tune_twice LABEL ARGS...: the first run must tune, the second must read the cache.
tune_twice() {
  local label=$1; shift
  run "tune $label (1st)" "$TR" tune "$@"
  local rc1=$RC wall1=$WALL src1 pick
  src1=$(source_of)
  pick=$(grep -m1 '^pick:' <<< "$TEXT")
  run "tune $label (2nd)" "$TR" tune "$@"
  local src2
  src2=$(source_of)
  local line="tune $label: 1st ${src1:-exit $rc1} (wall ${wall1}s), 2nd ${src2:-exit $RC} (wall ${WALL}s); ${pick:-no pick}"
  if [ $rc1 -eq 0 ] && [ $RC -eq 0 ] && [[ $src1 == tuned* ]] && [[ $src2 == from\ cache* ]]; then
    check OK "$line"
  else
    check FAIL "$line"
  fi
}

# 2. softmax_bf16 (BLOCK=4096, tuned over warps; key: cols, bucketed to a power of two).
softmax() { # ROWS COLS
  echo "$RT/both.tsb --kernel softmax_bf16 --arg rows=$1 --arg cols=$2 --arg x_row_stride=$2 --arg y_row_stride=$2"
  echo "--arg x=rand(rows*cols) --arg y=zeros(rows*cols) --outputs y"
}
# shellcheck disable=SC2046
tune_twice "softmax_bf16 32768x4096" $(softmax 32768 4096)
# shellcheck disable=SC2046
tune_twice "softmax_bf16 8192x1000" $(softmax 8192 1000)

# 3. matmul_block_ptr (BLOCK_M=128, BLOCK_K=64, GROUP_M=8 pinned; key: M, N, K).
matmul() { # M N K
  echo "$RT/both.tsb --kernel matmul_block_ptr --arg M=$1 --arg N=$2 --arg K=$3"
  echo "--arg stride_am=K --arg stride_ak=1 --arg stride_bk=N --arg stride_bn=1 --arg stride_cm=N --arg stride_cn=1"
  echo "--arg a=rand(M*K) --arg b=rand(K*N) --arg c=zeros(M*N) --outputs c --flops $((2 * $1 * $2 * $3))"
}
# shellcheck disable=SC2046
tune_twice "matmul_block_ptr 4096x4096x4096" $(matmul 4096 4096 4096)
# shellcheck disable=SC2046
tune_twice "matmul_block_ptr 2048x2048x2048" $(matmul 2048 2048 2048)

# 4. Two tuners at once on a new key, into the same cache; then a third must hit the cache.
log ""
log "=== two concurrent tuners: matmul_block_ptr 1024x1024x1024"
# shellcheck disable=SC2046
set -- $(matmul 1024 1024 1024)
A=$(mktemp); B=$(mktemp)
start=$(date +%s.%N)
timeout -k 5 "$T_STEP" "$TR" tune "$@" > "$A" 2>&1 & PA=$!
timeout -k 5 "$T_STEP" "$TR" tune "$@" > "$B" 2>&1 & PB=$!
wait $PA; RA=$?
wait $PB; RB=$?
WALL=$(secs "$start" "$(date +%s.%N)")
log "--- tuner A: exit $RA"; cat "$A" >> "$LOG"
log "--- tuner B: exit $RB"; cat "$B" >> "$LOG"
SA=$(grep -m1 -oE '(tuned|from cache) in [0-9.]+ ms' "$A"); SB=$(grep -m1 -oE '(tuned|from cache) in [0-9.]+ ms' "$B")
rm -f "$A" "$B"
run "tune matmul_block_ptr 1024x1024x1024 (3rd, after the race)" "$TR" tune "$@"
S3=$(source_of)
line="concurrent tuners: A ${SA:-exit $RA}, B ${SB:-exit $RB} (wall ${WALL}s); 3rd ${S3:-exit $RC}"
if [ $RA -eq 0 ] && [ $RB -eq 0 ] && [ $RC -eq 0 ] && [[ $S3 == from\ cache* ]]; then
  check OK "$line"
else
  check FAIL "$line"
fi
# Every cache file must be whole JSON (atomic replacement: no torn writes, no temp leftovers).
FILES=$(find "$TESSERA_CACHE_DIR" -type f | sort)
log ""
log "=== cache files"
log "$FILES"
NFILES=$(grep -c . <<< "$FILES")
if command -v python3 > /dev/null; then
  BAD=$(python3 -c '
import json, sys
bad = []
for p in sys.argv[1:]:
    try:
        with open(p) as f: json.load(f)
    except Exception as e:
        bad.append(f"{p}: {e}")
print("\n".join(bad))' $FILES)
  log "${BAD:-all parse}"
  # 5 tuned keys (4 shapes + the raced one), one file each.
  if [ -z "$BAD" ] && [ "$NFILES" -eq 5 ]; then check OK "cache: $NFILES files, all parse as JSON"
  else check FAIL "cache: $NFILES files (expected 5), unparsable: ${BAD:-none}"; fi
else
  note "SKIP  cache JSON check: python3 not found ($NFILES files)"
fi

# 5. Every fault case, against the good bundle and the sm_80-only one.
run "runtime-faults both.tsb sm80.tsb" "$RT/runtime-faults" "$RT/both.tsb" "$RT/sm80.tsb"
grep -E '^(FAIL|SKIP)' <<< "$TEXT" | cut -c1-200 | sed 's/^/  /' | tee -a "$SUMMARY" >> "$LOG"
grep -m1 -E 'bundle without the device' <<< "$TEXT" | cut -c1-200 | sed 's/^/  /' | tee -a "$SUMMARY" >> "$LOG"
FSUM=$(grep -m1 '^summary:' <<< "$TEXT")
if [ $RC -eq 0 ]; then check OK "runtime-faults: $FSUM"; else check FAIL "runtime-faults: exit $RC; ${FSUM:-no summary}"; fi

note "runtime.sh: $([ $FAILED -eq 0 ] && echo 'all checks passed' || echo "$FAILED check(s) FAILED")"
log ""
log "=== summary"
cat "$SUMMARY" >> "$LOG"
cat "$SUMMARY"
[ $FAILED -eq 0 ]
