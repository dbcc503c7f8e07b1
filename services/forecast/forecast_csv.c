/* forecast_csv.c: parse real price and carbon CSV files into validated series. */
#include "forecast_csv.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/timefmt.h"
#include "d2ev/tz.h"

#define MAX_FIELDS     8
#define MAX_DIAGS      10000
#define MAX_FILE_BYTES (256L * 1024 * 1024)
#define MINUTE_MS      60000LL

static const char *const format_names[] = { "agile", "agile-e", "carbon", "nordpool", "eu" };

struct format_spec {
    const char *header; /* the header must start with this */
    char delim;
    int slot_minutes;
    int fields; /* exact field count of a row */
    bool local; /* times are local wall-clock */
    const char *default_tz;
};

static const struct format_spec specs[] = {
    [FCSV_AGILE] = { "Period from,Period to,Agile Import price (p/kWh)", ',', 30, 4, true,
                     "Europe/London" },
    [FCSV_AGILE_E] = { "time,unitrate", ',', 30, 2, false, NULL },
    [FCSV_CARBON] = { "from,to,forecast,actual", ',', 30, 5, false, NULL },
    [FCSV_NORDPOOL] = { "HourUTC;HourDK;PriceArea;SpotPriceDKK;SpotPriceEUR", ';', 60, 5, false,
                        NULL },
    [FCSV_EU] = { "date from;date to;Euro per Mwh", ';', 60, 5, true, "Europe/Berlin" },
};

int fcsv_format_parse(const char *s, enum fcsv_format *out, struct d2ev_err *err)
{
    for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
        if (s && !strcmp(s, format_names[i])) {
            *out = (enum fcsv_format)i;
            return D2EV_OK;
        }
    }
    return d2ev_err_set(err, D2EV_ERR_INVALID,
                        "format: want agile, agile-e, carbon, nordpool or eu, got \"%s\"",
                        s ? s : "");
}

const char *fcsv_format_name(enum fcsv_format f)
{
    return (unsigned)f < sizeof(format_names) / sizeof(format_names[0]) ? format_names[f] : "?";
}

/* A row as read, before local times are resolved. */
struct raw {
    size_t line;
    int64_t start, end; /* UTC ms, or local ms for local formats; end INT64_MIN if none */
    int64_t local;      /* local formats: the start as read */
    double value;
    bool bad;
};

struct parser {
    const struct fcsv_options *opt;
    const struct format_spec *spec;
    const struct d2ev_tz *tz;
    struct fcsv_result *res;
    int col;        /* value column index */
    double divisor; /* the file unit per d2ev unit (100 for p/kWh, 1000 for /MWh) */
    bool comma;     /* decimal comma */
    struct raw *rows;
    size_t nrows, caprows;
    char area[32]; /* nordpool: the area seen */
    bool oom;
};

static void diag(struct parser *p, size_t line, bool error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void diag(struct parser *p, size_t line, bool error, const char *fmt, ...)
{
    struct fcsv_result *r = p->res;
    if (error)
        r->nerrors++;
    else
        r->nwarnings++;
    if (r->ndiag >= MAX_DIAGS)
        return;
    if (r->ndiag % 64 == 0) {
        struct fcsv_diag *nd = realloc(r->diags, (r->ndiag + 64) * sizeof(*nd));
        if (!nd) {
            p->oom = true;
            return;
        }
        r->diags = nd;
    }
    struct fcsv_diag *d = &r->diags[r->ndiag++];
    d->line = line;
    d->error = error;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ fields */

static int two(const char *s, int *v)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    *v = (s[0] - '0') * 10 + (s[1] - '0');
    return 0;
}

static int civil_ms(int y, int mo, int d, int h, int mi, int64_t *out)
{
    static const int md[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > md[mo - 1] || h > 23 || mi > 59)
        return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return -1;
    *out = d2ev_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400000LL + h * 3600000LL +
           mi * MINUTE_MS;
    return 0;
}

/* "DD/MM/YYYY HH:MM" or "DD.MM.YYYY HH:MM" (sep) as local ms. */
static int parse_dmy(const char *s, char sep, int64_t *out)
{
    int d, mo, c, yy, h, mi;
    if (strlen(s) != 16 || s[2] != sep || s[5] != sep || s[10] != ' ' || s[13] != ':' ||
        two(s, &d) || two(s + 3, &mo) || two(s + 6, &c) || two(s + 8, &yy) || two(s + 11, &h) ||
        two(s + 14, &mi))
        return -1;
    return civil_ms(c * 100 + yy, mo, d, h, mi, out);
}

/* "YYYY-MM-DD HH:MM" (UTC, Nord Pool). */
static int parse_ymd_hm(const char *s, int64_t *out)
{
    int c, yy, mo, d, h, mi;
    if (strlen(s) != 16 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
        s[13] != ':' || two(s, &c) || two(s + 2, &yy) || two(s + 5, &mo) || two(s + 8, &d) ||
        two(s + 11, &h) || two(s + 14, &mi))
        return -1;
    return civil_ms(c * 100 + yy, mo, d, h, mi, out);
}

static int parse_number(const char *s, bool comma, double *out)
{
    char buf[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(buf))
        return -1;
    bool dot = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (comma && c == ',')
            c = '.';
        else if (comma && c == '.')
            return -1; /* a thousands separator or a mixed-up locale */
        if (c == '.') {
            if (dot)
                return -1;
            dot = true;
        } else if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E')) {
            return -1;
        }
        buf[i] = c;
    }
    buf[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static size_t split(char *line, char delim, char **f, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        char *q = strchr(p, delim);
        if (q)
            *q = '\0';
        if (n < max) {
            size_t l = strlen(p); /* strip simple quotes and spaces */
            while (l && (p[l - 1] == ' ' || p[l - 1] == '"'))
                p[--l] = '\0';
            while (*p == ' ' || *p == '"')
                p++;
            f[n] = p;
        }
        n++;
        if (!q)
            break;
        p = q + 1;
    }
    return n;
}

