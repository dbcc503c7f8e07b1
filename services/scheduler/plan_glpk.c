/*
 * plan_glpk.c: the single-vehicle model in GLPK, as an LP (window limits
 * ignored) and as a MILP (window limits as binaries).
 *
 * MILP, per slot i: e_i (kWh), z_i (charging), f_i (the partial slot),
 * s_i (a window starts):
 *   sum e = E
 *   e_i <= ub_i z_i            e_i >= ub_i (z_i - f_i)     f_i <= z_i
 *   sum f <= 1                 f_i + z_{i-1} + z_{i+1} <= 2   (partial at an edge)
 *   s_i >= z_i - z_{i-1}       sum s <= K
 *   min length L: with M_i the fewest slots from i lasting >= L,
 *     z_j >= s_i for j in [i, i+M_i)   and   sum_{j=i}^{i+M_i} e_j >= P L s_i
 *     (s_i = 0 when the horizon ends first)
 * Forced slots are fixed full; slots with ub = 0 are fixed off.
 */
#include <glpk.h>
#include <math.h>
#include <stdlib.h>

#include "plan.h"

static void quiet(void)
{
    glp_term_out(GLP_OFF);
}

static void set_energy_bounds(glp_prob *lp, int col, const struct plan_slot *s)
{
    if (s->forced)
        glp_set_col_bnds(lp, col, GLP_FX, s->ub, s->ub);
    else if (s->ub <= 0)
        glp_set_col_bnds(lp, col, GLP_FX, 0, 0);
    else
        glp_set_col_bnds(lp, col, GLP_DB, 0, s->ub);
}

static void read_solution(glp_prob *lp, const struct plan_problem *p, bool mip, double *e,
                          struct plan_sol *sol)
{
    sol->objective = 0;
    for (size_t i = 0; i < p->n; i++) {
        double v = mip ? glp_mip_col_val(lp, (int)i + 1) : glp_get_col_prim(lp, (int)i + 1);
        if (v < 0)
            v = 0;
        if (v > p->slots[i].ub)
            v = p->slots[i].ub;
        e[i] = v;
        sol->objective += p->slots[i].obj * v;
    }
}

int plan_solve_glpk_lp(const struct plan_problem *p, double *e, struct plan_sol *sol,
                       struct d2ev_err *err)
{
    double t0 = plan_elapsed_ms(0);
    quiet();
    snprintf(sol->method, sizeof(sol->method), "lp");
    int n = (int)p->n;
    glp_prob *lp = glp_create_prob();
    glp_set_obj_dir(lp, GLP_MIN);
    glp_add_cols(lp, n);
    glp_add_rows(lp, 1);
    int *ind = malloc(((size_t)n + 1) * sizeof(int));
    double *val = malloc(((size_t)n + 1) * sizeof(double));
    if (!ind || !val) {
        free(ind);
        free(val);
        glp_delete_prob(lp);
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        set_energy_bounds(lp, i + 1, &p->slots[i]);
        glp_set_obj_coef(lp, i + 1, p->slots[i].obj);
        ind[i + 1] = i + 1;
        val[i + 1] = 1;
    }
    glp_set_row_bnds(lp, 1, GLP_FX, p->energy, p->energy);
    glp_set_mat_row(lp, 1, n, ind, val);
    free(ind);
    free(val);
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    parm.presolve = GLP_ON;
    int rc = glp_simplex(lp, &parm);
    if (rc == 0 && glp_get_status(lp) == GLP_OPT) {
        sol->outcome = PLAN_OPTIMAL;
        read_solution(lp, p, false, e, sol);
    } else if (rc == GLP_ENOPFS || (rc == 0 && glp_get_status(lp) == GLP_NOFEAS)) {
        sol->outcome = PLAN_INFEASIBLE;
    } else {
        glp_delete_prob(lp);
        return d2ev_err_set(err, D2EV_ERR_STATE, "glpk simplex failed (code %d)", rc);
    }
    glp_delete_prob(lp);
    sol->solve_ms = plan_elapsed_ms(t0);
    return D2EV_OK;
}

