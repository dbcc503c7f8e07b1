/* The ops API's read model without Kafka: views, ordering, tombstones and
 * erasure, bounds, duplicates, pagination, states and the fleet summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api_cursor.h"
#include "apitest.h"
#include "d2ev/clock.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"

#define HOUR 3600000LL

static struct d2ev_api_model *model(void)
{
    struct d2ev_err err = { 0 };
    struct d2ev_api_model *m = d2ev_api_model_create(&err);
    assert_non_null(m);
    apitest_load_samples(m);
    return m;
}

/* Run a strbuf-producing view and parse it. */
static json_t *parsed(struct d2ev_strbuf *sb)
{
    json_error_t e;
    json_t *j = json_loadb(sb->buf, sb->len, 0, &e);
    if (!j)
        fail_msg("not JSON (%s): %.300s", e.text, sb->buf);
    d2ev_strbuf_free(sb);
    return j;
}

static json_t *vehicle(struct d2ev_api_model *m, const char *id)
{
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    if (d2ev_api_model_vehicle(m, id, D2EV_TEST_T0, &sb) != D2EV_OK) {
        d2ev_strbuf_free(&sb);
        return NULL;
    }
    return parsed(&sb);
}

static json_t *schedule(struct d2ev_api_model *m, const char *id)
{
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    bool none;
    if (d2ev_api_model_schedule(m, id, &sb, &none) != D2EV_OK) {
        d2ev_strbuf_free(&sb);
        return NULL;
    }
    return parsed(&sb);
}

static json_t *history(struct d2ev_api_model *m, const char *id, enum d2ev_api_hist kind,
                       const struct d2ev_api_page *p)
{
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    if (d2ev_api_model_history(m, id, kind, p, &sb) != D2EV_OK) {
        d2ev_strbuf_free(&sb);
        return NULL;
    }
    return parsed(&sb);
}

static size_t items(json_t *page)
{
    return json_array_size(json_object_get(page, "items"));
}

static void test_views_of_the_samples(void **state)
{
    struct d2ev_api_model *m = model();
    assert_int_equal(d2ev_api_model_count(m), 2);

    json_t *v = vehicle(m, "v-1");
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "vehicle"), "oem")),
                        "oemsim");
    /* the envelope becomes event_id / event_ts; type and v are not shown */
    json_t *rec = json_object_get(v, "vehicle");
    assert_non_null(json_object_get(rec, "event_id"));
    assert_null(json_object_get(rec, "type"));
    assert_string_equal(json_string_value(json_object_get(v, "state")), "charging");
    assert_string_equal(json_string_value(json_object_get(v, "plug")), "plugged");
    assert_true(json_real_value(json_object_get(json_object_get(v, "telemetry"), "soc")) == 55.5);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "schedule"), "version")),
                     7);
    assert_int_equal(json_array_size(json_object_get(v, "notifications")), 1);
    assert_int_equal(json_array_size(json_object_get(v, "registration_results")), 1);
    json_decref(v);

    json_t *s = schedule(m, "v-1");
    assert_non_null(s);
    assert_int_equal(json_array_size(json_object_get(s, "windows")), 2);
    json_t *sav = json_object_get(s, "savings");
    assert_true(json_number_value(json_object_get(sav, "cost")) > 1.79 &&
                json_number_value(json_object_get(sav, "cost")) < 1.81);
    assert_true(json_number_value(json_object_get(sav, "carbon_g")) == 1200.5);
    json_decref(s);

    /* v-2 has a record and nothing else */
    assert_null(schedule(m, "v-2"));
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    bool none = false;
    assert_int_equal(d2ev_api_model_schedule(m, "v-2", &sb, &none), D2EV_ERR_NOT_FOUND);
    assert_true(none);
    assert_int_equal(d2ev_api_model_schedule(m, "nope", &sb, &none), D2EV_ERR_NOT_FOUND);
    assert_false(none);
    assert_int_equal(d2ev_api_model_status(m, "v-2", D2EV_TEST_T0, &sb), D2EV_OK);
    json_t *st = parsed(&sb);
    assert_true(json_is_null(json_object_get(st, "soc")));
    assert_true(json_is_null(json_object_get(st, "next_window")));
    assert_string_equal(json_string_value(json_object_get(st, "state")), "unknown");
    json_decref(st);

    /* the status view: the next window, the expected SoC */
    sb = (struct d2ev_strbuf)D2EV_STRBUF_INIT;
    assert_int_equal(d2ev_api_model_status(m, "v-1", D2EV_TEST_T0, &sb), D2EV_OK);
    st = parsed(&sb);
    json_t *w = json_object_get(st, "next_window");
    assert_string_equal(json_string_value(json_object_get(w, "start")), "2026-11-21T09:30:00.000Z");
    assert_false(json_boolean_value(json_object_get(w, "active")));
    assert_true(json_number_value(json_object_get(st, "expected_soc")) == 80);
    json_decref(st);
    /* during the first window it is active; after the last there is none */
    sb = (struct d2ev_strbuf)D2EV_STRBUF_INIT;
    d2ev_api_model_status(m, "v-1", D2EV_TEST_SLOT0 + 2 * HOUR + 60000, &sb);
    st = parsed(&sb);
    assert_true(json_boolean_value(json_object_get(json_object_get(st, "next_window"), "active")));
    json_decref(st);
    sb = (struct d2ev_strbuf)D2EV_STRBUF_INIT;
    d2ev_api_model_status(m, "v-1", D2EV_TEST_SLOT0 + 5 * HOUR, &sb);
    st = parsed(&sb);
    assert_true(json_is_null(json_object_get(st, "next_window")));
    json_decref(st);

    sb = (struct d2ev_strbuf)D2EV_STRBUF_INIT;
    assert_int_equal(d2ev_api_model_forecast(m, "GB-LON", &sb), D2EV_OK);
    json_t *f = parsed(&sb);
    assert_int_equal(json_array_size(json_object_get(json_object_get(f, "price"), "values")), 4);
    assert_string_equal(json_string_value(json_object_get(json_object_get(f, "carbon"), "unit")),
                        "gCO2/kWh");
    json_decref(f);
    assert_int_equal(d2ev_api_model_forecast(m, "DE", &sb), D2EV_ERR_NOT_FOUND);
    d2ev_strbuf_free(&sb);
    d2ev_api_model_destroy(m);
}

