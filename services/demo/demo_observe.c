/* demo_observe.c: watch the night and sum it up (see demo.h). */
#include "demo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/httpc.h"
#include "d2ev/timefmt.h"
#include "d2ev/util.h"

/* GET from the ops API with the read token; parsed JSON or NULL. */
static json_t *api_get(struct demo_platform *p, const char *path)
{
    char url[256], base[64], auth[128];
    demo_url(p, DEMO_API, false, base);
    snprintf(url, sizeof(url), "%s%s", base, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", p->api_read_token);
    const char *hdr[] = { auth, NULL };
    char *body = NULL;
    long st = d2ev_httpc_request("GET", url, hdr, NULL, 0, 5000, &body, NULL);
    json_t *j = st == 200 && body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return j;
}

/* Sum the samples of a Prometheus counter family whose labels contain `want`
 * (NULL = all). */
static double metric_sum(const char *text, const char *name, const char *want)
{
    double sum = 0;
    size_t nlen = strlen(name);
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > nlen && !strncmp(line, name, nlen) && (line[nlen] == '{' || line[nlen] == ' ')) {
            char buf[512];
            snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1),
                     line);
            const char *sp = strrchr(buf, ' ');
            if (sp && (!want || strstr(buf, want)))
                sum += strtod(sp + 1, NULL);
        }
        line = end ? end + 1 : NULL;
    }
    return sum;
}

static const char *str_or_empty(const json_t *v)
{
    const char *s = json_string_value(v);
    return s ? s : "";
}

static void read_plan(const json_t *j, struct demo_plan *out)
{
    memset(out, 0, sizeof(*out));
    out->present = true;
    d2ev_strlcpy(out->status, str_or_empty(json_object_get(j, "status")), sizeof(out->status));
    d2ev_time_parse(json_string_value(json_object_get(j, "created_at")), &out->created_at, NULL);
    d2ev_time_parse(json_string_value(json_object_get(j, "ready_by")), &out->ready_by, NULL);
    out->target_soc = json_number_value(json_object_get(j, "target_soc"));
    out->soc_at_plan = json_number_value(json_object_get(j, "soc_at_plan"));
    out->expected_soc = json_number_value(json_object_get(j, "expected_soc"));
    out->expected_cost = json_number_value(json_object_get(j, "expected_cost"));
    out->baseline_cost = json_number_value(json_object_get(j, "baseline_cost"));
    out->expected_carbon_g = json_number_value(json_object_get(j, "expected_carbon_g"));
    out->baseline_carbon_g = json_number_value(json_object_get(j, "baseline_carbon_g"));
    d2ev_strlcpy(out->currency, str_or_empty(json_object_get(j, "currency")),
                 sizeof(out->currency));
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(j, "windows"), i, w)
    {
        if (out->nwindows == DEMO_MAX_WINDOWS)
            break;
        struct d2ev_window *x = &out->windows[out->nwindows++];
        d2ev_time_parse(json_string_value(json_object_get(w, "start")), &x->start, NULL);
        d2ev_time_parse(json_string_value(json_object_get(w, "end")), &x->end, NULL);
        x->energy_kwh = json_number_value(json_object_get(w, "energy_kwh"));
    }
}

/* Keep the night's first and last plan of a car (those for its ready-by). */
static void track_plan(struct demo_platform *p, struct demo_car *c)
{
    char path[160];
    snprintf(path, sizeof(path), "/v1/vehicles/%s/schedule", c->vehicle_id);
    json_t *j = api_get(p, path);
    if (!j)
        return;
    struct demo_plan plan;
    read_plan(j, &plan);
    json_decref(j);
    /* the night's plans aim at its ready-by (±1 min for rounding) */
    if (llabs(plan.ready_by - c->ready_by_ms) > 60000 || !strcmp(plan.status, "not_plugged"))
        return;
    if (!c->first.present)
        c->first = plan;
    if (plan.created_at >= c->last.created_at)
        c->last = plan;
    bool flagged = !strcmp(plan.status, "target_unreachable");
    if (flagged && !c->flagged_now)
        c->unreachable_at = plan.created_at;
    c->flagged_now = flagged;
    c->unreachable |= flagged;
}

/* The true SoC once the ready-by time has come. */
static void check_ready_by(struct demo_platform *p, struct demo_car *c)
{
    char url[256], base[64], *body = NULL;
    demo_url(p, DEMO_OEMSIM, false, base);
    snprintf(url, sizeof(url), "%s/_sim/vehicles/%s", base, c->sim_id);
    if (d2ev_httpc_request("GET", url, NULL, NULL, 0, 5000, &body, NULL) == 200 && body) {
        json_t *j = json_loads(body, 0, NULL);
        if (j) {
            c->checked = true;
            c->soc_at_ready_by = json_number_value(json_object_get(j, "soc"));
            c->plugged_at_ready_by = json_is_true(json_object_get(j, "plugged"));
            json_decref(j);
        }
    }
    free(body);
}

