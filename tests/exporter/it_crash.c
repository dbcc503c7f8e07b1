/*
 * Integration: kill -9 d2ev-exporter at random moments of a large export,
 * restart it, and check that every input row is in exactly one file and that
 * committed offsets never run ahead of the files.
 *
 * Half the kills come right after a new data file appears (between a rename
 * and the commit that follows it, the window the file naming exists for);
 * the others after a random delay. The inputs span three days, so chunks
 * split at midnight, and include bad records (dead-lettered) and schedule
 * tombstones (exported as rows). The seed is printed; D2EV_TEST_SEED
 * replays a run.
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
#include "d2ev/util.h"
#include "d2ev_test.h"
#include "exp_fixture.h"

#define GROUP     "d2ev-exporter"
#define NPART     3
#define KILLS     5
#define BAD_EVERY 397 /* every so many records of a topic is garbage */

static const int counts[EXP_NTOPICS] = { 1600, 1200, 1000,
                                         6000 }; /* sessions, dispatch, schedules, telemetry */

struct crash {
    struct d2ev_test_broker broker;
    const char *tmp;
    char root[600];
    uint64_t rng;
    int64_t base; /* first event time: three days before today's midnight */
};

/* The i-th record of topic (text, or NULL for a tombstone); *bad when it is garbage. */
static char *record(struct crash *c, int topic, int i, char *key, size_t ksize, bool *bad)
{
    int64_t span = 3 * FX_DAY;
    int64_t ts = c->base + (int64_t)((double)span * i / counts[topic]);
    snprintf(key, ksize, "v-%d", i % 50);
    *bad = i % BAD_EVERY == BAD_EVERY - 1;
    if (*bad) {
        char *g = malloc(48);
        snprintf(g, 48, "garbage-%d-%d", topic, i);
        return g;
    }
    char id[32];
    snprintf(id, sizeof(id), "c-%d", i);
    switch (topic) {
    case EXP_TOPIC_SESSIONS:
        return fx_session(key, id, D2EV_SESSION_UPDATE, D2EV_ANOMALY_NONE, 1, 0.1, 5, ts);
    case EXP_TOPIC_DISPATCH:
        return fx_dispatch(key, id, D2EV_DISPATCH_SENT, NULL, ts);
    case EXP_TOPIC_SCHEDULES:
        if (i % 200 == 7)
            return NULL; /* a deregistration */
        return fx_schedule(key, i, D2EV_SCHED_OPTIMAL, ts, ts + 6 * FX_HOUR, ts + FX_HOUR, 1, 7, 1,
                           2, 10, 20);
    default:
        return fx_telemetry(key, "tesla", ts);
    }
}

/* Produce records [from, to) of every topic. */
static void produce(struct crash *c, double from, double to)
{
    for (int t = 0; t < EXP_NTOPICS; t++) {
        int a = (int)(counts[t] * from), b = (int)(counts[t] * to);
        size_t n = (size_t)(b - a);
        char **vals = calloc(n, sizeof(char *));
        char(*keys)[16] = calloc(n, 16);
        const char **k = calloc(n, sizeof(char *)), **v = calloc(n, sizeof(char *));
        for (int i = a; i < b; i++) {
            bool bad;
            vals[i - a] = record(c, t, i, keys[i - a], 16, &bad);
            k[i - a] = keys[i - a];
            v[i - a] = vals[i - a];
        }
        fx_produce(c->broker.bootstrap, exp_topic_names[t], k, v, NULL, n);
        for (size_t i = 0; i < n; i++)
            free(vals[i]);
        free(vals);
        free(keys);
        free(k);
        free(v);
    }
}

/* rows[topic][partition] -> how many times each offset is in a file */
struct seen {
    json_t *rows;
    int *times[EXP_NTOPICS][NPART];
    int64_t n[EXP_NTOPICS][NPART];
};

