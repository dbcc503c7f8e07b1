/*
 * d2ev-api end to end through a devbroker: sample events on every input
 * topic, the real binary reading them, its answers over HTTP, the events its
 * write endpoints produce, tombstones as erasure, and refusing to start on a
 * malformed token list.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "apitest.h"
#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"

#define READ_TOKEN "it-read-token-0123456789"
#define OP_TOKEN   "it-operator-token-0123456789"

static struct d2ev_test_broker g_broker;
static const char *g_tmp;
static struct d2ev_test_proc g_api;
static int g_http, g_admin;

static void produce(const char *topic, const char *key, json_t *event)
{
    char *text = event ? d2ev_test_dump(event) : NULL;
    json_decref(event);
    d2ev_test_produce(g_broker.bootstrap, topic, key, text);
    free(text);
}

static void produce_samples(void)
{
    for (size_t i = 0; i < apitest_nsamples; i++)
        produce(apitest_samples[i].topic, apitest_samples[i].key,
                d2ev_test_sample_json(apitest_samples[i].type));
    json_t *v2 = d2ev_test_sample_json("vehicle");
    json_object_set_new(v2, "vehicle_id", json_string("v-2"));
    produce(D2EV_TOPIC_VEHICLES, "v-2", v2);
    /* one record nobody can read */
    d2ev_test_produce(g_broker.bootstrap, D2EV_TOPIC_TELEMETRY, "v-1", "{\"type\":\"telemetry\"");
}

static void start_api(struct d2ev_test_proc *p, const char *name, const char *tokens_env)
{
    static char brokers[256], admin[64], http[64];
    snprintf(brokers, sizeof(brokers), "D2EV_KAFKA_BROKERS=%s", g_broker.bootstrap);
    g_admin = d2ev_test_free_port();
    g_http = d2ev_test_free_port();
    snprintf(admin, sizeof(admin), "D2EV_ADMIN_PORT=%d", g_admin);
    snprintf(http, sizeof(http), "D2EV_HTTP_PORT=%d", g_http);
    const char *env[] = {
        brokers, admin, http, "D2EV_LOG_LEVEL=info", "D2EV_HTTP_BIND=127.0.0.1", tokens_env, NULL
    };
    d2ev_test_spawn(p, g_tmp, name, d2ev_test_bin("d2ev-api"), NULL, env);
}

static int setup(void **state)
{
    d2ev_log_init("test", D2EV_LOG_WARN);
    g_tmp = strdup(d2ev_test_tmpdir("api"));
    d2ev_test_broker_start(&g_broker, g_tmp, 3);
    produce_samples();
    /* the tokens from a mounted file, one entry per line */
    static char file_env[600];
    char path[512];
    snprintf(path, sizeof(path), "%s/api-tokens", g_tmp);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s:read,\n%s:operator\n", READ_TOKEN, OP_TOKEN);
    fclose(f);
    snprintf(file_env, sizeof(file_env), "D2EV_API_TOKENS_FILE=%s", path);
    start_api(&g_api, "api", file_env);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", g_admin);
    if (!d2ev_test_wait_http(url, 200, 60000))
        fail_msg("d2ev-api never became ready (see %s)", g_api.log_path);
    return 0;
}

static int teardown(void **state)
{
    if (d2ev_test_alive(&g_api))
        d2ev_test_stop(&g_api, SIGTERM, 10000);
    d2ev_test_broker_stop(&g_broker);
    free((void *)g_tmp);
    return 0;
}

