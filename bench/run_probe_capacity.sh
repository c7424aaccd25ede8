#!/usr/bin/env bash
# Probe capacity of the health checking, against HAProxy in the same run.
# Builds probe_capacity_bench and probe_target in Release (own build dir:
# build-bench/), installs Debian's haproxy if missing, then for each N:
#   orasi, keep-alive on     probe_capacity_bench against a fresh probe_target
#   orasi, keep-alive off    (a new connection per check, as HAProxy does:
#                             the like-for-like comparison)
#   HAProxy                  N backends, `check inter 1s`, spread-checks 10,
#                            against a fresh probe_target
# and measures each over the same window: CPU per 1,000 checks, RSS per
# endpoint, and the check-interval deviation seen by the target. Then the
# detection latency (probe_capacity_bench --detect).
#
#   WINDOW=20       measured seconds per run
#   SIZES="1000 10000"
#   DETECT=1        0 skips the detection-latency runs (503 at interval 1 s
#                   and 10 s, fast interval 1 s; a blackhole at 1 s with 3
#                   and with 0 retries)
#   FAIRNESS=1      adds, per N, an orasi keep-alive run with N more
#                   endpoints that never answer (--blackholed N): the
#                   target's deviation then shows whether hanging checks
#                   delay healthy ones; 0 skips it
#   QUIET_POLL=1    adds an orasi no-keep-alive run on a host actor system
#                   whose idle CAF workers sleep at once (--caf-quiet-poll),
#                   an experiment; 0 skips it
#   IDLE=1          first measures the fixed cost: orasi (default and quiet
#                   poll) and HAProxy with 10 endpoints, IDLE_WINDOW=10 s
#   HAPROXY_WARMUP=5  seconds between HAProxy's start and its window
#
# Results: build-bench/probe_capacity/ (one JSON file per run, logs, the
# HAProxy configs) and a table on stdout.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-bench"
bin="$build/bench"
out="$build/probe_capacity"
window="${WINDOW:-20}"
sizes="${SIZES:-1000 10000}"
haproxy_warmup="${HAPROXY_WARMUP:-5}"
interval_ms=1000

run() {
  echo "+ $*"
  "$@"
}

# -- processes: every one we start is stopped on exit ------------------------

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
  local keep=() pid
  for pid in "${pids[@]}"; do [[ "$pid" == "$1" ]] || keep+=("$pid"); done
  pids=("${keep[@]}")
}

# Runs a command in the background and waits for it, so that a signal to
# this script runs its trap at once (bash defers traps until a foreground
# child ends); returns the command's status.
run_waited() {
  "$@" &
  local pid=$!
  pids+=("$pid")
  local status=0
  wait "$pid" || status=$?
  forget_pid "$pid"
  return "$status"
}

# Stops process $1 (ours) with SIGTERM and waits for it.
stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget_pid "$1"
}

# -- setup --------------------------------------------------------------------

if ! command -v haproxy >/dev/null; then
  echo "+ apt-get install -y haproxy"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y haproxy >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y haproxy >/dev/null; }
  # Never leave the packaged service running (a policy-rc.d usually stops
  # it from starting; if it did start, it is ours to stop).
  if [[ -s /run/haproxy.pid ]]; then
    svc=$(cat /run/haproxy.pid)
    if [[ "$(cat "/proc/$svc/comm" 2>/dev/null)" == haproxy ]]; then
      echo "stopping the haproxy service the package started (pid $svc)"
      kill -TERM "$svc" || true
    fi
  fi
fi

run cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DORASI_BUILD_TESTS=OFF -DORASI_BUILD_EXAMPLES=OFF >/dev/null
run make -C "$build" -j2 probe_capacity_bench probe_target >/dev/null
rm -rf "$out"
mkdir -p "$out"

echo
echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'), nproc $(nproc), load average" \
  "$(cut -d' ' -f1-3 /proc/loadavg), $(haproxy -v | head -1)"
echo "   window ${window} s, open-file limit $(ulimit -Hn) (hard)"
echo "   tree: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')" \
  "+ uncommitted:" \
  "$(git -C "$root" status --short 2>/dev/null | awk '{print $2}' | tr '\n' ' ')"

# -- the target ---------------------------------------------------------------

