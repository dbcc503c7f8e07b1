/*
 * The ops API's read model: what the topics say about every vehicle, kept in
 * memory and queried by the HTTP threads.
 *
 * Every replica reads every partition of every input topic from the beginning
 * (a Kafka "reader"), so each one holds the whole fleet:
 *
 *   d2ev.vehicles              the vehicle record (compacted: latest wins)
 *   d2ev.schedules             current schedule, newest version wins, + history
 *   d2ev.telemetry             the latest sample (by observed_at)
 *   d2ev.sessions              session events
 *   d2ev.dispatch              commands and their outcomes
 *   d2ev.notifications         alerts, per vehicle and fleet-wide
 *   d2ev.registration.results  outcomes of registration requests
 *   d2ev.forecasts             latest price and carbon forecast per region
 *
 * Histories are bounded lists, newest kept (limits below). Duplicates (at
 * least once delivery) are dropped by event id, stale schedules by version.
 *
 * A vehicle is visible once its vehicle record arrived. Events for an id with
 * no record are held invisibly (at start-up the topics replay in no particular
 * order across each other). A tombstone on d2ev.vehicles removes the vehicle and
 * everything about it from every view (deregistration and erasure); one on
 * d2ev.schedules removes its schedule and schedule history. Events dated
 * before the vehicle's registered_at (held ones when the record arrives, and
 * later arrivals) are dropped, so a vehicle id registered again never shows
 * data of its earlier registration. Registration results are exempt: a result
 * may be stamped just before the record it announces.
 *
 * Hot responses are pre-rendered: each vehicle keeps its JSON views
 * (vehicle, latest telemetry, current schedule, history items) as immutable
 * text, rebuilt when an event changes them, so a GET is a lookup and a copy.
 *
 * Threads: one writer (the Kafka loop) calls apply/publish; any number of
 * readers call the queries. A writer-preferring rwlock guards the state;
 * decoding and rendering happen outside it.
 *
 * Ownership: queries append to a caller-owned strbuf or fill caller-owned
 * structs; strings passed in are borrowed for the call.
 */
#ifndef D2EV_API_MODEL_H
#define D2EV_API_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/events.h"
#include "d2ev/strbuf.h"

/* History bounds, per vehicle unless noted. */
#define D2EV_API_KEEP_SCHEDULES     32
#define D2EV_API_KEEP_SESSIONS      64
#define D2EV_API_KEEP_DISPATCH      64
#define D2EV_API_KEEP_NOTIFICATIONS 32
#define D2EV_API_KEEP_RESULTS       8
#define D2EV_API_KEEP_ALERTS        256  /* fleet-wide */
#define D2EV_API_MAX_REGIONS        4096 /* forecast regions */
#define D2EV_API_MAX_CURRENCIES     8    /* in the fleet's savings */

struct d2ev_api_model;

/* What a vehicle is doing now, from its latest telemetry and schedule. */
enum d2ev_api_state {
    D2EV_API_STATE_UNKNOWN = 0, /* no telemetry, or the OEM does not say */
    D2EV_API_STATE_UNPLUGGED,
    D2EV_API_STATE_PLUGGED,  /* plugged in, idle, nothing planned later */
    D2EV_API_STATE_PAUSED,   /* plugged in, idle, a charge window still ahead */
    D2EV_API_STATE_CHARGING, /* charging or starting */
};
#define D2EV_API_STATE_COUNT 5
const char *d2ev_api_state_name(enum d2ev_api_state s);

enum d2ev_api_plug { D2EV_API_PLUG_UNKNOWN = 0, D2EV_API_PLUG_UNPLUGGED, D2EV_API_PLUG_PLUGGED };
#define D2EV_API_PLUG_COUNT 3
const char *d2ev_api_plug_name(enum d2ev_api_plug p);

/* Name -> value for the enums above and enum d2ev_vehicle_status ("active",
 * "suspended"); -1 when the name is unknown. */
int d2ev_api_state_parse(const char *s);
int d2ev_api_plug_parse(const char *s);
int d2ev_api_vstatus_parse(const char *s);
const char *d2ev_api_vstatus_name(enum d2ev_vehicle_status s);

struct d2ev_api_model *d2ev_api_model_create(struct d2ev_err *err);
void d2ev_api_model_destroy(struct d2ev_api_model *m);

/* ------------------------------------------------------------ writer */

/* Apply one record of topic: key, and value (NULL = tombstone). Returns 0
 * when it was applied or deliberately ignored (stale, duplicate, tombstone on
 * a topic without state); D2EV_ERR_INVALID with err when the record is
 * rejected (it does not decode, or the key is not its vehicle_id);
 * D2EV_ERR_UNSUPPORTED for a topic the model does not read; D2EV_ERR_LIMIT
 * when a bound is hit (forecast regions). */
int d2ev_api_model_apply(struct d2ev_api_model *m, const char *topic, const char *key,
                         const void *value, size_t len, struct d2ev_err *err);

/* End of a batch: vehicles that became visible join the sorted listing. (By
 * id they are visible at once.) */
void d2ev_api_model_publish(struct d2ev_api_model *m);

/* Visible vehicles. */
size_t d2ev_api_model_count(struct d2ev_api_model *m);

/* True when the vehicle is visible. */
bool d2ev_api_model_exists(struct d2ev_api_model *m, const char *id);

/* ------------------------------------------------------------ readers */

