/* d2ev_test_fleet.c: the OEM simulator fixture and car linking (see d2ev_test_fleet.h). */
#include "d2ev_test_fleet.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "d2ev/clock.h"
#include "d2ev/oem.h"
#include "d2ev/oem_engine.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"
#include "d2ev/util.h"

static const char *const oems[] = { "smartcar", "tesla", "enode" };
static const char *const token_paths[] = { "/smartcar/oauth/token", "/tesla/oauth2/v3/token",
                                           "/enode/oauth2/token" };

static void write_configs(struct d2ev_test_oemsim *s, const char *tmpdir)
{
    snprintf(s->config_dir, sizeof(s->config_dir), "%s/oem-config", tmpdir);
    mkdir(s->config_dir, 0755);
    for (int i = 0; i < 3; i++) {
        char path[700], upper[16];
        snprintf(path, sizeof(path), "%s/%s.json", s->config_dir, oems[i]);
        FILE *f = fopen(path, "w");
        if (!f)
            fail_msg("cannot write %s", path);
        /* generous limits: tests exercise logic, not the default budgets */
        fprintf(
            f,
            "{\"base_url\":\"%s/%s\",\"token_url\":\"%s%s\",\"client_id\":\"sim-%s-client\","
            "\"rate_limit\":{\"per_second\":2000,\"burst\":2000},\"request_timeout_ms\":5000}\n",
            s->base, oems[i], s->base, token_paths[i], oems[i]);
        fclose(f);
        size_t n = 0;
        for (const char *c = oems[i]; *c && n + 1 < sizeof(upper); c++)
            upper[n++] = (char)(*c - 32);
        upper[n] = '\0';
        char var[64], secret[64];
        snprintf(var, sizeof(var), "D2EV_OEM_%s_CLIENT_SECRET", upper);
        snprintf(secret, sizeof(secret), "sim-%s-secret", oems[i]);
        setenv(var, secret, 1);
    }
}

void d2ev_test_oemsim_start(struct d2ev_test_oemsim *s, const char *tmpdir, int nvehicles, int seed,
                            const char *const *args, const char *const *env)
{
    memset(s, 0, sizeof(*s));
    s->port = d2ev_test_free_port();
    s->admin_port = d2ev_test_free_port();
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
    static char a_port[32], a_admin[32], a_n[32], a_seed[32];
    snprintf(a_port, sizeof(a_port), "--sim-port=%d", s->port);
    snprintf(a_admin, sizeof(a_admin), "--admin-port=%d", s->admin_port);
    snprintf(a_n, sizeof(a_n), "--sim-vehicles=%d", nvehicles);
    snprintf(a_seed, sizeof(a_seed), "--sim-seed=%d", seed);
    const char *argv[32] = { a_port, a_admin, a_n, a_seed };
    size_t n = 4;
    for (const char *const *a = args; a && *a && n < 31; a++)
        argv[n++] = *a;
    argv[n] = NULL;
    d2ev_test_spawn(&s->proc, tmpdir, "oemsim", d2ev_test_bin("d2ev-oemsim"), argv, env);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", s->admin_port);
    if (!d2ev_test_wait_http(url, 200, 30000))
        fail_msg("d2ev-oemsim did not become ready (see %s)", s->proc.log_path);
    write_configs(s, tmpdir);
}

void d2ev_test_oemsim_stop(struct d2ev_test_oemsim *s)
{
    d2ev_test_stop(&s->proc, SIGTERM, 10000);
}

static json_t *control(const struct d2ev_test_oemsim *s, const char *method, const char *path,
                       const char *body)
{
    char url[512];
    snprintf(url, sizeof(url), "%s/_sim%s", s->base, path);
    const char *hdr[] = { "Content-Type: application/json", NULL };
    char *out = NULL;
    long st = d2ev_test_http(method, url, hdr, body, body ? strlen(body) : 0, &out);
    if (st < 200 || st > 299)
        fail_msg("%s %s answered %ld: %s", method, url, st, out ? out : "");
    json_t *j = json_loads(out ? out : "null", JSON_DECODE_ANY, NULL);
    free(out);
    if (!j)
        fail_msg("%s %s did not answer JSON", method, url);
    return j;
}

json_t *d2ev_test_oemsim_get(const struct d2ev_test_oemsim *s, const char *path)
{
    return control(s, "GET", path, NULL);
}