# Starts a probe_target; sets target_pid, target_port, target_out.
start_target() {
  target_out="$out/$1.target"
  # Empty before the start: the shell truncates it in the child, and the
  # loop below must not read an older target's port meanwhile.
  : >"$target_out"
  "$bin/probe_target" --interval-ms "$interval_ms" >"$target_out" 2>&1 &
  target_pid=$!
  pids+=("$target_pid")
  local i line
  for ((i = 0; i < 100; ++i)); do
    # `read` fails on a line without its newline: a half-written "port 340"
    # must not pass for port 340.
    if IFS= read -r line <"$target_out" && [[ $line =~ ^port\ ([0-9]+)$ ]]; then
      target_port=${BASH_REMATCH[1]}
      return 0
    fi
    sleep 0.05
  done
  echo "probe_target did not start" >&2
  exit 1
}

# Stops the target; its JSON line goes to $out/$1.target.json.
stop_target() {
  stop "$target_pid"
  grep '^{' "$target_out" >"$out/$1.target.json"
}

# -- runs ---------------------------------------------------------------------

# run_orasi NAME N KEEP_ALIVE [extra bench args...]
run_orasi() {
  local name=$1 n=$2 ka=$3
  shift 3
  echo
  echo "-- $name: orasi, $n endpoints, keep-alive $ka $*"
  start_target "$name"
  run_waited "$bin/probe_capacity_bench" --port "$target_port" \
    --endpoints "$n" --keep-alive "$ka" --window-s "$window" \
    --target-pid "$target_pid" --label "$name" "$@" \
    >"$out/$name.json" 2>"$out/$name.log" ||
    echo "   FAILED (left out of the table):"
  sed 's/^/   /' "$out/$name.log"
  stop_target "$name"
}

# utime + stime of process $1, in clock ticks.
proc_cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat")
  stat=${stat##*) } # after the command name
  awk '{print $12 + $13}' <<<"$stat"
}

proc_field_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

# haproxy_config N PORT > file
haproxy_config() {
  local n=$1 port=$2 i
  # HAProxy refuses to start without a listener: one on a unix socket,
  # never used.
  cat <<EOF
global
  # No traffic goes through: maxconn only sizes the FD limit HAProxy asks
  # for (2 x maxconn + one per server), which must stay under the hard
  # limit (20000 here) at 10,000 servers.
  maxconn 4000
  spread-checks 10

defaults
  mode http
  timeout connect 2s
  timeout check 2s
  timeout client 10s
  timeout server 10s

frontend unused
  bind unix@$out/haproxy.sock
  default_backend b0
EOF
  for ((i = 0; i < n; ++i)); do
    printf '\nbackend b%d\n  option httpchk GET /e%d/health\n' "$i" "$i"
    printf '  server s 127.0.0.1:%d check inter 1s\n' "$port"
  done
}

# Starts haproxy on config $1; sets haproxy_pid.
start_haproxy() {
  haproxy -c -q -f "$1" || { echo "haproxy -c failed on $1" >&2; exit 1; }
  haproxy -f "$1" -db >"${1%.cfg}.log" 2>&1 &
  haproxy_pid=$!
  pids+=("$haproxy_pid")
}

# HAProxy with one server: the RSS every HAProxy has before its servers;
# sets base_kb.
measure_haproxy_base() {
  start_target haproxy_base
  haproxy_config 1 "$target_port" >"$out/haproxy_base.cfg"
  start_haproxy "$out/haproxy_base.cfg"
  run_waited sleep 3
  base_kb=$(proc_field_kb "$haproxy_pid" VmRSS)
  stop "$haproxy_pid"
  stop_target haproxy_base
}

