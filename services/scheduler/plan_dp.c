/*
 * plan_dp.c: an exact dynamic programme for the window-limited model.
 *
 * Every free slot is off, full, or (at most one, at a window's edge) partial.
 * All free slots with ub > 0 except the first (A) and the last (B) share one
 * energy q, so the energy of a plan is fixed by how many interior slots are
 * full (c), the states of A and B, and the partial amount. We enumerate the
 * states of A and B (off/full/partial); each fixes c and the partial amount,
 * and a DP over the interior slots then picks which c slots are full and
 * where the partial goes, with states (windows opened k, full slots used u,
 * partial used, run state). The run state remembers how long the open window
 * is (capped at the minimum length) so a window is only closed once it is
 * long enough. docs/scheduling.md has the argument that this is the same
 * model as the MILP in plan_glpk.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

enum edge { E_OFF = 0, E_FULL, E_PART, E_NONE };
enum act { ACT_OFF = 0, ACT_FULL, ACT_PART };

struct dp {
    const struct plan_problem *p;
    size_t F, A, B;    /* forced prefix [0, F); first free A; last B */
    double P, L, tol;  /* battery kW, min window hours */
    double forced_dur; /* hours */
    double q, dq;      /* interior slot energy and duration */
    int J;             /* run length cap in interior slots */
    int K;             /* windows allowed */
    size_t max_cells;
    /* per combination */
    int c;       /* interior full slots */
    double r;    /* interior partial energy (0 = none) */
    double base; /* duration of the window open at A (st = 1) */
    int RS, S;   /* run states, states */
    double *cur, *nxt;
    int32_t *back; /* per interior position and state: prev << 2 | act */
    size_t back_cap;
};

/* run state: 0 OFF, 1 CLOSING (a partial just ended the window), 2.. ON */
#define RS_OFF     0
#define RS_CLOSING 1

static int rs_on(const struct dp *d, int st, int j, int pin)
{
    return 2 + ((st * (d->J + 1) + j) * 2 + pin);
}

static void rs_decode(const struct dp *d, int rs, int *st, int *j, int *pin)
{
    int x = rs - 2;
    *pin = x % 2;
    x /= 2;
    *j = x % (d->J + 1);
    *st = x / (d->J + 1);
}

static int state(const struct dp *d, int k, int u, int pu, int rs)
{
    return ((k * (d->c + 1) + u) * 2 + pu) * d->RS + rs;
}

static void state_decode(const struct dp *d, int s, int *k, int *u, int *pu, int *rs)
{
    *rs = s % d->RS;
    s /= d->RS;
    *pu = s % 2;
    s /= 2;
    *u = s % (d->c + 1);
    *k = s / (d->c + 1);
}

/* Is the open window long enough once `extra` hours are added and it closes? */
static bool long_enough(const struct dp *d, int st, int j, int pin, double extra)
{
    if (d->L <= 0 || (d->J > 0 && j >= d->J))
        return true;
    double dur = (st ? d->base : 0) + j * d->dq + (pin ? d->r / d->P : 0) + extra;
    return dur >= d->L - 1e-9;
}

static void relax(struct dp *d, double *arr, int32_t *back, int to, double cost, int from, int act)
{
    if (cost < arr[to]) {
        arr[to] = cost;
        if (back)
            back[to] = (int32_t)((from << 2) | act);
    }
}

/* One interior slot i from d->cur into d->nxt. */
static void step(struct dp *d, size_t i, int32_t *back)
{
    const struct plan_slot *s = &d->p->slots[i];
    bool allowed = s->ub > 0;
    bool has_r = d->r > 0;
    for (int x = 0; x < d->S; x++)
        d->nxt[x] = INFINITY;
    for (int from = 0; from < d->S; from++) {
        double v = d->cur[from];
        if (!isfinite(v))
            continue;
        int k, u, pu, rs;
        state_decode(d, from, &k, &u, &pu, &rs);
        double cf = v + s->obj * d->q, cp = v + s->obj * d->r;
        if (rs == RS_OFF || rs == RS_CLOSING) {
            relax(d, d->nxt, back, state(d, k, u, pu, RS_OFF), v, from, ACT_OFF);
            if (rs == RS_CLOSING || !allowed || k >= d->K)
                continue;
            if (u < d->c)
                relax(d, d->nxt, back, state(d, k + 1, u + 1, pu, rs_on(d, 0, d->J ? 1 : 0, 0)), cf,
                      from, ACT_FULL);
            if (has_r && !pu)
                relax(d, d->nxt, back, state(d, k + 1, u, 1, rs_on(d, 0, 0, 1)), cp, from,
                      ACT_PART);
            continue;
        }
        int st, j, pin;
        rs_decode(d, rs, &st, &j, &pin);
        if (long_enough(d, st, j, pin, 0))
            relax(d, d->nxt, back, state(d, k, u, pu, RS_OFF), v, from, ACT_OFF);
        if (!allowed)
            continue;
        if (u < d->c) {
            int nj = j + 1 > d->J ? d->J : j + 1;
            relax(d, d->nxt, back, state(d, k, u + 1, pu, rs_on(d, st, nj, pin)), cf, from,
                  ACT_FULL);
        }
        if (has_r && !pu && long_enough(d, st, j, pin, d->r / d->P))
            relax(d, d->nxt, back, state(d, k, u, 1, RS_CLOSING), cp, from, ACT_PART);
    }
    double *t = d->cur;
    d->cur = d->nxt;
    d->nxt = t;
}

