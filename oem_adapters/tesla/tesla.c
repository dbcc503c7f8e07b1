/* tesla.c: the Tesla Fleet API dialect, as pinned down in docs/oem-apis.md.
 *
 * Reads (vehicle_data?endpoints=charge_state) never wake the car: a sleeping
 * car answers 408 and the read reports "asleep". Commands on a sleeping car
 * also answer 408; the engine then runs WAKE (POST wake_up, then GET the
 * vehicle until it is online) and retries. Refresh tokens are single-use. */
#include <math.h>
#include <string.h>

#include "d2ev/oem_kit.h"

#define NAME        "tesla"
#define MILES_TO_KM 1.609344
/* 10000-01-01T00:00:00Z in ms: timestamps from here on are not RFC 3339 times */
#define TIMESTAMP_END_MS 253402300800000.0

struct tesla {
    struct d2ev_kit_base b; /* host and OAuth settings */
    int64_t wake_poll_ms;
    int64_t wake_timeout_ms;
};

static const char *const config_keys[] = { D2EV_KIT_OAUTH_KEYS, "wake_poll_ms", "wake_timeout_ms",
                                           NULL };

/* client_id in the form; the secret only in the code exchange. */
static const struct d2ev_kit_token_style token_style = { .client_id_in_body = true,
                                                         .secret_in_body_code = true };

enum { WAKE_POST = 0, WAKE_POLL = 1 };

static int tesla_create(const struct d2ev_oem_host *host, const char *config_json, size_t len,
                        const char *client_secret, void **inst, char *errbuf, size_t errlen)
{
    void *p;
    json_t *cfg;
    int rc = d2ev_kit_create(host, config_json, len, client_secret, sizeof(struct tesla),
                             "https://fleet-api.prd.eu.vn.cloud.tesla.com",
                             "https://auth.tesla.com/oauth2/v3/token", &p, &cfg, errbuf, errlen);
    if (rc)
        return rc;
    struct tesla *t = p;
    rc =
        d2ev_kit_config_int(cfg, "wake_poll_ms", 2000, 10, 60000, &t->wake_poll_ms, errbuf, errlen);
    if (!rc)
        rc = d2ev_kit_config_int(cfg, "wake_timeout_ms", 60000, 100, 600000, &t->wake_timeout_ms,
                                 errbuf, errlen);
    return d2ev_kit_created(t, cfg, rc, inst);
}

static void tesla_describe(void *inst, struct d2ev_oem_desc *d)
{
    d->abi_version = D2EV_OEM_ABI_VERSION;
    d->name = NAME;
    d->title = "Tesla Fleet API";
    d->caps = D2EV_OEM_CAP_NEEDS_WAKE | D2EV_OEM_CAP_ROTATING_REFRESH;
    d->ops = D2EV_OEM_OP_BIT(D2EV_OEM_OP_READ) | D2EV_OEM_OP_BIT(D2EV_OEM_OP_START) |
             D2EV_OEM_OP_BIT(D2EV_OEM_OP_STOP) | D2EV_OEM_OP_BIT(D2EV_OEM_OP_WAKE) |
             D2EV_OEM_OP_BIT(D2EV_OEM_OP_REFRESH) | D2EV_OEM_OP_BIT(D2EV_OEM_OP_EXCHANGE_CODE);
    d->token_model = D2EV_OEM_TOKENS_PER_VEHICLE;
    d->rate_per_s = 50;
    d->burst = 100;
    /* Tesla limits each vehicle (60 data requests a minute per device). */
    d->vehicle_rate_per_s = 1;
    d->vehicle_burst = 5;
    d->request_timeout_ms = 20000;
    d->config_keys = config_keys;
}

