/* events_telemetry.c: normalised state-of-charge samples. */
#include "events_internal.h"

#include <string.h>

#define POWER_MAX_KW    400.0
#define RANGE_MAX_KM    2000.0
#define ENERGY_MAX_KWH  1000.0
#define BATTERY_MIN_KWH 1.0
#define BATTERY_MAX_KWH 300.0
/* How far the OEM's clock may run ahead of ours before a sample is suspect. */
#define REPORT_SKEW_MS (5 * 60 * 1000)

static const char *const charging_state_names[D2EV_CHG_COUNT] = {
    "unknown", "charging", "stopped", "complete", "disconnected", "starting", "no_power",
};

const char *d2ev_charging_state_name(enum d2ev_charging_state s)
{
    return (unsigned)s < D2EV_CHG_COUNT ? charging_state_names[s] : "unknown";
}

/* Whether a charging state says the cable is in (1), out (0), or nothing (-1). */
static int state_plugged(enum d2ev_charging_state s)
{
    switch (s) {
    case D2EV_CHG_DISCONNECTED:
        return 0;
    case D2EV_CHG_UNKNOWN:
        return -1;
    default:
        return 1;
    }
}

static int telemetry_read(const json_t *root, void *out, struct d2ev_err *err)
{
    struct d2ev_telemetry *t = out;
    int state = 0;
    if (d2ev_json_req_str(root, "vehicle_id", t->vehicle_id, D2EV_VEHICLE_ID_MAX, D2EV_CS_ID,
                          err) ||
        d2ev_json_req_str(root, "oem", t->oem, D2EV_OEM_MAX, D2EV_CS_LOWER, err) ||
        d2ev_json_req_time(root, "observed_at", &t->observed_at, err) ||
        d2ev_json_req_time(root, "reported_at", &t->reported_at, err) ||
        d2ev_json_req_num(root, "soc", 0, 100, &t->soc, err) ||
        d2ev_json_req_bool(root, "plugged_in", &t->plugged_in, err) ||
        d2ev_json_req_enum(root, "charging_state", charging_state_names, D2EV_CHG_COUNT, &state,
                           err) ||
        d2ev_json_opt_num(root, "power_kw", -POWER_MAX_KW, POWER_MAX_KW, &t->power_kw,
                          &t->has_power_kw, err) ||
        d2ev_json_opt_num(root, "charge_limit", 0, 100, &t->charge_limit, &t->has_charge_limit,
                          err) ||
        d2ev_json_opt_num(root, "range_km", 0, RANGE_MAX_KM, &t->range_km, &t->has_range_km, err) ||
        d2ev_json_opt_num(root, "battery_kwh", BATTERY_MIN_KWH, BATTERY_MAX_KWH, &t->battery_kwh,
                          &t->has_battery_kwh, err) ||
        d2ev_json_opt_num(root, "energy_added_kwh", 0, ENERGY_MAX_KWH, &t->energy_added_kwh,
                          &t->has_energy_added_kwh, err))
        return err->code;
    t->charging_state = (enum d2ev_charging_state)state;
    int plugged = state_plugged(t->charging_state);
    if (plugged >= 0 && plugged != t->plugged_in)
        return d2ev_err_set(
            err, D2EV_ERR_INVALID, "plugged_in: is %s, but charging_state \"%s\" says the opposite",
            t->plugged_in ? "true" : "false", charging_state_names[t->charging_state]);
    if (t->reported_at > t->observed_at + REPORT_SKEW_MS)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "reported_at: is more than 5 minutes after observed_at");
    return D2EV_OK;
}

json_t *d2ev_telemetry_encode(const struct d2ev_telemetry *t)
{
    json_t *o = d2ev_envelope_new("telemetry");
    int failed =
        d2ev_ev_set_str(o, "vehicle_id", t->vehicle_id) || d2ev_ev_set_str(o, "oem", t->oem) ||
        d2ev_ev_set_time(o, "observed_at", t->observed_at) ||
        d2ev_ev_set_time(o, "reported_at", t->reported_at) || d2ev_ev_set_num(o, "soc", t->soc) ||
        d2ev_ev_set_bool(o, "plugged_in", t->plugged_in) ||
        d2ev_ev_set_enum(o, "charging_state", charging_state_names, D2EV_CHG_COUNT,
                         (int)t->charging_state) ||
        d2ev_ev_set_opt_num(o, "power_kw", t->has_power_kw, t->power_kw) ||
        d2ev_ev_set_opt_num(o, "charge_limit", t->has_charge_limit, t->charge_limit) ||
        d2ev_ev_set_opt_num(o, "range_km", t->has_range_km, t->range_km) ||
        d2ev_ev_set_opt_num(o, "battery_kwh", t->has_battery_kwh, t->battery_kwh) ||
        d2ev_ev_set_opt_num(o, "energy_added_kwh", t->has_energy_added_kwh, t->energy_added_kwh);
    return d2ev_ev_finish(o, failed);
}

int d2ev_telemetry_decode(const void *buf, size_t len, struct d2ev_telemetry *out,
                          struct d2ev_err *err)
{
    return d2ev_ev_decode(buf, len, "telemetry", out, sizeof(*out), telemetry_read, NULL, err);
}
