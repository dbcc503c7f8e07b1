/*
 * Smartcar v2.0 as docs/oem-apis.md pins it down, against an in-process
 * simulator on the manual clock: bodies byte for byte, errors, tokens,
 * sleep, commands and faults.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/util.h"
#include "simtest.h"

#define BASIC      "Authorization: Basic c2ltLXNtYXJ0Y2FyLWNsaWVudDpzaW0tc21hcnRjYXItc2VjcmV0"
#define DATA_AGE   "2026-11-21T07:29:58.000Z"
#define TOKEN_KEYS "access_token,token_type,expires_in,refresh_token,refresh_expires_in"
#define ERROR_KEYS                                                                                 \
    "type,code,description,docURL,statusCode,requestId,resolution,suggestedUserMessage"
#define REDIRECT "redirect_uri=http%%3A%%2F%%2F127.0.0.1%%3A8080%%2Foauth%%2Fcallback"

struct fx {
    struct simtest t;
    char id[40];
    char access[72], refresh[72];
    char auth[96];
};

static int setup_with(void **state, const char *const *flags)
{
    struct fx *f = calloc(1, sizeof(*f));
    simtest_start(&f->t, flags);
    simtest_vehicle(&f->t, "smartcar", 0, f->id);
    simtest_link(&f->t, "smartcar", f->id, f->access, f->refresh);
    simtest_bearer(f->access, f->auth);
    /* awake, plugged in and charging at 54 % towards 80 % */
    simtest_set(&f->t, f->id, "{\"soc\": 54, \"limit\": 80, \"plugged\": true, \"asleep\": false}");
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, NULL);
}

static int setup_delayed(void **state)
{
    const char *flags[] = { "--sim-command-delay-s=60", NULL };
    return setup_with(state, flags);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    simtest_stop(&f->t);
    free(f);
    return 0;
}

/* GET/POST path under /smartcar/v2.0/vehicles/<id> with the bearer token. */
static void api(struct fx *f, struct simresp *r, const char *method, const char *sub,
                const char *body)
{
    const char *h[] = { f->auth, NULL };
    simtest_http(&f->t, r, method, simtest_fmt("/smartcar/v2.0/vehicles/%s%s", f->id, sub), h,
                 body);
}

static void assert_sc_error(const struct simresp *r, long status, const char *type,
                            const char *code)
{
    if (r->status != status)
        fail_msg("want %ld, got %ld: %s", status, r->status, r->body);
    simtest_assert_keys(r->json, ERROR_KEYS);
    assert_string_equal(json_string_value(json_object_get(r->json, "type")), type);
    json_t *c = json_object_get(r->json, "code");
    if (code)
        assert_string_equal(json_string_value(c), code);
    else
        assert_true(json_is_null(c));
    assert_int_equal(json_integer_value(json_object_get(r->json, "statusCode")), status);
    assert_true(d2ev_uuid_valid(json_string_value(json_object_get(r->json, "requestId"))));
    assert_non_null(strstr(json_string_value(json_object_get(r->json, "docURL")),
                           "https://smartcar.com/docs/errors/api-errors/"));
    simtest_assert_keys(json_object_get(r->json, "resolution"), "type");
}

static void expect_status(struct fx *f, const char *method, const char *sub, const char *body,
                          long status)
{
    struct simresp r;
    api(f, &r, method, sub, body);
    if (r.status != status)
        fail_msg("%s %s: want %ld, got %ld: %s", method, sub, status, r.status, r.body);
    simresp_free(&r);
}

static void expect_error(struct fx *f, const char *method, const char *sub, const char *body,
                         long status, const char *type, const char *code)
{
    struct simresp r;
    api(f, &r, method, sub, body);
    assert_sc_error(&r, status, type, code);
    simresp_free(&r);
}

static void token(struct fx *f, struct simresp *r, const char *auth, const char *body)
{
    const char *h[] = { auth, NULL };
    simtest_http(&f->t, r, "POST", "/smartcar/oauth/token", h, body);
}

