/* core.c: vehicle state, re-plan triggers and planning, without Kafka (see core.h). */
#include "core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/htab.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/tz.h"

#define DAY_MS 86400000LL

static const char *const reason_names[SCHED_R_COUNT] = {
    "plugin",   "forecast", "prefs",    "drift",  "missed", "control",
    "deadline", "unplug",   "capacity", "target", "short",  "car_limit",
};

const char *sched_reason_name(int bit_index)
{
    return bit_index >= 0 && bit_index < SCHED_R_COUNT ? reason_names[bit_index] : "?";
}

void sched_config_default(struct sched_config *c)
{
    memset(c, 0, sizeof(*c));
    plan_options_default(&c->plan);
    c->limits.max_abs_price = 10;
    c->limits.max_carbon = 2000;
    c->drift_pct = 5;
    c->short_pct = 1;
    c->missed_grace_ms = 15 * 60000;
    c->min_replan_interval_ms = 10 * 60000;
    c->fleet = true;
    fleet_options_default(&c->fleet_opt);
}

struct veh {
    struct d2ev_htab_node node; /* in sched_core.vehicles, keyed by id */
    char id[D2EV_VEHICLE_ID_MAX + 1];
    int32_t partition;
    bool known, deleted, schedule_exists;
    /* from the vehicle record */
    char user_id[D2EV_USER_ID_MAX + 1];
    char timezone[D2EV_TZ_MAX + 1];
    char region[D2EV_REGION_MAX + 1];
    char site_id[D2EV_SITE_ID_MAX + 1];
    double battery_kwh, max_power_kw; /* 0 = unknown */
    struct d2ev_prefs prefs;
    int64_t prefs_version;
    enum d2ev_vehicle_status vstatus;
    const struct d2ev_tz *tz;
    /* latest telemetry / session */
    bool has_soc, plugged;
    double soc, tel_battery_kwh;
    double car_limit; /* %, the charge limit set in the car; 0 = unknown */
    bool overdue;     /* a ready-by passed with the car short; until it reaches the target */
    enum d2ev_charging_state chg;
    int64_t observed_at;
    char telemetry_id[D2EV_EVENT_ID_MAX + 1];
    char session_id[65];
    /* current plan */
    int64_t version;
    bool has_plan;
    enum d2ev_schedule_status status;
    int64_t plan_at, ready_by;
    double soc_at_plan, target_soc;
    size_t nwindows;
    struct d2ev_window *windows;
    char price_id[D2EV_EVENT_ID_MAX + 1], carbon_id[D2EV_EVENT_ID_MAX + 1];
    int64_t planned_prefs_version;
    /* bookkeeping */
    int64_t last_replan;
    int64_t missed_window_start;
    int notified_status; /* -1: none */
    /* learned: battery kWh per SoC point is this many times what the record
     * (or the default) says; >= 1, from plans that came up short */
    double energy_scale;
    int64_t short_for_version; /* the plan a short re-plan was made for */
    unsigned dirty;
    bool notify_plugin, queued;
};

struct site_cap {
    char site_id[D2EV_SITE_ID_MAX + 1];
    int64_t start, slot_ms;
    size_t n;
    double *limits_kw;
};

struct sched_core {
    struct sched_config cfg;
    struct sched_output_ops ops;
    void *opaque;
    bool live;
    double share;
    struct d2ev_htab vehicles; /* id -> struct veh */
    /* vehicles to plan */
    struct veh **queue;
    size_t nqueue, capqueue;
    struct forecast_store *forecasts;
    struct site_cap *sites;
    size_t nsites;
    struct d2ev_metric *m_reasons[SCHED_R_COUNT];
    struct d2ev_metric *m_published, *m_solve, *m_vehicles, *m_fleet_gap, *m_status[7];
};

/* ------------------------------------------------------------ the map */

#define VEH(n) D2EV_HTAB_ENTRY(n, struct veh, node)
/* for each vehicle v of core c; v may be forgotten inside the body. The
 * outer loop runs once and only holds the iterator; break leaves both. */
#define FOR_EACH_VEH(c, v)                                                                         \
    for (struct d2ev_htab_iter it_ = { 0 }, *once_ = &it_; once_; once_ = NULL)                    \
        for (struct d2ev_htab_node *n_ = d2ev_htab_first(&(c)->vehicles, &it_);                    \
             n_ && ((v) = VEH(n_), 1); n_ = d2ev_htab_next(&(c)->vehicles, &it_))

static struct veh *find(const struct sched_core *c, const char *id)
{
    struct d2ev_htab_node *n = d2ev_htab_find(&c->vehicles, id, strlen(id));
    return n ? VEH(n) : NULL;
}

static struct veh *get_or_create(struct sched_core *c, const char *id, int32_t partition)
{
    struct veh *v = find(c, id);
    if (v) {
        if (partition >= 0)
            v->partition = partition;
        return v;
    }
    v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    snprintf(v->id, sizeof(v->id), "%s", id);
    v->partition = partition;
    v->notified_status = -1;
    v->energy_scale = 1;
    v->node.key = v->id;
    v->node.klen = strlen(v->id);
    if (d2ev_htab_insert(&c->vehicles, &v->node) != 0) {
        free(v);
        return NULL;
    }
    d2ev_metric_set(c->m_vehicles, (double)c->vehicles.count);
    return v;
}

/* Remove from the map and the queue, then free. */
static void forget(struct sched_core *c, struct veh *v)
{
    d2ev_htab_remove(&c->vehicles, &v->node);
    if (v->queued) {
        size_t k = 0;
        for (size_t q = 0; q < c->nqueue; q++)
            if (c->queue[q] != v)
                c->queue[k++] = c->queue[q];
        c->nqueue = k;
    }
    free(v->windows);
    free(v);
    d2ev_metric_set(c->m_vehicles, (double)c->vehicles.count);
}

