/* plan_build.c: from a vehicle, its preferences and the forecasts to a solved, explained plan. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "plan.h"

#define DAY_MS             86400000LL
#define MINUTE_MS          60000LL
#define MAX_NO_DEADLINE_MS (7 * DAY_MS)

void plan_options_default(struct plan_options *o)
{
    o->efficiency = 0.9;
    o->default_power_kw = 7.4;
    o->default_battery_kwh = 60;
    o->solver = PLAN_SOLVER_AUTO;
    o->milp_time_limit_ms = 2000;
    o->dp_max_cells = 4000000;
    o->no_deadline_horizon_ms = DAY_MS;
    o->taper_soc = 80;
    o->taper_min = 0.2;
    o->ready_margin_ms = 15 * MINUTE_MS;
}

/* ------------------------------------------------------------ taper */

/* Power factor at soc (%): 1 up to taper_soc, then linear to taper_min at 100. */
static double taper_slope(double taper_soc, double taper_min)
{
    return taper_soc < 100 && taper_min < 1 ? (1.0 - taper_min) / (100.0 - taper_soc) : 0;
}

/* Full-power-equivalent kWh to go from soc a to b (a <= b, %): the energy,
 * with the part above taper_soc weighted by the time it really takes. */
double plan_equivalent_kwh(double a, double b, double battery, double taper_soc, double taper_min)
{
    if (b <= a)
        return 0;
    double k = taper_slope(taper_soc, taper_min);
    double below = (b < taper_soc ? b : taper_soc) - (a < taper_soc ? a : taper_soc);
    double eq = below > 0 ? below : 0;
    double lo = a > taper_soc ? a : taper_soc;
    if (b > lo) {
        if (k > 0) /* integral of ds / (1 - k (s - taper_soc)) */
            eq += log((1 - k * (lo - taper_soc)) / (1 - k * (b - taper_soc))) / k;
        else
            eq += b - lo;
    }
    return eq / 100.0 * battery;
}

/* The SoC reached from soc a with eq full-power-equivalent kWh (inverse of
 * plan_equivalent_kwh). */
double plan_soc_after(double a, double eq_kwh, double battery, double taper_soc, double taper_min)
{
    if (battery <= 0 || eq_kwh <= 0)
        return a;
    double pct = eq_kwh / battery * 100.0, s = a;
    if (s < taper_soc) {
        double room = taper_soc - s;
        if (pct <= room)
            return s + pct;
        s = taper_soc;
        pct -= room;
    }
    double k = taper_slope(taper_soc, taper_min);
    if (k <= 0)
        return s + pct > 100 ? 100 : s + pct;
    double out = taper_soc + (1 - (1 - k * (s - taper_soc)) * exp(-k * pct)) / k;
    return out > 100 ? 100 : out;
}

int plan_next_ready_by(const struct d2ev_prefs *p, const struct d2ev_tz *tz, int64_t now,
                       int64_t *out)
{
    int64_t day0 = d2ev_floor_div(d2ev_tz_to_local(tz, now), DAY_MS);
    for (int64_t d = day0; d <= day0 + 8; d++) {
        int minutes = p->ready_by[d2ev_weekday(d)];
        for (size_t k = 0; k < p->noverrides && k < D2EV_MAX_OVERRIDES; k++) {
            if (p->overrides[k].date == d)
                minutes = p->overrides[k].minutes;
        }
        if (minutes < 0 || minutes >= 1440)
            continue;
        int64_t u;
        d2ev_tz_from_local(tz, d * DAY_MS + minutes * MINUTE_MS, false, &u);
        if (u > now) {
            *out = u;
            return D2EV_OK;
        }
    }
    return D2EV_ERR_NOT_FOUND;
}

size_t plan_grid(int64_t from, int64_t to, int64_t step_ms, int64_t split, struct plan_slot *out,
                 size_t cap)
{
    size_t n = 0;
    int64_t t = from;
    while (t < to) {
        int64_t next = (d2ev_floor_div(t, step_ms) + 1) * step_ms;
        if (next > to)
            next = to;
        if (split > t && split < next)
            next = split;
        if (n < cap) {
            memset(&out[n], 0, sizeof(out[n]));
            out[n].start = t;
            out[n].end = next;
        }
        n++;
        t = next;
    }
    return n;
}