json_t *d2ev_test_oemsim_post(const struct d2ev_test_oemsim *s, const char *path, const char *body)
{
    return control(s, "POST", path, body ? body : "{}");
}

json_t *d2ev_test_oemsim_ids(const struct d2ev_test_oemsim *s, const char *oem, int n)
{
    char path[128];
    snprintf(path, sizeof(path), "/vehicles?limit=%d%s%s", n > 1000 ? 1000 : n, oem ? "&oem=" : "",
             oem ? oem : "");
    json_t *list = d2ev_test_oemsim_get(s, path);
    json_t *ids = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(list, "vehicles"), i, v)
    {
        json_array_append(ids, json_object_get(v, "id"));
    }
    json_decref(list);
    return ids;
}

/* A writer-mode token source that just keeps what the engine got. */
struct held {
    char access[1024];
    char refresh[1024];
    int64_t expires_at;
};

static int held_get(void *opaque, const char *oem, const char *key, struct d2ev_oem_token *out)
{
    struct held *h = opaque;
    if (!h->access[0])
        return D2EV_ERR_NOT_FOUND;
    out->access_token = h->access;
    out->refresh_token = h->refresh;
    out->expires_at_ms = h->expires_at;
    return 0;
}

static void held_store(void *opaque, const char *oem, const char *key,
                       const struct d2ev_oem_token *t)
{
    struct held *h = opaque;
    d2ev_strlcpy(h->access, t->access_token ? t->access_token : "", sizeof(h->access));
    d2ev_strlcpy(h->refresh, t->refresh_token ? t->refresh_token : "", sizeof(h->refresh));
    h->expires_at = t->expires_at_ms;
}

struct exchange {
    bool done;
    uint32_t cls;
    char message[256];
    struct held tokens;
};

static void on_exchanged(void *arg, const struct d2ev_oem_outcome *out)
{
    struct exchange *x = arg;
    x->done = true;
    x->cls = out->cls;
    d2ev_strlcpy(x->message, out->message ? out->message : "", sizeof(x->message));
    if (out->tokens)
        held_store(&x->tokens, out->oem, out->key, out->tokens);
}

/* Exchange code for tokens through the real adapter and engine. */
static void exchange_code(const struct d2ev_test_oemsim *s, const char *oem, const char *vehicle,
                          const char *key, const char *code, const char *redirect_uri,
                          struct held *out)
{
    struct d2ev_err err = { 0 };
    struct d2ev_oem *o = d2ev_oem_open(D2EV_ADAPTER_BUILD_DIR, s->config_dir, oem, &err);
    if (!o)
        fail_msg("cannot open the %s adapter: %s", oem, err.msg);
    struct held src_tokens = { 0 };
    struct d2ev_oem_token_source src = { .opaque = &src_tokens,
                                         .get = held_get,
                                         .store = held_store };
    struct d2ev_oem_engine_conf conf = { .tokens = &src };
    struct d2ev_oem_engine *e = d2ev_oem_engine_create(&conf, &err);
    if (!e || d2ev_oem_engine_add(e, o, &err))
        fail_msg("engine: %s", err.msg);
    struct exchange x = { 0 };
    struct d2ev_oem_task task = { .oem = oem,
                                  .op = D2EV_OEM_OP_EXCHANGE_CODE,
                                  .vehicle = vehicle,
                                  .key = key,
                                  .code = code,
                                  .redirect_uri = redirect_uri };
    if (d2ev_oem_engine_submit(e, &task, on_exchanged, &x, NULL, &err))
        fail_msg("submit: %s", err.msg);
    int64_t deadline = d2ev_clock_mono_ms() + 20000;
    while (!x.done && d2ev_clock_mono_ms() < deadline)
        d2ev_oem_engine_poll(e, 50);
    d2ev_oem_engine_destroy(e);
    d2ev_oem_unload(o);
    if (!x.done || x.cls != D2EV_OEM_OK)
        fail_msg("exchanging the %s code failed: %s", oem, x.message);
    *out = x.tokens;
}