static void mark(struct sched_core *c, struct veh *v, unsigned reasons)
{
    v->dirty |= reasons;
    if (v->queued)
        return;
    if (c->nqueue == c->capqueue) {
        size_t ncap = c->capqueue ? c->capqueue * 2 : 1024;
        struct veh **nq = realloc(c->queue, ncap * sizeof(*nq));
        if (!nq) {
            d2ev_log_error("out of memory queueing a re-plan", D2EV_LF_STR("vehicle_id", v->id));
            return;
        }
        c->queue = nq;
        c->capqueue = ncap;
    }
    c->queue[c->nqueue++] = v;
    v->queued = true;
}

/* ------------------------------------------------------------ lifecycle */

struct sched_core *sched_core_create(const struct sched_config *cfg,
                                     const struct sched_output_ops *ops, void *opaque)
{
    struct sched_core *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->cfg = *cfg;
    c->ops = *ops;
    c->opaque = opaque;
    c->share = 1;
    c->forecasts = forecast_store_create(&cfg->limits);
    if (!c->forecasts) {
        sched_core_destroy(c);
        return NULL;
    }
    for (int i = 0; i < SCHED_R_COUNT; i++) {
        char labels[64];
        snprintf(labels, sizeof(labels), "reason=\"%s\"", reason_names[i]);
        c->m_reasons[i] =
            d2ev_metric_counter("d2ev_scheduler_replans_total", "Re-plans by trigger", labels);
    }
    static const char *const st[] = { "optimal",     "feasible",   "target_unreachable",
                                      "no_forecast", "charge_now", "target_reached",
                                      "not_plugged" };
    for (int i = 0; i < 7; i++) {
        char labels[64];
        snprintf(labels, sizeof(labels), "status=\"%s\"", st[i]);
        c->m_status[i] = d2ev_metric_counter("d2ev_scheduler_schedules_total",
                                             "Schedules published by status", labels);
    }
    c->m_published =
        d2ev_metric_counter("d2ev_scheduler_notifications_total", "Notifications published", NULL);
    c->m_solve = d2ev_metric_histogram("d2ev_scheduler_solve_seconds", "Time to plan one vehicle",
                                       NULL, NULL, 0);
    c->m_vehicles = d2ev_metric_gauge("d2ev_scheduler_vehicles", "Vehicles in memory", NULL);
    c->m_fleet_gap = d2ev_metric_gauge("d2ev_scheduler_fleet_gap",
                                       "Relative optimality gap of the last fleet solve", NULL);
    return c;
}

void sched_core_destroy(struct sched_core *c)
{
    if (!c)
        return;
    struct d2ev_htab_iter it;
    for (struct d2ev_htab_node *n = d2ev_htab_first(&c->vehicles, &it); n;
         n = d2ev_htab_next(&c->vehicles, &it)) {
        free(VEH(n)->windows);
        free(VEH(n));
    }
    d2ev_htab_free(&c->vehicles);
    free(c->queue);
    for (size_t i = 0; i < c->nsites; i++)
        free(c->sites[i].limits_kw);
    free(c->sites);
    forecast_store_destroy(c->forecasts);
    free(c);
}

void sched_core_set_capacity_share(struct sched_core *c, double share)
{
    c->share = share > 0 && share <= 1 ? share : 1;
}

size_t sched_core_vehicle_count(const struct sched_core *c)
{
    return c->vehicles.count;
}

size_t sched_core_dirty_count(const struct sched_core *c)
{
    return c->nqueue;
}

bool sched_core_view(const struct sched_core *c, const char *vehicle_id,
                     struct sched_vehicle_view *out)
{
    const struct veh *v = find(c, vehicle_id);
    if (!v)
        return false;
    *out = (struct sched_vehicle_view){ v->known,    v->plugged, v->soc,      v->version, v->status,
                                        v->nwindows, v->windows, v->ready_by, v->dirty };
    return true;
}

/* ------------------------------------------------------------ plan state */

/* The battery size plans use: the record's, else telemetry's, else the
 * default; times what shortfalls taught us. */
static double plan_battery(const struct sched_core *c, const struct veh *v)
{
    double b = v->battery_kwh > 0       ? v->battery_kwh
               : v->tel_battery_kwh > 0 ? v->tel_battery_kwh
                                        : c->cfg.plan.default_battery_kwh;
    return b * v->energy_scale;
}

/* SoC the current plan expects at t. */
static double planned_soc(const struct sched_core *c, const struct veh *v, int64_t t)
{
    double kwh = 0;
    for (size_t i = 0; i < v->nwindows; i++) {
        const struct d2ev_window *w = &v->windows[i];
        if (t <= w->start)
            break;
        int64_t end = t < w->end ? t : w->end;
        kwh += w->energy_kwh * (double)(end - w->start) / (double)(w->end - w->start);
    }
    double battery = plan_battery(c, v);
    return battery > 0 ? v->soc_at_plan + kwh / battery * 100 : v->soc_at_plan;
}

/* A plan that still governs the car: made while plugged, deadline ahead. */
static bool plan_active(const struct veh *v, int64_t now)
{
    return v->has_plan && v->status != D2EV_SCHED_NOT_PLUGGED && v->ready_by > now;
}

static void region_forecasts(const struct sched_core *c, const struct veh *v, int64_t now,
                             const struct sched_forecast **price,
                             const struct sched_forecast **carbon)
{
    *price = forecast_store_get(c->forecasts, v->region, D2EV_FORECAST_PRICE, now, NULL);
    *carbon = forecast_store_get(c->forecasts, v->region, D2EV_FORECAST_CARBON, now, NULL);
}

