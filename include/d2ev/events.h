/*
 * The d2ev message types as C structs, with jansson encode/decode.
 * docs/events.md documents each one with a kcat-ready example.
 *
 * Every message travels in the envelope of d2ev/envelope.h:
 *   {"type": "<type>", "v": 1, "id": "<uuid>", "ts": "<RFC 3339>", ...payload}
 *
 * Encoding: d2ev_<type>_encode(const struct *in) returns a NEW json_t
 * reference holding the envelope (fresh id, ts = now) plus the payload, or
 * NULL on allocation failure or when *in holds what JSON cannot carry (a
 * string that is not UTF-8, a number that is not finite, an enum out of
 * range). The caller json_decref()s it. Encoders do not check the rules the
 * decoders enforce: encode what you would accept.
 *
 * Decoding: d2ev_<type>_decode(buf, len, out, err) parses bytes, validates
 * the envelope (type must match) and EVERY payload field: type, presence,
 * range, length, character set, UTF-8, array sizes and cross-field rules.
 * On failure it returns a negative code and err->msg names the field path
 * and the reason, e.g. "schedule.windows[2].end: must be after start".
 * On success *out is filled; out->env holds the envelope.
 * Decoders never keep references to buf. Structs with heap members (noted
 * below) must be released with their d2ev_<type>_clear(), which is also safe
 * on a zeroed or partially decoded struct. All other structs are plain values.
 *
 * Unknown payload fields are ignored (tolerant reader), so producers can add
 * optional fields without breaking older consumers. Times are ms since the
 * epoch (int64_t) in structs and RFC 3339 UTC strings on the wire.
 * Optional numbers use a has_<field> flag and are null or absent on the wire.
 */
#ifndef D2EV_EVENTS_H
#define D2EV_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/envelope.h"
#include "d2ev/error.h"

/* ------------------------------------------------------------ limits */

#define D2EV_VEHICLE_ID_MAX       64  /* [A-Za-z0-9._:@-] */
#define D2EV_USER_ID_MAX          128 /* [A-Za-z0-9._:@-] */
#define D2EV_OEM_MAX              32  /* [a-z0-9_-] */
#define D2EV_OEM_VEHICLE_ID_MAX   128
#define D2EV_TZ_MAX               64 /* IANA name, e.g. Europe/London */
#define D2EV_REGION_MAX           32 /* forecast region, [A-Za-z0-9._:@-] */
#define D2EV_SITE_ID_MAX          64
#define D2EV_REASON_MAX           255 /* free text, UTF-8 */
#define D2EV_CODE_MAX             48  /* machine-readable code, [a-z0-9_-] */
#define D2EV_CURRENCY_MAX         3   /* ISO 4217, e.g. GBP */
#define D2EV_UNIT_MAX             15
#define D2EV_MAX_OVERRIDES        31
#define D2EV_FORECAST_MAX_SLOTS   3000 /* a month of 15-minute slots */
#define D2EV_SCHEDULE_MAX_WINDOWS 200
#define D2EV_SEALED_MAX           16384 /* sealed credential text */

/* Weekday index used everywhere: 0 = Monday ... 6 = Sunday. */
#define D2EV_DAYS 7

/* ------------------------------------------------------------ preferences */

enum d2ev_opt_mode { D2EV_MODE_COST = 0, D2EV_MODE_CARBON, D2EV_MODE_MIX };

struct d2ev_ready_override {
    int32_t date;    /* local calendar date, days since 1970-01-01 */
    int16_t minutes; /* minutes after local midnight, 0..1439 */
};

/* Driver preferences. Wire form:
 *   {"ready_by": {"mon": "07:30", ..., "sun": null},
 *    "ready_by_overrides": [{"date": "2026-11-24", "time": "06:00"}],
 *    "target_soc": 80, "min_soc": 20, "mode": "cost"|"carbon"|"mix",
 *    "carbon_weight": 0.5, "price_cap": 0.30, "max_windows": 3,
 *    "min_window_minutes": 30, "boost_until": "<RFC 3339>"}
 * Rules: 0 <= min_soc <= target_soc <= 100, target_soc >= 1;
 * carbon_weight in [0, 1] (0 = cost only, 1 = carbon only; used by mix);
 * max_windows 0..48 (0 = no limit); min_window_minutes 0..720. */
