#!/usr/bin/env node
// Checks rendered d2ev manifests (helm template output, or deploy/kubernetes/d2ev.yaml)
// for the properties every deployment of d2ev must have.
//
//   node check-manifests.cjs [options] RENDERED.yaml
//     --expect Kind=N        exactly N objects of Kind (repeatable)
//     --topics TOPICS.jsonl  compare the KafkaTopics with the C topic table
//                            (one {"name","compacted","vehicle_keyed"} per line,
//                            printed by the deploy_topics_dump test program)
//     --complete             a render meant to run: every secret a service needs
//                            is mounted and at least one OEM is enabled (the
//                            default values configure neither)
//
// Each container's environment (its env and the ConfigMaps of its envFrom) is
// checked against docs/configuration.md, generated from the binaries' own
// settings tables: every D2EV_* variable is a setting of the binary the
// container runs (its `command`), with a value of the setting's type; a SECRET
// setting only as <VAR>_FILE, never with VAR as well (the services refuse
// both). The binaries that load OEM adapters get D2EV_ADAPTER_DIR, their
// configs and D2EV_OEMS; the export directory is a mounted volume.
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
let complete = false;
for (let i = 0; i < args.length; i++) {
    if (args[i] === '--complete') {
        complete = true;
    } else if (args[i] === '--expect') {
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
// ------------------------------------------- the binaries' settings (docs)
// docs/configuration.md: "## Settings every binary has", then "## d2ev-<name>"
// sections with tables | `D2EV_X` | `--x` | TYPE | default | description |.
const settings = { common: {}, byBinary: {} };
{
    const md = fs.readFileSync(path.join(repo, 'docs', 'configuration.md'), 'utf8');
    let section = null;
    for (const line of md.split('\n')) {
        const h = /^## (.*)$/.exec(line);
        if (h) {
            section = /^Settings every binary has/.test(h[1]) ? 'common' : /^d2ev-[a-z0-9-]+$/.test(h[1]) ? h[1] : null;
            if (section && section !== 'common') settings.byBinary[section] = settings.byBinary[section] || {};
            continue;
        }
        const row = /^\| `(D2EV_[A-Z0-9_]+)` \| `--[a-z0-9-]+` \| (STR|INT|NUM|BOOL|SECRET) \|([^|]*)\|(.*)\|$/.exec(line);
        if (!row || !section) continue;
        const table = section === 'common' ? settings.common : settings.byBinary[section];
        table[row[1]] = { type: row[2], required: /\*\*Required\.\*\*/.test(row[4]) };
    }
    if (Object.keys(settings.common).length < 5 || Object.keys(settings.byBinary).length < 7) {
        fail('docs/configuration.md', 'could not read the settings tables (did the format change?)');
    }
}
// The setting of `binary` named `name`, or undefined.
function settingOf(binary, name) {
    return (settings.byBinary[binary] || {})[name] || settings.common[name];
}
const loadsAdapters = (binary) => !!settingOf(binary, 'D2EV_OEM_CONFIG_DIR');
// The adapters the image holds: d2ev_oem_adapter(<name> ...) under oem_adapters/.
const ADAPTERS = new Set();
for (const dir of fs.readdirSync(path.join(repo, 'oem_adapters'))) {
    const f = path.join(repo, 'oem_adapters', dir, 'CMakeLists.txt');
    if (!fs.existsSync(f)) continue;
    for (const m of fs.readFileSync(f, 'utf8').matchAll(/^d2ev_oem_adapter\(([a-z0-9_]+)/gm)) ADAPTERS.add(m[1]);
}
if (ADAPTERS.size === 0) fail('oem_adapters', 'found no adapters (did adapter.cmake change?)');
// The config keys the loader accepts (it refuses others at start): its own
// (host_keys in services/oem_engine/loader.c) and each adapter's config_keys.
function cStrings(text, re) {
    const m = re.exec(text);
    return m ? [...m[1].matchAll(/"([a-z0-9_]+)"/g)].map((x) => x[1]) : null;
}
const HOST_KEYS = cStrings(fs.readFileSync(path.join(repo, 'services', 'oem_engine', 'loader.c'), 'utf8'), /host_keys\[\] = \{([^}]*)\}/) || [];
const KIT_KEYS = cStrings(fs.readFileSync(path.join(repo, 'include', 'd2ev', 'oem_kit.h'), 'utf8'), /#define D2EV_KIT_OAUTH_KEYS ([^\n]*)/) || [];
if (HOST_KEYS.length < 5 || KIT_KEYS.length < 3) fail('oem_adapters', 'could not read the adapter config keys from loader.c and oem_kit.h');
function adapterKeys(oem) {
    const f = path.join(repo, 'oem_adapters', oem, `${oem}.c`);
    if (!fs.existsSync(f)) return null;
    const text = fs.readFileSync(f, 'utf8');
    const own = cStrings(text, /config_keys\[\] = \{([^}]*)\}/);
    if (!own) return null;
    return new Set([...HOST_KEYS, ...own, ...(/D2EV_KIT_OAUTH_KEYS/.test(text) ? KIT_KEYS : [])]);
}
const OEM_SECRET = /^D2EV_OEM_([A-Z0-9_]+)_CLIENT_SECRET(_FILE)?$/;
// Secrets a service needs beyond those docs/configuration.md marks required:
// the API answers 401 to everything without its tokens.
const ALSO_NEEDED = { 'd2ev-api': ['D2EV_API_TOKENS'] };

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
const SECRET_NAME = /(SECRET|PASSWORD|TOKENS?|_KEYS?|CREDENTIALS?)(_PREVIOUS)?$/i;
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
            const oem = k.slice(0, -5);
            const known = ADAPTERS.has(oem) && adapterKeys(oem);
            if (known && parsed && typeof parsed === 'object') {
                for (const key of Object.keys(parsed)) {
                    if (!known.has(key)) fail(id(cm), `${k}: ${key} is not a setting of the ${oem} adapter (docs/adapters.md): the services refuse to start`);
                }
            }
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

// Every variable a container sees: {name: {value, from}} from envFrom ConfigMaps,
// then env (which wins, as in Kubernetes).
function containerEnv(c) {
    const env = {};
    for (const ef of c.envFrom || []) {
        const cm = ef.configMapRef && configMaps[ef.configMapRef.name];
        if (ef.configMapRef && !cm) continue; // an outside ConfigMap: not ours to check
        for (const [k, v] of Object.entries((cm && cm.data) || {})) env[k] = { value: String(v), from: `ConfigMap ${cm.metadata.name}` };
    }
    for (const e of c.env || []) env[e.name] = { value: e.value, from: e.valueFrom ? 'valueFrom' : 'env', valueFrom: e.valueFrom };
    return env;
}

const OEMS_BY_DEPLOYMENT = {};
const EXPORT_CLAIMS = {};
function checkSettings(d, c, cw, volumes) {
    const binary = path.basename((c.command || [])[0] || '');
    if (!settings.byBinary[binary]) {
        fail(cw, `runs ${binary || '(no command)'}, which docs/configuration.md does not list`);
        return;
    }
    const env = containerEnv(c);
    for (const [name, e] of Object.entries(env)) {
        if (!name.startsWith('D2EV_')) continue;
        const file = name.endsWith('_FILE') ? name.slice(0, -5) : null;
        const oemSecret = OEM_SECRET.exec(name);
        let s = settingOf(binary, name);
        if (!s && file && settingOf(binary, file) && settingOf(binary, file).type === 'SECRET') s = { type: 'FILE' };
        if (!s && oemSecret && loadsAdapters(binary)) s = { type: oemSecret[2] ? 'FILE' : 'SECRET' };
        if (!s) {
            fail(cw, `${name} (${e.from}) is not a setting of ${binary} (docs/configuration.md): a typo, or a setting of another service`);
            continue;
        }
        if (s.type === 'SECRET') {
            fail(cw, `${name} is a SECRET setting given as a value (${e.from}); mount it and set ${name}_FILE`);
            continue;
        }
        if (file && env[file]) fail(cw, `both ${file} and ${name} are set: ${binary} refuses to start`);
        if (e.value === undefined) continue; // from the downward API
        const v = e.value;
        if (s.type === 'INT' && !/^-?[0-9]+$/.test(v)) fail(cw, `${name}=${v} (${e.from}): ${binary} wants an integer`);
        if (s.type === 'NUM' && !(v !== '' && Number.isFinite(Number(v)))) fail(cw, `${name}=${v} (${e.from}): ${binary} wants a number`);
        if (s.type === 'BOOL' && !/^(1|0|true|false|yes|no|on|off)$/i.test(v)) fail(cw, `${name}=${v} (${e.from}): ${binary} wants true or false`);
    }
    const has = (name) => env[name] !== undefined;
    // secrets the binary needs
    if (complete) {
        const needed = Object.entries(settings.byBinary[binary]).filter(([, s]) => s.type === 'SECRET' && s.required).map(([n]) => n);
        for (const n of ALSO_NEEDED[binary] || []) needed.push(n);
        if (loadsAdapters(binary)) {
            for (const oem of String((env.D2EV_OEMS || {}).value || '').split(',').filter(Boolean)) needed.push(`D2EV_OEM_${oem.toUpperCase()}_CLIENT_SECRET`);
        }
        for (const n of needed) if (!has(`${n}_FILE`)) fail(cw, `${binary} needs ${n}, but ${n}_FILE is not set (the secret is not mounted)`);
        if (env.D2EV_KAFKA_SECURITY_PROTOCOL && /^sasl_/.test(env.D2EV_KAFKA_SECURITY_PROTOCOL.value) && !has('D2EV_KAFKA_SASL_PASSWORD_FILE')) {
            fail(cw, 'SASL without D2EV_KAFKA_SASL_PASSWORD_FILE');
        }
    }
    const mountOf = (dir) => (c.volumeMounts || []).find((m) => m.mountPath.replace(/\/$/, '') === String(dir).replace(/\/$/, ''));
    // the OEM adapters
    if (loadsAdapters(binary)) {
        for (const n of ['D2EV_ADAPTER_DIR', 'D2EV_OEM_CONFIG_DIR']) {
            if (!has(n)) fail(cw, `${binary} loads OEM adapters but ${n} is not set (the compiled-in adapter directory is the build tree)`);
        }
        const oems = String((env.D2EV_OEMS || {}).value || '').split(',').filter(Boolean);
        if (complete && has('D2EV_OEMS') && oems.length === 0) fail(cw, `D2EV_OEMS is empty: ${binary} has no adapter to load and refuses to start`);
        if (has('D2EV_OEM_CONFIG_DIR')) {
            const m = mountOf(env.D2EV_OEM_CONFIG_DIR.value);
            const cm = m && volumes[m.name] && volumes[m.name].configMap && configMaps[volumes[m.name].configMap.name];
            if (!cm) {
                fail(cw, `D2EV_OEM_CONFIG_DIR=${env.D2EV_OEM_CONFIG_DIR.value} is not a mounted ConfigMap of this render`);
            } else {
                for (const oem of oems) {
                    if (!(cm.data || {})[`${oem}.json`]) fail(cw, `D2EV_OEMS names ${oem} but ${cm.metadata.name} has no ${oem}.json: ${binary} refuses to start`);
                }
            }
        }
        for (const oem of oems) {
            if (!/^[a-z0-9_]{1,40}$/.test(oem)) fail(cw, `OEM name ${oem}: the adapter loader takes [a-z0-9_]{1,40}`);
            else if (!ADAPTERS.has(oem)) fail(cw, `D2EV_OEMS names ${oem}, but the image has no d2ev_oem_${oem}.so (adapters: ${[...ADAPTERS].join(', ')})`);
        }
    }
    // D2EV_OEMS defaults to all three OEMs: it must name the enabled ones
    if (settingOf(binary, 'D2EV_OEMS') && !has('D2EV_OEMS')) fail(cw, `D2EV_OEMS is not set: ${binary} would use its default (every OEM) rather than the enabled ones`);
    if (has('D2EV_OEMS')) OEMS_BY_DEPLOYMENT[`${d.metadata.name} (${binary})`] = env.D2EV_OEMS.value;
    // the HTTP port is the container's port named http
    const httpPort = (c.ports || []).find((p) => p.name === 'http');
    if (settingOf(binary, 'D2EV_HTTP_PORT') && httpPort && String((env.D2EV_HTTP_PORT || {}).value) !== String(httpPort.containerPort)) {
        fail(cw, `D2EV_HTTP_PORT=${(env.D2EV_HTTP_PORT || {}).value} but the http containerPort is ${httpPort.containerPort}`);
    }
    // the export directory: a volume (the root filesystem is read-only)
    if (has('D2EV_EXPORT_DIR') || binary === 'd2ev-exporter') {
        const dir = has('D2EV_EXPORT_DIR') ? env.D2EV_EXPORT_DIR.value : '/var/lib/d2ev/export';
        const m = mountOf(dir);
        const vol = m && volumes[m.name];
        if (!vol || !vol.persistentVolumeClaim) {
            fail(cw, `the export directory ${dir} is not a mounted PersistentVolumeClaim`);
        } else {
            const writer = binary === 'd2ev-exporter';
            if (writer && m.readOnly) fail(cw, `the exporter's directory ${dir} is mounted read-only`);
            if (!writer && m.readOnly !== true) fail(cw, `${binary} only reads the export directory: mount it read-only`);
            EXPORT_CLAIMS[vol.persistentVolumeClaim.claimName] = (EXPORT_CLAIMS[vol.persistentVolumeClaim.claimName] || 0) +
                (d.spec.replicas === undefined ? 2 : d.spec.replicas);
        }
    }
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
        checkSettings(d, c, cw, volumes);
    }

    // a PodDisruptionBudget selecting this Deployment's pods
    const pdbs = byKind('PodDisruptionBudget').filter((p) => matches(p.spec.selector.matchLabels, podLabels));
    if (pdbs.length !== 1) fail(w, `${pdbs.length} PodDisruptionBudgets select its pods, want 1`);
    // HPA-managed replicas are not also fixed by the Deployment
    const hpa = byKind('HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === d.metadata.name);
    if (hpa && d.spec.replicas !== undefined) fail(w, 'has spec.replicas while an HPA scales it (each helm upgrade would reset the scale)');
}

// Every service that names OEMs names the same ones: the bridge accepts exactly
// what registration loads, telemetry polls and dispatch commands.
if (new Set(Object.values(OEMS_BY_DEPLOYMENT)).size > 1) {
    fail(input, `D2EV_OEMS differs between services: ${Object.entries(OEMS_BY_DEPLOYMENT).map(([k, v]) => `${k}=${v}`).join('; ')}`);
}
// A claim mounted by more than one pod (replicas, an HPA, or the API and the
// exporter) must allow ReadWriteMany: pods land on different nodes.
for (const [claim, pods] of Object.entries(EXPORT_CLAIMS)) {
    const pvc = byKind('PersistentVolumeClaim').find((p) => p.metadata.name === claim);
    if (pvc && pods > 1 && !(pvc.spec.accessModes || []).includes('ReadWriteMany')) {
        fail(`PersistentVolumeClaim/${claim}`, `mounted by ${pods} pods but not ReadWriteMany`);
    }
}
for (const p of byKind('PersistentVolumeClaim')) {
    if (!Object.keys(EXPORT_CLAIMS).includes(p.metadata.name)) fail(id(p), 'no Deployment mounts it');
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
