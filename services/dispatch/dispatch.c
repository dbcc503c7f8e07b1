/*
 * dispatch.c: d2ev-dispatch. In its consumer group it reads, for the
 * partitions it owns, d2ev.vehicles, d2ev.credentials, d2ev.schedules and its
 * own d2ev.dispatch history (state: replayed from the beginning at every
 * assignment) and d2ev.telemetry; it sends START and STOP through the OEM
 * engine with the credentials view as token source, and produces
 * d2ev.dispatch, d2ev.notifications and d2ev.deadletter. The decisions live in
 * core.c; docs/dispatch.md describes the behaviour.
 *
 * One thread: d2ev_service_loop() polls the consumer and hands each message
 * to handle(); tick() fires the core's timers, polls the OEM engine (whose
 * callbacks feed the core) and flushes what they produced.
 */
#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "credview.h"
#include "d2ev/clock.h"
#include "d2ev/envelope.h"
#include "d2ev/events.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/oem.h"
#include "d2ev/oem_engine.h"
#include "d2ev/topics.h"
#include "d2ev/util.h"

#define SERVICE  "dispatch"
#define MAX_OEMS 8
/* Longest the tick polls the OEM engine while commands are under way. */
#define ENGINE_SLICE_MS 20

struct dispatch_config {
    const char *credentials_keys;
    const char *oems;
    int64_t confirm_timeout_s;
    int64_t max_attempts;
    int64_t retry_base_s;
    int64_t retry_max_s;
    int64_t schedule_max_age_min;
    int64_t ready_by_grace_min;
    int64_t command_deadline_ms;
    int64_t batch_max;
    int64_t poll_ms;
    struct d2ev_oem_paths paths;
};

#define F(x) offsetof(struct dispatch_config, x)
static const struct d2ev_cfg_entry dispatch_table[] = {
    { "credentials-keys", D2EV_CFG_SECRET, F(credentials_keys), NULL,
      "keyring that opens the sealed OEM tokens on d2ev.credentials (\"kid:<base64 32 "
      "bytes>,...\")",
      0, 0, true },
    { "oems", D2EV_CFG_STR, F(oems), "smartcar,tesla,enode",
      "OEM adapters to load (comma-separated); cars of other OEMs get a failed command" },
    { "confirm-timeout-s", D2EV_CFG_INT, F(confirm_timeout_s), "600",
      "telemetry must show the car obeyed within this many seconds (d2ev clock) of the OEM "
      "accepting a command, or it is retried",
      1, 86400 },
    { "max-attempts", D2EV_CFG_INT, F(max_attempts), "3",
      "sends of one command before an alert (d2ev.dispatch alert and a notification)", 1, 100 },
    { "retry-base-s", D2EV_CFG_INT, F(retry_base_s), "60",
      "first retry delay (d2ev clock seconds); doubles per attempt with 20 % jitter", 1, 86400 },
    { "retry-max-s", D2EV_CFG_INT, F(retry_max_s), "600",
      "longest retry delay (d2ev clock seconds)", 1, 86400 },
    { "schedule-max-age-min", D2EV_CFG_INT, F(schedule_max_age_min), "1440",
      "a schedule not refreshed for this many minutes is stale: the car is left charging "
      "(resumed if we paused it)",
      10, 100000 },
    { "ready-by-grace-min", D2EV_CFG_INT, F(ready_by_grace_min), "10",
      "after a schedule's ready-by time, send nothing for this many minutes while the next "
      "plan arrives; then resume the car if we paused it",
      0, 1440 },
    { "command-deadline-ms", D2EV_CFG_INT, F(command_deadline_ms), "120000",
      "real time the OEM engine may spend on one command (wake, retries, Enode action)", 1000,
      3600000 },
    { "batch-max", D2EV_CFG_INT, F(batch_max), "2000", "messages per consumer poll", 1, 100000 },
    { "poll-ms", D2EV_CFG_INT, F(poll_ms), "5",
      "longest wait for Kafka input between timer and OEM engine checks (real ms)", 1, 1000 },
    D2EV_CFG_END,
};
#undef F

static const struct d2ev_service_section dispatch_sections[] = {
    { "OEM adapters", d2ev_oem_paths_table, offsetof(struct dispatch_config, paths) },
    { NULL, NULL, 0 },
};

