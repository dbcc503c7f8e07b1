/* Unit: a record becomes a held row, a skip (already in a file) or a rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev_test.h"
#include "exp_fixture.h"
#include "ingest.h"
#include "layout.h"

/* 2026-11-21T00:00:00Z */
#define D0 (20778LL * FX_DAY)

struct env {
    struct exp_batch b;
    struct d2ev_strbuf scratch;
    char root[600];
    char reason[D2EV_ERR_MSG_MAX];
};

static enum exp_ingest_result ingest(struct env *e, int topic, int32_t partition, int64_t offset,
                                     const char *key, const char *value, int64_t kafka_ts)
{
    struct exp_part *p = exp_batch_part(&e->b, topic, partition);
    assert_non_null(p);
    struct exp_record r = { topic,   partition, offset, key, value, value ? strlen(value) : 0,
                            kafka_ts };
    enum exp_ingest_result res;
    e->reason[0] = '\0';
    assert_int_equal(exp_ingest(&e->b, p, e->root, &e->scratch, &r, D0 + FX_DAY, &res, e->reason,
                                sizeof(e->reason)),
                     0);
    return res;
}

static void test_rows_and_rejections(void **state)
{
    (void)state;
    struct env e;
    memset(&e, 0, sizeof(e));
    snprintf(e.root, sizeof(e.root), "%s/export", d2ev_test_tmpdir("exp-ingest"));
    char *t = fx_telemetry("v-1", "tesla", D0 + FX_HOUR);
    assert_int_equal(ingest(&e, EXP_TOPIC_TELEMETRY, 0, 0, "v-1", t, -1), EXP_INGEST_ROW);
    assert_int_equal(e.b.rows, 1);
    struct exp_part *p = exp_batch_find(&e.b, EXP_TOPIC_TELEMETRY, 0);
    assert_int_equal(p->head->day, exp_day_of(D0));
    assert_int_equal(p->head->held_since, D0 + FX_HOUR);

    assert_int_equal(ingest(&e, EXP_TOPIC_TELEMETRY, 0, 1, "v-2", t, -1), EXP_INGEST_REJECTED);
    assert_non_null(strstr(e.reason, "does not match vehicle_id"));
    assert_int_equal(ingest(&e, EXP_TOPIC_SESSIONS, 0, 0, "v-1", t, -1), EXP_INGEST_REJECTED);
    assert_non_null(strstr(e.reason, "type: expected \"session\""));
    assert_int_equal(ingest(&e, EXP_TOPIC_DISPATCH, 0, 0, "v-1", "{\"type\":", -1),
                     EXP_INGEST_REJECTED);
    assert_non_null(strstr(e.reason, "malformed JSON"));
    assert_int_equal(ingest(&e, EXP_TOPIC_TELEMETRY, 0, 2, "v-1", NULL, -1), EXP_INGEST_REJECTED);
    assert_non_null(strstr(e.reason, "tombstone"));
    assert_int_equal(ingest(&e, EXP_TOPIC_SCHEDULES, 0, 0, "", NULL, -1), EXP_INGEST_REJECTED);
    assert_int_equal(ingest(&e, EXP_TOPIC_SCHEDULES, 0, 1, "v 1", NULL, -1), EXP_INGEST_REJECTED);
    assert_int_equal(e.b.rows, 1);

    /* an erasure marker: a row, in the day of the record's timestamp */
    assert_int_equal(ingest(&e, EXP_TOPIC_SCHEDULES, 0, 2, "v-1", NULL, D0 + 5), EXP_INGEST_ROW);
    struct exp_part *s = exp_batch_find(&e.b, EXP_TOPIC_SCHEDULES, 0);
    assert_non_null(strstr(s->head->data.buf, "\"type\":\"tombstone\""));
    assert_int_equal(s->head->day, exp_day_of(D0));
    /* without a timestamp, day 0, so the same record always lands in the same place */
    assert_int_equal(ingest(&e, EXP_TOPIC_SCHEDULES, 0, 3, "v-1", NULL, -1), EXP_INGEST_ROW);
    assert_int_equal(s->tail->day, 0);
    free(t);
    exp_batch_destroy(&e.b);
    d2ev_strbuf_free(&e.scratch);
}

static void test_probe_skips_rows_in_files_after_a_restart(void **state)
{
    (void)state;
    struct env e;
    memset(&e, 0, sizeof(e));
    snprintf(e.root, sizeof(e.root), "%s/export", d2ev_test_tmpdir("exp-ingest-probe"));
    char *t[8];
    for (int i = 0; i < 8; i++)
        t[i] = fx_telemetry("v-1", "tesla", D0 + i * FX_HOUR);
    /* the previous run wrote 10..12 and died before committing */
    for (int i = 0; i < 3; i++)
        fx_add(&e.b, EXP_TOPIC_TELEMETRY, 1, 10 + i, t[i]);
    fx_flush(&e.b, e.root);
    exp_batch_destroy(&e.b);
    memset(&e.b, 0, sizeof(e.b));
    /* the restart reads again from the committed offset 10 */
    struct exp_part *p = exp_batch_part(&e.b, EXP_TOPIC_TELEMETRY, 1);
    p->assigned = p->probe = true;
    for (int i = 0; i < 3; i++)
        assert_int_equal(ingest(&e, EXP_TOPIC_TELEMETRY, 1, 10 + i, "v-1", t[i], -1),
                         EXP_INGEST_SKIPPED);
    assert_int_equal(p->skip_last, 12);
    assert_int_equal(ingest(&e, EXP_TOPIC_TELEMETRY, 1, 13, "v-1", t[3], -1), EXP_INGEST_ROW);
    assert_false(p->probe);
    assert_int_equal(exp_part_commit_offset(p), 13);
    for (int i = 0; i < 8; i++)
        free(t[i]);
    exp_batch_destroy(&e.b);
    d2ev_strbuf_free(&e.scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_and_rejections),
        cmocka_unit_test(test_probe_skips_rows_in_files_after_a_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
