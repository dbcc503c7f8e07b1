/* loader.c: dlopen an OEM adapter, check its ABI, create and call it (see d2ev/oem.h). */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "d2ev/json.h"
#include "d2ev/events.h"
#include "d2ev/oem.h"
#include "d2ev/timefmt.h"

#ifndef D2EV_DEFAULT_ADAPTER_DIR
#define D2EV_DEFAULT_ADAPTER_DIR "/usr/lib/d2ev/adapters"
#endif

#define CONFIG_MAX_BYTES (256 * 1024)
#define SECRET_MAX_BYTES (16 * 1024)

struct d2ev_oem {
    void *dl;
    const struct d2ev_oem_adapter *adapter;
    void *inst;
    struct d2ev_oem_desc desc;
    struct d2ev_oem_settings settings;
    char name[64];
};

/* The smallest adapter table this host can use: every 1.0 member. */
#define ADAPTER_V1_SIZE (offsetof(struct d2ev_oem_adapter, parse) + sizeof(void (*)(void)))

/* Keys of the config file the host reads itself. */
static const char *const host_keys[] = {
    "rate_limit",
    "vehicle_rate_limit",
    "request_timeout_ms",
    "connect_timeout_ms",
    "max_attempts",
    "backoff",
    "breaker",
    "token_refresh_margin_ms",
    "max_in_flight",
    "max_wakes",
    "refresh_wait_ms",
};

const char *d2ev_oem_default_adapter_dir(void)
{
    return D2EV_DEFAULT_ADAPTER_DIR;
}

const struct d2ev_cfg_entry d2ev_oem_paths_table[] = {
    { "adapter-dir", D2EV_CFG_STR, offsetof(struct d2ev_oem_paths, adapter_dir),
      D2EV_DEFAULT_ADAPTER_DIR, "directory holding the OEM adapters d2ev_oem_<name>.so" },
    { "oem-config-dir", D2EV_CFG_STR, offsetof(struct d2ev_oem_paths, config_dir), NULL,
      "directory of adapter configs <name>.json (unset: production defaults); secrets come "
      "from D2EV_OEM_<NAME>_CLIENT_SECRET[_FILE]" },
    D2EV_CFG_END,
};

static bool valid_name(const char *name)
{
    if (!name || !*name || strlen(name) > 40)
        return false;
    for (const char *p = name; *p; p++) {
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------ settings */

static int read_limit(const json_t *cfg, const char *key, double *rate, double *burst,
                      struct d2ev_err *err)
{
    json_t *o = json_object_get(cfg, key);
    if (!o)
        return D2EV_OK;
    if (json_is_null(o)) {
        *rate = *burst = 0;
        return D2EV_OK;
    }
    static const char *const keys[] = { "per_second", "burst" };
    int rc;
    if (!json_is_object(o))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: must be an object {per_second, burst}",
                            key);
    if ((rc = d2ev_json_only_keys(o, keys, 2, err)) ||
        (rc = d2ev_json_req_num(o, "per_second", 0.001, 1e6, rate, err)))
        return d2ev_err_prefix(err, "%s", key);
    double b = *rate > 1 ? *rate : 1;
    if ((rc = d2ev_json_opt_num(o, "burst", 1, 1e6, &b, NULL, err)))
        return d2ev_err_prefix(err, "%s", key);
    *burst = b;
    return D2EV_OK;
}

static int read_backoff(const json_t *cfg, struct d2ev_backoff *b, struct d2ev_err *err)
{
    json_t *o = json_object_get(cfg, "backoff");
    if (!o)
        return D2EV_OK;
    static const char *const keys[] = { "base_ms", "max_ms", "factor", "jitter" };
    int rc;
    if (!json_is_object(o))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "backoff: must be an object");
    if ((rc = d2ev_json_only_keys(o, keys, 4, err)) ||
        (rc = d2ev_json_opt_int(o, "base_ms", 0, 3600000, &b->base_ms, NULL, err)) ||
        (rc = d2ev_json_opt_int(o, "max_ms", 0, 3600000, &b->max_ms, NULL, err)) ||
        (rc = d2ev_json_opt_num(o, "factor", 1, 10, &b->factor, NULL, err)) ||
        (rc = d2ev_json_opt_num(o, "jitter", 0, 1, &b->jitter, NULL, err)))
        return d2ev_err_prefix(err, "backoff");
    if (b->max_ms < b->base_ms)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "backoff: max_ms must be >= base_ms");
    return D2EV_OK;
}

