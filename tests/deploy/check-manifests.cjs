#!/usr/bin/env node
// Checks rendered d2ev manifests (helm template output, or deploy/kubernetes/d2ev.yaml)
// for the properties every deployment of d2ev must have.
//
//   node check-manifests.cjs [options] RENDERED.yaml
//     --expect Kind=N        exactly N objects of Kind (repeatable)
//     --topics TOPICS.jsonl  compare the KafkaTopics with the C topic table
//                            (one {"name","compacted","vehicle_keyed"} per line,
//                            printed by the deploy_topics_dump test program)
//
// YAML is parsed with the `yaml` package (installed by scripts/install-helm.sh) in
// YAML 1.1 mode, as the Kubernetes API machinery reads it, with duplicate keys as
// errors. Built-in kinds are validated against the Kubernetes OpenAPI schemas
// shipped in the `kubernetes-models` package (types, required fields, enums; it
// does not flag unknown fields, which is why the d2ev checks below look for the
// fields that matter by name). Exit status 0 when every check passes; 1 with one
// line per failure.
'use strict';

const fs = require('fs');
const path = require('path');

const repo = path.resolve(__dirname, '..', '..');
const toolsDir = process.env.D2EV_TOOLS_DIR || path.join(repo, '.tools');
const modelsDir = path.join(toolsDir, 'node_modules', 'kubernetes-models');
let YAML;
try {
    YAML = require(path.join(toolsDir, 'node_modules', 'yaml'));
    require.resolve(path.join(modelsDir, 'package.json'));
} catch (e) {
    console.error(`check-manifests: the yaml or kubernetes-models package is missing in ${toolsDir}; run scripts/install-helm.sh`);
    process.exit(77);
}

// ------------------------------------------------------------------ arguments
const args = process.argv.slice(2);
const expect = {};
let topicsFile = null;
let input = null;
for (let i = 0; i < args.length; i++) {
    if (args[i] === '--expect') {
        const [kind, n] = args[++i].split('=');
        expect[kind] = Number(n);
    } else if (args[i] === '--topics') {
        topicsFile = args[++i];
    } else if (!input) {
        input = args[i];
    } else {
        console.error(`check-manifests: unexpected argument ${args[i]}`);
        process.exit(2);
    }
}
if (!input) {
    console.error('usage: check-manifests.cjs [--expect Kind=N]... [--topics FILE] RENDERED.yaml');
    process.exit(2);
}

const failures = [];
const fail = (where, msg) => failures.push(`${where}: ${msg}`);

// ---------------------------------------------------------------------- parse
const docs = [];
for (const doc of YAML.parseAllDocuments(fs.readFileSync(input, 'utf8'), { version: '1.1', uniqueKeys: true })) {
    for (const e of doc.errors) fail(input, `YAML error: ${e.message.split('\n')[0]}`);
    for (const w of doc.warnings) fail(input, `YAML warning: ${w.message.split('\n')[0]}`);
    const obj = doc.toJS({ maxAliasCount: 100 });
    if (obj === null || obj === undefined) continue; // empty document
    if (typeof obj !== 'object' || !obj.kind || !obj.apiVersion || !obj.metadata || !obj.metadata.name) {
        fail(input, `a document is not a Kubernetes object: ${JSON.stringify(obj).slice(0, 80)}`);
        continue;
    }
    docs.push(obj);
}
// ------------------------------------------------------- Kubernetes schemas
// Built-in API groups have no dot (apps, policy) or end in .k8s.io; others are CRDs
// (KafkaTopic, ServiceMonitor), checked by the d2ev rules below only.
for (const o of docs) {
    const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
    const builtin = group === '' || !group.includes('.') || group.endsWith('.k8s.io');
    if (!builtin) continue;
    const file = path.join(modelsDir, group, version, `${o.kind}.js`);
    if (!fs.existsSync(file)) {
        fail(`${o.kind}/${o.metadata.name}`, `unknown Kubernetes API ${o.apiVersion} ${o.kind}`);
        continue;
    }
    const Model = require(file)[o.kind];
    try {
        new Model(o).validate();
    } catch (e) {
        fail(`${o.kind}/${o.metadata.name}`, `does not match the ${o.apiVersion} ${o.kind} schema: ${e.message}`);
    }
}

