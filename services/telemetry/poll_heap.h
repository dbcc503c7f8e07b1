/*
 * poll_heap.h: a binary min-heap of poll timers, ordered by due time (pure:
 * no Kafka, no clock). Each vehicle embeds one struct poll_timer; the heap
 * stores pointers to them, and the timer remembers its slot so a vehicle can
 * be rescheduled or removed in O(log n) without searching.
 *
 * Ownership: the heap owns only its pointer array; timers belong to the
 * entries that embed them and must be removed before those are freed.
 * Not thread-safe.
 */
#ifndef D2EV_TEL_POLL_HEAP_H
#define D2EV_TEL_POLL_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLL_HEAP_NONE UINT32_MAX /* idx of a timer that is in no heap */

struct poll_timer {
    int64_t due;  /* d2ev clock, ms */
    uint32_t idx; /* slot in the heap, or POLL_HEAP_NONE */
    uint32_t seq; /* arrival order, breaks ties between equal due times */
};

struct poll_heap {
    struct poll_timer **items;
    uint32_t n, cap;
    uint32_t seq;
};

/* Make t a timer that is in no heap (call once when embedding it). */
void poll_timer_init(struct poll_timer *t);

static inline bool poll_timer_queued(const struct poll_timer *t)
{
    return t->idx != POLL_HEAP_NONE;
}

/* Insert t with due time `due`, or move it there if it is already queued.
 * Returns 0, or D2EV_ERR_NOMEM (t is then not queued). */
int poll_heap_set(struct poll_heap *h, struct poll_timer *t, int64_t due);

/* Remove t if it is queued. */
void poll_heap_remove(struct poll_heap *h, struct poll_timer *t);

/* The earliest timer (borrowed), or NULL when empty. */
static inline struct poll_timer *poll_heap_top(const struct poll_heap *h)
{
    return h->n ? h->items[0] : NULL;
}

/* Remove and return the earliest timer, or NULL when empty. */
struct poll_timer *poll_heap_pop(struct poll_heap *h);

/* Free the pointer array (queued timers are left with stale indices: clear
 * the heap first if their owners live on). */
void poll_heap_free(struct poll_heap *h);

#endif
