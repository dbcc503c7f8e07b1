/* Solvers against each other: greedy vs GLPK LP, the window DP vs the GLPK MILP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/util.h"
#include "plan.h"

#define MAXN 64

struct rp {
    struct plan_slot s[MAXN];
    struct plan_problem p;
};

/* A random problem shaped like the real ones: 30-minute slots, a short first
 * and last slot, an optional forced prefix, capped-out slots, negative prices. */
static void random_problem(uint64_t *seed, struct rp *r, bool windows)
{
    memset(r, 0, sizeof(*r));
    size_t n = 3 + (size_t)(d2ev_rand_unit(seed) * 40);
    double P = 3 + d2ev_rand_unit(seed) * 8;
    int64_t t = 0;
    size_t forced = d2ev_rand_unit(seed) < 0.3 ? 1 + (size_t)(d2ev_rand_unit(seed) * 3) : 0;
    if (forced >= n)
        forced = 0;
    double avail = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t len = 1800000;
        if (i == 0)
            len = 60000 * (1 + (int64_t)(d2ev_rand_unit(seed) * 30));
        if (i == n - 1)
            len = 60000 * (1 + (int64_t)(d2ev_rand_unit(seed) * 30));
        if (i < forced) /* forced prefix slots, then a split slot */
            len = 60000 * (5 + (int64_t)(d2ev_rand_unit(seed) * 25));
        r->s[i].start = t;
        r->s[i].end = t + len;
        t += len;
        r->s[i].ub = P * (double)len / 3600000.0;
        r->s[i].forced = i < forced;
        r->s[i].obj = d2ev_rand_unit(seed) * 40 - 5;
        if (d2ev_rand_unit(seed) < 0.15)
            r->s[i].obj = r->s[(i + n - 1) % n].obj; /* ties */
        if (!r->s[i].forced && d2ev_rand_unit(seed) < 0.1)
            r->s[i].ub = 0;
        avail += r->s[i].ub;
    }
    double forced_e = 0;
    for (size_t i = 0; i < forced; i++)
        forced_e += r->s[i].ub;
    r->p.n = n;
    r->p.slots = r->s;
    r->p.power_kw = P;
    r->p.energy = forced_e + (avail - forced_e) * d2ev_rand_unit(seed) * 0.9;
    if (d2ev_rand_unit(seed) < 0.1) /* whole slots */
        r->p.energy = forced_e + P * 0.5 * (double)(int)(d2ev_rand_unit(seed) * 6);
    if (!windows && r->p.energy > avail)
        r->p.energy = avail;
    if (windows) {
        r->p.max_windows = (int)(d2ev_rand_unit(seed) * 4);
        static const int64_t mins[] = { 0, 0, 20, 30, 60, 90 };
        r->p.min_window_ms = mins[(int)(d2ev_rand_unit(seed) * 6)] * 60000;
    }
}

static void test_greedy_matches_glpk_lp(void **state)
{
    (void)state;
    uint64_t seed = 42;
    for (int it = 0; it < 400; it++) {
        struct rp r;
        random_problem(&seed, &r, false);
        double e1[MAXN], e2[MAXN];
        struct plan_sol s1, s2;
        struct d2ev_err err;
        plan_solve_greedy(&r.p, e1, &s1);
        assert_int_equal(plan_solve_glpk_lp(&r.p, e2, &s2, &err), 0);
        assert_int_equal(s1.outcome, PLAN_OPTIMAL);
        assert_int_equal(s2.outcome, PLAN_OPTIMAL);
        if (fabs(s1.objective - s2.objective) > 1e-6 * (1 + fabs(s2.objective)))
            fail_msg("it %d: greedy %.9f, glpk %.9f", it, s1.objective, s2.objective);
        if (plan_check(&r.p, e1, false, &err))
            fail_msg("it %d: greedy plan invalid: %s", it, err.msg);
    }
}

