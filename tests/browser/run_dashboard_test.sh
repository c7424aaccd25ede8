#!/usr/bin/env bash
# Browser test of the admin API's dashboard (GET /), run by CTest:
#   run_dashboard_test.sh LAUNCHER WORK_DIR
# Installs what it needs if missing (Debian's chromium, nodejs, npm; the
# pinned playwright-core into WORK_DIR, never into the source tree), then
# starts, all on loopback:
#   - two health-check targets and a launcher probing them every 200 ms
#     (static backend): live states, recent checks and transitions;
#   - a launcher with a fleet of 10,000 static services (30,000 endpoints,
#     health checks off, declared states): scale, search and paging;
# and drives Chromium with dashboard.test.js, which prints its figures.
# Everything it started is stopped on exit.
#   FLEET_SERVICES=10000   services in the fleet
#   SCREENSHOT_DIR=DIR     also saves PNGs of both pages there
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
node "$here/fleet_config.js" "$tmp/fleet.json" "${FLEET_SERVICES:-10000}"

# Starts the launcher on CONFIG, logging to LOG; sets admin_url. With the
# loopback guard (backends/loopback_guard.hpp): the launcher refuses, and
# logs, any connection off loopback; a refusal fails the test below.
start_launcher() { # CONFIG LOG
  ORASI_LOOPBACK_ONLY=1 "$launcher" --config "$1" >"$2" 2>&1 &
  local pid=$!
  pids+=("$pid")
  admin_url=
  local i
  for i in $(seq 300); do
    admin_url=$(grep -o 'admin API listening on http://127\.0\.0\.1:[0-9]*' \
      "$2" | head -n1 | sed 's/^admin API listening on //') || true
    [ -n "$admin_url" ] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "the launcher exited:" >&2
      cat "$2" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "the launcher did not report its admin API:" >&2
  cat "$2" >&2
  return 1
}

start_launcher "$tmp/config.json" "$tmp/launcher.log"
probe_url=$admin_url
start_launcher "$tmp/fleet.json" "$tmp/fleet.log"
fleet_url=$admin_url
echo "launchers: probing at $probe_url (targets on $web_port, $db_port)," \
  "fleet at $fleet_url"

# --- the browser --------------------------------------------------------------
status=0
NODE_PATH="$work_dir/node_modules" ADMIN_URL="$probe_url" FLEET_URL="$fleet_url" \
  WEB_CONTROL_URL="http://127.0.0.1:$web_port" CHROMIUM="$chromium_path" \
  node "$here/dashboard.test.js" || status=$?
if grep -q 'loopback guard refused' "$tmp/launcher.log" "$tmp/fleet.log"; then
  echo "FAILED: a launcher tried to reach an address off loopback" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "--- launcher log (probing) ---" >&2
  cat "$tmp/launcher.log" >&2
  echo "--- launcher log (fleet) ---" >&2
  tail -n 50 "$tmp/fleet.log" >&2
fi
exit "$status"
