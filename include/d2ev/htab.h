/*
 * A small intrusive hash table keyed by byte strings, shared by every service
 * that keeps a per-vehicle view. Entries embed struct d2ev_htab_node and own
 * their key bytes; the table never allocates entries, only its bucket array,
 * so a fleet of 100,000 costs one node per vehicle and no more.
 * Ownership: the caller owns entries (and frees them, e.g. from
 * d2ev_htab_each); d2ev_htab_free releases the buckets only.
 * Not thread-safe.
 *
 *   struct veh { struct d2ev_htab_node node; char id[65]; ... };
 *   v->node.key = v->id; v->node.klen = strlen(v->id);
 *   d2ev_htab_insert(&t, &v->node);
 *   struct d2ev_htab_node *n = d2ev_htab_find(&t, id, strlen(id));
 *   struct veh *found = n ? D2EV_HTAB_ENTRY(n, struct veh, node) : NULL;
 */
#ifndef D2EV_HTAB_H
#define D2EV_HTAB_H

#include <stddef.h>
#include <stdint.h>

/* The entry that embeds node n as member `field`. */
#define D2EV_HTAB_ENTRY(n, type, field) ((type *)((char *)(n)-offsetof(type, field)))

struct d2ev_htab_node {
    struct d2ev_htab_node *next;
    uint64_t hash;
    const char *key; /* owned by the entry */
    size_t klen;
};

struct d2ev_htab {
    struct d2ev_htab_node **buckets;
    size_t nbuckets; /* power of two, or 0 */
    size_t count;
};

/* 64-bit FNV-1a of data[0..len). */
uint64_t d2ev_htab_hash(const void *data, size_t len);

/* The node with this key, or NULL. */
struct d2ev_htab_node *d2ev_htab_find(const struct d2ev_htab *t, const char *key, size_t klen);

/* Insert n (its key, klen must be set; the key must not be present).
 * Returns 0, or -1 when the bucket array cannot grow. */
int d2ev_htab_insert(struct d2ev_htab *t, struct d2ev_htab_node *n);

/* Unlink n (which must be in t). */
void d2ev_htab_remove(struct d2ev_htab *t, struct d2ev_htab_node *n);

/* Call fn on every node; fn may remove the node it is given. */
void d2ev_htab_each(struct d2ev_htab *t, void (*fn)(struct d2ev_htab_node *n, void *arg),
                    void *arg);

/* Iteration that allows removing the node just returned (not inserting):
 *   struct d2ev_htab_iter it;
 *   for (n = d2ev_htab_first(&t, &it); n; n = d2ev_htab_next(&t, &it)) ...  */
struct d2ev_htab_iter {
    size_t bucket;               /* bucket of `next` */
    struct d2ev_htab_node *next; /* the node to return next, or NULL */
};
struct d2ev_htab_node *d2ev_htab_first(const struct d2ev_htab *t, struct d2ev_htab_iter *it);
struct d2ev_htab_node *d2ev_htab_next(const struct d2ev_htab *t, struct d2ev_htab_iter *it);

/* Free the bucket array (not the entries). */
void d2ev_htab_free(struct d2ev_htab *t);

#endif
