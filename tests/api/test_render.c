/* The ops API's renderers without a server: the schedule chart, the pages
 * (escaping, no scripts, no external assets) and the JSON views. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api_render.h"
#include "api_ui.h"
#include "apitest.h"
#include "d2ev/topics.h"

static struct d2ev_api_model *g_model;

static int setup(void **state)
{
    struct d2ev_err err = { 0 };
    g_model = d2ev_api_model_create(&err);
    apitest_load_samples(g_model);
    return 0;
}

static int teardown(void **state)
{
    d2ev_api_model_destroy(g_model);
    return 0;
}

/* No scripts, no external fetches: only the SVG namespace may name a URL. */
static void assert_self_contained(const char *html)
{
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "javascript:"));
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "@import"));
    assert_int_equal(apitest_count(html, "http"),
                     apitest_count(html, "http://www.w3.org/2000/svg"));
}

static void test_chart(void **state)
{
    struct d2ev_api_snapshot s;
    assert_int_equal(d2ev_api_model_snapshot(g_model, "v-1", D2EV_TEST_T0, &s), 0);
    assert_true(s.has_schedule && s.has_price && s.has_carbon && s.has_telemetry);
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_api_svg_schedule(&sb, &s, D2EV_TEST_T0);
    const char *svg = sb.buf;
    assert_non_null(strstr(svg, "<svg id=\"schedule-chart\""));
    assert_int_equal(apitest_count(svg, "<rect class=\"window\""), 2);
    assert_int_equal(apitest_count(svg, "<path class=\"price\""), 1);
    assert_int_equal(apitest_count(svg, "<path class=\"carbon\""), 1);
    assert_int_equal(apitest_count(svg, "<polyline class=\"soc-plan\""), 1);
    assert_int_equal(apitest_count(svg, "<line class=\"ready-by\""), 1);
    assert_int_equal(apitest_count(svg, "<line class=\"target\""), 1);
    assert_non_null(strstr(svg, "ready by 07:30"));
    assert_non_null(strstr(svg, "target 80 %"));
    assert_non_null(strstr(svg, "charge 09:30-10:30, 7.20 kWh"));
    assert_non_null(strstr(svg, "GBP/kWh"));
    assert_non_null(strstr(svg, "gCO2/kWh"));
    assert_non_null(strstr(svg, ">now</text>"));
    /* the planned SoC rises from soc_at_plan to expected_soc */
    assert_non_null(strstr(svg, "planned SoC, 56 % to 80 %"));
    /* it is well-formed XML as far as jansson-free checks go: balanced svg */
    assert_int_equal(apitest_count(svg, "<svg"), apitest_count(svg, "</svg>"));
    d2ev_strbuf_free(&sb);

    /* without schedule and forecasts it still draws axes and says so */
    d2ev_api_snapshot_clear(&s);
    assert_int_equal(d2ev_api_model_snapshot(g_model, "v-2", D2EV_TEST_T0, &s), 0);
    d2ev_api_svg_schedule(&sb, &s, D2EV_TEST_T0);
    assert_non_null(strstr(sb.buf, "no schedule yet"));
    assert_int_equal(apitest_count(sb.buf, "class=\"window\""), 0);
    d2ev_strbuf_free(&sb);
    d2ev_api_snapshot_clear(&s);
}

static void test_vehicle_page_escapes(void **state)
{
    /* hostile text where the events allow free text */
    json_t *sch = apitest_event("schedule");
    json_object_set_new(sch, "version", json_integer(8));
    json_object_set_new(sch, "reason", json_string("<script>alert('x')</script> & \"q\""));
    apitest_apply(g_model, D2EV_TOPIC_SCHEDULES, "v-1", sch, 0);
    struct d2ev_api_snapshot s;
    assert_int_equal(d2ev_api_model_snapshot(g_model, "v-1", D2EV_TEST_T0, &s), 0);
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_api_ui_vehicle(&sb, &s, D2EV_TEST_T0);
    assert_self_contained(sb.buf);
    assert_non_null(strstr(sb.buf, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
                                   "&quot;q&quot;"));
    assert_non_null(strstr(sb.buf, "<!DOCTYPE html>"));
    assert_non_null(strstr(sb.buf, "<table id=\"windows\">"));
    assert_non_null(strstr(sb.buf, "55.5 %"));
    assert_non_null(strstr(sb.buf, "1.10 GBP (baseline 2.90 GBP)"));
    d2ev_strbuf_free(&sb);
    d2ev_api_snapshot_clear(&s);
}