static void test_token_exchange(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    json_t *a = simtest_post(&f->t, simtest_fmt("/_sim/vehicles/%s/authorize", f->id), NULL, 200);
    simtest_assert_keys(a, "code,oem,oem_vehicle_id,redirect_uri,expires_in");
    assert_string_equal(json_string_value(json_object_get(a, "oem")), "smartcar");
    assert_string_equal(json_string_value(json_object_get(a, "oem_vehicle_id")), f->id);
    char code[80];
    snprintf(code, sizeof(code), "%s", json_string_value(json_object_get(a, "code")));
    json_decref(a);

    /* wrong client secret: Basic sim-smartcar-client:nope */
    token(f, &r, "Authorization: Basic c2ltLXNtYXJ0Y2FyLWNsaWVudDpub3Bl",
          simtest_fmt("grant_type=authorization_code&code=%s&" REDIRECT, code));
    assert_int_equal(r.status, 401);
    assert_string_equal(r.body, "{\"error\":\"invalid_client\",\"error_description\":\"Client "
                                "authentication failed.\"}");
    simresp_free(&r);
    token(f, &r, BASIC, "code=x");
    assert_int_equal(r.status, 400);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "invalid_request");
    simresp_free(&r);
    token(f, &r, BASIC, "grant_type=client_credentials");
    assert_int_equal(r.status, 400);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")),
                        "unsupported_grant_type");
    simresp_free(&r);
    token(f, &r, BASIC,
          simtest_fmt("grant_type=authorization_code&code=%s&redirect_uri=https://evil", code));
    assert_int_equal(r.status, 400);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "invalid_grant");
    simresp_free(&r);

    token(f, &r, BASIC, simtest_fmt("grant_type=authorization_code&code=%s&" REDIRECT, code));
    assert_int_equal(r.status, 200);
    simtest_assert_keys(r.json, TOKEN_KEYS);
    assert_string_equal(json_string_value(json_object_get(r.json, "token_type")), "Bearer");
    assert_int_equal(json_integer_value(json_object_get(r.json, "expires_in")), 7200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "refresh_expires_in")), 5184000);
    char hdr[64];
    assert_true(simresp_header(&r, "Cache-Control", hdr, sizeof(hdr)));
    assert_string_equal(hdr, "no-store");
    simresp_free(&r);

    /* a code works once */
    token(f, &r, BASIC, simtest_fmt("grant_type=authorization_code&code=%s&" REDIRECT, code));
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"error\":\"invalid_grant\",\"error_description\":\"The "
                                "authorization code has already been used.\"}");
    simresp_free(&r);

    /* and expires after 10 simulated minutes */
    a = simtest_post(&f->t, simtest_fmt("/_sim/vehicles/%s/authorize", f->id), NULL, 200);
    snprintf(code, sizeof(code), "%s", json_string_value(json_object_get(a, "code")));
    json_decref(a);
    simtest_advance(600 * 1000);
    token(f, &r, BASIC, simtest_fmt("grant_type=authorization_code&code=%s&" REDIRECT, code));
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "expired"));
    simresp_free(&r);
}

