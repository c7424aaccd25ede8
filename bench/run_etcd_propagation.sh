#!/usr/bin/env bash
# etcd backend: propagation latency from a raw HTTP put to the
# change in orasi's snapshots, beside `etcdctl watch` in the same run, and
# the initial sync of many services, beside `etcdctl get`. Builds
# etcd_propagation_bench in Release (own build dir: build-bench/), installs
# Debian's etcd-server and etcd-client if missing, starts a throwaway
# single-member etcd on free loopback ports (data in a mktemp -d directory,
# both removed on exit), and runs the benchmark against it.
#
#   BACKGROUND="10 10000 100000"  services already registered under the
#                         propagation prefix before the puts (loaded in
#                         transactions of 100 keys); one fresh etcd per size
#                         (and per tree)
#   PUTS="500 500 100"    measured puts (after 20 warm-up puts), per size
#                         (the last one repeats for further sizes)
#   SYNC_SERVICES=0       services of the initial-sync test (run at the first
#                         size only; e.g. SYNC_SERVICES=10000 RUNS=5)
#   RUNS=5                initial-sync runs (orasi start(), etcdctl get)
#   BASELINE_REF=f5d47de  also builds the same benchmark at that commit
#                         (bench/baseline_tree.sh) and runs it, size by size,
#                         each against its own fresh etcd
#   LABEL=run             names the result files
#
# Further arguments go to the benchmark (see --help). Results:
# build-bench/etcd_propagation/LABEL-TREE-SIZE.json (the benchmark's JSON),
# .log (its summary) and .etcd.log.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-bench"
out="$build/etcd_propagation"
read -ra sizes <<<"${BACKGROUND:-10 10000 100000}"
read -ra puts_list <<<"${PUTS:-500 500 100}"
sync_services="${SYNC_SERVICES:-0}"
runs="${RUNS:-5}"
baseline="${BASELINE_REF:-}"
label="${LABEL:-run}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-/work}" CCACHE_NOHASHDIR=1

run() {
  echo "+ $*"
  "$@"
}

# -- etcd and its data dir: always removed on exit ----------------------------

bench_pid=""
etcd_pid=""
data_dir=""
# The benchmark first: on SIGTERM it stops its etcdctl watch, which would
# otherwise retry a stopped etcd forever.
cleanup() {
  local pid
  for pid in $bench_pid $etcd_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [[ -n "$data_dir" ]]; then
    rm -rf "$data_dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- setup --------------------------------------------------------------------

if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
  echo "+ apt-get install -y etcd-server etcd-client"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y etcd-server etcd-client >/dev/null ||
    { apt-get update >/dev/null &&
      apt-get install -y etcd-server etcd-client >/dev/null; }
  # The package's own etcd service is not ours to measure against (a
  # policy-rc.d usually keeps it from starting); ours uses other ports.
fi

run cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DORASI_BUILD_TESTS=OFF -DORASI_BUILD_BENCH=ON >/dev/null
run make -C "$build" -j2 etcd_propagation_bench >/dev/null
source "$root/bench/baseline_tree.sh"
bench_trees "$root" "$baseline" etcd_propagation_bench \
  "$build/bench/etcd_propagation_bench"
mkdir -p "$out"

echo
echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), nproc $(nproc), load average" \
  "$(cut -d' ' -f1-3 /proc/loadavg), $(etcd --version | head -1)"
echo "   tree: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')" \
  "+ uncommitted:" \
  "$(git -C "$root" status --short 2>/dev/null | awk '{print $2}' | tr '\n' ' ')"
[[ -n "$baseline" ]] && echo "   baseline: $(git -C "$root" rev-parse --short "$baseline")"

# Starts a fresh single-member etcd on free loopback ports; sets client_url,
# etcd_pid and data_dir. Its log goes to $1.
start_etcd() {
  # Two free loopback ports (client, peer). Another process may take one
  # before etcd binds it; etcd then fails to start and we say so.
  read -r client_port peer_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
')
  client_url="http://127.0.0.1:$client_port"
  local peer_url="http://127.0.0.1:$peer_port"
  data_dir="$(mktemp -d /tmp/orasi-etcd-bench.XXXXXX)"
  echo "   etcd at $client_url, data in $data_dir"
  etcd --name default --data-dir "$data_dir/data" \
    --listen-client-urls "$client_url" --advertise-client-urls "$client_url" \
    --listen-peer-urls "$peer_url" --initial-advertise-peer-urls "$peer_url" \
    --initial-cluster "default=$peer_url" --initial-cluster-state new \
    >"$1" 2>&1 &
  etcd_pid=$!
  local i
  for ((i = 0; i < 100; ++i)); do
    if ! kill -0 "$etcd_pid" 2>/dev/null; then
      break
    fi
    if etcdctl --endpoints "$client_url" --dial-timeout=1s endpoint health \
      >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "etcd did not become healthy; its log:" >&2
  tail -20 "$1" >&2
  exit 1
}

stop_etcd() {
  if [[ -n "$etcd_pid" ]] && kill -0 "$etcd_pid" 2>/dev/null; then
    kill -TERM "$etcd_pid" 2>/dev/null || true
    wait "$etcd_pid" 2>/dev/null || true
  fi
  etcd_pid=""
  [[ -n "$data_dir" ]] && rm -rf "$data_dir"
  data_dir=""
}

for ((k = 0; k < ${#sizes[@]}; ++k)); do
  background="${sizes[k]}"
  puts="${puts_list[k]:-${puts_list[-1]}}"
  sync=0
  ((k == 0)) && sync="$sync_services"
  for tree in "${trees[@]}"; do
    name="${tree%%:*}"
    bin="${tree#*:}"
    base="$out/$label-$name-$background"
    echo
    echo "-- $name: $puts puts, $background background services" \
      "$( ((sync > 0)) && echo ", initial sync of $sync services x $runs runs")"
    start_etcd "$base.etcd.log"
    # In the background and waited for, so that a signal runs the trap at
    # once (bash defers traps until a foreground child ends).
    "$bin" --etcd "$client_url" --etcd-pid "$etcd_pid" --puts "$puts" \
      --background "$background" --sync-services "$sync" \
      --runs "$runs" "$@" >"$base.json" 2>"$base.log" &
    bench_pid=$!
    status=0
    wait "$bench_pid" || status=$?
    bench_pid=""
    stop_etcd
    sed 's/^/   /' "$base.log"
    if ((status != 0)); then
      echo "etcd_propagation_bench failed (status $status)" >&2
      exit "$status"
    fi
    echo "   JSON: $base.json"
  done
done
