/* test_engine_tokens.c: the OEM engine's token refresh (single flight, rotating refresh
 * tokens, failures, reader-mode sources), Tesla's wake flow and Enode's asynchronous
 * actions, against a scripted server with the real adapters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "engine_fixture.h"

static struct run R;
static struct srv S;

#define BATCH_OK                                                                                   \
    "{\"responses\": [{\"path\": \"/battery\", \"code\": 200, \"headers\": {}, \"body\": "         \
    "{\"percentRemaining\": 0.5}}, {\"path\": \"/charge\", \"code\": 200, \"headers\": {}, "       \
    "\"body\": {\"isPluggedIn\": true, \"state\": \"NOT_CHARGING\"}}]}"

/* ------------------------------------------------------------ a rotating OAuth server */

/* Vehicle vN's valid tokens are acc-vN-<gen> and rt-vN-<gen>. A refresh with
 * the current refresh token moves gen on; the old one is dead at once. */
struct oauth {
    int gen[64];
    bool expired[64];    /* the API refuses even the current access token */
    bool always_401[64]; /* the API refuses everything for this vehicle */
    int refreshes[64];
    int reuse; /* refreshes with a spent or unknown refresh token */
};

static struct oauth O;

/* The vehicle number in ".../vehicles/v7/...", "rt-v7-0" or "act-v7". */
static int vnum(const char *s)
{
    const char *p = strstr(s, "vehicles/v");
    if (p)
        return atoi(p + 10) % 64;
    p = strstr(s, "-v");
    return p ? atoi(p + 2) % 64 : 0;
}

static void smartcar_oauth_script(struct srv *s, const struct d2ev_http_request *req,
                                  struct d2ev_http_response *resp)
{
    pthread_mutex_lock(&s->lock);
    if (strstr(req->path, "/oauth/token")) {
        const char *rt = strstr(req->body, "&refresh_token=");
        const char *code = strstr(req->body, "&code=");
        char body[256];
        if (code) {
            srv_reply(resp, 200, NULL,
                      "{\"access_token\": \"acc-from-code\", \"token_type\": \"Bearer\", "
                      "\"expires_in\": 7200, \"refresh_token\": \"rt-from-code\", "
                      "\"refresh_expires_in\": 5184000}");
        } else if (!rt) {
            srv_reply(resp, 400, NULL, "{\"error\": \"invalid_request\"}");
        } else {
            int v = vnum(rt);
            char want[32];
            snprintf(want, sizeof(want), "rt-v%d-%d", v, O.gen[v]);
            if (strcmp(rt + 15, want) != 0) {
                O.reuse++;
                srv_reply(resp, 400, NULL, "{\"error\": \"invalid_grant\"}");
            } else {
                O.gen[v]++;
                O.refreshes[v]++;
                O.expired[v] = false;
                snprintf(body, sizeof(body),
                         "{\"access_token\": \"acc-v%d-%d\", \"token_type\": \"Bearer\", "
                         "\"expires_in\": 7200, \"refresh_token\": \"rt-v%d-%d\", "
                         "\"refresh_expires_in\": 5184000}",
                         v, O.gen[v], v, O.gen[v]);
                srv_reply(resp, 200, NULL, body);
            }
        }
    } else {
        int v = vnum(req->path);
        const char *auth = d2ev_http_header(req, "Authorization");
        char want[48];
        snprintf(want, sizeof(want), "Bearer acc-v%d-%d", v, O.gen[v]);
        if (!auth || strcmp(auth, want) != 0 || O.expired[v] || O.always_401[v])
            srv_reply(resp, 401, NULL,
                      "{\"type\": \"AUTHENTICATION\", \"code\": null, \"description\": "
                      "\"The provided token is either invalid or expired.\"}");
        else
            srv_reply(resp, 200, NULL, BATCH_OK);
    }
    pthread_mutex_unlock(&s->lock);
}

#define SC_CONFIG                                                                                  \
    "{\"base_url\": \"%s/smartcar\", \"token_url\": \"%s/smartcar/oauth/token\", "                 \
    "\"client_id\": \"cid\", \"rate_limit\": {\"per_second\": 100000}, \"backoff\": "              \
    "{\"base_ms\": 5, \"max_ms\": 20}}"

