/* test_engine_core.c: the OEM engine against a scripted server: completion exactly once,
 * retries under 5xx storms and timeouts, rate limits and Retry-After, the circuit breaker,
 * deadlines and shutdown. Uses the real Smartcar adapter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "d2ev/clock.h"
#include "engine_fixture.h"

#define SC_CONFIG(extra)                                                                           \
    "{\"base_url\": \"%s/smartcar\", \"token_url\": \"%s/smartcar/oauth/token\", "                 \
    "\"client_id\": \"cid\", \"backoff\": {\"base_ms\": 5, \"max_ms\": 40}" extra "}"

#define BATCH_OK                                                                                   \
    "{\"responses\": [{\"path\": \"/battery\", \"code\": 200, \"headers\": {\"sc-data-age\": "     \
    "\"2026-11-21T07:29:58.000Z\"}, \"body\": {\"percentRemaining\": 0.54, \"range\": 212.4}}, "   \
    "{\"path\": \"/charge\", \"code\": 200, \"headers\": {}, \"body\": {\"isPluggedIn\": true, "   \
    "\"state\": \"CHARGING\"}}]}"

#define SC_ERROR(type, code, desc)                                                                 \
    "{\"type\": \"" type "\", \"code\": \"" code "\", \"description\": \"" desc "\", "             \
    "\"statusCode\": 0, \"resolution\": {\"type\": null}}"

static struct run R;
static struct srv S;

/* "v17" from ".../vehicles/v17/batch" -> 17 (0..63 for counters). */
static int vehicle_index(const char *path)
{
    const char *p = strstr(path, "/vehicles/v");
    return p ? atoi(p + 11) % 64 : 0;
}

static bool auth_ok(const struct d2ev_http_request *req)
{
    const char *a = d2ev_http_header(req, "Authorization");
    const char *p = strstr(req->path, "/vehicles/");
    if (!a || !p)
        return false;
    char want[128];
    snprintf(want, sizeof(want), "Bearer tok-%.*s", (int)strcspn(p + 10, "/"), p + 10);
    return strcmp(a, want) == 0;
}

static void add_vehicles(int n)
{
    char key[32], tok[40];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "v%d", i);
        snprintf(tok, sizeof(tok), "tok-v%d", i);
        tokens_set(&R.tokens, key, tok, "rt", 0);
    }
}

static void submit_reads(int n, int vehicles)
{
    char v[32];
    for (int i = 0; i < n; i++) {
        snprintf(v, sizeof(v), "v%d", i % vehicles);
        run_read(&R, "smartcar", v);
    }
}

/* ------------------------------------------------------------ reads */

static void script_ok(struct srv *s, const struct d2ev_http_request *req,
                      struct d2ev_http_response *resp)
{
    if (!auth_ok(req))
        srv_reply(resp, 401, NULL, SC_ERROR("AUTHENTICATION", "", "bad token"));
    else
        srv_reply(resp, 200, NULL, BATCH_OK);
}

static void test_reads_complete_once(void **state)
{
    srv_start(&S, script_ok, NULL);
    run_init(&R, false);
    run_add(&R, "smartcar", &S, SC_CONFIG(", \"rate_limit\": {\"per_second\": 100000}"));
    add_vehicles(64);
    submit_reads(1000, 64);
    run_wait_all(&R, 20000);
    for (int i = 0; i < R.nsub; i++) {
        assert_int_equal(R.done[i].cls, D2EV_OEM_OK);
        assert_true(R.done[i].has_state);
        assert_float_equal(R.done[i].soc, 54.0, 1e-9);
        assert_int_equal(R.done[i].requests, 1);
    }
    assert_int_equal(srv_count(&S, "/batch"), 1000);
    /* each request carried its own vehicle's token: none were refused */
    assert_int_equal(run_stats(&R, "smartcar").refreshes, 0);
    run_fini(&R);
    srv_stop(&S);
}

/* ------------------------------------------------------------ 5xx storm */

