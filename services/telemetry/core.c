/* core.c: vehicles, poll queues, samples and sessions of d2ev-telemetry (see core.h). */
#include "core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/resilience.h"
#include "d2ev/util.h"
#include "forecasts.h"
#include "sched_view.h"

#define MAX_OEMS       32
#define MAX_REGIONS    4096
#define SKEW_MS        (5 * 60000) /* reported_at may be this far after observed_at */
#define MAX_WAIT_MS    100
#define OUTCOME_SUBMIT D2EV_OEM_CLASS_COUNT /* metric slot: the read could not start */

/* One OEM's poll queue. */
struct oem_q {
    struct tel_oem_info info;
    char name[D2EV_OEM_MAX + 1];
    struct poll_heap heap;
    struct d2ev_token_bucket bucket; /* real time: the replica's share of the OEM's limit */
    uint32_t outstanding;
    struct d2ev_metric *m_polls[D2EV_OEM_CLASS_COUNT + 1];
    struct d2ev_metric *m_429, *m_stopped;
};

struct tel_core {
    struct tel_core_config cfg;
    const struct tel_core_ops *ops;
    void *opaque;
    struct oem_q oems[MAX_OEMS];
    size_t noems;
    struct d2ev_htab vehicles;
    char (*regions)[D2EV_REGION_MAX + 1];
    size_t nregions, capregions;
    struct tel_forecasts *fc;
    uint64_t rng;
    bool live;
    size_t in_flight, in_flight_gone;
    size_t class_count[TEL_CLASS_COUNT];
    struct tel_core_stats stats;
    struct d2ev_metric *m_class[TEL_CLASS_COUNT];
    struct d2ev_metric *m_published, *m_stale, *m_sessions[5], *m_anomalies[3];
    struct d2ev_metric *m_lag, *m_in_flight;
};

void tel_core_config_default(struct tel_core_config *c)
{
    memset(c, 0, sizeof(*c));
    tel_policy_default(&c->policy);
    tel_session_conf_default(&c->session);
    c->oem_budget_share = 0.8;
    c->max_outstanding = 1024;
}

/* ------------------------------------------------------------ helpers */

static struct tel_vehicle *entry(struct d2ev_htab_node *n)
{
    return n ? D2EV_HTAB_ENTRY(n, struct tel_vehicle, node) : NULL;
}

static struct tel_vehicle *of_timer(struct poll_timer *t)
{
    return (struct tel_vehicle *)((char *)t - offsetof(struct tel_vehicle, timer));
}

struct tel_vehicle *tel_core_find(const struct tel_core *c, const char *id)
{
    return entry(d2ev_htab_find(&c->vehicles, id, strlen(id)));
}

const char *tel_core_region(const struct tel_core *c, const struct tel_vehicle *v)
{
    return v->region < c->nregions ? c->regions[v->region] : NULL;
}

static uint16_t intern_region(struct tel_core *c, const char *region)
{
    for (size_t i = 0; i < c->nregions; i++) {
        if (!strcmp(c->regions[i], region))
            return (uint16_t)i;
    }
    if (c->nregions == MAX_REGIONS)
        return TEL_NO_REGION;
    if (c->nregions == c->capregions) {
        size_t cap = c->capregions ? c->capregions * 2 : 16;
        void *nr = realloc(c->regions, cap * sizeof(*c->regions));
        if (!nr)
            return TEL_NO_REGION;
        c->regions = nr;
        c->capregions = cap;
    }
    d2ev_strlcpy(c->regions[c->nregions], region, sizeof(c->regions[0]));
    return (uint16_t)c->nregions++;
}

static uint8_t oem_index(const struct tel_core *c, const char *name)
{
    for (size_t i = 0; i < c->noems; i++) {
        if (!strcmp(c->oems[i].name, name))
            return (uint8_t)i;
    }
    return TEL_NO_OEM;
}

static void set_class(struct tel_core *c, struct tel_vehicle *v, enum tel_class cls)
{
    if (v->cls == cls)
        return;
    c->class_count[v->cls]--;
    d2ev_metric_set(c->m_class[v->cls], (double)c->class_count[v->cls]);
    v->cls = (uint8_t)cls;
    c->class_count[cls]++;
    d2ev_metric_set(c->m_class[cls], (double)c->class_count[cls]);
}

static struct oem_q *queue_of(struct tel_core *c, const struct tel_vehicle *v)
{
    return v->oem < c->noems ? &c->oems[v->oem] : NULL;
}

static void unqueue(struct tel_core *c, struct tel_vehicle *v)
{
    struct oem_q *q = queue_of(c, v);
    if (q)
        poll_heap_remove(&q->heap, &v->timer);
}

