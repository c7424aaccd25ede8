#!/usr/bin/env bash
# Builds the read-path benchmark in Release (own build dir: build-bench/) and
# runs it. Arguments go to the benchmark (see --help), e.g. --seconds 5.
#   RUNS=3 bench/run_read_path.sh   runs it 3 times, then prints the median of
#                                   every row over the runs.
#   WAIT_IDLE=1 ...                 before each run, waits (up to 10 min) for
#                                   the machine to be >= 90% idle for 5 s.
# Each run also writes build-bench/read_path_run<N>.json (JSON Lines).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-bench"
runs="${RUNS:-1}"

run() {
  echo "+ $*"
  "$@"
}

# Percentage of idle CPU time over the next $1 seconds, from /proc/stat.
idle_percent() {
  local a b
  read -ra a < <(head -1 /proc/stat)
  sleep "$1"
  read -ra b < <(head -1 /proc/stat)
  local total=0 i
  for ((i = 1; i < ${#a[@]}; ++i)); do total=$((total + b[i] - a[i])); done
  echo $((total > 0 ? 100 * (b[4] - a[4]) / total : 0))
}

wait_idle() {
  local deadline=$((SECONDS + 600)) idle
  while ((SECONDS < deadline)); do
    idle=$(idle_percent 5)
    ((idle >= 90)) && return 0
    echo "   machine ${idle}% idle, waiting"
  done
  echo "   still busy after 10 min, running anyway"
}

run cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DORASI_BUILD_TESTS=OFF -DORASI_BUILD_EXAMPLES=OFF >/dev/null
run make -C "$build" -j2 read_path_bench >/dev/null

for ((i = 1; i <= runs; ++i)); do
  echo
  if [[ "${WAIT_IDLE:-0}" == 1 ]]; then wait_idle; fi
  echo "== run $i/$runs, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
  run "$build/bench/read_path_bench" "$@" --json "$build/read_path_run$i.json"
done

# Median of every row over the runs, each row on its own (so a row's median
# may come from another run than its neighbour's).
if ((runs > 1)); then
  echo
  echo "== median of $runs runs"
  printf '%-22s %7s  %-6s %14s %12s %5s\n' case threads thread ops/s ns/op cpu%
  for ((i = 1; i <= runs; ++i)); do cat "$build/read_path_run$i.json"; done |
    sed -E 's/.*"case":"([^"]*)","threads":([0-9]+),"thread":"([^"]*)".*"ops_per_sec":([^,]*),.*"cpu_share":([^}]*)}/\1 \2 \3 \4 \5/' |
    awk '$2 > 1 || $3 == "all" {
           if (!($1 in rank)) rank[$1] = ++cases
           print rank[$1], $2, ($3 == "all" ? 9 : substr($3, 2)), $0 }' |
    sort -k1,1n -k2,2n -k3,3n -k7,7g |
    awk '
      function median(a, n) {
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      }
      function flush(   j, k, tmp) {
        if (n == 0) return
        # cpu shares sorted on their own
        for (j = 2; j <= n; ++j)
          for (k = j; k > 1 && cpu[k - 1] > cpu[k]; --k) {
            tmp = cpu[k]; cpu[k] = cpu[k - 1]; cpu[k - 1] = tmp
          }
        m = median(ops, n)
        printf "%-22s %7s  %-6s %14.0f %12.1f %5.0f\n", c, t, th, m, 1e9 / m,
               100 * median(cpu, n)
        n = 0
      }
      { if ($4 != c || $5 != t || $6 != th) { flush(); c = $4; t = $5; th = $6 }
        ++n; ops[n] = $7; cpu[n] = $8 }
      END { flush() }'
fi