static void script_storm(struct srv *s, const struct d2ev_http_request *req,
                         struct d2ev_http_response *resp)
{
    int v = vehicle_index(req->path);
    pthread_mutex_lock(&s->lock);
    int n = s->counter[v]++;
    pthread_mutex_unlock(&s->lock);
    /* two 5xx per vehicle, then fine */
    if (n < 2)
        srv_reply(resp, n ? 502 : 500, NULL, SC_ERROR("SERVER", "INTERNAL", "boom"));
    else
        srv_reply(resp, 200, NULL, BATCH_OK);
}

static void test_5xx_storm_retries(void **state)
{
    srv_start(&S, script_storm, NULL);
    run_init(&R, false);
    run_add(&R, "smartcar", &S,
            SC_CONFIG(", \"rate_limit\": {\"per_second\": 100000}, \"max_attempts\": 4, "
                      "\"breaker\": {\"min_requests\": 100000}"));
    add_vehicles(64);
    submit_reads(64, 64); /* one op per vehicle: each sees 500, 502, then 200 */
    run_wait_all(&R, 20000);
    for (int i = 0; i < R.nsub; i++) {
        assert_int_equal(R.done[i].cls, D2EV_OEM_OK);
        assert_int_equal(R.done[i].requests, 3);
    }
    assert_int_equal(run_stats(&R, "smartcar").retries, 128);
    run_fini(&R);
    srv_stop(&S);
}

/* Chaos: every answer is random; every op still completes exactly once with
 * a class that matches what the server said. */
static void script_chaos(struct srv *s, const struct d2ev_http_request *req,
                         struct d2ev_http_response *resp)
{
    pthread_mutex_lock(&s->lock);
    int r = rand() % 10;
    pthread_mutex_unlock(&s->lock);
    switch (r) {
    case 0:
    case 1:
        srv_reply(resp, 503, NULL, SC_ERROR("SERVER", "INTERNAL", "busy"));
        break;
    case 2:
        srv_reply(resp, 404, NULL, SC_ERROR("RESOURCE_NOT_FOUND", "PATH", "gone"));
        break;
    case 3:
        srv_reply(resp, 409, NULL, SC_ERROR("VEHICLE_STATE", "ASLEEP", "zzz"));
        break;
    case 4:
        srv_reply(resp, 200, NULL, "{\"responses\": 7}"); /* garbled */
        break;
    case 5:
        usleep(150 * 1000); /* slower than the request timeout */
        srv_reply(resp, 200, NULL, BATCH_OK);
        break;
    default:
        srv_reply(resp, 200, NULL, BATCH_OK);
    }
}

static void test_chaos_nothing_lost(void **state)
{
    srand(7);
    srv_start(&S, script_chaos, NULL);
    run_init(&R, false);
    run_add(&R, "smartcar", &S,
            SC_CONFIG(", \"rate_limit\": {\"per_second\": 100000}, \"max_attempts\": 3, "
                      "\"request_timeout_ms\": 80, \"breaker\": {\"min_requests\": 100000}"));
    add_vehicles(64);
    submit_reads(400, 64);
    run_wait_all(&R, 30000);
    int by_class[D2EV_OEM_CLASS_COUNT] = { 0 };
    for (int i = 0; i < R.nsub; i++) {
        uint32_t c = R.done[i].cls;
        assert_true(c == D2EV_OEM_OK || c == D2EV_OEM_PERMANENT || c == D2EV_OEM_ASLEEP ||
                    c == D2EV_OEM_RETRY);
        assert_true(R.done[i].requests >= 1 && R.done[i].requests <= 3);
        if (c == D2EV_OEM_OK)
            assert_true(R.done[i].has_state);
        else
            assert_true(R.done[i].message[0] != '\0');
        by_class[c]++;
    }
    assert_int_equal(d2ev_oem_engine_pending(R.e), 0);
    assert_true(by_class[D2EV_OEM_OK] > 0 && by_class[D2EV_OEM_PERMANENT] > 0 &&
                by_class[D2EV_OEM_ASLEEP] > 0);
    run_fini(&R);
    srv_stop(&S);
}

/* ------------------------------------------------------------ timeouts */

static void script_slow_first(struct srv *s, const struct d2ev_http_request *req,
                              struct d2ev_http_response *resp)
{
    int v = vehicle_index(req->path);
    pthread_mutex_lock(&s->lock);
    int n = s->counter[v]++;
    int always = s->flag;
    pthread_mutex_unlock(&s->lock);
    if (n == 0 || always)
        usleep(400 * 1000);
    srv_reply(resp, 200, NULL, BATCH_OK);
}

