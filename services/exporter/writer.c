/* writer.c: durable data files for chunks of rows (see writer.h). */
#include "writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "d2ev/log.h"
#include "index.h"
#include "rowio.h"

/* The file of l holding offset of (topic, partition), or NULL. */
static const struct exp_file_id *covering(const struct exp_listing *l, const char *topic,
                                          int32_t partition, int64_t offset)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct exp_file_id *f = &l->v[i].id;
        if (f->partition == partition && f->first <= offset && offset <= f->last &&
            !strcmp(f->topic, topic))
            return f;
    }
    return NULL;
}

int exp_find_covering(const char *root, int64_t day, const char *topic, int32_t partition,
                      int64_t offset, int64_t *last, struct d2ev_err *err)
{
    char dir[EXP_PATH_MAX];
    struct exp_listing l;
    *last = -1;
    int rc = exp_day_dir(dir, sizeof(dir), root, day, err);
    if (rc || (rc = exp_listing_read(&l, dir, false, err)))
        return rc;
    const struct exp_file_id *f = covering(&l, topic, partition, offset);
    if (f)
        *last = f->last;
    exp_listing_clear(&l);
    return D2EV_OK;
}

/* Statistics of rows [a, b] of c: the chunk's own when that is all of it,
 * else counted again from the lines. */
static int segment_stats(const struct exp_chunk *c, size_t a, size_t b, struct exp_stats *s,
                         struct d2ev_err *err)
{
    exp_stats_init(s);
    for (size_t i = a; i <= b; i++) {
        size_t start = i ? c->ends[i - 1] : 0;
        int rc = exp_stats_add_line(s, c->data.buf + start, c->ends[i] - start - 1, err);
        if (rc)
            return rc;
    }
    return D2EV_OK;
}

/* Write rows [a, b] of c as one data file in dir; record it in l and fresh. */
static int write_segment(const char *dir, int level, const struct exp_chunk *c, size_t a, size_t b,
                         struct exp_listing *l, json_t *fresh, struct exp_write_result *res,
                         struct d2ev_err *err)
{
    struct exp_file_id id;
    snprintf(id.topic, sizeof(id.topic), "%s", exp_topic_names[c->topic]);
    id.partition = c->partition;
    id.first = c->offsets[a];
    id.last = c->offsets[b];
    char name[EXP_NAME_MAX], tmp[EXP_PATH_MAX], dst[EXP_PATH_MAX];
    int rc = exp_file_name(name, sizeof(name), &id, err);
    if (rc)
        return rc;
    snprintf(tmp, sizeof(tmp), "%s/" EXP_TMP_PREFIX "%s.%ld", dir, name, (long)getpid());
    snprintf(dst, sizeof(dst), "%s/%s", dir, name);
    size_t start = a ? c->ends[a - 1] : 0;
    struct exp_span span = { c->data.buf + start, c->ends[b] - start };
    struct exp_stats own, *st = (struct exp_stats *)&c->stats;
    bool whole = a == 0 && b + 1 == c->n;
    if (!whole) {
        if ((rc = segment_stats(c, a, b, &own, err))) {
            exp_stats_clear(&own);
            return rc;
        }
        st = &own;
    }
    uint64_t bytes = 0;
    unlink(tmp); /* a temp of this process that a failed attempt left */
    rc = exp_gz_write(tmp, &span, 1, level, &bytes, err);
    if (rc == D2EV_OK && rename(tmp, dst) != 0) {
        rc =
            d2ev_err_set(err, D2EV_ERR_IO, "cannot rename %s into place: %s", tmp, strerror(errno));
        unlink(tmp);
    }
    if (rc == D2EV_OK) {
        json_t *entry = exp_stats_entry(st, name, &id, bytes);
        if (!entry || json_object_set_new(fresh, name, entry) != 0 ||
            exp_listing_add(l, name, &id) != D2EV_OK)
            rc = d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory indexing %s", dst);
        res->files++;
        res->rows += st->rows;
        res->rows_by_topic[c->topic] += st->rows;
        res->bytes += bytes;
        res->raw_bytes += span.len;
    }
    if (!whole)
        exp_stats_clear(&own);
    return rc;
}

/* Write the rows of c that no file in l holds, as maximal runs. */
static int write_chunk(const char *dir, int level, const struct exp_chunk *c, struct exp_listing *l,
                       json_t *fresh, struct exp_write_result *res, struct d2ev_err *err)
{
    const char *topic = exp_topic_names[c->topic];
    size_t i = 0;
    while (i < c->n) {
        const struct exp_file_id *f = covering(l, topic, c->partition, c->offsets[i]);
        if (f) { /* skip the rows that file holds */
            int64_t end = f->last;
            while (i < c->n && c->offsets[i] <= end) {
                res->skipped_rows++;
                i++;
            }
            continue;
        }
        size_t j = i; /* extend the run until a row some file holds */
        while (j + 1 < c->n && !covering(l, topic, c->partition, c->offsets[j + 1]))
            j++;
        int rc = write_segment(dir, level, c, i, j, l, fresh, res, err);
        if (rc)
            return rc;
        i = j + 1;
    }
    return D2EV_OK;
}

int exp_write_day(const char *root, int level, int64_t day, struct exp_chunk *const *chunks,
                  size_t n, struct exp_write_result *res, struct d2ev_err *err)
{
    char dir[EXP_PATH_MAX], date[11];
    int rc = exp_day_dir_make(dir, sizeof(dir), root, day, err);
    if (rc)
        return rc;
    int lock = exp_dir_lock(dir, err);
    if (lock < 0)
        return err ? err->code : D2EV_ERR_IO;
    struct exp_listing l = { 0 };
    json_t *fresh = json_object();
    if (!fresh)
        rc = d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    else if ((rc = exp_listing_read(&l, dir, true, err)) == D2EV_OK) {
        for (size_t i = 0; rc == D2EV_OK && i < n; i++)
            rc = write_chunk(dir, level, chunks[i], &l, fresh, res, err);
        /* the renames so far stay either way: make them durable and indexed */
        struct d2ev_err err2;
        int rc2 = exp_fsync_dir(dir, &err2);
        if (rc2 == D2EV_OK)
            rc2 = exp_index_update(dir, exp_date_format(day, date), &l, fresh, &err2);
        if (rc == D2EV_OK && rc2 != D2EV_OK) {
            rc = rc2;
            if (err)
                *err = err2;
        }
    }
    if (rc == D2EV_OK) {
        for (size_t i = 0; i < n; i++)
            chunks[i]->written = true;
    }
    exp_listing_clear(&l);
    json_decref(fresh);
    exp_dir_unlock(lock);
    return rc;
}

int exp_write_batch(const char *root, int level, struct exp_batch *b, struct exp_write_result *res,
                    int64_t *days, size_t max_days, size_t *ndays, struct d2ev_err *err)
{
    size_t n = 0, nd = 0;
    struct exp_chunk **chunks = exp_batch_chunks(b, &n);
    if (!chunks && b->rows)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory listing the rows held");
    int rc = D2EV_OK;
    for (size_t i = 0; i < n && rc == D2EV_OK;) { /* sorted by day first */
        size_t j = i;
        while (j < n && chunks[j]->day == chunks[i]->day)
            j++;
        rc = exp_write_day(root, level, chunks[i]->day, chunks + i, j - i, res, err);
        if (days && nd < max_days)
            days[nd++] = chunks[i]->day;
        i = j;
    }
    free(chunks);
    exp_batch_prune(b);
    if (ndays)
        *ndays = nd;
    return rc;
}