static void test_fleet_page(void **state)
{
    json_t *n = apitest_event("notification");
    json_object_set_new(n, "kind", json_string("charge_not_paused"));
    json_object_set_new(n, "message", json_string("still charging <b>after</b> stop"));
    apitest_apply(g_model, D2EV_TOPIC_NOTIFICATIONS, "v-1", n, 0);
    struct d2ev_api_fleet f;
    struct d2ev_strbuf alerts = D2EV_STRBUF_INIT, sb = D2EV_STRBUF_INIT;
    d2ev_api_model_fleet(g_model, D2EV_TEST_T0, &f, 10, &alerts);
    struct d2ev_api_filter filter = { NULL, -1, -1, -1 };
    struct d2ev_api_row rows[10];
    bool more;
    size_t nrows = d2ev_api_model_rows(g_model, &filter, NULL, D2EV_TEST_T0, rows, 10, &more);
    d2ev_api_ui_fleet(&sb, &f, alerts.buf, rows, nrows, "/ui/fleet?cursor=abc&state=paused",
                      D2EV_TEST_T0);
    assert_self_contained(sb.buf);
    assert_non_null(strstr(sb.buf, "<svg id=\"fleet-states\""));
    assert_int_equal(apitest_count(sb.buf, "<rect class=\"bar\""), D2EV_API_STATE_COUNT);
    assert_non_null(strstr(sb.buf, "<a href=\"/ui/vehicles/v-1\">v-1</a>"));
    assert_non_null(strstr(sb.buf, "<a href=\"/ui/vehicles/v-2\">v-2</a>"));
    assert_non_null(strstr(sb.buf, "still charging &lt;b&gt;after&lt;/b&gt; stop"));
    assert_non_null(strstr(sb.buf, "href=\"/ui/fleet?cursor=abc&amp;state=paused\""));
    assert_non_null(strstr(sb.buf, "2 vehicles: 1 active, 1 suspended"));
    d2ev_strbuf_free(&sb);
    d2ev_strbuf_free(&alerts);

    /* the JSON summary of the same */
    d2ev_api_model_fleet(g_model, D2EV_TEST_T0, &f, 10, &alerts);
    d2ev_api_render_fleet(&sb, &f, alerts.buf, alerts.len);
    json_t *j = json_loads(sb.buf, 0, NULL);
    assert_non_null(j);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "by_state"), "charging")), 1);
    json_t *cost = json_array_get(json_object_get(json_object_get(j, "savings"), "cost"), 0);
    assert_string_equal(json_string_value(json_object_get(cost, "currency")), "GBP");
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "alerts"), "recent")), 2);
    json_decref(j);
    d2ev_strbuf_free(&sb);
    d2ev_strbuf_free(&alerts);
}

static void test_error_page(void **state)
{
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_api_ui_error(&sb, 404, "vehicle_not_found", "no vehicle <x>");
    assert_non_null(strstr(sb.buf, "Error 404"));
    assert_non_null(strstr(sb.buf, "no vehicle &lt;x&gt;"));
    d2ev_strbuf_free(&sb);
}

static void test_views(void **state)
{
    struct d2ev_schedule s;
    d2ev_test_sample_schedule(&s);
    strcpy(s.env.id, "ev-1");
    s.env.ts = D2EV_TEST_T0;
    json_t *v = d2ev_api_view_schedule(&s);
    assert_string_equal(json_string_value(json_object_get(v, "event_id")), "ev-1");
    assert_string_equal(json_string_value(json_object_get(v, "event_ts")),
                        "2026-11-21T07:30:00.250Z");
    assert_null(json_object_get(v, "id"));
    assert_null(json_object_get(v, "v"));
    json_t *sav = json_object_get(v, "savings");
    assert_true(json_number_value(json_object_get(sav, "carbon_pct")) > 57.1 &&
                json_number_value(json_object_get(sav, "carbon_pct")) < 57.2);
    size_t len = 0;
    char *text = d2ev_api_view_dump(v, &len);
    assert_non_null(strstr(text, "\"expected_cost\":1.1,")); /* no 1.1000000000000001 */
    free(text);
    /* a zero baseline has no percentage */
    s.baseline_cost = 0;
    s.expected_cost = 0;
    v = d2ev_api_view_schedule(&s);
    assert_true(json_is_null(json_object_get(json_object_get(v, "savings"), "cost_pct")));
    json_decref(v);
    d2ev_schedule_clear(&s);

    struct d2ev_api_row r = { .vehicle_id = "v-\"1", .oem = "tesla", .region = "GB" };
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_api_render_row(&sb, &r);
    json_t *j = json_loads(sb.buf, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "vehicle_id")), "v-\"1");
    assert_true(json_is_null(json_object_get(j, "soc")));
    assert_true(json_is_null(json_object_get(j, "schedule")));
    json_decref(j);
    d2ev_strbuf_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chart),      cmocka_unit_test(test_vehicle_page_escapes),
        cmocka_unit_test(test_fleet_page), cmocka_unit_test(test_error_page),
        cmocka_unit_test(test_views),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
