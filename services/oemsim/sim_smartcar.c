/*
 * sim_smartcar.c: Smartcar API v2.0 under /smartcar (docs/oem-apis.md).
 *
 * Reads of a sleeping car fail with 409 VEHICLE_STATE/ASLEEP and never wake
 * it; commands wake it (a counted wake) and answer "sent", not "applied".
 */
#include <stdio.h>
#include <string.h>

#include "d2ev/json.h"
#include "d2ev/util.h"
#include "sim.h"

#define DOCS      "https://smartcar.com/docs/errors/api-errors/"
#define BATCH_MAX 16

struct sc_error {
    int status;
    const char *type, *code; /* code may be NULL (JSON null) */
    const char *description;
    const char *doc;        /* appended to DOCS */
    const char *resolution; /* NULL = null */
    const char *user_message;
};

static const struct sc_error sc_errors[] = {
    [SIM_E_BAD_REQUEST] = { 400, "VALIDATION", NULL, "Request invalid or malformed.",
                            "validation-errors", NULL,
                            "Something went wrong. Please try again later." },
    [SIM_E_UNAUTHORIZED] = { 401, "AUTHENTICATION", NULL,
                             "The authorization header is missing or malformed, or it contains "
                             "invalid or expired authentication credentials.",
                             "authentication-errors", "REAUTHENTICATE",
                             "Please reconnect your vehicle." },
    [SIM_E_FORBIDDEN] = { 403, "PERMISSION", NULL,
                          "Your application has insufficient permissions to access the "
                          "requested resource.",
                          "permission-errors", "REAUTHENTICATE", "Please reconnect your vehicle." },
    [SIM_E_NOT_FOUND] = { 404, "RESOURCE_NOT_FOUND", "PATH",
                          "The requested resource does not exist.",
                          "resource-not-found-errors#path", NULL,
                          "Something went wrong. Please try again later." },
    [SIM_E_NO_ROUTE] = { 404, "RESOURCE_NOT_FOUND", "PATH",
                         "The requested resource does not exist.", "resource-not-found-errors#path",
                         NULL, "Something went wrong. Please try again later." },
    [SIM_E_ASLEEP] = { 409, "VEHICLE_STATE", "ASLEEP", "The vehicle is asleep.",
                       "vehicle-state-errors#asleep", "RETRY_LATER",
                       "Your car is asleep. Please try again later." },
    [SIM_E_UNREACHABLE] = { 409, "VEHICLE_STATE", "UNREACHABLE",
                            "The vehicle is currently unreachable.",
                            "vehicle-state-errors#unreachable", "RETRY_LATER",
                            "Your car is unreachable. Please make sure it is in an area with "
                            "cellular reception." },
    [SIM_E_RATE_VEHICLE] = { 429, "RATE_LIMIT", "VEHICLE",
                             "You have reached the throttling rate limit for this vehicle.",
                             "rate-limit-errors#vehicle", "RETRY_LATER",
                             "Please try again later." },
    [SIM_E_RATE_APP] = { 429, "RATE_LIMIT", "SMARTCAR_API",
                         "You have reached the throttling rate limit for your application.",
                         "rate-limit-errors#smartcar-api", "RETRY_LATER",
                         "Please try again later." },
    [SIM_E_SERVER] = { 500, "SERVER", "INTERNAL", "An internal Smartcar error has occurred.",
                       "server-errors#internal", "RETRY_LATER",
                       "Something went wrong. Please try again later." },
};

/* The error body (a new reference). */
static json_t *sc_error_body(enum sim_err e, const char *detail)
{
    const struct sc_error *x = &sc_errors[e];
    char doc[160], request_id[D2EV_UUID_STR_LEN + 1], description[400];
    snprintf(doc, sizeof(doc), DOCS "%s", x->doc);
    d2ev_uuid_v4(request_id);
    if (e == SIM_E_BAD_REQUEST && detail)
        snprintf(description, sizeof(description), "%s %s", x->description, detail);
    else
        snprintf(description, sizeof(description), "%s", x->description);
    return json_pack("{s:s, s:s?, s:s, s:s, s:i, s:s, s:{s:s?}, s:s}", "type", x->type, "code",
                     x->code, "description", description, "docURL", doc, "statusCode", x->status,
                     "requestId", request_id, "resolution", "type", x->resolution,
                     "suggestedUserMessage", x->user_message);
}

