#!/usr/bin/env bash
# The README's run command: builds d2ev, starts the embedded Kafka broker
# (d2ev-devbroker) and every service on this machine, and shows what they do.
# Ctrl-C stops everything cleanly.
#
#   scripts/run-local.sh            run until Ctrl-C
#   D2EV_RUN_FOR=60 scripts/run-local.sh   stop by itself after 60 s (smoke tests)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/deps.sh build
build=${D2EV_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DD2EV_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
bin=$root/$build/bin

run=$root/.run
rm -rf "$run"
mkdir -p "$run/logs"
pids=()

cleanup() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "stopped. Logs are in $run/logs/"
}
trap cleanup INT TERM EXIT

start() { # name, then the command; output to .run/logs/<name>.log
  local name=$1; shift
  "$@" >"$run/logs/$name.log" 2>&1 &
  pids+=($!)
}

# 1. the broker
start devbroker "$bin/d2ev-devbroker" --address-file="$run/bootstrap" --admin-port=9100
for _ in $(seq 1 100); do [ -s "$run/bootstrap" ] && break; sleep 0.1; done
[ -s "$run/bootstrap" ] || { echo "devbroker did not start; see $run/logs/devbroker.log"; exit 1; }
export D2EV_KAFKA_BROKERS=$(cat "$run/bootstrap")

# 2. the services, each on its own admin port
services=(bridge:9101 registration:9102 telemetry:9103 scheduler:9104 dispatch:9105 api:9106)
for entry in "${services[@]}"; do
  name=${entry%%:*}; port=${entry##*:}
  if [ -x "$bin/d2ev-$name" ]; then
    D2EV_ADMIN_PORT=$port start "$name" "$bin/d2ev-$name"
  fi
done

# 3. a live view
echo "d2ev is running locally. Kafka bootstrap: $D2EV_KAFKA_BROKERS"
echo "  kcat -L -b $D2EV_KAFKA_BROKERS       # list topics"
echo "  logs: $run/logs/   (JSON lines)"
echo "  Ctrl-C to stop."
echo
deadline=$(( $(date +%s) + ${D2EV_RUN_FOR:-0} ))
while :; do
  line="$(date +%H:%M:%S)"
  for entry in devbroker:9100 "${services[@]}"; do
    name=${entry%%:*}; port=${entry##*:}
    [ "$name" = devbroker ] || [ -x "$bin/d2ev-$name" ] || continue
    if curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; then state=ready
    elif curl -fs -o /dev/null "http://127.0.0.1:$port/healthz"; then state=starting
    else state=DOWN; fi
    line+="  $name:$state"
  done
  printf '\r%s ' "$line"
  if [ "${D2EV_RUN_FOR:-0}" -gt 0 ] && [ "$(date +%s)" -ge "$deadline" ]; then break; fi
  sleep 2
done
