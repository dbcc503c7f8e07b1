/*
 * Integration: the app backend's view of registration, end to end.
 *
 * Real binaries: d2ev-devbroker, d2ev-oemsim (short token lifetimes), d2ev-
 * registration and d2ev-bridge, all on one scaled clock (60x). The outside
 * clients are curl (libcurl from the test, and the curl command for the
 * documented shell example) for the bridge, and kcat (via popen) for every
 * topic read. At the end, every process's log is searched for every token,
 * code and secret the run used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bridge_sign.h"
#include "d2ev/clock.h"
#include "d2ev/crypto.h"
#include "d2ev/log.h"
#include "d2ev/topics.h"
#include "d2ev_test.h"

#define HMAC_SECRET "it-bridge-hmac-secret-0123456789"
#define KEY_B64     "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k="
#define KEY2_B64    "VGhpcyBpcyBhIG5ldyBrZXkgZm9yIHJvdGF0aW9uISE="
#define WAIT_MS     30000
#define MAX_SECRETS 256

struct world {
    const char *tmp;
    struct d2ev_test_broker broker;
    struct d2ev_test_proc sim, reg, bridge;
    int sim_port, bridge_port, reg_admin;
    char sim_url[64];
    struct d2ev_keyring *keys;
    /* every token, code and secret seen, for the log search */
    char *secrets[MAX_SECRETS];
    size_t nsecrets;
    /* vehicles linked by the first test */
    char smartcar_id[64], smartcar_vid[65];
    char tesla_id[64], tesla_vid[65];
    char enode_id[64], enode_vid[65];
    /* a request answered before, for a re-delivery after a restart */
    char *old_request, old_rid[65];
    long long reuse_expected; /* spent refresh tokens presented on purpose */
};

static struct world W;

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static void remember_secret(const char *s)
{
    if (!s || strlen(s) < 8 || W.nsecrets == MAX_SECRETS)
        return;
    for (size_t i = 0; i < W.nsecrets; i++)
        if (!strcmp(W.secrets[i], s))
            return;
    W.secrets[W.nsecrets++] = strdup(s);
}

/* ------------------------------------------------------------ kcat */

/* Every record of topic, read with kcat: [{"key", "value" (parsed) | null,
 * "tombstone"}]. */
static json_t *kcat_read(const char *topic)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "kcat -C -b '%s' -t '%s' -o beginning -e -Z -q -f '%%k\\t%%S\\t%%s\\n' 2>/dev/null",
             W.broker.bootstrap, topic);
    FILE *p = popen(cmd, "r");
    if (!p)
        fail_msg("cannot run kcat");
    json_t *out = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, p)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        char *t1 = strchr(line, '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2)
            continue;
        *t1 = *t2 = '\0';
        bool tomb = atol(t1 + 1) < 0;
        json_t *v = tomb ? json_null() : json_loads(t2 + 1, 0, NULL);
        json_array_append_new(out, json_pack("{s:s, s:o, s:b}", "key", line, "value",
                                             v ? v : json_null(), "tombstone", tomb));
    }
    free(line);
    pclose(p);
    return out;
}

/* Records of topic under key (a new array). */
static json_t *records_of(const char *topic, const char *key)
{
    json_t *all = kcat_read(topic), *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(all, i, r)
    {
        if (!strcmp(json_string_value(json_object_get(r, "key")), key))
            json_array_append(out, r);
    }
    json_decref(all);
    return out;
}

/* The result of request_id on d2ev.registration.results, waiting for it. */
static json_t *wait_result(const char *request_id)
{
    int64_t deadline = d2ev_clock_mono_ms() + WAIT_MS;
    while (d2ev_clock_mono_ms() < deadline) {
        json_t *all = kcat_read(D2EV_TOPIC_REG_RESULTS);
        size_t i;
        json_t *r;
        json_array_foreach(all, i, r)
        {
            json_t *v = json_object_get(r, "value");
            if (!strcmp(or_empty(json_string_value(json_object_get(v, "request_id"))),
                        request_id)) {
                json_incref(v);
                json_decref(all);
                return v;
            }
        }
        json_decref(all);
        usleep(200000);
    }
    fail_msg("no result for %s within %d ms", request_id, WAIT_MS);
    return NULL;
}

/* The results of request ids "<prefix><i>" for i < n, waiting for all of them
 * with one topic read per poll; out[i] are new references. */
static void wait_results(const char *prefix, int n, json_t **out)
{
    memset(out, 0, (size_t)n * sizeof(*out));
    int64_t deadline = d2ev_clock_mono_ms() + WAIT_MS;
    for (int found = 0; found < n;) {
        if (d2ev_clock_mono_ms() > deadline)
            fail_msg("only %d of %d results for %s* within %d ms", found, n, prefix, WAIT_MS);
        json_t *all = kcat_read(D2EV_TOPIC_REG_RESULTS);
        size_t i;
        json_t *r;
        json_array_foreach(all, i, r)
        {
            json_t *v = json_object_get(r, "value");
            const char *rid = or_empty(json_string_value(json_object_get(v, "request_id")));
            size_t plen = strlen(prefix);
            if (strncmp(rid, prefix, plen) || !rid[plen])
                continue;
            char *end;
            long k = strtol(rid + plen, &end, 10);
            if (*end || k < 0 || k >= n || out[k])
                continue;
            out[k] = json_incref(v);
            found++;
        }
        json_decref(all);
        if (found < n)
            usleep(200000);
    }
}

static size_t count_results(const char *request_id)
{
    json_t *all = kcat_read(D2EV_TOPIC_REG_RESULTS);
    size_t i, n = 0;
    json_t *r;
    json_array_foreach(all, i, r)
    {
        json_t *v = json_object_get(r, "value");
        n += !strcmp(or_empty(json_string_value(json_object_get(v, "request_id"))), request_id);
    }
    json_decref(all);
    return n;
}

/* ------------------------------------------------------------ the bridge over HTTP */

struct reply {
    long status;
    json_t *json;
};