struct dispatcher {
    struct d2ev_service *svc;
    const struct dispatch_config *cfg;
    struct d2ev_producer *producer;
    struct d2ev_consumer *consumer;
    struct d2ev_keyring *keyring;
    struct d2ev_credview *creds;
    struct d2ev_oem_engine *engine;
    struct d2ev_oem *oems[MAX_OEMS];
    size_t noems;
    struct dsp_core *core;
    int32_t partition_cnt;
    bool live;
    bool produced; /* outputs since the last flush */
    int failed;    /* an output failed inside an engine callback */
    char why[D2EV_ERR_MSG_MAX];
    struct d2ev_metric *m_dead, *m_inputs, *m_stale, *m_confirmed, *m_alerts, *m_notified;
    struct d2ev_metric *m_oem_seconds, *m_confirm_seconds, *m_vehicles, *m_in_flight;
};

/* ------------------------------------------------------------ outputs */

/* A command handed to the engine, until its callback. */
struct pending {
    struct dispatcher *D;
    uint64_t token;
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
};

static void on_command_done(void *arg, const struct d2ev_oem_outcome *o)
{
    struct pending *p = arg;
    struct dispatcher *D = p->D;
    d2ev_metric_observe(D->m_oem_seconds, (double)o->latency_ms / 1000.0);
    struct dsp_result r = {
        .cls = o->cls,
        .command = o->command,
        .woke = o->woke,
        .latency_ms = o->latency_ms,
        .retry_after_ms = (int64_t)((double)o->retry_after_ms * d2ev_clock_speed()),
        .message = o->message,
    };
    int rc = dsp_core_on_result(D->core, p->vehicle_id, p->token, &r, d2ev_clock_now_ms());
    if (rc && !D->failed)
        D->failed = rc;
    free(p);
}

static int out_submit(void *opaque, const struct dsp_command_req *req, const char **why)
{
    struct dispatcher *D = opaque;
    struct pending *p = calloc(1, sizeof(*p));
    if (!p) {
        *why = "out of memory";
        return D2EV_ERR_NOMEM;
    }
    p->D = D;
    p->token = req->token;
    d2ev_strlcpy(p->vehicle_id, req->vehicle_id, sizeof(p->vehicle_id));
    struct d2ev_oem_task task = {
        .oem = req->oem,
        .op = req->command == D2EV_CMD_START ? D2EV_OEM_OP_START : D2EV_OEM_OP_STOP,
        .vehicle = req->oem_vehicle_id,
        .key = req->vehicle_id,
        .deadline_ms = D->cfg->command_deadline_ms,
    };
    struct d2ev_err err = { 0 };
    int rc = d2ev_oem_engine_submit(D->engine, &task, on_command_done, p, NULL, &err);
    if (rc) {
        free(p);
        d2ev_strlcpy(D->why, err.msg, sizeof(D->why));
        *why = D->why;
    }
    return rc;
}

static struct d2ev_metric *command_counter(const char *oem, const struct d2ev_dispatch *d)
{
    char labels[160];
    snprintf(labels, sizeof(labels), "oem=\"%s\",command=\"%s\",result=\"%s\"",
             oem && *oem ? oem : "unknown", d2ev_command_name(d->command),
             d2ev_dispatch_result_name(d->result));
    return d2ev_metric_counter("d2ev_dispatch_commands_total",
                               "Commands and their outcomes, by OEM, command and result", labels);
}

static int send_event(struct dispatcher *D, const char *topic, const char *key, json_t *j)
{
    if (!j)
        return D2EV_ERR_NOMEM;
    struct d2ev_err err = { 0 };
    int rc = d2ev_producer_send_json(D->producer, topic, key, j, &err);
    json_decref(j);
    if (rc)
        d2ev_log_error("cannot produce", D2EV_LF_STR("topic", topic), D2EV_LF_STR("key", key),
                       D2EV_LF_STR("error", err.msg));
    else
        D->produced = true;
    return rc;
}

