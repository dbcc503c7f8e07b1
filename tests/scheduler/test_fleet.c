/* Fleet mode: the capacity limit holds, the bound is valid against GLPK, the gap is small. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/timefmt.h"
#include "d2ev/util.h"
#include "fleet.h"
#include "forecast_gen.h"

#define HALF_HOUR 1800000LL
#define NV        60

struct site {
    struct d2ev_prefs prefs[NV];
    struct plan_ctx ctx[NV];
    struct plan_ctx *ptr[NV];
    double *e[NV];
    double pv[200], cv[200];
    struct sched_forecast price, carbon;
    struct plan_options opt;
    int64_t now;
};

static void site_build(struct site *s, size_t nv, uint64_t seed, bool windows)
{
    memset(s, 0, sizeof(*s));
    const struct d2ev_tz *tz = d2ev_tz_get("Europe/London", NULL);
    assert_non_null(tz);
    s->now = 0;
    assert_int_equal(d2ev_time_parse("2025-02-03T17:40:00Z", &s->now, NULL), 0);
    int64_t start = s->now - s->now % HALF_HOUR;
    struct fgen_options g;
    fgen_options_default(&g);
    g.region = "site";
    g.tz = tz;
    fgen_series(&g, D2EV_FORECAST_PRICE, start, 200, s->pv);
    fgen_series(&g, D2EV_FORECAST_CARBON, start, 200, s->cv);
    s->price = (struct sched_forecast){
        .kind = D2EV_FORECAST_PRICE, .start = start, .slot_minutes = 30, .n = 200, .values = s->pv
    };
    snprintf(s->price.currency, sizeof(s->price.currency), "GBP");
    s->carbon = (struct sched_forecast){
        .kind = D2EV_FORECAST_CARBON, .start = start, .slot_minutes = 30, .n = 200, .values = s->cv
    };
    plan_options_default(&s->opt);
    for (size_t i = 0; i < nv; i++) {
        struct d2ev_prefs *p = &s->prefs[i];
        for (int d = 0; d < D2EV_DAYS; d++)
            p->ready_by[d] = (int16_t)(6 * 60 + (int)(d2ev_rand_unit(&seed) * 180));
        p->target_soc = 70 + (int)(d2ev_rand_unit(&seed) * 30);
        p->mode = i % 5 == 0 ? D2EV_MODE_CARBON : i % 7 == 0 ? D2EV_MODE_MIX : D2EV_MODE_COST;
        p->carbon_weight = 0.5;
        if (windows && i % 3 == 0) {
            p->max_windows = 2;
            p->min_window_minutes = 60;
        }
        struct plan_input in = { .now = s->now,
                                 .soc = 10 + d2ev_rand_unit(&seed) * 40,
                                 .battery_kwh = 40 + d2ev_rand_unit(&seed) * 40,
                                 .power_kw = i % 4 == 0 ? 11 : 7.4,
                                 .prefs = p,
                                 .tz = tz,
                                 .price = &s->price,
                                 .carbon = &s->carbon,
                                 .region = "site" };
        struct d2ev_err err;
        assert_int_equal(plan_build(&in, &s->opt, &s->ctx[i], &err), 0);
        assert_true(s->ctx[i].kind == PLAN_KIND_SOLVE);
        s->ptr[i] = &s->ctx[i];
        s->e[i] = calloc(s->ctx[i].prob.n, sizeof(double));
    }
}

static void site_free(struct site *s, size_t nv)
{
    for (size_t i = 0; i < nv; i++) {
        plan_ctx_clear(&s->ctx[i]);
        free(s->e[i]);
    }
}

static void test_fleet_cap_binds(void **state)
{
    (void)state;
    static struct site s;
    site_build(&s, NV, 11, false);
    double limits[40];
    double total_power = 0;
    for (size_t i = 0; i < NV; i++)
        total_power += s.ctx[i].power_kw / s.ctx[i].efficiency;
    for (size_t t = 0; t < 40; t++)
        limits[t] = 0.4 * total_power;
    struct fleet_capacity cap = { s.now - s.now % HALF_HOUR, HALF_HOUR, 40, limits };
    struct fleet_options fo;
    fleet_options_default(&fo);
    fo.max_iterations = 150;
    struct fleet_report rep;
    bool short_of[NV];
    assert_int_equal(fleet_solve(s.ptr, NV, &cap, &s.opt, &fo, s.e, short_of, &rep), 0);
    double lp;
    struct d2ev_err err;
    assert_int_equal(fleet_solve_glpk_lp(s.ptr, NV, &cap, &lp, &err), 0);
    print_message("fleet of %d: lb %.4f, glpk lp %.4f, ub %.4f, gap %.3f %%, %d iterations, "
                  "%.0f ms, short %d\n",
                  NV, rep.lower_bound, lp, rep.upper_bound, rep.gap * 100, rep.iterations,
                  rep.solve_ms, rep.vehicles_short);
    assert_true(rep.max_overload_kw <= 1e-9);
    assert_true(rep.lower_bound <= lp + 1e-6 * fabs(lp));
    assert_int_equal(rep.vehicles_short, 0);
    assert_true(rep.upper_bound >= lp - 1e-6 * fabs(lp));
    assert_true(rep.gap < 0.03);
    /* every vehicle's plan is valid for its own model and reaches its energy */
    for (size_t i = 0; i < NV; i++) {
        assert_int_equal(plan_check(&s.ctx[i].prob, s.e[i], false, &err), 0);
    }
    /* and the individual plans would have broken the limit */
    for (size_t i = 0; i < NV; i++) {
        struct plan_sol sol;
        bool relaxed;
        plan_solve(&s.ctx[i], &s.opt, s.e[i], &sol, &relaxed);
    }
    assert_true(fleet_max_overload(s.ptr, NV, &cap, s.e) > 0);
    site_free(&s, NV);
}

