/*
 * An intrusive hash map keyed by byte strings, for in-memory views keyed by
 * vehicle id or request id (the bridge's results, registration's fleet and
 * its outcome memory).
 *
 * Entries embed struct d2ev_hnode and own their key bytes; the map only owns
 * its bucket array, which doubles as entries are added. Keys are hashed with
 * a per-map random seed, so keys chosen by the outside world cannot be
 * crafted to collide into one chain.
 *
 * Ownership: the map never frees entries; d2ev_hmap_clear() frees the bucket
 * array only. Threads: not thread-safe; callers lock.
 */
#ifndef D2EV_HMAP_H
#define D2EV_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct d2ev_hnode {
    struct d2ev_hnode *next;
    uint64_t hash;
    const char *key; /* owned by the entry; set before insert */
    size_t klen;
};

struct d2ev_hmap {
    struct d2ev_hnode **buckets;
    size_t nbuckets; /* power of two, or 0 before the first insert */
    size_t count;
    uint64_t seed;
};

/* An empty map (no allocation until the first insert). */
void d2ev_hmap_init(struct d2ev_hmap *m);

/* Free the bucket array (never the entries) and empty the map. */
void d2ev_hmap_clear(struct d2ev_hmap *m);

/* The entry with this key, or NULL. */
struct d2ev_hnode *d2ev_hmap_find(const struct d2ev_hmap *m, const void *key, size_t klen);

/* Insert n; n->key and n->klen must be set and the key must not be present.
 * Returns 0, or D2EV_ERR_NOMEM when the bucket array cannot be allocated. */
int d2ev_hmap_insert(struct d2ev_hmap *m, struct d2ev_hnode *n);

/* Unlink n, which must be in m. */
void d2ev_hmap_remove(struct d2ev_hmap *m, struct d2ev_hnode *n);

/* Call fn on every entry, in no particular order; fn may remove (and free)
 * the entry it is given, but no other. */
void d2ev_hmap_each(struct d2ev_hmap *m, void (*fn)(struct d2ev_hnode *n, void *arg), void *arg);

/* The containing struct of a node: D2EV_HMAP_ENTRY(n, struct vstate, node). */
#define D2EV_HMAP_ENTRY(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