const byKind = (kind) => docs.filter((o) => o.kind === kind);
const id = (o) => `${o.kind}/${o.metadata.name}`;

// ------------------------------------------------------------ generic objects
const seen = new Set();
for (const o of docs) {
    const key = `${o.kind}/${o.metadata.namespace || ''}/${o.metadata.name}`;
    if (seen.has(key)) fail(id(o), 'defined twice');
    seen.add(key);
    const labels = o.metadata.labels || {};
    for (const l of ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/part-of']) {
        if (!labels[l]) fail(id(o), `label ${l} missing`);
    }
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(o.metadata.name) || o.metadata.name.length > 253) {
        fail(id(o), 'name is not a valid DNS subdomain');
    }
}
for (const [kind, n] of Object.entries(expect)) {
    const got = byKind(kind).length;
    if (got !== n) fail(input, `expected ${n} ${kind} objects, found ${got}`);
}

// ------------------------------------------------------------------- secrets
// Every value held in a rendered Secret: it must appear nowhere else.
const secretValues = [];
for (const s of byKind('Secret')) {
    for (const v of Object.values(s.data || {})) secretValues.push(Buffer.from(String(v), 'base64').toString('utf8'));
    for (const v of Object.values(s.stringData || {})) secretValues.push(String(v));
}
// Secrets are often lists ("kid:key,kid:key", "token:role,..."): a leaked element
// counts too. Short fragments (roles, kids) are too common to be evidence.
const secretFragments = new Set();
for (const v of secretValues) {
    for (const f of [v, ...v.split(/[,;\s]+/), ...v.split(/[,;:\s]+/)]) {
        if (f.length >= 12) secretFragments.add(f);
    }
}
const SECRET_NAME = /(SECRET|PASSWORD|TOKENS?|_KEYS?|CREDENTIALS?)$/i;
function findSecretValue(text) {
    for (const f of secretFragments) if (text.includes(f)) return f;
    return undefined;
}

for (const cm of byKind('ConfigMap')) {
    for (const [k, v] of Object.entries(cm.data || {})) {
        if (SECRET_NAME.test(k) || /password|secret/i.test(k)) fail(id(cm), `key ${k} looks like a secret; ConfigMaps hold no secrets`);
        const hit = findSecretValue(String(v));
        if (hit) fail(id(cm), `key ${k} contains the value of a Secret`);
        // JSON adapter configs: no secret-looking fields at any depth
        if (k.endsWith('.json')) {
            let parsed;
            try {
                parsed = JSON.parse(v);
            } catch (e) {
                fail(id(cm), `${k} is not valid JSON: ${e.message}`);
                continue;
            }
            const walk = (x, p) => {
                if (x && typeof x === 'object') {
                    for (const [kk, vv] of Object.entries(x)) {
                        if (/secret|password|private_key|access_token|refresh_token/i.test(kk)) fail(id(cm), `${k}: ${p}${kk} looks like a secret`);
                        walk(vv, `${p}${kk}.`);
                    }
                }
            };
            walk(parsed, '');
        }
    }
    if (cm.metadata.name.endsWith('-env')) {
        for (const [k, v] of Object.entries(cm.data || {})) {
            if (k !== 'D2EV_KAFKA_EXTRA') continue;
            for (const kv of String(v).split(',')) {
                const prop = kv.split('=')[0];
                if (/password|secret|oauthbearer\.config/i.test(prop)) fail(id(cm), `D2EV_KAFKA_EXTRA sets ${prop}: a secret in a ConfigMap`);
            }
        }
    }
}