static int read_breaker(const json_t *cfg, struct d2ev_breaker *b, struct d2ev_err *err)
{
    json_t *o = json_object_get(cfg, "breaker");
    if (!o)
        return D2EV_OK;
    static const char *const keys[] = { "window_ms", "min_requests", "failure_ratio", "open_ms",
                                        "half_open_probes" };
    int64_t minreq = b->min_requests, probes = b->half_open_probes;
    int rc;
    if (!json_is_object(o))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "breaker: must be an object");
    if ((rc = d2ev_json_only_keys(o, keys, 5, err)) ||
        (rc = d2ev_json_opt_int(o, "window_ms", 1, 3600000, &b->window_ms, NULL, err)) ||
        (rc = d2ev_json_opt_int(o, "min_requests", 1, 1000000, &minreq, NULL, err)) ||
        (rc = d2ev_json_opt_num(o, "failure_ratio", 0.01, 1, &b->failure_ratio, NULL, err)) ||
        (rc = d2ev_json_opt_int(o, "open_ms", 1, 3600000, &b->open_ms, NULL, err)) ||
        (rc = d2ev_json_opt_int(o, "half_open_probes", 1, 1000, &probes, NULL, err)))
        return d2ev_err_prefix(err, "breaker");
    b->min_requests = (uint32_t)minreq;
    b->half_open_probes = (uint32_t)probes;
    return D2EV_OK;
}

static int read_settings(const json_t *cfg, const struct d2ev_oem_desc *d,
                         struct d2ev_oem_settings *s, struct d2ev_err *err)
{
    *s = (struct d2ev_oem_settings){
        .rate_per_s = d->rate_per_s > 0 ? d->rate_per_s : 10,
        .burst = d->burst >= 1 ? d->burst : 10,
        .vehicle_rate_per_s = d->vehicle_rate_per_s > 0 ? d->vehicle_rate_per_s : 0,
        .vehicle_burst = d->vehicle_burst >= 1 ? d->vehicle_burst : 1,
        .request_timeout_ms = d->request_timeout_ms > 0 ? d->request_timeout_ms : 15000,
        .connect_timeout_ms = 5000,
        .max_attempts = 4,
        .backoff = { .base_ms = 500, .max_ms = 30000, .factor = 2, .jitter = 0.5 },
        .token_refresh_margin_ms = 60000,
        .max_in_flight = 256,
        .max_wakes = 1,
        .refresh_wait_ms = 30000,
    };
    d2ev_breaker_init(&s->breaker);
    int64_t attempts = s->max_attempts, inflight = s->max_in_flight, wakes = s->max_wakes;
    int rc;
    if ((rc = read_limit(cfg, "rate_limit", &s->rate_per_s, &s->burst, err)) ||
        (rc = read_limit(cfg, "vehicle_rate_limit", &s->vehicle_rate_per_s, &s->vehicle_burst,
                         err)) ||
        (rc = d2ev_json_opt_int(cfg, "request_timeout_ms", 1, 600000, &s->request_timeout_ms, NULL,
                                err)) ||
        (rc = d2ev_json_opt_int(cfg, "connect_timeout_ms", 1, 600000, &s->connect_timeout_ms, NULL,
                                err)) ||
        (rc = d2ev_json_opt_int(cfg, "max_attempts", 1, 100, &attempts, NULL, err)) ||
        (rc = read_backoff(cfg, &s->backoff, err)) || (rc = read_breaker(cfg, &s->breaker, err)) ||
        (rc = d2ev_json_opt_int(cfg, "token_refresh_margin_ms", 0, 86400000,
                                &s->token_refresh_margin_ms, NULL, err)) ||
        (rc = d2ev_json_opt_int(cfg, "max_in_flight", 1, 100000, &inflight, NULL, err)) ||
        (rc = d2ev_json_opt_int(cfg, "max_wakes", 0, 10, &wakes, NULL, err)) ||
        (rc =
             d2ev_json_opt_int(cfg, "refresh_wait_ms", 1, 3600000, &s->refresh_wait_ms, NULL, err)))
        return rc;
    s->max_attempts = (uint32_t)attempts;
    s->max_in_flight = (uint32_t)inflight;
    s->max_wakes = (uint32_t)wakes;
    return D2EV_OK;
}

