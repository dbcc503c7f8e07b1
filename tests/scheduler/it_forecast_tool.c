/*
 * Integration: d2ev-forecast. check's report and exit status on hostile
 * input, publish of a real file range through a devbroker (decoded back and
 * compared with the file), and the generator's determinism.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "d2ev/events.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"
#include "d2ev_test.h"
#include "forecast_csv.h"

/* Run d2ev-forecast with args; stdout into *out (malloc'd). Returns the exit status. */
static int run_tool(const char *const *args, char **out)
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof(cmd), "%s", d2ev_test_bin("d2ev-forecast"));
    for (const char *const *a = args; *a; a++)
        n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " '%s'", *a);
    snprintf(cmd + n, sizeof(cmd) - (size_t)n, " 2>/dev/null");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += r;
        if (len + 1 >= cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *data_file(const char *name)
{
    static char path[1024];
    const char *dir = getenv("D2EV_DATA_DIR");
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/work/shared/data", name);
    return access(path, R_OK) == 0 ? path : NULL;
}

static void test_check_reports_bad_rows(void **state)
{
    (void)state;
    const char *tmp = d2ev_test_tmpdir("fc-check");
    char path[600];
    snprintf(path, sizeof(path), "%s/bad.csv", tmp);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("time,unitrate\n2024-01-01T00:00:00Z,10\n2024-01-01T00:30:00Z,abc\n"
          "2024-01-01T01:00:00Z,12\n",
          f);
    fclose(f);
    char *out;
    const char *args[] = { "check", "--csv", path, "--format", "agile-e", NULL };
    assert_int_equal(run_tool(args, &out), 1);
    assert_non_null(strstr(out, "bad.csv:3: error: value \"abc\" is not a number"));
    assert_non_null(strstr(out, "1 gaps"));
    free(out);
    const char *usage[] = { "frobnicate", NULL };
    assert_int_equal(run_tool(usage, &out), 64);
    free(out);
    const char *badfmt[] = { "check", "--csv", path, "--format", "xls", NULL };
    assert_int_equal(run_tool(badfmt, &out), 64);
    free(out);
}

static void test_publish_real_range(void **state)
{
    (void)state;
    const char *file = data_file("uk_agile_AGILE-FLEX-22-11-25_regionE_2024-01.csv");
    if (!file)
        skip();
    const char *tmp = d2ev_test_tmpdir("fc-publish");
    struct d2ev_test_broker b;
    d2ev_test_broker_start(&b, tmp, 3);
    char brokers[200];
    snprintf(brokers, sizeof(brokers), "--kafka-brokers=%s", b.bootstrap);
    char *out;
    const char *args[] = { "publish",  "--csv",   file,
                           "--format", "agile-e", "--region",
                           "uk-e",     "--from",  "2024-01-10T00:00:00Z",
                           "--hours",  "48",      brokers,
                           NULL };
    assert_int_equal(run_tool(args, &out), 0);
    free(out);
    json_t *recs = d2ev_test_read_topic(b.bootstrap, D2EV_TOPIC_FORECASTS, 1, 10000);
    assert_int_equal(json_array_size(recs), 1);
    json_t *r = json_array_get(recs, 0);
    assert_string_equal(json_string_value(json_object_get(r, "key")), "uk-e:price");
    const char *raw = json_string_value(json_object_get(r, "raw"));
    struct d2ev_forecast f;
    struct d2ev_err err;
    assert_int_equal(d2ev_forecast_decode(raw, strlen(raw), &f, &err), 0);
    assert_int_equal(f.n, 96);
    assert_int_equal(f.slot_minutes, 30);
    assert_string_equal(f.unit, "GBP/kWh");
    struct fcsv_options o = { .format = FCSV_AGILE_E };
    struct fcsv_result csv;
    assert_int_equal(fcsv_parse_file(file, &o, &csv, &err), 0);
    long i0 = fcsv_find(&csv, f.start);
    assert_true(i0 >= 0);
    for (size_t k = 0; k < f.n; k++)
        assert_true(fabs(f.values[k] - csv.points[(size_t)i0 + k].value) < 1e-12);
    fcsv_result_clear(&csv);
    d2ev_forecast_clear(&f);
    json_decref(recs);
    /* a range across the end of the file names the first missing slot */
    const char *gap[] = { "publish",  "--csv",   file,
                          "--format", "agile-e", "--region",
                          "uk-e",     "--from",  "2024-01-31T00:00:00Z",
                          "--hours",  "48",      brokers,
                          NULL };
    assert_int_equal(run_tool(gap, &out), 1);
    free(out);
    d2ev_test_broker_stop(&b);
}

/* publish sends every rejected row to d2ev.deadletter, with its bytes, where
 * it came from and why, and still publishes the good range. */
static void test_publish_dead_letters_bad_rows(void **state)
{
    (void)state;
    const char *tmp = d2ev_test_tmpdir("fc-dlq");
    char path[600];
    snprintf(path, sizeof(path), "%s/dl.csv", tmp);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("time,unitrate\n2024-01-01T00:00:00Z,10\n2024-01-01T00:30:00Z,abc\n"
          "2024-01-01T01:00:00Z,12\n2024-01-01T01:30:00Z,13\n",
          f);
    fclose(f);
    struct d2ev_test_broker b;
    d2ev_test_broker_start(&b, tmp, 1);
    char brokers[200];
    snprintf(brokers, sizeof(brokers), "--kafka-brokers=%s", b.bootstrap);
    char *out;
    const char *args[] = { "publish",  "--csv",   path,
                           "--format", "agile-e", "--region",
                           "uk-e",     "--from",  "2024-01-01T01:00:00Z",
                           "--hours",  "1",       brokers,
                           NULL };
    assert_int_equal(run_tool(args, &out), 0);
    free(out);
    json_t *dl = d2ev_test_read_topic(b.bootstrap, D2EV_TOPIC_DEADLETTER, 1, 10000);
    assert_int_equal(json_array_size(dl), 1);
    json_t *v = json_object_get(json_array_get(dl, 0), "value");
    assert_string_equal(json_string_value(json_object_get(v, "service")), "d2ev-forecast");
    json_t *src = json_object_get(v, "source");
    assert_string_equal(json_string_value(json_object_get(src, "name")), "csv");
    assert_string_equal(json_string_value(json_object_get(src, "key")), "dl.csv:3");
    assert_string_equal(json_string_value(json_object_get(v, "payload_text")),
                        "2024-01-01T00:30:00Z,abc");
    assert_non_null(strstr(json_string_value(json_object_get(v, "reason")), "not a number"));
    json_decref(dl);
    json_t *fc = d2ev_test_read_topic(b.bootstrap, D2EV_TOPIC_FORECASTS, 1, 10000);
    assert_int_equal(json_array_size(fc), 1);
    json_decref(fc);
    /* a file whose every row is bad (its format changed): nothing to publish,
     * exit 1, and every row kept in the dead-letter topic */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("time,unitrate\n2024-01-01T00:00:00Z,ten\n2024-01-01T00:30:00Z,eleven\n", f);
    fclose(f);
    const char *all_bad[] = { "publish",  "--csv", path,    "--format", "agile-e",
                              "--region", "uk-e",  brokers, NULL };
    assert_int_equal(run_tool(all_bad, &out), 1);
    free(out);
    dl = d2ev_test_read_topic(b.bootstrap, D2EV_TOPIC_DEADLETTER, 3, 10000);
    assert_int_equal(json_array_size(dl), 3);
    json_decref(dl);
    d2ev_test_broker_stop(&b);
}

static void test_generate_deterministic(void **state)
{
    (void)state;
    const char *args[] = { "generate", "--region", "uk-e", "--start",   "2025-03-29", "--days",
                           "2",        "--seed",   "7",    "--dry-run", NULL };
    char *a, *b;
    assert_int_equal(run_tool(args, &a), 0);
    assert_int_equal(run_tool(args, &b), 0);
    /* two messages (price, carbon) each time; equal but for id and ts */
    json_error_t je;
    char *la = a, *lb = b;
    for (int k = 0; k < 2; k++) {
        char *ea = strchr(la, '\n'), *eb = strchr(lb, '\n');
        assert_non_null(ea);
        assert_non_null(eb);
        json_t *ja = json_loadb(la, (size_t)(ea - la), 0, &je);
        json_t *jb = json_loadb(lb, (size_t)(eb - lb), 0, &je);
        assert_non_null(ja);
        assert_non_null(jb);
        assert_true(json_equal(json_object_get(ja, "values"), json_object_get(jb, "values")));
        /* 2 local days over the spring change: 47 hours of half-hours */
        assert_int_equal(json_array_size(json_object_get(ja, "values")), 94);
        json_decref(ja);
        json_decref(jb);
        la = ea + 1;
        lb = eb + 1;
    }
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_reports_bad_rows),
        cmocka_unit_test(test_publish_real_range),
        cmocka_unit_test(test_publish_dead_letters_bad_rows),
        cmocka_unit_test(test_generate_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
