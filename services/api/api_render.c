/* api_render.c: JSON views of the ops API (see api_render.h). */
#include "api_render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/json.h"
#include "d2ev/timefmt.h"

#include "api_text.h"

json_t *d2ev_api_view(json_t *encoded, const struct d2ev_envelope *env)
{
    if (!encoded)
        return NULL;
    json_object_del(encoded, "type");
    json_object_del(encoded, "v");
    json_object_del(encoded, "id");
    json_object_del(encoded, "ts");
    if (json_object_set_new(encoded, "event_id", json_string(env->id)) ||
        d2ev_json_set_time(encoded, "event_ts", env->ts)) {
        json_decref(encoded);
        return NULL;
    }
    return encoded;
}

/* part of whole in %, or null when whole is 0 */
static json_t *percent(double part, double whole)
{
    return whole != 0 ? json_real(100.0 * part / fabs(whole)) : json_null();
}

json_t *d2ev_api_view_schedule(const struct d2ev_schedule *s)
{
    json_t *v = d2ev_api_view(d2ev_schedule_encode(s), &s->env);
    if (!v)
        return NULL;
    double cost = s->baseline_cost - s->expected_cost;
    double carbon = s->baseline_carbon_g - s->expected_carbon_g;
    json_t *savings = json_pack("{s:f, s:f, s:o, s:o}", "cost", cost, "carbon_g", carbon,
                                "cost_pct", percent(cost, s->baseline_cost), "carbon_pct",
                                percent(carbon, s->baseline_carbon_g));
    if (!savings || json_object_set_new(v, "savings", savings)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

char *d2ev_api_view_dump(json_t *v, size_t *len)
{
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(v);
    if (text)
        *len = strlen(text);
    return text;
}

void d2ev_api_render_row(struct d2ev_strbuf *sb, const struct d2ev_api_row *r)
{
    bool first = true;
    d2ev_strbuf_puts(sb, "{");
    d2ev_api_json_key(sb, &first, "vehicle_id");
    d2ev_api_json_str(sb, r->vehicle_id);
    d2ev_api_json_key(sb, &first, "oem");
    d2ev_api_json_str(sb, r->oem);
    d2ev_api_json_key(sb, &first, "region");
    d2ev_api_json_str(sb, r->region);
    d2ev_api_json_key(sb, &first, "site_id");
    if (r->site_id[0])
        d2ev_api_json_str(sb, r->site_id);
    else
        d2ev_strbuf_puts(sb, "null");
    d2ev_api_json_key(sb, &first, "status");
    d2ev_api_json_str(sb, d2ev_api_vstatus_name(r->status));
    d2ev_api_json_key(sb, &first, "plug");
    d2ev_api_json_str(sb, d2ev_api_plug_name(r->plug));
    d2ev_api_json_key(sb, &first, "state");
    d2ev_api_json_str(sb, d2ev_api_state_name(r->state));
    d2ev_api_json_key(sb, &first, "soc");
    d2ev_api_json_num(sb, r->has_soc ? r->soc : NAN);
    d2ev_api_json_key(sb, &first, "observed_at");
    if (r->has_soc)
        d2ev_api_json_time(sb, r->observed_at);
    else
        d2ev_strbuf_puts(sb, "null");
    d2ev_api_json_key(sb, &first, "schedule");
    if (r->has_schedule) {
        d2ev_strbuf_printf(sb, "{\"version\":%lld,\"status\":\"%s\",\"expected_soc\":",
                           (long long)r->schedule_version,
                           d2ev_schedule_status_name(r->schedule_status));
        d2ev_api_json_num(sb, r->expected_soc);
        d2ev_strbuf_puts(sb, ",\"ready_by\":");
        d2ev_api_json_time(sb, r->ready_by);
        d2ev_strbuf_puts(sb, ",\"savings\":");
        d2ev_api_json_num(sb, r->savings);
        d2ev_strbuf_puts(sb, ",\"currency\":");
        if (r->currency[0])
            d2ev_api_json_str(sb, r->currency);
        else
            d2ev_strbuf_puts(sb, "null");
        d2ev_strbuf_puts(sb, "}");
    } else {
        d2ev_strbuf_puts(sb, "null");
    }
    d2ev_strbuf_puts(sb, "}");
}

static void counts(struct d2ev_strbuf *sb, const char *(*name)(int), const size_t *n, int count)
{
    d2ev_strbuf_puts(sb, "{");
    for (int i = 0; i < count; i++)
        d2ev_strbuf_printf(sb, "%s\"%s\":%zu", i ? "," : "", name(i), n[i]);
    d2ev_strbuf_puts(sb, "}");
}

static const char *vstatus_name(int i)
{
    return d2ev_api_vstatus_name((enum d2ev_vehicle_status)i);
}

static const char *state_name(int i)
{
    return d2ev_api_state_name((enum d2ev_api_state)i);
}

static const char *sched_name(int i)
{
    return d2ev_schedule_status_name((enum d2ev_schedule_status)i);
}

void d2ev_api_render_fleet(struct d2ev_strbuf *sb, const struct d2ev_api_fleet *f,
                           const char *alerts_json, size_t alerts_len)
{
    d2ev_strbuf_printf(sb, "{\"vehicles\":%zu,\"by_status\":", f->vehicles);
    counts(sb, vstatus_name, f->by_vstatus, 2);
    d2ev_strbuf_puts(sb, ",\"by_state\":");
    counts(sb, state_name, f->by_state, D2EV_API_STATE_COUNT);
    d2ev_strbuf_printf(sb, ",\"schedules\":{\"total\":%zu,\"by_status\":", f->with_schedule);
    counts(sb, sched_name, f->by_schedule_status, D2EV_SCHED_STATUS_COUNT);
    d2ev_strbuf_puts(sb, "},\"savings\":{\"cost\":[");
    for (size_t i = 0; i < f->ncurrencies; i++) {
        d2ev_strbuf_printf(sb, "%s{\"currency\":", i ? "," : "");
        if (f->cost[i].currency[0])
            d2ev_api_json_str(sb, f->cost[i].currency);
        else
            d2ev_strbuf_puts(sb, "null");
        d2ev_strbuf_printf(sb, ",\"schedules\":%zu,\"baseline_cost\":", f->cost[i].schedules);
        d2ev_api_json_num(sb, f->cost[i].baseline_cost);
        d2ev_strbuf_puts(sb, ",\"expected_cost\":");
        d2ev_api_json_num(sb, f->cost[i].expected_cost);
        d2ev_strbuf_puts(sb, ",\"savings\":");
        d2ev_api_json_num(sb, f->cost[i].baseline_cost - f->cost[i].expected_cost);
        d2ev_strbuf_puts(sb, "}");
    }
    d2ev_strbuf_puts(sb, "],\"carbon_g\":{\"baseline\":");
    d2ev_api_json_num(sb, f->baseline_carbon_g);
    d2ev_strbuf_puts(sb, ",\"expected\":");
    d2ev_api_json_num(sb, f->expected_carbon_g);
    d2ev_strbuf_puts(sb, ",\"savings\":");
    d2ev_api_json_num(sb, f->baseline_carbon_g - f->expected_carbon_g);
    d2ev_strbuf_printf(sb, "}},\"alerts\":{\"retained\":%zu,\"seen\":%llu,\"recent\":",
                       f->alerts_retained, (unsigned long long)f->alerts_seen);
    d2ev_strbuf_append(sb, alerts_json, alerts_len);
    d2ev_strbuf_puts(sb, "}}");
}
