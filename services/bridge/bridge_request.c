/* bridge_request.c: routes, body validation and the registration.request
 * each accepted HTTP request becomes (see bridge_request.h). */
#include "bridge_request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/json.h"
#include "d2ev/tz.h"
#include "d2ev/util.h"

#define VEHICLES_PREFIX "/v1/vehicles/"
#define RESULTS_PATH    "/v1/registrations"
#define PREFS_SUFFIX    "/preferences"
#define MSG_TYPE_PREFIX "registration.request."

static int refuse(struct bridge_reject *rej, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(struct bridge_reject *rej, int status, const char *code, const char *fmt, ...)
{
    rej->status = status;
    rej->code = code;
    rej->err.code = D2EV_ERR_INVALID;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rej->err.msg, sizeof(rej->err.msg), fmt, ap);
    va_end(ap);
    return -1;
}

/* Refuse with a message already in e, after an optional path prefix. */
static int refuse_err(struct bridge_reject *rej, int status, const char *code, const char *prefix,
                      const struct d2ev_err *e)
{
    return refuse(rej, status, code, "%s%s", prefix, e->msg);
}

/* ------------------------------------------------------------ routes */

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '@' || c == '-';
}

/* Copy an id of 1..64 id characters from s[0..len) into out. */
static bool copy_id(const char *s, size_t len, char out[65])
{
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!id_char(s[i]))
            return false;
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

static int wrong_method(struct bridge_reject *rej, const char *method, const char *allowed)
{
    return refuse(rej, 405, "method_not_allowed", "%.16s is not allowed here; use %s", method,
                  allowed);
}

int bridge_route_match(const char *method, const char *path, struct bridge_route *out,
                       struct bridge_reject *rej)
{
    memset(out, 0, sizeof(*out));
    size_t plen = strlen(path);
    if (!strcmp(path, RESULTS_PATH)) {
        out->kind = BRIDGE_ROUTE_REGISTER;
        return strcmp(method, "POST") ? wrong_method(rej, method, "POST") : 0;
    }
    if (!strncmp(path, RESULTS_PATH "/", sizeof(RESULTS_PATH))) {
        const char *id = path + sizeof(RESULTS_PATH);
        if (!copy_id(id, strlen(id), out->id))
            return refuse(rej, 404, "not_found",
                          "no such request: a request id is 1-64 characters of [A-Za-z0-9._:@-]");
        out->kind = BRIDGE_ROUTE_RESULT;
        return strcmp(method, "GET") ? wrong_method(rej, method, "GET") : 0;
    }
    if (!strncmp(path, VEHICLES_PREFIX, sizeof(VEHICLES_PREFIX) - 1)) {
        const char *id = path + sizeof(VEHICLES_PREFIX) - 1;
        size_t idlen = plen - (sizeof(VEHICLES_PREFIX) - 1);
        bool prefs = idlen > sizeof(PREFS_SUFFIX) - 1 &&
                     !strcmp(path + plen - (sizeof(PREFS_SUFFIX) - 1), PREFS_SUFFIX);
        if (prefs)
            idlen -= sizeof(PREFS_SUFFIX) - 1;
        if (!copy_id(id, idlen, out->id))
            return refuse(rej, 404, "not_found",
                          "no such vehicle route: a vehicle id is 1-64 characters of "
                          "[A-Za-z0-9._:@-]");
        if (prefs) {
            out->kind = BRIDGE_ROUTE_PREFERENCES;
            return strcmp(method, "PATCH") ? wrong_method(rej, method, "PATCH") : 0;
        }
        out->kind = BRIDGE_ROUTE_DEREGISTER;
        return strcmp(method, "DELETE") ? wrong_method(rej, method, "DELETE") : 0;
    }
    return refuse(rej, 404, "not_found",
                  "no such route; see docs/bridge.md (POST /v1/registrations, PATCH "
                  "/v1/vehicles/{id}/preferences, DELETE /v1/vehicles/{id}, GET "
                  "/v1/registrations/{request_id})");
}

/* ------------------------------------------------------------ identifiers */

/* prefix + the first 16 bytes of a digest in hex. */
static void id_from_digest(const char *prefix, const unsigned char d[32], char *out, size_t size)
{
    char hex[65];
    d2ev_hex_encode(d, 16, hex);
    snprintf(out, size, "%s%s", prefix, hex);
}