struct d2ev_prefs {
    int16_t ready_by[D2EV_DAYS]; /* minutes after local midnight; -1 = no deadline that day */
    size_t noverrides;
    struct d2ev_ready_override overrides[D2EV_MAX_OVERRIDES];
    double target_soc;
    double min_soc;
    enum d2ev_opt_mode mode;
    double carbon_weight;
    bool has_price_cap;
    double price_cap; /* forecast currency per kWh */
    int32_t max_windows;
    int32_t min_window_minutes;
    bool has_boost;
    int64_t boost_until; /* charge now, whatever the price, until this time */
};

/* Defaults: ready by 07:00 every day, target 80 %, min 0 %, cost mode,
 * carbon_weight 0.5, no cap, no window limits, no boost. */
void d2ev_prefs_default(struct d2ev_prefs *p);

/* Read / write the wire form. Decoding requires the complete object except
 * that missing members take the defaults above. */
int d2ev_prefs_from_json(const json_t *obj, struct d2ev_prefs *p, struct d2ev_err *err);
json_t *d2ev_prefs_to_json(const struct d2ev_prefs *p);

/* Apply a partial update (same member names; null clears optional members such
 * as price_cap and boost_until) on top of *p, validating each member and the
 * cross-field rules on the result. On error *p is unchanged. */
int d2ev_prefs_apply_patch(struct d2ev_prefs *p, const json_t *patch, struct d2ev_err *err);

/* Check cross-field rules (min <= target, ...). */
int d2ev_prefs_validate(const struct d2ev_prefs *p, struct d2ev_err *err);

/* ------------------------------------------------------------ vehicle */

enum d2ev_vehicle_status {
    D2EV_VEHICLE_ACTIVE = 0,
    D2EV_VEHICLE_SUSPENDED, /* consent revoked or token permanently invalid */
};

/* type "vehicle" on d2ev.vehicles (compacted, key vehicle_id). */
struct d2ev_vehicle {
    struct d2ev_envelope env;
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    char user_id[D2EV_USER_ID_MAX + 1];
    char oem[D2EV_OEM_MAX + 1];
    char oem_vehicle_id[D2EV_OEM_VEHICLE_ID_MAX + 1];
    bool has_battery_kwh;
    double battery_kwh; /* usable capacity, 1..300 */
    bool has_max_power_kw;
    double max_power_kw; /* AC/DC limit the car accepts, 0.5..400 */
    char timezone[D2EV_TZ_MAX + 1];
    char region[D2EV_REGION_MAX + 1];
    char site_id[D2EV_SITE_ID_MAX + 1]; /* fleet group; "" when none */
    struct d2ev_prefs prefs;
    int64_t prefs_version; /* increases with every preference change */
    enum d2ev_vehicle_status status;
    char status_reason[D2EV_REASON_MAX + 1];
    int64_t registered_at;
    int64_t updated_at;
};

json_t *d2ev_vehicle_encode(const struct d2ev_vehicle *v);
int d2ev_vehicle_decode(const void *buf, size_t len, struct d2ev_vehicle *out,
                        struct d2ev_err *err);

/* ------------------------------------------------------------ credentials */

/* type "credentials" on d2ev.credentials (compacted, key vehicle_id).
 * `sealed` is d2ev_crypto_seal() output over the token JSON
 * {"access_token","refresh_token","expires_at","token_type","scope"} with the
 * vehicle_id as associated data. It is the only place tokens live in Kafka. */
struct d2ev_credentials {
    struct d2ev_envelope env;
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    char oem[D2EV_OEM_MAX + 1];
    char key_id[33]; /* kid that sealed it (also inside `sealed`) */
    char *sealed;    /* heap, owned: free with d2ev_credentials_clear */
    int64_t access_expires_at;
    int64_t version; /* increases with every refresh */
    int64_t updated_at;
};

json_t *d2ev_credentials_encode(const struct d2ev_credentials *c);
int d2ev_credentials_decode(const void *buf, size_t len, struct d2ev_credentials *out,
                            struct d2ev_err *err);
void d2ev_credentials_clear(struct d2ev_credentials *c);

/* ------------------------------------------------------------ registration */

enum d2ev_reg_action {
    D2EV_REG_REGISTER = 0,
    D2EV_REG_UPDATE_PREFERENCES,
    D2EV_REG_DEREGISTER,
    D2EV_REG_REFRESH_CREDENTIALS, /* a reader of credentials got 401: refresh now */
};

/* type "registration.request" on d2ev.registration.requests (key vehicle_id).
 * register: user_id, oem, oem_vehicle_id, timezone, region and sealed_auth are
 *   required; prefs_patch optional (applied over the defaults).
 * update_preferences: prefs_patch required (a partial preferences object).
 * deregister: only vehicle_id.
 * refresh_credentials: only vehicle_id (telemetry and dispatch ask the single
 *   writer of credentials for a refresh after an OEM answered 401). */
