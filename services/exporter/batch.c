/* batch.c: rows in memory by partition and day (see batch.h). */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "d2ev/topics.h"

#define MAX_PARTITIONS 100000

const char *const exp_topic_names[EXP_NTOPICS] = {
    D2EV_TOPIC_SESSIONS,
    D2EV_TOPIC_DISPATCH,
    D2EV_TOPIC_SCHEDULES,
    D2EV_TOPIC_TELEMETRY,
};

int exp_topic_index(const char *name)
{
    for (int i = 0; i < EXP_NTOPICS; i++) {
        if (!strcmp(name, exp_topic_names[i]))
            return i;
    }
    return -1;
}

struct exp_part *exp_batch_find(const struct exp_batch *b, int topic, int32_t partition)
{
    if (topic < 0 || topic >= EXP_NTOPICS || partition < 0 || partition >= b->nparts[topic])
        return NULL;
    return b->parts[topic][partition];
}

struct exp_part *exp_batch_part(struct exp_batch *b, int topic, int32_t partition)
{
    if (topic < 0 || topic >= EXP_NTOPICS || partition < 0 || partition >= MAX_PARTITIONS)
        return NULL;
    if (partition >= b->nparts[topic]) {
        int32_t n = partition + 1;
        struct exp_part **np = realloc(b->parts[topic], (size_t)n * sizeof(*np));
        if (!np)
            return NULL;
        memset(np + b->nparts[topic], 0, (size_t)(n - b->nparts[topic]) * sizeof(*np));
        b->parts[topic] = np;
        b->nparts[topic] = n;
    }
    struct exp_part *p = b->parts[topic][partition];
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p)
            return NULL;
        p->topic = topic;
        p->partition = partition;
        p->seen_next = p->committed = p->skip_last = -1;
        b->parts[topic][partition] = p;
    }
    return p;
}

static void chunk_free(struct exp_chunk *c)
{
    d2ev_strbuf_free(&c->data);
    free(c->offsets);
    free(c->ends);
    exp_stats_clear(&c->stats);
    free(c);
}

static struct exp_chunk *chunk_open(struct exp_part *p, int64_t day)
{
    struct exp_chunk *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->topic = p->topic;
    c->partition = p->partition;
    c->day = day;
    c->held_since = INT64_MAX;
    exp_stats_init(&c->stats);
    return c;
}

int exp_batch_add(struct exp_batch *b, struct exp_part *p, int64_t offset, int64_t day,
                  int64_t held_since, const char *type, const char *vehicle_id, int64_t ts,
                  const char *line, size_t len)
{
    struct exp_chunk *c = p->tail;
    bool fresh = !c || c->day != day;
    if (fresh && !(c = chunk_open(p, day)))
        return D2EV_ERR_NOMEM;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        int64_t *no = realloc(c->offsets, cap * sizeof(*no));
        if (no)
            c->offsets = no;
        size_t *ne = no ? realloc(c->ends, cap * sizeof(*ne)) : NULL;
        if (ne)
            c->ends = ne;
        if (!no || !ne)
            goto nomem;
        c->cap = cap;
    }
    size_t before = c->data.len;
    d2ev_strbuf_append(&c->data, line, len);
    if (d2ev_strbuf_failed(&c->data) ||
        exp_stats_add(&c->stats, type, vehicle_id, ts, len) != D2EV_OK) {
        c->data.failed = false;
        c->data.len = before;
        goto nomem;
    }
    c->offsets[c->n] = offset;
    c->ends[c->n] = c->data.len;
    if (c->n++ == 0)
        c->first = offset;
    c->last = offset;
    if (held_since < c->held_since)
        c->held_since = held_since;
    if (fresh) {
        if (p->tail)
            p->tail->next = c;
        else
            p->head = c;
        p->tail = c;
    }
    b->rows++;
    b->bytes += len;
    return D2EV_OK;
nomem:
    if (fresh)
        chunk_free(c);
    return D2EV_ERR_NOMEM;
}

