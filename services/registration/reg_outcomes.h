/*
 * reg_outcomes.h: what d2ev-registration has answered, so a request that
 * arrives again is answered the same way and changes nothing.
 *
 * Keyed by request_id (persistent: the map is rebuilt from
 * d2ev.registration.results when a partition is assigned, so it survives
 * restarts and rebalances) and by (vehicle_id, action, idempotency_key) for
 * requests remembered since this process started. Bounded: the oldest
 * outcomes are forgotten first once `capacity` are held; the partition is
 * kept so a revoked partition's outcomes can be dropped.
 *
 * Not thread-safe (the registration loop's thread). Ownership: the map owns
 * copies of everything put into it; returned pointers are borrowed until the
 * next put or drop.
 */
#ifndef D2EV_REG_OUTCOMES_H
#define D2EV_REG_OUTCOMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/events.h"

struct reg_outcomes;

/* An answer as the map keeps it. */
struct reg_outcome {
    const char *request_id;
    const char *vehicle_id;
    enum d2ev_reg_action action;
    bool accepted;
    const char *code;
    const char *reason; /* "" when none */
};

/* Returns NULL when out of memory. */
struct reg_outcomes *reg_outcomes_create(size_t capacity);
void reg_outcomes_destroy(struct reg_outcomes *o);

/* Remember the answer r given in partition; idempotency_key may be NULL or
 * "". A request_id already held is replaced. Returns 0 or D2EV_ERR_NOMEM. */
int reg_outcomes_put(struct reg_outcomes *o, const struct d2ev_reg_result *r, int32_t partition,
                     const char *idempotency_key);

/* The answer to request_id, or NULL. */
const struct reg_outcome *reg_outcomes_find(const struct reg_outcomes *o, const char *request_id);

/* The answer to an earlier request with the same vehicle, action and
 * idempotency key, or NULL (also for an empty key). */
const struct reg_outcome *reg_outcomes_find_key(const struct reg_outcomes *o,
                                                const char *vehicle_id, enum d2ev_reg_action action,
                                                const char *key);

/* Forget the outcomes of a partition (it was revoked). */
void reg_outcomes_drop_partition(struct reg_outcomes *o, int32_t partition);

/* Outcomes held. */
size_t reg_outcomes_count(const struct reg_outcomes *o);

#endif
