/*
 * sim_tesla.c: Tesla Fleet API under /tesla (docs/oem-apis.md).
 *
 * GET /api/1/vehicles/{id} shows online/asleep/offline without waking the
 * car; vehicle_data of a sleeping car answers 408 and does not wake it;
 * wake_up brings it online after the configured delay; commands to a
 * sleeping car answer 408, and to an awake one {"result", "reason"}.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

#define KM_PER_MILE 1.609344

static void tesla_error(struct sim_req *r, enum sim_err e, int64_t retry_after_s,
                        const char *detail)
{
    int status;
    const char *error;
    switch (e) {
    case SIM_E_BAD_REQUEST:
        status = 400, error = "invalid_request";
        break;
    case SIM_E_UNAUTHORIZED:
        status = 401, error = "invalid_token";
        break;
    case SIM_E_FORBIDDEN:
        status = 403, error = "unauthorized_missing_scopes";
        break;
    case SIM_E_NOT_FOUND:
    case SIM_E_NO_ROUTE:
        status = 404, error = "not_found";
        break;
    case SIM_E_ASLEEP:
    case SIM_E_UNREACHABLE:
        status = 408, error = "vehicle unavailable: vehicle is offline or asleep";
        detail = "";
        break;
    case SIM_E_RATE_VEHICLE:
    case SIM_E_RATE_APP:
        status = 429, error = "too_many_requests";
        break;
    default:
        status = 500, error = "internal server error";
        break;
    }
    sim_retry_after(r->resp, "Retry-After", retry_after_s);
    sim_reply(r->resp, status, "application/json",
              json_pack("{s:n, s:s, s:s}", "response", "error", error, "error_description",
                        detail ? detail : ""));
}

static json_int_t tesla_id(const struct sim_req *r)
{
    uint64_t id;
    memcpy(&id, r->sim->fleet.v[r->idx].id, sizeof(id));
    return (json_int_t)id;
}

static const char *tesla_state(const struct sim_snapshot *s)
{
    return s->offline ? "offline" : s->asleep ? "asleep" : "online";
}

/* {"id", "vin", "state"} of vehicle idx (a new reference). */
static json_t *tesla_vehicle_json(struct sim_req *r, const struct sim_snapshot *s)
{
    char vin[18];
    sim_vehicle_vin(&r->sim->params, (uint32_t)r->idx, vin);
    return json_pack("{s:I, s:s, s:s}", "id", tesla_id(r), "vin", vin, "state", tesla_state(s));
}

static void tesla_vehicle(struct sim_req *r)
{
    struct sim_snapshot s;
    sim_read(r, &s);
    sim_reply(r->resp, 200, "application/json",
              json_pack("{s:o}", "response", tesla_vehicle_json(r, &s)));
}

static json_t *charge_state_json(const struct sim_snapshot *s, double wh_per_km)
{
    static const char *const names[] = { "Disconnected", "Charging", "Stopped", "Complete" };
    double miles_per_kwh = 1000.0 / wh_per_km / KM_PER_MILE;
    json_t *power = s->plugged ? json_integer((json_int_t)llround(s->power_kw)) : json_null();
    return json_pack(
        "{s:I, s:f, s:s, s:o, s:I, s:f, s:f, s:I, s:I}", "battery_level",
        (json_int_t)llround(s->soc * 100), "battery_range", sim_round(s->range_km / KM_PER_MILE, 1),
        "charging_state", names[s->state], "charger_power", power, "charge_limit_soc",
        (json_int_t)llround(s->limit * 100), "charge_energy_added", sim_round(s->session_kwh, 2),
        "charge_rate", sim_round(s->power_kw * miles_per_kwh, 1), "minutes_to_full_charge",
        (json_int_t)llround(s->minutes_to_limit), "timestamp", (json_int_t)s->now);
}

static void tesla_vehicle_data(struct sim_req *r)
{
    struct sim_snapshot s;
    sim_read(r, &s);
    if (s.asleep || s.offline) {
        if (!s.offline)
            sim_count(&r->sim->stats.asleep_rejections[r->oem]);
        tesla_error(r, SIM_E_ASLEEP, 0, NULL);
        return;
    }
    const char *endpoints = d2ev_http_query(r->http, "endpoints");
    json_t *resp = json_pack("{s:I, s:s}", "id", tesla_id(r), "state", "online");
    if (!endpoints || strstr(endpoints, "charge_state"))
        json_object_set_new(resp, "charge_state",
                            charge_state_json(&s, r->sim->fleet.v[r->idx].wh_per_km));
    sim_reply(r->resp, 200, "application/json", json_pack("{s:o}", "response", resp));
}

