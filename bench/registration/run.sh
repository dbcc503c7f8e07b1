#!/usr/bin/env bash
# One command: build the registration benchmark without sanitizers and run it.
#   bench/registration/run.sh [bench_registration options, e.g. --count 20000]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${D2EV_BENCH_BUILD_DIR:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DD2EV_SANITIZE=OFF >/dev/null
cmake --build "$build" -j2 --target bench_registration >/dev/null
exec "$build/bin/bench_registration" "$@"
