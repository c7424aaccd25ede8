#!/usr/bin/env bash
# Admin API throughput: wrk against a listing (GET TARGET) of the launcher
# holding N static services (probes off, every endpoint declared Healthy),
# and, in the same run, against nginx serving the same JSON as a static file
# (the peer: what serving those bytes costs without any logic).
#
#   SERVICES=1000  DURATION=10  CONNECTIONS=50  THREADS=2
#   TARGET=/v1/health/services   the path wrk asks for
#   CHURN_MS=0       >0: while wrk runs against a launcher, a client PUTs one
#                    service (a new weight, cycling through the ids) every
#                    CHURN_MS ms over the admin API, so that the listing's
#                    version moves (nginx's file does not change)
#   BASELINE_REF=    a git ref (e.g. fd44e14) built from `git archive` in
#                    build-bench-base-<commit>/ and run beside this tree's
#                    launcher in the same run (before/after)
#   ROUNDS=1         rounds of (this tree, baseline, nginx), interleaved
#   LAUNCHER=path    this tree's launcher already built (skips its build)
#   BUILD_TYPE=Release   of the launchers the script builds (to compare with
#                    a LAUNCHER from a RelWithDebInfo build, build the
#                    baseline the same way)
#
# Per launcher it also times one new version: a PUT changing one service,
# then GET /v1/services (the first reader of the new version builds the
# body), then the same GET again (served from the cache), SAMPLES_ONE times
# (default 20), without wrk or churn.
#
# Installs wrk and nginx-light if missing. Results on stdout.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
services=${SERVICES:-1000}
duration=${DURATION:-10}
connections=${CONNECTIONS:-50}
threads=${THREADS:-2}
target=${TARGET:-/v1/health/services}
churn_ms=${CHURN_MS:-0}
baseline_ref=${BASELINE_REF:-}
rounds=${ROUNDS:-1}
samples_one=${SAMPLES_ONE:-20}
build_type=${BUILD_TYPE:-Release}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q \
    --no-install-recommends "${need[@]}" >/dev/null
fi

# build_launcher SOURCE_DIR BUILD_DIR: a Release launcher; prints its path.
build_launcher() {
  cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE="$build_type" \
    -DORASI_BUILD_TESTS=OFF -DORASI_BUILD_BENCH=ON >/dev/null
  cmake --build "$2" -j2 --target orasi-discovery >/dev/null
  echo "$2/launcher/orasi-discovery"
}

launchers=() # "label path" pairs
launcher=${LAUNCHER:-}
[ -n "$launcher" ] || launcher=$(build_launcher "$root" "$root/build-bench")
head_commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
launchers+=("this:$head_commit $launcher")
if [ -n "$baseline_ref" ]; then
  base_commit=$(git -C "$root" rev-parse --short "$baseline_ref^{commit}")
  base_dir="$root/build-bench-base-$base_commit-$build_type"
  if [ ! -f "$base_dir/src/CMakeLists.txt" ]; then
    mkdir -p "$base_dir/src"
    git -C "$root" archive "$base_commit" | tar -x -C "$base_dir/src"
  fi
  launchers+=("base:$base_commit $(build_launcher "$base_dir/src" "$base_dir/build")")
fi