/* A request to the bridge signed at ts with secret (NULL: unsigned). */
static struct reply call_at(const char *method, const char *path, const char *body,
                            const char *secret, int64_t ts, const char *idem)
{
    char url[256], hts[64], hsig[128], hidem[128], tsbuf[32];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", W.bridge_port, path);
    snprintf(tsbuf, sizeof(tsbuf), "%lld", (long long)ts);
    const char *headers[5] = { "Content-Type: application/json" };
    size_t nh = 1;
    if (secret) {
        char hex[BRIDGE_SIG_HEX_LEN + 1];
        bridge_sign(secret, strlen(secret), tsbuf, method, path, body ? body : "",
                    body ? strlen(body) : 0, hex);
        snprintf(hts, sizeof(hts), "X-D2EV-Timestamp: %s", tsbuf);
        snprintf(hsig, sizeof(hsig), "X-D2EV-Signature: v1=%s", hex);
        headers[nh++] = hts;
        headers[nh++] = hsig;
    }
    if (idem) {
        snprintf(hidem, sizeof(hidem), "Idempotency-Key: %s", idem);
        headers[nh++] = hidem;
    }
    headers[nh] = NULL;
    char *out = NULL;
    struct reply r = { 0 };
    r.status = d2ev_test_http(method, url, headers, body, body ? strlen(body) : 0, &out);
    r.json = out ? json_loads(out, 0, NULL) : NULL;
    free(out);
    return r;
}

static struct reply call(const char *method, const char *path, const char *body)
{
    return call_at(method, path, body, HMAC_SECRET, d2ev_clock_real_ms() / 1000, NULL);
}

static const char *jstr(const json_t *o, const char *path)
{
    const json_t *v = o;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save = NULL, *t = strtok_r(buf, ".", &save); t && v; t = strtok_r(NULL, ".", &save))
        v = json_object_get(v, t);
    return json_string_value(v);
}

static void expect_error(struct reply r, long status, const char *code)
{
    if (r.status != status || !jstr(r.json, "error.code") ||
        strcmp(jstr(r.json, "error.code"), code))
        fail_msg("want %ld %s, got %ld %s", status, code, r.status,
                 r.json ? json_dumps(r.json, JSON_COMPACT) : "(no body)");
    json_decref(r.json);
}

/* ------------------------------------------------------------ the simulator */

static void sim_vehicle(const char *oem, int n, char out[64])
{
    char url[160], *body = NULL;
    snprintf(url, sizeof(url), "%s/_sim/vehicles?oem=%s&limit=%d", W.sim_url, oem, n + 1);
    assert_int_equal(d2ev_test_http("GET", url, NULL, NULL, 0, &body), 200);
    json_t *j = json_loads(body, 0, NULL);
    snprintf(out, 64, "%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(j, "vehicles"), (size_t)n), "id")));
    json_decref(j);
    free(body);
}

/* The driver consents at the OEM: a fresh authorisation code. */
static void sim_authorize(const char *id, char code[128], char redirect[128])
{
    char url[160], *body = NULL;
    snprintf(url, sizeof(url), "%s/_sim/vehicles/%s/authorize", W.sim_url, id);
    assert_int_equal(d2ev_test_http("POST", url, NULL, "{}", 2, &body), 200);
    json_t *j = json_loads(body, 0, NULL);
    snprintf(code, 128, "%s", json_string_value(json_object_get(j, "code")));
    snprintf(redirect, 128, "%s", json_string_value(json_object_get(j, "redirect_uri")));
    remember_secret(code);
    json_decref(j);
    free(body);
}

/* redirect URIs are URLs: percent-encode for a form (caller frees). */
static char *form_escape(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *p = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~')
            *p++ = (char)c;
        else
            p += sprintf(p, "%%%02X", c);
    }
    *p = '\0';
    return out;
}

static void sim_set(const char *id, const char *state)
{
    char url[160];
    snprintf(url, sizeof(url), "%s/_sim/vehicles/%s/state", W.sim_url, id);
    assert_int_equal(d2ev_test_http("POST", url, NULL, state, strlen(state), NULL), 200);
}

static long long sim_stat(const char *a, const char *b)
{
    char url[160], *body = NULL;
    snprintf(url, sizeof(url), "%s/_sim/stats", W.sim_url);
    assert_int_equal(d2ev_test_http("GET", url, NULL, NULL, 0, &body), 200);
    json_t *j = json_loads(body, 0, NULL);
    json_t *v = json_object_get(j, a);
    if (b)
        v = json_object_get(v, b);
    long long n = json_integer_value(v);
    json_decref(j);
    free(body);
    return n;
}

/* ------------------------------------------------------------ credentials */

struct tokens {
    char access[512], refresh[512];
    int64_t version;
    const char *sealed_kid;
};

/* Open the latest credentials record of vid; false when there is none. The
 * sealed blob must not contain the tokens in clear. */
static bool open_credentials(const char *vid, struct tokens *t)
{
    json_t *recs = records_of(D2EV_TOPIC_CREDENTIALS, vid);
    size_t n = json_array_size(recs);
    json_t *last = n ? json_object_get(json_array_get(recs, n - 1), "value") : NULL;
    if (!last || json_is_null(last)) {
        json_decref(recs);
        return false;
    }
    const char *sealed = json_string_value(json_object_get(last, "sealed"));
    size_t len = 0;
    struct d2ev_err err = { 0 };
    char *plain = d2ev_crypto_open(W.keys, sealed, vid, &len, &err);
    if (!plain)
        fail_msg("credentials of %s do not open: %s", vid, err.msg);
    json_t *tok = json_loads(plain, 0, NULL);
    memset(t, 0, sizeof(*t));
    snprintf(t->access, sizeof(t->access), "%s", or_empty(jstr(tok, "access_token")));
    snprintf(t->refresh, sizeof(t->refresh), "%s", or_empty(jstr(tok, "refresh_token")));
    t->version = json_integer_value(json_object_get(last, "version"));
    assert_non_null(strstr(plain, "\"token_type\""));
    assert_non_null(t->access[0] ? sealed : NULL);
    assert_null(strstr(sealed, t->access)); /* sealed, not encoded */
    if (t->refresh[0])
        assert_null(strstr(sealed, t->refresh));
    remember_secret(t->access);
    remember_secret(t->refresh);
    json_decref(tok);
    d2ev_crypto_free_secret(plain, len);
    json_decref(recs);
    return true;
}

static size_t count_records(const char *topic, const char *vid)
{
    json_t *recs = records_of(topic, vid);
    size_t n = json_array_size(recs);
    json_decref(recs);
    return n;
}

/* The latest vehicle record of vid (new reference) or NULL. */
static json_t *vehicle_record(const char *vid)
{
    json_t *recs = records_of(D2EV_TOPIC_VEHICLES, vid);
    size_t n = json_array_size(recs);
    json_t *v = n ? json_object_get(json_array_get(recs, n - 1), "value") : NULL;
    if (v)
        json_incref(v);
    json_decref(recs);
    return v;
}

/* ------------------------------------------------------------ fixture */