static void sc_setup(bool reader)
{
    memset(&O, 0, sizeof(O));
    srv_start(&S, smartcar_oauth_script, NULL);
    run_init(&R, reader);
    run_add(&R, "smartcar", &S, SC_CONFIG);
}

static void sc_teardown(void)
{
    run_fini(&R);
    srv_stop(&S);
}

/* Vehicle vN holds a stale access token and the current refresh token. */
static void stale(int v)
{
    char key[16], rt[32];
    snprintf(key, sizeof(key), "v%d", v);
    snprintf(rt, sizeof(rt), "rt-v%d-%d", v, O.gen[v]);
    tokens_set(&R.tokens, key, "stale", rt, 0);
}

static void reads(int vehicles, int per_vehicle)
{
    char v[16];
    for (int k = 0; k < per_vehicle; k++) {
        for (int i = 0; i < vehicles; i++) {
            snprintf(v, sizeof(v), "v%d", i);
            run_read(&R, "smartcar", v);
        }
    }
}

static void assert_all(int from, uint32_t cls)
{
    for (int i = from; i < R.nsub; i++) {
        if (R.done[i].cls != cls)
            fail_msg("op %d: %s (%s), want %s", i, d2ev_oem_class_name(R.done[i].cls),
                     R.done[i].message, d2ev_oem_class_name(cls));
    }
}

static void test_concurrent_401_one_refresh_per_vehicle(void **state)
{
    sc_setup(false);
    for (int v = 0; v < 5; v++)
        stale(v);
    reads(5, 20); /* 100 reads in flight at once, all get 401 */
    run_wait_all(&R, 10000);
    assert_all(0, D2EV_OEM_OK);
    for (int v = 0; v < 5; v++)
        assert_int_equal(O.refreshes[v], 1);
    assert_int_equal(O.reuse, 0);
    assert_int_equal(srv_count(&S, "/oauth/token"), 5);
    assert_int_equal(R.tokens.stores, 5);
    assert_string_equal(tokens_find(&R.tokens, "v3")->refresh, "rt-v3-1");
    assert_string_equal(tokens_find(&R.tokens, "v3")->access, "acc-v3-1");

    /* the access tokens expire again: the second refresh spends the ROTATED
     * refresh token, never the first one */
    pthread_mutex_lock(&S.lock);
    for (int v = 0; v < 5; v++)
        O.expired[v] = true;
    pthread_mutex_unlock(&S.lock);
    int from = R.nsub;
    reads(5, 10);
    run_wait_all(&R, 10000);
    assert_all(from, D2EV_OEM_OK);
    for (int v = 0; v < 5; v++)
        assert_int_equal(O.refreshes[v], 2);
    assert_int_equal(O.reuse, 0);
    assert_string_equal(tokens_find(&R.tokens, "v0")->refresh, "rt-v0-2");
    assert_int_equal(run_stats(&R, "smartcar").refreshes, 10);
    sc_teardown();
}

static void test_failed_refresh_is_permanent(void **state)
{
    sc_setup(false);
    tokens_set(&R.tokens, "v9", "stale", "rt-v9-spent", 0);
    reads(10, 1); /* v0..v8 have no credentials at all */
    char v[4] = "v9";
    int first = R.nsub;
    for (int i = 0; i < 10; i++)
        run_read(&R, "smartcar", v);
    run_wait_all(&R, 10000);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(R.done[i].cls, D2EV_OEM_PERMANENT);
        assert_non_null(strstr(R.done[i].message, "no credentials"));
    }
    for (int i = first - 1; i < R.nsub; i++) {
        assert_int_equal(R.done[i].cls, D2EV_OEM_PERMANENT);
        assert_non_null(strstr(R.done[i].message, "refresh failed"));
    }
    assert_int_equal(srv_count(&S, "/oauth/token"), 1); /* one refresh, failed */

    /* later 401s with the same dead refresh token: permanent, no new refresh */
    int i = run_read(&R, "smartcar", "v9");
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_PERMANENT);
    assert_int_equal(srv_count(&S, "/oauth/token"), 1);

    /* the driver re-links: new credentials clear the failure */
    tokens_set(&R.tokens, "v9", "stale", "rt-v9-0", 0);
    d2ev_oem_engine_tokens_changed(R.e, "smartcar", "v9");
    i = run_read(&R, "smartcar", "v9");
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_OK);
    assert_int_equal(srv_count(&S, "/oauth/token"), 2);
    sc_teardown();
}

