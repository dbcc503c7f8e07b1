/*
 * reg_requests.c: the four actions of a registration.request.
 *
 * register            open the sealed authorisation; prove the link through
 *                     the adapter (code exchange, or refresh of the given
 *                     refresh token; per-application OEMs: the app token);
 *                     read the car once (the token opens this car; battery
 *                     capacity); then write credentials, the vehicle record
 *                     and the result. A failure writes only the result.
 * update_preferences  apply the patch over the stored preferences, with every
 *                     rule checked; prefs_version + 1.
 * deregister          tombstones on d2ev.vehicles and d2ev.credentials.
 * refresh_credentials refresh now, unless that happened very recently.
 *
 * Idempotency: a request id (or vehicle + action + idempotency key) that was
 * answered before is answered again the same way and changes nothing. The
 * records a request writes carry an event id derived from its request id, so
 * a request whose records were written but whose answer was lost (a crash
 * between the two) is recognised too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"
#include "d2ev/tz.h"
#include "reg_internal.h"

void reg_op_free(struct reg_op *op)
{
    if (!op)
        return;
    d2ev_crypto_free_secret(op->access, 0);
    d2ev_crypto_free_secret(op->refresh, 0);
    free(op);
}

/* End vs's operation. From an engine callback (cb) also finish its request
 * and start what waits behind the vehicle; otherwise reg_request_start(),
 * which is on the stack, does that. */
static void end_op(struct reg *R, struct reg_op *op, bool cb)
{
    struct vstate *vs = op->vs;
    if (cb && op->m && !op->orphaned)
        reg_msg_finish(R, op->m);
    if (vs)
        vs->op = NULL;
    reg_op_free(op);
    if (cb && vs)
        reg_fleet_next(R, vs);
}

/* Produce v as vs's vehicle record, with the event id of request_id. */
static int write_vehicle(struct reg *R, struct vstate *vs, struct d2ev_vehicle *v,
                         const char *request_id)
{
    reg_event_id(request_id, D2EV_TOPIC_VEHICLES, v->env.id);
    json_t *j = d2ev_vehicle_encode(v);
    if (j)
        json_object_set_new(j, "id", json_string(v->env.id));
    int rc = reg_send_json(R, D2EV_TOPIC_VEHICLES, vs->id, j);
    if (rc == D2EV_OK) {
        vs->v = *v;
        vs->has_vehicle = true;
    }
    return rc;
}

/* True when vs's current record was written by this very request. */
static bool applied_before(const struct vstate *vs, const char *request_id)
{
    char eid[D2EV_UUID_STR_LEN + 1];
    reg_event_id(request_id, D2EV_TOPIC_VEHICLES, eid);
    return vs->has_vehicle && !strcmp(vs->v.env.id, eid);
}

/* ------------------------------------------------------------ register */

