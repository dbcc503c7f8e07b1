#!/usr/bin/env bash
# The README's run command. On a fresh Debian 12 machine it installs what is
# missing, builds d2ev, and runs the whole platform on this machine with
# d2ev-demo: the embedded Kafka broker (d2ev-devbroker), the OEM simulator with
# a mixed fleet, every service and a forecast source, on a scaled clock so a
# night passes in a few minutes. It shows the night live, then prints a
# summary: targets met, energy shifted, cost and carbon against the
# charge-at-plug-in baseline. Ctrl-C stops everything.
#
#   scripts/run-local.sh                         50 cars, a night in about 3.5 minutes
#   scripts/run-local.sh --cars=200 --speed=600  any d2ev-demo setting (d2ev-demo --help)
#   scripts/run-local.sh --keep-running          keep the platform up after the summary
#   D2EV_DATA_DIR=../shared/data scripts/run-local.sh   real UK Agile prices and carbon
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh build
build=${D2EV_BUILD_DIR:-build-run}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DD2EV_BUILD_TESTS=OFF \
  -DD2EV_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

args=()
if [ -n "${D2EV_DATA_DIR:-}" ]; then
  args+=("--data-dir=$D2EV_DATA_DIR")
fi
exec "$build/bin/d2ev-demo" --run-dir=.run "${args[@]+"${args[@]}"}" "$@"
