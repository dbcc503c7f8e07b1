/*
 * report.c: the daily report from the exported files (see export_report.h).
 *
 * One pass over the day's dispatch, session and schedule files (and the
 * previous day's schedule files) fills per-vehicle counters and plan groups;
 * then the day's telemetry files name each vehicle's OEM. Telemetry files
 * are only read while some vehicle of interest has no OEM yet, using the
 * index's vehicle list per file to skip the others.
 */
#include "export_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batch.h"
#include "d2ev/clock.h"
#include "d2ev/events.h"
#include "d2ev/htab.h"
#include "d2ev/json.h"
#include "d2ev/timefmt.h"
#include "index.h"
#include "layout.h"
#include "rowio.h"
#include "stats.h"

#define MAX_CURRENCIES 8

struct vehicle {
    struct d2ev_htab_node node;
    char id[D2EV_VEHICLE_ID_MAX + 1];
    char oem[D2EV_OEM_MAX + 1];
    struct exp_strset commands, failed, alerts, zombies, eternals;
    uint64_t rate_limited;
};

/* The plans for one deadline of one vehicle: the one that counts. */
struct plan {
    struct d2ev_htab_node node;
    char key[D2EV_VEHICLE_ID_MAX + 24];
    int rank; /* 0: optimal or feasible, 1: any other status with energy */
    int64_t version;
    double energy, shifted;
    double expected_cost, baseline_cost, expected_carbon, baseline_carbon;
    char currency[D2EV_CURRENCY_MAX + 1];
};

struct money {
    char currency[D2EV_CURRENCY_MAX + 1];
    double a, b; /* sessions: cost; plans: expected, baseline */
};

struct report {
    int64_t day;
    struct d2ev_htab vehicles;
    struct d2ev_htab plans;
    size_t unresolved; /* vehicles without an OEM */
    uint64_t rows, unreadable, files, tombstones;
    uint64_t rows_by_topic[EXP_NTOPICS];
    /* sessions */
    struct exp_strset sessions;
    uint64_t plug_ins, ended;
    double energy, charging_s, idle_s, carbon;
    struct money session_cost[MAX_CURRENCIES];
    size_t nsession_cost;
    /* the row being read */
    int topic;
    bool schedules_only; /* reading the previous day */
};

/* ------------------------------------------------------------ helpers */

static struct vehicle *vehicle_get(struct report *r, const char *id)
{
    size_t len = strlen(id);
    struct d2ev_htab_node *n = d2ev_htab_find(&r->vehicles, id, len);
    if (n)
        return D2EV_HTAB_ENTRY(n, struct vehicle, node);
    struct vehicle *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    snprintf(v->id, sizeof(v->id), "%s", id);
    v->node.key = v->id;
    v->node.klen = len;
    if (d2ev_htab_insert(&r->vehicles, &v->node) != 0) {
        free(v);
        return NULL;
    }
    r->unresolved++;
    return v;
}

static struct money *money_get(struct money *m, size_t *n, const char *currency)
{
    for (size_t i = 0; i < *n; i++) {
        if (!strcmp(m[i].currency, currency))
            return &m[i];
    }
    if (*n == MAX_CURRENCIES)
        return NULL;
    memset(&m[*n], 0, sizeof(m[*n]));
    snprintf(m[*n].currency, sizeof(m[*n].currency), "%s", currency);
    return &m[(*n)++];
}

/* Energy of s planned later than charging at once from created_at would
 * deliver it, at the plan's own charge rate. */
static double shifted_energy(const struct d2ev_schedule *s, double total)
{
    double rate = 0; /* kWh per ms */
    for (size_t i = 0; i < s->nwindows; i++) {
        double len = (double)(s->windows[i].end - s->windows[i].start);
        if (len > 0 && s->windows[i].energy_kwh / len > rate)
            rate = s->windows[i].energy_kwh / len;
    }
    if (rate <= 0)
        return 0;
    double asap_end = (double)s->created_at + total / rate;
    double early = 0;
    for (size_t i = 0; i < s->nwindows; i++) {
        double a = (double)s->windows[i].start, b = (double)s->windows[i].end;
        double lo = a > (double)s->created_at ? a : (double)s->created_at;
        double hi = b < asap_end ? b : asap_end;
        if (hi > lo && b > a)
            early += s->windows[i].energy_kwh * (hi - lo) / (b - a);
    }
    return total - early > 0 ? total - early : 0;
}

/* ------------------------------------------------------------ rows */

