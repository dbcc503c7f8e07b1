/* forecast_tool.c: d2ev-forecast publish / generate / check. */
#include "forecast_tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/envelope.h"
#include "d2ev/events.h"
#include "d2ev/kafka.h"
#include "d2ev/log.h"
#include "d2ev/signals.h"
#include "d2ev/timefmt.h"
#include "d2ev/topics.h"
#include "d2ev/tz.h"
#include "forecast_csv.h"
#include "forecast_gen.h"

#define HOUR_MS      3600000LL
#define DAY_MS       86400000LL
#define LOGGED_DIAGS 100

/* ------------------------------------------------------------ settings */

struct csv_settings {
    const char *csv;
    const char *format;
    const char *column;
    const char *tz;
    const char *area;
    bool lenient;
};

struct publish_config {
    struct csv_settings in;
    const char *region;
    const char *from;
    int64_t hours;
    const char *issued_at;
    bool follow;
    double every_hours;
    int64_t horizon_hours;
    bool dry_run;
};

struct generate_config {
    const char *region;
    const char *kind;
    int64_t days;
    const char *start;
    int64_t seed;
    const char *currency;
    const char *tz;
    int64_t slot_minutes;
    double price_level;
    double carbon_level;
    bool follow;
    int64_t issue_hour;
    bool dry_run;
};

struct check_config {
    struct csv_settings in;
    int64_t max_diagnostics;
};

#define CSV_ENTRIES(T)                                                                             \
    { "csv", D2EV_CFG_STR, offsetof(T, in.csv), NULL, "CSV file to read", 0, 0, true },            \
        { "format",                                                                                \
          D2EV_CFG_STR,                                                                            \
          offsetof(T, in.format),                                                                  \
          NULL,                                                                                    \
          "agile, agile-e, carbon, nordpool or eu (see docs/scheduling.md)",                       \
          0,                                                                                       \
          0,                                                                                       \
          true },                                                                                  \
        { "column", D2EV_CFG_STR, offsetof(T, in.column), NULL,                                    \
          "value column: agile import or export, carbon forecast or actual, nordpool eur or "      \
          "dkk" },                                                                                 \
        { "tz", D2EV_CFG_STR, offsetof(T, in.tz), NULL,                                            \
          "zone of local-time formats (default Europe/London for agile, Europe/Berlin for eu)" },  \
        { "area", D2EV_CFG_STR, offsetof(T, in.area), NULL, "nordpool: PriceArea to keep" },       \
    {                                                                                              \
        "lenient", D2EV_CFG_BOOL, offsetof(T, in.lenient), "false",                                \
            "keep rows whose end time is wrong but whose start and value are fine"                 \
    }

static const struct d2ev_cfg_entry publish_table[] = {
    CSV_ENTRIES(struct publish_config),
    { "region", D2EV_CFG_STR, offsetof(struct publish_config, region), NULL,
      "forecast region to publish under (vehicles name it)", 0, 0, true },
    { "from", D2EV_CFG_STR, offsetof(struct publish_config, from), NULL,
      "first slot to publish: RFC 3339, or YYYY-MM-DD (local midnight); default: the file's "
      "first row" },
    { "hours", D2EV_CFG_INT, offsetof(struct publish_config, hours), "0",
      "hours to publish from --from (0 = to the end of the file)", 0, 2000 },
    { "issued-at", D2EV_CFG_STR, offsetof(struct publish_config, issued_at), NULL,
      "issue time (RFC 3339; default now on the d2ev clock)" },
    { "follow", D2EV_CFG_BOOL, offsetof(struct publish_config, follow), "false",
      "keep running: every --every-hours publish the file's values from now on (replay on the "
      "scaled clock)" },
    { "every-hours", D2EV_CFG_DOUBLE, offsetof(struct publish_config, every_hours), "24",
      "with --follow: simulated hours between forecasts", 0.01, 720 },
    { "horizon-hours", D2EV_CFG_INT, offsetof(struct publish_config, horizon_hours), "36",
      "with --follow: hours each forecast covers", 1, 720 },
    { "dry-run", D2EV_CFG_BOOL, offsetof(struct publish_config, dry_run), "false",
      "print the messages on stdout instead of producing them" },
    D2EV_CFG_END,
};