void exp_part_drop(struct exp_batch *b, struct exp_part *p)
{
    for (struct exp_chunk *c = p->head, *next; c; c = next) {
        next = c->next;
        b->rows -= c->n;
        b->bytes -= c->data.len;
        chunk_free(c);
    }
    p->head = p->tail = NULL;
}

static void prune_part(struct exp_part *p, void *arg)
{
    struct exp_batch *b = arg;
    struct exp_chunk **link = &p->head;
    p->tail = NULL;
    while (*link) {
        struct exp_chunk *c = *link;
        if (c->written) {
            *link = c->next;
            b->rows -= c->n;
            b->bytes -= c->data.len;
            chunk_free(c);
        } else {
            p->tail = c;
            link = &c->next;
        }
    }
}

void exp_batch_prune(struct exp_batch *b)
{
    exp_batch_each(b, prune_part, b);
}

int64_t exp_part_commit_offset(const struct exp_part *p)
{
    if (p->head)
        return p->head->first;
    return p->seen_next;
}

void exp_batch_each(struct exp_batch *b, void (*fn)(struct exp_part *p, void *arg), void *arg)
{
    for (int t = 0; t < EXP_NTOPICS; t++) {
        for (int32_t i = 0; i < b->nparts[t]; i++) {
            if (b->parts[t][i])
                fn(b->parts[t][i], arg);
        }
    }
}

/* Call fn on every chunk held, partition by partition. */
static void each_chunk(const struct exp_batch *b, void (*fn)(struct exp_chunk *c, void *arg),
                       void *arg)
{
    for (int t = 0; t < EXP_NTOPICS; t++) {
        for (int32_t i = 0; i < b->nparts[t]; i++) {
            for (struct exp_chunk *c = b->parts[t][i] ? b->parts[t][i]->head : NULL; c; c = c->next)
                fn(c, arg);
        }
    }
}

static void oldest_one(struct exp_chunk *c, void *arg)
{
    int64_t *oldest = arg;
    *oldest = c->held_since < *oldest ? c->held_since : *oldest;
}

int64_t exp_batch_oldest(const struct exp_batch *b)
{
    int64_t oldest = INT64_MAX;
    each_chunk(b, oldest_one, &oldest);
    return oldest;
}

struct chunk_list {
    struct exp_chunk **v;
    size_t n;
};

static void list_one(struct exp_chunk *c, void *arg)
{
    struct chunk_list *l = arg;
    if (l->v)
        l->v[l->n] = c;
    l->n++;
}

static int cmp_chunk(const void *pa, const void *pb)
{
    const struct exp_chunk *a = *(struct exp_chunk *const *)pa, *b = *(struct exp_chunk *const *)pb;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    if (a->topic != b->topic)
        return a->topic < b->topic ? -1 : 1;
    if (a->partition != b->partition)
        return a->partition < b->partition ? -1 : 1;
    return a->first < b->first ? -1 : a->first > b->first;
}

struct exp_chunk **exp_batch_chunks(const struct exp_batch *b, size_t *n)
{
    struct chunk_list l = { NULL, 0 };
    each_chunk(b, list_one, &l); /* count */
    *n = 0;
    if (!l.n || !(l.v = malloc(l.n * sizeof(*l.v))))
        return NULL;
    l.n = 0;
    each_chunk(b, list_one, &l);
    qsort(l.v, l.n, sizeof(*l.v), cmp_chunk);
    *n = l.n;
    return l.v;
}

void exp_batch_destroy(struct exp_batch *b)
{
    for (int t = 0; t < EXP_NTOPICS; t++) {
        for (int32_t i = 0; i < b->nparts[t]; i++) {
            if (b->parts[t][i]) {
                exp_part_drop(b, b->parts[t][i]);
                free(b->parts[t][i]);
            }
        }
        free(b->parts[t]);
    }
    memset(b, 0, sizeof(*b));
}