static int on_dispatch(struct report *r, const char *line, size_t len)
{
    struct d2ev_dispatch d;
    if (d2ev_dispatch_decode(line, len, &d, NULL) != D2EV_OK)
        return ++r->unreadable, D2EV_OK;
    struct vehicle *v = vehicle_get(r, d.vehicle_id);
    if (!v)
        return D2EV_ERR_NOMEM;
    size_t clen = strlen(d.command_id);
    int rc = exp_strset_add(&v->commands, d.command_id, clen);
    if (!rc && d.result == D2EV_DISPATCH_FAILED)
        rc = exp_strset_add(&v->failed, d.command_id, clen);
    if (!rc && d.result == D2EV_DISPATCH_ALERT)
        rc = exp_strset_add(&v->alerts, d.command_id, clen);
    if (!strcmp(d.error_class, "rate_limited"))
        v->rate_limited++;
    return rc;
}

static int on_session(struct report *r, const char *line, size_t len)
{
    struct d2ev_session s;
    if (d2ev_session_decode(line, len, &s, NULL) != D2EV_OK)
        return ++r->unreadable, D2EV_OK;
    int rc = exp_strset_add(&r->sessions, s.session_id, strlen(s.session_id));
    if (s.event == D2EV_SESSION_PLUG_IN)
        r->plug_ins++;
    if (s.event == D2EV_SESSION_UNPLUG) {
        r->ended++;
        r->energy += s.energy_kwh;
        r->charging_s += s.charging_s;
        r->idle_s += s.idle_s;
        r->carbon += s.carbon_g;
        struct money *m = money_get(r->session_cost, &r->nsession_cost, s.currency);
        if (m)
            m->a += s.cost;
    }
    if (s.event == D2EV_SESSION_ANOMALY) {
        struct vehicle *v = vehicle_get(r, s.vehicle_id);
        if (!v)
            return D2EV_ERR_NOMEM;
        struct exp_strset *set = s.anomaly == D2EV_ANOMALY_ZOMBIE ? &v->zombies : &v->eternals;
        rc = rc ? rc : exp_strset_add(set, s.session_id, strlen(s.session_id));
    }
    return rc;
}

static int on_schedule(struct report *r, const char *line, size_t len)
{
    struct d2ev_schedule s;
    if (d2ev_schedule_decode(line, len, &s, NULL) != D2EV_OK) {
        r->unreadable += !r->schedules_only;
        return D2EV_OK;
    }
    double energy = 0;
    for (size_t i = 0; i < s.nwindows; i++)
        energy += s.windows[i].energy_kwh;
    int rc = D2EV_OK;
    if (energy > 0 && exp_day_of(s.ready_by) == r->day) {
        int rank = s.status == D2EV_SCHED_OPTIMAL || s.status == D2EV_SCHED_FEASIBLE ? 0 : 1;
        char key[sizeof(((struct plan *)0)->key)];
        snprintf(key, sizeof(key), "%s|%lld", s.vehicle_id, (long long)s.ready_by);
        struct d2ev_htab_node *n = d2ev_htab_find(&r->plans, key, strlen(key));
        struct plan *p = n ? D2EV_HTAB_ENTRY(n, struct plan, node) : NULL;
        bool better = !p || rank < p->rank || (rank == p->rank && s.version < p->version);
        if (!p && (p = calloc(1, sizeof(*p)))) {
            snprintf(p->key, sizeof(p->key), "%s", key);
            p->node.key = p->key;
            p->node.klen = strlen(key);
            if (d2ev_htab_insert(&r->plans, &p->node) != 0) {
                free(p);
                p = NULL;
            }
        }
        if (!p)
            rc = D2EV_ERR_NOMEM;
        else if (better) {
            p->rank = rank;
            p->version = s.version;
            p->energy = energy;
            p->shifted = shifted_energy(&s, energy);
            p->expected_cost = s.expected_cost;
            p->baseline_cost = s.baseline_cost;
            p->expected_carbon = s.expected_carbon_g;
            p->baseline_carbon = s.baseline_carbon_g;
            snprintf(p->currency, sizeof(p->currency), "%s", s.currency);
        }
    }
    d2ev_schedule_clear(&s);
    return rc;
}