static void test_reads_match_the_docs(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    json_t *truth = simtest_truth(&f->t, f->id);
    double cap = json_number_value(json_object_get(truth, "capacity_kwh"));
    double wh = json_number_value(json_object_get(truth, "consumption_wh_per_km"));
    json_decref(truth);
    char range[32], capacity[32], age[40];
    simtest_real(simtest_round(0.54 * cap * 1000 / wh, 1), range);
    simtest_real(simtest_round(cap, 1), capacity);

    api(f, &r, "GET", "/battery", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, simtest_fmt("{\"percentRemaining\":0.54,\"range\":%s}", range));
    assert_true(simresp_header(&r, "sc-data-age", age, sizeof(age)));
    assert_string_equal(age, DATA_AGE);
    simresp_free(&r);

    api(f, &r, "GET", "/battery/capacity", NULL);
    assert_string_equal(r.body, simtest_fmt("{\"capacity\":%s}", capacity));
    simresp_free(&r);
    api(f, &r, "GET", "/charge", NULL);
    assert_string_equal(r.body, "{\"isPluggedIn\":true,\"state\":\"CHARGING\"}");
    simresp_free(&r);
    api(f, &r, "GET", "/charge/limit", NULL);
    assert_string_equal(r.body, "{\"limit\":0.8}");
    simresp_free(&r);

    api(f, &r, "POST", "/batch",
        "{\"requests\": [{\"path\": \"/battery\"}, {\"path\": \"/charge\"}, "
        "{\"path\": \"/charge/limit\"}, {\"path\": \"/odometer\"}]}");
    assert_int_equal(r.status, 200);
    json_t *list = json_object_get(r.json, "responses");
    assert_int_equal(json_array_size(list), 4);
    json_t *three = json_pack("[O, O, O]", json_array_get(list, 0), json_array_get(list, 1),
                              json_array_get(list, 2));
    char *first3 = json_dumps(three, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(three);
    assert_string_equal(
        first3,
        simtest_fmt("[{\"path\":\"/battery\",\"code\":200,\"headers\":{\"sc-data-age\":\"" DATA_AGE
                    "\"},\"body\":{\"percentRemaining\":0.54,\"range\":%s}},{\"path\":\"/"
                    "charge\",\"code\":200,\"headers\":{\"sc-data-age\":\"" DATA_AGE
                    "\"},\"body\":{\"isPluggedIn\":true,\"state\":\"CHARGING\"}},{\"path\":\"/"
                    "charge/limit\",\"code\":200,\"headers\":{\"sc-data-age\":\"" DATA_AGE
                    "\"},\"body\":{\"limit\":0.8}}]",
                    range));
    free(first3);
    json_t *missing = json_array_get(list, 3);
    assert_int_equal(json_integer_value(json_object_get(missing, "code")), 404);
    simtest_assert_keys(json_object_get(missing, "body"), ERROR_KEYS);
    simresp_free(&r);

    /* the token's vehicle list */
    const char *h[] = { f->auth, NULL };
    simtest_http(&f->t, &r, "GET", "/smartcar/v2.0/vehicles", h, NULL);
    assert_string_equal(r.body, simtest_fmt("{\"vehicles\":[\"%s\"],\"paging\":{\"count\":1,"
                                            "\"offset\":0}}",
                                            f->id));
    simresp_free(&r);
    simtest_set(&f->t, f->id, "{\"revoked\": true}");
    simtest_http(&f->t, &r, "GET", "/smartcar/v2.0/vehicles", h, NULL);
    assert_string_equal(r.body, "{\"vehicles\":[],\"paging\":{\"count\":0,\"offset\":0}}");
    simresp_free(&r);
    simtest_set(&f->t, f->id, "{\"revoked\": false}");
    char access[72], refresh[72];
    simtest_link(&f->t, "smartcar", f->id, access, refresh);
    simtest_bearer(access, f->auth);

    /* the other charge states */
    simtest_set(&f->t, f->id, "{\"charging_paused\": true}");
    api(f, &r, "GET", "/charge", NULL);
    assert_string_equal(r.body, "{\"isPluggedIn\":true,\"state\":\"NOT_CHARGING\"}");
    simresp_free(&r);
    simtest_set(&f->t, f->id, "{\"charging_paused\": false, \"soc\": 80}");
    api(f, &r, "GET", "/charge", NULL);
    assert_string_equal(r.body, "{\"isPluggedIn\":true,\"state\":\"FULLY_CHARGED\"}");
    simresp_free(&r);
    simtest_set(&f->t, f->id, "{\"plugged\": false}");
    api(f, &r, "GET", "/charge", NULL);
    assert_string_equal(r.body, "{\"isPluggedIn\":false,\"state\":\"NOT_CHARGING\"}");
    simresp_free(&r);

    /* SoC follows the physics on the clock: 30 simulated minutes later */
    simtest_set(&f->t, f->id, "{\"soc\": 50, \"plugged\": true}");
    double kw = simtest_truth_num(&f->t, f->id, "max_power_kw");
    simtest_advance(30 * 60 * 1000);
    double want = 0.5 + kw * 0.5 / cap;
    api(f, &r, "GET", "/battery", NULL);
    assert_true(fabs(json_number_value(json_object_get(r.json, "percentRemaining")) - want) <
                0.00006);
    simresp_free(&r);
}

static void test_asleep_reads_fail_and_commands_wake(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    simtest_set(&f->t, f->id, "{\"asleep\": true}");
    const char *reads[] = { "/battery", "/battery/capacity", "/charge", "/charge/limit" };
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 4; i++) {
            api(f, &r, "GET", reads[i], NULL);
            assert_sc_error(&r, 409, "VEHICLE_STATE", "ASLEEP");
            assert_string_equal(json_string_value(json_object_get(r.json, "description")),
                                "The vehicle is asleep.");
            assert_string_equal(json_string_value(json_object_get(r.json, "docURL")),
                                "https://smartcar.com/docs/errors/api-errors/"
                                "vehicle-state-errors#asleep");
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(r.json, "resolution"), "type")),
                "RETRY_LATER");
            simresp_free(&r);
        }
        api(f, &r, "POST", "/batch", "{\"requests\": [{\"path\": \"/battery\"}]}");
        assert_int_equal(r.status, 200);
        json_t *e = json_array_get(json_object_get(r.json, "responses"), 0);
        assert_int_equal(json_integer_value(json_object_get(e, "code")), 409);
        simresp_free(&r);
    }
    /* twenty-five reads woke nothing */
    assert_int_equal(simtest_truth_num(&f->t, f->id, "wake_count"), 0);
    assert_int_equal(simtest_stat(&f->t, "wakes.smartcar"), 0);
    assert_int_equal(simtest_stat(&f->t, "asleep_rejections.smartcar"), 25);

    /* a command wakes it, and reads work again */
    api(f, &r, "POST", "/charge", "{\"action\": \"START\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(
        r.body, "{\"status\":\"success\",\"message\":\"Successfully sent request to vehicle\"}");
    simresp_free(&r);
    assert_int_equal(simtest_truth_num(&f->t, f->id, "wake_count"), 1);
    assert_int_equal(simtest_stat(&f->t, "wakes.smartcar"), 1);
    expect_status(f, "GET", "/battery", NULL, 200);

    /* unreachable: reads and commands fail with UNREACHABLE */
    simtest_set(&f->t, f->id, "{\"reachable\": false}");
    expect_error(f, "GET", "/charge", NULL, 409, "VEHICLE_STATE", "UNREACHABLE");
    expect_error(f, "POST", "/charge", "{\"action\": \"STOP\"}", 409, "VEHICLE_STATE",
                 "UNREACHABLE");
    json_t *log = simtest_get(&f->t, simtest_fmt("/_sim/vehicles/%s/commands", f->id), 200);
    json_t *last = json_array_get(json_object_get(log, "commands"), 1);
    assert_string_equal(json_string_value(json_object_get(last, "result")), "failed");
    assert_string_equal(json_string_value(json_object_get(last, "reason")), "unreachable");
    json_decref(log);
}

