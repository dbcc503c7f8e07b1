#!/usr/bin/env bash
# Release build of d2ev, installed into a staging directory. The container
# image's build stage runs exactly this; so can CI and anyone packaging d2ev.
#
#   deploy/build.sh [BUILD_DIR [STAGE_DIR]]
#
#   BUILD_DIR  CMake build tree      (default: build-release)
#   STAGE_DIR  install root          (default: BUILD_DIR/stage)
#
# Result: STAGE_DIR/usr/bin/d2ev-* and STAGE_DIR/usr/lib/d2ev/adapters/*.so.
#
# Environment:
#   D2EV_BUILD_TESTS=ON   also build the tests (off by default: the image does not
#                         need cmocka; CI that runs ctest on this tree sets it)
#   JOBS                  parallel jobs (default: nproc)
#   CMAKE_ARGS            extra arguments for the configure step
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build-release}
stage=${2:-$build/stage}
jobs=${JOBS:-$(nproc)}

# shellcheck disable=SC2086  # CMAKE_ARGS is a list of words on purpose
cmake -S "$src" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX=/usr \
    -DCMAKE_PROJECT_INCLUDE="$src/deploy/install.cmake" \
    -DD2EV_BUILD_TESTS="${D2EV_BUILD_TESTS:-OFF}" \
    -DD2EV_BUILD_BENCH=OFF \
    -DD2EV_SANITIZE=OFF \
    ${CMAKE_ARGS:-}
cmake --build "$build" --parallel "$jobs"

rm -rf "$stage"
mkdir -p "$stage"
stage=$(cd "$stage" && pwd) # DESTDIR must be absolute
DESTDIR="$stage" cmake --install "$build" --strip --component runtime

ls "$stage/usr/bin/"d2ev-* >/dev/null 2>&1 || {
    echo "build.sh: nothing was installed into $stage/usr/bin (are deploy/install.cmake's rules loaded?)" >&2
    exit 1
}
echo "build.sh: installed into $stage:"
(cd "$stage" && find . -type f | sort)
