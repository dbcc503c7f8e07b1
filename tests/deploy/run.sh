#!/usr/bin/env bash
# Deployment checks, one per ctest test (tests/deploy/CMakeLists.txt):
#
#   run.sh chart         helm lint; helm template with default and non-default
#                        values; the schema and the chart's own checks reject bad
#                        values; every rendered manifest passes check-manifests.cjs
#   run.sh manifests     deploy/kubernetes/d2ev.yaml is up to date and passes too
#   run.sh topics        the chart's KafkaTopics match common/topics.c
#   run.sh runtime-libs  the runtime image installs every library the binaries need
#   run.sh build-deps    the image's build stage installs the -dev package of every
#                        library CMakeLists.txt requires
#   run.sh local         deploy/local's env files, secrets and adapter configs work
#                        together and with d2ev-oemsim's defaults
#   run.sh shellcheck    the deploy scripts pass shellcheck
#   run.sh all           all of the above that can run here
#
# Exit 0 pass, 1 fail, 77 skip (a tool is missing). With
# D2EV_REQUIRE_DEPLOY_TOOLS=1 (CI) a missing tool is a failure, not a skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
chart="$repo/helm/d2ev"
checker="$here/check-manifests.cjs"
work=$(mktemp -d "${TMPDIR:-/tmp}/d2ev-deploy.XXXXXX")
trap 'rm -rf "$work"' EXIT

failures=0
say() { printf '%s\n' "$*"; }
pass() { say "ok   $*"; }
bad() {
    say "FAIL $*"
    failures=$((failures + 1))
}
skip() {
    if [[ "${D2EV_REQUIRE_DEPLOY_TOOLS:-0}" == 1 ]]; then
        say "FAIL $* (D2EV_REQUIRE_DEPLOY_TOOLS=1: required here)"
        exit 1
    fi
    say "SKIP $*"
    exit 77
}

need_helm() {
    local rc=0
    HELM=$("$repo/scripts/install-helm.sh") || rc=$?
    if [[ $rc -eq 77 ]]; then
        skip "helm cannot be installed here (see scripts/install-helm.sh output above)"
    elif [[ $rc -ne 0 ]]; then
        say "FAIL scripts/install-helm.sh exited with $rc"
        exit 1
    fi
    command -v node >/dev/null || skip "node is not installed"
}

# render NAME [helm template args...] -> $work/NAME.yaml
render() {
    local name=$1
    shift
    if "$HELM" template d2ev "$chart" --namespace d2ev "$@" >"$work/$name.yaml" 2>"$work/$name.err"; then
        return 0
    fi
    say "---- helm template $* failed:"
    cat "$work/$name.err"
    return 1
}

check() { # check NAME [check-manifests args...]
    local name=$1
    shift
    if node "$checker" "$@" "$work/$name.yaml"; then pass "$name manifests"; else bad "$name manifests"; fi
}

# must_reject WHAT EXPECTED-MESSAGE [helm template args...]: rendering must fail,
# for the expected reason.
must_reject() {
    local what=$1 want=$2
    shift 2
    if "$HELM" template d2ev "$chart" "$@" >/dev/null 2>"$work/reject.err"; then
        bad "accepted $what"
    elif grep -qF -- "$want" "$work/reject.err"; then
        pass "rejects $what"
    else
        bad "rejects $what, but not with '$want':"
        cat "$work/reject.err"
    fi
}

