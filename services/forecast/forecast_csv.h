/*
 * forecast_csv.h: read price and carbon series from the CSV formats real data
 * comes in, with one diagnostic per bad row (line number and reason).
 *
 * Formats (docs/scheduling.md "Loading real data" has examples):
 *   agile     Period from,Period to,Agile Import price (p/kWh),Agile Export price (p/kWh)
 *             DD/MM/YYYY HH:MM in UK local time; p/kWh -> GBP/kWh.
 *             column "import" (default) or "export".
 *   agile-e   time,unitrate      ISO 8601 UTC, newest first; p/kWh -> GBP/kWh.
 *   carbon    from,to,forecast,actual,index   UTC "YYYY-MM-DD HH:MM:SS+00:00";
 *             gCO2/kWh; column "forecast" (default) or "actual".
 *   nordpool  HourUTC;HourDK;PriceArea;SpotPriceDKK;SpotPriceEUR   decimal
 *             commas, newest first; EUR/MWh -> EUR/kWh (column "eur", default)
 *             or DKK/MWh -> DKK/kWh ("dkk").
 *   eu        date from;date to;Euro per Mwh;...   DD.MM.YYYY HH:MM in CET/CEST;
 *             EUR/MWh -> EUR/kWh.
 *
 * Local times are converted with the zone's rules: a time that does not exist
 * (spring forward) is an error; a time that happens twice (fall back) is
 * resolved by the order of its two rows, and is an error when the file has it
 * only once (the row could be either hour).
 *
 * Ownership: a struct fcsv_result owns its arrays; release with
 * fcsv_result_clear(). Input bytes are borrowed for the call.
 */
#ifndef D2EV_FORECAST_CSV_H
#define D2EV_FORECAST_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/events.h"

enum fcsv_format { FCSV_AGILE = 0, FCSV_AGILE_E, FCSV_CARBON, FCSV_NORDPOOL, FCSV_EU };

/* "agile", "agile-e", "carbon", "nordpool", "eu". Returns 0 or INVALID. */
int fcsv_format_parse(const char *s, enum fcsv_format *out, struct d2ev_err *err);
const char *fcsv_format_name(enum fcsv_format f);

struct fcsv_options {
    enum fcsv_format format;
    const char *column; /* see above; NULL = the format's default */
    const char *tz;     /* local-time formats; NULL = Europe/London (agile), Europe/Berlin (eu) */
    const char *area;   /* nordpool: keep only this PriceArea; NULL = all (must be one) */
    bool lenient;       /* a row whose end time is wrong but start and value are fine is kept
                           with a warning instead of being rejected */
};

struct fcsv_diag {
    size_t line; /* 1-based line in the file */
    bool error;  /* false = warning (row kept) */
    char msg[200];
};

struct fcsv_point {
    int64_t start; /* UTC ms */
    double value;  /* in `unit` */
    size_t line;
};

struct fcsv_gap {
    int64_t from, to; /* missing [from, to) */
    size_t after_line;
};

struct fcsv_result {
    enum d2ev_forecast_kind kind;
    char unit[D2EV_UNIT_MAX + 1];
    int32_t slot_minutes;
    size_t rows; /* data rows read */
    size_t n;    /* good points, ascending, no duplicates */
    struct fcsv_point *points;
    size_t ndiag, nerrors, nwarnings;
    struct fcsv_diag *diags;
    size_t ngaps;
    struct fcsv_gap *gaps;
};

/* Parse CSV bytes. Bad rows become diagnostics; the call fails (negative
 * code, err says why) only when the input is not the format at all (header)
 * or out of memory. On success release *out with fcsv_result_clear(). */
int fcsv_parse(const char *data, size_t len, const struct fcsv_options *opt,
               struct fcsv_result *out, struct d2ev_err *err);

/* Read and parse a file. */
int fcsv_parse_file(const char *path, const struct fcsv_options *opt, struct fcsv_result *out,
                    struct d2ev_err *err);

void fcsv_result_clear(struct fcsv_result *r);

/* Index of the point starting at t, or -1. */
long fcsv_find(const struct fcsv_result *r, int64_t t);

/* Values of [from, to) (from aligned to the slot) into a new malloc'd array
 * (*values, caller frees; *n entries). Fails with D2EV_ERR_NOT_FOUND when the
 * range is not fully covered, naming the first missing slot. */
int fcsv_slice(const struct fcsv_result *r, int64_t from, int64_t to, double **values, size_t *n,
               struct d2ev_err *err);

/* Longest contiguous run starting at from (aligned); returns its length in
 * slots (0 if from itself is missing). */
size_t fcsv_run_from(const struct fcsv_result *r, int64_t from);

#endif