static void test_unauthorized_after_refresh_is_permanent(void **state)
{
    sc_setup(false);
    O.always_401[4] = true;
    stale(4);
    int i = run_read(&R, "smartcar", "v4");
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_PERMANENT);
    assert_non_null(strstr(R.done[i].message, "still unauthorized after a token refresh"));
    assert_int_equal(R.done[i].requests, 2); /* the request, once more after the refresh */
    assert_int_equal(O.refreshes[4], 1);
    sc_teardown();
}

static void test_refresh_before_expiry(void **state)
{
    sc_setup(false);
    /* valid, but expiring within the 60 s margin: refreshed before use */
    tokens_set(&R.tokens, "v7", "acc-v7-0", "rt-v7-0", d2ev_clock_now_ms() + 10000);
    int i = run_read(&R, "smartcar", "v7");
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_OK);
    assert_int_equal(R.done[i].requests, 1);
    assert_int_equal(O.refreshes[7], 1);
    pthread_mutex_lock(&S.lock);
    for (size_t k = 0; k < S.nlog; k++)
        assert_null(strstr(S.log[k].auth, "acc-v7-0")); /* the old token never went out */
    pthread_mutex_unlock(&S.lock);
    struct tok_entry *t = tokens_find(&R.tokens, "v7");
    assert_true(t->expires_at_ms > d2ev_clock_now_ms() + 7000 * 1000LL - 60000);
    sc_teardown();
}

static void test_refresh_and_exchange_operations(void **state)
{
    sc_setup(false);
    stale(2);
    int i = run_submit(
        &R, &(struct d2ev_oem_task){ .oem = "smartcar", .op = D2EV_OEM_OP_REFRESH, .key = "v2" });
    int j = run_submit(&R, &(struct d2ev_oem_task){ .oem = "smartcar",
                                                    .op = D2EV_OEM_OP_EXCHANGE_CODE,
                                                    .code = "c0de",
                                                    .redirect_uri = "https://app/cb" });
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_OK);
    assert_string_equal(R.done[i].access, "acc-v2-1");
    assert_string_equal(R.done[i].refresh, "rt-v2-1");
    assert_int_equal(R.tokens.stores, 1);
    assert_int_equal(R.done[j].cls, D2EV_OEM_OK);
    assert_string_equal(R.done[j].access, "acc-from-code");
    assert_string_equal(R.done[j].refresh, "rt-from-code");
    assert_int_equal(R.tokens.stores, 1); /* the caller stores exchanged tokens itself */
    sc_teardown();
}

static bool refresh_requested(struct run *r, void *arg)
{
    return r->tokens.refresh_requests >= 1;
}

static void test_reader_source_refreshes_elsewhere(void **state)
{
    sc_setup(true);
    stale(0);
    reads(1, 10);
    run_wait(&R, refresh_requested, NULL, 5000);
    d2ev_oem_engine_poll(R.e, 50);
    assert_int_equal(R.tokens.refresh_requests, 1); /* once for ten 401s */
    assert_string_equal(R.tokens.last_requested, "v0");
    assert_int_equal(d2ev_oem_engine_pending(R.e), 10); /* waiting, not failed */
    /* the registration service refreshed; new credentials arrive */
    pthread_mutex_lock(&S.lock);
    O.gen[0] = 5;
    pthread_mutex_unlock(&S.lock);
    tokens_set(&R.tokens, "v0", "acc-v0-5", "rt-v0-5", 0);
    d2ev_oem_engine_tokens_changed(R.e, "smartcar", "v0");
    run_wait_all(&R, 5000);
    assert_all(0, D2EV_OEM_OK);
    assert_int_equal(srv_count(&S, "/oauth/token"), 0); /* a reader never refreshes itself */

    /* the source reports a failed refresh: waiting operations fail permanent */
    stale(1);
    int from = R.nsub;
    run_read(&R, "smartcar", "v1");
    run_read(&R, "smartcar", "v1");
    while (R.tokens.refresh_requests < 2)
        d2ev_oem_engine_poll(R.e, 20);
    d2ev_oem_engine_refresh_failed(R.e, "smartcar", "v1", D2EV_OEM_UNAUTHORIZED, "consent revoked");
    run_wait_all(&R, 5000);
    assert_all(from, D2EV_OEM_PERMANENT);
    assert_non_null(strstr(R.done[from].message, "consent revoked"));
    sc_teardown();
}