void bridge_vehicle_id(const char *key, const char *oem, const char *oem_vehicle_id,
                       char out[BRIDGE_VEHICLE_ID_LEN + 1])
{
    char buf[sizeof("d2ev.vehicle.v1\n") + D2EV_OEM_MAX + D2EV_OEM_VEHICLE_ID_MAX + 2];
    int n = snprintf(buf, sizeof(buf), "d2ev.vehicle.v1\n%s\n%s", oem, oem_vehicle_id);
    unsigned char d[32];
    if (key && *key)
        d2ev_hmac_sha256(key, strlen(key), buf, (size_t)n, d);
    else
        d2ev_sha256(buf, (size_t)n, d);
    id_from_digest("v-", d, out, BRIDGE_VEHICLE_ID_LEN + 1);
}

void bridge_idempotency_from_signature(const unsigned char sig[D2EV_HMAC_SHA256_LEN],
                                       char out[BRIDGE_IDEM_MAX + 1])
{
    unsigned char d[32];
    d2ev_sha256(sig, D2EV_HMAC_SHA256_LEN, d);
    id_from_digest("s-", d, out, BRIDGE_IDEM_MAX + 1);
}

static const char *action_name(enum d2ev_reg_action a)
{
    static const char *const n[] = { "register", "update_preferences", "deregister",
                                     "refresh_credentials" };
    return (unsigned)a < 4 ? n[a] : "unknown";
}

void bridge_request_id(enum d2ev_reg_action action, const char *vehicle_id, const char *idem,
                       char out[BRIDGE_REQUEST_ID_LEN + 1])
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "d2ev.request.v1\n%s\n%s\n%s", action_name(action),
                     vehicle_id, idem);
    unsigned char d[32];
    d2ev_sha256(buf, (size_t)n, d);
    id_from_digest("req-", d, out, BRIDGE_REQUEST_ID_LEN + 1);
}

bool bridge_idempotency_key_valid(const char *s)
{
    char tmp[65];
    return s && copy_id(s, strlen(s), tmp);
}

/* ------------------------------------------------------------ bodies */

/* Parse body as one JSON object; 400 malformed_json otherwise. */
static json_t *parse_object(const char *body, size_t len, struct bridge_reject *rej)
{
    struct d2ev_err e = { 0 };
    json_t *o = d2ev_json_parse(body, len, len + 1, &e);
    if (!o)
        refuse_err(rej, 400, "malformed_json", "", &e);
    return o;
}

/* The OEM authorisation as compact JSON (a secret: the caller wipes it). */
static char *read_authorization(const json_t *root, struct bridge_reject *rej)
{
    static const char *const keys[] = { "code", "redirect_uri", "refresh_token", "access_token",
                                        "expires_at" };
    json_t *auth = NULL;
    struct d2ev_err e = { 0 };
    if (d2ev_json_opt_object(root, "authorization", &auth, &e) != D2EV_OK) {
        refuse_err(rej, 400, "invalid_request", "", &e);
        return NULL;
    }
    json_t *out = json_object();
    if (!out) {
        refuse(rej, 500, "internal", "out of memory");
        return NULL;
    }
    char *text = NULL;
    if (auth) {
        if (d2ev_json_only_keys(auth, keys, sizeof(keys) / sizeof(keys[0]), &e) != D2EV_OK) {
            refuse_err(rej, 400, "invalid_request", "authorization: ", &e);
            goto out;
        }
        bool code = json_object_get(auth, "code") != NULL;
        bool refresh = json_object_get(auth, "refresh_token") != NULL;
        if (code == refresh) {
            refuse(rej, 400, "invalid_request",
                   "authorization: give either code (with redirect_uri) or refresh_token");
            goto out;
        }
        const char *allowed =
            code ? "code, redirect_uri" : "refresh_token, access_token, expires_at";
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            json_t *v = json_object_get(auth, keys[i]);
            bool fits = code ? i < 2 : i >= 2;
            if (v && !fits) {
                refuse(rej, 400, "invalid_request",
                       "authorization.%s: not allowed with %s (use %s)", keys[i],
                       code ? "code" : "refresh_token", allowed);
                goto out;
            }
            if (!v || json_is_null(v))
                continue;
            char *buf = calloc(1, BRIDGE_AUTH_FIELD_MAX + 1);
            int64_t t = 0;
            int rc = !buf     ? D2EV_ERR_NOMEM
                     : i == 4 ? d2ev_json_req_time(auth, keys[i], &t, &e)
                              : d2ev_json_req_str(auth, keys[i], buf, BRIDGE_AUTH_FIELD_MAX,
                                                  D2EV_CS_PRINTABLE, &e);
            if (rc == D2EV_OK)
                json_object_set_new(out, keys[i], json_string(i == 4 ? json_string_value(v) : buf));
            if (buf)
                d2ev_crypto_free_secret(buf, BRIDGE_AUTH_FIELD_MAX + 1);
            if (rc != D2EV_OK) {
                if (rc == D2EV_ERR_NOMEM)
                    refuse(rej, 500, "internal", "out of memory");
                else
                    refuse_err(rej, 400, "invalid_request", "authorization.", &e);
                goto out;
            }
        }
    }
    text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        refuse(rej, 500, "internal", "out of memory");
