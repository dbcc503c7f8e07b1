/*
 * bridge_results.h: the outcomes of registration requests, as read from
 * d2ev.registration.results, for GET /v1/registrations/{request_id}.
 *
 * Every bridge replica reads every result (a group-less reader), so any
 * replica can answer for any request. Memory is bounded: the oldest results
 * are forgotten first once `capacity` are held. A result seen again (a
 * request answered twice, with the same outcome) replaces the first.
 *
 * Thread-safe (HTTP threads read while the reader thread writes).
 * Ownership: the store owns copies of everything put into it.
 */
#ifndef D2EV_BRIDGE_RESULTS_H
#define D2EV_BRIDGE_RESULTS_H

#include <stdbool.h>
#include <stddef.h>

#include "d2ev/events.h"

struct bridge_results;

/* Returns NULL when out of memory. capacity >= 1. */
struct bridge_results *bridge_results_create(size_t capacity);
void bridge_results_destroy(struct bridge_results *s);

/* Keep r (copied). Returns 0 or D2EV_ERR_NOMEM. */
int bridge_results_put(struct bridge_results *s, const struct d2ev_reg_result *r);

/* Copy the result of request_id into *out. Returns false when unknown. */
bool bridge_results_get(struct bridge_results *s, const char *request_id,
                        struct d2ev_reg_result *out);

/* Results held. */
size_t bridge_results_count(struct bridge_results *s);

#endif