/* A growing list of constraint rows. */
struct rows {
    glp_prob *lp;
    int ind[8];
    double val[8];
    int len;
};

static void row_begin(struct rows *r)
{
    r->len = 0;
}

static void row_add(struct rows *r, int col, double v)
{
    r->len++;
    r->ind[r->len] = col;
    r->val[r->len] = v;
}

static void row_end(struct rows *r, int type, double lb, double ub)
{
    int row = glp_add_rows(r->lp, 1);
    glp_set_row_bnds(r->lp, row, type, lb, ub);
    glp_set_mat_row(r->lp, row, r->len, r->ind, r->val);
}

/* A row over many columns (sums). */
static int sum_row(glp_prob *lp, int first_col, int count, int type, double lb, double ub)
{
    int *ind = malloc(((size_t)count + 1) * sizeof(int));
    double *val = malloc(((size_t)count + 1) * sizeof(double));
    if (!ind || !val) {
        free(ind);
        free(val);
        return D2EV_ERR_NOMEM;
    }
    for (int k = 0; k < count; k++) {
        ind[k + 1] = first_col + k;
        val[k + 1] = 1.0;
    }
    int row = glp_add_rows(lp, 1);
    glp_set_row_bnds(lp, row, type, lb, ub);
    glp_set_mat_row(lp, row, count, ind, val);
    free(ind);
    free(val);
    return D2EV_OK;
}