/* The views below return 0, or D2EV_ERR_NOT_FOUND when the vehicle (region)
 * is not visible, or D2EV_ERR_NOMEM. JSON shapes are in docs/api.md and
 * services/api/openapi.json. */

/* The current schedule view (pre-rendered). D2EV_ERR_NOT_FOUND also when the
 * vehicle has no schedule; *no_schedule then tells the two apart. */
int d2ev_api_model_schedule(struct d2ev_api_model *m, const char *id, struct d2ev_strbuf *out,
                            bool *no_schedule);

/* The vehicle with its state, telemetry, schedule summary, latest
 * notifications and registration results. */
int d2ev_api_model_vehicle(struct d2ev_api_model *m, const char *id, int64_t now,
                           struct d2ev_strbuf *out);

/* The app's status view: SoC, plug, next charge window, expected SoC. */
int d2ev_api_model_status(struct d2ev_api_model *m, const char *id, int64_t now,
                          struct d2ev_strbuf *out);

/* Latest price and carbon forecast of a region. */
int d2ev_api_model_forecast(struct d2ev_api_model *m, const char *region, struct d2ev_strbuf *out);

enum d2ev_api_hist { D2EV_API_HIST_SCHEDULES = 0, D2EV_API_HIST_SESSIONS, D2EV_API_HIST_DISPATCH };

/* A page of a history, newest first: {"items":[...],"next_cursor":...}.
 * before_seq (when has_before) continues after a cursor; since keeps items
 * at or after that time (schedules: created_at; sessions and dispatch: at). */
struct d2ev_api_page {
    size_t limit;
    bool has_before;
    uint64_t before_seq;
    bool has_since;
    int64_t since;
};
int d2ev_api_model_history(struct d2ev_api_model *m, const char *id, enum d2ev_api_hist kind,
                           const struct d2ev_api_page *page, struct d2ev_strbuf *out);

/* Fleet-wide alerts (notifications of visible vehicles), newest first. */
int d2ev_api_model_alerts(struct d2ev_api_model *m, const struct d2ev_api_page *page,
                          struct d2ev_strbuf *out);

/* One row of the vehicle listing. */
struct d2ev_api_row {
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    char oem[D2EV_OEM_MAX + 1];
    char region[D2EV_REGION_MAX + 1];
    char site_id[D2EV_SITE_ID_MAX + 1];
    enum d2ev_vehicle_status status;
    enum d2ev_api_plug plug;
    enum d2ev_api_state state;
    bool has_soc;
    double soc;
    int64_t observed_at; /* 0 without telemetry */
    bool has_schedule;
    int64_t schedule_version;
    enum d2ev_schedule_status schedule_status;
    double expected_soc;
    int64_t ready_by;
    double savings; /* baseline_cost - expected_cost, in currency */
    char currency[D2EV_CURRENCY_MAX + 1];
};

/* Listing filter; NULL / -1 members match everything. */
struct d2ev_api_filter {
    const char *oem;
    int status; /* enum d2ev_vehicle_status */
    int plug;   /* enum d2ev_api_plug */
    int state;  /* enum d2ev_api_state */
};

/* Up to max rows of visible vehicles matching f, sorted by id, with ids after
 * `after` (NULL = from the start). *more is true when more match after the
 * last row. Returns the row count. */
size_t d2ev_api_model_rows(struct d2ev_api_model *m, const struct d2ev_api_filter *f,
                           const char *after, int64_t now, struct d2ev_api_row *rows, size_t max,
                           bool *more);

/* Fleet summary. */
struct d2ev_api_fleet {
    size_t vehicles;
    size_t by_vstatus[2]; /* active, suspended */
    size_t by_state[D2EV_API_STATE_COUNT];
    size_t with_schedule;
    size_t by_schedule_status[D2EV_SCHED_STATUS_COUNT];
    size_t ncurrencies;
    struct {
        char currency[D2EV_CURRENCY_MAX + 1];
        size_t schedules;
        double baseline_cost;
        double expected_cost;
    } cost[D2EV_API_MAX_CURRENCIES];
    double baseline_carbon_g;
    double expected_carbon_g;
    size_t alerts_retained; /* of visible vehicles */
    uint64_t alerts_seen;   /* since start, duplicates excluded */
};
/* Fill *f and append the `recent` newest alerts as a JSON array to alerts. */
int d2ev_api_model_fleet(struct d2ev_api_model *m, int64_t now, struct d2ev_api_fleet *f,
                         size_t recent, struct d2ev_strbuf *alerts);

/* Everything the vehicle page draws, copied out of the model. */
struct d2ev_api_snapshot {
    struct d2ev_api_row row;
    char timezone[D2EV_TZ_MAX + 1];
    double target_soc; /* the driver's preference */
    bool has_battery_kwh;
    double battery_kwh;
    bool has_telemetry;
    struct d2ev_telemetry telemetry;
    bool has_schedule;
    struct d2ev_schedule schedule; /* heap windows: d2ev_api_snapshot_clear */
    bool has_price;
    struct d2ev_forecast price; /* heap values */
    bool has_carbon;
    struct d2ev_forecast carbon;
};
int d2ev_api_model_snapshot(struct d2ev_api_model *m, const char *id, int64_t now,
                            struct d2ev_api_snapshot *out);
void d2ev_api_snapshot_clear(struct d2ev_api_snapshot *s);

#endif
