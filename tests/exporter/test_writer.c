/* Unit: writing chunks to day directories, the index, and re-exports after a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "d2ev_test.h"
#include "exp_fixture.h"
#include "index.h"
#include "layout.h"
#include "writer.h"

/* 2026-11-21T00:00:00Z */
#define DAY0 (20778LL * FX_DAY)

static char *root_dir(const char *tag)
{
    static char root[600];
    snprintf(root, sizeof(root), "%s/export", d2ev_test_tmpdir(tag));
    return root;
}

static void add_telemetry(struct exp_batch *b, int32_t part, int64_t offset, const char *vid,
                          int64_t ts)
{
    char *t = fx_telemetry(vid, "tesla", ts);
    fx_add(b, EXP_TOPIC_TELEMETRY, part, offset, t);
    free(t);
}

static json_t *load_index(const char *root, int64_t day)
{
    char dir[EXP_PATH_MAX];
    assert_int_equal(exp_day_dir(dir, sizeof(dir), root, day, NULL), 0);
    struct d2ev_err err = { 0 };
    json_t *idx = exp_index_load(dir, &err);
    if (!idx)
        fail_msg("index: %s", err.msg);
    return idx;
}

/* Offsets of all rows under root of (topic, partition), sorted, as one string "1,2,3". */
static char *offsets_of(const char *root, const char *topic, int partition)
{
    json_t *rows = fx_read_rows(root);
    int64_t v[4096];
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (!strcmp(json_string_value(json_object_get(r, "_topic")), topic) &&
            json_integer_value(json_object_get(r, "_partition")) == partition)
            v[n++] = json_integer_value(json_object_get(r, "_offset"));
    }
    json_decref(rows);
    for (size_t a = 0; a < n; a++) /* insertion sort: tiny */
        for (size_t b = a; b > 0 && v[b - 1] > v[b]; b--) {
            int64_t t = v[b];
            v[b] = v[b - 1];
            v[b - 1] = t;
        }
    static char out[65536];
    out[0] = '\0';
    for (size_t k = 0; k < n; k++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%lld", k ? "," : "",
                 (long long)v[k]);
    return out;
}

static void test_rows_split_by_day_and_indexed(void **state)
{
    (void)state;
    const char *root = root_dir("exp-writer");
    struct exp_batch b;
    memset(&b, 0, sizeof(b));
    /* partition 0: offsets 10..12 on day 0, 13 after midnight, 14 back on day 0 (clock skew) */
    add_telemetry(&b, 0, 10, "v-1", DAY0 + 23 * FX_HOUR);
    add_telemetry(&b, 0, 11, "v-2", DAY0 + 23 * FX_HOUR + 1000);
    add_telemetry(&b, 0, 12, "v-1", DAY0 + FX_DAY - 1);
    add_telemetry(&b, 0, 13, "v-1", DAY0 + FX_DAY);
    add_telemetry(&b, 0, 14, "v-3", DAY0 + FX_DAY - 5);
    char *d = fx_dispatch("v-1", "c-1", D2EV_DISPATCH_SENT, NULL, DAY0 + FX_HOUR);
    fx_add(&b, EXP_TOPIC_DISPATCH, 2, 0, d);
    free(d);
    assert_int_equal(b.rows, 6);
    struct exp_write_result res = fx_flush(&b, root);
    assert_int_equal(res.files, 4); /* 10-12, 13, 14 and the dispatch file */
    assert_int_equal(res.rows, 6);
    assert_int_equal(res.skipped_rows, 0);
    assert_int_equal(b.rows, 0);
    assert_int_equal(b.bytes, 0);

    char path[EXP_PATH_MAX];
    snprintf(path, sizeof(path),
             "%s/2026/11/21/d2ev.telemetry.p000.000000000010-000000000012.ndjson.gz", root);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path),
             "%s/2026/11/22/d2ev.telemetry.p000.000000000013-000000000013.ndjson.gz", root);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path),
             "%s/2026/11/21/d2ev.telemetry.p000.000000000014-000000000014.ndjson.gz", root);
    assert_int_equal(access(path, F_OK), 0);

    json_t *idx = load_index(root, exp_day_of(DAY0));
    assert_string_equal(json_string_value(json_object_get(idx, "date")), "2026-11-21");
    json_t *files = json_object_get(idx, "files");
    assert_int_equal(json_array_size(files), 3);
    /* sorted by name: dispatch first, then the telemetry files in offset order */
    json_t *first = json_array_get(files, 1);
    assert_string_equal(json_string_value(json_object_get(first, "file")),
                        "d2ev.telemetry.p000.000000000010-000000000012.ndjson.gz");
    assert_int_equal(json_integer_value(json_object_get(first, "rows")), 3);
    assert_int_equal(json_integer_value(json_object_get(first, "first_offset")), 10);
    assert_int_equal(json_integer_value(json_object_get(first, "last_offset")), 12);
    assert_string_equal(json_string_value(json_object_get(first, "min_ts")),
                        "2026-11-21T23:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(first, "max_ts")),
                        "2026-11-21T23:59:59.999Z");
    json_t *veh = json_object_get(first, "vehicles");
    assert_int_equal(json_array_size(veh), 2);
    assert_string_equal(json_string_value(json_array_get(veh, 0)), "v-1");
    assert_string_equal(json_string_value(json_array_get(veh, 1)), "v-2");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(first, "types"), "telemetry")), 3);
    assert_true(json_integer_value(json_object_get(first, "bytes")) > 0);
    assert_true(json_integer_value(json_object_get(first, "raw_bytes")) >
                json_integer_value(json_object_get(first, "bytes")));
    json_t *tot = json_object_get(idx, "totals");
    assert_int_equal(json_integer_value(json_object_get(tot, "files")), 3);
    assert_int_equal(json_integer_value(json_object_get(tot, "rows")), 5);
    assert_int_equal(json_integer_value(json_object_get(tot, "vehicles")), 3);
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(tot, "rows_by_topic"), "d2ev.telemetry")),
                     4);
    json_decref(idx);

    /* every row once, each with its exporter fields */
    assert_string_equal(offsets_of(root, "d2ev.telemetry", 0), "10,11,12,13,14");
    assert_string_equal(offsets_of(root, "d2ev.dispatch", 2), "0");
    exp_batch_destroy(&b);
}

