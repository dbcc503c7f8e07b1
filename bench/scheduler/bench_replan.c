/*
 * bench_replan: re-plan a fleet of plugged-in vehicles after one forecast
 * update, end to end through a devbroker: from producing the new forecast to
 * the last schedule that names it arriving on d2ev.schedules.
 *
 * Setup: N vehicle records and N "plugged in" telemetry messages, a first
 * forecast, then d2ev-scheduler starts and plans them all (also timed). The
 * measured step is the second forecast for the same region.
 * Usage: bench_sched_replan [vehicles] [partitions] (default 100000 64)
 *
 * The devbroker (librdkafka's mock cluster) keeps at most 5 MB per partition
 * and drops older records beyond that, so 100,000 vehicle records (~1.4 KB)
 * and two rounds of schedules (~1 KB) need 64 partitions to stay whole.
 */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "d2ev/clock.h"
#include "d2ev/events.h"
#include "d2ev/kafka.h"
#include "d2ev/topics.h"
#include "d2ev_test.h"
#include "forecast_gen.h"

#define HALF_HOUR 1800000LL

static void send_msg(struct d2ev_producer *p, const char *topic, const char *key, json_t *msg)
{
    struct d2ev_err err;
    if (!msg || d2ev_producer_send_json(p, topic, key, msg, &err)) {
        fprintf(stderr, "produce failed\n");
        exit(1);
    }
    json_decref(msg);
}

/* Produce a 48-hour forecast for region "bench"; its id into id_out. */
static void forecast(struct d2ev_producer *p, uint64_t seed, char *id_out)
{
    int64_t now = d2ev_clock_real_ms(), start = now - now % HALF_HOUR;
    double v[96];
    struct fgen_options o;
    fgen_options_default(&o);
    o.seed = seed;
    o.region = "bench";
    o.tz = d2ev_tz_get("Europe/London", NULL);
    fgen_series(&o, D2EV_FORECAST_PRICE, start, 96, v);
    struct d2ev_forecast f;
    memset(&f, 0, sizeof(f));
    snprintf(f.region, sizeof(f.region), "bench");
    f.kind = D2EV_FORECAST_PRICE;
    snprintf(f.unit, sizeof(f.unit), "GBP/kWh");
    f.issued_at = now;
    f.start = start;
    f.slot_minutes = 30;
    f.n = 96;
    f.values = v;
    json_t *j = d2ev_forecast_encode(&f);
    snprintf(id_out, D2EV_EVENT_ID_MAX + 1, "%s", json_string_value(json_object_get(j, "id")));
    send_msg(p, D2EV_TOPIC_FORECASTS, "bench:price", j);
}

/* A reader of d2ev.schedules from the beginning. */
static rd_kafka_t *reader(const char *bootstrap)
{
    char errstr[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, errstr, sizeof(errstr));
    rd_kafka_conf_set(c, "group.id", "bench-reader", errstr, sizeof(errstr));
    rd_kafka_conf_set(c, "enable.auto.commit", "false", errstr, sizeof(errstr));
    rd_kafka_conf_set(c, "auto.offset.reset", "earliest", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr));
    rd_kafka_poll_set_consumer(rk);
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, D2EV_TOPIC_SCHEDULES, NULL);
    rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, D2EV_TOPIC_SCHEDULES, i)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rk;
}

/* Read until n schedules name forecast id; returns the last one's arrival
 * (monotonic us) and its broker timestamp (ms). */
