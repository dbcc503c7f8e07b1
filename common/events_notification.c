/* events_notification.c: messages for drivers and requests from operators. */
#include "events_internal.h"

static const char *const control_action_names[] = { "replan" };

/* ------------------------------------------------------------ notification */

static int notification_read(const json_t *root, void *out, struct d2ev_err *err)
{
    struct d2ev_notification *n = out;
    if (d2ev_json_req_str(root, "vehicle_id", n->vehicle_id, D2EV_VEHICLE_ID_MAX, D2EV_CS_ID,
                          err) ||
        d2ev_ev_opt_text(root, "user_id", n->user_id, D2EV_USER_ID_MAX, D2EV_CS_ID, err) ||
        d2ev_json_req_str(root, "kind", n->kind, D2EV_CODE_MAX, D2EV_CS_LOWER, err) ||
        d2ev_json_req_str(root, "message", n->message, D2EV_REASON_MAX, D2EV_CS_ANY, err) ||
        d2ev_json_opt_time(root, "time", &n->time, &n->has_time, err) ||
        d2ev_json_opt_num(root, "soc", 0, 100, &n->soc, &n->has_soc, err))
        return err->code;
    return D2EV_OK;
}

json_t *d2ev_notification_encode(const struct d2ev_notification *n)
{
    json_t *o = d2ev_envelope_new("notification");
    int failed = d2ev_ev_set_str(o, "vehicle_id", n->vehicle_id) ||
                 d2ev_ev_set_text(o, "user_id", n->user_id) ||
                 d2ev_ev_set_str(o, "kind", n->kind) || d2ev_ev_set_str(o, "message", n->message) ||
                 d2ev_ev_set_opt_time(o, "time", n->has_time, n->time) ||
                 d2ev_ev_set_opt_num(o, "soc", n->has_soc, n->soc);
    return d2ev_ev_finish(o, failed);
}

int d2ev_notification_decode(const void *buf, size_t len, struct d2ev_notification *out,
                             struct d2ev_err *err)
{
    return d2ev_ev_decode(buf, len, "notification", out, sizeof(*out), notification_read, NULL,
                          err);
}

/* ------------------------------------------------------------ control */

static int control_read(const json_t *root, void *out, struct d2ev_err *err)
{
    struct d2ev_control *c = out;
    int action = 0;
    if (d2ev_json_req_str(root, "vehicle_id", c->vehicle_id, D2EV_VEHICLE_ID_MAX, D2EV_CS_ID,
                          err) ||
        d2ev_json_req_enum(root, "action", control_action_names,
                           D2EV_EV_COUNT(control_action_names), &action, err) ||
        d2ev_json_req_str(root, "requested_by", c->requested_by, D2EV_USER_ID_MAX, D2EV_CS_ID,
                          err) ||
        d2ev_ev_opt_text(root, "reason", c->reason, D2EV_REASON_MAX, D2EV_CS_ANY, err))
        return err->code;
    c->action = (enum d2ev_control_action)action;
    return D2EV_OK;
}

json_t *d2ev_control_encode(const struct d2ev_control *c)
{
    json_t *o = d2ev_envelope_new("control");
    int failed = d2ev_ev_set_str(o, "vehicle_id", c->vehicle_id) ||
                 d2ev_ev_set_enum(o, "action", control_action_names,
                                  D2EV_EV_COUNT(control_action_names), (int)c->action) ||
                 d2ev_ev_set_str(o, "requested_by", c->requested_by) ||
                 d2ev_ev_set_text(o, "reason", c->reason);
    return d2ev_ev_finish(o, failed);
}

int d2ev_control_decode(const void *buf, size_t len, struct d2ev_control *out, struct d2ev_err *err)
{
    return d2ev_ev_decode(buf, len, "control", out, sizeof(*out), control_read, NULL, err);
}