struct d2ev_reg_request {
    struct d2ev_envelope env;
    char request_id[65];
    enum d2ev_reg_action action;
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    char user_id[D2EV_USER_ID_MAX + 1];
    char oem[D2EV_OEM_MAX + 1];
    char oem_vehicle_id[D2EV_OEM_VEHICLE_ID_MAX + 1];
    char timezone[D2EV_TZ_MAX + 1];
    char region[D2EV_REGION_MAX + 1];
    char site_id[D2EV_SITE_ID_MAX + 1];
    bool has_battery_kwh;
    double battery_kwh;
    bool has_max_power_kw;
    double max_power_kw;
    /* Sealed OEM authorisation from the app: {"code","redirect_uri"} or
     * {"refresh_token"[,"access_token","expires_at"]}. Heap, owned. */
    char *sealed_auth;
    json_t *prefs_patch; /* owned reference or NULL */
    char idempotency_key[65];
    char source[17]; /* "bridge", "ops" */
};

json_t *d2ev_reg_request_encode(const struct d2ev_reg_request *r);
int d2ev_reg_request_decode(const void *buf, size_t len, struct d2ev_reg_request *out,
                            struct d2ev_err *err);
void d2ev_reg_request_clear(struct d2ev_reg_request *r);

/* type "registration.result" on d2ev.registration.results (key vehicle_id). */
struct d2ev_reg_result {
    struct d2ev_envelope env;
    char request_id[65];
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    enum d2ev_reg_action action;
    bool accepted;
    char code[D2EV_CODE_MAX + 1];     /* "ok", "unknown_oem", "consent_revoked", ... */
    char reason[D2EV_REASON_MAX + 1]; /* human sentence; "" when accepted */
};

json_t *d2ev_reg_result_encode(const struct d2ev_reg_result *r);
int d2ev_reg_result_decode(const void *buf, size_t len, struct d2ev_reg_result *out,
                           struct d2ev_err *err);

/* ------------------------------------------------------------ telemetry */

enum d2ev_charging_state {
    D2EV_CHG_UNKNOWN = 0,
    D2EV_CHG_CHARGING,
    D2EV_CHG_STOPPED,      /* plugged in, not charging */
    D2EV_CHG_COMPLETE,     /* plugged in, reached its limit */
    D2EV_CHG_DISCONNECTED, /* not plugged in */
    D2EV_CHG_STARTING,
    D2EV_CHG_NO_POWER, /* plugged in, charger gives no power */
};
#define D2EV_CHG_COUNT 7

/* "unknown", "charging", "stopped", "complete", "disconnected", "starting",
 * "no_power". */
const char *d2ev_charging_state_name(enum d2ev_charging_state s);

/* type "telemetry" on d2ev.telemetry (key vehicle_id). */
struct d2ev_telemetry {
    struct d2ev_envelope env;
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    char oem[D2EV_OEM_MAX + 1];
    int64_t observed_at; /* when d2ev read it */
    int64_t reported_at; /* when the OEM says the car reported it */
    double soc;          /* 0..100 */
    bool plugged_in;
    enum d2ev_charging_state charging_state;
    bool has_power_kw;
    double power_kw;
    bool has_charge_limit;
    double charge_limit; /* % */
    bool has_range_km;
    double range_km;
    bool has_battery_kwh;
    double battery_kwh;
    bool has_energy_added_kwh;
    double energy_added_kwh; /* OEM's counter for the current session */
};

json_t *d2ev_telemetry_encode(const struct d2ev_telemetry *t);
int d2ev_telemetry_decode(const void *buf, size_t len, struct d2ev_telemetry *out,
                          struct d2ev_err *err);

/* ------------------------------------------------------------ sessions */

enum d2ev_session_event {
    D2EV_SESSION_PLUG_IN = 0,
    D2EV_SESSION_UPDATE,
    D2EV_SESSION_FULL,
    D2EV_SESSION_UNPLUG,
    D2EV_SESSION_ANOMALY,
};

enum d2ev_anomaly { D2EV_ANOMALY_NONE = 0, D2EV_ANOMALY_ZOMBIE, D2EV_ANOMALY_ETERNAL };

