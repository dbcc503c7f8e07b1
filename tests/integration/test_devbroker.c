/*
 * d2ev-devbroker as an outside client sees it: kcat lists every d2ev topic and
 * can produce and consume through it; the control interface injects faults and
 * rejects bad requests with JSON errors; injected request errors are retried
 * by the producer without loss or duplication.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "d2ev/kafka.h"
#include "d2ev/log.h"
#include "d2ev/topics.h"
#include "d2ev_test.h"

static struct d2ev_test_broker g_broker;
static char g_tmp[512];

static int setup(void **state)
{
    d2ev_log_init("test", D2EV_LOG_WARN);
    snprintf(g_tmp, sizeof(g_tmp), "%s", d2ev_test_tmpdir("devbroker"));
    d2ev_test_broker_start(&g_broker, g_tmp, 3);
    return 0;
}

static int teardown(void **state)
{
    d2ev_test_broker_stop(&g_broker);
    return 0;
}

/* Run a shell command and return its stdout (malloc'd). */
static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = NULL;
    size_t cap = 0, len = 0;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            out = realloc(out, cap);
        }
        memcpy(out + len, buf, n);
        len += n;
    }
    if (!out)
        out = calloc(1, 1);
    out[len] = '\0';
    pclose(p);
    return out;
}

static void test_kcat_lists_every_topic(void **state)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "kcat -L -b %s 2>&1", g_broker.bootstrap);
    char *out = run(cmd);
    for (size_t i = 0; i < d2ev_topic_spec_count; i++) {
        char want[160];
        snprintf(want, sizeof(want), "topic \"%s\" with 3 partitions", d2ev_topic_specs[i].name);
        if (!strstr(out, want))
            fail_msg("kcat -L does not list %s:\n%s", want, out);
    }
    free(out);
}

static void test_kcat_produces_and_consumes(void **state)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "printf 'v-1:{\"hello\":1}\\nv-2:{\"hello\":2}\\n' | kcat -P -b %s -t d2ev.control "
             "-K: 2>&1 && kcat -C -b %s -t d2ev.control -e -q -f '%%k=%%s\\n' 2>&1",
             g_broker.bootstrap, g_broker.bootstrap);
    char *out = run(cmd);
    assert_non_null(strstr(out, "v-1={\"hello\":1}"));
    assert_non_null(strstr(out, "v-2={\"hello\":2}"));
    free(out);
}

static void test_control_interface(void **state)
{
    char url[256];
    char *body = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/control/status", g_broker.control_port);
    assert_int_equal(d2ev_test_http("GET", url, NULL, NULL, 0, &body), 200);
    json_t *o = json_loads(body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "bootstrap")), g_broker.bootstrap);
    assert_int_equal(json_integer_value(json_object_get(o, "partitions")), 3);
    json_decref(o);
    free(body);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/control/errors?api=Nope&error=x",
             g_broker.control_port);
    assert_int_equal(d2ev_test_http("POST", url, NULL, "", 0, &body), 400);
    assert_non_null(strstr(body, "\"code\":\"invalid_parameter\""));
    free(body);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/control/rtt?ms=-5", g_broker.control_port);
    assert_int_equal(d2ev_test_http("POST", url, NULL, "", 0, &body), 400);
    free(body);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/control/brokers/down", g_broker.control_port);
    assert_int_equal(d2ev_test_http("GET", url, NULL, NULL, 0, &body), 405);
    free(body);
}

static void test_injected_produce_errors_are_retried_exactly_once(void **state)
{
    char url[256];
    snprintf(
        url, sizeof(url),
        "http://127.0.0.1:%d/control/errors?api=Produce&error=NOT_LEADER_FOR_PARTITION&count=5",
        g_broker.control_port);
    assert_int_equal(d2ev_test_http("POST", url, NULL, "", 0, NULL), 200);
    struct d2ev_kafka_conf kc = { .brokers = g_broker.bootstrap, .client_id = "t" };
    struct d2ev_producer *p = d2ev_producer_create(&kc, NULL);
    for (int i = 0; i < 30; i++) {
        char key[16], val[32];
        snprintf(key, sizeof(key), "v-%d", i);
        snprintf(val, sizeof(val), "{\"i\":%d}", i);
        assert_int_equal(d2ev_producer_send(p, "d2ev.sessions", key, val, strlen(val), NULL), 0);
    }
    assert_int_equal(d2ev_producer_flush(p, 30000, NULL), 0);
    assert_int_equal(d2ev_producer_delivered(p), 30);
    d2ev_producer_destroy(p);
    json_t *rows = d2ev_test_read_topic(g_broker.bootstrap, "d2ev.sessions", 30, 10000);
    assert_int_equal(json_array_size(rows), 30);
    json_decref(rows);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kcat_lists_every_topic),
        cmocka_unit_test(test_kcat_produces_and_consumes),
        cmocka_unit_test(test_control_interface),
        cmocka_unit_test(test_injected_produce_errors_are_retried_exactly_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
