/* api_model.c: the ops API's in-memory read model (see api_model.h). */
#include "api_model.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/topics.h"
#include "d2ev/util.h"

#include "api_cursor.h"
#include "api_render.h"
#include "api_text.h"

/* ------------------------------------------------------------ blobs */

/* Immutable JSON text shared by the current view and a history item. Only the
 * writer changes refs, under the write lock. */
struct blob {
    unsigned refs;
    size_t len;
    char data[];
};

static struct blob *blob_from_view(json_t *view)
{
    size_t len = 0;
    char *text = d2ev_api_view_dump(view, &len);
    if (!text)
        return NULL;
    struct blob *b = malloc(sizeof(*b) + len + 1);
    if (b) {
        b->refs = 1;
        b->len = len;
        memcpy(b->data, text, len + 1);
    }
    free(text);
    return b;
}

static struct blob *blob_ref(struct blob *b)
{
    if (b)
        b->refs++;
    return b;
}

static void blob_unref(struct blob *b)
{
    if (b && --b->refs == 0)
        free(b);
}

static void put_blob(struct d2ev_strbuf *sb, const struct blob *b)
{
    if (b)
        d2ev_strbuf_append(sb, b->data, b->len);
    else
        d2ev_strbuf_puts(sb, "null");
}

/* ------------------------------------------------------------ histories */

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

static int hist_push(struct hist *h, uint32_t max, struct hitem it)
{
    if (h->n == max) {
        blob_unref(h->items[0].b);
        memmove(h->items, h->items + 1, (h->n - 1) * sizeof(*h->items));
        h->n--;
    }
    if (h->n == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 2;
        if (cap > max)
            cap = max;
        struct hitem *ni = realloc(h->items, cap * sizeof(*ni));
        if (!ni)
            return D2EV_ERR_NOMEM;
        h->items = ni;
        h->cap = cap;
    }
    h->items[h->n++] = it;
    return D2EV_OK;
}

static bool hist_has(const struct hist *h, uint64_t idh)
{
    for (uint32_t i = 0; i < h->n; i++) {
        if (h->items[i].idh == idh)
            return true;
    }
    return false;
}

/* Drop items dated before t. */
static void hist_drop_before(struct hist *h, int64_t t)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        if (h->items[i].t < t)
            blob_unref(h->items[i].b);
        else
            h->items[k++] = h->items[i];
    }
    h->n = k;
}

static void hist_clear(struct hist *h)
{
    for (uint32_t i = 0; i < h->n; i++)
        blob_unref(h->items[i].b);
    free(h->items);
    memset(h, 0, sizeof(*h));
}

/* ------------------------------------------------------------ vehicles */

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

static void sched_clear(struct sched *s)
{
    free(s->reason);
    free(s->windows);
    memset(s, 0, sizeof(*s));
}

enum { H_SCHEDULES = 0, H_SESSIONS, H_DISPATCH, H_NOTES, H_RESULTS, H_COUNT };
static const uint32_t hist_max[H_COUNT] = {
    D2EV_API_KEEP_SCHEDULES,     D2EV_API_KEEP_SESSIONS, D2EV_API_KEEP_DISPATCH,
    D2EV_API_KEEP_NOTIFICATIONS, D2EV_API_KEEP_RESULTS,
};

struct vehicle {
    struct vehicle *next; /* hash chain */
    uint64_t hash;
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
    struct vehicle **buckets;
    size_t nbuckets, nentries;
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

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static const char *const state_names[D2EV_API_STATE_COUNT] = { "unknown", "unplugged", "plugged",
                                                               "paused", "charging" };
static const char *const plug_names[D2EV_API_PLUG_COUNT] = { "unknown", "unplugged", "plugged" };
static const char *const vstatus_names[2] = { "active", "suspended" };

static int name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++) {
        if (strcmp(names[i], s) == 0)
            return (int)i;
    }
    return -1;
}

const char *d2ev_api_state_name(enum d2ev_api_state s)
{
    return (unsigned)s < D2EV_API_STATE_COUNT ? state_names[s] : "unknown";
}

const char *d2ev_api_plug_name(enum d2ev_api_plug p)
{
    return (unsigned)p < D2EV_API_PLUG_COUNT ? plug_names[p] : "unknown";
}

const char *d2ev_api_vstatus_name(enum d2ev_vehicle_status s)
{
    return (unsigned)s < 2 ? vstatus_names[s] : "unknown";
}

int d2ev_api_state_parse(const char *s)
{
    return name_index(state_names, D2EV_API_STATE_COUNT, s);
}

int d2ev_api_plug_parse(const char *s)
{
    return name_index(plug_names, D2EV_API_PLUG_COUNT, s);
}

int d2ev_api_vstatus_parse(const char *s)
{
    return name_index(vstatus_names, 2, s);
}

