/*
 * Tesla Fleet API as docs/oem-apis.md pins it down, against an in-process
 * simulator on the manual clock: vehicle_data byte for byte, 408 for a
 * sleeping car, wake_up then online, commands with result and reason,
 * single-use refresh tokens.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simtest.h"

#define ASLEEP_BODY                                                                                \
    "{\"response\":null,\"error\":\"vehicle unavailable: vehicle is offline or asleep\","          \
    "\"error_description\":\"\"}"
#define TOKEN_KEYS "access_token,refresh_token,id_token,expires_in,token_type"

struct fx {
    struct simtest t;
    char id[40];
    char vin[18];
    char access[72], refresh[72];
    char auth[96];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    const char *flags[] = { "--sim-wake-delay-s=15", NULL };
    simtest_start(&f->t, flags);
    simtest_vehicle(&f->t, "tesla", 0, f->id);
    simtest_link(&f->t, "tesla", f->id, f->access, f->refresh);
    simtest_bearer(f->access, f->auth);
    simtest_set(&f->t, f->id, "{\"soc\": 54, \"limit\": 80, \"plugged\": true, \"asleep\": false}");
    json_t *t = simtest_truth(&f->t, f->id);
    snprintf(f->vin, sizeof(f->vin), "%s", json_string_value(json_object_get(t, "vin")));
    json_decref(t);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    simtest_stop(&f->t);
    free(f);
    return 0;
}

static void api(struct fx *f, struct simresp *r, const char *method, const char *sub)
{
    const char *h[] = { f->auth, NULL };
    simtest_http(&f->t, r, method, simtest_fmt("/tesla/api/1/vehicles/%s%s", f->id, sub), h,
                 method[0] == 'P' ? "" : NULL);
}

static void token(struct fx *f, struct simresp *r, const char *body)
{
    simtest_http(&f->t, r, "POST", "/tesla/oauth2/v3/token", NULL, body);
}

static void test_vehicle_data_matches_the_docs(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    json_t *t = simtest_truth(&f->t, f->id);
    double cap = json_number_value(json_object_get(t, "capacity_kwh"));
    double kw = json_number_value(json_object_get(t, "max_power_kw"));
    double wh = json_number_value(json_object_get(t, "consumption_wh_per_km"));
    json_decref(t);
    char range[32], rate[32];
    double km = 0.54 * cap * 1000 / wh;
    simtest_real(simtest_round(km / 1.609344, 1), range);
    simtest_real(simtest_round(kw * 1000 / wh / 1.609344, 1), rate);
    long minutes = lround(0.26 * cap / kw * 60); /* 54 -> 80 % at full power */

    api(f, &r, "GET", "/vehicle_data?endpoints=charge_state");
    assert_int_equal(r.status, 200);
    assert_string_equal(
        r.body, simtest_fmt("{\"response\":{\"id\":%s,\"state\":\"online\",\"charge_state\":{"
                            "\"battery_level\":54,\"battery_range\":%s,\"charging_state\":"
                            "\"Charging\",\"charger_power\":%ld,\"charge_limit_soc\":80,"
                            "\"charge_energy_added\":0.0,\"charge_rate\":%s,\"minutes_to_full_"
                            "charge\":%ld,\"timestamp\":1795246198000}}}",
                            f->id, range, lround(kw), rate, minutes));
    simresp_free(&r);

    api(f, &r, "GET", "");
    assert_string_equal(r.body, simtest_fmt("{\"response\":{\"id\":%s,\"vin\":\"%s\",\"state\":"
                                            "\"online\"}}",
                                            f->id, f->vin));
    simresp_free(&r);

    /* an hour of charging: energy added and the SoC follow the physics */
    simtest_advance(3600 * 1000);
    api(f, &r, "GET", "/vehicle_data?endpoints=charge_state");
    json_t *cs = json_object_get(json_object_get(r.json, "response"), "charge_state");
    double added = json_number_value(json_object_get(cs, "charge_energy_added"));
    assert_true(fabs(added - kw) < 0.006); /* below 80 %: full power */
    assert_int_equal(json_integer_value(json_object_get(cs, "battery_level")),
                     lround(54 + kw / cap * 100));
    simresp_free(&r);

    /* the other charging states */
    simtest_set(&f->t, f->id, "{\"charging_paused\": true}");
    api(f, &r, "GET", "/vehicle_data?endpoints=charge_state");
    cs = json_object_get(json_object_get(r.json, "response"), "charge_state");
    assert_string_equal(json_string_value(json_object_get(cs, "charging_state")), "Stopped");
    assert_int_equal(json_integer_value(json_object_get(cs, "charger_power")), 0);
    assert_int_equal(json_integer_value(json_object_get(cs, "minutes_to_full_charge")), 0);
    simresp_free(&r);
    simtest_set(&f->t, f->id, "{\"charging_paused\": false, \"soc\": 80}");
    api(f, &r, "GET", "/vehicle_data?endpoints=charge_state");
    cs = json_object_get(json_object_get(r.json, "response"), "charge_state");
    assert_string_equal(json_string_value(json_object_get(cs, "charging_state")), "Complete");
    simresp_free(&r);
    simtest_set(&f->t, f->id, "{\"plugged\": false}");
    api(f, &r, "GET", "/vehicle_data?endpoints=charge_state");
    cs = json_object_get(json_object_get(r.json, "response"), "charge_state");
    assert_string_equal(json_string_value(json_object_get(cs, "charging_state")), "Disconnected");
    assert_true(json_is_null(json_object_get(cs, "charger_power")));
    simresp_free(&r);
    /* the token's vehicle list */
    const char *h[] = { f->auth, NULL };
    simtest_http(&f->t, &r, "GET", "/tesla/api/1/vehicles", h, NULL);
    assert_string_equal(r.body, simtest_fmt("{\"response\":[{\"id\":%s,\"vin\":\"%s\",\"state\":"
                                            "\"online\"}],\"count\":1}",
                                            f->id, f->vin));
    simresp_free(&r);
    /* other endpoints than charge_state are not simulated */
    api(f, &r, "GET", "/vehicle_data?endpoints=drive_state");
    assert_string_equal(r.body,
                        simtest_fmt("{\"response\":{\"id\":%s,\"state\":\"online\"}}", f->id));
    simresp_free(&r);
}