/* The link's tokens are good: write everything and accept. */
static void link_commit(struct reg *R, struct reg_op *op)
{
    struct vstate *vs = op->vs;
    const struct d2ev_reg_request *req = &op->m->req;
    struct reg_oem *ro = op->oem;
    bool same_user = vs->has_vehicle && !strcmp(vs->v.user_id, req->user_id);
    struct d2ev_vehicle v;
    memset(&v, 0, sizeof(v));
    if (same_user)
        v = vs->v; /* a re-link keeps the driver's preferences and history */
    else
        d2ev_prefs_default(&v.prefs);
    struct d2ev_err err = { 0 };
    if (req->prefs_patch && d2ev_prefs_apply_patch(&v.prefs, req->prefs_patch, &err)) {
        reg_answer(R, op->m, false, "invalid_preferences", "prefs: %s", err.msg);
        return;
    }
    int64_t now = d2ev_clock_now_ms();
    d2ev_strlcpy(v.vehicle_id, vs->id, sizeof(v.vehicle_id));
    d2ev_strlcpy(v.user_id, req->user_id, sizeof(v.user_id));
    d2ev_strlcpy(v.oem, req->oem, sizeof(v.oem));
    d2ev_strlcpy(v.oem_vehicle_id, req->oem_vehicle_id, sizeof(v.oem_vehicle_id));
    d2ev_strlcpy(v.timezone, req->timezone, sizeof(v.timezone));
    d2ev_strlcpy(v.region, req->region, sizeof(v.region));
    d2ev_strlcpy(v.site_id, req->site_id, sizeof(v.site_id));
    if (req->has_battery_kwh) {
        v.has_battery_kwh = true;
        v.battery_kwh = req->battery_kwh;
    } else if (op->has_battery) {
        v.has_battery_kwh = true;
        v.battery_kwh = op->battery_kwh;
    }
    if (req->has_max_power_kw) {
        v.has_max_power_kw = true;
        v.max_power_kw = req->max_power_kw;
    }
    v.prefs_version = vs->has_vehicle ? vs->v.prefs_version + 1 : 1;
    v.status = D2EV_VEHICLE_ACTIVE;
    v.status_reason[0] = '\0';
    v.registered_at = same_user ? vs->v.registered_at : now;
    v.updated_at = now;
    /* credentials first: whoever sees the vehicle can find its tokens */
    int rc = ro->per_app ? reg_write_credentials(R, vs, ro->name, ro->app_access, NULL,
                                                 ro->app_expires_at, false)
                         : reg_write_credentials(R, vs, ro->name, op->access, op->refresh,
                                                 op->expires_at, false);
    if (rc)
        return;
    vs->app_generation = ro->app_generation;
    vs->refreshed_mono = d2ev_clock_mono_ms();
    vs->retry_at_mono = vs->backoff_ms = 0;
    if (write_vehicle(R, vs, &v, req->request_id))
        return;
    d2ev_oem_engine_tokens_changed(R->engine, ro->name, vs->id);
    reg_answer(R, op->m, true, "ok", NULL);
}

static void link_reject(struct reg *R, struct reg_op *op, const struct d2ev_oem_outcome *out)
{
    if (out->cls == D2EV_OEM_PERMANENT || out->cls == D2EV_OEM_UNAUTHORIZED)
        reg_answer(R, op->m, false, "consent_revoked",
                   "the OEM refused the authorisation (%s); link the car again", out->message);
    else
        reg_answer(R, op->m, false, "oem_unavailable",
                   "the OEM could not be reached to check the link (%s: %s); try again later",
                   d2ev_oem_class_name(out->cls), out->message);
}

static int link_submit(struct reg *R, struct reg_op *op, uint32_t oem_op)
{
    const struct d2ev_reg_request *req = &op->m->req;
    char key[sizeof(REG_LINK_KEY_PFX) + D2EV_VEHICLE_ID_MAX];
    snprintf(key, sizeof(key), "%s%s", REG_LINK_KEY_PFX, op->vs->id);
    struct d2ev_oem_task task = {
        .oem = op->oem->name,
        .op = oem_op,
        .vehicle = oem_op == D2EV_OEM_OP_READ ? req->oem_vehicle_id : NULL,
        .key = key,
    };
    struct d2ev_err err = { 0 };
    if (d2ev_oem_engine_submit(R->engine, &task, reg_link_done, op, NULL, &err) != D2EV_OK) {
        reg_answer(R, op->m, false, "oem_unavailable", "cannot read the car: %s", err.msg);
        return -1;
    }
    return 0;
}

/* The link's tokens are known: read the car, or write at once. */
static void link_read(struct reg *R, struct reg_op *op, bool cb)
{
    op->stage = 1;
    if (!R->cfg->read_on_register) {
        link_commit(R, op);
        end_op(R, op, cb);
        return;
    }
    if (link_submit(R, op, D2EV_OEM_OP_READ))
        end_op(R, op, cb);
}

