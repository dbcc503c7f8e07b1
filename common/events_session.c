/* events_session.c: plug-in sessions with their energy, cost and carbon. */
#include "events_internal.h"

#include <string.h>

#define SESSION_ID_MAX 64
#define ENERGY_MAX_KWH 1000.0
#define SECONDS_MAX    1e9
#define COST_LIMIT     1e6
#define CARBON_MAX_G   1e9

static const char *const event_names[] = { "plug_in", "update", "full", "unplug", "anomaly" };
/* Index 0 (none) has no wire name: the field is absent. */
static const char *const anomaly_names[] = { NULL, "zombie", "eternal" };

static int session_rules(const struct d2ev_session *s, struct d2ev_err *err)
{
    bool is_anomaly = s->event == D2EV_SESSION_ANOMALY;
    if (is_anomaly != (s->anomaly != D2EV_ANOMALY_NONE))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "anomaly: %s when event is \"anomaly\"",
                            is_anomaly ? "required" : "only allowed");
    if (s->event == D2EV_SESSION_UNPLUG && !s->ended_at)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "ended_at: required when event is \"unplug\"");
    if (s->ended_at && s->ended_at < s->started_at)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "ended_at: must not be before started_at");
    if (s->at < s->started_at)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "at: must not be before started_at");
    if (s->cost != 0 && !s->currency[0])
        return d2ev_err_set(err, D2EV_ERR_INVALID, "currency: required when cost is not 0");
    return D2EV_OK;
}

static int session_read(const json_t *root, void *out, struct d2ev_err *err)
{
    struct d2ev_session *s = out;
    int event = 0, anomaly = 0;
    if (d2ev_json_req_str(root, "vehicle_id", s->vehicle_id, D2EV_VEHICLE_ID_MAX, D2EV_CS_ID,
                          err) ||
        d2ev_json_req_str(root, "session_id", s->session_id, SESSION_ID_MAX, D2EV_CS_ID, err) ||
        d2ev_json_req_enum(root, "event", event_names, D2EV_EV_COUNT(event_names), &event, err) ||
        d2ev_json_opt_enum(root, "anomaly", anomaly_names, D2EV_EV_COUNT(anomaly_names), &anomaly,
                           NULL, err) ||
        d2ev_json_req_time(root, "started_at", &s->started_at, err) ||
        d2ev_ev_opt_time0(root, "ended_at", &s->ended_at, err) ||
        d2ev_json_req_time(root, "at", &s->at, err) ||
        d2ev_json_req_num(root, "soc_start", 0, 100, &s->soc_start, err) ||
        d2ev_json_req_num(root, "soc_now", 0, 100, &s->soc_now, err) ||
        d2ev_json_req_num(root, "energy_kwh", 0, ENERGY_MAX_KWH, &s->energy_kwh, err) ||
        d2ev_json_req_num(root, "charging_s", 0, SECONDS_MAX, &s->charging_s, err) ||
        d2ev_json_req_num(root, "idle_s", 0, SECONDS_MAX, &s->idle_s, err) ||
        d2ev_json_req_num(root, "cost", -COST_LIMIT, COST_LIMIT, &s->cost, err) ||
        d2ev_json_req_num(root, "carbon_g", 0, CARBON_MAX_G, &s->carbon_g, err) ||
        d2ev_ev_opt_currency(root, "currency", s->currency, err) ||
        d2ev_ev_opt_text(root, "detail", s->detail, D2EV_REASON_MAX, D2EV_CS_ANY, err))
        return err->code;
    s->event = (enum d2ev_session_event)event;
    s->anomaly = (enum d2ev_anomaly)anomaly;
    return session_rules(s, err);
}

json_t *d2ev_session_encode(const struct d2ev_session *s)
{
    json_t *o = d2ev_envelope_new("session");
    int failed =
        d2ev_ev_set_str(o, "vehicle_id", s->vehicle_id) ||
        d2ev_ev_set_str(o, "session_id", s->session_id) ||
        d2ev_ev_set_enum(o, "event", event_names, D2EV_EV_COUNT(event_names), (int)s->event) ||
        (s->anomaly != D2EV_ANOMALY_NONE &&
         d2ev_ev_set_enum(o, "anomaly", anomaly_names, D2EV_EV_COUNT(anomaly_names),
                          (int)s->anomaly)) ||
        d2ev_ev_set_time(o, "started_at", s->started_at) ||
        d2ev_ev_set_opt_time(o, "ended_at", s->ended_at != 0, s->ended_at) ||
        d2ev_ev_set_time(o, "at", s->at) || d2ev_ev_set_num(o, "soc_start", s->soc_start) ||
        d2ev_ev_set_num(o, "soc_now", s->soc_now) ||
        d2ev_ev_set_num(o, "energy_kwh", s->energy_kwh) ||
        d2ev_ev_set_num(o, "charging_s", s->charging_s) ||
        d2ev_ev_set_num(o, "idle_s", s->idle_s) || d2ev_ev_set_num(o, "cost", s->cost) ||
        d2ev_ev_set_num(o, "carbon_g", s->carbon_g) ||
        d2ev_ev_set_text(o, "currency", s->currency) || d2ev_ev_set_text(o, "detail", s->detail);
    return d2ev_ev_finish(o, failed);
}

int d2ev_session_decode(const void *buf, size_t len, struct d2ev_session *out, struct d2ev_err *err)
{
    return d2ev_ev_decode(buf, len, "session", out, sizeof(*out), session_read, NULL, err);
}