static const struct d2ev_cfg_entry generate_table[] = {
    { "region", D2EV_CFG_STR, offsetof(struct generate_config, region), NULL, "forecast region", 0,
      0, true },
    { "kind", D2EV_CFG_STR, offsetof(struct generate_config, kind), "both",
      "price, carbon or both" },
    { "days", D2EV_CFG_INT, offsetof(struct generate_config, days), "2", "days to cover", 1, 31 },
    { "start", D2EV_CFG_STR, offsetof(struct generate_config, start), NULL,
      "first slot (RFC 3339 or YYYY-MM-DD local midnight); default: today's local midnight" },
    { "seed", D2EV_CFG_INT, offsetof(struct generate_config, seed), "1",
      "random seed: the same seed gives the same values", 0, 9e15 },
    { "currency", D2EV_CFG_STR, offsetof(struct generate_config, currency), "GBP",
      "ISO 4217 currency of the prices" },
    { "tz", D2EV_CFG_STR, offsetof(struct generate_config, tz), "Europe/London",
      "zone whose local day shapes the prices" },
    { "slot-minutes", D2EV_CFG_INT, offsetof(struct generate_config, slot_minutes), "30",
      "15, 30 or 60", 15, 60 },
    { "price-level", D2EV_CFG_DOUBLE, offsetof(struct generate_config, price_level), "0.22",
      "typical price per kWh", -10, 10 },
    { "carbon-level", D2EV_CFG_DOUBLE, offsetof(struct generate_config, carbon_level), "150",
      "typical gCO2/kWh", 0, 1500 },
    { "follow", D2EV_CFG_BOOL, offsetof(struct generate_config, follow), "false",
      "keep running: publish now, then a day-ahead forecast (now to the end of tomorrow) every "
      "day at --issue-hour on the d2ev clock" },
    { "issue-hour", D2EV_CFG_INT, offsetof(struct generate_config, issue_hour), "16",
      "with --follow: local hour of the daily issue", 0, 23 },
    { "dry-run", D2EV_CFG_BOOL, offsetof(struct generate_config, dry_run), "false",
      "print the messages on stdout instead of producing them" },
    D2EV_CFG_END,
};

static const struct d2ev_cfg_entry check_table[] = {
    CSV_ENTRIES(struct check_config),
    { "max-diagnostics", D2EV_CFG_INT, offsetof(struct check_config, max_diagnostics), "50",
      "row diagnostics to print", 0, 1000000 },
    D2EV_CFG_END,
};

/* ------------------------------------------------------------ output */

struct sink {
    struct d2ev_producer *producer; /* NULL = stdout */
    int sent;
};

static int sink_open(struct d2ev_service *svc, bool dry_run, struct sink *s)
{
    memset(s, 0, sizeof(*s));
    if (dry_run)
        return D2EV_OK;
    const struct d2ev_kafka_conf *kc = d2ev_service_kafka(svc);
    if (!kc->brokers || !*kc->brokers) {
        fprintf(stderr, "d2ev-forecast: set D2EV_KAFKA_BROKERS (or --kafka-brokers), or use "
                        "--dry-run\n");
        return D2EV_ERR_INVALID;
    }
    struct d2ev_err err = { 0 };
    s->producer = d2ev_producer_create(kc, &err);
    if (!s->producer) {
        d2ev_log_error("cannot create producer", D2EV_LF_STR("error", err.msg));
        return D2EV_ERR_KAFKA;
    }
    return D2EV_OK;
}

static int sink_close(struct sink *s)
{
    int rc = D2EV_OK;
    if (s->producer) {
        struct d2ev_err err = { 0 };
        rc = d2ev_producer_flush(s->producer, 30000, &err);
        if (rc)
            d2ev_log_error("forecasts not delivered", D2EV_LF_STR("error", err.msg));
        d2ev_producer_destroy(s->producer);
    }
    return rc;
}

