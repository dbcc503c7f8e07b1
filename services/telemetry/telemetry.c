/*
 * telemetry.c: d2ev-telemetry. Owns the vehicles of its partitions of
 * d2ev.vehicles (consumer group; d2ev.vehicles, d2ev.credentials and
 * d2ev.schedules are state topics, replayed at every assignment), reads
 * d2ev.forecasts in full, polls each car through the OEM engine (READ only:
 * never a wake) and publishes d2ev.telemetry and d2ev.sessions. The
 * decisions live in core.c; this file wires Kafka, the credentials view and
 * the engine around it.
 *
 * Loop: poll both consumers (no wait) -> feed the core -> when caught up,
 * submit the reads that are due -> wait on the engine (answers run the
 * core's outcome handler, which produces) -> serve delivery reports.
 * Every input topic is a state topic, so there are no offsets to commit.
 *
 * Rebalances: on revoke the core parks the revoked vehicles, the credentials
 * view forgets them, and reads still out for them are waited for (their
 * answers are dropped), so a vehicle is never read by two replicas at once.
 * On assign parked vehicles that stayed resume with their sessions; for the
 * partitions new to this replica, the tail of d2ev.sessions is read back so
 * open sessions continue (recover.h).
 */
#include "telemetry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "credview.h"
#include "d2ev/clock.h"
#include "d2ev/crypto.h"
#include "d2ev/envelope.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/oem.h"
#include "d2ev/oem_engine.h"
#include "d2ev/topics.h"
#include "d2ev/util.h"
#include "recover.h"

#define SERVICE        "telemetry"
#define MAX_OEMS       16
#define MAX_PARTITIONS 4096
#define DRAIN_MS       5000
#define SUMMARY_EVERY  60000

struct telemetry_config {
    const char *credentials_keys;
    const char *oems;
    int64_t poll_charging_s, poll_boundary_s, poll_plugged_s, poll_unplugged_s, poll_asleep_s;
    int64_t boundary_lead_s, boundary_after_s, poll_initial_spread_s;
    int64_t backoff_base_s, backoff_max_s;
    double poll_jitter;
    double vehicle_polls_per_hour, vehicle_poll_burst;
    double oem_budget_share;
    int64_t max_outstanding;
    int64_t read_deadline_ms;
    double efficiency, default_power_kw, default_battery_kwh, full_margin_pct;
    int64_t zombie_minutes, zombie_samples;
    double zombie_min_kwh;
    int64_t eternal_hours, eternal_grace_minutes;
    double eternal_energy_factor;
    int64_t session_update_minutes;
    int64_t recovery_messages, recovery_timeout_ms;
    int64_t refresh_interval_ms;
    int64_t batch_max;
    struct d2ev_oem_paths paths;
};

