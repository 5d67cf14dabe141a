#!/usr/bin/env bash
# Session 23, third call, on the machine the bench just ran on (carry .whl): the peers at the
# bench's shapes.
set -u
bash tests/gpu/session.sh la-peers
