#!/usr/bin/env bash
# Session 24 (ran out of device time before a machine came; the next session's first call): the
# bench on one H100, then la-check. DIR holds la.tsb and bin/lightning_attention of main with the
# pieces merged (gpu/s24 from session 24 if it is still there; otherwise `bash tests/gpu/prepare.sh`
# builds them into gpu/); carry DIR/la.tsb DIR/bin/lightning_attention (about 43 MB with the
# checkout's 19 MB: under 64). The bench checks each shape against float64 first (four of them cut
# their chunk-state walks into pieces) and times the constant-speed shapes; la-check's matrix and
# sanitizer runs include problems with 4 pieces a segment. About 300 s. Then, on the same warm
# machine: `bash tests/gpu/session.sh la-peers` (carry .whl), and tests/gpu/la_report.py here.
set -u
D=${1:-gpu/s24}
GPU_DIR=$D bash tests/gpu/session.sh la
GPU_DIR=$D bash tests/gpu/session.sh la-check