static void test_timeouts(void **state)
{
    srv_start(&S, script_slow_first, NULL);
    run_init(&R, false);
    run_add(&R, "smartcar", &S,
            SC_CONFIG(", \"request_timeout_ms\": 100, \"max_attempts\": 2, "
                      "\"breaker\": {\"min_requests\": 100000}"));
    add_vehicles(4);
    /* one slow answer at a time: the server's threads stay free for the retry */
    for (int i = 0; i < 3; i++) {
        char v[8];
        snprintf(v, sizeof(v), "v%d", i);
        run_read(&R, "smartcar", v);
        run_wait_all(&R, 10000);
        assert_int_equal(R.done[i].cls, D2EV_OEM_OK);
        assert_int_equal(R.done[i].requests, 2); /* timed out once, then answered */
    }
    /* a server that never answers in time: classified retry, with the reason */
    pthread_mutex_lock(&S.lock);
    S.flag = 1;
    pthread_mutex_unlock(&S.lock);
    int i = run_read(&R, "smartcar", "v1");
    run_wait_all(&R, 10000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_RETRY);
    assert_int_equal(R.done[i].http_status, 0);
    assert_non_null(strstr(R.done[i].message, "timed out"));
    run_fini(&R);
    srv_stop(&S);
}

/* ------------------------------------------------------------ rate limits */

static void test_rate_limit_never_exceeded(void **state)
{
    const double rate = 100, burst = 5;
    const int n_ops = 120;
    /* The server stamps a request when its handler runs, which can lag the
     * send (accept, thread scheduling on 2 busy cores, ASan): requests sent
     * over [t, t + span + jitter] may be stamped within span. An engine that
     * ignored the bucket would put all 120 requests within a few ms. */
    const double jitter_ms = 100;
    srv_start(&S, script_ok, NULL);
    run_init(&R, false);
    run_add(&R, "smartcar", &S, SC_CONFIG(", \"rate_limit\": {\"per_second\": 100, \"burst\": 5}"));
    add_vehicles(64);
    submit_reads(n_ops, 64);
    run_wait_all(&R, 20000);
    pthread_mutex_lock(&S.lock);
    size_t n = S.nlog;
    int64_t *t = malloc(n * sizeof(*t));
    for (size_t i = 0; i < n; i++)
        t[i] = S.log[i].at_ms;
    pthread_mutex_unlock(&S.lock);
    assert_int_equal(n, n_ops);
    /* any run of k requests spans enough time for the bucket:
     * k <= burst + rate * (span + jitter) + 1 (ms rounding) */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i; j < n; j++) {
            double allowed = burst + rate * ((double)(t[j] - t[i]) + jitter_ms) / 1000.0 + 1;
            if ((double)(j - i + 1) > allowed) {
                fail_msg("%zu requests within %lld ms (bucket allows %.1f)", j - i + 1,
                         (long long)(t[j] - t[i]), allowed);
            }
        }
    }
    /* and the whole run took as long as the rate demands */
    assert_true(t[n - 1] - t[0] >= (int64_t)((n_ops - burst - 1) / rate * 1000) - jitter_ms);
    free(t);
    assert_true(run_stats(&R, "smartcar").rate_limit_waits > 0);
    run_fini(&R);
    srv_stop(&S);
}

/* 429 with Retry-After: 1 for the first request (of vehicle v0 only, with
 * only_v0); everything else passes. */
struct limit_script {
    const char *code; /* Smartcar's RATE_LIMIT code: SMARTCAR_API or VEHICLE */
    bool only_v0;
};

static void script_429_once(struct srv *s, const struct d2ev_http_request *req,
                            struct d2ev_http_response *resp)
{
    const struct limit_script *ls = s->ctx;
    bool limited = false;
    pthread_mutex_lock(&s->lock);
    if (!ls->only_v0 || vehicle_index(req->path) == 0)
        limited = s->counter[63]++ == 0;
    pthread_mutex_unlock(&s->lock);
    if (limited) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"type\": \"RATE_LIMIT\", \"code\": \"%s\", \"description\": \"slow down\"}",
                 ls->code);
        srv_reply(resp, 429, "retry-after: 1", body);
    } else {
        srv_reply(resp, 200, NULL, BATCH_OK);
    }
}