static int out_dispatch(void *opaque, const struct d2ev_dispatch *d, const char *oem)
{
    struct dispatcher *D = opaque;
    d2ev_log_debug("dispatch", D2EV_LF_STR("vehicle_id", d->vehicle_id),
                   D2EV_LF_STR("command_id", d->command_id),
                   D2EV_LF_STR("command", d2ev_command_name(d->command)),
                   D2EV_LF_STR("result", d2ev_dispatch_result_name(d->result)),
                   D2EV_LF_INT("attempt", d->attempt), D2EV_LF_INT("latency_ms", d->latency_ms),
                   D2EV_LF_STR("detail", d->detail));
    d2ev_metric_inc(command_counter(oem, d));
    if (d->result == D2EV_DISPATCH_CONFIRMED) {
        d2ev_metric_inc(D->m_confirmed);
        d2ev_metric_observe(D->m_confirm_seconds, (double)d->latency_ms / 1000.0);
    } else if (d->result == D2EV_DISPATCH_ALERT || d->result == D2EV_DISPATCH_FAILED) {
        d2ev_metric_inc(D->m_alerts);
    }
    return send_event(D, D2EV_TOPIC_DISPATCH, d->vehicle_id, d2ev_dispatch_encode(d));
}

static int out_notify(void *opaque, const struct d2ev_notification *n)
{
    struct dispatcher *D = opaque;
    d2ev_metric_inc(D->m_notified);
    return send_event(D, D2EV_TOPIC_NOTIFICATIONS, n->vehicle_id, d2ev_notification_encode(n));
}

static void out_release_credentials(void *opaque, const char *vehicle_id)
{
    struct dispatcher *D = opaque;
    d2ev_credview_remove(D->creds, vehicle_id);
}

static const struct dsp_output_ops output_ops = { out_submit, out_dispatch, out_notify,
                                                  out_release_credentials };

/* ------------------------------------------------------------ inputs */

/* Dead-letter msg with reason (a replay is only logged). */
static int reject(struct dispatcher *D, const rd_kafka_message_t *msg, const char *reason)
{
    bool replay = d2ev_consumer_is_replay(D->consumer, msg);
    int rc = d2ev_deadletter_reject(D->producer, "d2ev-" SERVICE, msg, reason, replay, D->m_dead);
    if (!rc && !replay)
        D->produced = true;
    return rc;
}

/* The key must name the vehicle the payload is about: else dead-letter. */
static bool key_matches(struct dispatcher *D, const rd_kafka_message_t *msg, const char *id,
                        int *rc)
{
    char key[D2EV_VEHICLE_ID_MAX + 2];
    d2ev_msg_key(msg, key, sizeof(key));
    if (!strcmp(key, id))
        return true;
    char reason[200];
    snprintf(reason, sizeof(reason), "key \"%.64s\" does not match vehicle_id \"%.64s\"", key, id);
    *rc = reject(D, msg, reason);
    return false;
}

static int on_tombstone(struct dispatcher *D, rd_kafka_message_t *msg, const char *topic,
                        int64_t now)
{
    char key[D2EV_VEHICLE_ID_MAX + 2];
    d2ev_msg_key(msg, key, sizeof(key));
    if (!key[0])
        return reject(D, msg, "tombstone without a key");
    if (!strcmp(topic, D2EV_TOPIC_VEHICLES))
        return dsp_core_on_vehicle_deleted(D->core, key, now);
    if (!strcmp(topic, D2EV_TOPIC_SCHEDULES))
        return dsp_core_on_schedule_deleted(D->core, key, now);
    if (!strcmp(topic, D2EV_TOPIC_CREDENTIALS)) {
        /* a car we paused keeps its credentials until it is resumed */
        if (dsp_core_on_credentials_deleted(D->core, key, msg->partition))
            d2ev_credview_remove(D->creds, key);
        return D2EV_OK;
    }
    return reject(D, msg, "empty message");
}

static int on_credentials(struct dispatcher *D, rd_kafka_message_t *msg)
{
    char key[D2EV_VEHICLE_ID_MAX + 2];
    d2ev_msg_key(msg, key, sizeof(key));
    if (dsp_core_on_credentials(D->core, key))
        d2ev_credview_remove(D->creds, key); /* the deferred tombstone first */
    struct d2ev_err err = { 0 };
    if (d2ev_credview_apply(D->creds, msg, &err) != D2EV_OK)
        return reject(D, msg, err.msg);
    return D2EV_OK;
}