static void write_adapter_config(const char *oem, const char *token_path)
{
    char path[600], text[400];
    snprintf(path, sizeof(path), "%s/adapters/%s.json", W.tmp, oem);
    snprintf(text, sizeof(text),
             "{\"base_url\":\"%s/%s\",\"token_url\":\"%s/%s/%s\",\"client_id\":\"sim-%s-client\","
             "\"rate_limit\":{\"per_second\":1000,\"burst\":1000}}",
             W.sim_url, oem, W.sim_url, oem, token_path, oem);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char g_env[12][256];

static const char *const *common_env(void)
{
    static const char *env[13];
    snprintf(g_env[0], sizeof(g_env[0]), "D2EV_KAFKA_BROKERS=%s", W.broker.bootstrap);
    snprintf(g_env[1], sizeof(g_env[1]), "D2EV_CLOCK_SPEED=60");
    snprintf(g_env[2], sizeof(g_env[2]), "D2EV_CLOCK_ORIGIN=%lld", (long long)d2ev_clock_real_ms());
    snprintf(g_env[3], sizeof(g_env[3]), "D2EV_CREDENTIALS_KEYS=k1:" KEY_B64);
    snprintf(g_env[4], sizeof(g_env[4]), "D2EV_BRIDGE_HMAC_SECRET=" HMAC_SECRET);
    snprintf(g_env[5], sizeof(g_env[5]), "D2EV_OEM_SMARTCAR_CLIENT_SECRET=sim-smartcar-secret");
    snprintf(g_env[6], sizeof(g_env[6]), "D2EV_OEM_TESLA_CLIENT_SECRET=sim-tesla-secret");
    snprintf(g_env[7], sizeof(g_env[7]), "D2EV_OEM_ENODE_CLIENT_SECRET=sim-enode-secret");
    snprintf(g_env[8], sizeof(g_env[8]), "D2EV_LOG_LEVEL=debug");
    for (int i = 0; i < 9; i++)
        env[i] = g_env[i];
    env[9] = NULL;
    return env;
}

static void wait_ready(int admin_port, struct d2ev_test_proc *p)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", admin_port);
    if (!d2ev_test_wait_http(url, 200, WAIT_MS))
        fail_msg("%s never became ready (see %s)", p->name, p->log_path);
}

/* Start d2ev-registration with env (its log is appended to across restarts). */
static void start_registration(const char *const *env)
{
    static char r1[32], r2[640];
    W.reg_admin = d2ev_test_free_port();
    snprintf(r1, sizeof(r1), "--admin-port=%d", W.reg_admin);
    snprintf(r2, sizeof(r2), "--oem-config-dir=%s/adapters", W.tmp);
    const char *reg_argv[] = {
        r1, r2, "--refresh-margin-s=240", "--refresh-dedupe-ms=1000", "--tick-ms=200", NULL
    };
    d2ev_test_spawn(&W.reg, W.tmp, "registration", d2ev_test_bin("d2ev-registration"), reg_argv,
                    env);
}

static int setup(void **state)
{
    d2ev_log_init("test", D2EV_LOG_WARN);
    W.tmp = strdup(d2ev_test_tmpdir("registration"));
    W.keys = d2ev_keyring_parse("k1:" KEY_B64, NULL);
    remember_secret(HMAC_SECRET);
    remember_secret(KEY_B64);
    remember_secret("sim-smartcar-secret");
    remember_secret("sim-tesla-secret");
    d2ev_test_broker_start(&W.broker, W.tmp, 4);
    const char *const *env = common_env();

    W.sim_port = d2ev_test_free_port();
    int sim_admin = d2ev_test_free_port();
    snprintf(W.sim_url, sizeof(W.sim_url), "http://127.0.0.1:%d", W.sim_port);
    char a1[32], a2[32];
    snprintf(a1, sizeof(a1), "--sim-port=%d", W.sim_port);
    snprintf(a2, sizeof(a2), "--admin-port=%d", sim_admin);
    /* Smartcar access tokens last 5 simulated minutes (5 s here); the
     * registration refreshes them 4 minutes early: every real second */
    const char *sim_argv[] = { a1,
                               a2,
                               "--sim-vehicles=60",
                               "--sim-plug-schedule=false",
                               "--sim-smartcar-access-ttl-s=300",
                               NULL };
    d2ev_test_spawn(&W.sim, W.tmp, "oemsim", d2ev_test_bin("d2ev-oemsim"), sim_argv, env);
    wait_ready(sim_admin, &W.sim);

    char dir[600];
    snprintf(dir, sizeof(dir), "%s/adapters", W.tmp);
    mkdir(dir, 0700);
    write_adapter_config("smartcar", "oauth/token");
    write_adapter_config("tesla", "oauth2/v3/token");
    write_adapter_config("enode", "oauth2/token");

    start_registration(env);

    W.bridge_port = d2ev_test_free_port();
    int bridge_admin = d2ev_test_free_port();
    char b1[32], b2[32];
    snprintf(b1, sizeof(b1), "--admin-port=%d", bridge_admin);
    snprintf(b2, sizeof(b2), "--http-port=%d", W.bridge_port);
    /* "acme" is accepted here but not configured downstream */
    const char *bridge_argv[] = { b1, b2, "--oems=smartcar,tesla,enode,acme",
                                  "--max-body-bytes=8192", NULL };
    d2ev_test_spawn(&W.bridge, W.tmp, "bridge", d2ev_test_bin("d2ev-bridge"), bridge_argv, env);
    wait_ready(W.reg_admin, &W.reg);
    wait_ready(bridge_admin, &W.bridge);
    return 0;
}

static int teardown(void **state)
{
    d2ev_test_stop(&W.bridge, SIGTERM, 10000);
    d2ev_test_stop(&W.reg, SIGTERM, 10000);
    d2ev_test_stop(&W.sim, SIGTERM, 10000);
    d2ev_test_broker_stop(&W.broker);
    d2ev_keyring_destroy(W.keys);
    for (size_t i = 0; i < W.nsecrets; i++)
        free(W.secrets[i]);
    free(W.old_request);
    free((void *)W.tmp);
    return 0;
}

/* ------------------------------------------------------------ tests */

static const char *register_body(const char *oem, const char *id, const char *code,
                                 const char *redirect, const char *extra)
{
    static char buf[2048];
    char auth[400] = "";
    if (code)
        snprintf(auth, sizeof(auth), ",\"authorization\":{\"code\":\"%s\",\"redirect_uri\":\"%s\"}",
                 code, redirect);
    snprintf(buf, sizeof(buf),
             "{\"user_id\":\"u-%s\",\"oem\":\"%s\",\"oem_vehicle_id\":\"%s\","
             "\"timezone\":\"Europe/London\",\"region\":\"GB-LON\"%s%s}",
             oem, oem, id, auth, extra ? extra : "");
    return buf;
}

