/*
 * Integration: d2ev-exporter against a devbroker.
 *  - rows reach files only when a batch is full or the platform is quiet, and
 *    offsets are committed only for rows in files;
 *  - hostile input is dead-lettered with its reason, and the good rows around
 *    it are exported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "d2ev/clock.h"
#include "d2ev/topics.h"
#include "d2ev_test.h"
#include "exp_fixture.h"
#include "layout.h"

#define GROUP "d2ev-exporter"
#define NPART 3

struct it {
    struct d2ev_test_broker broker;
    const char *tmp;
    char root[600];
    struct fx_exporter exp;
};

static void setup(struct it *t, const char *tag)
{
    memset(t, 0, sizeof(*t));
    t->tmp = d2ev_test_tmpdir(tag);
    snprintf(t->root, sizeof(t->root), "%s/export", t->tmp);
    d2ev_test_broker_start(&t->broker, t->tmp, NPART);
}

static void produce_telemetry(struct it *t, int from, int n)
{
    char *vals[64];
    char keys[64][16];
    const char *k[64], *v[64];
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], sizeof(keys[i]), "v-%d", (from + i) % 10);
        vals[i] = fx_telemetry(keys[i], "tesla", d2ev_clock_real_ms());
        k[i] = keys[i];
        v[i] = vals[i];
    }
    fx_produce(t->broker.bootstrap, D2EV_TOPIC_TELEMETRY, k, v, NULL, (size_t)n);
    for (int i = 0; i < n; i++)
        free(vals[i]);
}

static int64_t committed_sum(struct it *t, const char *topic)
{
    int64_t c[NPART], sum = 0;
    fx_committed(t->broker.bootstrap, GROUP, topic, c, NPART);
    for (int i = 0; i < NPART; i++)
        sum += c[i] > 0 ? c[i] : 0;
    return sum;
}

/* Every committed offset of topic is below the first offset no file holds: for
 * each partition, the rows in files are exactly offsets 0..committed-1, each once
 * (the inputs here are all good rows). Returns the rows in files of topic. */
static size_t check_committed_in_files(struct it *t, const char *topic)
{
    int64_t c[NPART];
    fx_committed(t->broker.bootstrap, GROUP, topic, c, NPART);
    json_t *rows = fx_read_rows(t->root);
    size_t total = 0;
    for (int p = 0; p < NPART; p++) {
        int64_t want = c[p] > 0 ? c[p] : 0;
        char seen[256] = { 0 };
        size_t i, n = 0;
        json_t *r;
        json_array_foreach(rows, i, r)
        {
            if (strcmp(json_string_value(json_object_get(r, "_topic")), topic) ||
                json_integer_value(json_object_get(r, "_partition")) != p)
                continue;
            int64_t off = json_integer_value(json_object_get(r, "_offset"));
            assert_true(off >= 0 && off < 256);
            if (seen[off]++)
                fail_msg("%s[%d] offset %lld is in two files", topic, p, (long long)off);
            n++;
        }
        for (int64_t o = 0; o < want; o++) {
            if (!seen[o])
                fail_msg("%s[%d] offset %lld is committed but in no file", topic, p, (long long)o);
        }
        total += n;
    }
    json_decref(rows);
    return total;
}

struct metric_wait {
    struct it *t;
    const char *name;
    double want;
};

static bool metric_is(void *arg)
{
    struct metric_wait *w = arg;
    return fx_metric(&w->t->exp, w->name) == w->want;
}

static void wait_metric(struct it *t, const char *name, double want)
{
    struct metric_wait w = { t, name, want };
    if (!d2ev_test_wait(metric_is, &w, 30000))
        fail_msg("%s never reached %g (now %g; see %s)", name, want, fx_metric(&t->exp, name),
                 t->exp.proc.log_path);
}

struct commit_wait {
    struct it *t;
    const char *topic;
    int64_t want;
};

static bool committed_is(void *arg)
{
    struct commit_wait *w = arg;
    return committed_sum(w->t, w->topic) == w->want;
}

static void wait_committed(struct it *t, const char *topic, int64_t want)
{
    struct commit_wait w = { t, topic, want };
    if (!d2ev_test_wait(committed_is, &w, 30000))
        fail_msg("%s: committed %lld, want %lld (see %s)", topic,
                 (long long)committed_sum(t, topic), (long long)want, t->exp.proc.log_path);
}

static size_t count_files(struct it *t)
{
    json_t *f = fx_data_files(t->root);
    size_t n = json_array_size(f);
    json_decref(f);
    return n;
}

