/* api_ui.c: server-side HTML and SVG views of the ops API (see api_ui.h). */
#include "api_ui.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "d2ev/timefmt.h"

/* Chart geometry, in SVG user units. */
#define W      1040.0
#define H      440.0
#define LEFT   64.0
#define RIGHT  880.0 /* price axis at RIGHT, carbon axis at RIGHT + 60 */
#define TOP    36.0
#define BOTTOM 380.0
#define HOUR   3600000LL

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d232a;background:#fff}"
    "h1{font-size:20px;margin:0 0 12px}h2{font-size:16px;margin:24px 0 8px}"
    "nav{margin-bottom:12px}a{color:#0b5cad}"
    "table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #dde;"
    "text-align:left}th{background:#f4f6f8}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{color:#5a6570}"
    "dd{margin:0}.muted{color:#5a6570}.bad{color:#b3261e}"
    "svg text{font:12px system-ui,sans-serif;fill:#1d232a}"
    ".grid{stroke:#e3e7eb}.axis{stroke:#7a8590}"
    ".window{fill:#2e9d57;fill-opacity:.18;stroke:#2e9d57;stroke-opacity:.5}"
    ".price{fill:none;stroke:#d9822b;stroke-width:2}"
    ".carbon{fill:none;stroke:#6b5bd2;stroke-width:2;stroke-dasharray:5 3}"
    ".soc-plan{fill:none;stroke:#0b5cad;stroke-width:3}"
    ".ready-by{stroke:#b3261e;stroke-width:2;stroke-dasharray:6 4}"
    ".target{stroke:#0b5cad;stroke-dasharray:2 3}.now{stroke:#1d232a;stroke-opacity:.5}"
    ".bar{fill:#0b5cad}";

static void page_start(struct d2ev_strbuf *sb, const char *title)
{
    d2ev_strbuf_puts(sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                         "<meta name=\"viewport\" content=\"width=device-width\"><title>");
    d2ev_strbuf_html(sb, title);
    d2ev_strbuf_printf(sb, " - d2ev</title><style>%s</style></head><body>\n", css);
}

static void page_end(struct d2ev_strbuf *sb, int64_t now)
{
    char t[D2EV_TIME_STR_MAX];
    d2ev_strbuf_printf(sb,
                       "<footer class=\"muted\"><p>Rendered at %s. Times are UTC.</p></footer>"
                       "</body></html>\n",
                       d2ev_time_format(now, t));
}

/* "2026-11-22 07:30" */
static const char *fmt_time(int64_t ms, char buf[D2EV_TIME_STR_MAX])
{
    d2ev_time_format(ms, buf);
    buf[10] = ' ';
    buf[16] = '\0';
    return buf;
}

/* "07:30" */
static const char *fmt_hhmm(int64_t ms, char buf[D2EV_TIME_STR_MAX])
{
    fmt_time(ms, buf);
    return buf + 11;
}

/* ------------------------------------------------------------ chart */

struct scale {
    int64_t t0, t1; /* time range */
    double lo, hi;  /* value range */
    double y_top, y_bottom;
};

static double sx(const struct scale *s, int64_t t)
{
    return LEFT + (RIGHT - LEFT) * (double)(t - s->t0) / (double)(s->t1 - s->t0);
}

static double sy(const struct scale *s, double v)
{
    return s->y_bottom - (s->y_bottom - s->y_top) * (v - s->lo) / (s->hi - s->lo);
}

static int64_t clamp_t(const struct scale *s, int64_t t)
{
    return t < s->t0 ? s->t0 : (t > s->t1 ? s->t1 : t);
}

/* The time range: from now (or the plan, if earlier) to the ready-by time,
 * widened to cover the windows; without a schedule, the forecasts. */