void reg_link_done(void *arg, const struct d2ev_oem_outcome *out)
{
    struct reg_op *op = arg;
    struct reg *R = op->R;
    if (op->orphaned) {
        end_op(R, op, true);
        return;
    }
    bool refused = out->cls == D2EV_OEM_PERMANENT || out->cls == D2EV_OEM_UNAUTHORIZED;
    if (op->stage == 0) {
        if (out->cls != D2EV_OEM_OK) {
            link_reject(R, op, out);
            end_op(R, op, true);
            return;
        }
        if (out->tokens && !op->oem->per_app) {
            d2ev_crypto_free_secret(op->access, 0);
            d2ev_crypto_free_secret(op->refresh, 0);
            op->access = out->tokens->access_token ? strdup(out->tokens->access_token) : NULL;
            op->refresh = out->tokens->refresh_token && *out->tokens->refresh_token
                              ? strdup(out->tokens->refresh_token)
                          : op->refresh ? strdup(op->refresh)
                                        : NULL;
            op->expires_at = out->tokens->expires_at_ms;
        }
        link_read(R, op, true);
        return;
    }
    /* the read: only a refusal disproves the link; asleep, rate limits and
     * outages only mean the capacity stays unknown */
    if (refused) {
        link_reject(R, op, out);
    } else {
        const struct d2ev_oem_state *st = out->state;
        if (out->cls == D2EV_OEM_OK && st && (st->fields & D2EV_OEM_F_BATTERY_KWH) &&
            st->battery_kwh >= 1 && st->battery_kwh <= 300) {
            op->has_battery = true;
            op->battery_kwh = st->battery_kwh;
        }
        link_commit(R, op);
    }
    end_op(R, op, true);
}

/* Read the app's sealed authorisation: the refresh and access tokens go
 * into op, the code (a secret too; the caller wipes it) into *code. Returns
 * false after answering the request. */
static bool open_authorization(struct reg *R, struct reg_op *op, char **code, char **redirect_uri)
{
    const struct d2ev_reg_request *req = &op->m->req;
    struct d2ev_err err = { 0 };
    size_t len = 0;
    *code = *redirect_uri = NULL;
    char *plain = d2ev_crypto_open(R->keys, req->sealed_auth, req->vehicle_id, &len, &err);
    if (!plain) {
        reg_answer(R, op->m, false, "invalid_authorization",
                   "the sealed authorisation does not open with this service's keys (%s)", err.msg);
        return false;
    }
    json_t *o = json_loadb(plain, len, 0, NULL);
    d2ev_crypto_free_secret(plain, len);
    if (!json_is_object(o)) {
        json_decref(o);
        reg_answer(R, op->m, false, "invalid_authorization",
                   "the sealed authorisation is not a JSON object");
        return false;
    }
    const char *c = json_string_value(json_object_get(o, "code"));
    const char *rt = json_string_value(json_object_get(o, "refresh_token"));
    const char *at = json_string_value(json_object_get(o, "access_token"));
    const char *ru = json_string_value(json_object_get(o, "redirect_uri"));
    const char *exp = json_string_value(json_object_get(o, "expires_at"));
    op->refresh = rt && *rt ? strdup(rt) : NULL;
    op->access = at && *at ? strdup(at) : NULL;
    if (exp)
        d2ev_time_parse(exp, &op->expires_at, NULL);
    *code = c && *c ? strdup(c) : NULL;
    *redirect_uri = ru && *ru ? strdup(ru) : NULL;
    json_decref(o);
    return true;
}