static long req(const char *method, const char *path, const char *token, const char *body,
                char **out)
{
    char url[256], auth[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", g_http, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *h[] = { auth, "Content-Type: application/json", NULL };
    return d2ev_test_http(method, url, token ? h : h + 1, body, body ? strlen(body) : 0, out);
}

static json_t *get_json(const char *path, long want)
{
    char *body = NULL;
    long st = req("GET", path, READ_TOKEN, NULL, &body);
    if (st != want)
        fail_msg("GET %s: want %ld, got %ld: %s", path, want, st, body ? body : "");
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    return j;
}

static void test_ready_means_caught_up(void **state)
{
    /* everything produced before the start is there once /readyz says so */
    json_t *j = get_json("/v1/vehicles", 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 2);
    json_decref(j);
    j = get_json("/v1/vehicles/v-1/schedule", 200);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 7);
    json_decref(j);
    j = get_json("/v1/vehicles/v-1", 200);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "charging");
    assert_int_equal(json_array_size(json_object_get(j, "notifications")), 1);
    json_decref(j);
    j = get_json("/v1/vehicles/v-1/sessions", 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    j = get_json("/v1/vehicles/v-1/dispatch", 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    j = get_json("/v1/forecasts/GB-LON", 200);
    assert_false(json_is_null(json_object_get(j, "price")));
    json_decref(j);
    j = get_json("/v1/fleet/summary", 200);
    assert_int_equal(json_integer_value(json_object_get(j, "vehicles")), 2);
    json_decref(j);
    /* the unreadable record was counted, not fatal */
    char url[128], *metrics = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", g_admin);
    assert_int_equal(d2ev_test_http("GET", url, NULL, NULL, 0, &metrics), 200);
    assert_non_null(strstr(metrics, "d2ev_api_records_rejected_total{topic=\"d2ev.telemetry\"} 1"));
    assert_non_null(strstr(metrics, "d2ev_api_vehicles 2"));
    free(metrics);
    /* no token, no data */
    assert_int_equal(req("GET", "/v1/vehicles", NULL, NULL, NULL), 401);
}

static bool schedule_is_v8(void *arg)
{
    json_t *j = get_json("/v1/vehicles/v-1/schedule", 200);
    bool ok = json_integer_value(json_object_get(j, "version")) == 8;
    json_decref(j);
    return ok;
}

static void test_follows_new_events(void **state)
{
    json_t *s = d2ev_test_sample_json("schedule");
    json_object_set_new(s, "version", json_integer(8));
    produce(D2EV_TOPIC_SCHEDULES, "v-1", s);
    assert_true(d2ev_test_wait(schedule_is_v8, NULL, 30000));
    json_t *j = get_json("/v1/vehicles/v-1/schedules", 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 2);
    json_decref(j);
}

/* The message on topic whose envelope id is event_id (its raw text). */
static char *find_event(const char *topic, const char *event_id)
{
    json_t *all = d2ev_test_read_topic(g_broker.bootstrap, topic, 1, 30000);
    size_t i;
    json_t *row;
    char *found = NULL;
    json_array_foreach(all, i, row)
    {
        json_t *v = json_object_get(row, "value");
        if (!strcmp(json_string_value(json_object_get(v, "id")), event_id)) {
            assert_string_equal(json_string_value(json_object_get(row, "key")), "v-1");
            found = strdup(json_string_value(json_object_get(row, "raw")));
        }
    }
    json_decref(all);
    if (!found)
        fail_msg("event %s is not on %s", event_id, topic);
    return found;
}

static void test_writes_reach_kafka(void **state)
{
    char until[D2EV_TIME_STR_MAX], body[128], *resp = NULL;
    d2ev_time_format(d2ev_clock_real_ms() + 3600000, until);
    snprintf(body, sizeof(body), "{\"until\":\"%s\"}", until);
    assert_int_equal(req("POST", "/v1/vehicles/v-1/boost", READ_TOKEN, body, &resp), 403);
    free(resp);
    assert_int_equal(req("POST", "/v1/vehicles/v-1/boost", OP_TOKEN, body, &resp), 202);
    json_t *a = json_loads(resp, 0, NULL);
    free(resp);
    /* 202 means it is in Kafka already */
    char *raw =
        find_event(D2EV_TOPIC_REG_REQUESTS, json_string_value(json_object_get(a, "event_id")));
    struct d2ev_reg_request r;
    struct d2ev_err err = { 0 };
    assert_int_equal(d2ev_reg_request_decode(raw, strlen(raw), &r, &err), 0);
    assert_int_equal(r.action, D2EV_REG_UPDATE_PREFERENCES);
    assert_string_equal(r.source, "ops");
    assert_string_equal(json_string_value(json_object_get(r.prefs_patch, "boost_until")), until);
    d2ev_reg_request_clear(&r);
    free(raw);
    json_decref(a);

    assert_int_equal(
        req("POST", "/v1/vehicles/v-1/replan", OP_TOKEN, "{\"reason\":\"test\"}", &resp), 202);
    a = json_loads(resp, 0, NULL);
    free(resp);
    raw = find_event(D2EV_TOPIC_CONTROL, json_string_value(json_object_get(a, "event_id")));
    struct d2ev_control c;
    assert_int_equal(d2ev_control_decode(raw, strlen(raw), &c, &err), 0);
    assert_int_equal(c.action, D2EV_CONTROL_REPLAN);
    assert_string_equal(c.reason, "test");
    free(raw);
    json_decref(a);
}

static bool v1_gone(void *arg)
{
    return req("GET", "/v1/vehicles/v-1", READ_TOKEN, NULL, NULL) == 404;
}

static void test_tombstone_erases(void **state)
{
    produce(D2EV_TOPIC_VEHICLES, "v-1", NULL);
    produce(D2EV_TOPIC_SCHEDULES, "v-1", NULL);
    assert_true(d2ev_test_wait(v1_gone, NULL, 30000));
    assert_int_equal(req("GET", "/v1/vehicles/v-1/schedule", READ_TOKEN, NULL, NULL), 404);
    assert_int_equal(req("GET", "/v1/vehicles/v-1/sessions", READ_TOKEN, NULL, NULL), 404);
    json_t *j = get_json("/v1/vehicles", 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    j = get_json("/v1/alerts", 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);
}

static void test_stops_cleanly_and_never_logs_tokens(void **state)
{
    assert_int_equal(d2ev_test_stop(&g_api, SIGTERM, 10000), 0);
    assert_int_equal(d2ev_test_grep_count(g_api.log_path, READ_TOKEN), 0);
    assert_int_equal(d2ev_test_grep_count(g_api.log_path, OP_TOKEN), 0);
    assert_true(d2ev_test_grep_count(g_api.log_path, "\"fingerprint\"") == 2);
}

static void test_refuses_malformed_tokens(void **state)
{
    struct d2ev_test_proc p;
    start_api(&p, "api-bad-tokens",
              "D2EV_API_TOKENS=it-read-token-0123456789:read,read:it-secret-token-987654321");
    /* signal 0: just wait for the exit and collect its status */
    assert_int_equal(d2ev_test_stop(&p, 0, 15000), 64);
    assert_true(d2ev_test_grep_count(p.log_path, "api-tokens: entry 2") > 0);
    assert_int_equal(d2ev_test_grep_count(p.log_path, "it-secret-token"), 0);
    assert_int_equal(d2ev_test_grep_count(p.log_path, "it-read-token"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_means_caught_up),
        cmocka_unit_test(test_follows_new_events),
        cmocka_unit_test(test_writes_reach_kafka),
        cmocka_unit_test(test_tombstone_erases),
        cmocka_unit_test(test_stops_cleanly_and_never_logs_tokens),
        cmocka_unit_test(test_refuses_malformed_tokens),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