static void time_range(const struct d2ev_api_snapshot *s, int64_t now, int64_t *t0, int64_t *t1)
{
    int64_t a = now, b = now + 12 * HOUR;
    if (s->has_schedule) {
        const struct d2ev_schedule *p = &s->schedule;
        a = p->created_at < now ? p->created_at : now;
        b = p->ready_by > a ? p->ready_by : a + HOUR;
        if (p->nwindows) {
            if (p->windows[0].start < a)
                a = p->windows[0].start;
            if (p->windows[p->nwindows - 1].end > b)
                b = p->windows[p->nwindows - 1].end;
        }
    } else if (s->has_price || s->has_carbon) {
        const struct d2ev_forecast *f = s->has_price ? &s->price : &s->carbon;
        a = f->start;
        b = d2ev_forecast_end(f);
    }
    a -= a % (HOUR / 2); /* start on a half hour */
    int64_t span = b - a;
    *t0 = a;
    *t1 = b + (span > 0 ? span / 20 : HOUR);
}

static void value_range(const struct d2ev_forecast *f, int64_t t0, int64_t t1, double *lo,
                        double *hi)
{
    *lo = 0;
    *hi = 0;
    int64_t slot = (int64_t)f->slot_minutes * 60000;
    for (size_t i = 0; i < f->n; i++) {
        int64_t a = f->start + (int64_t)i * slot;
        if (a + slot <= t0 || a >= t1)
            continue;
        if (f->values[i] < *lo)
            *lo = f->values[i];
        if (f->values[i] > *hi)
            *hi = f->values[i];
    }
    if (*hi <= *lo)
        *hi = *lo + 1;
    *hi += (*hi - *lo) * 0.08;
}

/* A forecast as a step line over the chart's time range. */
static void curve(struct d2ev_strbuf *sb, const struct d2ev_forecast *f, const struct scale *s,
                  const char *cls, const char *label)
{
    int64_t slot = (int64_t)f->slot_minutes * 60000;
    bool started = false;
    d2ev_strbuf_printf(sb, "<path class=\"%s\" d=\"", cls);
    for (size_t i = 0; i < f->n; i++) {
        int64_t a = f->start + (int64_t)i * slot, b = a + slot;
        if (b <= s->t0 || a >= s->t1)
            continue;
        double y = sy(s, f->values[i]);
        if (!started)
            d2ev_strbuf_printf(sb, "M%.1f %.1f", sx(s, clamp_t(s, a)), y);
        else
            d2ev_strbuf_printf(sb, "V%.1f", y);
        d2ev_strbuf_printf(sb, "H%.1f", sx(s, clamp_t(s, b)));
        started = true;
    }
    d2ev_strbuf_printf(sb, "\"><title>%s</title></path>\n", label);
}

/* Right-hand axis labels for a curve. */
static void value_axis(struct d2ev_strbuf *sb, const struct scale *s, double x, const char *cls,
                       const char *unit, int decimals)
{
    for (int i = 0; i <= 4; i++) {
        double v = s->lo + (s->hi - s->lo) * i / 4.0;
        d2ev_strbuf_printf(sb, "<text class=\"%s-label\" x=\"%.1f\" y=\"%.1f\">%.*f</text>", cls,
                           x + 6, sy(s, v) + 4, decimals, v);
    }
    d2ev_strbuf_printf(sb, "<text class=\"%s-label\" x=\"%.1f\" y=\"%.1f\">", cls, x + 6, TOP - 12);
    d2ev_strbuf_html(sb, unit);
    d2ev_strbuf_puts(sb, "</text>\n");
}

static void time_axis(struct d2ev_strbuf *sb, const struct scale *s)
{
    static const int64_t steps[] = { 1, 2, 3, 6, 12, 24, 48, 168 };
    int64_t step = steps[0] * HOUR;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        step = steps[i] * HOUR;
        if ((s->t1 - s->t0) / step <= 12)
            break;
    }
    char buf[D2EV_TIME_STR_MAX];
    int64_t first = s->t0 - s->t0 % step + (s->t0 % step ? step : 0);
    for (int64_t t = first; t <= s->t1; t += step) {
        double x = sx(s, t);
        d2ev_strbuf_printf(sb,
                           "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                           "<text class=\"time-label\" x=\"%.1f\" y=\"%.1f\" "
                           "text-anchor=\"middle\">%s</text>\n",
                           x, TOP, x, BOTTOM, x, BOTTOM + 18, fmt_hhmm(t, buf));
    }
    d2ev_strbuf_printf(sb, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">time (UTC)</text>\n",
                       (LEFT + RIGHT) / 2, BOTTOM + 38);
}

