/* fleet.c: site capacity limits by Lagrangian decomposition, repair and a GLPK reference. */
#include "fleet.h"

#include <glpk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void fleet_options_default(struct fleet_options *o)
{
    o->max_iterations = 60;
    o->repair_every = 10;
    o->time_limit_ms = 5000;
    o->target_gap = 0.001;
}

struct fv {
    struct plan_ctx *ctx;
    size_t n;
    double scale; /* objective -> currency-equivalent */
    double pgrid; /* kW drawn from the site while charging */
    double eta;
    double energy; /* target energy, capped at what the car can take */
    double slack;  /* available / needed */
    int32_t *tau;  /* capacity slot of each slot, -1 when unlimited */
    double *base;  /* scale * obj per slot */
    double *pobj;  /* priced objective per slot */
    struct plan_slot *work;
    double *tmp;
};

struct fleet {
    struct fv *v;
    size_t nv;
    const struct fleet_capacity *cap;
    const struct plan_options *popt;
    double *lambda, *load, *resid, *grad;
};

static double spread(const struct plan_slot *s, size_t n, bool carbon)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v = carbon ? s[i].carbon : s[i].price;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    return n && hi > lo ? hi - lo : 0;
}

static double vehicle_scale(const struct plan_ctx *c)
{
    double rp = c->has_price ? spread(c->slots, c->prob.n, false) : 0;
    double rc = c->has_carbon ? spread(c->slots, c->prob.n, true) : 0;
    switch (c->mode) {
    case D2EV_MODE_CARBON:
        return rp > 0 && rc > 0 ? rp / rc : 1;
    case D2EV_MODE_MIX:
        return rp > 0 ? rp : rc > 0 ? rc : 1;
    case D2EV_MODE_COST:
    default:
        return 1;
    }
}

static int32_t tau_of(const struct fleet_capacity *cap, int64_t t)
{
    if (!cap || t < cap->start)
        return -1;
    int64_t k = (t - cap->start) / cap->slot_ms;
    return k < (int64_t)cap->n ? (int32_t)k : -1;
}

static void fleet_free(struct fleet *f)
{
    for (size_t i = 0; f->v && i < f->nv; i++) {
        free(f->v[i].tau);
        free(f->v[i].work);
        free(f->v[i].tmp);
        free(f->v[i].base);
        free(f->v[i].pobj);
    }
    free(f->v);
    free(f->lambda);
    free(f->load);
    free(f->resid);
    free(f->grad);
}

static int fleet_init(struct fleet *f, struct plan_ctx *const *ctx, size_t nv,
                      const struct fleet_capacity *cap, const struct plan_options *popt)
{
    memset(f, 0, sizeof(*f));
    f->nv = nv;
    f->cap = cap;
    f->popt = popt;
    size_t nc = cap ? cap->n : 0;
    f->v = calloc(nv ? nv : 1, sizeof(*f->v));
    f->lambda = calloc(nc + 1, sizeof(double));
    f->load = calloc(nc + 1, sizeof(double));
    f->resid = calloc(nc + 1, sizeof(double));
    f->grad = calloc(nc + 1, sizeof(double));
    if (!f->v || !f->lambda || !f->load || !f->resid || !f->grad)
        return D2EV_ERR_NOMEM;
    for (size_t i = 0; i < nv; i++) {
        struct fv *v = &f->v[i];
        v->ctx = ctx[i];
        v->n = ctx[i]->prob.n;
        v->scale = vehicle_scale(ctx[i]);
        v->eta = ctx[i]->efficiency;
        v->pgrid = ctx[i]->power_kw / v->eta;
        v->tau = malloc((v->n ? v->n : 1) * sizeof(int32_t));
        v->work = malloc((v->n ? v->n : 1) * sizeof(struct plan_slot));
        v->tmp = malloc((v->n ? v->n : 1) * sizeof(double));
        v->base = malloc((v->n ? v->n : 1) * sizeof(double));
        v->pobj = malloc((v->n ? v->n : 1) * sizeof(double));
        if (!v->tau || !v->work || !v->tmp || !v->base || !v->pobj)
            return D2EV_ERR_NOMEM;
        for (size_t s = 0; s < v->n; s++)
            v->base[s] = v->scale * ctx[i]->slots[s].obj;
        double avail = 0;
        for (size_t s = 0; s < v->n; s++) {
            v->tau[s] = tau_of(cap, ctx[i]->slots[s].start);
            avail += ctx[i]->slots[s].ub;
        }
        v->energy = ctx[i]->prob.energy < avail ? ctx[i]->prob.energy : avail;
        v->slack = v->energy > 0 ? avail / v->energy : INFINITY;
    }
    return D2EV_OK;
}

