/* Unit: file names, day partitioning and the row format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "d2ev/strbuf.h"
#include "d2ev_test.h"
#include "layout.h"
#include "row.h"

/* 2026-11-21T00:00:00Z */
#define DAY_2026_11_21 20778LL

static void test_day_of_is_utc_floor(void **state)
{
    (void)state;
    int64_t midnight = DAY_2026_11_21 * EXP_DAY_MS;
    assert_int_equal(exp_day_of(midnight), DAY_2026_11_21);
    assert_int_equal(exp_day_of(midnight - 1),
                     DAY_2026_11_21 - 1); /* 23:59:59.999 the day before */
    assert_int_equal(exp_day_of(midnight + EXP_DAY_MS - 1), DAY_2026_11_21);
    assert_int_equal(exp_day_of(-1), -1);
    char date[11];
    assert_string_equal(exp_date_format(DAY_2026_11_21, date), "2026-11-21");
    assert_string_equal(exp_date_format(0, date), "1970-01-01");
}

static void test_date_parse(void **state)
{
    (void)state;
    int64_t day = 0;
    struct d2ev_err err = { 0 };
    assert_int_equal(exp_date_parse("2026-11-21", &day, &err), 0);
    assert_int_equal(day, DAY_2026_11_21);
    assert_int_equal(exp_date_parse("2028-02-29", &day, &err), 0);
    const char *bad[] = { "2026-02-29", "2026-13-01", "2026-1-01",  "26-11-21",  "2026-11-21x",
                          "2026/11/21", "",           "1969-12-31", "2026-11-2a" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(exp_date_parse(bad[i], &day, &err), D2EV_ERR_INVALID);
        assert_non_null(strstr(err.msg, "date"));
    }
    assert_int_equal(exp_date_parse(NULL, &day, &err), D2EV_ERR_INVALID);
}

static void test_day_dir(void **state)
{
    (void)state;
    char buf[EXP_PATH_MAX];
    assert_int_equal(exp_day_dir(buf, sizeof(buf), "/data/export", DAY_2026_11_21, NULL), 0);
    assert_string_equal(buf, "/data/export/2026/11/21");
    char small[16];
    assert_int_equal(exp_day_dir(small, sizeof(small), "/data/export", DAY_2026_11_21, NULL),
                     D2EV_ERR_LIMIT);
}

static void test_file_name_round_trip(void **state)
{
    (void)state;
    struct exp_file_id id = { "d2ev.telemetry", 3, 1042, 1999 }, back;
    char name[EXP_NAME_MAX];
    assert_int_equal(exp_file_name(name, sizeof(name), &id, NULL), 0);
    assert_string_equal(name, "d2ev.telemetry.p003.000000001042-000000001999.ndjson.gz");
    assert_true(exp_file_parse(name, &back));
    assert_string_equal(back.topic, "d2ev.telemetry");
    assert_int_equal(back.partition, 3);
    assert_int_equal(back.first, 1042);
    assert_int_equal(back.last, 1999);
    /* wider numbers are written in full and still parse */
    struct exp_file_id big = { "d2ev.sessions", 1234, 5000000000000LL, 5000000000001LL };
    assert_int_equal(exp_file_name(name, sizeof(name), &big, NULL), 0);
    assert_string_equal(name, "d2ev.sessions.p1234.5000000000000-5000000000001.ndjson.gz");
    assert_true(exp_file_parse(name, &back));
    assert_int_equal(back.partition, 1234);
    assert_int_equal(back.first, 5000000000000LL);
    /* names sort in offset order within a partition */
    char a[EXP_NAME_MAX], b[EXP_NAME_MAX];
    struct exp_file_id ia = { "d2ev.dispatch", 0, 999, 999 }, ib = { "d2ev.dispatch", 0, 1000, 5 };
    ib.last = 1001;
    exp_file_name(a, sizeof(a), &ia, NULL);
    exp_file_name(b, sizeof(b), &ib, NULL);
    assert_true(strcmp(a, b) < 0);
}