static void enqueue(struct tel_core *c, struct tel_vehicle *v, int64_t due)
{
    struct oem_q *q = queue_of(c, v);
    if (q && poll_heap_set(&q->heap, &v->timer, due) != D2EV_OK)
        d2ev_log_error("out of memory queueing a poll", D2EV_LF_STR("vehicle_id", v->id));
}

static struct tel_vehicle *vehicle_new(struct tel_core *c, const char *id, int32_t partition,
                                       int64_t now)
{
    size_t len = strlen(id);
    struct tel_vehicle *v = calloc(1, sizeof(*v) + len + 1);
    if (!v)
        return NULL;
    memcpy(v->id, id, len + 1);
    v->node.key = v->id;
    v->node.klen = len;
    poll_timer_init(&v->timer);
    tel_budget_init(&v->budget, &c->cfg.policy, now);
    v->rec_offset = v->cred_offset = -1;
    v->region = TEL_NO_REGION;
    v->partition = partition;
    v->oem = v->flight_oem = TEL_NO_OEM;
    v->cls = TEL_CLASS_IDLE;
    if (d2ev_htab_insert(&c->vehicles, &v->node) != 0) {
        free(v);
        return NULL;
    }
    c->class_count[TEL_CLASS_IDLE]++;
    return v;
}

static struct tel_vehicle *get_or_add(struct tel_core *c, const char *id, int32_t partition,
                                      int64_t now)
{
    struct tel_vehicle *v = tel_core_find(c, id);
    if (!v)
        v = vehicle_new(c, id, partition, now);
    else
        v->partition = partition;
    return v;
}

static void vehicle_free(struct tel_vehicle *v)
{
    free(v->oem_vid);
    free(v->sched);
    free(v);
}

/* Forget v: out of the map, the queue and the counts; freed now, or when its
 * read comes back. */
static void forget(struct tel_core *c, struct tel_vehicle *v)
{
    unqueue(c, v);
    d2ev_htab_remove(&c->vehicles, &v->node);
    c->class_count[v->cls]--;
    d2ev_metric_set(c->m_class[v->cls], (double)c->class_count[v->cls]);
    if (v->flags & TV_IN_FLIGHT) {
        if (!(v->flags & TV_PARKED))
            c->in_flight_gone++;
        v->flags |= TV_REMOVED;
        return;
    }
    vehicle_free(v);
}

/* Why v cannot be polled now, or TEL_CLASS_NEW when it can. */
static enum tel_class blocked(const struct tel_core *c, const struct tel_vehicle *v)
{
    if (!(v->flags & TV_HAS_RECORD) || (v->flags & TV_PARKED))
        return TEL_CLASS_IDLE;
    if (v->oem >= c->noems)
        return TEL_CLASS_UNKNOWN_OEM;
    if (v->flags & (TV_STOPPED | TV_SUSPENDED))
        return TEL_CLASS_STOPPED;
    if (c->oems[v->oem].info.per_vehicle_tokens && !(v->flags & TV_HAS_CREDS))
        return TEL_CLASS_NO_CREDENTIALS;
    return TEL_CLASS_NEW;
}

static void poll_input(const struct tel_vehicle *v, int64_t now, struct tel_poll_input *in)
{
    /* a restored session's last point is not a poll of ours: poll soon */
    in->has_sample = (v->flags & TV_POLLED) != 0;
    in->plugged = (v->flags & TV_HAS_SAMPLE) && tel_point_plugged(&v->last);
    in->charging = (v->flags & TV_HAS_SAMPLE) && tel_point_charging(&v->last);
    in->asleep = (v->flags & TV_ASLEEP) != 0;
    in->sched_says_charge = tel_sched_charging_at(v->sched, now);
    in->next_boundary = tel_sched_next_boundary(v->sched, now);
    in->prev_boundary = tel_sched_prev_boundary(v->sched, now);
}

/* Queue v's next poll after a good answer (or when it becomes pollable). */
static void schedule_next(struct tel_core *c, struct tel_vehicle *v, int64_t now)
{
    struct tel_poll_input in;
    poll_input(v, now, &in);
    enum tel_class cls = tel_policy_class(&c->cfg.policy, &in, now);
    int64_t due = tel_policy_next(&c->cfg.policy, cls, &in, now, &c->rng);
    set_class(c, v, cls);
    enqueue(c, v, tel_budget_ready(&v->budget, &c->cfg.policy, due));
}