// --------------------------------------------------------------- deployments
const configMaps = Object.fromEntries(byKind('ConfigMap').map((c) => [c.metadata.name, c]));
const matches = (selector, labels) => Object.entries(selector || {}).every(([k, v]) => labels[k] === v);

function envValue(container, name) {
    const e = (container.env || []).find((x) => x.name === name);
    if (e) return e.value;
    for (const ef of container.envFrom || []) {
        const cm = ef.configMapRef && configMaps[ef.configMapRef.name];
        if (cm && cm.data && name in cm.data) return cm.data[name];
    }
    return undefined;
}

const deployments = byKind('Deployment');
if (deployments.length === 0) fail(input, 'no Deployments rendered');
for (const d of deployments) {
    const w = id(d);
    const pod = d.spec.template.spec;
    const podLabels = d.spec.template.metadata.labels || {};
    if (!matches(d.spec.selector.matchLabels, podLabels)) fail(w, 'selector does not match the pod labels');
    const psc = pod.securityContext || {};
    if (pod.automountServiceAccountToken !== false) fail(w, 'automountServiceAccountToken must be false (the services never call the API)');
    if (pod.enableServiceLinks !== false) fail(w, 'enableServiceLinks must be false (service env vars collide with D2EV_* settings)');
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) fail(w, 'uses host namespaces');

    const volumes = Object.fromEntries((pod.volumes || []).map((v) => [v.name, v]));
    const containers = [...(pod.initContainers || []), ...(pod.containers || [])];
    if (!pod.containers || pod.containers.length === 0) fail(w, 'no containers');
    for (const c of containers) {
        const cw = `${w} container ${c.name}`;
        const sc = c.securityContext || {};
        // probes on the admin port
        const adminPort = (c.ports || []).find((p) => p.name === 'admin');
        if (!adminPort) fail(cw, 'no container port named "admin"');
        for (const [probe, p] of [['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']]) {
            const pr = c[probe];
            if (!pr || !pr.httpGet) {
                fail(cw, `${probe} missing (want httpGet ${p} on the admin port)`);
                continue;
            }
            if (pr.httpGet.path !== p) fail(cw, `${probe} path is ${pr.httpGet.path}, want ${p}`);
            if (pr.httpGet.port !== 'admin' && !(adminPort && pr.httpGet.port === adminPort.containerPort)) fail(cw, `${probe} is not on the admin port`);
        }
        const envAdmin = envValue(c, 'D2EV_ADMIN_PORT');
        if (adminPort && String(envAdmin) !== String(adminPort.containerPort)) fail(cw, `D2EV_ADMIN_PORT=${envAdmin} but the admin containerPort is ${adminPort.containerPort}`);
        // resources
        for (const kind of ['requests', 'limits']) {
            for (const r of ['cpu', 'memory']) {
                if (!c.resources || !c.resources[kind] || c.resources[kind][r] === undefined) fail(cw, `resources.${kind}.${r} missing`);
            }
        }
        // security context (container settings win over the pod's)
        const eff = (k) => (sc[k] !== undefined ? sc[k] : psc[k]);
        if (eff('runAsNonRoot') !== true) fail(cw, 'runAsNonRoot is not true');
        if (eff('runAsUser') === 0) fail(cw, 'runAsUser is 0');
        if (sc.readOnlyRootFilesystem !== true) fail(cw, 'readOnlyRootFilesystem is not true');
        if (sc.allowPrivilegeEscalation !== false) fail(cw, 'allowPrivilegeEscalation is not false');
        if (sc.privileged) fail(cw, 'privileged');
        const drop = ((sc.capabilities || {}).drop || []).map((x) => String(x).toUpperCase());
        if (!drop.includes('ALL')) fail(cw, 'capabilities.drop does not include ALL');
        if (((sc.capabilities || {}).add || []).length) fail(cw, 'adds capabilities');
        const seccomp = (sc.seccompProfile || psc.seccompProfile || {}).type;
        if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') fail(cw, `seccompProfile is ${seccomp}, want RuntimeDefault`);
        // image
        if (!/(@sha256:[0-9a-f]{64}|:[\w][\w.-]*)$/.test(c.image) || /:latest$/.test(c.image)) fail(cw, `image ${c.image} has no pinned tag or digest`);
        // writable /tmp on the read-only root
        const tmp = (c.volumeMounts || []).find((m) => m.mountPath === '/tmp');
        if (!tmp || !volumes[tmp.name] || !volumes[tmp.name].emptyDir) fail(cw, '/tmp is not an emptyDir (the root filesystem is read-only)');
        // instance id from the pod name
        const inst = (c.env || []).find((e) => e.name === 'D2EV_INSTANCE_ID');
        if (!inst || !inst.valueFrom || !inst.valueFrom.fieldRef || inst.valueFrom.fieldRef.fieldPath !== 'metadata.name') fail(cw, 'D2EV_INSTANCE_ID does not come from metadata.name');
        // secrets: only as mounted files (or secretKeyRef), never literal values
        const secretMounts = (c.volumeMounts || []).filter((m) => {
            const v = volumes[m.name];
            return v && (v.secret || (v.projected && (v.projected.sources || []).some((s) => s.secret)));
        });
        for (const e of c.env || []) {
            if (e.name.endsWith('_FILE')) {
                if (typeof e.value !== 'string' || !secretMounts.some((m) => e.value.startsWith(m.mountPath.replace(/\/?$/, '/')))) {
                    fail(cw, `${e.name}=${e.value} is not inside a mounted Secret`);
                }
                // the file must actually be projected
                const file = path.basename(e.value || '');
                const provided = secretMounts.some((m) => {
                    const v = volumes[m.name];
                    const srcs = v.secret ? [{ secret: v.secret }] : v.projected.sources;
                    return srcs.some((s) => s.secret && (!s.secret.items || s.secret.items.some((it) => it.path === file)));
                });
                if (!provided) fail(cw, `${e.name}: no Secret item is projected as ${file}`);
            } else if (SECRET_NAME.test(e.name) && e.value !== undefined) {
                fail(cw, `${e.name} carries a literal value; secrets are mounted files`);
            }
            if (typeof e.value === 'string' && findSecretValue(e.value)) fail(cw, `${e.name} contains the value of a Secret`);
        }
        for (const m of c.volumeMounts || []) {
            if (secretMounts.includes(m) && m.readOnly !== true) fail(cw, `Secret mount ${m.mountPath} is not read-only`);
        }
        // graceful shutdown fits in the grace period
        const timeoutMs = Number(envValue(c, 'D2EV_SHUTDOWN_TIMEOUT_MS') || 9500);
        let preStop = 0;
        const cmd = (((c.lifecycle || {}).preStop || {}).exec || {}).command || [];
        if (cmd.length === 2 && /sleep$/.test(cmd[0])) preStop = Number(cmd[1]);
        const grace = pod.terminationGracePeriodSeconds === undefined ? 30 : pod.terminationGracePeriodSeconds;
        if (grace < preStop + Math.ceil(timeoutMs / 1000)) fail(cw, `terminationGracePeriodSeconds ${grace} < preStop ${preStop} s + shutdown deadline ${timeoutMs} ms`);
    }

    // a PodDisruptionBudget selecting this Deployment's pods
    const pdbs = byKind('PodDisruptionBudget').filter((p) => matches(p.spec.selector.matchLabels, podLabels));
    if (pdbs.length !== 1) fail(w, `${pdbs.length} PodDisruptionBudgets select its pods, want 1`);
    // HPA-managed replicas are not also fixed by the Deployment
    const hpa = byKind('HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === d.metadata.name);
    if (hpa && d.spec.replicas !== undefined) fail(w, 'has spec.replicas while an HPA scales it (each helm upgrade would reset the scale)');
}

