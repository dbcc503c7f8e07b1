/*
 * Every service binary starts, answers /healthz and /readyz, and on SIGTERM
 * under load exits 0 within 10 s having delivered everything it produced and
 * committed offsets only for input it processed. A restart then finishes the
 * rest, so nothing is lost.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "d2ev/clock.h"
#include "d2ev/crypto.h"
#include "d2ev/log.h"
#include "d2ev_test.h"

static struct d2ev_test_broker g_broker;
static const char *g_tmp;

static int setup(void **state)
{
    d2ev_log_init("test", D2EV_LOG_WARN);
    g_tmp = strdup(d2ev_test_tmpdir("shutdown"));
    d2ev_test_broker_start(&g_broker, g_tmp, 4);
    return 0;
}

static int teardown(void **state)
{
    d2ev_test_broker_stop(&g_broker);
    free((void *)g_tmp);
    return 0;
}

static void start_service(struct d2ev_test_proc *p, const char *name, int admin_port)
{
    static char env_brokers[256], env_port[64], env_keys[128];
    snprintf(env_brokers, sizeof(env_brokers), "D2EV_KAFKA_BROKERS=%s", g_broker.bootstrap);
    snprintf(env_port, sizeof(env_port), "D2EV_ADMIN_PORT=%d", admin_port);
    /* services that open sealed OEM tokens require the keyring; the bridge also
     * its HMAC secret. HTTP ports (api, bridge) on any free port. */
    char *keys = d2ev_keyring_generate("k1");
    snprintf(env_keys, sizeof(env_keys), "D2EV_CREDENTIALS_KEYS=%s", keys);
    free(keys);
    const char *env[] = { env_brokers,
                          env_port,
                          env_keys,
                          "D2EV_LOG_LEVEL=info",
                          "D2EV_BRIDGE_HMAC_SECRET=shutdown-test-hmac-secret",
                          "D2EV_HTTP_PORT=0",
                          NULL };
    char bin[64];
    snprintf(bin, sizeof(bin), "d2ev-%s", name);
    d2ev_test_spawn(p, g_tmp, name, d2ev_test_bin(bin), NULL, env);
}

static void test_every_service_starts_and_stops(void **state)
{
    static const char *services[] = { "bridge", "registration", "telemetry", "dispatch", "api" };
    for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
        struct d2ev_test_proc p;
        int port = d2ev_test_free_port();
        start_service(&p, services[i], port);
        char url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
        assert_true(d2ev_test_wait_http(url, 200, 15000));
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", port);
        if (!d2ev_test_wait_http(url, 200, 30000))
            fail_msg("%s never became ready (see %s)", services[i], p.log_path);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
        char *body = NULL;
        assert_int_equal(d2ev_test_http("GET", url, NULL, NULL, 0, &body), 200);
        assert_non_null(strstr(body, "d2ev_ready 1"));
        free(body);
        int64_t t0 = d2ev_clock_mono_ms();
        assert_int_equal(d2ev_test_stop(&p, SIGTERM, 10000), 0);
        assert_true(d2ev_clock_mono_ms() - t0 < 10000);
    }
}

static bool exited(void *arg)
{
    return !d2ev_test_alive(arg);
}

static void test_missing_brokers_is_a_usage_error(void **state)
{
    struct d2ev_test_proc p;
    const char *env[] = { "D2EV_KAFKA_BROKERS=", NULL };
    d2ev_test_spawn(&p, g_tmp, "nobroker", d2ev_test_bin("d2ev-telemetry"), NULL, env);
    assert_true(d2ev_test_wait(exited, &p, 10000));
    assert_true(d2ev_test_grep_count(p.log_path, "D2EV_KAFKA_BROKERS") > 0);
}

#define LOAD 20000

static bool processed_some(void *arg)
{
    return d2ev_test_committed(g_broker.bootstrap, "d2ev-registration",
                               "d2ev.registration.requests") > 0;
}

static void test_sigterm_under_load_loses_nothing(void **state)
{
    /* LOAD invalid requests: the registration skeleton dead-letters each one,
     * so every processed input leaves exactly one visible output. */
    char errstr[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", g_broker.bootstrap, errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
    for (int i = 0; i < LOAD; i++) {
        char key[32], val[64];
        snprintf(key, sizeof(key), "v-%d", i);
        snprintf(val, sizeof(val), "{\"type\":\"bogus\",\"n\":%d}", i);
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("d2ev.registration.requests"),
                                 RD_KAFKA_V_KEY(key, strlen(key)),
                                 RD_KAFKA_V_VALUE(val, strlen(val)),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END))
            rd_kafka_poll(rk, 10);
    }
    assert_int_equal(rd_kafka_flush(rk, 30000), 0);
    rd_kafka_destroy(rk);

    struct d2ev_test_proc p;
    start_service(&p, "registration", d2ev_test_free_port());
    assert_true(d2ev_test_wait(processed_some, NULL, 60000));
    int64_t t0 = d2ev_clock_mono_ms();
    assert_int_equal(d2ev_test_stop(&p, SIGTERM, 10000), 0);
    assert_true(d2ev_clock_mono_ms() - t0 < 10000);

    int64_t committed =
        d2ev_test_committed(g_broker.bootstrap, "d2ev-registration", "d2ev.registration.requests");
    json_t *dl =
        d2ev_test_read_topic(g_broker.bootstrap, "d2ev.deadletter", (size_t)committed, 30000);
    print_message("SIGTERM after %lld of %d inputs were committed\n", (long long)committed, LOAD);
    /* every committed input produced its output (outputs may run ahead) */
    assert_true((int64_t)json_array_size(dl) >= committed);
    json_decref(dl);

    /* restart and let it finish: every input is accounted for */
    start_service(&p, "registration", d2ev_test_free_port());
    dl = d2ev_test_read_topic(g_broker.bootstrap, "d2ev.deadletter", LOAD, 120000);
    assert_int_equal(d2ev_test_stop(&p, SIGTERM, 10000), 0);
    char seen[LOAD] = { 0 };
    size_t i;
    json_t *row;
    json_array_foreach(dl, i, row)
    {
        json_t *src = json_object_get(json_object_get(row, "value"), "source");
        const char *key = json_string_value(json_object_get(src, "key"));
        assert_non_null(key);
        int n = atoi(key + 2);
        assert_true(n >= 0 && n < LOAD);
        seen[n] = 1;
    }
    for (int k = 0; k < LOAD; k++)
        if (!seen[k])
            fail_msg("input v-%d was never processed", k);
    json_decref(dl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_service_starts_and_stops),
        cmocka_unit_test(test_missing_brokers_is_a_usage_error),
        cmocka_unit_test(test_sigterm_under_load_loses_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
