/* test_example.c: the example adapter of docs/adapters.md, tested the way every adapter is. */
#include <string.h>

#include "adapter_fixture.h"

#define CONFIG "{\"base_url\": \"http://127.0.0.1:9/ex\", \"client_id\": \"c\"}"

static void test_read(void **state)
{
    struct fx f;
    fx_open(&f, D2EV_TEST_ADAPTER_DIR, "example", CONFIG, "s");
    /* request building: method, URL, headers, body */
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_READ, "car 7"), 0);
    assert_string_equal(f.req.method, "GET");
    assert_string_equal(f.req.url, "http://127.0.0.1:9/ex/cars/car%207");
    assert_int_equal(f.req.auth, D2EV_OEM_AUTH_BEARER);
    /* parsing: a good answer, then the error classes */
    assert_int_equal(fx_parse_text(&f, D2EV_OEM_OP_READ, 200, "Content-Type: application/json",
                                   "{\"soc\": 54, \"plugged\": true, \"charging\": false, "
                                   "\"updated\": \"2026-11-21T07:29:58Z\"}"),
                     D2EV_OEM_OK);
    assert_float_equal(f.state.soc_pct, 54, 1e-9);
    assert_int_equal(f.state.charging_state, D2EV_CHG_STOPPED);
    assert_int_equal(f.state.reported_at_ms, 1795246198000LL);
    assert_int_equal(fx_parse_text(&f, D2EV_OEM_OP_READ, 409, NULL, "{\"error\": \"asleep\"}"),
                     D2EV_OEM_ASLEEP);
    assert_int_equal(fx_parse_text(&f, D2EV_OEM_OP_READ, 429, "Retry-After: 2", "{}"),
                     D2EV_OEM_RATE_LIMITED);
    assert_int_equal(f.res.retry_after_ms, 2000);
    assert_int_equal(fx_parse_text(&f, D2EV_OEM_OP_READ, 401, NULL, "{}"), D2EV_OEM_UNAUTHORIZED);
    assert_int_equal(fx_parse_text(&f, D2EV_OEM_OP_READ, 404, NULL, "{}"), D2EV_OEM_PERMANENT);
    assert_int_equal(fx_parse_text(&f, D2EV_OEM_OP_READ, 503, NULL, "oops"), D2EV_OEM_RETRY);
    fx_close(&f);
}

static void test_commands(void **state)
{
    struct fx f;
    fx_open(&f, D2EV_TEST_ADAPTER_DIR, "example", CONFIG, "s");
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_START, "7"), 0);
    assert_string_equal(f.req.url, "http://127.0.0.1:9/ex/cars/7/charging");
    fx_assert_json_body(&f, "{\"on\": true}");
    assert_int_equal(fx_parse_text(&f, D2EV_OEM_OP_START, 202, NULL, "{\"accepted\": true}"),
                     D2EV_OEM_OK);
    assert_int_equal(f.res.command, D2EV_OEM_CMD_SENT);
    assert_int_equal(fx_build(&f, D2EV_OEM_OP_WAKE, "7"), D2EV_ERR_UNSUPPORTED);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