static void test_asleep_408_and_wake_up(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    simtest_set(&f->t, f->id, "{\"asleep\": true}");
    for (int i = 0; i < 10; i++) {
        api(f, &r, "GET", "/vehicle_data?endpoints=charge_state");
        assert_int_equal(r.status, 408);
        assert_string_equal(r.body, ASLEEP_BODY);
        simresp_free(&r);
        api(f, &r, "GET", ""); /* shows the state without waking */
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, simtest_fmt("{\"response\":{\"id\":%s,\"vin\":\"%s\",\"state\":"
                                                "\"asleep\"}}",
                                                f->id, f->vin));
        simresp_free(&r);
    }
    api(f, &r, "POST", "/command/charge_stop");
    assert_int_equal(r.status, 408);
    assert_string_equal(r.body, ASLEEP_BODY);
    simresp_free(&r);
    assert_int_equal(simtest_truth_num(&f->t, f->id, "wake_count"), 0);
    assert_int_equal(simtest_stat(&f->t, "wakes_total"), 0);

    api(f, &r, "POST", "/wake_up");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, simtest_fmt("{\"response\":{\"id\":%s,\"vin\":\"%s\",\"state\":"
                                            "\"asleep\"}}",
                                            f->id, f->vin));
    simresp_free(&r);
    assert_int_equal(simtest_truth_num(&f->t, f->id, "wake_count"), 1);
    /* online only after the wake delay (15 s); a second wake_up is not a second wake */
    simtest_advance(14 * 1000);
    api(f, &r, "GET", "/vehicle_data?endpoints=charge_state");
    assert_int_equal(r.status, 408);
    simresp_free(&r);
    api(f, &r, "POST", "/wake_up");
    simresp_free(&r);
    assert_int_equal(simtest_truth_num(&f->t, f->id, "wake_count"), 1);
    simtest_advance(1000);
    api(f, &r, "GET", "");
    assert_non_null(strstr(r.body, "\"state\":\"online\""));
    simresp_free(&r);
    api(f, &r, "GET", "/vehicle_data?endpoints=charge_state");
    assert_int_equal(r.status, 200);
    simresp_free(&r);
    api(f, &r, "POST", "/wake_up"); /* awake already: answers online */
    assert_non_null(strstr(r.body, "\"state\":\"online\""));
    simresp_free(&r);
    assert_int_equal(simtest_stat(&f->t, "wakes.tesla"), 1);

    /* offline: shown as such, 408 on data, wake_up cannot reach it */
    simtest_set(&f->t, f->id, "{\"reachable\": false}");
    api(f, &r, "GET", "");
    assert_non_null(strstr(r.body, "\"state\":\"offline\""));
    simresp_free(&r);
    api(f, &r, "GET", "/vehicle_data");
    assert_int_equal(r.status, 408);
    simresp_free(&r);
    api(f, &r, "POST", "/wake_up");
    assert_non_null(strstr(r.body, "\"state\":\"offline\""));
    simresp_free(&r);
    assert_int_equal(simtest_truth_num(&f->t, f->id, "wake_count"), 1);
}