void plan_ctx_clear(struct plan_ctx *ctx)
{
    free(ctx->slots);
    ctx->slots = NULL;
    ctx->prob.slots = NULL;
    ctx->prob.n = 0;
}

/* Range (max - min) of a slot field over the free slots; 0 when flat. */
static double range_of(const struct plan_slot *s, size_t n, size_t field_off)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&s[i] + field_off);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    return n && hi > lo ? hi - lo : 0;
}

static void set_objective(struct plan_ctx *ctx, double eff)
{
    struct plan_slot *s = ctx->slots;
    size_t n = ctx->prob.n;
    double w = ctx->prefs->carbon_weight;
    double rp = range_of(s, n, offsetof(struct plan_slot, price));
    double rc = range_of(s, n, offsetof(struct plan_slot, carbon));
    for (size_t i = 0; i < n; i++) {
        double o;
        switch (ctx->mode) {
        case D2EV_MODE_CARBON:
            o = s[i].carbon;
            break;
        case D2EV_MODE_MIX:
            /* each series divided by its spread over the horizon, so the
             * weight trades one "cheapest vs dearest" for one "cleanest vs
             * dirtiest", whatever the units */
            o = (rp > 0 ? (1 - w) * s[i].price / rp : 0) + (rc > 0 ? w * s[i].carbon / rc : 0);
            break;
        case D2EV_MODE_COST:
        default:
            o = s[i].price;
            break;
        }
        s[i].obj = o / eff; /* per battery kWh */
    }
}

/* The slots from now to end, their prices and bounds, and whether energy
 * fits in them. */
static int build_slots(struct plan_ctx *ctx, const struct plan_input *in,
                       const struct plan_options *opt, const struct d2ev_prefs *p, int64_t end,
                       double energy, struct d2ev_err *err)
{
    int64_t now = in->now;
    int64_t step = 60 * MINUTE_MS;
    if (in->price && in->price->slot_minutes * MINUTE_MS < step)
        step = in->price->slot_minutes * MINUTE_MS;
    if (in->carbon && in->carbon->slot_minutes * MINUTE_MS < step)
        step = in->carbon->slot_minutes * MINUTE_MS;
    size_t n = plan_grid(now, end, step, ctx->forced_until, NULL, 0);
    free(ctx->slots);
    ctx->slots = calloc(n ? n : 1, sizeof(struct plan_slot));
    if (!ctx->slots)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    ctx->cap = n;
    plan_grid(now, end, step, ctx->forced_until, ctx->slots, n);
    ctx->prob.slots = ctx->slots;
    ctx->prob.n = n;
    ctx->prob.energy = energy;
    ctx->prob.power_kw = ctx->power_kw;
    ctx->prob.max_windows = p->max_windows;
    ctx->prob.min_window_ms = (int64_t)p->min_window_minutes * MINUTE_MS;

    double avail = 0;
    for (size_t i = 0; i < n; i++) {
        struct plan_slot *s = &ctx->slots[i];
        bool est = false;
        if (in->price)
            s->price = sched_forecast_at(in->price, s->start, &est);
        if (in->carbon)
            s->carbon = sched_forecast_at(in->carbon, s->start, &est);
        s->estimated = est;
        ctx->estimated |= est;
        s->ub = ctx->power_kw * (double)(s->end - s->start) / 3600000.0;
        s->forced = s->end <= ctx->forced_until;
        if (!s->forced && p->has_price_cap && in->price && s->price > p->price_cap) {
            s->ub = 0;
            ctx->capped = true;
        }
        avail += s->ub;
    }
    set_objective(ctx, opt->efficiency);
    ctx->kind = energy > avail + 1e-9 * energy ? PLAN_KIND_UNREACHABLE : PLAN_KIND_SOLVE;
    return D2EV_OK;
}

