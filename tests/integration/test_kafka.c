/*
 * Integration tests of the Kafka wrappers against a real d2ev-devbroker:
 * delivery accounting, commit-after-processing, state-topic replay,
 * co-partitioned rebalancing, dead-lettering and broker outages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "d2ev/clock.h"
#include "d2ev/envelope.h"
#include "d2ev/kafka.h"
#include "d2ev/log.h"
#include "d2ev_test.h"

static struct d2ev_test_broker g_broker;
static struct d2ev_kafka_conf g_kc;

static int setup(void **state)
{
    d2ev_log_init("test", D2EV_LOG_WARN);
    d2ev_test_broker_start(&g_broker, d2ev_test_tmpdir("kafka"), 4);
    g_kc = (struct d2ev_kafka_conf){ .brokers = g_broker.bootstrap, .client_id = "test" };
    return 0;
}

static int teardown(void **state)
{
    d2ev_test_broker_stop(&g_broker);
    return 0;
}

static void produce_n(struct d2ev_producer *p, const char *topic, int n, const char *prefix)
{
    for (int i = 0; i < n; i++) {
        char key[32], val[64];
        snprintf(key, sizeof(key), "v-%d", i % 16);
        snprintf(val, sizeof(val), "{\"%s\":%d}", prefix, i);
        assert_int_equal(d2ev_producer_send(p, topic, key, val, strlen(val), NULL), 0);
    }
}

static void test_producer_delivers_everything(void **state)
{
    struct d2ev_err err = { 0 };
    struct d2ev_producer *p = d2ev_producer_create(&g_kc, &err);
    assert_non_null(p);
    produce_n(p, "d2ev.telemetry", 200, "t");
    assert_int_equal(d2ev_producer_flush(p, 10000, &err), 0);
    assert_int_equal(d2ev_producer_delivered(p), 200);
    assert_int_equal(d2ev_producer_failed(p), 0);
    d2ev_producer_destroy(p);
    json_t *rows = d2ev_test_read_topic(g_broker.bootstrap, "d2ev.telemetry", 200, 10000);
    assert_int_equal(json_array_size(rows), 200);
    /* same key, same partition */
    int part_of_v3 = -1;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (!strcmp(json_string_value(json_object_get(r, "key")), "v-3")) {
            int p3 = (int)json_integer_value(json_object_get(r, "partition"));
            if (part_of_v3 < 0)
                part_of_v3 = p3;
            assert_int_equal(p3, part_of_v3);
        }
    }
    json_decref(rows);
}

struct counts {
    int assigned, revoked;
};

static void on_assign(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
    ((struct counts *)opaque)->assigned += parts->cnt;
}

static void on_revoke(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
    ((struct counts *)opaque)->revoked += parts->cnt;
}

static struct d2ev_consumer *consumer(const char *group, const char *const *topics,
                                      const char *const *state_topics, struct counts *cnt)
{
    struct d2ev_consumer_conf cc = {
        .kafka = &g_kc,
        .group_id = group,
        .topics = topics,
        .state_topics = state_topics,
        .on_assign = on_assign,
        .on_revoke = on_revoke,
        .opaque = cnt,
        .session_timeout_ms = 6000,
    };
    struct d2ev_err err = { 0 };
    struct d2ev_consumer *c = d2ev_consumer_create(&cc, &err);
    if (!c)
        fail_msg("consumer: %s", err.msg);
    return c;
}

/* Poll until `want` messages were received (or 20 s); process only the first
 * `process` of them (mark done + commit). Returns how many were received. */
static int consume(struct d2ev_consumer *c, int want, int process)
{
    rd_kafka_message_t *msgs[64];
    int got = 0;
    int64_t deadline = d2ev_clock_mono_ms() + 20000;
    while (got < want && d2ev_clock_mono_ms() < deadline) {
        size_t n = d2ev_consumer_poll(c, msgs, 64, 100);
        for (size_t i = 0; i < n; i++) {
            if (got < process)
                d2ev_consumer_done(c, &msgs[i], 1);
            got++;
            rd_kafka_message_destroy(msgs[i]);
        }
        assert_int_equal(d2ev_consumer_commit(c, true, NULL), 0);
    }
    return got;
}