static void test_file_parse_rejects_other_files(void **state)
{
    (void)state;
    struct exp_file_id id;
    const char *bad[] = {
        "index.json",
        "report.json",
        ".lock",
        ".tmp.d2ev.telemetry.p003.000000000001-000000000002.ndjson.gz.123",
        "d2ev.telemetry.p003.000000000002-000000000001.ndjson.gz", /* last < first */
        "d2ev.telemetry.003.000000000001-000000000002.ndjson.gz",
        "d2ev.telemetry.p003.000000000001.ndjson.gz",
        "d2ev.telemetry.p003.00000000000x-000000000002.ndjson.gz",
        "d2ev.telemetry.p003.000000000001-000000000002.ndjson",
        ".p003.000000000001-000000000002.ndjson.gz",
        "p003.000000000001-000000000002.ndjson.gz",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (exp_file_parse(bad[i], &id))
            fail_msg("accepted %s", bad[i]);
    }
}

static void test_day_dir_make_and_atomic_write(void **state)
{
    (void)state;
    const char *tmp = d2ev_test_tmpdir("exp-layout");
    char root[600], dir[EXP_PATH_MAX];
    snprintf(root, sizeof(root), "%s/export", tmp);
    assert_int_equal(exp_day_dir_make(dir, sizeof(dir), root, DAY_2026_11_21, NULL), 0);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    /* again: already there */
    assert_int_equal(exp_day_dir_make(dir, sizeof(dir), root, DAY_2026_11_21, NULL), 0);
    assert_int_equal(exp_write_atomic(dir, "x.json", "{}\n", 3, NULL), 0);
    assert_int_equal(exp_write_atomic(dir, "x.json", "[1]\n", 4, NULL), 0);
    char path[EXP_PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/x.json", dir);
    FILE *f = fopen(path, "r");
    char buf[16] = { 0 };
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof(buf), f), 4);
    fclose(f);
    assert_string_equal(buf, "[1]\n");
    struct d2ev_err err = { 0 };
    assert_int_equal(exp_write_atomic("/nonexistent/dir", "x.json", "{}", 2, &err), D2EV_ERR_IO);
}

static void test_row_event_prefixes_exporter_fields(void **state)
{
    (void)state;
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    const char *rec = "  {\"type\":\"telemetry\",\n\"v\":1,\r\n\"soc\":54.0}\n";
    assert_int_equal(exp_row_event(&sb, "d2ev.telemetry", 3, 1042, rec, strlen(rec), NULL), 0);
    assert_string_equal(sb.buf, "{\"_topic\":\"d2ev.telemetry\",\"_partition\":3,\"_offset\":1042,"
                                "\"type\":\"telemetry\", \"v\":1,  \"soc\":54.0}\n");
    /* a record that carries an exporter field itself: the exporter's value wins */
    d2ev_strbuf_reset(&sb);
    const char *clash = "{\"type\":\"session\",\"_offset\":\"mine\",\"x\":\"_topic\"}";
    assert_int_equal(exp_row_event(&sb, "d2ev.sessions", 0, 7, clash, strlen(clash), NULL), 0);
    json_error_t je;
    json_t *o = json_loads(sb.buf, JSON_REJECT_DUPLICATES, &je);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "_offset")), 7);
    assert_string_equal(json_string_value(json_object_get(o, "x")), "_topic");
    assert_string_equal(json_string_value(json_object_get(o, "type")), "session");
    assert_int_equal(sb.buf[sb.len - 1], '\n');
    json_decref(o);
    struct d2ev_err err = { 0 };
    assert_int_equal(exp_row_event(&sb, "t", 0, 0, "[1]", 3, &err), D2EV_ERR_INVALID);
    d2ev_strbuf_free(&sb);
}

static void test_row_tombstone(void **state)
{
    (void)state;
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    assert_int_equal(exp_row_tombstone(&sb, "d2ev.schedules", 2, 9, "v-1",
                                       DAY_2026_11_21 * EXP_DAY_MS + 1500, NULL),
                     0);
    assert_string_equal(sb.buf, "{\"_topic\":\"d2ev.schedules\",\"_partition\":2,\"_offset\":9,"
                                "\"type\":\"tombstone\",\"vehicle_id\":\"v-1\","
                                "\"ts\":\"2026-11-21T00:00:01.500Z\"}\n");
    d2ev_strbuf_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_day_of_is_utc_floor),
        cmocka_unit_test(test_date_parse),
        cmocka_unit_test(test_day_dir),
        cmocka_unit_test(test_file_name_round_trip),
        cmocka_unit_test(test_file_parse_rejects_other_files),
        cmocka_unit_test(test_day_dir_make_and_atomic_write),
        cmocka_unit_test(test_row_event_prefixes_exporter_fields),
        cmocka_unit_test(test_row_tombstone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