/* What changed since the plan was made (after a restart, or out of order). */
static unsigned stale_inputs(const struct sched_core *c, const struct veh *v, int64_t now)
{
    unsigned r = 0;
    if (!v->has_plan)
        return r;
    if (v->known && v->planned_prefs_version < v->prefs_version)
        r |= SCHED_R_PREFS;
    const struct sched_forecast *p, *k;
    region_forecasts(c, v, now, &p, &k);
    if ((p && strcmp(p->id, v->price_id)) || (k && strcmp(k->id, v->carbon_id)))
        r |= SCHED_R_FORECAST;
    if (v->ready_by <= now && v->status != D2EV_SCHED_NOT_PLUGGED)
        r |= SCHED_R_DEADLINE;
    return r;
}

/* Triggers that follow a new SoC / charging state reading at t. */
/* True when a car limit of `limit` % (0 = unknown) keeps the car below its target. */
static bool limit_binds(const struct veh *v, double limit)
{
    return limit > 0 && limit < v->prefs.target_soc - 0.5;
}

static unsigned soc_triggers(const struct sched_core *c, struct veh *v, int64_t t, int64_t now)
{
    unsigned r = 0;
    if (!v->has_plan || v->status == D2EV_SCHED_NOT_PLUGGED)
        return r;
    if (v->soc >= v->target_soc && v->status != D2EV_SCHED_TARGET_REACHED)
        r |= SCHED_R_TARGET;
    bool rate_ok = now - v->last_replan >= c->cfg.min_replan_interval_ms;
    if (rate_ok && fabs(v->soc - planned_soc(c, v, t)) > c->cfg.drift_pct)
        r |= SCHED_R_DRIFT;
    /* The plan's charging is over, the ready-by is still ahead, and the car is
     * short: the model was off (battery size, taper, efficiency). Learn by how
     * much and plan the rest, once per plan. */
    bool plan_charges = v->status == D2EV_SCHED_OPTIMAL || v->status == D2EV_SCHED_FEASIBLE ||
                        v->status == D2EV_SCHED_CHARGE_NOW;
    if (plan_charges && v->nwindows && v->ready_by > t && t >= v->windows[v->nwindows - 1].end &&
        v->soc < v->target_soc - c->cfg.short_pct && v->short_for_version != v->version) {
        double want = planned_soc(c, v, t) - v->soc_at_plan, got = v->soc - v->soc_at_plan;
        if (got > 0.5 && want > got) {
            double f = v->energy_scale * want / got;
            v->energy_scale = f > 3 ? 3 : f < 1 ? 1 : f;
        }
        v->short_for_version = v->version;
        r |= SCHED_R_SHORT;
    }
    bool charging = v->chg == D2EV_CHG_CHARGING || v->chg == D2EV_CHG_STARTING;
    for (size_t i = 0; i < v->nwindows && !charging; i++) {
        const struct d2ev_window *w = &v->windows[i];
        if (w->start + c->cfg.missed_grace_ms <= t && t < w->end &&
            v->missed_window_start != w->start && v->chg != D2EV_CHG_COMPLETE &&
            v->chg != D2EV_CHG_UNKNOWN) {
            v->missed_window_start = w->start;
            r |= SCHED_R_MISSED;
        }
    }
    return r;
}

/* ------------------------------------------------------------ inputs */

int sched_core_on_vehicle(struct sched_core *c, const struct d2ev_vehicle *rec, int32_t partition,
                          int64_t now)
{
    struct veh *v = get_or_create(c, rec->vehicle_id, partition);
    if (!v)
        return D2EV_ERR_NOMEM;
    bool first = !v->known;
    bool changed = first || v->prefs_version != rec->prefs_version ||
                   strcmp(v->timezone, rec->timezone) || strcmp(v->region, rec->region) ||
                   strcmp(v->site_id, rec->site_id) || v->vstatus != rec->status ||
                   v->battery_kwh != (rec->has_battery_kwh ? rec->battery_kwh : 0) ||
                   v->max_power_kw != (rec->has_max_power_kw ? rec->max_power_kw : 0);
    v->known = true;
    v->deleted = false;
    snprintf(v->user_id, sizeof(v->user_id), "%s", rec->user_id);
    if (strcmp(v->timezone, rec->timezone) || !v->tz) {
        struct d2ev_err err = { 0 };
        snprintf(v->timezone, sizeof(v->timezone), "%s", rec->timezone);
        v->tz = d2ev_tz_get(rec->timezone, &err);
        if (!v->tz) {
            d2ev_log_warn("unknown time zone; using UTC", D2EV_LF_STR("vehicle_id", v->id),
                          D2EV_LF_STR("error", err.msg));
            v->tz = d2ev_tz_get("UTC", NULL);
        }
    }
    snprintf(v->region, sizeof(v->region), "%s", rec->region);
    snprintf(v->site_id, sizeof(v->site_id), "%s", rec->site_id);
    v->battery_kwh = rec->has_battery_kwh ? rec->battery_kwh : 0;
    v->max_power_kw = rec->has_max_power_kw ? rec->max_power_kw : 0;
    v->prefs = rec->prefs;
    v->prefs_version = rec->prefs_version;
    v->vstatus = rec->status;
    if (!v->plugged || !changed)
        return D2EV_OK;
    if (first && !plan_active(v, now)) {
        v->notify_plugin = true;
        mark(c, v, SCHED_R_PLUGIN);
    } else {
        mark(c, v, SCHED_R_PREFS | stale_inputs(c, v, now));
    }
    return D2EV_OK;
}

