/*
 * bench_fleet: fleet mode under a feeder cap.
 * A depot's vehicles are re-planned together at 20:00 (plugged in since the
 * evening, ready by 06:00-08:30, 7.4 or 11 kW, 40-80 kWh, 10-60 % SoC, target
 * 80-100 %), against real Agile prices (region E, 15 Jan 2024) or generated
 * ones. The feeder gives a fraction of the vehicles' total power. Reports the
 * decomposition's time, its lower bound, the repaired plan and the gap; for
 * the smaller fleets also the monolithic GLPK LP (the relaxation's optimum).
 * Usage: [CAP=0.5] [NOW=2024-01-15T20:00:00Z] bench_sched_fleet [vehicles ...]
 * (default 1000 10000; NOW in the morning gives day-long horizons)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "d2ev/util.h"
#include "fleet.h"

#define GLPK_MAX_VEHICLES 2000

static void bench(size_t nv, double cap_fraction, const struct sched_forecast *price)
{
    const char *when = getenv("NOW") ? getenv("NOW") : "2024-01-15T20:00:00Z";
    int64_t now = bench_time(when);
    struct plan_options opt;
    plan_options_default(&opt);
    struct d2ev_prefs *prefs = calloc(nv, sizeof(*prefs));
    struct plan_ctx *ctx = calloc(nv, sizeof(*ctx));
    struct plan_ctx **ptr = calloc(nv, sizeof(*ptr));
    double **e = calloc(nv, sizeof(*e));
    uint64_t seed = 42;
    double total_kw = 0;
    size_t k = 0;
    double t0 = bench_us();
    for (size_t i = 0; i < nv; i++) {
        bench_prefs(&prefs[i]);
        for (int d = 0; d < D2EV_DAYS; d++)
            prefs[i].ready_by[d] = (int16_t)(6 * 60 + (int)(d2ev_rand_unit(&seed) * 150));
        prefs[i].target_soc = 80 + (int)(d2ev_rand_unit(&seed) * 21);
        double kw = d2ev_rand_unit(&seed) < 0.25 ? 11 : 7.4;
        struct plan_input in = { .now = now,
                                 .soc = 10 + d2ev_rand_unit(&seed) * 50,
                                 .battery_kwh = 40 + d2ev_rand_unit(&seed) * 40,
                                 .power_kw = kw,
                                 .prefs = &prefs[i],
                                 .tz = d2ev_tz_get("Europe/London", NULL),
                                 .price = price,
                                 .region = "depot" };
        struct d2ev_err err;
        if (plan_build(&in, &opt, &ctx[k], &err) || ctx[k].kind != PLAN_KIND_SOLVE) {
            plan_ctx_clear(&ctx[k]);
            continue;
        }
        ptr[k] = &ctx[k];
        e[k] = calloc(ctx[k].prob.n, sizeof(double));
        total_kw += kw;
        k++;
    }
    double build_ms = (bench_us() - t0) / 1000;
    double limits[96];
    for (int t = 0; t < 96; t++)
        limits[t] = cap_fraction * total_kw;
    struct fleet_capacity cap = { now, 1800000, 96, limits };

    /* the individual optima ignore the feeder: how far over would they go? */
    double indiv = 0;
    for (size_t i = 0; i < k; i++) {
        struct plan_sol sol;
        bool relaxed;
        plan_solve(&ctx[i], &opt, e[i], &sol, &relaxed);
        indiv += sol.objective;
    }
    double over = fleet_max_overload(ptr, k, &cap, e);

    struct fleet_options fo;
    fleet_options_default(&fo);
    fo.max_iterations = 100;
    fo.time_limit_ms = 60000;
    struct fleet_report rep;
    bool *short_of = calloc(k, sizeof(bool));
    fleet_solve(ptr, k, &cap, &opt, &fo, e, short_of, &rep);

    double lp = NAN, lp_ms = NAN;
    if (k <= GLPK_MAX_VEHICLES) {
        struct d2ev_err err;
        double t1 = bench_us();
        if (fleet_solve_glpk_lp(ptr, k, &cap, &lp, &err))
            fprintf(stderr, "glpk: %s\n", err.msg);
        lp_ms = (bench_us() - t1) / 1000;
    }
    double slots = 0;
    for (size_t i = 0; i < k; i++)
        slots += (double)ctx[i].prob.n;
    printf("| %zu | %.0f | %.0f %% (%.0f kW) | +%.0f kW | %.0f | %d | %.1f | %.2f | %.2f | %.3f %% "
           "| %d | %.2f |",
           k, slots / (double)k, cap_fraction * 100, cap_fraction * total_kw, over, rep.solve_ms,
           rep.iterations, build_ms, rep.lower_bound, rep.upper_bound, rep.gap * 100,
           rep.vehicles_short, indiv);
    if (!isnan(lp))
        printf(" %.0f ms, %.2f |\n", lp_ms, lp);
    else
        printf(" - |\n");
    for (size_t i = 0; i < k; i++) {
        free(e[i]);
        plan_ctx_clear(&ctx[i]);
    }
    free(short_of);
    free(prefs);
    free(ctx);
    free(ptr);
    free(e);
}

int main(int argc, char **argv)
{
    struct sched_forecast price;
    bool real =
        bench_load("uk_agile_AGILE-FLEX-22-11-25_regionE_2024-01.csv", FCSV_AGILE_E, NULL, &price);
    if (!real)
        bench_generate(D2EV_FORECAST_PRICE, bench_time("2024-01-01T00:00:00Z"), 30, 1488, &price);
    printf("prices: %s; re-plan at %s\n\n", real ? "real Agile region E" : "generated",
           getenv("NOW") ? getenv("NOW") : "2024-01-15T20:00:00Z");
    printf("| vehicles | slots avg | feeder cap | uncoordinated peak over cap | fleet ms | "
           "iterations | build ms | lower bound GBP | plan GBP | gap | short | "
           "uncoordinated GBP | monolithic GLPK LP |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    double cap_fraction = getenv("CAP") ? atof(getenv("CAP")) : 0.5;
    size_t sizes[8] = { 1000, 10000 };
    int ns = 2;
    if (argc > 1) {
        ns = 0;
        for (int i = 1; i < argc && ns < 8; i++)
            sizes[ns++] = (size_t)atol(argv[i]);
    }
    for (int i = 0; i < ns; i++)
        bench(sizes[i], cap_fraction, &price);
    sched_forecast_clear(&price);
    return 0;
}
