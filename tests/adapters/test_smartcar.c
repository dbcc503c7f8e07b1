/* test_smartcar.c: the Smartcar adapter on recorded answers, through a fake host. */
#include <stdio.h>
#include <string.h>

#include "adapter_fixture.h"

#define CONFIG                                                                                     \
    "{\"base_url\": \"http://127.0.0.1:8090/smartcar/\", \"token_url\": "                          \
    "\"http://127.0.0.1:8090/smartcar/oauth/token\", \"client_id\": \"cid\", \"redirect_uri\": "   \
    "\"https://app.example/cb\"}"

static void test_describe(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "smartcar", NULL, NULL);
    assert_string_equal(f.desc.name, "smartcar");
    assert_int_equal(D2EV_OEM_ABI_MAJOR_OF(f.desc.abi_version), D2EV_OEM_ABI_MAJOR);
    assert_true(f.desc.caps & D2EV_OEM_CAP_BATCH_READ);
    assert_true(f.desc.caps & D2EV_OEM_CAP_ROTATING_REFRESH);
    assert_false(f.desc.caps & D2EV_OEM_CAP_NEEDS_WAKE);
    assert_int_equal(f.desc.token_model, D2EV_OEM_TOKENS_PER_VEHICLE);
    assert_false(f.desc.ops & D2EV_OEM_OP_BIT(D2EV_OEM_OP_WAKE));
    assert_true(f.desc.ops & D2EV_OEM_OP_BIT(D2EV_OEM_OP_EXCHANGE_CODE));
    assert_true(f.desc.rate_per_s > 0);
    fx_close(&f);
}

static void test_build_read_batch(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "smartcar", CONFIG, "s3cret");
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_READ, "veh/1 a"), 0);
    assert_string_equal(f.req.method, "POST");
    /* trailing slash of base_url dropped; the id is percent-encoded */
    assert_string_equal(f.req.url,
                        "http://127.0.0.1:8090/smartcar/v2.0/vehicles/veh%2F1%20a/batch");
    assert_int_equal(f.req.auth, D2EV_OEM_AUTH_BEARER);
    assert_string_equal(fx_req_header(&f, "Content-Type"), "application/json");
    assert_null(fx_req_header(&f, "Authorization")); /* the host adds the bearer token */
    fx_assert_json_body(&f, "{\"requests\": [{\"path\": \"/battery\"}, {\"path\": \"/charge\"},"
                            " {\"path\": \"/battery/capacity\"}, {\"path\": \"/charge/limit\"}]}");
    fx_close(&f);

    fx_open(&f, NULL, "smartcar", "{\"read_capacity\": false, \"read_charge_limit\": false}", NULL);
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_READ, "v1"), 0);
    assert_string_equal(f.req.url, "https://api.smartcar.com/v2.0/vehicles/v1/batch");
    fx_assert_json_body(&f, "{\"requests\": [{\"path\": \"/battery\"}, {\"path\": \"/charge\"}]}");
    fx_close(&f);
}

static void test_build_commands(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "smartcar", CONFIG, NULL);
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_START, "v1"), 0);
    assert_string_equal(f.req.method, "POST");
    assert_string_equal(f.req.url, "http://127.0.0.1:8090/smartcar/v2.0/vehicles/v1/charge");
    fx_assert_json_body(&f, "{\"action\": \"START\"}");
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_STOP, "v1"), 0);
    fx_assert_json_body(&f, "{\"action\": \"STOP\"}");
    /* no wake endpoint: commands wake the car */
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_WAKE, "v1"), D2EV_ERR_UNSUPPORTED);
    assert_non_null(strstr(f.errbuf, "wake"));
    fx_close(&f);
}