static void sc_error(struct sim_req *r, enum sim_err e, int64_t retry_after_s, const char *detail)
{
    sim_retry_after(r->resp, "retry-after", retry_after_s);
    sim_reply(r->resp, sc_errors[e].status, "application/json", sc_error_body(e, detail));
}

/* ------------------------------------------------------------ reads */

enum sc_read { SC_BATTERY, SC_CAPACITY, SC_CHARGE, SC_LIMIT, SC_READ_COUNT };

static const char *const sc_read_paths[SC_READ_COUNT] = { "/battery", "/battery/capacity",
                                                          "/charge", "/charge/limit" };

/* The body of one read, or an error body; *status receives the code. */
static json_t *sc_read_body(struct sim_req *r, enum sc_read what, const struct sim_snapshot *s,
                            int *status)
{
    if (s->offline || s->asleep) {
        enum sim_err e = s->offline ? SIM_E_UNREACHABLE : SIM_E_ASLEEP;
        if (!s->offline)
            sim_count(&r->sim->stats.asleep_rejections[r->oem]);
        *status = sc_errors[e].status;
        return sc_error_body(e, NULL);
    }
    *status = 200;
    switch (what) {
    case SC_BATTERY:
        return json_pack("{s:f, s:f}", "percentRemaining", sim_round(s->soc, 4), "range",
                         sim_round(s->range_km, 1));
    case SC_CAPACITY:
        return json_pack("{s:f}", "capacity", sim_round(s->capacity_kwh, 1));
    case SC_CHARGE: {
        const char *st = s->state == SIM_CHARGING   ? "CHARGING"
                         : s->state == SIM_COMPLETE ? "FULLY_CHARGED"
                                                    : "NOT_CHARGING";
        return json_pack("{s:b, s:s}", "isPluggedIn", s->plugged, "state", st);
    }
    default:
        return json_pack("{s:f}", "limit", sim_round(s->limit, 2));
    }
}

static void sc_read(struct sim_req *r, enum sc_read what)
{
    struct sim_snapshot s;
    sim_read(r, &s);
    int status;
    json_t *body = sc_read_body(r, what, &s, &status);
    if (status == 200) {
        char age[32];
        sim_time_text(s.now, true, age);
        d2ev_http_add_header(r->resp, "sc-data-age", age);
    }
    sim_reply(r->resp, status, "application/json", body);
}

static void sc_battery(struct sim_req *r)
{
    sc_read(r, SC_BATTERY);
}

static void sc_capacity(struct sim_req *r)
{
    sc_read(r, SC_CAPACITY);
}

static void sc_charge(struct sim_req *r)
{
    sc_read(r, SC_CHARGE);
}

static void sc_limit(struct sim_req *r)
{
    sc_read(r, SC_LIMIT);
}

static void sc_batch(struct sim_req *r)
{
    struct d2ev_err err = { 0 };
    json_t *req = d2ev_json_parse(r->http->body, r->http->body_len, 16384, &err), *list = NULL;
    if (!req || d2ev_json_req_array(req, "requests", BATCH_MAX, &list, &err)) {
        sc_error(r, SIM_E_BAD_REQUEST, 0, err.msg);
        json_decref(req);
        return;
    }
    enum sc_read what[BATCH_MAX];
    size_t n = json_array_size(list);
    for (size_t i = 0; i < n; i++) {
        char path[64];
        json_t *item = json_array_get(list, i);
        if (!json_is_object(item) ||
            d2ev_json_req_str(item, "path", path, sizeof(path) - 1, D2EV_CS_PRINTABLE, &err)) {
            d2ev_err_prefix(&err, "requests[%zu]", i);
            sc_error(r, SIM_E_BAD_REQUEST, 0, err.msg[0] ? err.msg : "requests: want objects");
            json_decref(req);
            return;
        }
        what[i] = SC_READ_COUNT;
        for (int k = 0; k < SC_READ_COUNT; k++)
            if (!strcmp(path, sc_read_paths[k]))
                what[i] = (enum sc_read)k;
    }
    struct sim_snapshot s;
    sim_read(r, &s);
    char age[32];
    sim_time_text(s.now, true, age);
    json_t *responses = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *path = json_string_value(json_object_get(json_array_get(list, i), "path"));
        int status;
        json_t *body;
        if (what[i] == SC_READ_COUNT) {
            status = 404;
            body = sc_error_body(SIM_E_NO_ROUTE, NULL);
        } else {
            body = sc_read_body(r, what[i], &s, &status);
        }
        json_t *entry =
            status == 200
                ? json_pack("{s:s, s:i, s:{s:s}, s:o}", "path", path, "code", status, "headers",
                            "sc-data-age", age, "body", body)
                : json_pack("{s:s, s:i, s:o}", "path", path, "code", status, "body", body);
        json_array_append_new(responses, entry);
    }
    json_decref(req);
    sim_reply(r->resp, 200, "application/json", json_pack("{s:o}", "responses", responses));
}