static void test_commit_only_what_was_processed(void **state)
{
    struct d2ev_producer *p = d2ev_producer_create(&g_kc, NULL);
    produce_n(p, "d2ev.sessions", 100, "s");
    assert_int_equal(d2ev_producer_flush(p, 10000, NULL), 0);

    const char *topics[] = { "d2ev.sessions", NULL };
    struct counts cnt = { 0 };
    struct d2ev_consumer *c = consumer("g-commit", topics, NULL, &cnt);
    /* receive everything but mark only 60 as processed */
    assert_int_equal(consume(c, 100, 60), 100);
    d2ev_consumer_close(c);
    assert_int_equal(cnt.assigned, 4);

    /* a new member of the group gets the 40 unprocessed messages again, not fewer */
    c = consumer("g-commit", topics, NULL, &cnt);
    int again = consume(c, 40, 40);
    assert_int_equal(again, 40);
    /* and nothing more arrives */
    rd_kafka_message_t *msgs[8];
    assert_int_equal(d2ev_consumer_poll(c, msgs, 8, 1000), 0);
    d2ev_consumer_close(c);

    /* a third member sees nothing: all 100 are committed now */
    c = consumer("g-commit", topics, NULL, &cnt);
    int64_t deadline = d2ev_clock_mono_ms() + 3000;
    size_t total = 0;
    while (d2ev_clock_mono_ms() < deadline)
        total += d2ev_consumer_poll(c, msgs, 8, 100);
    assert_int_equal(total, 0);
    d2ev_consumer_close(c);
    d2ev_producer_destroy(p);
}

static void test_state_topics_replay_and_catch_up(void **state)
{
    struct d2ev_producer *p = d2ev_producer_create(&g_kc, NULL);
    produce_n(p, "d2ev.vehicles", 30, "v");
    assert_int_equal(d2ev_producer_flush(p, 10000, NULL), 0);
    const char *topics[] = { "d2ev.vehicles", NULL };
    struct counts cnt = { 0 };
    for (int round = 0; round < 2; round++) {
        /* both rounds replay all 30: state topics are read from the beginning */
        struct d2ev_consumer *c = consumer("g-state", topics, topics, &cnt);
        assert_false(d2ev_consumer_caught_up(c));
        int got = consume(c, 30, 30);
        assert_int_equal(got, 30);
        int64_t deadline = d2ev_clock_mono_ms() + 5000;
        rd_kafka_message_t *m[4];
        while (!d2ev_consumer_caught_up(c) && d2ev_clock_mono_ms() < deadline)
            assert_int_equal(d2ev_consumer_poll(c, m, 4, 50), 0);
        assert_true(d2ev_consumer_caught_up(c));
        d2ev_consumer_close(c);
    }
    d2ev_producer_destroy(p);
}

struct member {
    struct d2ev_consumer *c;
    struct counts cnt;
};

static bool first_has_all(void *arg)
{
    struct member *m = arg;
    rd_kafka_message_t *msgs[8];
    size_t n = d2ev_consumer_poll(m[0].c, msgs, 8, 10);
    for (size_t j = 0; j < n; j++)
        rd_kafka_message_destroy(msgs[j]);
    return d2ev_consumer_assigned(m[0].c) == 8;
}

static bool both_assigned(void *arg)
{
    struct member *m = arg;
    rd_kafka_message_t *msgs[8];
    for (int i = 0; i < 2; i++) {
        size_t n = d2ev_consumer_poll(m[i].c, msgs, 8, 10);
        for (size_t j = 0; j < n; j++)
            rd_kafka_message_destroy(msgs[j]);
    }
    return d2ev_consumer_assigned(m[0].c) > 0 && d2ev_consumer_assigned(m[1].c) > 0 &&
           d2ev_consumer_assigned(m[0].c) + d2ev_consumer_assigned(m[1].c) == 8;
}

static void test_rebalance_keeps_partitions_aligned(void **state)
{
    const char *topics[] = { "d2ev.dispatch", "d2ev.notifications", NULL };
    struct member m[2] = { 0 };
    m[0].c = consumer("g-rebal", topics, NULL, &m[0].cnt);
    assert_true(d2ev_test_wait(first_has_all, m, 30000));
    m[1].c = consumer("g-rebal", topics, NULL, &m[1].cnt);
    assert_true(d2ev_test_wait(both_assigned, m, 30000));
    /* range assignment: each member owns the same partition numbers of both topics */
    for (int i = 0; i < 2; i++) {
        rd_kafka_topic_partition_list_t *a = NULL;
        assert_int_equal(rd_kafka_assignment(d2ev_consumer_handle(m[i].c), &a), 0);
        int mask_d = 0, mask_n = 0;
        for (int j = 0; j < a->cnt; j++) {
            if (!strcmp(a->elems[j].topic, "d2ev.dispatch"))
                mask_d |= 1 << a->elems[j].partition;
            else
                mask_n |= 1 << a->elems[j].partition;
        }
        assert_int_equal(mask_d, mask_n);
        rd_kafka_topic_partition_list_destroy(a);
    }
    /* the first member gave all up (at least once: a slow join under load can
     * cost another round), then got half back */
    assert_true(m[0].cnt.revoked >= 8);
    d2ev_consumer_close(m[0].c);
    d2ev_consumer_close(m[1].c);
}