/* POST a registration; returns the request id and fills vid. */
static void post_register(const char *body, char rid[65], char vid[65])
{
    struct reply r = call("POST", "/v1/registrations", body);
    if (r.status != 202)
        fail_msg("register: %ld %s", r.status, r.json ? json_dumps(r.json, 0) : "");
    snprintf(rid, 65, "%s", jstr(r.json, "request_id"));
    snprintf(vid, 65, "%s", jstr(r.json, "vehicle_id"));
    assert_string_equal(jstr(r.json, "status"), "pending");
    json_decref(r.json);
}

static void expect_result(const char *rid, bool accepted, const char *code)
{
    json_t *res = wait_result(rid);
    bool got = json_is_true(json_object_get(res, "accepted"));
    if (got != accepted || strcmp(jstr(res, "code"), code))
        fail_msg("%s: want %s %s, got %s", rid, accepted ? "accepted" : "rejected", code,
                 json_dumps(res, JSON_COMPACT));
    json_decref(res);
}

static void test_register_writes_record_and_sealed_credentials(void **state)
{
    char code[128], redirect[128], rid[65];
    /* Smartcar and Tesla: an OAuth code from the driver's consent */
    sim_vehicle("smartcar", 0, W.smartcar_id);
    sim_authorize(W.smartcar_id, code, redirect);
    post_register(register_body("smartcar", W.smartcar_id, code, redirect,
                                ",\"prefs\":{\"target_soc\":90,\"ready_by\":{\"mon\":\"06:30\"}},"
                                "\"max_power_kw\":7.4"),
                  rid, W.smartcar_vid);
    expect_result(rid, true, "ok");

    sim_vehicle("tesla", 0, W.tesla_id);
    sim_authorize(W.tesla_id, code, redirect);
    post_register(register_body("tesla", W.tesla_id, code, redirect, NULL), rid, W.tesla_vid);
    expect_result(rid, true, "ok");

    json_t *v = vehicle_record(W.smartcar_vid);
    assert_non_null(v);
    assert_string_equal(jstr(v, "oem_vehicle_id"), W.smartcar_id);
    assert_string_equal(jstr(v, "user_id"), "u-smartcar");
    assert_string_equal(jstr(v, "timezone"), "Europe/London");
    assert_string_equal(jstr(v, "status"), "active");
    assert_int_equal(json_integer_value(json_object_get(v, "prefs_version")), 1);
    assert_true(json_real_value(json_object_get(json_object_get(v, "prefs"), "target_soc")) == 90);
    assert_string_equal(jstr(v, "prefs.ready_by.mon"), "06:30");
    assert_string_equal(jstr(v, "prefs.ready_by.tue"), "07:00"); /* the defaults under the patch */
    assert_true(json_real_value(json_object_get(v, "max_power_kw")) == 7.4);
    json_decref(v);

    struct tokens t;
    assert_true(open_credentials(W.smartcar_vid, &t));
    assert_true(t.access[0] && t.refresh[0]);
    json_t *c = records_of(D2EV_TOPIC_CREDENTIALS, W.smartcar_vid);
    json_t *cv = json_object_get(json_array_get(c, 0), "value");
    assert_string_equal(jstr(cv, "key_id"), "k1");
    assert_string_equal(jstr(cv, "oem"), "smartcar");
    json_decref(c);
    /* the token really is the car's: it reads the car at the OEM */
    char url[200], auth[600];
    snprintf(url, sizeof(url), "%s/smartcar/v2.0/vehicles/%s/battery", W.sim_url, W.smartcar_id);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t.access);
    const char *h[] = { auth, NULL };
    long st = d2ev_test_http("GET", url, h, NULL, 0, NULL);
    assert_true(st == 200 || st == 409); /* 409: the car sleeps, but the token is good */

    /* Enode: per-application tokens, linked in Enode's own flow; registered
     * with the documented shell example (openssl + curl) */
    sim_vehicle("enode", 0, W.enode_id);
    sim_authorize(W.enode_id, code, redirect);
    char script[2048], out[600];
    snprintf(out, sizeof(out), "%s/curl-example.json", W.tmp);
    snprintf(script, sizeof(script),
             "SECRET='%s'\n"
             "BODY='{\"user_id\":\"u-enode\",\"oem\":\"enode\",\"oem_vehicle_id\":\"%s\","
             "\"timezone\":\"Europe/Berlin\",\"region\":\"DE\"}'\n"
             "TS=$(date +%%s)\n"
             "SIG=$(printf '%%s' \"$TS.POST./v1/registrations.$BODY\" | openssl dgst -sha256 "
             "-hmac \"$SECRET\" -r | cut -d' ' -f1)\n"
             "curl -sS -X POST http://127.0.0.1:%d/v1/registrations -H \"X-D2EV-Timestamp: $TS\" "
             "-H \"X-D2EV-Signature: v1=$SIG\" -H 'Content-Type: application/json' "
             "--data-binary \"$BODY\" > '%s'\n",
             HMAC_SECRET, W.enode_id, W.bridge_port, out);
    char sh[2200];
    snprintf(sh, sizeof(sh), "bash -c %s", "\"$D2EV_IT_SCRIPT\"");
    setenv("D2EV_IT_SCRIPT", script, 1);
    assert_int_equal(system(sh), 0);
    json_t *ans = json_load_file(out, 0, NULL);
    assert_non_null(ans);
    assert_string_equal(jstr(ans, "status"), "pending");
    snprintf(rid, sizeof(rid), "%s", jstr(ans, "request_id"));
    snprintf(W.enode_vid, sizeof(W.enode_vid), "%s", jstr(ans, "vehicle_id"));
    json_decref(ans);
    expect_result(rid, true, "ok");
    v = vehicle_record(W.enode_vid);
    assert_true(json_real_value(json_object_get(v, "battery_kwh")) >= 1); /* read once at link */
    json_decref(v);
    assert_true(open_credentials(W.enode_vid, &t));
    assert_true(t.access[0]);
    assert_string_equal(t.refresh, ""); /* client credentials: no refresh token */

    /* and the bridge answers for it */
    for (int i = 0;; i++) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/registrations/%s", rid);
        struct reply r = call("GET", path, NULL);
        if (r.status == 200) {
            assert_string_equal(jstr(r.json, "status"), "accepted");
            assert_string_equal(jstr(r.json, "code"), "ok");
            assert_string_equal(jstr(r.json, "vehicle_id"), W.enode_vid);
            json_decref(r.json);
            break;
        }
        json_decref(r.json);
        if (i == 20)
            fail_msg("GET %s never found the result", path);
        usleep(1100000); /* a new second: a new signature */
    }
}

