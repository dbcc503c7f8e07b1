#!/usr/bin/env bash
# Checks that deploy/runtime-packages.txt installs every shared library that the
# given ELF files (the d2ev binaries and adapters) link directly.
#
#   deploy/check-runtime-deps.sh build/bin/d2ev-* build/adapters/*.so
#
# Each DT_NEEDED library is resolved with ldd, mapped to its Debian package
# with dpkg -S, and must be listed in runtime-packages.txt or be part of every
# Debian image (an Essential package or one of their dependencies, e.g. libc6).
# Sanitizer runtimes (an ASan build) are ignored. Needs a Debian host with the
# -dev packages installed (where the binaries were built).
set -euo pipefail

list="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/runtime-packages.txt"
[[ $# -gt 0 ]] || {
    echo "usage: $0 ELF..." >&2
    exit 2
}
mapfile -t listed < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$')

# What debian:12-slim has anyway: the Essential packages and their dependencies.
mapfile -t essential < <(dpkg-query -W -f='${Package} ${Essential}\n' | awk '$2 == "yes" { print $1 }')
mapfile -t base < <(apt-cache depends --recurse --installed --no-recommends --no-suggests \
    --no-conflicts --no-breaks --no-replaces --no-enhances "${essential[@]}" 2>/dev/null |
    grep -v '^ ' | sed 's/:.*//' | sort -u)

declare -A needed_by=()
missing=0
for elf in "$@"; do
    mapfile -t sonames < <(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    for so in "${sonames[@]}"; do
        # sanitizer runtimes are not in the image; the dynamic loader is part of libc6
        case "$so" in libasan.so* | libubsan.so* | liblsan.so* | libtsan.so* | ld-linux*.so*) continue ;; esac
        path=$(ldd "$elf" | awk -v so="$so" '$1 == so && $3 ~ /^\// { print $3; exit }')
        if [[ -z "$path" ]]; then
            echo "check-runtime-deps: $elf: $so does not resolve on this host" >&2
            missing=1
            continue
        fi
        pkg=""
        for p in "$path" "$(readlink -f "$path")" "/usr$path" "${path#/usr}"; do
            pkg=$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1) && [[ -n "$pkg" ]] && break
        done
        if [[ -z "$pkg" ]]; then
            echo "check-runtime-deps: $so ($path) belongs to no Debian package" >&2
            missing=1
            continue
        fi
        needed_by[$pkg]+=" $(basename "$elf")"
    done
done

for pkg in "${!needed_by[@]}"; do
    if printf '%s\n' "${listed[@]}" | grep -qx "$pkg"; then
        echo "  $pkg: listed"
    elif printf '%s\n' "${base[@]}" | grep -qx "$pkg"; then
        echo "  $pkg: in every Debian image"
    else
        echo "check-runtime-deps: $pkg is needed by${needed_by[$pkg]} but not in $list" >&2
        missing=1
    fi
done
exit $missing
