/*
 * bench_solve: single-vehicle solve time, our solvers against GLPK on the same
 * problems in the same run.
 *   A. evening plug-ins on real Agile prices (region E, Jan 2024; generated
 *      prices when the data is absent), ~26 half-hour slots: greedy vs GLPK LP,
 *      and the whole plan (build + solve + windows + texts);
 *   B. 24-hour horizons on 15-minute slots (96 slots): greedy vs GLPK LP;
 *   C. window limits (max 2 windows, min 60 min) on case A: DP vs GLPK MILP.
 * Usage: bench_sched_solve [problems]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "d2ev/util.h"

struct row {
    const char *what;
    double *us;
    size_t n;
};

static void report(const char *what, double *us, size_t n)
{
    double med, p99, mean;
    bench_stats(us, n, &med, &p99, &mean);
    printf("| %s | %zu | %.1f | %.1f | %.1f |\n", what, n, med, p99, mean);
}

/* Time fn over the built problems, reps times each, per-solve microseconds. */
typedef void (*solve_fn)(const struct plan_problem *p, double *e, struct plan_sol *s, double *obj);

static void greedy(const struct plan_problem *p, double *e, struct plan_sol *s, double *obj)
{
    plan_solve_greedy(p, e, s);
    *obj = s->objective;
}

static void glpk_lp(const struct plan_problem *p, double *e, struct plan_sol *s, double *obj)
{
    struct d2ev_err err;
    if (plan_solve_glpk_lp(p, e, s, &err))
        fprintf(stderr, "glpk: %s\n", err.msg);
    *obj = s->objective;
}

static void dp(const struct plan_problem *p, double *e, struct plan_sol *s, double *obj)
{
    struct d2ev_err err;
    if (plan_solve_dp(p, 100000000, e, s, &err))
        fprintf(stderr, "dp: %s\n", err.msg);
    *obj = s->outcome == PLAN_OPTIMAL ? s->objective : NAN;
}

static void milp(const struct plan_problem *p, double *e, struct plan_sol *s, double *obj)
{
    struct d2ev_err err;
    if (plan_solve_glpk_milp(p, 60000, e, s, &err))
        fprintf(stderr, "milp: %s\n", err.msg);
    *obj = s->outcome == PLAN_OPTIMAL ? s->objective : NAN;
}

static double run(struct plan_ctx *ctx, size_t n, solve_fn fn, int reps, double *us, double *obj)
{
    double e[512];
    for (size_t i = 0; i < n; i++) {
        struct plan_sol s;
        double t0 = bench_us();
        for (int r = 0; r < reps; r++)
            fn(&ctx[i].prob, e, &s, &obj[i]);
        us[i] = (bench_us() - t0) / reps;
    }
    return 0;
}

static size_t build(struct plan_ctx *ctx, size_t n, const struct sched_forecast *price,
                    int64_t first_day, int days, int64_t hour_from, int64_t hour_span,
                    struct d2ev_prefs *prefs, uint64_t seed)
{
    struct plan_options opt;
    plan_options_default(&opt);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t now = first_day + (int64_t)(d2ev_rand_unit(&seed) * days) * 86400000LL + hour_from +
                      (int64_t)(d2ev_rand_unit(&seed) * (double)hour_span);
        struct plan_input in = { .now = now,
                                 .soc = 10 + d2ev_rand_unit(&seed) * 50,
                                 .battery_kwh = 60,
                                 .power_kw = 7.4,
                                 .prefs = prefs,
                                 .tz = d2ev_tz_get("Europe/London", NULL),
                                 .price = price,
                                 .region = "bench" };
        struct d2ev_err err;
        if (plan_build(&in, &opt, &ctx[k], &err) || ctx[k].kind != PLAN_KIND_SOLVE) {
            plan_ctx_clear(&ctx[k]);
            continue;
        }
        k++;
    }
    return k;
}

