/* smartcar.c: the Smartcar API v2.0 dialect, as pinned down in docs/oem-apis.md.
 *
 * Reads use one batch request (battery + charge, and by default capacity and
 * charge limit). Commands are "sent", not "applied": confirm with a read.
 * There is no wake endpoint (a command wakes the car). Refresh tokens rotate. */
#include <string.h>
#include <strings.h>

#include "d2ev/oem_kit.h"

#define NAME "smartcar"

struct smartcar {
    struct d2ev_kit_base b; /* host and OAuth settings */
    bool read_capacity;
    bool read_limit;
};

static const char *const config_keys[] = { D2EV_KIT_OAUTH_KEYS, "read_capacity",
                                           "read_charge_limit", NULL };

/* Smartcar's token endpoint takes HTTP Basic client authentication. */
static const struct d2ev_kit_token_style token_style = { .basic_auth = true };

static int sc_create(const struct d2ev_oem_host *host, const char *config_json, size_t len,
                     const char *client_secret, void **inst, char *errbuf, size_t errlen)
{
    void *p;
    json_t *cfg;
    int rc = d2ev_kit_create(host, config_json, len, client_secret, sizeof(struct smartcar),
                             "https://api.smartcar.com", "https://auth.smartcar.com/oauth/token",
                             &p, &cfg, errbuf, errlen);
    if (rc)
        return rc;
    struct smartcar *sc = p;
    rc = d2ev_kit_config_bool(cfg, "read_capacity", true, &sc->read_capacity, errbuf, errlen);
    if (!rc)
        rc = d2ev_kit_config_bool(cfg, "read_charge_limit", true, &sc->read_limit, errbuf, errlen);
    return d2ev_kit_created(sc, cfg, rc, inst);
}

static void sc_describe(void *inst, struct d2ev_oem_desc *d)
{
    d->abi_version = D2EV_OEM_ABI_VERSION;
    d->name = NAME;
    d->title = "Smartcar API v2.0";
    d->caps = D2EV_OEM_CAP_BATCH_READ | D2EV_OEM_CAP_ROTATING_REFRESH;
    d->ops = D2EV_OEM_OP_BIT(D2EV_OEM_OP_READ) | D2EV_OEM_OP_BIT(D2EV_OEM_OP_START) |
             D2EV_OEM_OP_BIT(D2EV_OEM_OP_STOP) | D2EV_OEM_OP_BIT(D2EV_OEM_OP_REFRESH) |
             D2EV_OEM_OP_BIT(D2EV_OEM_OP_EXCHANGE_CODE);
    d->token_model = D2EV_OEM_TOKENS_PER_VEHICLE;
    d->rate_per_s = 20;
    d->burst = 40;
    d->vehicle_rate_per_s = 0;
    d->vehicle_burst = 0;
    d->request_timeout_ms = 30000; /* requests that reach the car can take many seconds */
    d->config_keys = config_keys;
}

static int sc_build(void *inst, const struct d2ev_oem_call *call, const struct d2ev_oem_flow *flow,
                    struct d2ev_oem_request *req, char *errbuf, size_t errlen)
{
    struct smartcar *sc = inst;
    const struct d2ev_oem_host *host = sc->b.host;
    const char *base = sc->b.oauth.base_url;
    switch (call->op) {
    case D2EV_OEM_OP_READ: {
        json_t *reqs = json_array();
        json_array_append_new(reqs, json_pack("{s:s}", "path", "/battery"));
        json_array_append_new(reqs, json_pack("{s:s}", "path", "/charge"));
        if (sc->read_capacity)
            json_array_append_new(reqs, json_pack("{s:s}", "path", "/battery/capacity"));
        if (sc->read_limit)
            json_array_append_new(reqs, json_pack("{s:s}", "path", "/charge/limit"));
        int rc = d2ev_kit_request(host, req, "POST", base, "/v2.0/vehicles/", call->vehicle,
                                  "/batch", errbuf, errlen);
        if (rc) {
            json_decref(reqs);
            return rc;
        }
        return d2ev_kit_json_body(host, req, json_pack("{s:o}", "requests", reqs), errbuf, errlen);
    }
    case D2EV_OEM_OP_START:
    case D2EV_OEM_OP_STOP: {
        int rc = d2ev_kit_request(host, req, "POST", base, "/v2.0/vehicles/", call->vehicle,
                                  "/charge", errbuf, errlen);
        if (rc)
            return rc;
        const char *action = call->op == D2EV_OEM_OP_START ? "START" : "STOP";
        return d2ev_kit_json_body(host, req, json_pack("{s:s}", "action", action), errbuf, errlen);
    }
    case D2EV_OEM_OP_REFRESH:
        return d2ev_kit_token_request(host, &sc->b.oauth, &token_style, D2EV_KIT_GRANT_REFRESH,
                                      call, req, errbuf, errlen);
    case D2EV_OEM_OP_EXCHANGE_CODE:
        return d2ev_kit_token_request(host, &sc->b.oauth, &token_style, D2EV_KIT_GRANT_CODE, call,
                                      req, errbuf, errlen);
    default:
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_UNSUPPORTED,
                            "smartcar has no %s operation (commands wake the car)",
                            d2ev_oem_op_name(call->op));
    }
}