static void test_files_only_when_full_or_quiet(void **state)
{
    (void)state;
    struct it t;
    setup(&t, "it-export");
    /* a quiet window two hours from now: not quiet during the test */
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char window[32], arg_window[64];
    snprintf(window, sizeof(window), "%02d:00-%02d:00", (tm.tm_hour + 2) % 24,
             (tm.tm_hour + 3) % 24);
    snprintf(arg_window, sizeof(arg_window), "--quiet-hours=%s", window);
    const char *busy[] = { "--batch-rows=40",      arg_window,       "--quiet-rate-window-s=1",
                           "--flush-interval-s=0", "--gzip-level=1", NULL };
    fx_exporter_start(&t.exp, t.tmp, "exporter-a", t.broker.bootstrap, t.root, busy);

    /* 30 rows: held in memory, no file, nothing committed */
    produce_telemetry(&t, 0, 30);
    wait_metric(&t, "d2ev_export_held_rows", 30);
    assert_int_equal(count_files(&t), 0);
    assert_int_equal(committed_sum(&t, D2EV_TOPIC_TELEMETRY), 0);

    /* 10 more fill the batch: every row goes to files, then the offsets are committed */
    produce_telemetry(&t, 30, 10);
    wait_committed(&t, D2EV_TOPIC_TELEMETRY, 40);
    assert_int_equal(check_committed_in_files(&t, D2EV_TOPIC_TELEMETRY), 40);
    assert_true(count_files(&t) >= 1);
    assert_true(fx_metric(&t.exp, "d2ev_export_flushes_total{reason=\"full\"}") == 1);
    size_t files_after_full = count_files(&t);

    /* 5 more are held; a shutdown writes nothing and commits nothing of them */
    produce_telemetry(&t, 40, 5);
    wait_metric(&t, "d2ev_export_held_rows", 5);
    assert_int_equal(count_files(&t), files_after_full);
    assert_int_equal(d2ev_test_stop(&t.exp.proc, SIGTERM, 15000), 0);
    assert_int_equal(committed_sum(&t, D2EV_TOPIC_TELEMETRY), 40);
    assert_int_equal(check_committed_in_files(&t, D2EV_TOPIC_TELEMETRY), 40);

    /* quiet all day and the producers idle: the 5 are read again and written */
    const char *quiet[] = { "--batch-rows=40",
                            "--quiet-hours=00:00-24:00",
                            "--quiet-rate-window-s=1",
                            "--quiet-max-rate=5",
                            "--flush-interval-s=0",
                            "--gzip-level=1",
                            NULL };
    fx_exporter_start(&t.exp, t.tmp, "exporter-b", t.broker.bootstrap, t.root, quiet);
    wait_committed(&t, D2EV_TOPIC_TELEMETRY, 45);
    assert_int_equal(check_committed_in_files(&t, D2EV_TOPIC_TELEMETRY), 45);
    assert_true(fx_metric(&t.exp, "d2ev_export_flushes_total{reason=\"quiet\"}") >= 1);
    assert_true(fx_metric(&t.exp, "d2ev_export_flushes_total{reason=\"full\"}") == 0);

    /* the day's index describes every file */
    char dir[EXP_PATH_MAX];
    exp_day_dir(dir, sizeof(dir), t.root, exp_day_of(d2ev_clock_real_ms()), NULL);
    char path[EXP_PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/index.json", dir);
    json_error_t je;
    json_t *idx = json_load_file(path, 0, &je);
    assert_non_null(idx);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(idx, "totals"), "rows")),
                     45);
    assert_int_equal(json_array_size(json_object_get(idx, "files")), count_files(&t));
    json_decref(idx);

    assert_int_equal(d2ev_test_stop(&t.exp.proc, SIGTERM, 15000), 0);
    d2ev_test_broker_stop(&t.broker);
}

/* ------------------------------------------------------------ hostile input */

struct bad {
    const char *topic, *key, *value;
    size_t len;         /* 0: strlen */
    const char *reason; /* expected in the dead letter's reason */
};