/* Keys that would put a secret into the config file ("token_url" is fine). */
static bool key_is_secret(const char *key)
{
    static const char *const parts[] = { "secret",  "password", "passwd",       "private",
                                         "api_key", "apikey",   "access_token", "refresh_token" };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (strstr(key, parts[i]))
            return true;
    }
    return false;
}

/* Reject keys neither the host nor the adapter reads, and secrets. */
static int check_keys(const json_t *cfg, const char *name, const struct d2ev_oem_desc *d,
                      struct d2ev_err *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)cfg, key, v)
    {
        if (key_is_secret(key)) {
            char var[96];
            snprintf(var, sizeof(var), "D2EV_OEM_%s_CLIENT_SECRET", name);
            for (char *p = var; *p; p++)
                *p = (char)toupper((unsigned char)*p);
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "%.40s: secrets must not be in the config file; set %s or %s_FILE",
                                key, var, var);
        }
        bool known = false;
        for (size_t i = 0; i < sizeof(host_keys) / sizeof(host_keys[0]) && !known; i++)
            known = !strcmp(key, host_keys[i]);
        for (const char *const *k = d->config_keys; k && *k && !known; k++)
            known = !strcmp(key, *k);
        if (!known)
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "%.60s: unknown setting for adapter %s (see docs/adapters.md)", key,
                                name);
    }
    return D2EV_OK;
}

/* ------------------------------------------------------------ loading */

void d2ev_oem_unload(struct d2ev_oem *o)
{
    if (!o)
        return;
    if (o->inst && o->adapter)
        o->adapter->destroy(o->inst);
    if (o->dl)
        dlclose(o->dl);
    free(o);
}

