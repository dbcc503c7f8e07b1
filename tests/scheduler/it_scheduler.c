/*
 * Integration: d2ev-scheduler against a devbroker. Vehicles, forecasts and
 * telemetry go in as real messages; schedules, notifications, dead letters
 * and tombstones come out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/events.h"
#include "d2ev/topics.h"
#include "d2ev_test.h"
#include "forecast_gen.h"

#define HALF_HOUR 1800000LL

struct it {
    struct d2ev_test_broker broker;
    const char *tmp;
    struct d2ev_test_proc sched;
    int admin_port;
    char env_brokers[256];
    char arg_port[32];
};

static void produce_json(struct it *t, const char *topic, const char *key, json_t *msg)
{
    assert_non_null(msg);
    char *text = json_dumps(msg, JSON_COMPACT);
    d2ev_test_produce(t->broker.bootstrap, topic, key, text);
    free(text);
    json_decref(msg);
}

static void produce_vehicle(struct it *t, const char *id, const char *region, int64_t pv)
{
    struct d2ev_vehicle v;
    memset(&v, 0, sizeof(v));
    snprintf(v.vehicle_id, sizeof(v.vehicle_id), "%s", id);
    snprintf(v.user_id, sizeof(v.user_id), "user-%s", id);
    snprintf(v.oem, sizeof(v.oem), "sim");
    snprintf(v.oem_vehicle_id, sizeof(v.oem_vehicle_id), "oem-%s", id);
    snprintf(v.timezone, sizeof(v.timezone), "Europe/London");
    snprintf(v.region, sizeof(v.region), "%s", region);
    v.has_battery_kwh = true;
    v.battery_kwh = 60;
    v.has_max_power_kw = true;
    v.max_power_kw = 7.4;
    d2ev_prefs_default(&v.prefs);
    v.prefs_version = pv;
    v.registered_at = v.updated_at = d2ev_clock_real_ms();
    produce_json(t, D2EV_TOPIC_VEHICLES, id, d2ev_vehicle_encode(&v));
}

static void produce_telemetry(struct it *t, const char *id, double soc, bool plugged)
{
    struct d2ev_telemetry m;
    memset(&m, 0, sizeof(m));
    snprintf(m.vehicle_id, sizeof(m.vehicle_id), "%s", id);
    snprintf(m.oem, sizeof(m.oem), "sim");
    m.observed_at = m.reported_at = d2ev_clock_real_ms();
    m.soc = soc;
    m.plugged_in = plugged;
    m.charging_state = plugged ? D2EV_CHG_STOPPED : D2EV_CHG_DISCONNECTED;
    produce_json(t, D2EV_TOPIC_TELEMETRY, id, d2ev_telemetry_encode(&m));
}

/* A 48-hour generated price forecast from the current half-hour. */
static void produce_forecast(struct it *t, const char *region, uint64_t seed)
{
    int64_t now = d2ev_clock_real_ms();
    int64_t start = now - now % HALF_HOUR;
    double v[96];
    struct fgen_options o;
    fgen_options_default(&o);
    o.seed = seed;
    o.region = region;
    o.tz = d2ev_tz_get("Europe/London", NULL);
    fgen_series(&o, D2EV_FORECAST_PRICE, start, 96, v);
    struct d2ev_forecast f;
    memset(&f, 0, sizeof(f));
    snprintf(f.region, sizeof(f.region), "%s", region);
    f.kind = D2EV_FORECAST_PRICE;
    snprintf(f.unit, sizeof(f.unit), "GBP/kWh");
    f.issued_at = now;
    f.start = start;
    f.slot_minutes = 30;
    f.n = 96;
    f.values = v;
    snprintf(f.source, sizeof(f.source), "it");
    char key[64];
    snprintf(key, sizeof(key), "%s:price", region);
    produce_json(t, D2EV_TOPIC_FORECASTS, key, d2ev_forecast_encode(&f));
}