static void start_register(struct reg *R, struct vstate *vs, struct reg_msg *m)
{
    const struct d2ev_reg_request *req = &m->req;
    struct reg_oem *ro = reg_oem_find(R, req->oem);
    struct d2ev_err err = { 0 };
    if (!ro) {
        reg_answer(R, m, false, "unknown_oem", "OEM \"%s\" is not configured on d2ev-registration",
                   req->oem);
        return;
    }
    if (!d2ev_tz_valid(req->timezone, &err)) {
        reg_answer(R, m, false, "invalid_timezone", "timezone \"%s\": %s", req->timezone, err.msg);
        return;
    }
    if (applied_before(vs, req->request_id)) {
        reg_answer(R, m, true, "ok", NULL);
        return;
    }
    struct reg_op *op = calloc(1, sizeof(*op));
    if (!op) {
        R->failed = D2EV_ERR_NOMEM;
        return;
    }
    *op = (struct reg_op){ .R = R, .kind = REG_OP_LINK, .vs = vs, .m = m, .oem = ro };
    char *code = NULL, *redirect = NULL;
    if (!open_authorization(R, op, &code, &redirect)) {
        reg_op_free(op);
        return;
    }
    vs->op = op;
    uint32_t oem_op = D2EV_OEM_OP_REFRESH;
    if (ro->per_app) { /* the application's token proves nothing about a car: read it */
        d2ev_crypto_free_secret(op->access, 0);
        d2ev_crypto_free_secret(op->refresh, 0);
        op->access = op->refresh = NULL;
        if (ro->app_access) {
            link_read(R, op, false);
            goto out;
        }
    } else if (code) {
        oem_op = D2EV_OEM_OP_EXCHANGE_CODE;
    } else if (!op->refresh) {
        reg_answer(R, m, false, "missing_authorization",
                   "%s links each car with OAuth: send an authorization code or a refresh token",
                   ro->name);
        end_op(R, op, false);
        goto out;
    }
    char key[sizeof(REG_LINK_KEY_PFX) + D2EV_VEHICLE_ID_MAX];
    snprintf(key, sizeof(key), "%s%s", REG_LINK_KEY_PFX, vs->id);
    struct d2ev_oem_task task = {
        .oem = ro->name,
        .op = oem_op,
        .key = key,
        .code = oem_op == D2EV_OEM_OP_EXCHANGE_CODE ? code : NULL,
        .redirect_uri = redirect,
    };
    int rc = d2ev_oem_engine_submit(R->engine, &task, reg_link_done, op, NULL, &err);
    if (rc != D2EV_OK) {
        reg_answer(R, m, false,
                   rc == D2EV_ERR_UNSUPPORTED ? "unsupported_authorization" : "oem_unavailable",
                   "cannot check the link: %s", err.msg);
        end_op(R, op, false);
    }
out:
    d2ev_crypto_free_secret(code, 0); /* the engine keeps its own copy until the exchange */
    free(redirect);
}

/* ------------------------------------------------------------ the others */

static void update_preferences(struct reg *R, struct vstate *vs, struct reg_msg *m)
{
    const struct d2ev_reg_request *req = &m->req;
    struct d2ev_err err = { 0 };
    if (!vs->has_vehicle) {
        reg_answer(R, m, false, "unknown_vehicle", "vehicle %s is not registered", vs->id);
        return;
    }
    if (applied_before(vs, req->request_id)) {
        reg_answer(R, m, true, "ok", NULL);
        return;
    }
    struct d2ev_vehicle v = vs->v;
    if (req->timezone[0]) {
        if (!d2ev_tz_valid(req->timezone, &err)) {
            reg_answer(R, m, false, "invalid_timezone", "timezone \"%s\": %s", req->timezone,
                       err.msg);
            return;
        }
        d2ev_strlcpy(v.timezone, req->timezone, sizeof(v.timezone));
    }
    if (req->region[0])
        d2ev_strlcpy(v.region, req->region, sizeof(v.region));
    if (req->site_id[0])
        d2ev_strlcpy(v.site_id, req->site_id, sizeof(v.site_id));
    if (req->has_battery_kwh) {
        v.has_battery_kwh = true;
        v.battery_kwh = req->battery_kwh;
    }
    if (req->has_max_power_kw) {
        v.has_max_power_kw = true;
        v.max_power_kw = req->max_power_kw;
    }
    if (req->prefs_patch && d2ev_prefs_apply_patch(&v.prefs, req->prefs_patch, &err)) {
        reg_answer(R, m, false, "invalid_preferences", "%s", err.msg);
        return;
    }
    v.prefs_version++;
    v.updated_at = d2ev_clock_now_ms();
    if (write_vehicle(R, vs, &v, req->request_id) == D2EV_OK)
        reg_answer(R, m, true, "ok", NULL);
}