/* ------------------------------------------------------------ rows */

static void add_row(struct parser *p, const struct raw *r)
{
    if (p->nrows == p->caprows) {
        size_t cap = p->caprows ? p->caprows * 2 : 1024;
        struct raw *nr = realloc(p->rows, cap * sizeof(*nr));
        if (!nr) {
            p->oom = true;
            return;
        }
        p->rows = nr;
        p->caprows = cap;
    }
    p->rows[p->nrows++] = *r;
}

static const char *time_kind(const struct parser *p)
{
    return p->spec->local ? "local time" : "time";
}

static void parse_row(struct parser *p, size_t line, char *text)
{
    char *f[MAX_FIELDS];
    size_t nf = split(text, p->spec->delim, f, MAX_FIELDS);
    p->res->rows++;
    if (nf != (size_t)p->spec->fields) {
        diag(p, line, true, "expected %d fields separated by '%c', got %zu%s", p->spec->fields,
             p->spec->delim, nf,
             nf > (size_t)p->spec->fields && p->spec->delim == ',' ? " (a decimal comma?)" : "");
        return;
    }
    struct raw r = { .line = line, .end = INT64_MIN };
    int rc = 0;
    struct d2ev_err e;
    switch (p->opt->format) {
    case FCSV_AGILE:
        rc = parse_dmy(f[0], '/', &r.start);
        if (!rc && parse_dmy(f[1], '/', &r.end)) {
            diag(p, line, true, "end \"%s\" is not a DD/MM/YYYY HH:MM time", f[1]);
            return;
        }
        break;
    case FCSV_EU:
        rc = parse_dmy(f[0], '.', &r.start);
        if (!rc && parse_dmy(f[1], '.', &r.end)) {
            diag(p, line, true, "end \"%s\" is not a DD.MM.YYYY HH:MM time", f[1]);
            return;
        }
        break;
    case FCSV_AGILE_E:
        rc = d2ev_time_parse(f[0], &r.start, &e);
        break;
    case FCSV_CARBON:
        rc = d2ev_time_parse(f[0], &r.start, &e);
        if (!rc && d2ev_time_parse(f[1], &r.end, &e)) {
            diag(p, line, true, "end \"%s\" is not a time: %s", f[1], e.msg);
            return;
        }
        break;
    case FCSV_NORDPOOL:
        rc = parse_ymd_hm(f[0], &r.start);
        if (!rc && p->opt->area && strcmp(f[2], p->opt->area) != 0)
            return; /* another area: not ours */
        if (!rc && !p->opt->area) {
            if (!p->area[0])
                snprintf(p->area, sizeof(p->area), "%s", f[2]);
            else if (strcmp(p->area, f[2]) != 0) {
                diag(p, line, true,
                     "PriceArea %s differs from %s in earlier rows; choose one with --area", f[2],
                     p->area);
                return;
            }
        }
        break;
    }
    if (rc) {
        diag(p, line, true, "start \"%s\" is not a valid %s", f[0], time_kind(p));
        return;
    }
    if (!*f[p->col]) {
        diag(p, line, true, "value is empty");
        return;
    }
    if (parse_number(f[p->col], p->comma, &r.value)) {
        diag(p, line, true, "value \"%s\" is not a number%s", f[p->col],
             p->comma ? " (this format uses a decimal comma)" : "");
        return;
    }
    r.value /= p->divisor; /* a division gives the double nearest the decimal value */
    if (p->res->kind == D2EV_FORECAST_CARBON) {
        if (r.value < 0) {
            diag(p, line, true, "carbon intensity %g is negative", r.value);
            return;
        }
        if (r.value == 0 && nf > 2 && p->col == 3)
            diag(p, line, false,
                 "actual intensity 0 looks like an upstream glitch (forecast was %s); kept", f[2]);
    }
    add_row(p, &r);
}

