#!/usr/bin/env bash
# The soak/fault scenario (not part of every CI run; figures in
# bench/RESULTS.md). The real launcher on a real etcd follows 2,000 endpoints
# (200 services x 10) whose health flaps at random between passing, 503,
# hanging, resetting and answering garbage, while services are updated and
# removed every 2 s and etcd is killed and restarted every minute
# (alternately SIGTERM and SIGKILL, down for 3 s). Every 10 s the launcher's
# RSS and open descriptors are sampled. At the end the world is frozen and the
# registry must equal etcd's contents and the fleet's health.
#   SOAK_SECONDS=1800 bash scripts/soak.sh        # the recorded run (30 min)
#   SOAK_SECONDS=180 bash scripts/soak.sh         # a quick look
# Output: samples.csv and the logs in $SOAK_OUT (default build/soak).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${SOAK_SECONDS:-1800}
restart_every=${SOAK_RESTART_SECONDS:-60}
endpoints=${SOAK_ENDPOINTS:-2000}
warmup=${SOAK_WARMUP_SECONDS:-120}
out=${SOAK_OUT:-build/soak}

bash scripts/install-deps.sh --test
command -v ss >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q iproute2
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target orasi-discovery
launcher=$PWD/build/runtime/orasi-discovery

rm -rf "$out" && mkdir -p "$out"
out=$(cd "$out" && pwd)
data=$(mktemp -d /tmp/orasi-soak.XXXXXX)
# The fleet alone holds 2 sockets per endpoint.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

pids=()
cleanup() {
  [ -n "${restarter:-}" ] && kill "$restarter" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  pkill -f -- "--data-dir $data/etcd" || true
  wait 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT

# Ports below the ephemeral range: the launcher opens thousands of outgoing
# connections, and one of them may hold a port of the ephemeral range as its
# local port just when a restarted etcd wants to bind it.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
free_port() { # a loopback port nothing listens on, below the fleet's range
  local port
  while :; do
    port=$((10000 + RANDOM % 9000))
    ss -tanH "sport = :$port" | grep -q . || { echo "$port"; return; }
  done
}
[ "$ephemeral_low" -gt 22000 ] || {
  echo "the fleet (ports 20000-21999) overlaps the ephemeral range"; exit 1; }
taken=" "
pick_port() { # sets variable $1 to a free port not handed out before
  local port
  while :; do
    port=$(free_port)
    case "$taken" in *" $port "*) continue ;; esac
    taken+="$port "
    printf -v "$1" '%s' "$port"
    return
  done
}
pick_port etcd_port
pick_port peer_port
pick_port admin_port
pick_port control_port
fleet_port=${SOAK_FLEET_PORT:-20000}

start_etcd() {
  etcd --name soak --data-dir "$data/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "soak=http://127.0.0.1:$peer_port" \
    >>"$out/etcd.log" 2>&1 &
  etcd_pid=$!
}
start_etcd

SOAK_ETCD="http://127.0.0.1:$etcd_port" SOAK_ADMIN="http://127.0.0.1:$admin_port" \
  SOAK_FLEET_PORT=$fleet_port SOAK_ENDPOINTS=$endpoints \
  SOAK_CONTROL_PORT=$control_port \
  node scripts/soak/soak_driver.js >"$out/driver.log" 2>&1 &
pids+=($!)
driver_pid=$!
for attempt in $(seq 1 120); do
  grep -q "soak driver ready:" "$out/driver.log" && break
  kill -0 "$driver_pid" 2>/dev/null || { cat "$out/driver.log"; exit 1; }
  sleep 0.5
done
grep -q "soak driver ready:" "$out/driver.log" ||
  { echo "the soak driver did not start"; cat "$out/driver.log"; exit 1; }
cat "$out/driver.log"

cat >"$out/config.json" <<EOF
{
  "service_discovery": {
    "backend": "etcd",
    "endpoints": ["http://127.0.0.1:$etcd_port"],
    "prefix": "/soak",
    "refresh_interval": "30s",
    "health_check": { "path": "/health", "interval": "2s", "timeout": "1s",
                      "retries": 1, "success_threshold": 2,
                      "failure_threshold": 2, "fast_interval": "1s" }
  },
  "admin": { "listen": "127.0.0.1:$admin_port" },
  "logging": { "level": "warn" }
}
EOF
"$launcher" --config "$out/config.json" >"$out/launcher.log" 2>&1 &
launcher_pid=$!
pids+=("$launcher_pid")

