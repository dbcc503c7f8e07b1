/*
 * fleet.h: coordinated scheduling of a site's vehicles under a per-slot
 * power limit (a feeder or site connection), by price-based (Lagrangian)
 * decomposition.
 *
 * The coupling constraint, "the site's vehicles draw at most C_t kW in slot
 * t", is priced: each vehicle solves its own problem (the exact single-vehicle
 * solvers of plan.h) against its objective plus a congestion price lambda_t
 * per grid kWh. Subgradient steps raise lambda where the slot is
 * oversubscribed. Every dual value is a lower bound on the optimum (of the
 * continuous relaxation, hence of the real problem). A repair pass then builds
 * a plan that respects the limit at every instant: vehicles, tightest first,
 * take whole slots at full power from the capacity left, against the priced
 * objective. The gap between that plan and the best bound is reported.
 *
 * Units: cost-mode vehicles count in currency; carbon and mix objectives are
 * scaled into currency by the ratio of the price and carbon spreads, so one
 * lambda prices every vehicle.
 *
 * Ownership: contexts and the capacity are borrowed for the call; per-vehicle
 * energies are written into the caller's arrays.
 */
#ifndef D2EV_SCHED_FLEET_H
#define D2EV_SCHED_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "plan.h"

struct fleet_capacity {
    int64_t start;
    int64_t slot_ms;
    size_t n;
    const double *limits_kw; /* borrowed */
};

struct fleet_options {
    int max_iterations; /* subgradient iterations (e.g. 60) */
    int repair_every;   /* run the repair every k iterations (and at the end) */
    int64_t time_limit_ms;
    double target_gap; /* stop when (ub - lb) / |ub| is below this */
};

void fleet_options_default(struct fleet_options *o);

struct fleet_report {
    double lower_bound;   /* best dual value (currency-equivalent) */
    double upper_bound;   /* objective of the repaired plan */
    double gap;           /* (ub - lb) / max(|ub|, tiny); valid when shortfall_kwh == 0 */
    double shortfall_kwh; /* energy the repaired plan could not place within the limit */
    int vehicles_short;   /* vehicles that miss their target because of the limit */
    int iterations;
    double solve_ms;
    double max_overload_kw; /* of the repaired plan: must be 0 */
};

/* Plan nv vehicles (ctx[v]->kind must be PLAN_KIND_SOLVE or
 * PLAN_KIND_UNREACHABLE, all built at the same `now`). e[v] is the caller's
 * array of ctx[v]->prob.n energies; short_of[v] (may be NULL) is set when the
 * limit keeps vehicle v from its target. Returns 0 or D2EV_ERR_NOMEM. */
int fleet_solve(struct plan_ctx *const *ctx, size_t nv, const struct fleet_capacity *cap,
                const struct plan_options *popt, const struct fleet_options *fopt, double **e,
                bool *short_of, struct fleet_report *rep);

/* The same relaxation as one GLPK LP (continuous energies, energy-per-slot
 * capacity): its optimum, for validation and benchmarks. Returns 0 or a
 * negative code. */
int fleet_solve_glpk_lp(struct plan_ctx *const *ctx, size_t nv, const struct fleet_capacity *cap,
                        double *objective, struct d2ev_err *err);

/* Peak power the plan e draws in each capacity slot minus the limit, the
 * largest over slots (<= 0 when the limit holds). */
double fleet_max_overload(struct plan_ctx *const *ctx, size_t nv, const struct fleet_capacity *cap,
                          double *const *e);

#endif