# ------------------------------------------------------------------- chart
check_chart() {
    need_helm
    local nd="$here/values-nondefault.yaml"

    # appVersion is the release the image tag defaults to: keep it with CMake's
    local cmake_version app_version
    cmake_version=$(sed -n 's/^project(d2ev VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
    app_version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$chart/Chart.yaml")
    if [[ -n "$cmake_version" && "$cmake_version" == "$app_version" ]]; then
        pass "Chart appVersion $app_version = project version"
    else
        bad "Chart appVersion '$app_version' != project(d2ev VERSION '$cmake_version') in CMakeLists.txt"
    fi

    if "$HELM" lint --strict "$chart" >"$work/lint.out" 2>&1 &&
        "$HELM" lint --strict "$chart" -f "$nd" >>"$work/lint.out" 2>&1; then
        pass "helm lint --strict (default and non-default values)"
    else
        bad "helm lint"
        cat "$work/lint.out"
    fi

    # Default values: the six default services, no optional extras.
    if render default; then
        check default --expect Deployment=6 --expect PodDisruptionBudget=6 --expect Service=8 \
            --expect ConfigMap=2 --expect Secret=0 --expect HorizontalPodAutoscaler=0 \
            --expect KafkaTopic=0 --expect ServiceMonitor=0 --expect PersistentVolumeClaim=0
    else
        bad "helm template with default values"
    fi

    # Non-default values: everything optional switched on, every secret configured.
    if render nondefault -f "$nd"; then
        check nondefault --complete --expect Deployment=7 --expect PodDisruptionBudget=7 --expect Service=9 \
            --expect Secret=1 --expect HorizontalPodAutoscaler=2 --expect KafkaTopic=13 \
            --expect ServiceMonitor=1 --expect PersistentVolumeClaim=1
        local f="$work/nondefault.yaml" want
        for want in \
            'name: d2ev-secrets' 'name: d2ev-kafka-user' 'key: password' \
            'name: d2ev-credentials-keyring' 'name: enode-oauth' 'name: fleet-secrets' \
            'D2EV_KAFKA_SSL_CA_LOCATION: "/etc/d2ev/kafka-ca/ca.crt"' 'secretName: fleet-cluster-ca-cert' \
            'D2EV_KAFKA_SASL_PASSWORD_FILE' 'D2EV_OEM_TESLA_CLIENT_SECRET_FILE' \
            'D2EV_BRIDGE_HMAC_SECRET_PREVIOUS_FILE' 'name: d2ev-vehicle-id-key' \
            'value: "enode,smartcar,tesla"' 'claimName: fleet-export' 'storageClassName: "efs-sc"' \
            'image: "registry.example.com/d2ev/d2ev@sha256:' 'strimzi.io/cluster: fleet' \
            'helm.sh/resource-policy: keep' 'type: LoadBalancer' 'terminationGracePeriodSeconds: 60' \
            'D2EV_SHUTDOWN_TIMEOUT_MS: "20000"' 'release: prometheus'; do
            grep -qF -- "$want" "$f" || bad "non-default render lacks: $want"
        done
        # The plain API tokens and OEM secret from the values file exist only base64-encoded.
        if grep -q 'NOT-A-REAL-ONE' "$f"; then bad "a secret value appears in clear text"; else pass "secret values only in the Secret"; fi
        check_topic_config "$f"
    else
        bad "helm template with non-default values"
    fi

    # The services that load adapters, and the bridge, name exactly the enabled OEMs;
    # only the enabled OEMs have a config and a client secret.
    if render oems --set oem.tesla.enabled=true --set oem.enode.enabled=true --set secrets.existingSecret=s; then
        check oems --complete
        if [[ $(grep -c 'value: "enode,tesla"' "$work/oems.yaml") == 4 ]] && ! grep -q 'smartcar' "$work/oems.yaml"; then
            pass "D2EV_OEMS=enode,tesla on bridge, registration, telemetry and dispatch; nothing of smartcar"
        else
            bad "D2EV_OEMS is not exactly the enabled OEMs on the four services"
        fi
    else
        bad "helm template with two OEMs"
    fi

    # The default topic settings (docs/privacy.md, docs/dispatch.md, docs/analytics.md).
    if render topicdefaults --set topics.strimzi.enabled=true --set services.exporter.enabled=true; then
        check topicdefaults --expect PersistentVolumeClaim=1
        check_topic_config "$work/topicdefaults.yaml"
    else
        bad "helm template with Strimzi topics and the exporter"
    fi

    # NOTES.txt renders only at install time (helm template skips it): render it
    # through tpl in a copy of the chart, so a broken NOTES fails here, not in prod.
    mkdir -p "$work/notes"
    cp -r "$chart" "$work/notes/"
    mv "$work/notes/d2ev/templates/NOTES.txt" "$work/notes/d2ev/notes.txt"
    printf 'notes: |\n{{ tpl (.Files.Get "notes.txt") . | indent 2 }}\n' >"$work/notes/d2ev/templates/notes.yaml"
    if "$HELM" template d2ev "$work/notes/d2ev" -s templates/notes.yaml >"$work/notes-default.txt" 2>&1 &&
        grep -q 'credentialsKeys (D2EV_CREDENTIALS_KEYS) for bridge, dispatch, registration, telemetry' "$work/notes-default.txt" &&
        grep -q 'no OEM is enabled' "$work/notes-default.txt" && ! grep -q 'bridgeHmacSecretPrevious\|vehicleIdKey' "$work/notes-default.txt" &&
        "$HELM" template d2ev "$work/notes/d2ev" -s templates/notes.yaml -f "$nd" >"$work/notes-nd.txt" 2>&1 &&
        grep -q 'telemetry     HPA 4-24' "$work/notes-nd.txt" && grep -q 'OEMs: enode,smartcar,tesla' "$work/notes-nd.txt" &&
        ! grep -q WARNING "$work/notes-nd.txt"; then
        pass "NOTES.txt renders (and warns about missing secrets and OEMs only when they are missing)"
    else
        bad "NOTES.txt"
        cat "$work/notes-default.txt" "$work/notes-nd.txt" 2>/dev/null || true
    fi

    # The oldest supported Kubernetes renders; one older is refused by kubeVersion.
    if render kube123 --kube-version 1.23.0 -f "$nd"; then
        if grep -q unhealthyPodEvictionPolicy "$work/kube123.yaml"; then bad "PDB field for 1.27+ rendered for 1.23"; else pass "renders for Kubernetes 1.23"; fi
    else
        bad "helm template --kube-version 1.23.0"
    fi
    must_reject "Kubernetes 1.22" "incompatible with Kubernetes" --kube-version 1.22.0

    # values.schema.json
    must_reject "negative replicas" "replicas" --set services.bridge.replicas=-1
    must_reject "unknown security protocol" "securityProtocol" --set kafka.securityProtocol=tls
    must_reject "an empty broker list" "kafka.brokers" --set kafka.brokers=
    must_reject "a broker without a port" "kafka.brokers" --set kafka.brokers=kafka
    must_reject "an unknown top-level value" "Additional property bogus" --set bogus=1
    must_reject "a typo in a service's values" "Additional property replica" --set services.api.replica=3
    must_reject "a secret in env" "D2EV_API_TOKENS" --set env.D2EV_API_TOKENS=x
    must_reject "a secret in a service env" "D2EV_BRIDGE_HMAC_SECRET" --set services.bridge.env.D2EV_BRIDGE_HMAC_SECRET=x
    must_reject "a writable root filesystem" "readOnlyRootFilesystem" --set containerSecurityContext.readOnlyRootFilesystem=false
    must_reject "privilege escalation" "allowPrivilegeEscalation" --set containerSecurityContext.allowPrivilegeEscalation=true
    must_reject "running as root" "runAsNonRoot" --set podSecurityContext.runAsNonRoot=false
    must_reject "missing resource limits" "limits" --set services.scheduler.resources.limits=null
    must_reject "an unknown log level" "logLevel" --set logLevel=verbose
    must_reject "an unknown secret item" "secrets" --set 'services.api.secrets={apiTokens,nope}'
    must_reject "a bad image digest" "digest" --set image.digest=latest
    must_reject "a too short shutdown deadline" "shutdownTimeoutMs" --set shutdownTimeoutMs=10
    must_reject "an OEM without a base_url" "base_url" --set oem.smartcar.enabled=true --set oem.smartcar.config.base_url=null
    must_reject "an OEM name the adapter loader refuses" "oem" --set oem.acme-motors.enabled=true \
        --set oem.acme-motors.config.base_url=https://a.example --set oem.acme-motors.config.token_url=https://a.example/t \
        --set oem.acme-motors.config.client_id=x --set oem.acme-motors.clientSecret.key=k
    must_reject "an API token with an unknown role" "secrets.apiTokens" --set secrets.apiTokens.value=0123456789abcdef0123:write
    must_reject "a short bridge HMAC secret" "secrets.bridgeHmacSecret" --set secrets.bridgeHmacSecret.value=short
    must_reject "a keyring entry that is not 32 bytes" "secrets.credentialsKeys" --set secrets.credentialsKeys.value=k1:c2hvcnQ=
    must_reject "a secret-named setting in env (rotation)" "D2EV_BRIDGE_HMAC_SECRET_PREVIOUS" \
        --set services.bridge.env.D2EV_BRIDGE_HMAC_SECRET_PREVIOUS=x
    must_reject "an exporter volume without a size" "size" --set export.persistence.size=
    must_reject "an unknown access mode" "accessModes" --set 'export.persistence.accessModes={ReadWriteAll}'
    must_reject "a rate limit without per_second" "per_second" --set oem.tesla.enabled=true --set oem.tesla.config.rate_limit.burst=5

    # The chart's own checks (templates/_validate.tpl)
    must_reject "more consumer replicas than partitions" "topics.partitions=12" --set services.telemetry.replicas=13
    must_reject "an HPA beyond the partitions" "hpa.maxReplicas" \
        --set services.scheduler.hpa.enabled=true --set services.scheduler.hpa.maxReplicas=20
    must_reject "HPA min > max" "minReplicas" \
        --set services.api.hpa.enabled=true --set services.api.hpa.minReplicas=5 --set services.api.hpa.maxReplicas=3
    must_reject "a grace period shorter than the shutdown" "shorter than the graceful shutdown" \
        --set services.api.terminationGracePeriodSeconds=10
    must_reject "a password in kafka.extra" "kafka.extra" --set kafka.extra=sasl.password=x
    must_reject "SASL without a mechanism" "kafka.sasl.mechanism" --set kafka.securityProtocol=sasl_ssl --set kafka.sasl.username=u
    must_reject "TLS settings without TLS" "does not use TLS" --set kafka.tls.ca.secretName=ca
    must_reject "a chart-owned variable in env" "D2EV_KAFKA_BROKERS" --set services.api.env.D2EV_KAFKA_BROKERS=k:1
    must_reject "a secret in an OEM config" "client_secret" \
        --set oem.tesla.enabled=true --set oem.tesla.config.client_secret=x
    must_reject "an override of an unknown topic" "not a d2ev topic" --set 'topics.strimzi.overrides.d2ev\.nope.retention\.ms=1'
    must_reject "D2EV_OEMS in env (the chart derives it)" "oem.<name>.enabled" --set services.bridge.env.D2EV_OEMS=tesla
    must_reject "D2EV_EXPORT_DIR in env" "export.dir" --set services.api.env.D2EV_EXPORT_DIR=/x
    must_reject "the HTTP port in env" "http.port" --set services.api.env.D2EV_HTTP_PORT=9000
    must_reject "an optional secret with a value but not enabled" "enabled=true" --set secrets.vehicleIdKey.value=0123456789abcdef
    must_reject "an optional secret enabled without a source" "no source" --set secrets.bridgeHmacSecretPrevious.enabled=true
    must_reject "two exporters on a ReadWriteOnce volume" "ReadWriteMany" \
        --set services.exporter.enabled=true --set services.exporter.replicas=2
    must_reject "an autoscaled exporter on a ReadWriteOnce volume" "ReadWriteMany" --set services.exporter.enabled=true \
        --set services.exporter.hpa.enabled=true --set services.exporter.hpa.maxReplicas=3
    must_reject "API reports from a ReadWriteOnce volume" "ReadWriteMany" \
        --set services.exporter.enabled=true --set export.serveReports=true
    must_reject "API reports without an exporter or a claim" "existingClaim" \
        --set export.serveReports=true --set 'export.persistence.accessModes={ReadWriteMany}'
    must_reject "unlimited retention of personal data" "retention.ms must be set" \
        --set topics.strimzi.enabled=true --set 'topics.strimzi.overrides.d2ev\.sessions.retention\.ms=-1'
    must_reject "retention beyond the erasure window" "at most 30 days" \
        --set topics.strimzi.enabled=true --set 'topics.strimzi.deleteConfig.retention\.ms=5184000000'
    must_reject "a dead-letter topic kept for ever" "d2ev.deadletter" \
        --set topics.strimzi.enabled=true --set 'topics.strimzi.overrides.d2ev\.deadletter.retention\.ms=-1'
    must_reject "compacted topics without max.compaction.lag.ms" "max.compaction.lag.ms" \
        --set topics.strimzi.enabled=true --set 'topics.strimzi.compactedConfig.max\.compaction\.lag\.ms=null'
    must_reject "a dispatch history shorter than 3 days" "d2ev.dispatch" \
        --set topics.strimzi.enabled=true --set 'topics.strimzi.overrides.d2ev\.dispatch.retention\.ms=86400000'
    must_reject "min.compaction.lag.ms above max" "min.compaction.lag.ms" --set topics.strimzi.enabled=true \
        --set services.exporter.enabled=true --set 'topics.strimzi.compactedConfig.max\.compaction\.lag\.ms=86400000'
    must_reject "exporter inputs kept less than 2 days" "with the exporter" --set topics.strimzi.enabled=true \
        --set services.exporter.enabled=true --set 'topics.strimzi.overrides.d2ev\.telemetry.retention\.ms=86400000'
    # A rejected secret value is never echoed by the error.
    if "$HELM" template d2ev "$chart" --set secrets.apiTokens.value=SECRET-ECHO-CHECK-0123456789:admin >/dev/null 2>"$work/echo.err"; then
        bad "accepted an API token with role admin"
    elif grep -q 'SECRET-ECHO-CHECK' "$work/echo.err"; then
        bad "the schema error repeats the secret value"
    else
        pass "a rejected secret value is not repeated in the error"
    fi

    # The checker itself must catch what it claims to: break a good render.
    if [[ -f "$work/nondefault.yaml" ]]; then
        self_test "no readiness probe" 's/readinessProbe:/startupProbe:/'
        self_test "a writable root filesystem" 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/'
        self_test "privilege escalation" 's/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/'
        self_test "no resource limits" 's/^            limits:/            limitz:/'
        self_test "a secret value in a ConfigMap" 's/D2EV_LOG_LEVEL: "debug"/D2EV_LOG_LEVEL: "ops-readonly-token-NOT-A-REAL-ONE:read"/'
        self_test "a secret-named ConfigMap key" 's/D2EV_LOG_LEVEL:/D2EV_KAFKA_SASL_PASSWORD:/'
        self_test "a missing PDB" 's/^kind: PodDisruptionBudget$/kind: PodDisruptionBudgetX/'
        self_test "a short grace period" 's/terminationGracePeriodSeconds: 60/terminationGracePeriodSeconds: 20/'
        self_test "root" 's/runAsUser: 10001/runAsUser: 0/'
        self_test "a wrong type (Kubernetes schema)" 's/^  revisionHistoryLimit: 5$/  revisionHistoryLimit: "five"/'
        self_test "an unknown API version" 's|^apiVersion: policy/v1$|apiVersion: policy/v2|'
        self_test "a setting of no binary" 's/D2EV_POLL_PLUGGED_S/D2EV_POLL_PLUGGED_SECONDS/'
        self_test "a wrong setting type" 's/value: "600"/value: "ten minutes"/'
        self_test "a secret both as VAR and VAR_FILE" 's/D2EV_LOG_LEVEL: "debug"/D2EV_LOG_LEVEL: "debug"\n  D2EV_API_TOKENS_FILE: "\/x"/'
        self_test "a missing keyring" '/name: D2EV_CREDENTIALS_KEYS_FILE/,+1d'
        self_test "a missing OEM client secret" '0,/name: D2EV_OEM_TESLA_CLIENT_SECRET_FILE/{/name: D2EV_OEM_TESLA_CLIENT_SECRET_FILE/,+1d}'
        self_test "services naming other OEMs" '0,/value: "enode,smartcar,tesla"/s//value: "enode,smartcar"/'
        self_test "an OEM without its config" 's/^  tesla.json: |$/  teslax.json: |/'
        self_test "an adapter the image lacks" 's/value: "enode,smartcar,tesla"/value: "enode,smartcar,tesla,acme"/'
        self_test "an unknown adapter config key" 's/"wake_timeout_ms"/"wake_timeout"/'
        self_test "no adapter directory" '/name: D2EV_ADAPTER_DIR/,+1d'
        self_test "a writable report mount in the API" '/mountPath: \/var\/lib\/d2ev\/export/{n;/readOnly: true/d}'
        self_test "a shared ReadWriteOnce volume" 's/- ReadWriteMany/- ReadWriteOnce/'
    fi
}

# check_topic_config RENDERED: the KafkaTopics carry the settings erasure and
# the services depend on (what _validate.tpl enforces, seen from the output).
check_topic_config() {
    # shellcheck disable=SC2016 # JavaScript template strings
    if node -e '
        const YAML = require(process.argv[2]);
        const docs = YAML.parseAllDocuments(require("fs").readFileSync(process.argv[1], "utf8")).map((d) => d.toJS()).filter((o) => o && o.kind === "KafkaTopic");
        const day = 86400000, bad = [];
        const exporter = docs.length && YAML.parseAllDocuments(require("fs").readFileSync(process.argv[1], "utf8")).some((d) => { const o = d.toJS(); return o && o.kind === "Deployment" && /exporter$/.test(o.metadata.name); });
        for (const t of docs) {
            const c = t.spec.config, n = t.spec.topicName, personal = t.spec.partitions === docs.find((x) => x.spec.topicName === "d2ev.vehicles").spec.partitions;
            if (c["cleanup.policy"] === "compact" && n !== "d2ev.capacity") {
                if (!(c["max.compaction.lag.ms"] > 0 && c["max.compaction.lag.ms"] <= 30 * day)) bad.push(`${n}: max.compaction.lag.ms ${c["max.compaction.lag.ms"]}`);
                if (!(c["delete.retention.ms"] > 0)) bad.push(`${n}: no delete.retention.ms for tombstones`);
                if (!(c["segment.ms"] > 0 && c["segment.ms"] <= 7 * day)) bad.push(`${n}: segment.ms ${c["segment.ms"]}`);
            }
            if (c["cleanup.policy"] === "delete" && (personal || n === "d2ev.deadletter") && !(c["retention.ms"] > 0 && c["retention.ms"] <= 30 * day)) bad.push(`${n}: retention.ms ${c["retention.ms"]}`);
        }
        const get = (n) => (docs.find((t) => t.spec.topicName === n) || { spec: { config: {} } }).spec.config;
        if (!(get("d2ev.dispatch")["retention.ms"] >= 3 * day)) bad.push("d2ev.dispatch: retention below 3 days");
        if (exporter && !(get("d2ev.schedules")["min.compaction.lag.ms"] >= 1 * day)) bad.push("d2ev.schedules: no min.compaction.lag.ms for the exporter");
        if (bad.length) { console.error(bad.join("\n")); process.exit(1); }' "$1" "$repo/.tools/node_modules/yaml"; then
        pass "$(basename "$1" .yaml): topic settings for erasure, dispatch replay and the exporter"
    else
        bad "$(basename "$1" .yaml): topic settings"
    fi
}

# self_test WHAT SED-EXPR: the checker must reject the mutated non-default render.
self_test() {
    sed -e "$2" "$work/nondefault.yaml" >"$work/mutant.yaml"
    if cmp -s "$work/nondefault.yaml" "$work/mutant.yaml"; then
        bad "self-test '$1': the mutation changed nothing"
    elif node "$checker" --complete "$work/mutant.yaml" >"$work/mutant.out" 2>&1; then
        bad "check-manifests accepts $1"
    else
        pass "check-manifests catches $1"
    fi
}

# --------------------------------------------------------------- manifests
check_manifests() {
    need_helm
    if "$repo/deploy/kubernetes/generate.sh" --check; then
        pass "deploy/kubernetes/d2ev.yaml is up to date"
    else
        bad "deploy/kubernetes/d2ev.yaml is stale: run deploy/kubernetes/generate.sh and commit it"
    fi
    if node "$checker" --complete --expect Deployment=6 --expect PersistentVolumeClaim=0 "$repo/deploy/kubernetes/d2ev.yaml"; then
        pass "deploy/kubernetes/d2ev.yaml manifests"
    else
        bad "deploy/kubernetes/d2ev.yaml manifests"
    fi
}

# ------------------------------------------------------------------ topics
check_topics() {
    local dump=${D2EV_TOPICS_DUMP:-}
    [[ -n "$dump" && -x "$dump" ]] || skip "D2EV_TOPICS_DUMP (the deploy_topics_dump program) is not built; run through ctest"
    need_helm
    "$dump" >"$work/topics.jsonl"
    if render topics --set topics.strimzi.enabled=true; then
        if node "$checker" --topics "$work/topics.jsonl" "$work/topics.yaml"; then
            pass "chart topics = common/topics.c ($(wc -l <"$work/topics.jsonl") topics)"
        else
            bad "chart topics differ from common/topics.c: edit helm/d2ev/templates/_topics.tpl"
        fi
    else
        bad "helm template with Strimzi topics"
    fi
}

# ------------------------------------------------------------ runtime-libs
check_runtime_libs() {
    if ! command -v dpkg-query >/dev/null || ! command -v ldd >/dev/null || ! command -v readelf >/dev/null; then
        skip "needs dpkg, ldd and readelf (a Debian build host)"
    fi
    local bin_dir=${D2EV_BIN_DIR:-$repo/build/bin} adapter_dir=${D2EV_ADAPTER_BUILD_DIR:-$repo/build/adapters}
    local -a objs=()
    shopt -s nullglob
    objs=("$bin_dir"/d2ev-* "$adapter_dir"/*.so)
    shopt -u nullglob
    [[ ${#objs[@]} -gt 0 ]] || skip "no built binaries in $bin_dir"
    if "$repo/deploy/check-runtime-deps.sh" "${objs[@]}"; then
        pass "deploy/runtime-packages.txt covers the libraries of ${#objs[@]} binaries"
    else
        bad "deploy/runtime-packages.txt misses libraries (see above)"
    fi
}

# -------------------------------------------------------------- build-deps
# Every pkg_check_modules(... REQUIRED ...) module and find_path() header of the
# root CMakeLists.txt comes from a Debian package; that package must be in the
# Dockerfile's build stage, or `docker build` fails where CI passed.
check_build_deps() {
    if ! command -v dpkg >/dev/null || ! command -v pkg-config >/dev/null; then
        skip "needs dpkg and pkg-config (a Debian build host)"
    fi
    local dockerfile="$repo/deploy/Dockerfile" build_stage mod pc pkg hdr ok=1
    # the build stage: from its FROM line to the next FROM
    build_stage=$(awk '/^FROM .* AS build/{on=1} /^FROM .* AS runtime/{on=0} on' "$dockerfile")
    local -a pkgs=()
    while read -r mod; do
        pc="$(pkg-config --variable=pcfiledir "$mod" 2>/dev/null)/$mod.pc"
        pkg=$(dpkg -S "$pc" 2>/dev/null | head -1 | cut -d: -f1) || true
        [[ -n "$pkg" ]] || pkg=$(dpkg -S "$(readlink -f "$pc")" 2>/dev/null | head -1 | cut -d: -f1) || true
        if [[ -z "$pkg" ]]; then
            bad "pkg-config module $mod ($pc) belongs to no Debian package here"
            ok=0
            continue
        fi
        pkgs+=("$pkg")
    done < <(sed -n 's/^pkg_check_modules([A-Z_]* REQUIRED IMPORTED_TARGET \([^ )]*\)).*/\1/p' "$repo/CMakeLists.txt")
    while read -r hdr; do
        pkg=$(dpkg -S "/usr/include/$hdr" 2>/dev/null | head -1 | cut -d: -f1) || true
        if [[ -z "$pkg" ]]; then
            bad "header $hdr belongs to no Debian package here"
            ok=0
            continue
        fi
        pkgs+=("$pkg")
    done < <(sed -n 's/^find_path([A-Z_]* \([^ )]*\.h\) REQUIRED).*/\1/p' "$repo/CMakeLists.txt")
    [[ ${#pkgs[@]} -ge 6 ]] || bad "found only ${#pkgs[@]} required libraries in CMakeLists.txt (did its syntax change?)"
    for pkg in "${pkgs[@]}"; do
        if grep -qw -- "$pkg" <<<"$build_stage"; then
            say "  $pkg: in the build stage"
        else
            bad "deploy/Dockerfile's build stage does not install $pkg (CMakeLists.txt requires it)"
            ok=0
        fi
    done
    if [[ $ok == 1 ]]; then
        pass "deploy/Dockerfile's build stage has the -dev package of every required library (${#pkgs[@]})"
    fi
}

# ------------------------------------------------------------------- local
# deploy/local: no secret in d2ev.env, none set both as VAR and VAR_FILE once
# secrets.env is sourced too, and the adapter configs and OEM client secrets are
# those d2ev-oemsim accepts by default (docs/oemsim.md).
check_local() {
    command -v node >/dev/null || skip "node is not installed"
    command -v openssl >/dev/null || skip "openssl is not installed"
    local dir="$repo/deploy/local" conf="$repo/docs/configuration.md" sim="$repo/docs/oemsim.md"
    "$dir/make-dev-secrets.sh" "$work/secrets" >/dev/null
    local -a env_vars secret_vars oems
    mapfile -t env_vars < <(sed -n 's/^\([A-Z][A-Z0-9_]*\)=.*/\1/p' "$dir/d2ev.env")
    # shellcheck disable=SC2016 # backquotes of Markdown, not expansions
    mapfile -t secret_vars < <(sed -n 's/^| `\(D2EV_[A-Z0-9_]*\)` | `--[a-z0-9-]*` | SECRET |.*/\1/p' "$conf" | sort -u)
    [[ ${#secret_vars[@]} -gt 5 ]] || bad "found no SECRET settings in docs/configuration.md"
    local v file_env=0 ok=1
    for v in "${env_vars[@]}"; do
        if printf '%s\n' "${secret_vars[@]}" | grep -qx -- "$v" || [[ "$v" =~ _CLIENT_SECRET$ || "$v" =~ _FILE$ ]]; then
            bad "deploy/local/d2ev.env sets the secret $v: secrets come from make-dev-secrets.sh as files"
            ok=0
        fi
        if grep -q "^${v}_FILE=" "$work/secrets/secrets.env"; then
            bad "$v is in d2ev.env and ${v}_FILE in secrets.env: the services refuse both"
            ok=0
        fi
    done
    for f in secrets.env secrets.container.env; do
        [[ -s "$work/secrets/$f" ]] || { bad "make-dev-secrets.sh wrote no $f"; ok=0; }
    done
    while IFS='=' read -r v path; do
        file_env=$((file_env + 1))
        [[ -s "$path" ]] || { bad "secrets.env: $v=$path is not a file"; ok=0; }
    done <"$work/secrets/secrets.env"
    [[ $file_env -ge 3 ]] || { bad "secrets.env names only $file_env files"; ok=0; }
    mapfile -t oems < <(sed -n 's/^D2EV_OEMS=//p' "$dir/d2ev.env" | tr ',' '\n')
    [[ ${#oems[@]} -gt 0 ]] || { bad "deploy/local/d2ev.env does not set D2EV_OEMS"; ok=0; }
    local oem want_id want_secret
    for oem in "${oems[@]}"; do
        want_id=$(sed -n "s/^| \`D2EV_SIM_${oem^^}_CLIENT_ID\` |[^|]*|[^|]*| \`\([^\`]*\)\` |.*/\1/p" "$sim")
        want_secret=$(sed -n "s/^| \`D2EV_SIM_${oem^^}_CLIENT_SECRET\` |[^|]*|[^|]*| \`\([^\`]*\)\` |.*/\1/p" "$sim")
        if [[ -z "$want_id" || -z "$want_secret" ]]; then
            bad "docs/oemsim.md has no default client id/secret for $oem"
            ok=0
            continue
        fi
        # shellcheck disable=SC2016 # a JavaScript template string
        if ! node -e '
            const [file, oem, id] = process.argv.slice(1);
            const c = JSON.parse(require("fs").readFileSync(file, "utf8"));
            const base = `http://127.0.0.1:8090/${oem}`;
            const bad = [];
            if (c.client_id !== id) bad.push(`client_id ${c.client_id}, want ${id}`);
            if (c.base_url !== base) bad.push(`base_url ${c.base_url}, want ${base}`);
            if (!String(c.token_url || "").startsWith(base + "/")) bad.push(`token_url ${c.token_url} is not under ${base}`);
            for (const k of Object.keys(c)) if (/secret|password|token$/i.test(k)) bad.push(`${k} looks like a secret`);
            if (bad.length) { console.error(bad.join("; ")); process.exit(1); }' "$dir/adapters/$oem.json" "$oem" "$want_id"; then
            bad "deploy/local/adapters/$oem.json does not match d2ev-oemsim's defaults"
            ok=0
        fi
        if [[ "$(cat "$work/secrets/oem-$oem-client-secret")" != "$want_secret" ]]; then
            bad "make-dev-secrets.sh: the $oem client secret is not d2ev-oemsim's ($want_secret)"
            ok=0
        fi
        grep -q "^D2EV_OEM_${oem^^}_CLIENT_SECRET_FILE=" "$work/secrets/secrets.env" ||
            { bad "secrets.env lacks D2EV_OEM_${oem^^}_CLIENT_SECRET_FILE"; ok=0; }
    done
    for f in "$dir"/adapters/*.json; do
        oem=$(basename "$f" .json)
        printf '%s\n' "${oems[@]}" | grep -qx -- "$oem" || { bad "adapters/$oem.json is not in d2ev.env's D2EV_OEMS"; ok=0; }
    done
    if [[ $ok == 1 ]]; then
        pass "deploy/local: ${#env_vars[@]} settings, $file_env secret files, OEMs ${oems[*]} as d2ev-oemsim expects"
    fi
}

# -------------------------------------------------------------- shellcheck
check_shellcheck() {
    command -v shellcheck >/dev/null || skip "shellcheck is not installed"
    if shellcheck "$repo/scripts/install-helm.sh" "$repo/deploy/build.sh" "$repo/deploy/check-runtime-deps.sh" \
        "$repo/deploy/kubernetes/generate.sh" "$repo/deploy/local/make-dev-secrets.sh" "$here/run.sh"; then
        pass "shellcheck"
    else
        bad "shellcheck"
    fi
}

case "${1:-all}" in
chart) check_chart ;;
manifests) check_manifests ;;
topics) check_topics ;;
runtime-libs) check_runtime_libs ;;
build-deps) check_build_deps ;;
local) check_local ;;
shellcheck) check_shellcheck ;;
all)
    for c in chart manifests topics runtime-libs build-deps local shellcheck; do
        rc=0
        (bash "${BASH_SOURCE[0]}" "$c") || rc=$?
        [[ $rc -eq 0 || $rc -eq 77 ]] || failures=$((failures + 1))
    done
    ;;
*)
    say "usage: $0 chart|manifests|topics|runtime-libs|build-deps|local|shellcheck|all"
    exit 2
    ;;
esac

if [[ $failures -gt 0 ]]; then
    say "$failures check(s) failed"
    exit 1
fi