#define F(x) offsetof(struct telemetry_config, x)
static const struct d2ev_cfg_entry telemetry_table[] = {
    { "credentials-keys", D2EV_CFG_SECRET, F(credentials_keys), NULL,
      "keyring that opens the sealed OEM tokens of d2ev.credentials (kid:base64,...)", 0, 0, true },
    { "oems", D2EV_CFG_STR, F(oems), "smartcar,tesla,enode",
      "OEM adapters to load (comma-separated); vehicles of other OEMs are not polled" },
    { "poll-charging-s", D2EV_CFG_INT, F(poll_charging_s), "180",
      "seconds between polls of a charging car", 1, 86400 },
    { "poll-boundary-s", D2EV_CFG_INT, F(poll_boundary_s), "120",
      "seconds between polls of a plugged-in car near a schedule window boundary, or whose "
      "schedule says charge while it does not",
      1, 86400 },
    { "poll-plugged-s", D2EV_CFG_INT, F(poll_plugged_s), "900",
      "seconds between polls of a plugged-in car that is not charging", 1, 86400 },
    { "poll-unplugged-s", D2EV_CFG_INT, F(poll_unplugged_s), "1800",
      "seconds between polls of a car that is not plugged in", 1, 604800 },
    { "poll-asleep-s", D2EV_CFG_INT, F(poll_asleep_s), "3600",
      "seconds between polls of a car the OEM says is asleep (reads never wake it)", 1, 604800 },
    { "boundary-lead-s", D2EV_CFG_INT, F(boundary_lead_s), "600",
      "a window boundary this close (before or after) makes a plugged-in car a boundary poll", 0,
      86400 },
    { "boundary-after-s", D2EV_CFG_INT, F(boundary_after_s), "90",
      "poll a plugged-in car this long after each window boundary, to see it obey", 0, 3600 },
    { "poll-initial-spread-s", D2EV_CFG_INT, F(poll_initial_spread_s), "60",
      "first polls of newly owned vehicles are spread over this many seconds", 0, 86400 },
    { "backoff-base-s", D2EV_CFG_INT, F(backoff_base_s), "60",
      "first retry after a failed poll (doubles per failure, with jitter)", 1, 86400 },
    { "backoff-max-s", D2EV_CFG_INT, F(backoff_max_s), "1800", "longest retry backoff", 1, 604800 },
    { "poll-jitter", D2EV_CFG_DOUBLE, F(poll_jitter), "0.1",
      "intervals vary by +-this share so a fleet does not poll in lock-step", 0, 0.5 },
    { "vehicle-polls-per-hour", D2EV_CFG_DOUBLE, F(vehicle_polls_per_hour), "40",
      "per-vehicle poll budget: no vehicle is read more often than this, retries included (0 = "
      "no budget)",
      0, 36000 },
    { "vehicle-poll-burst", D2EV_CFG_DOUBLE, F(vehicle_poll_burst), "4",
      "burst of the per-vehicle poll budget", 1, 1000 },
    { "oem-budget-share", D2EV_CFG_DOUBLE, F(oem_budget_share), "0.8",
      "share of each OEM's rate_limit (adapter config) the replicas' reads may use together; "
      "each replica takes its share of the partitions",
      0.01, 1 },
    { "max-outstanding-per-oem", D2EV_CFG_INT, F(max_outstanding), "1024",
      "reads submitted and not yet answered, per OEM", 1, 100000 },
    { "read-deadline-ms", D2EV_CFG_INT, F(read_deadline_ms), "30000",
      "real milliseconds a read may take, retries and rate-limit waits included", 1000, 600000 },
    { "efficiency", D2EV_CFG_DOUBLE, F(efficiency), "0.9",
      "charging efficiency: battery kWh per grid kWh (session cost and carbon are on grid kWh)",
      0.5, 1 },
    { "default-power-kw", D2EV_CFG_DOUBLE, F(default_power_kw), "7.4",
      "charge power when neither the OEM nor the vehicle record gives one", 0.5, 400 },
    { "default-battery-kwh", D2EV_CFG_DOUBLE, F(default_battery_kwh), "60",
      "battery size when neither the vehicle record nor the OEM gives one", 1, 300 },
    { "full-margin-pct", D2EV_CFG_DOUBLE, F(full_margin_pct), "1.5",
      "a car that stops this close to its charge limit is full", 0, 20 },
    { "zombie-minutes", D2EV_CFG_INT, F(zombie_minutes), "20",
      "minutes without energy while charging is expected before a zombie anomaly", 1, 1440 },
    { "zombie-samples", D2EV_CFG_INT, F(zombie_samples), "3",
      "consecutive samples without energy before a zombie anomaly", 1, 100 },
    { "zombie-min-kwh", D2EV_CFG_DOUBLE, F(zombie_min_kwh), "0.5",
      "energy the car should have taken meanwhile before a zombie anomaly", 0, 100 },
    { "eternal-hours", D2EV_CFG_INT, F(eternal_hours), "24",
      "hours of charging without a stop before an eternal anomaly", 1, 720 },
    { "eternal-grace-minutes", D2EV_CFG_INT, F(eternal_grace_minutes), "30",
      "minutes a car may keep charging after its schedule paused it before an eternal anomaly", 1,
      1440 },
    { "eternal-energy-factor", D2EV_CFG_DOUBLE, F(eternal_energy_factor), "1.3",
      "energy beyond this many times what reaching the charge limit needs (+1 kWh) is eternal", 1,
      10 },
    { "session-update-minutes", D2EV_CFG_INT, F(session_update_minutes), "30",
      "an open session sends an update at least this often (also what restart recovery relies "
      "on)",
      1, 1440 },
    { "session-recovery-messages", D2EV_CFG_INT, F(recovery_messages), "20000",
      "messages per partition of d2ev.sessions read back when taking vehicles over (0 = none)", 0,
      10000000 },
    { "session-recovery-timeout-ms", D2EV_CFG_INT, F(recovery_timeout_ms), "30000",
      "real milliseconds the read-back may take", 100, 600000 },
    { "refresh-request-interval-ms", D2EV_CFG_INT, F(refresh_interval_ms), "30000",
      "at most one credentials refresh request per vehicle per this many real ms", 1000, 86400000 },
    { "batch-max", D2EV_CFG_INT, F(batch_max), "2000", "messages per consumer poll", 1, 100000 },
    D2EV_CFG_END,
};
#undef F