for (const h of byKind('HorizontalPodAutoscaler')) {
    if (!deployments.some((d) => d.metadata.name === h.spec.scaleTargetRef.name)) fail(id(h), 'scales a Deployment that is not rendered');
    if (h.spec.minReplicas > h.spec.maxReplicas) fail(id(h), 'minReplicas > maxReplicas');
}
for (const p of byKind('PodDisruptionBudget')) {
    if (!deployments.some((d) => matches(p.spec.selector.matchLabels, d.spec.template.metadata.labels || {}))) fail(id(p), 'selects no Deployment');
}

// ------------------------------------------------------------------ services
for (const s of byKind('Service')) {
    const targets = deployments.filter((d) => matches(s.spec.selector, d.spec.template.metadata.labels || {}));
    if (!s.spec.selector || targets.length === 0) {
        fail(id(s), 'selects no Deployment');
        continue;
    }
    for (const port of s.spec.ports || []) {
        const ok = targets.every((d) => d.spec.template.spec.containers.some((c) =>
            (c.ports || []).some((cp) => cp.name === port.targetPort || cp.containerPort === port.targetPort)));
        if (!ok) fail(id(s), `targetPort ${port.targetPort} is not a port of the selected pods`);
    }
}
for (const sm of byKind('ServiceMonitor')) {
    const sel = sm.spec.selector.matchLabels;
    const svcs = byKind('Service').filter((s) => matches(sel, s.metadata.labels || {}));
    if (svcs.length !== deployments.length) fail(id(sm), `selects ${svcs.length} Services, want one per Deployment (${deployments.length})`);
    for (const ep of sm.spec.endpoints || []) {
        if (!svcs.every((s) => s.spec.ports.some((p) => p.name === ep.port))) fail(id(sm), `port ${ep.port} missing on a selected Service`);
    }
}