static void expect_result(struct fx *f, const char *cmd, const char *want)
{
    struct simresp r;
    char sub[64];
    snprintf(sub, sizeof(sub), "/command/%s", cmd); /* simtest_fmt's buffer is api()'s */
    api(f, &r, "POST", sub);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, want);
    simresp_free(&r);
}

#define OK_TRUE          "{\"response\":{\"result\":true,\"reason\":\"\"}}"
#define FALSE_BECAUSE(x) "{\"response\":{\"result\":false,\"reason\":\"" x "\"}}"

static void test_commands_result_and_reason(void **state)
{
    struct fx *f = *state;
    expect_result(f, "charge_start", FALSE_BECAUSE("is_charging"));
    expect_result(f, "charge_stop", OK_TRUE);
    assert_true(simtest_truth_num(&f->t, f->id, "power_kw") == 0);
    expect_result(f, "charge_stop", FALSE_BECAUSE("not_charging"));
    expect_result(f, "charge_start", OK_TRUE);
    assert_true(simtest_truth_num(&f->t, f->id, "power_kw") > 0);
    simtest_set(&f->t, f->id, "{\"soc\": 80}");
    expect_result(f, "charge_start", FALSE_BECAUSE("complete"));
    simtest_set(&f->t, f->id, "{\"plugged\": false}");
    expect_result(f, "charge_start", FALSE_BECAUSE("disconnected"));

    /* ignored: result true, nothing applied, visible in the command log */
    simtest_set(&f->t, f->id, "{\"plugged\": true, \"soc\": 60, \"ignore_commands\": true}");
    expect_result(f, "charge_stop", OK_TRUE);
    assert_true(simtest_truth_num(&f->t, f->id, "power_kw") > 0);
    json_t *log = simtest_get(&f->t, simtest_fmt("/_sim/vehicles/%s/commands", f->id), 200);
    json_t *list = json_object_get(log, "commands");
    assert_int_equal(json_integer_value(json_object_get(log, "total")), 7);
    const char *want[][3] = {
        { "charge_start", "noop", "is_charging" },       { "charge_stop", "applied", "" },
        { "charge_stop", "noop", "not_charging" },       { "charge_start", "applied", "" },
        { "charge_start", "noop", "complete" },          { "charge_start", "noop", "disconnected" },
        { "charge_stop", "ignored", "ignore_commands" },
    };
    for (size_t i = 0; i < 7; i++) {
        json_t *e = json_array_get(list, i);
        assert_string_equal(json_string_value(json_object_get(e, "command")), want[i][0]);
        assert_string_equal(json_string_value(json_object_get(e, "result")), want[i][1]);
        assert_string_equal(json_string_value(json_object_get(e, "reason")), want[i][2]);
    }
    json_decref(log);
}