static void seen_load(struct crash *c, struct seen *s, int64_t cap)
{
    memset(s, 0, sizeof(*s));
    s->rows = fx_read_rows(c->root);
    for (int t = 0; t < EXP_NTOPICS; t++)
        for (int p = 0; p < NPART; p++) {
            s->times[t][p] = calloc((size_t)cap, sizeof(int));
            s->n[t][p] = cap;
        }
    size_t i;
    json_t *r;
    json_array_foreach(s->rows, i, r)
    {
        int t = exp_topic_index(json_string_value(json_object_get(r, "_topic")));
        int p = (int)json_integer_value(json_object_get(r, "_partition"));
        int64_t o = json_integer_value(json_object_get(r, "_offset"));
        assert_true(t >= 0 && p >= 0 && p < NPART && o >= 0 && o < cap);
        s->times[t][p][o]++;
    }
}

static void seen_free(struct seen *s)
{
    for (int t = 0; t < EXP_NTOPICS; t++)
        for (int p = 0; p < NPART; p++)
            free(s->times[t][p]);
    json_decref(s->rows);
}

/* No row is in two files, no bad record in any, and every good record below
 * a committed offset is in a file; topics holds the records produced so far.
 * Once everything is committed this is exactly-once. Counts the good and bad
 * records into *good and *bad (may be NULL), and returns the rows in files. */
static size_t check_invariant(struct crash *c, json_t *topics[EXP_NTOPICS], const char *when,
                              size_t *good, size_t *bad_out)
{
    struct seen s;
    size_t ngood = 0, nbad = 0;
    seen_load(c, &s, 20000);
    for (int t = 0; t < EXP_NTOPICS; t++) {
        int64_t committed[NPART];
        fx_committed(c->broker.bootstrap, GROUP, exp_topic_names[t], committed, NPART);
        size_t i;
        json_t *r;
        json_array_foreach(topics[t], i, r)
        {
            int p = (int)json_integer_value(json_object_get(r, "partition"));
            int64_t o = json_integer_value(json_object_get(r, "offset"));
            const char *raw = json_string_value(json_object_get(r, "raw"));
            bool bad = raw && !strncmp(raw, "garbage-", 8);
            int times = s.times[t][p][o];
            if (times > 1)
                fail_msg("%s: %s[%d] offset %lld is in %d files", when, exp_topic_names[t], p,
                         (long long)o, times);
            if (bad && times)
                fail_msg("%s: a bad record is in a file", when);
            if (!bad && o < committed[p] && !times)
                fail_msg("%s: %s[%d] offset %lld is committed (%lld) but in no file", when,
                         exp_topic_names[t], p, (long long)o, (long long)committed[p]);
            ngood += !bad;
            nbad += bad;
        }
    }
    size_t rows = json_array_size(s.rows);
    seen_free(&s);
    if (good)
        *good = ngood;
    if (bad_out)
        *bad_out = nbad;
    return rows;
}

static size_t file_count(struct crash *c)
{
    json_t *f = fx_data_files(c->root);
    size_t n = json_array_size(f);
    json_decref(f);
    return n;
}

