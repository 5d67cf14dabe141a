#!/usr/bin/env bash
# Session 24, the bench on one H100 (carry gpu/s24/la.tsb gpu/s24/bin/lightning_attention: main with
# the pieces merged, full bundle; the example from 05:04, whose matrix and sanitizer runs add
# problems with chunk-state walks in pieces): the bench (each shape checked first, the
# constant-speed shapes among them), then la-check (the matrix, memcheck, racecheck).
set -u
GPU_DIR=gpu/s24 bash tests/gpu/session.sh la
GPU_DIR=gpu/s24 bash tests/gpu/session.sh la-check