static int emit(struct sink *s, const char *region, enum d2ev_forecast_kind kind, const char *unit,
                int64_t start, int slot_minutes, double *values, size_t n, int64_t issued_at,
                const char *source)
{
    struct d2ev_forecast f;
    memset(&f, 0, sizeof(f));
    snprintf(f.region, sizeof(f.region), "%s", region);
    f.kind = kind;
    snprintf(f.unit, sizeof(f.unit), "%s", unit);
    f.issued_at = issued_at;
    f.start = start;
    f.slot_minutes = slot_minutes;
    f.n = n;
    f.values = values;
    snprintf(f.source, sizeof(f.source), "%s", source);
    json_t *msg = d2ev_forecast_encode(&f);
    if (!msg)
        return D2EV_ERR_NOMEM;
    char key[D2EV_REGION_MAX + 16];
    snprintf(key, sizeof(key), "%s:%s", region, kind == D2EV_FORECAST_PRICE ? "price" : "carbon");
    int rc = D2EV_OK;
    struct d2ev_err err = { 0 };
    if (s->producer) {
        rc = d2ev_producer_send_json(s->producer, D2EV_TOPIC_FORECASTS, key, msg, &err);
        if (rc)
            d2ev_log_error("cannot produce forecast", D2EV_LF_STR("error", err.msg));
    } else {
        char *text = json_dumps(msg, JSON_COMPACT);
        if (text)
            printf("%s\n", text);
        free(text);
        fflush(stdout);
    }
    json_decref(msg);
    if (!rc) {
        char a[D2EV_TIME_STR_MAX];
        s->sent++;
        d2ev_log_info("forecast published", D2EV_LF_STR("region", region),
                      D2EV_LF_STR("kind", kind == D2EV_FORECAST_PRICE ? "price" : "carbon"),
                      D2EV_LF_STR("start", d2ev_time_format(start, a)), D2EV_LF_INT("slots", n),
                      D2EV_LF_STR("source", source));
    }
    return rc;
}

/* RFC 3339, or YYYY-MM-DD as local midnight in tz (UTC when tz is NULL). */
static int parse_when(const char *s, const struct d2ev_tz *tz, int64_t *out, struct d2ev_err *err)
{
    if (strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
        char buf[32];
        snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
        int64_t local;
        if (d2ev_time_parse(buf, &local, err))
            return D2EV_ERR_INVALID;
        if (tz)
            d2ev_tz_from_local(tz, local, false, out);
        else
            *out = local;
        return D2EV_OK;
    }
    return d2ev_time_parse(s, out, err);
}

static int load_csv(const struct csv_settings *in, struct fcsv_result *res, bool quiet_diags)
{
    struct fcsv_options o = {
        .column = in->column, .tz = in->tz, .area = in->area, .lenient = in->lenient
    };
    struct d2ev_err err = { 0 };
    if (fcsv_format_parse(in->format, &o.format, &err) || fcsv_parse_file(in->csv, &o, res, &err)) {
        fprintf(stderr, "d2ev-forecast: %s\n", err.msg);
        return D2EV_ERR_INVALID;
    }
    for (size_t i = 0; !quiet_diags && i < res->ndiag && i < LOGGED_DIAGS; i++) {
        const struct fcsv_diag *d = &res->diags[i];
        if (d->error)
            d2ev_log_warn("row rejected", D2EV_LF_STR("file", in->csv),
                          D2EV_LF_INT("line", d->line), D2EV_LF_STR("reason", d->msg));
        else
            d2ev_log_info("row note", D2EV_LF_STR("file", in->csv), D2EV_LF_INT("line", d->line),
                          D2EV_LF_STR("reason", d->msg));
    }
    d2ev_log_info("csv read", D2EV_LF_STR("file", in->csv), D2EV_LF_INT("rows", res->rows),
                  D2EV_LF_INT("points", res->n), D2EV_LF_INT("errors", res->nerrors),
                  D2EV_LF_INT("warnings", res->nwarnings), D2EV_LF_INT("gaps", res->ngaps),
                  D2EV_LF_STR("unit", res->unit));
    return D2EV_OK;
}

static const struct d2ev_tz *csv_zone(const struct csv_settings *in)
{
    enum fcsv_format f;
    if (fcsv_format_parse(in->format, &f, NULL))
        return NULL;
    const char *zone = in->tz            ? in->tz
                       : f == FCSV_AGILE ? "Europe/London"
                       : f == FCSV_EU    ? "Europe/Berlin"
                                         : NULL;
    return zone ? d2ev_tz_get(zone, NULL) : NULL;
}