static void test_newest_schedule_wins(void **state)
{
    struct d2ev_api_model *m = model();
    json_t *s = apitest_event("schedule");
    json_object_set_new(s, "version", json_integer(9));
    json_object_set_new(s, "status", json_string("charge_now"));
    apitest_apply(m, D2EV_TOPIC_SCHEDULES, "v-1", s, 0);
    /* a replayed older version changes nothing */
    s = apitest_event("schedule");
    json_object_set_new(s, "version", json_integer(8));
    apitest_apply(m, D2EV_TOPIC_SCHEDULES, "v-1", s, 0);
    json_t *cur = schedule(m, "v-1");
    assert_int_equal(json_integer_value(json_object_get(cur, "version")), 9);
    assert_string_equal(json_string_value(json_object_get(cur, "status")), "charge_now");
    json_decref(cur);
    struct d2ev_api_page p = { .limit = 50 };
    json_t *h = history(m, "v-1", D2EV_API_HIST_SCHEDULES, &p);
    assert_int_equal(items(h), 2); /* 9 and 7, newest first */
    json_t *first = json_array_get(json_object_get(h, "items"), 0);
    assert_int_equal(json_integer_value(json_object_get(first, "version")), 9);
    json_decref(h);

    /* a schedule tombstone removes the schedule and its history */
    apitest_apply(m, D2EV_TOPIC_SCHEDULES, "v-1", NULL, 0);
    assert_null(schedule(m, "v-1"));
    h = history(m, "v-1", D2EV_API_HIST_SCHEDULES, &p);
    assert_int_equal(items(h), 0);
    json_decref(h);
    /* after it any version is new again */
    apitest_apply(m, D2EV_TOPIC_SCHEDULES, "v-1", apitest_event("schedule"), 0);
    cur = schedule(m, "v-1");
    assert_int_equal(json_integer_value(json_object_get(cur, "version")), 7);
    json_decref(cur);
    d2ev_api_model_destroy(m);
}