/* Re-evaluate v after an input changed: stop, start or move its polls. */
static void refresh(struct tel_core *c, struct tel_vehicle *v, int64_t now)
{
    enum tel_class why = blocked(c, v);
    if (why != TEL_CLASS_NEW) {
        unqueue(c, v);
        if (!(v->flags & TV_IN_FLIGHT))
            set_class(c, v, why);
        return;
    }
    if (v->flags & TV_IN_FLIGHT)
        return; /* its outcome schedules the next poll */
    if (!poll_timer_queued(&v->timer)) {
        if ((v->flags & TV_POLLED) && v->timer.due > 0) {
            /* resume (after a rebalance, new credentials, ...) where it left off */
            struct tel_poll_input in;
            poll_input(v, now, &in);
            set_class(c, v, tel_policy_class(&c->cfg.policy, &in, now));
            enqueue(c, v, tel_budget_ready(&v->budget, &c->cfg.policy, v->timer.due));
        } else {
            schedule_next(c, v, now);
        }
        return;
    }
    if (v->cls == TEL_CLASS_BACKOFF || v->cls == TEL_CLASS_NEW)
        return;
    /* a schedule may bring the next poll forward, never push it back */
    struct tel_poll_input in;
    poll_input(v, now, &in);
    enum tel_class cls = tel_policy_class(&c->cfg.policy, &in, now);
    int64_t due = tel_policy_next(&c->cfg.policy, cls, &in, now, &c->rng);
    due = tel_budget_ready(&v->budget, &c->cfg.policy, due);
    if (due < v->timer.due) {
        set_class(c, v, cls);
        enqueue(c, v, due);
    }
}

/* ------------------------------------------------------------ create */

static void oem_metrics(struct oem_q *q)
{
    char labels[128];
    for (uint32_t k = 0; k <= D2EV_OEM_CLASS_COUNT; k++) {
        snprintf(labels, sizeof(labels), "oem=\"%s\",outcome=\"%s\"", q->name,
                 k == OUTCOME_SUBMIT ? "not_started" : d2ev_oem_class_name(k));
        q->m_polls[k] = d2ev_metric_counter("d2ev_telemetry_polls_total",
                                            "Vehicle reads by OEM and outcome", labels);
    }
    snprintf(labels, sizeof(labels), "oem=\"%s\"", q->name);
    q->m_429 = d2ev_metric_counter("d2ev_telemetry_rate_limited_total",
                                   "Reads that ended rate-limited: the vehicle then waits for "
                                   "Retry-After (d2ev_oem_rate_limited_total counts every 429)",
                                   labels);
    q->m_stopped = d2ev_metric_counter("d2ev_telemetry_stopped_total",
                                       "Vehicles no longer polled after a permanent error "
                                       "(revoked consent, unknown vehicle)",
                                       labels);
}

static void core_metrics(struct tel_core *c)
{
    char labels[96];
    for (int k = 0; k < TEL_CLASS_COUNT; k++) {
        snprintf(labels, sizeof(labels), "class=\"%s\"", tel_class_name(k));
        c->m_class[k] =
            d2ev_metric_gauge("d2ev_telemetry_vehicles", "Vehicles owned, by poll class", labels);
    }
    c->m_published = d2ev_metric_counter("d2ev_telemetry_samples_total",
                                         "Telemetry samples, by result", "result=\"published\"");
    c->m_stale = d2ev_metric_counter("d2ev_telemetry_samples_total", "Telemetry samples, by result",
                                     "result=\"not_newer\"");
    static const char *const events[] = { "plug_in", "update", "full", "unplug", "anomaly" };
    for (int k = 0; k < 5; k++) {
        snprintf(labels, sizeof(labels), "event=\"%s\"", events[k]);
        c->m_sessions[k] =
            d2ev_metric_counter("d2ev_telemetry_sessions_total", "Session events sent", labels);
    }
    c->m_anomalies[D2EV_ANOMALY_ZOMBIE] = d2ev_metric_counter(
        "d2ev_telemetry_anomalies_total", "Charging anomalies detected", "kind=\"zombie\"");
    c->m_anomalies[D2EV_ANOMALY_ETERNAL] = d2ev_metric_counter(
        "d2ev_telemetry_anomalies_total", "Charging anomalies detected", "kind=\"eternal\"");
    static const double lag_bounds[] = { 1, 5, 15, 60, 300, 900, 3600 };
    c->m_lag = d2ev_metric_histogram("d2ev_telemetry_poll_lag_seconds",
                                     "How late reads start after they were due (d2ev clock)", NULL,
                                     lag_bounds, sizeof(lag_bounds) / sizeof(double));
    c->m_in_flight =
        d2ev_metric_gauge("d2ev_telemetry_reads_in_flight", "Reads submitted, not answered", NULL);
}

