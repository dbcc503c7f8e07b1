/* Unit tests for the Prometheus registry (common/metrics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "d2ev/metrics.h"

static void test_counter_gauge_histogram_render(void **state)
{
    d2ev_metrics_reset();
    struct d2ev_metric *c = d2ev_metric_counter("d2ev_polls_total", "Polls", "oem=\"tesla\"");
    struct d2ev_metric *c2 = d2ev_metric_counter("d2ev_polls_total", "Polls", "oem=\"enode\"");
    struct d2ev_metric *g = d2ev_metric_gauge("d2ev_inflight", "In flight", NULL);
    double bounds[] = { 0.1, 1.0 };
    struct d2ev_metric *h = d2ev_metric_histogram("d2ev_lat_seconds", "Latency", NULL, bounds, 2);
    assert_ptr_equal(c, d2ev_metric_counter("d2ev_polls_total", "Polls", "oem=\"tesla\""));
    assert_null(d2ev_metric_gauge("d2ev_polls_total", "clash", NULL)); /* type clash */
    d2ev_metric_inc(c);
    d2ev_metric_add(c, 2);
    d2ev_metric_add(c, -5); /* counters never go down */
    d2ev_metric_inc(c2);
    d2ev_metric_set(g, 7);
    d2ev_metric_observe(h, 0.05);
    d2ev_metric_observe(h, 0.5);
    d2ev_metric_observe(h, 5);
    assert_true(d2ev_metric_value(c) == 3);
    assert_true(d2ev_metric_value(h) == 3);
    size_t len = 0;
    char *text = d2ev_metrics_render(&len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    assert_non_null(strstr(text, "# TYPE d2ev_polls_total counter\n"));
    assert_non_null(strstr(text, "d2ev_polls_total{oem=\"tesla\"} 3\n"));
    assert_non_null(strstr(text, "d2ev_polls_total{oem=\"enode\"} 1\n"));
    assert_non_null(strstr(text, "d2ev_inflight 7\n"));
    assert_non_null(strstr(text, "d2ev_lat_seconds_bucket{le=\"0.10000000000000001\"} 1\n"));
    assert_non_null(strstr(text, "d2ev_lat_seconds_bucket{le=\"1\"} 2\n"));
    assert_non_null(strstr(text, "d2ev_lat_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(text, "d2ev_lat_seconds_count 3\n"));
    /* one HELP/TYPE per family even with two label sets */
    const char *first = strstr(text, "# TYPE d2ev_polls_total");
    assert_null(strstr(first + 1, "# TYPE d2ev_polls_total"));
    free(text);
    d2ev_metrics_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge_histogram_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