# etcd killed and restarted every minute, alternately gently and not.
(
  signal=TERM
  while sleep "$restart_every"; do
    kill -"$signal" "$etcd_pid" 2>/dev/null || true
    while kill -0 "$etcd_pid" 2>/dev/null; do sleep 0.1; done
    sleep 3
    start_etcd
    echo "$(date +%s) etcd restarted after SIG$signal" >>"$out/restarts.log"
    [ "$signal" = TERM ] && signal=KILL || signal=TERM
  done
) 2>/dev/null & # (no "Killed" job notices)
restarter=$!

# seconds since start, RSS kB, open descriptors, threads, and what the
# registry holds (endpoints: each has a pooled connection, so fds follow them).
sample() {
  local t=$1 rss threads fds metrics endpoints stale
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$launcher_pid/status")
  threads=$(awk '/^Threads/ {print $2}' "/proc/$launcher_pid/status")
  fds=$(ls "/proc/$launcher_pid/fd" | wc -l)
  metrics=$(curl -s -m 5 "http://127.0.0.1:$admin_port/v1/metrics" || true)
  endpoints=$(echo "$metrics" | grep -o '"endpoints":[0-9]*' | cut -d: -f2 || true)
  stale=$(echo "$metrics" | grep -o '"stale":[a-z]*' | head -1 | cut -d: -f2 || true)
  echo "$t,$rss,$fds,$threads,${endpoints:-?},${stale:-?}" >>"$out/samples.csv"
}
echo "seconds,rss_kb,fds,threads,endpoints,stale" >"$out/samples.csv"
start=$(date +%s)
while :; do
  now=$(($(date +%s) - start))
  kill -0 "$launcher_pid" 2>/dev/null || { echo "launcher died"; exit 1; }
  sample "$now"
  [ "$now" -ge "$duration" ] && break
  sleep 10
done

# The end: etcd up (the restarter stopped and the last etcd running), the
# world frozen, and the registry given time to converge.
kill "$restarter" 2>/dev/null || true
wait "$restarter" 2>/dev/null || true
restarter=
etcd_answers() {
  curl -sf -m 2 -X POST "http://127.0.0.1:$etcd_port/v3/maintenance/status" \
    -d '{}' >/dev/null
}
if ! etcd_answers; then # stopped mid-restart
  pkill -f -- "--data-dir $data/etcd" || true
  sleep 1
  start_etcd
fi
for attempt in $(seq 1 30); do etcd_answers && break; sleep 1; done
etcd_answers || { echo "etcd does not come back; see $out/etcd.log"; exit 1; }
curl -sf -X POST "http://127.0.0.1:$control_port/freeze" >/dev/null
result=
for attempt in $(seq 1 60); do
  sleep 2
  result=$(curl -s "http://127.0.0.1:$control_port/check" || true)
  echo "$result" | grep -q '"equal":true' && break
done
echo "final check after $((attempt * 2)) s: $result" | tee "$out/check.txt"
curl -s "http://127.0.0.1:$control_port/stats"
curl -s "http://127.0.0.1:$admin_port/v1/metrics"; echo
echo "etcd restarts: $(cat "$out/restarts.log" 2>/dev/null | wc -l)"

# Flat after warm-up: the first sample past the warm-up against the last.
awk -F, -v warmup="$warmup" '
  NR == 2 { first_rss = $2; first_fds = $3 }
  NR > 1 && $1 >= warmup && !warm_rss { warm_rss = $2; warm_fds = $3; warm_t = $1 }
  NR > 1 { if ($2 > max_rss) max_rss = $2; if ($3 > max_fds) max_fds = $3;
           last_rss = $2; last_fds = $3; last_t = $1; threads = $4 }
  END {
    printf "start: RSS %d kB, fds %d\n", first_rss, first_fds
    printf "after warm-up (%d s): RSS %d kB, fds %d\n", warm_t, warm_rss, warm_fds
    printf "end (%d s): RSS %d kB, fds %d, threads %d\n", last_t, last_rss, last_fds, threads
    printf "max: RSS %d kB, fds %d; RSS growth after warm-up %+.1f%%\n",
           max_rss, max_fds, warm_rss ? 100 * (last_rss - warm_rss) / warm_rss : 0
  }' "$out/samples.csv" | tee "$out/summary.txt"
echo "$result" | grep -q '"equal":true'
