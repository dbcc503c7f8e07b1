/* Unit tests for the clock and RFC 3339 handling (common/clock.c, common/timefmt.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "d2ev/clock.h"
#include "d2ev/timefmt.h"

static void test_format_and_parse_round_trip(void **state)
{
    char buf[D2EV_TIME_STR_MAX];
    assert_string_equal(d2ev_time_format(0, buf), "1970-01-01T00:00:00.000Z");
    int64_t ms = 0;
    assert_int_equal(d2ev_time_parse("2026-11-21T07:30:00Z", &ms, NULL), 0);
    assert_string_equal(d2ev_time_format(ms, buf), "2026-11-21T07:30:00.000Z");
    assert_int_equal(d2ev_time_parse("2024-02-29T23:59:59.999Z", &ms, NULL), 0);
    assert_string_equal(d2ev_time_format(ms, buf), "2024-02-29T23:59:59.999Z");
    /* offsets convert to UTC */
    assert_int_equal(d2ev_time_parse("2023-03-26T02:30:00+01:00", &ms, NULL), 0);
    assert_string_equal(d2ev_time_format(ms, buf), "2023-03-26T01:30:00.000Z");
    /* pandas style with a space and +00:00, as in the NESO data */
    assert_int_equal(d2ev_time_parse("2023-01-01 00:30:00+00:00", &ms, NULL), 0);
    assert_string_equal(d2ev_time_format(ms, buf), "2023-01-01T00:30:00.000Z");
}

static void test_parse_rejects_bad_input(void **state)
{
    const char *bad[] = { "",
                          "2026-11-21",
                          "2026-11-21T07:30:00",         /* no zone */
                          "2026-13-01T00:00:00Z",        /* month */
                          "2023-02-29T00:00:00Z",        /* not a leap year */
                          "2026-11-21T24:00:00Z",        /* hour */
                          "2026-11-21T07:30:00Zjunk",    /* trailing */
                          "1969-12-31T23:59:59Z",        /* before epoch */
                          "2026-11-21T07:30:00.Z",       /* empty fraction */
                          "2026-11-21T07:30:00+25:00" }; /* offset */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms;
        struct d2ev_err err = { 0 };
        assert_int_equal(d2ev_time_parse(bad[i], &ms, &err), D2EV_ERR_INVALID);
        assert_true(strlen(err.msg) > 0);
    }
}

static void test_civil_days(void **state)
{
    assert_int_equal(d2ev_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(d2ev_days_from_civil(2000, 3, 1), 11017);
    int64_t y;
    unsigned m, d;
    d2ev_civil_from_days(11017, &y, &m, &d);
    assert_int_equal(y, 2000);
    assert_int_equal(m, 3);
    assert_int_equal(d, 1);
}

static void test_manual_clock(void **state)
{
    d2ev_clock_set_manual(1000);
    assert_int_equal(d2ev_clock_now_ms(), 1000);
    d2ev_clock_advance_ms(500);
    assert_int_equal(d2ev_clock_now_ms(), 1500);
    assert_int_equal(d2ev_clock_mode(), D2EV_CLOCK_MANUAL);
    d2ev_clock_use_real();
}

static void test_scaled_clock_is_shared_by_formula(void **state)
{
    /* Two processes configured alike agree: sim = start + (real - origin) * speed */
    int64_t origin = d2ev_clock_real_ms() - 10000; /* 10 s of real time ago */
    int64_t start = 1700000000000;
    assert_int_equal(d2ev_clock_use_scaled(origin, start, 60.0, NULL), 0);
    int64_t sim = d2ev_clock_now_ms();
    /* 10 s real at 60x is 600 s simulated, allow scheduling slack of 2 s real */
    assert_true(sim >= start + 600000 && sim < start + 600000 + 2000 * 60);
    assert_int_equal(d2ev_clock_to_real_ms(60000), 1000);
    d2ev_clock_use_real();
}

static void test_configure_from_text(void **state)
{
    struct d2ev_err err = { 0 };
    assert_int_equal(d2ev_clock_configure("1", NULL, NULL, &err), 0);
    assert_int_equal(d2ev_clock_mode(), D2EV_CLOCK_REAL);
    assert_int_equal(
        d2ev_clock_configure("120", "2026-11-21T00:00:00Z", "2026-11-20T17:00:00Z", &err), 0);
    assert_int_equal(d2ev_clock_mode(), D2EV_CLOCK_SCALED);
    assert_true(d2ev_clock_speed() == 120.0);
    assert_int_equal(d2ev_clock_configure("fast", NULL, NULL, &err), D2EV_ERR_INVALID);
    assert_non_null(strstr(err.msg, "speed"));
    assert_int_equal(d2ev_clock_configure("0", NULL, NULL, &err), D2EV_ERR_INVALID);
    assert_int_equal(d2ev_clock_configure("10", "yesterday", NULL, &err), D2EV_ERR_INVALID);
    assert_non_null(strstr(err.msg, "clock origin"));
    d2ev_clock_use_real();
}

static void test_sleep_until_returns_on_stop(void **state)
{
    volatile int stop = 1;
    int64_t t0 = d2ev_clock_mono_ms();
    assert_false(d2ev_clock_sleep_until(d2ev_clock_now_ms() + 60000, 60000, &stop));
    assert_true(d2ev_clock_mono_ms() - t0 < 1000);
    /* a past deadline is reached at once */
    assert_true(d2ev_clock_sleep_until(d2ev_clock_now_ms() - 1, 1000, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_parse_round_trip),
        cmocka_unit_test(test_parse_rejects_bad_input),
        cmocka_unit_test(test_civil_days),
        cmocka_unit_test(test_manual_clock),
        cmocka_unit_test(test_scaled_clock_is_shared_by_formula),
        cmocka_unit_test(test_configure_from_text),
        cmocka_unit_test(test_sleep_until_returns_on_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
