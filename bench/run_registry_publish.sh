#!/usr/bin/env bash
# Registry publish cost: builds registry_publish_bench in Release (own build
# dir: build-bench/) and runs it once per shape, one process each (RSS).
#
#   SHAPES="10x1 10x10 10000x1 10000x10 100000x1"   services x endpoints
#   FLIPS=200 DELTAS=100                              operations per shape
#   BASELINE_REF=f5d47de   also builds the same benchmark file at that commit
#                          (bench/baseline_tree.sh: a detached worktree with
#                          its own build dir, kept for the next run) and runs
#                          it beside this tree's, shape by shape
#   LABEL=run              names the result file
#
# Further arguments go to the benchmark (see --help). Results:
# build-bench/registry_publish/LABEL.jsonl, one line per (tree, shape).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-bench"
out="$build/registry_publish"
shapes="${SHAPES:-10x1 10x10 10000x1 10000x10 100000x1}"
flips="${FLIPS:-200}"
deltas="${DELTAS:-100}"
baseline="${BASELINE_REF:-}"
label="${LABEL:-run}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-/work}" CCACHE_NOHASHDIR=1

run() {
  echo "+ $*"
  "$@"
}

configure_and_build() { # source dir, build dir
  run cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release \
    -DORASI_BUILD_TESTS=OFF -DORASI_BUILD_EXAMPLES=OFF -DORASI_BUILD_BENCH=ON \
    >/dev/null
  run make -C "$2" -j2 registry_publish_bench >/dev/null
}

configure_and_build "$root" "$build"
source "$root/bench/baseline_tree.sh"
bench_trees "$root" "$baseline" registry_publish_bench \
  "$build/bench/registry_publish_bench"

mkdir -p "$out"
: >"$out/$label.jsonl"
echo
echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), nproc $(nproc), load average" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "   tree: $(git -C "$root" rev-parse --short HEAD)" \
  "+ uncommitted: $(git -C "$root" status --short | awk '{print $2}' | tr '\n' ' ')"
[[ -n "$baseline" ]] && echo "   baseline: $(git -C "$root" rev-parse --short "$baseline")"

for shape in $shapes; do
  services="${shape%x*}"
  endpoints="${shape#*x}"
  for tree in "${trees[@]}"; do
    name="${tree%%:*}"
    bin="${tree#*:}"
    echo
    echo "-- $name, $services services x $endpoints endpoints"
    line="$("$bin" --services "$services" --endpoints "$endpoints" \
      --flips "$flips" --deltas "$deltas" "$@" 2>"$out/$label.stderr")"
    sed 's/^/   /' "$out/$label.stderr"
    echo "{\"tree\":\"$name\",${line#\{}" >>"$out/$label.jsonl"
  done
done

echo
echo "== summary (us; cpu = all threads but the driver's, per operation)"
python3 - "$out/$label.jsonl" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'tree':9} {'shape':>10} {'B/svc':>7} {'flip cpu p50':>12} {'p99':>9}"
      f" {'wall p50':>9} {'p99':>9} {'delta cpu p50':>13} {'p99':>9}"
      f" {'wall p50':>9} {'p99':>9} {'sw/flip':>7}")
for r in rows:
    f, d = r["flips"], r["deltas"]
    print(f"{r['tree']:9} {str(r['services'])+'x'+str(r['endpoints_per_service']):>10}"
          f" {r['rss_bytes_per_service']:7.0f} {f['cpu_us']['p50']:12.0f}"
          f" {f['cpu_us']['p99']:9.0f} {f['wall_us']['p50']:9.0f}"
          f" {f['wall_us']['p99']:9.0f} {d['cpu_us']['p50']:13.0f}"
          f" {d['cpu_us']['p99']:9.0f} {d['wall_us']['p50']:9.0f}"
          f" {d['wall_us']['p99']:9.0f} {f['context_switches_per_op']:7.1f}")
EOF
echo "   JSON: $out/$label.jsonl"