struct tel_core *tel_core_create(const struct tel_core_config *cfg, const struct tel_oem_info *oems,
                                 size_t noems, const struct tel_core_ops *ops, void *opaque,
                                 uint64_t seed, struct d2ev_err *err)
{
    if (noems > MAX_OEMS) {
        d2ev_err_set(err, D2EV_ERR_LIMIT, "at most %d OEMs", MAX_OEMS);
        return NULL;
    }
    struct tel_core *c = calloc(1, sizeof(*c));
    if (!c || !(c->fc = tel_forecasts_create())) {
        free(c);
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    c->ops = ops;
    c->opaque = opaque;
    c->rng = seed ? seed : d2ev_rand_seed();
    c->noems = noems;
    for (size_t i = 0; i < noems; i++) {
        struct oem_q *q = &c->oems[i];
        q->info = oems[i];
        d2ev_strlcpy(q->name, oems[i].name, sizeof(q->name));
        q->info.name = q->name;
        oem_metrics(q);
    }
    core_metrics(c);
    tel_core_set_share(c, 1.0, d2ev_clock_mono_ms());
    return c;
}

static void free_each(struct d2ev_htab_node *n, void *arg)
{
    (void)arg;
    vehicle_free(entry(n));
}

void tel_core_destroy(struct tel_core *c)
{
    if (!c)
        return;
    d2ev_htab_each(&c->vehicles, free_each, NULL);
    d2ev_htab_free(&c->vehicles);
    for (size_t i = 0; i < c->noems; i++)
        poll_heap_free(&c->oems[i].heap);
    for (int k = 0; k < TEL_CLASS_COUNT; k++)
        d2ev_metric_set(c->m_class[k], 0);
    tel_forecasts_destroy(c->fc);
    free(c->regions);
    free(c);
}

/* ------------------------------------------------------------ inputs */

int tel_core_on_vehicle(struct tel_core *c, const struct d2ev_vehicle *rec, int32_t partition,
                        int64_t offset, int64_t now)
{
    struct tel_vehicle *v = get_or_add(c, rec->vehicle_id, partition, now);
    if (!v)
        return D2EV_ERR_NOMEM;
    if (!v->oem_vid || strcmp(v->oem_vid, rec->oem_vehicle_id) != 0) {
        char *id = strdup(rec->oem_vehicle_id);
        if (!id)
            return D2EV_ERR_NOMEM;
        free(v->oem_vid);
        v->oem_vid = id;
    }
    uint8_t oem = oem_index(c, rec->oem);
    if (oem != v->oem && oem == TEL_NO_OEM)
        d2ev_log_warn("no adapter loaded for the vehicle's OEM; not polled",
                      D2EV_LF_STR("vehicle_id", v->id), D2EV_LF_STR("oem", rec->oem));
    if (oem != v->oem)
        unqueue(c, v);
    v->oem = oem;
    v->region = intern_region(c, rec->region);
    v->battery_kwh = rec->has_battery_kwh ? (float)rec->battery_kwh : 0;
    v->max_power_kw = rec->has_max_power_kw ? (float)rec->max_power_kw : 0;
    if (rec->status == D2EV_VEHICLE_SUSPENDED)
        v->flags |= TV_SUSPENDED;
    else
        v->flags &= ~TV_SUSPENDED;
    /* a record newer than the one polling stopped under: registration acted */
    if (offset > v->rec_offset && (v->flags & TV_HAS_RECORD) && (v->flags & TV_STOPPED))
        v->flags &= ~TV_STOPPED;
    if (offset > v->rec_offset)
        v->rec_offset = offset;
    v->flags |= TV_HAS_RECORD;
    refresh(c, v, now);
    return D2EV_OK;
}

void tel_core_on_vehicle_deleted(struct tel_core *c, const char *vehicle_id)
{
    struct tel_vehicle *v = tel_core_find(c, vehicle_id);
    if (v)
        forget(c, v);
}

int tel_core_on_credentials(struct tel_core *c, const char *vehicle_id, int32_t partition,
                            int64_t offset, bool present, int64_t now)
{
    struct tel_vehicle *v = get_or_add(c, vehicle_id, partition, now);
    if (!v)
        return D2EV_ERR_NOMEM;
    if (present && offset > v->cred_offset && v->cred_offset >= 0 && (v->flags & TV_STOPPED))
        v->flags &= ~TV_STOPPED; /* new credentials: the driver linked the car again */
    if (offset > v->cred_offset)
        v->cred_offset = offset;
    if (present)
        v->flags |= TV_HAS_CREDS;
    else
        v->flags &= ~TV_HAS_CREDS;
    if (!present && !(v->flags & (TV_HAS_RECORD | TV_PARKED))) {
        forget(c, v); /* nothing else of it here: do not keep an empty entry */
        return D2EV_OK;
    }
    refresh(c, v, now);
    return D2EV_OK;
}

int tel_core_on_schedule(struct tel_core *c, const struct d2ev_schedule *s, int32_t partition,
                         int64_t now)
{
    struct tel_vehicle *v = get_or_add(c, s->vehicle_id, partition, now);
    if (!v)
        return D2EV_ERR_NOMEM;
    if (v->sched && s->version <= v->sched->version)
        return D2EV_OK; /* replayed or stale: the newest version wins */
    struct tel_sched *view = tel_sched_from(s);
    if (!view)
        return D2EV_ERR_NOMEM;
    free(v->sched);
    v->sched = view;
    refresh(c, v, now);
    return D2EV_OK;
}

void tel_core_on_schedule_deleted(struct tel_core *c, const char *vehicle_id)
{
    struct tel_vehicle *v = tel_core_find(c, vehicle_id);
    if (!v)
        return;
    free(v->sched);
    v->sched = NULL;
    if (!(v->flags & (TV_HAS_RECORD | TV_PARKED | TV_HAS_CREDS)))
        forget(c, v);
}

int tel_core_on_forecast(struct tel_core *c, const struct d2ev_forecast *f)
{
    return tel_forecasts_offer(c->fc, f);
}

int tel_core_restore_session(struct tel_core *c, const struct d2ev_session *ev, int32_t partition)
{
    struct tel_vehicle *v = get_or_add(c, ev->vehicle_id, partition, d2ev_clock_now_ms());
    if (!v)
        return D2EV_ERR_NOMEM;
    if ((v->flags & TV_HAS_SAMPLE) && v->last.t > ev->at)
        return D2EV_OK; /* what this process saw itself is newer */
    tel_session_restore(&v->sess, ev, &v->last);
    v->flags |= TV_HAS_SAMPLE;
    v->flags &= ~TV_PUBLISHED;
    return D2EV_OK;
}

/* ------------------------------------------------------------ ownership */

static bool in_parts(int32_t p, const int32_t *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (parts[i] == p)
            return true;
    }
    return false;
}

