/* api_query.c: the read model's queries, run by the HTTP threads (see api_model.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/util.h"

#include "api_cursor.h"
#include "api_model_internal.h"
#include "api_text.h"

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

struct fleet_walk {
    struct d2ev_api_fleet *f;
    int64_t now;
};

static void fleet_one(struct d2ev_htab_node *n, void *arg)
{
    struct fleet_walk *w = arg;
    const struct vehicle *v = D2EV_HTAB_ENTRY(n, struct vehicle, node);
    struct d2ev_api_fleet *f = w->f;
    if (!v->visible)
        return;
    f->vehicles++;
    f->by_vstatus[v->status == D2EV_VEHICLE_SUSPENDED]++;
    f->by_state[state_of(v, w->now)]++;
    if (v->has_sched) {
        f->with_schedule++;
        f->by_schedule_status[v->s.status]++;
        f->baseline_carbon_g += v->s.baseline_carbon_g;
        f->expected_carbon_g += v->s.expected_carbon_g;
        add_cost(f, &v->s);
    }
}

int d2ev_api_model_fleet(struct d2ev_api_model *m, int64_t now, struct d2ev_api_fleet *f,
                         size_t recent, struct d2ev_strbuf *alerts)
{
    memset(f, 0, sizeof(*f));
    pthread_rwlock_rdlock(&m->lock);
    struct fleet_walk walk = { f, now };
    d2ev_htab_each(&m->vehicles, fleet_one, &walk);
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