static void test_hostile_input_dead_lettered(void **state)
{
    (void)state;
    struct it t;
    setup(&t, "it-export-hostile");
    int64_t now = d2ev_clock_real_ms();
    char *good_t = fx_telemetry("v-1", "tesla", now);
    char *good_s =
        fx_session("v-1", "s-1", D2EV_SESSION_UPDATE, D2EV_ANOMALY_NONE, 1, 0.2, 10, now);
    char *good_d = fx_dispatch("v-1", "c-1", D2EV_DISPATCH_SENT, NULL, now);
    char *good_sc = fx_schedule("v-1", 3, D2EV_SCHED_OPTIMAL, now, now + 6 * FX_HOUR, now + FX_HOUR,
                                1, 7, 1, 2, 100, 200);
    /* telemetry of v-1 with soc 120, and a v2 envelope */
    char *soc = strdup(good_t), *v2 = strdup(good_t);
    char *p = strstr(soc, "\"soc\":");
    assert_non_null(p);
    memcpy(p + 6, "120", 3);
    p = strstr(v2, "\"v\":1");
    assert_non_null(p);
    p[4] = '2';
    static const char not_utf8[] = "{\"type\":\"telemetry\",\"v\":1,\"id\":\"x\xff\xfe\"}";
    const struct bad bad[] = {
        { D2EV_TOPIC_TELEMETRY, "v-1", "not json at all", 0, "malformed JSON" },
        { D2EV_TOPIC_TELEMETRY, "v-1", good_s, 0, "type: expected \"telemetry\"" },
        { D2EV_TOPIC_TELEMETRY, "v-1", soc, 0, "telemetry.soc" },
        { D2EV_TOPIC_TELEMETRY, "v-2", good_t, 0, "does not match vehicle_id" },
        { D2EV_TOPIC_TELEMETRY, "v-1", not_utf8, sizeof(not_utf8) - 1, "UTF-8" },
        { D2EV_TOPIC_TELEMETRY, "v-1", v2, 0, "envelope version 2" },
        { D2EV_TOPIC_SESSIONS, "v-1", NULL, 0, "tombstone" },
        { D2EV_TOPIC_SCHEDULES, "bad key!", NULL, 0, "tombstone without a valid" },
        { D2EV_TOPIC_DISPATCH, "v-1", "{}", 0, "type" },
        { D2EV_TOPIC_DISPATCH, "v-1", "[1,2]", 0, "object" },
    };
    size_t nbad = sizeof(bad) / sizeof(bad[0]);
    for (size_t i = 0; i < nbad; i++) {
        size_t len = bad[i].len ? bad[i].len : bad[i].value ? strlen(bad[i].value) : 0;
        const char *k[] = { bad[i].key }, *v[] = { bad[i].value };
        fx_produce(t.broker.bootstrap, bad[i].topic, k, v, &len, 1);
    }
    const char *k1[] = { "v-1" };
    const char *vt[] = { good_t }, *vs[] = { good_s }, *vd[] = { good_d }, *vsc[] = { good_sc },
               *tomb[] = { NULL };
    fx_produce(t.broker.bootstrap, D2EV_TOPIC_TELEMETRY, k1, vt, NULL, 1);
    fx_produce(t.broker.bootstrap, D2EV_TOPIC_SESSIONS, k1, vs, NULL, 1);
    fx_produce(t.broker.bootstrap, D2EV_TOPIC_DISPATCH, k1, vd, NULL, 1);
    fx_produce(t.broker.bootstrap, D2EV_TOPIC_SCHEDULES, k1, vsc, NULL, 1);
    fx_produce(t.broker.bootstrap, D2EV_TOPIC_SCHEDULES, k1, tomb, NULL, 1); /* an erasure: a row */

    const char *quiet[] = { "--quiet-hours=00:00-24:00", "--quiet-rate-window-s=1",
                            "--flush-interval-s=0", NULL };
    fx_exporter_start(&t.exp, t.tmp, "exporter", t.broker.bootstrap, t.root, quiet);
    wait_committed(&t, D2EV_TOPIC_TELEMETRY, 7);
    wait_committed(&t, D2EV_TOPIC_SESSIONS, 2);
    wait_committed(&t, D2EV_TOPIC_DISPATCH, 3);
    wait_committed(&t, D2EV_TOPIC_SCHEDULES, 3);

    /* every bad record is in the dead-letter topic with its reason and origin */
    json_t *dl = d2ev_test_read_topic(t.broker.bootstrap, D2EV_TOPIC_DEADLETTER, nbad, 10000);
    assert_int_equal(json_array_size(dl), nbad);
    for (size_t i = 0; i < nbad; i++) {
        bool found = false;
        size_t j;
        json_t *r;
        json_array_foreach(dl, j, r)
        {
            json_t *v = json_object_get(r, "value");
            json_t *src = json_object_get(v, "source");
            const char *reason = json_string_value(json_object_get(v, "reason"));
            assert_string_equal(json_string_value(json_object_get(v, "service")), "d2ev-exporter");
            if (!strcmp(json_string_value(json_object_get(src, "topic")), bad[i].topic) && reason &&
                strstr(reason, bad[i].reason))
                found = true;
        }
        if (!found)
            fail_msg("no dead letter from %s with \"%s\"", bad[i].topic, bad[i].reason);
    }
    json_decref(dl);
    assert_true(fx_metric(&t.exp, "d2ev_export_rejected_total") == (double)nbad);

    /* the good rows, and the erasure marker, are in the files once */
    json_t *rows = fx_read_rows(t.root);
    assert_int_equal(json_array_size(rows), 5);
    size_t i;
    json_t *r;
    int tombstones = 0;
    json_array_foreach(rows, i, r)
    {
        const char *type = json_string_value(json_object_get(r, "type"));
        assert_string_equal(json_string_value(json_object_get(r, "vehicle_id")), "v-1");
        if (!strcmp(type, "tombstone")) {
            tombstones++;
            assert_string_equal(json_string_value(json_object_get(r, "_topic")),
                                D2EV_TOPIC_SCHEDULES);
        }
    }
    assert_int_equal(tombstones, 1);
    json_decref(rows);

    assert_int_equal(d2ev_test_stop(&t.exp.proc, SIGTERM, 15000), 0);
    d2ev_test_broker_stop(&t.broker);
    free(good_t);
    free(good_s);
    free(good_d);
    free(good_sc);
    free(soc);
    free(v2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_only_when_full_or_quiet),
        cmocka_unit_test(test_hostile_input_dead_lettered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