static int on_telemetry(struct report *r, const char *line, size_t len)
{
    json_error_t je;
    json_t *o = json_loadb(line, len, 0, &je);
    const char *vid = json_string_value(json_object_get(o, "vehicle_id"));
    const char *oem = json_string_value(json_object_get(o, "oem"));
    struct d2ev_htab_node *n = vid ? d2ev_htab_find(&r->vehicles, vid, strlen(vid)) : NULL;
    if (n && oem) {
        struct vehicle *v = D2EV_HTAB_ENTRY(n, struct vehicle, node);
        if (!v->oem[0] && r->unresolved)
            r->unresolved--;
        snprintf(v->oem, sizeof(v->oem), "%s", oem);
    }
    json_decref(o);
    return D2EV_OK;
}

static int on_line(void *arg, const char *line, size_t len)
{
    struct report *r = arg;
    if (r->schedules_only)
        return on_schedule(r, line, len);
    r->rows++;
    r->rows_by_topic[r->topic]++;
    if (r->topic == EXP_TOPIC_TELEMETRY)
        return on_telemetry(r, line, len);
    if (memmem(line, len, "\"type\":\"tombstone\"", 18)) {
        r->tombstones++;
        return D2EV_OK;
    }
    switch (r->topic) {
    case EXP_TOPIC_DISPATCH:
        return on_dispatch(r, line, len);
    case EXP_TOPIC_SESSIONS:
        return on_session(r, line, len);
    default:
        return on_schedule(r, line, len);
    }
}

/* ------------------------------------------------------------ reading */

static int read_file(struct report *r, const char *dir, const char *name, int topic,
                     struct d2ev_err *err)
{
    char path[EXP_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    r->topic = topic;
    int rc = exp_rows_read(path, on_line, r, NULL, err);
    if (rc == D2EV_ERR_NOMEM)
        d2ev_err_set(err, rc, "out of memory reading %s", path);
    return rc;
}

/* The index entry of file name, or NULL. */
static json_t *index_entry(json_t *index, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(index, "files"), i, e)
    {
        const char *f = json_string_value(json_object_get(e, "file"));
        if (f && !strcmp(f, name))
            return e;
    }
    return NULL;
}

/* Whether an index entry's vehicles include one without an OEM yet. */
static bool file_needed(struct report *r, json_t *index, const char *name)
{
    json_t *e = index_entry(index, name);
    if (!e)
        return true; /* not in the index: read it */
    if (!r->unresolved)
        return false;
    size_t j;
    json_t *v;
    json_array_foreach(json_object_get(e, "vehicles"), j, v)
    {
        const char *id = json_string_value(v);
        struct d2ev_htab_node *n = id ? d2ev_htab_find(&r->vehicles, id, strlen(id)) : NULL;
        if (n && !D2EV_HTAB_ENTRY(n, struct vehicle, node)->oem[0])
            return true;
    }
    return false;
}

/* Count the rows of a telemetry file that is not read, from its index entry. */
static void count_from_index(struct report *r, json_t *index, const char *name)
{
    json_int_t rows = json_integer_value(json_object_get(index_entry(index, name), "rows"));
    r->rows += (uint64_t)rows;
    r->rows_by_topic[EXP_TOPIC_TELEMETRY] += (uint64_t)rows;
}

static int read_day(struct report *r, const char *root, struct d2ev_err *err)
{
    char dir[EXP_PATH_MAX], prev[EXP_PATH_MAX];
    struct exp_listing l, lp;
    int rc = exp_day_dir(dir, sizeof(dir), root, r->day, err);
    if (rc || (rc = exp_day_dir(prev, sizeof(prev), root, r->day - 1, err)) ||
        (rc = exp_listing_read(&l, dir, false, err)))
        return rc;
    if (l.n == 0) {
        char date[11];
        exp_listing_clear(&l);
        return d2ev_err_set(err, D2EV_ERR_NOT_FOUND, "no exported data for %s under %s",
                            exp_date_format(r->day, date), root);
    }
    r->files = l.n;
    /* the previous day's schedules: plans made the evening before */
    if ((rc = exp_listing_read(&lp, prev, false, err)) == D2EV_OK) {
        r->schedules_only = true;
        for (size_t i = 0; rc == D2EV_OK && i < lp.n; i++) {
            if (!strcmp(lp.v[i].id.topic, exp_topic_names[EXP_TOPIC_SCHEDULES]))
                rc = read_file(r, prev, lp.v[i].name, EXP_TOPIC_SCHEDULES, err);
        }
        r->schedules_only = false;
        exp_listing_clear(&lp);
    }
    for (size_t i = 0; rc == D2EV_OK && i < l.n; i++) {
        int t = exp_topic_index(l.v[i].id.topic);
        if (t >= 0 && t != EXP_TOPIC_TELEMETRY)
            rc = read_file(r, dir, l.v[i].name, t, err);
    }
    json_t *index = exp_index_load(dir, NULL);
    for (size_t i = 0; rc == D2EV_OK && i < l.n; i++) {
        if (exp_topic_index(l.v[i].id.topic) != EXP_TOPIC_TELEMETRY)
            continue;
        if (file_needed(r, index, l.v[i].name))
            rc = read_file(r, dir, l.v[i].name, EXP_TOPIC_TELEMETRY, err);
        else /* rows of a file skipped for the OEM look-up still count */
            count_from_index(r, index, l.v[i].name);
    }
    json_decref(index);
    exp_listing_clear(&l);
    return rc;
}