static void test_reader_refresh_times_out(void **state)
{
    memset(&O, 0, sizeof(O));
    srv_start(&S, smartcar_oauth_script, NULL);
    run_init(&R, true);
    run_add(&R, "smartcar", &S,
            "{\"base_url\": \"%s/smartcar\", \"token_url\": \"%s/smartcar/oauth/token\", "
            "\"refresh_wait_ms\": 200}");
    stale(3);
    int i = run_read(&R, "smartcar", "v3");
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_RETRY);
    assert_non_null(strstr(R.done[i].message, "did not refresh within 200 ms"));
    sc_teardown();
}

/* ------------------------------------------------------------ Tesla: wake */

/* Per vehicle: 0 asleep, >0 polls left until online, -1 online. */
static int T[64];
static int T_never_wakes;
static int T_typed_commands; /* commands that arrived with a Content-Type */

static void tesla_script(struct srv *s, const struct d2ev_http_request *req,
                         struct d2ev_http_response *resp)
{
    pthread_mutex_lock(&s->lock);
    int v = vnum(req->path);
    const char *p = req->path;
    char body[512];
    const char *asleep = "{\"response\": null, \"error\": \"vehicle unavailable: vehicle is "
                         "offline or asleep\", \"error_description\": \"\"}";
    if (strstr(p, "/wake_up")) {
        if (T[v] == 0 && !T_never_wakes)
            T[v] = 2;
        srv_reply(resp, 200, NULL, "{\"response\": {\"id\": 1, \"state\": \"asleep\"}}");
    } else if (strstr(p, "/vehicle_data")) {
        if (T[v] >= 0)
            srv_reply(resp, 408, NULL, asleep);
        else
            srv_reply(resp, 200, NULL,
                      "{\"response\": {\"id\": 1, \"state\": \"online\", \"charge_state\": "
                      "{\"battery_level\": 61, \"battery_range\": 150, \"charging_state\": "
                      "\"Stopped\", \"charger_power\": 0, \"charge_limit_soc\": 80, "
                      "\"timestamp\": 1795246193000}}}");
    } else if (strstr(p, "/command/")) {
        T_typed_commands += d2ev_http_header(req, "Content-Type") != NULL;
        if (T[v] >= 0)
            srv_reply(resp, 408, NULL, asleep);
        else
            srv_reply(resp, 200, NULL, "{\"response\": {\"result\": true, \"reason\": \"\"}}");
    } else {
        /* GET /api/1/vehicles/{id}: never wakes the car */
        if (T[v] > 0 && --T[v] == 0)
            T[v] = -1;
        snprintf(body, sizeof(body), "{\"response\": {\"id\": 1, \"state\": \"%s\"}}",
                 T[v] < 0 ? "online" : "asleep");
        srv_reply(resp, 200, NULL, body);
    }
    pthread_mutex_unlock(&s->lock);
}

static void tesla_setup(void)
{
    memset(T, 0, sizeof(T));
    T_never_wakes = 0;
    T_typed_commands = 0;
    srv_start(&S, tesla_script, NULL);
    run_init(&R, false);
    run_add(&R, "tesla", &S,
            "{\"base_url\": \"%s/tesla\", \"token_url\": \"%s/tesla/oauth2/v3/token\", "
            "\"client_id\": \"tid\", \"wake_poll_ms\": 20, \"wake_timeout_ms\": 400, "
            "\"vehicle_rate_limit\": null}");
    char key[8];
    for (int v = 0; v < 8; v++) {
        snprintf(key, sizeof(key), "v%d", v);
        tokens_set(&R.tokens, key, "tesla-access", "tesla-refresh", 0);
    }
}

static int tesla_op(uint32_t op, const char *vehicle, bool no_wake)
{
    return run_submit(&R, &(struct d2ev_oem_task){
                              .oem = "tesla", .op = op, .vehicle = vehicle, .no_wake = no_wake });
}

