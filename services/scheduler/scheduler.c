/*
 * scheduler.c: d2ev-scheduler. Consumes d2ev.vehicles and d2ev.schedules
 * (compacted state, replayed at every assignment), d2ev.telemetry,
 * d2ev.sessions and d2ev.control in the consumer group, and d2ev.forecasts and
 * d2ev.capacity in full as a reader; produces d2ev.schedules,
 * d2ev.notifications and d2ev.deadletter. The decisions live in core.c.
 *
 * Loop: poll both consumers -> decode and feed the core -> (when caught up)
 * plan every vehicle the batch marked -> flush the producer -> mark the
 * batch done and commit. An offset is committed only after the schedules its
 * messages caused are acknowledged.
 */
#include "scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "d2ev/clock.h"
#include "d2ev/envelope.h"
#include "d2ev/events.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/topics.h"

#define SERVICE "scheduler"

struct scheduler_config {
    double efficiency;
    double taper_soc, taper_min_power;
    int64_t ready_margin_minutes;
    double default_power_kw;
    double default_battery_kwh;
    const char *solver;
    int64_t milp_time_limit_ms;
    int64_t dp_max_cells;
    double drift_pct;
    int64_t missed_grace_minutes;
    int64_t min_replan_minutes;
    double max_price_per_kwh;
    bool fleet;
    int64_t fleet_iterations;
    int64_t fleet_time_limit_ms;
    double fleet_target_gap;
    int64_t batch_max;
    int64_t tick_ms;
};

#define F(x) offsetof(struct scheduler_config, x)
static const struct d2ev_cfg_entry scheduler_table[] = {
    { "efficiency", D2EV_CFG_DOUBLE, F(efficiency), "0.9",
      "charging efficiency: battery kWh per grid kWh (costs are paid on grid kWh)", 0.5, 1 },
    { "ready-margin-minutes", D2EV_CFG_INT, F(ready_margin_minutes), "15",
      "plans finish this long before the ready-by time when the target fits, to absorb command "
      "latency",
      0, 240 },
    { "taper-soc", D2EV_CFG_DOUBLE, F(taper_soc), "80",
      "charging slows above this SoC (%); 100 turns the taper model off", 50, 100 },
    { "taper-min-power", D2EV_CFG_DOUBLE, F(taper_min_power), "0.2",
      "share of full power left at 100 % SoC (linear from taper-soc)", 0.05, 1 },
    { "default-power-kw", D2EV_CFG_DOUBLE, F(default_power_kw), "7.4",
      "charge power when the vehicle record has none", 0.5, 400 },
    { "default-battery-kwh", D2EV_CFG_DOUBLE, F(default_battery_kwh), "60",
      "battery size when neither the vehicle record nor telemetry has one", 1, 300 },
    { "solver", D2EV_CFG_STR, F(solver), "auto",
      "auto (exact greedy, exact DP for window limits, GLPK MILP when the DP cannot) or glpk "
      "(GLPK LP/MILP for every plan)" },
    { "milp-time-limit-ms", D2EV_CFG_INT, F(milp_time_limit_ms), "2000",
      "GLPK MILP time limit per vehicle; then the best plan found, or the LP", 10, 600000 },
    { "dp-max-cells", D2EV_CFG_INT, F(dp_max_cells), "4000000",
      "largest window DP (states x slots) before the MILP is used instead", 1000, 100000000 },
    { "drift-pct", D2EV_CFG_DOUBLE, F(drift_pct), "5",
      "re-plan when the SoC is this many points off the planned trajectory", 0.5, 100 },
    { "missed-grace-minutes", D2EV_CFG_INT, F(missed_grace_minutes), "15",
      "a window not charging this long after it started counts as missed", 1, 240 },
    { "min-replan-minutes", D2EV_CFG_INT, F(min_replan_minutes), "10",
      "at most one drift or missed-window re-plan per vehicle per this many minutes", 0, 1440 },
    { "max-price-per-kwh", D2EV_CFG_DOUBLE, F(max_price_per_kwh), "10",
      "forecast prices beyond +-this are refused as a unit mistake (pence, per MWh)", 0.1, 1000 },
    { "fleet", D2EV_CFG_BOOL, F(fleet), "true",
      "plan the vehicles of a site with a d2ev.capacity record together under its limit" },
    { "fleet-iterations", D2EV_CFG_INT, F(fleet_iterations), "60",
      "price-adjustment (subgradient) iterations per fleet solve", 1, 10000 },
    { "fleet-time-limit-ms", D2EV_CFG_INT, F(fleet_time_limit_ms), "5000",
      "time limit of one fleet solve", 10, 600000 },
    { "fleet-target-gap", D2EV_CFG_DOUBLE, F(fleet_target_gap), "0.001",
      "stop a fleet solve once within this relative gap of the lower bound", 0, 1 },
    { "batch-max", D2EV_CFG_INT, F(batch_max), "2000", "messages per consumer poll", 1, 100000 },
    { "tick-ms", D2EV_CFG_INT, F(tick_ms), "1000",
      "real milliseconds between checks of time-driven triggers (ready-by passed)", 10, 60000 },
    D2EV_CFG_END,
};
#undef F