static int tesla_build(void *inst, const struct d2ev_oem_call *call,
                       const struct d2ev_oem_flow *flow, struct d2ev_oem_request *req, char *errbuf,
                       size_t errlen)
{
    struct tesla *t = inst;
    const struct d2ev_oem_host *host = t->b.host;
    const char *base = t->b.oauth.base_url;
    const char *prefix = "/api/1/vehicles/";
    switch (call->op) {
    case D2EV_OEM_OP_READ:
        return d2ev_kit_request(host, req, "GET", base, prefix, call->vehicle,
                                "/vehicle_data?endpoints=charge_state", errbuf, errlen);
    case D2EV_OEM_OP_WAKE:
        if (flow->step == WAKE_POST)
            return d2ev_kit_request(host, req, "POST", base, prefix, call->vehicle, "/wake_up",
                                    errbuf, errlen);
        return d2ev_kit_request(host, req, "GET", base, prefix, call->vehicle, NULL, errbuf,
                                errlen);
    case D2EV_OEM_OP_START:
        return d2ev_kit_request(host, req, "POST", base, prefix, call->vehicle,
                                "/command/charge_start", errbuf, errlen);
    case D2EV_OEM_OP_STOP:
        return d2ev_kit_request(host, req, "POST", base, prefix, call->vehicle,
                                "/command/charge_stop", errbuf, errlen);
    case D2EV_OEM_OP_REFRESH:
        return d2ev_kit_token_request(host, &t->b.oauth, &token_style, D2EV_KIT_GRANT_REFRESH, call,
                                      req, errbuf, errlen);
    case D2EV_OEM_OP_EXCHANGE_CODE:
        return d2ev_kit_token_request(host, &t->b.oauth, &token_style, D2EV_KIT_GRANT_CODE, call,
                                      req, errbuf, errlen);
    default:
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_UNSUPPORTED, "tesla has no %s operation",
                            d2ev_oem_op_name(call->op));
    }
}

/* The table in docs/oem-apis.md: 401 unauthorized, 403/404 permanent, 408
 * asleep, 429 rate_limited, 5xx retry. */
static int tesla_error(struct d2ev_oem_result *res, const struct d2ev_oem_response *resp,
                       const json_t *body, uint32_t op)
{
    const char *error = d2ev_kit_str(body, "error");
    if (resp->status == 429)
        return d2ev_kit_rate_limited(res, resp, D2EV_OEM_SCOPE_OEM, "tesla HTTP 429");
    uint32_t cls = resp->status == 408 ? D2EV_OEM_ASLEEP : d2ev_kit_status_class(resp->status);
    return d2ev_kit_done(res, cls, "tesla %s: HTTP %d: %.160s", d2ev_oem_op_name(op), resp->status,
                         error ? error : "");
}

static const struct {
    const char *name;
    enum d2ev_charging_state state;
} charging_states[] = {
    { "Charging", D2EV_CHG_CHARGING }, { "Stopped", D2EV_CHG_STOPPED },
    { "Complete", D2EV_CHG_COMPLETE }, { "Disconnected", D2EV_CHG_DISCONNECTED },
    { "Starting", D2EV_CHG_STARTING }, { "NoPower", D2EV_CHG_NO_POWER },
};

static int parse_read(const json_t *response, struct d2ev_oem_result *res)
{
    struct d2ev_oem_state *st = res->state;
    const json_t *cs = json_object_get(response, "charge_state");
    const char *vstate = d2ev_kit_str(response, "state");
    if (vstate) {
        st->online = !strcmp(vstate, "online");
        st->fields |= D2EV_OEM_F_ONLINE;
    }
    if (!json_is_object(cs)) {
        if (vstate && strcmp(vstate, "online") != 0)
            return d2ev_kit_done(res, D2EV_OEM_ASLEEP, "tesla read: vehicle is %.20s", vstate);
        return d2ev_kit_done(res, D2EV_OEM_RETRY, "tesla read: answer has no charge_state");
    }
    double level, v;
    const char *chg = d2ev_kit_str(cs, "charging_state");
    if (!d2ev_kit_num(cs, "battery_level", &level) || level < 0 || level > 100 || !chg)
        return d2ev_kit_done(res, D2EV_OEM_RETRY,
                             "tesla read: battery_level or charging_state missing");
    st->soc_pct = level;
    st->charging_state = D2EV_CHG_UNKNOWN;
    for (size_t i = 0; i < sizeof(charging_states) / sizeof(charging_states[0]); i++) {
        if (!strcmp(chg, charging_states[i].name))
            st->charging_state = charging_states[i].state;
    }
    st->fields |= D2EV_OEM_F_SOC | D2EV_OEM_F_CHARGING_STATE;
    if (st->charging_state != D2EV_CHG_UNKNOWN) {
        st->plugged_in = st->charging_state != D2EV_CHG_DISCONNECTED;
        st->fields |= D2EV_OEM_F_PLUGGED_IN;
    }
    if (d2ev_kit_num(cs, "battery_range", &v) && v >= 0 && isfinite(v * MILES_TO_KM)) {
        st->range_km = v * MILES_TO_KM;
        st->fields |= D2EV_OEM_F_RANGE_KM;
    }
    if (d2ev_kit_num(cs, "charger_power", &v) && v >= 0) {
        st->power_kw = v;
        st->fields |= D2EV_OEM_F_POWER_KW;
    }
    if (d2ev_kit_num(cs, "charge_limit_soc", &v) && v > 0 && v <= 100) {
        st->charge_limit_pct = v;
        st->fields |= D2EV_OEM_F_CHARGE_LIMIT;
    }
    if (d2ev_kit_num(cs, "charge_energy_added", &v) && v >= 0) {
        st->energy_added_kwh = v;
        st->fields |= D2EV_OEM_F_ENERGY_ADDED;
    }
    if (d2ev_kit_num(cs, "timestamp", &v) && v > 0 && v < TIMESTAMP_END_MS) {
        st->reported_at_ms = (int64_t)v;
        st->fields |= D2EV_OEM_F_REPORTED_AT;
    }
    return d2ev_kit_done(res, D2EV_OEM_OK, "ok");
}