/* Classify a Smartcar error answer (the table in docs/oem-apis.md).
 * retry_after_ms comes from the answer's retry-after header. */
static int sc_error(struct d2ev_oem_result *res, int status, const json_t *body,
                    int64_t retry_after_ms, const char *where)
{
    const char *type = d2ev_kit_str(body, "type");
    const char *code = d2ev_kit_str(body, "code");
    const char *desc = d2ev_kit_str(body, "description");
    uint32_t cls = d2ev_kit_status_class(status);
    if (status == 409) {
        bool sleepy = type && !strcmp(type, "VEHICLE_STATE") && code &&
                      (!strcmp(code, "ASLEEP") || !strcmp(code, "UNREACHABLE"));
        cls = sleepy ? D2EV_OEM_ASLEEP : D2EV_OEM_PERMANENT;
    }
    if (cls == D2EV_OEM_RATE_LIMITED) {
        res->retry_after_ms = retry_after_ms;
        res->limit_scope =
            code && !strcmp(code, "VEHICLE") ? D2EV_OEM_SCOPE_VEHICLE : D2EV_OEM_SCOPE_OEM;
    }
    return d2ev_kit_done(res, cls, "smartcar %s: HTTP %d %s/%s: %.120s", where, status,
                         type ? type : "-", code ? code : "-", desc ? desc : "");
}

/* A batch entry's header, case-insensitively. */
static const char *entry_header(const json_t *entry, const char *name)
{
    json_t *headers = json_object_get(entry, "headers");
    const char *key;
    json_t *v;
    if (!json_is_object(headers))
        return NULL;
    json_object_foreach(headers, key, v)
    {
        if (!strcasecmp(key, name) && json_is_string(v))
            return json_string_value(v);
    }
    return NULL;
}

static const json_t *find_entry(const json_t *responses, const char *path)
{
    size_t i;
    json_t *e;
    json_array_foreach(responses, i, e)
    {
        const char *p = d2ev_kit_str(e, "path");
        if (p && !strcmp(p, path))
            return e;
    }
    return NULL;
}

/* A batch entry's body if its code is 200; else classify its error into res
 * (required entries) and return NULL. For optional entries (res NULL) an
 * error just means "leave the field out". */
static const json_t *entry_body(const json_t *responses, const char *path,
                                struct d2ev_oem_result *res, bool *failed)
{
    const json_t *e = find_entry(responses, path);
    double code = 0;
    if (!e || !d2ev_kit_num(e, "code", &code) || code < 100 || code >= 600) {
        if (res) {
            d2ev_kit_done(res, D2EV_OEM_RETRY,
                          "smartcar batch: no %s entry with an HTTP status in the answer", path);
            *failed = true;
        }
        return NULL;
    }
    json_t *body = json_object_get(e, "body");
    if ((int)code == 200 && json_is_object(body))
        return body;
    if (res) {
        int64_t ra_ms = d2ev_kit_retry_after_value_ms(entry_header(e, "retry-after"));
        sc_error(res, (int)code, body, ra_ms, path);
        *failed = true;
    }
    return NULL;
}

static int parse_read(struct smartcar *sc, const struct d2ev_oem_response *resp, const json_t *body,
                      struct d2ev_oem_result *res)
{
    struct d2ev_oem_state *st = res->state;
    json_t *responses = json_object_get(body, "responses");
    if (!json_is_array(responses) || !st)
        return d2ev_kit_done(res, D2EV_OEM_RETRY, "smartcar batch: answer has no responses");
    bool failed = false;
    const json_t *battery = entry_body(responses, "/battery", res, &failed);
    if (failed)
        return D2EV_OK;
    const json_t *charge = entry_body(responses, "/charge", res, &failed);
    if (failed)
        return D2EV_OK;