struct scheduler {
    struct d2ev_service *svc;
    struct d2ev_producer *producer;
    struct d2ev_consumer *group, *reader;
    struct sched_core *core;
    bool live;
    struct d2ev_metric *m_dead, *m_msgs;
};

/* ------------------------------------------------------------ outputs */

static int out_schedule(void *opaque, const struct d2ev_schedule *s)
{
    struct scheduler *S = opaque;
    json_t *j = d2ev_schedule_encode(s);
    if (!j)
        return D2EV_ERR_NOMEM;
    struct d2ev_err err = { 0 };
    int rc = d2ev_producer_send_json(S->producer, D2EV_TOPIC_SCHEDULES, s->vehicle_id, j, &err);
    json_decref(j);
    if (rc)
        d2ev_log_error("cannot produce schedule", D2EV_LF_STR("vehicle_id", s->vehicle_id),
                       D2EV_LF_STR("error", err.msg));
    return rc;
}

static int out_tombstone(void *opaque, const char *vehicle_id)
{
    struct scheduler *S = opaque;
    struct d2ev_err err = { 0 };
    int rc = d2ev_producer_send(S->producer, D2EV_TOPIC_SCHEDULES, vehicle_id, NULL, 0, &err);
    if (rc)
        d2ev_log_error("cannot produce tombstone", D2EV_LF_STR("vehicle_id", vehicle_id),
                       D2EV_LF_STR("error", err.msg));
    return rc;
}

static int out_notify(void *opaque, const struct d2ev_notification *n)
{
    struct scheduler *S = opaque;
    json_t *j = d2ev_notification_encode(n);
    if (!j)
        return D2EV_ERR_NOMEM;
    struct d2ev_err err = { 0 };
    int rc = d2ev_producer_send_json(S->producer, D2EV_TOPIC_NOTIFICATIONS, n->vehicle_id, j, &err);
    json_decref(j);
    return rc;
}

/* ------------------------------------------------------------ inputs */

/* Dead-letter msg with reason (a replay is only logged). */
static int reject(struct scheduler *S, const rd_kafka_message_t *msg, const char *reason)
{
    bool replay = d2ev_consumer_is_replay(S->group, msg) || d2ev_consumer_is_replay(S->reader, msg);
    return d2ev_deadletter_reject(S->producer, "d2ev-" SERVICE, msg, reason, replay, S->m_dead);
}

/* The key must name the vehicle the payload is about. */
static int check_key(struct scheduler *S, const rd_kafka_message_t *msg, const char *id, bool *ok)
{
    char key[D2EV_VEHICLE_ID_MAX + 2];
    d2ev_msg_key(msg, key, sizeof(key));
    *ok = !strcmp(key, id);
    if (*ok)
        return D2EV_OK;
    char reason[200];
    snprintf(reason, sizeof(reason), "key \"%.64s\" does not match vehicle_id \"%.64s\"", key, id);
    return reject(S, msg, reason);
}

/* Decode msg into var, or dead-letter it (running `cleanup` on the partly
 * decoded value) and return. */
#define DECODE_OR_REJECT(type, var, cleanup)                                                       \
    struct d2ev_##type var;                                                                        \
    memset(&var, 0, sizeof(var));                                                                  \
    if (d2ev_##type##_decode(msg->payload, msg->len, &var, &err) != D2EV_OK) {                     \
        cleanup;                                                                                   \
        return reject(S, msg, err.msg);                                                            \
    }

