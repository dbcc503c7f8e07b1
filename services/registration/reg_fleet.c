/* reg_fleet.c: the vehicles a registration replica owns, and the queue of
 * requests waiting behind each vehicle's OEM operation (see reg_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "reg_internal.h"

struct reg_oem *reg_oem_find(struct reg *R, const char *name)
{
    for (size_t i = 0; i < R->noems; i++) {
        if (!strcmp(R->oems[i].name, name))
            return &R->oems[i];
    }
    return NULL;
}

struct vstate *reg_fleet_find(struct reg *R, const char *vehicle_id)
{
    struct d2ev_hnode *n = d2ev_hmap_find(&R->fleet, vehicle_id, strlen(vehicle_id));
    return n ? D2EV_HMAP_ENTRY(n, struct vstate, node) : NULL;
}

struct vstate *reg_fleet_get(struct reg *R, const char *vehicle_id, int32_t partition)
{
    struct vstate *vs = reg_fleet_find(R, vehicle_id);
    if (vs) {
        vs->owned = true;
        vs->partition = partition;
        return vs;
    }
    if (!(vs = calloc(1, sizeof(*vs))))
        return NULL;
    d2ev_strlcpy(vs->id, vehicle_id, sizeof(vs->id));
    vs->node.key = vs->id;
    vs->node.klen = strlen(vs->id);
    vs->partition = partition;
    vs->owned = true;
    if (d2ev_hmap_insert(&R->fleet, &vs->node) != D2EV_OK) {
        free(vs);
        return NULL;
    }
    return vs;
}

static void free_vstate(struct reg *R, struct vstate *vs)
{
    d2ev_hmap_remove(&R->fleet, &vs->node);
    d2ev_credentials_clear(&vs->c);
    free(vs);
}

void reg_fleet_gc(struct reg *R, struct vstate *vs)
{
    if (vs->op || vs->wait_head)
        return;
    if (!vs->owned || (!vs->has_vehicle && !vs->has_creds))
        free_vstate(R, vs);
}

void reg_fleet_submit(struct reg *R, struct vstate *vs, struct reg_msg *m)
{
    if (vs->op || vs->wait_head) {
        m->vnext = NULL;
        if (vs->wait_tail)
            vs->wait_tail->vnext = m;
        else
            vs->wait_head = m;
        vs->wait_tail = m;
        return;
    }
    reg_request_start(R, vs, m);
    reg_fleet_gc(R, vs);
}

void reg_fleet_next(struct reg *R, struct vstate *vs)
{
    while (!vs->op && vs->wait_head && !R->failed) {
        struct reg_msg *m = vs->wait_head;
        vs->wait_head = m->vnext;
        if (!vs->wait_head)
            vs->wait_tail = NULL;
        m->vnext = NULL;
        reg_request_start(R, vs, m);
    }
    reg_fleet_gc(R, vs);
}

struct drop_arg {
    struct reg *R;
    int32_t partition;
};

static void drop_one(struct d2ev_hnode *n, void *arg)
{
    struct drop_arg *a = arg;
    struct vstate *vs = D2EV_HMAP_ENTRY(n, struct vstate, node);
    if (vs->partition != a->partition)
        return;
    /* the requests themselves are freed with the partition's queue */
    vs->wait_head = vs->wait_tail = NULL;
    vs->owned = false;
    if (vs->op) {
        vs->op->orphaned = true;
        vs->op->m = NULL;
        return; /* kept until the operation ends: a refresh still persists its tokens */
    }
    free_vstate(a->R, vs);
}

void reg_fleet_drop_partition(struct reg *R, int32_t partition)
{
    struct drop_arg a = { R, partition };
    d2ev_hmap_each(&R->fleet, drop_one, &a);
}

static void destroy_one(struct d2ev_hnode *n, void *arg)
{
    struct vstate *vs = D2EV_HMAP_ENTRY(n, struct vstate, node);
    if (vs->op) { /* the engine is gone: nothing will complete it */
        vs->op->vs = NULL;
        reg_op_free(vs->op);
    }
    free_vstate(arg, vs);
}

void reg_fleet_destroy(struct reg *R)
{
    d2ev_hmap_each(&R->fleet, destroy_one, R);
    d2ev_hmap_clear(&R->fleet);
}