static void tesla_wake_up(struct sim_req *r)
{
    struct oemsim *sim = r->sim;
    uint32_t idx = (uint32_t)r->idx;
    struct sim_vehicle *v = &sim->fleet.v[idx];
    struct sim_snapshot s;
    sim_lock(&sim->fleet, idx);
    sim_vehicle_snapshot(v, &sim->params, idx, r->now, &s);
    if (s.offline) {
        sim_log_command(sim, idx, r->oem, SIM_CMD_WAKE, SIM_RES_FAILED, SIM_WHY_UNREACHABLE,
                        r->now);
    } else if (sim_vehicle_wake(v, &sim->params, r->now, sim->params.wake_delay_ms)) {
        sim_count(&sim->stats.wakes[r->oem]);
        sim_log_command(sim, idx, r->oem, SIM_CMD_WAKE, SIM_RES_APPLIED, SIM_WHY_NONE, r->now);
    } else {
        sim_log_command(sim, idx, r->oem, SIM_CMD_WAKE, SIM_RES_NOOP,
                        s.asleep ? SIM_WHY_NONE : SIM_WHY_ALREADY_AWAKE, r->now);
    }
    sim_unlock(&sim->fleet, idx);
    /* the answer shows the state when the request arrived */
    sim_reply(r->resp, 200, "application/json",
              json_pack("{s:o}", "response", tesla_vehicle_json(r, &s)));
}

static void tesla_command(struct sim_req *r, enum sim_cmd cmd)
{
    struct oemsim *sim = r->sim;
    uint32_t idx = (uint32_t)r->idx;
    struct sim_vehicle *v = &sim->fleet.v[idx];
    struct sim_snapshot s;
    enum sim_reason why = SIM_WHY_NONE;
    sim_lock(&sim->fleet, idx);
    sim_vehicle_snapshot(v, &sim->params, idx, r->now, &s);
    bool unavailable = s.asleep || s.offline;
    if (!unavailable) {
        if (cmd == SIM_CMD_START && s.state == SIM_DISCONNECTED)
            why = SIM_WHY_DISCONNECTED;
        else if (cmd == SIM_CMD_START && s.state == SIM_CHARGING)
            why = SIM_WHY_IS_CHARGING;
        else if (cmd == SIM_CMD_START && s.state == SIM_COMPLETE)
            why = SIM_WHY_COMPLETE;
        else if (cmd == SIM_CMD_STOP && s.state != SIM_CHARGING)
            why = SIM_WHY_NOT_CHARGING;
        if (why != SIM_WHY_NONE)
            sim_log_command(sim, idx, r->oem, cmd, SIM_RES_NOOP, why, r->now);
        else
            sim_deliver(r, v, cmd, sim->params.command_delay_ms); /* ignored still says true */
    }
    sim_unlock(&sim->fleet, idx);
    if (unavailable) {
        if (!s.offline)
            sim_count(&sim->stats.asleep_rejections[r->oem]);
        tesla_error(r, SIM_E_ASLEEP, 0, NULL);
        return;
    }
    sim_reply(r->resp, 200, "application/json",
              json_pack("{s:{s:b, s:s}}", "response", "result", why == SIM_WHY_NONE, "reason",
                        sim_reason_name(why)));
}

static void tesla_charge_start(struct sim_req *r)
{
    tesla_command(r, SIM_CMD_START);
}

static void tesla_charge_stop(struct sim_req *r)
{
    tesla_command(r, SIM_CMD_STOP);
}

/* GET /api/1/vehicles: the vehicles of this token (its one grant). */
static void tesla_vehicles(struct sim_req *r)
{
    json_t *list = json_array();
    if ((r->idx = sim_token_vehicle(r)) >= 0) {
        struct sim_snapshot s;
        sim_read(r, &s);
        json_array_append_new(list, tesla_vehicle_json(r, &s));
    }
    json_int_t count = (json_int_t)json_array_size(list);
    sim_reply(r->resp, 200, "application/json",
              json_pack("{s:o, s:I}", "response", list, "count", count));
}

static const struct sim_route tesla_routes[] = {
    { "POST", "/oauth2/v3/token", SIM_EP_TOKEN, false, sim_token_endpoint },
    { "GET", "/api/1/vehicles", SIM_EP_VEHICLES, false, tesla_vehicles },
    { "GET", "/api/1/vehicles/{id}", SIM_EP_VEHICLE, true, tesla_vehicle },
    { "GET", "/api/1/vehicles/{id}/vehicle_data", SIM_EP_VEHICLE_DATA, true, tesla_vehicle_data },
    { "POST", "/api/1/vehicles/{id}/wake_up", SIM_EP_WAKE_UP, true, tesla_wake_up },
    { "POST", "/api/1/vehicles/{id}/command/charge_start", SIM_EP_START, true, tesla_charge_start },
    { "POST", "/api/1/vehicles/{id}/command/charge_stop", SIM_EP_STOP, true, tesla_charge_stop },
};

const struct sim_dialect sim_tesla_dialect = {
    .oem = SIM_TESLA,
    .prefix = "/tesla",
    .routes = tesla_routes,
    .nroutes = sizeof(tesla_routes) / sizeof(tesla_routes[0]),
    .error = tesla_error,
};