/* type "session" on d2ev.sessions (key vehicle_id). */
struct d2ev_session {
    struct d2ev_envelope env;
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    char session_id[65];
    enum d2ev_session_event event;
    enum d2ev_anomaly anomaly; /* set for event == anomaly */
    int64_t started_at;        /* plug-in time */
    int64_t ended_at;          /* unplug time; 0 while open */
    int64_t at;                /* time of this event */
    double soc_start;
    double soc_now;
    double energy_kwh; /* energy added so far */
    double charging_s; /* seconds spent charging */
    double idle_s;     /* seconds plugged in but not charging */
    double cost;       /* running cost in `currency` */
    double carbon_g;   /* running emissions, grams CO2 */
    char currency[D2EV_CURRENCY_MAX + 1];
    char detail[D2EV_REASON_MAX + 1];
};

json_t *d2ev_session_encode(const struct d2ev_session *s);
int d2ev_session_decode(const void *buf, size_t len, struct d2ev_session *out,
                        struct d2ev_err *err);

/* ------------------------------------------------------------ forecasts */

enum d2ev_forecast_kind { D2EV_FORECAST_PRICE = 0, D2EV_FORECAST_CARBON };

/* type "forecast" on d2ev.forecasts (key "<region>:<kind>").
 * Price units: "GBP/kWh", "EUR/kWh", "USD/kWh" (the currency is the part
 * before '/'); carbon unit: "gCO2/kWh". slot_minutes is 15, 30 or 60; start is
 * aligned to it; values has n entries, one per slot from start; negative
 * prices are legal, carbon must be >= 0. */
struct d2ev_forecast {
    struct d2ev_envelope env;
    char region[D2EV_REGION_MAX + 1];
    enum d2ev_forecast_kind kind;
    char unit[D2EV_UNIT_MAX + 1];
    int64_t issued_at;
    int64_t start;
    int32_t slot_minutes;
    size_t n;
    double *values;  /* heap, owned: free with d2ev_forecast_clear */
    char source[65]; /* "generator", "csv:<file>", ... */
};

json_t *d2ev_forecast_encode(const struct d2ev_forecast *f);
int d2ev_forecast_decode(const void *buf, size_t len, struct d2ev_forecast *out,
                         struct d2ev_err *err);
void d2ev_forecast_clear(struct d2ev_forecast *f);
/* End of the last slot. */
int64_t d2ev_forecast_end(const struct d2ev_forecast *f);

/* ------------------------------------------------------------ capacity */

/* type "capacity" on d2ev.capacity (compacted, key site_id): the power a site
 * or feeder can give its vehicles, per slot. */
struct d2ev_capacity {
    struct d2ev_envelope env;
    char site_id[D2EV_SITE_ID_MAX + 1];
    int64_t start;
    int32_t slot_minutes;
    size_t n;
    double *limits_kw; /* heap, owned: free with d2ev_capacity_clear */
};

json_t *d2ev_capacity_encode(const struct d2ev_capacity *c);
int d2ev_capacity_decode(const void *buf, size_t len, struct d2ev_capacity *out,
                         struct d2ev_err *err);
void d2ev_capacity_clear(struct d2ev_capacity *c);

/* ------------------------------------------------------------ schedules */

enum d2ev_schedule_status {
    D2EV_SCHED_OPTIMAL = 0,        /* proven optimal */
    D2EV_SCHED_FEASIBLE,           /* time limit hit: best found, or LP fallback */
    D2EV_SCHED_TARGET_UNREACHABLE, /* charges at once; expected_soc says how far */
    D2EV_SCHED_NO_FORECAST,        /* charges at once (never strand a driver) */
    D2EV_SCHED_CHARGE_NOW,         /* boost or min SoC: charges at once by choice */
    D2EV_SCHED_TARGET_REACHED,     /* nothing to do */
    D2EV_SCHED_NOT_PLUGGED,        /* nothing to do until plug-in */
};
#define D2EV_SCHED_STATUS_COUNT 7

/* "optimal", "feasible", "target_unreachable", "no_forecast", "charge_now",
 * "target_reached", "not_plugged". */
const char *d2ev_schedule_status_name(enum d2ev_schedule_status s);

/* One charge window [start, end). Outside windows the car is paused. */
struct d2ev_window {
    int64_t start;
    int64_t end;
    double energy_kwh; /* into the battery */
};