/* What telemetry measured for the car's sessions of the night. */
static void read_sessions(struct demo_platform *p, struct demo_car *c, int64_t from)
{
    char path[200];
    snprintf(path, sizeof(path), "/v1/vehicles/%s/sessions?limit=20", c->vehicle_id);
    json_t *j = api_get(p, path);
    if (!j)
        return;
    /* newest record of each session id, started after `from` */
    json_t *seen = json_object();
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(j, "items"), i, s)
    {
        const char *sid = json_string_value(json_object_get(s, "session_id"));
        int64_t started = 0;
        d2ev_time_parse(json_string_value(json_object_get(s, "started_at")), &started, NULL);
        if (!sid || started < from || json_object_get(seen, sid))
            continue;
        json_object_set_new(seen, sid, json_true());
        c->session_cost += json_number_value(json_object_get(s, "cost"));
        c->session_energy_kwh += json_number_value(json_object_get(s, "energy_kwh"));
        c->session_carbon_g += json_number_value(json_object_get(s, "carbon_g"));
    }
    json_decref(seen);
    json_decref(j);
}

int demo_observe(struct demo_platform *p, struct demo_fleet *f, struct demo_status *st,
                 struct d2ev_err *err)
{
    memset(st, 0, sizeof(*st));
    st->sim_now = d2ev_clock_now_ms();
    json_t *sum = api_get(p, "/v1/fleet/summary");
    if (sum) {
        json_t *by = json_object_get(sum, "by_state");
        st->plugged = (int)json_integer_value(json_object_get(by, "plugged"));
        st->charging = (int)json_integer_value(json_object_get(by, "charging"));
        st->paused = (int)json_integer_value(json_object_get(by, "paused"));
        st->unplugged = (int)json_integer_value(json_object_get(by, "unplugged"));
        json_decref(sum);
    }
    char url[128], base[64], *metrics = NULL;
    demo_url(p, DEMO_DISPATCH, true, base);
    snprintf(url, sizeof(url), "%s/metrics", base);
    if (d2ev_httpc_request("GET", url, NULL, NULL, 0, 5000, &metrics, NULL) == 200 && metrics) {
        st->commands_sent = metric_sum(metrics, "d2ev_dispatch_commands_total", "result=\"sent\"");
        st->commands_confirmed = metric_sum(metrics, "d2ev_dispatch_confirmations_total", NULL);
        st->alerts = metric_sum(metrics, "d2ev_dispatch_alerts_total", NULL);
    }
    free(metrics);
    for (size_t i = 0; i < f->n; i++) {
        struct demo_car *c = &f->cars[i];
        if (!c->linked || c->deregistered)
            continue;
        if (st->sim_now < c->ready_by_ms)
            track_plan(p, c);
        else if (!c->checked)
            check_ready_by(p, c);
        if (c->checked && c->plugged_at_ready_by && !c->out_of_hands) {
            st->ready_checked++;
            st->ready_met += c->soc_at_ready_by >= c->target_soc - 1.0;
        }
    }
    (void)err;
    return D2EV_OK;
}

void demo_status_line(const struct demo_status *st, char *out, size_t size)
{
    char t[D2EV_TIME_STR_MAX];
    d2ev_time_format(st->sim_now, t);
    t[16] = '\0'; /* minutes are enough */
    snprintf(out, size,
             "%s  plugged %3d  charging %3d  paused %3d  away %3d | commands %4.0f sent %4.0f "
             "confirmed | alerts %2.0f | ready-by %d/%d at target",
             t + 5, st->plugged, st->charging, st->paused, st->unplugged, st->commands_sent,
             st->commands_confirmed, st->alerts, st->ready_met, st->ready_checked);
}

/* Energy of the plan outside the hours charging from plug-in would have
 * used (at the car's full power). */
static double shifted(const struct demo_plan *plan, double power_kw)
{
    double total = 0;
    for (size_t i = 0; i < plan->nwindows; i++)
        total += plan->windows[i].energy_kwh;
    if (power_kw <= 0 || total <= 0)
        return 0;
    int64_t base_end = plan->created_at + (int64_t)(total / power_kw * 3600000.0);
    double out = 0;
    for (size_t i = 0; i < plan->nwindows; i++) {
        const struct d2ev_window *w = &plan->windows[i];
        int64_t len = w->end - w->start;
        if (len <= 0)
            continue;
        int64_t inside_end = w->end < base_end ? w->end : base_end;
        int64_t inside = inside_end > w->start ? inside_end - w->start : 0;
        out += w->energy_kwh * (double)(len - inside) / (double)len;
    }
    return out;
}

