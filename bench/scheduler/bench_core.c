/*
 * bench_core: the scheduler's own share of a fleet-wide re-plan, without
 * Kafka or JSON: N plugged-in vehicles in a core, one new forecast for their
 * region, then the flush that plans them all and hands the schedules to an
 * output callback that only counts them.
 * Usage: bench_sched_core [vehicles] (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "core.h"

static size_t schedules, windows;

static int count_schedule(void *opaque, const struct d2ev_schedule *s)
{
    (void)opaque;
    schedules++;
    windows += s->nwindows;
    return 0;
}

static int ignore_tombstone(void *opaque, const char *id)
{
    (void)opaque;
    (void)id;
    return 0;
}

static int ignore_notification(void *opaque, const struct d2ev_notification *n)
{
    (void)opaque;
    (void)n;
    return 0;
}

static void offer(struct sched_core *c, const struct sched_forecast *g, const char *id,
                  int64_t issued, int64_t now)
{
    struct d2ev_forecast f;
    memset(&f, 0, sizeof(f));
    snprintf(f.env.id, sizeof(f.env.id), "%s", id);
    snprintf(f.region, sizeof(f.region), "bench");
    snprintf(f.unit, sizeof(f.unit), "GBP/kWh");
    f.kind = D2EV_FORECAST_PRICE;
    f.issued_at = issued;
    f.start = g->start;
    f.slot_minutes = g->slot_minutes;
    f.n = g->n;
    f.values = g->values;
    struct d2ev_err err;
    if (sched_core_on_forecast(c, &f, now, &err) != FORECAST_STORED)
        fprintf(stderr, "forecast refused: %s\n", err.msg);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 100000;
    int64_t now = bench_time("2024-01-15T19:00:00Z");
    struct sched_forecast f1, f2;
    bench_generate(D2EV_FORECAST_PRICE, bench_time("2024-01-15T00:00:00Z"), 30, 96, &f1);
    bench_generate(D2EV_FORECAST_PRICE, bench_time("2024-01-15T12:00:00Z"), 30, 96, &f2);
    for (size_t i = 0; i < f2.n; i++)
        f2.values[i] *= 1.05;
    struct sched_config cfg;
    sched_config_default(&cfg);
    static const struct sched_output_ops ops = { count_schedule, ignore_tombstone,
                                                 ignore_notification };
    struct sched_core *c = sched_core_create(&cfg, &ops, NULL);
    sched_core_set_live(c, true);
    offer(c, &f1, "fc-1", now - 3600000, now);
    double t0 = bench_us();
    for (size_t i = 0; i < n; i++) {
        struct d2ev_vehicle v;
        memset(&v, 0, sizeof(v));
        snprintf(v.vehicle_id, sizeof(v.vehicle_id), "veh-%06zu", i);
        snprintf(v.timezone, sizeof(v.timezone), "Europe/London");
        snprintf(v.region, sizeof(v.region), "bench");
        v.has_battery_kwh = true;
        v.battery_kwh = 40 + (double)(i % 41);
        v.has_max_power_kw = true;
        v.max_power_kw = i % 4 ? 7.4 : 11;
        bench_prefs(&v.prefs);
        v.prefs.ready_by[0] = (int16_t)(360 + i % 180);
        v.prefs_version = 1;
        sched_core_on_vehicle(c, &v, (int32_t)(i % 6), now);
        struct d2ev_telemetry t;
        memset(&t, 0, sizeof(t));
        snprintf(t.vehicle_id, sizeof(t.vehicle_id), "%s", v.vehicle_id);
        t.observed_at = now;
        t.soc = 10 + (double)(i % 60);
        t.plugged_in = true;
        t.charging_state = D2EV_CHG_STOPPED;
        sched_core_on_telemetry(c, &t, (int32_t)(i % 6), now);
    }
    double t1 = bench_us();
    sched_core_flush(c, now);
    double t2 = bench_us();
    printf("%zu vehicles: state built in %.0f ms, first plans (plug-in) %.0f ms\n", n,
           (t1 - t0) / 1000, (t2 - t1) / 1000);
    schedules = windows = 0;
    now += 60000;
    double t3 = bench_us();
    offer(c, &f2, "fc-2", now, now);
    sched_core_flush(c, now);
    double t4 = bench_us();
    printf("one forecast update: %zu schedules (%.1f windows each) in %.0f ms, %.2f us per "
           "vehicle\n",
           schedules, (double)windows / (double)schedules, (t4 - t3) / 1000,
           (t4 - t3) / (double)schedules);
    sched_core_destroy(c);
    sched_forecast_clear(&f1);
    sched_forecast_clear(&f2);
    return 0;
}
