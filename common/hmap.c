/* hmap.c: intrusive, seeded, chained hash map (see d2ev/hmap.h). */
#include "d2ev/hmap.h"

#include <stdlib.h>
#include <string.h>

#include "d2ev/error.h"
#include "d2ev/util.h"

#define MIN_BUCKETS 64

/* Seeded 64-bit FNV-1a with a final avalanche (splitmix64's mixer). */
static uint64_t hash_key(uint64_t seed, const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

void d2ev_hmap_init(struct d2ev_hmap *m)
{
    memset(m, 0, sizeof(*m));
    m->seed = d2ev_rand_seed();
}

void d2ev_hmap_clear(struct d2ev_hmap *m)
{
    free(m->buckets);
    m->buckets = NULL;
    m->nbuckets = 0;
    m->count = 0;
}

struct d2ev_hnode *d2ev_hmap_find(const struct d2ev_hmap *m, const void *key, size_t klen)
{
    if (!m->nbuckets)
        return NULL;
    uint64_t h = hash_key(m->seed, key, klen);
    for (struct d2ev_hnode *n = m->buckets[h & (m->nbuckets - 1)]; n; n = n->next) {
        if (n->hash == h && n->klen == klen && !memcmp(n->key, key, klen))
            return n;
    }
    return NULL;
}

static int grow(struct d2ev_hmap *m)
{
    size_t nb = m->nbuckets ? m->nbuckets * 2 : MIN_BUCKETS;
    struct d2ev_hnode **b = calloc(nb, sizeof(*b));
    if (!b)
        return D2EV_ERR_NOMEM;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct d2ev_hnode *n = m->buckets[i];
        while (n) {
            struct d2ev_hnode *next = n->next;
            size_t j = n->hash & (nb - 1);
            n->next = b[j];
            b[j] = n;
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
    return D2EV_OK;
}

int d2ev_hmap_insert(struct d2ev_hmap *m, struct d2ev_hnode *n)
{
    if (m->count + 1 > m->nbuckets - m->nbuckets / 4 || !m->nbuckets) {
        if (grow(m) != D2EV_OK && !m->nbuckets)
            return D2EV_ERR_NOMEM; /* a full table still works, only slower */
    }
    n->hash = hash_key(m->seed, n->key, n->klen);
    size_t j = n->hash & (m->nbuckets - 1);
    n->next = m->buckets[j];
    m->buckets[j] = n;
    m->count++;
    return D2EV_OK;
}

void d2ev_hmap_remove(struct d2ev_hmap *m, struct d2ev_hnode *n)
{
    struct d2ev_hnode **pp = &m->buckets[n->hash & (m->nbuckets - 1)];
    while (*pp && *pp != n)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = n->next;
        n->next = NULL;
        m->count--;
    }
}

void d2ev_hmap_each(struct d2ev_hmap *m, void (*fn)(struct d2ev_hnode *n, void *arg), void *arg)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct d2ev_hnode *n = m->buckets[i];
        while (n) {
            struct d2ev_hnode *next = n->next; /* fn may unlink n */
            fn(n, arg);
            n = next;
        }
    }
}