static bool wait_schedules(rd_kafka_t *rk, const char *id, size_t n, double *last_us,
                           int64_t *last_ts, int timeout_s)
{
    size_t seen = 0;
    double deadline = bench_us() + timeout_s * 1e6;
    while (seen < n && bench_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err && m->payload && memmem(m->payload, m->len, id, strlen(id))) {
            seen++;
            *last_us = bench_us();
            *last_ts = rd_kafka_message_timestamp(m, NULL);
        }
        rd_kafka_message_destroy(m);
    }
    return seen >= n;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 100000;
    int partitions = argc > 2 ? atoi(argv[2]) : 64;
    const char *tmp = d2ev_test_tmpdir("bench-replan");
    struct d2ev_test_broker b;
    d2ev_test_broker_start(&b, tmp, partitions);
    struct d2ev_kafka_conf kc = { .brokers = b.bootstrap, .client_id = "bench" };
    struct d2ev_err err;
    struct d2ev_producer *p = d2ev_producer_create(&kc, &err);
    char fc1[D2EV_EVENT_ID_MAX + 1], fc2[D2EV_EVENT_ID_MAX + 1];
    forecast(p, 1, fc1);
    double t0 = bench_us();
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "veh-%06zu", i);
        struct d2ev_vehicle v;
        memset(&v, 0, sizeof(v));
        snprintf(v.vehicle_id, sizeof(v.vehicle_id), "%s", id);
        snprintf(v.user_id, sizeof(v.user_id), "user-%zu", i);
        snprintf(v.oem, sizeof(v.oem), "sim");
        snprintf(v.oem_vehicle_id, sizeof(v.oem_vehicle_id), "o-%zu", i);
        snprintf(v.timezone, sizeof(v.timezone), "Europe/London");
        snprintf(v.region, sizeof(v.region), "bench");
        v.has_battery_kwh = true;
        v.battery_kwh = 40 + (double)(i % 41);
        v.has_max_power_kw = true;
        v.max_power_kw = i % 4 ? 7.4 : 11;
        d2ev_prefs_default(&v.prefs);
        v.prefs.ready_by[0] = v.prefs.ready_by[1] = (int16_t)(360 + i % 180);
        v.prefs_version = 1;
        v.registered_at = v.updated_at = d2ev_clock_real_ms();
        send_msg(p, D2EV_TOPIC_VEHICLES, id, d2ev_vehicle_encode(&v));
        struct d2ev_telemetry t;
        memset(&t, 0, sizeof(t));
        snprintf(t.vehicle_id, sizeof(t.vehicle_id), "%s", id);
        snprintf(t.oem, sizeof(t.oem), "sim");
        t.observed_at = t.reported_at = d2ev_clock_real_ms();
        t.soc = 10 + (double)(i % 60);
        t.plugged_in = true;
        t.charging_state = D2EV_CHG_STOPPED;
        send_msg(p, D2EV_TOPIC_TELEMETRY, id, d2ev_telemetry_encode(&t));
    }
    d2ev_producer_flush(p, 120000, &err);
    printf("loaded %zu vehicles and telemetry in %.1f s\n", n, (bench_us() - t0) / 1e6);

    struct d2ev_test_proc sched;
    char env_b[256], port[32];
    snprintf(env_b, sizeof(env_b), "D2EV_KAFKA_BROKERS=%s", b.bootstrap);
    snprintf(port, sizeof(port), "--admin-port=%d", d2ev_test_free_port());
    const char *sargv[] = { port, "--log-level=info", NULL };
    const char *senv[] = { env_b, NULL };
    rd_kafka_t *rk = reader(b.bootstrap);
    t0 = bench_us();
    d2ev_test_spawn(&sched, tmp, "scheduler", d2ev_test_bin("d2ev-scheduler"), sargv, senv);
    double last_us = 0;
    int64_t last_ts = 0;
    int status = 0;
    if (!wait_schedules(rk, fc1, n, &last_us, &last_ts, 600)) {
        fprintf(stderr, "initial plans incomplete; see %s\n", sched.log_path);
        status = 1;
        goto out;
    }
    printf("initial plans: %zu schedules %.2f s after the scheduler started\n", n,
           (last_us - t0) / 1e6);

    int64_t ts0 = d2ev_clock_real_ms();
    t0 = bench_us();
    forecast(p, 2, fc2);
    d2ev_producer_flush(p, 10000, &err);
    if (!wait_schedules(rk, fc2, n, &last_us, &last_ts, 600)) {
        fprintf(stderr, "re-plan incomplete; see %s\n", sched.log_path);
        status = 1;
        goto out;
    }
    printf("re-plan after one forecast: %zu schedules; last one produced %.2f s and read "
           "%.2f s after the forecast was produced (%.0f schedules/s)\n",
           n, (double)(last_ts - ts0) / 1000, (last_us - t0) / 1e6,
           (double)n / ((double)(last_ts - ts0) / 1000));
    printf("scheduler log: %s\n", sched.log_path);
out:
    d2ev_test_stop(&sched, SIGTERM, 15000);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    d2ev_producer_destroy(p);
    d2ev_test_broker_stop(&b);
    return status;
}