struct telemetry {
    struct d2ev_service *svc;
    const struct telemetry_config *cfg;
    struct d2ev_keyring *keyring;
    struct d2ev_producer *producer;
    struct d2ev_consumer *group, *reader;
    struct d2ev_oem *oems[MAX_OEMS];
    size_t noems;
    struct d2ev_oem_engine *engine;
    struct d2ev_credview *cv;
    struct tel_core *core;
    bool live;
    int32_t partition_cnt;
    int32_t owned[MAX_PARTITIONS];
    size_t nowned;
    int64_t read_deadline_ms;
    struct d2ev_metric *m_rejected, *m_inputs, *m_recovered;
};

/* ------------------------------------------------------------ outputs */

static int produce_json(struct telemetry *T, const char *topic, const char *key, json_t *j)
{
    if (!j)
        return D2EV_ERR_NOMEM;
    struct d2ev_err err = { 0 };
    int rc = d2ev_producer_send_json(T->producer, topic, key, j, &err);
    json_decref(j);
    if (rc)
        d2ev_log_error("cannot produce", D2EV_LF_STR("topic", topic), D2EV_LF_STR("key", key),
                       D2EV_LF_STR("error", err.msg));
    return rc;
}

static int out_telemetry(void *opaque, const struct d2ev_telemetry *t)
{
    return produce_json(opaque, D2EV_TOPIC_TELEMETRY, t->vehicle_id, d2ev_telemetry_encode(t));
}

static int out_session(void *opaque, const struct d2ev_session *s)
{
    return produce_json(opaque, D2EV_TOPIC_SESSIONS, s->vehicle_id, d2ev_session_encode(s));
}

struct read_ctx {
    struct telemetry *T;
    struct tel_vehicle *v;
};

static void on_read(void *arg, const struct d2ev_oem_outcome *o)
{
    struct read_ctx rc = *(struct read_ctx *)arg;
    free(arg);
    tel_core_on_outcome(rc.T->core, rc.v, o, d2ev_clock_now_ms());
}

static int submit_read(void *opaque, struct tel_vehicle *v, const char *oem,
                       const char *oem_vehicle_id, const char *vehicle_id)
{
    struct telemetry *T = opaque;
    struct read_ctx *ctx = malloc(sizeof(*ctx));
    if (!ctx)
        return D2EV_ERR_NOMEM;
    *ctx = (struct read_ctx){ T, v };
    struct d2ev_oem_task task = { .oem = oem,
                                  .op = D2EV_OEM_OP_READ,
                                  .vehicle = oem_vehicle_id,
                                  .key = vehicle_id,
                                  .deadline_ms = T->read_deadline_ms };
    struct d2ev_err err = { 0 };
    int rc = d2ev_oem_engine_submit(T->engine, &task, on_read, ctx, NULL, &err);
    if (rc) {
        free(ctx);
        d2ev_log_warn("cannot submit a read", D2EV_LF_STR("vehicle_id", vehicle_id),
                      D2EV_LF_STR("error", err.msg));
    }
    return rc;
}

/* ------------------------------------------------------------ inputs */

/* Dead-letter msg with reason (a replay is only logged). */
static int reject(struct telemetry *T, const rd_kafka_message_t *msg, const char *reason)
{
    bool replay = d2ev_consumer_is_replay(T->group, msg) || d2ev_consumer_is_replay(T->reader, msg);
    return d2ev_deadletter_reject(T->producer, "d2ev-" SERVICE, msg, reason, replay, T->m_rejected);
}

static int key_mismatch(struct telemetry *T, const rd_kafka_message_t *msg, const char *key,
                        const char *id)
{
    char reason[200];
    snprintf(reason, sizeof(reason), "key \"%.64s\" does not match vehicle_id \"%.64s\"", key, id);
    return reject(T, msg, reason);
}

static int on_vehicles(struct telemetry *T, const rd_kafka_message_t *msg, const char *key,
                       int64_t now)
{
    if (!msg->payload) {
        tel_core_on_vehicle_deleted(T->core, key);
        return D2EV_OK;
    }
    struct d2ev_err err = { 0 };
    struct d2ev_vehicle v;
    if (d2ev_vehicle_decode(msg->payload, msg->len, &v, &err) != D2EV_OK)
        return reject(T, msg, err.msg);
    if (strcmp(v.vehicle_id, key) != 0)
        return key_mismatch(T, msg, key, v.vehicle_id);
    return tel_core_on_vehicle(T->core, &v, msg->partition, msg->offset, now);
}

