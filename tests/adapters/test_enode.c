/* test_enode.c: the Enode adapter on recorded answers, through a fake host. */
#include <string.h>

#include "adapter_fixture.h"

#define CONFIG                                                                                     \
    "{\"base_url\": \"http://127.0.0.1:8090/enode\", \"token_url\": "                              \
    "\"http://127.0.0.1:8090/enode/oauth2/token\", \"client_id\": \"eid\", \"action_poll_ms\": "   \
    "250, \"action_timeout_ms\": 5000}"

#define ACTION "4eaeb363-296d-4ccc-a973-7805e6f400bd"

static void test_describe(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "enode", NULL, NULL);
    assert_string_equal(f.desc.name, "enode");
    assert_true(f.desc.caps & D2EV_OEM_CAP_ASYNC_ACTIONS);
    assert_false(f.desc.caps & D2EV_OEM_CAP_NEEDS_WAKE);
    assert_int_equal(f.desc.token_model, D2EV_OEM_TOKENS_PER_APP);
    assert_false(f.desc.ops & D2EV_OEM_OP_BIT(D2EV_OEM_OP_WAKE));
    assert_false(f.desc.ops & D2EV_OEM_OP_BIT(D2EV_OEM_OP_EXCHANGE_CODE));
    fx_close(&f);
}

static void test_build(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "enode", CONFIG, "esecret");
    const char *v = "2e2ee1d4-1a7e-4a68-9d2e-8f1a5c6b3d20";
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_READ, v), 0);
    assert_string_equal(f.req.method, "GET");
    assert_string_equal(f.req.url, "http://127.0.0.1:8090/enode/vehicles/"
                                   "2e2ee1d4-1a7e-4a68-9d2e-8f1a5c6b3d20");
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_START, v), 0);
    assert_string_equal(f.req.method, "POST");
    assert_string_equal(f.req.url, "http://127.0.0.1:8090/enode/vehicles/"
                                   "2e2ee1d4-1a7e-4a68-9d2e-8f1a5c6b3d20/charging");
    fx_assert_json_body(&f, "{\"action\": \"START\"}");
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_STOP, v), 0);
    fx_assert_json_body(&f, "{\"action\": \"STOP\"}");
    /* step 1 polls the action */
    f.flow.step = 1;
    strcpy(f.flow.ref, ACTION);
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_STOP, v), 0);
    assert_string_equal(f.req.method, "GET");
    assert_string_equal(f.req.url, "http://127.0.0.1:8090/enode/vehicles/actions/" ACTION);
    f.flow.step = 0;

    assert_int_equal(fx_build_token(&f, D2EV_OEM_OP_REFRESH, NULL, NULL, NULL), 0);
    assert_string_equal(f.req.url, "http://127.0.0.1:8090/enode/oauth2/token");
    assert_string_equal(fx_req_body(&f), "grant_type=client_credentials");
    assert_string_equal(fx_req_header(&f, "Authorization"), "Basic ZWlkOmVzZWNyZXQ=");
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_WAKE, v), D2EV_ERR_UNSUPPORTED);
    fx_close(&f);
}

static void test_parse_read(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "enode", NULL, NULL);
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_READ, "enode", "vehicle_ok.http"), D2EV_OEM_OK);
    const struct d2ev_oem_state *s = &f.state;
    assert_float_equal(s->soc_pct, 54, 1e-9);
    assert_float_equal(s->range_km, 212.4, 1e-9);
    assert_true(s->plugged_in);
    assert_int_equal(s->charging_state, D2EV_CHG_CHARGING);
    assert_float_equal(s->battery_kwh, 77, 1e-9);
    assert_float_equal(s->charge_limit_pct, 80, 1e-9);
    assert_float_equal(s->power_kw, 11, 1e-9);
    assert_int_equal(s->reported_at_ms, 1795246198000LL);
    assert_true(s->fields & D2EV_OEM_F_ONLINE);
    assert_true(s->online);

    /* unreachable: the last known state, nulls left out, lastSeen as the time */
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_READ, "enode", "vehicle_unreachable_nulls.http"),
                     D2EV_OEM_OK);
    assert_false(f.state.online);
    assert_float_equal(f.state.soc_pct, 71, 1e-9);
    assert_int_equal(f.state.charging_state, D2EV_CHG_STOPPED);
    assert_false(f.state.fields & (D2EV_OEM_F_RANGE_KM | D2EV_OEM_F_BATTERY_KWH |
                                   D2EV_OEM_F_CHARGE_LIMIT | D2EV_OEM_F_POWER_KW));
    assert_int_equal(f.state.reported_at_ms, 1795237200000LL);
    fx_close(&f);
}