static int handle_group(struct scheduler *S, rd_kafka_message_t *msg, int64_t now)
{
    const char *topic = rd_kafka_topic_name(msg->rkt);
    struct d2ev_err err = { 0 };
    bool ok = true;
    int rc = D2EV_OK;
    d2ev_metric_inc(S->m_msgs);
    if (!msg->payload) { /* tombstones of the compacted topics */
        char key[D2EV_VEHICLE_ID_MAX + 2];
        d2ev_msg_key(msg, key, sizeof(key));
        if (!key[0])
            return reject(S, msg, "tombstone without a key");
        if (!strcmp(topic, D2EV_TOPIC_VEHICLES))
            return sched_core_on_vehicle_deleted(S->core, key, now);
        if (!strcmp(topic, D2EV_TOPIC_SCHEDULES))
            return sched_core_on_schedule_deleted(S->core, key);
        return reject(S, msg, "empty message");
    }
    if (!strcmp(topic, D2EV_TOPIC_TELEMETRY)) {
        DECODE_OR_REJECT(telemetry, t, (void)0)
        if (!(rc = check_key(S, msg, t.vehicle_id, &ok)) && ok)
            rc = sched_core_on_telemetry(S->core, &t, msg->partition, now);
    } else if (!strcmp(topic, D2EV_TOPIC_VEHICLES)) {
        DECODE_OR_REJECT(vehicle, v, (void)0)
        if (!(rc = check_key(S, msg, v.vehicle_id, &ok)) && ok)
            rc = sched_core_on_vehicle(S->core, &v, msg->partition, now);
    } else if (!strcmp(topic, D2EV_TOPIC_SESSIONS)) {
        DECODE_OR_REJECT(session, s, (void)0)
        if (!(rc = check_key(S, msg, s.vehicle_id, &ok)) && ok)
            rc = sched_core_on_session(S->core, &s, msg->partition, now);
    } else if (!strcmp(topic, D2EV_TOPIC_CONTROL)) {
        DECODE_OR_REJECT(control, c, (void)0)
        if (!(rc = check_key(S, msg, c.vehicle_id, &ok)) && ok)
            rc = sched_core_on_control(S->core, &c, msg->partition, now);
    } else if (!strcmp(topic, D2EV_TOPIC_SCHEDULES)) {
        DECODE_OR_REJECT(schedule, s, d2ev_schedule_clear(&s))
        if (!(rc = check_key(S, msg, s.vehicle_id, &ok)) && ok)
            rc = sched_core_on_schedule(S->core, &s, msg->partition, now);
        d2ev_schedule_clear(&s);
    }
    return rc;
}

static int handle_reader(struct scheduler *S, rd_kafka_message_t *msg, int64_t now)
{
    const char *topic = rd_kafka_topic_name(msg->rkt);
    struct d2ev_err err = { 0 };
    int rc = D2EV_OK;
    d2ev_metric_inc(S->m_msgs);
    if (!msg->payload)
        return D2EV_OK; /* a compacted-away site or forecast key */
    if (!strcmp(topic, D2EV_TOPIC_FORECASTS)) {
        DECODE_OR_REJECT(forecast, f, d2ev_forecast_clear(&f))
        rc = sched_core_on_forecast(S->core, &f, now, &err);
        d2ev_forecast_clear(&f);
        if (rc < 0 && rc != D2EV_ERR_NOMEM)
            return reject(S, msg, err.msg);
    } else if (!strcmp(topic, D2EV_TOPIC_CAPACITY)) {
        DECODE_OR_REJECT(capacity, c, d2ev_capacity_clear(&c))
        rc = sched_core_on_capacity(S->core, &c, now, &err);
        d2ev_capacity_clear(&c);
        if (rc < 0 && rc != D2EV_ERR_NOMEM)
            return reject(S, msg, err.msg);
    }
    return rc < 0 ? rc : D2EV_OK;
}

/* ------------------------------------------------------------ rebalances */

static void on_assign(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
    struct scheduler *S = opaque;
    int mine = 0;
    for (int i = 0; i < parts->cnt; i++)
        mine += !strcmp(parts->elems[i].topic, D2EV_TOPIC_VEHICLES);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_t *rk = d2ev_consumer_handle(S->group);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, D2EV_TOPIC_VEHICLES, NULL);
    int total = 0;
    if (rkt && rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1)
        total = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    double share = total > 0 ? (double)mine / total : 1;
    sched_core_set_capacity_share(S->core, share);
    d2ev_log_info("fleet share", D2EV_LF_INT("vehicle_partitions", mine), D2EV_LF_INT("of", total),
                  D2EV_LF_DBL("capacity_share", share));
}

static void on_revoke(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
    struct scheduler *S = opaque;
    for (int i = 0; i < parts->cnt; i++)
        if (!strcmp(parts->elems[i].topic, D2EV_TOPIC_VEHICLES))
            sched_core_drop_partition(S->core, parts->elems[i].partition);
}

