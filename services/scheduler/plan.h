/*
 * plan.h: one vehicle's charging problem and its solvers (pure: no I/O, no
 * Kafka, no globals). docs/scheduling.md explains the model.
 *
 * The horizon [now, ready_by) is cut into slots at the forecast's slot
 * boundaries (plus "now", "ready_by" and the end of any forced prefix). In
 * each slot the car is off, charges at full power for the whole slot, or (in
 * at most one slot, at the edge of a window) charges for part of it: OEM APIs
 * only pause and resume. Energies are battery-side kWh.
 *
 * Ownership: every struct here is a plain value owned by the caller; arrays
 * the caller passes in are borrowed for the call. plan_result_clear() frees
 * the windows of a result.
 */
#ifndef D2EV_SCHED_PLAN_H
#define D2EV_SCHED_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/events.h"
#include "d2ev/tz.h"
#include "forecast_store.h"

/* ------------------------------------------------------------ the model */

struct plan_slot {
    int64_t start, end; /* [start, end), ms */
    double price;       /* currency per grid kWh (0 when there is no price forecast) */
    double carbon;      /* gCO2 per grid kWh (0 when there is no carbon forecast) */
    double obj;         /* objective coefficient per battery kWh */
    double ub;          /* battery kWh the car can take in this slot; 0 = must stay off */
    bool forced;        /* part of the charge-at-once prefix: always full */
    bool estimated;     /* beyond the forecast: value repeated from a day earlier */
};

struct plan_problem {
    size_t n;
    struct plan_slot *slots; /* borrowed */
    double energy;           /* battery kWh to add in total (sum of e equals it) */
    double power_kw;         /* battery-side power: grid power x efficiency */
    int max_windows;         /* 0 = no limit */
    int64_t min_window_ms;   /* 0 = no minimum */
};

enum plan_outcome {
    PLAN_OPTIMAL = 0, /* proven optimal for the model */
    PLAN_FEASIBLE,    /* a time limit stopped the search; best found */
    PLAN_INFEASIBLE,  /* no plan satisfies the constraints */
};

/* The result of one solver: e[i] battery kWh per slot (caller's n-array). */
struct plan_sol {
    enum plan_outcome outcome;
    double objective; /* sum obj[i] * e[i] */
    double solve_ms;
    char method[17]; /* "greedy", "dp", "milp", "lp" */
};

/* Exact for the LP without window limits (forced slots full, then the
 * cheapest slots by obj, ties to the earlier slot; one slot may be partial).
 * Infeasible when the energy exceeds the sum of ub; e then holds every slot
 * at ub. Never fails. */
void plan_solve_greedy(const struct plan_problem *p, double *e, struct plan_sol *sol);

/* The same with objective coefficients obj[n] instead of the slots' (NULL:
 * the slots'), and without timing (for inner loops such as fleet duals). */
void plan_solve_greedy_with(const struct plan_problem *p, const double *obj, double *e,
                            struct plan_sol *sol);

/* Exact dynamic programme for window limits (max windows, min window
 * length). Needs every free slot with ub > 0 except the first and the last to
 * have the same ub (true for a single vehicle; fleet repair keeps it), and the
 * state space under max_cells. Returns 0 (sol->outcome says optimal or
 * infeasible) or D2EV_ERR_UNSUPPORTED when it does not apply. */
int plan_solve_dp(const struct plan_problem *p, size_t max_cells, double *e, struct plan_sol *sol,
                  struct d2ev_err *err);

/* The same model with GLPK: the LP (window limits ignored) by simplex, and
 * the MILP (window limits as binaries) by branch and cut within time_limit_ms.
 * Return 0 (sol says optimal, feasible or infeasible) or a negative code when
 * GLPK fails (err says why). */
int plan_solve_glpk_lp(const struct plan_problem *p, double *e, struct plan_sol *sol,
                       struct d2ev_err *err);
int plan_solve_glpk_milp(const struct plan_problem *p, int time_limit_ms, double *e,
                         struct plan_sol *sol, struct d2ev_err *err);

/* Check e against the window model (sum, bounds, forced, one partial at a
 * window edge, max windows, min length). Returns 0 or D2EV_ERR_INVALID with
 * the first violation in err. Used by tests and as a guard on solver output. */
int plan_check(const struct plan_problem *p, const double *e, bool windows, struct d2ev_err *err);

/* Number of windows (maximal runs of charging slots) in e. */
int plan_count_windows(const struct plan_problem *p, const double *e);

/* Milliseconds on the monotonic clock since `since` (pass 0 to get a start
 * value): sub-millisecond solve times for schedules and metrics. Latency
 * only, never time of day (that is d2ev_clock_now_ms). */
double plan_elapsed_ms(double since);

/* ------------------------------------------------------------ building */

enum plan_solver_choice {
    PLAN_SOLVER_AUTO = 0, /* greedy, or the DP for window limits, GLPK MILP if the DP cannot */
    PLAN_SOLVER_GLPK,     /* GLPK LP / MILP for everything (validation) */
};

struct plan_options {
    double efficiency;       /* battery kWh per grid kWh, (0, 1] */
    double default_power_kw; /* when the vehicle record has none */
    double default_battery_kwh;
    enum plan_solver_choice solver;
    int milp_time_limit_ms;
    size_t dp_max_cells;
    int64_t no_deadline_horizon_ms; /* horizon when no ready-by is set */
    /* Charging slows near full (constant-current, then constant-voltage):
     * power falls linearly from full at taper_soc % to taper_min of it at
     * 100 %. Plans count the slower part as more full-power time, so they
     * leave enough of it; 100 (or taper_min 1) turns the model off. */
    double taper_soc;
    double taper_min;
    /* Plans aim to finish this long before the ready-by time (when the target
     * fits), leaving room for command latency; 0 = none. */
    int64_t ready_margin_ms;
};