void d2ev_test_link_car(const struct d2ev_test_oemsim *s, const char *bootstrap,
                        const struct d2ev_keyring *kr, const char *sim_id, const char *vehicle_id,
                        const struct d2ev_prefs *prefs, struct d2ev_test_car *out)
{
    char path[256];
    snprintf(path, sizeof(path), "/vehicles/%s/authorize", sim_id);
    json_t *auth = d2ev_test_oemsim_post(s, path, NULL);
    const char *oem = json_string_value(json_object_get(auth, "oem"));
    const char *code = json_string_value(json_object_get(auth, "code"));
    const char *redirect = json_string_value(json_object_get(auth, "redirect_uri"));
    if (!oem || !code)
        fail_msg("authorize of %s gave no code", sim_id);
    memset(out, 0, sizeof(*out));
    d2ev_strlcpy(out->vehicle_id, vehicle_id, sizeof(out->vehicle_id));
    d2ev_strlcpy(out->oem, oem, sizeof(out->oem));
    d2ev_strlcpy(out->oem_vehicle_id, sim_id, sizeof(out->oem_vehicle_id));

    snprintf(path, sizeof(path), "/vehicles/%s", sim_id);
    json_t *truth = d2ev_test_oemsim_get(s, path);
    struct d2ev_vehicle v;
    memset(&v, 0, sizeof(v));
    d2ev_strlcpy(v.vehicle_id, vehicle_id, sizeof(v.vehicle_id));
    snprintf(v.user_id, sizeof(v.user_id), "u-%s", vehicle_id);
    d2ev_strlcpy(v.oem, oem, sizeof(v.oem));
    d2ev_strlcpy(v.oem_vehicle_id, sim_id, sizeof(v.oem_vehicle_id));
    v.has_battery_kwh = true;
    v.battery_kwh = json_number_value(json_object_get(truth, "capacity_kwh"));
    v.has_max_power_kw = true;
    v.max_power_kw = json_number_value(json_object_get(truth, "max_power_kw"));
    d2ev_strlcpy(v.timezone, "Europe/London", sizeof(v.timezone));
    d2ev_strlcpy(v.region, "GB", sizeof(v.region));
    if (prefs)
        v.prefs = *prefs;
    else
        d2ev_prefs_default(&v.prefs);
    v.prefs_version = 1;
    v.status = D2EV_VEHICLE_ACTIVE;
    v.registered_at = v.updated_at = d2ev_clock_now_ms();
    json_decref(truth);

    if (strcmp(oem, "enode") != 0) { /* per-vehicle OAuth: keep the tokens, sealed */
        struct held t;
        exchange_code(s, oem, sim_id, vehicle_id, code, redirect, &t);
        char exp[D2EV_TIME_STR_MAX];
        json_t *plain =
            json_pack("{s:s, s:s, s:s, s:s}", "access_token", t.access, "refresh_token", t.refresh,
                      "expires_at", d2ev_time_format(t.expires_at, exp), "token_type", "Bearer");
        char *text = json_dumps(plain, JSON_COMPACT);
        json_decref(plain);
        struct d2ev_credentials c;
        memset(&c, 0, sizeof(c));
        d2ev_strlcpy(c.vehicle_id, vehicle_id, sizeof(c.vehicle_id));
        d2ev_strlcpy(c.oem, oem, sizeof(c.oem));
        d2ev_strlcpy(c.key_id, d2ev_keyring_primary(kr), sizeof(c.key_id));
        struct d2ev_err err = { 0 };
        c.sealed = d2ev_crypto_seal(kr, text, strlen(text), vehicle_id, &err);
        d2ev_crypto_free_secret(text, 0);
        if (!c.sealed)
            fail_msg("seal: %s", err.msg);
        c.access_expires_at = t.expires_at;
        c.version = 1;
        c.updated_at = d2ev_clock_now_ms();
        json_t *j = d2ev_credentials_encode(&c);
        char *msg = json_dumps(j, JSON_COMPACT);
        d2ev_test_produce(bootstrap, D2EV_TOPIC_CREDENTIALS, vehicle_id, msg);
        free(msg);
        json_decref(j);
        d2ev_credentials_clear(&c);
    }
    json_decref(auth);
    json_t *j = d2ev_vehicle_encode(&v);
    if (!j)
        fail_msg("cannot encode the vehicle record of %s", vehicle_id);
    char *msg = json_dumps(j, JSON_COMPACT);
    d2ev_test_produce(bootstrap, D2EV_TOPIC_VEHICLES, vehicle_id, msg);
    free(msg);
    json_decref(j);
}
