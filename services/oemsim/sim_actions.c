/*
 * sim_actions.c: Enode's asynchronous actions, kept in a ring.
 *
 * An action's outcome is decided when it is created (the car will apply it,
 * or it will fail); it reads PENDING until its resolve time and then the
 * outcome, unless a newer action for the same vehicle cancelled it first.
 * The id is 64 random bits and the sequence number (masked with a hash of the
 * random bits, so ids look random); the sequence number gives the ring slot,
 * so an id is found without an index. Once the ring wraps, old ids are
 * unknown (404).
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#include "d2ev/util.h"

#define SEQ_MASK ((1ULL << 62) - 1)

int sim_actions_init(struct sim_actions *a, uint32_t cap, struct d2ev_err *err)
{
    memset(a, 0, sizeof(*a));
    a->cap = cap ? cap : 1;
    a->ring = calloc(a->cap, sizeof(*a->ring));
    if (!a->ring)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "actions: out of memory for %u actions", cap);
    pthread_mutex_init(&a->lock, NULL);
    return D2EV_OK;
}

void sim_actions_free(struct sim_actions *a)
{
    if (a->ring)
        pthread_mutex_destroy(&a->lock);
    free(a->ring);
    a->ring = NULL;
}

uint32_t sim_actions_add(struct sim_actions *a, const struct sim_action *tmpl,
                         struct sim_action *out)
{
    uint64_t rnd = (sim_rand_u64() & ~0xf000ULL) | 0x4000ULL; /* UUID version 4 */
    pthread_mutex_lock(&a->lock);
    uint64_t seq = ++a->next_seq & SEQ_MASK;
    uint32_t slot = (uint32_t)(seq % a->cap);
    a->ring[slot] = *tmpl;
    a->ring[slot].seq = seq;
    a->ring[slot].rand = rnd;
    a->ring[slot].cancelled_ms = 0;
    *out = a->ring[slot];
    pthread_mutex_unlock(&a->lock);
    return slot;
}

enum sim_action_state sim_action_state_at(const struct sim_action *r, int64_t now)
{
    if (r->cancelled_ms)
        return SIM_ACT_CANCELLED;
    if (now < r->resolve_ms)
        return SIM_ACT_PENDING;
    return (enum sim_action_state)r->outcome;
}

bool sim_actions_cancel(struct sim_actions *a, uint32_t slot, uint32_t vehicle, int64_t now)
{
    bool done = false;
    if (slot >= a->cap)
        return false;
    pthread_mutex_lock(&a->lock);
    struct sim_action *r = &a->ring[slot];
    if (r->seq && r->vehicle == vehicle && sim_action_state_at(r, now) == SIM_ACT_PENDING) {
        r->cancelled_ms = now;
        done = true;
    }
    pthread_mutex_unlock(&a->lock);
    return done;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint64_t seq_mask(uint64_t rnd)
{
    return sim_hash(rnd, 0x5e9, 0) & SEQ_MASK;
}

void sim_action_id(const struct sim_action *r, char out[37])
{
    uint8_t b[16];
    put64(b, r->rand);
    put64(b + 8, (r->seq ^ seq_mask(r->rand)) | (1ULL << 63)); /* UUID variant bits 10 */
    d2ev_uuid_format(b, out);
}

bool sim_actions_find(struct sim_actions *a, const char *id, struct sim_action *out)
{
    uint8_t b[16];
    if (!sim_uuid_parse(id, b))
        return false;
    uint64_t v = get64(b + 8);
    if (v >> 62 != 2)
        return false;
    uint64_t rnd = get64(b), seq = (v & SEQ_MASK) ^ seq_mask(rnd);
    bool found = false;
    pthread_mutex_lock(&a->lock);
    const struct sim_action *r = &a->ring[seq % a->cap];
    if (seq && r->seq == seq && r->rand == rnd) {
        *out = *r;
        found = true;
    }
    pthread_mutex_unlock(&a->lock);
    return found;
}
