/* bridge_results.c: a bounded map request_id -> outcome (see bridge_results.h).
 *
 * Slots form a ring in arrival order; when all are used the oldest is
 * reused. Reasons (only rejected results have one) live on the heap, so a
 * slot is about 200 bytes. */
#include "bridge_results.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/hmap.h"
#include "d2ev/util.h"

struct slot {
    struct d2ev_hnode node;
    char request_id[sizeof(((struct d2ev_reg_result *)0)->request_id)];
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    char code[D2EV_CODE_MAX + 1];
    char *reason; /* NULL when empty */
    struct d2ev_envelope env;
    enum d2ev_reg_action action;
    bool accepted;
    bool used;
};

struct bridge_results {
    pthread_rwlock_t lock;
    struct d2ev_hmap map;
    struct slot *slots;
    size_t cap, next; /* next: the slot to fill (the oldest once full) */
};

struct bridge_results *bridge_results_create(size_t capacity)
{
    struct bridge_results *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->cap = capacity ? capacity : 1;
    s->slots = calloc(s->cap, sizeof(*s->slots));
    if (!s->slots) {
        free(s);
        return NULL;
    }
    pthread_rwlock_init(&s->lock, NULL);
    d2ev_hmap_init(&s->map);
    return s;
}

void bridge_results_destroy(struct bridge_results *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i].reason);
    free(s->slots);
    d2ev_hmap_clear(&s->map);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

static int fill(struct slot *sl, const struct d2ev_reg_result *r)
{
    char *reason = r->reason[0] ? strdup(r->reason) : NULL;
    if (r->reason[0] && !reason)
        return D2EV_ERR_NOMEM;
    free(sl->reason);
    sl->reason = reason;
    d2ev_strlcpy(sl->vehicle_id, r->vehicle_id, sizeof(sl->vehicle_id));
    d2ev_strlcpy(sl->code, r->code, sizeof(sl->code));
    sl->env = r->env;
    sl->action = r->action;
    sl->accepted = r->accepted;
    return D2EV_OK;
}

int bridge_results_put(struct bridge_results *s, const struct d2ev_reg_result *r)
{
    size_t klen = strlen(r->request_id);
    int rc = D2EV_OK;
    pthread_rwlock_wrlock(&s->lock);
    struct d2ev_hnode *n = d2ev_hmap_find(&s->map, r->request_id, klen);
    if (n) {
        rc = fill(D2EV_HMAP_ENTRY(n, struct slot, node), r);
        goto out;
    }
    struct slot *sl = &s->slots[s->next];
    if (sl->used) {
        d2ev_hmap_remove(&s->map, &sl->node);
        sl->used = false;
    }
    if ((rc = fill(sl, r)) != D2EV_OK)
        goto out;
    d2ev_strlcpy(sl->request_id, r->request_id, sizeof(sl->request_id));
    sl->node.key = sl->request_id;
    sl->node.klen = klen;
    if ((rc = d2ev_hmap_insert(&s->map, &sl->node)) != D2EV_OK)
        goto out;
    sl->used = true;
    s->next = (s->next + 1) % s->cap;
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

bool bridge_results_get(struct bridge_results *s, const char *request_id,
                        struct d2ev_reg_result *out)
{
    pthread_rwlock_rdlock(&s->lock);
    struct d2ev_hnode *n = d2ev_hmap_find(&s->map, request_id, strlen(request_id));
    if (n) {
        const struct slot *sl = D2EV_HMAP_ENTRY(n, struct slot, node);
        memset(out, 0, sizeof(*out));
        out->env = sl->env;
        d2ev_strlcpy(out->request_id, sl->request_id, sizeof(out->request_id));
        d2ev_strlcpy(out->vehicle_id, sl->vehicle_id, sizeof(out->vehicle_id));
        d2ev_strlcpy(out->code, sl->code, sizeof(out->code));
        d2ev_strlcpy(out->reason, sl->reason ? sl->reason : "", sizeof(out->reason));
        out->action = sl->action;
        out->accepted = sl->accepted;
    }
    pthread_rwlock_unlock(&s->lock);
    return n != NULL;
}

size_t bridge_results_count(struct bridge_results *s)
{
    pthread_rwlock_rdlock(&s->lock);
    size_t n = s->map.count;
    pthread_rwlock_unlock(&s->lock);
    return n;
}
