#!/usr/bin/env bash
# Builds everything and runs every test through CTest: unit tests, actor
# tests (CAF test_coordinator, simulated time), integration tests (real
# threads, real HTTP, real etcd members started by the test fixtures on
# loopback ports with temp data dirs, the real launcher process) and the
# examples.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --test
build_dir=${ORASI_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j2
cd "$build_dir"
ctest --output-on-failure -j2 --timeout 300 "$@"
