#!/usr/bin/env bash
# Probe capacity of the health checking, against HAProxy in the same run.
# Builds probe_capacity_bench and probe_target in Release (own build dir:
# build-bench/), installs Debian's haproxy if missing, then for each N:
#   orasi, keep-alive on     probe_capacity_bench against a fresh probe_target
#   orasi, keep-alive off    (a new connection per check, as HAProxy does:
#                             the like-for-like comparison)
#   HAProxy                  N servers in backends of 10, `check inter 1000
#                            rise 2 fall 3`, spread-checks 10, against a
#                            fresh probe_target
# and measures each over the same window: CPU per check, RSS per endpoint,
# voluntary and involuntary context switches per check (summed over the
# threads, /proc/PID/task/*/status), the kernel's TCP sockets
# (/proc/net/sockstat before the checker starts and at the window's end),
# and the check-interval deviation seen by the target. Then the detection
# latency (probe_capacity_bench --detect).
#
#   LAYOUT=distinct every endpoint at its own loopback address,
#                   http://127.1.x.y:PORT/health (bench/loopback_addresses.hpp;
#                   probe_target listens on each); LAYOUT=single: all at
#                   http://127.0.0.1:PORT/eI, the earlier layout
#   WINDOW=20       measured seconds per run
#   SIZES="5000 10000"
#   DETECT=1        0 skips the detection-latency runs (503 at interval 1 s
#                   and 10 s, fast interval 1 s; a blackhole at 1 s with 3
#                   and with 0 retries; issue 15's row: 20 endpoints that
#                   never answer, timeout 500 ms, 3 retries)
#   FAIRNESS=1      adds, per N, an orasi keep-alive run in which half the
#                   endpoints never answer (--blackholed): the target's
#                   deviation then shows whether hanging checks delay
#                   healthy ones. Distinct layout: N/2 answering + N/2
#                   hanging (127.2.x.y), N in all, as a connection per
#                   endpoint has to fit the open-file limit; single: N + N
#                   more on an in-process server, as before. 0 skips it
#   QUIET_POLL=1    adds an orasi no-keep-alive run on a host actor system
#                   whose idle CAF workers sleep at once (--caf-quiet-poll),
#                   an experiment; 0 skips it
#   IDLE=1          first measures the fixed cost: orasi (keep-alive on and
#                   off, and quiet poll) and HAProxy with 10 endpoints,
#                   IDLE_WINDOW=10 s
#   HAPROXY_WARMUP=5  seconds between HAProxy's start and its window
#
# Every address is in 127.0.0.0/8; nothing binds 0.0.0.0.
# Results: build-bench/probe_capacity/ (one JSON file per run, logs, the
# HAProxy configs) and tables on stdout.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-bench"
bin="$build/bench"
out="$build/probe_capacity"
window="${WINDOW:-20}"
sizes="${SIZES:-5000 10000}"
layout="${LAYOUT:-distinct}"
[[ "$layout" == distinct || "$layout" == single ]] ||
  { echo "LAYOUT must be distinct or single" >&2; exit 2; }
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
echo "   layout $layout, window ${window} s, open-file limit $(ulimit -Hn)" \
  "(hard)"
echo "   tree: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')" \
  "+ uncommitted:" \
  "$(git -C "$root" status --short 2>/dev/null | awk '{print $2}' | tr '\n' ' ')"

# -- the target ---------------------------------------------------------------