/* The vehicle's slots with the priced objective. */
static void priced(const struct fleet *f, struct fv *v)
{
    for (size_t s = 0; s < v->n; s++) {
        v->work[s] = v->ctx->slots[s];
        v->work[s].obj =
            v->scale * v->ctx->slots[s].obj + (v->tau[s] >= 0 ? f->lambda[v->tau[s]] / v->eta : 0);
    }
}

static double original_objective(const struct fv *v, const double *e)
{
    double o = 0;
    for (size_t s = 0; s < v->n; s++)
        o += v->scale * v->ctx->slots[s].obj * e[s];
    return o;
}

/* One dual evaluation: every vehicle's LP against the priced objective. */
static double dual(struct fleet *f)
{
    size_t nc = f->cap->n;
    memset(f->load, 0, nc * sizeof(double));
    double L = 0;
    for (size_t i = 0; i < f->nv; i++) {
        struct fv *v = &f->v[i];
        for (size_t s = 0; s < v->n; s++)
            v->pobj[s] = v->base[s] + (v->tau[s] >= 0 ? f->lambda[v->tau[s]] / v->eta : 0);
        struct plan_problem p = v->ctx->prob;
        p.energy = v->energy;
        struct plan_sol sol;
        plan_solve_greedy_with(&p, v->pobj, v->tmp, &sol);
        L += sol.objective;
        for (size_t s = 0; s < v->n; s++)
            if (v->tau[s] >= 0)
                f->load[v->tau[s]] += v->tmp[s] / v->eta;
    }
    for (size_t t = 0; t < nc; t++) {
        double capkwh = f->cap->limits_kw[t] * (double)f->cap->slot_ms / 3600000.0;
        L -= f->lambda[t] * capkwh;
        f->grad[t] = f->load[t] - capkwh;
    }
    return L;
}