struct d2ev_oem *d2ev_oem_load_path(const char *path, const char *config_json, size_t len,
                                    const char *client_secret, struct d2ev_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        d2ev_err_set(err, D2EV_ERR_NOT_FOUND, "OEM adapter %s: %s", path, strerror(errno));
        return NULL;
    }
    struct d2ev_oem *o = calloc(1, sizeof(*o));
    if (!o) {
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    o->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!o->dl) {
        d2ev_err_set(err, D2EV_ERR_IO, "OEM adapter %s: cannot load: %s", path, dlerror());
        goto fail;
    }
    d2ev_oem_entry_fn entry;
    *(void **)&entry = dlsym(o->dl, D2EV_OEM_ENTRY_SYMBOL);
    if (!entry) {
        d2ev_err_set(err, D2EV_ERR_INVALID,
                     "OEM adapter %s: no entry symbol %s (not a d2ev adapter?)", path,
                     D2EV_OEM_ENTRY_SYMBOL);
        goto fail;
    }
    const struct d2ev_oem_adapter *a = entry(D2EV_OEM_ABI_VERSION, d2ev_oem_host_table());
    if (!a) {
        d2ev_err_set(err, D2EV_ERR_UNSUPPORTED,
                     "OEM adapter %s refused this host's ABI %u.%u (rebuild the adapter)", path,
                     D2EV_OEM_ABI_MAJOR, D2EV_OEM_ABI_MINOR);
        goto fail;
    }
    if (D2EV_OEM_ABI_MAJOR_OF(a->abi_version) != D2EV_OEM_ABI_MAJOR) {
        d2ev_err_set(err, D2EV_ERR_UNSUPPORTED,
                     "OEM adapter %s has ABI %u.%u; this host speaks ABI %u.x (rebuild the "
                     "adapter against this d2ev)",
                     path, D2EV_OEM_ABI_MAJOR_OF(a->abi_version),
                     D2EV_OEM_ABI_MINOR_OF(a->abi_version), D2EV_OEM_ABI_MAJOR);
        goto fail;
    }
    if (a->struct_size < ADAPTER_V1_SIZE || !a->create || !a->destroy || !a->describe ||
        !a->build || !a->parse || !a->name) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "OEM adapter %s: adapter table is incomplete", path);
        goto fail;
    }
    o->adapter = a;
    if (!valid_name(a->name)) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "OEM adapter %s: invalid name", path);
        goto fail;
    }
    snprintf(o->name, sizeof(o->name), "%s", a->name);

    struct d2ev_err jerr = { 0 };
    json_t *cfg = config_json && len ? d2ev_json_parse(config_json, len, CONFIG_MAX_BYTES, &jerr)
                                     : json_object();
    if (!cfg) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "OEM adapter %s: config: %s", o->name, jerr.msg);
        goto fail;
    }
    char errbuf[D2EV_ERR_MSG_MAX] = "";
    char *text = json_dumps(cfg, JSON_COMPACT);
    int rc = text ? a->create(d2ev_oem_host_table(), text, strlen(text), client_secret, &o->inst,
                              errbuf, sizeof(errbuf))
                  : D2EV_ERR_NOMEM;
    free(text);
    if (rc) {
        json_decref(cfg);
        o->inst = NULL;
        d2ev_err_set(err, rc < 0 ? rc : D2EV_ERR_INVALID, "OEM adapter %s: %s", o->name,
                     errbuf[0] ? errbuf : "create failed");
        goto fail;
    }
    o->desc.struct_size = sizeof(o->desc);
    a->describe(o->inst, &o->desc);
    o->desc.struct_size = sizeof(o->desc);
    if (!o->desc.name || strcmp(o->desc.name, o->name) != 0 ||
        D2EV_OEM_ABI_MAJOR_OF(o->desc.abi_version) != D2EV_OEM_ABI_MAJOR ||
        o->desc.token_model > D2EV_OEM_TOKENS_PER_APP) {
        json_decref(cfg);
        d2ev_err_set(err, D2EV_ERR_INVALID, "OEM adapter %s: describe() is inconsistent", o->name);
        goto fail;
    }
    rc = check_keys(cfg, o->name, &o->desc, err);
    if (!rc)
        rc = read_settings(cfg, &o->desc, &o->settings, err);
    json_decref(cfg);
    if (rc) {
        d2ev_err_prefix(err, "OEM adapter %s: config", o->name);
        goto fail;
    }
    return o;
fail:
    d2ev_oem_unload(o);
    return NULL;
}

struct d2ev_oem *d2ev_oem_load(const char *dir, const char *name, const char *config_json,
                               size_t len, const char *client_secret, struct d2ev_err *err)
{
    if (!valid_name(name)) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "OEM adapter name '%.40s': use [a-z0-9_]",
                     name ? name : "");
        return NULL;
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/d2ev_oem_%s.so", dir && *dir ? dir : ".", name);
    struct d2ev_oem *o = d2ev_oem_load_path(path, config_json, len, client_secret, err);
    if (o && strcmp(o->name, name) != 0) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "OEM adapter %s calls itself '%s', not '%s'", path,
                     o->name, name);
        d2ev_oem_unload(o);
        return NULL;
    }
    return o;
}