static void test_fleet_loose_cap_is_individual(void **state)
{
    (void)state;
    static struct site s;
    site_build(&s, 20, 5, true);
    double limits[40];
    for (size_t t = 0; t < 40; t++)
        limits[t] = 1000;
    struct fleet_capacity cap = { s.now - s.now % HALF_HOUR, HALF_HOUR, 40, limits };
    struct fleet_options fo;
    fleet_options_default(&fo);
    struct fleet_report rep;
    assert_int_equal(fleet_solve(s.ptr, 20, &cap, &s.opt, &fo, s.e, NULL, &rep), 0);
    assert_true(rep.gap < 1e-6 + 0.05); /* windows make the bound (an LP) weaker */
    assert_true(rep.max_overload_kw <= 0);
    struct d2ev_err err;
    for (size_t i = 0; i < 20; i++) {
        double *mine = calloc(s.ctx[i].prob.n, sizeof(double));
        struct plan_sol sol;
        bool relaxed;
        plan_solve(&s.ctx[i], &s.opt, mine, &sol, &relaxed);
        bool windows = s.ctx[i].prob.max_windows > 0;
        assert_int_equal(plan_check(&s.ctx[i].prob, s.e[i], windows, &err), 0);
        double a = 0, b = 0;
        for (size_t k = 0; k < s.ctx[i].prob.n; k++) {
            a += s.ctx[i].slots[k].obj * mine[k];
            b += s.ctx[i].slots[k].obj * s.e[i][k];
        }
        assert_true(fabs(a - b) < 1e-6 * (1 + fabs(a)));
        free(mine);
    }
    site_free(&s, 20);
}

static void test_fleet_too_tight(void **state)
{
    (void)state;
    static struct site s;
    site_build(&s, 30, 9, false);
    double limits[40];
    for (size_t t = 0; t < 40; t++)
        limits[t] = 15; /* two cars at a time */
    struct fleet_capacity cap = { s.now - s.now % HALF_HOUR, HALF_HOUR, 40, limits };
    struct fleet_options fo;
    fleet_options_default(&fo);
    struct fleet_report rep;
    bool short_of[30];
    assert_int_equal(fleet_solve(s.ptr, 30, &cap, &s.opt, &fo, s.e, short_of, &rep), 0);
    assert_true(rep.max_overload_kw <= 1e-9);
    assert_true(rep.vehicles_short > 0);
    assert_true(rep.shortfall_kwh > 0);
    int n = 0;
    for (size_t i = 0; i < 30; i++)
        n += short_of[i];
    assert_int_equal(n, rep.vehicles_short);
    site_free(&s, 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fleet_cap_binds),
        cmocka_unit_test(test_fleet_loose_cap_is_individual),
        cmocka_unit_test(test_fleet_too_tight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