static void test_dp_matches_milp(void **state)
{
    (void)state;
    uint64_t seed = 7;
    int feasible = 0, infeasible = 0, binding = 0;
    for (int it = 0; it < 600; it++) {
        struct rp r;
        random_problem(&seed, &r, true);
        double e1[MAXN], e2[MAXN], e3[MAXN];
        struct plan_sol s1, s2, s3;
        struct d2ev_err err = { 0 };
        int rc = plan_solve_dp(&r.p, 10000000, e1, &s1, &err);
        if (rc)
            fail_msg("it %d: dp: %s", it, err.msg);
        assert_int_equal(plan_solve_glpk_milp(&r.p, 20000, e2, &s2, &err), 0);
        plan_solve_greedy(&r.p, e3, &s3);
        if (s1.outcome != s2.outcome)
            fail_msg("it %d (n=%zu K=%d L=%lld): dp outcome %d, milp %d (milp obj %.6f)", it, r.p.n,
                     r.p.max_windows, (long long)r.p.min_window_ms / 60000, s1.outcome, s2.outcome,
                     s2.objective);
        if (s1.outcome != PLAN_OPTIMAL) {
            infeasible++;
            continue;
        }
        feasible++;
        if (fabs(s1.objective - s2.objective) > 1e-6 * (1 + fabs(s2.objective)))
            fail_msg("it %d (n=%zu K=%d L=%lld E=%g): dp %.9f, milp %.9f", it, r.p.n,
                     r.p.max_windows, (long long)r.p.min_window_ms / 60000, r.p.energy,
                     s1.objective, s2.objective);
        if (plan_check(&r.p, e1, true, &err))
            fail_msg("it %d: dp plan invalid: %s", it, err.msg);
        if (plan_check(&r.p, e2, true, &err))
            fail_msg("it %d: milp plan invalid: %s", it, err.msg);
        assert_true(s3.objective <= s1.objective + 1e-6 * (1 + fabs(s1.objective)));
        if (s1.objective > s3.objective + 1e-6)
            binding++;
    }
    print_message("dp vs milp: %d feasible, %d infeasible, %d where limits cost more\n", feasible,
                  infeasible, binding);
    assert_true(feasible > 200);
    assert_true(infeasible > 5);
    assert_true(binding > 50);
}

/* Window limits that bind: one window of at least 2 h among cheap scattered slots. */
static void test_windows_bind(void **state)
{
    (void)state;
    struct rp r;
    memset(&r, 0, sizeof(r));
    double obj[] = { 10, 1, 10, 1, 10, 1, 10, 5, 5, 5, 5, 10 };
    size_t n = sizeof(obj) / sizeof(obj[0]);
    for (size_t i = 0; i < n; i++) {
        r.s[i].start = (int64_t)i * 1800000;
        r.s[i].end = r.s[i].start + 1800000;
        r.s[i].ub = 3.5;
        r.s[i].obj = obj[i];
    }
    r.p = (struct plan_problem){ n, r.s, 14.0, 7.0, 0, 0 };
    double e[MAXN];
    struct plan_sol sol;
    struct d2ev_err err;
    plan_solve_greedy(&r.p, e, &sol);
    assert_int_equal(plan_count_windows(&r.p, e), 4); /* the three 1s and the first 5 */
    r.p.max_windows = 1;
    r.p.min_window_ms = 2 * 3600000;
    assert_int_equal(plan_solve_dp(&r.p, 1000000, e, &sol, &err), 0);
    assert_int_equal(sol.outcome, PLAN_OPTIMAL);
    assert_int_equal(plan_count_windows(&r.p, e), 1);
    assert_true(fabs(sol.objective - 20.0 * 3.5) < 1e-9); /* slots 7..10 */
    assert_int_equal(plan_check(&r.p, e, true, &err), 0);
    /* a partial slot sits at the window's edge and the window still lasts 2 h */
    r.p.energy = 15.0;
    assert_int_equal(plan_solve_dp(&r.p, 1000000, e, &sol, &err), 0);
    assert_int_equal(sol.outcome, PLAN_OPTIMAL);
    assert_int_equal(plan_check(&r.p, e, true, &err), 0);
    assert_int_equal(plan_count_windows(&r.p, e), 1);
    /* one window of 7 h cannot deliver only 15 kWh at 7 kW */
    r.p.min_window_ms = 7 * 3600000;
    assert_int_equal(plan_solve_dp(&r.p, 1000000, e, &sol, &err), 0);
    assert_int_equal(sol.outcome, PLAN_INFEASIBLE);
}

static void test_dp_unsupported(void **state)
{
    (void)state;
    struct rp r;
    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < 5; i++) {
        r.s[i].start = (int64_t)i * 1800000;
        r.s[i].end = r.s[i].start + 1800000;
        r.s[i].ub = i == 2 ? 1.0 : 3.5; /* an interior slot of another size */
    }
    r.p = (struct plan_problem){ 5, r.s, 4.0, 7.0, 1, 0 };
    double e[MAXN];
    struct plan_sol sol;
    struct d2ev_err err;
    assert_int_equal(plan_solve_dp(&r.p, 1000000, e, &sol, &err), D2EV_ERR_UNSUPPORTED);
    r.s[2].ub = 3.5;
    assert_int_equal(plan_solve_dp(&r.p, 10, e, &sol, &err), D2EV_ERR_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_matches_glpk_lp),
        cmocka_unit_test(test_dp_matches_milp),
        cmocka_unit_test(test_windows_bind),
        cmocka_unit_test(test_dp_unsupported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