static void test_build_tokens(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "smartcar", CONFIG, "s3cret");
    assert_int_equal(fx_build_token(&f, D2EV_OEM_OP_REFRESH, "rt+1/=", NULL, NULL), 0);
    assert_string_equal(f.req.method, "POST");
    assert_string_equal(f.req.url, "http://127.0.0.1:8090/smartcar/oauth/token");
    assert_int_equal(f.req.auth, D2EV_OEM_AUTH_NONE);
    assert_string_equal(fx_req_header(&f, "Content-Type"), "application/x-www-form-urlencoded");
    assert_string_equal(fx_req_body(&f), "grant_type=refresh_token&refresh_token=rt%2B1%2F%3D");
    assert_string_equal(fx_req_header(&f, "Authorization"),
                        "Basic Y2lkOnMzY3JldA=="); /* cid:s3cret */

    assert_int_equal(fx_build_token(&f, D2EV_OEM_OP_EXCHANGE_CODE, NULL, "c0de", NULL), 0);
    assert_string_equal(fx_req_body(&f), "grant_type=authorization_code&code=c0de&redirect_uri="
                                         "https%3A%2F%2Fapp.example%2Fcb");
    assert_int_equal(
        fx_build_token(&f, D2EV_OEM_OP_EXCHANGE_CODE, NULL, "c0de", "https://other/cb"), 0);
    assert_non_null(strstr(fx_req_body(&f), "redirect_uri=https%3A%2F%2Fother%2Fcb"));
    /* nothing was logged, least of all the secret */
    assert_null(strstr(fake_host_logs(), "s3cret"));
    fx_close(&f);

    /* without a client secret token requests cannot be built */
    fx_open(&f, NULL, "smartcar", CONFIG, NULL);
    assert_int_not_equal(fx_build_token(&f, D2EV_OEM_OP_REFRESH, "rt", NULL, NULL), 0);
    assert_non_null(strstr(f.errbuf, "secret"));
    fx_close(&f);
}

static void test_parse_batch_ok(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "smartcar", NULL, NULL);
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_READ, "smartcar", "batch_ok.http"), D2EV_OEM_OK);
    assert_int_equal(f.res.next, D2EV_OEM_NEXT_DONE);
    const struct d2ev_oem_state *s = &f.state;
    uint32_t want = D2EV_OEM_F_SOC | D2EV_OEM_F_RANGE_KM | D2EV_OEM_F_PLUGGED_IN |
                    D2EV_OEM_F_CHARGING_STATE | D2EV_OEM_F_BATTERY_KWH | D2EV_OEM_F_CHARGE_LIMIT |
                    D2EV_OEM_F_REPORTED_AT;
    assert_int_equal(s->fields, want);
    assert_float_equal(s->soc_pct, 54.0, 1e-9);
    assert_float_equal(s->range_km, 212.4, 1e-9);
    assert_true(s->plugged_in);
    assert_int_equal(s->charging_state, D2EV_CHG_CHARGING);
    assert_float_equal(s->battery_kwh, 75.0, 1e-9);
    assert_float_equal(s->charge_limit_pct, 80.0, 1e-9);
    assert_int_equal(s->reported_at_ms, 1795246198000LL); /* battery's sc-data-age */
    fx_close(&f);
}

static void test_parse_batch_partial(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "smartcar", NULL, NULL);
    /* capacity 404 only leaves the field out; entries may come in any order */
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_READ, "smartcar", "batch_unplugged_partial.http"),
                     D2EV_OEM_OK);
    assert_false(f.state.fields & D2EV_OEM_F_BATTERY_KWH);
    assert_false(f.state.fields & D2EV_OEM_F_RANGE_KM);
    assert_float_equal(f.state.soc_pct, 90.0, 1e-9);
    assert_false(f.state.plugged_in);
    assert_int_equal(f.state.charging_state, D2EV_CHG_DISCONNECTED);
    assert_float_equal(f.state.charge_limit_pct, 100.0, 1e-9);
    /* no sc-data-age on battery: the charge entry's */
    assert_true(f.state.fields & D2EV_OEM_F_REPORTED_AT);
    fx_close(&f);
}

static void test_parse_batch_errors(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "smartcar", NULL, NULL);
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_READ, "smartcar", "batch_asleep.http"),
                     D2EV_OEM_ASLEEP);
    assert_non_null(strstr(f.res.message, "ASLEEP"));
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_READ, "smartcar", "batch_entry_rate_limited.http"),
                     D2EV_OEM_RATE_LIMITED);
    assert_int_equal(f.res.retry_after_ms, 12000);
    assert_int_equal(f.res.limit_scope, D2EV_OEM_SCOPE_VEHICLE);
    /* garbled answers are transient */
    assert_int_equal(fx_parse_text(&f, D2EV_OEM_OP_READ, 200, NULL, "<html>"), D2EV_OEM_RETRY);
    assert_int_equal(fx_parse_text(&f, D2EV_OEM_OP_READ, 200, NULL, "{\"responses\": []}"),
                     D2EV_OEM_RETRY);
    assert_int_equal(
        fx_parse_text(&f, D2EV_OEM_OP_READ, 200, NULL,
                      "{\"responses\": [{\"path\": \"/battery\", \"code\": 200, \"body\": "
                      "{\"percentRemaining\": 54}}, {\"path\": \"/charge\", \"code\": 200, "
                      "\"body\": {\"isPluggedIn\": true, \"state\": \"CHARGING\"}}]}"),
        D2EV_OEM_RETRY); /* percentRemaining is a fraction */
    fx_close(&f);
}