static void test_vehicle_tombstone_erases_everywhere(void **state)
{
    struct d2ev_api_model *m = model();
    apitest_apply(m, D2EV_TOPIC_VEHICLES, "v-1", NULL, 0);
    d2ev_api_model_publish(m);
    assert_int_equal(d2ev_api_model_count(m), 1);
    assert_null(vehicle(m, "v-1"));
    assert_null(schedule(m, "v-1"));
    struct d2ev_api_page p = { .limit = 50 };
    assert_null(history(m, "v-1", D2EV_API_HIST_SESSIONS, &p));
    assert_null(history(m, "v-1", D2EV_API_HIST_DISPATCH, &p));
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    assert_int_equal(d2ev_api_model_status(m, "v-1", D2EV_TEST_T0, &sb), D2EV_ERR_NOT_FOUND);
    struct d2ev_api_snapshot snap;
    assert_int_equal(d2ev_api_model_snapshot(m, "v-1", D2EV_TEST_T0, &snap), D2EV_ERR_NOT_FOUND);
    /* not in the listing, the fleet or the alerts */
    struct d2ev_api_filter f = { NULL, -1, -1, -1 };
    struct d2ev_api_row rows[4];
    bool more;
    assert_int_equal(d2ev_api_model_rows(m, &f, NULL, D2EV_TEST_T0, rows, 4, &more), 1);
    assert_string_equal(rows[0].vehicle_id, "v-2");
    struct d2ev_api_fleet fleet;
    d2ev_api_model_fleet(m, D2EV_TEST_T0, &fleet, 10, &sb);
    assert_int_equal(fleet.vehicles, 1);
    assert_int_equal(fleet.with_schedule, 0);
    assert_int_equal(fleet.alerts_retained, 0);
    assert_null(strstr(sb.buf, "v-1"));
    d2ev_strbuf_free(&sb);
    assert_int_equal(d2ev_api_model_alerts(m, &p, &sb), D2EV_OK);
    json_t *a = parsed(&sb);
    assert_int_equal(items(a), 0);
    json_decref(a);

    /* registered again: nothing of the earlier registration comes back,
     * even if it is replayed after the new record */
    json_t *v = apitest_event("vehicle");
    json_object_set_new(v, "registered_at", json_string("2026-11-21T08:00:00Z"));
    json_object_set_new(v, "updated_at", json_string("2026-11-21T08:00:00Z"));
    apitest_apply(m, D2EV_TOPIC_VEHICLES, "v-1", v, 0);
    apitest_apply(m, D2EV_TOPIC_SESSIONS, "v-1", apitest_event("session"), 0);
    apitest_apply(m, D2EV_TOPIC_TELEMETRY, "v-1", apitest_event("telemetry"), 0);
    apitest_apply(m, D2EV_TOPIC_SCHEDULES, "v-1", apitest_event("schedule"), 0);
    json_t *j = vehicle(m, "v-1");
    assert_true(json_is_null(json_object_get(j, "telemetry")));
    assert_true(json_is_null(json_object_get(j, "schedule")));
    json_decref(j);
    j = history(m, "v-1", D2EV_API_HIST_SESSIONS, &p);
    assert_int_equal(items(j), 0);
    json_decref(j);
    d2ev_api_model_destroy(m);
}

static void test_events_before_the_record_are_held(void **state)
{
    struct d2ev_err err = { 0 };
    struct d2ev_api_model *m = d2ev_api_model_create(&err);
    d2ev_clock_set_manual(D2EV_TEST_T0);
    /* at start-up the topics replay in any order across each other */
    apitest_apply(m, D2EV_TOPIC_TELEMETRY, "v-1", apitest_event("telemetry"), 0);
    apitest_apply(m, D2EV_TOPIC_SCHEDULES, "v-1", apitest_event("schedule"), 0);
    apitest_apply(m, D2EV_TOPIC_SESSIONS, "v-1", apitest_event("session"), 0);
    d2ev_api_model_publish(m);
    assert_int_equal(d2ev_api_model_count(m), 0);
    assert_null(vehicle(m, "v-1"));
    assert_null(schedule(m, "v-1"));
    apitest_apply(m, D2EV_TOPIC_VEHICLES, "v-1", apitest_event("vehicle"), 0);
    /* visible by id at once, in the listing after publish */
    json_t *s = schedule(m, "v-1");
    assert_non_null(s);
    json_decref(s);
    struct d2ev_api_filter f = { NULL, -1, -1, -1 };
    struct d2ev_api_row rows[2];
    bool more;
    assert_int_equal(d2ev_api_model_rows(m, &f, NULL, D2EV_TEST_T0, rows, 2, &more), 0);
    d2ev_api_model_publish(m);
    assert_int_equal(d2ev_api_model_rows(m, &f, NULL, D2EV_TEST_T0, rows, 2, &more), 1);
    assert_true(rows[0].has_schedule && rows[0].has_soc);
    /* a schedule tombstone for an id that only has held data drops it */
    apitest_apply(m, D2EV_TOPIC_SESSIONS, "v-1", apitest_event("session"), 0);
    apitest_apply(m, D2EV_TOPIC_VEHICLES, "v-1", NULL, 0);
    apitest_apply(m, D2EV_TOPIC_SCHEDULES, "v-1", NULL, 0);
    assert_int_equal(d2ev_api_model_count(m), 0);
    d2ev_api_model_destroy(m);
}