/* Planned SoC: flat outside windows, rising through each window in
 * proportion to its energy, from soc_at_plan to expected_soc. */
static void soc_line(struct d2ev_strbuf *sb, const struct d2ev_schedule *p, const struct scale *soc)
{
    double total = 0;
    for (size_t i = 0; i < p->nwindows; i++)
        total += p->windows[i].energy_kwh;
    double level = p->soc_at_plan, rise = p->expected_soc - p->soc_at_plan;
    d2ev_strbuf_printf(sb, "<polyline class=\"soc-plan\" points=\"%.1f,%.1f",
                       sx(soc, clamp_t(soc, p->created_at)), sy(soc, level));
    for (size_t i = 0; i < p->nwindows; i++) {
        const struct d2ev_window *w = &p->windows[i];
        d2ev_strbuf_printf(sb, " %.1f,%.1f", sx(soc, clamp_t(soc, w->start)), sy(soc, level));
        level += total > 0 ? rise * w->energy_kwh / total : 0;
        d2ev_strbuf_printf(sb, " %.1f,%.1f", sx(soc, clamp_t(soc, w->end)), sy(soc, level));
    }
    int64_t end = p->ready_by;
    if (p->nwindows && p->windows[p->nwindows - 1].end > end)
        end = p->windows[p->nwindows - 1].end;
    d2ev_strbuf_printf(sb,
                       " %.1f,%.1f\"><title>planned SoC, %.0f %% to %.0f %%</title>"
                       "</polyline>\n",
                       sx(soc, clamp_t(soc, end)), sy(soc, level), p->soc_at_plan, p->expected_soc);
}