int sched_core_on_vehicle_deleted(struct sched_core *c, const char *vehicle_id, int64_t now)
{
    (void)now;
    struct veh *v = find(c, vehicle_id);
    if (!c->live) {
        /* replaying: remember, and decide at go-live once schedules are known */
        v = v ? v : get_or_create(c, vehicle_id, -1);
        if (!v)
            return D2EV_ERR_NOMEM;
        v->known = false;
        v->deleted = true;
        return D2EV_OK;
    }
    int rc = c->ops.tombstone(c->opaque, vehicle_id);
    if (rc)
        return rc;
    d2ev_log_info("vehicle deregistered; schedule tombstoned",
                  D2EV_LF_STR("vehicle_id", vehicle_id));
    if (v)
        forget(c, v);
    return D2EV_OK;
}

int sched_core_on_telemetry(struct sched_core *c, const struct d2ev_telemetry *t, int32_t partition,
                            int64_t now)
{
    struct veh *v = get_or_create(c, t->vehicle_id, partition);
    if (!v)
        return D2EV_ERR_NOMEM;
    if (t->observed_at < v->observed_at)
        return D2EV_OK; /* older than what we know: a redelivery */
    bool was_plugged = v->plugged;
    v->has_soc = true;
    v->soc = t->soc;
    v->plugged = t->plugged_in;
    v->chg = t->charging_state;
    v->observed_at = t->observed_at;
    snprintf(v->telemetry_id, sizeof(v->telemetry_id), "%s", t->env.id);
    if (t->has_battery_kwh)
        v->tel_battery_kwh = t->battery_kwh;
    /* the driver changed the limit in the car across the target: re-plan */
    bool limit_changed = false;
    if (t->has_charge_limit && t->charge_limit > 0) {
        limit_changed =
            v->has_plan && limit_binds(v, v->car_limit) != limit_binds(v, t->charge_limit);
        v->car_limit = t->charge_limit;
    }
    if (!v->known)
        return D2EV_OK; /* planned when the vehicle record arrives */
    if (v->plugged && !was_plugged) {
        if (plan_active(v, now)) { /* e.g. after a restart: keep the plan if still good */
            unsigned r = stale_inputs(c, v, now) | soc_triggers(c, v, t->observed_at, now) |
                         (limit_changed ? SCHED_R_LIMIT : 0);
            if (r)
                mark(c, v, r);
        } else {
            v->notify_plugin = true;
            mark(c, v, SCHED_R_PLUGIN);
        }
    } else if (!v->plugged && was_plugged) {
        mark(c, v, SCHED_R_UNPLUG);
    } else if (v->plugged) {
        unsigned r = soc_triggers(c, v, t->observed_at, now) | (limit_changed ? SCHED_R_LIMIT : 0);
        if (r)
            mark(c, v, r);
    }
    return D2EV_OK;
}

int sched_core_on_session(struct sched_core *c, const struct d2ev_session *s, int32_t partition,
                          int64_t now)
{
    struct veh *v = get_or_create(c, s->vehicle_id, partition);
    if (!v)
        return D2EV_ERR_NOMEM;
    bool newer = s->at >= v->observed_at;
    if (newer && (s->event == D2EV_SESSION_PLUG_IN || s->event == D2EV_SESSION_UPDATE ||
                  s->event == D2EV_SESSION_FULL)) {
        v->soc = s->soc_now;
        v->has_soc = true;
    }
    switch (s->event) {
    case D2EV_SESSION_PLUG_IN: {
        bool new_session = strcmp(v->session_id, s->session_id) != 0;
        bool was_plugged = v->plugged;
        snprintf(v->session_id, sizeof(v->session_id), "%s", s->session_id);
        v->plugged = true;
        if (newer)
            v->observed_at = s->at;
        if (v->known && (!was_plugged || new_session) && !(plan_active(v, now) && !new_session)) {
            v->notify_plugin = true;
            mark(c, v, SCHED_R_PLUGIN);
        }
        break;
    }
    case D2EV_SESSION_UNPLUG:
        if (newer && v->plugged) {
            v->plugged = false;
            v->observed_at = s->at;
            if (v->known)
                mark(c, v, SCHED_R_UNPLUG);
        }
        break;
    case D2EV_SESSION_FULL:
        if (v->known && v->plugged)
            mark(c, v, SCHED_R_TARGET);
        break;
    case D2EV_SESSION_UPDATE:
        if (v->known && v->plugged && newer) {
            unsigned r = soc_triggers(c, v, s->at, now);
            if (r)
                mark(c, v, r);
        }
        break;
    case D2EV_SESSION_ANOMALY:
    default:
        break;
    }
    return D2EV_OK;
}

int sched_core_on_control(struct sched_core *c, const struct d2ev_control *ctl, int32_t partition,
                          int64_t now)
{
    (void)now;
    if (ctl->action != D2EV_CONTROL_REPLAN)
        return D2EV_OK;
    struct veh *v = get_or_create(c, ctl->vehicle_id, partition);
    if (!v)
        return D2EV_ERR_NOMEM;
    d2ev_log_info("re-plan requested", D2EV_LF_STR("vehicle_id", v->id),
                  D2EV_LF_STR("requested_by", ctl->requested_by),
                  D2EV_LF_STR("reason", ctl->reason));
    mark(c, v, SCHED_R_CONTROL);
    return D2EV_OK;
}