/* Decode msg into var, or dead-letter it and return. */
#define DECODE_OR_REJECT(type, var)                                                                \
    struct d2ev_##type var;                                                                        \
    memset(&var, 0, sizeof(var));                                                                  \
    if (d2ev_##type##_decode(msg->payload, msg->len, &var, &err) != D2EV_OK) {                     \
        d2ev_##type##_clear_if(&var);                                                              \
        return reject(D, msg, err.msg);                                                            \
    }                                                                                              \
    if (!key_matches(D, msg, var.vehicle_id, &rc)) {                                               \
        d2ev_##type##_clear_if(&var);                                                              \
        return rc;                                                                                 \
    }

/* Types without heap members need no clearing. */
#define d2ev_telemetry_clear_if(x) ((void)(x))
#define d2ev_vehicle_clear_if(x)   ((void)(x))
#define d2ev_dispatch_clear_if(x)  ((void)(x))
#define d2ev_schedule_clear_if(x)  d2ev_schedule_clear(x)

static int handle(void *opaque, rd_kafka_message_t *msg)
{
    struct dispatcher *D = opaque;
    const char *topic = rd_kafka_topic_name(msg->rkt);
    int64_t now = d2ev_clock_now_ms();
    struct d2ev_err err = { 0 };
    int rc = D2EV_OK;
    d2ev_metric_inc(D->m_inputs);
    if (!msg->payload)
        return on_tombstone(D, msg, topic, now);
    if (!strcmp(topic, D2EV_TOPIC_TELEMETRY)) {
        DECODE_OR_REJECT(telemetry, t)
        return dsp_core_on_telemetry(D->core, &t, msg->partition, now);
    }
    if (!strcmp(topic, D2EV_TOPIC_SCHEDULES)) {
        DECODE_OR_REJECT(schedule, s)
        enum dsp_apply applied = DSP_APPLIED;
        rc = dsp_core_on_schedule(D->core, &s, msg->partition, now, &applied);
        if (applied == DSP_STALE) {
            d2ev_metric_inc(D->m_stale);
            d2ev_log_debug("schedule ignored: not newer", D2EV_LF_STR("vehicle_id", s.vehicle_id),
                           D2EV_LF_INT("version", s.version));
        }
        d2ev_schedule_clear(&s);
        return rc;
    }
    if (!strcmp(topic, D2EV_TOPIC_DISPATCH)) {
        DECODE_OR_REJECT(dispatch, d)
        return dsp_core_on_history(D->core, &d, msg->partition, now);
    }
    if (!strcmp(topic, D2EV_TOPIC_VEHICLES)) {
        DECODE_OR_REJECT(vehicle, v)
        return dsp_core_on_vehicle(D->core, &v, msg->partition, now);
    }
    if (!strcmp(topic, D2EV_TOPIC_CREDENTIALS))
        return on_credentials(D, msg);
    return reject(D, msg, "unexpected topic");
}

/* ------------------------------------------------------------ the loop */

/* Once caught up, stop reading our own history: what comes now is the echo
 * of what we produce, which the core would ignore, and each batch of it
 * would cost the loop a blocking flush. A new assignment reads it again. */
static void pause_history(struct dispatcher *D)
{
    rd_kafka_t *rk = d2ev_consumer_handle(D->consumer);
    rd_kafka_topic_partition_list_t *all = NULL;
    if (rd_kafka_assignment(rk, &all) != RD_KAFKA_RESP_ERR_NO_ERROR || !all)
        return;
    rd_kafka_topic_partition_list_t *hist = rd_kafka_topic_partition_list_new(all->cnt);
    for (int i = 0; i < all->cnt; i++)
        if (!strcmp(all->elems[i].topic, D2EV_TOPIC_DISPATCH))
            rd_kafka_topic_partition_list_add(hist, D2EV_TOPIC_DISPATCH, all->elems[i].partition);
    if (hist->cnt && rd_kafka_pause_partitions(rk, hist) != RD_KAFKA_RESP_ERR_NO_ERROR)
        d2ev_log_warn("cannot pause the d2ev.dispatch partitions; their echo is read and ignored");
    rd_kafka_topic_partition_list_destroy(hist);
    rd_kafka_topic_partition_list_destroy(all);
}

