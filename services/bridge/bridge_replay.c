/* bridge_replay.c: a bounded, sharded set of recently accepted signatures.
 *
 * Each shard is a ring of entries in arrival order plus hash chains through
 * them. New entries go at the tail; the head is dropped once it has expired
 * (or was forgotten). Signatures are HMAC outputs, uniformly distributed and
 * not choosable without the secret, so their bytes serve directly as shard
 * number, chain index and key. */
#include "bridge_replay.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/error.h"

#define SHARDS  16
#define KEY_LEN 16
#define NIL     UINT32_MAX

struct entry {
    unsigned char key[KEY_LEN];
    int64_t expires_s;
    uint32_t next; /* chain */
    bool live;
};

struct shard {
    pthread_mutex_t mu;
    struct entry *ring;
    uint32_t cap, head, count; /* count: used slots, live or forgotten */
    uint32_t *chains;          /* nchains heads */
    uint32_t mask;             /* nchains - 1 */
    size_t live;
};

struct bridge_replay {
    struct shard shards[SHARDS];
};

/* The key's first four bytes pick its chain, its last byte its shard. */
static uint32_t chain_of(const struct shard *s, const unsigned char *key)
{
    uint32_t h =
        (uint32_t)key[0] | (uint32_t)key[1] << 8 | (uint32_t)key[2] << 16 | (uint32_t)key[3] << 24;
    return h & s->mask;
}

static struct shard *shard_of(struct bridge_replay *r, const unsigned char *key)
{
    return &r->shards[key[KEY_LEN - 1] % SHARDS];
}

void bridge_replay_destroy(struct bridge_replay *r)
{
    if (!r)
        return;
    for (int i = 0; i < SHARDS; i++) {
        free(r->shards[i].ring);
        free(r->shards[i].chains);
        pthread_mutex_destroy(&r->shards[i].mu);
    }
    free(r);
}

struct bridge_replay *bridge_replay_create(size_t capacity)
{
    struct bridge_replay *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    uint32_t per = (uint32_t)((capacity + SHARDS - 1) / SHARDS);
    if (per < 4)
        per = 4;
    uint32_t nchains = 1;
    while (nchains < per)
        nchains <<= 1;
    bool ok = true;
    for (int i = 0; i < SHARDS; i++) {
        struct shard *s = &r->shards[i];
        pthread_mutex_init(&s->mu, NULL);
        s->cap = per;
        s->mask = nchains - 1;
        s->ring = calloc(per, sizeof(*s->ring));
        s->chains = malloc(nchains * sizeof(*s->chains));
        if (!s->ring || !s->chains) {
            ok = false;
            continue;
        }
        memset(s->chains, 0xff, nchains * sizeof(*s->chains));
    }
    if (!ok) {
        bridge_replay_destroy(r);
        return NULL;
    }
    return r;
}

/* The link that points at the live entry with key, or NULL. */
static uint32_t *find(struct shard *s, const unsigned char *key)
{
    uint32_t *pp = &s->chains[chain_of(s, key)];
    while (*pp != NIL) {
        struct entry *e = &s->ring[*pp];
        if (e->live && !memcmp(e->key, key, KEY_LEN))
            return pp;
        pp = &e->next;
    }
    return NULL;
}

/* Unlink entry idx (live) from its chain and mark it forgotten. */
static void unlink_entry(struct shard *s, uint32_t idx)
{
    uint32_t *pp = &s->chains[chain_of(s, s->ring[idx].key)];
    while (*pp != NIL && *pp != idx)
        pp = &s->ring[*pp].next;
    if (*pp == idx)
        *pp = s->ring[idx].next;
    s->ring[idx].live = false;
    s->live--;
}

int bridge_replay_check(struct bridge_replay *r, const unsigned char sig[D2EV_HMAC_SHA256_LEN],
                        int64_t expires_s, int64_t now_s)
{
    struct shard *s = shard_of(r, sig);
    int rc = D2EV_OK;
    pthread_mutex_lock(&s->mu);
    if (find(s, sig)) {
        rc = D2EV_ERR_CONFLICT;
        goto out;
    }
    /* drop the oldest while it is expired or forgotten */
    while (s->count > 0) {
        struct entry *h = &s->ring[s->head];
        if (h->live && h->expires_s >= now_s)
            break;
        if (h->live)
            unlink_entry(s, s->head);
        s->head = (s->head + 1) % s->cap;
        s->count--;
    }
    if (s->count == s->cap) {
        rc = D2EV_ERR_LIMIT;
        goto out;
    }
    uint32_t idx = (s->head + s->count) % s->cap;
    struct entry *e = &s->ring[idx];
    memcpy(e->key, sig, KEY_LEN);
    e->expires_s = expires_s;
    e->live = true;
    uint32_t *head = &s->chains[chain_of(s, e->key)];
    e->next = *head;
    *head = idx;
    s->count++;
    s->live++;
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void bridge_replay_forget(struct bridge_replay *r, const unsigned char sig[D2EV_HMAC_SHA256_LEN])
{
    struct shard *s = shard_of(r, sig);
    pthread_mutex_lock(&s->mu);
    uint32_t *pp = find(s, sig);
    if (pp)
        unlink_entry(s, *pp);
    pthread_mutex_unlock(&s->mu);
}

size_t bridge_replay_size(struct bridge_replay *r)
{
    size_t n = 0;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&r->shards[i].mu);
        n += r->shards[i].live;
        pthread_mutex_unlock(&r->shards[i].mu);
    }
    return n;
}
