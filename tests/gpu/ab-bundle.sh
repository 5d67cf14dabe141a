#!/usr/bin/env bash
# Builds gpu/ab/NAME.tsb for `session.sh la-ab-bundles`: the bf16 two-pass lightning kernels
# (la_chunk_state_bf16, la_output_bf16) with DK pinned to 128 (about 4 MB), compiled by the
# working tree's compiler with FLAGS (any `tessera build` options). The GPU side times every
# bundle in gpu/ab/ with one `lightning_attention` binary, so an A/B of code generation is:
#
#   bash tests/gpu/ab-bundle.sh base                          # before the change
#   bash tests/gpu/ab-bundle.sh new                           # after it (or: new --some-flag)
#   # GPU machine (carry gpu/bin/lightning_attention gpu/ab): bash tests/gpu/session.sh la-ab-bundles
#
# It also refreshes gpu/bin/lightning_attention from the working tree (the runtime both bundles
# then run on).
set -euo pipefail
NAME=${1:?usage: ab-bundle.sh NAME [tessera build flags...]}
shift
ROOT=$(git rev-parse --show-toplevel)
cd "$ROOT"
PTXAS=$(echo "${TESSERA_CUDA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera/cuda-venv}"/lib/python3*/site-packages/nvidia/cu13/bin/ptxas)
export TESSERA_PTXAS=${TESSERA_PTXAS:-$PTXAS}
cargo build --release -q -p tessera -p tessera-tests --example lightning_attention
mkdir -p gpu/ab gpu/bin
cp target/release/examples/lightning_attention gpu/bin/lightning_attention
target/release/tessera build kernels-dsl/lightning_attn.tsr -o "gpu/ab/$NAME.tsb" --arch sm_90a \
    --kernel la_output_bf16 --kernel la_chunk_state_bf16 \
    --const la_output_bf16.DK=128 --const la_chunk_state_bf16.DK=128 "$@"