# run_haproxy NAME N BASE_KB
run_haproxy() {
  local name=$1 n=$2 base_kb=$3
  echo
  echo "-- $name: HAProxy, $n servers, check inter 1s"
  start_target "$name"
  haproxy_config "$n" "$target_port" >"$out/$name.cfg"
  local t0=$SECONDS
  start_haproxy "$out/$name.cfg"
  run_waited sleep "$haproxy_warmup"
  if ! kill -0 "$haproxy_pid" 2>/dev/null; then
    echo "haproxy exited:" >&2
    cat "$out/$name.log" >&2
    exit 1
  fi
  local tck cpu0 cpu1 start end rss threads
  tck=$(getconf CLK_TCK)
  kill -USR1 "$target_pid"
  cpu0=$(proc_cpu_ticks "$haproxy_pid")
  start=$(date +%s.%N)
  run_waited sleep "$window"
  kill -USR2 "$target_pid"
  cpu1=$(proc_cpu_ticks "$haproxy_pid")
  end=$(date +%s.%N)
  rss=$(proc_field_kb "$haproxy_pid" VmRSS)
  threads=$(proc_field_kb "$haproxy_pid" Threads)
  stop "$haproxy_pid"
  stop_target "$name"
  awk -v name="$name" -v n="$n" -v start="$start" -v end="$end" \
    -v ticks=$((cpu1 - cpu0)) -v tck="$tck" -v rss="$rss" -v base="$base_kb" \
    -v threads="$threads" -v up=$((SECONDS - t0)) 'BEGIN {
      printf "{\"label\":\"%s\",\"endpoints\":%d,\"window_s\":%.3f,", name,
             n, end - start
      printf "\"cpu_s\":%.3f,\"rss_kb\":%d,\"rss_base_kb\":%d,", ticks / tck,
             rss, base
      printf "\"threads\":%d,\"run_s\":%d}\n", threads, up
    }' >"$out/$name.json"
  sed 's/^/   /' "$out/$name.log" | head -5
}

measure_haproxy_base
echo "HAProxy with 1 server: RSS $base_kb kB"

# The fixed cost: 10 endpoints (10 checks/s), a shorter window.
if [[ "${IDLE:-1}" == 1 ]]; then
  full_window=$window
  window="${IDLE_WINDOW:-10}"
  run_orasi orasi_noka_10 10 off
  run_orasi orasi_noka_quiet_10 10 off --caf-quiet-poll
  run_haproxy haproxy_10 10 "$base_kb"
  window=$full_window
  sizes_shown="10 $sizes"
else
  sizes_shown=$sizes
fi

for n in $sizes; do
  run_orasi "orasi_ka_$n" "$n" on
  run_orasi "orasi_noka_$n" "$n" off
  if [[ "${QUIET_POLL:-1}" == 1 ]]; then
    run_orasi "orasi_noka_quiet_$n" "$n" off --caf-quiet-poll
  fi
  if [[ "${FAIRNESS:-1}" == 1 ]]; then
    run_orasi "orasi_ka_hang_$n" "$n" on --blackholed "$n"
  fi
  run_haproxy "haproxy_$n" "$n" "$base_kb"
done

# Detection: interval, fast interval, how the endpoints fail, retries.
detect_runs=(
  "1000 1000 503 3"
  "10000 1000 503 3"
  "1000 1000 blackhole 3"
  "1000 1000 blackhole 0"
)
if [[ "${DETECT:-1}" == 1 ]]; then
  for cfg in "${detect_runs[@]}"; do
    read -r iv fast fail retries <<<"$cfg"
    name="detect_${iv}ms_${fail}_r${retries}"
    echo
    echo "-- $name: orasi --detect, 1000 + 50 endpoints, interval $iv ms," \
      "fast $fast ms, failure_threshold 3, timeout 2 s, retries $retries," \
      "failing with $fail"
    start_target "$name"
    run_waited "$bin/probe_capacity_bench" --port "$target_port" \
      --endpoints 1000 --detect --interval-ms "$iv" --fast-interval-ms "$fast" \
      --failure-threshold 3 --timeout-ms 2000 --retries "$retries" \
      --fail-with "$fail" --label "$name" \
      >"$out/$name.json" 2>"$out/$name.log" ||
      echo "   FAILED (left out of the table):"
    sed 's/^/   /' "$out/$name.log"
    stop_target "$name"
  done
fi

# -- the table ----------------------------------------------------------------

python3 - "$out" "$sizes_shown" <<'EOF'
import json, os, sys

out, sizes = sys.argv[1], sys.argv[2].split()

