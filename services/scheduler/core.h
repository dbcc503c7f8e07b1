/*
 * core.h: the scheduler's state and decisions, without Kafka.
 *
 * The Kafka service (scheduler.c) decodes messages and feeds them in here;
 * the core keeps one record per vehicle (its preferences, latest telemetry,
 * plug-in state and current plan), marks vehicles for re-planning when
 * something that matters changes, and on sched_core_flush() plans every
 * marked vehicle and hands schedules, tombstones and notifications to the
 * output callbacks. Nothing is planned until sched_core_set_live(): while the
 * state topics replay at start-up, inputs only rebuild the view.
 *
 * Re-plan triggers: plug-in (with a "charge_start_estimate" notification), a
 * new forecast for the vehicle's region, a new prefs_version or other change
 * to the vehicle record, SoC drifting from the planned trajectory, a missed
 * window, an operator's "replan", the ready-by time passing while plugged in,
 * a new site capacity, and unplugging (publishes "not_plugged").
 *
 * Thread-safety: none; one thread drives a core. Ownership: every struct
 * passed in is borrowed for the call; structs passed to the callbacks are
 * borrowed for the callback only.
 */
#ifndef D2EV_SCHED_CORE_H
#define D2EV_SCHED_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/events.h"
#include "fleet.h"
#include "forecast_store.h"
#include "plan.h"

struct sched_config {
    struct plan_options plan;
    struct forecast_limits limits;
    double drift_pct; /* re-plan when |SoC - planned| exceeds this (points) */
    double short_pct; /* after the last window, re-plan when this far below target (points) */
    int64_t missed_grace_ms;        /* not charging this long into a window = missed */
    int64_t min_replan_interval_ms; /* at most one drift/missed re-plan per vehicle per this */
    bool fleet;                     /* coordinate vehicles of a site with a capacity record */
    struct fleet_options fleet_opt;
};

void sched_config_default(struct sched_config *c);

/* Outputs. Each returns 0 or a negative code (which fails the flush). */
struct sched_output_ops {
    int (*schedule)(void *opaque, const struct d2ev_schedule *s);
    int (*tombstone)(void *opaque, const char *vehicle_id);
    int (*notify)(void *opaque, const struct d2ev_notification *n);
};

enum sched_reason {
    SCHED_R_PLUGIN = 1 << 0,
    SCHED_R_FORECAST = 1 << 1,
    SCHED_R_PREFS = 1 << 2,
    SCHED_R_DRIFT = 1 << 3,
    SCHED_R_MISSED = 1 << 4,
    SCHED_R_CONTROL = 1 << 5,
    SCHED_R_DEADLINE = 1 << 6,
    SCHED_R_UNPLUG = 1 << 7,
    SCHED_R_CAPACITY = 1 << 8,
    SCHED_R_TARGET = 1 << 9,
    SCHED_R_SHORT = 1 << 10, /* the plan's windows are over and the car is short */
    SCHED_R_LIMIT = 1 << 11, /* the car's own charge limit moved across the target */
};
#define SCHED_R_COUNT 12

/* "plugin", "forecast", ... for metrics and logs. */
const char *sched_reason_name(int bit_index);

struct sched_core;

struct sched_core *sched_core_create(const struct sched_config *cfg,
                                     const struct sched_output_ops *ops, void *opaque);
void sched_core_destroy(struct sched_core *c);

/* Before this, inputs rebuild state only; after, flush plans. */
void sched_core_set_live(struct sched_core *c, bool live);

/* Fraction of each site's capacity this replica may use (its share of the
 * fleet's partitions), (0, 1]. */
void sched_core_set_capacity_share(struct sched_core *c, double share);

/* ---- inputs (partition: the Kafka partition of the vehicle's records) */
int sched_core_on_vehicle(struct sched_core *c, const struct d2ev_vehicle *v, int32_t partition,
                          int64_t now);
int sched_core_on_vehicle_deleted(struct sched_core *c, const char *vehicle_id, int64_t now);
int sched_core_on_telemetry(struct sched_core *c, const struct d2ev_telemetry *t, int32_t partition,
                            int64_t now);
int sched_core_on_session(struct sched_core *c, const struct d2ev_session *s, int32_t partition,
                          int64_t now);
int sched_core_on_control(struct sched_core *c, const struct d2ev_control *ctl, int32_t partition,
                          int64_t now);
/* Our own compacted output, replayed at start-up: restores versions and plans. */
int sched_core_on_schedule(struct sched_core *c, const struct d2ev_schedule *s, int32_t partition,
                           int64_t now);
int sched_core_on_schedule_deleted(struct sched_core *c, const char *vehicle_id);
/* Returns an enum forecast_offer (>= 0) or D2EV_ERR_INVALID with err (the
 * caller dead-letters). */
int sched_core_on_forecast(struct sched_core *c, const struct d2ev_forecast *f, int64_t now,
                           struct d2ev_err *err);
int sched_core_on_capacity(struct sched_core *c, const struct d2ev_capacity *cap, int64_t now,
                           struct d2ev_err *err);

/* Forget the vehicles of a partition this replica no longer owns. */
void sched_core_drop_partition(struct sched_core *c, int32_t partition);

/* Time-driven triggers (ready-by passed, windows missed). Cheap enough to
 * call every second. */
void sched_core_tick(struct sched_core *c, int64_t now);

/* Plan every marked vehicle and emit the outputs. Returns the number of
 * schedules produced, or a negative code from an output callback. */
int sched_core_flush(struct sched_core *c, int64_t now);

/* ---- inspection (tests, metrics) */
size_t sched_core_vehicle_count(const struct sched_core *c);
size_t sched_core_dirty_count(const struct sched_core *c);

struct sched_vehicle_view {
    bool known, plugged;
    double soc;
    int64_t version;
    enum d2ev_schedule_status status;
    size_t nwindows;
    const struct d2ev_window *windows; /* borrowed until the next call into the core */
    int64_t ready_by;
    unsigned dirty;
};

/* Returns false when the vehicle is unknown. */
bool sched_core_view(const struct sched_core *c, const char *vehicle_id,
                     struct sched_vehicle_view *out);

#endif
