/* plan_greedy.c: the exact LP solve without window limits, and the model checker. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "plan.h"

#define STACK_SLOTS 512

double plan_elapsed_ms(double since)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6 - since;
}

static double tolerance(const struct plan_problem *p)
{
    return 1e-9 * (p->energy > 1 ? p->energy : 1);
}

struct key {
    double obj;
    uint32_t idx;
};

static bool key_less(const struct key *a, const struct key *b)
{
    return a->obj < b->obj || (a->obj == b->obj && a->idx < b->idx); /* ties: charge earlier */
}

static int key_cmp(const void *a, const void *b)
{
    return key_less(a, b) ? -1 : key_less(b, a) ? 1 : 0;
}

/* Insertion sort for the usual few dozen slots, qsort beyond. */
static void sort_keys(struct key *k, size_t n)
{
    if (n > 64) {
        qsort(k, n, sizeof(*k), key_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        struct key x = k[i];
        size_t j = i;
        while (j > 0 && key_less(&x, &k[j - 1])) {
            k[j] = k[j - 1];
            j--;
        }
        k[j] = x;
    }
}

void plan_solve_greedy_with(const struct plan_problem *p, const double *obj, double *e,
                            struct plan_sol *sol)
{
    struct key stack[STACK_SLOTS];
    struct key *keys = p->n <= STACK_SLOTS ? stack : malloc(p->n * sizeof(*keys));
    double rem = p->energy;
    size_t m = 0;
    for (size_t i = 0; i < p->n; i++) {
        e[i] = 0;
        if (p->slots[i].forced) {
            e[i] = p->slots[i].ub;
            rem -= e[i];
        } else if (p->slots[i].ub > 0 && keys) {
            keys[m++] = (struct key){ obj ? obj[i] : p->slots[i].obj, (uint32_t)i };
        }
    }
    if (keys) {
        sort_keys(keys, m);
        for (size_t k = 0; k < m && rem > 0; k++) {
            double ub = p->slots[keys[k].idx].ub;
            double take = ub < rem ? ub : rem;
            e[keys[k].idx] = take;
            rem -= take;
        }
    }
    if (keys != stack)
        free(keys);
    sol->objective = 0;
    for (size_t i = 0; i < p->n; i++)
        sol->objective += (obj ? obj[i] : p->slots[i].obj) * e[i];
    sol->outcome = fabs(rem) <= tolerance(p) ? PLAN_OPTIMAL : PLAN_INFEASIBLE;
    snprintf(sol->method, sizeof(sol->method), "greedy");
    sol->solve_ms = 0;
}

void plan_solve_greedy(const struct plan_problem *p, double *e, struct plan_sol *sol)
{
    double t0 = plan_elapsed_ms(0);
    plan_solve_greedy_with(p, NULL, e, sol);
    sol->solve_ms = plan_elapsed_ms(t0);
}

int plan_count_windows(const struct plan_problem *p, const double *e)
{
    double tol = tolerance(p);
    int runs = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (e[i] > tol && (i == 0 || e[i - 1] <= tol))
            runs++;
    }
    return runs;
}

int plan_check(const struct plan_problem *p, const double *e, bool windows, struct d2ev_err *err)
{
    double tol = tolerance(p) * 10;
    double sum = 0;
    int partials = 0;
    for (size_t i = 0; i < p->n; i++) {
        const struct plan_slot *s = &p->slots[i];
        if (!(e[i] >= -tol && e[i] <= s->ub + tol))
            return d2ev_err_set(err, D2EV_ERR_INVALID, "slot %zu: energy %g outside [0, %g]", i,
                                e[i], s->ub);
        if (s->forced && fabs(e[i] - s->ub) > tol)
            return d2ev_err_set(err, D2EV_ERR_INVALID, "slot %zu: forced slot not full", i);
        sum += e[i];
        if (e[i] > tol && e[i] < s->ub - tol) {
            partials++;
            bool prev = i > 0 && e[i - 1] > tol, next = i + 1 < p->n && e[i + 1] > tol;
            if (windows && prev && next)
                return d2ev_err_set(err, D2EV_ERR_INVALID, "slot %zu: partial slot inside a window",
                                    i);
        }
    }
    if (fabs(sum - p->energy) > tol)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "energy %g, want %g", sum, p->energy);
    if (!windows)
        return D2EV_OK;
    if (partials > 1)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%d partial slots", partials);
    int runs = plan_count_windows(p, e);
    if (p->max_windows > 0 && runs > p->max_windows)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%d windows, limit %d", runs, p->max_windows);
    double min_h = (double)p->min_window_ms / 3600000.0;
    for (size_t i = 0; i < p->n;) {
        if (e[i] <= tol) {
            i++;
            continue;
        }
        size_t j = i;
        double kwh = 0;
        while (j < p->n && e[j] > tol)
            kwh += e[j++];
        if (kwh / p->power_kw < min_h - 1e-9)
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "window at slot %zu lasts %.1f min, minimum %.1f", i,
                                kwh / p->power_kw * 60, min_h * 60);
        i = j;
    }
    return D2EV_OK;
}
