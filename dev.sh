#!/usr/bin/env bash
# One entry point for a fresh machine (Debian 12, Rust via rustup):
#   ./dev.sh demo   install what is missing, compile every kernel in kernels-dsl/, run them on the interpreter
#   ./dev.sh test   install what is missing, run the whole test suite
#   ./dev.sh setup  only install
# Every step is idempotent and says what it does.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# LLVM/MLIR 22 and the C libraries they link against (see DEVELOPERS.md).
DEBIAN_PACKAGES=(llvm-22-dev libmlir-22-dev libpolly-22-dev libclang-22-dev libzstd-dev libz3-dev libxml2-dev zlib1g-dev)

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
        say "Debian packages present (LLVM/MLIR 22)"
    fi
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
