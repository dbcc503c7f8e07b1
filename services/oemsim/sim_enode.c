/*
 * sim_enode.c: Enode under /enode (docs/oem-apis.md).
 *
 * Reads always answer with the last known state (never an error because the
 * car sleeps, and never a wake). POST charging creates an action that reads
 * PENDING until the configured delay has passed, then CONFIRMED (the car
 * applied it at that moment) or FAILED (unreachable, not plugged in for
 * START, ignored, or drawn by the action-fail-rate fault). A newer action for
 * the same vehicle CANCELS one still pending.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

#define PROBLEMS "https://developers.enode.io/api/problems/"

static void enode_error(struct sim_req *r, enum sim_err e, int64_t retry_after_s,
                        const char *detail)
{
    int status;
    const char *type, *title;
    switch (e) {
    case SIM_E_BAD_REQUEST:
        status = 400, type = "bad-request", title = "Bad Request";
        break;
    case SIM_E_UNAUTHORIZED:
        status = 401, type = "unauthorized", title = "Unauthorized";
        break;
    case SIM_E_FORBIDDEN:
        status = 403, type = "forbidden", title = "Forbidden";
        break;
    case SIM_E_NOT_FOUND:
    case SIM_E_NO_ROUTE:
        status = 404, type = "not-found", title = "Entity Not Found";
        break;
    case SIM_E_ASLEEP:
    case SIM_E_UNREACHABLE:
        status = 409, type = "conflict", title = "Conflict";
        break;
    case SIM_E_RATE_VEHICLE:
    case SIM_E_RATE_APP:
        status = 429, type = "too-many-requests", title = "Too Many Requests";
        break;
    default:
        status = 500, type = "server-error", title = "Internal Server Error";
        break;
    }
    sim_retry_after(r->resp, "Retry-After", retry_after_s);
    char type_url[96];
    snprintf(type_url, sizeof(type_url), PROBLEMS "%s", type);
    sim_reply(r->resp, status, "application/problem+json",
              json_pack("{s:s, s:s, s:s}", "type", type_url, "title", title, "detail",
                        detail ? detail : title));
}

static void enode_vehicle(struct sim_req *r)
{
    static const char *const delivery[] = { "UNPLUGGED", "PLUGGED_IN:CHARGING",
                                            "PLUGGED_IN:STOPPED", "PLUGGED_IN:COMPLETE" };
    struct sim_snapshot s;
    sim_read(r, &s);
    char id[40], user[37], seen[32];
    sim_vehicle_id_text(&r->sim->fleet.v[r->idx], id);
    sim_vehicle_user_id(&r->sim->params, (uint32_t)r->idx, user);
    /* a sleeping car last reported when it fell asleep */
    sim_time_text(s.asleep ? s.asleep_since_ms : s.now, false, seen);
    bool charging = s.state == SIM_CHARGING;
    json_t *rate = charging ? json_real(sim_round(s.power_kw, 1)) : json_null();
    json_t *remaining =
        charging ? json_integer((json_int_t)llround(s.minutes_to_limit)) : json_null();
    json_t *charge = json_pack(
        "{s:I, s:f, s:b, s:b, s:b, s:f, s:I, s:o, s:o, s:s, s:s}", "batteryLevel",
        (json_int_t)llround(s.soc * 100), "range", sim_round(s.range_km, 1), "isPluggedIn",
        s.plugged, "isCharging", charging, "isFullyCharged", s.state == SIM_COMPLETE,
        "batteryCapacity", sim_round(s.capacity_kwh, 1), "chargeLimit",
        (json_int_t)llround(s.limit * 100), "chargeRate", rate, "chargeTimeRemaining", remaining,
        "lastUpdated", seen, "powerDeliveryState", delivery[s.state]);
    sim_reply(r->resp, 200, "application/json",
              json_pack("{s:s, s:s, s:s, s:b, s:s, s:o}", "id", id, "userId", user, "vendor",
                        sim_vehicle_vendor(&r->sim->params, (uint32_t)r->idx), "isReachable",
                        !s.offline, "lastSeen", seen, "chargeState", charge));
}

