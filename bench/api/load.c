/*
 * bench_api_load: put N vehicles and one schedule each on a broker, the
 * way the registration service and the scheduler would, for the ops API
 * benchmark (bench/api/run.sh).
 *
 *   bench_api_load <bootstrap> [vehicles]
 *
 * Vehicle ids are bench-000000 .. bench-<N-1>; schedules have 1..4 windows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/events.h"
#include "d2ev/kafka.h"
#include "d2ev/log.h"
#include "d2ev/topics.h"

#define HOUR 3600000LL

static int produce(struct d2ev_producer *p, const char *topic, const char *key, json_t *msg)
{
    struct d2ev_err err = { 0 };
    int rc = msg ? d2ev_producer_send_json(p, topic, key, msg, &err) : D2EV_ERR_NOMEM;
    json_decref(msg);
    if (rc)
        fprintf(stderr, "produce to %s: %s\n", topic, err.msg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <bootstrap> [vehicles]\n", argv[0]);
        return 64;
    }
    long n = argc > 2 ? atol(argv[2]) : 100000;
    d2ev_log_init("bench-load", D2EV_LOG_WARN);
    struct d2ev_kafka_conf kc = { .brokers = argv[1], .client_id = "bench_api_load" };
    struct d2ev_err err = { 0 };
    struct d2ev_producer *p = d2ev_producer_create(&kc, &err);
    if (!p) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int64_t now = d2ev_clock_now_ms();
    int64_t slot = now - now % (HOUR / 2);
    struct d2ev_vehicle v;
    memset(&v, 0, sizeof(v));
    strcpy(v.user_id, "u-bench");
    strcpy(v.oem, "oemsim");
    strcpy(v.oem_vehicle_id, "SIM-BENCH");
    strcpy(v.timezone, "Europe/London");
    strcpy(v.region, "GB-LON");
    v.has_battery_kwh = true;
    v.battery_kwh = 64;
    v.has_max_power_kw = true;
    v.max_power_kw = 7.4;
    d2ev_prefs_default(&v.prefs);
    v.prefs_version = 1;
    v.registered_at = v.updated_at = now - 24 * HOUR;
    struct d2ev_window windows[4];
    struct d2ev_schedule s;
    memset(&s, 0, sizeof(s));
    s.status = D2EV_SCHED_OPTIMAL;
    strcpy(s.reason, "cheapest windows before the ready-by time");
    strcpy(s.price_forecast_id, "9b2f4c1e-3d5a-4e6f-8a7b-0c1d2e3f4a5b");
    strcpy(s.telemetry_id, "0b9e6a52-5f0e-4c43-9a7c-3d1f2e4b5a60");
    s.prefs_version = 1;
    s.created_at = now;
    s.ready_by = slot + 24 * HOUR;
    s.target_soc = 80;
    s.windows = windows;
    strcpy(s.currency, "GBP");
    strcpy(s.method, "milp");
    int rc = 0;
    for (long i = 0; i < n && rc == 0; i++) {
        snprintf(v.vehicle_id, sizeof(v.vehicle_id), "bench-%06ld", i);
        strcpy(s.vehicle_id, v.vehicle_id);
        s.version = 1 + i % 5;
        s.nwindows = 1 + (size_t)(i % 4);
        for (size_t w = 0; w < s.nwindows; w++) {
            windows[w].start = slot + (int64_t)(2 + 3 * w) * HOUR;
            windows[w].end = windows[w].start + HOUR;
            windows[w].energy_kwh = 7.4;
        }
        s.soc_at_plan = 20 + (double)(i % 40);
        s.expected_soc = 80;
        s.expected_cost = 0.12 * 7.4 * (double)s.nwindows;
        s.baseline_cost = 0.30 * 7.4 * (double)s.nwindows;
        s.expected_carbon_g = 120 * 7.4 * (double)s.nwindows;
        s.baseline_carbon_g = 210 * 7.4 * (double)s.nwindows;
        s.solve_ms = 3.5;
        rc = produce(p, D2EV_TOPIC_VEHICLES, v.vehicle_id, d2ev_vehicle_encode(&v)) ||
             produce(p, D2EV_TOPIC_SCHEDULES, v.vehicle_id, d2ev_schedule_encode(&s));
        if (i % 10000 == 0)
            d2ev_producer_poll(p, 0);
    }
    if (rc == 0 && d2ev_producer_flush(p, 120000, &err) != D2EV_OK) {
        fprintf(stderr, "flush: %s\n", err.msg);
        rc = 1;
    }
    d2ev_producer_destroy(p);
    if (rc == 0)
        printf("loaded %ld vehicles and %ld schedules\n", n, n);
    return rc ? 1 : 0;
}