static void test_retry_after_blocks_the_oem(void **state)
{
    static const struct limit_script ls = { "SMARTCAR_API", false };
    srv_start(&S, script_429_once, (void *)&ls);
    run_init(&R, false);
    /* one request at a time so the block is the only thing between requests */
    run_add(&R, "smartcar", &S, SC_CONFIG(", \"max_in_flight\": 1"));
    add_vehicles(8);
    submit_reads(8, 8);
    run_wait_all(&R, 10000);
    for (int i = 0; i < R.nsub; i++)
        assert_int_equal(R.done[i].cls, D2EV_OEM_OK);
    pthread_mutex_lock(&S.lock);
    assert_int_equal(S.nlog, 9);
    assert_int_equal(S.log[0].status, 429);
    /* nothing reached the server until Retry-After had passed */
    int64_t gap = S.log[1].at_ms - S.log[0].done_ms;
    pthread_mutex_unlock(&S.lock);
    if (gap < 1000)
        fail_msg("next request %lld ms after a Retry-After of 1 s", (long long)gap);
    assert_int_equal(run_stats(&R, "smartcar").rate_limited, 1);
    run_fini(&R);
    srv_stop(&S);
}

/* On a scaled clock the OEM's Retry-After is simulated time (d2ev-oemsim runs
 * on the shared clock): at 10x, "retry-after: 1" blocks 100 ms of real time. */
static void test_retry_after_follows_the_scaled_clock(void **state)
{
    static const struct limit_script ls = { "SMARTCAR_API", false };
    assert_int_equal(d2ev_clock_use_scaled(d2ev_clock_real_ms(), d2ev_clock_real_ms(), 10.0, NULL),
                     0);
    srv_start(&S, script_429_once, (void *)&ls);
    run_init(&R, false);
    run_add(&R, "smartcar", &S, SC_CONFIG(", \"max_in_flight\": 1"));
    add_vehicles(2);
    submit_reads(2, 2);
    run_wait_all(&R, 10000);
    for (int i = 0; i < R.nsub; i++)
        assert_int_equal(R.done[i].cls, D2EV_OEM_OK);
    pthread_mutex_lock(&S.lock);
    assert_int_equal(S.log[0].status, 429);
    int64_t gap = S.log[1].at_ms - S.log[0].done_ms;
    pthread_mutex_unlock(&S.lock);
    d2ev_clock_use_real();
    /* waited the simulated second (100 ms real), not a real second */
    if (gap < 95 || gap >= 1000)
        fail_msg("next request %lld ms after a simulated 1 s Retry-After at 10x", (long long)gap);
    run_fini(&R);
    srv_stop(&S);
}

static bool got_429(struct run *r, void *arg)
{
    return run_stats(r, "smartcar").rate_limited >= 1;
}

static void test_retry_after_vehicle_scope(void **state)
{
    static const struct limit_script ls = { "VEHICLE", true };
    srv_start(&S, script_429_once, (void *)&ls);
    run_init(&R, false);
    run_add(&R, "smartcar", &S, SC_CONFIG(""));
    add_vehicles(4);
    run_read(&R, "smartcar", "v0");
    run_wait(&R, got_429, NULL, 5000);
    /* while v0 is blocked, the other vehicles go ahead; v0's next read waits */
    submit_reads(4, 4);
    run_wait_all(&R, 10000);
    for (int i = 0; i < R.nsub; i++)
        assert_int_equal(R.done[i].cls, D2EV_OEM_OK);
    pthread_mutex_lock(&S.lock);
    assert_int_equal(S.log[0].status, 429);
    int64_t blocked_from = S.log[0].done_ms;
    int others_during_block = 0;
    for (size_t i = 1; i < S.nlog; i++) {
        bool v0 = vehicle_index(S.log[i].path) == 0;
        if (v0 && S.log[i].at_ms - blocked_from < 1000)
            fail_msg("v0 asked again %lld ms into its 1 s block",
                     (long long)(S.log[i].at_ms - blocked_from));
        others_during_block += !v0 && S.log[i].at_ms - blocked_from < 1000;
    }
    pthread_mutex_unlock(&S.lock);
    assert_int_equal(others_during_block, 3);
    run_fini(&R);
    srv_stop(&S);
}