struct d2ev_api_model *d2ev_api_model_create(struct d2ev_err *err)
{
    struct d2ev_api_model *m = calloc(1, sizeof(*m));
    if (m) {
        m->nbuckets = 1024;
        m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
    }
    if (!m || !m->buckets) {
        free(m);
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    /* writers first: a steady stream of reads must not hold back the model */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&m->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    return m;
}

static void vehicle_free(struct vehicle *v)
{
    blob_unref(v->vjson);
    blob_unref(v->tjson);
    blob_unref(v->sjson);
    sched_clear(&v->s);
    for (int i = 0; i < H_COUNT; i++)
        hist_clear(&v->hist[i]);
    free(v);
}

void d2ev_api_model_destroy(struct d2ev_api_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (struct vehicle *v = m->buckets[i], *next; v; v = next) {
            next = v->next;
            vehicle_free(v);
        }
    }
    for (size_t i = 0; i < m->nregions; i++) {
        d2ev_forecast_clear(&m->regions[i].f[0]);
        d2ev_forecast_clear(&m->regions[i].f[1]);
        blob_unref(m->regions[i].json);
    }
    for (size_t i = 0; i < m->nalerts; i++)
        blob_unref(m->alerts[i].b);
    free(m->regions);
    free(m->buckets);
    free(m->idx);
    free(m->pending);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

/* ------------------------------------------------------------ lookup */

static struct vehicle *find(const struct d2ev_api_model *m, const char *id)
{
    uint64_t h = hash_str(id);
    for (struct vehicle *v = m->buckets[h & (m->nbuckets - 1)]; v; v = v->next) {
        if (v->hash == h && strcmp(v->id, id) == 0)
            return v;
    }
    return NULL;
}

static struct vehicle *find_visible(const struct d2ev_api_model *m, const char *id)
{
    struct vehicle *v = find(m, id);
    return v && v->visible ? v : NULL;
}

static void grow_buckets(struct d2ev_api_model *m)
{
    size_t n = m->nbuckets * 2;
    struct vehicle **nb = calloc(n, sizeof(*nb));
    if (!nb)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (struct vehicle *v = m->buckets[i], *next; v; v = next) {
            next = v->next;
            v->next = nb[v->hash & (n - 1)];
            nb[v->hash & (n - 1)] = v;
        }
    }
    free(m->buckets);
    m->buckets = nb;
    m->nbuckets = n;
}

/* Under the write lock. */
static struct vehicle *get_or_add(struct d2ev_api_model *m, const char *id)
{
    struct vehicle *v = find(m, id);
    if (v)
        return v;
    v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    d2ev_strlcpy(v->id, id, sizeof(v->id));
    v->hash = hash_str(id);
    if (m->nentries >= m->nbuckets)
        grow_buckets(m);
    v->next = m->buckets[v->hash & (m->nbuckets - 1)];
    m->buckets[v->hash & (m->nbuckets - 1)] = v;
    m->nentries++;
    return v;
}

static size_t idx_lower_bound(const struct d2ev_api_model *m, const char *id)
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

/* Under the write lock: unlink v from the table and the index, and free it. */
static void remove_vehicle(struct d2ev_api_model *m, struct vehicle *v)
{
    struct vehicle **pp = &m->buckets[v->hash & (m->nbuckets - 1)];
    while (*pp != v)
        pp = &(*pp)->next;
    *pp = v->next;
    m->nentries--;
    if (v->listed) {
        size_t i = idx_lower_bound(m, v->id);
        if (i < m->nidx && m->idx[i] == v) {
            memmove(m->idx + i, m->idx + i + 1, (m->nidx - i - 1) * sizeof(*m->idx));
            m->nidx--;
        }
    } else if (v->visible) {
        for (size_t i = 0; i < m->npending; i++) {
            if (m->pending[i] == v) {
                m->pending[i] = m->pending[--m->npending];
                break;
            }
        }
    }
    if (v->visible)
        m->visible--;
    /* erasure: the fleet-wide alerts forget it too */
    size_t k = 0;
    for (size_t i = 0; i < m->nalerts; i++) {
        if (strcmp(m->alerts[i].vehicle_id, v->id) == 0)
            blob_unref(m->alerts[i].b);
        else
            m->alerts[k++] = m->alerts[i];
    }
    m->nalerts = k;
    vehicle_free(v);
}

/* An event dated before the current registration of its vehicle belongs to
 * an earlier one (the id was registered again): it is not shown. */
static bool predates(const struct vehicle *v, int64_t t)
{
    return v && v->visible && t < v->registered_at;
}

/* An invisible entry that holds nothing any more is dropped. */
static void drop_if_empty(struct d2ev_api_model *m, struct vehicle *v)
{
    if (v->visible || v->has_tel || v->has_sched)
        return;
    for (int i = 0; i < H_COUNT; i++) {
        if (v->hist[i].n)
            return;
    }
    remove_vehicle(m, v);
}

static int cmp_vehicle(const void *a, const void *b)
{
    return strcmp((*(struct vehicle *const *)a)->id, (*(struct vehicle *const *)b)->id);
}

void d2ev_api_model_publish(struct d2ev_api_model *m)
{
    if (!m->npending)
        return;
    /* sort the newcomers outside the lock (only this thread changes them),
     * then merge into a new index and swap it in */
    qsort(m->pending, m->npending, sizeof(*m->pending), cmp_vehicle);
    size_t n = m->nidx + m->npending;
    struct vehicle **merged = malloc((n ? n : 1) * sizeof(*merged));
    if (!merged)
        return; /* retried after the next batch */
    size_t i = 0, j = 0, k = 0;
    while (i < m->nidx || j < m->npending) {
        if (j == m->npending || (i < m->nidx && strcmp(m->idx[i]->id, m->pending[j]->id) < 0))
            merged[k++] = m->idx[i++];
        else
            merged[k++] = m->pending[j++];
    }
    pthread_rwlock_wrlock(&m->lock);
    for (j = 0; j < m->npending; j++)
        m->pending[j]->listed = true;
    struct vehicle **old = m->idx;
    m->idx = merged;
    m->nidx = n;
    m->capidx = n;
    m->npending = 0;
    pthread_rwlock_unlock(&m->lock);
    free(old);
}

size_t d2ev_api_model_count(struct d2ev_api_model *m)
{
    pthread_rwlock_rdlock(&m->lock);
    size_t n = m->visible;
    pthread_rwlock_unlock(&m->lock);
    return n;
}

bool d2ev_api_model_exists(struct d2ev_api_model *m, const char *id)
{
    pthread_rwlock_rdlock(&m->lock);
    bool found = find_visible(m, id) != NULL;
    pthread_rwlock_unlock(&m->lock);
    return found;
}

/* ------------------------------------------------------------ writer */

static int check_key(const char *key, const char *vehicle_id, const char *type,
                     struct d2ev_err *err)
{
    if (!key || strcmp(key, vehicle_id) != 0)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "%s: the record's key is not its vehicle_id \"%s\"", type, vehicle_id);
    return D2EV_OK;
}