static void test_rejects(void **state)
{
    struct d2ev_api_model *m = model();
    struct d2ev_err err = { 0 };
    /* undecodable, a key that is not the vehicle, an unknown topic, no key */
    assert_int_equal(d2ev_api_model_apply(m, D2EV_TOPIC_TELEMETRY, "v-1", "{\"type\":", 9, &err),
                     D2EV_ERR_INVALID);
    apitest_apply(m, D2EV_TOPIC_TELEMETRY, "v-2", apitest_event("telemetry"), D2EV_ERR_INVALID);
    apitest_apply(m, D2EV_TOPIC_CONTROL, "v-1", apitest_event("control"), D2EV_ERR_UNSUPPORTED);
    apitest_apply(m, D2EV_TOPIC_SESSIONS, NULL, apitest_event("session"), D2EV_ERR_INVALID);
    apitest_apply(m, D2EV_TOPIC_VEHICLES, "bad key!", NULL, D2EV_ERR_INVALID);
    /* a type on the wrong topic */
    apitest_apply(m, D2EV_TOPIC_SESSIONS, "v-1", apitest_event("dispatch"), D2EV_ERR_INVALID);
    /* tombstones on topics without state are ignored */
    apitest_apply(m, D2EV_TOPIC_TELEMETRY, "v-1", NULL, 0);
    json_t *v = vehicle(m, "v-1");
    assert_false(json_is_null(json_object_get(v, "telemetry")));
    json_decref(v);
    d2ev_api_model_destroy(m);
}

static void test_duplicates_and_older_samples(void **state)
{
    struct d2ev_api_model *m = model();
    json_t *s = apitest_event("session");
    json_t *again = json_deep_copy(s);
    apitest_apply(m, D2EV_TOPIC_SESSIONS, "v-1", s, 0);
    apitest_apply(m, D2EV_TOPIC_SESSIONS, "v-1", again, 0); /* at least once: same id */
    struct d2ev_api_page p = { .limit = 50 };
    json_t *h = history(m, "v-1", D2EV_API_HIST_SESSIONS, &p);
    assert_int_equal(items(h), 2); /* the sample and this one */
    json_decref(h);

    json_t *n = apitest_event("notification");
    json_t *n2 = json_deep_copy(n);
    apitest_apply(m, D2EV_TOPIC_NOTIFICATIONS, "v-1", n, 0);
    apitest_apply(m, D2EV_TOPIC_NOTIFICATIONS, "v-1", n2, 0);
    struct d2ev_api_fleet f;
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_api_model_fleet(m, D2EV_TEST_T0, &f, 10, &sb);
    assert_int_equal(f.alerts_seen, 2);
    assert_int_equal(f.alerts_retained, 2);
    d2ev_strbuf_free(&sb);

    /* an older telemetry sample does not replace the latest */
    json_t *t = apitest_event("telemetry");
    json_object_set_new(t, "observed_at", json_string("2026-11-21T06:00:00Z"));
    json_object_set_new(t, "reported_at", json_string("2026-11-21T06:00:00Z"));
    json_object_set_new(t, "soc", json_real(10));
    apitest_apply(m, D2EV_TOPIC_TELEMETRY, "v-1", t, 0);
    json_t *v = vehicle(m, "v-1");
    assert_true(json_number_value(json_object_get(json_object_get(v, "telemetry"), "soc")) == 55.5);
    json_decref(v);

    /* an older forecast does not replace a newer one */
    json_t *fc = apitest_event("forecast");
    json_object_set_new(fc, "issued_at", json_string("2026-11-20T07:00:00Z"));
    json_object_set_new(fc, "values", json_pack("[f]", 9.0));
    apitest_apply(m, D2EV_TOPIC_FORECASTS, "GB-LON:price", fc, 0);
    d2ev_api_model_forecast(m, "GB-LON", &sb);
    json_t *j = parsed(&sb);
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "price"), "values")), 4);
    json_decref(j);
    d2ev_api_model_destroy(m);
}