static json_t *last_command(struct fx *f)
{
    json_t *log = simtest_get(&f->t, simtest_fmt("/_sim/vehicles/%s/commands", f->id), 200);
    json_t *list = json_object_get(log, "commands");
    json_t *last = json_incref(json_array_get(list, json_array_size(list) - 1));
    json_decref(log);
    return last;
}

static void test_commands_and_ignored_commands(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    expect_status(f, "POST", "/charge", "{\"action\": \"STOP\"}", 200);
    json_t *t = simtest_truth(&f->t, f->id);
    assert_false(json_is_true(json_object_get(t, "charging")));
    assert_true(json_is_true(json_object_get(t, "paused_by_command")));
    json_decref(t);
    api(f, &r, "POST", "/charge", "{\"action\": \"START\"}");
    simresp_free(&r);
    t = simtest_truth(&f->t, f->id);
    assert_true(json_is_true(json_object_get(t, "charging")));
    json_decref(t);

    /* ignored: "sent" all the same, but nothing changes */
    simtest_set(&f->t, f->id, "{\"ignore_commands\": true}");
    expect_status(f, "POST", "/charge", "{\"action\": \"STOP\"}", 200);
    t = simtest_truth(&f->t, f->id);
    assert_true(json_is_true(json_object_get(t, "charging")));
    json_decref(t);
    json_t *last = last_command(f);
    simtest_assert_keys(last, "at,oem,command,result,reason");
    assert_string_equal(json_string_value(json_object_get(last, "at")), DATA_AGE);
    assert_string_equal(json_string_value(json_object_get(last, "oem")), "smartcar");
    assert_string_equal(json_string_value(json_object_get(last, "command")), "STOP");
    assert_string_equal(json_string_value(json_object_get(last, "result")), "ignored");
    assert_string_equal(json_string_value(json_object_get(last, "reason")), "ignore_commands");
    json_decref(last);

    /* the ignore-rate fault */
    simtest_set(&f->t, f->id, "{\"ignore_commands\": false}");
    json_decref(
        simtest_post(&f->t, "/_sim/faults", "{\"oem\": \"smartcar\", \"ignore_rate\": 1}", 200));
    api(f, &r, "POST", "/charge", "{\"action\": \"STOP\"}");
    simresp_free(&r);
    last = last_command(f);
    assert_string_equal(json_string_value(json_object_get(last, "reason")), "ignore_rate");
    json_decref(last);
    assert_int_equal(simtest_stat(&f->t, "commands.smartcar.ignored"), 2);
    assert_int_equal(simtest_stat(&f->t, "commands.smartcar.applied"), 2);

    /* malformed commands */
    const char *bad[] = { "{\"action\": \"GO\"}", "{}", "[1]", "{\"action\": \"START\", \"x\": 1}",
                          "not json" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        api(f, &r, "POST", "/charge", bad[i]);
        assert_sc_error(&r, 400, "VALIDATION", NULL);
        simresp_free(&r);
    }
}