static void fmt_local(int64_t local, char *buf, size_t size)
{
    char t[D2EV_TIME_STR_MAX];
    d2ev_time_format(local, t);
    snprintf(buf, size, "%.10s %.5s", t, t + 11);
}

/* Local times to UTC: gaps are errors, folds are resolved by file order. */
static void resolve_local(struct parser *p)
{
    if (!p->nrows)
        return;
    bool ascending = p->rows[0].start <= p->rows[p->nrows - 1].start;
    int64_t slot = (int64_t)p->spec->slot_minutes * MINUTE_MS;
    for (size_t i = 0; i < p->nrows; i++)
        p->rows[i].local = p->rows[i].start;
    for (size_t i = 0; i < p->nrows; i++) {
        struct raw *r = &p->rows[i];
        char lt[32];
        fmt_local(r->start, lt, sizeof(lt));
        int64_t u;
        enum d2ev_tz_local_kind k = d2ev_tz_from_local(p->tz, r->start, false, &u);
        if (k == D2EV_TZ_GAP) {
            diag(p, r->line, true, "local time %s does not exist in %s (clocks went forward)", lt,
                 d2ev_tz_name(p->tz));
            r->bad = true;
            continue;
        }
        if (k == D2EV_TZ_FOLD) {
            size_t before = 0, total = 0;
            for (size_t j = 0; j < p->nrows; j++) {
                if (p->rows[j].local == r->local) {
                    total++;
                    if (j < i)
                        before++;
                }
            }
            if (total == 1) {
                diag(p, r->line, true,
                     "local time %s happens twice in %s (clocks went back) and the file has it "
                     "once: cannot tell which hour it is",
                     lt, d2ev_tz_name(p->tz));
                r->bad = true;
                continue;
            }
            if (before >= 2) {
                diag(p, r->line, true, "local time %s appears more than twice", lt);
                r->bad = true;
                continue;
            }
            bool later = ascending ? before == 1 : before == 0;
            d2ev_tz_from_local(p->tz, r->start, later, &u);
        }
        int64_t local_end = r->end;
        r->start = u;
        if (local_end == INT64_MIN)
            continue;
        int64_t e1, e2;
        d2ev_tz_from_local(p->tz, local_end, false, &e1);
        d2ev_tz_from_local(p->tz, local_end, true, &e2);
        /* files write the end either as the true instant or, around a DST
         * change, as the start's wall-clock reading plus the slot */
        bool ok = e1 == u + slot || e2 == u + slot || local_end == r->local + slot;
        r->end = ok ? u + slot : e1;
        if (r->end != u + slot) {
            char et[32];
            fmt_local(local_end, et, sizeof(et));
            diag(p, r->line, !p->opt->lenient, "end %s is not %d minutes after the start %s%s", et,
                 p->spec->slot_minutes, lt, p->opt->lenient ? "; kept (lenient)" : "");
            r->bad = !p->opt->lenient;
        }
    }
}

static void check_utc_ends(struct parser *p)
{
    int64_t slot = (int64_t)p->spec->slot_minutes * MINUTE_MS;
    for (size_t i = 0; i < p->nrows; i++) {
        struct raw *r = &p->rows[i];
        if (r->end == INT64_MIN || r->end == r->start + slot)
            continue;
        char a[D2EV_TIME_STR_MAX], b[D2EV_TIME_STR_MAX];
        diag(p, r->line, !p->opt->lenient, "end %s is not %d minutes after the start %s%s",
             d2ev_time_format(r->end, b), p->spec->slot_minutes, d2ev_time_format(r->start, a),
             p->opt->lenient ? "; kept (lenient)" : "");
        r->bad = !p->opt->lenient;
    }
}