int sched_core_on_schedule(struct sched_core *c, const struct d2ev_schedule *s, int32_t partition,
                           int64_t now)
{
    (void)now;
    struct veh *v = get_or_create(c, s->vehicle_id, partition);
    if (!v)
        return D2EV_ERR_NOMEM;
    if (s->version <= v->version)
        return D2EV_OK; /* our own output read back, or older */
    struct d2ev_window *w = NULL;
    if (s->nwindows) {
        w = malloc(s->nwindows * sizeof(*w));
        if (!w)
            return D2EV_ERR_NOMEM;
        memcpy(w, s->windows, s->nwindows * sizeof(*w));
    }
    free(v->windows);
    v->windows = w;
    v->nwindows = s->nwindows;
    v->version = s->version;
    v->has_plan = true;
    v->schedule_exists = true;
    v->status = s->status;
    /* Rebuild "overdue" after a restart or a rebalance: a charge_now plan
     * that neither a boost nor the minimum SoC explains was made for a car
     * past its ready-by. Getting this wrong only charges sooner. */
    bool boost = v->prefs.has_boost && v->prefs.boost_until > s->created_at;
    v->overdue = s->status == D2EV_SCHED_CHARGE_NOW && !boost &&
                 s->soc_at_plan >= v->prefs.min_soc && s->soc_at_plan < s->target_soc - 1.0;
    v->plan_at = s->created_at;
    v->ready_by = s->ready_by;
    v->soc_at_plan = s->soc_at_plan;
    v->target_soc = s->target_soc;
    v->planned_prefs_version = s->prefs_version;
    v->notified_status = (int)s->status;
    snprintf(v->price_id, sizeof(v->price_id), "%s", s->price_forecast_id);
    snprintf(v->carbon_id, sizeof(v->carbon_id), "%s", s->carbon_forecast_id);
    return D2EV_OK;
}

int sched_core_on_schedule_deleted(struct sched_core *c, const char *vehicle_id)
{
    struct veh *v = find(c, vehicle_id);
    if (v) {
        v->schedule_exists = false;
        v->has_plan = false;
    }
    return D2EV_OK;
}

int sched_core_on_forecast(struct sched_core *c, const struct d2ev_forecast *f, int64_t now,
                           struct d2ev_err *err)
{
    int rc = forecast_store_offer(c->forecasts, f, now, err);
    if (rc != FORECAST_STORED)
        return rc;
    size_t n = 0;
    struct veh *v;
    FOR_EACH_VEH(c, v)
    {
        if (v->known && v->plugged && !strcmp(v->region, f->region)) {
            mark(c, v, SCHED_R_FORECAST);
            n++;
        }
    }
    d2ev_log_info("forecast stored", D2EV_LF_STR("region", f->region),
                  D2EV_LF_STR("kind", f->kind == D2EV_FORECAST_PRICE ? "price" : "carbon"),
                  D2EV_LF_STR("id", f->env.id), D2EV_LF_INT("slots", f->n),
                  D2EV_LF_INT("vehicles_to_replan", n));
    return rc;
}

int sched_core_on_capacity(struct sched_core *c, const struct d2ev_capacity *cap, int64_t now,
                           struct d2ev_err *err)
{
    (void)now;
    if (!cap->site_id[0] || cap->n == 0 || cap->n > D2EV_FORECAST_MAX_SLOTS ||
        (cap->slot_minutes != 15 && cap->slot_minutes != 30 && cap->slot_minutes != 60))
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "capacity: needs a site_id, 15/30/60-minute slots and 1..%d limits",
                            D2EV_FORECAST_MAX_SLOTS);
    for (size_t i = 0; i < cap->n; i++)
        if (!(cap->limits_kw[i] >= 0) || !isfinite(cap->limits_kw[i]))
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "capacity.limits_kw[%zu]: must be a number >= 0", i);
    struct site_cap *sc = NULL;
    for (size_t i = 0; i < c->nsites; i++)
        if (!strcmp(c->sites[i].site_id, cap->site_id))
            sc = &c->sites[i];
    if (!sc) {
        struct site_cap *ns = realloc(c->sites, (c->nsites + 1) * sizeof(*ns));
        if (!ns)
            return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        c->sites = ns;
        sc = &c->sites[c->nsites++];
        memset(sc, 0, sizeof(*sc));
        snprintf(sc->site_id, sizeof(sc->site_id), "%s", cap->site_id);
    }
    double *l = malloc(cap->n * sizeof(double));
    if (!l)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    memcpy(l, cap->limits_kw, cap->n * sizeof(double));
    free(sc->limits_kw);
    sc->limits_kw = l;
    sc->n = cap->n;
    sc->start = cap->start;
    sc->slot_ms = (int64_t)cap->slot_minutes * 60000;
    struct veh *v;
    FOR_EACH_VEH(c, v)
    {
        if (v->known && v->plugged && !strcmp(v->site_id, cap->site_id))
            mark(c, v, SCHED_R_CAPACITY);
    }
    return D2EV_OK;
}

void sched_core_drop_partition(struct sched_core *c, int32_t partition)
{
    size_t dropped = 0;
    struct veh *v;
    FOR_EACH_VEH(c, v)
    {
        if (v->partition == partition) {
            forget(c, v); /* the iterator has already stepped past v */
            dropped++;
        }
    }
    if (dropped)
        d2ev_log_info("vehicles handed over", D2EV_LF_INT("partition", partition),
                      D2EV_LF_INT("count", dropped));
}

void sched_core_tick(struct sched_core *c, int64_t now)
{
    struct veh *v;
    FOR_EACH_VEH(c, v)
    {
        if (!v->known || !v->plugged || !v->has_plan || v->queued)
            continue;
        if (v->status != D2EV_SCHED_NOT_PLUGGED && v->ready_by <= now)
            mark(c, v, SCHED_R_DEADLINE);
    }
}

/* ------------------------------------------------------------ outputs */

static void fmt_local(const struct veh *v, int64_t t, char *buf, size_t size)
{
    int64_t l = d2ev_tz_to_local(v->tz, t);
    int64_t ms = l - d2ev_floor_div(l, DAY_MS) * DAY_MS;
    snprintf(buf, size, "%02d:%02d", (int)(ms / 3600000), (int)(ms / 60000 % 60));
}