/* The backend already holds tokens (linked before d2ev): register with the
 * refresh token; registration refreshes it (Tesla's are single-use) and keeps
 * the new one. (Tesla: its 8-hour tokens are not refreshed by the timer here.) */
static void test_register_with_a_refresh_token(void **state)
{
    char id[64], code[128], redirect[128], url[160], form[640], *body = NULL;
    sim_vehicle("tesla", 3, id);
    sim_authorize(id, code, redirect);
    snprintf(url, sizeof(url), "%s/tesla/oauth2/v3/token", W.sim_url);
    char *ru = form_escape(redirect);
    snprintf(form, sizeof(form),
             "grant_type=authorization_code&client_id=sim-tesla-client&client_secret=sim-tesla-"
             "secret&code=%s&redirect_uri=%s",
             code, ru);
    free(ru);
    const char *h[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    assert_int_equal(d2ev_test_http("POST", url, h, form, strlen(form), &body), 200);
    json_t *tok = json_loads(body, 0, NULL);
    free(body);
    char refresh[512];
    snprintf(refresh, sizeof(refresh), "%s", or_empty(jstr(tok, "refresh_token")));
    remember_secret(refresh);
    remember_secret(jstr(tok, "access_token"));
    json_decref(tok);
    char extra[700], rid[65], vid[65];
    snprintf(extra, sizeof(extra), ",\"authorization\":{\"refresh_token\":\"%s\"}", refresh);
    post_register(register_body("tesla", id, NULL, NULL, extra), rid, vid);
    expect_result(rid, true, "ok");
    struct tokens t;
    assert_true(open_credentials(vid, &t));
    assert_true(t.access[0]);
    assert_string_not_equal(t.refresh, refresh); /* rotated: the given one is spent */
    assert_int_equal(sim_stat("refresh_reuse_total", NULL), 0);
    /* and the same refresh token again (spent): refused, nothing new written */
    size_t before = count_records(D2EV_TOPIC_CREDENTIALS, vid);
    post_register(register_body("tesla", id, NULL, NULL, extra), rid, vid);
    expect_result(rid, false, "consent_revoked");
    assert_int_equal(count_records(D2EV_TOPIC_CREDENTIALS, vid), before);
    W.reuse_expected = 1; /* that one, on purpose; d2ev itself never reuses one */
    assert_int_equal(sim_stat("refresh_reuse_total", NULL), W.reuse_expected);
}

static void test_preference_change_reaches_the_record(void **state)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/vehicles/%s/preferences", W.smartcar_vid);
    struct reply r = call("PATCH", path, "{\"min_soc\":30,\"mode\":\"carbon\"}");
    assert_int_equal(r.status, 202);
    char rid[65];
    snprintf(rid, sizeof(rid), "%s", jstr(r.json, "request_id"));
    json_decref(r.json);
    expect_result(rid, true, "ok");
    json_t *v = vehicle_record(W.smartcar_vid);
    assert_int_equal(json_integer_value(json_object_get(v, "prefs_version")), 2);
    assert_string_equal(jstr(v, "prefs.mode"), "carbon");
    assert_true(json_real_value(json_object_get(json_object_get(v, "prefs"), "min_soc")) == 30);
    assert_true(json_real_value(json_object_get(json_object_get(v, "prefs"), "target_soc")) == 90);
    json_decref(v);

    /* valid alone, invalid over the stored preferences (target is 90) */
    r = call("PATCH", path, "{\"min_soc\":95}");
    assert_int_equal(r.status, 202);
    snprintf(rid, sizeof(rid), "%s", jstr(r.json, "request_id"));
    json_decref(r.json);
    json_t *res = wait_result(rid);
    assert_false(json_is_true(json_object_get(res, "accepted")));
    assert_string_equal(jstr(res, "code"), "invalid_preferences");
    assert_non_null(strstr(jstr(res, "reason"), "min_soc: must not be above target_soc (95 > 90)"));
    json_decref(res);
    v = vehicle_record(W.smartcar_vid);
    assert_int_equal(json_integer_value(json_object_get(v, "prefs_version")), 2);
    json_decref(v);
}

static void test_redelivered_request_changes_nothing(void **state)
{
    /* the same Idempotency-Key, signed again later: the same request id */
    char path[128], rid1[65], rid2[65];
    snprintf(path, sizeof(path), "/v1/vehicles/%s/preferences", W.tesla_vid);
    int64_t now = d2ev_clock_real_ms() / 1000;
    struct reply r = call_at("PATCH", path, "{\"target_soc\":70}", HMAC_SECRET, now, "app-42");
    assert_int_equal(r.status, 202);
    snprintf(rid1, sizeof(rid1), "%s", jstr(r.json, "request_id"));
    json_decref(r.json);
    expect_result(rid1, true, "ok");
    size_t versions = count_records(D2EV_TOPIC_VEHICLES, W.tesla_vid);
    r = call_at("PATCH", path, "{\"target_soc\":70}", HMAC_SECRET, now + 1, "app-42");
    assert_int_equal(r.status, 202);
    snprintf(rid2, sizeof(rid2), "%s", jstr(r.json, "request_id"));
    json_decref(r.json);
    assert_string_equal(rid1, rid2);

    /* and the very same message produced again (Kafka re-delivery) */
    json_t *reqs = records_of(D2EV_TOPIC_REG_REQUESTS, W.tesla_vid);
    json_t *first = NULL;
    size_t i;
    json_t *row;
    json_array_foreach(reqs, i, row)
    {
        if (!strcmp(or_empty(jstr(json_object_get(row, "value"), "request_id")), rid1)) {
            first = json_object_get(row, "value");
            break;
        }
    }
    assert_non_null(first);
    char *text = json_dumps(first, JSON_COMPACT);
    d2ev_test_produce(W.broker.bootstrap, D2EV_TOPIC_REG_REQUESTS, W.tesla_vid, text);
    W.old_request = text;
    snprintf(W.old_rid, sizeof(W.old_rid), "%s", rid1);
    json_decref(reqs);

    int64_t deadline = d2ev_clock_mono_ms() + WAIT_MS;
    while (count_results(rid1) < 3 && d2ev_clock_mono_ms() < deadline)
        usleep(200000);
    json_t *all = kcat_read(D2EV_TOPIC_REG_RESULTS);
    size_t answers = 0;
    json_array_foreach(all, i, row)
    {
        json_t *v = json_object_get(row, "value");
        if (!strcmp(or_empty(jstr(v, "request_id")), rid1)) {
            answers++;
            assert_true(json_is_true(json_object_get(v, "accepted"))); /* never another outcome */
            assert_string_equal(jstr(v, "code"), "ok");
        }
    }
    json_decref(all);
    assert_int_equal(answers, 3);
    /* no second version of the record */
    assert_int_equal(count_records(D2EV_TOPIC_VEHICLES, W.tesla_vid), versions);
}

