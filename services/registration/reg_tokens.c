/*
 * reg_tokens.c: credentials and token refreshes. d2ev-registration is the
 * only writer of d2ev.credentials, so it is also the only one that refreshes:
 *
 * - The OEM engine asks this token source for tokens (get) and hands it the
 *   tokens of every refresh it ran (store). A rotated refresh token is sealed
 *   and produced, and the producer flushed, inside store(): the engine lets
 *   nothing use the new tokens before store() returns, so the old, now dead,
 *   refresh token is never the only copy in Kafka.
 * - A timer refreshes every owned credential `refresh-margin-s` before its
 *   access token expires, through the engine's single-flight REFRESH.
 * - Per-application OEMs (client credentials) have one token for the whole
 *   application: it is refreshed once, and every owned vehicle of that OEM
 *   gets its credentials record rewritten with it.
 *
 * Tokens in memory stay sealed; get() opens them into a scratch buffer that
 * is wiped on the next call.
 *
 * Engine token keys: "" (per-application), "<vehicle_id>" (stored
 * credentials), "reg:<vehicle_id>" (a link in progress; see reg_requests.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/json.h"
#include "d2ev/log.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"
#include "reg_internal.h"

#define DEFAULT_TOKEN_LIFE_MS 3600000 /* when the OEM does not say */
#define MAX_BACKOFF_FACTOR    16