static int apply_vehicle(struct d2ev_api_model *m, const char *key, const void *value, size_t len,
                         struct d2ev_err *err)
{
    if (!value) {
        pthread_rwlock_wrlock(&m->lock);
        struct vehicle *v = find(m, key);
        if (v)
            remove_vehicle(m, v);
        pthread_rwlock_unlock(&m->lock);
        return D2EV_OK;
    }
    struct d2ev_vehicle rec;
    int rc = d2ev_vehicle_decode(value, len, &rec, err);
    if (rc || (rc = check_key(key, rec.vehicle_id, "vehicle", err)))
        return rc;
    struct blob *b = blob_from_view(d2ev_api_view(d2ev_vehicle_encode(&rec), &rec.env));
    if (!b)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "vehicle: cannot render the view");
    if (m->npending == m->cappending) {
        size_t cap = m->cappending ? m->cappending * 2 : 256;
        struct vehicle **np = realloc(m->pending, cap * sizeof(*np));
        if (!np) {
            blob_unref(b);
            return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        }
        m->pending = np;
        m->cappending = cap;
    }
    pthread_rwlock_wrlock(&m->lock);
    struct vehicle *v = get_or_add(m, rec.vehicle_id);
    if (!v) {
        pthread_rwlock_unlock(&m->lock);
        blob_unref(b);
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    }
    blob_unref(v->vjson);
    v->vjson = b;
    d2ev_strlcpy(v->oem, rec.oem, sizeof(v->oem));
    d2ev_strlcpy(v->region, rec.region, sizeof(v->region));
    d2ev_strlcpy(v->site_id, rec.site_id, sizeof(v->site_id));
    d2ev_strlcpy(v->timezone, rec.timezone, sizeof(v->timezone));
    v->status = rec.status;
    v->has_battery_kwh = rec.has_battery_kwh;
    v->battery_kwh = rec.battery_kwh;
    v->target_soc = rec.prefs.target_soc;
    v->registered_at = rec.registered_at;
    if (!v->visible) {
        /* held events from before this registration belong to someone else */
        v->visible = true;
        m->visible++;
        m->pending[m->npending++] = v;
        for (int i = 0; i < H_COUNT; i++) {
            if (i != H_RESULTS) /* a result may be stamped before the record it announces */
                hist_drop_before(&v->hist[i], rec.registered_at);
        }
        if (v->has_tel && v->tel.observed_at < rec.registered_at) {
            v->has_tel = false;
            blob_unref(v->tjson);
            v->tjson = NULL;
        }
        if (v->has_sched && v->s.created_at < rec.registered_at) {
            v->has_sched = false;
            sched_clear(&v->s);
            blob_unref(v->sjson);
            v->sjson = NULL;
        }
    }
    pthread_rwlock_unlock(&m->lock);
    return D2EV_OK;
}

static int sched_copy(struct sched *dst, const struct d2ev_schedule *s)
{
    memset(dst, 0, sizeof(*dst));
    if (s->reason[0] && !(dst->reason = strdup(s->reason)))
        return D2EV_ERR_NOMEM;
    if (s->nwindows) {
        dst->windows = malloc(s->nwindows * sizeof(*dst->windows));
        if (!dst->windows) {
            free(dst->reason);
            return D2EV_ERR_NOMEM;
        }
        memcpy(dst->windows, s->windows, s->nwindows * sizeof(*dst->windows));
    }
    dst->nwindows = s->nwindows;
    dst->version = s->version;
    dst->created_at = s->created_at;
    dst->ready_by = s->ready_by;
    dst->status = s->status;
    dst->target_soc = s->target_soc;
    dst->soc_at_plan = s->soc_at_plan;
    dst->expected_soc = s->expected_soc;
    dst->expected_cost = s->expected_cost;
    dst->baseline_cost = s->baseline_cost;
    dst->expected_carbon_g = s->expected_carbon_g;
    dst->baseline_carbon_g = s->baseline_carbon_g;
    memcpy(dst->currency, s->currency, sizeof(dst->currency));
    memcpy(dst->method, s->method, sizeof(dst->method));
    return D2EV_OK;
}

static int apply_schedule(struct d2ev_api_model *m, const char *key, const void *value, size_t len,
                          struct d2ev_err *err)
{
    if (!value) {
        pthread_rwlock_wrlock(&m->lock);
        struct vehicle *v = find(m, key);
        if (v) {
            v->has_sched = false;
            sched_clear(&v->s);
            blob_unref(v->sjson);
            v->sjson = NULL;
            hist_clear(&v->hist[H_SCHEDULES]);
            drop_if_empty(m, v);
        }
        pthread_rwlock_unlock(&m->lock);
        return D2EV_OK;
    }
    struct d2ev_schedule s;
    int rc = d2ev_schedule_decode(value, len, &s, err);
    if (rc)
        return rc;
    if ((rc = check_key(key, s.vehicle_id, "schedule", err)))
        goto out;
    /* only this thread writes, so reading without the lock is safe */
    struct vehicle *cur = find(m, s.vehicle_id);
    if ((cur && cur->has_sched && s.version <= cur->s.version) || predates(cur, s.created_at))
        goto out; /* stale or a duplicate: the newest version wins */
    struct sched compact;
    struct blob *b = blob_from_view(d2ev_api_view_schedule(&s));
    if (!b || sched_copy(&compact, &s)) {
        blob_unref(b);
        rc = d2ev_err_set(err, D2EV_ERR_NOMEM, "schedule: cannot render the view");
        goto out;
    }
    pthread_rwlock_wrlock(&m->lock);
    struct vehicle *v = get_or_add(m, s.vehicle_id);
    struct hitem it = { ++m->seq, s.created_at, 0, b };
    if (!v || hist_push(&v->hist[H_SCHEDULES], hist_max[H_SCHEDULES], it)) {
        pthread_rwlock_unlock(&m->lock);
        blob_unref(b);
        sched_clear(&compact);
        rc = d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        goto out;
    }
    sched_clear(&v->s);
    v->s = compact;
    v->has_sched = true;
    blob_unref(v->sjson);
    v->sjson = blob_ref(b);
    pthread_rwlock_unlock(&m->lock);
out:
    d2ev_schedule_clear(&s);
    return rc;
}