/* ------------------------------------------------------------ breaker */

static void script_flag_broken(struct srv *s, const struct d2ev_http_request *req,
                               struct d2ev_http_response *resp)
{
    pthread_mutex_lock(&s->lock);
    bool broken = s->flag == 0;
    pthread_mutex_unlock(&s->lock);
    if (broken)
        srv_reply(resp, 500, NULL, SC_ERROR("SERVER", "INTERNAL", "down"));
    else
        srv_reply(resp, 200, NULL, BATCH_OK);
}

static bool read_succeeds(struct run *r, void *arg)
{
    int i = run_read(r, "smartcar", "v1");
    d2ev_oem_engine_drain(r->e, 5000);
    return r->done[i].cls == D2EV_OEM_OK;
}

static void test_breaker_opens_and_recovers(void **state)
{
    srv_start(&S, script_flag_broken, NULL);
    run_init(&R, false);
    run_add(&R, "smartcar", &S,
            SC_CONFIG(", \"max_attempts\": 1, \"max_in_flight\": 1, \"breaker\": "
                      "{\"window_ms\": 60000, \"min_requests\": 5, \"failure_ratio\": 0.5, "
                      "\"open_ms\": 300, \"half_open_probes\": 2}"));
    add_vehicles(4);
    submit_reads(20, 4);
    run_wait_all(&R, 10000);
    /* five 500s open the breaker; the other fifteen fail at once, unsent */
    assert_int_equal(srv_count(&S, "/batch"), 5);
    struct d2ev_oem_engine_stats st = run_stats(&R, "smartcar");
    assert_int_equal(st.breaker_opened, 1);
    assert_int_equal(st.breaker, D2EV_BREAKER_OPEN);
    assert_int_equal(st.breaker_rejected, 15);
    for (int i = 0; i < R.nsub; i++)
        assert_int_equal(R.done[i].cls, D2EV_OEM_RETRY);
    if (!strstr(R.done[19].message, "circuit breaker is open"))
        fail_msg("message: %s", R.done[19].message);

    /* the OEM heals; after open_ms a probe gets through and succeeds */
    pthread_mutex_lock(&S.lock);
    S.flag = 1;
    pthread_mutex_unlock(&S.lock);
    run_wait(&R, read_succeeds, NULL, 5000);
    int i = run_read(&R, "smartcar", "v2"); /* the second probe closes it */
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_OK);
    st = run_stats(&R, "smartcar");
    assert_int_equal(st.breaker, D2EV_BREAKER_CLOSED);
    assert_int_equal(st.breaker_opened, 1);
    submit_reads(10, 4);
    run_wait_all(&R, 5000);
    for (int j = R.nsub - 10; j < R.nsub; j++)
        assert_int_equal(R.done[j].cls, D2EV_OEM_OK);
    run_fini(&R);
    srv_stop(&S);
}

/* ------------------------------------------------------------ deadlines, shutdown */

static void test_deadline_bounds_retries(void **state)
{
    srv_start(&S, script_flag_broken, NULL);
    run_init(&R, false);
    run_add(&R, "smartcar", &S,
            "{\"base_url\": \"%s/smartcar\", \"max_attempts\": 50, \"backoff\": {\"base_ms\": "
            "100, \"max_ms\": 100, \"jitter\": 0}, \"breaker\": {\"min_requests\": 100000}}");
    add_vehicles(1);
    int64_t t0 = d2ev_clock_mono_ms();
    int i = run_submit(
        &R, &(struct d2ev_oem_task){
                .oem = "smartcar", .op = D2EV_OEM_OP_READ, .vehicle = "v0", .deadline_ms = 450 });
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_RETRY);
    assert_true(R.done[i].requests >= 2 && R.done[i].requests <= 5);
    assert_true(d2ev_clock_mono_ms() - t0 < 2000);
    assert_int_equal(R.done[i].http_status, 500);
    run_fini(&R);
    srv_stop(&S);
}

static void script_slow(struct srv *s, const struct d2ev_http_request *req,
                        struct d2ev_http_response *resp)
{
    usleep(300 * 1000);
    srv_reply(resp, 200, NULL, BATCH_OK);
}