/* type "schedule" on d2ev.schedules (compacted, key vehicle_id). */
struct d2ev_schedule {
    struct d2ev_envelope env;
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    int64_t version; /* strictly increasing per vehicle; newer always wins */
    int64_t created_at;
    enum d2ev_schedule_status status;
    char reason[D2EV_REASON_MAX + 1];
    /* inputs */
    char price_forecast_id[D2EV_EVENT_ID_MAX + 1];  /* "" when none */
    char carbon_forecast_id[D2EV_EVENT_ID_MAX + 1]; /* "" when none */
    char telemetry_id[D2EV_EVENT_ID_MAX + 1];
    int64_t prefs_version;
    /* plan */
    int64_t ready_by;
    double target_soc;
    double soc_at_plan;
    double expected_soc; /* at ready_by */
    size_t nwindows;
    struct d2ev_window *windows; /* heap, owned, sorted, non-overlapping */
    double expected_cost;
    double expected_carbon_g;
    double baseline_cost; /* charge at once from plug-in */
    double baseline_carbon_g;
    char currency[D2EV_CURRENCY_MAX + 1];
    char method[17]; /* "milp", "lp", "greedy", "dp", "fleet", "none" */
    double solve_ms;
};

json_t *d2ev_schedule_encode(const struct d2ev_schedule *s);
int d2ev_schedule_decode(const void *buf, size_t len, struct d2ev_schedule *out,
                         struct d2ev_err *err);
void d2ev_schedule_clear(struct d2ev_schedule *s);
/* True when the schedule says the car should be charging at time t. */
bool d2ev_schedule_charging_at(const struct d2ev_schedule *s, int64_t t);

/* ------------------------------------------------------------ dispatch */

enum d2ev_command { D2EV_CMD_START = 0, D2EV_CMD_STOP, D2EV_CMD_WAKE };

enum d2ev_dispatch_result {
    D2EV_DISPATCH_SENT = 0,  /* the OEM accepted the command */
    D2EV_DISPATCH_CONFIRMED, /* telemetry shows the car obeyed */
    D2EV_DISPATCH_RETRY,     /* not confirmed or failed transiently; will retry */
    D2EV_DISPATCH_FAILED,    /* gave up (permanent error) */
    D2EV_DISPATCH_ALERT,     /* car did not obey after retries */
    D2EV_DISPATCH_SKIPPED,   /* not needed: already in the wanted state */
};

/* type "dispatch" on d2ev.dispatch (key vehicle_id). */
struct d2ev_dispatch {
    struct d2ev_envelope env;
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    char command_id[65];
    enum d2ev_command command;
    int64_t schedule_version;
    int32_t window; /* index in the schedule; -1 for fail-safe commands */
    int32_t attempt;
    enum d2ev_dispatch_result result;
    int64_t latency_ms;
    char error_class[17]; /* "", "permanent", "retry", "asleep", "rate_limited", "unauthorized" */
    char detail[D2EV_REASON_MAX + 1];
    int64_t at;
};

const char *d2ev_command_name(enum d2ev_command c);
const char *d2ev_dispatch_result_name(enum d2ev_dispatch_result r);
json_t *d2ev_dispatch_encode(const struct d2ev_dispatch *d);
int d2ev_dispatch_decode(const void *buf, size_t len, struct d2ev_dispatch *out,
                         struct d2ev_err *err);

/* ------------------------------------------------------------ notifications */

/* type "notification" on d2ev.notifications (key vehicle_id). kind is a code:
 * "charge_start_estimate", "target_unreachable", "no_forecast",
 * "charge_not_paused", "charge_not_started", "consent_revoked", ... */
struct d2ev_notification {
    struct d2ev_envelope env;
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    char user_id[D2EV_USER_ID_MAX + 1]; /* "" when unknown */
    char kind[D2EV_CODE_MAX + 1];
    char message[D2EV_REASON_MAX + 1];
    bool has_time;
    int64_t time; /* e.g. the estimated charge start */
    bool has_soc;
    double soc; /* e.g. the SoC that will be reached */
};

json_t *d2ev_notification_encode(const struct d2ev_notification *n);
int d2ev_notification_decode(const void *buf, size_t len, struct d2ev_notification *out,
                             struct d2ev_err *err);

/* ------------------------------------------------------------ control */

/* type "control" on d2ev.control (key vehicle_id): an operator's request. */
enum d2ev_control_action { D2EV_CONTROL_REPLAN = 0 };

struct d2ev_control {
    struct d2ev_envelope env;
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    enum d2ev_control_action action;
    char requested_by[D2EV_USER_ID_MAX + 1];
    char reason[D2EV_REASON_MAX + 1];
};

json_t *d2ev_control_encode(const struct d2ev_control *c);
int d2ev_control_decode(const void *buf, size_t len, struct d2ev_control *out,
                        struct d2ev_err *err);

#endif