int plan_build(const struct plan_input *in, const struct plan_options *opt, struct plan_ctx *ctx,
               struct d2ev_err *err)
{
    memset(ctx, 0, sizeof(*ctx));
    const struct d2ev_prefs *p = in->prefs;
    if (!p || !in->tz)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "plan: preferences and zone are required");
    if (!(in->soc >= 0 && in->soc <= 100))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "plan: soc must be 0..100, got %g", in->soc);
    if (!(opt->efficiency > 0 && opt->efficiency <= 1))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "plan: efficiency must be in (0, 1]");
    double battery = in->battery_kwh > 0 ? in->battery_kwh : opt->default_battery_kwh;
    double pgrid = in->power_kw > 0 ? in->power_kw : opt->default_power_kw;
    if (!(battery > 0) || !(pgrid > 0))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "plan: battery and power must be positive");
    ctx->prefs = p;
    ctx->tz = in->tz;
    ctx->region = in->region ? in->region : "";
    ctx->now = in->now;
    ctx->soc = in->soc;
    ctx->target_soc = p->target_soc;
    ctx->min_soc = p->min_soc;
    ctx->battery_kwh = battery;
    ctx->power_kw = pgrid * opt->efficiency;
    ctx->taper_soc = opt->taper_soc;
    ctx->taper_min = opt->taper_min;
    ctx->efficiency = opt->efficiency;
    ctx->has_price = in->price != NULL;
    ctx->has_carbon = in->carbon != NULL;
    if (in->price)
        snprintf(ctx->currency, sizeof(ctx->currency), "%s", in->price->currency);

    int64_t now = in->now;
    if (plan_next_ready_by(p, in->tz, now, &ctx->ready_by) != D2EV_OK) {
        /* no deadline: the cheapest slots the forecasts know about */
        int64_t end = 0;
        if (in->price)
            end = sched_forecast_end(in->price);
        if (in->carbon && sched_forecast_end(in->carbon) > end)
            end = sched_forecast_end(in->carbon);
        if (end <= now)
            end = now + opt->no_deadline_horizon_ms;
        if (end > now + MAX_NO_DEADLINE_MS)
            end = now + MAX_NO_DEADLINE_MS;
        ctx->ready_by = end;
        ctx->no_deadline = true;
    }
    ctx->forced_until = now;
    /* The car stops by itself at the charge limit set in it: a target above
     * that cannot be reached whatever the plan. The plan aims at the limit
     * (cheapest first, within the site's limits like any other) and says
     * the target is out of reach, and why. */
    double aim = p->target_soc;
    if (in->car_limit > 0 && in->car_limit < p->target_soc - 0.5)
        aim = ctx->car_limit = in->car_limit;
    /* full-power-equivalent energy: the slow part near full needs more time */
    ctx->need_kwh = plan_equivalent_kwh(in->soc, aim, battery, opt->taper_soc, opt->taper_min);
    if (ctx->need_kwh <= 1e-6) {
        ctx->kind = PLAN_KIND_REACHED;
        return D2EV_OK;
    }
    /* plan whole minutes of charging: no window shorter than a minute */
    double minute_kwh = ctx->power_kw / 60.0;
    double minutes = ceil(ctx->need_kwh / minute_kwh - 1e-9);
    double energy = minutes * minute_kwh;
    int64_t horizon = ctx->ready_by - now;
    int64_t target_ms = (int64_t)minutes * MINUTE_MS;

    int64_t forced = 0;
    ctx->boost = p->has_boost && p->boost_until > now;
    if (ctx->boost)
        forced = p->boost_until - now;
    if (in->soc < p->min_soc) {
        double need_min =
            plan_equivalent_kwh(in->soc, p->min_soc, battery, opt->taper_soc, opt->taper_min);
        int64_t ms = (int64_t)ceil(need_min / minute_kwh - 1e-9) * MINUTE_MS;
        if (ms > forced)
            forced = ms;
        ctx->min_soc_forced = true;
    }
    /* Never strand a driver: a car still short when its ready-by passed is
     * charged to the target at once, not at tomorrow night's prices. */
    if (in->overdue) {
        forced = target_ms;
        ctx->overdue = true;
    }
    if (forced > target_ms)
        forced = target_ms;
    if (forced > horizon)
        forced = horizon;
    ctx->forced_until = now + forced;

    if (!in->price && !in->carbon) {
        ctx->kind = PLAN_KIND_NO_FORECAST;
        ctx->prob.energy = energy;
        ctx->prob.power_kw = ctx->power_kw;
        return D2EV_OK;
    }
    ctx->mode = p->mode;
    if ((p->mode != D2EV_MODE_CARBON && !in->price) || (p->mode != D2EV_MODE_COST && !in->carbon)) {
        ctx->mode_fallback = true;
        ctx->mode = in->price ? D2EV_MODE_COST : D2EV_MODE_CARBON;
    }
    /* Finish ready_margin before the ready-by time, to absorb what the real
     * world adds (command latency, a wake, a late confirmation); when the
     * target only fits without the margin, plan to the ready-by itself. */
    int64_t end = ctx->ready_by;
    if (!ctx->no_deadline && opt->ready_margin_ms > 0 && ctx->ready_by - opt->ready_margin_ms > now)
        end = ctx->ready_by - opt->ready_margin_ms;
    int rc = build_slots(ctx, in, opt, p, end, energy, err);
    if (rc == D2EV_OK && ctx->kind == PLAN_KIND_UNREACHABLE && end != ctx->ready_by)
        rc = build_slots(ctx, in, opt, p, ctx->ready_by, energy, err);
    return rc;
}