static void test_reexport_after_crash_skips_rows_already_in_files(void **state)
{
    (void)state;
    const char *root = root_dir("exp-writer-reexport");
    struct exp_batch b;
    memset(&b, 0, sizeof(b));
    for (int64_t o = 100; o <= 104; o++)
        add_telemetry(&b, 1, o, "v-1", DAY0 + o * 1000);
    fx_flush(&b, root);
    /* the crash came before the commit: the records are read again from 100,
     * this time in a larger batch that goes on to 109 */
    for (int64_t o = 100; o <= 109; o++)
        add_telemetry(&b, 1, o, "v-1", DAY0 + o * 1000);
    struct exp_write_result res = fx_flush(&b, root);
    assert_int_equal(res.skipped_rows, 5);
    assert_int_equal(res.rows, 5);
    assert_int_equal(res.files, 1);
    assert_string_equal(offsets_of(root, "d2ev.telemetry", 1),
                        "100,101,102,103,104,105,106,107,108,109");

    /* a replica that lost the partition wrote 110..112 while this one read 108..115:
     * only the rows no file holds are written, in runs around the other file */
    for (int64_t o = 110; o <= 112; o++)
        add_telemetry(&b, 1, o, "v-1", DAY0 + o * 1000);
    fx_flush(&b, root);
    for (int64_t o = 108; o <= 115; o++)
        add_telemetry(&b, 1, o, "v-1", DAY0 + o * 1000);
    memset(&res, 0, sizeof(res));
    res = fx_flush(&b, root);
    assert_int_equal(res.skipped_rows, 5);
    assert_int_equal(res.rows, 3);
    assert_string_equal(offsets_of(root, "d2ev.telemetry", 1),
                        "100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115");
    /* a run in the middle: an older file holds 120 and 122 only as separate files */
    add_telemetry(&b, 1, 121, "v-1", DAY0 + 121000);
    fx_flush(&b, root);
    for (int64_t o = 120; o <= 122; o++)
        add_telemetry(&b, 1, o, "v-1", DAY0 + o * 1000);
    res = fx_flush(&b, root);
    assert_int_equal(res.files, 2);
    assert_int_equal(res.skipped_rows, 1);
    json_t *idx = load_index(root, exp_day_of(DAY0));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(idx, "totals"), "rows")),
                     19);
    json_decref(idx);
    exp_batch_destroy(&b);
}

