/*
 * The read-only credentials view: newest record wins, tokens open only for
 * the vehicle they were sealed for, refreshes are asked of registration once
 * per interval, per-app tokens are the engine's own, and tombstones and
 * revoked partitions forget the vehicle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "credview.h"
#include "d2ev/events.h"
#include "d2ev/log.h"
#include "d2ev/topics.h"
#include "d2ev/util.h"
#include "d2ev_test.h"

static struct d2ev_test_broker g_broker;
static struct d2ev_kafka_conf g_kc;
static struct d2ev_keyring *g_kr;
static char *g_keytext;

static int setup(void **state)
{
    d2ev_log_init("test", D2EV_LOG_ERROR);
    d2ev_test_broker_start(&g_broker, d2ev_test_tmpdir("credview"), 4);
    g_kc = (struct d2ev_kafka_conf){ .brokers = g_broker.bootstrap, .client_id = "t" };
    g_keytext = d2ev_keyring_generate("k1");
    g_kr = d2ev_keyring_parse(g_keytext, NULL);
    return 0;
}

static int teardown(void **state)
{
    d2ev_keyring_destroy(g_kr);
    free(g_keytext);
    d2ev_test_broker_stop(&g_broker);
    return 0;
}

/* A fake rd_kafka_message_t carrying a credentials record (or a tombstone). */
struct fake_msg {
    rd_kafka_message_t m;
    char *text;
};

static void record(struct fake_msg *f, const char *key, const char *vehicle, const char *oem,
                   const char *aad, const char *access, int64_t version)
{
    memset(f, 0, sizeof(*f));
    f->m.key = (void *)key;
    f->m.key_len = strlen(key);
    if (!vehicle)
        return; /* tombstone */
    char tokens[256];
    snprintf(tokens, sizeof(tokens),
             "{\"access_token\":\"%s\",\"refresh_token\":\"RT-%s\",\"expires_at\":"
             "\"2030-01-01T00:00:00Z\"}",
             access, access);
    struct d2ev_credentials c;
    memset(&c, 0, sizeof(c));
    d2ev_strlcpy(c.vehicle_id, vehicle, sizeof(c.vehicle_id));
    d2ev_strlcpy(c.oem, oem, sizeof(c.oem));
    d2ev_strlcpy(c.key_id, "k1", sizeof(c.key_id));
    c.sealed = d2ev_crypto_seal(g_kr, tokens, strlen(tokens), aad, NULL);
    c.access_expires_at = 1893456000000;
    c.version = version;
    c.updated_at = 1795246200000;
    json_t *j = d2ev_credentials_encode(&c);
    assert_non_null(j);
    f->text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    d2ev_credentials_clear(&c);
    f->m.payload = f->text;
    f->m.len = strlen(f->text);
}

static void release(struct fake_msg *f)
{
    free(f->text);
}

static struct d2ev_credview *view(struct d2ev_producer *p)
{
    struct d2ev_credview_conf conf = {
        .keyring = g_kr, .producer = p, .service = "telemetry", .refresh_interval_ms = 60000
    };
    struct d2ev_credview *cv = d2ev_credview_create(&conf, NULL);
    assert_non_null(cv);
    return cv;
}

