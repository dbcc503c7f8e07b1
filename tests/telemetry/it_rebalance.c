/*
 * Integration: two d2ev-telemetry replicas share twelve cars (four
 * partitions). A second replica joins, then the first stops: after each
 * rebalance every car keeps being polled, by one replica only (its samples
 * keep the poll interval), and every session carries on across the handovers
 * (one plug_in and one unplug per car, with the same session id).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "d2ev/clock.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"
#include "tel_fixture.h"

#define NCARS    12
#define INTERVAL 3000 /* --poll-charging-s=3 */

static const char *const args[] = { "--poll-charging-s=3",           "--poll-plugged-s=3",
                                    "--poll-unplugged-s=3",          "--poll-initial-spread-s=1",
                                    "--vehicle-polls-per-hour=3600", NULL };

struct world {
    struct tel_it t;
    struct d2ev_test_car cars[NCARS];
    struct tel_proc *procs[2];
    size_t nprocs;
    int want[2]; /* vehicles each replica should own, -1 = any but 0 */
};

static double owned(const struct tel_proc *p)
{
    return tel_it_metric(p, "d2ev_telemetry_vehicles", NULL) -
           tel_it_metric(p, "d2ev_telemetry_vehicles", "class=\"idle\"");
}

/* The replicas between them own every car, each the share wanted. */
static bool settled(void *arg)
{
    struct world *w = arg;
    double sum = 0;
    for (size_t i = 0; i < w->nprocs; i++) {
        double n = owned(w->procs[i]);
        if (n < 1)
            return false;
        sum += n;
    }
    return sum == NCARS;
}

#define MAXS 512

/* Each car's samples observed after `after` (ms), in order: one read of the topic. */
static void samples_after(struct world *w, int64_t after, int64_t (*times)[MAXS], size_t *n)
{
    json_t *r = tel_it_records(&w->t, D2EV_TOPIC_TELEMETRY, NULL, 0, 0);
    memset(n, 0, NCARS * sizeof(*n));
    size_t i;
    json_t *v;
    json_array_foreach(r, i, v)
    {
        const char *id = json_string_value(json_object_get(v, "vehicle_id"));
        int64_t obs = 0;
        d2ev_time_parse(json_string_value(json_object_get(v, "observed_at")), &obs, NULL);
        for (int c = 0; c < NCARS; c++) {
            if (id && !strcmp(id, w->cars[c].vehicle_id) && obs > after && n[c] < MAXS)
                times[c][n[c]++] = obs;
        }
    }
    json_decref(r);
}

struct since {
    struct world *w;
    int64_t after;
    size_t want;
};

static int64_t g_times[NCARS][MAXS];

static bool every_car_polled(void *arg)
{
    struct since *s = arg;
    size_t n[NCARS];
    samples_after(s->w, s->after, g_times, n);
    for (int i = 0; i < NCARS; i++) {
        if (n[i] < s->want)
            return false;
    }
    return true;
}

/* After `after`, no car was read twice within one poll interval (80 %, for
 * jitter): two replicas reading one car would interleave their reads. */
static void check_single_owner(struct world *w, int64_t after)
{
    size_t n[NCARS];
    samples_after(w, after, g_times, n);
    for (int i = 0; i < NCARS; i++) {
        assert_true(n[i] >= 3);
        for (size_t k = 1; k < n[i]; k++) {
            if (g_times[i][k] - g_times[i][k - 1] < INTERVAL * 8 / 10)
                fail_msg("%s read %lld ms apart", w->cars[i].vehicle_id,
                         (long long)(g_times[i][k] - g_times[i][k - 1]));
        }
    }
}

static bool all_unplugged(void *arg)
{
    struct world *w = arg;
    json_t *r = tel_it_records(&w->t, D2EV_TOPIC_SESSIONS, NULL, 0, 0);
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(r, i, v)
    {
        n += tel_it_is_event(v, "unplug");
    }
    json_decref(r);
    return n >= NCARS;
}

static void test_rebalances_keep_every_car_polled_once(void **state)
{
    struct world w;
    memset(&w, 0, sizeof(w));
    const char *sim_args[] = { "--sim-sleep-after-s=0", NULL };
    tel_it_start(&w.t, "tel-rebalance", 4, 60, 1, sim_args);
    static const char *const oems[] = { "smartcar", "tesla", "enode" };
    for (int o = 0; o < 3; o++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "car-%s", oems[o]);
        assert_int_equal(tel_it_link(&w.t, oems[o], 0, 4, prefix, &w.cars[4 * o]), 4);
    }
    for (int i = 0; i < NCARS; i++)
        tel_it_set(&w.t, &w.cars[i], "{\"plugged\":true,\"soc\":20,\"limit\":100}");

    struct tel_proc a, b;
    tel_it_telemetry(&w.t, &a, "telemetry-a", args);
    w.procs[w.nprocs++] = &a;
    struct since s = { &w, 0, 2 };
    assert_true(d2ev_test_wait(every_car_polled, &s, 60000));

    /* a second replica joins */
    tel_it_telemetry(&w.t, &b, "telemetry-b", args);
    w.procs[w.nprocs++] = &b;
    assert_true(d2ev_test_wait(settled, &w, 60000));
    int64_t t1 = d2ev_clock_now_ms() + 2 * INTERVAL;
    s = (struct since){ &w, t1, 3 };
    assert_true(d2ev_test_wait(every_car_polled, &s, 60000));
    check_single_owner(&w, t1);
    print_message("after the join: a owns %.0f, b owns %.0f\n", owned(&a), owned(&b));
    assert_true(tel_it_metric(&b, "d2ev_telemetry_sessions_restored_total", NULL) >= 1);

    /* the first one stops: the second takes every car */
    tel_it_telemetry_stop(&a);
    w.procs[0] = &b;
    w.nprocs = 1;
    assert_true(d2ev_test_wait(settled, &w, 60000));
    int64_t t2 = d2ev_clock_now_ms() + 2 * INTERVAL;
    s = (struct since){ &w, t2, 3 };
    assert_true(d2ev_test_wait(every_car_polled, &s, 60000));
    check_single_owner(&w, t2);

    /* sessions went on through both handovers */
    for (int i = 0; i < NCARS; i++)
        tel_it_set(&w.t, &w.cars[i], "{\"plugged\":false}");
    assert_true(d2ev_test_wait(all_unplugged, &w, 30000));
    for (int i = 0; i < NCARS; i++) {
        json_t *evs = tel_it_records(&w.t, D2EV_TOPIC_SESSIONS, w.cars[i].vehicle_id, 0, 0);
        int plugs = 0, unplugs = 0;
        const char *sid = NULL;
        size_t k;
        json_t *v;
        json_array_foreach(evs, k, v)
        {
            const char *id = json_string_value(json_object_get(v, "session_id"));
            if (!sid)
                sid = id;
            assert_string_equal(id, sid);
            plugs += tel_it_is_event(v, "plug_in");
            unplugs += tel_it_is_event(v, "unplug");
        }
        assert_int_equal(plugs, 1);
        assert_int_equal(unplugs, 1);
        json_decref(evs);
    }
    tel_it_telemetry_stop(&b);
    tel_it_stop(&w.t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rebalances_keep_every_car_polled_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