static int notify(struct sched_core *c, const struct veh *v, const char *kind, const char *msg,
                  bool has_time, int64_t time, bool has_soc, double soc)
{
    struct d2ev_notification n;
    memset(&n, 0, sizeof(n));
    snprintf(n.vehicle_id, sizeof(n.vehicle_id), "%s", v->id);
    snprintf(n.user_id, sizeof(n.user_id), "%s", v->user_id);
    snprintf(n.kind, sizeof(n.kind), "%s", kind);
    snprintf(n.message, sizeof(n.message), "%s", msg);
    n.has_time = has_time;
    n.time = time;
    n.has_soc = has_soc;
    n.soc = soc;
    int rc = c->ops.notify(c->opaque, &n);
    if (!rc)
        d2ev_metric_inc(c->m_published);
    return rc;
}

/* After publish: v holds the new plan (its windows), r the rest of it. */
static int notifications(struct sched_core *c, struct veh *v, const struct plan_result *r)
{
    char msg[D2EV_REASON_MAX + 1], a[16], b[16];
    int rc = D2EV_OK;
    if (v->notify_plugin) {
        v->notify_plugin = false;
        fmt_local(v, r->ready_by, b, sizeof(b));
        if (v->nwindows) {
            fmt_local(v, v->windows[0].start, a, sizeof(a));
            snprintf(msg, sizeof(msg), "Charging %s at %s; expected %.0f %% by %s.",
                     v->windows[0].start <= v->plan_at ? "starts now" : "will start", a,
                     r->expected_soc, b);
            rc = notify(c, v, "charge_start_estimate", msg, true, v->windows[0].start, true,
                        r->expected_soc);
        } else {
            snprintf(msg, sizeof(msg), "No charging needed: already at %.0f %%.", v->soc);
            rc = notify(c, v, "charge_start_estimate", msg, false, 0, true, v->soc);
        }
        if (rc)
            return rc;
    }
    bool bad = r->status == D2EV_SCHED_TARGET_UNREACHABLE || r->status == D2EV_SCHED_NO_FORECAST;
    if (bad && v->notified_status != (int)r->status) {
        rc =
            notify(c, v, r->status == D2EV_SCHED_NO_FORECAST ? "no_forecast" : "target_unreachable",
                   r->reason, true, r->ready_by, true, r->expected_soc);
        if (rc)
            return rc;
    }
    v->notified_status = (int)r->status;
    return D2EV_OK;
}

/* Publish r for v (windows borrowed from r) and keep it as the current plan
 * (taking r's windows). */
static int publish(struct sched_core *c, struct veh *v, struct plan_result *r, int64_t now,
                   const struct sched_forecast *price, const struct sched_forecast *carbon)
{
    struct d2ev_schedule s;
    memset(&s, 0, sizeof(s));
    snprintf(s.vehicle_id, sizeof(s.vehicle_id), "%s", v->id);
    /* strictly increasing, also across restarts that lost the state */
    s.version = v->version + 1 > now ? v->version + 1 : now;
    s.created_at = now;
    s.status = r->status;
    snprintf(s.reason, sizeof(s.reason), "%s", r->reason);
    snprintf(s.price_forecast_id, sizeof(s.price_forecast_id), "%s", price ? price->id : "");
    snprintf(s.carbon_forecast_id, sizeof(s.carbon_forecast_id), "%s", carbon ? carbon->id : "");
    snprintf(s.telemetry_id, sizeof(s.telemetry_id), "%s", v->telemetry_id);
    s.prefs_version = v->prefs_version;
    s.ready_by = r->ready_by;
    s.target_soc = r->target_soc;
    s.soc_at_plan = v->soc;
    s.expected_soc = r->expected_soc;
    s.nwindows = r->nwindows;
    s.windows = r->windows;
    s.expected_cost = r->expected_cost;
    s.expected_carbon_g = r->expected_carbon_g;
    s.baseline_cost = r->baseline_cost;
    s.baseline_carbon_g = r->baseline_carbon_g;
    snprintf(s.currency, sizeof(s.currency), "%s", r->currency);
    snprintf(s.method, sizeof(s.method), "%s", r->method);
    s.solve_ms = r->solve_ms;
    int rc = c->ops.schedule(c->opaque, &s);
    if (rc)
        return rc;
    d2ev_metric_inc(c->m_status[r->status < 7 ? r->status : 0]);
    free(v->windows);
    v->windows = r->windows;
    v->nwindows = r->nwindows;
    r->windows = NULL;
    r->nwindows = 0;
    v->version = s.version;
    v->has_plan = true;
    v->schedule_exists = true;
    v->status = r->status;
    v->plan_at = now;
    v->ready_by = r->ready_by;
    v->soc_at_plan = v->soc;
    v->target_soc = r->target_soc;
    v->planned_prefs_version = v->prefs_version;
    v->last_replan = now;
    snprintf(v->price_id, sizeof(v->price_id), "%s", s.price_forecast_id);
    snprintf(v->carbon_id, sizeof(v->carbon_id), "%s", s.carbon_forecast_id);
    return notifications(c, v, r);
}

static int publish_not_plugged(struct sched_core *c, struct veh *v, int64_t now)
{
    struct plan_result r;
    memset(&r, 0, sizeof(r));
    r.status = D2EV_SCHED_NOT_PLUGGED;
    snprintf(r.reason, sizeof(r.reason), "Not plugged in; a plan is made at the next plug-in.");
    snprintf(r.method, sizeof(r.method), "none");
    r.target_soc = v->prefs.target_soc;
    r.expected_soc = v->soc;
    v->notify_plugin = false;
    return publish(c, v, &r, now, NULL, NULL);
}