static void start_scheduler(struct it *t)
{
    t->admin_port = d2ev_test_free_port();
    snprintf(t->env_brokers, sizeof(t->env_brokers), "D2EV_KAFKA_BROKERS=%s", t->broker.bootstrap);
    snprintf(t->arg_port, sizeof(t->arg_port), "--admin-port=%d", t->admin_port);
    const char *argv[] = { t->arg_port, "--tick-ms=200", NULL };
    const char *env[] = { t->env_brokers, NULL };
    d2ev_test_spawn(&t->sched, t->tmp, "scheduler", d2ev_test_bin("d2ev-scheduler"), argv, env);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", t->admin_port);
    assert_true(d2ev_test_wait_http(url, 200, 30000));
}

/* The last record of topic for key whose value satisfies pred (or NULL). */
static json_t *find_last(json_t *records, const char *key, bool (*pred)(json_t *value, void *arg),
                         void *arg)
{
    json_t *hit = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r)
    {
        const char *k = json_string_value(json_object_get(r, "key"));
        json_t *v = json_object_get(r, "value");
        if (k && !strcmp(k, key) && (!pred || pred(v, arg)))
            hit = r;
    }
    return hit;
}

static bool has_status(json_t *v, void *arg)
{
    const char *st = json_string_value(json_object_get(v, "status"));
    return st && !strcmp(st, (const char *)arg);
}

static bool is_null(json_t *v, void *arg)
{
    (void)arg;
    return !v || json_is_null(v);
}

struct wait_arg {
    struct it *t;
    const char *topic, *key;
    bool (*pred)(json_t *, void *);
    void *pred_arg;
    size_t min;
};

static bool topic_has(void *p)
{
    struct wait_arg *w = p;
    json_t *recs = d2ev_test_read_topic(w->t->broker.bootstrap, w->topic, 0, 2000);
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        const char *k = json_string_value(json_object_get(r, "key"));
        if (k && !strcmp(k, w->key) &&
            (!w->pred || w->pred(json_object_get(r, "value"), w->pred_arg)))
            n++;
    }
    json_decref(recs);
    return n >= w->min;
}

static void wait_for(struct it *t, const char *topic, const char *key,
                     bool (*pred)(json_t *, void *), void *arg, size_t min)
{
    struct wait_arg w = { t, topic, key, pred, arg, min };
    if (!d2ev_test_wait(topic_has, &w, 30000))
        fail_msg("no %zu record(s) for %s on %s (see %s)", min, key, topic, t->sched.log_path);
}