static int apply_telemetry(struct d2ev_api_model *m, const char *key, const void *value, size_t len,
                           struct d2ev_err *err)
{
    if (!value)
        return D2EV_OK; /* not a state topic: nothing to delete */
    struct d2ev_telemetry t;
    int rc = d2ev_telemetry_decode(value, len, &t, err);
    if (rc || (rc = check_key(key, t.vehicle_id, "telemetry", err)))
        return rc;
    struct vehicle *cur = find(m, t.vehicle_id);
    if ((cur && cur->has_tel && t.observed_at < cur->tel.observed_at) ||
        predates(cur, t.observed_at))
        return D2EV_OK; /* an older sample */
    struct blob *b = blob_from_view(d2ev_api_view(d2ev_telemetry_encode(&t), &t.env));
    if (!b)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "telemetry: cannot render the view");
    pthread_rwlock_wrlock(&m->lock);
    struct vehicle *v = get_or_add(m, t.vehicle_id);
    if (v) {
        blob_unref(v->tjson);
        v->tjson = b;
        v->tel = t;
        v->has_tel = true;
    }
    pthread_rwlock_unlock(&m->lock);
    if (!v) {
        blob_unref(b);
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    }
    return D2EV_OK;
}

/* Sessions, dispatch, notifications and registration results: append to a
 * history, once per event id. */
static int apply_event(struct d2ev_api_model *m, int which, const char *vehicle_id, int64_t t,
                       const struct d2ev_envelope *env, json_t *encoded, const char *alert_kind,
                       struct d2ev_err *err)
{
    uint64_t idh = hash_str(env->id);
    struct vehicle *cur = find(m, vehicle_id);
    if ((cur && hist_has(&cur->hist[which], idh)) || (which != H_RESULTS && predates(cur, t))) {
        json_decref(encoded);
        return D2EV_OK; /* delivered twice, or from an earlier registration */
    }
    struct blob *b = blob_from_view(d2ev_api_view(encoded, env));
    if (!b)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "%s: cannot render the view", env->type);
    pthread_rwlock_wrlock(&m->lock);
    struct vehicle *v = get_or_add(m, vehicle_id);
    struct hitem it = { ++m->seq, t, idh, b };
    int rc = v ? hist_push(&v->hist[which], hist_max[which], it) : D2EV_ERR_NOMEM;
    if (rc == D2EV_OK && alert_kind) {
        if (m->nalerts == D2EV_API_KEEP_ALERTS) {
            blob_unref(m->alerts[0].b);
            memmove(m->alerts, m->alerts + 1, (m->nalerts - 1) * sizeof(*m->alerts));
            m->nalerts--;
        }
        struct alert *a = &m->alerts[m->nalerts++];
        a->seq = it.seq;
        a->t = t;
        a->idh = idh;
        d2ev_strlcpy(a->vehicle_id, vehicle_id, sizeof(a->vehicle_id));
        a->b = blob_ref(b);
        m->alerts_seen++;
    }
    pthread_rwlock_unlock(&m->lock);
    if (rc) {
        blob_unref(b);
        return d2ev_err_set(err, rc, "out of memory");
    }
    return D2EV_OK;
}

static int apply_history(struct d2ev_api_model *m, const char *topic, const char *key,
                         const void *value, size_t len, struct d2ev_err *err)
{
    if (!value)
        return D2EV_OK;
    int rc;
    if (!strcmp(topic, D2EV_TOPIC_SESSIONS)) {
        struct d2ev_session s;
        if ((rc = d2ev_session_decode(value, len, &s, err)) ||
            (rc = check_key(key, s.vehicle_id, "session", err)))
            return rc;
        return apply_event(m, H_SESSIONS, s.vehicle_id, s.at, &s.env, d2ev_session_encode(&s), NULL,
                           err);
    }
    if (!strcmp(topic, D2EV_TOPIC_DISPATCH)) {
        struct d2ev_dispatch d;
        if ((rc = d2ev_dispatch_decode(value, len, &d, err)) ||
            (rc = check_key(key, d.vehicle_id, "dispatch", err)))
            return rc;
        return apply_event(m, H_DISPATCH, d.vehicle_id, d.at, &d.env, d2ev_dispatch_encode(&d),
                           NULL, err);
    }
    if (!strcmp(topic, D2EV_TOPIC_NOTIFICATIONS)) {
        struct d2ev_notification n;
        if ((rc = d2ev_notification_decode(value, len, &n, err)) ||
            (rc = check_key(key, n.vehicle_id, "notification", err)))
            return rc;
        return apply_event(m, H_NOTES, n.vehicle_id, n.env.ts, &n.env, d2ev_notification_encode(&n),
                           n.kind, err);
    }
    struct d2ev_reg_result r;
    if ((rc = d2ev_reg_result_decode(value, len, &r, err)) ||
        (rc = check_key(key, r.vehicle_id, "registration.result", err)))
        return rc;
    return apply_event(m, H_RESULTS, r.vehicle_id, r.env.ts, &r.env, d2ev_reg_result_encode(&r),
                       NULL, err);
}