out:
    json_decref(out);
    return text;
}

static int read_register(const struct bridge_rules *rules, const json_t *root,
                         struct d2ev_reg_request *r, struct bridge_reject *rej)
{
    static const char *const keys[] = { "user_id",     "oem",          "oem_vehicle_id",
                                        "timezone",    "region",       "site_id",
                                        "battery_kwh", "max_power_kw", "authorization",
                                        "prefs" };
    struct d2ev_err e = { 0 };
    if (d2ev_json_only_keys(root, keys, sizeof(keys) / sizeof(keys[0]), &e) ||
        d2ev_json_req_str(root, "user_id", r->user_id, D2EV_USER_ID_MAX, D2EV_CS_ID, &e) ||
        d2ev_json_req_str(root, "oem", r->oem, D2EV_OEM_MAX, D2EV_CS_LOWER, &e) ||
        d2ev_json_req_str(root, "oem_vehicle_id", r->oem_vehicle_id, D2EV_OEM_VEHICLE_ID_MAX,
                          D2EV_CS_PRINTABLE, &e) ||
        d2ev_json_req_str(root, "timezone", r->timezone, D2EV_TZ_MAX, D2EV_CS_PRINTABLE, &e) ||
        d2ev_json_req_str(root, "region", r->region, D2EV_REGION_MAX, D2EV_CS_ID, &e) ||
        d2ev_json_opt_str(root, "site_id", r->site_id, D2EV_SITE_ID_MAX, D2EV_CS_ID, NULL, &e) ||
        d2ev_json_opt_num(root, "battery_kwh", 1, 300, &r->battery_kwh, &r->has_battery_kwh, &e) ||
        d2ev_json_opt_num(root, "max_power_kw", 0.5, 400, &r->max_power_kw, &r->has_max_power_kw,
                          &e))
        return refuse_err(rej, 400, "invalid_request", "", &e);
    bool known = false;
    for (size_t i = 0; i < rules->noems && !known; i++)
        known = !strcmp(rules->oems[i], r->oem);
    if (!known) {
        char list[256] = "";
        for (size_t i = 0; i < rules->noems; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                     rules->oems[i]);
        return refuse(rej, 400, "unknown_oem",
                      "oem: \"%s\" is not a configured OEM (configured: %s)", r->oem, list);
    }
    if (!d2ev_tz_valid(r->timezone, &e))
        return refuse(rej, 400, "invalid_timezone",
                      "timezone: \"%s\" is not an IANA time zone this server knows (%s)",
                      r->timezone, e.msg);
    json_t *prefs = NULL;
    if (d2ev_json_opt_object(root, "prefs", &prefs, &e) != D2EV_OK)
        return refuse_err(rej, 400, "invalid_request", "", &e);
    if (prefs) {
        struct d2ev_prefs p;
        d2ev_prefs_default(&p);
        if (d2ev_prefs_apply_patch(&p, prefs, &e) != D2EV_OK)
            return refuse_err(rej, 400, "invalid_preferences", "prefs.", &e);
        if (!(r->prefs_patch = json_deep_copy(prefs)))
            return refuse(rej, 500, "internal", "out of memory");
    }
    return 0;
}

