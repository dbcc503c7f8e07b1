/* test_tesla.c: the Tesla Fleet API adapter on recorded answers, through a fake host. */
#include <string.h>

#include "adapter_fixture.h"

#define CONFIG                                                                                     \
    "{\"base_url\": \"http://127.0.0.1:8090/tesla\", \"token_url\": "                              \
    "\"http://127.0.0.1:8090/tesla/oauth2/v3/token\", \"client_id\": \"tid\", \"redirect_uri\": "  \
    "\"https://app.example/cb\", \"wake_poll_ms\": 500, \"wake_timeout_ms\": 3000}"

#define BASE "http://127.0.0.1:8090/tesla/api/1/vehicles/1492931520123456"

static void test_describe(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "tesla", NULL, NULL);
    assert_string_equal(f.desc.name, "tesla");
    assert_true(f.desc.caps & D2EV_OEM_CAP_NEEDS_WAKE);
    assert_true(f.desc.ops & D2EV_OEM_OP_BIT(D2EV_OEM_OP_WAKE));
    assert_int_equal(f.desc.token_model, D2EV_OEM_TOKENS_PER_VEHICLE);
    assert_true(f.desc.vehicle_rate_per_s > 0);
    fx_close(&f);
}

static void test_build(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "tesla", CONFIG, "tsecret");
    const char *v = "1492931520123456";
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_READ, v), 0);
    assert_string_equal(f.req.method, "GET");
    assert_string_equal(f.req.url, BASE "/vehicle_data?endpoints=charge_state");
    assert_int_equal(f.req.auth, D2EV_OEM_AUTH_BEARER);
    assert_null(f.req.body);

    assert_int_equal(fx_build(&f, D2EV_OEM_OP_START, v), 0);
    assert_string_equal(f.req.method, "POST");
    assert_string_equal(f.req.url, BASE "/command/charge_start");
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_STOP, v), 0);
    assert_string_equal(f.req.url, BASE "/command/charge_stop");

    /* wake: POST wake_up, then GET the vehicle (which never wakes it) */
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_WAKE, v), 0);
    assert_string_equal(f.req.method, "POST");
    assert_string_equal(f.req.url, BASE "/wake_up");
    f.flow.step = 1;
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_WAKE, v), 0);
    assert_string_equal(f.req.method, "GET");
    assert_string_equal(f.req.url, BASE);
    fx_close(&f);
}

static void test_build_tokens(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "tesla", CONFIG, "tsecret");
    assert_int_equal(fx_build_token(&f, D2EV_OEM_OP_REFRESH, "EU_abc", NULL, NULL), 0);
    assert_string_equal(f.req.url, "http://127.0.0.1:8090/tesla/oauth2/v3/token");
    assert_int_equal(f.req.auth, D2EV_OEM_AUTH_NONE);
    /* docs/oem-apis.md: client_id in the form, no secret, no Basic auth */
    assert_string_equal(fx_req_body(&f),
                        "grant_type=refresh_token&client_id=tid&refresh_token=EU_abc");
    assert_null(fx_req_header(&f, "Authorization"));
    assert_int_equal(fx_build_token(&f, D2EV_OEM_OP_EXCHANGE_CODE, NULL, "NA_c0de", NULL), 0);
    assert_string_equal(fx_req_body(&f),
                        "grant_type=authorization_code&client_id=tid&client_secret="
                        "tsecret&code=NA_c0de&redirect_uri=https%3A%2F%2Fapp."
                        "example%2Fcb");
    fx_close(&f);
}

static void test_parse_read(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "tesla", NULL, NULL);
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_READ, "tesla", "vehicle_data_charging.http"),
                     D2EV_OEM_OK);
    const struct d2ev_oem_state *s = &f.state;
    assert_float_equal(s->soc_pct, 54, 1e-9);
    assert_float_equal(s->range_km, 132.0 * 1.609344, 1e-6); /* miles */
    assert_int_equal(s->charging_state, D2EV_CHG_CHARGING);
    assert_true(s->plugged_in);
    assert_float_equal(s->power_kw, 11, 1e-9);
    assert_float_equal(s->charge_limit_pct, 80, 1e-9);
    assert_float_equal(s->energy_added_kwh, 12.34, 1e-9);
    assert_int_equal(s->reported_at_ms, 1795246193000LL);
    assert_true(s->online);
    assert_false(s->fields & D2EV_OEM_F_BATTERY_KWH);

    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_READ, "tesla", "vehicle_data_disconnected.http"),
                     D2EV_OEM_OK);
    assert_int_equal(f.state.charging_state, D2EV_CHG_DISCONNECTED);
    assert_false(f.state.plugged_in);
    assert_true(f.state.fields & D2EV_OEM_F_PLUGGED_IN);
    assert_false(f.state.fields & D2EV_OEM_F_POWER_KW); /* charger_power null */
    fx_close(&f);
}