static double edge_energy(enum edge st, double ub, double x)
{
    return st == E_FULL ? ub : st == E_PART ? x : 0;
}

/* Run one combination; on a better plan than *best write it to e. */
static int run(struct dp *d, enum edge sA, double xA, enum edge sB, double xB, double *e,
               double *best)
{
    const struct plan_problem *p = d->p;
    const struct plan_slot *a = &p->slots[d->A], *b = &p->slots[d->B];
    size_t ninner = d->B > d->A + 1 ? d->B - d->A - 1 : 0;
    d->RS = 2 + 2 * (d->J + 1) * 2;
    size_t S = (size_t)(d->K + 1) * (size_t)(d->c + 1) * 2 * (size_t)d->RS;
    if (S * (ninner + 1) > d->max_cells || S > INT32_MAX / 4)
        return D2EV_ERR_UNSUPPORTED;
    d->S = (int)S;
    double *cur = malloc(S * sizeof(double)), *nxt = malloc(S * sizeof(double));
    size_t nb = S * ninner;
    if (nb > d->back_cap) {
        free(d->back);
        d->back = malloc(nb * sizeof(int32_t));
        d->back_cap = d->back ? nb : 0;
    }
    if (!cur || !nxt || (nb && !d->back)) {
        free(cur);
        free(nxt);
        return D2EV_ERR_NOMEM;
    }
    d->cur = cur;
    d->nxt = nxt;
    for (size_t x = 0; x < S; x++)
        d->cur[x] = INFINITY;

    /* the state after slot A */
    int k0 = d->F > 0 ? 1 : 0, rs0 = RS_OFF;
    bool ok = true;
    d->base = d->forced_dur;
    if (sA == E_OFF) {
        ok = d->F == 0 || d->L <= 0 || d->forced_dur >= d->L - 1e-9;
    } else if (sA == E_FULL) {
        d->base += a->ub / d->P;
        k0 = 1;
        rs0 = rs_on(d, 1, 0, 0);
    } else if (d->F > 0) { /* a partial A ends the forced window */
        ok = d->L <= 0 || d->forced_dur + xA / d->P >= d->L - 1e-9;
        rs0 = RS_CLOSING;
    } else { /* a partial A opens a window */
        d->base = xA / d->P;
        k0 = 1;
        rs0 = rs_on(d, 1, 0, 0);
    }
    double cost0 = a->obj * edge_energy(sA, a->ub, xA);
    if (ok && k0 <= d->K)
        d->cur[state(d, k0, 0, 0, rs0)] = cost0;

    for (size_t t = 0; t < ninner; t++)
        step(d, d->A + 1 + t, d->back + t * S);

    /* slot B (or the end of the horizon when A is the last slot) */
    int want_pu = d->r > 0 ? 1 : 0;
    int best_s = -1;
    double best_v = INFINITY;
    for (int s = 0; s < d->S; s++) {
        double v = d->cur[s];
        if (!isfinite(v))
            continue;
        int k, u, pu, rs;
        state_decode(d, s, &k, &u, &pu, &rs);
        if (u != d->c || pu != want_pu)
            continue;
        int st = 0, j = 0, pin = 0;
        bool on = rs >= 2;
        if (on)
            rs_decode(d, rs, &st, &j, &pin);
        if (sB == E_NONE || sB == E_OFF) {
            if (on && !long_enough(d, st, j, pin, 0))
                continue;
        } else {
            if (rs == RS_CLOSING)
                continue;
            double extra = sB == E_FULL ? b->ub / d->P : xB / d->P;
            if (!on) {
                if (k + 1 > d->K || (d->L > 0 && extra < d->L - 1e-9))
                    continue;
            } else if (!long_enough(d, st, j, pin, extra)) {
                continue;
            }
            v += b->obj * edge_energy(sB, b->ub, xB);
        }
        if (v < best_v) {
            best_v = v;
            best_s = s;
        }
    }
    if (best_s >= 0 && best_v < *best) {
        *best = best_v;
        for (size_t i = 0; i < p->n; i++)
            e[i] = i < d->F ? p->slots[i].ub : 0;
        e[d->A] = edge_energy(sA, a->ub, xA);
        if (sB != E_NONE)
            e[d->B] = edge_energy(sB, b->ub, xB);
        int s = best_s;
        for (size_t t = ninner; t-- > 0;) {
            int32_t bp = d->back[t * S + (size_t)s];
            int act = bp & 3;
            e[d->A + 1 + t] = act == ACT_FULL ? d->q : act == ACT_PART ? d->r : 0;
            s = bp >> 2;
        }
    }
    free(cur);
    free(nxt);
    return D2EV_OK;
}