/* ------------------------------------------------------------ publish */

/* Every rejected row goes to d2ev.deadletter with its reason (the row's own
 * bytes, keyed "<file>:<line>"), so nothing a file held is lost silently.
 * Returns the number sent. */
static int by_line(const void *a, const void *b)
{
    size_t x = (*(const struct fcsv_diag *const *)a)->line;
    size_t y = (*(const struct fcsv_diag *const *)b)->line;
    return x < y ? -1 : x > y;
}

static size_t dead_letter_rows(struct sink *s, const char *path, const struct fcsv_result *r)
{
    if (!s->producer || !r->nerrors)
        return 0;
    /* the errors in line order (some are found after sorting, e.g. duplicates) */
    const struct fcsv_diag **errs = calloc(r->ndiag, sizeof(*errs));
    FILE *fp = errs ? fopen(path, "rb") : NULL;
    if (!fp) {
        free(errs);
        return 0;
    }
    size_t nerr = 0;
    for (size_t i = 0; i < r->ndiag; i++)
        if (r->diags[i].error && r->diags[i].line > 0)
            errs[nerr++] = &r->diags[i];
    qsort(errs, nerr, sizeof(*errs), by_line);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t sent = 0, line = 0, d = 0, cap = 0;
    char *buf = NULL;
    ssize_t len;
    while (d < nerr && (len = getline(&buf, &cap, fp)) >= 0) {
        line++;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            len--;
        for (; d < nerr && errs[d]->line <= line; d++) {
            const struct fcsv_diag *g = errs[d];
            if (g->line != line)
                continue;
            char key[96];
            struct d2ev_err err = { 0 };
            snprintf(key, sizeof(key), "%.80s:%zu", base, line);
            if (d2ev_deadletter_send_raw(s->producer, "d2ev-forecast", "csv", key, buf, (size_t)len,
                                         g->msg, &err) == D2EV_OK)
                sent++;
            else
                d2ev_log_error("cannot dead-letter a row", D2EV_LF_STR("key", key),
                               D2EV_LF_STR("error", err.msg));
        }
    }
    free(buf);
    free(errs);
    fclose(fp);
    if (sent)
        d2ev_log_info("rejected rows dead-lettered", D2EV_LF_STR("file", path),
                      D2EV_LF_INT("rows", (long long)sent));
    return sent;
}

static int publish_range(struct sink *s, const struct publish_config *c,
                         const struct fcsv_result *r, int64_t from, int64_t to, int64_t issued,
                         const char *source)
{
    double *values = NULL;
    size_t n = 0;
    struct d2ev_err err = { 0 };
    if (fcsv_slice(r, from, to, &values, &n, &err)) {
        fprintf(stderr, "d2ev-forecast: %s: %s\n", c->in.csv, err.msg);
        return D2EV_ERR_NOT_FOUND;
    }
    int rc = emit(s, c->region, r->kind, r->unit, from, r->slot_minutes, values, n, issued, source);
    free(values);
    return rc;
}