void plan_options_default(struct plan_options *o);

struct plan_input {
    int64_t now;
    double soc;         /* % */
    double battery_kwh; /* 0 = options default */
    double power_kw;    /* grid side; 0 = options default */
    double car_limit;   /* %, the charge limit set in the car; 0 = unknown */
    bool overdue;       /* the last ready-by passed with the car short: charge to target now */
    const struct d2ev_prefs *prefs;
    const struct d2ev_tz *tz;            /* the driver's zone (ready-by and texts) */
    const struct sched_forecast *price;  /* NULL when none */
    const struct sched_forecast *carbon; /* NULL when none */
    const char *region;                  /* for texts */
};

struct plan_result {
    enum d2ev_schedule_status status;
    char reason[D2EV_REASON_MAX + 1];
    char method[17];
    double solve_ms;
    int64_t ready_by;
    double target_soc;
    double expected_soc;
    size_t nwindows;
    struct d2ev_window *windows; /* heap, owned */
    double expected_cost, expected_carbon_g;
    double baseline_cost, baseline_carbon_g;
    char currency[D2EV_CURRENCY_MAX + 1];
    double objective;
    double power_kw; /* battery side, for trajectories */
    double battery_kwh;
    double taper_soc, taper_min; /* the model the plan used */
};

/* What plan_build decided before any solver runs. */
enum plan_kind {
    PLAN_KIND_SOLVE = 0,   /* solve ctx->prob */
    PLAN_KIND_REACHED,     /* nothing to charge */
    PLAN_KIND_NO_FORECAST, /* charge at once: nothing to optimise against */
    PLAN_KIND_UNREACHABLE, /* charge every allowed slot: the target cannot be reached */
};

/* A built problem: the slots, the model and what is needed to explain it. */
struct plan_ctx {
    enum plan_kind kind;
    struct plan_problem prob;
    struct plan_slot *slots; /* heap, owned (prob.slots points here) */
    size_t cap;
    int64_t now, ready_by;
    bool no_deadline;
    double soc, target_soc, min_soc;
    double battery_kwh, power_kw; /* battery side power */
    double efficiency;
    double need_kwh; /* to the target (full-power-equivalent), before rounding */
    double taper_soc, taper_min;
    int64_t forced_until; /* end of the charge-at-once prefix (== now if none) */
    bool boost, min_soc_forced, overdue, capped, has_price, has_carbon, estimated;
    double car_limit;        /* % when the car's own limit is below the target, else 0 */
    enum d2ev_opt_mode mode; /* effective objective */
    bool mode_fallback;      /* the wanted objective had no forecast */
    char currency[D2EV_CURRENCY_MAX + 1];
    const struct d2ev_prefs *prefs;
    const struct d2ev_tz *tz;
    const char *region;
};

/* Build the problem for one plugged-in vehicle (the car is assumed plugged
 * in at in->now). Returns 0 or a negative code for invalid input (err says
 * why). Release with plan_ctx_clear() in every case. */
int plan_build(const struct plan_input *in, const struct plan_options *opt, struct plan_ctx *ctx,
               struct d2ev_err *err);
void plan_ctx_clear(struct plan_ctx *ctx);

/* Solve ctx->prob with the configured solver chain; e is the caller's
 * ctx->prob.n array. Window limits that cannot be met fall back to the LP
 * (sol->outcome FEASIBLE, *relaxed set). Never fails. */
void plan_solve(const struct plan_ctx *ctx, const struct plan_options *opt, double *e,
                struct plan_sol *sol, bool *relaxed);

/* Turn slot energies into the published plan: windows (the partial slot as a
 * shorter window), expected SoC, cost and carbon, the charge-at-once
 * baseline, status and the driver-facing reason. e may be NULL for kinds
 * other than PLAN_KIND_SOLVE. Returns 0 or D2EV_ERR_NOMEM. */
int plan_finish(const struct plan_ctx *ctx, const double *e, const struct plan_sol *sol,
                bool relaxed, struct plan_result *res);

/* plan_build + plan_solve + plan_finish. Returns 0 with *res filled (release
 * with plan_result_clear) or a negative code for invalid input. */
int plan_vehicle(const struct plan_input *in, const struct plan_options *opt,
                 struct plan_result *res, struct d2ev_err *err);

void plan_result_clear(struct plan_result *r);

/* Planned SoC at time t for a result made at soc0 (windows at full power). */
double plan_soc_at(const struct plan_result *r, double soc0, int64_t t);

/* The taper model (see plan_options): full-power-equivalent kWh from SoC a to
 * b (%), and its inverse, the SoC reached from a with eq_kwh of it. */
double plan_equivalent_kwh(double a, double b, double battery, double taper_soc, double taper_min);
double plan_soc_after(double a, double eq_kwh, double battery, double taper_soc, double taper_min);

/* The next ready-by instant after now for prefs in zone tz: the day's
 * override or weekday time, skipping days without a deadline. A local time
 * that does not exist (spring forward) is the instant the clocks jumped; one
 * that happens twice (fall back) is its first occurrence. Returns 0, or
 * D2EV_ERR_NOT_FOUND when no deadline is set in the next 8 days. */
int plan_next_ready_by(const struct d2ev_prefs *p, const struct d2ev_tz *tz, int64_t now,
                       int64_t *out);

/* ------------------------------------------------------------ internals shared by builders */

/* Grid of slots over [from, to) with step_ms boundaries aligned to the epoch,
 * plus an extra boundary at `split` when from < split < to. Returns the
 * count, writing at most cap slots (starts/ends only). */
size_t plan_grid(int64_t from, int64_t to, int64_t step_ms, int64_t split, struct plan_slot *out,
                 size_t cap);

#endif
