/*
 * rowio.h: gzip NDJSON in and out.
 *
 * exp_gz_write() compresses byte ranges into a new file, fsyncs it and
 * leaves it closed; exp_rows_read() calls a function for every line of a
 * (possibly multi-member) gzip file.
 */
#ifndef D2EV_EXPORT_ROWIO_H
#define D2EV_EXPORT_ROWIO_H

#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"

/* The longest line read back: a 1 MiB record plus the exporter's fields. */
#define EXP_LINE_MAX (1024 * 1024 + 4096)

/* One piece of the uncompressed content. */
struct exp_span {
    const char *p;
    size_t len;
};

/* Create path (O_EXCL), gzip the spans into it at `level` (1..9), fsync and
 * close. *out_bytes receives the compressed size. On failure the file is
 * removed. Returns 0 or D2EV_ERR_IO / D2EV_ERR_NOMEM. */
int exp_gz_write(const char *path, const struct exp_span *spans, size_t n, int level,
                 uint64_t *out_bytes, struct d2ev_err *err);

/* Called for each line (without its newline). Return 0 to go on, non-zero to
 * stop: exp_rows_read then returns that value. */
typedef int (*exp_line_fn)(void *arg, const char *line, size_t len);

/* Read every line of the gzip file at path. *raw_bytes (may be NULL)
 * receives the uncompressed size. Returns 0, fn's non-zero value, or
 * D2EV_ERR_IO (cannot open, corrupt data) / D2EV_ERR_LIMIT (a line longer
 * than EXP_LINE_MAX). */
int exp_rows_read(const char *path, exp_line_fn fn, void *arg, uint64_t *raw_bytes,
                  struct d2ev_err *err);

#endif
