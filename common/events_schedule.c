/* events_schedule.c: charging schedules and their windows. */
#include "events_internal.h"

#include <stdlib.h>
#include <string.h>

#define ENERGY_MAX_KWH 1000.0
#define COST_LIMIT     1e6
#define CARBON_MAX_G   1e9
#define SOLVE_MAX_MS   1e7

static const char *const status_names[D2EV_SCHED_STATUS_COUNT] = {
    "optimal",    "feasible",       "target_unreachable", "no_forecast",
    "charge_now", "target_reached", "not_plugged",
};
static const char *const method_names[] = { "milp", "lp", "greedy", "dp", "fleet", "none" };

const char *d2ev_schedule_status_name(enum d2ev_schedule_status s)
{
    return (unsigned)s < D2EV_SCHED_STATUS_COUNT ? status_names[s] : "unknown";
}

void d2ev_schedule_clear(struct d2ev_schedule *s)
{
    if (!s)
        return;
    free(s->windows);
    s->windows = NULL;
    s->nwindows = 0;
}

static void schedule_clear(void *s)
{
    d2ev_schedule_clear(s);
}

bool d2ev_schedule_charging_at(const struct d2ev_schedule *s, int64_t t)
{
    /* Windows are sorted and disjoint: find the last one starting at or before t. */
    size_t lo = 0, hi = s->windows ? s->nwindows : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->windows[mid].start <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && t < s->windows[lo - 1].end;
}

static int read_window(const json_t *item, size_t i, const struct d2ev_window *prev,
                       struct d2ev_window *w, struct d2ev_err *err)
{
    if (!json_is_object(item))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "windows[%zu]: must be an object, got %s", i,
                            d2ev_json_type_name(item));
    if (d2ev_json_req_time(item, "start", &w->start, err) ||
        d2ev_json_req_time(item, "end", &w->end, err) ||
        d2ev_json_req_num(item, "energy_kwh", 0, ENERGY_MAX_KWH, &w->energy_kwh, err))
        return d2ev_ev_prefix(err, "windows[%zu]", i);
    if (w->end <= w->start)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "windows[%zu].end: must be after start", i);
    if (prev && w->start < prev->end)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "windows[%zu].start: must not be before windows[%zu].end (windows are "
                            "sorted and do not overlap)",
                            i, i - 1);
    return D2EV_OK;
}

static int read_windows(const json_t *root, struct d2ev_schedule *s, struct d2ev_err *err)
{
    json_t *arr = NULL;
    int rc = d2ev_json_req_array(root, "windows", D2EV_SCHEDULE_MAX_WINDOWS, &arr, err);
    if (rc != D2EV_OK || json_array_size(arr) == 0)
        return rc;
    s->windows = calloc(json_array_size(arr), sizeof(*s->windows));
    if (!s->windows)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "windows: out of memory");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        rc = read_window(json_array_get(arr, i), i, i ? &s->windows[i - 1] : NULL, &s->windows[i],
                         err);
        if (rc != D2EV_OK)
            return rc; /* the decode frame frees s->windows */
        s->nwindows = i + 1;
    }
    return D2EV_OK;
}

