/* Unit: the daily report, aggregated from exported files of a small known dataset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "d2ev/clock.h"
#include "d2ev_test.h"
#include "exp_fixture.h"
#include "export_report.h"
#include "layout.h"
#include "row.h"

/* 2026-11-21T00:00:00Z */
#define D0 (20778LL * FX_DAY)

struct data {
    struct exp_batch b;
    int64_t off[EXP_NTOPICS];
};

static void put(struct data *d, int topic, char *text)
{
    fx_add(&d->b, topic, 0, d->off[topic]++, text);
    free(text);
}

static void dispatch(struct data *d, const char *v, const char *cmd, enum d2ev_dispatch_result r,
                     const char *cls, int64_t t)
{
    put(d, EXP_TOPIC_DISPATCH, fx_dispatch(v, cmd, r, cls, D0 + t));
}

static void session(struct data *d, const char *v, const char *s, enum d2ev_session_event ev,
                    enum d2ev_anomaly an, double kwh, double cost, double carbon)
{
    put(d, EXP_TOPIC_SESSIONS, fx_session(v, s, ev, an, kwh, cost, carbon, D0 + 10 * FX_HOUR));
}

/* The dataset: see the expectations in test_known_day. */
static void build(const char *root)
{
    struct data d;
    memset(&d, 0, sizeof(d));
    const char *oems[][2] = {
        { "v-1", "tesla" }, { "v-2", "tesla" }, { "v-3", "smartcar" }, { "v-4", "enode" }
    };
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++)
            put(&d, EXP_TOPIC_TELEMETRY, fx_telemetry(oems[i][0], oems[i][1], D0 + k * FX_HOUR));
    /* v-1: c-1 rate-limited then failed; c-2 fine */
    dispatch(&d, "v-1", "c-1", D2EV_DISPATCH_SENT, NULL, FX_HOUR);
    dispatch(&d, "v-1", "c-1", D2EV_DISPATCH_RETRY, "rate_limited", FX_HOUR + 1000);
    dispatch(&d, "v-1", "c-1", D2EV_DISPATCH_FAILED, "permanent", FX_HOUR + 2000);
    dispatch(&d, "v-1", "c-2", D2EV_DISPATCH_SENT, NULL, 2 * FX_HOUR);
    dispatch(&d, "v-1", "c-2", D2EV_DISPATCH_CONFIRMED, NULL, 2 * FX_HOUR + 1000);
    /* v-2: c-3 rate-limited twice, then the car did not obey */
    dispatch(&d, "v-2", "c-3", D2EV_DISPATCH_RETRY, "rate_limited", FX_HOUR);
    dispatch(&d, "v-2", "c-3", D2EV_DISPATCH_RETRY, "rate_limited", FX_HOUR + 1000);
    dispatch(&d, "v-2", "c-3", D2EV_DISPATCH_ALERT, NULL, FX_HOUR + 2000);
    /* v-3: fine, one rate-limit hit */
    dispatch(&d, "v-3", "c-4", D2EV_DISPATCH_CONFIRMED, NULL, FX_HOUR);
    dispatch(&d, "v-3", "c-5", D2EV_DISPATCH_RETRY, "rate_limited", FX_HOUR);
    /* v-5: no telemetry today, one failed command */
    dispatch(&d, "v-5", "c-6", D2EV_DISPATCH_FAILED, "permanent", FX_HOUR);
    /* sessions: a zombie reported twice and an eternal session on v-3 */
    session(&d, "v-3", "s-3", D2EV_SESSION_ANOMALY, D2EV_ANOMALY_ZOMBIE, 1, 0.1, 10);
    session(&d, "v-3", "s-3", D2EV_SESSION_ANOMALY, D2EV_ANOMALY_ZOMBIE, 1, 0.1, 10);
    session(&d, "v-3", "s-4", D2EV_SESSION_ANOMALY, D2EV_ANOMALY_ETERNAL, 1, 0.1, 10);
    session(&d, "v-1", "s-1", D2EV_SESSION_PLUG_IN, D2EV_ANOMALY_NONE, 0, 0, 0);
    session(&d, "v-1", "s-1", D2EV_SESSION_UPDATE, D2EV_ANOMALY_NONE, 4, 0.8, 400);
    session(&d, "v-1", "s-1", D2EV_SESSION_UNPLUG, D2EV_ANOMALY_NONE, 10, 2.0, 1000);
    session(&d, "v-4", "s-5", D2EV_SESSION_PLUG_IN, D2EV_ANOMALY_NONE, 0, 0, 0);
    session(&d, "v-4", "s-5", D2EV_SESSION_UNPLUG, D2EV_ANOMALY_NONE, 5, 1.0, 500);
    char *eur = fx_session("v-2", "s-2", D2EV_SESSION_UNPLUG, D2EV_ANOMALY_NONE, 20, 3, 100,
                           D0 + 9 * FX_HOUR);
    char *p = strstr(eur, "\"GBP\"");
    assert_non_null(p);
    memcpy(p + 1, "EUR", 3);
    put(&d, EXP_TOPIC_SESSIONS, eur);
    /* schedules. v-1, ready 07:00: planned the evening before (v2 no forecast, v3
     * optimal with its window at 01:00-02:00), re-planned at 00:30 (v4) */
    int64_t rb1 = D0 + 7 * FX_HOUR;
    put(&d, EXP_TOPIC_SCHEDULES,
        fx_schedule("v-1", 2, D2EV_SCHED_NO_FORECAST, D0 - 6 * FX_HOUR, rb1, D0 - 6 * FX_HOUR, 1,
                    7.2, 3.0, 3.0, 1500, 1500));
    put(&d, EXP_TOPIC_SCHEDULES,
        fx_schedule("v-1", 3, D2EV_SCHED_OPTIMAL, D0 - 5 * FX_HOUR, rb1, D0 + FX_HOUR, 1, 7.2, 1.0,
                    3.0, 500, 1500));
    put(&d, EXP_TOPIC_SCHEDULES,
        fx_schedule("v-1", 4, D2EV_SCHED_OPTIMAL, D0 + FX_HOUR / 2, rb1, D0 + FX_HOUR, 1, 7.2, 0.9,
                    2.9, 450, 1400));
    /* v-2: charge now (at once: nothing shifted) */
    put(&d, EXP_TOPIC_SCHEDULES,
        fx_schedule("v-2", 5, D2EV_SCHED_CHARGE_NOW, D0 + 2 * FX_HOUR, D0 + 8 * FX_HOUR,
                    D0 + 2 * FX_HOUR, 0.5, 3, 0.9, 0.9, 300, 300));
    /* v-3: ready tomorrow, v-4: nothing to charge: neither counts today */
    put(&d, EXP_TOPIC_SCHEDULES,
        fx_schedule("v-3", 1, D2EV_SCHED_OPTIMAL, D0 + 20 * FX_HOUR, D0 + 30 * FX_HOUR,
                    D0 + 25 * FX_HOUR, 1, 5, 1, 2, 10, 20));
    put(&d, EXP_TOPIC_SCHEDULES,
        fx_schedule("v-4", 1, D2EV_SCHED_NOT_PLUGGED, D0 + FX_HOUR, D0 + 6 * FX_HOUR, 0, 0, 0, 0, 0,
                    0, 0));
    /* a deregistered vehicle's tombstone */
    struct d2ev_strbuf line = D2EV_STRBUF_INIT;
    exp_row_tombstone(&line, "d2ev.schedules", 0, d.off[EXP_TOPIC_SCHEDULES], "v-6",
                      D0 + 3 * FX_HOUR, NULL);
    struct exp_part *part = exp_batch_part(&d.b, EXP_TOPIC_SCHEDULES, 0);
    assert_int_equal(exp_batch_add(&d.b, part, d.off[EXP_TOPIC_SCHEDULES]++, exp_day_of(D0), D0,
                                   "tombstone", "v-6", D0 + 3 * FX_HOUR, line.buf, line.len),
                     0);
    d2ev_strbuf_free(&line);
    fx_flush(&d.b, root);
    exp_batch_destroy(&d.b);
}