static int parse_wake(struct tesla *t, struct d2ev_oem_flow *flow, const json_t *response,
                      struct d2ev_oem_result *res)
{
    const char *vstate = d2ev_kit_str(response, "state");
    if (!vstate)
        return d2ev_kit_done(res, D2EV_OEM_RETRY, "tesla wake: answer has no state");
    bool online = !strcmp(vstate, "online");
    if (res->state) {
        res->state->online = online;
        res->state->fields |= D2EV_OEM_F_ONLINE;
    }
    if (online)
        return d2ev_kit_done(res, D2EV_OEM_OK, "online");
    if (flow->step == WAKE_POLL && flow->elapsed_ms + t->wake_poll_ms > t->wake_timeout_ms)
        return d2ev_kit_verdict(res, D2EV_OEM_ASLEEP,
                                "tesla wake: vehicle still %.20s after %lld ms", vstate,
                                (long long)flow->elapsed_ms);
    return d2ev_kit_next(res, WAKE_POLL, t->wake_poll_ms);
}

static int parse_command(uint32_t op, const json_t *response, struct d2ev_oem_result *res)
{
    bool result;
    if (!d2ev_kit_bool(response, "result", &result))
        return d2ev_kit_done(res, D2EV_OEM_RETRY, "tesla %s: answer has no result",
                             d2ev_oem_op_name(op));
    const char *reason = d2ev_kit_str(response, "reason");
    if (result) {
        res->command = D2EV_OEM_CMD_CONFIRMED;
        return d2ev_kit_done(res, D2EV_OEM_OK, "done");
    }
    reason = reason ? reason : "";
    bool start = op == D2EV_OEM_OP_START;
    if ((start && (!strcmp(reason, "is_charging") || !strcmp(reason, "complete"))) ||
        (!start && (!strcmp(reason, "not_charging") || !strcmp(reason, "disconnected")))) {
        res->command = D2EV_OEM_CMD_ALREADY;
        return d2ev_kit_done(res, D2EV_OEM_OK, "already: %.60s", reason);
    }
    if (start && !strcmp(reason, "disconnected"))
        return d2ev_kit_verdict(res, D2EV_OEM_PERMANENT,
                                "tesla start: vehicle is not plugged in (disconnected)");
    return d2ev_kit_done(res, D2EV_OEM_RETRY, "tesla %s refused: %.80s", d2ev_oem_op_name(op),
                         reason);
}

static int tesla_parse(void *inst, const struct d2ev_oem_call *call, struct d2ev_oem_flow *flow,
                       const struct d2ev_oem_response *resp, struct d2ev_oem_result *res)
{
    struct tesla *t = inst;
    if (call->op == D2EV_OEM_OP_REFRESH || call->op == D2EV_OEM_OP_EXCHANGE_CODE)
        return d2ev_kit_parse_tokens(t->b.host, resp, res);
    json_t *body = d2ev_kit_body_json(resp);
    const json_t *response = json_object_get(body, "response");
    int rc;
    if (resp->status != 200)
        rc = tesla_error(res, resp, body, call->op);
    else if (!json_is_object(response))
        rc = d2ev_kit_done(res, D2EV_OEM_RETRY, "tesla %s: answer has no response object",
                           d2ev_oem_op_name(call->op));
    else if (call->op == D2EV_OEM_OP_READ)
        rc = res->state ? parse_read(response, res)
                        : d2ev_kit_done(res, D2EV_OEM_PERMANENT, "no state output (host bug)");
    else if (call->op == D2EV_OEM_OP_WAKE)
        rc = parse_wake(t, flow, response, res);
    else
        rc = parse_command(call->op, response, res);
    json_decref(body);
    return rc;
}

D2EV_KIT_ADAPTER(NAME, tesla_create, d2ev_kit_destroy, tesla_describe, tesla_build, tesla_parse)
