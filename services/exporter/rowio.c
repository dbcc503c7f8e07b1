/* rowio.c: gzip NDJSON files (see rowio.h). */
#include "rowio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define OUT_CHUNK (256 * 1024)
#define IN_CHUNK  (256 * 1024)

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int exp_gz_write(const char *path, const struct exp_span *spans, size_t n, int level,
                 uint64_t *out_bytes, struct d2ev_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return d2ev_err_set(err, D2EV_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    unsigned char *out = malloc(OUT_CHUNK);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* windowBits 15 + 16: a gzip wrapper, so zcat, gzip -t and DuckDB read it */
    if (!out || deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(out);
        close(fd);
        unlink(path);
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "cannot start gzip for %s", path);
    }
    uint64_t total = 0;
    int rc = D2EV_OK;
    for (size_t i = 0; i <= n && rc == D2EV_OK; i++) {
        bool last = i == n;
        zs.next_in = last ? NULL : (unsigned char *)spans[i].p;
        zs.avail_in = last ? 0 : (uInt)spans[i].len;
        int zr;
        do {
            zs.next_out = out;
            zs.avail_out = OUT_CHUNK;
            zr = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
            size_t have = OUT_CHUNK - zs.avail_out;
            if (zr == Z_STREAM_ERROR || write_all(fd, out, have) != 0) {
                rc = d2ev_err_set(err, D2EV_ERR_IO, "cannot write %s: %s", path,
                                  zr == Z_STREAM_ERROR ? "gzip stream error" : strerror(errno));
                break;
            }
            total += have;
        } while (zs.avail_out == 0 || (last && zr != Z_STREAM_END));
    }
    deflateEnd(&zs);
    free(out);
    if (rc == D2EV_OK && fsync(fd) != 0)
        rc = d2ev_err_set(err, D2EV_ERR_IO, "cannot fsync %s: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == D2EV_OK)
        rc = d2ev_err_set(err, D2EV_ERR_IO, "cannot close %s: %s", path, strerror(errno));
    if (rc != D2EV_OK)
        unlink(path);
    else if (out_bytes)
        *out_bytes = total;
    return rc;
}

int exp_rows_read(const char *path, exp_line_fn fn, void *arg, uint64_t *raw_bytes,
                  struct d2ev_err *err)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return d2ev_err_set(err, D2EV_ERR_IO, "cannot open %s: %s", path,
                            errno ? strerror(errno) : "out of memory");
    gzbuffer(gz, IN_CHUNK);
    size_t cap = IN_CHUNK * 2, len = 0;
    char *buf = malloc(cap);
    uint64_t total = 0;
    int rc = buf ? D2EV_OK : d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    while (rc == D2EV_OK) {
        if (cap - len < IN_CHUNK) {
            if (cap >= EXP_LINE_MAX * 2) {
                rc = d2ev_err_set(err, D2EV_ERR_LIMIT, "%s: a line is longer than %d bytes", path,
                                  EXP_LINE_MAX);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
                break;
            }
            buf = nb;
            cap *= 2;
        }
        int got = gzread(gz, buf + len, (unsigned)(cap - len));
        if (got < 0) {
            int zerr;
            const char *m = gzerror(gz, &zerr);
            rc = d2ev_err_set(err, D2EV_ERR_IO, "cannot read %s: %s", path, m);
            break;
        }
        total += (uint64_t)got;
        len += (size_t)got;
        size_t start = 0;
        for (char *nl; rc == D2EV_OK && (nl = memchr(buf + start, '\n', len - start));) {
            size_t end = (size_t)(nl - buf);
            if (end > start)
                rc = fn(arg, buf + start, end - start);
            start = end + 1;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        if (got == 0) {
            if (rc == D2EV_OK && len > 0) /* a last line without a newline */
                rc = fn(arg, buf, len);
            break;
        }
    }
    free(buf);
    gzclose(gz);
    if (rc == D2EV_OK && raw_bytes)
        *raw_bytes = total;
    return rc;
}
