/*
 * libFuzzer harness for the forecast CSV reader (services/forecast/forecast_csv.c),
 * compiled into the harness so the libFuzzer build instruments it.
 *
 * Input: two option bytes, then the CSV text.
 *   byte 0   format: (b & 7) % 5 of agile, agile-e, carbon, nordpool, eu;
 *            0x08 the other column (export, actual, dkk), 0x10 lenient,
 *            0x20 an unknown column (a setup error)
 *   byte 1   time zone tzs[b & 7] (local-time formats); area areas[(b >> 3) & 3]
 *
 * Properties checked on every input:
 *   - nothing crashes, leaks or trips a sanitizer;
 *   - a failure says why, and leaves the result empty; success means line 1
 *     is the format's header;
 *   - every data row is accounted for: it is a point, or has an error with
 *     its line number (or is a Nord Pool row of another area, skipped by
 *     request); a point's line has no error; every diagnostic names a line
 *     of the file and says something; the counts add up;
 *   - points are finite (carbon >= 0), on the slot grid, strictly ascending;
 *     gaps lie between points.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forecast_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DIAGS 10000 /* forecast_csv.c keeps this many diagnostics */

static const char *const other_column[] = { "export", "unitrate", "actual", "dkk", "eur" };
static const char *const headers[] = { "Period from,Period to,Agile Import price (p/kWh)",
                                       "time,unitrate", "from,to,forecast,actual",
                                       "HourUTC;HourDK;PriceArea;SpotPriceDKK;SpotPriceEUR",
                                       "date from;date to;Euro per Mwh" };
static const char *const tzs[8] = { NULL,
                                    "UTC",
                                    "America/New_York",
                                    "Australia/Lord_Howe", /* 30-minute DST */
                                    "Europe/Dublin",       /* negative DST in tzdata */
                                    "Pacific/Chatham",
                                    "Europe/London",
                                    "No/Such_Zone" };
static const char *const areas[4] = { NULL, "DK1", "DK2", "SE3" };

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* What the reader must say about one line. */
enum { L_NONE = 0, L_DATA = 1, L_POINT = 2, L_ERROR = 4 };

/* True when a Nord Pool row's PriceArea (third field, trimmed as the reader
 * trims) differs from area: the reader skips such rows silently. */
static bool other_area(const char *line, size_t len, const char *area)
{
    const char *p = line, *end = line + len;
    for (int i = 0; i < 2; i++) {
        p = memchr(p, ';', (size_t)(end - p));
        if (!p)
            return false;
        p++;
    }
    const char *q = memchr(p, ';', (size_t)(end - p));
    q = q ? q : end;
    while (p < q && (*p == ' ' || *p == '"'))
        p++;
    while (q > p && (q[-1] == ' ' || q[-1] == '"'))
        q--;
    return strlen(area) != (size_t)(q - p) || memcmp(p, area, (size_t)(q - p)) != 0;
}

static void check_result(const char *text, size_t len, const struct fcsv_options *opt,
                         const struct fcsv_result *r)
{
    /* the lines as the reader splits them */
    size_t nlines = 0;
    for (size_t i = 0; i < len; i++)
        nlines += text[i] == '\n';
    nlines += len && text[len - 1] != '\n';
    uint8_t *mark = calloc(nlines + 2, 1);
    const char **start = calloc(nlines + 2, sizeof(*start));
    size_t *length = calloc(nlines + 2, sizeof(*length));
    size_t lineno = 0, rows = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = (size_t)((nl ? nl : end) - p);
        if (l && p[l - 1] == '\r')
            l--;
        lineno++;
        start[lineno] = p;
        length[lineno] = l;
        if (lineno == 1) {
            check(l >= strlen(headers[opt->format]) &&
                  !memcmp(p, headers[opt->format], strlen(headers[opt->format])));
        } else if (l) {
            mark[lineno] = L_DATA;
            rows += memchr(p, '\0', l) == NULL;
        }
        p = nl ? nl + 1 : end;
    }
    check(lineno == nlines);
    check(r->rows == rows);

    int64_t slot = (int64_t)r->slot_minutes * 60000;
    check(slot > 0 && r->n <= rows && (r->n == 0 || r->points));
    for (size_t i = 0; i < r->n; i++) {
        const struct fcsv_point *pt = &r->points[i];
        check(isfinite(pt->value));
        check(r->kind != D2EV_FORECAST_CARBON || pt->value >= 0);
        check(pt->start % slot == 0);
        check(i == 0 || pt->start > r->points[i - 1].start);
        check(pt->line >= 2 && pt->line <= nlines && (mark[pt->line] & L_DATA));
        mark[pt->line] |= L_POINT;
    }
    for (size_t i = 0; i < r->ngaps; i++)
        check(r->gaps[i].from < r->gaps[i].to && r->n >= 2);

    check(r->ndiag <= MAX_DIAGS && r->ndiag <= r->nerrors + r->nwarnings);
    size_t errors = 0;
    for (size_t i = 0; i < r->ndiag; i++) {
        const struct fcsv_diag *d = &r->diags[i];
        check(d->line >= 1 && d->line <= nlines);
        check(d->msg[0] != '\0' && memchr(d->msg, '\0', sizeof(d->msg)));
        if (d->error) {
            mark[d->line] |= L_ERROR;
            errors++;
        }
    }
    if (r->ndiag < MAX_DIAGS) {
        check(r->ndiag == r->nerrors + r->nwarnings && errors == r->nerrors);
        for (size_t l = 2; l <= nlines; l++) {
            if (!(mark[l] & L_DATA))
                continue;
            bool point = mark[l] & L_POINT, error = mark[l] & L_ERROR;
            check(!(point && error)); /* a kept row has no error */
            if (!point && !error)     /* only another area's rows go without a word */
                check(opt->format == FCSV_NORDPOOL && opt->area &&
                      other_area(start[l], length[l], opt->area));
        }
    }
    free(mark);
    free(start);
    free(length);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 65536)
        return 0;
    uint8_t o = data[0], t = data[1];
    struct fcsv_options opt = {
        .format = (enum fcsv_format)((o & 7) % 5),
        .lenient = o & 0x10,
        .tz = tzs[t & 7],
        .area = areas[(t >> 3) & 3],
    };
    opt.column = o & 0x20 ? "bogus" : o & 0x08 ? other_column[opt.format] : NULL;
    const char *text = (const char *)data + 2;
    size_t len = size - 2;

    struct fcsv_result r;
    struct d2ev_err err = { 0 };
    if (fcsv_parse(text, len, &opt, &r, &err) != D2EV_OK) {
        check(err.msg[0] != '\0');
        check(r.n == 0 && !r.points && !r.diags && !r.gaps);
        return 0;
    }
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
        text += 3;
        len -= 3;
    }
    check_result(text, len, &opt, &r);
    fcsv_result_clear(&r);
    return 0;
}