static int on_credentials(struct telemetry *T, const rd_kafka_message_t *msg, const char *key,
                          int64_t now)
{
    struct d2ev_err err = { 0 };
    if (d2ev_credview_apply(T->cv, msg, &err) != D2EV_OK)
        return err.code == D2EV_ERR_NOMEM ? D2EV_ERR_NOMEM : reject(T, msg, err.msg);
    bool present = d2ev_credview_has(T->cv, key);
    return tel_core_on_credentials(T->core, key, msg->partition, msg->offset, present, now);
}

static int on_schedules(struct telemetry *T, const rd_kafka_message_t *msg, const char *key,
                        int64_t now)
{
    if (!msg->payload) {
        tel_core_on_schedule_deleted(T->core, key);
        return D2EV_OK;
    }
    struct d2ev_err err = { 0 };
    struct d2ev_schedule s;
    memset(&s, 0, sizeof(s));
    int rc;
    if (d2ev_schedule_decode(msg->payload, msg->len, &s, &err) != D2EV_OK)
        rc = reject(T, msg, err.msg);
    else if (strcmp(s.vehicle_id, key) != 0)
        rc = key_mismatch(T, msg, key, s.vehicle_id);
    else
        rc = tel_core_on_schedule(T->core, &s, msg->partition, now);
    d2ev_schedule_clear(&s);
    return rc;
}

static int handle_group(struct telemetry *T, const rd_kafka_message_t *msg, int64_t now)
{
    d2ev_metric_inc(T->m_inputs);
    char key[D2EV_VEHICLE_ID_MAX + 2];
    d2ev_msg_key(msg, key, sizeof(key));
    if (!key[0] || strlen(key) > D2EV_VEHICLE_ID_MAX)
        return reject(T, msg, "the key must be a vehicle id of 1..64 bytes");
    const char *topic = rd_kafka_topic_name(msg->rkt);
    if (!strcmp(topic, D2EV_TOPIC_VEHICLES))
        return on_vehicles(T, msg, key, now);
    if (!strcmp(topic, D2EV_TOPIC_CREDENTIALS))
        return on_credentials(T, msg, key, now);
    if (!strcmp(topic, D2EV_TOPIC_SCHEDULES))
        return on_schedules(T, msg, key, now);
    return D2EV_OK;
}

static int handle_reader(struct telemetry *T, const rd_kafka_message_t *msg)
{
    d2ev_metric_inc(T->m_inputs);
    if (!msg->payload)
        return D2EV_OK;
    struct d2ev_err err = { 0 };
    struct d2ev_forecast f;
    memset(&f, 0, sizeof(f));
    int rc = d2ev_forecast_decode(msg->payload, msg->len, &f, &err);
    if (rc == D2EV_OK) {
        rc = tel_core_on_forecast(T->core, &f);
        if (rc == D2EV_ERR_INVALID)
            snprintf(err.msg, sizeof(err.msg), "forecast.unit: names no currency");
    }
    d2ev_forecast_clear(&f);
    if (rc == D2EV_ERR_NOMEM)
        return rc;
    return rc < 0 ? reject(T, msg, err.msg) : D2EV_OK;
}

/* ------------------------------------------------------------ rebalances */

static size_t vehicle_partitions(const rd_kafka_topic_partition_list_t *parts, int32_t *out)
{
    size_t n = 0;
    for (int i = 0; i < parts->cnt && n < MAX_PARTITIONS; i++) {
        if (!strcmp(parts->elems[i].topic, D2EV_TOPIC_VEHICLES))
            out[n++] = parts->elems[i].partition;
    }
    return n;
}

static int32_t partition_count(struct telemetry *T)
{
    if (T->partition_cnt > 0)
        return T->partition_cnt;
    rd_kafka_t *rk = d2ev_consumer_handle(T->group);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, D2EV_TOPIC_VEHICLES, NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (rkt && rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && !md->topics[0].err)
        T->partition_cnt = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return T->partition_cnt;
}