static void test_action_flow(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "enode", CONFIG, NULL);
    /* step 0: the action is created PENDING; its id is kept for step 1 */
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_START, "enode", "action_pending.http"), D2EV_OEM_OK);
    assert_int_equal(f.res.next, D2EV_OEM_NEXT_STEP);
    assert_int_equal(f.res.next_step, 1);
    assert_int_equal(f.res.next_delay_ms, 250);
    assert_string_equal(f.flow.ref, ACTION);
    f.flow.step = 1;
    f.flow.elapsed_ms = 300;
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_START, "enode", "action_pending.http"), D2EV_OEM_OK);
    assert_int_equal(f.res.next, D2EV_OEM_NEXT_STEP);
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_START, "enode", "action_confirmed.http"),
                     D2EV_OEM_OK);
    assert_int_equal(f.res.next, D2EV_OEM_NEXT_DONE);
    assert_int_equal(f.res.command, D2EV_OEM_CMD_CONFIRMED);
    /* FAILED / CANCELLED are the flow's verdict, not a failed request */
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_START, "enode", "action_failed.http"),
                     D2EV_OEM_RETRY);
    assert_true(f.res.final);
    assert_non_null(strstr(f.res.message, "did not respond"));
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_STOP, "enode", "action_cancelled.http"),
                     D2EV_OEM_RETRY);
    assert_true(f.res.final);
    /* still pending at the timeout */
    f.flow.elapsed_ms = 4900;
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_START, "enode", "action_pending.http"),
                     D2EV_OEM_RETRY);
    assert_true(f.res.final);
    fx_close(&f);
}

static void test_error_table(void **state)
{
    static const struct fx_case cases[] = {
        { "error_400.http", D2EV_OEM_PERMANENT }, { "error_401.http", D2EV_OEM_UNAUTHORIZED },
        { "error_403.http", D2EV_OEM_PERMANENT }, { "error_404.http", D2EV_OEM_PERMANENT },
        { "error_409.http", D2EV_OEM_PERMANENT }, { "error_429.http", D2EV_OEM_RATE_LIMITED },
        { "error_500.http", D2EV_OEM_RETRY },
    };
    struct fx f;
    fx_open(&f, NULL, "enode", NULL, NULL);
    fx_check_classes(&f, "enode", cases, sizeof(cases) / sizeof(cases[0]), D2EV_OEM_OP_READ,
                     D2EV_OEM_OP_STOP);
    fx_parse(&f, D2EV_OEM_OP_READ, "enode", "error_429.http");
    assert_int_equal(f.res.retry_after_ms, 3000);
    fx_parse(&f, D2EV_OEM_OP_READ, "enode", "error_404.http");
    assert_non_null(strstr(f.res.message, "Vehicle not found"));
    fx_close(&f);
}

static void test_tokens(void **state)
{
    struct fx f;
    fx_open(&f, NULL, "enode", CONFIG, "esecret");
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_REFRESH, "enode", "token_ok.http"), D2EV_OEM_OK);
    assert_string_equal(f.tokens.access_token, "eyJhbGciOiJIUzI1NiJ9.enode-app-token.sig");
    assert_null(f.tokens.refresh_token);
    assert_int_equal(f.tokens.expires_in_s, 3600);
    assert_int_equal(fx_parse(&f, D2EV_OEM_OP_REFRESH, "enode", "token_invalid_client.http"),
                     D2EV_OEM_UNAUTHORIZED);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe),    cmocka_unit_test(test_build),
        cmocka_unit_test(test_parse_read),  cmocka_unit_test(test_action_flow),
        cmocka_unit_test(test_error_table), cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