static int publish_run(struct d2ev_service *svc, void *config)
{
    struct publish_config *c = config;
    struct fcsv_result r;
    if (load_csv(&c->in, &r, false))
        return D2EV_EXIT_USAGE;
    int status = D2EV_EXIT_OK;
    struct sink s;
    const char *base = strrchr(c->in.csv, '/');
    char source[65];
    snprintf(source, sizeof(source), "csv:%.60s", base ? base + 1 : c->in.csv);
    int64_t slot = (int64_t)r.slot_minutes * 60000;
    struct d2ev_err err = { 0 };
    int64_t issued = d2ev_clock_now_ms(), from = r.n ? r.points[0].start : 0, to;
    if ((c->issued_at && d2ev_time_parse(c->issued_at, &issued, &err)) ||
        (c->from && parse_when(c->from, csv_zone(&c->in), &from, &err))) {
        fprintf(stderr, "d2ev-forecast: %s\n", err.msg);
        fcsv_result_clear(&r);
        return D2EV_EXIT_USAGE;
    }
    if (sink_open(svc, c->dry_run, &s)) {
        fcsv_result_clear(&r);
        return D2EV_EXIT_USAGE;
    }
    /* before anything can stop the run: a file with no usable row at all
     * (its format changed) is the case that most needs its rows kept */
    dead_letter_rows(&s, c->in.csv, &r);
    if (!r.n) {
        fprintf(stderr, "d2ev-forecast: %s: no usable rows\n", c->in.csv);
        sink_close(&s);
        fcsv_result_clear(&r);
        return D2EV_EXIT_FAILURE;
    }
    if (!c->follow) {
        to = c->hours ? from + c->hours * HOUR_MS : r.points[r.n - 1].start + slot;
        if ((to - from) / slot > D2EV_FORECAST_MAX_SLOTS) {
            fprintf(stderr,
                    "d2ev-forecast: %s: %lld slots is more than one forecast holds (%d); choose "
                    "a range with --from and --hours\n",
                    c->in.csv, (long long)((to - from) / slot), D2EV_FORECAST_MAX_SLOTS);
            status = D2EV_EXIT_USAGE;
        } else if (publish_range(&s, c, &r, from, to, issued, source)) {
            status = D2EV_EXIT_FAILURE;
        }
    }
    while (c->follow && d2ev_service_running(svc)) {
        int64_t now = d2ev_clock_now_ms();
        int64_t start = d2ev_floor_div(now, slot) * slot;
        size_t run = fcsv_run_from(&r, start);
        size_t want = (size_t)(c->horizon_hours * HOUR_MS / slot);
        if (run == 0) {
            char t[D2EV_TIME_STR_MAX];
            d2ev_log_warn("the file has no value for now; nothing published",
                          D2EV_LF_STR("now", d2ev_time_format(now, t)));
        } else {
            if (run < want)
                d2ev_log_warn("the file's data stops early (gap or end); publishing what there is",
                              D2EV_LF_INT("slots", run), D2EV_LF_INT("wanted", want));
            int64_t end = start + (int64_t)(run < want ? run : want) * slot;
            if (publish_range(&s, c, &r, start, end, now, source) == D2EV_OK && s.producer)
                d2ev_producer_flush(s.producer, 10000, NULL);
        }
        d2ev_service_heartbeat(svc);
        d2ev_clock_sleep_until(now + (int64_t)(c->every_hours * HOUR_MS), 20000,
                               d2ev_signals_stop_flag());
    }
    if (sink_close(&s))
        status = D2EV_EXIT_FAILURE;
    fcsv_result_clear(&r);
    return status;
}

/* ------------------------------------------------------------ generate */

static int generate_one(struct sink *s, const struct generate_config *c,
                        const struct fgen_options *o, int64_t from, int64_t to, int64_t issued)
{
    int64_t slot = (int64_t)o->slot_minutes * 60000;
    size_t n = (size_t)((to - from) / slot);
    if (n == 0 || n > D2EV_FORECAST_MAX_SLOTS)
        return D2EV_ERR_LIMIT;
    double *v = malloc(n * sizeof(double));
    if (!v)
        return D2EV_ERR_NOMEM;
    char unit[D2EV_UNIT_MAX + 1];
    snprintf(unit, sizeof(unit), "%s/kWh", c->currency);
    int rc = D2EV_OK;
    for (int k = 0; k < 2 && rc == D2EV_OK; k++) {
        enum d2ev_forecast_kind kind = k == 0 ? D2EV_FORECAST_PRICE : D2EV_FORECAST_CARBON;
        if (strcmp(c->kind, "both") && strcmp(c->kind, k == 0 ? "price" : "carbon"))
            continue;
        fgen_series(o, kind, from, n, v);
        rc = emit(s, c->region, kind, k == 0 ? unit : "gCO2/kWh", from, o->slot_minutes, v, n,
                  issued, "generator");
    }
    free(v);
    return rc;
}

/* End of the local day after the one containing t. */
static int64_t end_of_tomorrow(const struct d2ev_tz *tz, int64_t t)
{
    int64_t day = d2ev_floor_div(d2ev_tz_to_local(tz, t), DAY_MS);
    int64_t u;
    d2ev_tz_from_local(tz, (day + 2) * DAY_MS, false, &u);
    return u;
}

