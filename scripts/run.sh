#!/usr/bin/env bash
# Builds the launcher and runs it. Without arguments it runs the embedded
# demo config: the admin API answers on http://127.0.0.1:9650, e.g.
#   curl 127.0.0.1:9650/v1/services
# Arguments are passed to the launcher (e.g. --config my.json).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
build_dir=${ORASI_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j2 --target orasi-discovery
exec "$build_dir/runtime/orasi-discovery" "$@"