static void test_newest_record_wins_and_opens(void **state)
{
    struct d2ev_producer *p = d2ev_producer_create(&g_kc, NULL);
    struct d2ev_credview *cv = view(p);
    const struct d2ev_oem_token_source *src = d2ev_credview_token_source(cv);
    struct fake_msg m;
    struct d2ev_err err = { 0 };

    record(&m, "v-1", "v-1", "tesla", "v-1", "AT-one", 2);
    assert_int_equal(d2ev_credview_apply(cv, &m.m, &err), 0);
    release(&m);
    struct d2ev_oem_token t;
    assert_int_equal(src->get(src->opaque, "tesla", "v-1", &t), 0);
    assert_string_equal(t.access_token, "AT-one");
    assert_string_equal(t.refresh_token, "RT-AT-one");
    assert_true(t.expires_at_ms == 1893456000000);
    /* wrong OEM for that vehicle: no token */
    assert_int_equal(src->get(src->opaque, "smartcar", "v-1", &t), D2EV_ERR_NOT_FOUND);

    /* an older version (a replay) does not win */
    record(&m, "v-1", "v-1", "tesla", "v-1", "AT-old", 1);
    assert_int_equal(d2ev_credview_apply(cv, &m.m, &err), 0);
    release(&m);
    assert_int_equal(src->get(src->opaque, "tesla", "v-1", &t), 0);
    assert_string_equal(t.access_token, "AT-one");
    /* a newer one does */
    record(&m, "v-1", "v-1", "tesla", "v-1", "AT-two", 3);
    assert_int_equal(d2ev_credview_apply(cv, &m.m, &err), 0);
    release(&m);
    assert_int_equal(src->get(src->opaque, "tesla", "v-1", &t), 0);
    assert_string_equal(t.access_token, "AT-two");

    /* a blob sealed for another vehicle does not open here */
    record(&m, "v-2", "v-2", "tesla", "v-9", "AT-stolen", 1);
    assert_int_equal(d2ev_credview_apply(cv, &m.m, &err), 0);
    release(&m);
    assert_int_equal(src->get(src->opaque, "tesla", "v-2", &t), D2EV_ERR_NOT_FOUND);
    /* a record under the wrong key is rejected for the dead-letter topic */
    record(&m, "v-3", "v-4", "tesla", "v-4", "AT-x", 1);
    assert_int_equal(d2ev_credview_apply(cv, &m.m, &err), D2EV_ERR_INVALID);
    assert_non_null(strstr(err.msg, "does not match the message key"));
    release(&m);
    /* so is garbage */
    rd_kafka_message_t bad = { .key = "v-5", .key_len = 3, .payload = "{nope", .len = 5 };
    assert_int_not_equal(d2ev_credview_apply(cv, &bad, &err), 0);

    /* a tombstone forgets the vehicle */
    record(&m, "v-1", NULL, NULL, NULL, NULL, 0);
    assert_int_equal(d2ev_credview_apply(cv, &m.m, &err), 0);
    assert_false(d2ev_credview_has(cv, "v-1"));
    assert_int_equal(src->get(src->opaque, "tesla", "v-1", &t), D2EV_ERR_NOT_FOUND);
    d2ev_credview_destroy(cv);
    d2ev_producer_destroy(p);
}

static void test_refresh_is_requested_once_per_interval(void **state)
{
    struct d2ev_producer *p = d2ev_producer_create(&g_kc, NULL);
    struct d2ev_credview *cv = view(p);
    const struct d2ev_oem_token_source *src = d2ev_credview_token_source(cv);
    struct fake_msg m;
    record(&m, "v-7", "v-7", "smartcar", "v-7", "AT", 1);
    assert_int_equal(d2ev_credview_apply(cv, &m.m, NULL), 0);
    release(&m);

    assert_int_equal(src->request_refresh(src->opaque, "smartcar", "v-7"), 0);
    assert_int_equal(src->request_refresh(src->opaque, "smartcar", "v-7"), 0); /* deduped */
    assert_int_equal(d2ev_credview_refresh_requests(cv), 1);
    /* nothing to refresh for a vehicle this replica does not hold */
    assert_true(src->request_refresh(src->opaque, "smartcar", "v-unknown") < 0);
    assert_int_equal(d2ev_producer_flush(p, 10000, NULL), 0);
    json_t *rows = d2ev_test_read_topic(g_broker.bootstrap, D2EV_TOPIC_REG_REQUESTS, 1, 10000);
    assert_int_equal(json_array_size(rows), 1);
    json_t *row = json_array_get(rows, 0);
    assert_string_equal(json_string_value(json_object_get(row, "key")), "v-7");
    const char *raw = json_string_value(json_object_get(row, "raw"));
    struct d2ev_reg_request r;
    assert_int_equal(d2ev_reg_request_decode(raw, strlen(raw), &r, NULL), 0);
    assert_int_equal(r.action, D2EV_REG_REFRESH_CREDENTIALS);
    assert_string_equal(r.vehicle_id, "v-7");
    assert_string_equal(r.source, "telemetry");
    d2ev_reg_request_clear(&r);
    json_decref(rows);

    /* a new record ends the wait: the next 401 may ask again */
    record(&m, "v-7", "v-7", "smartcar", "v-7", "AT2", 2);
    assert_int_equal(d2ev_credview_apply(cv, &m.m, NULL), 0);
    release(&m);
    assert_int_equal(src->request_refresh(src->opaque, "smartcar", "v-7"), 0);
    assert_int_equal(d2ev_credview_refresh_requests(cv), 2);
    d2ev_credview_destroy(cv);
    d2ev_producer_destroy(p);
}