static void test_error_table(void **state)
{
    static const struct fx_case cases[] = {
        { "error_400_validation.http", D2EV_OEM_PERMANENT },
        { "error_401.http", D2EV_OEM_UNAUTHORIZED },
        { "error_403_permission.http", D2EV_OEM_PERMANENT },
        { "error_404.http", D2EV_OEM_PERMANENT },
        { "error_409_asleep.http", D2EV_OEM_ASLEEP },
        { "error_409_unreachable.http", D2EV_OEM_ASLEEP },
        { "error_409_account.http", D2EV_OEM_PERMANENT },
        { "error_429_vehicle.http", D2EV_OEM_RATE_LIMITED },
        { "error_429_api.http", D2EV_OEM_RATE_LIMITED },
        { "error_500.http", D2EV_OEM_RETRY },
        { "error_502_upstream.http", D2EV_OEM_RETRY },
    };
    struct fx f;
    fx_open(&f, NULL, "smartcar", NULL, NULL);
    fx_check_classes(&f, "smartcar", cases, sizeof(cases) / sizeof(cases[0]), D2EV_OEM_OP_READ,
                     D2EV_OEM_OP_STOP);
    fx_parse(&f, D2EV_OEM_OP_READ, "smartcar", "error_429_vehicle.http");
    assert_int_equal(f.res.retry_after_ms, 30000);
    assert_int_equal(f.res.limit_scope, D2EV_OEM_SCOPE_VEHICLE);
    fx_parse(&f, D2EV_OEM_OP_READ, "smartcar", "error_429_api.http");
    assert_int_equal(f.res.retry_after_ms, 5000);
    assert_int_equal(f.res.limit_scope, D2EV_OEM_SCOPE_OEM);
    fx_close(&f);
}

static void test_parse_command_and_tokens(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "smartcar", CONFIG, "s3cret");
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_START, "smartcar", "charge_ok.http"), D2EV_OEM_OK);
    assert_int_equal(f.res.command, D2EV_OEM_CMD_SENT); /* sent, not applied */
    assert_int_equal(fx_parse_text(&f, D2EV_OEM_OP_STOP, 200, NULL, "{\"status\": \"failure\"}"),
                     D2EV_OEM_RETRY);

    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_REFRESH, "smartcar", "token_ok.http"), D2EV_OEM_OK);
    assert_string_equal(f.tokens.access_token, "88704225-9f6c-4919-93e7-e0cec71317ec");
    assert_string_equal(f.tokens.refresh_token, "60a9e801-6d51-4a2c-b4e0-1a6b2c6bd1a1");
    assert_int_equal(f.tokens.expires_in_s, 7200);
    assert_int_equal(f.tokens.refresh_expires_in_s, 5184000);
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_REFRESH, "smartcar", "token_invalid_grant.http"),
                     D2EV_OEM_UNAUTHORIZED);
    assert_non_null(strstr(f.res.message, "invalid_grant"));
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_EXCHANGE_CODE, "smartcar", "error_500.http"),
                     D2EV_OEM_RETRY);
    fx_close(&f);
}

static void test_bad_config(void **state)
{
    struct fx f;
    assert_int_equal(fx_open_fails(&f, "smartcar", "{\"base_url\": \"ftp://x\"}", NULL),
                     D2EV_ERR_INVALID);
    assert_non_null(strstr(f.errbuf, "base_url"));
    fx_open_fails(&f, "smartcar", "{\"read_capacity\": \"yes\"}", NULL);
    assert_non_null(strstr(f.errbuf, "read_capacity"));
    fx_open_fails(&f, "smartcar", "[1]", NULL);
    fx_open_fails(&f, "smartcar", "{not json", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_build_read_batch),
        cmocka_unit_test(test_build_commands),
        cmocka_unit_test(test_build_tokens),
        cmocka_unit_test(test_parse_batch_ok),
        cmocka_unit_test(test_parse_batch_partial),
        cmocka_unit_test(test_parse_batch_errors),
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_parse_command_and_tokens),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