static int schedule_read(const json_t *root, void *out, struct d2ev_err *err)
{
    struct d2ev_schedule *s = out;
    int status = 0, method = 0;
    if (d2ev_json_req_str(root, "vehicle_id", s->vehicle_id, D2EV_VEHICLE_ID_MAX, D2EV_CS_ID,
                          err) ||
        d2ev_json_req_int(root, "version", 0, INT64_MAX, &s->version, err) ||
        d2ev_json_req_time(root, "created_at", &s->created_at, err) ||
        d2ev_json_req_enum(root, "status", status_names, D2EV_SCHED_STATUS_COUNT, &status, err) ||
        d2ev_ev_opt_text(root, "reason", s->reason, D2EV_REASON_MAX, D2EV_CS_ANY, err) ||
        d2ev_ev_opt_text(root, "price_forecast_id", s->price_forecast_id, D2EV_EVENT_ID_MAX,
                         D2EV_CS_ID, err) ||
        d2ev_ev_opt_text(root, "carbon_forecast_id", s->carbon_forecast_id, D2EV_EVENT_ID_MAX,
                         D2EV_CS_ID, err) ||
        d2ev_ev_opt_text(root, "telemetry_id", s->telemetry_id, D2EV_EVENT_ID_MAX, D2EV_CS_ID,
                         err) ||
        d2ev_json_req_int(root, "prefs_version", 0, INT64_MAX, &s->prefs_version, err) ||
        d2ev_json_req_time(root, "ready_by", &s->ready_by, err) ||
        d2ev_json_req_num(root, "target_soc", 0, 100, &s->target_soc, err) ||
        d2ev_json_req_num(root, "soc_at_plan", 0, 100, &s->soc_at_plan, err) ||
        d2ev_json_req_num(root, "expected_soc", 0, 100, &s->expected_soc, err) ||
        read_windows(root, s, err) ||
        d2ev_json_req_num(root, "expected_cost", -COST_LIMIT, COST_LIMIT, &s->expected_cost, err) ||
        d2ev_json_req_num(root, "expected_carbon_g", 0, CARBON_MAX_G, &s->expected_carbon_g, err) ||
        d2ev_json_req_num(root, "baseline_cost", -COST_LIMIT, COST_LIMIT, &s->baseline_cost, err) ||
        d2ev_json_req_num(root, "baseline_carbon_g", 0, CARBON_MAX_G, &s->baseline_carbon_g, err) ||
        d2ev_ev_opt_currency(root, "currency", s->currency, err) ||
        d2ev_json_req_enum(root, "method", method_names, D2EV_EV_COUNT(method_names), &method,
                           err) ||
        d2ev_json_req_num(root, "solve_ms", 0, SOLVE_MAX_MS, &s->solve_ms, err))
        return err->code;
    s->status = (enum d2ev_schedule_status)status;
    strcpy(s->method, method_names[method]);
    if ((s->expected_cost != 0 || s->baseline_cost != 0) && !s->currency[0])
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "currency: required when expected_cost or baseline_cost is not 0");
    return D2EV_OK;
}

static json_t *windows_json(const struct d2ev_schedule *s)
{
    json_t *a = json_array();
    for (size_t i = 0; a && s->windows && i < s->nwindows; i++) {
        const struct d2ev_window *w = &s->windows[i];
        json_t *item = json_object();
        int failed =
            d2ev_ev_set_time(item, "start", w->start) || d2ev_ev_set_time(item, "end", w->end) ||
            d2ev_ev_set_num(item, "energy_kwh", w->energy_kwh) || json_array_append(a, item);
        json_decref(item);
        if (failed) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *d2ev_schedule_encode(const struct d2ev_schedule *s)
{
    json_t *o = d2ev_envelope_new("schedule");
    int failed =
        d2ev_ev_set_str(o, "vehicle_id", s->vehicle_id) ||
        d2ev_ev_set_int(o, "version", s->version) ||
        d2ev_ev_set_time(o, "created_at", s->created_at) ||
        d2ev_ev_set_enum(o, "status", status_names, D2EV_SCHED_STATUS_COUNT, (int)s->status) ||
        d2ev_ev_set_text(o, "reason", s->reason) ||
        d2ev_ev_set_text(o, "price_forecast_id", s->price_forecast_id) ||
        d2ev_ev_set_text(o, "carbon_forecast_id", s->carbon_forecast_id) ||
        d2ev_ev_set_text(o, "telemetry_id", s->telemetry_id) ||
        d2ev_ev_set_int(o, "prefs_version", s->prefs_version) ||
        d2ev_ev_set_time(o, "ready_by", s->ready_by) ||
        d2ev_ev_set_num(o, "target_soc", s->target_soc) ||
        d2ev_ev_set_num(o, "soc_at_plan", s->soc_at_plan) ||
        d2ev_ev_set_num(o, "expected_soc", s->expected_soc) ||
        d2ev_ev_set_new(o, "windows", windows_json(s)) ||
        d2ev_ev_set_num(o, "expected_cost", s->expected_cost) ||
        d2ev_ev_set_num(o, "expected_carbon_g", s->expected_carbon_g) ||
        d2ev_ev_set_num(o, "baseline_cost", s->baseline_cost) ||
        d2ev_ev_set_num(o, "baseline_carbon_g", s->baseline_carbon_g) ||
        d2ev_ev_set_text(o, "currency", s->currency) || d2ev_ev_set_str(o, "method", s->method) ||
        d2ev_ev_set_num(o, "solve_ms", s->solve_ms);
    return d2ev_ev_finish(o, failed);
}

int d2ev_schedule_decode(const void *buf, size_t len, struct d2ev_schedule *out,
                         struct d2ev_err *err)
{
    return d2ev_ev_decode(buf, len, "schedule", out, sizeof(*out), schedule_read, schedule_clear,
                          err);
}
