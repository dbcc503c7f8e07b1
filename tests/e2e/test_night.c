/*
 * A whole night through the real binaries, the devbroker and d2ev-oemsim,
 * driven the way drivers and the app backend do (d2ev-demo's library):
 *   - every car that could reach its target did so by its ready-by time;
 *   - cars that could not were flagged (target_unreachable) and charged at
 *     full power: never paused after being flagged;
 *   - the total cost measured by telemetry is below the charge-at-plug-in
 *     baseline;
 *   - no pause went to a car after it was deregistered (the fail-safe resume
 *     START is the only command it may still get).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "d2ev/clock.h"
#include "d2ev/httpc.h"
#include "d2ev/log.h"
#include "d2ev/timefmt.h"
#include "d2ev_test.h"
#include "demo.h"
#include "e2e.h"

#define CARS  30
#define SPEED 600.0
#define HOURS 17

/* Stops the car received in [t, until); prints its command log when there are any. */
static int stops_between(struct demo_platform *p, const struct demo_car *c, int64_t t,
                         int64_t until)
{
    json_t *log = e2e_commands_of(p, c);
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(log, "commands"), i, e)
    {
        int64_t at = 0;
        d2ev_time_parse(json_string_value(json_object_get(e, "at")), &at, NULL);
        if (at >= t && at < until && e2e_is_stop(json_string_value(json_object_get(e, "command"))))
            n++;
    }
    if (n) {
        char a[D2EV_TIME_STR_MAX], b[D2EV_TIME_STR_MAX];
        printf("%s: commands (judged from %s to %s):\n", c->vehicle_id, d2ev_time_format(t, a),
               d2ev_time_format(until, b));
        json_array_foreach(json_object_get(log, "commands"), i, e)
            printf("  %s %s %s\n", json_string_value(json_object_get(e, "at")),
                   json_string_value(json_object_get(e, "command")),
                   json_string_value(json_object_get(e, "result")));
    }
    json_decref(log);
    return n;
}

/* True once the ops API no longer shows the vehicle (its tombstone was read). */
static bool gone(struct demo_platform *p, const struct demo_car *c)
{
    char url[256], base[64], auth[128];
    demo_url(p, DEMO_API, false, base);
    snprintf(url, sizeof(url), "%s/v1/vehicles/%s", base, c->vehicle_id);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", p->api_read_token);
    const char *hdr[] = { auth, NULL };
    return d2ev_httpc_request("GET", url, hdr, NULL, 0, 5000, NULL, NULL) == 404;
}

static void test_a_night(void **state)
{
    struct demo_conf conf = { 0 };
    struct demo_platform p;
    struct demo_fleet f;
    struct d2ev_err err = { 0 };
    e2e_start(&p, &f, &conf, "e2e-night", CARS, 11, SPEED);

    /* two drivers leave the service mid-evening */
    struct demo_car *left[2] = { &f.cars[5], &f.cars[17] };
    int64_t leave_at = conf.sim_start_ms + 5 * 3600000LL; /* 21:00 */
    int64_t gone_at[2] = { 0, 0 };
    int64_t until = conf.sim_start_ms + HOURS * 3600000LL;
    while (d2ev_clock_now_ms() < until) {
        for (int i = 0; i < 2; i++) {
            if (!left[i]->deregistered && d2ev_clock_now_ms() >= leave_at &&
                demo_fleet_deregister(&p, left[i], &err) != D2EV_OK)
                fail_msg("%s", err.msg);
            if (left[i]->deregistered && !gone_at[i] && gone(&p, left[i]))
                gone_at[i] = d2ev_clock_now_ms();
        }
        e2e_watch(&p, &f, 500);
    }
    struct demo_summary sum;
    e2e_summary(&p, &f, &sum);

    /* enough cars were home at their ready-by for the night to mean something */
    assert_true(sum.checked >= CARS / 2);
    /* every car that could reach its target did */
    assert_int_equal(sum.missed_feasible, 0);
    /* the flagged ones: above the car's own limit, charged to that limit;
     * otherwise charged at full power, never paused once flagged */
    for (size_t i = 0; i < f.n; i++) {
        struct demo_car *c = &f.cars[i];
        if (!c->unreachable || c->deregistered)
            continue;
        if (c->car_limit > 0 && c->target_soc > c->car_limit + 0.5) {
            if (c->checked && c->plugged_at_ready_by && c->soc_at_ready_by < c->car_limit - 1.0)
                fail_msg("%s: %.1f %% at ready-by, below its own limit of %.0f %%", c->vehicle_id,
                         c->soc_at_ready_by, c->car_limit);
            continue;
        }
        if (!c->flagged_now)
            continue; /* a later plan found the target within reach after all */
        int64_t flagged = c->unreachable_at;
        /* a pause already on its way when the plan changed may land a few
         * simulated minutes later; none after that */
        int n = stops_between(&p, c, flagged + 10 * 60000, c->ready_by_ms);
        if (n)
            fail_msg("%s was flagged unreachable yet paused %d time(s)", c->vehicle_id, n);
    }
    /* smart charging paid less than charging at plug-in */
    assert_true(sum.baseline_cost > 0);
    assert_true(sum.cost < sum.baseline_cost);
    /* nobody paused a car that had left */
    for (int i = 0; i < 2; i++) {
        if (!gone_at[i])
            fail_msg("%s was never removed from the views", left[i]->vehicle_id);
        int n = stops_between(&p, left[i], gone_at[i], INT64_MAX);
        if (n)
            fail_msg("%s got %d pause(s) after it was deregistered", left[i]->vehicle_id, n);
    }
    demo_fleet_free(&f);
    assert_int_equal(demo_platform_stop(&p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_night),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