static int by_start(const void *a, const void *b)
{
    const struct fcsv_point *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static void finish(struct parser *p)
{
    struct fcsv_result *r = p->res;
    int64_t slot = (int64_t)p->spec->slot_minutes * MINUTE_MS;
    r->points = malloc((p->nrows ? p->nrows : 1) * sizeof(*r->points));
    if (!r->points) {
        p->oom = true;
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < p->nrows; i++) {
        struct raw *w = &p->rows[i];
        if (w->bad)
            continue;
        if (d2ev_floor_div(w->start, slot) * slot != w->start) {
            char t[D2EV_TIME_STR_MAX];
            diag(p, w->line, true, "start %s is not on a %d-minute boundary",
                 d2ev_time_format(w->start, t), p->spec->slot_minutes);
            continue;
        }
        r->points[n++] = (struct fcsv_point){ w->start, w->value, w->line };
    }
    qsort(r->points, n, sizeof(*r->points), by_start);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && r->points[m - 1].start == r->points[i].start) {
            char t[D2EV_TIME_STR_MAX];
            diag(p, r->points[i].line, true, "duplicate of line %zu (both start %s)",
                 r->points[m - 1].line, d2ev_time_format(r->points[i].start, t));
            continue;
        }
        r->points[m++] = r->points[i];
    }
    r->n = m;
    for (size_t i = 1; i < m; i++) {
        if (r->points[i].start - r->points[i - 1].start == slot)
            continue;
        struct fcsv_gap *ng = realloc(r->gaps, (r->ngaps + 1) * sizeof(*ng));
        if (!ng) {
            p->oom = true;
            return;
        }
        r->gaps = ng;
        r->gaps[r->ngaps++] = (struct fcsv_gap){ r->points[i - 1].start + slot, r->points[i].start,
                                                 r->points[i - 1].line };
    }
}

static int setup(struct parser *p, struct d2ev_err *err)
{
    const struct fcsv_options *o = p->opt;
    const char *col = o->column;
    struct fcsv_result *r = p->res;
    r->kind = D2EV_FORECAST_PRICE;
    r->slot_minutes = p->spec->slot_minutes;
    switch (o->format) {
    case FCSV_AGILE:
        if (col && strcmp(col, "import") && strcmp(col, "export"))
            return d2ev_err_set(err, D2EV_ERR_INVALID, "column: agile has import or export");
        p->col = col && !strcmp(col, "export") ? 3 : 2;
        p->divisor = 100;
        snprintf(r->unit, sizeof(r->unit), "GBP/kWh");
        break;
    case FCSV_AGILE_E:
        if (col && strcmp(col, "unitrate"))
            return d2ev_err_set(err, D2EV_ERR_INVALID, "column: agile-e has only unitrate");
        p->col = 1;
        p->divisor = 100;
        snprintf(r->unit, sizeof(r->unit), "GBP/kWh");
        break;
    case FCSV_CARBON:
        if (col && strcmp(col, "forecast") && strcmp(col, "actual"))
            return d2ev_err_set(err, D2EV_ERR_INVALID, "column: carbon has forecast or actual");
        p->col = col && !strcmp(col, "actual") ? 3 : 2;
        p->divisor = 1;
        r->kind = D2EV_FORECAST_CARBON;
        snprintf(r->unit, sizeof(r->unit), "gCO2/kWh");
        break;
    case FCSV_NORDPOOL:
        if (col && strcmp(col, "eur") && strcmp(col, "dkk"))
            return d2ev_err_set(err, D2EV_ERR_INVALID, "column: nordpool has eur or dkk");
        p->col = col && !strcmp(col, "dkk") ? 3 : 4;
        p->divisor = 1000;
        p->comma = true;
        snprintf(r->unit, sizeof(r->unit), "%s", p->col == 3 ? "DKK/kWh" : "EUR/kWh");
        break;
    case FCSV_EU:
        if (col && strcmp(col, "eur"))
            return d2ev_err_set(err, D2EV_ERR_INVALID, "column: eu has only eur");
        p->col = 2;
        p->divisor = 1000;
        snprintf(r->unit, sizeof(r->unit), "EUR/kWh");
        break;
    default:
        return d2ev_err_set(err, D2EV_ERR_INVALID, "unknown format");
    }
    if (p->spec->local) {
        const char *zone = o->tz ? o->tz : p->spec->default_tz;
        p->tz = d2ev_tz_get(zone, err);
        if (!p->tz)
            return err ? err->code : D2EV_ERR_INVALID;
    }
    return D2EV_OK;
}