struct park_ctx {
    struct tel_core *c;
    const int32_t *parts;
    size_t n;
    int64_t now;
};

static void session_ctx(const struct tel_core *c, const struct tel_vehicle *v,
                        struct tel_session_ctx *x)
{
    *x = (struct tel_session_ctx){
        .vehicle_id = v->id,
        .region = tel_core_region(c, v),
        .battery_kwh = v->battery_kwh,
        .max_power_kw = v->max_power_kw,
        .sched = v->sched,
        .fc = c->fc,
    };
}

static void emit_session(void *arg, const struct d2ev_session *s);

static void park_one(struct d2ev_htab_node *node, void *arg)
{
    struct park_ctx *p = arg;
    struct tel_vehicle *v = entry(node);
    if (!in_parts(v->partition, p->parts, p->n) || (v->flags & TV_PARKED))
        return;
    if (v->flags & TV_PUBLISHED) {
        struct tel_session_ctx x;
        session_ctx(p->c, v, &x);
        tel_session_checkpoint(&v->sess, &x, &v->last, emit_session, p->c);
    }
    unqueue(p->c, v);
    v->flags |= TV_PARKED;
    v->flags &= ~TV_HAS_CREDS; /* the credentials view forgets them too; replay restores */
    if (v->flags & TV_IN_FLIGHT)
        p->c->in_flight_gone++;
    set_class(p->c, v, TEL_CLASS_IDLE);
}

void tel_core_park(struct tel_core *c, const int32_t *parts, size_t n)
{
    struct park_ctx p = { c, parts, n, 0 };
    d2ev_htab_each(&c->vehicles, park_one, &p);
}

static void assign_one(struct d2ev_htab_node *node, void *arg)
{
    struct park_ctx *p = arg;
    struct tel_vehicle *v = entry(node);
    if (!(v->flags & TV_PARKED))
        return;
    if (!in_parts(v->partition, p->parts, p->n)) {
        forget(p->c, v);
        return;
    }
    v->flags &= ~TV_PARKED;
    if (v->flags & TV_IN_FLIGHT)
        p->c->in_flight_gone--; /* its answer counts again */
    /* keep its place in time: resume at the poll it was due for */
    refresh(p->c, v, p->now);
}