static void on_revoke(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
    struct telemetry *T = opaque;
    static int32_t revoked[MAX_PARTITIONS];
    size_t n = vehicle_partitions(parts, revoked);
    int32_t cnt = partition_count(T);
    if (cnt > 0)
        d2ev_credview_remove_partitions(T->cv, parts, cnt);
    tel_core_park(T->core, revoked, n);
    /* reads still out for those vehicles finish here, before another replica
     * may start reading them; their answers are dropped */
    int64_t deadline = d2ev_clock_mono_ms() + DRAIN_MS;
    while (tel_core_in_flight_gone(T->core) && d2ev_clock_mono_ms() < deadline)
        d2ev_oem_engine_poll(T->engine, 20);
    if (tel_core_in_flight_gone(T->core))
        d2ev_log_warn("reads of revoked vehicles still out after the drain",
                      D2EV_LF_INT("reads", tel_core_in_flight_gone(T->core)));
    d2ev_log_info("vehicles parked", D2EV_LF_INT("partitions", n),
                  D2EV_LF_INT("vehicles", tel_core_count(T->core)));
}

struct recover_ctx {
    struct telemetry *T;
    long restored;
};

static void on_recovered(void *arg, const rd_kafka_message_t *m)
{
    struct recover_ctx *r = arg;
    if (!m->payload)
        return;
    struct d2ev_session ev;
    if (d2ev_session_decode(m->payload, m->len, &ev, NULL) != D2EV_OK)
        return; /* dead-lettered by whoever reads sessions; nothing to resume */
    if (tel_core_restore_session(r->T->core, &ev, m->partition) == D2EV_OK)
        r->restored++;
}

static void on_assign(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
    struct telemetry *T = opaque;
    static int32_t mine[MAX_PARTITIONS], fresh[MAX_PARTITIONS];
    size_t n = vehicle_partitions(parts, mine), nfresh = 0;
    int32_t cnt = partition_count(T);
    double share = cnt > 0 ? (double)n / cnt : 1;
    tel_core_set_share(T->core, share, d2ev_clock_mono_ms());
    tel_core_assign(T->core, mine, n, d2ev_clock_now_ms());
    for (size_t i = 0; i < n; i++) {
        bool had = false;
        for (size_t k = 0; k < T->nowned && !had; k++)
            had = T->owned[k] == mine[i];
        if (!had)
            fresh[nfresh++] = mine[i];
    }
    memcpy(T->owned, mine, n * sizeof(mine[0]));
    T->nowned = n;
    struct recover_ctx r = { T, 0 };
    int64_t t0 = d2ev_clock_mono_ms();
    struct d2ev_err err = { 0 };
    long got = tel_recover_tail(d2ev_service_kafka(T->svc), D2EV_TOPIC_SESSIONS, fresh, nfresh,
                                T->cfg->recovery_messages, T->cfg->recovery_timeout_ms,
                                on_recovered, &r, &err);
    if (got < 0)
        d2ev_log_warn("cannot read back sessions; open sessions of new vehicles start afresh",
                      D2EV_LF_STR("error", err.msg));
    d2ev_metric_add(T->m_recovered, (double)r.restored);
    d2ev_log_info("fleet share", D2EV_LF_INT("vehicle_partitions", n), D2EV_LF_INT("of", cnt),
                  D2EV_LF_DBL("share", share), D2EV_LF_INT("new_partitions", nfresh),
                  D2EV_LF_INT("session_events_read", got > 0 ? got : 0),
                  D2EV_LF_INT("recovery_ms", d2ev_clock_mono_ms() - t0));
}

/* ------------------------------------------------------------ run */

static void to_core_config(const struct telemetry_config *c, struct tel_core_config *k)
{
    tel_core_config_default(k);
    struct tel_policy *p = &k->policy;
    p->charging_ms = c->poll_charging_s * 1000;
    p->boundary_ms = c->poll_boundary_s * 1000;
    p->plugged_ms = c->poll_plugged_s * 1000;
    p->unplugged_ms = c->poll_unplugged_s * 1000;
    p->asleep_ms = c->poll_asleep_s * 1000;
    p->boundary_lead_ms = c->boundary_lead_s * 1000;
    p->boundary_after_ms = c->boundary_after_s * 1000;
    p->initial_spread_ms = c->poll_initial_spread_s * 1000;
    p->backoff_base_ms = c->backoff_base_s * 1000;
    p->backoff_max_ms = c->backoff_max_s * 1000;
    p->jitter = c->poll_jitter;
    p->vehicle_per_hour = c->vehicle_polls_per_hour;
    p->vehicle_burst = c->vehicle_poll_burst;
    int64_t shortest = p->charging_ms < p->boundary_ms ? p->charging_ms : p->boundary_ms;
    p->min_gap_ms = shortest < p->min_gap_ms ? shortest : p->min_gap_ms;
    struct tel_session_conf *s = &k->session;
    s->efficiency = c->efficiency;
    s->default_power_kw = c->default_power_kw;
    s->default_battery_kwh = c->default_battery_kwh;
    s->full_margin_pct = c->full_margin_pct;
    s->zombie_ms = c->zombie_minutes * 60000;
    s->zombie_samples = (uint32_t)c->zombie_samples;
    s->zombie_min_kwh = c->zombie_min_kwh;
    s->eternal_ms = c->eternal_hours * 3600000;
    s->eternal_grace_ms = c->eternal_grace_minutes * 60000;
    s->eternal_energy_factor = c->eternal_energy_factor;
    s->update_ms = c->session_update_minutes * 60000;
    k->oem_budget_share = c->oem_budget_share;
    k->max_outstanding = (uint32_t)c->max_outstanding;
}

