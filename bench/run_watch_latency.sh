#!/usr/bin/env bash
# Admin API watch wake-up: how soon a waiting GET /v1/watch answers after a
# write changes the registry. The launcher holds no services (static
# backend, probes off). Each of SAMPLES rounds reads the current version
# from /readyz, starts a watch on it (wait 10 s), gives it 200 ms to be
# waiting, then PUTs a new service and notes two times: the PUT's round
# trip, and the watch's answer after the PUT was sent. (The test
# tests/integration/admin_api_test.cpp only checks that the watch is woken
# by the change well before its wait; the figures live here.)
#
#   SAMPLES=50
#   LAUNCHER=path  (a launcher already built: skips the Release build)
#
# Results on stdout.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
samples=${SAMPLES:-50}
build="$root/build-bench"

launcher=${LAUNCHER:-}
if [ -z "$launcher" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DORASI_BUILD_TESTS=OFF -DORASI_BUILD_BENCH=ON >/dev/null
  cmake --build "$build" -j2 --target orasi-discovery >/dev/null
  launcher=$(find "$build" -name orasi-discovery -type f -perm -u+x | head -n 1)
fi

work=$(mktemp -d)
launcher_pid=""
cleanup() {
  [ -n "$launcher_pid" ] && kill "$launcher_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/config.json" <<'JSON'
{"service_discovery": {"backend": "static", "health_check": {"enabled": false}},
 "admin": {"listen": "127.0.0.1:0"}, "logging": {"level": "warn"}}
JSON
"$launcher" --config "$work/config.json" --log-level info \
  > "$work/launcher.log" 2>&1 &
launcher_pid=$!
for _ in $(seq 100); do
  grep -q "admin API listening" "$work/launcher.log" && break
  sleep 0.1
done
admin_port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/launcher.log" | grep -o '[0-9]*$')

echo "launcher: $launcher"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$admin_port" "$samples" <<'PY'
import http.client, json, statistics, sys, threading, time

port, samples = int(sys.argv[1]), int(sys.argv[2])

def request(method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"} if body else {}
    conn.request(method, path, body, headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data

put_ms, wake_ms = [], []
for i in range(samples):
    response, _ = request("GET", "/readyz")
    version = int(response.getheader("X-Orasi-Index"))
    woke = {}
    def watch():
        _, data = request("GET", f"/v1/watch?index={version}&wait=10s")
        woke["at"] = time.monotonic()
        woke["version"] = json.loads(data)["version"]
    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(0.2)
    body = json.dumps({"name": "web", "endpoints": [
        {"url": f"http://127.7.{i // 250}.{i % 250 + 1}:80"}]})
    sent = time.monotonic()
    request("PUT", f"/v1/services/web-{i}", body)
    answered = time.monotonic()
    watcher.join()
    assert woke["version"] > version, "the watch did not see the change"
    put_ms.append((answered - sent) * 1000)
    wake_ms.append((woke["at"] - sent) * 1000)

def row(name, values):
    values = sorted(values)
    p90 = values[int(len(values) * 0.9) - 1]
    print(f"| {name} | {len(values)} | {values[0]:.2f} | "
          f"{statistics.median(values):.2f} | {p90:.2f} | {values[-1]:.2f} |")

print("| time after the PUT was sent (ms) | samples | min | p50 | p90 | max |")
print("|---|--:|--:|--:|--:|--:|")
row("PUT answered", put_ms)
row("watch answered", wake_ms)
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