static void test_histories_are_bounded_and_page(void **state)
{
    struct d2ev_api_model *m = model();
    for (int i = 0; i < 100; i++) {
        json_t *s = apitest_event("session");
        char at[40];
        snprintf(at, sizeof(at), "2026-11-21T08:%02d:00Z", i % 60);
        json_object_set_new(s, "at", json_string(at));
        json_object_set_new(s, "soc_now", json_integer(i));
        apitest_apply(m, D2EV_TOPIC_SESSIONS, "v-1", s, 0);
    }
    struct d2ev_api_page p = { .limit = 500 };
    json_t *h = history(m, "v-1", D2EV_API_HIST_SESSIONS, &p);
    assert_int_equal(items(h), D2EV_API_KEEP_SESSIONS);
    /* the newest are kept, newest first */
    json_t *first = json_array_get(json_object_get(h, "items"), 0);
    assert_int_equal((long)json_number_value(json_object_get(first, "soc_now")), 99);
    assert_true(json_is_null(json_object_get(h, "next_cursor")));
    json_decref(h);

    /* pages of 10 cover all 64 once, in order */
    p = (struct d2ev_api_page){ .limit = 10 };
    int seen = 0, last = 100, pages = 0;
    for (;;) {
        h = history(m, "v-1", D2EV_API_HIST_SESSIONS, &p);
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(h, "items"), i, it)
        {
            int soc = (int)json_number_value(json_object_get(it, "soc_now"));
            assert_true(soc < last);
            last = soc;
            seen++;
        }
        pages++;
        const char *next = json_string_value(json_object_get(h, "next_cursor"));
        if (!next) {
            json_decref(h);
            break;
        }
        assert_int_equal(items(h), 10);
        assert_int_equal(d2ev_api_cursor_parse_seq(next, &p.before_seq), 0);
        p.has_before = true;
        json_decref(h);
    }
    assert_int_equal(seen, D2EV_API_KEEP_SESSIONS);
    assert_int_equal(pages, 7);

    /* since keeps items at or after a time: minutes 50..59 of both rounds */
    p = (struct d2ev_api_page){ .limit = 500, .has_since = true };
    d2ev_time_parse("2026-11-21T08:50:00Z", &p.since, NULL);
    h = history(m, "v-1", D2EV_API_HIST_SESSIONS, &p);
    assert_int_equal(items(h), 10); /* kept: 36..99; at minute >= 50: 50..59 */
    json_decref(h);
    d2ev_api_model_destroy(m);
}

static void test_states(void **state)
{
    struct d2ev_api_model *m = model();
    struct d2ev_api_snapshot snap;
    static const struct {
        const char *charging_state;
        bool plugged;
        int64_t now;
        enum d2ev_api_state want;
    } cases[] = {
        { "charging", true, D2EV_TEST_T0, D2EV_API_STATE_CHARGING },
        { "starting", true, D2EV_TEST_T0, D2EV_API_STATE_CHARGING },
        { "stopped", true, D2EV_TEST_T0, D2EV_API_STATE_PAUSED },             /* a window ahead */
        { "stopped", true, D2EV_TEST_T0 + 6 * HOUR, D2EV_API_STATE_PLUGGED }, /* none left */
        { "complete", true, D2EV_TEST_T0 + 6 * HOUR, D2EV_API_STATE_PLUGGED },
        { "disconnected", false, D2EV_TEST_T0, D2EV_API_STATE_UNPLUGGED },
        { "unknown", false, D2EV_TEST_T0, D2EV_API_STATE_UNKNOWN },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *t = apitest_event("telemetry");
        json_object_set_new(t, "charging_state", json_string(cases[i].charging_state));
        json_object_set_new(t, "plugged_in", json_boolean(cases[i].plugged));
        apitest_apply(m, D2EV_TOPIC_TELEMETRY, "v-1", t, 0);
        assert_int_equal(d2ev_api_model_snapshot(m, "v-1", cases[i].now, &snap), 0);
        if (snap.row.state != cases[i].want)
            fail_msg("%s: want %s, got %s", cases[i].charging_state,
                     d2ev_api_state_name(cases[i].want), d2ev_api_state_name(snap.row.state));
        d2ev_api_snapshot_clear(&snap);
    }
    d2ev_api_model_destroy(m);
}