void plan_solve(const struct plan_ctx *ctx, const struct plan_options *opt, double *e,
                struct plan_sol *sol, bool *relaxed)
{
    const struct plan_problem *p = &ctx->prob;
    bool windows = p->max_windows > 0 || p->min_window_ms > 0;
    struct d2ev_err err;
    *relaxed = false;
    if (opt->solver == PLAN_SOLVER_GLPK) {
        int rc = windows ? plan_solve_glpk_milp(p, opt->milp_time_limit_ms, e, sol, &err)
                         : plan_solve_glpk_lp(p, e, sol, &err);
        if (rc == D2EV_OK && sol->outcome != PLAN_INFEASIBLE)
            return;
    } else if (!windows) {
        plan_solve_greedy(p, e, sol);
        return;
    } else {
        int rc = plan_solve_dp(p, opt->dp_max_cells, e, sol, &err);
        if (rc != D2EV_OK)
            rc = plan_solve_glpk_milp(p, opt->milp_time_limit_ms, e, sol, &err);
        if (rc == D2EV_OK && sol->outcome != PLAN_INFEASIBLE)
            return;
    }
    /* the window limits cannot be met (or a solver failed): the LP */
    double spent = sol->solve_ms;
    plan_solve_greedy(p, e, sol);
    sol->solve_ms += spent;
    sol->outcome = PLAN_FEASIBLE;
    *relaxed = windows;
}

/* ------------------------------------------------------------ results */

void plan_result_clear(struct plan_result *r)
{
    free(r->windows);
    r->windows = NULL;
    r->nwindows = 0;
}

double plan_soc_at(const struct plan_result *r, double soc0, int64_t t)
{
    double h = 0;
    for (size_t i = 0; i < r->nwindows; i++) {
        int64_t a = r->windows[i].start, b = r->windows[i].end < t ? r->windows[i].end : t;
        if (b > a)
            h += (double)(b - a) / 3600000.0;
    }
    return plan_soc_after(soc0, r->power_kw * h, r->battery_kwh, r->taper_soc, r->taper_min);
}

static int add_window(struct plan_result *r, size_t *cap, int64_t a, int64_t b, double kwh)
{
    if (b <= a)
        return D2EV_OK;
    if (r->nwindows && r->windows[r->nwindows - 1].end == a) {
        r->windows[r->nwindows - 1].end = b;
        r->windows[r->nwindows - 1].energy_kwh += kwh;
        return D2EV_OK;
    }
    if (r->nwindows == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        struct d2ev_window *w = realloc(r->windows, nc * sizeof(*w));
        if (!w)
            return D2EV_ERR_NOMEM;
        r->windows = w;
        *cap = nc;
    }
    r->windows[r->nwindows++] = (struct d2ev_window){ a, b, kwh };
    return D2EV_OK;
}

/* Windows from slot energies: a partial slot charges at the end that touches
 * its neighbouring window (at its start when alone). */
