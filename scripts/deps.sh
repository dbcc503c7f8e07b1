#!/usr/bin/env bash
# Install the Debian packages d2ev needs. Idempotent: it only calls apt-get when
# something is missing, and runs `apt-get update` first when it does.
#
#   scripts/deps.sh build   compile and run (default)
#   scripts/deps.sh test    build + what the test suite uses (kcat, clang, chromium, node)
#   scripts/deps.sh bench   test + load tools (wrk)
set -euo pipefail

group=${1:-build}
build_pkgs=(build-essential cmake pkg-config git ca-certificates curl tzdata
            librdkafka-dev libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev
            libglpk-dev libcmocka-dev libssl-dev zlib1g-dev)
test_pkgs=(kcat clang libclang-rt-14-dev chromium nodejs npm python3 procps)
bench_pkgs=(wrk valgrind)

case "$group" in
  build) want=("${build_pkgs[@]}") ;;
  test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 64 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# chromium and node may come from elsewhere; accept any working binary
filtered=()
for p in "${missing[@]}"; do
  case "$p" in
    chromium) command -v chromium >/dev/null 2>&1 || filtered+=("$p") ;;
    nodejs) command -v node >/dev/null 2>&1 || filtered+=("$p") ;;
    npm) command -v npm >/dev/null 2>&1 || filtered+=("$p") ;;
    *) filtered+=("$p") ;;
  esac
done
missing=("${filtered[@]+"${filtered[@]}"}")

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "d2ev: installing missing packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "d2ev: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "d2ev: packages installed" >&2
