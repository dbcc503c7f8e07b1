/* events_dispatch.c: start/stop commands and their verified outcomes. */
#include "events_internal.h"

#include <string.h>

#define COMMAND_ID_MAX 64
#define ATTEMPT_MAX    1000
#define LATENCY_MAX_MS (24LL * 3600 * 1000)

static const char *const command_names[] = { "start", "stop", "wake" };
static const char *const result_names[] = { "sent",   "confirmed", "retry",
                                            "failed", "alert",     "skipped" };
/* The OEM adapter error classes (index 0: none, absent on the wire). */
static const char *const error_class_names[] = {
    NULL, "permanent", "retry", "asleep", "rate_limited", "unauthorized",
};

const char *d2ev_command_name(enum d2ev_command c)
{
    return (unsigned)c < D2EV_EV_COUNT(command_names) ? command_names[c] : "unknown";
}

const char *d2ev_dispatch_result_name(enum d2ev_dispatch_result r)
{
    return (unsigned)r < D2EV_EV_COUNT(result_names) ? result_names[r] : "unknown";
}

static int dispatch_read(const json_t *root, void *out, struct d2ev_err *err)
{
    struct d2ev_dispatch *d = out;
    int command = 0, result = 0, error_class = 0;
    int64_t window = 0, attempt = 0;
    if (d2ev_json_req_str(root, "vehicle_id", d->vehicle_id, D2EV_VEHICLE_ID_MAX, D2EV_CS_ID,
                          err) ||
        d2ev_json_req_str(root, "command_id", d->command_id, COMMAND_ID_MAX, D2EV_CS_ID, err) ||
        d2ev_json_req_enum(root, "command", command_names, D2EV_EV_COUNT(command_names), &command,
                           err) ||
        d2ev_json_req_int(root, "schedule_version", 0, INT64_MAX, &d->schedule_version, err) ||
        d2ev_json_req_int(root, "window", -1, D2EV_SCHEDULE_MAX_WINDOWS - 1, &window, err) ||
        d2ev_json_req_int(root, "attempt", 0, ATTEMPT_MAX, &attempt, err) ||
        d2ev_json_req_enum(root, "result", result_names, D2EV_EV_COUNT(result_names), &result,
                           err) ||
        d2ev_json_req_int(root, "latency_ms", 0, LATENCY_MAX_MS, &d->latency_ms, err) ||
        d2ev_json_opt_enum(root, "error_class", error_class_names, D2EV_EV_COUNT(error_class_names),
                           &error_class, NULL, err) ||
        d2ev_ev_opt_text(root, "detail", d->detail, D2EV_REASON_MAX, D2EV_CS_ANY, err) ||
        d2ev_json_req_time(root, "at", &d->at, err))
        return err->code;
    d->command = (enum d2ev_command)command;
    d->result = (enum d2ev_dispatch_result)result;
    d->window = (int32_t)window;
    d->attempt = (int32_t)attempt;
    if (error_class)
        strcpy(d->error_class, error_class_names[error_class]);
    if (d->result == D2EV_DISPATCH_FAILED && !error_class)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "error_class: required when result is \"failed\"");
    return D2EV_OK;
}

json_t *d2ev_dispatch_encode(const struct d2ev_dispatch *d)
{
    json_t *o = d2ev_envelope_new("dispatch");
    int failed =
        d2ev_ev_set_str(o, "vehicle_id", d->vehicle_id) ||
        d2ev_ev_set_str(o, "command_id", d->command_id) ||
        d2ev_ev_set_enum(o, "command", command_names, D2EV_EV_COUNT(command_names),
                         (int)d->command) ||
        d2ev_ev_set_int(o, "schedule_version", d->schedule_version) ||
        d2ev_ev_set_int(o, "window", d->window) || d2ev_ev_set_int(o, "attempt", d->attempt) ||
        d2ev_ev_set_enum(o, "result", result_names, D2EV_EV_COUNT(result_names), (int)d->result) ||
        d2ev_ev_set_int(o, "latency_ms", d->latency_ms) ||
        d2ev_ev_set_text(o, "error_class", d->error_class) ||
        d2ev_ev_set_text(o, "detail", d->detail) || d2ev_ev_set_time(o, "at", d->at);
    return d2ev_ev_finish(o, failed);
}

int d2ev_dispatch_decode(const void *buf, size_t len, struct d2ev_dispatch *out,
                         struct d2ev_err *err)
{
    return d2ev_ev_decode(buf, len, "dispatch", out, sizeof(*out), dispatch_read, NULL, err);
}