static int generate_run(struct d2ev_service *svc, void *config)
{
    struct generate_config *c = config;
    struct d2ev_err err = { 0 };
    const struct d2ev_tz *tz = d2ev_tz_get(c->tz, &err);
    if (!tz || (strcmp(c->kind, "both") && strcmp(c->kind, "price") && strcmp(c->kind, "carbon")) ||
        (c->slot_minutes != 15 && c->slot_minutes != 30 && c->slot_minutes != 60) ||
        strlen(c->currency) != 3) {
        fprintf(stderr, "d2ev-forecast: %s\n",
                tz ? "--kind price|carbon|both, --slot-minutes 15|30|60, --currency XYZ" : err.msg);
        return D2EV_EXIT_USAGE;
    }
    struct fgen_options o;
    fgen_options_default(&o);
    o.seed = (uint64_t)c->seed;
    o.region = c->region;
    o.tz = tz;
    o.slot_minutes = (int)c->slot_minutes;
    o.price_level = c->price_level;
    o.carbon_level = c->carbon_level;
    int64_t slot = c->slot_minutes * 60000;
    int64_t now = d2ev_clock_now_ms();
    int64_t start;
    if (c->start) {
        if (parse_when(c->start, tz, &start, &err)) {
            fprintf(stderr, "d2ev-forecast: --start: %s\n", err.msg);
            return D2EV_EXIT_USAGE;
        }
    } else {
        d2ev_tz_from_local(tz, d2ev_floor_div(d2ev_tz_to_local(tz, now), DAY_MS) * DAY_MS, false,
                           &start);
    }
    start = d2ev_floor_div(start, slot) * slot;
    struct sink s;
    if (sink_open(svc, c->dry_run, &s))
        return D2EV_EXIT_USAGE;
    int status = D2EV_EXIT_OK;
    if (!c->follow) {
        int64_t end = start;
        int64_t day = d2ev_floor_div(d2ev_tz_to_local(tz, start), DAY_MS);
        d2ev_tz_from_local(tz, (day + c->days) * DAY_MS, false, &end);
        if (generate_one(&s, c, &o, start, end, now))
            status = D2EV_EXIT_FAILURE;
    }
    while (c->follow && d2ev_service_running(svc)) {
        now = d2ev_clock_now_ms();
        int64_t from = d2ev_floor_div(now, slot) * slot;
        if (generate_one(&s, c, &o, from, end_of_tomorrow(tz, now), now) == D2EV_OK && s.producer)
            d2ev_producer_flush(s.producer, 10000, NULL);
        /* next issue: the next local issue-hour */
        int64_t day = d2ev_floor_div(d2ev_tz_to_local(tz, now), DAY_MS), next;
        d2ev_tz_from_local(tz, day * DAY_MS + c->issue_hour * HOUR_MS, false, &next);
        if (next <= now)
            d2ev_tz_from_local(tz, (day + 1) * DAY_MS + c->issue_hour * HOUR_MS, false, &next);
        while (d2ev_service_running(svc) && d2ev_clock_now_ms() < next) {
            d2ev_service_heartbeat(svc);
            d2ev_clock_sleep_until(next, 20000, d2ev_signals_stop_flag());
        }
    }
    if (sink_close(&s))
        status = D2EV_EXIT_FAILURE;
    return status;
}

/* ------------------------------------------------------------ check */

static int check_run(struct d2ev_service *svc, void *config)
{
    (void)svc;
    struct check_config *c = config;
    struct fcsv_result r;
    if (load_csv(&c->in, &r, true))
        return D2EV_EXIT_USAGE;
    char a[D2EV_TIME_STR_MAX], b[D2EV_TIME_STR_MAX];
    printf("%s: format %s, %zu rows, %zu values in %s, %d-minute slots\n", c->in.csv, c->in.format,
           r.rows, r.n, r.unit, (int)r.slot_minutes);
    if (r.n) {
        double lo = r.points[0].value, hi = lo, sum = 0;
        size_t neg = 0;
        for (size_t i = 0; i < r.n; i++) {
            double v = r.points[i].value;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            sum += v;
            neg += v < 0;
        }
        printf("  from %s to %s\n", d2ev_time_format(r.points[0].start, a),
               d2ev_time_format(r.points[r.n - 1].start + r.slot_minutes * 60000LL, b));
        printf("  min %g, max %g, mean %.5g, %zu negative\n", lo, hi, sum / (double)r.n, neg);
    }
    printf("  %zu errors (rows rejected), %zu warnings, %zu gaps\n", r.nerrors, r.nwarnings,
           r.ngaps);
    for (size_t i = 0; i < r.ngaps; i++)
        printf("  gap: no data from %s to %s (after line %zu)\n",
               d2ev_time_format(r.gaps[i].from, a), d2ev_time_format(r.gaps[i].to, b),
               r.gaps[i].after_line);
    for (size_t i = 0; i < r.ndiag && i < (size_t)c->max_diagnostics; i++)
        printf("%s:%zu: %s: %s\n", c->in.csv, r.diags[i].line,
               r.diags[i].error ? "error" : "warning", r.diags[i].msg);
    int status = r.nerrors ? D2EV_EXIT_FAILURE : D2EV_EXIT_OK;
    fcsv_result_clear(&r);
    return status;
}