static char *dup_secret(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void replace_secret(char **dst, const char *src)
{
    d2ev_crypto_free_secret(*dst, 0);
    *dst = dup_secret(src);
}

/* ------------------------------------------------------------ sealing */

/* The sealed token JSON of docs/events.md (a secret: wipe it). */
static char *token_json(const char *access, const char *refresh, int64_t expires_at)
{
    char ts[D2EV_TIME_STR_MAX];
    json_t *o = json_pack("{s:s, s:s?, s:s, s:s, s:s}", "access_token", access ? access : "",
                          "refresh_token", refresh, "expires_at", d2ev_time_format(expires_at, ts),
                          "token_type", "Bearer", "scope", "");
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

int reg_write_credentials(struct reg *R, struct vstate *vs, const char *oem, const char *access,
                          const char *refresh, int64_t expires_at, bool sync)
{
    int64_t now = d2ev_clock_now_ms();
    if (expires_at <= 0)
        expires_at = now + DEFAULT_TOKEN_LIFE_MS;
    char *plain = token_json(access, refresh, expires_at);
    struct d2ev_err err = { 0 };
    char *sealed = plain ? d2ev_crypto_seal(R->keys, plain, strlen(plain), vs->id, &err) : NULL;
    d2ev_crypto_free_secret(plain, 0);
    if (!sealed) {
        d2ev_log_error("cannot seal credentials", D2EV_LF_STR("vehicle_id", vs->id),
                       D2EV_LF_STR("error", plain ? err.msg : "out of memory"));
        R->failed = D2EV_ERR_CRYPTO;
        return D2EV_ERR_CRYPTO;
    }
    struct d2ev_credentials c;
    memset(&c, 0, sizeof(c));
    d2ev_strlcpy(c.vehicle_id, vs->id, sizeof(c.vehicle_id));
    d2ev_strlcpy(c.oem, oem, sizeof(c.oem));
    d2ev_strlcpy(c.key_id, d2ev_keyring_primary(R->keys), sizeof(c.key_id));
    c.sealed = sealed;
    c.access_expires_at = expires_at;
    c.version = vs->has_creds ? vs->c.version + 1 : 0;
    c.updated_at = now;
    int rc = reg_send_json(R, D2EV_TOPIC_CREDENTIALS, vs->id, d2ev_credentials_encode(&c));
    d2ev_credentials_clear(&vs->c);
    vs->c = c; /* takes sealed */
    vs->has_creds = true;
    if (rc == D2EV_OK && sync) {
        rc = d2ev_producer_flush(R->producer, 10000, &err);
        if (rc) {
            d2ev_log_error("rotated tokens not acknowledged by Kafka",
                           D2EV_LF_STR("vehicle_id", vs->id), D2EV_LF_STR("error", err.msg));
            R->failed = rc;
        } else {
            R->produced = 0;
        }
    }
    return rc;
}

/* Open vs's credentials into the scratch buffers. */
static int open_credentials(struct reg *R, struct vstate *vs, struct d2ev_oem_token *out)
{
    struct d2ev_err err = { 0 };
    size_t len = 0;
    char *plain = d2ev_crypto_open(R->keys, vs->c.sealed, vs->id, &len, &err);
    if (!plain) {
        d2ev_log_error("cannot open credentials", D2EV_LF_STR("vehicle_id", vs->id),
                       D2EV_LF_STR("key_id", vs->c.key_id), D2EV_LF_STR("error", err.msg));
        return D2EV_ERR_CRYPTO;
    }
    json_t *o = json_loadb(plain, len, 0, NULL);
    d2ev_crypto_free_secret(plain, len);
    int rc = D2EV_ERR_NOT_FOUND;
    if (json_is_object(o)) {
        replace_secret(&R->scratch_access, json_string_value(json_object_get(o, "access_token")));
        replace_secret(&R->scratch_refresh, json_string_value(json_object_get(o, "refresh_token")));
        out->access_token = R->scratch_access ? R->scratch_access : "";
        out->refresh_token = R->scratch_refresh;
        out->expires_at_ms = vs->c.access_expires_at;
        rc = D2EV_OK;
    }
    json_decref(o);
    return rc;
}

/* ------------------------------------------------------------ token source */

/* The link in progress behind "reg:<vehicle_id>", or NULL. */
static struct reg_op *link_of(struct reg *R, const char *key)
{
    if (strncmp(key, REG_LINK_KEY_PFX, sizeof(REG_LINK_KEY_PFX) - 1))
        return NULL;
    struct vstate *vs = reg_fleet_find(R, key + sizeof(REG_LINK_KEY_PFX) - 1);
    return vs && vs->op && vs->op->kind == REG_OP_LINK ? vs->op : NULL;
}

static int src_get(void *opaque, const char *oem, const char *key, struct d2ev_oem_token *out)
{
    struct reg *R = opaque;
    if (!*key) {
        struct reg_oem *ro = reg_oem_find(R, oem);
        if (!ro || !ro->app_access)
            return D2EV_ERR_NOT_FOUND;
        out->access_token = ro->app_access;
        out->expires_at_ms = ro->app_expires_at;
        return D2EV_OK;
    }
    struct reg_op *op = link_of(R, key);
    if (op) {
        if (!op->access && !op->refresh)
            return D2EV_ERR_NOT_FOUND;
        out->access_token = op->access ? op->access : "";
        out->refresh_token = op->refresh;
        out->expires_at_ms = op->expires_at;
        return D2EV_OK;
    }
    struct vstate *vs = reg_fleet_find(R, key);
    if (!vs || !vs->has_creds)
        return D2EV_ERR_NOT_FOUND;
    return open_credentials(R, vs, out);
}

static void src_store(void *opaque, const char *oem, const char *key,
                      const struct d2ev_oem_token *t)
{
    struct reg *R = opaque;
    int64_t mono = d2ev_clock_mono_ms();
    if (!*key) {
        struct reg_oem *ro = reg_oem_find(R, oem);
        if (!ro)
            return;
        replace_secret(&ro->app_access, t->access_token);
        ro->app_expires_at =
            t->expires_at_ms > 0 ? t->expires_at_ms : d2ev_clock_now_ms() + DEFAULT_TOKEN_LIFE_MS;
        ro->app_generation++;
        ro->app_refreshed_mono = mono;
        d2ev_metric_inc(R->m_refresh_ok);
        return;
    }
    struct reg_op *op = link_of(R, key);
    if (op) { /* a link's tokens stay with the link until it is accepted */
        replace_secret(&op->access, t->access_token);
        replace_secret(&op->refresh, t->refresh_token);
        op->expires_at = t->expires_at_ms;
        return;
    }
    struct vstate *vs = reg_fleet_find(R, key);
    if (!vs) {
        d2ev_log_error("refreshed tokens of a vehicle this replica does not hold",
                       D2EV_LF_STR("oem", oem), D2EV_LF_STR("vehicle_id", key));
        return;
    }
    vs->refreshed_mono = mono;
    d2ev_metric_inc(R->m_refresh_ok);
    reg_write_credentials(R, vs, oem, t->access_token, t->refresh_token, t->expires_at_ms, true);
}

void reg_tokens_source(struct reg *R)
{
    R->tsrc = (struct d2ev_oem_token_source){ .opaque = R, .get = src_get, .store = src_store };
}

/* ------------------------------------------------------------ suspension */

void reg_suspend(struct reg *R, struct vstate *vs, const char *why)
{
    if (!vs->has_vehicle || vs->v.status == D2EV_VEHICLE_SUSPENDED)
        return;
    struct d2ev_vehicle v = vs->v;
    v.status = D2EV_VEHICLE_SUSPENDED;
    snprintf(v.status_reason, sizeof(v.status_reason),
             "consent revoked at the OEM or tokens no longer valid (%s); the driver must link "
             "the car again",
             why);
    v.updated_at = d2ev_clock_now_ms();
    json_t *j = d2ev_vehicle_encode(&v);
    if (j) {
        json_t *id = json_object_get(j, "id");
        d2ev_strlcpy(v.env.id, json_string_value(id) ? json_string_value(id) : "",
                     sizeof(v.env.id));
    }
    if (reg_send_json(R, D2EV_TOPIC_VEHICLES, vs->id, j))
        return;
    vs->v = v;
    struct d2ev_notification n;
    memset(&n, 0, sizeof(n));
    d2ev_strlcpy(n.vehicle_id, vs->id, sizeof(n.vehicle_id));
    d2ev_strlcpy(n.user_id, v.user_id, sizeof(n.user_id));
    d2ev_strlcpy(n.kind, "consent_revoked", sizeof(n.kind));
    snprintf(n.message, sizeof(n.message),
             "d2ev can no longer reach your car through %s. If it is plugged in but not "
             "charging, start charging from the car or its app. Link it again in the app to "
             "keep smart charging.",
             v.oem);
    reg_send_json(R, D2EV_TOPIC_NOTIFICATIONS, vs->id, d2ev_notification_encode(&n));
    d2ev_metric_inc(R->m_suspended);
    d2ev_log_info("vehicle suspended", D2EV_LF_STR("vehicle_id", vs->id), D2EV_LF_STR("oem", v.oem),
                  D2EV_LF_STR("reason", why));
}

/* ------------------------------------------------------------ refreshes */

static void refresh_done(void *arg, const struct d2ev_oem_outcome *out)
{
    struct reg_op *op = arg;
    struct reg *R = op->R;
    struct vstate *vs = op->vs;
    struct reg_msg *m = op->m;
    int64_t mono = d2ev_clock_mono_ms();
    if (!m && vs)
        R->timer_ops--;
    if (op->kind == REG_OP_APP_REFRESH)
        op->oem->app_refreshing = false;
    bool ok = out->cls == D2EV_OEM_OK;
    bool dead = out->cls == D2EV_OEM_PERMANENT || out->cls == D2EV_OEM_UNAUTHORIZED;
    if (!ok) {
        d2ev_metric_inc(R->m_refresh_failed);
        if (op->kind == REG_OP_APP_REFRESH) {
            struct reg_oem *ro = op->oem;
            ro->app_backoff_ms =
                ro->app_backoff_ms ? ro->app_backoff_ms * 2 : R->cfg->refresh_retry_ms;
            if (ro->app_backoff_ms > R->cfg->refresh_retry_ms * MAX_BACKOFF_FACTOR)
                ro->app_backoff_ms = R->cfg->refresh_retry_ms * MAX_BACKOFF_FACTOR;
            ro->app_retry_at_mono = mono + ro->app_backoff_ms;
            d2ev_log_warn("application token refresh failed", D2EV_LF_STR("oem", ro->name),
                          D2EV_LF_STR("class", d2ev_oem_class_name(out->cls)),
                          D2EV_LF_STR("error", out->message));
        } else if (vs) {
            vs->backoff_ms = vs->backoff_ms ? vs->backoff_ms * 2 : R->cfg->refresh_retry_ms;
            if (vs->backoff_ms > R->cfg->refresh_retry_ms * MAX_BACKOFF_FACTOR)
                vs->backoff_ms = R->cfg->refresh_retry_ms * MAX_BACKOFF_FACTOR;
            vs->retry_at_mono = mono + vs->backoff_ms;
        }
    } else if (op->kind == REG_OP_APP_REFRESH) {
        op->oem->app_backoff_ms = 0;
    } else if (vs) {
        vs->backoff_ms = 0;
    }
    if (!op->orphaned && vs) {
        dead = dead && op->kind == REG_OP_REFRESH; /* an app token failing is not the driver's */
        if (dead)
            reg_suspend(R, vs, out->message);
        if (ok && op->kind == REG_OP_APP_REFRESH && op->oem->app_access &&
            reg_write_credentials(R, vs, op->oem->name, op->oem->app_access, NULL,
                                  op->oem->app_expires_at, false) == D2EV_OK)
            vs->app_generation = op->oem->app_generation;
        if (m) {
            if (ok)
                reg_answer(R, m, true, "ok", NULL);
            else if (dead)
                reg_answer(R, m, false, "consent_revoked",
                           "the OEM refused the token refresh (%s); the driver must link the car "
                           "again",
                           out->message);
            else
                reg_answer(R, m, false, "oem_unavailable",
                           "the OEM could not refresh the tokens now (%s: %s); try again later",
                           d2ev_oem_class_name(out->cls), out->message);
            reg_msg_finish(R, m);
        }
    }
    if (vs)
        vs->op = NULL;
    reg_op_free(op);
    if (vs)
        reg_fleet_next(R, vs);
}

static int submit_refresh(struct reg *R, struct reg_op *op, const char *key)
{
    struct d2ev_err err = { 0 };
    struct d2ev_oem_task task = { .oem = op->oem->name, .op = D2EV_OEM_OP_REFRESH, .key = key };
    if (d2ev_oem_engine_submit(R->engine, &task, refresh_done, op, NULL, &err) != D2EV_OK) {
        d2ev_log_warn("cannot start a token refresh", D2EV_LF_STR("oem", op->oem->name),
                      D2EV_LF_STR("error", err.msg));
        return err.code;
    }
    return D2EV_OK;
}

int reg_refresh_start(struct reg *R, struct vstate *vs, struct reg_msg *m)
{
    struct reg_oem *ro = reg_oem_find(R, vs->c.oem);
    if (!ro)
        return D2EV_ERR_NOT_FOUND;
    struct reg_op *op = calloc(1, sizeof(*op));
    if (!op)
        return D2EV_ERR_NOMEM;
    *op = (struct reg_op){ .R = R,
                           .vs = vs,
                           .m = m,
                           .oem = ro,
                           .kind = ro->per_app ? REG_OP_APP_REFRESH : REG_OP_REFRESH };
    if (ro->per_app)
        ro->app_refreshing = true;
    int rc = submit_refresh(R, op, ro->per_app ? "" : vs->id);
    if (rc) {
        if (ro->per_app)
            ro->app_refreshing = false;
        free(op);
        return rc;
    }
    vs->op = op;
    if (!m)
        R->timer_ops++;
    return D2EV_OK;
}

/* The application token of ro, for the timer (no vehicle). */
static void app_refresh_start(struct reg *R, struct reg_oem *ro)
{
    struct reg_op *op = calloc(1, sizeof(*op));
    if (!op)
        return;
    *op = (struct reg_op){ .R = R, .oem = ro, .kind = REG_OP_APP_REFRESH };
    ro->app_refreshing = true;
    if (submit_refresh(R, op, "")) {
        ro->app_refreshing = false;
        ro->app_retry_at_mono = d2ev_clock_mono_ms() + R->cfg->refresh_retry_ms;
        free(op);
    }
}

/* ------------------------------------------------------------ the timer */

struct tick {
    struct reg *R;
    int64_t now, mono;
    size_t per_app[REG_MAX_OEMS];
};

static void tick_one(struct d2ev_hnode *n, void *arg)
{
    struct tick *t = arg;
    struct reg *R = t->R;
    struct vstate *vs = D2EV_HMAP_ENTRY(n, struct vstate, node);
    if (!vs->owned || !vs->has_creds || vs->op || vs->wait_head || R->failed)
        return;
    struct reg_oem *ro = reg_oem_find(R, vs->c.oem);
    if (!ro)
        return;
    if (ro->per_app) {
        t->per_app[ro - R->oems]++;
        if (ro->app_access && vs->app_generation != ro->app_generation) {
            if (reg_write_credentials(R, vs, ro->name, ro->app_access, NULL, ro->app_expires_at,
                                      false) == D2EV_OK)
                vs->app_generation = ro->app_generation;
        }
        return;
    }
    if (vs->has_vehicle && vs->v.status == D2EV_VEHICLE_SUSPENDED)
        return;
    if (t->now < vs->c.access_expires_at - R->margin_ms || t->mono < vs->retry_at_mono ||
        R->timer_ops >= (size_t)R->cfg->refresh_concurrency)
        return;
    if (reg_refresh_start(R, vs, NULL) != D2EV_OK)
        vs->retry_at_mono = t->mono + R->cfg->refresh_retry_ms;
}

void reg_tokens_tick(struct reg *R)
{
    struct tick t = { .R = R, .now = d2ev_clock_now_ms(), .mono = d2ev_clock_mono_ms() };
    d2ev_hmap_each(&R->fleet, tick_one, &t);
    for (size_t i = 0; i < R->noems; i++) {
        struct reg_oem *ro = &R->oems[i];
        if (!ro->per_app || !t.per_app[i] || ro->app_refreshing || t.mono < ro->app_retry_at_mono)
            continue;
        if (!ro->app_access || t.now >= ro->app_expires_at - R->margin_ms)
            app_refresh_start(R, ro);
    }
}