static void test_tesla_reads_never_wake(void **state)
{
    tesla_setup();
    int i = tesla_op(D2EV_OEM_OP_READ, "v1", false);
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_ASLEEP);
    assert_int_equal(R.done[i].requests, 1);
    assert_int_equal(srv_count(&S, "/wake_up"), 0);
    /* a command without permission to wake reports asleep too */
    i = tesla_op(D2EV_OEM_OP_START, "v1", true);
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_ASLEEP);
    assert_int_equal(srv_count(&S, "/wake_up"), 0);
    run_fini(&R);
    srv_stop(&S);
}

static void test_tesla_command_wakes_then_retries(void **state)
{
    tesla_setup();
    int i = tesla_op(D2EV_OEM_OP_START, "v2", false);
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_OK);
    assert_true(R.done[i].woke);
    assert_int_equal(R.done[i].command, D2EV_OEM_CMD_CONFIRMED);
    assert_int_equal(srv_count(&S, "/wake_up"), 1);
    assert_int_equal(srv_count(&S, "/command/charge_start"), 2); /* 408, then after the wake */
    /* the flow polled the vehicle (which never wakes it) until online */
    assert_int_equal(R.done[i].requests, 5); /* start, wake_up, 2 polls, start */
    assert_int_equal(run_stats(&R, "tesla").wakes, 1);
    assert_int_equal(T_typed_commands, 0); /* bodiless POSTs carry no form Content-Type */
    /* now awake: a read works */
    i = tesla_op(D2EV_OEM_OP_READ, "v2", false);
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_OK);
    assert_float_equal(R.done[i].soc, 61, 1e-9);
    run_fini(&R);
    srv_stop(&S);
}

static void test_tesla_wake_gives_up(void **state)
{
    tesla_setup();
    T_never_wakes = 1;
    int i = tesla_op(D2EV_OEM_OP_STOP, "v3", false);
    int j = tesla_op(D2EV_OEM_OP_WAKE, "v4", false);
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[i].cls, D2EV_OEM_ASLEEP);
    assert_non_null(strstr(R.done[i].message, "still asleep"));
    assert_int_equal(R.done[j].cls, D2EV_OEM_ASLEEP);
    assert_int_equal(srv_count(&S, "/command/charge_stop"), 1); /* not retried after giving up */
    run_fini(&R);
    srv_stop(&S);
}

/* ------------------------------------------------------------ Enode: app token, actions */

static int E_token_gen;
static int E_polls[64];

static void enode_script(struct srv *s, const struct d2ev_http_request *req,
                         struct d2ev_http_response *resp)
{
    pthread_mutex_lock(&s->lock);
    char body[512], want[64];
    snprintf(want, sizeof(want), "Bearer app-%d", E_token_gen);
    const char *auth = d2ev_http_header(req, "Authorization");
    if (strstr(req->path, "/oauth2/token")) {
        bool basic =
            auth && !strcmp(auth, "Basic ZWlkOmNsaWVudC1zZWNyZXQ="); /* eid:client-secret */
        if (!basic || strcmp(req->body, "grant_type=client_credentials") != 0) {
            srv_reply(resp, 401, NULL, "{\"error\": \"invalid_client\"}");
        } else {
            E_token_gen++;
            snprintf(body, sizeof(body),
                     "{\"access_token\": \"app-%d\", \"expires_in\": 3600, \"token_type\": "
                     "\"bearer\", \"scope\": \"\"}",
                     E_token_gen);
            srv_reply(resp, 200, NULL, body);
        }
    } else if (!auth || strcmp(auth, want) != 0 || E_token_gen == 0) {
        srv_reply(resp, 401, NULL,
                  "{\"type\": \"https://developers.enode.io/api/problems/unauthorized\", "
                  "\"title\": \"Unauthorized\", \"detail\": \"Token expired.\"}");
    } else if (strstr(req->path, "/actions/")) {
        int v = vnum(req->path);
        bool fail = strstr(req->path, "act-v9") != NULL;
        const char *st = ++E_polls[v] < 2 ? "PENDING" : fail ? "FAILED" : "CONFIRMED";
        snprintf(body, sizeof(body),
                 "{\"id\": \"act-v%d\", \"state\": \"%s\", \"kind\": \"START\", "
                 "\"failureReason\": %s}",
                 v, st, fail && E_polls[v] >= 2 ? "\"vehicle unreachable\"" : "null");
        srv_reply(resp, 200, NULL, body);
    } else if (strstr(req->path, "/charging")) {
        snprintf(body, sizeof(body), "{\"id\": \"act-v%d\", \"state\": \"PENDING\"}",
                 vnum(req->path));
        srv_reply(resp, 200, NULL, body);
    } else {
        srv_reply(resp, 200, NULL,
                  "{\"id\": \"x\", \"isReachable\": true, \"chargeState\": {\"batteryLevel\": 44, "
                  "\"isPluggedIn\": false, \"isCharging\": false}}");
    }
    pthread_mutex_unlock(&s->lock);
}

