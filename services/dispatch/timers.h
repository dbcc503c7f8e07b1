/*
 * timers.h: the dispatcher's timer structure, an indexed binary min-heap of
 * intrusive timer nodes keyed by due time (ms on the d2ev clock).
 *
 * Every vehicle embeds one struct dsp_timer and has at most one pending due
 * time: the earliest of its next window boundary, its confirmation deadline,
 * its retry time and the moment its schedule goes stale. Re-arming a node
 * moves it in place (O(log n)), so 10,000 vehicles sharing one boundary cost
 * 10,000 pops and nothing more.
 *
 * Ties fire in the order they were armed (a sequence number breaks them), so
 * the order is deterministic for tests.
 *
 * Ownership: the heap owns only its array of node pointers; nodes belong to
 * the caller, who must disarm a node before freeing it. Not thread-safe.
 */
#ifndef D2EV_DISPATCH_TIMERS_H
#define D2EV_DISPATCH_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DSP_TIMER_NONE INT64_MAX

/* Embed in the timed object; zero-initialise. */
struct dsp_timer {
    int64_t due;  /* ms on the d2ev clock, while armed */
    uint64_t seq; /* arming order, breaks ties */
    size_t idx;   /* position in the heap + 1; 0 = not armed */
};

struct dsp_timers {
    struct dsp_timer **heap;
    size_t n, cap;
    uint64_t seq;
};

/* Free the heap array (nodes are not touched). */
void dsp_timers_free(struct dsp_timers *t);

/* Arm t to fire at due, or move it there if it is armed already.
 * due == DSP_TIMER_NONE disarms it. Returns 0, or -1 when the array cannot
 * grow (the node is then left as it was). */
int dsp_timers_arm(struct dsp_timers *t, struct dsp_timer *node, int64_t due);

/* Disarm node (no-op when it is not armed). */
void dsp_timers_disarm(struct dsp_timers *t, struct dsp_timer *node);

/* True while node is armed. */
static inline bool dsp_timer_armed(const struct dsp_timer *node)
{
    return node->idx != 0;
}

/* The earliest due time, or DSP_TIMER_NONE when nothing is armed. */
int64_t dsp_timers_next(const struct dsp_timers *t);

/* Disarm and return the earliest node if it is due at or before now, else
 * NULL. Call in a loop to fire everything that is due. */
struct dsp_timer *dsp_timers_pop_due(struct dsp_timers *t, int64_t now);

/* Number of armed nodes. */
static inline size_t dsp_timers_count(const struct dsp_timers *t)
{
    return t->n;
}

#endif
