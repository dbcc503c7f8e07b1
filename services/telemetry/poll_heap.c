/* poll_heap.c: min-heap of poll timers by due time (see poll_heap.h). */
#include "poll_heap.h"

#include <stdlib.h>

#include "d2ev/error.h"

void poll_timer_init(struct poll_timer *t)
{
    t->due = 0;
    t->idx = POLL_HEAP_NONE;
    t->seq = 0;
}

static bool before(const struct poll_timer *a, const struct poll_timer *b)
{
    if (a->due != b->due)
        return a->due < b->due;
    return (int32_t)(a->seq - b->seq) < 0; /* wrap-safe arrival order */
}

static void place(struct poll_heap *h, uint32_t i, struct poll_timer *t)
{
    h->items[i] = t;
    t->idx = i;
}

static void sift_up(struct poll_heap *h, uint32_t i)
{
    struct poll_timer *t = h->items[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!before(t, h->items[parent]))
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(struct poll_heap *h, uint32_t i)
{
    struct poll_timer *t = h->items[i];
    for (;;) {
        uint32_t l = 2 * i + 1, best = i;
        const struct poll_timer *bt = t;
        if (l < h->n && before(h->items[l], bt)) {
            best = l;
            bt = h->items[l];
        }
        if (l + 1 < h->n && before(h->items[l + 1], bt))
            best = l + 1;
        if (best == i)
            break;
        place(h, i, h->items[best]);
        i = best;
    }
    place(h, i, t);
}

int poll_heap_set(struct poll_heap *h, struct poll_timer *t, int64_t due)
{
    if (poll_timer_queued(t)) {
        int64_t old = t->due;
        t->due = due;
        if (due < old)
            sift_up(h, t->idx);
        else if (due > old)
            sift_down(h, t->idx);
        return D2EV_OK;
    }
    if (h->n == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 64;
        struct poll_timer **ni = realloc(h->items, (size_t)cap * sizeof(*ni));
        if (!ni)
            return D2EV_ERR_NOMEM;
        h->items = ni;
        h->cap = cap;
    }
    t->due = due;
    t->seq = h->seq++;
    h->items[h->n] = t;
    t->idx = h->n++;
    sift_up(h, t->idx);
    return D2EV_OK;
}

void poll_heap_remove(struct poll_heap *h, struct poll_timer *t)
{
    if (!poll_timer_queued(t))
        return;
    uint32_t i = t->idx;
    t->idx = POLL_HEAP_NONE;
    struct poll_timer *last = h->items[--h->n];
    if (i == h->n)
        return;
    place(h, i, last);
    if (i > 0 && before(last, h->items[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

struct poll_timer *poll_heap_pop(struct poll_heap *h)
{
    struct poll_timer *t = poll_heap_top(h);
    if (t)
        poll_heap_remove(h, t);
    return t;
}

void poll_heap_free(struct poll_heap *h)
{
    free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}
