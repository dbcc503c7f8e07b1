/* Unit tests of the poll timer heap and the schedule view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "d2ev/util.h"
#include "poll_heap.h"
#include "sched_view.h"

#define N 2000

static void test_pops_in_due_order_with_updates_and_removals(void **state)
{
    static struct poll_timer t[N];
    static int64_t due[N];
    static bool queued[N];
    struct poll_heap h = { 0 };
    uint64_t rng = 42;
    for (int i = 0; i < N; i++) {
        poll_timer_init(&t[i]);
        due[i] = (int64_t)(d2ev_rand_next(&rng) % 100000);
        assert_int_equal(poll_heap_set(&h, &t[i], due[i]), 0);
        queued[i] = true;
    }
    /* move a third, remove a tenth */
    for (int i = 0; i < N; i += 3) {
        due[i] = (int64_t)(d2ev_rand_next(&rng) % 100000);
        assert_int_equal(poll_heap_set(&h, &t[i], due[i]), 0);
    }
    for (int i = 0; i < N; i += 10) {
        poll_heap_remove(&h, &t[i]);
        queued[i] = false;
        assert_false(poll_timer_queued(&t[i]));
    }
    poll_heap_remove(&h, &t[0]); /* twice is harmless */
    int64_t last = INT64_MIN;
    size_t popped = 0;
    struct poll_timer *p;
    while ((p = poll_heap_pop(&h))) {
        size_t i = (size_t)(p - t);
        assert_true(queued[i]);
        assert_int_equal(p->due, due[i]);
        assert_true(p->due >= last);
        last = p->due;
        queued[i] = false;
        popped++;
    }
    for (int i = 0; i < N; i++)
        assert_false(queued[i]);
    assert_int_equal(popped, N - N / 10);
    poll_heap_free(&h);
}

static void test_equal_due_times_keep_arrival_order(void **state)
{
    struct poll_timer t[5];
    struct poll_heap h = { 0 };
    for (int i = 0; i < 5; i++) {
        poll_timer_init(&t[i]);
        poll_heap_set(&h, &t[i], 7);
    }
    for (int i = 0; i < 5; i++)
        assert_ptr_equal(poll_heap_pop(&h), &t[i]);
    assert_null(poll_heap_top(&h));
    poll_heap_free(&h);
}

static void test_schedule_view_boundaries(void **state)
{
    struct d2ev_window w[2] = { { 100, 200, 1 }, { 300, 400, 1 } };
    struct d2ev_schedule s;
    memset(&s, 0, sizeof(s));
    s.version = 3;
    s.created_at = 50;
    s.nwindows = 2;
    s.windows = w;
    struct tel_sched *v = tel_sched_from(&s);
    assert_non_null(v);
    assert_false(tel_sched_charging_at(v, 99));
    assert_true(tel_sched_charging_at(v, 100));
    assert_true(tel_sched_charging_at(v, 199));
    assert_false(tel_sched_charging_at(v, 200));
    assert_int_equal(tel_sched_window_start(v, 350), 300);
    assert_int_equal(tel_sched_next_boundary(v, 0), 100);
    assert_int_equal(tel_sched_next_boundary(v, 100), 200);
    assert_int_equal(tel_sched_next_boundary(v, 250), 300);
    assert_int_equal(tel_sched_next_boundary(v, 400), TEL_NO_TIME_AFTER);
    assert_int_equal(tel_sched_prev_boundary(v, 99), TEL_NO_TIME_BEFORE);
    assert_int_equal(tel_sched_prev_boundary(v, 150), 100);
    assert_int_equal(tel_sched_prev_boundary(v, 250), 200);
    assert_int_equal(tel_sched_paused_since(v, 60), 50); /* before the first window */
    assert_int_equal(tel_sched_paused_since(v, 150), 0);
    assert_int_equal(tel_sched_paused_since(v, 250), 200);
    assert_int_equal(tel_sched_paused_since(v, 500), 400);
    assert_false(tel_sched_charging_at(NULL, 150));
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pops_in_due_order_with_updates_and_removals),
        cmocka_unit_test(test_equal_due_times_keep_arrival_order),
        cmocka_unit_test(test_schedule_view_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
