#!/usr/bin/env bash
# Builds gpu/ab for `session.sh la-ab`, an A/B of two lightning-attention builds on one warm
# GPU machine: tag "old" is revision OLD (default HEAD~1), tag "new" the working tree. Each tag
# gets the `lightning_attention` example (runtime and plan of that revision) and a bundle of its
# kernels-dsl/lightning_attn.tsr with DK pinned to 128 (about 9 MB, so both tags fit one carry).
# The working tree's compiler builds both bundles: this compares kernel sources and plans; for a
# compiler change, build the old bundle with the old compiler (`tessera` in the worktree).
#
#   bash tests/gpu/ab-kit.sh 6ddf9d3
#   # GPU machine (carry gpu/ab):  bash tests/gpu/session.sh la-ab
set -euo pipefail
OLD=${1:-HEAD~1}
ROOT=$(git rev-parse --show-toplevel)
cd "$ROOT"
./dev.sh setup
PTXAS=$(echo "${TESSERA_CUDA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera/cuda-venv}"/lib/python3*/site-packages/nvidia/cu13/bin/ptxas)
export TESSERA_PTXAS=${TESSERA_PTXAS:-$PTXAS}
WT=$(mktemp -d /tmp/tessera-ab-XXXX)
trap 'git worktree remove --force "$WT" >/dev/null 2>&1 || true' EXIT
git worktree add --detach "$WT" "$OLD" >/dev/null
mkdir -p gpu/ab
cargo build --release -p tessera -p tessera-tests --example lightning_attention
(cd "$WT" && CARGO_TARGET_DIR="$ROOT/target/ab-old" cargo build --release -p tessera-tests --example lightning_attention)
cp "$ROOT/target/ab-old/release/examples/lightning_attention" gpu/ab/lightning_attention-old
cp target/release/examples/lightning_attention gpu/ab/lightning_attention-new
for tag in old new; do
    src=kernels-dsl/lightning_attn.tsr
    [ "$tag" = old ] && src="$WT/kernels-dsl/lightning_attn.tsr"
    pins=()
    for k in $(sed -n 's/^kernel \(la_[a-z0-9_]*\)(.*/\1/p' "$src"); do pins+=(--const "$k.DK=128"); done
    target/release/tessera build "$src" -o "gpu/ab/la-$tag-128.tsb" --arch sm_90a "${pins[@]}"
done
echo "gpu/ab: old = $(git rev-parse --short "$OLD"), new = working tree; $(du -sh gpu/ab | cut -f1)"