static void test_command_delay(void **state)
{
    struct fx *f = *state;
    expect_status(f, "POST", "/charge", "{\"action\": \"STOP\"}", 200);
    json_t *t = simtest_truth(&f->t, f->id);
    assert_true(json_is_true(json_object_get(t, "charging"))); /* sent, not yet applied */
    assert_string_equal(json_string_value(json_object_get(t, "pending_command")), "STOP");
    json_decref(t);
    simtest_advance(59 * 1000);
    assert_true(simtest_truth_num(&f->t, f->id, "power_kw") > 0);
    simtest_advance(1000);
    assert_true(simtest_truth_num(&f->t, f->id, "power_kw") == 0);
}

static void test_token_rotation_and_expiry(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    char r1[72], r2[72], a2[72], auth[96];
    snprintf(r1, sizeof(r1), "%s", f->refresh);
    token(f, &r, BASIC, simtest_fmt("grant_type=refresh_token&refresh_token=%s", r1));
    assert_int_equal(r.status, 200);
    simtest_assert_keys(r.json, TOKEN_KEYS);
    snprintf(r2, sizeof(r2), "%s", json_string_value(json_object_get(r.json, "refresh_token")));
    snprintf(a2, sizeof(a2), "%s", json_string_value(json_object_get(r.json, "access_token")));
    assert_string_not_equal(r1, r2);
    simresp_free(&r);

    /* the old refresh token stopped working at once, and the reuse is counted */
    token(f, &r, BASIC, simtest_fmt("grant_type=refresh_token&refresh_token=%s", r1));
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"error\":\"invalid_grant\",\"error_description\":\"The "
                                "refresh token has already been used.\"}");
    simresp_free(&r);
    assert_int_equal(simtest_stat(&f->t, "refresh_reuse.smartcar"), 1);
    assert_int_equal(simtest_stat(&f->t, "refresh_reuse_total"), 1);

    /* both access tokens work until they expire (2 simulated hours) */
    expect_status(f, "GET", "/charge", NULL, 200);
    simtest_bearer(a2, auth);
    const char *h[] = { auth, NULL };
    simtest_advance(7200 * 1000 - 1);
    simtest_http(&f->t, &r, "GET", simtest_fmt("/smartcar/v2.0/vehicles/%s/charge", f->id), h,
                 NULL);
    assert_int_equal(r.status, 200);
    simresp_free(&r);
    simtest_advance(1);
    simtest_http(&f->t, &r, "GET", simtest_fmt("/smartcar/v2.0/vehicles/%s/charge", f->id), h,
                 NULL);
    assert_sc_error(&r, 401, "AUTHENTICATION", NULL);
    simresp_free(&r);
    /* the refresh token still works and gives a fresh access token */
    token(f, &r, BASIC, simtest_fmt("grant_type=refresh_token&refresh_token=%s", r2));
    assert_int_equal(r.status, 200);
    simtest_bearer(json_string_value(json_object_get(r.json, "access_token")), auth);
    simresp_free(&r);
    simtest_http(&f->t, &r, "GET", simtest_fmt("/smartcar/v2.0/vehicles/%s/charge", f->id), h,
                 NULL);
    assert_int_equal(r.status, 200);
    simresp_free(&r);

    /* no token, a garbage token */
    simtest_http(&f->t, &r, "GET", simtest_fmt("/smartcar/v2.0/vehicles/%s/charge", f->id), NULL,
                 NULL);
    assert_sc_error(&r, 401, "AUTHENTICATION", NULL);
    simresp_free(&r);
    const char *g[] = { "Authorization: Bearer 0123", NULL };
    simtest_http(&f->t, &r, "GET", simtest_fmt("/smartcar/v2.0/vehicles/%s/charge", f->id), g,
                 NULL);
    assert_sc_error(&r, 401, "AUTHENTICATION", NULL);
    simresp_free(&r);
}

