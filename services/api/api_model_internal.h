/*
 * The read model's data structures, shared by its writer side (api_model.c)
 * and its queries (api_query.c). Private to services/api: everything outside
 * goes through api_model.h.
 *
 * Locking: the writer thread changes these only under m->lock held for
 * writing, and may read them without the lock (no one else writes); queries
 * read them under m->lock held for reading.
 */
#ifndef D2EV_API_MODEL_INTERNAL_H
#define D2EV_API_MODEL_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "d2ev/strbuf.h"

#include "api_model.h"
#include "d2ev/htab.h"

/* Immutable JSON text shared by the current view and a history item. Only the
 * writer changes refs, under the write lock. */
struct blob {
    unsigned refs;
    size_t len;
    char data[];
};

static inline void put_blob(struct d2ev_strbuf *sb, const struct blob *b)
{
    if (b)
        d2ev_strbuf_append(sb, b->data, b->len);
    else
        d2ev_strbuf_puts(sb, "null");
}

struct hitem {
    uint64_t seq; /* model-wide, increasing: the cursor */
    int64_t t;    /* event time, for ?since= and the registration rule */
    uint64_t idh; /* hash of the event id, for duplicates */
    struct blob *b;
};

/* A bounded list, oldest first; grows on demand up to its bound. */
struct hist {
    struct hitem *items;
    uint32_t n, cap;
};

/* What the API needs of a schedule besides its pre-rendered view. */
struct sched {
    int64_t version;
    int64_t created_at;
    int64_t ready_by;
    enum d2ev_schedule_status status;
    char *reason; /* heap; NULL when none */
    double target_soc, soc_at_plan, expected_soc;
    double expected_cost, baseline_cost, expected_carbon_g, baseline_carbon_g;
    char currency[D2EV_CURRENCY_MAX + 1];
    char method[17];
    size_t nwindows;
    struct d2ev_window *windows; /* heap */
};

enum { H_SCHEDULES = 0, H_SESSIONS, H_DISPATCH, H_NOTES, H_RESULTS, H_COUNT };

struct vehicle {
    struct d2ev_htab_node node; /* in d2ev_api_model.vehicles, keyed by id */
    char id[D2EV_VEHICLE_ID_MAX + 1];
    bool visible; /* has a vehicle record */
    bool listed;  /* in the sorted index (else pending, when visible) */
    /* the record */
    struct blob *vjson;
    char oem[D2EV_OEM_MAX + 1];
    char region[D2EV_REGION_MAX + 1];
    char site_id[D2EV_SITE_ID_MAX + 1];
    char timezone[D2EV_TZ_MAX + 1];
    enum d2ev_vehicle_status status;
    bool has_battery_kwh;
    double battery_kwh;
    double target_soc;
    int64_t registered_at;
    /* latest telemetry */
    bool has_tel;
    struct d2ev_telemetry tel;
    struct blob *tjson;
    /* current schedule (its view is also the newest schedule history item) */
    bool has_sched;
    struct sched s;
    struct blob *sjson;
    struct hist hist[H_COUNT];
};

struct region {
    char name[D2EV_REGION_MAX + 1];
    bool has[2]; /* by enum d2ev_forecast_kind */
    struct d2ev_forecast f[2];
    struct blob *json;
};

struct alert {
    uint64_t seq;
    int64_t t;
    uint64_t idh;
    char vehicle_id[D2EV_VEHICLE_ID_MAX + 1];
    struct blob *b;
};

struct d2ev_api_model {
    pthread_rwlock_t lock;
    /* every entry, visible or held, by id */
    struct d2ev_htab vehicles;
    /* visible vehicles sorted by id, and those not yet merged in */
    struct vehicle **idx;
    size_t nidx, capidx;
    struct vehicle **pending;
    size_t npending, cappending;
    size_t visible;
    struct region *regions;
    size_t nregions, capregions;
    struct alert alerts[D2EV_API_KEEP_ALERTS]; /* oldest first */
    size_t nalerts;
    uint64_t alerts_seen;
    uint64_t seq;
};

static inline uint64_t hash_str(const char *s)
{
    return d2ev_htab_hash(s, strlen(s));
}

static inline struct vehicle *find(const struct d2ev_api_model *m, const char *id)
{
    struct d2ev_htab_node *n = d2ev_htab_find(&m->vehicles, id, strlen(id));
    return n ? D2EV_HTAB_ENTRY(n, struct vehicle, node) : NULL;
}

static inline struct vehicle *find_visible(const struct d2ev_api_model *m, const char *id)
{
    struct vehicle *v = find(m, id);
    return v && v->visible ? v : NULL;
}

static inline size_t idx_lower_bound(const struct d2ev_api_model *m, const char *id)
{
    size_t lo = 0, hi = m->nidx;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->idx[mid]->id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

#endif
