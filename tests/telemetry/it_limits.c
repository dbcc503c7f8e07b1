/*
 * Integration: d2ev-telemetry keeps to what OEMs allow, on the real clock.
 *  - Sleeping cars of every OEM are polled (often, for the test) and never
 *    woken: the simulator counts no wake, and they still sleep.
 *  - Under the simulator's 429 faults (per vehicle for Smartcar, per
 *    application for Tesla) the poller waits for Retry-After: a read that
 *    got a 429 is followed by one that succeeds, so 429s never outnumber
 *    successful reads, although the poll interval asks for ten times more.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "d2ev/clock.h"
#include "d2ev/topics.h"
#include "tel_fixture.h"

static const char *const oems[] = { "smartcar", "tesla", "enode" };

static double stat(json_t *stats, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(stats, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return json_number_value(v);
}

struct asleep_reads {
    struct tel_it *t;
    int want;
};

/* Each sleeping car has been read at least `want` times. */
static bool read_often(void *arg)
{
    struct asleep_reads *a = arg;
    json_t *s = tel_it_sim_stats(a->t);
    bool ok = stat(s, "asleep_rejections", "smartcar", NULL) >= a->want &&
              stat(s, "asleep_rejections", "tesla", NULL) >= a->want &&
              stat(s, "requests", "enode", "vehicle") >= a->want;
    json_decref(s);
    return ok;
}

static bool asleep_answers(void *arg)
{
    return tel_it_metric(arg, "d2ev_telemetry_polls_total", "outcome=\"asleep\"") >= 8;
}

static void test_polls_never_wake_a_sleeping_car(void **state)
{
    struct tel_it t;
    tel_it_start(&t, "tel-asleep", 4, 30, 1, NULL);
    struct d2ev_test_car cars[3];
    for (int i = 0; i < 3; i++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "z-%s", oems[i]);
        assert_int_equal(tel_it_link(&t, oems[i], 0, 1, prefix, &cars[i]), 1);
        tel_it_set(&t, &cars[i], "{\"plugged\":true,\"charging_paused\":true}");
        tel_it_set(&t, &cars[i], "{\"asleep\":true}");
    }
    struct tel_proc tel;
    const char *args[] = { "--poll-asleep-s=2", "--poll-plugged-s=2", "--poll-initial-spread-s=1",
                           "--vehicle-polls-per-hour=3600", NULL };
    tel_it_telemetry(&t, &tel, "telemetry", args);
    struct asleep_reads a = { &t, 4 };
    assert_true(d2ev_test_wait(read_often, &a, 60000));
    json_t *s = tel_it_sim_stats(&t);
    assert_int_equal(stat(s, "wakes_total", NULL, NULL), 0);
    assert_int_equal(stat(s, "requests", "tesla", "wake_up"), 0);
    json_decref(s);
    for (int i = 0; i < 3; i++) {
        json_t *truth = tel_it_truth(&t, &cars[i]);
        assert_int_equal(json_integer_value(json_object_get(truth, "wake_count")), 0);
        assert_true(json_is_true(json_object_get(truth, "asleep")));
        json_decref(truth);
    }
    /* telemetry saw them asleep (its answers may trail the simulator's count) */
    assert_true(d2ev_test_wait(asleep_answers, &tel, 30000));
    assert_true(tel_it_metric(&tel, "d2ev_telemetry_vehicles", "class=\"asleep\"") >= 2);
    tel_it_telemetry_stop(&tel);
    tel_it_stop(&t);
}

static int samples_of(struct tel_it *t, const struct d2ev_test_car *c)
{
    json_t *r = tel_it_records(t, D2EV_TOPIC_TELEMETRY, c->vehicle_id, 0, 0);
    int n = (int)json_array_size(r);
    json_decref(r);
    return n;
}

static void test_429s_back_the_poller_off(void **state)
{
    struct tel_it t;
    const char *sim_args[] = { "--sim-sleep-after-s=0", NULL };
    tel_it_start(&t, "tel-429", 4, 30, 1, sim_args);
    struct d2ev_test_car sc, tesla[2];
    assert_int_equal(tel_it_link(&t, "smartcar", 0, 1, "r-sc", &sc), 1);
    assert_int_equal(tel_it_link(&t, "tesla", 0, 2, "r-tesla", tesla), 2);
    tel_it_set(&t, &sc, "{\"plugged\":true,\"soc\":30,\"limit\":100}");
    for (int i = 0; i < 2; i++)
        tel_it_set(&t, &tesla[i], "{\"plugged\":true,\"soc\":30,\"limit\":100}");
    /* Smartcar: 6 reads a minute per vehicle; Tesla: 12 a minute for the app */
    json_decref(d2ev_test_oemsim_post(
        &t.sim, "/faults",
        "{\"oem\":\"smartcar\",\"vehicle_rate_per_min\":6,\"vehicle_burst\":1}"));
    json_decref(d2ev_test_oemsim_post(
        &t.sim, "/faults", "{\"oem\":\"tesla\",\"app_rate_per_min\":12,\"app_burst\":1}"));
    struct tel_proc tel;
    /* a poll a second per charging car (ten times what the OEMs allow), no
     * per-vehicle budget, quick backoff: only Retry-After holds it back */
    const char *args[] = { "--poll-charging-s=1", "--poll-initial-spread-s=1", "--backoff-base-s=1",
                           "--vehicle-polls-per-hour=0", NULL };
    tel_it_telemetry(&t, &tel, "telemetry", args);
    int64_t t0 = d2ev_clock_mono_ms();
    json_t *s = NULL;
    for (;;) {
        s = tel_it_sim_stats(&t);
        if (stat(s, "rate_limited", "smartcar", "vehicle") >= 2 &&
            stat(s, "rate_limited", "tesla", "app") >= 2 && d2ev_clock_mono_ms() - t0 > 25000)
            break;
        assert_true(d2ev_clock_mono_ms() - t0 < 90000);
        json_decref(s);
        struct timespec ts = { 0, 500 * 1000000 };
        nanosleep(&ts, NULL);
    }
    double minutes = (double)(d2ev_clock_mono_ms() - t0) / 60000.0;
    double sc_429 = stat(s, "rate_limited", "smartcar", "vehicle");
    double tesla_429 = stat(s, "rate_limited", "tesla", "app");
    json_decref(s);
    int sc_ok = samples_of(&t, &sc),
        tesla_ok = samples_of(&t, &tesla[0]) + samples_of(&t, &tesla[1]);
    print_message("%.2f min: smartcar %d reads, %.0f 429s; tesla %d reads, %.0f 429s\n", minutes,
                  sc_ok, sc_429, tesla_ok, tesla_429);
    /* after a 429 the next read comes after Retry-After, and succeeds */
    assert_true(sc_ok >= 2 && tesla_ok >= 2);
    assert_true(sc_429 <= sc_ok + 1);
    assert_true(tesla_429 <= tesla_ok + 2);
    /* and the OEMs' own limits held: at most burst + rate x time */
    assert_true(sc_ok <= 1 + 6 * (minutes + 0.1) + 1);
    assert_true(tesla_ok <= 1 + 12 * (minutes + 0.1) + 1);
    /* the engine waited out most 429s itself; every one is counted */
    assert_true(tel_it_metric(&tel, "d2ev_oem_rate_limited_total", NULL) >= 4);
    tel_it_telemetry_stop(&tel);
    tel_it_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_polls_never_wake_a_sleeping_car),
        cmocka_unit_test(test_429s_back_the_poller_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
