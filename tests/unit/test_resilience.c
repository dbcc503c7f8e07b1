/* Unit tests for backoff, token bucket and circuit breaker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "d2ev/resilience.h"

static void test_backoff_grows_caps_and_jitters(void **state)
{
    struct d2ev_backoff b = { .base_ms = 100, .max_ms = 5000, .factor = 2.0, .jitter = 0 };
    uint64_t rng = 42;
    assert_int_equal(d2ev_backoff_delay_ms(&b, 1, &rng), 100);
    assert_int_equal(d2ev_backoff_delay_ms(&b, 2, &rng), 200);
    assert_int_equal(d2ev_backoff_delay_ms(&b, 4, &rng), 800);
    assert_int_equal(d2ev_backoff_delay_ms(&b, 20, &rng), 5000);
    assert_int_equal(d2ev_backoff_delay_ms(&b, 2000, &rng), 5000); /* no overflow */
    b.jitter = 0.5;
    int64_t lo = 1 << 30, hi = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t d = d2ev_backoff_delay_ms(&b, 3, &rng);
        assert_true(d >= 200 && d <= 400);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    assert_true(hi - lo > 100); /* it really is spread */
}

static void test_token_bucket_rate_and_retry_after(void **state)
{
    struct d2ev_token_bucket tb;
    d2ev_token_bucket_init(&tb, 10.0, 5.0, 0);
    for (int i = 0; i < 5; i++)
        assert_true(d2ev_token_bucket_take(&tb, 0, 1));
    assert_false(d2ev_token_bucket_take(&tb, 0, 1));
    assert_int_equal(d2ev_token_bucket_wait_ms(&tb, 0, 1), 100);
    assert_true(d2ev_token_bucket_take(&tb, 100, 1));
    /* over 10 s at most burst + rate*10 tokens are granted */
    int granted = 0;
    for (int64_t t = 100; t <= 10100; t += 7)
        granted += d2ev_token_bucket_take(&tb, t, 1);
    assert_true(granted <= 100 + 1);
    assert_true(granted >= 99);
    /* Retry-After blocks everything until the given time */
    d2ev_token_bucket_block_until(&tb, 20000);
    assert_false(d2ev_token_bucket_take(&tb, 19999, 1));
    assert_int_equal(d2ev_token_bucket_wait_ms(&tb, 15000, 1), 5000 + 100);
    d2ev_token_bucket_block_until(&tb, 18000); /* cannot shorten */
    assert_false(d2ev_token_bucket_take(&tb, 19000, 1));
    assert_true(d2ev_token_bucket_take(&tb, 20100, 1));
}

static void test_breaker_opens_probes_and_closes(void **state)
{
    struct d2ev_breaker b;
    d2ev_breaker_init(&b);
    b.min_requests = 4;
    b.open_ms = 1000;
    b.half_open_probes = 2;
    int64_t t = 0;
    for (int i = 0; i < 3; i++) {
        assert_true(d2ev_breaker_allow(&b, t));
        d2ev_breaker_record(&b, t, false);
    }
    assert_int_equal(b.state, D2EV_BREAKER_CLOSED); /* not enough requests yet */
    assert_true(d2ev_breaker_allow(&b, t));
    d2ev_breaker_record(&b, t, true); /* 3 of 4 failed: 75 % >= 50 % */
    assert_int_equal(b.state, D2EV_BREAKER_OPEN);
    assert_false(d2ev_breaker_allow(&b, 999));
    /* half-open: two probes allowed, a third refused until they report */
    assert_true(d2ev_breaker_allow(&b, 1000));
    assert_int_equal(b.state, D2EV_BREAKER_HALF_OPEN);
    assert_true(d2ev_breaker_allow(&b, 1000));
    assert_false(d2ev_breaker_allow(&b, 1000));
    d2ev_breaker_record(&b, 1001, true);
    d2ev_breaker_record(&b, 1002, false); /* one failure re-opens */
    assert_int_equal(b.state, D2EV_BREAKER_OPEN);
    assert_true(d2ev_breaker_allow(&b, 2100));
    assert_true(d2ev_breaker_allow(&b, 2100));
    d2ev_breaker_record(&b, 2101, true);
    d2ev_breaker_record(&b, 2102, true);
    assert_int_equal(b.state, D2EV_BREAKER_CLOSED);
    assert_int_equal(b.times_opened, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_grows_caps_and_jitters),
        cmocka_unit_test(test_token_bucket_rate_and_retry_after),
        cmocka_unit_test(test_breaker_opens_probes_and_closes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
