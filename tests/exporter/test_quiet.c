/* Unit: quiet hours, the input rate and the flush decision, on a manual clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/tz.h"
#include "quiet.h"

#define MIN  60000LL
#define HOUR 3600000LL
#define DAY  86400000LL
/* 2026-11-21T00:00:00Z (a Saturday; London is on GMT) */
#define D0 (20778LL * DAY)
/* 2026-03-29T00:00:00Z: clocks go forward at 01:00 UTC in London */
#define SPRING (20541LL * DAY)
/* 2026-10-25T00:00:00Z: clocks go back at 01:00 UTC in London */
#define AUTUMN (20751LL * DAY)

static void test_window_parse(void **state)
{
    (void)state;
    struct exp_window w;
    struct d2ev_err err = { 0 };
    assert_int_equal(exp_window_parse("01:00-05:00", &w, &err), 0);
    assert_int_equal(w.start, 60);
    assert_int_equal(w.end, 300);
    assert_int_equal(exp_window_parse("22:30-04:15", &w, &err), 0);
    assert_int_equal(w.start, 22 * 60 + 30);
    assert_int_equal(w.end, 4 * 60 + 15);
    assert_int_equal(exp_window_parse("00:00-24:00", &w, &err), 0);
    assert_int_equal(w.end, 1440);
    assert_int_equal(exp_window_parse("23:00-00:00", &w, &err), 0); /* to midnight */
    assert_int_equal(w.end, 1440);
    const char *bad[] = {
        "01:00-01:00", "1:00-05:00",  "01:00-5:00", "01:60-05:00", "25:00-05:00",
        "24:00-05:00", "01:00 05:00", "",           "01:00-24:01", "00:00-00:00"
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (exp_window_parse(bad[i], &w, &err) != D2EV_ERR_INVALID)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(strstr(err.msg, "quiet-hours"));
    }
}

static void test_window_contains_utc_and_wrap(void **state)
{
    (void)state;
    struct exp_window w;
    exp_window_parse("01:00-05:00", &w, NULL);
    const struct d2ev_tz *utc = d2ev_tz_get("UTC", NULL);
    assert_non_null(utc);
    assert_false(exp_window_contains(&w, utc, D0 + HOUR - 1));
    assert_true(exp_window_contains(&w, utc, D0 + HOUR));
    assert_true(exp_window_contains(&w, utc, D0 + 5 * HOUR - 1));
    assert_false(exp_window_contains(&w, utc, D0 + 5 * HOUR));
    exp_window_parse("22:00-02:00", &w, NULL);
    assert_true(exp_window_contains(&w, utc, D0 - 2 * HOUR));
    assert_true(exp_window_contains(&w, utc, D0));
    assert_true(exp_window_contains(&w, utc, D0 + 2 * HOUR - 1));
    assert_false(exp_window_contains(&w, utc, D0 + 2 * HOUR));
    assert_false(exp_window_contains(&w, utc, D0 - 2 * HOUR - 1));
    exp_window_parse("00:00-24:00", &w, NULL);
    for (int64_t t = D0; t < D0 + DAY; t += 7 * MIN)
        assert_true(exp_window_contains(&w, utc, t));
}

static void test_window_in_local_time_across_dst(void **state)
{
    (void)state;
    struct exp_window w;
    exp_window_parse("01:00-05:00", &w, NULL);
    const struct d2ev_tz *ldn = d2ev_tz_get("Europe/London", NULL);
    const struct d2ev_tz *ber = d2ev_tz_get("Europe/Berlin", NULL);
    assert_non_null(ldn);
    assert_non_null(ber);
    /* summer: 01:00 London is 00:00 UTC */
    int64_t july = 20645LL * DAY; /* 2026-07-11 */
    assert_true(exp_window_contains(&w, ldn, july));
    assert_false(exp_window_contains(&w, ldn, july + 4 * HOUR));
    /* Berlin in winter: 01:00-05:00 local is 00:00-04:00 UTC */
    assert_true(exp_window_contains(&w, ber, D0));
    assert_false(exp_window_contains(&w, ber, D0 + 4 * HOUR));
    /* spring forward: 01:00-02:00 London does not exist; the window is 02:00-05:00 BST
     * = 01:00-04:00 UTC, three hours */
    int64_t inside = 0;
    for (int64_t t = SPRING; t < SPRING + DAY; t += MIN)
        inside += exp_window_contains(&w, ldn, t);
    assert_int_equal(inside, 3 * 60);
    assert_false(exp_window_contains(&w, ldn, SPRING + 30 * MIN)); /* 00:30 GMT */
    assert_true(exp_window_contains(&w, ldn, SPRING + HOUR));      /* 02:00 BST */
    /* fall back: 01:00-02:00 London happens twice; the window is five hours */
    inside = 0;
    for (int64_t t = AUTUMN; t < AUTUMN + DAY; t += MIN)
        inside += exp_window_contains(&w, ldn, t);
    assert_int_equal(inside, 5 * 60);
    assert_true(exp_window_contains(&w, ldn, AUTUMN));        /* 01:00 BST */
    assert_true(exp_window_contains(&w, ldn, AUTUMN + HOUR)); /* 01:00 GMT */
}