def load(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        lines = [l for l in f if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None

print()
print("== probe capacity (interval 1 s, jitter 10%; CPU and RSS of the "
      "checking process)")
head = ("peer", "N", "checks/s", "CPU s/1000", "CPU %core", "RSS/endpoint",
        "dev p50", "dev p99", "dev max", ">±10%", "new conns/s",
        "all Healthy")
fmt = "{:<24} {:>6} {:>9} {:>10} {:>9} {:>12} {:>7} {:>7} {:>7} {:>6} " \
      "{:>11} {:>11}"
print(fmt.format(*head))
for n in sizes:
    for peer in ("orasi_ka", "orasi_noka", "orasi_noka_quiet",
                 "orasi_ka_hang", "haproxy"):
        name = f"{peer}_{n}"
        run, target = load(name + ".json"), load(name + ".target.json")
        if run is None or target is None:
            continue
        checks = target["requests"]
        window = target["window_s"]
        cpu = run["cpu_s"]
        if peer == "haproxy":
            rss_per = 1024 * (run["rss_kb"] - run["rss_base_kb"]) / int(n)
            healthy = "starts UP"
        else:
            rss_per = run["rss_per_endpoint_bytes"]
            healthy = f'{run["time_to_healthy_s"]:.2f} s'
        label = {"orasi_ka": "orasi keep-alive",
                 "orasi_noka": "orasi no keep-alive",
                 "orasi_noka_quiet": "orasi no KA, quiet poll",
                 "orasi_ka_hang": "orasi KA, +N hanging",
                 "haproxy": "HAProxy"}[peer]
        print(fmt.format(
            label, n, f"{checks / window:.0f}",
            f"{1000 * cpu / checks:.4f}" if checks else "-",
            f"{100 * cpu / run['window_s']:.1f}",
            f"{rss_per / 1024:.1f} KiB",
            f"{100 * target['dev_p50']:.1f}%",
            f"{100 * target['dev_p99']:.1f}%",
            f"{100 * target['dev_max']:.1f}%",
            f"{100 * target['outside_10pct']:.2f}%",
            f"{target['connections_accepted'] / window:.0f}", healthy))
        if peer.startswith("orasi") and \
                abs(run["attempts"] - checks) > 0.005 * checks:
            print(f"   note: orasi counted {run['attempts']} attempts, "
                  f"the target {checks} requests")
        if peer.startswith("orasi") and run["failed_attempts"]:
            print(f"   note: {run['failed_attempts']} failed attempts")
        if peer.startswith("orasi"):
            print(f"   orasi: {run['open_fds']} open fds, {run['threads']} "
                  f"threads, RSS {run['rss_kb'] / 1024:.1f} MiB (base "
                  f"{run['rss_base_kb'] / 1024:.1f} MiB)")
        else:
            print(f"   HAProxy: {run['threads']} threads, RSS "
                  f"{run['rss_kb'] / 1024:.1f} MiB (1 server: "
                  f"{run['rss_base_kb'] / 1024:.1f} MiB)")

rows = [load(name) for name in os.listdir(out)
        if name.startswith("detect_") and name.endswith(".json")
        and not name.endswith(".target.json")]
rows = sorted((r for r in rows if r is not None),
              key=lambda r: (r["fail_with"] != "503", r["interval_ms"],
                             -r["retries"]))
if rows:
    print()
    print("== detection latency (50 endpoints start failing; time until each "
          "leaves the routable view; bound = threshold x interval + timeout)")
    fmt = "{:<10} {:>6} {:>4} {:<10} {:>7} {:>8} {:>8} {:>8} {:>8} {:>7} " \
          "{:>7} {:>13}"
    print(fmt.format("interval", "fast", "thr", "fails with", "retries",
                     "min", "p50", "p99", "max", "bound", ">bound",
                     "schedule max"))
    for r in rows:
        print(fmt.format(
            f"{r['interval_ms'] / 1000:g} s", f"{r['fast_interval_ms'] / 1000:g} s",
            r["failure_threshold"], r["fail_with"], r["retries"],
            f"{r['latency_min_s']:.2f} s",
            f"{r['latency_p50_s']:.2f} s", f"{r['latency_p99_s']:.2f} s",
            f"{r['latency_max_s']:.2f} s", f"{r['bound_s']:.1f} s",
            f"{r['over_bound']}/{r['detect_endpoints']}",
            f"{r['schedule_max_s']:.2f} s"))
EOF