static size_t request_count(void)
{
    json_t *all = kcat_read(D2EV_TOPIC_REG_REQUESTS);
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

static void test_bad_requests_never_reach_kafka(void **state)
{
    char code[128], redirect[128], id[64];
    sim_vehicle("smartcar", 3, id);
    sim_authorize(id, code, redirect);
    char body[2048]; /* register_body() reuses its buffer */
    snprintf(body, sizeof(body), "%s", register_body("smartcar", id, code, redirect, NULL));
    size_t before = request_count();
    int64_t now = d2ev_clock_real_ms() / 1000;

    expect_error(call_at("POST", "/v1/registrations", body, NULL, now, NULL), 401,
                 "missing_signature");
    expect_error(call_at("POST", "/v1/registrations", body, "not-the-shared-secret", now, NULL),
                 401, "bad_signature");
    expect_error(call_at("POST", "/v1/registrations", body, HMAC_SECRET, now - 600, NULL), 401,
                 "stale_timestamp");
    expect_error(call_at("POST", "/v1/registrations", body, HMAC_SECRET, now + 600, NULL), 401,
                 "stale_timestamp");
    expect_error(call("POST", "/v1/registrations", "{\"user_id\": \"u-1\","), 400,
                 "malformed_json");
    expect_error(call("POST", "/v1/registrations", "{\"user_id\":\"u-1\"}"), 400,
                 "invalid_request");
    expect_error(
        call("POST", "/v1/registrations", register_body("nosuch", id, code, redirect, NULL)), 400,
        "unknown_oem");
    expect_error(call("POST", "/v1/registrations",
                      "{\"user_id\":\"u\",\"oem\":\"smartcar\",\"oem_vehicle_id\":\"x\","
                      "\"timezone\":\"Europe/Londinium\",\"region\":\"GB\"}"),
                 400, "invalid_timezone");
    expect_error(call("POST", "/v1/registrations",
                      register_body("smartcar", id, code, redirect,
                                    ",\"prefs\":{\"target_soc\":20,\"min_soc\":40}")),
                 400, "invalid_preferences");
    char *big = malloc(20000);
    memset(big, ' ', 19999);
    big[0] = '{';
    big[19998] = '}';
    big[19999] = '\0';
    expect_error(call("POST", "/v1/registrations", big), 413, "payload_too_large");
    free(big);
    expect_error(call("PUT", "/v1/registrations", body), 405, "method_not_allowed");
    expect_error(call("GET", "/v2/everything", NULL), 404, "not_found");
    /* (a refused request's signature is spent too: sign this one at another second) */
    struct reply r = call_at("POST", "/v1/registrations", body, HMAC_SECRET, now - 1, "bad key!");
    expect_error(r, 400, "invalid_idempotency_key");
    assert_int_equal(request_count(), before);

    /* a good request is accepted once; the same signed bytes again are a replay */
    r = call_at("POST", "/v1/registrations", body, HMAC_SECRET, now, NULL);
    assert_int_equal(r.status, 202);
    char rid[65], vid[65];
    snprintf(rid, sizeof(rid), "%s", jstr(r.json, "request_id"));
    snprintf(vid, sizeof(vid), "%s", jstr(r.json, "vehicle_id"));
    json_decref(r.json);
    expect_error(call_at("POST", "/v1/registrations", body, HMAC_SECRET, now, NULL), 409,
                 "replayed");
    assert_int_equal(request_count(), before + 1);
    expect_result(rid, true, "ok");
}

static void test_rejected_links_write_nothing(void **state)
{
    char code[128], redirect[128], id[64], rid[65], vid[65];
    /* consent revoked at the OEM after the code was issued */
    sim_vehicle("tesla", 2, id);
    sim_authorize(id, code, redirect);
    sim_set(id, "{\"revoked\":true}");
    post_register(register_body("tesla", id, code, redirect, NULL), rid, vid);
    json_t *res = wait_result(rid);
    assert_false(json_is_true(json_object_get(res, "accepted")));
    assert_string_equal(jstr(res, "code"), "consent_revoked");
    assert_non_null(strstr(jstr(res, "reason"), "invalid_grant"));
    json_decref(res);
    assert_int_equal(count_records(D2EV_TOPIC_VEHICLES, vid), 0);
    assert_int_equal(count_records(D2EV_TOPIC_CREDENTIALS, vid), 0);

    /* a code that was never issued */
    remember_secret("made-up-code-123");
    remember_secret("c0de-0f-acme");
    sim_vehicle("smartcar", 4, id);
    post_register(
        register_body("smartcar", id, "made-up-code-123", "http://127.0.0.1:8080/cb", NULL), rid,
        vid);
    expect_result(rid, false, "consent_revoked");
    assert_int_equal(count_records(D2EV_TOPIC_VEHICLES, vid), 0);
    assert_int_equal(count_records(D2EV_TOPIC_CREDENTIALS, vid), 0);

    /* an OEM the bridge accepts but no adapter is configured for */
    post_register(register_body("acme", "acme-1", "c0de-0f-acme", "http://x/cb", NULL), rid, vid);
    expect_result(rid, false, "unknown_oem");
    assert_int_equal(count_records(D2EV_TOPIC_VEHICLES, vid), 0);
    assert_int_equal(count_records(D2EV_TOPIC_CREDENTIALS, vid), 0);

    /* a Smartcar car without an authorisation */
    sim_vehicle("smartcar", 5, id);
    post_register(register_body("smartcar", id, NULL, NULL, NULL), rid, vid);
    expect_result(rid, false, "missing_authorization");
    assert_int_equal(count_records(D2EV_TOPIC_CREDENTIALS, vid), 0);
}

static void test_tokens_are_refreshed_before_expiry(void **state)
{
    struct tokens t0, t;
    assert_true(open_credentials(W.smartcar_vid, &t0));
    /* access tokens live 5 s here: the timer refreshes them every second,
     * each time rotating the refresh token */
    int64_t deadline = d2ev_clock_mono_ms() + WAIT_MS;
    char last_refresh[512];
    snprintf(last_refresh, sizeof(last_refresh), "%s", t0.refresh);
    int rotations = 0;
    int64_t last_version = t0.version;
    while (rotations < 2 && d2ev_clock_mono_ms() < deadline) {
        usleep(500000);
        assert_true(open_credentials(W.smartcar_vid, &t));
        if (t.version > last_version) {
            assert_string_not_equal(t.refresh, last_refresh);
            snprintf(last_refresh, sizeof(last_refresh), "%s", t.refresh);
            last_version = t.version;
            rotations++;
        }
    }
    if (rotations < 2)
        fail_msg("credentials of %s were not refreshed twice (version %lld)", W.smartcar_vid,
                 (long long)last_version);
    /* every stored token works; a dead one would be refused */
    char url[200], auth[600];
    snprintf(url, sizeof(url), "%s/smartcar/v2.0/vehicles/%s/battery", W.sim_url, W.smartcar_id);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t.access);
    const char *h[] = { auth, NULL };
    long st = d2ev_test_http("GET", url, h, NULL, 0, NULL);
    assert_true(st == 200 || st == 409);
    assert_int_equal(sim_stat("refresh_reuse_total", NULL), W.reuse_expected);
}