static int tick(void *opaque)
{
    struct dispatcher *D = opaque;
    int64_t now = d2ev_clock_now_ms();
    bool live = d2ev_consumer_caught_up(D->consumer);
    if (live != D->live) {
        d2ev_log_info(live ? "caught up: dispatching" : "catching up: dispatch paused",
                      D2EV_LF_INT("vehicles", (int64_t)dsp_core_vehicle_count(D->core)));
        D->live = live;
        dsp_core_set_live(D->core, live, now);
        if (live)
            pause_history(D);
    }
    int rc = dsp_core_tick(D->core, now);
    if (rc < 0)
        return rc;
    /* while commands are under way the engine gets a slice of up to
     * ENGINE_SLICE_MS (the loop's consumer poll waits --poll-ms between
     * ticks); idle, one non-blocking poll */
    int64_t until = d2ev_clock_mono_ms() + ENGINE_SLICE_MS;
    do {
        if (d2ev_oem_engine_poll(D->engine, d2ev_oem_engine_pending(D->engine) ? 1 : 0) < 0) {
            d2ev_log_warn("OEM engine poll failed");
            break;
        }
    } while (d2ev_oem_engine_pending(D->engine) && !D->failed && d2ev_clock_mono_ms() < until);
    if (D->failed)
        return D->failed;
    if (D->produced || d2ev_producer_outq(D->producer) > 0) {
        /* serve delivery reports without waiting: a blocking flush here
         * would hold up every command under way (the loop flushes fully
         * before it commits input offsets) */
        struct d2ev_err err = { 0 };
        if (d2ev_producer_flush(D->producer, 0, &err) == D2EV_ERR_KAFKA) {
            d2ev_log_error("cannot deliver dispatch records", D2EV_LF_STR("error", err.msg));
            return D2EV_ERR_KAFKA;
        }
        D->produced = false;
    }
    d2ev_metric_set(D->m_vehicles, (double)dsp_core_vehicle_count(D->core));
    d2ev_metric_set(D->m_in_flight, (double)d2ev_oem_engine_pending(D->engine));
    return D2EV_OK;
}

static int32_t partition_count(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int32_t n = 0;
    if (rkt && rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1)
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return n;
}

/* Look up the output topics once, so the first record of a boundary does not
 * wait for the producer to fetch their metadata. */
static void warm_up(struct d2ev_producer *p)
{
    static const char *const outputs[] = { D2EV_TOPIC_DISPATCH, D2EV_TOPIC_NOTIFICATIONS,
                                           D2EV_TOPIC_DEADLETTER, D2EV_TOPIC_REG_REQUESTS };
    rd_kafka_t *rk = d2ev_producer_handle(p);
    for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++)
        if (partition_count(rk, outputs[i]) <= 0)
            d2ev_log_warn("no metadata for an output topic", D2EV_LF_STR("topic", outputs[i]));
}

static void on_assign(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
    struct dispatcher *D = opaque;
    rd_kafka_t *rk = d2ev_consumer_handle(D->consumer);
    D->partition_cnt = partition_count(rk, D2EV_TOPIC_CREDENTIALS);
    /* history partitions paused under an earlier assignment must be read
     * again, or the replay would never catch up */
    rd_kafka_topic_partition_list_t *hist = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++)
        if (!strcmp(parts->elems[i].topic, D2EV_TOPIC_DISPATCH))
            rd_kafka_topic_partition_list_add(hist, D2EV_TOPIC_DISPATCH, parts->elems[i].partition);
    if (hist->cnt)
        rd_kafka_resume_partitions(rk, hist);
    rd_kafka_topic_partition_list_destroy(hist);
}

static void on_revoke(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
    struct dispatcher *D = opaque;
    /* decide nothing new; commands under way finish and are recorded before
     * their cars move on (the consumer flushes the producer after this) */
    D->live = false;
    dsp_core_set_live(D->core, false, d2ev_clock_now_ms());
    size_t left = d2ev_oem_engine_drain(D->engine, 3000);
    if (left)
        d2ev_log_warn("commands still under way at revoke", D2EV_LF_INT("count", (int64_t)left));
    for (int i = 0; i < parts->cnt; i++)
        if (!strcmp(parts->elems[i].topic, D2EV_TOPIC_SCHEDULES))
            dsp_core_drop_partition(D->core, parts->elems[i].partition);
    if (D->partition_cnt > 0)
        d2ev_credview_remove_partitions(D->creds, parts, D->partition_cnt);
}

