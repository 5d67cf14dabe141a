#!/usr/bin/env bash
# One entry point for a fresh machine (Debian 12, Rust via rustup):
#   ./dev.sh demo   install what is missing, compile every kernel in kernels-dsl/, run them on the
#                   interpreter, compile them to PTX for sm_90a (registers and spills from ptxas)
#   ./dev.sh test   install what is missing, run the whole test suite
#   ./dev.sh setup  only install
# Every step is idempotent and says what it does.
#
# NVIDIA's ptxas, nvdisasm and cuobjdump (to check and disassemble generated PTX; no GPU needed)
# come from PyPI wheels in a venv under ~/.cache/tessera/cuda-venv (or $TESSERA_CUDA_VENV); a
# ptxas named by $TESSERA_PTXAS is used as is. `test` and `demo` export TESSERA_PTXAS and
# TESSERA_CUDA_BIN; with CI=true the backend's tests fail when ptxas is missing.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# LLVM/MLIR 22 and the C libraries they link against (see docs/backend-notes.md), and Python
# with venv for the CUDA tool wheels.
DEBIAN_PACKAGES=(llvm-22-dev libmlir-22-dev libpolly-22-dev libclang-22-dev libzstd-dev libz3-dev libxml2-dev zlib1g-dev
    python3 python3-venv)

# ptxas 13.0 (the version docs/backend-notes.md records results for); the disassemblers exist as
# separate wheels only from CUDA 13.2 on, and read 13.0 cubins.
CUDA_VENV="${TESSERA_CUDA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera/cuda-venv}"
CUDA_WHEELS=("nvidia-cuda-nvcc==13.0.*" "nvidia-cuda-nvdisasm==13.2.*" "nvidia-cuda-cuobjdump==13.2.*")

setup() {
    if ! command -v cargo >/dev/null 2>&1; then
        echo "error: cargo not found. Install Rust 1.95 with rustup (https://rustup.rs) and re-run." >&2
        exit 1
    fi
    local missing=()
    for p in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        say "installing Debian packages: ${missing[*]}"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        say "Debian packages present (LLVM/MLIR 22, Python)"
    fi
    setup_cuda_tools
}

# The wheels' bin folder in the venv (empty when the venv has none).
cuda_venv_bin() {
    local dirs=("$CUDA_VENV"/lib/python3*/site-packages/nvidia/cu13/bin)
    [ -d "${dirs[0]}" ] && printf '%s' "${dirs[0]}"
}

setup_cuda_tools() {
    if [ -n "${TESSERA_PTXAS:-}" ] && [ -x "$TESSERA_PTXAS" ]; then
        say "ptxas from TESSERA_PTXAS: $TESSERA_PTXAS"
        export TESSERA_CUDA_BIN="${TESSERA_CUDA_BIN:-$(dirname "$TESSERA_PTXAS")}"
        return
    fi
    local bin
    bin="$(cuda_venv_bin || true)"
    if [ -z "$bin" ] || [ ! -x "$bin/ptxas" ] || [ ! -x "$bin/nvdisasm" ] || [ ! -x "$bin/cuobjdump" ]; then
        say "installing ptxas, nvdisasm, cuobjdump (${CUDA_WHEELS[*]}) into $CUDA_VENV"
        [ -x "$CUDA_VENV/bin/pip" ] || python3 -m venv "$CUDA_VENV"
        "$CUDA_VENV/bin/pip" install -q --disable-pip-version-check "${CUDA_WHEELS[@]}"
        bin="$(cuda_venv_bin)"
    else
        say "CUDA tools present in $bin"
    fi
    export TESSERA_PTXAS="$bin/ptxas"
    export TESSERA_CUDA_BIN="$bin"
    "$TESSERA_PTXAS" --version | tail -n 1
}

case "${1:-}" in
    setup)
        setup
        ;;
    demo)
        setup
        say "building the tessera CLI (release)"
        cargo build --release -q -p tessera
        say "compiling and running every kernel in kernels-dsl/"
        ./target/release/tessera demo kernels-dsl
        ;;
    test)
        setup
        say "running the whole test suite"
        cargo test --workspace --no-fail-fast "${@:2}"
        ;;
    *)
        echo "usage: ./dev.sh demo | test | setup" >&2
        exit 2
        ;;
esac