/* ------------------------------------------------------------ run */

static void to_core_config(const struct scheduler_config *c, struct sched_config *sc)
{
    sched_config_default(sc);
    sc->plan.efficiency = c->efficiency;
    sc->plan.taper_soc = c->taper_soc;
    sc->plan.taper_min = c->taper_min_power;
    sc->plan.ready_margin_ms = c->ready_margin_minutes * 60000;
    sc->plan.default_power_kw = c->default_power_kw;
    sc->plan.default_battery_kwh = c->default_battery_kwh;
    sc->plan.solver = c->solver && !strcmp(c->solver, "glpk") ? PLAN_SOLVER_GLPK : PLAN_SOLVER_AUTO;
    sc->plan.milp_time_limit_ms = (int)c->milp_time_limit_ms;
    sc->plan.dp_max_cells = (size_t)c->dp_max_cells;
    sc->drift_pct = c->drift_pct;
    sc->missed_grace_ms = c->missed_grace_minutes * 60000;
    sc->min_replan_interval_ms = c->min_replan_minutes * 60000;
    sc->limits.max_abs_price = c->max_price_per_kwh;
    sc->fleet = c->fleet;
    sc->fleet_opt.max_iterations = (int)c->fleet_iterations;
    sc->fleet_opt.time_limit_ms = c->fleet_time_limit_ms;
    sc->fleet_opt.target_gap = c->fleet_target_gap;
}

static int loop(struct scheduler *S, const struct scheduler_config *cfg)
{
    size_t max = (size_t)cfg->batch_max;
    rd_kafka_message_t **gm = calloc(max, sizeof(*gm)), **rm = calloc(max, sizeof(*rm));
    if (!gm || !rm) {
        free(gm);
        free(rm);
        return D2EV_ERR_NOMEM;
    }
    struct d2ev_metric *m_batch = d2ev_metric_histogram(
        "d2ev_batch_seconds", "Time to process, flush and commit one batch", NULL, NULL, 0);
    int64_t next_tick = 0;
    int rc = D2EV_OK;
    while (rc == D2EV_OK && d2ev_service_running(S->svc)) {
        d2ev_service_heartbeat(S->svc);
        size_t ng = d2ev_consumer_poll(S->group, gm, max, 50);
        size_t nr = d2ev_consumer_poll(S->reader, rm, max, ng ? 0 : 50);
        int64_t t0 = d2ev_clock_mono_ms(), now = d2ev_clock_now_ms();
        /* forecasts first: a batch that brings both plans on the new one */
        for (size_t i = 0; i < nr && rc == D2EV_OK; i++)
            rc = handle_reader(S, rm[i], now);
        for (size_t i = 0; i < ng && rc == D2EV_OK; i++)
            rc = handle_group(S, gm[i], now);
        bool live = d2ev_consumer_caught_up(S->group) && d2ev_consumer_caught_up(S->reader);
        if (live != S->live)
            d2ev_log_info(live ? "caught up: planning" : "catching up: planning paused",
                          D2EV_LF_INT("vehicles", sched_core_vehicle_count(S->core)));
        S->live = live;
        sched_core_set_live(S->core, live);
        d2ev_service_set_ready(S->svc, live,
                               live ? NULL : "replaying vehicles, schedules and forecasts");
        if (rc == D2EV_OK && live && d2ev_clock_mono_ms() >= next_tick) {
            sched_core_tick(S->core, now);
            next_tick = d2ev_clock_mono_ms() + cfg->tick_ms;
        }
        int produced = 0;
        if (rc == D2EV_OK) {
            produced = sched_core_flush(S->core, now);
            if (produced < 0)
                rc = produced;
        }
        if (rc == D2EV_OK && (ng || produced)) {
            struct d2ev_err err = { 0 };
            rc = d2ev_producer_flush(S->producer, 30000, &err);
            if (rc) {
                d2ev_log_error("cannot deliver outputs; batch left uncommitted",
                               D2EV_LF_STR("error", err.msg));
            } else if (live) {
                d2ev_consumer_done(S->group, gm, ng);
                if (d2ev_consumer_commit(S->group, false, &err) != D2EV_OK)
                    d2ev_log_warn("offset commit failed", D2EV_LF_STR("error", err.msg));
            }
            d2ev_metric_observe(m_batch, (double)(d2ev_clock_mono_ms() - t0) / 1000.0);
            if (produced > 1000)
                d2ev_log_info("batch planned", D2EV_LF_INT("schedules", produced),
                              D2EV_LF_INT("ms", d2ev_clock_mono_ms() - t0));
        }
        for (size_t i = 0; i < ng; i++)
            rd_kafka_message_destroy(gm[i]);
        for (size_t i = 0; i < nr; i++)
            rd_kafka_message_destroy(rm[i]);
        d2ev_producer_poll(S->producer, 0);
        if (d2ev_producer_fatal(S->producer))
            rc = D2EV_ERR_KAFKA;
    }
    free(gm);
    free(rm);
    return rc;
}