int fcsv_parse(const char *data, size_t len, const struct fcsv_options *opt,
               struct fcsv_result *out, struct d2ev_err *err)
{
    memset(out, 0, sizeof(*out));
    if ((unsigned)opt->format >= sizeof(specs) / sizeof(specs[0]))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "unknown format");
    struct parser p = { .opt = opt, .spec = &specs[opt->format], .res = out };
    int rc = setup(&p, err);
    if (rc)
        return rc;
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) {
        data += 3;
        len -= 3;
    }
    char *line = NULL;
    size_t linecap = 0, lineno = 0;
    const char *pos = data, *end = data + len;
    while (pos < end && !p.oom) {
        const char *nl = memchr(pos, '\n', (size_t)(end - pos));
        size_t l = (size_t)((nl ? nl : end) - pos);
        lineno++;
        if (l + 1 > linecap) {
            char *nlb = realloc(line, l + 1);
            if (!nlb) {
                p.oom = true;
                break;
            }
            line = nlb;
            linecap = l + 1;
        }
        memcpy(line, pos, l);
        line[l] = '\0';
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        pos = nl ? nl + 1 : end;
        /* line 1 is always checked as the header: a NUL in it must not skip that */
        if (lineno > 1 && memchr(line, '\0', l) != NULL && strlen(line) != l) {
            diag(&p, lineno, true, "line contains a NUL byte");
            continue;
        }
        if (lineno == 1) {
            if (strncmp(line, p.spec->header, strlen(p.spec->header)) != 0) {
                d2ev_err_set(err, D2EV_ERR_INVALID,
                             "line 1: header \"%.60s\" is not the %s format (want \"%s\")", line,
                             fcsv_format_name(opt->format), p.spec->header);
                free(line);
                free(p.rows);
                fcsv_result_clear(out);
                return D2EV_ERR_INVALID;
            }
            continue;
        }
        if (l == 0)
            continue;
        parse_row(&p, lineno, line);
    }
    free(line);
    if (lineno == 0 && !p.oom) {
        free(p.rows);
        return d2ev_err_set(err, D2EV_ERR_INVALID, "the file is empty");
    }
    if (!p.oom) {
        if (p.spec->local)
            resolve_local(&p);
        else
            check_utc_ends(&p);
        finish(&p);
    }
    free(p.rows);
    if (p.oom) {
        fcsv_result_clear(out);
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    }
    return D2EV_OK;
}

int fcsv_parse_file(const char *path, const struct fcsv_options *opt, struct fcsv_result *out,
                    struct d2ev_err *err)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (!f)
        return d2ev_err_set(err, D2EV_ERR_IO, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 > cap) {
            if (cap > (size_t)MAX_FILE_BYTES) {
                free(buf);
                fclose(f);
                return d2ev_err_set(err, D2EV_ERR_LIMIT, "%s: larger than %ld bytes", path,
                                    MAX_FILE_BYTES);
            }
            cap = cap ? cap * 2 : 1 << 20;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return d2ev_err_set(err, D2EV_ERR_IO, "%s: read error", path);
    }
    int rc = fcsv_parse(buf ? buf : "", len, opt, out, err);
    free(buf);
    if (rc)
        d2ev_err_prefix(err, "%s", path);
    return rc;
}

void fcsv_result_clear(struct fcsv_result *r)
{
    free(r->points);
    free(r->diags);
    free(r->gaps);
    memset(r, 0, sizeof(*r));
}

long fcsv_find(const struct fcsv_result *r, int64_t t)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->points[mid].start < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->n && r->points[lo].start == t ? (long)lo : -1;
}

size_t fcsv_run_from(const struct fcsv_result *r, int64_t from)
{
    long i = fcsv_find(r, from);
    if (i < 0)
        return 0;
    int64_t slot = (int64_t)r->slot_minutes * MINUTE_MS;
    size_t k = 1;
    while ((size_t)i + k < r->n && r->points[i + (long)k].start == from + (int64_t)k * slot)
        k++;
    return k;
}

int fcsv_slice(const struct fcsv_result *r, int64_t from, int64_t to, double **values, size_t *n,
               struct d2ev_err *err)
{
    int64_t slot = (int64_t)r->slot_minutes * MINUTE_MS;
    if (to <= from || d2ev_floor_div(from, slot) * slot != from)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "the range must start on a %d-minute boundary and not be empty",
                            (int)r->slot_minutes);
    size_t want = (size_t)((to - from + slot - 1) / slot);
    size_t have = fcsv_run_from(r, from);
    if (have < want) {
        char t[D2EV_TIME_STR_MAX];
        return d2ev_err_set(err, D2EV_ERR_NOT_FOUND, "no data for the slot starting %s",
                            d2ev_time_format(from + (int64_t)have * slot, t));
    }
    long i = fcsv_find(r, from);
    *values = malloc(want * sizeof(double));
    if (!*values)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < want; k++)
        (*values)[k] = r->points[(size_t)i + k].value;
    *n = want;
    return D2EV_OK;
}
