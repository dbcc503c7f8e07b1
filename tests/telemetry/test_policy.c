/* Unit tests of the poll policy: classes, intervals, backoff and budgets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy.h"
#include "sched_view.h"

#define MIN 60000LL

static struct tel_poll_input input(bool plugged, bool charging)
{
    return (struct tel_poll_input){ .has_sample = true,
                                    .plugged = plugged,
                                    .charging = charging,
                                    .next_boundary = TEL_NO_TIME_AFTER,
                                    .prev_boundary = TEL_NO_TIME_BEFORE };
}

static void test_classes(void **state)
{
    struct tel_policy p;
    tel_policy_default(&p);
    int64_t now = 1000 * MIN;
    struct tel_poll_input in = input(true, true);
    assert_int_equal(tel_policy_class(&p, &in, now), TEL_CLASS_CHARGING);
    in = input(true, false);
    assert_int_equal(tel_policy_class(&p, &in, now), TEL_CLASS_PLUGGED);
    in = input(false, false);
    assert_int_equal(tel_policy_class(&p, &in, now), TEL_CLASS_UNPLUGGED);
    in.asleep = true;
    assert_int_equal(tel_policy_class(&p, &in, now), TEL_CLASS_ASLEEP);
    in = input(true, false);
    in.next_boundary = now + 5 * MIN; /* a window starts soon */
    assert_int_equal(tel_policy_class(&p, &in, now), TEL_CLASS_BOUNDARY);
    in.next_boundary = now + 60 * MIN;
    in.prev_boundary = now - 3 * MIN; /* one just passed */
    assert_int_equal(tel_policy_class(&p, &in, now), TEL_CLASS_BOUNDARY);
    in = input(true, false);
    in.sched_says_charge = true; /* should charge, does not */
    assert_int_equal(tel_policy_class(&p, &in, now), TEL_CLASS_BOUNDARY);
    in = input(false, false);
    in.next_boundary = now + 5 * MIN; /* boundaries do not matter unplugged */
    assert_int_equal(tel_policy_class(&p, &in, now), TEL_CLASS_UNPLUGGED);
    in.has_sample = false;
    assert_int_equal(tel_policy_class(&p, &in, now), TEL_CLASS_NEW);
}

static void test_intervals_with_jitter_and_boundaries(void **state)
{
    struct tel_policy p;
    tel_policy_default(&p);
    uint64_t rng = 7;
    int64_t now = 1000 * MIN;
    struct tel_poll_input in = input(true, true);
    for (int i = 0; i < 200; i++) {
        int64_t due = tel_policy_next(&p, TEL_CLASS_CHARGING, &in, now, &rng);
        assert_true(due >= now + (int64_t)(p.charging_ms * 0.9) - 1);
        assert_true(due <= now + (int64_t)(p.charging_ms * 1.1) + 1);
        due = tel_policy_next(&p, TEL_CLASS_UNPLUGGED, &in, now, &rng);
        assert_true(due >= now + (int64_t)(p.unplugged_ms * 0.9) - 1);
    }
    /* a plugged-in car is polled just after its next boundary */
    in = input(true, false);
    in.next_boundary = now + 4 * MIN;
    int64_t due = tel_policy_next(&p, TEL_CLASS_PLUGGED, &in, now, &rng);
    assert_int_equal(due, now + 4 * MIN + p.boundary_after_ms);
    /* new vehicles are spread over the initial window */
    in.has_sample = false;
    for (int i = 0; i < 100; i++) {
        due = tel_policy_next(&p, TEL_CLASS_NEW, &in, now, &rng);
        assert_true(due >= now && due <= now + p.initial_spread_ms);
    }
}

static void test_backoff_honours_retry_after(void **state)
{
    struct tel_policy p;
    tel_policy_default(&p);
    uint64_t rng = 9;
    int64_t now = 0;
    for (unsigned e = 1; e < 12; e++) {
        int64_t d = tel_policy_backoff(&p, e, 0, now, &rng);
        int64_t full = p.backoff_base_ms << (e - 1);
        if (full > p.backoff_max_ms)
            full = p.backoff_max_ms;
        assert_true(d >= full / 2 && d <= full);
    }
    /* Retry-After longer than the backoff wins */
    assert_int_equal(tel_policy_backoff(&p, 1, 50 * MIN, now, &rng), 50 * MIN);
    assert_true(tel_policy_backoff(&p, 1, 1000, now, &rng) >= p.backoff_base_ms / 2);
}

static void test_vehicle_budget(void **state)
{
    struct tel_policy p;
    tel_policy_default(&p);
    p.vehicle_per_hour = 6; /* one every 10 minutes */
    p.vehicle_burst = 2;
    struct tel_budget b;
    tel_budget_init(&b, &p, 0);
    assert_true(tel_budget_take(&b, &p, 0));
    assert_true(tel_budget_take(&b, &p, 0));
    assert_false(tel_budget_take(&b, &p, 0));
    int64_t ready = tel_budget_ready(&b, &p, 0);
    assert_true(ready >= 10 * MIN - 1 && ready <= 10 * MIN + 1);
    assert_int_equal(tel_budget_ready(&b, &p, 20 * MIN), 20 * MIN);
    assert_false(tel_budget_take(&b, &p, 9 * MIN));
    assert_true(tel_budget_take(&b, &p, ready));
    /* over an hour, never more than burst + rate */
    int polls = 0;
    for (int64_t t = ready; t < ready + 60 * MIN; t += 1000)
        polls += tel_budget_take(&b, &p, t);
    assert_true(polls <= 6 + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_intervals_with_jitter_and_boundaries),
        cmocka_unit_test(test_backoff_honours_retry_after),
        cmocka_unit_test(test_vehicle_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