static void test_index_repairs_missing_entries_and_removes_temps(void **state)
{
    (void)state;
    const char *root = root_dir("exp-writer-repair");
    struct exp_batch b;
    memset(&b, 0, sizeof(b));
    for (int64_t o = 0; o < 3; o++)
        add_telemetry(&b, 0, o, "v-9", DAY0 + o);
    fx_flush(&b, root);
    char dir[EXP_PATH_MAX], path[EXP_PATH_MAX + 64];
    exp_day_dir(dir, sizeof(dir), root, exp_day_of(DAY0), NULL);
    /* a crash between the rename and the index update: the file has no entry */
    snprintf(path, sizeof(path), "%s/index.json", dir);
    assert_int_equal(unlink(path), 0);
    /* and a temp file a crash left behind */
    snprintf(path, sizeof(path), "%s/.tmp.d2ev.telemetry.p000.x.ndjson.gz.999", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("partial", f);
    fclose(f);
    for (int64_t o = 3; o < 5; o++)
        add_telemetry(&b, 0, o, "v-8", DAY0 + o);
    fx_flush(&b, root);
    assert_int_not_equal(access(path, F_OK), 0);
    json_t *idx = load_index(root, exp_day_of(DAY0));
    json_t *files = json_object_get(idx, "files");
    assert_int_equal(json_array_size(files), 2);
    json_t *rebuilt = json_array_get(files, 0);
    assert_int_equal(json_integer_value(json_object_get(rebuilt, "rows")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(rebuilt, "vehicles"), 0)),
                        "v-9");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(idx, "totals"), "rows")),
                     5);
    json_decref(idx);
    exp_batch_destroy(&b);
}

static void test_find_covering(void **state)
{
    (void)state;
    const char *root = root_dir("exp-writer-cover");
    struct exp_batch b;
    memset(&b, 0, sizeof(b));
    for (int64_t o = 5; o <= 8; o++)
        add_telemetry(&b, 4, o, "v-1", DAY0 + o);
    fx_flush(&b, root);
    int64_t last = 0;
    int64_t day = exp_day_of(DAY0);
    assert_int_equal(exp_find_covering(root, day, "d2ev.telemetry", 4, 5, &last, NULL), 0);
    assert_int_equal(last, 8);
    assert_int_equal(exp_find_covering(root, day, "d2ev.telemetry", 4, 7, &last, NULL), 0);
    assert_int_equal(last, 8);
    assert_int_equal(exp_find_covering(root, day, "d2ev.telemetry", 4, 9, &last, NULL), 0);
    assert_int_equal(last, -1);
    assert_int_equal(exp_find_covering(root, day, "d2ev.telemetry", 3, 6, &last, NULL), 0);
    assert_int_equal(last, -1);
    assert_int_equal(exp_find_covering(root, day + 1, "d2ev.telemetry", 4, 6, &last, NULL), 0);
    assert_int_equal(last, -1);
    exp_batch_destroy(&b);
}

static void test_commit_offset_and_drop(void **state)
{
    (void)state;
    struct exp_batch b;
    memset(&b, 0, sizeof(b));
    struct exp_part *p = exp_batch_part(&b, EXP_TOPIC_TELEMETRY, 7);
    assert_non_null(p);
    assert_int_equal(exp_part_commit_offset(p), -1);
    add_telemetry(&b, 7, 40, "v-1", DAY0);
    add_telemetry(&b, 7, 41, "v-1", DAY0 + FX_DAY);
    p->seen_next = 45; /* 42..44 were dead-lettered */
    assert_int_equal(exp_part_commit_offset(p), 40);
    assert_int_equal(exp_batch_oldest(&b), DAY0);
    exp_part_drop(&b, p);
    assert_int_equal(b.rows, 0);
    assert_int_equal(exp_part_commit_offset(p), 45);
    assert_int_equal(exp_batch_oldest(&b), INT64_MAX);
    assert_null(exp_batch_part(&b, -1, 0));
    assert_null(exp_batch_part(&b, EXP_TOPIC_TELEMETRY, -1));
    exp_batch_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_split_by_day_and_indexed),
        cmocka_unit_test(test_reexport_after_crash_skips_rows_already_in_files),
        cmocka_unit_test(test_index_repairs_missing_entries_and_removes_temps),
        cmocka_unit_test(test_find_covering),
        cmocka_unit_test(test_commit_offset_and_drop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
