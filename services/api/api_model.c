/* api_model.c: the ops API's read model: its state and the writer that applies records
 * (see api_model.h; the queries are in api_query.c). */
#include "api_model.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/topics.h"
#include "d2ev/util.h"

#include "api_model_internal.h"
#include "api_render.h"
#include "api_text.h"

/* ------------------------------------------------------------ blobs */

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

/* ------------------------------------------------------------ histories */

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

static void sched_clear(struct sched *s)
{
    free(s->reason);
    free(s->windows);
    memset(s, 0, sizeof(*s));
}

static const uint32_t hist_max[H_COUNT] = {
    D2EV_API_KEEP_SCHEDULES,     D2EV_API_KEEP_SESSIONS, D2EV_API_KEEP_DISPATCH,
    D2EV_API_KEEP_NOTIFICATIONS, D2EV_API_KEEP_RESULTS,
};

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
    if (!m) {
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

static void free_node(struct d2ev_htab_node *n, void *table)
{
    d2ev_htab_remove(table, n);
    vehicle_free(D2EV_HTAB_ENTRY(n, struct vehicle, node));
}

void d2ev_api_model_destroy(struct d2ev_api_model *m)
{
    if (!m)
        return;
    d2ev_htab_each(&m->vehicles, free_node, &m->vehicles);
    d2ev_htab_free(&m->vehicles);
    for (size_t i = 0; i < m->nregions; i++) {
        d2ev_forecast_clear(&m->regions[i].f[0]);
        d2ev_forecast_clear(&m->regions[i].f[1]);
        blob_unref(m->regions[i].json);
    }
    for (size_t i = 0; i < m->nalerts; i++)
        blob_unref(m->alerts[i].b);
    free(m->regions);
    free(m->idx);
    free(m->pending);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

/* ------------------------------------------------------------ lookup */

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
    v->node.key = v->id;
    v->node.klen = strlen(v->id);
    if (d2ev_htab_insert(&m->vehicles, &v->node) != 0) {
        free(v);
        return NULL;
    }
    return v;
}

/* Under the write lock: unlink v from the table and the index, and free it. */
static void remove_vehicle(struct d2ev_api_model *m, struct vehicle *v)
{
    d2ev_htab_remove(&m->vehicles, &v->node);
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