# start_target NAME [N [M]]: a probe_target (in the distinct layout on N
# answering and M hanging addresses); sets target_pid, target_port,
# target_out.
start_target() {
  local addresses=()
  if [[ "$layout" == distinct ]]; then
    addresses=(--addresses "${2:-1}" --hanging-addresses "${3:-0}")
  fi
  target_out="$out/$1.target"
  # Empty before the start: the shell truncates it in the child, and the
  # loop below must not read an older target's port meanwhile.
  : >"$target_out"
  "$bin/probe_target" --interval-ms "$interval_ms" "${addresses[@]}" \
    >"$target_out" 2>&1 &
  target_pid=$!
  pids+=("$target_pid")
  local i line
  for ((i = 0; i < 300; ++i)); do
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

layout_args=()
if [[ "$layout" == distinct ]]; then
  layout_args=(--distinct-addresses)
fi

# run_orasi NAME N KEEP_ALIVE HANGING [extra bench args...]: N answering
# endpoints and HANGING ones that never answer.
run_orasi() {
  local name=$1 n=$2 ka=$3 hanging=$4
  shift 4
  local extra=("$@")
  if ((hanging > 0)); then
    extra+=(--blackholed "$hanging")
  fi
  echo
  echo "-- $name: orasi, $n endpoints, keep-alive $ka, $layout layout" \
    "${extra[*]}"
  start_target "$name" "$n" "$hanging"
  run_waited "$bin/probe_capacity_bench" --port "$target_port" \
    --endpoints "$n" --keep-alive "$ka" --window-s "$window" \
    --target-pid "$target_pid" --label "$name" "${layout_args[@]}" \
    "${extra[@]}" \
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

# CPU nanoseconds of process $1: the sum of its threads' schedstat (run
# time in ns; clock ticks of 10 ms are too coarse for HAProxy's few ms per
# second at 10 servers), or utime + stime without schedstat.
proc_cpu_ns() {
  local ns
  ns=$(cat "/proc/$1"/task/*/schedstat 2>/dev/null |
    awk '{ns += $1} END {if (NR) printf "%.0f", ns}')
  if [[ -z "$ns" ]]; then
    ns=$(($(proc_cpu_ticks "$1") * 1000000000 / $(getconf CLK_TCK)))
  fi
  echo "$ns"
}

proc_field_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

# "VOLUNTARY INVOLUNTARY": context switches of process $1, summed over its
# threads.
proc_switches() {
  cat "/proc/$1"/task/*/status 2>/dev/null | awk '
    $1 == "voluntary_ctxt_switches:" {v += $2}
    $1 == "nonvoluntary_ctxt_switches:" {n += $2}
    END {print v + 0, n + 0}'
}

# The TCP line of /proc/net/sockstat as a JSON object.
sockstat_json() {
  awk '$1 == "TCP:" {
    printf "{"
    for (i = 2; i < NF; i += 2)
      printf "%s\"%s\":%s", (i > 2 ? "," : ""), ($i == "mem" ? "mem_pages" : $i), $(i + 1)
    printf "}"
  }' /proc/net/sockstat
}


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
  if [[ "$layout" == distinct ]]; then
    # As orasi's services: backends of 10 servers, server I at
    # 127.1.(I / 254).(1 + I % 254) as in bench/loopback_addresses.hpp.
    for ((i = 0; i < n; ++i)); do
      if ((i % 10 == 0)); then
        printf '\nbackend b%d\n  option httpchk GET /health\n' $((i / 10))
      fi
      printf '  server s%d 127.1.%d.%d:%d check inter 1000 rise 2 fall 3\n' \
        $((i % 10)) $((i / 254)) $((1 + i % 254)) "$port"
    done
  else
    # One host:port: a backend per endpoint, told apart by the path.
    for ((i = 0; i < n; ++i)); do
      printf '\nbackend b%d\n  option httpchk GET /e%d/health\n' "$i" "$i"
      printf '  server s 127.0.0.1:%d check inter 1000 rise 2 fall 3\n' \
        "$port"
    done
  fi
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
  start_target haproxy_base 1
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
  echo "-- $name: HAProxy, $n servers, check inter 1000 rise 2 fall 3," \
    "$layout layout"
  start_target "$name" "$n"
  haproxy_config "$n" "$target_port" >"$out/$name.cfg"
  local sockstat_before
  sockstat_before=$(sockstat_json)
  local t0=$SECONDS
  start_haproxy "$out/$name.cfg"
  run_waited sleep "$haproxy_warmup"
  if ! kill -0 "$haproxy_pid" 2>/dev/null; then
    echo "haproxy exited:" >&2
    cat "$out/$name.log" >&2
    exit 1
  fi
  local cpu0 cpu1 start end rss threads vol0 invol0 vol1 invol1
  local sockstat_after fds
  kill -USR1 "$target_pid"
  cpu0=$(proc_cpu_ns "$haproxy_pid")
  read -r vol0 invol0 < <(proc_switches "$haproxy_pid")
  start=$(date +%s.%N)
  run_waited sleep "$window"
  kill -USR2 "$target_pid"
  cpu1=$(proc_cpu_ns "$haproxy_pid")
  read -r vol1 invol1 < <(proc_switches "$haproxy_pid")
  end=$(date +%s.%N)
  sockstat_after=$(sockstat_json)
  rss=$(proc_field_kb "$haproxy_pid" VmRSS)
  threads=$(proc_field_kb "$haproxy_pid" Threads)
  fds=$(find "/proc/$haproxy_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
  stop "$haproxy_pid"
  stop_target "$name"
  awk -v name="$name" -v n="$n" -v start="$start" -v end="$end" \
    -v cpu_ns=$((cpu1 - cpu0)) -v rss="$rss" -v base="$base_kb" \
    -v threads="$threads" -v up=$((SECONDS - t0)) -v fds="$fds" \
    -v vol=$((vol1 - vol0)) -v invol=$((invol1 - invol0)) \
    -v before="$sockstat_before" -v after="$sockstat_after" \
    -v page="$(getconf PAGESIZE)" 'BEGIN {
      printf "{\"label\":\"%s\",\"endpoints\":%d,\"window_s\":%.3f,", name,
             n, end - start
      printf "\"cpu_s\":%.4f,\"rss_kb\":%d,\"rss_base_kb\":%d,", cpu_ns / 1e9,
             rss, base
      printf "\"threads\":%d,\"open_fds\":%d,\"run_s\":%d,", threads, fds, up
      printf "\"voluntary_switches\":%d,\"involuntary_switches\":%d,", vol,
             invol
      printf "\"sockstat_before\":%s,\"sockstat_after\":%s,", before, after
      printf "\"page_size\":%d}\n", page
    }' >"$out/$name.json"
  sed 's/^/   /' "$out/$name.log" | head -5
}

measure_haproxy_base
echo "HAProxy with 1 server: RSS $base_kb kB"

# The fixed cost: 10 endpoints (10 checks/s), a shorter window.
if [[ "${IDLE:-1}" == 1 ]]; then
  full_window=$window
  window="${IDLE_WINDOW:-10}"
  run_orasi orasi_ka_10 10 on 0
  run_orasi orasi_noka_10 10 off 0
  if [[ "${QUIET_POLL:-1}" == 1 ]]; then
    run_orasi orasi_noka_quiet_10 10 off 0 --caf-quiet-poll
  fi
  run_haproxy haproxy_10 10 "$base_kb"
  window=$full_window
fi

for n in $sizes; do
  run_orasi "orasi_ka_$n" "$n" on 0
  run_orasi "orasi_noka_$n" "$n" off 0
  if [[ "${QUIET_POLL:-1}" == 1 ]]; then
    run_orasi "orasi_noka_quiet_$n" "$n" off 0 --caf-quiet-poll
  fi
  if [[ "${FAIRNESS:-1}" == 1 ]]; then
    if [[ "$layout" == distinct ]]; then
      run_orasi "orasi_ka_hang_$n" $((n - n / 2)) on $((n / 2))
    else
      run_orasi "orasi_ka_hang_$n" "$n" on "$n"
    fi
  fi
  run_haproxy "haproxy_$n" "$n" "$base_kb"
done

# Detection: interval, fast interval, how the endpoints fail, retries,
# timeout, failing endpoints (M), other healthy endpoints (N). The last row
# is issue 15's: its goal is a maximum under (3 x 1 s + 0.5 s) x 1.1.
detect_runs=(
  "1000 1000 503 3 2000 50 1000"
  "10000 1000 503 3 2000 50 1000"
  "1000 1000 blackhole 3 2000 50 1000"
  "1000 1000 blackhole 0 2000 50 1000"
  "1000 1000 blackhole 3 500 20 100"
)
if [[ "${DETECT:-1}" == 1 ]]; then
  for cfg in "${detect_runs[@]}"; do
    read -r iv fast fail retries timeout m others <<<"$cfg"
    name="detect_${iv}ms_${fail}_r${retries}_t${timeout}_m${m}"
    echo
    echo "-- $name: orasi --detect, $others + $m endpoints, interval $iv ms," \
      "fast $fast ms, failure_threshold 3, timeout $timeout ms," \
      "retries $retries, failing with $fail"
    start_target "$name" "$others"
    run_waited "$bin/probe_capacity_bench" --port "$target_port" \
      --endpoints "$others" --detect --detect-endpoints "$m" \
      --interval-ms "$iv" --fast-interval-ms "$fast" --failure-threshold 3 \
      --timeout-ms "$timeout" --retries "$retries" --fail-with "$fail" \
      --label "$name" "${layout_args[@]}" \
      >"$out/$name.json" 2>"$out/$name.log" ||
      echo "   FAILED (left out of the table):"
    sed 's/^/   /' "$out/$name.log"
    stop_target "$name"
  done
fi

# -- the tables ---------------------------------------------------------------

python3 - "$out" "$sizes" "$layout" <<'EOF'
import json, os, sys

out, sizes, layout = sys.argv[1], sys.argv[2].split(), sys.argv[3]

def load(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        lines = [l for l in f if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None

LABELS = {"orasi_ka": "orasi keep-alive",
          "orasi_noka": "orasi no keep-alive",
          "orasi_noka_quiet": "orasi no KA, quiet poll",
          "orasi_ka_hang": "orasi KA, half hanging",
          "haproxy": "HAProxy"}

def figures(peer, n):
    """The figures of one run, or None if it is missing."""
    name = f"{peer}_{n}"
    run, target = load(name + ".json"), load(name + ".target.json")
    if run is None or target is None:
        return None
    checks = target["requests"]
    cpu = run["cpu_s"]
    if peer == "haproxy":
        rss_per = 1024 * (run["rss_kb"] - run["rss_base_kb"]) / run["endpoints"]
    else:
        # Over every endpoint, the hanging ones too.
        rss_per = 1024 * (run["rss_kb"] - run["rss_base_kb"]) / \
            (run["endpoints"] + run["blackholed"])
    before, after = run["sockstat_before"], run["sockstat_after"]
    nan = float("nan")
    return {
        "run": run, "target": target, "checks": checks,
        "checks_per_s": checks / target["window_s"],
        "cpu_us_per_check": 1e6 * cpu / checks if checks else nan,
        "cpu_percent": 100 * cpu / run["window_s"],
        "cpu_ms_per_s": 1e3 * cpu / run["window_s"],
        "rss_per_endpoint": rss_per,
        "vcsw": run["voluntary_switches"] / checks if checks else nan,
        "ivcsw": run["involuntary_switches"] / checks if checks else nan,
        "sock": {k: after[k] - before[k] for k in before},
        "page": run["page_size"],
        "conns_per_s": target["connections_accepted"] / target["window_s"],
    }

print()
print(f"== probe capacity ({layout} layout; interval 1 s, jitter 10%; CPU, "
      "RSS and context switches (all threads) of the checking process; "
      "+inuse/+tw/+sockmem: /proc/net/sockstat TCP at the window's end "
      "minus before the checker started)")
head = ("peer", "N", "checks/s", "CPU us/chk", "CPU %core", "RSS/endpt",
        "vcsw/chk", "ivcsw/chk", "dev p50", "dev p99", ">±10%",
        "conns/s", "+inuse", "+tw", "+sockmem", "all Healthy")
fmt = ("{:<24} {:>11} {:>8} {:>10} {:>9} {:>10} {:>8} {:>9} {:>7} {:>7} "
       "{:>6} {:>7} {:>7} {:>6} {:>9} {:>11}")
print(fmt.format(*head))
results = {}
for n in ["10"] + sizes:
    for peer in LABELS:
        f = figures(peer, n)
        if f is None:
            continue
        results[(peer, n)] = f
        run, target = f["run"], f["target"]
        shown_n = n
        if peer == "orasi_ka_hang":
            # Checks (and CPU per check) count the answering endpoints'
            # requests only: the target never sees a hanging one's.
            shown_n = f"{run['endpoints']}+{run['blackholed']}"
        healthy = "starts UP" if peer == "haproxy" else \
            f'{run["time_to_healthy_s"]:.2f} s'
        sock = f["sock"]
        print(fmt.format(
            LABELS[peer], shown_n, f"{f['checks_per_s']:.0f}",
            f"{f['cpu_us_per_check']:.1f}", f"{f['cpu_percent']:.1f}",
            f"{f['rss_per_endpoint'] / 1024:.1f} KiB",
            f"{f['vcsw']:.2f}", f"{f['ivcsw']:.2f}",
            f"{100 * target['dev_p50']:.1f}%",
            f"{100 * target['dev_p99']:.1f}%",
            f"{100 * target['outside_10pct']:.2f}%",
            f"{f['conns_per_s']:.0f}", sock["inuse"], sock["tw"],
            f"{sock['mem_pages'] * f['page'] / 1024:.0f} KiB", healthy))
        if peer.startswith("orasi"):
            if peer != "orasi_ka_hang" and \
                    abs(run["attempts"] - f["checks"]) > 0.005 * f["checks"]:
                print(f"   note: orasi counted {run['attempts']} attempts, "
                      f"the target {f['checks']} requests")
            if peer != "orasi_ka_hang" and run["failed_attempts"]:
                print(f"   note: {run['failed_attempts']} failed attempts")
            print(f"   orasi: {run['open_fds']} open fds, {run['threads']} "
                  f"threads, RSS {run['rss_kb'] / 1024:.1f} MiB (base "
                  f"{run['rss_base_kb'] / 1024:.1f} MiB); switches in the "
                  f"window, /proc tasks {run['voluntary_switches']} + "
                  f"{run['involuntary_switches']}, getrusage "
                  f"{run['rusage_voluntary_switches']} + "
                  f"{run['rusage_involuntary_switches']}")
        else:
            print(f"   HAProxy: {run['threads']} threads, {run['open_fds']} "
                  f"open fds, RSS {run['rss_kb'] / 1024:.1f} MiB (1 server: "
                  f"{run['rss_base_kb'] / 1024:.1f} MiB)")
        if target.get("accept_errors"):
            print(f"   note: the target failed {target['accept_errors']} "
                  "accepts")
        print(f"   sockstat TCP before {json.dumps(run['sockstat_before'])}")
        print(f"                after  {json.dumps(run['sockstat_after'])}")

def ratio(a, b):
    return f"{a / b:.2f}" if b else "-"

summary = []
for n in sizes:
    h = results.get(("haproxy", n))
    if h is None:
        continue
    for peer in ("orasi_ka", "orasi_noka", "orasi_noka_quiet"):
        o = results.get((peer, n))
        if o is not None:
            summary.append((LABELS[peer], n, o, h))
if summary:
    print()
    print("== orasi / HAProxy in the same run (goals: CPU per check <= 0.5x, "
          "RSS per endpoint <= 0.5x; voluntary switches per check <= 0.2)")
    fmt = ("{:<24} {:>6} {:>10} {:>8} {:>6} {:>10} {:>10} {:>6} {:>8} "
           "{:>8} {:>9} {:>8} {:>8}")
    print(fmt.format("orasi run", "N", "CPU us/chk", "HAProxy", "ratio",
                     "RSS/endpt", "HAProxy", "ratio", "vcsw/chk", "HAProxy",
                     "ivcsw/chk", "dev p99", "HAProxy"))
    for label, n, o, h in summary:
        print(fmt.format(
            label, n, f"{o['cpu_us_per_check']:.1f}",
            f"{h['cpu_us_per_check']:.1f}",
            ratio(o["cpu_us_per_check"], h["cpu_us_per_check"]),
            f"{o['rss_per_endpoint'] / 1024:.1f} KiB",
            f"{h['rss_per_endpoint'] / 1024:.1f} KiB",
            ratio(o["rss_per_endpoint"], h["rss_per_endpoint"]),
            f"{o['vcsw']:.2f}", f"{h['vcsw']:.2f}", f"{o['ivcsw']:.2f}",
            f"{100 * o['target']['dev_p99']:.1f}%",
            f"{100 * h['target']['dev_p99']:.1f}%"))

h = results.get(("haproxy", "10"))
if h is not None:
    print()
    print("== fixed cost, 10 endpoints (goal: <= 2x HAProxy)")
    fmt = "{:<24} {:>10} {:>7} {:>10} {:>7}"
    print(fmt.format("peer", "CPU ms/s", "ratio", "RSS", "ratio"))
    for peer in ("orasi_ka", "orasi_noka", "orasi_noka_quiet", "haproxy"):
        o = results.get((peer, "10"))
        if o is None:
            continue
        print(fmt.format(
            LABELS[peer], f"{o['cpu_ms_per_s']:.2f}",
            ratio(o["cpu_ms_per_s"], h["cpu_ms_per_s"]),
            f"{o['run']['rss_kb'] / 1024:.1f} MiB",
            ratio(o["run"]["rss_kb"], h["run"]["rss_kb"])))

rows = [load(name) for name in os.listdir(out)
        if name.startswith("detect_") and name.endswith(".json")
        and not name.endswith(".target.json")]
rows = sorted((r for r in rows if r is not None),
              key=lambda r: (r["fail_with"] != "503", r["interval_ms"],
                             -r["timeout_ms"], -r["retries"]))
if rows:
    print()
    print("== detection latency (M endpoints start failing beside N healthy "
          "ones; time until each leaves the routable view; bound = threshold "
          "x interval + timeout)")
    fmt = "{:<9} {:>5} {:>3} {:>8} {:<10} {:>7} {:>8} {:>7} {:>7} {:>7} " \
          "{:>7} {:>6} {:>6} {:>12}"
    print(fmt.format("interval", "fast", "thr", "timeout", "fails with",
                     "retries", "N + M", "min", "p50", "p99", "max", "bound",
                     ">bound", "schedule max"))
    for r in rows:
        print(fmt.format(
            f"{r['interval_ms'] / 1000:g} s",
            f"{r['fast_interval_ms'] / 1000:g} s", r["failure_threshold"],
            f"{r['timeout_ms']} ms", r["fail_with"], r["retries"],
            f"{r['endpoints']}+{r['detect_endpoints']}",
            f"{r['latency_min_s']:.2f} s",
            f"{r['latency_p50_s']:.2f} s", f"{r['latency_p99_s']:.2f} s",
            f"{r['latency_max_s']:.2f} s", f"{r['bound_s']:.1f} s",
            f"{r['over_bound']}/{r['detect_endpoints']}",
            f"{r['schedule_max_s']:.2f} s"))
EOF