/* A refresh_credentials request as telemetry or dispatch sends it after a 401. */
/* refresh_credentials requests as telemetry or dispatch send them after a
 * 401, produced at once with kcat: n of them with request ids "<prefix><i>",
 * or one with the id prefix itself when n is 0. */
static void send_refresh_requests(const char *vid, const char *prefix, int n)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "kcat -P -b '%s' -t %s -K'|' 2>/dev/null", W.broker.bootstrap,
             D2EV_TOPIC_REG_REQUESTS);
    FILE *p = popen(cmd, "w");
    assert_non_null(p);
    for (int i = 0; i < (n ? n : 1); i++) {
        char rid[64];
        if (n)
            snprintf(rid, sizeof(rid), "%s%d", prefix, i);
        else
            snprintf(rid, sizeof(rid), "%s", prefix);
        fprintf(p,
                "%s|{\"type\":\"registration.request\",\"v\":1,\"id\":\"%s-e\","
                "\"ts\":\"2026-11-21T07:33:00.000Z\",\"request_id\":\"%s\","
                "\"action\":\"refresh_credentials\",\"vehicle_id\":\"%s\","
                "\"source\":\"telemetry\"}\n",
                vid, rid, rid, vid);
    }
    assert_int_equal(pclose(p), 0);
}

static void send_refresh_request(const char *vid, const char *rid)
{
    send_refresh_requests(vid, rid, 0);
}

static void test_refresh_requests(void **state)
{
    /* Tesla tokens last 8 h: only requests refresh them here */
    struct tokens t0, t1;
    assert_true(open_credentials(W.tesla_vid, &t0));
    /* a burst, as several pollers hitting 401 at once: one refresh, the rest
     * are answered "recently refreshed" */
    char rid[32];
    send_refresh_requests(W.tesla_vid, "refresh-a", 8);
    int ok = 0, recent = 0;
    json_t *res[8];
    wait_results("refresh-a", 8, res);
    for (int i = 0; i < 8; i++) {
        assert_true(json_is_true(json_object_get(res[i], "accepted")));
        ok += !strcmp(jstr(res[i], "code"), "ok");
        recent += !strcmp(jstr(res[i], "code"), "recently_refreshed");
        json_decref(res[i]);
    }
    /* normally 1 and 7; a slow machine may take longer than the 1 s dedupe
     * window to answer all 8, and then refresh again */
    assert_true(ok >= 1 && recent >= 1);
    assert_int_equal(ok + recent, 8);
    assert_true(open_credentials(W.tesla_vid, &t1));
    assert_int_equal(t1.version, t0.version + ok); /* each refresh wrote once */
    assert_string_not_equal(t1.refresh, t0.refresh);
    assert_string_not_equal(t1.access, t0.access);

    /* requests for the Smartcar car race its refresh timer: the engine's single
     * flight and the per-vehicle queue mean no refresh token is ever used twice */
    for (int round = 0; round < 3; round++) {
        snprintf(rid, sizeof(rid), "refresh-b%d-", round);
        send_refresh_requests(W.smartcar_vid, rid, 4);
        wait_results(rid, 4, res);
        for (int i = 0; i < 4; i++) {
            assert_true(json_is_true(json_object_get(res[i], "accepted")));
            json_decref(res[i]);
        }
        usleep(1100000); /* past the 1 s dedupe window */
    }
    /* an unknown vehicle is answered, not ignored */
    send_refresh_request("v-unknown", "refresh-c");
    expect_result("refresh-c", false, "unknown_vehicle");
    assert_int_equal(sim_stat("refresh_reuse_total", NULL), W.reuse_expected);
    assert_true(sim_stat("tokens_issued", "smartcar") >= 4);
}

static void test_deregister_writes_tombstones(void **state)
{
    char path[128], rid[65];
    snprintf(path, sizeof(path), "/v1/vehicles/%s", W.smartcar_vid);
    struct reply r = call("DELETE", path, NULL);
    assert_int_equal(r.status, 202);
    snprintf(rid, sizeof(rid), "%s", jstr(r.json, "request_id"));
    json_decref(r.json);
    expect_result(rid, true, "ok");
    const char *topics[] = { D2EV_TOPIC_VEHICLES, D2EV_TOPIC_CREDENTIALS };
    for (int k = 0; k < 2; k++) {
        json_t *recs = records_of(topics[k], W.smartcar_vid);
        size_t n = json_array_size(recs);
        assert_true(n >= 2);
        assert_true(json_is_true(json_object_get(json_array_get(recs, n - 1), "tombstone")));
        json_decref(recs);
    }
    /* the timer (a refresh a second for this car) no longer refreshes it:
     * nothing follows the tombstone */
    usleep(2500000);
    json_t *recs = records_of(D2EV_TOPIC_CREDENTIALS, W.smartcar_vid);
    size_t n = json_array_size(recs);
    assert_true(json_is_true(json_object_get(json_array_get(recs, n - 1), "tombstone")));
    json_decref(recs);
    /* preferences of an erased vehicle are refused */
    snprintf(path, sizeof(path), "/v1/vehicles/%s/preferences", W.smartcar_vid);
    r = call("PATCH", path, "{\"target_soc\":50}");
    assert_int_equal(r.status, 202);
    snprintf(rid, sizeof(rid), "%s", jstr(r.json, "request_id"));
    json_decref(r.json);
    expect_result(rid, false, "unknown_vehicle");
}

/* Count lines of file containing needle. */
static size_t grep_file(const char *path, const char *needle)
{
    return d2ev_test_grep_count(path, needle);
}

/* The key_id of vid's latest credentials ("" when none). */
static const char *latest_key_id(const char *vid, char out[40])
{
    json_t *recs = records_of(D2EV_TOPIC_CREDENTIALS, vid);
    size_t n = json_array_size(recs);
    json_t *v = n ? json_object_get(json_array_get(recs, n - 1), "value") : NULL;
    snprintf(out, 40, "%s", or_empty(jstr(v, "key_id")));
    json_decref(recs);
    return out;
}