static void test_rate(void **state)
{
    (void)state;
    struct exp_rate r;
    memset(&r, 0, sizeof(r));
    double v = -1;
    assert_false(exp_rate_get(&r, D0, 60000, &v));
    exp_rate_sample(&r, D0, 1000);
    assert_false(exp_rate_get(&r, D0, 60000, &v));
    exp_rate_sample(&r, D0 + 30000, 1300);
    assert_false(exp_rate_get(&r, D0 + 30000, 60000, &v)); /* does not span a minute yet */
    exp_rate_sample(&r, D0 + 60000, 1600);
    assert_true(exp_rate_get(&r, D0 + 60000, 60000, &v));
    assert_true(v > 9.99 && v < 10.01);
    /* producers stop: after a minute of no growth the rate is 0 */
    for (int64_t t = D0 + 61000; t <= D0 + 121000; t += 1000)
        exp_rate_sample(&r, t, 1600);
    assert_true(exp_rate_get(&r, D0 + 121000, 60000, &v));
    assert_true(v == 0);
    /* a watermark going back (partitions moved) resets the history */
    exp_rate_sample(&r, D0 + 122000, 5);
    assert_false(exp_rate_get(&r, D0 + 122000, 60000, &v));
    /* samples closer than 100 ms replace the last one */
    exp_rate_sample(&r, D0 + 123000, 10);
    exp_rate_sample(&r, D0 + 123050, 20);
    assert_int_equal(r.n, 2);
    exp_rate_sample(&r, D0 + 123080, 30);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.v[(r.head + 1) % EXP_RATE_SAMPLES], 30);
    /* the ring keeps the newest samples */
    exp_rate_reset(&r);
    for (int64_t i = 0; i < 2000; i++)
        exp_rate_sample(&r, D0 + i * 1000, i);
    assert_int_equal(r.n, EXP_RATE_SAMPLES);
    assert_true(exp_rate_get(&r, D0 + 1999000, 100000, &v));
    assert_true(v > 0.99 && v < 1.01);
}

static struct exp_policy policy(void)
{
    struct exp_policy p = {
        .batch_rows = 1000,
        .batch_bytes = 1 << 20,
        .max_age_ms = 6 * HOUR,
        .interval_ms = HOUR,
        .tz = d2ev_tz_get("Europe/London", NULL),
        .max_lag = 100,
        .max_rate = 5,
    };
    exp_window_parse("01:00-05:00", &p.window, NULL);
    return p;
}

/* The exporter's view on the manual clock: rows held since `since`. */
static struct exp_signals seen(uint64_t rows, int64_t since)
{
    return (struct exp_signals){ .now = d2ev_clock_now_ms(),
                                 .rows = rows,
                                 .bytes = rows * 300,
                                 .oldest = rows ? since : INT64_MAX,
                                 .last_timed = INT64_MIN,
                                 .lag = 0,
                                 .rate_known = true,
                                 .rate = 0.5 };
}

static void test_decide_full_quiet_age(void **state)
{
    (void)state;
    struct exp_policy p = policy();
    d2ev_clock_set_manual(D0 + 12 * HOUR); /* noon: not quiet hours */
    struct exp_signals s = seen(0, 0);
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_NONE);
    s = seen(10, d2ev_clock_now_ms() - HOUR);
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_NONE);
    assert_false(exp_policy_quiet(&p, &s));
    s = seen(1000, d2ev_clock_now_ms());
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_FULL);
    s = seen(10, d2ev_clock_now_ms());
    s.bytes = 1 << 20;
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_FULL);
    /* at 01:00 the platform is quiet (lag 0, rate 0.5/s) */
    d2ev_clock_set_manual(D0 + 25 * HOUR);
    s = seen(10, D0 + 12 * HOUR);
    assert_true(exp_policy_quiet(&p, &s));
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_QUIET);
    /* ... but not while the producers are busy, the exporter lags, or either is unknown */
    s.rate = 6;
    assert_false(exp_policy_quiet(&p, &s));
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_AGE); /* 13 h old > 6 h */
    s.rate = 0.5;
    s.lag = 101; /* behind: reading on fills the batch; old rows wait for that */
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_NONE);
    s.lag = 100;
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_QUIET);
    s.rate = 6;
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_AGE);
    s.oldest = d2ev_clock_now_ms() - HOUR;
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_NONE);
    s.rate = 0.5;
    s.lag = -1;
    assert_false(exp_policy_quiet(&p, &s));
    s.lag = 0;
    s.rate_known = false;
    assert_false(exp_policy_quiet(&p, &s));
    /* a quiet flush 30 minutes ago: the next waits for the interval */
    s = seen(10, d2ev_clock_now_ms() - 7 * HOUR);
    s.last_timed = d2ev_clock_now_ms() - 30 * MIN;
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_NONE);
    d2ev_clock_advance_ms(30 * MIN);
    s.now = d2ev_clock_now_ms();
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_QUIET);
    /* full flushes ignore the interval */
    s.rows = 1000;
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_FULL);
    /* busy all night: the maximum age still gets the rows out */
    d2ev_clock_set_manual(D0 + 14 * HOUR);
    s = seen(10, D0 + 8 * HOUR - 1);
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_AGE);
    s = seen(10, D0 + 8 * HOUR + 1);
    assert_int_equal(exp_policy_decide(&p, &s), EXP_FLUSH_NONE);
    assert_string_equal(exp_flush_reason_name(EXP_FLUSH_AGE), "age");
    assert_string_equal(exp_flush_reason_name(EXP_FLUSH_QUIET), "quiet");
    assert_string_equal(exp_flush_reason_name(EXP_FLUSH_FULL), "full");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_parse),
        cmocka_unit_test(test_window_contains_utc_and_wrap),
        cmocka_unit_test(test_window_in_local_time_across_dst),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_decide_full_quiet_age),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