// -------------------------------------------------------------------- topics
const kafkaTopics = byKind('KafkaTopic');
const vehiclePartitions = new Set();
for (const t of kafkaTopics) {
    const cfg = t.spec.config || {};
    if (!['compact', 'delete'].includes(cfg['cleanup.policy'])) fail(id(t), `cleanup.policy is ${cfg['cleanup.policy']}`);
    if (!t.metadata.labels['strimzi.io/cluster']) fail(id(t), 'no strimzi.io/cluster label');
}
if (topicsFile) {
    const spec = fs.readFileSync(topicsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    if (spec.length === 0) fail(topicsFile, 'no topics');
    const chart = Object.fromEntries(kafkaTopics.map((t) => [t.spec.topicName, t]));
    for (const s of spec) {
        const t = chart[s.name];
        if (!t) {
            fail('topics', `${s.name} is in common/topics.c but not in the chart (helm/d2ev/templates/_topics.tpl)`);
            continue;
        }
        const policy = t.spec.config['cleanup.policy'];
        if ((policy === 'compact') !== s.compacted) fail('topics', `${s.name}: cleanup.policy=${policy} in the chart, compacted=${s.compacted} in common/topics.c`);
        if (s.vehicle_keyed) vehiclePartitions.add(t.spec.partitions);
        t.matched = true;
    }
    for (const t of kafkaTopics) {
        if (!t.matched) fail('topics', `${t.spec.topicName} is in the chart but not in common/topics.c`);
    }
    if (vehiclePartitions.size > 1) fail('topics', `vehicle-keyed topics have different partition counts: ${[...vehiclePartitions].join(', ')}`);
}

// ------------------------------------------------------------------- report
if (failures.length) {
    for (const f of failures) console.error(`FAIL ${f}`);
    console.error(`check-manifests: ${failures.length} problem(s) in ${input}`);
    process.exit(1);
}
const counts = {};
for (const o of docs) counts[o.kind] = (counts[o.kind] || 0) + 1;
console.log(`check-manifests: ${input}: OK (${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ')})`);
