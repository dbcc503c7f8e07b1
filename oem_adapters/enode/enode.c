/* enode.c: the Enode aggregator dialect, as pinned down in docs/oem-apis.md.
 *
 * Reads return Enode's last known state, so they never fail because a car
 * sleeps (isReachable says whether it answers). Commands create an
 * asynchronous action that is polled until CONFIRMED, FAILED or CANCELLED.
 * One client-credentials token serves the whole application. */
#include <string.h>

#include "d2ev/oem_kit.h"

#define NAME "enode"

struct enode {
    struct d2ev_kit_base b; /* host and OAuth settings */
    int64_t action_poll_ms;
    int64_t action_timeout_ms;
};

static const char *const config_keys[] = { D2EV_KIT_OAUTH_KEYS, "action_poll_ms",
                                           "action_timeout_ms", NULL };

static const struct d2ev_kit_token_style token_style = { .basic_auth = true };

enum { ACTION_CREATE = 0, ACTION_POLL = 1 };

static int enode_create(const struct d2ev_oem_host *host, const char *config_json, size_t len,
                        const char *client_secret, void **inst, char *errbuf, size_t errlen)
{
    void *p;
    json_t *cfg;
    int rc =
        d2ev_kit_create(host, config_json, len, client_secret, sizeof(struct enode),
                        "https://enode-api.production.enode.io",
                        "https://oauth.production.enode.io/oauth2/token", &p, &cfg, errbuf, errlen);
    if (rc)
        return rc;
    struct enode *en = p;
    rc = d2ev_kit_config_int(cfg, "action_poll_ms", 2000, 10, 60000, &en->action_poll_ms, errbuf,
                             errlen);
    if (!rc)
        rc = d2ev_kit_config_int(cfg, "action_timeout_ms", 120000, 100, 3600000,
                                 &en->action_timeout_ms, errbuf, errlen);
    return d2ev_kit_created(en, cfg, rc, inst);
}

static void enode_describe(void *inst, struct d2ev_oem_desc *d)
{
    d->abi_version = D2EV_OEM_ABI_VERSION;
    d->name = NAME;
    d->title = "Enode (aggregator)";
    d->caps = D2EV_OEM_CAP_ASYNC_ACTIONS;
    d->ops = D2EV_OEM_OP_BIT(D2EV_OEM_OP_READ) | D2EV_OEM_OP_BIT(D2EV_OEM_OP_START) |
             D2EV_OEM_OP_BIT(D2EV_OEM_OP_STOP) | D2EV_OEM_OP_BIT(D2EV_OEM_OP_REFRESH);
    d->token_model = D2EV_OEM_TOKENS_PER_APP;
    d->rate_per_s = 20;
    d->burst = 40;
    d->request_timeout_ms = 15000;
    d->config_keys = config_keys;
}

static int enode_build(void *inst, const struct d2ev_oem_call *call,
                       const struct d2ev_oem_flow *flow, struct d2ev_oem_request *req, char *errbuf,
                       size_t errlen)
{
    struct enode *en = inst;
    const struct d2ev_oem_host *host = en->b.host;
    const char *base = en->b.oauth.base_url;
    switch (call->op) {
    case D2EV_OEM_OP_READ:
        return d2ev_kit_request(host, req, "GET", base, "/vehicles/", call->vehicle, NULL, errbuf,
                                errlen);
    case D2EV_OEM_OP_START:
    case D2EV_OEM_OP_STOP: {
        if (flow->step == ACTION_POLL)
            return d2ev_kit_request(host, req, "GET", base, "/vehicles/actions/", flow->ref, NULL,
                                    errbuf, errlen);
        int rc = d2ev_kit_request(host, req, "POST", base, "/vehicles/", call->vehicle, "/charging",
                                  errbuf, errlen);
        if (rc)
            return rc;
        const char *action = call->op == D2EV_OEM_OP_START ? "START" : "STOP";
        return d2ev_kit_json_body(host, req, json_pack("{s:s}", "action", action), errbuf, errlen);
    }
    case D2EV_OEM_OP_REFRESH:
        return d2ev_kit_token_request(host, &en->b.oauth, &token_style,
                                      D2EV_KIT_GRANT_CLIENT_CREDENTIALS, call, req, errbuf, errlen);
    default:
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_UNSUPPORTED, "enode has no %s operation",
                            d2ev_oem_op_name(call->op));
    }
}

/* RFC 7807 problems: 400/404/409 permanent, 401 unauthorized, 403 permanent,
 * 429 rate_limited, 5xx retry. */
static int enode_error(struct d2ev_oem_result *res, const struct d2ev_oem_response *resp,
                       const json_t *body, uint32_t op)
{
    if (resp->status == 429)
        return d2ev_kit_rate_limited(res, resp, D2EV_OEM_SCOPE_OEM, "enode HTTP 429");
    const char *title = d2ev_kit_str(body, "title");
    const char *detail = d2ev_kit_str(body, "detail");
    return d2ev_kit_done(res, d2ev_kit_status_class(resp->status),
                         "enode %s: HTTP %d %.60s: %.120s", d2ev_oem_op_name(op), resp->status,
                         title ? title : "", detail ? detail : "");
}