static json_t *find(json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (!strcmp(json_string_value(json_object_get(e, key)), value))
            return e;
    }
    fail_msg("no %s %s", key, value);
    return NULL;
}

static long long iget(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", key);
    return json_integer_value(v);
}

static double nget(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("%s is not a number", key);
    return json_number_value(v);
}

#define assert_near(a, b) assert_true(fabs((a) - (b)) < 1e-6)

static void test_known_day(void **state)
{
    (void)state;
    char root[600];
    snprintf(root, sizeof(root), "%s/export", d2ev_test_tmpdir("exp-report"));
    build(root);
    struct d2ev_err err = { 0 };
    json_t *r = d2ev_export_report_build(root, "2026-11-21", &err);
    if (!r)
        fail_msg("report: %s", err.msg);
    assert_string_equal(json_string_value(json_object_get(r, "date")), "2026-11-21");

    json_t *src = json_object_get(r, "source");
    assert_int_equal(iget(src, "rows"),
                     12 + 11 + 9 + 5); /* the day's rows; v-1's v2/v3 are the day before */
    assert_int_equal(iget(src, "tombstones"), 1);
    assert_int_equal(iget(src, "unreadable_rows"), 0);
    assert_int_equal(iget(json_object_get(src, "rows_by_topic"), "d2ev.telemetry"), 12);

    /* vehicles: ranked by commands that did not take effect, anomalies, rate limits */
    json_t *v = json_object_get(r, "vehicles");
    assert_int_equal(json_array_size(v), 4); /* v-4 had no issue */
    const char *order[] = { "v-2", "v-1", "v-5", "v-3" };
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(v, i), "vehicle_id")),
                            order[i]);
    json_t *v1 = find(v, "vehicle_id", "v-1");
    assert_string_equal(json_string_value(json_object_get(v1, "oem")), "tesla");
    assert_int_equal(iget(v1, "commands"), 2);
    assert_int_equal(iget(v1, "failed_commands"), 1);
    assert_int_equal(iget(v1, "alerts"), 0);
    assert_int_equal(iget(v1, "rate_limit_hits"), 1);
    json_t *v2 = find(v, "vehicle_id", "v-2");
    assert_int_equal(iget(v2, "alerts"), 1);
    assert_int_equal(iget(v2, "rate_limit_hits"), 2);
    json_t *v3 = find(v, "vehicle_id", "v-3");
    assert_string_equal(json_string_value(json_object_get(v3, "oem")), "smartcar");
    assert_int_equal(iget(v3, "zombie_sessions"), 1); /* reported twice, one session */
    assert_int_equal(iget(v3, "eternal_sessions"), 1);
    assert_int_equal(iget(v3, "failed_commands"), 0);
    json_t *v5 = find(v, "vehicle_id", "v-5");
    assert_string_equal(json_string_value(json_object_get(v5, "oem")), "unknown");

    json_t *o = json_object_get(r, "oems");
    assert_int_equal(json_array_size(o), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(o, 0), "oem")), "tesla");
    assert_string_equal(json_string_value(json_object_get(json_array_get(o, 1), "oem")), "unknown");
    assert_string_equal(json_string_value(json_object_get(json_array_get(o, 2), "oem")),
                        "smartcar");
    json_t *tesla = find(o, "oem", "tesla");
    assert_int_equal(iget(tesla, "vehicles_with_issues"), 2);
    assert_int_equal(iget(tesla, "commands"), 3);
    assert_int_equal(iget(tesla, "failed_commands"), 1);
    assert_int_equal(iget(tesla, "alerts"), 1);
    assert_int_equal(iget(tesla, "rate_limit_hits"), 3);
    assert_near(nget(tesla, "not_obeyed_rate"), 2.0 / 3.0);
    json_t *smart = find(o, "oem", "smartcar");
    assert_int_equal(iget(smart, "zombie_sessions"), 1);
    assert_int_equal(iget(smart, "eternal_sessions"), 1);

    json_t *s = json_object_get(r, "sessions");
    assert_int_equal(iget(s, "sessions"), 5);
    assert_int_equal(iget(s, "plug_ins"), 2);
    assert_int_equal(iget(s, "ended"), 3);
    assert_near(nget(s, "energy_kwh"), 35);
    assert_near(nget(s, "carbon_g"), 1600);
    json_t *cost = json_object_get(s, "cost");
    assert_int_equal(json_array_size(cost), 2);
    assert_near(nget(find(cost, "currency", "GBP"), "amount"), 3.0);
    assert_near(nget(find(cost, "currency", "EUR"), "amount"), 3.0);

    /* plans for deadlines today: v-1's first optimal plan (v3, made yesterday, the
     * window 6 h after it was made: all shifted) and v-2's charge-now plan */
    json_t *p = json_object_get(r, "schedules");
    assert_int_equal(iget(p, "plans"), 2);
    assert_near(nget(p, "energy_kwh"), 10.2);
    assert_near(nget(p, "energy_shifted_kwh"), 7.2);
    assert_near(nget(p, "expected_carbon_g"), 800);
    assert_near(nget(p, "baseline_carbon_g"), 1800);
    assert_near(nget(p, "carbon_saved_g"), 1000);
    json_t *gbp = find(json_object_get(p, "cost"), "currency", "GBP");
    assert_near(nget(gbp, "expected"), 1.9);
    assert_near(nget(gbp, "baseline"), 3.9);
    assert_near(nget(gbp, "saved"), 2.0);
    json_decref(r);
}