static void test_deadletter_keeps_everything(void **state)
{
    d2ev_test_produce(g_broker.bootstrap, "d2ev.control", "v-dl", "{not json\xff");
    const char *topics[] = { "d2ev.control", NULL };
    struct counts cnt = { 0 };
    struct d2ev_consumer *c = consumer("g-dlq", topics, NULL, &cnt);
    struct d2ev_producer *p = d2ev_producer_create(&g_kc, NULL);
    rd_kafka_message_t *msgs[4];
    size_t n = 0;
    int64_t deadline = d2ev_clock_mono_ms() + 20000;
    while (n == 0 && d2ev_clock_mono_ms() < deadline)
        n = d2ev_consumer_poll(c, msgs, 4, 100);
    assert_int_equal(n, 1);
    struct d2ev_envelope env;
    struct d2ev_err err = { 0 };
    assert_null(d2ev_envelope_parse(msgs[0]->payload, msgs[0]->len, "control", &env, &err));
    assert_int_equal(d2ev_deadletter_send(p, "test", msgs[0], err.msg, NULL), 0);
    assert_int_equal(d2ev_producer_flush(p, 10000, NULL), 0);
    rd_kafka_message_destroy(msgs[0]);
    d2ev_consumer_close(c);
    d2ev_producer_destroy(p);

    json_t *rows = d2ev_test_read_topic(g_broker.bootstrap, "d2ev.deadletter", 1, 10000);
    assert_int_equal(json_array_size(rows), 1);
    json_t *v = json_object_get(json_array_get(rows, 0), "value");
    assert_string_equal(json_string_value(json_object_get(v, "type")), "deadletter");
    assert_non_null(strstr(json_string_value(json_object_get(v, "reason")), "malformed JSON"));
    json_t *src = json_object_get(v, "source");
    assert_string_equal(json_string_value(json_object_get(src, "topic")), "d2ev.control");
    assert_string_equal(json_string_value(json_object_get(src, "key")), "v-dl");
    assert_int_equal(json_integer_value(json_object_get(src, "offset")), 0);
    /* the original bytes survive, even though they are not UTF-8 */
    assert_string_equal(json_string_value(json_object_get(v, "payload_b64")), "e25vdCBqc29u/w==");
    assert_null(json_object_get(v, "payload_text"));
    json_decref(rows);
}

static void test_broker_outage_loses_nothing(void **state)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/control/brokers/down", g_broker.control_port);
    struct d2ev_producer *p = d2ev_producer_create(&g_kc, NULL);
    assert_int_equal(d2ev_test_http("POST", url, NULL, "", 0, NULL), 200);
    produce_n(p, "d2ev.registration.results", 50, "r");
    /* nothing can be delivered while the broker is down */
    assert_int_equal(d2ev_producer_flush(p, 1500, NULL), D2EV_ERR_TIMEOUT);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/control/brokers/up", g_broker.control_port);
    assert_int_equal(d2ev_test_http("POST", url, NULL, "", 0, NULL), 200);
    assert_int_equal(d2ev_producer_flush(p, 30000, NULL), 0);
    assert_int_equal(d2ev_producer_delivered(p), 50);
    d2ev_producer_destroy(p);
    json_t *rows = d2ev_test_read_topic(g_broker.bootstrap, "d2ev.registration.results", 50, 10000);
    assert_int_equal(json_array_size(rows), 50); /* idempotent: no duplicates either */
    json_decref(rows);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_producer_delivers_everything),
        cmocka_unit_test(test_commit_only_what_was_processed),
        cmocka_unit_test(test_state_topics_replay_and_catch_up),
        cmocka_unit_test(test_rebalance_keeps_partitions_aligned),
        cmocka_unit_test(test_deadletter_keeps_everything),
        cmocka_unit_test(test_broker_outage_loses_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
