/* credview.c: read-only credentials view and OEM token source (see credview.h). */
#include "credview.h"

#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/events.h"
#include "d2ev/htab.h"
#include "d2ev/json.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"
#include "d2ev/util.h"

/* One vehicle's sealed record. */
struct cred {
    struct d2ev_htab_node node;
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    char oem[D2EV_OEM_MAX + 1];
    char *sealed;
    int64_t access_expires_at;
    int64_t version;
    int64_t requested_mono_ms; /* last refresh request; 0 = none */
};

/* Per-app tokens the engine fetched itself (client credentials). */
struct app_token {
    struct app_token *next;
    char oem[D2EV_OEM_MAX + 1];
    char *access_token;
    int64_t expires_at_ms;
};

struct d2ev_credview {
    const struct d2ev_keyring *keyring;
    struct d2ev_producer *producer;
    struct d2ev_oem_engine *engine;
    char service[17];
    int64_t refresh_interval_ms;
    struct d2ev_htab creds;
    struct app_token *apps;
    struct d2ev_oem_token_source source;
    /* decrypted tokens of the last get(): valid until the next get() */
    char *scratch;
    size_t scratch_len;
    char *scratch_refresh;
    uint64_t refresh_requests;
    struct d2ev_metric *m_requests;
    struct d2ev_metric *m_open_failed;
};

static void wipe_scratch(struct d2ev_credview *cv)
{
    if (cv->scratch)
        d2ev_crypto_free_secret(cv->scratch, cv->scratch_len);
    cv->scratch = NULL;
    cv->scratch_len = 0;
    if (cv->scratch_refresh)
        d2ev_crypto_free_secret(cv->scratch_refresh, 0);
    cv->scratch_refresh = NULL;
}

static struct cred *find(const struct d2ev_credview *cv, const char *id)
{
    struct d2ev_htab_node *n = d2ev_htab_find(&cv->creds, id, strlen(id));
    return n ? D2EV_HTAB_ENTRY(n, struct cred, node) : NULL;
}

static void cred_free(struct cred *c)
{
    if (!c)
        return;
    if (c->sealed)
        d2ev_crypto_free_secret(c->sealed, 0);
    free(c);
}

/* Read the token JSON sealed by registration:
 * {"access_token","refresh_token","expires_at"(RFC 3339 or ms),...}. */
static int parse_tokens(struct d2ev_credview *cv, const char *plain, size_t len,
                        struct d2ev_oem_token *out, struct d2ev_err *err)
{
    json_t *o = d2ev_json_parse(plain, len, 64 * 1024, err);
    if (!o)
        return D2EV_ERR_INVALID;
    const char *at = json_string_value(json_object_get(o, "access_token"));
    const char *rt = json_string_value(json_object_get(o, "refresh_token"));
    json_t *exp = json_object_get(o, "expires_at");
    if (!at || !*at) {
        json_decref(o);
        return d2ev_err_set(err, D2EV_ERR_INVALID, "sealed tokens have no access_token");
    }
    int64_t expires = 0;
    if (json_is_integer(exp))
        expires = json_integer_value(exp);
    else if (json_is_string(exp))
        d2ev_time_parse(json_string_value(exp), &expires, NULL);
    /* keep copies in the scratch slots; the JSON text itself is wiped below */
    size_t alen = strlen(at);
    char *a = malloc(alen + 1);
    char *r = rt ? strdup(rt) : NULL;
    if (!a || (rt && !r)) {
        free(a);
        free(r);
        json_decref(o);
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    }
    memcpy(a, at, alen + 1);
    json_decref(o);
    wipe_scratch(cv);
    cv->scratch = a;
    cv->scratch_len = alen + 1;
    cv->scratch_refresh = r;
    out->access_token = a;
    out->refresh_token = r;
    out->expires_at_ms = expires;
    return D2EV_OK;
}

static int src_get(void *opaque, const char *oem, const char *key, struct d2ev_oem_token *out)
{
    struct d2ev_credview *cv = opaque;
    memset(out, 0, sizeof(*out));
    if (!key || !*key) {
        for (struct app_token *a = cv->apps; a; a = a->next) {
            if (!strcmp(a->oem, oem)) {
                out->access_token = a->access_token;
                out->expires_at_ms = a->expires_at_ms;
                return D2EV_OK;
            }
        }
        return D2EV_ERR_NOT_FOUND;
    }
    struct cred *c = find(cv, key);
    if (!c || strcmp(c->oem, oem) != 0)
        return D2EV_ERR_NOT_FOUND;
    struct d2ev_err err = { 0 };
    size_t len = 0;
    char *plain = d2ev_crypto_open(cv->keyring, c->sealed, c->vehicle_id, &len, &err);
    if (!plain) {
        d2ev_metric_inc(cv->m_open_failed);
        d2ev_log_error("cannot open credentials", D2EV_LF_STR("vehicle_id", c->vehicle_id),
                       D2EV_LF_STR("error", err.msg));
        return D2EV_ERR_NOT_FOUND;
    }
    int rc = parse_tokens(cv, plain, len, out, &err);
    d2ev_crypto_free_secret(plain, len);
    if (rc) {
        d2ev_log_error("credentials hold no usable tokens",
                       D2EV_LF_STR("vehicle_id", c->vehicle_id), D2EV_LF_STR("error", err.msg));
        return D2EV_ERR_NOT_FOUND;
    }
    if (!out->expires_at_ms)
        out->expires_at_ms = c->access_expires_at;
    return D2EV_OK;
}

