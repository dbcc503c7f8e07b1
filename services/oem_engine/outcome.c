/* outcome.c: an OEM engine outcome as JSON (see d2ev/oem_engine.h). */
#include "d2ev/oem_engine.h"
#include "d2ev/timefmt.h"

static void set_time(json_t *o, const char *key, int64_t ms)
{
    char buf[D2EV_TIME_STR_MAX];
    if (ms > 0)
        json_object_set_new(o, key, json_string(d2ev_time_format(ms, buf)));
}

json_t *d2ev_oem_outcome_to_json(const struct d2ev_oem_outcome *out, bool with_tokens)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:I}", "oem", out->oem, "op",
                  d2ev_oem_op_name(out->op), "vehicle", out->vehicle, "class",
                  d2ev_oem_class_name(out->cls), "http_status", out->http_status, "requests",
                  (int)out->requests, "latency_ms", (json_int_t)out->latency_ms);
    if (!o)
        return NULL;
    if (out->cls != D2EV_OEM_OK)
        json_object_set_new(o, "message", json_string(out->message ? out->message : ""));
    if (out->retry_after_ms > 0)
        json_object_set_new(o, "retry_after_ms", json_integer(out->retry_after_ms));
    if (out->state)
        json_object_set_new(o, "state", d2ev_oem_state_to_json(out->state));
    if (out->op == D2EV_OEM_OP_START || out->op == D2EV_OEM_OP_STOP) {
        if (out->cls == D2EV_OEM_OK)
            json_object_set_new(o, "command",
                                json_string(d2ev_oem_command_outcome_name(out->command)));
        json_object_set_new(o, "woke", json_boolean(out->woke));
    }
    if (out->tokens) {
        json_t *t = json_object();
        if (with_tokens) {
            json_object_set_new(t, "access_token", json_string(out->tokens->access_token));
            if (out->tokens->refresh_token)
                json_object_set_new(t, "refresh_token", json_string(out->tokens->refresh_token));
        }
        set_time(t, "expires_at", out->tokens->expires_at_ms);
        set_time(t, "refresh_expires_at", out->tokens->refresh_expires_at_ms);
        json_object_set_new(o, "tokens", t);
    }
    return o;
}