static int load_oems(struct telemetry *T, struct tel_oem_info *info)
{
    char list[512];
    d2ev_strlcpy(list, T->cfg->oems ? T->cfg->oems : "", sizeof(list));
    char *save = NULL;
    for (char *name = strtok_r(list, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
        if (T->noems == MAX_OEMS) {
            d2ev_log_error("--oems: too many OEMs", D2EV_LF_INT("max", MAX_OEMS));
            return D2EV_ERR_LIMIT;
        }
        struct d2ev_err err = { 0 };
        struct d2ev_oem *o =
            d2ev_oem_open(T->cfg->paths.adapter_dir, T->cfg->paths.config_dir, name, &err);
        if (!o || d2ev_oem_engine_add(T->engine, o, &err) != D2EV_OK) {
            d2ev_log_error("cannot load OEM adapter", D2EV_LF_STR("oem", name),
                           D2EV_LF_STR("error", err.msg));
            d2ev_oem_unload(o);
            return D2EV_ERR_INVALID;
        }
        const struct d2ev_oem_settings *set = d2ev_oem_settings(o);
        info[T->noems] = (struct tel_oem_info){
            .name = d2ev_oem_name(o),
            .per_vehicle_tokens = d2ev_oem_describe(o)->token_model == D2EV_OEM_TOKENS_PER_VEHICLE,
            .rate_per_s = set->rate_per_s,
            .burst = set->burst,
        };
        T->oems[T->noems++] = o;
        d2ev_log_info(
            "OEM adapter loaded", D2EV_LF_STR("oem", name),
            D2EV_LF_DBL("rate_per_s", set->rate_per_s),
            D2EV_LF_BOOL("per_vehicle_credentials", info[T->noems - 1].per_vehicle_tokens));
    }
    if (!T->noems) {
        d2ev_log_error("--oems: no OEM adapter to load");
        return D2EV_ERR_INVALID;
    }
    return D2EV_OK;
}

static void summary(struct telemetry *T, uint64_t *last_polls, int64_t *last_at)
{
    int64_t mono = d2ev_clock_mono_ms();
    if (mono - *last_at < SUMMARY_EVERY)
        return;
    const struct tel_core_stats *st = tel_core_stats(T->core);
    double rate = (double)(st->submitted - *last_polls) * 1000.0 / (double)(mono - *last_at);
    *last_polls = st->submitted;
    *last_at = mono;
    d2ev_log_info("polling", D2EV_LF_INT("vehicles", tel_core_count(T->core)),
                  D2EV_LF_DBL("polls_per_s", rate),
                  D2EV_LF_INT("charging", tel_core_class_count(T->core, TEL_CLASS_CHARGING)),
                  D2EV_LF_INT("plugged", tel_core_class_count(T->core, TEL_CLASS_PLUGGED)),
                  D2EV_LF_INT("unplugged", tel_core_class_count(T->core, TEL_CLASS_UNPLUGGED)),
                  D2EV_LF_INT("asleep", tel_core_class_count(T->core, TEL_CLASS_ASLEEP)),
                  D2EV_LF_INT("backoff", tel_core_class_count(T->core, TEL_CLASS_BACKOFF)),
                  D2EV_LF_INT("stopped", tel_core_class_count(T->core, TEL_CLASS_STOPPED)),
                  D2EV_LF_INT("in_flight", tel_core_in_flight(T->core)));
}

#define COMMIT_EVERY_MS 5000

static int loop(struct telemetry *T)
{
    size_t max = (size_t)T->cfg->batch_max;
    rd_kafka_message_t **gm = calloc(max, sizeof(*gm)), **rm = calloc(max, sizeof(*rm));
    if (!gm || !rm) {
        free(gm);
        free(rm);
        return D2EV_ERR_NOMEM;
    }
    uint64_t last_polls = 0;
    int64_t last_summary = d2ev_clock_mono_ms(), last_commit = last_summary;
    bool pending_commit = false;
    int rc = D2EV_OK;
    while (rc == D2EV_OK && d2ev_service_running(T->svc)) {
        d2ev_service_heartbeat(T->svc);
        size_t ng = d2ev_consumer_poll(T->group, gm, max, 0);
        size_t nr = d2ev_consumer_poll(T->reader, rm, max, 0);
        int64_t now = d2ev_clock_now_ms();
        for (size_t i = 0; i < nr && rc == D2EV_OK; i++)
            rc = handle_reader(T, rm[i]);
        for (size_t i = 0; i < ng && rc == D2EV_OK; i++)
            rc = handle_group(T, gm[i], now);
        if (rc == D2EV_OK && ng) {
            d2ev_consumer_done(T->group, gm, ng);
            pending_commit = true;
        }
        for (size_t i = 0; i < ng; i++)
            rd_kafka_message_destroy(gm[i]);
        for (size_t i = 0; i < nr; i++)
            rd_kafka_message_destroy(rm[i]);
        bool live = d2ev_consumer_caught_up(T->group) && d2ev_consumer_caught_up(T->reader);
        if (live != T->live) {
            d2ev_log_info(live ? "caught up: polling" : "catching up: polling paused",
                          D2EV_LF_INT("vehicles", tel_core_count(T->core)));
            tel_core_set_live(T->core, live, now);
            d2ev_service_set_ready(T->svc, live,
                                   live ? NULL : "replaying vehicles, credentials and schedules");
        }
        T->live = live;
        int64_t wait = tel_core_tick(T->core, now, d2ev_clock_mono_ms());
        if (d2ev_oem_engine_poll(T->engine, ng || nr ? 0 : (int)wait) < 0)
            d2ev_log_warn("OEM engine poll failed");
        d2ev_producer_poll(T->producer, 0);
        if (d2ev_producer_fatal(T->producer))
            rc = D2EV_ERR_KAFKA;
        /* The inputs are all state topics, replayed at every start; the
         * commit only records what was handled, so a replayed bad record is
         * not dead-lettered twice. Dead letters are delivered first. */
        if (pending_commit && d2ev_clock_mono_ms() - last_commit >= COMMIT_EVERY_MS) {
            struct d2ev_err err = { 0 };
            last_commit = d2ev_clock_mono_ms();
            if (d2ev_producer_flush(T->producer, 10000, &err) == D2EV_OK) {
                pending_commit = false;
                if (d2ev_consumer_commit(T->group, false, &err) != D2EV_OK)
                    d2ev_log_warn("offset commit failed", D2EV_LF_STR("error", err.msg));
            }
        }
        summary(T, &last_polls, &last_summary);
    }
    free(gm);
    free(rm);
    return rc;
}

static int open_keyring(struct telemetry *T)
{
    struct d2ev_err err = { 0 };
    T->keyring = d2ev_keyring_parse(T->cfg->credentials_keys, &err);
    if (!T->keyring) {
        d2ev_log_error("--credentials-keys: cannot parse the keyring",
                       D2EV_LF_STR("error", err.msg));
        return D2EV_ERR_INVALID;
    }
    return D2EV_OK;
}

static int telemetry_run(struct d2ev_service *svc, void *config)
{
    struct telemetry *T = calloc(1, sizeof(*T));
    if (!T)
        return D2EV_EXIT_FAILURE;
    T->svc = svc;
    T->cfg = config;
    T->read_deadline_ms = T->cfg->read_deadline_ms;
    T->m_rejected = d2ev_metric_counter("d2ev_telemetry_rejected_total",
                                        "Inputs dead-lettered by telemetry", NULL);
    T->m_inputs = d2ev_metric_counter("d2ev_telemetry_inputs_total", "Inputs handled", NULL);
    T->m_recovered = d2ev_metric_counter("d2ev_telemetry_sessions_restored_total",
                                         "Open sessions read back from d2ev.sessions", NULL);
    int status = D2EV_EXIT_FAILURE;
    struct d2ev_err err = { 0 };
    struct tel_oem_info info[MAX_OEMS];
    struct tel_core_config cc;
    to_core_config(T->cfg, &cc);
    if (open_keyring(T) != D2EV_OK) {
        status = D2EV_EXIT_USAGE;
        goto out;
    }
    T->producer = d2ev_producer_create(d2ev_service_kafka(svc), &err);
    if (!T->producer) {
        d2ev_log_error("cannot create producer", D2EV_LF_STR("error", err.msg));
        goto out;
    }
    struct d2ev_credview_conf cvc = { .keyring = T->keyring,
                                      .producer = T->producer,
                                      .service = SERVICE,
                                      .refresh_interval_ms = T->cfg->refresh_interval_ms };
    T->cv = d2ev_credview_create(&cvc, &err);
    struct d2ev_oem_engine_conf ec = { .tokens = T->cv ? d2ev_credview_token_source(T->cv) : NULL };
    T->engine = T->cv ? d2ev_oem_engine_create(&ec, &err) : NULL;
    if (!T->engine) {
        d2ev_log_error("cannot start the OEM engine", D2EV_LF_STR("error", err.msg));
        goto out;
    }
    d2ev_credview_attach(T->cv, T->engine);
    if (load_oems(T, info) != D2EV_OK) {
        status = D2EV_EXIT_USAGE;
        goto out;
    }
    static const struct tel_core_ops ops = { submit_read, out_telemetry, out_session };
    T->core = tel_core_create(&cc, info, T->noems, &ops, T, 0, &err);
    if (!T->core) {
        d2ev_log_error("cannot start", D2EV_LF_STR("error", err.msg));
        goto out;
    }
    static const char *const topics[] = { D2EV_TOPIC_VEHICLES, D2EV_TOPIC_CREDENTIALS,
                                          D2EV_TOPIC_SCHEDULES, NULL };
    static const char *const reader_topics[] = { D2EV_TOPIC_FORECASTS, NULL };
    struct d2ev_consumer_conf gc = {
        .kafka = d2ev_service_kafka(svc),
        .group_id = d2ev_service_group(svc),
        .topics = topics,
        .state_topics = topics,
        .on_assign = on_assign,
        .on_revoke = on_revoke,
        .opaque = T,
        .producer = T->producer,
        .instance_id = d2ev_service_instance(svc),
    };
    struct d2ev_consumer_conf rcc = {
        .kafka = d2ev_service_kafka(svc),
        .topics = reader_topics,
        .instance_id = d2ev_service_instance(svc),
    };
    T->group = d2ev_consumer_create(&gc, &err);
    if (T->group)
        T->reader = d2ev_consumer_create(&rcc, &err);
    if (!T->group || !T->reader) {
        d2ev_log_error("cannot create consumers", D2EV_LF_STR("error", err.msg));
        goto out;
    }
    int rc = loop(T);
    status = rc == D2EV_OK ? D2EV_EXIT_OK : D2EV_EXIT_FAILURE;
    if (rc)
        d2ev_log_error("stopping on error", D2EV_LF_STR("error", d2ev_rc_name(rc)));
out:
    /* the group's revoke drains reads: close it while the engine runs */
    d2ev_consumer_close(T->group);
    d2ev_consumer_close(T->reader);
    d2ev_oem_engine_destroy(T->engine); /* completes what is left (answers dropped) */
    tel_core_destroy(T->core);
    d2ev_credview_destroy(T->cv);
    d2ev_producer_destroy(T->producer);
    for (size_t i = 0; i < T->noems; i++)
        d2ev_oem_unload(T->oems[i]);
    d2ev_keyring_destroy(T->keyring);
    free(T);
    return status;
}

static const struct d2ev_service_section telemetry_sections[] = {
    { "OEM adapters", d2ev_oem_paths_table, offsetof(struct telemetry_config, paths) },
    { NULL, NULL, 0 },
};

const struct d2ev_service_def d2ev_telemetry_def = {
    .name = SERVICE,
    .summary = "Polls every registered car of its partitions through the OEM adapters within "
               "each OEM's and each vehicle's budget (reads never wake a car), publishes "
               "normalised samples to d2ev.telemetry and charging sessions (plug-in, updates, "
               "full, unplug, zombie and eternal anomalies, with energy, charging/idle time, "
               "cost and carbon) to d2ev.sessions.",
    .default_admin_port = 9103,
    .needs_kafka = true,
    .config_title = "Telemetry",
    .config = telemetry_table,
    .config_size = sizeof(struct telemetry_config),
    .sections = telemetry_sections,
    .run = telemetry_run,
};