static int realise(const struct plan_ctx *ctx, const double *e, struct plan_result *r)
{
    size_t cap = 0, n = ctx->prob.n;
    const struct plan_slot *s = ctx->slots;
    double tol = 1e-9 * (ctx->prob.energy > 1 ? ctx->prob.energy : 1);
    for (size_t i = 0; i < n; i++) {
        if (e[i] <= tol)
            continue;
        int64_t len = s[i].end - s[i].start;
        int64_t dur = llround(e[i] / ctx->power_kw * 3600000.0);
        if (dur >= len - 1 || e[i] >= s[i].ub - tol)
            dur = len;
        bool prev = i > 0 && e[i - 1] > tol, next = i + 1 < n && e[i + 1] > tol;
        int64_t a = s[i].start, b = s[i].start + dur;
        if (dur < len && !prev && next) {
            a = s[i].end - dur;
            b = s[i].end;
        }
        if (add_window(r, &cap, a, b, e[i]))
            return D2EV_ERR_NOMEM;
    }
    return D2EV_OK;
}

/* Cost and carbon of charging `energy` at once from now (the baseline). */
static void baseline(const struct plan_ctx *ctx, double energy, double *cost, double *carbon)
{
    *cost = *carbon = 0;
    for (size_t i = 0; i < ctx->prob.n && energy > 0; i++) {
        const struct plan_slot *s = &ctx->slots[i];
        double cap = ctx->power_kw * (double)(s->end - s->start) / 3600000.0;
        double take = cap < energy ? cap : energy;
        *cost += s->price * take / ctx->efficiency;
        *carbon += s->carbon * take / ctx->efficiency;
        energy -= take;
    }
}

/* Local "HH:MM" of t, with the weekday when it is not the local day of now. */
static void fmt_local(const struct plan_ctx *ctx, int64_t t, char *buf, size_t size)
{
    static const char *wd[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
    int64_t l = d2ev_tz_to_local(ctx->tz, t);
    int64_t day = d2ev_floor_div(l, DAY_MS);
    int64_t ms = l - day * DAY_MS;
    int64_t today = d2ev_floor_div(d2ev_tz_to_local(ctx->tz, ctx->now), DAY_MS);
    if (day == today)
        snprintf(buf, size, "%02d:%02d", (int)(ms / 3600000), (int)(ms / 60000 % 60));
    else
        snprintf(buf, size, "%s %02d:%02d", wd[d2ev_weekday(day)], (int)(ms / 3600000),
                 (int)(ms / 60000 % 60));
}

static void fmt_duration(double hours, char *buf, size_t size)
{
    long m = lround(hours * 60);
    if (m >= 60)
        snprintf(buf, size, "%ld h %02ld min", m / 60, m % 60);
    else
        snprintf(buf, size, "%ld min", m);
}

static void append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= size - len)
        buf[len] = '\0'; /* a note that does not fit is left out whole */
}

