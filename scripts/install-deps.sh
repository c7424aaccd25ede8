#!/usr/bin/env bash
# Installs the Debian 12 packages orasi-discovery needs to build (and, with
# --test, to run its tests), skipping those already present. Runs as root
# (or through sudo).
set -euo pipefail

packages=(
  g++ cmake make pkg-config          # toolchain
  libcaf-dev                         # C++ Actor Framework 0.17
  libcpp-httplib-dev libssl-dev      # admin HTTP API
  libboost1.81-dev libboost-json1.81-dev
  libspdlog-dev                      # logging
  catch2                             # tests (run through CTest)
  curl                               # quick checks of the admin API
)
if [ "${1:-}" = "--test" ]; then
  # The integration tests start real etcd members on loopback themselves
  # (temp data dirs, stopped afterwards); the package's own service, if the
  # machine runs systemd, is not used.
  packages+=(etcd-server etcd-client openssl) # openssl: test certificates
  # The dashboard's browser test (tests/browser): headless Chromium driven
  # by playwright-core from the npm registry.
  packages+=(chromium nodejs npm)
  # Fuzzing (scripts/fuzz.sh): libFuzzer comes with clang.
  packages+=(clang libclang-rt-14-dev)
fi

# A Node.js from elsewhere (e.g. NodeSource's, which bundles npm and
# conflicts with Debian's npm package) counts as installed.
present() {
  case "$1" in
  nodejs) command -v node >/dev/null 2>&1 && return 0 ;;
  npm) command -v npm >/dev/null 2>&1 && return 0 ;;
  esac
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}

missing=()
for package in "${packages[@]}"; do
  present "$package" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
