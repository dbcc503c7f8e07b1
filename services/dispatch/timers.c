/* timers.c: indexed binary min-heap of intrusive timers (see timers.h). */
#include "timers.h"

#include <stdlib.h>

static bool before(const struct dsp_timer *a, const struct dsp_timer *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void place(struct dsp_timers *t, size_t i, struct dsp_timer *node)
{
    t->heap[i] = node;
    node->idx = i + 1;
}

static void sift_up(struct dsp_timers *t, size_t i)
{
    struct dsp_timer *node = t->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(node, t->heap[parent]))
            break;
        place(t, i, t->heap[parent]);
        i = parent;
    }
    place(t, i, node);
}

static void sift_down(struct dsp_timers *t, size_t i)
{
    struct dsp_timer *node = t->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct dsp_timer *best = node;
        if (l < t->n && before(t->heap[l], best)) {
            m = l;
            best = t->heap[l];
        }
        if (r < t->n && before(t->heap[r], best))
            m = r;
        if (m == i)
            break;
        place(t, i, t->heap[m]);
        i = m;
    }
    place(t, i, node);
}

void dsp_timers_free(struct dsp_timers *t)
{
    for (size_t i = 0; i < t->n; i++)
        t->heap[i]->idx = 0;
    free(t->heap);
    t->heap = NULL;
    t->n = t->cap = 0;
}

void dsp_timers_disarm(struct dsp_timers *t, struct dsp_timer *node)
{
    if (!node->idx)
        return;
    size_t i = node->idx - 1;
    node->idx = 0;
    struct dsp_timer *last = t->heap[--t->n];
    if (i == t->n)
        return;
    place(t, i, last);
    if (i > 0 && before(last, t->heap[(i - 1) / 2]))
        sift_up(t, i);
    else
        sift_down(t, i);
}

int dsp_timers_arm(struct dsp_timers *t, struct dsp_timer *node, int64_t due)
{
    if (due == DSP_TIMER_NONE) {
        dsp_timers_disarm(t, node);
        return 0;
    }
    if (node->idx) {
        if (node->due == due)
            return 0; /* keep its place among ties */
        int64_t old = node->due;
        node->due = due;
        node->seq = t->seq++;
        if (due < old)
            sift_up(t, node->idx - 1);
        else
            sift_down(t, node->idx - 1);
        return 0;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct dsp_timer **h = realloc(t->heap, cap * sizeof(*h));
        if (!h)
            return -1;
        t->heap = h;
        t->cap = cap;
    }
    node->due = due;
    node->seq = t->seq++;
    place(t, t->n++, node);
    sift_up(t, t->n - 1);
    return 0;
}

int64_t dsp_timers_next(const struct dsp_timers *t)
{
    return t->n ? t->heap[0]->due : DSP_TIMER_NONE;
}

struct dsp_timer *dsp_timers_pop_due(struct dsp_timers *t, int64_t now)
{
    if (!t->n || t->heap[0]->due > now)
        return NULL;
    struct dsp_timer *node = t->heap[0];
    dsp_timers_disarm(t, node);
    return node;
}
