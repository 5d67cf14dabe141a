#!/usr/bin/env bash
# CPU side of a GPU session: builds everything the GPU machine runs into gpu/ (ignored by git;
# the device tool carries it) and downloads the peers' wheels into .whl/. Then, on the GPU
# machine, five or six calls of tests/gpu/session.sh (each under the device tool's 10-minute
# limit):
#
#   bash tests/gpu/prepare.sh            # here
#   bash tests/gpu/session.sh check      # GPU: every variant vs interpreter/float64, sanitizers
#   bash tests/gpu/session.sh la-check   # GPU: the lightning-attention matrix, sanitizers
#   bash tests/gpu/session.sh bench      # GPU: matmul, softmax, layer norm; torch/Triton peers
#   bash tests/gpu/session.sh la         # GPU: lightning bench
#   bash tests/gpu/session.sh la-peers   # GPU, same warm machine: lightning-attn and fla-core; then here
#                                        # tests/gpu/la_report.py la-ours.json la-peers.json table.md plot.png
#   bash tests/gpu/session.sh la-seg     # GPU: lightning times per segment length
#   bash tests/gpu/session.sh la-first   # GPU, as a lease's first call: the first call alone, with
#                                        # each tuning's phases (TESSERA_PRINT_TUNING=1)
#   LA_BUNDLE=la-sync.tsb bash tests/gpu/session.sh la   # GPU, same warm machine: A/B of the
#                                        # wgmma products in flight (la-check likewise, as a fallback)
#
# gpu/ holds: bin/ (tessera-gpucheck, tessera-bench, tessera-run, lightning_attention: no
# LLVM in any of them), kernels.tsb and kernels-ln.tsb (every kernel but lightning
# attention, every tuning point, for the correctness check: layer norm's tuning space
# alone is 23 MB, so it has its own bundle), bench.tsb (matmul tiles pinned as the benchmark uses
# them, row kernels at every BLOCK), bench-cp.tsb (those matmuls built with --cp-async-only: the
# A/B of the bulk tensor copies), la.tsb (lightning attention's two-pass kernels), la-chained.tsb (its bf16 kernels of both plans,
# for la-chain), la-sync.tsb (la.tsb built
# with --sync-wgmma, to compare against or fall back to). All of it is over the
# device tool's 64 MiB per call (the checkout's files, about 13 MB, count too), so
# each call carries what its group needs, and check and bench go in separate calls:
#   check: gpu/bin/tessera-gpucheck gpu/kernels.tsb (about 27 MB), then
#     CHECK_BUNDLE=kernels-ln.tsb: gpu/bin/tessera-gpucheck gpu/kernels-ln.tsb (23 MB)
#   bench: gpu/bin/tessera-bench gpu/bench.tsb (23 MB) gpu/bench-cp.tsb (4 MB)   la-peers: .whl
#   the lightning groups (la-check, la, la-seg, la-first, la-const, la-prof):
#     gpu/bin/lightning_attention gpu/la.tsb (the two-pass kernels, 41 MB; with the chained
#     kernels every lightning kernel is 54 MB, over one carry with the checkout)
#   la-chain: LA_BUNDLE=la-chained.tsb, gpu/la-chained.tsb (bf16: both plans' kernels, 23 MB)
#   quick, first: gpu/bin/lightning_attention gpu/la.tsb .whl
#   with LA_BUNDLE=la-sync.tsb: gpu/la-sync.tsb for gpu/la.tsb
set -euo pipefail
cd "$(dirname "$0")/../.."
./dev.sh setup
PTXAS=$(echo "${TESSERA_CUDA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera/cuda-venv}"/lib/python3*/site-packages/nvidia/cu13/bin/ptxas)
export TESSERA_PTXAS=${TESSERA_PTXAS:-$PTXAS}
cargo build --release -q -p tessera -p tessera-runtime -p tessera-tests --bins --example lightning_attention
T=target/release/tessera
mkdir -p gpu/bin
cp target/release/tessera-gpucheck target/release/tessera-bench target/release/tessera-run \
   target/release/examples/lightning_attention gpu/bin/
KERNELS=(kernels-dsl/vector_add.tsr kernels-dsl/softmax.tsr kernels-dsl/softmax_looped.tsr
         kernels-dsl/matmul.tsr kernels-dsl/linear_attention.tsr kernels-dsl/prefix_sum.tsr)
$T build "${KERNELS[@]}" -o gpu/kernels.tsb --arch sm_90a --const D=32
$T build kernels-dsl/layer_norm.tsr -o gpu/kernels-ln.tsb --arch sm_90a
$T build kernels-dsl/softmax.tsr kernels-dsl/softmax_looped.tsr kernels-dsl/layer_norm.tsr kernels-dsl/matmul.tsr \
    -o gpu/bench.tsb --arch sm_90a \
    --const matmul_block_ptr.BLOCK_M=128 --const matmul_block_ptr.BLOCK_K=64 --const matmul_block_ptr.GROUP_M=8 \
    --const matmul_aligned.BLOCK_M=128 --const matmul_aligned.BLOCK_K=64 --const matmul_aligned.GROUP_M=8 \
    --const matmul.BLOCK_M=128 --const matmul.BLOCK_K=64 --const matmul.GROUP_M=8
# The matmuls again with every pipelined copy a `cp.async` (no bulk tensor copies): bench's A/B.
$T build kernels-dsl/matmul.tsr -o gpu/bench-cp.tsb --arch sm_90a --cp-async-only \
    --const matmul_block_ptr.BLOCK_M=128 --const matmul_block_ptr.BLOCK_K=64 --const matmul_block_ptr.GROUP_M=8 \
    --const matmul_aligned.BLOCK_M=128 --const matmul_aligned.BLOCK_K=64 --const matmul_aligned.GROUP_M=8 \
    --const matmul.BLOCK_M=128 --const matmul.BLOCK_K=64 --const matmul.GROUP_M=8
TWO_PASS=()
for t in bf16 f16 f32; do TWO_PASS+=(--kernel "la_chunk_state_$t" --kernel "la_output_$t"); done
$T build kernels-dsl/lightning_attn.tsr -o gpu/la.tsb --arch sm_90a "${TWO_PASS[@]}"
$T build kernels-dsl/lightning_attn.tsr -o gpu/la-sync.tsb --arch sm_90a --sync-wgmma "${TWO_PASS[@]}"
$T build kernels-dsl/lightning_attn.tsr -o gpu/la-chained.tsb --arch sm_90a \
    --kernel la_chunk_state_bf16 --kernel la_output_bf16 --kernel la_chained_bf16
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl lightning-attn==0.0.5 fla-core==0.6.0
grep -qx '/gpu/' .git/info/exclude 2>/dev/null || printf '/gpu/\n/.whl/\n' >> .git/info/exclude
du -sh gpu .whl
