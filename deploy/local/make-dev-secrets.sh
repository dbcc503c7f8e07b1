#!/usr/bin/env bash
# Creates throw-away secrets for running d2ev on one machine, as files (the way
# Kubernetes mounts them), plus env files pointing each *_FILE variable at them:
#
#   deploy/local/make-dev-secrets.sh [DIR]     (default: .run/secrets, git-ignored)
#   set -a; . .run/secrets/secrets.env; set +a
#
#   DIR/secrets.env            *_FILE variables with the files' paths on this machine
#   DIR/secrets.container.env  the same under /run/secrets/d2ev, for
#                              `docker run --env-file ... -v DIR:/run/secrets/d2ev:ro`
#
# The OEM client secrets are those d2ev-oemsim accepts by default
# (sim-<oem>-secret for client sim-<oem>-client, see docs/oemsim.md), so the
# services authenticate against the simulator as deploy/local/adapters/ configure
# them; they are rewritten every time. The other secrets are random, and their
# files are kept, so restarts keep reading the same keys. Never use these
# outside a developer machine.
set -euo pipefail

dir=${1:-.run/secrets}
mkdir -p "$dir"
chmod 700 "$dir"
dir=$(cd "$dir" && pwd)
umask 077

rand() { openssl rand -base64 "$1" | tr -d '\n'; }
put() { # put FILE VALUE: write once
    [[ -s "$dir/$1" ]] || printf '%s\n' "$2" >"$dir/$1"
}

put credentials-keys "dev1:$(rand 32)"
put bridge-hmac-secret "$(rand 32)"
put api-tokens "dev-read-$(rand 12 | tr '+/=' 'xyz'):read,dev-operator-$(rand 12 | tr '+/=' 'xyz'):operator,dev-app-$(rand 12 | tr '+/=' 'xyz'):app"
oems=(smartcar tesla enode)
for oem in "${oems[@]}"; do
    printf 'sim-%s-secret\n' "$oem" >"$dir/oem-$oem-client-secret"
done

# env_file ROOT: the *_FILE variables with the files under ROOT
env_file() {
    local root=$1 oem
    printf 'D2EV_CREDENTIALS_KEYS_FILE=%s/credentials-keys\n' "$root"
    printf 'D2EV_BRIDGE_HMAC_SECRET_FILE=%s/bridge-hmac-secret\n' "$root"
    printf 'D2EV_API_TOKENS_FILE=%s/api-tokens\n' "$root"
    for oem in "${oems[@]}"; do
        printf 'D2EV_OEM_%s_CLIENT_SECRET_FILE=%s/oem-%s-client-secret\n' "${oem^^}" "$root" "$oem"
    done
}
env_file "$dir" >"$dir/secrets.env"
env_file /run/secrets/d2ev >"$dir/secrets.container.env"
echo "$dir/secrets.env"