static double max_diff(const double *a, const double *b, size_t n, size_t *both)
{
    double m = 0;
    *both = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) != isnan(b[i]))
            return INFINITY;
        if (isnan(a[i]))
            continue;
        (*both)++;
        m = fmax(m, fabs(a[i] - b[i]));
    }
    return m;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 2000;
    struct sched_forecast agile, gen15;
    bool real =
        bench_load("uk_agile_AGILE-FLEX-22-11-25_regionE_2024-01.csv", FCSV_AGILE_E, NULL, &agile);
    int64_t jan = bench_time("2024-01-01T00:00:00Z");
    if (!real)
        bench_generate(D2EV_FORECAST_PRICE, jan, 30, 1488, &agile);
    bench_generate(D2EV_FORECAST_PRICE, jan, 15, 31 * 96, &gen15);
    struct plan_ctx *ctx = calloc(n, sizeof(*ctx));
    double *us = malloc(n * sizeof(double)), *us2 = malloc(n * sizeof(double));
    double *o1 = malloc(n * sizeof(double)), *o2 = malloc(n * sizeof(double));
    struct d2ev_prefs prefs;
    bench_prefs(&prefs);
    printf("prices: %s\n\n", real ? "real Agile region E, January 2024" : "generated");
    printf("| solve | problems | median us | p99 us | mean us |\n|---|---|---|---|---|\n");

    /* A: evening plug-ins */
    size_t k = build(ctx, n, &agile, jan, 29, 16 * 3600000LL, 7 * 3600000LL, &prefs, 1);
    double slots = 0;
    for (size_t i = 0; i < k; i++)
        slots += (double)ctx[i].prob.n;
    run(ctx, k, greedy, 20, us, o1);
    char what[128];
    snprintf(what, sizeof(what), "A greedy (exact LP), %.0f slots avg", slots / (double)k);
    report(what, us, k);
    run(ctx, k, glpk_lp, 1, us, o2);
    report("A GLPK simplex, same problems", us, k);
    size_t both;
    double d = max_diff(o1, o2, k, &both);
    struct plan_options opt;
    plan_options_default(&opt);
    for (size_t i = 0; i < k; i++) { /* the whole path a re-plan takes */
        struct plan_input in = { .now = ctx[i].now,
                                 .soc = ctx[i].soc,
                                 .battery_kwh = 60,
                                 .power_kw = 7.4,
                                 .prefs = &prefs,
                                 .tz = d2ev_tz_get("Europe/London", NULL),
                                 .price = &agile,
                                 .region = "bench" };
        struct plan_result r;
        struct d2ev_err err;
        double t0 = bench_us();
        for (int rep = 0; rep < 10; rep++) {
            plan_vehicle(&in, &opt, &r, &err);
            plan_result_clear(&r);
        }
        us2[i] = (bench_us() - t0) / 10;
    }
    report("A whole plan (build, greedy, windows, texts)", us2, k);

    /* C: window limits on the same problems */
    size_t kc = k < 300 ? k : 300;
    for (size_t i = 0; i < kc; i++) {
        ctx[i].prob.max_windows = 2;
        ctx[i].prob.min_window_ms = 60 * 60000;
    }
    run(ctx, kc, dp, 5, us, o1);
    report("C window DP (max 2 windows, min 60 min)", us, kc);
    run(ctx, kc, milp, 1, us, o2);
    report("C GLPK MILP, same problems", us, kc);
    size_t bothc;
    double dc = max_diff(o1, o2, kc, &bothc);
    for (size_t i = 0; i < k; i++)
        plan_ctx_clear(&ctx[i]);

    /* B: 24-hour horizons, 15-minute slots */
    prefs.target_soc = 90;
    size_t kb = build(ctx, n, &gen15, jan, 28, 7 * 3600000LL, 3600000LL, &prefs, 2);
    slots = 0;
    for (size_t i = 0; i < kb; i++)
        slots += (double)ctx[i].prob.n;
    run(ctx, kb, greedy, 20, us, o1);
    snprintf(what, sizeof(what), "B greedy, %.0f slots avg (15 min)", slots / (double)kb);
    report(what, us, kb);
    run(ctx, kb, glpk_lp, 1, us, o2);
    report("B GLPK simplex, same problems", us, kb);
    size_t bothb;
    double db = max_diff(o1, o2, kb, &bothb);
    for (size_t i = 0; i < kb; i++)
        plan_ctx_clear(&ctx[i]);

    printf("\nlargest objective difference: A %.2e over %zu, B %.2e over %zu (greedy vs "
           "simplex); C %.2e over %zu feasible of %zu (DP vs MILP)\n",
           d, both, db, bothb, dc, bothc, kc);
    free(ctx);
    free(us);
    free(us2);
    free(o1);
    free(o2);
    sched_forecast_clear(&agile);
    sched_forecast_clear(&gen15);
    return 0;
}