/* ------------------------------------------------------------ output */

struct issues {
    char name[D2EV_VEHICLE_ID_MAX + 1]; /* the vehicle id, or the OEM */
    char oem[D2EV_OEM_MAX + 1];
    uint64_t vehicles, commands, failed, alerts, zombies, eternals, rate_limited;
};

static uint64_t not_obeyed(const struct issues *i)
{
    return i->failed + i->alerts;
}

static bool has_issues(const struct issues *i)
{
    return not_obeyed(i) || i->zombies || i->eternals || i->rate_limited;
}

/* Ranking: commands that did not take effect, then anomalies, then rate-limit
 * hits, most first; then by name. */
static int cmp_issues(const void *pa, const void *pb)
{
    const struct issues *a = pa, *b = pb;
    uint64_t x[3] = { not_obeyed(a), a->zombies + a->eternals, a->rate_limited };
    uint64_t y[3] = { not_obeyed(b), b->zombies + b->eternals, b->rate_limited };
    for (int k = 0; k < 3; k++) {
        if (x[k] != y[k])
            return x[k] > y[k] ? -1 : 1;
    }
    return strcmp(a->name, b->name);
}

static json_t *issues_json(const struct issues *i, bool oem)
{
    json_t *o = json_object();
    if (oem) {
        json_object_set_new(o, "oem", json_string(i->name));
        json_object_set_new(o, "vehicles_with_issues", json_integer((json_int_t)i->vehicles));
    } else {
        json_object_set_new(o, "vehicle_id", json_string(i->name));
        json_object_set_new(o, "oem", json_string(i->oem));
    }
    json_object_set_new(o, "commands", json_integer((json_int_t)i->commands));
    json_object_set_new(o, "failed_commands", json_integer((json_int_t)i->failed));
    json_object_set_new(o, "alerts", json_integer((json_int_t)i->alerts));
    json_object_set_new(o, "zombie_sessions", json_integer((json_int_t)i->zombies));
    json_object_set_new(o, "eternal_sessions", json_integer((json_int_t)i->eternals));
    json_object_set_new(o, "rate_limit_hits", json_integer((json_int_t)i->rate_limited));
    if (oem)
        json_object_set_new(
            o, "not_obeyed_rate",
            json_real(i->commands ? (double)not_obeyed(i) / (double)i->commands : 0.0));
    return o;
}

struct collect {
    struct issues *v;
    size_t n;
};

static void collect_vehicle(struct d2ev_htab_node *n, void *arg)
{
    struct collect *c = arg;
    struct vehicle *v = D2EV_HTAB_ENTRY(n, struct vehicle, node);
    struct issues *i = &c->v[c->n++];
    memset(i, 0, sizeof(*i));
    snprintf(i->name, sizeof(i->name), "%s", v->id);
    snprintf(i->oem, sizeof(i->oem), "%s", v->oem[0] ? v->oem : "unknown");
    i->vehicles = 1;
    i->commands = exp_strset_count(&v->commands);
    i->failed = exp_strset_count(&v->failed);
    i->alerts = exp_strset_count(&v->alerts);
    i->zombies = exp_strset_count(&v->zombies);
    i->eternals = exp_strset_count(&v->eternals);
    i->rate_limited = v->rate_limited;
}