static void test_key_rotation_across_a_restart(void **state)
{
    /* a new primary key; the old one still opens what it sealed */
    remember_secret(KEY2_B64);
    assert_int_equal(d2ev_test_stop(&W.reg, SIGTERM, 10000), 0);
    static char keys[160];
    snprintf(keys, sizeof(keys), "D2EV_CREDENTIALS_KEYS=k2:%s,k1:%s", KEY2_B64, KEY_B64);
    const char *env[10];
    for (int i = 0; i < 9; i++)
        env[i] = g_env[i];
    env[3] = keys;
    env[9] = NULL;
    start_registration(env);
    wait_ready(W.reg_admin, &W.reg);
    d2ev_keyring_destroy(W.keys);
    W.keys = d2ev_keyring_parse(keys + strlen("D2EV_CREDENTIALS_KEYS="), NULL);
    assert_non_null(W.keys);

    /* the new process knows what the old one answered: a re-delivered request
     * gets the same answer and writes nothing */
    size_t versions = count_records(D2EV_TOPIC_VEHICLES, W.tesla_vid);
    size_t answers = count_results(W.old_rid);
    d2ev_test_produce(W.broker.bootstrap, D2EV_TOPIC_REG_REQUESTS, W.tesla_vid, W.old_request);
    int64_t deadline = d2ev_clock_mono_ms() + WAIT_MS;
    while (count_results(W.old_rid) < answers + 1 && d2ev_clock_mono_ms() < deadline)
        usleep(200000);
    assert_int_equal(count_results(W.old_rid), answers + 1);
    expect_result(W.old_rid, true, "ok");
    assert_int_equal(count_records(D2EV_TOPIC_VEHICLES, W.tesla_vid), versions);

    /* the next write of each record seals it with k2: Enode's records when the
     * new process has fetched the application token, Tesla's on a refresh */
    char kid[40];
    deadline = d2ev_clock_mono_ms() + WAIT_MS;
    while (strcmp(latest_key_id(W.enode_vid, kid), "k2") && d2ev_clock_mono_ms() < deadline)
        usleep(200000);
    assert_string_equal(latest_key_id(W.enode_vid, kid), "k2");
    assert_string_equal(latest_key_id(W.tesla_vid, kid), "k1");
    struct tokens t;
    assert_true(open_credentials(W.tesla_vid, &t)); /* k1 still opens */
    send_refresh_request(W.tesla_vid, "refresh-k2");
    expect_result("refresh-k2", true, "ok");
    assert_string_equal(latest_key_id(W.tesla_vid, kid), "k2");
    assert_true(open_credentials(W.tesla_vid, &t));
    assert_true(open_credentials(W.enode_vid, &t));
}

static void test_revoked_consent_suspends_the_vehicle(void **state)
{
    sim_set(W.tesla_id, "{\"revoked\":true}");
    usleep(1100000); /* past the 1 s refresh dedupe window */
    send_refresh_request(W.tesla_vid, "refresh-revoked");
    json_t *res = wait_result("refresh-revoked");
    assert_false(json_is_true(json_object_get(res, "accepted")));
    assert_string_equal(jstr(res, "code"), "consent_revoked");
    json_decref(res);
    json_t *v = vehicle_record(W.tesla_vid);
    assert_string_equal(jstr(v, "status"), "suspended");
    assert_non_null(strstr(jstr(v, "status_reason"), "consent revoked"));
    json_decref(v);
    json_t *n = records_of(D2EV_TOPIC_NOTIFICATIONS, W.tesla_vid);
    assert_int_equal(json_array_size(n), 1);
    json_t *nv = json_object_get(json_array_get(n, 0), "value");
    assert_string_equal(jstr(nv, "kind"), "consent_revoked");
    assert_string_equal(jstr(nv, "user_id"), "u-tesla");
    json_decref(n);
    /* its preferences can still change; linking again makes it active */
    char code[128], redirect[128], rid[65], vid[65];
    sim_authorize(W.tesla_id, code, redirect); /* the driver consents again */
    post_register(register_body("tesla", W.tesla_id, code, redirect, NULL), rid, vid);
    assert_string_equal(vid, W.tesla_vid);
    expect_result(rid, true, "ok");
    v = vehicle_record(W.tesla_vid);
    assert_string_equal(jstr(v, "status"), "active");
    assert_true(json_real_value(json_object_get(json_object_get(v, "prefs"), "target_soc")) == 70);
    json_decref(v);
}

static void test_no_token_or_secret_in_any_log(void **state)
{
    /* the latest tokens too */
    struct tokens t;
    assert_true(open_credentials(W.tesla_vid, &t));
    assert_true(open_credentials(W.enode_vid, &t));
    assert_int_equal(d2ev_test_stop(&W.bridge, SIGTERM, 10000), 0);
    assert_int_equal(d2ev_test_stop(&W.reg, SIGTERM, 10000), 0);
    assert_int_equal(d2ev_test_stop(&W.sim, SIGTERM, 10000), 0);
    const char *logs[] = { W.bridge.log_path, W.reg.log_path, W.sim.log_path,
                           W.broker.proc.log_path };
    assert_true(W.nsecrets >= 10);
    for (size_t l = 0; l < 4; l++) {
        struct stat st;
        assert_int_equal(stat(logs[l], &st), 0);
        assert_true(st.st_size > 0);
        for (size_t i = 0; i < W.nsecrets; i++) {
            if (grep_file(logs[l], W.secrets[i]))
                fail_msg("%s contains secret #%zu (%.6s...)", logs[l], i, W.secrets[i]);
        }
    }
    /* the logs did record the work, by vehicle id */
    assert_true(grep_file(W.reg.log_path, W.smartcar_vid) > 0);
    print_message("searched 4 logs for %zu tokens, codes and secrets: none found\n", W.nsecrets);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_writes_record_and_sealed_credentials),
        cmocka_unit_test(test_register_with_a_refresh_token),
        cmocka_unit_test(test_preference_change_reaches_the_record),
        cmocka_unit_test(test_redelivered_request_changes_nothing),
        cmocka_unit_test(test_bad_requests_never_reach_kafka),
        cmocka_unit_test(test_rejected_links_write_nothing),
        cmocka_unit_test(test_tokens_are_refreshed_before_expiry),
        cmocka_unit_test(test_refresh_requests),
        cmocka_unit_test(test_deregister_writes_tombstones),
        cmocka_unit_test(test_key_rotation_across_a_restart),
        cmocka_unit_test(test_revoked_consent_suspends_the_vehicle),
        cmocka_unit_test(test_no_token_or_secret_in_any_log),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
