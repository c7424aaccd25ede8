#!/usr/bin/env bash
# Builds CAF's core library with ThreadSanitizer into DEST (default
# build-tsan/caf): the same release Debian 12 ships (0.17.6, from Debian's
# source archive, checksum pinned), configured as Debian's (log level QUIET,
# same build_config.hpp), so it is a drop-in for libcaf_core.so.0.17.6 via
# LD_LIBRARY_PATH. Debian's own library is not instrumented, and TSan cannot
# see the synchronisation inside it: every message between actors would be
# reported as a race.
set -euo pipefail
cd "$(dirname "$0")/.."

dest=${1:-build-tsan/caf}
library="$dest/lib/libcaf_core.so.0.17.6"

# The headers we compile against must be the ones it is built from (also
# when it was built before: Debian's package may have changed since).
check_headers() {
  cmp "$dest/build/libcaf_core/caf/detail/build_config.hpp" \
    /usr/include/caf/detail/build_config.hpp
  local differences
  differences=$(diff -rq "$dest/src/libcaf_core/caf" /usr/include/caf |
    grep -v "^Only in /usr/include/caf" || true)
  [ -z "$differences" ] ||
    { echo "CAF headers differ from Debian's:"; echo "$differences"; exit 1; }
}
if [ -f "$library" ]; then
  check_headers
  exit 0
fi

archive=actor-framework_0.17.6.orig.tar.gz
url=http://deb.debian.org/debian/pool/main/a/actor-framework/$archive
sha256=e2bf5bd243f08bb7d8adde197cfe3e6d71314ed3378fe0692f8932f4c3b3928c
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
library="$dest/lib/libcaf_core.so.0.17.6"
curl -fsSL -o "$dest/$archive" "$url"
echo "$sha256  $dest/$archive" | sha256sum -c --quiet
rm -rf "$dest/src" && mkdir -p "$dest/src"
tar xzf "$dest/$archive" -C "$dest/src" --strip-components=1
cmake -S "$dest/src" -B "$dest/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread" -DCAF_LOG_LEVEL=QUIET \
  -DCAF_NO_IO=yes -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes \
  -DCAF_NO_OPENSSL=yes -DCAF_NO_TOOLS=yes -DCAF_NO_PYTHON=yes \
  -DCAF_NO_OPENCL=yes -DCAF_NO_SUMMARY=yes >/dev/null
check_headers
cmake --build "$dest/build" -j2 --target libcaf_core_shared
mkdir -p "$dest/lib"
cp -P "$dest/build/lib/libcaf_core.so"* "$dest/lib/"
ls "$library" >/dev/null