static json_t *action_json(struct oemsim *sim, const struct sim_action *a, int64_t now)
{
    static const char *const states[] = { "PENDING", "CONFIRMED", "FAILED", "CANCELLED" };
    enum sim_action_state st = sim_action_state_at(a, now);
    char id[37], user[37], target[40], created[32], updated[32];
    sim_action_id(a, id);
    sim_vehicle_user_id(&sim->params, a->vehicle, user);
    sim_vehicle_id_text(&sim->fleet.v[a->vehicle], target);
    int64_t upd = st == SIM_ACT_PENDING     ? a->created_ms
                  : st == SIM_ACT_CANCELLED ? a->cancelled_ms
                                            : a->resolve_ms;
    sim_time_text(a->created_ms, false, created);
    sim_time_text(upd, false, updated);
    json_t *failure = json_null();
    if (st == SIM_ACT_FAILED)
        failure = a->failure == SIM_FAIL_PRECONDITION
                      ? json_pack("{s:s, s:s}", "type", "FAILED_PRECONDITION", "detail",
                                  "The vehicle is not plugged in.")
                      : json_pack("{s:s, s:s}", "type", "NO_RESPONSE", "detail",
                                  "The vehicle did not respond to the command.");
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "id", id, "userId", user,
                     "createdAt", created, "updatedAt", updated, "state", states[st], "targetId",
                     target, "targetType", "vehicle", "kind",
                     a->kind == SIM_CMD_START ? "START" : "STOP", "failureReason", failure);
}

static void enode_charging(struct sim_req *r)
{
    char why[D2EV_ERR_MSG_MAX];
    enum sim_cmd cmd = sim_parse_action(r, why, sizeof(why));
    if (cmd == SIM_CMD_NONE) {
        enode_error(r, SIM_E_BAD_REQUEST, 0, why);
        return;
    }
    struct oemsim *sim = r->sim;
    uint32_t idx = (uint32_t)r->idx;
    struct sim_vehicle *v = &sim->fleet.v[idx];
    struct sim_action a = {
        .created_ms = r->now,
        .resolve_ms = r->now + sim->params.action_delay_ms,
        .vehicle = idx,
        .kind = (uint8_t)cmd,
        .outcome = SIM_ACT_CONFIRMED,
    };
    sim_lock(&sim->fleet, idx);
    sim_vehicle_advance(v, &sim->params, idx, r->now);
    /* a newer action cancels one still pending, and the command it carried */
    if (v->action != UINT32_MAX && sim_actions_cancel(&sim->actions, v->action, idx, r->now) &&
        v->pending_cmd != SIM_CMD_NONE) {
        sim_log_command(sim, idx, r->oem, (enum sim_cmd)v->pending_cmd, SIM_RES_FAILED,
                        SIM_WHY_SUPERSEDED, r->now);
        v->pending_cmd = SIM_CMD_NONE;
    }
    enum sim_reason fail = SIM_WHY_NONE;
    if (v->flags & SIM_F_OFFLINE)
        fail = SIM_WHY_UNREACHABLE;
    else if (cmd == SIM_CMD_START && !(v->flags & SIM_F_PLUGGED))
        fail = SIM_WHY_DISCONNECTED;
    else if (r->faults.action_fail_rate > 0 && sim_rand_unit() < r->faults.action_fail_rate)
        fail = SIM_WHY_ACTION_FAIL;
    if (fail != SIM_WHY_NONE) {
        a.outcome = SIM_ACT_FAILED;
        a.failure = fail == SIM_WHY_DISCONNECTED ? SIM_FAIL_PRECONDITION : SIM_FAIL_NO_RESPONSE;
        sim_log_command(sim, idx, r->oem, cmd, SIM_RES_FAILED, fail, r->now);
    } else {
        /* Enode wakes a sleeping car itself */
        if (sim_vehicle_wake(v, &sim->params, r->now, 0))
            sim_count(&sim->stats.wakes[r->oem]);
        if (sim_deliver(r, v, cmd, sim->params.action_delay_ms) == SIM_RES_IGNORED) {
            a.outcome = SIM_ACT_FAILED;
            a.failure = SIM_FAIL_NO_RESPONSE;
        }
    }
    struct sim_action rec;
    v->action = sim_actions_add(&sim->actions, &a, &rec);
    sim_unlock(&sim->fleet, idx);
    sim_reply(r->resp, 200, "application/json", action_json(sim, &rec, r->now));
}

static void enode_action(struct sim_req *r)
{
    struct sim_action a;
    if (!sim_actions_find(&r->sim->actions, r->vehicle_id, &a)) {
        enode_error(r, SIM_E_NOT_FOUND, 0, "Action not found.");
        return;
    }
    sim_reply(r->resp, 200, "application/json", action_json(r->sim, &a, r->now));
}

static const struct sim_route enode_routes[] = {
    { "POST", "/oauth2/token", SIM_EP_TOKEN, false, sim_token_endpoint },
    { "GET", "/vehicles/actions/{id}", SIM_EP_ACTION, false, enode_action },
    { "GET", "/vehicles/{id}", SIM_EP_VEHICLE, true, enode_vehicle },
    { "POST", "/vehicles/{id}/charging", SIM_EP_START, true, enode_charging },
};

const struct sim_dialect sim_enode_dialect = {
    .oem = SIM_ENODE,
    .prefix = "/enode",
    .routes = enode_routes,
    .nroutes = sizeof(enode_routes) / sizeof(enode_routes[0]),
    .error = enode_error,
};
