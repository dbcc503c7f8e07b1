/* reg_outcomes.c: a bounded map of answered requests (see reg_outcomes.h).
 *
 * Slots form a ring in arrival order; once all are used the oldest is
 * reused. Each slot is indexed by request id and, when the request had one,
 * by "<vehicle>\x1f<action>\x1f<idempotency key>". */
#include "reg_outcomes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/hmap.h"
#include "d2ev/util.h"

struct slot {
    struct d2ev_hnode by_id, by_key;
    struct reg_outcome view;
    char request_id[65];
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    char code[D2EV_CODE_MAX + 1];
    char *reason;   /* heap or NULL */
    char *idem_key; /* heap composite key or NULL */
    int32_t partition;
    bool used;
};

struct reg_outcomes {
    struct d2ev_hmap ids, keys;
    struct slot *slots;
    size_t cap, next;
};

struct reg_outcomes *reg_outcomes_create(size_t capacity)
{
    struct reg_outcomes *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->cap = capacity ? capacity : 1;
    if (!(o->slots = calloc(o->cap, sizeof(*o->slots)))) {
        free(o);
        return NULL;
    }
    d2ev_hmap_init(&o->ids);
    d2ev_hmap_init(&o->keys);
    return o;
}

static void release(struct reg_outcomes *o, struct slot *s)
{
    if (!s->used)
        return;
    d2ev_hmap_remove(&o->ids, &s->by_id);
    if (s->idem_key)
        d2ev_hmap_remove(&o->keys, &s->by_key);
    free(s->reason);
    free(s->idem_key);
    s->reason = s->idem_key = NULL;
    s->used = false;
}

void reg_outcomes_destroy(struct reg_outcomes *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->cap; i++)
        release(o, &o->slots[i]);
    free(o->slots);
    d2ev_hmap_clear(&o->ids);
    d2ev_hmap_clear(&o->keys);
    free(o);
}

/* "<vehicle>\x1f<action>\x1f<key>" into buf; returns its length. */
static size_t compose_key(char *buf, size_t size, const char *vehicle_id,
                          enum d2ev_reg_action action, const char *key)
{
    int n = snprintf(buf, size, "%s\x1f%d\x1f%s", vehicle_id, (int)action, key);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

int reg_outcomes_put(struct reg_outcomes *o, const struct d2ev_reg_result *r, int32_t partition,
                     const char *idempotency_key)
{
    struct d2ev_hnode *n = d2ev_hmap_find(&o->ids, r->request_id, strlen(r->request_id));
    struct slot *s = n ? D2EV_HMAP_ENTRY(n, struct slot, by_id) : &o->slots[o->next];
    release(o, s);
    if (!n)
        o->next = (o->next + 1) % o->cap;
    d2ev_strlcpy(s->request_id, r->request_id, sizeof(s->request_id));
    d2ev_strlcpy(s->vehicle_id, r->vehicle_id, sizeof(s->vehicle_id));
    d2ev_strlcpy(s->code, r->code, sizeof(s->code));
    s->reason = r->reason[0] ? strdup(r->reason) : NULL;
    if (idempotency_key && *idempotency_key) {
        char buf[256];
        size_t len = compose_key(buf, sizeof(buf), r->vehicle_id, r->action, idempotency_key);
        s->idem_key = malloc(len + 1);
        if (s->idem_key) {
            memcpy(s->idem_key, buf, len + 1);
            s->by_key.key = s->idem_key;
            s->by_key.klen = len;
            /* a second request with the key keeps pointing at the first */
            if (d2ev_hmap_find(&o->keys, buf, len) || d2ev_hmap_insert(&o->keys, &s->by_key)) {
                free(s->idem_key);
                s->idem_key = NULL;
            }
        }
    }
    if ((r->reason[0] && !s->reason)) {
        if (s->idem_key)
            d2ev_hmap_remove(&o->keys, &s->by_key);
        free(s->idem_key);
        s->idem_key = NULL;
        return D2EV_ERR_NOMEM;
    }
    s->by_id.key = s->request_id;
    s->by_id.klen = strlen(s->request_id);
    if (d2ev_hmap_insert(&o->ids, &s->by_id) != D2EV_OK) {
        if (s->idem_key)
            d2ev_hmap_remove(&o->keys, &s->by_key);
        free(s->reason);
        free(s->idem_key);
        s->reason = s->idem_key = NULL;
        return D2EV_ERR_NOMEM;
    }
    s->partition = partition;
    s->view = (struct reg_outcome){ s->request_id, s->vehicle_id, r->action,
                                    r->accepted,   s->code,       s->reason ? s->reason : "" };
    s->used = true;
    return D2EV_OK;
}

const struct reg_outcome *reg_outcomes_find(const struct reg_outcomes *o, const char *request_id)
{
    struct d2ev_hnode *n = d2ev_hmap_find(&o->ids, request_id, strlen(request_id));
    return n ? &D2EV_HMAP_ENTRY(n, struct slot, by_id)->view : NULL;
}

const struct reg_outcome *reg_outcomes_find_key(const struct reg_outcomes *o,
                                                const char *vehicle_id, enum d2ev_reg_action action,
                                                const char *key)
{
    if (!key || !*key)
        return NULL;
    char buf[256];
    size_t len = compose_key(buf, sizeof(buf), vehicle_id, action, key);
    struct d2ev_hnode *n = d2ev_hmap_find(&o->keys, buf, len);
    return n ? &D2EV_HMAP_ENTRY(n, struct slot, by_key)->view : NULL;
}

void reg_outcomes_drop_partition(struct reg_outcomes *o, int32_t partition)
{
    for (size_t i = 0; i < o->cap; i++) {
        if (o->slots[i].used && o->slots[i].partition == partition)
            release(o, &o->slots[i]);
    }
}

size_t reg_outcomes_count(const struct reg_outcomes *o)
{
    return o->ids.count;
}