static void test_per_app_tokens_are_the_engines_own(void **state)
{
    struct d2ev_producer *p = d2ev_producer_create(&g_kc, NULL);
    struct d2ev_credview *cv = view(p);
    const struct d2ev_oem_token_source *src = d2ev_credview_token_source(cv);
    struct d2ev_oem_token t;
    assert_int_equal(src->get(src->opaque, "enode", "", &t), D2EV_ERR_NOT_FOUND);
    assert_int_equal(src->request_refresh(src->opaque, "enode", ""), 1);
    struct d2ev_oem_token fresh = { .access_token = "APP-TOKEN", .expires_at_ms = 42 };
    src->store(src->opaque, "enode", "", &fresh);
    assert_int_equal(src->get(src->opaque, "enode", "", &t), 0);
    assert_string_equal(t.access_token, "APP-TOKEN");
    assert_true(t.expires_at_ms == 42);
    /* a per-vehicle store is ignored: registration is the only writer */
    src->store(src->opaque, "tesla", "v-1", &fresh);
    assert_false(d2ev_credview_has(cv, "v-1"));
    assert_int_equal(d2ev_credview_refresh_requests(cv), 0);
    d2ev_credview_destroy(cv);
    d2ev_producer_destroy(p);
}

static void test_revoked_partitions_are_forgotten(void **state)
{
    struct d2ev_producer *p = d2ev_producer_create(&g_kc, NULL);
    struct d2ev_credview *cv = view(p);
    char ids[40][16];
    for (int i = 0; i < 40; i++) {
        snprintf(ids[i], sizeof(ids[i]), "v-%d", i);
        struct fake_msg m;
        record(&m, ids[i], ids[i], "tesla", ids[i], "AT", 1);
        assert_int_equal(d2ev_credview_apply(cv, &m.m, NULL), 0);
        release(&m);
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(parts, D2EV_TOPIC_CREDENTIALS, 1);
    rd_kafka_topic_partition_list_add(parts, D2EV_TOPIC_VEHICLES, 2); /* other topic: ignored */
    d2ev_credview_remove_partitions(cv, parts, 4);
    rd_kafka_topic_partition_list_destroy(parts);
    size_t kept = 0;
    for (int i = 0; i < 40; i++) {
        bool in_p1 = d2ev_kafka_partition_of(ids[i], 4) == 1;
        assert_int_equal(d2ev_credview_has(cv, ids[i]), !in_p1);
        kept += !in_p1;
    }
    assert_int_equal(d2ev_credview_count(cv), kept);
    assert_true(kept > 0 && kept < 40);
    d2ev_credview_destroy(cv);
    d2ev_producer_destroy(p);
}

static void test_partition_of_matches_the_producer(void **state)
{
    /* the helper must agree with where d2ev producers really put a key */
    struct d2ev_producer *p = d2ev_producer_create(&g_kc, NULL);
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof(key), "veh-%d", i);
        assert_int_equal(d2ev_producer_send(p, D2EV_TOPIC_CONTROL, key, "{}", 2, NULL), 0);
    }
    assert_int_equal(d2ev_producer_flush(p, 10000, NULL), 0);
    d2ev_producer_destroy(p);
    json_t *rows = d2ev_test_read_topic(g_broker.bootstrap, D2EV_TOPIC_CONTROL, 20, 10000);
    assert_int_equal(json_array_size(rows), 20);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *key = json_string_value(json_object_get(row, "key"));
        assert_int_equal(json_integer_value(json_object_get(row, "partition")),
                         d2ev_kafka_partition_of(key, 4));
    }
    json_decref(rows);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newest_record_wins_and_opens),
        cmocka_unit_test(test_refresh_is_requested_once_per_interval),
        cmocka_unit_test(test_per_app_tokens_are_the_engines_own),
        cmocka_unit_test(test_revoked_partitions_are_forgotten),
        cmocka_unit_test(test_partition_of_matches_the_producer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