static bool some_in_flight(struct run *r, void *arg)
{
    return run_stats(r, "smartcar").in_flight > 0;
}

static void test_destroy_completes_everything(void **state)
{
    srv_start(&S, script_slow, NULL);
    run_init(&R, false);
    run_add(&R, "smartcar", &S, SC_CONFIG(", \"rate_limit\": {\"per_second\": 5, \"burst\": 5}"));
    add_vehicles(8);
    submit_reads(50, 8); /* some in flight, most queued behind the bucket */
    run_wait(&R, some_in_flight, NULL, 5000);
    d2ev_oem_engine_destroy(R.e);
    R.e = NULL;
    run_assert_each_once(&R);
    int cancelled = 0;
    for (int i = 0; i < R.nsub; i++)
        cancelled += R.done[i].cls == D2EV_OEM_RETRY && strstr(R.done[i].message, "shut down");
    assert_true(cancelled >= 40);
    for (size_t i = 0; i < R.noems; i++)
        d2ev_oem_unload(R.oems[i]);
    srv_stop(&S);
}

static void test_submit_refusals(void **state)
{
    srv_start(&S, script_ok, NULL);
    run_init(&R, false);
    run_add(&R, "smartcar", &S, SC_CONFIG(""));
    struct d2ev_err err = { 0 };
    struct d2ev_oem_task t = { .oem = "nosuch", .op = D2EV_OEM_OP_READ, .vehicle = "v" };
    assert_int_equal(d2ev_oem_engine_submit(R.e, &t, NULL, NULL, NULL, &err), D2EV_ERR_NOT_FOUND);
    t.oem = "smartcar";
    t.op = D2EV_OEM_OP_WAKE; /* Smartcar has no wake */
    assert_int_equal(d2ev_oem_engine_submit(R.e, &t, NULL, NULL, NULL, &err), D2EV_ERR_UNSUPPORTED);
    t.op = D2EV_OEM_OP_READ;
    t.vehicle = NULL;
    assert_int_equal(d2ev_oem_engine_submit(R.e, &t, NULL, NULL, NULL, &err), D2EV_ERR_INVALID);
    t = (struct d2ev_oem_task){ .oem = "smartcar", .op = D2EV_OEM_OP_EXCHANGE_CODE };
    assert_int_equal(d2ev_oem_engine_submit(R.e, &t, NULL, NULL, NULL, &err), D2EV_ERR_INVALID);
    assert_int_equal(d2ev_oem_engine_pending(R.e), 0);
    /* a vehicle without credentials fails permanent, without a request */
    int i = run_read(&R, "smartcar", "nocreds");
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_PERMANENT);
    assert_int_equal(R.done[i].requests, 0);
    assert_non_null(strstr(R.done[i].message, "no credentials"));
    run_fini(&R);
    srv_stop(&S);
}

static void *wake_engine(void *arg)
{
    d2ev_oem_engine_wakeup(arg);
    return NULL;
}

static void test_wakeup_from_another_thread(void **state)
{
    run_init(&R, false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wake_engine, R.e), 0);
    pthread_join(t, NULL);
    /* the wake-up is remembered: an idle poll with a long timeout returns at once */
    int64_t t0 = d2ev_clock_mono_ms();
    assert_int_equal(d2ev_oem_engine_poll(R.e, 5000), 0);
    assert_true(d2ev_clock_mono_ms() - t0 < 2500);
    run_fini(&R);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_complete_once),
        cmocka_unit_test(test_5xx_storm_retries),
        cmocka_unit_test(test_chaos_nothing_lost),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_rate_limit_never_exceeded),
        cmocka_unit_test(test_retry_after_blocks_the_oem),
        cmocka_unit_test(test_retry_after_follows_the_scaled_clock),
        cmocka_unit_test(test_retry_after_vehicle_scope),
        cmocka_unit_test(test_breaker_opens_and_recovers),
        cmocka_unit_test(test_deadline_bounds_retries),
        cmocka_unit_test(test_destroy_completes_everything),
        cmocka_unit_test(test_submit_refusals),
        cmocka_unit_test(test_wakeup_from_another_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
