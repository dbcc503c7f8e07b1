#!/usr/bin/env bash
# Creates throw-away secrets for running d2ev on one machine, as files (the way
# Kubernetes mounts them), plus an env file pointing each *_FILE variable at them.
#
#   deploy/local/make-dev-secrets.sh [DIR]     (default: .run/secrets, git-ignored)
#   set -a; . .run/secrets/secrets.env; set +a
#
# Existing files are kept, so restarts keep reading the same keys. Never use
# these outside a developer machine.
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
put api-tokens "dev-read-$(rand 12 | tr '+/=' 'xyz'):read,dev-operator-$(rand 12 | tr '+/=' 'xyz'):operator"
for oem in smartcar tesla enode; do
    put "oem-$oem-client-secret" "dev-$oem-secret"
done

cat >"$dir/secrets.env" <<ENV
D2EV_CREDENTIALS_KEYS_FILE=$dir/credentials-keys
D2EV_BRIDGE_HMAC_SECRET_FILE=$dir/bridge-hmac-secret
D2EV_API_TOKENS_FILE=$dir/api-tokens
D2EV_OEM_SMARTCAR_CLIENT_SECRET_FILE=$dir/oem-smartcar-client-secret
D2EV_OEM_TESLA_CLIENT_SECRET_FILE=$dir/oem-tesla-client-secret
D2EV_OEM_ENODE_CLIENT_SECRET_FILE=$dir/oem-enode-client-secret
ENV
echo "$dir/secrets.env"