void d2ev_api_svg_schedule(struct d2ev_strbuf *sb, const struct d2ev_api_snapshot *s, int64_t now)
{
    struct scale soc = { .lo = 0, .hi = 100, .y_top = TOP, .y_bottom = BOTTOM };
    time_range(s, now, &soc.t0, &soc.t1);
    d2ev_strbuf_printf(sb,
                       "<svg id=\"schedule-chart\" xmlns=\"http://www.w3.org/2000/svg\" "
                       "viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
                       "aria-labelledby=\"chart-title\"><title id=\"chart-title\">Charge plan of ",
                       W, H, W, H);
    d2ev_strbuf_html(sb, s->row.vehicle_id);
    d2ev_strbuf_puts(sb, "</title>\n");

    /* SoC grid and axis (left) */
    for (int v = 0; v <= 100; v += 20) {
        d2ev_strbuf_printf(sb,
                           "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                           "<text class=\"soc-label\" x=\"%.1f\" y=\"%.1f\" "
                           "text-anchor=\"end\">%d %%</text>\n",
                           LEFT, sy(&soc, v), RIGHT, sy(&soc, v), LEFT - 6, sy(&soc, v) + 4, v);
    }
    d2ev_strbuf_printf(sb, "<text x=\"%.1f\" y=\"%.1f\">SoC</text>\n", LEFT - 40, TOP - 12);
    time_axis(sb, &soc);

    /* charge windows */
    const struct d2ev_schedule *p = s->has_schedule ? &s->schedule : NULL;
    char a[D2EV_TIME_STR_MAX], b[D2EV_TIME_STR_MAX];
    for (size_t i = 0; p && i < p->nwindows; i++) {
        const struct d2ev_window *w = &p->windows[i];
        double x0 = sx(&soc, clamp_t(&soc, w->start)), x1 = sx(&soc, clamp_t(&soc, w->end));
        d2ev_strbuf_printf(sb,
                           "<rect class=\"window\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                           "height=\"%.1f\"><title>charge %s-%s, %.2f kWh</title></rect>\n",
                           x0, TOP, x1 - x0, BOTTOM - TOP, fmt_hhmm(w->start, a),
                           fmt_hhmm(w->end, b), w->energy_kwh);
    }

    /* price and carbon curves, each on its own right-hand scale */
    if (s->has_price) {
        struct scale pr = soc;
        value_range(&s->price, soc.t0, soc.t1, &pr.lo, &pr.hi);
        curve(sb, &s->price, &pr, "price", "price");
        value_axis(sb, &pr, RIGHT, "price", s->price.unit, 2);
    }
    if (s->has_carbon) {
        struct scale co = soc;
        value_range(&s->carbon, soc.t0, soc.t1, &co.lo, &co.hi);
        curve(sb, &s->carbon, &co, "carbon", "carbon intensity");
        value_axis(sb, &co, RIGHT + 60, "carbon", s->carbon.unit, 0);
    }

    /* plan, target, ready-by, now */
    if (p) {
        soc_line(sb, p, &soc);
        d2ev_strbuf_printf(sb,
                           "<line class=\"target\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                           "y2=\"%.1f\"/><text class=\"target-label\" x=\"%.1f\" y=\"%.1f\">"
                           "target %.0f %%</text>\n",
                           LEFT, sy(&soc, p->target_soc), RIGHT, sy(&soc, p->target_soc), LEFT + 6,
                           sy(&soc, p->target_soc) - 6, p->target_soc);
        double x = sx(&soc, clamp_t(&soc, p->ready_by));
        d2ev_strbuf_printf(sb,
                           "<line class=\"ready-by\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                           "y2=\"%.1f\"/><text class=\"ready-by-label\" x=\"%.1f\" y=\"%.1f\" "
                           "text-anchor=\"end\">ready by %s</text>\n",
                           x, TOP, x, BOTTOM, x - 4, TOP + 14, fmt_hhmm(p->ready_by, a));
    }
    if (now >= soc.t0 && now <= soc.t1) {
        double x = sx(&soc, now);
        d2ev_strbuf_printf(sb,
                           "<line class=\"now\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                           "<text x=\"%.1f\" y=\"%.1f\">now</text>\n",
                           x, TOP, x, BOTTOM, x + 3, BOTTOM - 4);
    }
    d2ev_strbuf_printf(sb,
                       "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                       "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                       LEFT, BOTTOM, RIGHT, BOTTOM, LEFT, TOP, LEFT, BOTTOM);
    if (!p)
        d2ev_strbuf_printf(sb,
                           "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no schedule "
                           "yet</text>\n",
                           (LEFT + RIGHT) / 2, (TOP + BOTTOM) / 2);
    d2ev_strbuf_puts(sb, "</svg>\n");
}

/* ------------------------------------------------------------ pages */

static void dt_text(struct d2ev_strbuf *sb, const char *term, const char *value)
{
    d2ev_strbuf_printf(sb, "<dt>%s</dt><dd>", term);
    d2ev_strbuf_html(sb, value && *value ? value : "-");
    d2ev_strbuf_puts(sb, "</dd>");
}

static void money(char *buf, size_t size, double v, const char *currency)
{
    snprintf(buf, size, "%.2f %s", v, currency[0] ? currency : "");
}