/* "vehicles" and "oems": the ranked arrays. */
static int rank(struct report *r, json_t *out)
{
    size_t n = r->vehicles.count;
    struct collect c = { calloc(n + 1, sizeof(struct issues)), 0 };
    struct issues *oems = calloc(n + 1, sizeof(struct issues));
    json_t *vehicles = json_array(), *by_oem = json_array();
    if (!c.v || !oems || !vehicles || !by_oem) {
        free(c.v);
        free(oems);
        json_decref(vehicles);
        json_decref(by_oem);
        return D2EV_ERR_NOMEM;
    }
    d2ev_htab_each(&r->vehicles, collect_vehicle, &c);
    size_t noem = 0;
    for (size_t i = 0; i < c.n; i++) {
        struct issues *v = &c.v[i], *o = NULL;
        for (size_t k = 0; k < noem && !o; k++)
            o = strcmp(oems[k].name, v->oem) ? NULL : &oems[k];
        if (!o) {
            o = &oems[noem++];
            snprintf(o->name, sizeof(o->name), "%s", v->oem);
        }
        o->vehicles += has_issues(v);
        o->commands += v->commands;
        o->failed += v->failed;
        o->alerts += v->alerts;
        o->zombies += v->zombies;
        o->eternals += v->eternals;
        o->rate_limited += v->rate_limited;
    }
    qsort(c.v, c.n, sizeof(*c.v), cmp_issues);
    qsort(oems, noem, sizeof(*oems), cmp_issues);
    for (size_t i = 0; i < c.n; i++) {
        if (has_issues(&c.v[i]))
            json_array_append_new(vehicles, issues_json(&c.v[i], false));
    }
    for (size_t i = 0; i < noem; i++)
        json_array_append_new(by_oem, issues_json(&oems[i], true));
    json_object_set_new(out, "vehicles", vehicles);
    json_object_set_new(out, "oems", by_oem);
    free(c.v);
    free(oems);
    return D2EV_OK;
}

static json_t *sessions_json(const struct report *r)
{
    json_t *cost = json_array();
    for (size_t i = 0; i < r->nsession_cost; i++) {
        if (r->session_cost[i].currency[0])
            json_array_append_new(cost,
                                  json_pack("{s:s, s:f}", "currency", r->session_cost[i].currency,
                                            "amount", r->session_cost[i].a));
    }
    return json_pack("{s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:o}", "sessions",
                     (json_int_t)exp_strset_count(&r->sessions), "plug_ins",
                     (json_int_t)r->plug_ins, "ended", (json_int_t)r->ended, "energy_kwh",
                     r->energy, "charging_h", r->charging_s / 3600.0, "idle_h", r->idle_s / 3600.0,
                     "carbon_g", r->carbon, "cost", cost);
}

struct plan_sum {
    uint64_t plans;
    double energy, shifted, expected_carbon, baseline_carbon;
    struct money cost[MAX_CURRENCIES];
    size_t ncost;
};

static void sum_plan(struct d2ev_htab_node *n, void *arg)
{
    struct plan_sum *s = arg;
    struct plan *p = D2EV_HTAB_ENTRY(n, struct plan, node);
    s->plans++;
    s->energy += p->energy;
    s->shifted += p->shifted;
    s->expected_carbon += p->expected_carbon;
    s->baseline_carbon += p->baseline_carbon;
    struct money *m = money_get(s->cost, &s->ncost, p->currency);
    if (m) {
        m->a += p->expected_cost;
        m->b += p->baseline_cost;
    }
}

static json_t *plans_json(struct report *r)
{
    struct plan_sum s;
    memset(&s, 0, sizeof(s));
    d2ev_htab_each(&r->plans, sum_plan, &s);
    json_t *cost = json_array();
    for (size_t i = 0; i < s.ncost; i++) {
        if (s.cost[i].currency[0])
            json_array_append_new(cost,
                                  json_pack("{s:s, s:f, s:f, s:f}", "currency", s.cost[i].currency,
                                            "expected", s.cost[i].a, "baseline", s.cost[i].b,
                                            "saved", s.cost[i].b - s.cost[i].a));
    }
    return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:o}", "plans", (json_int_t)s.plans,
                     "energy_kwh", s.energy, "energy_shifted_kwh", s.shifted, "expected_carbon_g",
                     s.expected_carbon, "baseline_carbon_g", s.baseline_carbon, "carbon_saved_g",
                     s.baseline_carbon - s.expected_carbon, "cost", cost);
}

static json_t *source_json(const struct report *r)
{
    json_t *by_topic = json_object();
    for (int t = 0; t < EXP_NTOPICS; t++)
        json_object_set_new(by_topic, exp_topic_names[t],
                            json_integer((json_int_t)r->rows_by_topic[t]));
    return json_pack("{s:I, s:I, s:o, s:I, s:I}", "files", (json_int_t)r->files, "rows",
                     (json_int_t)r->rows, "rows_by_topic", by_topic, "tombstones",
                     (json_int_t)r->tombstones, "unreadable_rows", (json_int_t)r->unreadable);
}

