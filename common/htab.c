/* htab.c: intrusive chained hash table with byte-string keys (see htab.h). */
#include "d2ev/htab.h"

#include <stdlib.h>
#include <string.h>

uint64_t d2ev_htab_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

struct d2ev_htab_node *d2ev_htab_find(const struct d2ev_htab *t, const char *key, size_t klen)
{
    if (!t->nbuckets)
        return NULL;
    uint64_t h = d2ev_htab_hash(key, klen);
    for (struct d2ev_htab_node *n = t->buckets[h & (t->nbuckets - 1)]; n; n = n->next) {
        if (n->hash == h && n->klen == klen && memcmp(n->key, key, klen) == 0)
            return n;
    }
    return NULL;
}

static int grow(struct d2ev_htab *t)
{
    size_t nb = t->nbuckets ? t->nbuckets * 2 : 64;
    struct d2ev_htab_node **b = calloc(nb, sizeof(*b));
    if (!b)
        return -1;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct d2ev_htab_node *n = t->buckets[i];
        while (n) {
            struct d2ev_htab_node *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
    return 0;
}

int d2ev_htab_insert(struct d2ev_htab *t, struct d2ev_htab_node *n)
{
    if (t->count + 1 > t->nbuckets && grow(t) != 0)
        return -1;
    n->hash = d2ev_htab_hash(n->key, n->klen);
    struct d2ev_htab_node **slot = &t->buckets[n->hash & (t->nbuckets - 1)];
    n->next = *slot;
    *slot = n;
    t->count++;
    return 0;
}

void d2ev_htab_remove(struct d2ev_htab *t, struct d2ev_htab_node *n)
{
    for (struct d2ev_htab_node **p = &t->buckets[n->hash & (t->nbuckets - 1)]; *p;
         p = &(*p)->next) {
        if (*p == n) {
            *p = n->next;
            t->count--;
            return;
        }
    }
}

void d2ev_htab_each(struct d2ev_htab *t, void (*fn)(struct d2ev_htab_node *n, void *arg), void *arg)
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct d2ev_htab_node *n = t->buckets[i];
        while (n) {
            struct d2ev_htab_node *next = n->next;
            fn(n, arg);
            n = next;
        }
    }
}

/* Advance it to the first node at or after bucket b. */
static void seek(const struct d2ev_htab *t, struct d2ev_htab_iter *it, size_t b)
{
    it->next = NULL;
    for (; b < t->nbuckets; b++) {
        if (t->buckets[b]) {
            it->bucket = b;
            it->next = t->buckets[b];
            return;
        }
    }
    it->bucket = t->nbuckets;
}

struct d2ev_htab_node *d2ev_htab_first(const struct d2ev_htab *t, struct d2ev_htab_iter *it)
{
    seek(t, it, 0);
    return d2ev_htab_next(t, it);
}

struct d2ev_htab_node *d2ev_htab_next(const struct d2ev_htab *t, struct d2ev_htab_iter *it)
{
    struct d2ev_htab_node *cur = it->next;
    if (!cur)
        return NULL;
    /* step past cur now, so the caller may remove it */
    if (cur->next)
        it->next = cur->next;
    else
        seek(t, it, it->bucket + 1);
    return cur;
}

void d2ev_htab_free(struct d2ev_htab *t)
{
    free(t->buckets);
    memset(t, 0, sizeof(*t));
}