static int send_refresh_request(struct d2ev_credview *cv, const char *vehicle_id)
{
    struct d2ev_reg_request r;
    memset(&r, 0, sizeof(r));
    char id[D2EV_UUID_STR_LEN + 1];
    d2ev_uuid_v4(id);
    d2ev_strlcpy(r.request_id, id, sizeof(r.request_id));
    r.action = D2EV_REG_REFRESH_CREDENTIALS;
    d2ev_strlcpy(r.vehicle_id, vehicle_id, sizeof(r.vehicle_id));
    d2ev_strlcpy(r.source, cv->service, sizeof(r.source));
    json_t *msg = d2ev_reg_request_encode(&r);
    struct d2ev_err err = { 0 };
    int rc =
        msg ? d2ev_producer_send_json(cv->producer, D2EV_TOPIC_REG_REQUESTS, vehicle_id, msg, &err)
            : D2EV_ERR_NOMEM;
    json_decref(msg);
    if (rc) {
        d2ev_log_error("cannot request a credentials refresh",
                       D2EV_LF_STR("vehicle_id", vehicle_id), D2EV_LF_STR("error", err.msg));
        return rc;
    }
    cv->refresh_requests++;
    d2ev_metric_inc(cv->m_requests);
    d2ev_log_info("asked registration to refresh credentials",
                  D2EV_LF_STR("vehicle_id", vehicle_id));
    return D2EV_OK;
}

static int src_request_refresh(void *opaque, const char *oem, const char *key)
{
    struct d2ev_credview *cv = opaque;
    if (!key || !*key)
        return 1; /* per-app client credentials: the engine fetches its own */
    struct cred *c = find(cv, key);
    if (!c)
        return -1; /* nothing to refresh: not (or no longer) registered here */
    int64_t now = d2ev_clock_mono_ms();
    if (c->requested_mono_ms && now - c->requested_mono_ms < cv->refresh_interval_ms)
        return 0; /* a request is already on its way; wait for the new record */
    if (send_refresh_request(cv, key) != D2EV_OK)
        return -1;
    c->requested_mono_ms = now;
    return 0;
}

static void src_store(void *opaque, const char *oem, const char *key,
                      const struct d2ev_oem_token *tokens)
{
    struct d2ev_credview *cv = opaque;
    if (key && *key)
        return; /* never: per-vehicle refreshes belong to registration */
    struct app_token *a = cv->apps;
    while (a && strcmp(a->oem, oem) != 0)
        a = a->next;
    if (!a) {
        a = calloc(1, sizeof(*a));
        if (!a)
            return;
        d2ev_strlcpy(a->oem, oem, sizeof(a->oem));
        a->next = cv->apps;
        cv->apps = a;
    }
    char *copy = strdup(tokens->access_token ? tokens->access_token : "");
    if (!copy)
        return;
    if (a->access_token)
        d2ev_crypto_free_secret(a->access_token, 0);
    a->access_token = copy;
    a->expires_at_ms = tokens->expires_at_ms;
}

struct d2ev_credview *d2ev_credview_create(const struct d2ev_credview_conf *conf,
                                           struct d2ev_err *err)
{
    if (!conf->keyring || !conf->producer) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "credentials view needs a keyring and a producer");
        return NULL;
    }
    struct d2ev_credview *cv = calloc(1, sizeof(*cv));
    if (!cv) {
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    cv->keyring = conf->keyring;
    cv->producer = conf->producer;
    d2ev_strlcpy(cv->service, conf->service ? conf->service : "d2ev", sizeof(cv->service));
    cv->refresh_interval_ms = conf->refresh_interval_ms > 0 ? conf->refresh_interval_ms : 30000;
    cv->source = (struct d2ev_oem_token_source){
        .opaque = cv,
        .get = src_get,
        .request_refresh = src_request_refresh,
        .store = src_store,
    };
    cv->m_requests = d2ev_metric_counter("d2ev_credentials_refresh_requests_total",
                                         "Refreshes asked of registration after a 401", NULL);
    cv->m_open_failed = d2ev_metric_counter("d2ev_credentials_open_failed_total",
                                            "Sealed credentials that would not open", NULL);
    return cv;
}

static void free_node(struct d2ev_htab_node *n, void *arg)
{
    d2ev_htab_remove(arg, n);
    cred_free(D2EV_HTAB_ENTRY(n, struct cred, node));
}