void demo_summarize(const struct demo_fleet *f, struct demo_summary *s)
{
    memset(s, 0, sizeof(*s));
    s->cars = (int)f->n;
    for (size_t i = 0; i < f->n; i++) {
        const struct demo_car *c = &f->cars[i];
        s->linked += c->linked;
        if (!c->linked || c->deregistered)
            continue;
        if (c->checked && c->plugged_at_ready_by && !c->out_of_hands) {
            s->checked++;
            bool met = c->soc_at_ready_by >= c->target_soc - 1.0;
            s->met += met;
            if (c->unreachable)
                s->unreachable++;
            else if (!met)
                s->missed_feasible++;
        }
        if (c->first.present) {
            /* the plan made at plug-in: later re-plans only cover what is left */
            for (size_t w = 0; w < c->first.nwindows; w++)
                s->energy_kwh += c->first.windows[w].energy_kwh;
            s->shifted_kwh += shifted(&c->first, c->max_power_kw);
            s->baseline_cost += c->first.baseline_cost;
            s->baseline_carbon_g += c->first.baseline_carbon_g;
            if (!s->currency[0])
                d2ev_strlcpy(s->currency, c->first.currency, sizeof(s->currency));
        }
        s->cost += c->session_cost;
        s->carbon_g += c->session_carbon_g;
    }
}

void demo_summary_print(FILE *out, const struct demo_summary *s)
{
    fprintf(out, "\n== The night in numbers ==\n");
    fprintf(out, "cars linked               %d of %d\n", s->linked, s->cars);
    fprintf(out, "plugged in at ready-by    %d\n", s->checked);
    fprintf(out, "  at their target         %d\n", s->met);
    fprintf(out,
            "  flagged unreachable     %d (told why; charged at once, or to the car's own limit)\n",
            s->unreachable);
    fprintf(out, "  missed a feasible target %d\n", s->missed_feasible);
    fprintf(out,
            "energy planned            %.1f kWh, of which %.1f kWh shifted off the "
            "charge-at-plug-in hours\n",
            s->energy_kwh, s->shifted_kwh);
    if (s->baseline_cost > 0) {
        double pct = 100.0 * (s->baseline_cost - s->cost) / s->baseline_cost;
        fprintf(out, "cost                      %.2f %s measured vs %.2f baseline (%.0f %% %s)\n",
                s->cost, s->currency, s->baseline_cost, fabs(pct), pct >= 0 ? "saved" : "more");
    }
    if (s->baseline_carbon_g > 0) {
        double pct = 100.0 * (s->baseline_carbon_g - s->carbon_g) / s->baseline_carbon_g;
        fprintf(out, "carbon                    %.1f kg vs %.1f kg baseline (%.0f %% %s)\n",
                s->carbon_g / 1000.0, s->baseline_carbon_g / 1000.0, fabs(pct),
                pct >= 0 ? "saved" : "more: cost mode buys cheap, not clean");
    }
}

void demo_collect_sessions(struct demo_platform *p, struct demo_fleet *f)
{
    for (size_t i = 0; i < f->n; i++) {
        struct demo_car *c = &f->cars[i];
        if (c->linked && !c->deregistered)
            read_sessions(p, c, p->conf.sim_start_ms);
    }
}

void demo_print_misses(FILE *out, const struct demo_fleet *f)
{
    for (size_t i = 0; i < f->n; i++) {
        const struct demo_car *c = &f->cars[i];
        if (!c->linked || c->deregistered || !c->checked || !c->plugged_at_ready_by ||
            c->soc_at_ready_by >= c->target_soc - 1.0)
            continue;
        char t[D2EV_TIME_STR_MAX];
        fprintf(out,
                "  missed: %s (%s %s) %.1f %% at %s, target %.0f %%; last plan %s expecting "
                "%.1f %% (SoC %.1f %% when planned)%s\n",
                c->vehicle_id, c->oem, c->sim_id, c->soc_at_ready_by,
                d2ev_time_format(c->ready_by_ms, t), c->target_soc,
                c->last.present ? c->last.status : "none", c->last.expected_soc,
                c->last.soc_at_plan,
                c->out_of_hands  ? " (consent revoked)"
                : c->unreachable ? " (flagged unreachable)"
                                 : "");
    }
}