/* A plan whose ready-by passed with the car short makes the car overdue
 * until it reaches its target or leaves. */
static void update_overdue(struct veh *v, int64_t now)
{
    if (!v->plugged || (v->has_soc && v->soc >= v->prefs.target_soc - 1.0))
        v->overdue = false;
    else if (v->has_plan && v->status != D2EV_SCHED_NOT_PLUGGED &&
             v->status != D2EV_SCHED_TARGET_REACHED && v->ready_by <= now && v->has_soc &&
             v->soc < v->target_soc - 1.0)
        v->overdue = true;
}

static struct plan_input input_of(const struct sched_core *c, const struct veh *v, int64_t now)
{
    struct plan_input in = { .now = now,
                             .soc = v->soc < 0     ? 0
                                    : v->soc > 100 ? 100
                                                   : v->soc,
                             .battery_kwh = plan_battery(c, v),
                             .power_kw = v->max_power_kw,
                             .car_limit = v->car_limit,
                             .overdue = v->overdue,
                             .prefs = &v->prefs,
                             .tz = v->tz,
                             .region = v->region };
    region_forecasts(c, v, now, &in.price, &in.carbon);
    return in;
}

static void count_reasons(struct sched_core *c, unsigned reasons)
{
    for (int b = 0; b < SCHED_R_COUNT; b++)
        if (reasons & (1u << b))
            d2ev_metric_inc(c->m_reasons[b]);
}

/* Plan one vehicle on its own. Returns 1 when a schedule was published. */
static int plan_one(struct sched_core *c, struct veh *v, int64_t now)
{
    unsigned reasons = v->dirty;
    v->dirty = 0;
    if (!v->known || v->vstatus != D2EV_VEHICLE_ACTIVE)
        return 0;
    update_overdue(v, now);
    if (!v->plugged) {
        bool tell =
            (reasons & SCHED_R_CONTROL) || (v->has_plan && v->status != D2EV_SCHED_NOT_PLUGGED);
        if (!tell)
            return 0;
        count_reasons(c, reasons);
        int rc = publish_not_plugged(c, v, now);
        return rc ? rc : 1;
    }
    if (!v->has_soc)
        return 0; /* no SoC yet: the next telemetry plans it */
    struct plan_input in = input_of(c, v, now);
    struct plan_result r;
    struct d2ev_err err = { 0 };
    if (plan_vehicle(&in, &c->cfg.plan, &r, &err)) {
        d2ev_log_error("cannot plan", D2EV_LF_STR("vehicle_id", v->id),
                       D2EV_LF_STR("error", err.msg));
        return 0;
    }
    count_reasons(c, reasons);
    d2ev_metric_observe(c->m_solve, r.solve_ms / 1000.0);
    int rc = publish(c, v, &r, now, in.price, in.carbon);
    plan_result_clear(&r);
    return rc ? rc : 1;
}

static const struct site_cap *site_of(const struct sched_core *c, const char *site)
{
    for (size_t i = 0; site[0] && i < c->nsites; i++)
        if (!strcmp(c->sites[i].site_id, site))
            return &c->sites[i];
    return NULL;
}