    double frac, range;
    if (!d2ev_kit_num(battery, "percentRemaining", &frac) || frac < 0 || frac > 1)
        return d2ev_kit_done(res, D2EV_OEM_RETRY,
                             "smartcar /battery: percentRemaining missing or not in 0..1");
    st->soc_pct = frac * 100.0;
    st->fields |= D2EV_OEM_F_SOC;
    if (d2ev_kit_num(battery, "range", &range) && range >= 0) {
        st->range_km = range;
        st->fields |= D2EV_OEM_F_RANGE_KM;
    }

    bool plugged;
    const char *state = d2ev_kit_str(charge, "state");
    if (!d2ev_kit_bool(charge, "isPluggedIn", &plugged) || !state)
        return d2ev_kit_done(res, D2EV_OEM_RETRY, "smartcar /charge: isPluggedIn or state missing");
    st->plugged_in = plugged;
    if (!plugged)
        st->charging_state = D2EV_CHG_DISCONNECTED;
    else if (!strcmp(state, "CHARGING"))
        st->charging_state = D2EV_CHG_CHARGING;
    else if (!strcmp(state, "FULLY_CHARGED"))
        st->charging_state = D2EV_CHG_COMPLETE;
    else if (!strcmp(state, "NOT_CHARGING"))
        st->charging_state = D2EV_CHG_STOPPED;
    else
        st->charging_state = D2EV_CHG_UNKNOWN;
    st->fields |= D2EV_OEM_F_PLUGGED_IN | D2EV_OEM_F_CHARGING_STATE;

    const json_t *cap =
        sc->read_capacity ? entry_body(responses, "/battery/capacity", NULL, NULL) : NULL;
    if (d2ev_kit_num(cap, "capacity", &st->battery_kwh) && st->battery_kwh > 0)
        st->fields |= D2EV_OEM_F_BATTERY_KWH;
    const json_t *lim = sc->read_limit ? entry_body(responses, "/charge/limit", NULL, NULL) : NULL;
    double limit;
    if (d2ev_kit_num(lim, "limit", &limit) && limit > 0 && limit <= 1) {
        st->charge_limit_pct = limit * 100.0;
        st->fields |= D2EV_OEM_F_CHARGE_LIMIT;
    }

    /* when the car reported it: the battery entry's sc-data-age, else the
     * charge entry's, else the batch answer's own header */
    const char *age = entry_header(find_entry(responses, "/battery"), "sc-data-age");
    if (!age)
        age = entry_header(find_entry(responses, "/charge"), "sc-data-age");
    if (!age)
        age = d2ev_kit_header_get(resp, "sc-data-age");
    if (age && sc->b.host->parse_time(age, &st->reported_at_ms) == 0)
        st->fields |= D2EV_OEM_F_REPORTED_AT;
    return d2ev_kit_done(res, D2EV_OEM_OK, "ok");
}

static int sc_parse(void *inst, const struct d2ev_oem_call *call, struct d2ev_oem_flow *flow,
                    const struct d2ev_oem_response *resp, struct d2ev_oem_result *res)
{
    struct smartcar *sc = inst;
    if (call->op == D2EV_OEM_OP_REFRESH || call->op == D2EV_OEM_OP_EXCHANGE_CODE)
        return d2ev_kit_parse_tokens(sc->b.host, resp, res);
    json_t *body = d2ev_kit_body_json(resp);
    int rc;
    if (resp->status != 200) {
        rc = sc_error(res, resp->status, body, d2ev_kit_retry_after_ms(resp),
                      d2ev_oem_op_name(call->op));
    } else if (call->op == D2EV_OEM_OP_READ) {
        rc = parse_read(sc, resp, body, res);
    } else {
        const char *status = d2ev_kit_str(body, "status");
        if (status && !strcmp(status, "success")) {
            res->command = D2EV_OEM_CMD_SENT;
            rc = d2ev_kit_done(res, D2EV_OEM_OK, "sent");
        } else {
            rc = d2ev_kit_done(res, D2EV_OEM_RETRY, "smartcar %s: answer status is '%.40s'",
                               d2ev_oem_op_name(call->op), status ? status : "(none)");
        }
    }
    json_decref(body);
    return rc;
}

D2EV_KIT_ADAPTER(NAME, sc_create, d2ev_kit_destroy, sc_describe, sc_build, sc_parse)