static int read_prefs_patch(const json_t *root, struct d2ev_reg_request *r,
                            struct bridge_reject *rej)
{
    if (json_object_size(root) == 0)
        return refuse(rej, 400, "invalid_preferences",
                      "the body is an empty object: name at least one preference to change");
    /* each member is checked by the decoder; of the rules between members
     * only those the patch decides alone can be checked before the stored
     * preferences are known */
    double target = 0, min = 0;
    bool has_target = false, has_min = false;
    struct d2ev_err e = { 0 };
    if (d2ev_json_opt_num(root, "target_soc", 1, 100, &target, &has_target, &e) ||
        d2ev_json_opt_num(root, "min_soc", 0, 100, &min, &has_min, &e))
        return refuse_err(rej, 400, "invalid_preferences", "", &e);
    if (has_target && has_min && min > target)
        return refuse(rej, 400, "invalid_preferences",
                      "min_soc: must not be above target_soc (%g > %g)", min, target);
    if (!(r->prefs_patch = json_deep_copy(root)))
        return refuse(rej, 500, "internal", "out of memory");
    return 0;
}

int bridge_build_request(const struct bridge_rules *rules, const struct bridge_route *route,
                         const char *body, size_t body_len, const char *idempotency_key,
                         struct d2ev_reg_request *out, struct bridge_reject *rej)
{
    memset(out, 0, sizeof(*out));
    json_t *root = NULL;
    char *auth = NULL;
    int rc = -1;
    switch (route->kind) {
    case BRIDGE_ROUTE_REGISTER:
        out->action = D2EV_REG_REGISTER;
        if (!(root = parse_object(body, body_len, rej)) || read_register(rules, root, out, rej) ||
            !(auth = read_authorization(root, rej)))
            goto out;
        bridge_vehicle_id(rules->vehicle_id_key, out->oem, out->oem_vehicle_id, out->vehicle_id);
        struct d2ev_err e = { 0 };
        out->sealed_auth = d2ev_crypto_seal(rules->keys, auth, strlen(auth), out->vehicle_id, &e);
        if (!out->sealed_auth) {
            refuse_err(rej, 500, "internal", "cannot seal the authorisation: ", &e);
            goto out;
        }
        break;
    case BRIDGE_ROUTE_PREFERENCES:
        out->action = D2EV_REG_UPDATE_PREFERENCES;
        d2ev_strlcpy(out->vehicle_id, route->id, sizeof(out->vehicle_id));
        if (!(root = parse_object(body, body_len, rej)) || read_prefs_patch(root, out, rej))
            goto out;
        break;
    case BRIDGE_ROUTE_DEREGISTER:
        out->action = D2EV_REG_DEREGISTER;
        d2ev_strlcpy(out->vehicle_id, route->id, sizeof(out->vehicle_id));
        if (body_len > 0) {
            refuse(rej, 400, "invalid_request", "DELETE takes no body");
            goto out;
        }
        break;
    default:
        refuse(rej, 405, "method_not_allowed", "this route does not change anything");
        goto out;
    }
    d2ev_strlcpy(out->idempotency_key, idempotency_key, sizeof(out->idempotency_key));
    bridge_request_id(out->action, out->vehicle_id, out->idempotency_key, out->request_id);
    d2ev_strlcpy(out->source, "bridge", sizeof(out->source));
    rc = 0;
out:
    if (auth)
        d2ev_crypto_free_secret(auth, 0);
    json_decref(root);
    if (rc) {
        d2ev_reg_request_clear(out);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

char *bridge_encode_request(const struct d2ev_reg_request *r, struct bridge_reject *rej)
{
    json_t *j = d2ev_reg_request_encode(r);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        refuse(rej, 500, "internal", "cannot encode the request");
        return NULL;
    }
    struct d2ev_reg_request back;
    struct d2ev_err e = { 0 };
    if (d2ev_reg_request_decode(text, strlen(text), &back, &e) != D2EV_OK) {
        free(text);
        const char *msg = e.msg;
        if (!strncmp(msg, MSG_TYPE_PREFIX, sizeof(MSG_TYPE_PREFIX) - 1))
            msg += sizeof(MSG_TYPE_PREFIX) - 1;
        if (strncmp(msg, "prefs_patch", 11)) {
            refuse(rej, 400, "invalid_request", "%s", msg);
        } else if (r->action != D2EV_REG_UPDATE_PREFERENCES) {
            refuse(rej, 400, "invalid_preferences", "prefs%s", msg + 11);
        } else { /* the PATCH body is the patch: name its members directly */
            const char *rest = msg + 11;
            rest += *rest == '.' ? 1 : (*rest == ':' && rest[1] == ' ') ? 2 : 0;
            refuse(rej, 400, "invalid_preferences", "%s", rest);
        }
        return NULL;
    }
    d2ev_reg_request_clear(&back);
    return text;
}