/* ------------------------------------------------------------ start-up */

static int load_oems(struct dispatcher *D, struct d2ev_err *err)
{
    char list[256];
    d2ev_strlcpy(list, D->cfg->oems ? D->cfg->oems : "", sizeof(list));
    char *save = NULL;
    for (char *name = strtok_r(list, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
        if (D->noems == MAX_OEMS)
            return d2ev_err_set(err, D2EV_ERR_LIMIT, "--oems: at most %d adapters", MAX_OEMS);
        struct d2ev_oem *o =
            d2ev_oem_open(D->cfg->paths.adapter_dir, D->cfg->paths.config_dir, name, err);
        if (!o)
            return D2EV_ERR_INVALID;
        D->oems[D->noems++] = o;
        if (d2ev_oem_engine_add(D->engine, o, err))
            return D2EV_ERR_INVALID;
    }
    if (!D->noems)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "--oems: no adapter named");
    return D2EV_OK;
}

static void make_metrics(struct dispatcher *D)
{
    static const double confirm_bounds[] = { 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200 };
    D->m_dead = d2ev_metric_counter("d2ev_dispatch_rejected_total",
                                    "Inputs dead-lettered by the dispatcher", NULL);
    D->m_inputs = d2ev_metric_counter("d2ev_dispatch_inputs_total", "Inputs handled", NULL);
    D->m_stale = d2ev_metric_counter("d2ev_dispatch_stale_schedules_total",
                                     "Schedules ignored because a newer version was seen", NULL);
    D->m_confirmed = d2ev_metric_counter("d2ev_dispatch_confirmations_total",
                                         "Commands confirmed by telemetry", NULL);
    D->m_alerts = d2ev_metric_counter("d2ev_dispatch_alerts_total",
                                      "Commands given up on (alert or failed)", NULL);
    D->m_notified = d2ev_metric_counter("d2ev_dispatch_notifications_total",
                                        "Notifications to drivers (car did not obey)", NULL);
    D->m_oem_seconds = d2ev_metric_histogram("d2ev_dispatch_command_seconds",
                                             "OEM round trip of one command attempt (real seconds)",
                                             NULL, NULL, 0);
    D->m_confirm_seconds = d2ev_metric_histogram(
        "d2ev_dispatch_confirm_seconds",
        "First send to confirmation by telemetry (seconds on the d2ev clock)", NULL, confirm_bounds,
        sizeof(confirm_bounds) / sizeof(confirm_bounds[0]));
    D->m_vehicles = d2ev_metric_gauge("d2ev_dispatch_vehicles", "Vehicles tracked", NULL);
    D->m_in_flight =
        d2ev_metric_gauge("d2ev_dispatch_in_flight", "Commands under way at the OEMs", NULL);
}

static void to_core_config(const struct dispatch_config *cfg, struct dsp_config *c)
{
    dsp_config_default(c);
    c->confirm_timeout_ms = cfg->confirm_timeout_s * 1000;
    c->max_attempts = (uint32_t)cfg->max_attempts;
    c->retry.base_ms = cfg->retry_base_s * 1000;
    c->retry.max_ms = cfg->retry_max_s * 1000;
    c->schedule_max_age_ms = cfg->schedule_max_age_min * 60000;
    c->ready_by_grace_ms = cfg->ready_by_grace_min * 60000;
    c->seed = d2ev_rand_seed();
}