void tel_core_assign(struct tel_core *c, const int32_t *parts, size_t n, int64_t now)
{
    struct park_ctx p = { c, parts, n, now };
    d2ev_htab_each(&c->vehicles, assign_one, &p);
}

size_t tel_core_in_flight_gone(const struct tel_core *c)
{
    return c->in_flight_gone;
}

void tel_core_set_share(struct tel_core *c, double share, int64_t mono)
{
    if (share <= 0 || share > 1)
        share = 1;
    for (size_t i = 0; i < c->noems; i++) {
        struct oem_q *q = &c->oems[i];
        double rate = q->info.rate_per_s * c->cfg.oem_budget_share * share;
        double burst = q->info.burst * c->cfg.oem_budget_share * share;
        d2ev_token_bucket_init(&q->bucket, rate > 0.01 ? rate : 0.01, burst >= 1 ? burst : 1, mono);
    }
}

static void sweep_one(struct d2ev_htab_node *node, void *arg)
{
    struct tel_vehicle *v = entry(node);
    if (!(v->flags & (TV_HAS_RECORD | TV_PARKED)))
        forget(arg, v);
}

void tel_core_set_live(struct tel_core *c, bool live, int64_t now)
{
    if (live && !c->live)
        d2ev_htab_each(&c->vehicles, sweep_one, c); /* schedules or sessions of no vehicle */
    c->live = live;
}

/* ------------------------------------------------------------ polling */

static void start_read(struct tel_core *c, struct oem_q *q, struct tel_vehicle *v, int64_t now)
{
    if (!tel_budget_take(&v->budget, &c->cfg.policy, now)) {
        enqueue(c, v, tel_budget_ready(&v->budget, &c->cfg.policy, now));
        return;
    }
    d2ev_metric_observe(c->m_lag, (double)(now - v->timer.due) / 1000.0);
    v->flags |= TV_IN_FLIGHT;
    v->flight_oem = v->oem;
    q->outstanding++;
    c->in_flight++;
    int rc = c->ops->submit(c->opaque, v, q->name, v->oem_vid, v->id);
    if (rc == D2EV_OK) {
        c->stats.submitted++;
        d2ev_metric_set(c->m_in_flight, (double)c->in_flight);
        return;
    }
    v->flags &= ~TV_IN_FLIGHT;
    q->outstanding--;
    c->in_flight--;
    c->stats.submit_failed++;
    d2ev_metric_inc(q->m_polls[OUTCOME_SUBMIT]);
    v->errors = v->errors < 250 ? v->errors + 1 : v->errors;
    set_class(c, v, TEL_CLASS_BACKOFF);
    enqueue(c, v, tel_policy_backoff(&c->cfg.policy, v->errors, 0, now, &c->rng));
}

int64_t tel_core_tick(struct tel_core *c, int64_t now, int64_t mono)
{
    int64_t wait = MAX_WAIT_MS;
    if (!c->live)
        return wait;
    for (size_t i = 0; i < c->noems; i++) {
        struct oem_q *q = &c->oems[i];
        struct poll_timer *t;
        while ((t = poll_heap_top(&q->heap))) {
            if (t->due > now) {
                int64_t w = d2ev_clock_to_real_ms(t->due - now);
                if (w < wait)
                    wait = w;
                break;
            }
            if (q->outstanding >= c->cfg.max_outstanding)
                break; /* an answer frees a slot, and wakes the loop */
            if (!d2ev_token_bucket_take(&q->bucket, mono, 1)) {
                int64_t w = d2ev_token_bucket_wait_ms(&q->bucket, mono, 1);
                if (w < wait)
                    wait = w;
                break;
            }
            poll_heap_remove(&q->heap, t);
            start_read(c, q, of_timer(t), now);
        }
    }
    return wait < 0 ? 0 : wait;
}

/* ------------------------------------------------------------ answers */

