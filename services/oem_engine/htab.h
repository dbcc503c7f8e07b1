/*
 * A small intrusive hash table keyed by byte strings (private to the OEM
 * engine). Entries embed struct htab_node and own their key bytes; the table
 * never allocates entries, only its bucket array. Not thread-safe.
 */
#ifndef D2EV_OEM_HTAB_H
#define D2EV_OEM_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct htab_node {
    struct htab_node *next;
    uint64_t hash;
    const char *key; /* owned by the entry */
    size_t klen;
};

struct htab {
    struct htab_node **buckets;
    size_t nbuckets; /* power of two, or 0 */
    size_t count;
};

/* 64-bit FNV-1a of data[0..len). */
uint64_t htab_hash(const void *data, size_t len);

/* The node with this key, or NULL. */
struct htab_node *htab_find(const struct htab *t, const char *key, size_t klen);

/* Insert n (its key, klen must be set; the key must not be present).
 * Returns 0, or -1 when the bucket array cannot grow. */
int htab_insert(struct htab *t, struct htab_node *n);

/* Unlink n (which must be in t). */
void htab_remove(struct htab *t, struct htab_node *n);

/* Call fn on every node; fn may remove the node it is given. */
void htab_each(struct htab *t, void (*fn)(struct htab_node *n, void *arg), void *arg);

/* Free the bucket array (not the entries). */
void htab_free(struct htab *t);

#endif