int plan_solve_dp(const struct plan_problem *p, size_t max_cells, double *e, struct plan_sol *sol,
                  struct d2ev_err *err)
{
    double t0 = plan_elapsed_ms(0);
    struct dp d = { .p = p, .max_cells = max_cells };
    d.P = p->power_kw;
    d.L = (double)p->min_window_ms / 3600000.0;
    d.tol = 1e-9 * (p->energy > 1 ? p->energy : 1);
    if (p->n == 0 || d.P <= 0)
        return d2ev_err_set(err, D2EV_ERR_UNSUPPORTED, "dp: empty problem");
    while (d.F < p->n && p->slots[d.F].forced)
        d.F++;
    double Ef = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (i >= d.F && p->slots[i].forced)
            return d2ev_err_set(err, D2EV_ERR_UNSUPPORTED, "dp: forced slots must be a prefix");
        if (i < d.F)
            Ef += p->slots[i].ub;
    }
    d.forced_dur = Ef / d.P;
    double rest = p->energy - Ef;
    snprintf(sol->method, sizeof(sol->method), "dp");
    sol->outcome = PLAN_INFEASIBLE;
    sol->objective = INFINITY;
    for (size_t i = 0; i < p->n; i++)
        e[i] = i < d.F ? p->slots[i].ub : 0;
    if (d.F == p->n || rest < -d.tol) {
        bool ok = fabs(rest) <= d.tol && (d.F == 0 || p->max_windows == 0 || p->max_windows >= 1) &&
                  (d.F == 0 || d.forced_dur >= d.L - 1e-9);
        if (ok) {
            sol->outcome = PLAN_OPTIMAL;
            sol->objective = 0;
            for (size_t i = 0; i < d.F; i++)
                sol->objective += p->slots[i].obj * e[i];
        }
        sol->solve_ms = plan_elapsed_ms(t0);
        return D2EV_OK;
    }
    d.A = d.F;
    d.B = p->n - 1;
    int inner_allowed = 0;
    for (size_t i = d.A + 1; i < d.B; i++) {
        double ub = p->slots[i].ub;
        if (ub <= 0)
            continue;
        if (d.q == 0)
            d.q = ub;
        else if (fabs(ub - d.q) > 1e-9 * d.q)
            return d2ev_err_set(err, D2EV_ERR_UNSUPPORTED, "dp: interior slots differ in size");
        inner_allowed++;
    }
    d.dq = d.q / d.P;
    d.J = d.L > 0 && d.q > 0 ? (int)ceil(d.L / d.dq - 1e-9) : 0;
    int max_runs = inner_allowed + 3;
    d.K = p->max_windows > 0 && p->max_windows < max_runs ? p->max_windows : max_runs;

    double best = INFINITY;
    const struct plan_slot *a = &p->slots[d.A], *b = &p->slots[d.B];
    bool single = d.A == d.B;
    int rc = D2EV_OK;
    for (int sa = E_OFF; sa <= E_PART && rc == D2EV_OK; sa++) {
        if (sa != E_OFF && a->ub <= 0)
            continue;
        for (int sb = single ? E_NONE : E_OFF; sb <= (single ? E_NONE : E_PART); sb++) {
            if (sb != E_OFF && sb != E_NONE && b->ub <= 0)
                continue;
            if (sa == E_PART && sb == E_PART)
                continue;
            double R = rest - (sa == E_FULL ? a->ub : 0) - (sb == E_FULL ? b->ub : 0);
            if (R < -d.tol)
                continue;
            double x = 0;
            d.r = 0;
            if (sa == E_PART || sb == E_PART) {
                double ubx = sa == E_PART ? a->ub : b->ub;
                d.c = d.q > 0 ? (int)floor(R / d.q) : 0;
                x = R - d.c * d.q;
                if (x <= d.tol && d.c > 0) {
                    d.c--;
                    x += d.q;
                }
                if (x <= d.tol || x >= ubx - d.tol)
                    continue;
            } else {
                d.c = d.q > 0 ? (int)floor(R / d.q + 1e-9) : 0;
                d.r = R - d.c * d.q;
                if (d.r <= d.tol)
                    d.r = 0;
                if (d.q == 0 && d.r > 0)
                    continue;
            }
            if (d.c + (d.r > 0 ? 1 : 0) > inner_allowed)
                continue;
            rc = run(&d, (enum edge)sa, sa == E_PART ? x : 0, (enum edge)sb, sb == E_PART ? x : 0,
                     e, &best);
            if (rc)
                break;
        }
    }
    free(d.back);
    if (rc == D2EV_ERR_UNSUPPORTED)
        return d2ev_err_set(err, rc, "dp: state space above %zu cells", max_cells);
    if (rc)
        return d2ev_err_set(err, rc, "dp: out of memory");
    if (isfinite(best)) {
        sol->outcome = PLAN_OPTIMAL;
        sol->objective = 0;
        for (size_t i = 0; i < p->n; i++)
            sol->objective += p->slots[i].obj * e[i];
    } else {
        for (size_t i = 0; i < p->n; i++)
            e[i] = i < d.F ? p->slots[i].ub : 0;
    }
    sol->solve_ms = plan_elapsed_ms(t0);
    return D2EV_OK;
}