static void emit_session(void *arg, const struct d2ev_session *s)
{
    struct tel_core *c = arg;
    c->stats.sessions[s->event]++;
    d2ev_metric_inc(c->m_sessions[s->event]);
    if (s->event == D2EV_SESSION_ANOMALY) {
        c->stats.anomalies[s->anomaly]++;
        d2ev_metric_inc(c->m_anomalies[s->anomaly]);
        d2ev_log_warn(s->anomaly == D2EV_ANOMALY_ZOMBIE ? "zombie session" : "eternal session",
                      D2EV_LF_STR("vehicle_id", s->vehicle_id),
                      D2EV_LF_STR("session_id", s->session_id), D2EV_LF_STR("detail", s->detail));
    }
    if (c->ops->session(c->opaque, s) != D2EV_OK)
        d2ev_log_error("cannot publish a session event", D2EV_LF_STR("vehicle_id", s->vehicle_id));
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The normalised sample of an OK read; false when it lacks a SoC. */
static bool to_sample(const struct tel_vehicle *v, const char *oem, const struct d2ev_oem_state *st,
                      int64_t now, struct d2ev_telemetry *t, struct tel_point *p)
{
    if (!(st->fields & D2EV_OEM_F_SOC) || !isfinite(st->soc_pct))
        return false;
    memset(t, 0, sizeof(*t));
    memset(p, 0, sizeof(*p));
    d2ev_strlcpy(t->vehicle_id, v->id, sizeof(t->vehicle_id));
    d2ev_strlcpy(t->oem, oem, sizeof(t->oem));
    t->observed_at = now;
    t->reported_at =
        (st->fields & D2EV_OEM_F_REPORTED_AT) && st->reported_at_ms > 0 ? st->reported_at_ms : now;
    if (t->reported_at > now + SKEW_MS)
        t->reported_at = now; /* a car clock ahead of ours must not block newer samples */
    t->soc = clamp(st->soc_pct, 0, 100);
    int32_t cs = (st->fields & D2EV_OEM_F_CHARGING_STATE) && st->charging_state >= 0 &&
                         st->charging_state < D2EV_CHG_COUNT
                     ? st->charging_state
                     : D2EV_CHG_UNKNOWN;
    t->charging_state = (enum d2ev_charging_state)cs;
    if (cs == D2EV_CHG_DISCONNECTED)
        t->plugged_in = false;
    else if (cs != D2EV_CHG_UNKNOWN)
        t->plugged_in = true;
    else
        t->plugged_in = (st->fields & D2EV_OEM_F_PLUGGED_IN) && st->plugged_in;
    if ((st->fields & D2EV_OEM_F_POWER_KW) && isfinite(st->power_kw)) {
        t->has_power_kw = true;
        t->power_kw = clamp(st->power_kw, -400, 400);
    }
    if ((st->fields & D2EV_OEM_F_CHARGE_LIMIT) && isfinite(st->charge_limit_pct)) {
        t->has_charge_limit = true;
        t->charge_limit = clamp(st->charge_limit_pct, 0, 100);
    }
    if ((st->fields & D2EV_OEM_F_RANGE_KM) && isfinite(st->range_km)) {
        t->has_range_km = true;
        t->range_km = clamp(st->range_km, 0, 2000);
    }
    if ((st->fields & D2EV_OEM_F_BATTERY_KWH) && st->battery_kwh >= 1 && st->battery_kwh <= 300) {
        t->has_battery_kwh = true;
        t->battery_kwh = st->battery_kwh;
    }
    if ((st->fields & D2EV_OEM_F_ENERGY_ADDED) && isfinite(st->energy_added_kwh)) {
        t->has_energy_added_kwh = true;
        t->energy_added_kwh = clamp(st->energy_added_kwh, 0, 1000);
    }
    p->t = t->reported_at;
    p->soc = (float)t->soc;
    p->state = (uint8_t)t->charging_state;
    p->has =
        (uint8_t)((t->plugged_in ? TP_PLUGGED : 0) | (t->has_power_kw ? TP_POWER : 0) |
                  (t->has_energy_added_kwh ? TP_ENERGY : 0) | (t->has_charge_limit ? TP_LIMIT : 0) |
                  (t->has_battery_kwh ? TP_BATTERY : 0));
    if ((st->fields & D2EV_OEM_F_ONLINE) && !st->online)
        p->has |= TP_ASLEEP;
    p->power_kw = (float)t->power_kw;
    p->energy_kwh = (float)t->energy_added_kwh;
    p->limit = (float)t->charge_limit;
    p->battery_kwh = (float)t->battery_kwh;
    return true;
}

static void on_state(struct tel_core *c, struct oem_q *q, struct tel_vehicle *v,
                     const struct d2ev_oem_state *st, int64_t now)
{
    struct d2ev_telemetry t;
    struct tel_point p;
    if (!st || !to_sample(v, q->name, st, now, &t, &p)) {
        v->errors = v->errors < 250 ? v->errors + 1 : v->errors;
        set_class(c, v, TEL_CLASS_BACKOFF);
        enqueue(c, v, tel_policy_backoff(&c->cfg.policy, v->errors, 0, now, &c->rng));
        return;
    }
    if (p.has & TP_ASLEEP)
        v->flags |= TV_ASLEEP;
    else
        v->flags &= ~TV_ASLEEP;
    if ((v->flags & TV_HAS_SAMPLE) && p.t <= v->last.t) {
        /* newest wins: a late or repeated answer never overwrites newer state */
        c->stats.stale++;
        d2ev_metric_inc(c->m_stale);
        schedule_next(c, v, now);
        return;
    }
    if (c->ops->telemetry(c->opaque, &t) != D2EV_OK)
        d2ev_log_error("cannot publish a sample", D2EV_LF_STR("vehicle_id", v->id));
    c->stats.samples++;
    d2ev_metric_inc(c->m_published);
    struct tel_session_ctx x;
    session_ctx(c, v, &x);
    tel_session_feed(&v->sess, &c->cfg.session, &x, (v->flags & TV_HAS_SAMPLE) ? &v->last : NULL,
                     &p, emit_session, c);
    v->last = p;
    v->flags |= TV_HAS_SAMPLE | TV_PUBLISHED;
    schedule_next(c, v, now);
}

static void stop_polling(struct tel_core *c, struct oem_q *q, struct tel_vehicle *v,
                         const struct d2ev_oem_outcome *o)
{
    v->flags |= TV_STOPPED;
    c->stats.stopped++;
    d2ev_metric_inc(q->m_stopped);
    set_class(c, v, TEL_CLASS_STOPPED);
    d2ev_log_warn("permanent OEM error: polling stopped until registration updates the vehicle",
                  D2EV_LF_STR("vehicle_id", v->id), D2EV_LF_STR("oem", q->name),
                  D2EV_LF_INT("http_status", o->http_status),
                  D2EV_LF_STR("error", o->message ? o->message : ""));
}

void tel_core_on_outcome(struct tel_core *c, struct tel_vehicle *v,
                         const struct d2ev_oem_outcome *o, int64_t now)
{
    struct oem_q *fq = v->flight_oem < c->noems ? &c->oems[v->flight_oem] : NULL;
    v->flags &= ~TV_IN_FLIGHT;
    c->in_flight--;
    d2ev_metric_set(c->m_in_flight, (double)c->in_flight);
    if (fq)
        fq->outstanding--;
    uint32_t cls = o->cls < D2EV_OEM_CLASS_COUNT ? o->cls : D2EV_OEM_RETRY;
    c->stats.outcomes[cls]++;
    if (fq)
        d2ev_metric_inc(fq->m_polls[cls]);
    if (v->flags & (TV_REMOVED | TV_PARKED)) {
        c->in_flight_gone--;
        if (v->flags & TV_REMOVED)
            vehicle_free(v);
        return; /* it moved or went away: its next owner publishes */
    }
    struct oem_q *q = queue_of(c, v); /* the record may have moved it to another OEM */
    if (!q || q != fq) {
        refresh(c, v, now);
        return;
    }
    v->flags |= TV_POLLED;
    switch (cls) {
    case D2EV_OEM_OK:
        v->errors = 0;
        on_state(c, q, v, o->state, now);
        break;
    case D2EV_OEM_ASLEEP:
        v->errors = 0;
        v->flags |= TV_ASLEEP;
        schedule_next(c, v, now);
        break;
    case D2EV_OEM_PERMANENT:
        stop_polling(c, q, v, o);
        break;
    default: /* retry, rate_limited, unauthorized (the refresh was asked for) */
        if (cls == D2EV_OEM_RATE_LIMITED)
            d2ev_metric_inc(q->m_429);
        v->errors = v->errors < 250 ? v->errors + 1 : v->errors;
        set_class(c, v, TEL_CLASS_BACKOFF);
        enqueue(c, v,
                tel_budget_ready(
                    &v->budget, &c->cfg.policy,
                    tel_policy_backoff(&c->cfg.policy, v->errors,
                                       cls == D2EV_OEM_RATE_LIMITED ? o->retry_after_ms : 0, now,
                                       &c->rng)));
        break;
    }
    /* a vehicle whose inputs changed while its read was out */
    if (blocked(c, v) != TEL_CLASS_NEW)
        refresh(c, v, now);
}

/* ------------------------------------------------------------ views */

size_t tel_core_count(const struct tel_core *c)
{
    return c->vehicles.count;
}

size_t tel_core_class_count(const struct tel_core *c, enum tel_class cls)
{
    return (unsigned)cls < TEL_CLASS_COUNT ? c->class_count[cls] : 0;
}

size_t tel_core_in_flight(const struct tel_core *c)
{
    return c->in_flight;
}

const struct tel_core_stats *tel_core_stats(const struct tel_core *c)
{
    return &c->stats;
}