static int by_urgency(const void *a, const void *b, void *arg)
{
    const struct fv *v = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (v[i].ctx->ready_by != v[j].ctx->ready_by)
        return v[i].ctx->ready_by < v[j].ctx->ready_by ? -1 : 1;
    if (v[i].slack != v[j].slack)
        return v[i].slack < v[j].slack ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Move the vehicles that came up short to the front, keeping the order. */
static void promote_short(size_t *order, size_t nv, const bool *short_of, size_t *scratch)
{
    size_t k = 0;
    for (size_t i = 0; i < nv; i++)
        if (short_of[order[i]])
            scratch[k++] = order[i];
    for (size_t i = 0; i < nv; i++)
        if (!short_of[order[i]])
            scratch[k++] = order[i];
    memcpy(order, scratch, nv * sizeof(size_t));
}

/* Reserve (sign +1) or release (-1) the site power vehicle v's plan e uses. */
static void reserve(struct fleet *f, const struct fv *v, const double *e, double sign)
{
    int32_t last = -1;
    for (size_t s = 0; s < v->n; s++) {
        if (e[s] > 1e-12 && v->tau[s] >= 0 && v->tau[s] != last) {
            f->resid[v->tau[s]] -= sign * v->pgrid;
            last = v->tau[s];
        }
    }
}

/* Plan vehicle v in the power left (whole slots at full power), against the
 * priced objective (or the vehicle's own when `own`). Returns the shortfall. */
static double place(struct fleet *f, struct fv *v, bool own, double *e)
{
    priced(f, v);
    double avail = 0;
    bool lost_forced = false;
    for (size_t s = 0; s < v->n; s++) {
        if (own)
            v->work[s].obj = v->scale * v->ctx->slots[s].obj;
        if (v->tau[s] >= 0 && f->resid[v->tau[s]] < v->pgrid - 1e-9) {
            lost_forced |= v->work[s].forced;
            v->work[s].ub = 0;
            v->work[s].forced = false;
        }
    }
    for (size_t s = 0; s < v->n; s++) {
        if (lost_forced)
            v->work[s].forced = false;
        avail += v->work[s].ub;
    }
    struct plan_ctx tmp = *v->ctx;
    tmp.prob.slots = v->work;
    tmp.prob.energy = v->energy < avail ? v->energy : avail;
    struct plan_sol sol;
    bool relaxed;
    plan_solve(&tmp, f->popt, e, &sol, &relaxed);
    reserve(f, v, e, +1);
    double miss = v->energy - tmp.prob.energy;
    return miss > 1e-9 * (1 + v->energy) ? miss : 0;
}

/* Build a plan that respects the limit at every instant: place the vehicles
 * in order against the priced objective, then sweep twice re-placing each
 * one against its own objective in what the others leave (never worse). */
static double repair(struct fleet *f, const size_t *order, double **e, bool *short_of,
                     double *shortfall, int *nshort)
{
    size_t nc = f->cap->n;
    for (size_t t = 0; t < nc; t++)
        f->resid[t] = f->cap->limits_kw[t];
    for (size_t k = 0; k < f->nv; k++)
        place(f, &f->v[order[k]], false, e[order[k]]);
    for (int sweep = 0; sweep < 2; sweep++) {
        for (size_t k = 0; k < f->nv; k++) {
            size_t i = order[k];
            reserve(f, &f->v[i], e[i], -1);
            place(f, &f->v[i], true, e[i]);
        }
    }
    double ub = 0;
    *shortfall = 0;
    *nshort = 0;
    for (size_t i = 0; i < f->nv; i++) {
        double got = 0;
        for (size_t s = 0; s < f->v[i].n; s++)
            got += e[i][s];
        double miss = f->v[i].energy - got;
        bool is_short = miss > 1e-9 * (1 + f->v[i].energy);
        short_of[i] = is_short;
        if (is_short) {
            *shortfall += miss;
            (*nshort)++;
        }
        ub += original_objective(&f->v[i], e[i]);
    }
    return ub;
}

/* The best repaired plan so far. */
struct best_plan {
    double **e;
    bool *short_of;
    bool *scratch_short;
    size_t *scratch_order;
    double ub;
};

/* Repair (a few rounds: vehicles left short go first in the next round) and
 * keep the result if it misses less energy, or as much for less. */
static void repair_rounds(struct fleet *f, size_t *order, double **e, struct best_plan *bp,
                          struct fleet_report *rep)
{
    for (int round = 0; round < 4; round++) {
        double sf;
        int ns;
        double u = repair(f, order, e, bp->scratch_short, &sf, &ns);
        if (!isfinite(bp->ub) || sf < rep->shortfall_kwh - 1e-9 ||
            (fabs(sf - rep->shortfall_kwh) <= 1e-9 && u < bp->ub)) {
            bp->ub = u;
            rep->shortfall_kwh = sf;
            rep->vehicles_short = ns;
            for (size_t i = 0; i < f->nv; i++) {
                memcpy(bp->e[i], e[i], f->v[i].n * sizeof(double));
                bp->short_of[i] = bp->scratch_short[i];
            }
        }
        if (ns == 0)
            break;
        promote_short(order, f->nv, bp->scratch_short, bp->scratch_order);
    }
}

int fleet_solve(struct plan_ctx *const *ctx, size_t nv, const struct fleet_capacity *cap,
                const struct plan_options *popt, const struct fleet_options *fopt, double **e,
                bool *short_of, struct fleet_report *rep)
{
    double t0 = plan_elapsed_ms(0);
    memset(rep, 0, sizeof(*rep));
    struct fleet f;
    double **best = NULL;
    bool *best_short = NULL, *scratch_short = NULL;
    size_t *order = NULL, *scratch_order = NULL;
    int rc = fleet_init(&f, ctx, nv, cap, popt);
    if (!rc) {
        best = calloc(nv ? nv : 1, sizeof(double *));
        best_short = calloc(nv ? nv : 1, sizeof(bool));
        order = malloc((nv ? nv : 1) * sizeof(size_t));
        scratch_order = malloc((nv ? nv : 1) * sizeof(size_t));
        scratch_short = calloc(nv ? nv : 1, sizeof(bool));
        rc = best && best_short && order && scratch_order && scratch_short ? D2EV_OK
                                                                           : D2EV_ERR_NOMEM;
    }
    for (size_t i = 0; !rc && i < nv; i++) {
        best[i] = malloc((f.v[i].n ? f.v[i].n : 1) * sizeof(double));
        rc = best[i] ? D2EV_OK : D2EV_ERR_NOMEM;
        order[i] = i;
    }
    if (rc)
        goto out;
    qsort_r(order, nv, sizeof(size_t), by_urgency, f.v);

    struct best_plan bp = { best, best_short, scratch_short, scratch_order, INFINITY };
    double lb = -INFINITY, theta = 1.0;
    int since_improve = 0, it = 0, every = fopt->repair_every > 0 ? fopt->repair_every : 10;
    bool repaired = false;
    size_t nc = cap->n;
    for (it = 0;; it++) {
        double L = dual(&f);
        if (!isfinite(lb) || L > lb + 1e-12 * (1 + fabs(lb))) {
            lb = L;
            since_improve = 0;
        } else if (++since_improve >= 5) {
            theta /= 2;
            since_improve = 0;
        }
        repaired = it % every == 0;
        if (repaired)
            repair_rounds(&f, order, e, &bp, rep);
        double norm = 0;
        for (size_t t = 0; t < nc; t++) {
            double g = f.grad[t];
            if (f.lambda[t] <= 0 && g < 0)
                g = 0; /* the projection keeps lambda at 0 */
            norm += g * g;
        }
        double gap = (bp.ub - lb) / fmax(fabs(bp.ub), 1e-9);
        /* stop at the iteration or time limit, at the target gap, or once the
         * step was halved so often that the bound no longer moves */
        if (it >= fopt->max_iterations || plan_elapsed_ms(t0) >= (double)fopt->time_limit_ms ||
            norm < 1e-18 || theta < 1.0 / 64 ||
            (rep->shortfall_kwh == 0 && gap <= fopt->target_gap))
            break;
        /* Polyak's step towards a target value: the repaired plan when it is
         * complete (a true upper bound), else a little above the best bound */
        double target =
            rep->shortfall_kwh == 0 && isfinite(bp.ub) ? bp.ub : lb + 0.05 * fmax(fabs(lb), 1);
        double step = theta * fmax(target - L, 1e-6 * fmax(fabs(target), 1)) / norm;
        for (size_t t = 0; t < nc; t++)
            f.lambda[t] = fmax(0, f.lambda[t] + step * f.grad[t]);
    }
    if (!repaired) /* a last repair with the final prices */
        repair_rounds(&f, order, e, &bp, rep);
    double ub = bp.ub;
    for (size_t i = 0; i < nv; i++) {
        memcpy(e[i], best[i], f.v[i].n * sizeof(double));
        if (short_of)
            short_of[i] = best_short[i];
    }
    rep->lower_bound = lb;
    rep->upper_bound = ub;
    rep->gap = (ub - lb) / fmax(fabs(ub), 1e-9);
    rep->iterations = it;
    rep->max_overload_kw = fleet_max_overload(ctx, nv, cap, e);
out:
    for (size_t i = 0; best && i < nv; i++)
        free(best[i]);
    free(best);
    free(best_short);
    free(scratch_short);
    free(order);
    free(scratch_order);
    fleet_free(&f);
    rep->solve_ms = plan_elapsed_ms(t0);
    return rc;
}

double fleet_max_overload(struct plan_ctx *const *ctx, size_t nv, const struct fleet_capacity *cap,
                          double *const *e)
{
    double *draw = calloc(cap->n + 1, sizeof(double));
    if (!draw)
        return INFINITY;
    for (size_t i = 0; i < nv; i++) {
        int32_t last = -1;
        double pg = ctx[i]->power_kw / ctx[i]->efficiency;
        for (size_t s = 0; s < ctx[i]->prob.n; s++) {
            int32_t t = tau_of(cap, ctx[i]->slots[s].start);
            if (e[i][s] > 1e-12 && t >= 0 && t != last) {
                draw[t] += pg;
                last = t;
            }
        }
    }
    double worst = -INFINITY;
    for (size_t t = 0; t < cap->n; t++)
        worst = fmax(worst, draw[t] - cap->limits_kw[t]);
    free(draw);
    return worst;
}

int fleet_solve_glpk_lp(struct plan_ctx *const *ctx, size_t nv, const struct fleet_capacity *cap,
                        double *objective, struct d2ev_err *err)
{
    size_t ncols = 0;
    for (size_t i = 0; i < nv; i++)
        ncols += ctx[i]->prob.n;
    int *ia = malloc((2 * ncols + 1) * sizeof(int)), *ja = malloc((2 * ncols + 1) * sizeof(int));
    double *ar = malloc((2 * ncols + 1) * sizeof(double));
    if (!ia || !ja || !ar) {
        free(ia);
        free(ja);
        free(ar);
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    }
    glp_term_out(GLP_OFF);
    glp_prob *lp = glp_create_prob();
    glp_set_obj_dir(lp, GLP_MIN);
    glp_add_rows(lp, (int)(nv + cap->n));
    glp_add_cols(lp, (int)ncols);
    for (size_t t = 0; t < cap->n; t++)
        glp_set_row_bnds(lp, (int)(nv + t + 1), GLP_UP, 0,
                         cap->limits_kw[t] * (double)cap->slot_ms / 3600000.0);
    int col = 0, nz = 0;
    for (size_t i = 0; i < nv; i++) {
        const struct plan_ctx *c = ctx[i];
        double scale = vehicle_scale(c), avail = 0;
        for (size_t s = 0; s < c->prob.n; s++) {
            const struct plan_slot *sl = &c->slots[s];
            col++;
            avail += sl->ub;
            if (sl->forced)
                glp_set_col_bnds(lp, col, GLP_FX, sl->ub, sl->ub);
            else if (sl->ub <= 0)
                glp_set_col_bnds(lp, col, GLP_FX, 0, 0);
            else
                glp_set_col_bnds(lp, col, GLP_DB, 0, sl->ub);
            glp_set_obj_coef(lp, col, scale * sl->obj);
            nz++;
            ia[nz] = (int)i + 1;
            ja[nz] = col;
            ar[nz] = 1;
            int32_t t = tau_of(cap, sl->start);
            if (t >= 0) {
                nz++;
                ia[nz] = (int)(nv + (size_t)t + 1);
                ja[nz] = col;
                ar[nz] = 1 / c->efficiency;
            }
        }
        double en = c->prob.energy < avail ? c->prob.energy : avail;
        glp_set_row_bnds(lp, (int)i + 1, GLP_FX, en, en);
    }
    glp_load_matrix(lp, nz, ia, ja, ar);
    free(ia);
    free(ja);
    free(ar);
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    parm.presolve = GLP_ON;
    int rc = glp_simplex(lp, &parm);
    int st = glp_get_status(lp);
    if (rc == 0 && st == GLP_OPT) {
        *objective = glp_get_obj_val(lp);
        rc = D2EV_OK;
    } else {
        rc = d2ev_err_set(err, D2EV_ERR_STATE, "glpk fleet LP: code %d, status %d", rc, st);
    }
    glp_delete_prob(lp);
    return rc;
}