static void add_vehicle(struct d2ev_api_model *m, int i)
{
    char id[16];
    snprintf(id, sizeof(id), "car-%03d", i);
    json_t *v = apitest_event("vehicle");
    json_object_set_new(v, "vehicle_id", json_string(id));
    json_object_set_new(v, "oem", json_string(i % 3 ? "tesla" : "enode"));
    apitest_apply(m, D2EV_TOPIC_VEHICLES, id, v, 0);
    json_t *t = apitest_event("telemetry");
    json_object_set_new(t, "vehicle_id", json_string(id));
    json_object_set_new(t, "plugged_in", json_boolean(i % 2));
    json_object_set_new(t, "charging_state", json_string(i % 2 ? "stopped" : "disconnected"));
    apitest_apply(m, D2EV_TOPIC_TELEMETRY, id, t, 0);
}

static void test_listing_filters_and_pages(void **state)
{
    struct d2ev_api_model *m = model();
    /* added in reverse, across two batches */
    for (int i = 119; i >= 60; i--)
        add_vehicle(m, i);
    d2ev_api_model_publish(m);
    for (int i = 59; i >= 0; i--)
        add_vehicle(m, i);
    d2ev_api_model_publish(m);
    struct d2ev_api_filter f = { NULL, -1, -1, -1 };
    struct d2ev_api_row rows[50];
    bool more;
    char after[D2EV_VEHICLE_ID_MAX + 1] = "";
    size_t total = 0;
    char prev[D2EV_VEHICLE_ID_MAX + 1] = "";
    do {
        size_t n =
            d2ev_api_model_rows(m, &f, after[0] ? after : NULL, D2EV_TEST_T0, rows, 50, &more);
        for (size_t i = 0; i < n; i++) {
            assert_true(strcmp(prev, rows[i].vehicle_id) < 0); /* sorted, no repeats */
            strcpy(prev, rows[i].vehicle_id);
        }
        total += n;
        if (n)
            strcpy(after, rows[n - 1].vehicle_id);
    } while (more);
    assert_int_equal(total, 122);

    f.oem = "enode"; /* i % 3 == 0: 40 of them */
    assert_int_equal(d2ev_api_model_rows(m, &f, NULL, D2EV_TEST_T0, rows, 50, &more), 40);
    assert_false(more);
    f.oem = NULL;
    f.plug = D2EV_API_PLUG_UNPLUGGED; /* even i: 60 */
    assert_int_equal(d2ev_api_model_rows(m, &f, NULL, D2EV_TEST_T0, rows, 50, &more), 50);
    assert_true(more);
    f.plug = -1;
    f.status = D2EV_VEHICLE_SUSPENDED;
    assert_int_equal(d2ev_api_model_rows(m, &f, NULL, D2EV_TEST_T0, rows, 50, &more), 1);
    assert_string_equal(rows[0].vehicle_id, "v-2");
    f.status = -1;
    f.state = D2EV_API_STATE_PLUGGED; /* odd i, stopped, no schedule */
    assert_int_equal(d2ev_api_model_rows(m, &f, "car-100", D2EV_TEST_T0, rows, 50, &more), 10);

    /* removing from the middle keeps the index sorted */
    apitest_apply(m, D2EV_TOPIC_VEHICLES, "car-050", NULL, 0);
    f.state = -1;
    assert_int_equal(d2ev_api_model_rows(m, &f, "car-049", D2EV_TEST_T0, rows, 1, &more), 1);
    assert_string_equal(rows[0].vehicle_id, "car-051");

    struct d2ev_api_fleet fleet;
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_api_model_fleet(m, D2EV_TEST_T0, &fleet, 10, &sb);
    d2ev_strbuf_free(&sb);
    assert_int_equal(fleet.vehicles, 121);
    assert_int_equal(fleet.by_state[D2EV_API_STATE_UNPLUGGED], 59); /* car-050 is gone */
    assert_int_equal(fleet.by_state[D2EV_API_STATE_PLUGGED], 60);
    assert_int_equal(fleet.by_state[D2EV_API_STATE_CHARGING], 1);
    assert_int_equal(fleet.by_state[D2EV_API_STATE_UNKNOWN], 1);
    assert_int_equal(fleet.by_vstatus[1], 1);
    assert_int_equal(fleet.ncurrencies, 1);
    assert_string_equal(fleet.cost[0].currency, "GBP");
    assert_true(fleet.cost[0].baseline_cost - fleet.cost[0].expected_cost > 1.79);
    d2ev_api_model_destroy(m);
}

