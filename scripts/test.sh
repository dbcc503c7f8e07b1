#!/usr/bin/env bash
# The README's test command. On a fresh Debian 12 machine it installs what is
# missing, builds everything with AddressSanitizer + UndefinedBehaviorSanitizer,
# and runs the whole suite with ctest: unit, adapter, integration, end-to-end,
# deployment and bounded fuzzing. Any failure fails the command.
#
#   scripts/test.sh              everything
#   scripts/test.sh -L unit      pass extra arguments to ctest (e.g. one label)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test
if [ -x scripts/install-helm.sh ]; then
  scripts/install-helm.sh
fi

build=${D2EV_BUILD_DIR:-build-asan}
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DD2EV_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$jobs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}

ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 900 "$@"