static void facts(struct d2ev_strbuf *sb, const struct d2ev_api_snapshot *s)
{
    char buf[160], t[D2EV_TIME_STR_MAX];
    d2ev_strbuf_puts(sb, "<dl class=\"facts\">");
    dt_text(sb, "OEM", s->row.oem);
    dt_text(sb, "Region", s->row.region);
    dt_text(sb, "Site", s->row.site_id);
    dt_text(sb, "Status", d2ev_api_vstatus_name(s->row.status));
    dt_text(sb, "State", d2ev_api_state_name(s->row.state));
    if (s->has_telemetry) {
        snprintf(buf, sizeof(buf), "%.1f %% at %s", s->telemetry.soc,
                 fmt_time(s->telemetry.observed_at, t));
        dt_text(sb, "SoC", buf);
        dt_text(sb, "Charging state", d2ev_charging_state_name(s->telemetry.charging_state));
    } else {
        dt_text(sb, "SoC", "no telemetry yet");
    }
    if (s->has_schedule) {
        const struct d2ev_schedule *p = &s->schedule;
        snprintf(buf, sizeof(buf), "v%lld, %s", (long long)p->version,
                 d2ev_schedule_status_name(p->status));
        dt_text(sb, "Schedule", buf);
        dt_text(sb, "Reason", p->reason);
        dt_text(sb, "Ready by", fmt_time(p->ready_by, t));
        snprintf(buf, sizeof(buf), "%.0f %% (expected %.1f %%)", p->target_soc, p->expected_soc);
        dt_text(sb, "Target", buf);
        char e[48], base[48];
        money(e, sizeof(e), p->expected_cost, p->currency);
        money(base, sizeof(base), p->baseline_cost, p->currency);
        snprintf(buf, sizeof(buf), "%s (baseline %s)", e, base);
        dt_text(sb, "Cost", buf);
        snprintf(buf, sizeof(buf), "%.0f g CO2 (baseline %.0f g)", p->expected_carbon_g,
                 p->baseline_carbon_g);
        dt_text(sb, "Carbon", buf);
    } else {
        snprintf(buf, sizeof(buf), "%.0f %%", s->target_soc);
        dt_text(sb, "Target", buf);
    }
    d2ev_strbuf_puts(sb, "</dl>\n");
}

void d2ev_api_ui_vehicle(struct d2ev_strbuf *sb, const struct d2ev_api_snapshot *s, int64_t now)
{
    char title[96];
    snprintf(title, sizeof(title), "Vehicle %s", s->row.vehicle_id);
    page_start(sb, title);
    d2ev_strbuf_puts(sb, "<nav><a href=\"/ui/fleet\">Fleet</a></nav><h1>");
    d2ev_strbuf_html(sb, title);
    d2ev_strbuf_puts(sb, "</h1>\n");
    facts(sb, s);
    d2ev_strbuf_puts(sb, "<h2>Plan</h2><figure>");
    d2ev_api_svg_schedule(sb, s, now);
    d2ev_strbuf_puts(sb, "<figcaption class=\"muted\">Green: charge windows. Blue line: planned "
                         "SoC. Orange: price. Purple, dashed: carbon intensity. Red, dashed: "
                         "ready-by time.</figcaption></figure>\n");
    if (s->has_schedule && s->schedule.nwindows) {
        char a[D2EV_TIME_STR_MAX], b[D2EV_TIME_STR_MAX];
        d2ev_strbuf_puts(sb, "<h2>Charge windows</h2><table id=\"windows\"><tr><th>start</th>"
                             "<th>end</th><th>energy</th></tr>\n");
        for (size_t i = 0; i < s->schedule.nwindows; i++) {
            const struct d2ev_window *w = &s->schedule.windows[i];
            d2ev_strbuf_printf(sb, "<tr><td>%s</td><td>%s</td><td>%.2f kWh</td></tr>\n",
                               fmt_time(w->start, a), fmt_time(w->end, b), w->energy_kwh);
        }
        d2ev_strbuf_puts(sb, "</table>\n");
    }
    page_end(sb, now);
}