static json_t *region_view(const struct region *r, const struct d2ev_forecast *f)
{
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "region", json_string(r->name))) {
        json_decref(o);
        return NULL;
    }
    static const char *const kinds[2] = { "price", "carbon" };
    for (int k = 0; k < 2; k++) {
        const struct d2ev_forecast *use = (int)f->kind == k ? f : (r->has[k] ? &r->f[k] : NULL);
        json_t *view = use ? d2ev_api_view(d2ev_forecast_encode(use), &use->env) : json_null();
        if (!view || json_object_set_new(o, kinds[k], view)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static int apply_forecast(struct d2ev_api_model *m, const void *value, size_t len,
                          struct d2ev_err *err)
{
    if (!value)
        return D2EV_OK;
    struct d2ev_forecast f;
    int rc = d2ev_forecast_decode(value, len, &f, err);
    if (rc)
        return rc;
    struct region *r = NULL;
    for (size_t i = 0; i < m->nregions && !r; i++) {
        if (strcmp(m->regions[i].name, f.region) == 0)
            r = &m->regions[i];
    }
    if (r && r->has[f.kind] && f.issued_at < r->f[f.kind].issued_at)
        goto out; /* an older forecast */
    struct region fresh = { 0 };
    d2ev_strlcpy(fresh.name, f.region, sizeof(fresh.name));
    struct blob *b = blob_from_view(region_view(r ? r : &fresh, &f));
    if (!b) {
        rc = d2ev_err_set(err, D2EV_ERR_NOMEM, "forecast: cannot render the view");
        goto out;
    }
    if (!r && m->nregions == D2EV_API_MAX_REGIONS) {
        blob_unref(b);
        rc = d2ev_err_set(err, D2EV_ERR_LIMIT, "forecast: more than %d regions; %s is not kept",
                          D2EV_API_MAX_REGIONS, f.region);
        goto out;
    }
    pthread_rwlock_wrlock(&m->lock);
    if (!r && m->nregions == m->capregions) {
        size_t cap = m->capregions ? m->capregions * 2 : 8;
        struct region *nr = realloc(m->regions, cap * sizeof(*nr));
        if (nr) {
            m->regions = nr;
            m->capregions = cap;
        }
    }
    if (!r && m->nregions < m->capregions) {
        r = &m->regions[m->nregions++];
        *r = fresh;
    }
    if (r) {
        d2ev_forecast_clear(&r->f[f.kind]);
        r->f[f.kind] = f; /* takes the values */
        r->has[f.kind] = true;
        memset(&f, 0, sizeof(f));
        blob_unref(r->json);
        r->json = b;
    }
    pthread_rwlock_unlock(&m->lock);
    if (!r) {
        blob_unref(b);
        rc = d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    }
out:
    d2ev_forecast_clear(&f);
    return rc;
}

int d2ev_api_model_apply(struct d2ev_api_model *m, const char *topic, const char *key,
                         const void *value, size_t len, struct d2ev_err *err)
{
    if (!strcmp(topic, D2EV_TOPIC_FORECASTS))
        return apply_forecast(m, value, len, err);
    bool known = !strcmp(topic, D2EV_TOPIC_VEHICLES) || !strcmp(topic, D2EV_TOPIC_SCHEDULES) ||
                 !strcmp(topic, D2EV_TOPIC_TELEMETRY) || !strcmp(topic, D2EV_TOPIC_SESSIONS) ||
                 !strcmp(topic, D2EV_TOPIC_DISPATCH) || !strcmp(topic, D2EV_TOPIC_NOTIFICATIONS) ||
                 !strcmp(topic, D2EV_TOPIC_REG_RESULTS);
    if (!known)
        return d2ev_err_set(err, D2EV_ERR_UNSUPPORTED, "topic %s is not read by the API", topic);
    if (!key || !d2ev_api_id_valid(key, D2EV_VEHICLE_ID_MAX))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: the record's key is not a vehicle id",
                            topic);
    if (!strcmp(topic, D2EV_TOPIC_VEHICLES))
        return apply_vehicle(m, key, value, len, err);
    if (!strcmp(topic, D2EV_TOPIC_SCHEDULES))
        return apply_schedule(m, key, value, len, err);
    if (!strcmp(topic, D2EV_TOPIC_TELEMETRY))
        return apply_telemetry(m, key, value, len, err);
    return apply_history(m, topic, key, value, len, err);
}

/* ------------------------------------------------------------ readers */

/* The next window that has not ended at now, or NULL. */
static const struct d2ev_window *next_window(const struct sched *s, int64_t now)
{
    for (size_t i = 0; i < s->nwindows; i++) {
        if (s->windows[i].end > now)
            return &s->windows[i];
    }
    return NULL;
}

static enum d2ev_api_plug plug_of(const struct vehicle *v)
{
    if (!v->has_tel)
        return D2EV_API_PLUG_UNKNOWN;
    if (v->tel.plugged_in)
        return D2EV_API_PLUG_PLUGGED;
    return v->tel.charging_state == D2EV_CHG_DISCONNECTED ? D2EV_API_PLUG_UNPLUGGED
                                                          : D2EV_API_PLUG_UNKNOWN;
}

static enum d2ev_api_state state_of(const struct vehicle *v, int64_t now)
{
    enum d2ev_api_plug plug = plug_of(v);
    if (plug == D2EV_API_PLUG_UNKNOWN)
        return D2EV_API_STATE_UNKNOWN;
    if (v->tel.charging_state == D2EV_CHG_CHARGING || v->tel.charging_state == D2EV_CHG_STARTING)
        return D2EV_API_STATE_CHARGING;
    if (plug == D2EV_API_PLUG_UNPLUGGED)
        return D2EV_API_STATE_UNPLUGGED;
    return v->has_sched && next_window(&v->s, now) ? D2EV_API_STATE_PAUSED : D2EV_API_STATE_PLUGGED;
}

static void fill_row(const struct vehicle *v, int64_t now, struct d2ev_api_row *r)
{
    memset(r, 0, sizeof(*r));
    memcpy(r->vehicle_id, v->id, sizeof(r->vehicle_id));
    memcpy(r->oem, v->oem, sizeof(r->oem));
    memcpy(r->region, v->region, sizeof(r->region));
    memcpy(r->site_id, v->site_id, sizeof(r->site_id));
    r->status = v->status;
    r->plug = plug_of(v);
    r->state = state_of(v, now);
    if (v->has_tel) {
        r->has_soc = true;
        r->soc = v->tel.soc;
        r->observed_at = v->tel.observed_at;
    }
    if (v->has_sched) {
        r->has_schedule = true;
        r->schedule_version = v->s.version;
        r->schedule_status = v->s.status;
        r->expected_soc = v->s.expected_soc;
        r->ready_by = v->s.ready_by;
        r->savings = v->s.baseline_cost - v->s.expected_cost;
        memcpy(r->currency, v->s.currency, sizeof(r->currency));
    }
}

int d2ev_api_model_schedule(struct d2ev_api_model *m, const char *id, struct d2ev_strbuf *out,
                            bool *no_schedule)
{
    int rc = D2EV_ERR_NOT_FOUND;
    *no_schedule = false;
    pthread_rwlock_rdlock(&m->lock);
    const struct vehicle *v = find_visible(m, id);
    if (v && v->sjson) {
        d2ev_strbuf_append(out, v->sjson->data, v->sjson->len);
        rc = D2EV_OK;
    } else if (v) {
        *no_schedule = true;
    }
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

static void schedule_summary(struct d2ev_strbuf *sb, const struct vehicle *v)
{
    if (!v->has_sched) {
        d2ev_strbuf_puts(sb, "null");
        return;
    }
    d2ev_strbuf_printf(sb, "{\"version\":%lld,\"status\":\"%s\",\"created_at\":",
                       (long long)v->s.version, d2ev_schedule_status_name(v->s.status));
    d2ev_api_json_time(sb, v->s.created_at);
    d2ev_strbuf_puts(sb, ",\"ready_by\":");
    d2ev_api_json_time(sb, v->s.ready_by);
    d2ev_strbuf_puts(sb, ",\"expected_soc\":");
    d2ev_api_json_num(sb, v->s.expected_soc);
    d2ev_strbuf_puts(sb, "}");
}

/* The newest max items of h as a JSON array. */
static void newest(struct d2ev_strbuf *sb, const struct hist *h, uint32_t max)
{
    d2ev_strbuf_puts(sb, "[");
    for (uint32_t i = 0; i < h->n && i < max; i++) {
        if (i)
            d2ev_strbuf_puts(sb, ",");
        put_blob(sb, h->items[h->n - 1 - i].b);
    }
    d2ev_strbuf_puts(sb, "]");
}

int d2ev_api_model_vehicle(struct d2ev_api_model *m, const char *id, int64_t now,
                           struct d2ev_strbuf *out)
{
    pthread_rwlock_rdlock(&m->lock);
    const struct vehicle *v = find_visible(m, id);
    if (v) {
        d2ev_strbuf_puts(out, "{\"vehicle\":");
        put_blob(out, v->vjson);
        d2ev_strbuf_printf(out, ",\"state\":\"%s\",\"plug\":\"%s\",\"telemetry\":",
                           d2ev_api_state_name(state_of(v, now)), d2ev_api_plug_name(plug_of(v)));
        put_blob(out, v->tjson);
        d2ev_strbuf_puts(out, ",\"schedule\":");
        schedule_summary(out, v);
        d2ev_strbuf_puts(out, ",\"notifications\":");
        newest(out, &v->hist[H_NOTES], 5);
        d2ev_strbuf_puts(out, ",\"registration_results\":");
        newest(out, &v->hist[H_RESULTS], D2EV_API_KEEP_RESULTS);
        d2ev_strbuf_puts(out, "}");
    }
    pthread_rwlock_unlock(&m->lock);
    return v ? D2EV_OK : D2EV_ERR_NOT_FOUND;
}

int d2ev_api_model_status(struct d2ev_api_model *m, const char *id, int64_t now,
                          struct d2ev_strbuf *out)
{
    pthread_rwlock_rdlock(&m->lock);
    const struct vehicle *v = find_visible(m, id);
    if (!v) {
        pthread_rwlock_unlock(&m->lock);
        return D2EV_ERR_NOT_FOUND;
    }
    bool first = true;
    d2ev_strbuf_puts(out, "{");
    d2ev_api_json_key(out, &first, "vehicle_id");
    d2ev_api_json_str(out, v->id);
    d2ev_api_json_key(out, &first, "state");
    d2ev_api_json_str(out, d2ev_api_state_name(state_of(v, now)));
    d2ev_api_json_key(out, &first, "plug");
    d2ev_api_json_str(out, d2ev_api_plug_name(plug_of(v)));
    d2ev_api_json_key(out, &first, "soc");
    d2ev_api_json_num(out, v->has_tel ? v->tel.soc : NAN);
    d2ev_api_json_key(out, &first, "charging_state");
    if (v->has_tel)
        d2ev_api_json_str(out, d2ev_charging_state_name(v->tel.charging_state));
    else
        d2ev_strbuf_puts(out, "null");
    d2ev_api_json_key(out, &first, "observed_at");
    if (v->has_tel)
        d2ev_api_json_time(out, v->tel.observed_at);
    else
        d2ev_strbuf_puts(out, "null");
    const struct d2ev_window *w = v->has_sched ? next_window(&v->s, now) : NULL;
    d2ev_api_json_key(out, &first, "next_window");
    if (w) {
        d2ev_strbuf_puts(out, "{\"start\":");
        d2ev_api_json_time(out, w->start);
        d2ev_strbuf_puts(out, ",\"end\":");
        d2ev_api_json_time(out, w->end);
        d2ev_strbuf_puts(out, ",\"energy_kwh\":");
        d2ev_api_json_num(out, w->energy_kwh);
        d2ev_strbuf_printf(out, ",\"active\":%s}", w->start <= now ? "true" : "false");
    } else {
        d2ev_strbuf_puts(out, "null");
    }
    d2ev_api_json_key(out, &first, "target_soc");
    d2ev_api_json_num(out, v->has_sched ? v->s.target_soc : v->target_soc);
    d2ev_api_json_key(out, &first, "ready_by");
    if (v->has_sched)
        d2ev_api_json_time(out, v->s.ready_by);
    else
        d2ev_strbuf_puts(out, "null");
    d2ev_api_json_key(out, &first, "expected_soc");
    d2ev_api_json_num(out, v->has_sched ? v->s.expected_soc : NAN);
    d2ev_api_json_key(out, &first, "schedule_status");
    if (v->has_sched)
        d2ev_api_json_str(out, d2ev_schedule_status_name(v->s.status));
    else
        d2ev_strbuf_puts(out, "null");
    d2ev_strbuf_puts(out, "}");
    pthread_rwlock_unlock(&m->lock);
    return D2EV_OK;
}

int d2ev_api_model_forecast(struct d2ev_api_model *m, const char *region, struct d2ev_strbuf *out)
{
    int rc = D2EV_ERR_NOT_FOUND;
    pthread_rwlock_rdlock(&m->lock);
    for (size_t i = 0; i < m->nregions; i++) {
        if (strcmp(m->regions[i].name, region) == 0) {
            put_blob(out, m->regions[i].json);
            rc = D2EV_OK;
            break;
        }
    }
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

/* Does item (seq, t) belong on the page? */
static bool on_page(const struct d2ev_api_page *p, uint64_t seq, int64_t t)
{
    return (!p->has_before || seq < p->before_seq) && (!p->has_since || t >= p->since);
}

/* Writes {"items":[...],"next_cursor":...} for items given newest first. */
struct pager {
    struct d2ev_strbuf *out;
    size_t limit, count;
    uint64_t last_seq;
    bool more;
};

static struct pager pager_begin(struct d2ev_strbuf *out, const struct d2ev_api_page *page)
{
    d2ev_strbuf_puts(out, "{\"items\":[");
    return (struct pager){ .out = out, .limit = page->limit };
}

/* Add an item; false (and more is set) when the page is already full. */
static bool pager_add(struct pager *p, uint64_t seq, const struct blob *b)
{
    if (p->count == p->limit) {
        p->more = true;
        return false;
    }
    if (p->count++)
        d2ev_strbuf_puts(p->out, ",");
    put_blob(p->out, b);
    p->last_seq = seq;
    return true;
}

static void pager_end(struct pager *p)
{
    char cursor[D2EV_API_CURSOR_MAX];
    if (p->more)
        d2ev_strbuf_printf(p->out, "],\"next_cursor\":\"%s\"}",
                           d2ev_api_cursor_before_seq(cursor, p->last_seq));
    else
        d2ev_strbuf_puts(p->out, "],\"next_cursor\":null}");
}

int d2ev_api_model_history(struct d2ev_api_model *m, const char *id, enum d2ev_api_hist kind,
                           const struct d2ev_api_page *page, struct d2ev_strbuf *out)
{
    static const int which[] = { H_SCHEDULES, H_SESSIONS, H_DISPATCH };
    pthread_rwlock_rdlock(&m->lock);
    const struct vehicle *v = find_visible(m, id);
    if (!v) {
        pthread_rwlock_unlock(&m->lock);
        return D2EV_ERR_NOT_FOUND;
    }
    const struct hist *h = &v->hist[which[kind]];
    struct pager pg = pager_begin(out, page);
    for (uint32_t i = h->n; i-- > 0;) {
        const struct hitem *it = &h->items[i];
        if (on_page(page, it->seq, it->t) && !pager_add(&pg, it->seq, it->b))
            break;
    }
    pager_end(&pg);
    pthread_rwlock_unlock(&m->lock);
    return D2EV_OK;
}

/* An alert is shown while its vehicle is visible and it is not older than
 * the vehicle's registration. */
static bool alert_shown(const struct d2ev_api_model *m, const struct alert *a)
{
    const struct vehicle *v = find_visible(m, a->vehicle_id);
    return v && a->t >= v->registered_at;
}

int d2ev_api_model_alerts(struct d2ev_api_model *m, const struct d2ev_api_page *page,
                          struct d2ev_strbuf *out)
{
    pthread_rwlock_rdlock(&m->lock);
    struct pager pg = pager_begin(out, page);
    for (size_t i = m->nalerts; i-- > 0;) {
        const struct alert *a = &m->alerts[i];
        if (on_page(page, a->seq, a->t) && alert_shown(m, a) && !pager_add(&pg, a->seq, a->b))
            break;
    }
    pager_end(&pg);
    pthread_rwlock_unlock(&m->lock);
    return D2EV_OK;
}

static bool matches(const struct d2ev_api_filter *f, const struct vehicle *v, int64_t now)
{
    if (f->oem && strcmp(f->oem, v->oem) != 0)
        return false;
    if (f->status >= 0 && (int)v->status != f->status)
        return false;
    if (f->plug >= 0 && (int)plug_of(v) != f->plug)
        return false;
    return f->state < 0 || (int)state_of(v, now) == f->state;
}

size_t d2ev_api_model_rows(struct d2ev_api_model *m, const struct d2ev_api_filter *f,
                           const char *after, int64_t now, struct d2ev_api_row *rows, size_t max,
                           bool *more)
{
    size_t n = 0;
    *more = false;
    pthread_rwlock_rdlock(&m->lock);
    size_t i = 0;
    if (after) {
        i = idx_lower_bound(m, after);
        if (i < m->nidx && strcmp(m->idx[i]->id, after) == 0)
            i++;
    }
    for (; i < m->nidx; i++) {
        const struct vehicle *v = m->idx[i];
        if (!matches(f, v, now))
            continue;
        if (n == max) {
            *more = true;
            break;
        }
        fill_row(v, now, &rows[n++]);
    }
    pthread_rwlock_unlock(&m->lock);
    return n;
}

static void add_cost(struct d2ev_api_fleet *f, const struct sched *s)
{
    size_t i = 0;
    while (i < f->ncurrencies && strcmp(f->cost[i].currency, s->currency) != 0)
        i++;
    if (i == f->ncurrencies) {
        if (i == D2EV_API_MAX_CURRENCIES)
            return; /* more currencies than a fleet plausibly has */
        memcpy(f->cost[i].currency, s->currency, sizeof(f->cost[i].currency));
        f->ncurrencies++;
    }
    f->cost[i].schedules++;
    f->cost[i].baseline_cost += s->baseline_cost;
    f->cost[i].expected_cost += s->expected_cost;
}

int d2ev_api_model_fleet(struct d2ev_api_model *m, int64_t now, struct d2ev_api_fleet *f,
                         size_t recent, struct d2ev_strbuf *alerts)
{
    memset(f, 0, sizeof(*f));
    pthread_rwlock_rdlock(&m->lock);
    for (size_t b = 0; b < m->nbuckets; b++) {
        for (const struct vehicle *v = m->buckets[b]; v; v = v->next) {
            if (!v->visible)
                continue;
            f->vehicles++;
            f->by_vstatus[v->status == D2EV_VEHICLE_SUSPENDED]++;
            f->by_state[state_of(v, now)]++;
            if (v->has_sched) {
                f->with_schedule++;
                f->by_schedule_status[v->s.status]++;
                f->baseline_carbon_g += v->s.baseline_carbon_g;
                f->expected_carbon_g += v->s.expected_carbon_g;
                add_cost(f, &v->s);
            }
        }
    }
    size_t shown = 0;
    d2ev_strbuf_puts(alerts, "[");
    for (size_t i = m->nalerts; i-- > 0;) {
        if (!alert_shown(m, &m->alerts[i]))
            continue;
        if (shown < recent) {
            if (shown)
                d2ev_strbuf_puts(alerts, ",");
            put_blob(alerts, m->alerts[i].b);
        }
        shown++;
    }
    d2ev_strbuf_puts(alerts, "]");
    f->alerts_retained = shown;
    f->alerts_seen = m->alerts_seen;
    pthread_rwlock_unlock(&m->lock);
    return D2EV_OK;
}

static int copy_forecast(struct d2ev_forecast *dst, const struct d2ev_forecast *src)
{
    *dst = *src;
    dst->values = malloc((src->n ? src->n : 1) * sizeof(double));
    if (!dst->values) {
        memset(dst, 0, sizeof(*dst));
        return D2EV_ERR_NOMEM;
    }
    memcpy(dst->values, src->values, src->n * sizeof(double));
    return D2EV_OK;
}

int d2ev_api_model_snapshot(struct d2ev_api_model *m, const char *id, int64_t now,
                            struct d2ev_api_snapshot *out)
{
    memset(out, 0, sizeof(*out));
    int rc = D2EV_OK;
    pthread_rwlock_rdlock(&m->lock);
    const struct vehicle *v = find_visible(m, id);
    if (!v) {
        pthread_rwlock_unlock(&m->lock);
        return D2EV_ERR_NOT_FOUND;
    }
    fill_row(v, now, &out->row);
    memcpy(out->timezone, v->timezone, sizeof(out->timezone));
    out->target_soc = v->target_soc;
    out->has_battery_kwh = v->has_battery_kwh;
    out->battery_kwh = v->battery_kwh;
    out->has_telemetry = v->has_tel;
    out->telemetry = v->tel;
    if (v->has_sched) {
        struct d2ev_schedule *s = &out->schedule;
        memcpy(s->vehicle_id, v->id, sizeof(s->vehicle_id));
        s->version = v->s.version;
        s->created_at = v->s.created_at;
        s->status = v->s.status;
        d2ev_strlcpy(s->reason, v->s.reason ? v->s.reason : "", sizeof(s->reason));
        s->ready_by = v->s.ready_by;
        s->target_soc = v->s.target_soc;
        s->soc_at_plan = v->s.soc_at_plan;
        s->expected_soc = v->s.expected_soc;
        s->expected_cost = v->s.expected_cost;
        s->baseline_cost = v->s.baseline_cost;
        s->expected_carbon_g = v->s.expected_carbon_g;
        s->baseline_carbon_g = v->s.baseline_carbon_g;
        memcpy(s->currency, v->s.currency, sizeof(s->currency));
        memcpy(s->method, v->s.method, sizeof(s->method));
        if (v->s.nwindows) {
            s->windows = malloc(v->s.nwindows * sizeof(*s->windows));
            if (s->windows) {
                memcpy(s->windows, v->s.windows, v->s.nwindows * sizeof(*s->windows));
                s->nwindows = v->s.nwindows;
            } else {
                rc = D2EV_ERR_NOMEM;
            }
        }
        out->has_schedule = true;
    }
    for (size_t i = 0; i < m->nregions && rc == D2EV_OK; i++) {
        const struct region *r = &m->regions[i];
        if (strcmp(r->name, v->region) != 0)
            continue;
        if (r->has[D2EV_FORECAST_PRICE] &&
            (rc = copy_forecast(&out->price, &r->f[D2EV_FORECAST_PRICE])) == D2EV_OK)
            out->has_price = true;
        if (rc == D2EV_OK && r->has[D2EV_FORECAST_CARBON] &&
            (rc = copy_forecast(&out->carbon, &r->f[D2EV_FORECAST_CARBON])) == D2EV_OK)
            out->has_carbon = true;
    }
    pthread_rwlock_unlock(&m->lock);
    if (rc)
        d2ev_api_snapshot_clear(out);
    return rc;
}

void d2ev_api_snapshot_clear(struct d2ev_api_snapshot *s)
{
    d2ev_schedule_clear(&s->schedule);
    d2ev_forecast_clear(&s->price);
    d2ev_forecast_clear(&s->carbon);
    memset(s, 0, sizeof(*s));
}