int plan_solve_glpk_milp(const struct plan_problem *p, int time_limit_ms, double *e,
                         struct plan_sol *sol, struct d2ev_err *err)
{
    double t0 = plan_elapsed_ms(0);
    quiet();
    snprintf(sol->method, sizeof(sol->method), "milp");
    int n = (int)p->n;
    /* columns: e 1..n, z n+1..2n, f 2n+1..3n, s 3n+1..4n */
#define CE(i) ((i) + 1)
#define CZ(i) (n + (i) + 1)
#define CF(i) (2 * n + (i) + 1)
#define CS(i) (3 * n + (i) + 1)
    glp_prob *lp = glp_create_prob();
    glp_set_obj_dir(lp, GLP_MIN);
    glp_add_cols(lp, 4 * n);
    for (int i = 0; i < n; i++) {
        const struct plan_slot *s = &p->slots[i];
        set_energy_bounds(lp, CE(i), s);
        glp_set_obj_coef(lp, CE(i), s->obj);
        for (int c = 1; c <= 3; c++)
            glp_set_col_kind(lp, CZ(i) + (c - 1) * n, GLP_BV);
        if (s->forced) {
            glp_set_col_bnds(lp, CZ(i), GLP_FX, 1, 1);
            glp_set_col_bnds(lp, CF(i), GLP_FX, 0, 0);
        } else if (s->ub <= 0) {
            glp_set_col_bnds(lp, CZ(i), GLP_FX, 0, 0);
            glp_set_col_bnds(lp, CF(i), GLP_FX, 0, 0);
        }
    }
    int rc = sum_row(lp, CE(0), n, GLP_FX, p->energy, p->energy);
    if (!rc)
        rc = sum_row(lp, CF(0), n, GLP_UP, 0, 1);
    if (!rc && p->max_windows > 0)
        rc = sum_row(lp, CS(0), n, GLP_UP, 0, p->max_windows);
    struct rows r = { .lp = lp };
    double minL_h = (double)p->min_window_ms / 3600000.0;
    for (int i = 0; i < n && !rc; i++) {
        double ub = p->slots[i].ub;
        row_begin(&r); /* e_i - ub z_i <= 0 */
        row_add(&r, CE(i), 1);
        row_add(&r, CZ(i), -ub);
        row_end(&r, GLP_UP, 0, 0);
        row_begin(&r); /* e_i - ub z_i + ub f_i >= 0 */
        row_add(&r, CE(i), 1);
        row_add(&r, CZ(i), -ub);
        row_add(&r, CF(i), ub);
        row_end(&r, GLP_LO, 0, 0);
        row_begin(&r); /* f_i - z_i <= 0 */
        row_add(&r, CF(i), 1);
        row_add(&r, CZ(i), -1);
        row_end(&r, GLP_UP, 0, 0);
        row_begin(&r); /* f_i + z_{i-1} + z_{i+1} <= 2 */
        row_add(&r, CF(i), 1);
        if (i > 0)
            row_add(&r, CZ(i - 1), 1);
        if (i + 1 < n)
            row_add(&r, CZ(i + 1), 1);
        row_end(&r, GLP_UP, 0, 2);
        row_begin(&r); /* s_i - z_i + z_{i-1} >= 0 */
        row_add(&r, CS(i), 1);
        row_add(&r, CZ(i), -1);
        if (i > 0)
            row_add(&r, CZ(i - 1), 1);
        row_end(&r, GLP_LO, 0, 0);
        if (p->min_window_ms <= 0)
            continue;
        int m = 0;
        int64_t dur = 0;
        while (i + m < n && dur < p->min_window_ms) {
            dur += p->slots[i + m].end - p->slots[i + m].start;
            m++;
        }
        if (dur < p->min_window_ms) { /* the horizon ends first */
            glp_set_col_bnds(lp, CS(i), GLP_FX, 0, 0);
            continue;
        }
        for (int j = i; j < i + m; j++) {
            row_begin(&r); /* z_j - s_i >= 0 */
            row_add(&r, CZ(j), 1);
            row_add(&r, CS(i), -1);
            row_end(&r, GLP_LO, 0, 0);
        }
        /* sum_{j=i}^{last} e_j - P L s_i >= 0 */
        int last = i + m < n ? i + m : n - 1;
        int cnt = last - i + 1;
        int ind[cnt + 2];
        double val[cnt + 2];
        for (int k = 0; k < cnt; k++) {
            ind[k + 1] = CE(i + k);
            val[k + 1] = 1;
        }
        ind[cnt + 1] = CS(i);
        val[cnt + 1] = -p->power_kw * minL_h;
        int row = glp_add_rows(lp, 1);
        glp_set_row_bnds(lp, row, GLP_LO, 0, 0);
        glp_set_mat_row(lp, row, cnt + 1, ind, val);
    }
    if (rc) {
        glp_delete_prob(lp);
        return d2ev_err_set(err, rc, "out of memory");
    }
    glp_iocp parm;
    glp_init_iocp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    parm.presolve = GLP_ON;
    parm.tm_lim = time_limit_ms > 0 ? time_limit_ms : INT32_MAX;
    int grc = glp_intopt(lp, &parm);
    int st = glp_mip_status(lp);
    if ((grc == 0 || grc == GLP_ETMLIM) && (st == GLP_OPT || st == GLP_FEAS)) {
        sol->outcome = st == GLP_OPT && grc == 0 ? PLAN_OPTIMAL : PLAN_FEASIBLE;
        read_solution(lp, p, true, e, sol);
    } else if (grc == GLP_ENOPFS || grc == GLP_ENODFS || st == GLP_NOFEAS || grc == GLP_ETMLIM) {
        sol->outcome = PLAN_INFEASIBLE; /* or no incumbent within the time limit */
    } else {
        glp_delete_prob(lp);
        return d2ev_err_set(err, D2EV_ERR_STATE, "glpk intopt failed (code %d)", grc);
    }
    glp_delete_prob(lp);
    sol->solve_ms = plan_elapsed_ms(t0);
    return D2EV_OK;
#undef CE
#undef CZ
#undef CF
#undef CS
}
