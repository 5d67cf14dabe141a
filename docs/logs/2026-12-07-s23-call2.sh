#!/usr/bin/env bash
# Session 23, second call: the bench of the build the first call's A/B chose (DIR holds la.tsb and
# bin/lightning_attention; carry it), each shape checked first, then the constant-speed shapes.
# With `check` as the second argument, the bundle's correctness matrix and sanitizers first.
set -u
D=${1:?usage: call2.sh DIR [check]}
[ "${2:-}" = check ] && GPU_DIR=$D bash tests/gpu/session.sh la-check
GPU_DIR=$D bash tests/gpu/session.sh la
GPU_DIR=$D bash tests/gpu/session.sh la-const