/* ------------------------------------------------------------ definitions */

const struct d2ev_service_def d2ev_forecast_publish_def = {
    .name = "forecast",
    .summary = "d2ev-forecast publish: read prices or carbon intensity from a CSV file "
               "(agile, agile-e, carbon, nordpool, eu), report every bad row with its line "
               "number, and publish forecast messages on d2ev.forecasts.",
    .default_admin_port = 0,
    .needs_kafka = false,
    .config_title = "d2ev-forecast publish",
    .config = publish_table,
    .config_size = sizeof(struct publish_config),
    .run = publish_run,
};

const struct d2ev_service_def d2ev_forecast_generate_def = {
    .name = "forecast",
    .summary = "d2ev-forecast generate: publish the project's synthetic day-ahead price and "
               "carbon forecasts (deterministic from --seed), once or every day with --follow.",
    .default_admin_port = 0,
    .needs_kafka = false,
    .config_title = "d2ev-forecast generate",
    .config = generate_table,
    .config_size = sizeof(struct generate_config),
    .run = generate_run,
};

const struct d2ev_service_def d2ev_forecast_check_def = {
    .name = "forecast",
    .summary = "d2ev-forecast check: validate a price or carbon CSV file and print a report "
               "(rows, range, gaps, every bad row). Exits 1 when rows were rejected.",
    .default_admin_port = 0,
    .needs_kafka = false,
    .config_title = "d2ev-forecast check",
    .config = check_table,
    .config_size = sizeof(struct check_config),
    .run = check_run,
};

int d2ev_forecast_main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    const struct d2ev_service_def *def = !strcmp(cmd, "publish")    ? &d2ev_forecast_publish_def
                                         : !strcmp(cmd, "generate") ? &d2ev_forecast_generate_def
                                         : !strcmp(cmd, "check")    ? &d2ev_forecast_check_def
                                                                    : NULL;
    if (!def && !strcmp(cmd, "--help-markdown")) {
        /* every command's settings, for docs/configuration.md */
        const struct d2ev_service_def *all[] = { &d2ev_forecast_publish_def,
                                                 &d2ev_forecast_generate_def,
                                                 &d2ev_forecast_check_def };
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
            char *args[] = { argv[0], (char *)"--help-markdown", NULL };
            int rc = d2ev_service_main(all[i], 2, args);
            if (rc)
                return rc;
        }
        return D2EV_EXIT_OK;
    }
    if (!def) {
        bool version = argc > 1 && (!strcmp(cmd, "--version") || !strcmp(cmd, "-V"));
        if (version) {
            d2ev_config_print_version(stdout, "d2ev-forecast");
            return D2EV_EXIT_OK;
        }
        bool help = argc > 1 && (!strcmp(cmd, "--help") || !strcmp(cmd, "-h"));
        fprintf(help ? stdout : stderr,
                "Usage: d2ev-forecast publish|generate|check [--option=value ...]\n\n"
                "  publish   load a price or carbon CSV file into d2ev.forecasts\n"
                "  generate  publish synthetic day-ahead forecasts (--follow keeps issuing)\n"
                "  check     validate a CSV file and report every bad row\n\n"
                "d2ev-forecast <command> --help lists the command's settings.\n");
        return help ? D2EV_EXIT_OK : D2EV_EXIT_USAGE;
    }
    argv[1] = argv[0];
    return d2ev_service_main(def, argc - 1, argv + 1);
}