static void enode_setup(int token_gen)
{
    E_token_gen = token_gen;
    memset(E_polls, 0, sizeof(E_polls));
    srv_start(&S, enode_script, NULL);
    run_init(&R, false);
    run_add(&R, "enode", &S,
            "{\"base_url\": \"%s/enode\", \"token_url\": \"%s/enode/oauth2/token\", "
            "\"client_id\": \"eid\", \"action_poll_ms\": 20}");
}

static void test_enode_app_token_single_flight(void **state)
{
    enode_setup(0);
    char v[8];
    for (int i = 0; i < 30; i++) { /* no token yet: one client-credentials fetch for all */
        snprintf(v, sizeof(v), "v%d", i % 10);
        run_read(&R, "enode", v);
    }
    run_wait_all(&R, 5000);
    assert_all(0, D2EV_OEM_OK);
    assert_int_equal(srv_count(&S, "/oauth2/token"), 1);
    assert_int_equal(R.tokens.stores, 1);
    assert_string_equal(tokens_find(&R.tokens, "")->access, "app-1");

    /* the app token is rotated server-side: one refresh serves every vehicle */
    pthread_mutex_lock(&S.lock);
    E_token_gen = 7;
    pthread_mutex_unlock(&S.lock);
    int from = R.nsub;
    for (int i = 0; i < 20; i++) {
        snprintf(v, sizeof(v), "v%d", i % 10);
        run_read(&R, "enode", v);
    }
    run_wait_all(&R, 5000);
    assert_all(from, D2EV_OEM_OK);
    assert_int_equal(srv_count(&S, "/oauth2/token"), 2);
    run_fini(&R);
    srv_stop(&S);
}

static void test_enode_actions(void **state)
{
    enode_setup(1);
    tokens_set(&R.tokens, "", "app-1", NULL, 0);
    int ok = run_submit(
        &R, &(struct d2ev_oem_task){ .oem = "enode", .op = D2EV_OEM_OP_START, .vehicle = "v1" });
    int bad = run_submit(
        &R, &(struct d2ev_oem_task){ .oem = "enode", .op = D2EV_OEM_OP_STOP, .vehicle = "v9" });
    run_wait_all(&R, 5000);
    assert_int_equal(R.done[ok].cls, D2EV_OEM_OK);
    assert_int_equal(R.done[ok].command, D2EV_OEM_CMD_CONFIRMED);
    assert_int_equal(R.done[ok].requests, 3); /* create, PENDING, CONFIRMED */
    assert_int_equal(R.done[bad].cls, D2EV_OEM_RETRY);
    assert_non_null(strstr(R.done[bad].message, "FAILED: vehicle unreachable"));
    assert_int_equal(R.done[bad].requests, 3); /* the verdict is not retried */
    assert_int_equal(srv_count(&S, "/charging"), 2);
    run_fini(&R);
    srv_stop(&S);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_401_one_refresh_per_vehicle),
        cmocka_unit_test(test_failed_refresh_is_permanent),
        cmocka_unit_test(test_unauthorized_after_refresh_is_permanent),
        cmocka_unit_test(test_refresh_before_expiry),
        cmocka_unit_test(test_refresh_and_exchange_operations),
        cmocka_unit_test(test_reader_source_refreshes_elsewhere),
        cmocka_unit_test(test_reader_refresh_times_out),
        cmocka_unit_test(test_tesla_reads_never_wake),
        cmocka_unit_test(test_tesla_command_wakes_then_retries),
        cmocka_unit_test(test_tesla_wake_gives_up),
        cmocka_unit_test(test_enode_app_token_single_flight),
        cmocka_unit_test(test_enode_actions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