static void explain(const struct plan_ctx *ctx, const struct plan_sol *sol, bool relaxed,
                    struct plan_result *r)
{
    char rb[24], first[24], dur[24];
    size_t sz = sizeof(r->reason);
    fmt_local(ctx, r->ready_by, rb, sizeof(rb));
    double hours = 0;
    for (size_t i = 0; i < r->nwindows; i++)
        hours += (double)(r->windows[i].end - r->windows[i].start) / 3600000.0;
    fmt_duration(hours, dur, sizeof(dur));
    if (r->nwindows)
        fmt_local(ctx, r->windows[0].start, first, sizeof(first));
    r->reason[0] = '\0';
    switch (r->status) {
    case D2EV_SCHED_TARGET_REACHED:
        append(r->reason, sz, "Already at %.0f %% (target %.0f %%); nothing to charge.", ctx->soc,
               ctx->target_soc);
        return;
    case D2EV_SCHED_NO_FORECAST:
        append(r->reason, sz,
               "No price or carbon forecast for region %s; charging now for %s, reaching "
               "%.0f %%%s%s.",
               ctx->region, dur, r->expected_soc, ctx->no_deadline ? "" : " by ",
               ctx->no_deadline ? "" : rb);
        return;
    case D2EV_SCHED_TARGET_UNREACHABLE:
        if (ctx->car_limit)
            append(r->reason, sz,
                   "The car's own charge limit is %.0f %%, below the %.0f %% target; the plan "
                   "reaches %.0f %% by %s (%s of charging). Raise the limit in the car to reach "
                   "%.0f %%.",
                   ctx->car_limit, ctx->target_soc, r->expected_soc, rb, dur, ctx->target_soc);
        else if (ctx->capped)
            append(r->reason, sz,
                   "%.0f %% cannot be reached by %s within the price cap of %.2f %s/kWh; "
                   "charging in every slot under the cap reaches %.0f %%.",
                   ctx->target_soc, rb, ctx->prefs->price_cap, ctx->currency, r->expected_soc);
        else
            append(r->reason, sz,
                   "%.0f %% cannot be reached by %s; charging at once for %s reaches %.0f %%.",
                   ctx->target_soc, rb, dur, r->expected_soc);
        return;
    default:
        break;
    }
    if (ctx->boost)
        append(r->reason, sz, "Boost: charging now whatever the price. ");
    else if (ctx->overdue)
        append(r->reason, sz,
               "The last ready-by time passed short of %.0f %%: charging now to reach it. ",
               ctx->target_soc);
    else if (ctx->min_soc_forced)
        append(r->reason, sz, "Charging to the %.0f %% minimum at once. ", ctx->min_soc);
    const char *what = ctx->mode == D2EV_MODE_COST     ? "Cheapest"
                       : ctx->mode == D2EV_MODE_CARBON ? "Greenest"
                                                       : "Cheapest-and-greenest";
    append(r->reason, sz,
           "%s plan: %s of charging in %zu window%s from %s, reaching %.0f %% %s %s.", what, dur,
           r->nwindows, r->nwindows == 1 ? "" : "s", r->nwindows ? first : "-", r->expected_soc,
           ctx->no_deadline ? "within the forecast, by" : "by", rb);
    if (ctx->has_price && r->baseline_cost - r->expected_cost > 0.005)
        append(r->reason, sz, " Saves %.2f %s against charging at once.",
               r->baseline_cost - r->expected_cost, ctx->currency);
    if (ctx->has_carbon && r->baseline_carbon_g - r->expected_carbon_g > 50)
        append(r->reason, sz, " Avoids %.1f kg CO2.",
               (r->baseline_carbon_g - r->expected_carbon_g) / 1000.0);
    if (relaxed)
        append(r->reason, sz, " The window limits could not be met, so the plan ignores them.");
    else if (sol && sol->outcome == PLAN_FEASIBLE)
        append(r->reason, sz, " Solver time limit hit: best plan found.");
    if (ctx->mode_fallback)
        append(r->reason, sz, " No %s forecast: planned on %s.",
               ctx->has_price ? "carbon" : "price", ctx->has_price ? "price" : "carbon");
    if (ctx->capped)
        append(r->reason, sz, " Price cap %.2f %s/kWh applied.", ctx->prefs->price_cap,
               ctx->currency);
    if (ctx->estimated)
        append(r->reason, sz, " The forecast ends early; later slots repeat the day before.");
}