void d2ev_credview_destroy(struct d2ev_credview *cv)
{
    if (!cv)
        return;
    d2ev_htab_each(&cv->creds, free_node, &cv->creds);
    d2ev_htab_free(&cv->creds);
    while (cv->apps) {
        struct app_token *a = cv->apps;
        cv->apps = a->next;
        if (a->access_token)
            d2ev_crypto_free_secret(a->access_token, 0);
        free(a);
    }
    wipe_scratch(cv);
    free(cv);
}

void d2ev_credview_attach(struct d2ev_credview *cv, struct d2ev_oem_engine *engine)
{
    cv->engine = engine;
}

const struct d2ev_oem_token_source *d2ev_credview_token_source(struct d2ev_credview *cv)
{
    return &cv->source;
}

static void forget(struct d2ev_credview *cv, struct cred *c, const char *why)
{
    if (cv->engine)
        d2ev_oem_engine_refresh_failed(cv->engine, c->oem, c->vehicle_id, D2EV_OEM_PERMANENT, why);
    d2ev_htab_remove(&cv->creds, &c->node);
    cred_free(c);
}

int d2ev_credview_apply(struct d2ev_credview *cv, const rd_kafka_message_t *msg,
                        struct d2ev_err *err)
{
    char key[D2EV_VEHICLE_ID_MAX + 1];
    d2ev_msg_key(msg, key, sizeof(key));
    if (!msg->payload) {
        struct cred *c = find(cv, key);
        if (c)
            forget(cv, c, "the vehicle was deregistered");
        return D2EV_OK;
    }
    struct d2ev_credentials rec;
    int rc = d2ev_credentials_decode(msg->payload, msg->len, &rec, err);
    if (rc)
        return rc;
    if (strcmp(rec.vehicle_id, key) != 0) {
        d2ev_credentials_clear(&rec);
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "credentials.vehicle_id '%s' does not match the message key '%s'",
                            rec.vehicle_id, key);
    }
    struct cred *c = find(cv, rec.vehicle_id);
    if (c && rec.version <= c->version) {
        d2ev_credentials_clear(&rec); /* replayed or stale: newest wins */
        return D2EV_OK;
    }
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (!c) {
            d2ev_credentials_clear(&rec);
            return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        }
        d2ev_strlcpy(c->vehicle_id, rec.vehicle_id, sizeof(c->vehicle_id));
        c->node.key = c->vehicle_id;
        c->node.klen = strlen(c->vehicle_id);
        if (d2ev_htab_insert(&cv->creds, &c->node) != 0) {
            free(c);
            d2ev_credentials_clear(&rec);
            return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        }
    } else if (c->sealed) {
        d2ev_crypto_free_secret(c->sealed, 0);
    }
    d2ev_strlcpy(c->oem, rec.oem, sizeof(c->oem));
    c->sealed = rec.sealed; /* take ownership */
    rec.sealed = NULL;
    c->access_expires_at = rec.access_expires_at;
    c->version = rec.version;
    c->requested_mono_ms = 0;
    d2ev_credentials_clear(&rec);
    if (cv->engine)
        d2ev_oem_engine_tokens_changed(cv->engine, c->oem, c->vehicle_id);
    return D2EV_OK;
}

void d2ev_credview_remove(struct d2ev_credview *cv, const char *vehicle_id)
{
    struct cred *c = find(cv, vehicle_id);
    if (c)
        forget(cv, c, "the vehicle moved to another replica");
}

struct revoke_ctx {
    struct d2ev_credview *cv;
    const rd_kafka_topic_partition_list_t *parts;
    int32_t partition_cnt;
};

static void revoke_one(struct d2ev_htab_node *n, void *arg)
{
    struct revoke_ctx *r = arg;
    struct cred *c = D2EV_HTAB_ENTRY(n, struct cred, node);
    int32_t p = d2ev_kafka_partition_of(c->vehicle_id, r->partition_cnt);
    for (int i = 0; i < r->parts->cnt; i++) {
        if (r->parts->elems[i].partition == p &&
            !strcmp(r->parts->elems[i].topic, D2EV_TOPIC_CREDENTIALS)) {
            forget(r->cv, c, "the vehicle moved to another replica");
            return;
        }
    }
}

void d2ev_credview_remove_partitions(struct d2ev_credview *cv,
                                     const rd_kafka_topic_partition_list_t *parts,
                                     int32_t partition_cnt)
{
    struct revoke_ctx r = { cv, parts, partition_cnt };
    d2ev_htab_each(&cv->creds, revoke_one, &r);
}

bool d2ev_credview_has(const struct d2ev_credview *cv, const char *vehicle_id)
{
    return find(cv, vehicle_id) != NULL;
}

size_t d2ev_credview_count(const struct d2ev_credview *cv)
{
    return cv->creds.count;
}

uint64_t d2ev_credview_refresh_requests(const struct d2ev_credview *cv)
{
    return cv->refresh_requests;
}