static void test_revoked_consent(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    simtest_set(&f->t, f->id, "{\"revoked\": true}");
    expect_error(f, "GET", "/battery", NULL, 403, "PERMISSION", NULL);
    expect_error(f, "POST", "/charge", "{\"action\": \"STOP\"}", 403, "PERMISSION", NULL);
    token(f, &r, BASIC, simtest_fmt("grant_type=refresh_token&refresh_token=%s", f->refresh));
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "revoked"));
    simresp_free(&r);
    /* re-consent: a new link works; the old grant stays dead */
    char access[72], refresh[72];
    simtest_link(&f->t, "smartcar", f->id, access, refresh);
    simtest_bearer(access, f->auth);
    expect_status(f, "GET", "/battery", NULL, 200);
    token(f, &r, BASIC, simtest_fmt("grant_type=refresh_token&refresh_token=%s", f->refresh));
    assert_int_equal(r.status, 400);
    simresp_free(&r);

    /* a token for one vehicle does not open another */
    char other[40];
    simtest_vehicle(&f->t, "smartcar", 1, other);
    const char *h[] = { f->auth, NULL };
    simtest_http(&f->t, &r, "GET", simtest_fmt("/smartcar/v2.0/vehicles/%s/battery", other), h,
                 NULL);
    assert_sc_error(&r, 403, "PERMISSION", NULL);
    simresp_free(&r);
}