int plan_finish(const struct plan_ctx *ctx, const double *e, const struct plan_sol *sol,
                bool relaxed, struct plan_result *r)
{
    memset(r, 0, sizeof(*r));
    r->ready_by = ctx->ready_by;
    r->target_soc = ctx->target_soc;
    r->expected_soc = ctx->soc;
    r->power_kw = ctx->power_kw;
    r->battery_kwh = ctx->battery_kwh;
    snprintf(r->currency, sizeof(r->currency), "%s", ctx->currency);
    snprintf(r->method, sizeof(r->method), "%s", sol ? sol->method : "none");
    r->solve_ms = sol ? sol->solve_ms : 0;
    r->objective = sol ? sol->objective : 0;
    double energy = 0;
    switch (ctx->kind) {
    case PLAN_KIND_REACHED:
        r->status = ctx->car_limit ? D2EV_SCHED_TARGET_UNREACHABLE : D2EV_SCHED_TARGET_REACHED;
        explain(ctx, sol, relaxed, r);
        return D2EV_OK;
    case PLAN_KIND_NO_FORECAST: {
        r->status = D2EV_SCHED_NO_FORECAST;
        int64_t horizon = ctx->ready_by - ctx->now;
        int64_t ms = (int64_t)llround(ctx->prob.energy / ctx->power_kw * 3600000.0);
        if (ms > horizon)
            ms = horizon;
        size_t cap = 0;
        energy = ctx->power_kw * (double)ms / 3600000.0;
        if (add_window(r, &cap, ctx->now, ctx->now + ms, energy))
            return D2EV_ERR_NOMEM;
        snprintf(r->method, sizeof(r->method), "none");
        break;
    }
    case PLAN_KIND_UNREACHABLE:
    case PLAN_KIND_SOLVE:
    default: {
        r->status = ctx->kind == PLAN_KIND_UNREACHABLE || ctx->car_limit
                        ? D2EV_SCHED_TARGET_UNREACHABLE
                    : ctx->boost || ctx->min_soc_forced || ctx->overdue ? D2EV_SCHED_CHARGE_NOW
                    : relaxed || (sol && sol->outcome == PLAN_FEASIBLE) ? D2EV_SCHED_FEASIBLE
                                                                        : D2EV_SCHED_OPTIMAL;
        double *all = NULL;
        if (ctx->kind == PLAN_KIND_UNREACHABLE) {
            all = malloc((ctx->prob.n ? ctx->prob.n : 1) * sizeof(double));
            if (!all)
                return D2EV_ERR_NOMEM;
            for (size_t i = 0; i < ctx->prob.n; i++)
                all[i] = ctx->slots[i].ub;
            e = all;
            snprintf(r->method, sizeof(r->method), "none");
        }
        int rc = realise(ctx, e, r);
        for (size_t i = 0; i < ctx->prob.n; i++) {
            energy += e[i];
            r->expected_cost += ctx->slots[i].price * e[i] / ctx->efficiency;
            r->expected_carbon_g += ctx->slots[i].carbon * e[i] / ctx->efficiency;
        }
        free(all);
        if (rc)
            return rc;
        break;
    }
    }
    /* energy so far is full-power-equivalent; report what reaches the battery */
    r->taper_soc = ctx->taper_soc;
    r->taper_min = ctx->taper_min;
    r->expected_soc =
        plan_soc_after(ctx->soc, energy, ctx->battery_kwh, ctx->taper_soc, ctx->taper_min);
    if (ctx->car_limit && r->expected_soc > ctx->car_limit)
        r->expected_soc = ctx->soc > ctx->car_limit ? ctx->soc : ctx->car_limit;
    double real = (r->expected_soc - ctx->soc) / 100.0 * ctx->battery_kwh;
    if (energy > 1e-9 && real < energy) {
        double f = real / energy; /* the tapered hours take less energy (and money) */
        for (size_t i = 0; i < r->nwindows; i++)
            r->windows[i].energy_kwh *= f;
        r->expected_cost *= f;
        r->expected_carbon_g *= f;
        energy = real;
    }
    baseline(ctx, energy, &r->baseline_cost, &r->baseline_carbon_g);
    explain(ctx, sol, relaxed, r);
    return D2EV_OK;
}

int plan_vehicle(const struct plan_input *in, const struct plan_options *opt,
                 struct plan_result *res, struct d2ev_err *err)
{
    struct plan_ctx ctx;
    int rc = plan_build(in, opt, &ctx, err);
    if (rc) {
        plan_ctx_clear(&ctx);
        return rc;
    }
    struct plan_sol sol = { 0 };
    bool relaxed = false;
    double stack[256];
    double *e = NULL;
    if (ctx.kind == PLAN_KIND_SOLVE) {
        e = ctx.prob.n <= 256 ? stack : malloc(ctx.prob.n * sizeof(double));
        if (!e) {
            plan_ctx_clear(&ctx);
            return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        }
        plan_solve(&ctx, opt, e, &sol, &relaxed);
    }
    rc = plan_finish(&ctx, e, ctx.kind == PLAN_KIND_SOLVE ? &sol : NULL, relaxed, res);
    if (e != stack)
        free(e);
    plan_ctx_clear(&ctx);
    if (rc)
        return d2ev_err_set(err, rc, "out of memory");
    return D2EV_OK;
}