/* Counts by state as horizontal bars. */
static void state_bars(struct d2ev_strbuf *sb, const struct d2ev_api_fleet *f)
{
    size_t max = 1;
    for (int i = 0; i < D2EV_API_STATE_COUNT; i++)
        max = f->by_state[i] > max ? f->by_state[i] : max;
    d2ev_strbuf_printf(sb,
                       "<svg id=\"fleet-states\" xmlns=\"http://www.w3.org/2000/svg\" "
                       "viewBox=\"0 0 600 %d\" width=\"600\" height=\"%d\" role=\"img\" "
                       "aria-label=\"vehicles by state\">\n",
                       D2EV_API_STATE_COUNT * 28 + 8, D2EV_API_STATE_COUNT * 28 + 8);
    for (int row = 0; row < D2EV_API_STATE_COUNT; row++) {
        int i = D2EV_API_STATE_COUNT - 1 - row; /* charging first, unknown last */
        double w = 400.0 * (double)f->by_state[i] / (double)max;
        d2ev_strbuf_printf(sb,
                           "<text x=\"90\" y=\"%d\" text-anchor=\"end\">%s</text>"
                           "<rect class=\"bar\" x=\"100\" y=\"%d\" width=\"%.1f\" height=\"18\"/>"
                           "<text x=\"%.1f\" y=\"%d\">%zu</text>\n",
                           row * 28 + 20, d2ev_api_state_name((enum d2ev_api_state)i), row * 28 + 6,
                           w, 106 + w, row * 28 + 20, f->by_state[i]);
    }
    d2ev_strbuf_puts(sb, "</svg>\n");
}

static void alerts_list(struct d2ev_strbuf *sb, const char *alerts_json)
{
    json_t *arr = json_loads(alerts_json, 0, NULL);
    size_t i;
    json_t *a;
    d2ev_strbuf_puts(sb, "<h2>Recent alerts</h2>\n");
    if (!json_array_size(arr)) {
        d2ev_strbuf_puts(sb, "<p class=\"muted\">none</p>\n");
        json_decref(arr);
        return;
    }
    d2ev_strbuf_puts(sb, "<table id=\"alerts\"><tr><th>time</th><th>vehicle</th><th>kind</th>"
                         "<th>message</th></tr>\n");
    json_array_foreach(arr, i, a)
    {
        const char *id = json_string_value(json_object_get(a, "vehicle_id"));
        const char *ts = json_string_value(json_object_get(a, "event_ts"));
        const char *kind = json_string_value(json_object_get(a, "kind"));
        const char *msg = json_string_value(json_object_get(a, "message"));
        d2ev_strbuf_puts(sb, "<tr><td>");
        d2ev_strbuf_html(sb, ts ? ts : "");
        d2ev_strbuf_puts(sb, "</td><td><a href=\"/ui/vehicles/");
        d2ev_strbuf_html(sb, id ? id : "");
        d2ev_strbuf_puts(sb, "\">");
        d2ev_strbuf_html(sb, id ? id : "");
        d2ev_strbuf_puts(sb, "</a></td><td class=\"bad\">");
        d2ev_strbuf_html(sb, kind ? kind : "");
        d2ev_strbuf_puts(sb, "</td><td>");
        d2ev_strbuf_html(sb, msg ? msg : "");
        d2ev_strbuf_puts(sb, "</td></tr>\n");
    }
    d2ev_strbuf_puts(sb, "</table>\n");
    json_decref(arr);
}