static void test_end_to_end(void **state)
{
    (void)state;
    struct it t;
    memset(&t, 0, sizeof(t));
    t.tmp = d2ev_test_tmpdir("it-scheduler");
    d2ev_test_broker_start(&t.broker, t.tmp, 3);
    produce_forecast(&t, "uk-e", 1);
    produce_vehicle(&t, "car-1", "uk-e", 1);
    produce_vehicle(&t, "car-2", "uk-e", 1);
    produce_telemetry(&t, "car-1", 30, true);
    start_scheduler(&t);

    /* plug-in: an optimal plan and a start estimate */
    wait_for(&t, D2EV_TOPIC_SCHEDULES, "car-1", has_status, "optimal", 1);
    wait_for(&t, D2EV_TOPIC_NOTIFICATIONS, "car-1", NULL, NULL, 1);
    json_t *recs = d2ev_test_read_topic(t.broker.bootstrap, D2EV_TOPIC_SCHEDULES, 1, 5000);
    json_t *s = json_object_get(find_last(recs, "car-1", NULL, NULL), "value");
    assert_non_null(s);
    struct d2ev_schedule sched;
    struct d2ev_err err;
    const char *raw =
        json_string_value(json_object_get(find_last(recs, "car-1", NULL, NULL), "raw"));
    assert_int_equal(d2ev_schedule_decode(raw, strlen(raw), &sched, &err), 0);
    assert_true(sched.nwindows >= 1);
    assert_true(sched.expected_soc >= 79.9);
    assert_true(sched.baseline_cost >= sched.expected_cost);
    int64_t v1 = sched.version;
    char fc1[D2EV_EVENT_ID_MAX + 1];
    snprintf(fc1, sizeof(fc1), "%s", sched.price_forecast_id);
    assert_true(fc1[0] != '\0');
    d2ev_schedule_clear(&sched);
    json_decref(recs);
    recs = d2ev_test_read_topic(t.broker.bootstrap, D2EV_TOPIC_NOTIFICATIONS, 1, 5000);
    json_t *n = json_object_get(find_last(recs, "car-1", NULL, NULL), "value");
    assert_string_equal(json_string_value(json_object_get(n, "kind")), "charge_start_estimate");
    json_decref(recs);

    /* bad input is dead-lettered with the decoder's reason */
    d2ev_test_produce(t.broker.bootstrap, D2EV_TOPIC_TELEMETRY, "car-1", "{\"type\":\"nope\"}");
    wait_for(&t, D2EV_TOPIC_DEADLETTER, "car-1", NULL, NULL, 1);

    /* a new forecast re-plans with a higher version */
    produce_forecast(&t, "uk-e", 2);
    wait_for(&t, D2EV_TOPIC_SCHEDULES, "car-1", NULL, NULL, 2);
    recs = d2ev_test_read_topic(t.broker.bootstrap, D2EV_TOPIC_SCHEDULES, 2, 5000);
    raw = json_string_value(json_object_get(find_last(recs, "car-1", NULL, NULL), "raw"));
    assert_int_equal(d2ev_schedule_decode(raw, strlen(raw), &sched, &err), 0);
    assert_true(sched.version > v1);
    assert_true(strcmp(sched.price_forecast_id, fc1) != 0);
    v1 = sched.version;
    d2ev_schedule_clear(&sched);
    json_decref(recs);

    /* an operator's re-plan of an unplugged car: "not_plugged" */
    struct d2ev_control ctl;
    memset(&ctl, 0, sizeof(ctl));
    snprintf(ctl.vehicle_id, sizeof(ctl.vehicle_id), "car-2");
    snprintf(ctl.requested_by, sizeof(ctl.requested_by), "ops");
    snprintf(ctl.reason, sizeof(ctl.reason), "test");
    produce_json(&t, D2EV_TOPIC_CONTROL, "car-2", d2ev_control_encode(&ctl));
    wait_for(&t, D2EV_TOPIC_SCHEDULES, "car-2", has_status, "not_plugged", 1);

    /* a clean stop, and a restart that keeps versions increasing */
    assert_int_equal(d2ev_test_stop(&t.sched, SIGTERM, 10000), 0);
    start_scheduler(&t);
    snprintf(ctl.vehicle_id, sizeof(ctl.vehicle_id), "car-1");
    produce_json(&t, D2EV_TOPIC_CONTROL, "car-1", d2ev_control_encode(&ctl));
    wait_for(&t, D2EV_TOPIC_SCHEDULES, "car-1", NULL, NULL, 3);
    recs = d2ev_test_read_topic(t.broker.bootstrap, D2EV_TOPIC_SCHEDULES, 3, 5000);
    raw = json_string_value(json_object_get(find_last(recs, "car-1", NULL, NULL), "raw"));
    assert_int_equal(d2ev_schedule_decode(raw, strlen(raw), &sched, &err), 0);
    assert_true(sched.version > v1);
    d2ev_schedule_clear(&sched);
    json_decref(recs);

    /* deregistration: the schedule is tombstoned */
    d2ev_test_produce(t.broker.bootstrap, D2EV_TOPIC_VEHICLES, "car-1", NULL);
    wait_for(&t, D2EV_TOPIC_SCHEDULES, "car-1", is_null, NULL, 1);

    assert_int_equal(d2ev_test_stop(&t.sched, SIGTERM, 10000), 0);
    d2ev_test_broker_stop(&t.broker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