static void test_rate_limits(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    char v[32];
    json_decref(simtest_post(&f->t, "/_sim/faults",
                             "{\"oem\": \"smartcar\", \"vehicle_rate_per_min\": 6, "
                             "\"vehicle_burst\": 2}",
                             200));
    for (int i = 0; i < 2; i++) {
        api(f, &r, "GET", "/charge", NULL);
        assert_int_equal(r.status, 200);
        simresp_free(&r);
    }
    api(f, &r, "GET", "/charge", NULL);
    assert_sc_error(&r, 429, "RATE_LIMIT", "VEHICLE");
    assert_true(simresp_header(&r, "retry-after", v, sizeof(v)));
    assert_string_equal(v, "10"); /* one token every 10 simulated seconds */
    simresp_free(&r);
    assert_int_equal(simtest_stat(&f->t, "rate_limited.smartcar.vehicle"), 1);
    simtest_advance(10 * 1000);
    expect_status(f, "GET", "/charge", NULL, 200);

    json_decref(simtest_post(&f->t, "/_sim/faults",
                             "{\"oem\": \"smartcar\", \"vehicle_rate_per_min\": 0, "
                             "\"app_rate_per_min\": 60, \"app_burst\": 1}",
                             200));
    expect_status(f, "GET", "/charge", NULL, 200);
    api(f, &r, "GET", "/battery", NULL);
    assert_sc_error(&r, 429, "RATE_LIMIT", "SMARTCAR_API");
    assert_true(simresp_header(&r, "retry-after", v, sizeof(v)));
    assert_string_equal(v, "1");
    simresp_free(&r);
    assert_int_equal(simtest_stat(&f->t, "rate_limited_total"), 2);
}

static void test_server_errors(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    json_decref(
        simtest_post(&f->t, "/_sim/faults", "{\"oem\": \"smartcar\", \"error_rate\": 1}", 200));
    expect_error(f, "GET", "/battery", NULL, 500, "SERVER", "INTERNAL");
    json_decref(
        simtest_post(&f->t, "/_sim/faults", "{\"oem\": \"smartcar\", \"error_rate\": 0.5}", 200));
    int n5xx = 0;
    for (int i = 0; i < 200; i++) {
        api(f, &r, "GET", "/charge", NULL);
        assert_true(r.status == 200 || r.status == 500);
        n5xx += r.status == 500;
        simresp_free(&r);
    }
    assert_in_range(n5xx, 50, 150); /* binomial(200, 0.5): outside is ~1e-12 */
    assert_int_equal(simtest_stat(&f->t, "server_errors.smartcar"), n5xx + 1);
}

static void test_bad_requests(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    expect_error(f, "GET", "/odometer", NULL, 404, "RESOURCE_NOT_FOUND", "PATH");
    expect_error(f, "DELETE", "/charge", NULL, 404, "RESOURCE_NOT_FOUND", "PATH");
    const char *h[] = { f->auth, NULL };
    simtest_http(&f->t, &r, "GET",
                 "/smartcar/v2.0/vehicles/00000000-0000-4000-8000-000000000000/battery", h, NULL);
    assert_sc_error(&r, 404, "RESOURCE_NOT_FOUND", "PATH");
    simresp_free(&r);
    simtest_http(&f->t, &r, "GET", "/smartcar/v2.0/vehicles/..%2F..%2Fetc/battery", h, NULL);
    assert_int_equal(r.status, 404);
    simresp_free(&r);
    simtest_http(&f->t, &r, "GET", "/smartcar", h, NULL);
    assert_sc_error(&r, 404, "RESOURCE_NOT_FOUND", "PATH");
    simresp_free(&r);
    /* batch validation */
    const char *bad[] = { "{\"requests\": {}}", "{}", "{\"requests\": [1]}",
                          "{\"requests\": [{\"path\": 5}]}", "nope" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        api(f, &r, "POST", "/batch", bad[i]);
        assert_sc_error(&r, 400, "VALIDATION", NULL);
        simresp_free(&r);
    }
    char many[2048] = "{\"requests\": [";
    for (int i = 0; i < 17; i++)
        strcat(many, i ? ", {\"path\": \"/charge\"}" : "{\"path\": \"/charge\"}");
    strcat(many, "]}");
    api(f, &r, "POST", "/batch", many);
    assert_sc_error(&r, 400, "VALIDATION", NULL);
    simresp_free(&r);
    /* oversized bodies */
    char *big = malloc(40000);
    memset(big, 'x', 39999);
    big[39999] = '\0';
    api(f, &r, "POST", "/charge", big);
    assert_int_equal(r.status, 413);
    simresp_free(&r);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token_exchange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_match_the_docs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_asleep_reads_fail_and_commands_wake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands_and_ignored_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_delay, setup_delayed, teardown),
        cmocka_unit_test_setup_teardown(test_token_rotation_and_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoked_consent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
