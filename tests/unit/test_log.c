/* Unit tests for JSON-lines logging (common/log.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "d2ev/log.h"

static char *capture(void (*fn)(void))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    d2ev_log_set_stream(f);
    fn();
    d2ev_log_set_stream(NULL);
    fclose(f);
    return buf;
}

static void emit_basic(void)
{
    d2ev_log_info("polled", D2EV_LF_STR("vehicle_id", "v-1"), D2EV_LF_DBL("soc", 54.5),
                  D2EV_LF_INT("n", 3), D2EV_LF_BOOL("plugged", true));
}

static void test_line_is_json_with_fields(void **state)
{
    d2ev_log_init("telemetry", D2EV_LOG_INFO);
    char *out = capture(emit_basic);
    assert_non_null(strchr(out, '\n'));
    json_error_t e;
    json_t *o = json_loads(out, 0, &e);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(o, "service")), "telemetry");
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "polled");
    assert_string_equal(json_string_value(json_object_get(o, "vehicle_id")), "v-1");
    assert_true(json_real_value(json_object_get(o, "soc")) == 54.5);
    assert_int_equal(json_integer_value(json_object_get(o, "n")), 3);
    assert_true(json_is_true(json_object_get(o, "plugged")));
    assert_non_null(json_object_get(o, "ts"));
    json_decref(o);
    free(out);
}

static void emit_secrets(void)
{
    d2ev_log_warn("refresh", D2EV_LF_STR("access_token", "AT-SECRET-1"),
                  D2EV_LF_STR("refresh_token", "RT-SECRET-2"),
                  D2EV_LF_STR("client_secret", "CS-SECRET-3"),
                  D2EV_LF_STR("Authorization", "Bearer AT-SECRET-4"),
                  D2EV_LF_STR("sasl_password", "PW-SECRET-5"), D2EV_LF_STR("vehicle_id", "v-9"));
}

static void test_secrets_are_redacted(void **state)
{
    d2ev_log_init("registration", D2EV_LOG_DEBUG);
    char *out = capture(emit_secrets);
    assert_null(strstr(out, "SECRET"));
    assert_non_null(strstr(out, "[redacted]"));
    assert_non_null(strstr(out, "v-9"));
    free(out);
}

static void emit_hostile(void)
{
    d2ev_log_error("bad \"input\"\n", D2EV_LF_STR("raw", "\xff\xfe ok \x01"));
}

static void test_hostile_strings_stay_valid_json(void **state)
{
    d2ev_log_init("x", D2EV_LOG_INFO);
    char *out = capture(emit_hostile);
    json_t *o = json_loads(out, 0, NULL);
    assert_non_null(o); /* jansson rejects invalid UTF-8, so this proves it was escaped */
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "bad \"input\"\n");
    json_decref(o);
    free(out);
}

static void emit_debug(void)
{
    d2ev_log_debug("hidden");
}

static void test_level_filter(void **state)
{
    d2ev_log_init("x", D2EV_LOG_INFO);
    char *out = capture(emit_debug);
    assert_string_equal(out, "");
    free(out);
    enum d2ev_log_level l;
    assert_int_equal(d2ev_log_level_parse("WARN", &l), 0);
    assert_int_equal(l, D2EV_LOG_WARN);
    assert_int_not_equal(d2ev_log_level_parse("loud", &l), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_is_json_with_fields),
        cmocka_unit_test(test_secrets_are_redacted),
        cmocka_unit_test(test_hostile_strings_stay_valid_json),
        cmocka_unit_test(test_level_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
