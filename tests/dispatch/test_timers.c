/* The dispatcher's timer heap: order, ties, re-arming, disarming, against a reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/util.h"
#include "timers.h"

struct item {
    struct dsp_timer t;
    int id;
};

#define ITEM(n) ((struct item *)((char *)(n)-offsetof(struct item, t)))

static void test_fires_in_due_order_and_ties_in_arming_order(void **state)
{
    (void)state;
    struct dsp_timers h = { 0 };
    struct item it[6];
    memset(it, 0, sizeof(it));
    int64_t due[6] = { 50, 10, 30, 10, 70, 30 };
    for (int i = 0; i < 6; i++) {
        it[i].id = i;
        assert_int_equal(dsp_timers_arm(&h, &it[i].t, due[i]), 0);
    }
    assert_int_equal(dsp_timers_count(&h), 6);
    assert_int_equal(dsp_timers_next(&h), 10);
    /* nothing before 10 */
    assert_null(dsp_timers_pop_due(&h, 9));
    int want[6] = { 1, 3, 2, 5, 0, 4 };
    for (int i = 0; i < 6; i++) {
        struct dsp_timer *t = dsp_timers_pop_due(&h, 1000);
        assert_non_null(t);
        assert_int_equal(ITEM(t)->id, want[i]);
        assert_false(dsp_timer_armed(t));
    }
    assert_null(dsp_timers_pop_due(&h, INT64_MAX - 1));
    assert_int_equal(dsp_timers_next(&h), DSP_TIMER_NONE);
    dsp_timers_free(&h);
}

static void test_rearm_moves_and_disarm_removes(void **state)
{
    (void)state;
    struct dsp_timers h = { 0 };
    struct item a = { .id = 1 }, b = { .id = 2 }, c = { .id = 3 };
    dsp_timers_arm(&h, &a.t, 100);
    dsp_timers_arm(&h, &b.t, 200);
    dsp_timers_arm(&h, &c.t, 300);
    dsp_timers_arm(&h, &c.t, 50); /* earlier */
    assert_int_equal(dsp_timers_next(&h), 50);
    dsp_timers_arm(&h, &c.t, 400); /* later again */
    assert_int_equal(dsp_timers_next(&h), 100);
    dsp_timers_disarm(&h, &a.t); /* the root */
    assert_false(dsp_timer_armed(&a.t));
    dsp_timers_disarm(&h, &a.t); /* twice is harmless */
    assert_int_equal(dsp_timers_count(&h), 2);
    assert_int_equal(ITEM(dsp_timers_pop_due(&h, 1000))->id, 2);
    dsp_timers_arm(&h, &c.t, DSP_TIMER_NONE); /* NONE disarms */
    assert_int_equal(dsp_timers_count(&h), 0);
    dsp_timers_free(&h);
}

static int cmp_due(const void *x, const void *y)
{
    const struct item *a = *(struct item *const *)x, *b = *(struct item *const *)y;
    if (a->t.due != b->t.due)
        return a->t.due < b->t.due ? -1 : 1;
    return a->t.seq < b->t.seq ? -1 : 1;
}

/* Random arms, re-arms and disarms; the heap pops what a sort would. */
static void test_random_against_sorting(void **state)
{
    (void)state;
    enum { N = 3000 };
    struct item *it = calloc(N, sizeof(*it));
    struct dsp_timers h = { 0 };
    uint64_t rng = 42;
    for (int i = 0; i < N; i++) {
        it[i].id = i;
        dsp_timers_arm(&h, &it[i].t, (int64_t)(d2ev_rand_next(&rng) % 500));
    }
    for (int k = 0; k < 4 * N; k++) {
        struct item *x = &it[d2ev_rand_next(&rng) % N];
        if (d2ev_rand_next(&rng) % 5 == 0)
            dsp_timers_disarm(&h, &x->t);
        else
            dsp_timers_arm(&h, &x->t, (int64_t)(d2ev_rand_next(&rng) % 500));
    }
    struct item **ref = calloc(N, sizeof(*ref));
    size_t n = 0;
    for (int i = 0; i < N; i++)
        if (dsp_timer_armed(&it[i].t))
            ref[n++] = &it[i];
    assert_int_equal(n, dsp_timers_count(&h));
    qsort(ref, n, sizeof(*ref), cmp_due);
    for (size_t i = 0; i < n; i++) {
        struct dsp_timer *t = dsp_timers_pop_due(&h, 1000);
        assert_non_null(t);
        assert_ptr_equal(ITEM(t), ref[i]);
    }
    assert_int_equal(dsp_timers_count(&h), 0);
    free(ref);
    free(it);
    dsp_timers_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_in_due_order_and_ties_in_arming_order),
        cmocka_unit_test(test_rearm_moves_and_disarm_removes),
        cmocka_unit_test(test_random_against_sorting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