static int scheduler_run(struct d2ev_service *svc, void *config)
{
    const struct scheduler_config *cfg = config;
    if (cfg->solver && strcmp(cfg->solver, "auto") && strcmp(cfg->solver, "glpk")) {
        d2ev_log_error("--solver: want auto or glpk", D2EV_LF_STR("got", cfg->solver));
        return D2EV_EXIT_USAGE;
    }
    struct scheduler S = { .svc = svc };
    struct sched_config sc;
    to_core_config(cfg, &sc);
    static const struct sched_output_ops ops = { out_schedule, out_tombstone, out_notify };
    struct d2ev_err err = { 0 };
    int status = D2EV_EXIT_FAILURE;
    S.m_dead = d2ev_metric_counter("d2ev_scheduler_rejected_total",
                                   "Inputs dead-lettered by the scheduler", NULL);
    S.m_msgs = d2ev_metric_counter("d2ev_scheduler_inputs_total", "Inputs handled", NULL);
    S.core = sched_core_create(&sc, &ops, &S);
    S.producer = S.core ? d2ev_producer_create(d2ev_service_kafka(svc), &err) : NULL;
    if (!S.producer) {
        d2ev_log_error("cannot start", D2EV_LF_STR("error", S.core ? err.msg : "out of memory"));
        goto out;
    }
    static const char *const topics[] = { D2EV_TOPIC_VEHICLES,  D2EV_TOPIC_SCHEDULES,
                                          D2EV_TOPIC_TELEMETRY, D2EV_TOPIC_SESSIONS,
                                          D2EV_TOPIC_CONTROL,   NULL };
    static const char *const state[] = { D2EV_TOPIC_VEHICLES, D2EV_TOPIC_SCHEDULES, NULL };
    static const char *const reader_topics[] = { D2EV_TOPIC_FORECASTS, D2EV_TOPIC_CAPACITY, NULL };
    struct d2ev_consumer_conf gc = {
        .kafka = d2ev_service_kafka(svc),
        .group_id = d2ev_service_group(svc),
        .topics = topics,
        .state_topics = state,
        .on_assign = on_assign,
        .on_revoke = on_revoke,
        .opaque = &S,
        .producer = S.producer,
        .instance_id = d2ev_service_instance(svc),
    };
    struct d2ev_consumer_conf rc_conf = {
        .kafka = d2ev_service_kafka(svc),
        .group_id = NULL,
        .topics = reader_topics,
        .instance_id = d2ev_service_instance(svc),
    };
    S.group = d2ev_consumer_create(&gc, &err);
    if (S.group)
        S.reader = d2ev_consumer_create(&rc_conf, &err);
    if (!S.group || !S.reader) {
        d2ev_log_error("cannot create consumers", D2EV_LF_STR("error", err.msg));
        goto out;
    }
    int rc = loop(&S, cfg);
    status = rc == D2EV_OK ? D2EV_EXIT_OK : D2EV_EXIT_FAILURE;
    if (rc)
        d2ev_log_error("stopping on error", D2EV_LF_STR("error", d2ev_rc_name(rc)));
out:
    d2ev_consumer_close(S.group);
    d2ev_consumer_close(S.reader);
    d2ev_producer_destroy(S.producer);
    sched_core_destroy(S.core);
    return status;
}

const struct d2ev_service_def d2ev_scheduler_def = {
    .name = SERVICE,
    .summary = "Plans when every plugged-in car charges: the cheapest or greenest schedule "
               "that reaches its target SoC by its ready-by time, re-planned whenever a "
               "forecast, preference, SoC or plug state changes. Publishes d2ev.schedules and "
               "d2ev.notifications.",
    .default_admin_port = 9104,
    .needs_kafka = true,
    .config_title = "Scheduler",
    .config = scheduler_table,
    .config_size = sizeof(struct scheduler_config),
    .run = scheduler_run,
};