static void start(struct crash *c, struct fx_exporter *e, int k)
{
    char name[32];
    snprintf(name, sizeof(name), "exporter-%d", k);
    const char *args[] = { "--batch-rows=500",        "--poll-max=200",
                           "--gzip-level=1",          "--quiet-hours=00:00-24:00",
                           "--quiet-rate-window-s=1", "--flush-interval-s=1",
                           "--max-age-s=60",          NULL };
    fx_exporter_start(e, c->tmp, name, c->broker.bootstrap, c->root, args);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Kill e with SIGKILL: right after a new data file appears (even k) or after a
 * random delay (odd k). */
static void kill_somewhen(struct crash *c, struct fx_exporter *e, int k)
{
    if (k % 2 == 0) {
        size_t before = file_count(c);
        int64_t deadline = d2ev_clock_mono_ms() + 20000;
        while (file_count(c) == before && d2ev_clock_mono_ms() < deadline)
            sleep_ms(1);
    } else {
        sleep_ms((int64_t)(d2ev_rand_unit(&c->rng) * 1500));
    }
    assert_int_equal(d2ev_test_stop(&e->proc, SIGKILL, 10000), 128 + SIGKILL);
}

struct done_arg {
    struct crash *c;
    int64_t end[EXP_NTOPICS];
};

static bool all_committed(void *arg)
{
    struct done_arg *d = arg;
    for (int t = 0; t < EXP_NTOPICS; t++) {
        int64_t committed[NPART], sum = 0;
        fx_committed(d->c->broker.bootstrap, GROUP, exp_topic_names[t], committed, NPART);
        for (int p = 0; p < NPART; p++)
            sum += committed[p] > 0 ? committed[p] : 0;
        if (sum != d->end[t])
            return false;
    }
    return true;
}

static void test_kill_9_loses_and_duplicates_nothing(void **state)
{
    (void)state;
    struct crash c;
    memset(&c, 0, sizeof(c));
    const char *seed = getenv("D2EV_TEST_SEED");
    c.rng = seed ? strtoull(seed, NULL, 10) : (uint64_t)time(NULL);
    print_message("crash test seed %llu (D2EV_TEST_SEED replays it)\n", (unsigned long long)c.rng);
    c.tmp = d2ev_test_tmpdir("it-export-crash");
    snprintf(c.root, sizeof(c.root), "%s/export", c.tmp);
    int64_t now = d2ev_clock_real_ms();
    c.base = now - now % FX_DAY - 3 * FX_DAY;
    d2ev_test_broker_start(&c.broker, c.tmp, NPART);
    produce(&c, 0, 0.5);

    json_t *topics[EXP_NTOPICS] = { 0 };
    struct fx_exporter e;
    for (int k = 0; k < KILLS; k++) {
        start(&c, &e, k);
        kill_somewhen(&c, &e, k);
        if (k == 1)
            produce(&c, 0.5, 1.0); /* more traffic arrives while it is down */
        for (int t = 0; t < EXP_NTOPICS; t++) {
            json_decref(topics[t]);
            topics[t] = d2ev_test_read_topic(c.broker.bootstrap, exp_topic_names[t], 0, 10000);
        }
        char when[32];
        snprintf(when, sizeof(when), "after kill %d", k + 1);
        check_invariant(&c, topics, when, NULL, NULL);
        print_message("kill %d: %zu files\n", k + 1, file_count(&c));
    }

    /* a last run to the end */
    struct done_arg d = { &c, { 0 } };
    for (int t = 0; t < EXP_NTOPICS; t++)
        d.end[t] = (int64_t)json_array_size(topics[t]);
    start(&c, &e, KILLS);
    if (!d2ev_test_wait(all_committed, &d, 120000))
        fail_msg("the export did not finish (see %s)", e.proc.log_path);
    assert_int_equal(d2ev_test_stop(&e.proc, SIGTERM, 15000), 0);

    /* exactly once: everything is committed, so every good record is in one file */
    size_t good = 0, bad = 0;
    size_t rows = check_invariant(&c, topics, "at the end", &good, &bad);
    assert_int_equal(rows, good);
    struct seen s;
    seen_load(&c, &s, 20000);
    /* and each row is the record at its offset */
    size_t i;
    json_t *row;
    json_array_foreach(s.rows, i, row)
    {
        int t = exp_topic_index(json_string_value(json_object_get(row, "_topic")));
        int p = (int)json_integer_value(json_object_get(row, "_partition"));
        int64_t o = json_integer_value(json_object_get(row, "_offset"));
        size_t j;
        json_t *r;
        json_array_foreach(topics[t], j, r)
        {
            if (json_integer_value(json_object_get(r, "partition")) != p ||
                json_integer_value(json_object_get(r, "offset")) != o)
                continue;
            json_t *v = json_object_get(r, "value");
            if (json_is_null(v) || !v) {
                assert_string_equal(json_string_value(json_object_get(row, "type")), "tombstone");
                assert_string_equal(json_string_value(json_object_get(row, "vehicle_id")),
                                    json_string_value(json_object_get(r, "key")));
            } else {
                assert_string_equal(json_string_value(json_object_get(row, "id")),
                                    json_string_value(json_object_get(v, "id")));
            }
            break;
        }
    }
    seen_free(&s);
    /* the bad records went to the dead letters (at least once each) */
    json_t *dl = d2ev_test_read_topic(c.broker.bootstrap, D2EV_TOPIC_DEADLETTER, bad, 10000);
    assert_true(json_array_size(dl) >= bad);
    json_decref(dl);
    print_message("%zu rows exported exactly once, %zu bad records dead-lettered\n", good, bad);
    for (int t = 0; t < EXP_NTOPICS; t++)
        json_decref(topics[t]);
    d2ev_test_broker_stop(&c.broker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_9_loses_and_duplicates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