/* Plan every plugged-in vehicle of a site together. Returns schedules or < 0. */
static int plan_site(struct sched_core *c, const struct site_cap *sc, int64_t now)
{
    size_t nv = 0, capv = 64;
    struct veh **vs = malloc(capv * sizeof(*vs));
    struct veh *v;
    FOR_EACH_VEH(c, v)
    {
        if (!vs)
            break;
        if (!v->known || !v->plugged || !v->has_soc || v->vstatus != D2EV_VEHICLE_ACTIVE ||
            strcmp(v->site_id, sc->site_id))
            continue;
        if (nv == capv) {
            struct veh **nvs = realloc(vs, (capv *= 2) * sizeof(*vs));
            if (!nvs)
                break;
            vs = nvs;
        }
        vs[nv++] = v;
    }
    struct plan_ctx *ctx = calloc(nv ? nv : 1, sizeof(*ctx));
    struct plan_ctx **coupled = calloc(nv ? nv : 1, sizeof(*coupled));
    struct veh **cv = calloc(nv ? nv : 1, sizeof(*cv));
    double **e = calloc(nv ? nv : 1, sizeof(*e));
    bool *short_of = calloc(nv ? nv : 1, sizeof(bool));
    double *limits = malloc((sc->n ? sc->n : 1) * sizeof(double));
    int published = 0, rc = D2EV_OK;
    if (!vs || !ctx || !coupled || !cv || !e || !short_of || !limits) {
        rc = D2EV_ERR_NOMEM;
        goto out;
    }
    size_t nc = 0;
    for (size_t i = 0; i < nv; i++) {
        update_overdue(vs[i], now);
        struct plan_input in = input_of(c, vs[i], now);
        struct d2ev_err err = { 0 };
        if (plan_build(&in, &c->cfg.plan, &ctx[i], &err)) {
            d2ev_log_error("cannot plan", D2EV_LF_STR("vehicle_id", vs[i]->id),
                           D2EV_LF_STR("error", err.msg));
            continue;
        }
        if (ctx[i].kind == PLAN_KIND_SOLVE || ctx[i].kind == PLAN_KIND_UNREACHABLE) {
            e[nc] = calloc(ctx[i].prob.n ? ctx[i].prob.n : 1, sizeof(double));
            if (!e[nc]) {
                rc = D2EV_ERR_NOMEM;
                goto out;
            }
            coupled[nc] = &ctx[i];
            cv[nc++] = vs[i];
            continue;
        }
        struct plan_result r; /* nothing to coordinate: reached, or no forecast */
        if (plan_finish(&ctx[i], NULL, NULL, false, &r) == D2EV_OK) {
            count_reasons(c, vs[i]->dirty);
            vs[i]->dirty = 0;
            rc = publish(c, vs[i], &r, now, in.price, in.carbon);
            plan_result_clear(&r);
            if (rc)
                goto out;
            published++;
        }
    }
    for (size_t t = 0; t < sc->n; t++)
        limits[t] = sc->limits_kw[t] * c->share;
    struct fleet_capacity cap = { sc->start, sc->slot_ms, sc->n, limits };
    struct fleet_report rep;
    if (nc &&
        (rc = fleet_solve(coupled, nc, &cap, &c->cfg.plan, &c->cfg.fleet_opt, e, short_of, &rep)))
        goto out;
    if (nc) {
        d2ev_metric_set(c->m_fleet_gap, rep.gap);
        d2ev_log_info(
            "site planned", D2EV_LF_STR("site_id", sc->site_id), D2EV_LF_INT("vehicles", nc),
            D2EV_LF_DBL("gap", rep.gap), D2EV_LF_DBL("lower_bound", rep.lower_bound),
            D2EV_LF_DBL("upper_bound", rep.upper_bound),
            D2EV_LF_INT("vehicles_short", rep.vehicles_short), D2EV_LF_DBL("ms", rep.solve_ms));
    }
    for (size_t k = 0; k < nc; k++) {
        struct plan_sol sol = { .outcome = rep.gap <= c->cfg.fleet_opt.target_gap ? PLAN_OPTIMAL
                                                                                  : PLAN_FEASIBLE,
                                .solve_ms = rep.solve_ms / (double)nc };
        snprintf(sol.method, sizeof(sol.method), "fleet");
        struct plan_result r;
        if (plan_finish(coupled[k], e[k], &sol, false, &r)) {
            rc = D2EV_ERR_NOMEM;
            goto out;
        }
        if (short_of[k] && r.status != D2EV_SCHED_TARGET_UNREACHABLE) {
            char rb[16];
            fmt_local(cv[k], r.ready_by, rb, sizeof(rb));
            r.status = D2EV_SCHED_TARGET_UNREACHABLE;
            snprintf(r.reason, sizeof(r.reason),
                     "Site %s's power limit, shared with %zu cars, leaves room to reach %.0f %% "
                     "by %s, not %.0f %%.",
                     sc->site_id, nc, r.expected_soc, rb, r.target_soc);
        }
        count_reasons(c, cv[k]->dirty);
        cv[k]->dirty = 0;
        const struct sched_forecast *price, *carbon;
        region_forecasts(c, cv[k], now, &price, &carbon);
        rc = publish(c, cv[k], &r, now, price, carbon);
        plan_result_clear(&r);
        if (rc)
            goto out;
        published++;
    }
out:
    for (size_t i = 0; ctx && i < nv; i++)
        plan_ctx_clear(&ctx[i]);
    for (size_t k = 0; e && k < nv; k++)
        free(e[k]);
    free(vs);
    free(ctx);
    free(coupled);
    free(cv);
    free(e);
    free(short_of);
    free(limits);
    return rc ? rc : published;
}

/* At go-live: tombstone the schedules of vehicles deregistered while we were down. */
static int settle_deleted(struct sched_core *c)
{
    struct veh *v;
    FOR_EACH_VEH(c, v)
    {
        if (!v->deleted)
            continue;
        if (v->schedule_exists) {
            int rc = c->ops.tombstone(c->opaque, v->id);
            if (rc)
                return rc;
        }
        forget(c, v);
    }
    return D2EV_OK;
}

void sched_core_set_live(struct sched_core *c, bool live)
{
    c->live = live;
}

int sched_core_flush(struct sched_core *c, int64_t now)
{
    if (!c->live)
        return 0;
    int rc = settle_deleted(c);
    if (rc)
        return rc;
    int published = 0;
    const struct site_cap **sites = NULL;
    size_t nsites = 0;
    for (size_t q = 0; q < c->nqueue; q++) {
        struct veh *v = c->queue[q];
        v->queued = false;
        const struct site_cap *sc = c->cfg.fleet && v->plugged ? site_of(c, v->site_id) : NULL;
        if (sc) { /* the whole site is planned together below */
            bool seen = false;
            for (size_t k = 0; k < nsites; k++)
                seen |= sites[k] == sc;
            if (!seen) {
                const struct site_cap **ns = realloc(sites, (nsites + 1) * sizeof(*ns));
                if (ns) {
                    sites = ns;
                    sites[nsites++] = sc;
                    continue;
                }
            } else {
                continue;
            }
        }
        rc = plan_one(c, v, now);
        if (rc < 0) {
            for (size_t r = q + 1; r < c->nqueue; r++)
                c->queue[r]->queued = false;
            break;
        }
        published += rc;
        /* an unplugged car frees site power: re-plan the rest of its site */
        const struct site_cap *freed = c->cfg.fleet ? site_of(c, v->site_id) : NULL;
        bool seen = !freed;
        for (size_t k = 0; k < nsites && !seen; k++)
            seen = sites[k] == freed;
        if (!seen) {
            const struct site_cap **ns = realloc(sites, (nsites + 1) * sizeof(*ns));
            if (ns) {
                sites = ns;
                sites[nsites++] = freed;
            }
        }
    }
    c->nqueue = 0;
    for (size_t k = 0; rc >= 0 && k < nsites; k++) {
        rc = plan_site(c, sites[k], now);
        if (rc >= 0)
            published += rc;
    }
    free(sites);
    return rc < 0 ? rc : published;
}