static void vehicle_table(struct d2ev_strbuf *sb, const struct d2ev_api_row *rows, size_t n)
{
    char buf[64], t[D2EV_TIME_STR_MAX];
    d2ev_strbuf_puts(sb, "<table id=\"vehicles\"><tr><th>vehicle</th><th>OEM</th>"
                         "<th>status</th><th>state</th><th>SoC</th><th>schedule</th>"
                         "<th>ready by</th><th>expected SoC</th><th>saving</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        const struct d2ev_api_row *r = &rows[i];
        d2ev_strbuf_puts(sb, "<tr><td><a href=\"/ui/vehicles/");
        d2ev_strbuf_html(sb, r->vehicle_id);
        d2ev_strbuf_puts(sb, "\">");
        d2ev_strbuf_html(sb, r->vehicle_id);
        d2ev_strbuf_puts(sb, "</a></td><td>");
        d2ev_strbuf_html(sb, r->oem);
        d2ev_strbuf_printf(sb, "</td><td>%s</td><td>%s</td>", d2ev_api_vstatus_name(r->status),
                           d2ev_api_state_name(r->state));
        if (r->has_soc)
            d2ev_strbuf_printf(sb, "<td>%.1f %%</td>", r->soc);
        else
            d2ev_strbuf_puts(sb, "<td class=\"muted\">-</td>");
        if (r->has_schedule) {
            money(buf, sizeof(buf), r->savings, r->currency);
            d2ev_strbuf_printf(sb, "<td>v%lld %s</td><td>%s</td><td>%.1f %%</td><td>",
                               (long long)r->schedule_version,
                               d2ev_schedule_status_name(r->schedule_status),
                               fmt_time(r->ready_by, t), r->expected_soc);
            d2ev_strbuf_html(sb, buf);
            d2ev_strbuf_puts(sb, "</td></tr>\n");
        } else {
            d2ev_strbuf_puts(sb, "<td class=\"muted\">none</td><td></td><td></td><td></td>"
                                 "</tr>\n");
        }
    }
    d2ev_strbuf_puts(sb, "</table>\n");
}

void d2ev_api_ui_fleet(struct d2ev_strbuf *sb, const struct d2ev_api_fleet *f,
                       const char *alerts_json, const struct d2ev_api_row *rows, size_t n,
                       const char *next_href, int64_t now)
{
    page_start(sb, "Fleet");
    d2ev_strbuf_printf(sb,
                       "<h1>Fleet</h1><p>%zu vehicles: %zu active, %zu suspended; %zu with a "
                       "schedule.</p>\n<h2>By state</h2>",
                       f->vehicles, f->by_vstatus[0], f->by_vstatus[1], f->with_schedule);
    state_bars(sb, f);
    d2ev_strbuf_puts(sb, "<h2>Savings against charging at once</h2><table id=\"savings\">"
                         "<tr><th>currency</th><th>schedules</th><th>baseline</th>"
                         "<th>planned</th><th>saving</th></tr>\n");
    for (size_t i = 0; i < f->ncurrencies; i++) {
        d2ev_strbuf_puts(sb, "<tr><td>");
        d2ev_strbuf_html(sb, f->cost[i].currency[0] ? f->cost[i].currency : "-");
        d2ev_strbuf_printf(sb, "</td><td>%zu</td><td>%.2f</td><td>%.2f</td><td>%.2f</td></tr>\n",
                           f->cost[i].schedules, f->cost[i].baseline_cost, f->cost[i].expected_cost,
                           f->cost[i].baseline_cost - f->cost[i].expected_cost);
    }
    d2ev_strbuf_printf(sb,
                       "<tr><td>g CO2</td><td>%zu</td><td>%.0f</td><td>%.0f</td><td>%.0f</td>"
                       "</tr></table>\n",
                       f->with_schedule, f->baseline_carbon_g, f->expected_carbon_g,
                       f->baseline_carbon_g - f->expected_carbon_g);
    alerts_list(sb, alerts_json);
    d2ev_strbuf_puts(sb, "<h2>Vehicles</h2>\n");
    vehicle_table(sb, rows, n);
    if (next_href) {
        d2ev_strbuf_puts(sb, "<p><a id=\"next\" href=\"");
        d2ev_strbuf_html(sb, next_href);
        d2ev_strbuf_puts(sb, "\">next page</a></p>\n");
    }
    page_end(sb, now);
}

void d2ev_api_ui_error(struct d2ev_strbuf *sb, int status, const char *code, const char *message)
{
    char title[32];
    snprintf(title, sizeof(title), "Error %d", status);
    page_start(sb, title);
    d2ev_strbuf_printf(sb, "<h1>%s</h1><p><code>", title);
    d2ev_strbuf_html(sb, code);
    d2ev_strbuf_puts(sb, "</code>: ");
    d2ev_strbuf_html(sb, message);
    d2ev_strbuf_puts(sb, "</p><p><a href=\"/ui/fleet\">Fleet</a></p></body></html>\n");
}
