#!/usr/bin/env bash
# GPU side of a session (see tests/gpu/prepare.sh): one group of steps per device call, each
# step under its own time limit so the call ends inside 10 minutes; at most 8 files in $OUT.
#
#   bash tests/gpu/session.sh check     every kernel variant against the interpreter and float64
#                                       (tessera-gpucheck); memcheck and racecheck on the ragged cases;
#                                       of gpu/kernels.tsb, or of gpu/$CHECK_BUNDLE (kernels-ln.tsb: layer
#                                       norm); cases of kernels a bundle lacks are skipped
#   bash tests/gpu/session.sh la-check  the lightning-attention correctness matrix; its ragged
#                                       sizes under memcheck and racecheck
#   bash tests/gpu/session.sh bench     tessera-bench (matmul 4096/8192, softmax and layer norm at
#                                       4096..32768 columns) and the torch/Triton peers
#   bash tests/gpu/session.sh la        the lightning bench (each shape checked first)
#   bash tests/gpu/session.sh la-peers  lightning-attn 0.0.5 and fla-core 0.6.0 (wheels in .whl/) on the
#                                       same shapes; on the same warm machine as `la`, then
#                                       tests/gpu/la_report.py merges the two JSON files (table, plot)
#   bash tests/gpu/session.sh quick     one call for a short lease: the lightning correctness matrix,
#                                       its bench, and the peers on the first two shapes
#   bash tests/gpu/session.sh la-first  the first call at (4,16,8192) alone, each tuning's phases printed
#   bash tests/gpu/session.sh la-seg    forward and forward+backward times per segment length (the
#                                       data behind Problem::default_segment); LA_SEG_SHAPES="B H N D ..."
#                                       picks the shapes (default: the bench's)
#   bash tests/gpu/session.sh la-prof   Nsight Compute (full set, source counters) of the forward's
#                                       kernels at (4,16,8192) and (1,16,65536), after tuning them
#   bash tests/gpu/session.sh first     one call when machines are scarce: the correctness matrix,
#                                       the bench, the peers on the first two shapes
#   bash tests/gpu/session.sh la-ab     an A/B of two lightning builds on one machine: for each tag
#                                       in AB_TAGS (default "old new"), $G/ab/lightning_attention-TAG
#                                       with $G/ab/la-TAG-128.tsb (a DK=128 bundle, ~9 MB, so both fit
#                                       one carry), `problem` at AB_SHAPES ("B H N,B H N", default
#                                       the pre-pass shapes and (4,16,8192)), tags alternating, twice
#   bash tests/gpu/session.sh la-ab-bundles
#                                       bundles of one binary against each other (tests/gpu/ab-bundle.sh
#                                       builds them): gpu/ab/base.tsb first, then every other bundle in
#                                       gpu/ab/, each checked on a ragged problem, then timed alternately
#                                       at AB_BUNDLE_SHAPES ("B H N D ...", default the bench's d = 128
#                                       shapes and (1,16,131072))
#   bash tests/gpu/session.sh la-const  the constant-speed shapes the bench reaches last, (4,16,32768)
#                                       and (1,16,131072), each checked and timed (a short call)
#   bash tests/gpu/session.sh la-chain  two-pass against chained plans (`compare`), every bench and
#                                       constant-speed shape checked, then timed alternately;
#                                       LA_CHAIN_SHAPES="B H N D ..." picks the shapes
# LA_FLAGS=--chained runs la-check, la, la-const or la-seg with chained plans.
# LA_FLAGS="--max-decay 0" times la, la-const or la-seg with no decay (s = 0 in every head: the
# pre-passes read every token, the worst case; the default draws s from U(0, 0.11)).
# LA_BUNDLE=la-sync.tsb runs la-check, la or la-seg on the bundle built with --sync-wgmma (each
# wgmma waited for at once): on the same warm machine as a run on la.tsb, an A/B of the products
# in flight, or the fallback when la-check fails.
# Calls made back to back find the machine warm (it is kept 30 s after a call).
set -uo pipefail
GROUP=${1:?usage: session.sh check|la-check|bench|la|la-peers|la-first|la-ab|la-ab-bundles|la-seg|la-chain|la-prof|la-const|first|quick}
G=${GPU_DIR:-gpu}
LA=$G/${LA_BUNDLE:-la.tsb}
OUT=${OUT:-./gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TESSERA_CACHE_DIR=${TESSERA_CACHE_DIR:-/tmp/tessera-cache}
# Triton's cache inside the checkout (ignored there), so that a later call on the same warm
# machine finds the peers compiled and autotuned.
export TRITON_CACHE_DIR=${TRITON_CACHE_DIR:-$PWD/.triton-cache}
SUMMARY="$OUT/summary.txt"
note() { echo "$*" | tee -a "$SUMMARY"; }
# The tuner's picks (its cache files), one line each, appended to FILE.
picks() { echo "tuned picks:" >> "$1"; find "${2:-$TESSERA_CACHE_DIR}" -type f 2>/dev/null | while read -r f; do echo "${f#"${2:-$TESSERA_CACHE_DIR}"/}: $(tr -d '\n ' < "$f" | sed 's/"kernel_hash":"[0-9a-f]*",//' | cut -c1-400)"; done >> "$1"; }
# step NAME SECONDS LOG COMMAND...
step() {
    local name=$1 budget=$2 log=$3; shift 3
    local start=$SECONDS
    timeout -k 10 "$budget" "$@" > "$log" 2>&1
    local rc=$?
    case $rc in
        0) note "$name: ok ($((SECONDS - start)) s)" ;;
        124|137) note "$name: TIMEOUT after $budget s" ;;
        *) note "$name: exit $rc ($((SECONDS - start)) s)" ;;
    esac
}
note "session $GROUP, $(date -u +%FT%TZ), $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null)"
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
# la_matrix SECONDS: the lightning-attention correctness matrix.
la_matrix() {
    step "lightning attention, correctness matrix" "$1" "$OUT/la-check.txt" "$G/bin/lightning_attention" "$LA" ${LA_FLAGS:-} check
    note "  $(grep -c '^PASS' "$OUT/la-check.txt") passed, $(grep -c '^FAIL' "$OUT/la-check.txt") failed"
    grep '^FAIL' "$OUT/la-check.txt" | head -5 | cut -c1-200 | tee -a "$SUMMARY"
}
# la_ours SECONDS: our lightning bench (every shape checked first) and the tuner's picks.
la_ours() {
    step "lightning attention bench" "$1" "$OUT/la-bench.txt" "$G/bin/lightning_attention" "$LA" ${LA_FLAGS:-} bench --json "$OUT/la-ours.json"
    grep -vE '^PASS' "$OUT/la-bench.txt" | cut -c1-200 | tee -a "$SUMMARY"
    picks "$OUT/la-bench.txt"
}
# la_peers SECONDS [SHAPES]: lightning-attn and fla-core (wheels in .whl/) on the bench's shapes
# (or the first SHAPES). The table: tests/gpu/la_report.py on la-ours.json and la-peers.json,
# here or on the CPU machine (both from one warm machine, so from one card).
la_peers() {
    if [ -d .whl ]; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
            && export PYTHONPATH=/tmp/site
    fi
    LA_PEER_SHAPES=${2:-99} step "lightning attention peers" "$1" "$OUT/la-peers.txt" python3 tests/gpu/la_peers.py "$OUT/la-peers.json"
    tail -12 "$OUT/la-peers.txt" | cut -c1-200 | tee -a "$SUMMARY"
    if [ -f "$OUT/la-ours.json" ]; then
        python3 tests/gpu/la_report.py "$OUT/la-ours.json" "$OUT/la-peers.json" "$OUT/la-table.md" "$OUT/la-plot.png" \
            && tee -a "$SUMMARY" < "$OUT/la-table.md"
    fi
}
# la_prof: each shape run once untimed (tunes into the cache), then its forward and the
# backward's first kernel under ncu.
# la_prof [SHAPES...]: each shape "B H N D E KERNELS" (default: (4,16,8192) and (1,16,65536)).
la_prof() {
    local NCU; NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
    [ $# -gt 0 ] || set -- "4 16 8192 128 128 2" "1 16 65536 128 128 4"
    for shape in "$@"; do
        set -- $shape
        local tag="$1-$3"
        step "tune at $tag" 60 "$OUT/prof-tune-$tag.txt" "$G/bin/lightning_attention" "$LA" profile $1 $2 $3 $4 $5
        step "ncu at $tag" 100 "$OUT/prof-$tag.txt" "$NCU" --clock-control none --set full --import-source no \
            --kernel-name regex:la_ -c $6 "$G/bin/lightning_attention" "$LA" profile $1 $2 $3 $4 $5
        grep -E "^  la_|Duration|DRAM Throughput|Compute \(SM\) Throughput|Registers Per|Stall|Issue Slots Busy|Executed Ipc A" "$OUT/prof-$tag.txt" \
            | head -40 | cut -c1-160 | tee -a "$SUMMARY"
    done
}
case $GROUP in
    check)
        RAGGED=$(mktemp); grep -E '#.*ragged' tests/gpu/check.cases > "$RAGGED"
        step "gpucheck, every variant" 180 "$OUT/gpucheck.txt" \
            "$G/bin/tessera-gpucheck" "$G/${CHECK_BUNDLE:-kernels.tsb}" --sources kernels-dsl --cases tests/gpu/check.cases --all-variants
        note "  $(grep -E '^summary:' "$OUT/gpucheck.txt" | tail -1)"
        grep -E '^(FAIL|NOT CHECKED)' "$OUT/gpucheck.txt" | head -10 | cut -c1-200 | tee -a "$SUMMARY"
        for tool in memcheck racecheck; do
            step "$tool, ragged cases" 150 "$OUT/$tool.txt" "$SAN" --tool $tool --error-exitcode 10 --print-limit 20 \
                "$G/bin/tessera-gpucheck" "$G/${CHECK_BUNDLE:-kernels.tsb}" --sources kernels-dsl --cases "$RAGGED"
            note "  $(grep -E 'SUMMARY' "$OUT/$tool.txt" | tail -1)"
        done
        ;;
    la-check)
        la_matrix 300
        for tool in memcheck racecheck; do
            step "lightning attention, ragged sizes, $tool" 120 "$OUT/la-$tool.txt" "$SAN" --tool $tool --error-exitcode 10 \
                --print-limit 20 "$G/bin/lightning_attention" "$LA" ${LA_FLAGS:-} sanitize
            note "  $(grep -E 'SUMMARY' "$OUT/la-$tool.txt" | tail -1)"
        done
        ;;
    bench)
        step "tessera-bench" 300 "$OUT/bench.txt" "$G/bin/tessera-bench" "$G/bench.tsb" --sources kernels-dsl --json "$OUT/bench.json"
        grep -E '^copy:|variants correct|pick|WRONG|skipped' "$OUT/bench.txt" | cut -c1-160 | tee -a "$SUMMARY"
        picks "$OUT/bench.txt"
        if [ -f "$G/bench-cp.tsb" ]; then
            # The same matmuls with `cp.async` copies only, on the same warm card.
            step "tessera-bench, cp.async only" 120 "$OUT/bench-cp.txt" "$G/bin/tessera-bench" "$G/bench-cp.tsb" \
                --sources kernels-dsl --cols 4096 --json "$OUT/bench-cp.json"
            grep -E 'pick|WRONG' "$OUT/bench-cp.txt" | cut -c1-160 | tee -a "$SUMMARY"
        fi
        step "peers (torch, Triton 3.6)" 200 "$OUT/peers.txt" python3 tests/gpu/peers.py --json "$OUT/peers.json"
        grep -E '^copy:|^  (torch|triton)' "$OUT/peers.txt" | cut -c1-160 | tee -a "$SUMMARY"
        ;;
    la) la_ours 540 ;;
    la-peers) la_peers 560 ;;
    quick)
        la_matrix 120
        la_ours 300
        la_peers 160 2
        ;;
    la-prof) la_prof ;;
    first)
        la_matrix 100
        la_ours 280
        la_peers 200 2
        ;;
    la-const)
        for shape in "4 16 32768" "1 16 131072"; do
            set -- $shape
            step "lightning attention ($1, $2, $3)" 140 "$OUT/la-const-$3.txt" "$G/bin/lightning_attention" "$LA" ${LA_FLAGS:-} problem $1 $2 $3 128 128
            grep -vE '^PASS' "$OUT/la-const-$3.txt" | cut -c1-200 | tee -a "$SUMMARY"
        done
        ;;
    la-first)
        # The first call alone, with every tuning's table and phases (module loads, checks,
        # timing): run as a lease's first call to see what a cold machine adds.
        step "lightning attention, first call" 120 "$OUT/la-first.txt" env TESSERA_PRINT_TUNING=1 \
            "$G/bin/lightning_attention" "$LA" first
        grep -E '^first call|tuned in' "$OUT/la-first.txt" | cut -c1-200 | tee -a "$SUMMARY"
        ;;
    la-ab)
        IFS=, read -ra AB_LIST <<< "${AB_SHAPES:-1 16 65536,1 16 131072,4 16 8192}"
        for round in 1 2; do
            for shape in "${AB_LIST[@]}"; do
                for tag in ${AB_TAGS:-old new}; do
                    set -- $shape
                    echo "== round $round, $tag, ($1, $2, $3)" >> "$OUT/la-ab.txt"
                    step "A/B $tag ($1, $2, $3), round $round" 120 "$OUT/la-ab-step.txt" \
                        "$G/ab/lightning_attention-$tag" "$G/ab/la-$tag-128.tsb" problem $1 $2 $3 128 128
                    cat "$OUT/la-ab-step.txt" >> "$OUT/la-ab.txt"
                    grep -E 'forward' "$OUT/la-ab-step.txt" | sed "s/^/  $tag: /" | cut -c1-220 | tee -a "$SUMMARY"
                done
            done
        done
        rm -f "$OUT/la-ab-step.txt"
        ;;
    la-ab-bundles)
        others=$(ls "$G"/ab/*.tsb | grep -v '/base\.tsb$' | tr '\n' ' ')
        step "lightning attention, bundles A/B" 540 "$OUT/la-ab-bundles.txt" "$G/bin/lightning_attention" "$G/ab/base.tsb" \
            ab $others -- ${AB_BUNDLE_SHAPES:-1 16 65536 128 4 16 8192 128 1 16 131072 128 8 16 2048 128 2 16 32768 128}
        grep -vE '^PASS' "$OUT/la-ab-bundles.txt" | cut -c1-200 | tee -a "$SUMMARY"
        ;;
    la-chain)
        # Two-pass against chained plans at the bench's shapes and the constant-speed ones
        # (b*n = 131072), each checked first, timed alternately (bf16: LA_BUNDLE=la-chained.tsb).
        step "lightning attention, two-pass vs chained" 560 "$OUT/la-chain.txt" "$G/bin/lightning_attention" "$LA" compare \
            ${LA_CHAIN_SHAPES:-8 16 2048 128 4 16 8192 128 2 16 32768 128 1 16 65536 128 4 16 8192 64 64 16 2048 128 16 16 8192 128 4 16 32768 128 1 16 131072 128}
        grep -vE '^PASS' "$OUT/la-chain.txt" | cut -c1-200 | tee -a "$SUMMARY"
        picks "$OUT/la-chain.txt"
        ;;
    la-seg)
        step "lightning attention, segment lengths" 560 "$OUT/la-segments.txt" "$G/bin/lightning_attention" "$LA" ${LA_FLAGS:-} segments ${LA_SEG_SHAPES:-}
        grep -E 'seg' "$OUT/la-segments.txt" | cut -c1-200 | tee -a "$SUMMARY"
        picks "$OUT/la-segments.txt"
        ;;
    *) echo "usage: session.sh check|la-check|bench|la|la-peers|la-first|la-ab|la-seg|la-chain|la-prof|la-const|first|quick" >&2; exit 2 ;;
esac
note "outputs: $(cd "$OUT" && ls | tr '\n' ' ')"
