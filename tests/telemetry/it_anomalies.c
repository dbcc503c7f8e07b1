/*
 * Integration: zombie and eternal sessions, with d2ev-oemsim on a clock 60
 * times real time and schedules the test publishes as the scheduler would.
 *  - zombie: its schedule says charge now, but the car stays paused
 *    (charging_paused, as a car that ignores the start command would);
 *  - eternal: its schedule pauses it until later, but it keeps charging (as
 *    a car that ignores the stop command would);
 *  - a car charging normally, with no schedule, raises nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "d2ev/topics.h"
#include "tel_fixture.h"

#define MIN 60000LL

static bool is_anomaly(json_t *v, void *arg)
{
    const char *a = json_string_value(json_object_get(v, "anomaly"));
    return tel_it_is_event(v, "anomaly") && a && !strcmp(a, (const char *)arg);
}

static int anomalies(struct tel_it *t, const char *vehicle_id)
{
    json_t *r = tel_it_records(t, D2EV_TOPIC_SESSIONS, vehicle_id, 0, 0);
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(r, i, v)
    {
        n += tel_it_is_event(v, "anomaly");
    }
    json_decref(r);
    return n;
}

static void test_zombie_and_eternal_sessions(void **state)
{
    struct tel_it t;
    const char *sim_args[] = { "--sim-sleep-after-s=0", NULL };
    tel_it_start(&t, "tel-anomalies", 4, 30, 60, sim_args);
    struct d2ev_test_car zombie, eternal, normal;
    assert_int_equal(tel_it_link(&t, "smartcar", 0, 1, "zombie", &zombie), 1);
    assert_int_equal(tel_it_link(&t, "tesla", 0, 1, "eternal", &eternal), 1);
    assert_int_equal(tel_it_link(&t, "enode", 0, 1, "normal", &normal), 1);
    tel_it_set(&t, &zombie, "{\"plugged\":true,\"charging_paused\":true,\"soc\":40,\"limit\":90}");
    tel_it_set(&t, &eternal, "{\"plugged\":true,\"soc\":30,\"limit\":100}");
    tel_it_set(&t, &normal, "{\"plugged\":true,\"soc\":30,\"limit\":100}");
    struct tel_proc tel;
    const char *args[] = { "--poll-charging-s=60",
                           "--poll-boundary-s=60",
                           "--poll-plugged-s=120",
                           "--poll-initial-spread-s=5",
                           "--zombie-minutes=10",
                           "--eternal-grace-minutes=10",
                           NULL };
    tel_it_telemetry(&t, &tel, "telemetry", args);
    const char *ids[] = { zombie.vehicle_id, eternal.vehicle_id, normal.vehicle_id };
    for (int i = 0; i < 3; i++)
        assert_true(
            tel_it_wait_record(&t, D2EV_TOPIC_SESSIONS, ids[i], tel_it_is_event, "plug_in", 30000));
    /* the plans, made after the plug-ins */
    int64_t now = tel_it_now();
    int64_t charge_now[] = { now - 1 * MIN, now + 240 * MIN };
    int64_t charge_later[] = { now + 180 * MIN, now + 240 * MIN };
    tel_it_schedule(&t, zombie.vehicle_id, 1, charge_now, 1);
    tel_it_schedule(&t, eternal.vehicle_id, 1, charge_later, 1);
    assert_true(tel_it_wait_record(&t, D2EV_TOPIC_SESSIONS, zombie.vehicle_id, is_anomaly, "zombie",
                                   60000));
    assert_true(tel_it_wait_record(&t, D2EV_TOPIC_SESSIONS, eternal.vehicle_id, is_anomaly,
                                   "eternal", 60000));
    int64_t seen = tel_it_now();
    assert_true(seen - now >= 10 * MIN); /* not before the thresholds */
    tel_it_sleep_until(seen + 15 * MIN, 60000);
    /* once each; none for the well-behaved car */
    assert_int_equal(anomalies(&t, zombie.vehicle_id), 1);
    assert_int_equal(anomalies(&t, eternal.vehicle_id), 1);
    assert_int_equal(anomalies(&t, normal.vehicle_id), 0);
    assert_int_equal(tel_it_metric(&tel, "d2ev_telemetry_anomalies_total", "zombie"), 1);
    assert_int_equal(tel_it_metric(&tel, "d2ev_telemetry_anomalies_total", "eternal"), 1);
    /* the plan is obeyed at last: the zombie charges; no new anomaly */
    tel_it_set(&t, &zombie, "{\"charging_paused\":false}");
    tel_it_sleep_until(tel_it_now() + 10 * MIN, 60000);
    assert_int_equal(anomalies(&t, zombie.vehicle_id), 1);
    tel_it_telemetry_stop(&tel);
    tel_it_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zombie_and_eternal_sessions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