/* Read a whole file (at most max bytes) into a malloc'd NUL-terminated buffer. */
static char *read_file(const char *path, size_t max, size_t *len, struct d2ev_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        d2ev_err_set(err, errno == ENOENT ? D2EV_ERR_NOT_FOUND : D2EV_ERR_IO, "%s: %s", path,
                     strerror(errno));
        return NULL;
    }
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (!buf) {
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (n > max) {
        free(buf);
        d2ev_err_set(err, D2EV_ERR_LIMIT, "%s: larger than %zu bytes", path, max);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

struct d2ev_oem *d2ev_oem_open(const char *adapter_dir, const char *config_dir, const char *name,
                               struct d2ev_err *err)
{
    if (!valid_name(name)) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "OEM adapter name '%.40s': use [a-z0-9_]",
                     name ? name : "");
        return NULL;
    }
    char *config = NULL, *secret = NULL;
    size_t config_len = 0, secret_len = 0;
    if (config_dir && *config_dir) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s.json", config_dir, name);
        if (!(config = read_file(path, CONFIG_MAX_BYTES, &config_len, err))) {
            d2ev_err_prefix(err, "OEM adapter %s: config", name);
            return NULL;
        }
    }
    char var[96], fvar[104];
    snprintf(var, sizeof(var), "D2EV_OEM_%s_CLIENT_SECRET", name);
    for (char *p = var; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    snprintf(fvar, sizeof(fvar), "%s_FILE", var);
    const char *env = getenv(var), *file = getenv(fvar);
    if (env && file && *file) {
        free(config);
        d2ev_err_set(err, D2EV_ERR_INVALID, "both %s and %s are set; use one", var, fvar);
        return NULL;
    }
    if (file && *file) {
        if (!(secret = read_file(file, SECRET_MAX_BYTES, &secret_len, err))) {
            free(config);
            d2ev_err_prefix(err, "%s", fvar);
            return NULL;
        }
        while (secret_len > 0 && (secret[secret_len - 1] == '\n' || secret[secret_len - 1] == '\r'))
            secret[--secret_len] = '\0';
    }
    struct d2ev_oem *o =
        d2ev_oem_load(adapter_dir, name, config, config_len, secret ? secret : env, err);
    free(config);
    if (secret) {
        for (volatile char *p = secret; *p; p++)
            *p = 0;
        free(secret);
    }
    return o;
}

const char *d2ev_oem_name(const struct d2ev_oem *o)
{
    return o->name;
}

const struct d2ev_oem_desc *d2ev_oem_describe(const struct d2ev_oem *o)
{
    return &o->desc;
}

const struct d2ev_oem_settings *d2ev_oem_settings(const struct d2ev_oem *o)
{
    return &o->settings;
}

bool d2ev_oem_supports(const struct d2ev_oem *o, uint32_t op)
{
    return op < D2EV_OEM_OP_COUNT && (o->desc.ops & D2EV_OEM_OP_BIT(op));
}

/* ------------------------------------------------------------ calling */

static void wipe_free(char *s)
{
    for (volatile char *p = s; p && *p; p++)
        *p = 0;
    free(s);
}

void d2ev_oem_request_init(struct d2ev_oem_request *req)
{
    memset(req, 0, sizeof(*req));
    req->struct_size = sizeof(*req);
}

void d2ev_oem_request_clear(struct d2ev_oem_request *req)
{
    bool secret = req->auth == D2EV_OEM_AUTH_NONE; /* token requests carry secrets */
    free(req->url);
    if (secret && req->body)
        memset(req->body, 0, req->body_len);
    free(req->body);
    for (size_t i = 0; i < D2EV_OEM_MAX_HEADERS; i++) {
        if (secret)
            wipe_free(req->headers[i]);
        else
            free(req->headers[i]);
    }
    d2ev_oem_request_init(req);
}

int d2ev_oem_build(const struct d2ev_oem *o, const struct d2ev_oem_call *call,
                   const struct d2ev_oem_flow *flow, struct d2ev_oem_request *req,
                   struct d2ev_err *err)
{
    if (!d2ev_oem_supports(o, call->op))
        return d2ev_err_set(err, D2EV_ERR_UNSUPPORTED, "%s does not support %s", o->name,
                            d2ev_oem_op_name(call->op));
    char errbuf[D2EV_ERR_MSG_MAX] = "";
    int rc = o->adapter->build(o->inst, call, flow, req, errbuf, sizeof(errbuf));
    if (rc)
        return d2ev_err_set(err, rc < 0 ? rc : D2EV_ERR_INVALID, "%s %s: %s", o->name,
                            d2ev_oem_op_name(call->op),
                            errbuf[0] ? errbuf : "cannot build request");
    if (!req->method[0] || !req->url ||
        (strncmp(req->url, "http://", 7) != 0 && strncmp(req->url, "https://", 8) != 0))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%s %s: adapter built no valid request", o->name,
                            d2ev_oem_op_name(call->op));
    return D2EV_OK;
}