work=$(mktemp -d)
launcher_pid=""
nginx_pid=""
churn_pid=""
cleanup() {
  [ -n "$churn_pid" ] && kill "$churn_pid" 2>/dev/null || true
  [ -n "$launcher_pid" ] && kill "$launcher_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# N services, 2 endpoints each, declared Healthy.
python3 - "$services" > "$work/config.json" <<'PY'
import json, sys
n = int(sys.argv[1])
services = {
    f"svc-{i}": {
        "name": f"svc{i % 50}",
        "endpoints": [
            {"url": f"http://127.{i // 250}.{i % 250}.{k}:8080", "weight": 1,
             "health_status": "Healthy", "metadata": {"zone": "a"}}
            for k in (1, 2)],
        "metadata": {"team": "bench"},
    } for i in range(n)}
print(json.dumps({"service_discovery": {"backend": "static",
                                        "health_check": {"enabled": False},
                                        "services": services},
                  "admin": {"listen": "127.0.0.1:0"},
                  "logging": {"level": "warn"}}))
PY

# The client that changes one service every CHURN_MS ms (argv: port,
# period ms, services, mode) and, in mode "one", the one-version timing.
cat > "$work/client.py" <<'PY'
import http.client, json, signal, statistics, sys, time

port, period_ms, n, mode = (int(sys.argv[1]), float(sys.argv[2]),
                            int(sys.argv[3]), sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

def service(i, weight):
    return json.dumps({
        "name": f"svc{i % 50}",
        "endpoints": [
            {"url": f"http://127.{i // 250}.{i % 250}.{k}:8080",
             "weight": weight, "health_status": "Healthy",
             "metadata": {"zone": "a"}} for k in (1, 2)],
        "metadata": {"team": "bench"}})

def call(method, path, body=None):
    start = time.perf_counter()
    conn.request(method, path, body=body,
                 headers={"Content-Type": "application/json"} if body else {})
    response = conn.getresponse()
    data = response.read()
    return response.status, time.perf_counter() - start, len(data)

def ms(seconds):
    return f"{seconds * 1000:.2f} ms"

if mode == "churn":
    puts, failed = [], 0
    def stop(*_):
        if puts:
            puts.sort()
            print(f"   churn: {len(puts)} PUTs ({len(puts) / elapsed():.0f}/s),"
                  f" {failed} failed, PUT p50 {ms(puts[len(puts) // 2])},"
                  f" p99 {ms(puts[int(len(puts) * 0.99)])}", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    begin = time.monotonic()
    elapsed = lambda: max(time.monotonic() - begin, 1e-9)
    next_at, k = begin, 0
    while True:
        k += 1
        status, took, _ = call("PUT", f"/v1/services/svc-{k % n}",
                               service(k % n, 2 + k % 1000))
        puts.append(took)
        failed += status != 200
        next_at += period_ms / 1000
        time.sleep(max(0.0, next_at - time.monotonic()))
else:  # "one": first GET of a new version vs a cached GET
    first, cached = [], []
    for k in range(int(period_ms)):
        call("PUT", f"/v1/services/svc-{k % n}", service(k % n, 5000 + k))
        first.append(call("GET", "/v1/services")[1])
        cached.append(call("GET", "/v1/services")[1])
    f, c = statistics.median(first), statistics.median(cached)
    print(f"   one new version, GET /v1/services ({len(first)} samples):"
          f" first reader p50 {ms(f)} (max {ms(max(first))}),"
          f" cached p50 {ms(c)}, building the new body ~{ms(f - c)}")
PY

# start_launcher PATH: starts it on a free port; sets launcher_pid, admin_port.
start_launcher() {
  "$1" --config "$work/config.json" --log-level info > "$work/launcher.log" 2>&1 &
  launcher_pid=$!
  for _ in $(seq 300); do
    grep -q "admin API listening" "$work/launcher.log" && break
    sleep 0.1
  done
  admin_port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/launcher.log" | grep -o '[0-9]*$')
}

stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# CPU seconds (user + system) the process has used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

run_wrk() {
  wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$1" |
    grep -E "Requests/sec|Non-2xx|Socket errors|  50%|  90%|  99%|requests in"
}

# bench_launcher LABEL PATH
bench_launcher() {
  start_launcher "$2"
  echo "-- orasi $1 ($2)"
  if [ "$churn_ms" != 0 ]; then
    python3 "$work/client.py" "$admin_port" "$churn_ms" "$services" churn &
    churn_pid=$!
  fi
  local before after
  before=$(cpu_seconds "$launcher_pid")
  run_wrk "http://127.0.0.1:$admin_port$target"
  after=$(cpu_seconds "$launcher_pid")
  if [ -n "$churn_pid" ]; then
    stop_pid "$churn_pid"
    churn_pid=""
  fi
  awk -v a="$after" -v b="$before" -v d="$duration" \
    'BEGIN { printf "   launcher CPU during wrk: %.0f%% of one core\n", (a - b) * 100 / d }'
  echo "   version at the end: $(curl -s "http://127.0.0.1:$admin_port/readyz")"
  python3 "$work/client.py" "$admin_port" "$samples_one" "$services" one
  stop_pid "$launcher_pid"
  launcher_pid=""
}

# The static file nginx serves: the launcher's answer before any churn.
start_launcher "$launcher"
curl -s "http://127.0.0.1:$admin_port$target" > "$work/body.json"
bytes=$(wc -c < "$work/body.json")
stop_pid "$launcher_pid"
launcher_pid=""

nginx_port=$(free_port)
mkdir -p "$work/www$(dirname "$target")"
cp "$work/body.json" "$work/www$target"
cat > "$work/nginx.conf" <<CONF
daemon off;
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/tmp;
  proxy_temp_path $work/tmp;
  fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp;
  scgi_temp_path $work/tmp;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
    default_type application/json;
  }
}
CONF
mkdir -p "$work/tmp"
chmod -R a+rX "$work" # nginx's workers run as www-data
nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
sleep 0.5

echo "== $(date -u '+%F %T') UTC, nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   $services services, GET $target: $bytes bytes; wrk -t$threads -c$connections -d${duration}s --latency;" \
  "churn: $([ "$churn_ms" != 0 ] && echo "one PUT every $churn_ms ms" || echo none)"
for round in $(seq "$rounds"); do
  echo "== round $round, load $(cut -d' ' -f1-3 /proc/loadavg)"
  for entry in "${launchers[@]}"; do
    bench_launcher $entry
  done
  echo "-- nginx (static file)"
  run_wrk "http://127.0.0.1:$nginx_port$target"
done
