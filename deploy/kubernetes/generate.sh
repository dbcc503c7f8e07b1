#!/usr/bin/env bash
# Renders the plain Kubernetes manifests (deploy/kubernetes/d2ev.yaml) from the
# Helm chart, for operators who do not use Helm.
#
#   deploy/kubernetes/generate.sh           regenerate d2ev.yaml
#   deploy/kubernetes/generate.sh --check   exit 1 (with a diff) if it is stale
#
# Renders with the pinned Helm from scripts/install-helm.sh (exit 77 if it
# cannot be installed), release name d2ev, namespace d2ev, for Kubernetes 1.27
# (the oldest that gets the PodDisruptionBudget's unhealthyPodEvictionPolicy).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$here/d2ev.yaml"
kube_version=1.27.0

helm=$("$repo/scripts/install-helm.sh")
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
    echo "# d2ev plain Kubernetes manifests. GENERATED: do not edit by hand."
    echo "# Source: helm/d2ev with deploy/kubernetes/values.yaml, by deploy/kubernetes/generate.sh"
    echo "# (helm template d2ev helm/d2ev --namespace d2ev --kube-version $kube_version)."
    echo "# Needs Kubernetes >= 1.27. Prerequisites and usage: docs/deployment.md, \"Plain manifests\"."
    echo "#   kubectl create namespace d2ev"
    echo "#   kubectl -n d2ev create secret generic d2ev-secrets --from-file=..."
    echo "#   kubectl -n d2ev apply -f deploy/kubernetes/d2ev.yaml"
    "$helm" template d2ev "$repo/helm/d2ev" --namespace d2ev --kube-version "$kube_version" \
        -f "$here/values.yaml"
} >"$tmp"

if [[ "${1:-}" == --check ]]; then
    if diff -u "$out" "$tmp"; then
        exit 0
    fi
    echo "generate.sh: $out is out of date with helm/d2ev; run deploy/kubernetes/generate.sh and commit it" >&2
    exit 1
fi
chmod 644 "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "generate.sh: wrote $out"