static void deregister(struct reg *R, struct vstate *vs, struct reg_msg *m)
{
    bool had = vs->has_vehicle || vs->has_creds;
    /* always written: erasure must not depend on this replica's memory */
    if (reg_send_tombstone(R, D2EV_TOPIC_CREDENTIALS, vs->id) ||
        reg_send_tombstone(R, D2EV_TOPIC_VEHICLES, vs->id))
        return;
    vs->has_vehicle = false;
    vs->has_creds = false;
    d2ev_credentials_clear(&vs->c);
    memset(&vs->c, 0, sizeof(vs->c));
    d2ev_log_info("vehicle deregistered", D2EV_LF_STR("vehicle_id", vs->id),
                  D2EV_LF_STR("request_id", m->req.request_id));
    reg_answer(R, m, true, had ? "ok" : "not_registered", NULL);
}

static void refresh_credentials(struct reg *R, struct vstate *vs, struct reg_msg *m)
{
    if (!vs->has_creds) {
        reg_answer(R, m, false, "unknown_vehicle", "vehicle %s has no credentials", vs->id);
        return;
    }
    struct reg_oem *ro = reg_oem_find(R, vs->c.oem);
    if (!ro) {
        reg_answer(R, m, false, "unknown_oem", "OEM \"%s\" is not configured here", vs->c.oem);
        return;
    }
    if (vs->has_vehicle && vs->v.status == D2EV_VEHICLE_SUSPENDED) {
        reg_answer(R, m, false, "consent_revoked", "%s", vs->v.status_reason);
        return;
    }
    int64_t last = ro->per_app ? ro->app_refreshed_mono : vs->refreshed_mono;
    int64_t ago = d2ev_clock_mono_ms() - last;
    if (last && ago < R->cfg->refresh_dedupe_ms) {
        reg_answer(R, m, true, "recently_refreshed",
                   "refreshed %lld ms ago; read d2ev.credentials again", (long long)ago);
        return;
    }
    int rc = reg_refresh_start(R, vs, m);
    if (rc)
        reg_answer(R, m, false, "oem_unavailable", "cannot start the refresh (%s)",
                   d2ev_rc_name(rc));
}

/* ------------------------------------------------------------ dispatch */

/* Answer m as an earlier request was answered. */
static void answer_again(struct reg *R, struct reg_msg *m, const struct reg_outcome *o)
{
    char code[D2EV_CODE_MAX + 1], reason[D2EV_REASON_MAX + 1];
    bool accepted = o->accepted;
    d2ev_strlcpy(code, o->code, sizeof(code));
    d2ev_strlcpy(reason, o->reason, sizeof(reason));
    if (reason[0])
        reg_answer(R, m, accepted, code, "%s", reason);
    else
        reg_answer(R, m, accepted, code, NULL);
}

void reg_request_start(struct reg *R, struct vstate *vs, struct reg_msg *m)
{
    const struct d2ev_reg_request *req = &m->req;
    const struct reg_outcome *o = reg_outcomes_find(R->outcomes, req->request_id);
    if (!o)
        o = reg_outcomes_find_key(R->outcomes, req->vehicle_id, req->action, req->idempotency_key);
    if (o) {
        d2ev_log_debug("request answered before", D2EV_LF_STR("request_id", req->request_id),
                       D2EV_LF_STR("first", o->request_id));
        answer_again(R, m, o);
    } else {
        switch (req->action) {
        case D2EV_REG_REGISTER:
            start_register(R, vs, m);
            break;
        case D2EV_REG_UPDATE_PREFERENCES:
            update_preferences(R, vs, m);
            break;
        case D2EV_REG_DEREGISTER:
            deregister(R, vs, m);
            break;
        case D2EV_REG_REFRESH_CREDENTIALS:
            refresh_credentials(R, vs, m);
            break;
        }
    }
    if (!vs->op || vs->op->m != m)
        reg_msg_finish(R, m);
}
