#!/usr/bin/env bash
# The ops API benchmark: GET /v1/vehicles/{id}/schedule with random ids over
# 100,000 vehicles, measured with wrk next to a bare libmicrohttpd handler in
# the same run. Builds what it needs (Release, no sanitizers, in build-bench/),
# starts a devbroker, loads N vehicles and schedules through Kafka, starts
# d2ev-api, waits until it is caught up (/readyz) and prints the figures.
#
#   bench/api/run.sh
#
# Environment (all optional):
#   D2EV_BENCH_VEHICLES     vehicles and schedules to load      (100000)
#   D2EV_BENCH_DURATION     seconds per wrk run                 (20)
#   D2EV_BENCH_CONNECTIONS  wrk connections                     (64)
#   D2EV_BENCH_WRK_THREADS  wrk threads                         (1)
#   D2EV_BENCH_HTTP_THREADS HTTP threads of both servers        (2)
#   D2EV_BENCH_PARTITIONS   devbroker partitions                (48)
#
# The devbroker (librdkafka's mock cluster) keeps at most 5 MiB per partition
# and silently drops older records beyond that, so 100,000 vehicles (~80 MB a
# topic) need many partitions. The script checks that every vehicle arrived.
#   D2EV_BUILD_DIR          build directory                     (build-bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

vehicles=${D2EV_BENCH_VEHICLES:-100000}
duration=${D2EV_BENCH_DURATION:-20}
conns=${D2EV_BENCH_CONNECTIONS:-64}
wrk_threads=${D2EV_BENCH_WRK_THREADS:-1}
http_threads=${D2EV_BENCH_HTTP_THREADS:-2}
partitions=${D2EV_BENCH_PARTITIONS:-48}
build=${D2EV_BUILD_DIR:-build-bench}

command -v wrk >/dev/null || scripts/deps.sh bench
echo "building ($build, Release)..."
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DD2EV_SANITIZE=OFF -DD2EV_BUILD_TESTS=OFF \
  >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" \
  --target d2ev-api d2ev-devbroker bench_api_load bench_api_trivial >/dev/null
bin=$root/$build/bin

work=$(mktemp -d /tmp/d2ev-bench-api.XXXXXX)
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url seconds
  for _ in $(seq 1 $(($2 * 10))); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  return 1
}
ms_now() { date +%s%3N; }
others_during() { # top's file: what else used the cores during a run
  # Processes of other containers on the same host are not listed by top but
  # do use the cores: report the CPU time no visible process accounts for.
  awk -v ours=" ${pids[*]} " -v ncpu="$(nproc)" '
    /^top -/ { frames++ }
    frames > 1 && /^%Cpu/ { for (i = 1; i <= NF; i++) if ($i ~ /^id,?$/) idle += $(i - 1) }
    frames > 1 && $1 ~ /^[0-9]+$/ { procs += $9
      if (index(ours, " " $1 " ") == 0 && $12 != "wrk" && $12 != "top") cpu[$12] += $9 }
    END { n = frames - 1; if (n < 1) exit
      for (k in cpu) if (cpu[k] / n > 5) printf "%s:%.0f%% ", k, cpu[k] / n
      printf "(unattributed, e.g. other containers: %.0f%% of %d00%%)", \
        (100 - idle / n) * ncpu - procs / n, ncpu }' "$1"
}

# 1. the broker, and the fleet through Kafka
"$bin/d2ev-devbroker" --address-file="$work/bootstrap" --admin-port=0 --partitions="$partitions" \
  >"$work/devbroker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
bootstrap=$(cat "$work/bootstrap")
t0=$(ms_now)
"$bin/bench_api_load" "$bootstrap" "$vehicles"
t1=$(ms_now)

# 2. the API, reading everything from the beginning
token="bench-read-token-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
api_port=$(free_port)
admin_port=$(free_port)
D2EV_KAFKA_BROKERS=$bootstrap D2EV_HTTP_PORT=$api_port D2EV_ADMIN_PORT=$admin_port \
  D2EV_HTTP_BIND=127.0.0.1 D2EV_HTTP_THREADS=$http_threads D2EV_API_TOKENS="$token:read" \
  D2EV_LOG_LEVEL=warn "$bin/d2ev-api" >"$work/api.log" 2>&1 &
api_pid=$!
pids+=($api_pid)
t2=$(ms_now)
if ! wait_http "http://127.0.0.1:$admin_port/readyz" 600; then
  echo "d2ev-api did not catch up; see $work/api.log" >&2
  exit 1
fi
t3=$(ms_now)
rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$api_pid/status")
count=$(curl -fs "http://127.0.0.1:$admin_port/metrics" | awk '/^d2ev_api_vehicles / { print $2 }')
if [ "$count" != "$vehicles" ]; then
  echo "d2ev-api holds $count of $vehicles vehicles: the devbroker dropped records" \
       "(raise D2EV_BENCH_PARTITIONS)" >&2
  exit 1
fi
sample=$(curl -fs -H "Authorization: Bearer $token" \
  "http://127.0.0.1:$api_port/v1/vehicles/bench-000003/schedule")
body_bytes=${#sample}

# 3. the baseline: bare libmicrohttpd, same threads, same body size
trivial_port=$(free_port)
"$bin/bench_api_trivial" "$trivial_port" "$http_threads" "$body_bytes" &
pids+=($!)
wait_http "http://127.0.0.1:$trivial_port/" 10

run_wrk() { # label url
  export D2EV_BENCH_VEHICLES=$vehicles D2EV_BENCH_TOKEN=$token
  # a short warm-up, then the measurement
  wrk -t"$wrk_threads" -c"$conns" -d3s -s bench/api/schedule.lua "$2" >/dev/null
  # other work on the same cores shows in the figures: record what else ran
  top -b -d1 -n "$duration" -w 200 >"$work/top-$1.txt" &
  local top_pid=$!
  wrk -t"$wrk_threads" -c"$conns" -d"${duration}s" --latency -s bench/api/schedule.lua "$2" \
    >"$work/wrk-$1.txt"
  wait "$top_pid" || true
  grep '^RESULT' "$work/wrk-$1.txt" | sed "s/^RESULT/$1/"
  local others
  others=$(others_during "$work/top-$1.txt")
  echo "other CPU use during the $1 run: $others" >>"$work/load.txt"
}

echo
echo "machine:  $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "fleet:    $count vehicles with schedules; produced in $(((t1 - t0)))ms,"\
     "d2ev-api caught up in $(((t3 - t2)))ms, RSS $((rss_kb / 1024)) MiB"
echo "request:  GET /v1/vehicles/{random id}/schedule, $body_bytes-byte body (sample)"
echo "wrk:      $wrk_threads thread(s), $conns connections, ${duration}s; servers: $http_threads HTTP threads"
echo
api=$(run_wrk d2ev-api "http://127.0.0.1:$api_port")
triv=$(run_wrk trivial "http://127.0.0.1:$trivial_port")
printf '%-10s %12s %10s %10s %10s %8s\n' server "req/s" "p50 ms" "p99 ms" "max ms" non-2xx
for line in "$api" "$triv"; do
  set -- $line
  name=$1; shift
  declare -A f=()
  for kv in "$@"; do f[${kv%%=*}]=${kv#*=}; done
  printf '%-10s %12s %10s %10s %10s %8s\n' "$name" "${f[rps]}" "${f[p50_ms]}" "${f[p99_ms]}" \
    "${f[max_ms]}" "$((f[non2xx] + f[errors]))"
done
echo
cat "$work/load.txt"
echo "raw wrk output: $work/wrk-d2ev-api.txt, $work/wrk-trivial.txt"