static void test_single_use_refresh_tokens(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    /* a refresh needs only the client id */
    token(f, &r,
          simtest_fmt("grant_type=refresh_token&client_id=sim-tesla-client&refresh_token=%s",
                      f->refresh));
    assert_int_equal(r.status, 200);
    simtest_assert_keys(r.json, TOKEN_KEYS);
    assert_int_equal(json_integer_value(json_object_get(r.json, "expires_in")), 28800);
    assert_string_equal(json_string_value(json_object_get(r.json, "token_type")), "Bearer");
    char next[72];
    snprintf(next, sizeof(next), "%s", json_string_value(json_object_get(r.json, "refresh_token")));
    simresp_free(&r);
    /* spent: fails, and the reuse is counted */
    for (int i = 0; i < 2; i++) {
        token(f, &r,
              simtest_fmt("grant_type=refresh_token&client_id=sim-tesla-client&refresh_token=%s",
                          f->refresh));
        assert_int_equal(r.status, 400);
        assert_string_equal(json_string_value(json_object_get(r.json, "error")), "invalid_grant");
        simresp_free(&r);
    }
    assert_int_equal(simtest_stat(&f->t, "refresh_reuse.tesla"), 2);
    /* wrong client, missing secret on a code exchange */
    token(f, &r, simtest_fmt("grant_type=refresh_token&client_id=other&refresh_token=%s", next));
    assert_int_equal(r.status, 401);
    simresp_free(&r);
    token(f, &r, "grant_type=authorization_code&client_id=sim-tesla-client&code=x&redirect_uri=y");
    assert_int_equal(r.status, 401);
    simresp_free(&r);
    token(f, &r,
          "grant_type=authorization_code&client_id=sim-tesla-client&client_secret=sim-tesla-"
          "secret&code=x&redirect_uri=y");
    assert_int_equal(r.status, 400);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "invalid_grant");
    simresp_free(&r);

    /* access tokens last 8 simulated hours */
    simtest_advance(8 * 3600 * 1000);
    api(f, &r, "GET", "");
    assert_int_equal(r.status, 401);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "invalid_token");
    assert_true(json_is_null(json_object_get(r.json, "response")));
    simresp_free(&r);

    /* two refreshes racing with the same token: exactly one wins */
    token(
        f, &r,
        simtest_fmt("grant_type=refresh_token&client_id=sim-tesla-client&refresh_token=%s", next));
    assert_int_equal(r.status, 200);
    simresp_free(&r);
    token(
        f, &r,
        simtest_fmt("grant_type=refresh_token&client_id=sim-tesla-client&refresh_token=%s", next));
    assert_int_equal(r.status, 400);
    simresp_free(&r);
    assert_int_equal(simtest_stat(&f->t, "refresh_reuse.tesla"), 3);
}

static void test_errors_and_faults(void **state)
{
    struct fx *f = *state;
    struct simresp r;
    char v[32];
    const char *h[] = { f->auth, NULL };
    simtest_http(&f->t, &r, "GET", "/tesla/api/1/vehicles/1234567890123456/vehicle_data", h, NULL);
    assert_int_equal(r.status, 404);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "not_found");
    simresp_free(&r);
    simtest_http(&f->t, &r, "GET", "/tesla/api/1/vehicles/abc", h, NULL);
    assert_int_equal(r.status, 404);
    simresp_free(&r);
    simtest_http(&f->t, &r, "GET", "/tesla/api/2/products", h, NULL);
    assert_int_equal(r.status, 404);
    simresp_free(&r);
    simtest_set(&f->t, f->id, "{\"revoked\": true}");
    api(f, &r, "GET", "/vehicle_data");
    assert_int_equal(r.status, 403);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")),
                        "unauthorized_missing_scopes");
    simresp_free(&r);
    simtest_set(&f->t, f->id, "{\"revoked\": false}"); /* the old grant stays dead */
    api(f, &r, "GET", "/vehicle_data");
    assert_int_equal(r.status, 403);
    simresp_free(&r);
    simtest_link(&f->t, "tesla", f->id, f->access, f->refresh);
    simtest_bearer(f->access, f->auth);

    json_decref(simtest_post(&f->t, "/_sim/faults",
                             "{\"oem\": \"tesla\", \"vehicle_rate_per_min\": 1, "
                             "\"vehicle_burst\": 1}",
                             200));
    api(f, &r, "GET", "/vehicle_data");
    assert_int_equal(r.status, 200);
    simresp_free(&r);
    api(f, &r, "GET", "/vehicle_data");
    assert_int_equal(r.status, 429);
    assert_true(simresp_header(&r, "Retry-After", v, sizeof(v)));
    assert_string_equal(v, "60");
    assert_true(json_is_null(json_object_get(r.json, "response")));
    simresp_free(&r);
    json_decref(simtest_post(&f->t, "/_sim/faults",
                             "{\"oem\": \"tesla\", \"vehicle_rate_per_min\": 0, "
                             "\"error_rate\": 1}",
                             200));
    api(f, &r, "GET", "/vehicle_data");
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body, "{\"response\":null,\"error\":\"internal server error\","
                                "\"error_description\":\"Injected server error.\"}");
    simresp_free(&r);
    /* faults are per OEM: Smartcar is untouched */
    json_t *faults = simtest_get(&f->t, "/_sim/faults", 200);
    assert_true(
        json_number_value(json_object_get(json_object_get(faults, "smartcar"), "error_rate")) == 0);
    json_decref(faults);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vehicle_data_matches_the_docs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_asleep_408_and_wake_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands_result_and_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_use_refresh_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_and_faults, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