void d2ev_oem_result_init(struct d2ev_oem_result *res, struct d2ev_oem_state *state,
                          struct d2ev_oem_tokens *tokens)
{
    memset(res, 0, sizeof(*res));
    res->struct_size = sizeof(*res);
    if (state) {
        memset(state, 0, sizeof(*state));
        state->struct_size = sizeof(*state);
    }
    if (tokens) {
        memset(tokens, 0, sizeof(*tokens));
        tokens->struct_size = sizeof(*tokens);
    }
    res->state = state;
    res->tokens = tokens;
}

void d2ev_oem_result_clear(struct d2ev_oem_result *res)
{
    if (res->tokens) {
        wipe_free(res->tokens->access_token);
        wipe_free(res->tokens->refresh_token);
        res->tokens->access_token = res->tokens->refresh_token = NULL;
    }
}

int d2ev_oem_parse(const struct d2ev_oem *o, const struct d2ev_oem_call *call,
                   struct d2ev_oem_flow *flow, const struct d2ev_oem_response *resp,
                   struct d2ev_oem_result *res, struct d2ev_err *err)
{
    int rc = o->adapter->parse(o->inst, call, flow, resp, res);
    res->message[sizeof(res->message) - 1] = '\0';
    if (rc) {
        res->cls = D2EV_OEM_PERMANENT;
        res->next = D2EV_OEM_NEXT_DONE;
        snprintf(res->message, sizeof(res->message), "%s adapter failed to parse (rc %d)", o->name,
                 rc);
        return d2ev_err_set(err, rc < 0 ? rc : D2EV_ERR_INVALID, "%s", res->message);
    }
    if (res->cls >= D2EV_OEM_CLASS_COUNT || res->next > D2EV_OEM_NEXT_STEP ||
        (res->next == D2EV_OEM_NEXT_STEP && res->cls != D2EV_OEM_OK)) {
        res->cls = D2EV_OEM_PERMANENT;
        res->next = D2EV_OEM_NEXT_DONE;
        snprintf(res->message, sizeof(res->message), "%s adapter returned an invalid result",
                 o->name);
    }
    if (res->retry_after_ms < 0)
        res->retry_after_ms = 0;
    return D2EV_OK;
}

/* ------------------------------------------------------------ output */

json_t *d2ev_oem_state_to_json(const struct d2ev_oem_state *st)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    uint32_t f = st->fields;
    if (f & D2EV_OEM_F_SOC)
        json_object_set_new(o, "soc", json_real(st->soc_pct));
    if (f & D2EV_OEM_F_PLUGGED_IN)
        json_object_set_new(o, "plugged_in", json_boolean(st->plugged_in));
    if (f & D2EV_OEM_F_CHARGING_STATE)
        json_object_set_new(o, "charging_state",
                            json_string(d2ev_charging_state_name((enum d2ev_charging_state)st->charging_state)));
    if (f & D2EV_OEM_F_POWER_KW)
        json_object_set_new(o, "power_kw", json_real(st->power_kw));
    if (f & D2EV_OEM_F_BATTERY_KWH)
        json_object_set_new(o, "battery_kwh", json_real(st->battery_kwh));
    if (f & D2EV_OEM_F_CHARGE_LIMIT)
        json_object_set_new(o, "charge_limit", json_real(st->charge_limit_pct));
    if (f & D2EV_OEM_F_RANGE_KM)
        json_object_set_new(o, "range_km", json_real(st->range_km));
    if (f & D2EV_OEM_F_ENERGY_ADDED)
        json_object_set_new(o, "energy_added_kwh", json_real(st->energy_added_kwh));
    if (f & D2EV_OEM_F_ONLINE)
        json_object_set_new(o, "online", json_boolean(st->online));
    if (f & D2EV_OEM_F_REPORTED_AT) {
        char buf[D2EV_TIME_STR_MAX];
        json_object_set_new(o, "reported_at",
                            json_string(d2ev_time_format(st->reported_at_ms, buf)));
    }
    return o;
}
