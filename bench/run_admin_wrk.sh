#!/usr/bin/env bash
# Admin API throughput: wrk against GET /v1/health/services of the launcher
# holding N static services (probes off, every endpoint declared Healthy),
# and, in the same run, against nginx serving the same JSON as a static file
# (the peer: what serving those bytes costs without any logic).
#
#   SERVICES=1000  DURATION=10  CONNECTIONS=50  THREADS=2
#
# Installs wrk and nginx-light if missing. Results on stdout.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
services=${SERVICES:-1000}
duration=${DURATION:-10}
connections=${CONNECTIONS:-50}
threads=${THREADS:-2}
build="$root/build-bench"

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q \
    --no-install-recommends "${need[@]}" >/dev/null
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DORASI_BUILD_TESTS=OFF -DORASI_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j2 --target orasi-discovery >/dev/null

work=$(mktemp -d)
launcher_pid=""
nginx_pid=""
cleanup() {
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

"$build/runtime/orasi-discovery" --config "$work/config.json" \
  --log-level info > "$work/launcher.log" 2>&1 &
launcher_pid=$!
for _ in $(seq 100); do
  grep -q "admin API listening" "$work/launcher.log" && break
  sleep 0.1
done
admin_port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/launcher.log" | grep -o '[0-9]*$')
curl -s "http://127.0.0.1:$admin_port/v1/health/services" > "$work/healthy.json"
bytes=$(wc -c < "$work/healthy.json")

nginx_port=$(free_port)
mkdir -p "$work/www/v1/health"
cp "$work/healthy.json" "$work/www/v1/health/services"
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
echo "   $services services, response $bytes bytes; wrk -t$threads -c$connections -d${duration}s --latency"
for target in "orasi http://127.0.0.1:$admin_port/v1/health/services" \
              "nginx http://127.0.0.1:$nginx_port/v1/health/services"; do
  set -- $target
  echo "-- $1"
  wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$2" |
    grep -E "Requests/sec|Transfer/sec|Non-2xx|Socket errors|  50%|  90%|  99%|requests in"
done