static int dispatch_run(struct d2ev_service *svc, void *config)
{
    const struct dispatch_config *cfg = config;
    struct dispatcher D = { .svc = svc, .cfg = cfg };
    struct d2ev_err err = { 0 };
    int status = D2EV_EXIT_FAILURE;
    make_metrics(&D);
    struct dsp_config cc;
    to_core_config(cfg, &cc);
    D.keyring = d2ev_keyring_parse(cfg->credentials_keys, &err);
    if (!D.keyring) {
        d2ev_log_error("--credentials-keys", D2EV_LF_STR("error", err.msg));
        return D2EV_EXIT_USAGE;
    }
    D.core = dsp_core_create(&cc, &output_ops, &D);
    D.producer = D.core ? d2ev_producer_create(d2ev_service_kafka(svc), &err) : NULL;
    if (!D.producer) {
        d2ev_log_error("cannot start", D2EV_LF_STR("error", D.core ? err.msg : "out of memory"));
        goto out;
    }
    warm_up(D.producer);
    struct d2ev_credview_conf cvc = { .keyring = D.keyring,
                                      .producer = D.producer,
                                      .service = SERVICE };
    D.creds = d2ev_credview_create(&cvc, &err);
    struct d2ev_oem_engine_conf ec = {
        .tokens = D.creds ? d2ev_credview_token_source(D.creds) : NULL,
        .default_deadline_ms = cfg->command_deadline_ms,
    };
    D.engine = D.creds ? d2ev_oem_engine_create(&ec, &err) : NULL;
    if (!D.engine) {
        d2ev_log_error("cannot start the OEM engine", D2EV_LF_STR("error", err.msg));
        goto out;
    }
    d2ev_credview_attach(D.creds, D.engine);
    if (load_oems(&D, &err)) {
        d2ev_log_error("cannot load OEM adapters", D2EV_LF_STR("error", err.msg));
        status = D2EV_EXIT_USAGE;
        goto out;
    }
    static const char *const topics[] = { D2EV_TOPIC_VEHICLES,  D2EV_TOPIC_CREDENTIALS,
                                          D2EV_TOPIC_SCHEDULES, D2EV_TOPIC_DISPATCH,
                                          D2EV_TOPIC_TELEMETRY, NULL };
    static const char *const state[] = { D2EV_TOPIC_VEHICLES, D2EV_TOPIC_CREDENTIALS,
                                         D2EV_TOPIC_SCHEDULES, D2EV_TOPIC_DISPATCH, NULL };
    struct d2ev_consumer_conf conf = {
        .kafka = d2ev_service_kafka(svc),
        .group_id = d2ev_service_group(svc),
        .topics = topics,
        .state_topics = state,
        .on_assign = on_assign,
        .on_revoke = on_revoke,
        .opaque = &D,
        .producer = D.producer,
        .instance_id = d2ev_service_instance(svc),
    };
    D.consumer = d2ev_consumer_create(&conf, &err);
    if (!D.consumer) {
        d2ev_log_error("cannot create consumer", D2EV_LF_STR("error", err.msg));
        goto out;
    }
    struct d2ev_loop loop = {
        .consumer = D.consumer,
        .producer = D.producer,
        .handle = handle,
        .tick = tick,
        .opaque = &D,
        .batch_max = (size_t)cfg->batch_max,
        .poll_ms = (int)cfg->poll_ms,
    };
    int rc = d2ev_service_loop(svc, &loop);
    status = rc == D2EV_OK ? D2EV_EXIT_OK : D2EV_EXIT_FAILURE;
    if (rc)
        d2ev_log_error("stopping on error", D2EV_LF_STR("error", d2ev_rc_name(rc)));
out:
    /* leaving the group revokes the partitions: on_revoke lets commands under
     * way finish and records them; whatever is left is recorded as a retry
     * ("engine shut down") when the engine is destroyed */
    d2ev_consumer_close(D.consumer);
    d2ev_oem_engine_destroy(D.engine);
    if (D.producer && d2ev_producer_flush(D.producer, 5000, &err) != D2EV_OK)
        d2ev_log_error("cannot deliver the last dispatch records", D2EV_LF_STR("error", err.msg));
    for (size_t i = 0; i < D.noems; i++)
        d2ev_oem_unload(D.oems[i]);
    d2ev_credview_destroy(D.creds);
    d2ev_producer_destroy(D.producer);
    dsp_core_destroy(D.core);
    d2ev_keyring_destroy(D.keyring);
    return status;
}

const struct d2ev_service_def d2ev_dispatch_def = {
    .name = SERVICE,
    .summary = "Pauses and resumes cars through their OEM's API at each window boundary of "
               "their schedule, confirms from telemetry that they obeyed, retries and alerts "
               "when they did not, and leaves cars charging whenever it is unsure. Publishes "
               "d2ev.dispatch and d2ev.notifications.",
    .default_admin_port = 9105,
    .needs_kafka = true,
    .config_title = "Dispatch",
    .config = dispatch_table,
    .config_size = sizeof(struct dispatch_config),
    .sections = dispatch_sections,
    .run = dispatch_run,
};