static int parse_read(struct enode *en, const json_t *body, struct d2ev_oem_result *res)
{
    struct d2ev_oem_state *st = res->state;
    const json_t *cs = json_object_get(body, "chargeState");
    if (!st)
        return d2ev_kit_done(res, D2EV_OEM_PERMANENT, "no state output (host bug)");
    if (!json_is_object(cs))
        return d2ev_kit_done(res, D2EV_OEM_RETRY, "enode read: answer has no chargeState");
    bool reachable, plugged, charging, full;
    double v;
    if (d2ev_kit_bool(body, "isReachable", &reachable)) {
        st->online = reachable;
        st->fields |= D2EV_OEM_F_ONLINE;
    }
    if (!d2ev_kit_num(cs, "batteryLevel", &v) || v < 0 || v > 100)
        return d2ev_kit_done(res, D2EV_OEM_RETRY, "enode read: batteryLevel missing or not 0..100");
    st->soc_pct = v;
    st->fields |= D2EV_OEM_F_SOC;
    if (d2ev_kit_bool(cs, "isPluggedIn", &plugged)) {
        st->plugged_in = plugged;
        st->fields |= D2EV_OEM_F_PLUGGED_IN;
        const char *pds = d2ev_kit_str(cs, "powerDeliveryState");
        if (!plugged)
            st->charging_state = D2EV_CHG_DISCONNECTED;
        else if (d2ev_kit_bool(cs, "isCharging", &charging) && charging)
            st->charging_state = D2EV_CHG_CHARGING;
        else if (d2ev_kit_bool(cs, "isFullyCharged", &full) && full)
            st->charging_state = D2EV_CHG_COMPLETE;
        else if (pds && !strcmp(pds, "PLUGGED_IN:INITIALIZING"))
            st->charging_state = D2EV_CHG_STARTING;
        else if (pds && !strcmp(pds, "PLUGGED_IN:NO_POWER"))
            st->charging_state = D2EV_CHG_NO_POWER;
        else
            st->charging_state = D2EV_CHG_STOPPED;
        st->fields |= D2EV_OEM_F_CHARGING_STATE;
    }
    if (d2ev_kit_num(cs, "range", &v) && v >= 0) {
        st->range_km = v;
        st->fields |= D2EV_OEM_F_RANGE_KM;
    }
    if (d2ev_kit_num(cs, "batteryCapacity", &v) && v > 0) {
        st->battery_kwh = v;
        st->fields |= D2EV_OEM_F_BATTERY_KWH;
    }
    if (d2ev_kit_num(cs, "chargeLimit", &v) && v > 0 && v <= 100) {
        st->charge_limit_pct = v;
        st->fields |= D2EV_OEM_F_CHARGE_LIMIT;
    }
    if (d2ev_kit_num(cs, "chargeRate", &v) && v >= 0) {
        st->power_kw = v;
        st->fields |= D2EV_OEM_F_POWER_KW;
    }
    const char *when = d2ev_kit_str(cs, "lastUpdated");
    if (!when)
        when = d2ev_kit_str(body, "lastSeen");
    if (when && en->b.host->parse_time(when, &st->reported_at_ms) == 0)
        st->fields |= D2EV_OEM_F_REPORTED_AT;
    return d2ev_kit_done(res, D2EV_OEM_OK, "ok");
}

static int parse_action(struct enode *en, struct d2ev_oem_flow *flow, const json_t *body,
                        struct d2ev_oem_result *res)
{
    const char *state = d2ev_kit_str(body, "state");
    const char *id = d2ev_kit_str(body, "id");
    if (!state || (flow->step == ACTION_CREATE && (!id || !*id)))
        return d2ev_kit_done(res, D2EV_OEM_RETRY, "enode action: answer has no id or state");
    if (flow->step == ACTION_CREATE) {
        if (strlen(id) >= sizeof(flow->ref))
            return d2ev_kit_verdict(res, D2EV_OEM_PERMANENT, "enode action id is too long");
        d2ev_kit_copy(flow->ref, sizeof(flow->ref), id);
    }
    if (!strcmp(state, "CONFIRMED")) {
        res->command = D2EV_OEM_CMD_CONFIRMED;
        return d2ev_kit_done(res, D2EV_OEM_OK, "confirmed");
    }
    if (!strcmp(state, "FAILED") || !strcmp(state, "CANCELLED")) {
        /* failureReason: null, a string, or {"type", "detail"} */
        const json_t *fr = json_object_get(body, "failureReason");
        const char *why = json_is_string(fr) ? json_string_value(fr) : d2ev_kit_str(fr, "detail");
        if (!why)
            why = d2ev_kit_str(fr, "type");
        return d2ev_kit_verdict(res, D2EV_OEM_RETRY, "enode action %s: %.120s", state,
                                why ? why : "no reason given");
    }
    if (strcmp(state, "PENDING") != 0)
        return d2ev_kit_done(res, D2EV_OEM_RETRY, "enode action: unknown state %.20s", state);
    if (flow->elapsed_ms + en->action_poll_ms > en->action_timeout_ms)
        return d2ev_kit_verdict(res, D2EV_OEM_RETRY, "enode action still PENDING after %lld ms",
                                (long long)flow->elapsed_ms);
    return d2ev_kit_next(res, ACTION_POLL, en->action_poll_ms);
}

static int enode_parse(void *inst, const struct d2ev_oem_call *call, struct d2ev_oem_flow *flow,
                       const struct d2ev_oem_response *resp, struct d2ev_oem_result *res)
{
    struct enode *en = inst;
    if (call->op == D2EV_OEM_OP_REFRESH)
        return d2ev_kit_parse_tokens(en->b.host, resp, res);
    json_t *body = d2ev_kit_body_json(resp);
    int rc;
    if (resp->status != 200)
        rc = enode_error(res, resp, body, call->op);
    else if (!json_is_object(body))
        rc = d2ev_kit_done(res, D2EV_OEM_RETRY, "enode %s: answer is not a JSON object",
                           d2ev_oem_op_name(call->op));
    else if (call->op == D2EV_OEM_OP_READ)
        rc = parse_read(en, body, res);
    else
        rc = parse_action(en, flow, body, res);
    json_decref(body);
    return rc;
}

D2EV_KIT_ADAPTER(NAME, enode_create, d2ev_kit_destroy, enode_describe, enode_build, enode_parse)
