/* example.c: the smallest complete d2ev OEM adapter (docs/adapters.md walks through it).
 *
 * The made-up "Example Motors" API:
 *   GET  {base}/cars/{id}           -> 200 {"soc": 54, "plugged": true, "charging": true,
 *                                          "updated": "2026-11-21T07:29:58Z"}
 *   POST {base}/cars/{id}/charging  {"on": true|false} -> 202 {"accepted": true}
 *   POST {token_url}                grant_type=refresh_token (HTTP Basic client auth)
 *   Errors: 401 unauthorized, 409 {"error": "asleep"}, 429 + Retry-After, 5xx; the rest permanent.
 */
#include <string.h>

#include "d2ev/oem_kit.h"

static const char *const config_keys[] = { D2EV_KIT_OAUTH_KEYS, NULL };
static const struct d2ev_kit_token_style token_style = { .basic_auth = true };

static int ex_create(const struct d2ev_oem_host *host, const char *config, size_t len,
                     const char *secret, void **inst, char *errbuf, size_t errlen)
{
    json_t *cfg;
    int rc = d2ev_kit_create(host, config, len, secret, sizeof(struct d2ev_kit_base),
                             "https://api.example-motors.test",
                             "https://auth.example-motors.test/token", inst, &cfg, errbuf, errlen);
    if (rc == 0)
        json_decref(cfg);
    return rc;
}

static void ex_describe(void *inst, struct d2ev_oem_desc *d)
{
    d->abi_version = D2EV_OEM_ABI_VERSION;
    d->name = "example";
    d->title = "Example Motors (documentation example)";
    d->ops = D2EV_OEM_OP_BIT(D2EV_OEM_OP_READ) | D2EV_OEM_OP_BIT(D2EV_OEM_OP_START) |
             D2EV_OEM_OP_BIT(D2EV_OEM_OP_STOP) | D2EV_OEM_OP_BIT(D2EV_OEM_OP_REFRESH);
    d->token_model = D2EV_OEM_TOKENS_PER_VEHICLE;
    d->rate_per_s = 10;
    d->burst = 20;
    d->request_timeout_ms = 10000;
    d->config_keys = config_keys;
}

static int ex_build(void *inst, const struct d2ev_oem_call *call, const struct d2ev_oem_flow *flow,
                    struct d2ev_oem_request *req, char *errbuf, size_t errlen)
{
    struct d2ev_kit_base *b = inst;
    switch (call->op) {
    case D2EV_OEM_OP_READ:
        return d2ev_kit_request(b->host, req, "GET", b->oauth.base_url, "/cars/", call->vehicle,
                                NULL, errbuf, errlen);
    case D2EV_OEM_OP_START:
    case D2EV_OEM_OP_STOP: {
        int rc = d2ev_kit_request(b->host, req, "POST", b->oauth.base_url, "/cars/", call->vehicle,
                                  "/charging", errbuf, errlen);
        if (rc)
            return rc;
        bool on = call->op == D2EV_OEM_OP_START;
        return d2ev_kit_json_body(b->host, req, json_pack("{s:b}", "on", on), errbuf, errlen);
    }
    case D2EV_OEM_OP_REFRESH:
        return d2ev_kit_token_request(b->host, &b->oauth, &token_style, D2EV_KIT_GRANT_REFRESH,
                                      call, req, errbuf, errlen);
    default:
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_UNSUPPORTED, "no %s",
                            d2ev_oem_op_name(call->op));
    }
}

static int ex_parse(void *inst, const struct d2ev_oem_call *call, struct d2ev_oem_flow *flow,
                    const struct d2ev_oem_response *resp, struct d2ev_oem_result *res)
{
    struct d2ev_kit_base *b = inst;
    if (call->op == D2EV_OEM_OP_REFRESH)
        return d2ev_kit_parse_tokens(b->host, resp, res);
    json_t *body = d2ev_kit_body_json(resp);
    const char *error = d2ev_kit_str(body, "error");
    bool plugged, charging;
    double soc;
    int rc;
    if (resp->status == 429) {
        rc = d2ev_kit_rate_limited(res, resp, D2EV_OEM_SCOPE_OEM, "example 429");
    } else if (resp->status == 409 && error && !strcmp(error, "asleep")) {
        rc = d2ev_kit_done(res, D2EV_OEM_ASLEEP, "the car is asleep");
    } else if (resp->status >= 300) {
        rc = d2ev_kit_done(res, d2ev_kit_status_class(resp->status), "HTTP %d: %.100s",
                           resp->status, error ? error : "");
    } else if (call->op != D2EV_OEM_OP_READ) {
        res->command = D2EV_OEM_CMD_SENT;
        rc = d2ev_kit_done(res, D2EV_OEM_OK, "sent");
    } else if (!d2ev_kit_num(body, "soc", &soc) || !d2ev_kit_bool(body, "plugged", &plugged) ||
               !d2ev_kit_bool(body, "charging", &charging)) {
        rc = d2ev_kit_done(res, D2EV_OEM_RETRY, "answer lacks soc, plugged or charging");
    } else {
        struct d2ev_oem_state *s = res->state;
        s->soc_pct = soc;
        s->plugged_in = plugged;
        s->charging_state = !plugged   ? D2EV_CHG_DISCONNECTED
                            : charging ? D2EV_CHG_CHARGING
                                       : D2EV_CHG_STOPPED;
        s->fields = D2EV_OEM_F_SOC | D2EV_OEM_F_PLUGGED_IN | D2EV_OEM_F_CHARGING_STATE;
        const char *updated = d2ev_kit_str(body, "updated");
        if (updated && b->host->parse_time(updated, &s->reported_at_ms) == 0)
            s->fields |= D2EV_OEM_F_REPORTED_AT;
        rc = d2ev_kit_done(res, D2EV_OEM_OK, "ok");
    }
    json_decref(body);
    return rc;
}

D2EV_KIT_ADAPTER("example", ex_create, d2ev_kit_destroy, ex_describe, ex_build, ex_parse)