static void test_regions_are_bounded(void **state)
{
    struct d2ev_err err = { 0 };
    struct d2ev_api_model *m = d2ev_api_model_create(&err);
    for (int i = 0; i <= D2EV_API_MAX_REGIONS; i++) {
        json_t *f = apitest_event("forecast");
        char region[16];
        snprintf(region, sizeof(region), "R%d", i);
        json_object_set_new(f, "region", json_string(region));
        apitest_apply(m, D2EV_TOPIC_FORECASTS, region, f,
                      i < D2EV_API_MAX_REGIONS ? 0 : D2EV_ERR_LIMIT);
    }
    d2ev_api_model_destroy(m);
}

/* Readers and the writer at once (run under ASan/UBSan in CI). */
struct race {
    struct d2ev_api_model *m;
    volatile int stop;
};

static void *reader(void *arg)
{
    struct race *r = arg;
    struct d2ev_api_page p = { .limit = 5 };
    struct d2ev_api_filter f = { NULL, -1, -1, -1 };
    struct d2ev_api_row rows[8];
    while (!r->stop) {
        struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
        bool none, more;
        d2ev_api_model_schedule(r->m, "car-007", &sb, &none);
        d2ev_api_model_vehicle(r->m, "car-007", D2EV_TEST_T0, &sb);
        d2ev_api_model_history(r->m, "car-007", D2EV_API_HIST_SCHEDULES, &p, &sb);
        d2ev_api_model_rows(r->m, &f, NULL, D2EV_TEST_T0, rows, 8, &more);
        struct d2ev_api_fleet fleet;
        d2ev_api_model_fleet(r->m, D2EV_TEST_T0, &fleet, 3, &sb);
        struct d2ev_api_snapshot snap;
        if (d2ev_api_model_snapshot(r->m, "car-007", D2EV_TEST_T0, &snap) == 0)
            d2ev_api_snapshot_clear(&snap);
        d2ev_strbuf_free(&sb);
    }
    return NULL;
}

static void test_readers_and_writer_at_once(void **state)
{
    struct race r = { .m = model() };
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, reader, &r);
    for (int round = 0; round < 30; round++) {
        for (int i = 0; i < 10; i++) {
            add_vehicle(r.m, i);
            json_t *s = apitest_event("schedule");
            char id[16];
            snprintf(id, sizeof(id), "car-%03d", i);
            json_object_set_new(s, "vehicle_id", json_string(id));
            json_object_set_new(s, "version", json_integer(round + 1));
            apitest_apply(r.m, D2EV_TOPIC_SCHEDULES, id, s, 0);
        }
        d2ev_api_model_publish(r.m);
        if (round % 3 == 2) {
            apitest_apply(r.m, D2EV_TOPIC_VEHICLES, "car-007", NULL, 0);
            d2ev_api_model_publish(r.m);
        }
    }
    r.stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    d2ev_api_model_destroy(r.m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_views_of_the_samples),
        cmocka_unit_test(test_newest_schedule_wins),
        cmocka_unit_test(test_vehicle_tombstone_erases_everywhere),
        cmocka_unit_test(test_events_before_the_record_are_held),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_duplicates_and_older_samples),
        cmocka_unit_test(test_histories_are_bounded_and_page),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_listing_filters_and_pages),
        cmocka_unit_test(test_regions_are_bounded),
        cmocka_unit_test(test_readers_and_writer_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