static void test_errors(void **state)
{
    (void)state;
    char root[600];
    snprintf(root, sizeof(root), "%s/export", d2ev_test_tmpdir("exp-report-err"));
    struct d2ev_err err = { 0 };
    assert_null(d2ev_export_report_build(root, "2026-11-32", &err));
    assert_int_equal(err.code, D2EV_ERR_INVALID);
    assert_null(d2ev_export_report_build(root, "2026-11-21", &err));
    assert_int_equal(err.code, D2EV_ERR_NOT_FOUND);
    assert_null(d2ev_export_report_get(root, "2026-11-21", &err));
    assert_int_equal(err.code, D2EV_ERR_NOT_FOUND);
    assert_int_equal(d2ev_export_report_write(root, "2026-11-21", NULL, &err), D2EV_ERR_NOT_FOUND);
}

static void test_write_and_cached_get(void **state)
{
    (void)state;
    char root[600], path[700];
    snprintf(root, sizeof(root), "%s/export", d2ev_test_tmpdir("exp-report-cache"));
    build(root);
    d2ev_clock_set_manual(D0 + 30 * FX_HOUR);
    json_t *w = NULL;
    assert_int_equal(d2ev_export_report_write(root, "2026-11-21", &w, NULL), 0);
    assert_non_null(w);
    snprintf(path, sizeof(path), "%s/2026/11/21/report.json", root);
    assert_int_equal(access(path, F_OK), 0);
    /* the cached copy is served while the day's files are unchanged */
    d2ev_clock_set_manual(D0 + 31 * FX_HOUR);
    json_t *g = d2ev_export_report_get(root, "2026-11-21", NULL);
    assert_non_null(g);
    assert_true(json_equal(json_object_get(g, "generated_at"), json_object_get(w, "generated_at")));
    json_decref(g);
    /* late rows change the index: the report is built again */
    struct exp_batch b;
    memset(&b, 0, sizeof(b));
    char *t = fx_telemetry("v-9", "tesla", D0 + 23 * FX_HOUR);
    fx_add(&b, EXP_TOPIC_TELEMETRY, 5, 0, t);
    free(t);
    fx_flush(&b, root);
    exp_batch_destroy(&b);
    g = d2ev_export_report_get(root, "2026-11-21", NULL);
    assert_non_null(g);
    assert_int_equal(iget(json_object_get(g, "source"), "rows"),
                     iget(json_object_get(w, "source"), "rows") + 1);
    json_decref(g);
    json_decref(w);
}

int main(void)
{
    d2ev_clock_set_manual(D0 + 26 * FX_HOUR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_day),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_write_and_cached_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