static void test_error_table(void **state)
{
    static const struct fx_case cases[] = {
        { "asleep_408.http", D2EV_OEM_ASLEEP },      { "error_401.http", D2EV_OEM_UNAUTHORIZED },
        { "error_403.http", D2EV_OEM_PERMANENT },    { "error_404.http", D2EV_OEM_PERMANENT },
        { "error_429.http", D2EV_OEM_RATE_LIMITED }, { "error_503.http", D2EV_OEM_RETRY },
    };
    struct fx f;
    fx_open(&f, NULL, "tesla", NULL, NULL);
    fx_check_classes(&f, "tesla", cases, sizeof(cases) / sizeof(cases[0]), D2EV_OEM_OP_READ,
                     D2EV_OEM_OP_WAKE);
    fx_parse(&f, D2EV_OEM_OP_READ, "tesla", "error_429.http");
    assert_int_equal(f.res.retry_after_ms, 7000);
    fx_parse(&f, D2EV_OEM_OP_READ, "tesla", "error_403.http");
    assert_non_null(strstr(f.res.message, "unauthorized_missing_scopes"));
    fx_close(&f);
}

static void test_wake_flow(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "tesla", CONFIG, NULL);
    /* step 0: wake_up answers "asleep" -> poll the vehicle after wake_poll_ms */
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_WAKE, "tesla", "wake_asleep.http"), D2EV_OEM_OK);
    assert_int_equal(f.res.next, D2EV_OEM_NEXT_STEP);
    assert_int_equal(f.res.next_step, 1);
    assert_int_equal(f.res.next_delay_ms, 500);
    /* step 1: still offline, time left -> poll again */
    f.flow.step = 1;
    f.flow.elapsed_ms = 1000;
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_WAKE, "tesla", "vehicle_offline.http"), D2EV_OEM_OK);
    assert_int_equal(f.res.next, D2EV_OEM_NEXT_STEP);
    assert_int_equal(f.res.next_step, 1);
    /* online -> done */
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_WAKE, "tesla", "vehicle_online.http"), D2EV_OEM_OK);
    assert_int_equal(f.res.next, D2EV_OEM_NEXT_DONE);
    assert_true(f.state.online);
    /* out of time -> a final asleep verdict */
    f.flow.elapsed_ms = 2900;
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_WAKE, "tesla", "vehicle_offline.http"),
                     D2EV_OEM_ASLEEP);
    assert_true(f.res.final);
    fx_close(&f);
}

static void test_commands(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "tesla", NULL, NULL);
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_START, "tesla", "command_ok.http"), D2EV_OEM_OK);
    assert_int_equal(f.res.command, D2EV_OEM_CMD_CONFIRMED);
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_START, "tesla", "command_is_charging.http"),
                     D2EV_OEM_OK);
    assert_int_equal(f.res.command, D2EV_OEM_CMD_ALREADY);
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_START, "tesla", "command_complete.http"),
                     D2EV_OEM_OK);
    assert_int_equal(f.res.command, D2EV_OEM_CMD_ALREADY);
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_STOP, "tesla", "command_not_charging.http"),
                     D2EV_OEM_OK);
    assert_int_equal(f.res.command, D2EV_OEM_CMD_ALREADY);
    /* not plugged in: start cannot work, stop is already satisfied */
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_START, "tesla", "command_disconnected.http"),
                     D2EV_OEM_PERMANENT);
    assert_true(f.res.final);
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_STOP, "tesla", "command_disconnected.http"),
                     D2EV_OEM_OK);
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_START, "tesla", "command_other.http"),
                     D2EV_OEM_RETRY);
    assert_false(f.res.final);
    fx_close(&f);
}

static void test_tokens(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "tesla", CONFIG, "tsecret");
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_REFRESH, "tesla", "token_ok.http"), D2EV_OEM_OK);
    assert_string_equal(f.tokens.refresh_token, "EU_3f2c1b0a-rotating-1");
    assert_int_equal(f.tokens.expires_in_s, 28800);
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_REFRESH, "tesla", "token_login_required.http"),
                     D2EV_OEM_UNAUTHORIZED);
    assert_null(strstr(f.res.message, "EU_")); /* never a token in a message */
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe),     cmocka_unit_test(test_build),
        cmocka_unit_test(test_build_tokens), cmocka_unit_test(test_parse_read),
        cmocka_unit_test(test_error_table),  cmocka_unit_test(test_wake_flow),
        cmocka_unit_test(test_commands),     cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