static void free_vehicle(struct d2ev_htab_node *n, void *arg)
{
    (void)arg;
    struct vehicle *v = D2EV_HTAB_ENTRY(n, struct vehicle, node);
    exp_strset_clear(&v->commands);
    exp_strset_clear(&v->failed);
    exp_strset_clear(&v->alerts);
    exp_strset_clear(&v->zombies);
    exp_strset_clear(&v->eternals);
    free(v);
}

static void free_plan(struct d2ev_htab_node *n, void *arg)
{
    (void)arg;
    free(D2EV_HTAB_ENTRY(n, struct plan, node));
}

json_t *d2ev_export_report_build(const char *export_dir, const char *date, struct d2ev_err *err)
{
    struct report r;
    memset(&r, 0, sizeof(r));
    if (exp_date_parse(date, &r.day, err) != D2EV_OK)
        return NULL;
    json_t *out = NULL;
    int rc = read_day(&r, export_dir, err);
    if (rc == D2EV_OK) {
        out = json_object();
        json_object_set_new(out, "date", json_string(date));
        d2ev_json_set_time(out, "generated_at", d2ev_clock_now_ms());
        json_object_set_new(out, "source", source_json(&r));
        if (rank(&r, out) != D2EV_OK) {
            json_decref(out);
            out = NULL;
            d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory building the report");
        } else {
            json_object_set_new(out, "sessions", sessions_json(&r));
            json_object_set_new(out, "schedules", plans_json(&r));
        }
    }
    d2ev_htab_each(&r.vehicles, free_vehicle, NULL);
    d2ev_htab_free(&r.vehicles);
    d2ev_htab_each(&r.plans, free_plan, NULL);
    d2ev_htab_free(&r.plans);
    exp_strset_clear(&r.sessions);
    return out;
}

/* mtime of dir/name, or false when it does not exist. */
static bool mtime_of(const char *dir, const char *name, struct timespec *t)
{
    char path[EXP_PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (stat(path, &st) != 0)
        return false;
    *t = st.st_mtim;
    return true;
}

json_t *d2ev_export_report_get(const char *export_dir, const char *date, struct d2ev_err *err)
{
    int64_t day;
    char dir[EXP_PATH_MAX];
    if (exp_date_parse(date, &day, err) || exp_day_dir(dir, sizeof(dir), export_dir, day, err))
        return NULL;
    struct timespec rt, it;
    if (mtime_of(dir, EXP_REPORT_NAME, &rt) &&
        (!mtime_of(dir, EXP_INDEX_NAME, &it) || rt.tv_sec > it.tv_sec ||
         (rt.tv_sec == it.tv_sec && rt.tv_nsec >= it.tv_nsec))) {
        char path[EXP_PATH_MAX];
        json_error_t je;
        snprintf(path, sizeof(path), "%s/" EXP_REPORT_NAME, dir);
        json_t *cached = json_load_file(path, 0, &je);
        if (json_is_object(cached))
            return cached;
        json_decref(cached);
    }
    return d2ev_export_report_build(export_dir, date, err);
}

int d2ev_export_report_write(const char *export_dir, const char *date, json_t **out,
                             struct d2ev_err *err)
{
    int64_t day;
    char dir[EXP_PATH_MAX];
    if (out)
        *out = NULL;
    if (exp_date_parse(date, &day, err) || exp_day_dir(dir, sizeof(dir), export_dir, day, err))
        return err ? err->code : D2EV_ERR_INVALID;
    json_t *rep = d2ev_export_report_build(export_dir, date, err);
    if (!rep)
        return err ? err->code : D2EV_ERR_IO;
    char *text = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    int rc = text ? D2EV_OK : d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    int lock = rc ? -1 : exp_dir_lock(dir, err); /* writers' temp files live under the lock */
    if (!rc && lock < 0)
        rc = err ? err->code : D2EV_ERR_IO;
    if (!rc) {
        size_t len = strlen(text);
        text[len] = '\n';
        rc = exp_write_atomic(dir, EXP_REPORT_NAME, text, len + 1, err);
        text[len] = '\0';
    }
    exp_dir_unlock(lock);
    free(text);
    if (rc == D2EV_OK && out)
        *out = rep;
    else
        json_decref(rep);
    return rc;
}
