#!/usr/bin/env bash
# Browser test of the admin API's dashboard (GET /), run by CTest:
#   run_dashboard_test.sh LAUNCHER WORK_DIR
# Installs what it needs if missing (Debian's chromium, nodejs, npm; the
# pinned playwright-core into WORK_DIR, never into the source tree), starts
# two loopback health-check targets and the real launcher (static backend,
# probes every 200 ms, admin API on a free port), then drives Chromium with
# dashboard.test.js. Everything it started is stopped on exit.
set -euo pipefail

launcher=$1
work_dir=$2
here=$(cd "$(dirname "$0")" && pwd)

# --- packages -----------------------------------------------------------------
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
# Debian's npm; a Node.js from elsewhere (NodeSource) bundles its own.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
chromium_path=$(command -v chromium)

# --- playwright-core, from the lockfile, into the build tree -----------------
mkdir -p "$work_dir"
if ! cmp -s "$here/package-lock.json" "$work_dir/package-lock.json" ||
  [ ! -d "$work_dir/node_modules/playwright-core" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$work_dir/"
  (cd "$work_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- targets and launcher -----------------------------------------------------
tmp=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for_file() { # FILE WHAT
  local i
  for i in $(seq 100); do
    [ -s "$1" ] && return 0
    sleep 0.1
  done
  echo "timed out waiting for $2" >&2
  return 1
}

for target in web db; do
  node "$here/target_server.js" "$tmp/$target.port" &
  pids+=($!)
done
wait_for_file "$tmp/web.port" "the web target"
wait_for_file "$tmp/db.port" "the db target"
web_port=$(cat "$tmp/web.port")
db_port=$(cat "$tmp/db.port")

cat >"$tmp/config.json" <<JSON
{
  "service_discovery": {
    "backend": "static",
    "health_check": {
      "path": "/health", "interval": "200ms", "fast_interval": "200ms",
      "timeout": "500ms", "retries": 0,
      "success_threshold": 1, "failure_threshold": 2
    },
    "services": {
      "web-1": {"name": "web",
                "endpoints": [{"url": "http://127.0.0.1:$web_port"}]},
      "db-1": {"name": "db",
               "endpoints": [{"url": "http://127.0.0.1:$db_port"}]}
    }
  },
  "admin": {"listen": "127.0.0.1:0"}
}
JSON

# The loopback guard (backends/loopback_guard.hpp): the launcher refuses,
# and logs, any connection off loopback; a refusal fails the test below.
ORASI_LOOPBACK_ONLY=1 "$launcher" --config "$tmp/config.json" \
  >"$tmp/launcher.log" 2>&1 &
pids+=($!)
launcher_pid=$!
admin_url=
for i in $(seq 150); do
  admin_url=$(grep -o 'admin API listening on http://127\.0\.0\.1:[0-9]*' \
    "$tmp/launcher.log" | head -n1 | sed 's/^admin API listening on //') || true
  [ -n "$admin_url" ] && break
  if ! kill -0 "$launcher_pid" 2>/dev/null; then
    echo "the launcher exited:" >&2
    cat "$tmp/launcher.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$admin_url" ]; then
  echo "the launcher did not report its admin API:" >&2
  cat "$tmp/launcher.log" >&2
  exit 1
fi
echo "launcher: admin API at $admin_url; targets on $web_port, $db_port"

# --- the browser --------------------------------------------------------------
status=0
NODE_PATH="$work_dir/node_modules" ADMIN_URL="$admin_url" \
  WEB_CONTROL_URL="http://127.0.0.1:$web_port" CHROMIUM="$chromium_path" \
  node "$here/dashboard.test.js" || status=$?
if grep -q 'loopback guard refused' "$tmp/launcher.log"; then
  echo "FAILED: the launcher tried to reach an address off loopback" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "--- launcher log ---" >&2
  cat "$tmp/launcher.log" >&2
fi
exit "$status"