/* ------------------------------------------------------------ commands */

static void sc_command(struct sim_req *r)
{
    char why[D2EV_ERR_MSG_MAX];
    enum sim_cmd cmd = sim_parse_action(r, why, sizeof(why));
    if (cmd == SIM_CMD_NONE) {
        sc_error(r, SIM_E_BAD_REQUEST, 0, why);
        return;
    }
    struct oemsim *sim = r->sim;
    uint32_t idx = (uint32_t)r->idx;
    struct sim_vehicle *v = &sim->fleet.v[idx];
    sim_lock(&sim->fleet, idx);
    sim_vehicle_advance(v, &sim->params, idx, r->now);
    bool offline = v->flags & SIM_F_OFFLINE;
    if (offline) {
        sim_log_command(sim, idx, r->oem, cmd, SIM_RES_FAILED, SIM_WHY_UNREACHABLE, r->now);
    } else {
        /* Smartcar has no wake endpoint: a command wakes the car */
        if (sim_vehicle_wake(v, &sim->params, r->now, 0))
            sim_count(&sim->stats.wakes[r->oem]);
        sim_deliver(r, v, cmd, sim->params.command_delay_ms);
    }
    sim_unlock(&sim->fleet, idx);
    if (offline) {
        sc_error(r, SIM_E_UNREACHABLE, 0, NULL);
        return;
    }
    sim_reply(r->resp, 200, "application/json",
              json_pack("{s:s, s:s}", "status", "success", "message",
                        "Successfully sent request to vehicle"));
}

/* GET /v2.0/vehicles: the vehicles this token may access (its one grant). */
static void sc_vehicles(struct sim_req *r)
{
    int64_t idx = sim_token_vehicle(r);
    json_t *ids = json_array();
    if (idx >= 0) {
        char id[40];
        sim_vehicle_id_text(&r->sim->fleet.v[idx], id);
        json_array_append_new(ids, json_string(id));
    }
    json_int_t count = (json_int_t)json_array_size(ids);
    sim_reply(
        r->resp, 200, "application/json",
        json_pack("{s:o, s:{s:I, s:i}}", "vehicles", ids, "paging", "count", count, "offset", 0));
}

static const struct sim_route sc_routes[] = {
    { "POST", "/oauth/token", SIM_EP_TOKEN, false, sim_token_endpoint },
    { "GET", "/v2.0/vehicles", SIM_EP_VEHICLES, false, sc_vehicles },
    { "GET", "/v2.0/vehicles/{id}/battery", SIM_EP_BATTERY, true, sc_battery },
    { "GET", "/v2.0/vehicles/{id}/battery/capacity", SIM_EP_CAPACITY, true, sc_capacity },
    { "GET", "/v2.0/vehicles/{id}/charge", SIM_EP_CHARGE, true, sc_charge },
    { "POST", "/v2.0/vehicles/{id}/charge", SIM_EP_START, true, sc_command },
    { "GET", "/v2.0/vehicles/{id}/charge/limit", SIM_EP_LIMIT, true, sc_limit },
    { "POST", "/v2.0/vehicles/{id}/batch", SIM_EP_BATCH, true, sc_batch },
};

const struct sim_dialect sim_smartcar_dialect = {
    .oem = SIM_SMARTCAR,
    .prefix = "/smartcar",
    .routes = sc_routes,
    .nroutes = sizeof(sc_routes) / sizeof(sc_routes[0]),
    .error = sc_error,
};
