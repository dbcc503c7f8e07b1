/* index.c: day directory listings, the writer lock and index.json (see index.h). */
#include "index.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "d2ev/clock.h"
#include "d2ev/json.h"
#include "d2ev/log.h"
#include "d2ev/strbuf.h"
#include "d2ev/timefmt.h"
#include "rowio.h"
#include "stats.h"

int exp_listing_add(struct exp_listing *l, const char *name, const struct exp_file_id *id)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct exp_listed *nv = realloc(l->v, cap * sizeof(*nv));
        if (!nv)
            return D2EV_ERR_NOMEM;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n].id = *id;
    snprintf(l->v[l->n].name, EXP_NAME_MAX, "%s", name);
    l->n++;
    return D2EV_OK;
}

void exp_listing_clear(struct exp_listing *l)
{
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static int cmp_listed(const void *a, const void *b)
{
    return strcmp(((const struct exp_listed *)a)->name, ((const struct exp_listed *)b)->name);
}

int exp_listing_read(struct exp_listing *l, const char *dir, bool remove_temps,
                     struct d2ev_err *err)
{
    memset(l, 0, sizeof(*l));
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return D2EV_OK;
        return d2ev_err_set(err, D2EV_ERR_IO, "cannot list %s: %s", dir, strerror(errno));
    }
    int rc = D2EV_OK;
    struct dirent *e;
    while (rc == D2EV_OK && (e = readdir(d))) {
        struct exp_file_id id;
        if (exp_file_parse(e->d_name, &id)) {
            if (exp_listing_add(l, e->d_name, &id) != D2EV_OK)
                rc = d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory listing %s", dir);
        } else if (remove_temps && !strncmp(e->d_name, EXP_TMP_PREFIX, strlen(EXP_TMP_PREFIX))) {
            char path[EXP_PATH_MAX];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (unlink(path) == 0)
                d2ev_log_info("removed a temp file left by a crash", D2EV_LF_STR("path", path));
        }
    }
    closedir(d);
    if (rc == D2EV_OK && l->n)
        qsort(l->v, l->n, sizeof(*l->v), cmp_listed);
    if (rc != D2EV_OK)
        exp_listing_clear(l);
    return rc;
}

int exp_dir_lock(const char *dir, struct d2ev_err *err)
{
    char path[EXP_PATH_MAX];
    snprintf(path, sizeof(path), "%s/" EXP_LOCK_NAME, dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        d2ev_err_set(err, D2EV_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    while (fcntl(fd, F_SETLKW, &fl) != 0) {
        if (errno == EINTR)
            continue;
        d2ev_err_set(err, D2EV_ERR_IO, "cannot lock %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void exp_dir_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the record lock */
}

json_t *exp_index_load(const char *dir, struct d2ev_err *err)
{
    char path[EXP_PATH_MAX];
    snprintf(path, sizeof(path), "%s/" EXP_INDEX_NAME, dir);
    json_error_t je;
    json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        if (access(path, F_OK) != 0)
            d2ev_err_set(err, D2EV_ERR_NOT_FOUND, "no index at %s", path);
        else
            d2ev_err_set(err, D2EV_ERR_INVALID, "%s: %s at line %d", path, je.text, je.line);
        return NULL;
    }
    if (!json_is_array(json_object_get(o, "files"))) {
        json_decref(o);
        d2ev_err_set(err, D2EV_ERR_INVALID, "%s: no files array", path);
        return NULL;
    }
    return o;
}

static int count_line(void *arg, const char *line, size_t len)
{
    struct exp_stats *s = arg;
    struct d2ev_err err;
    int rc = exp_stats_add_line(s, line, len, &err);
    return rc == D2EV_ERR_INVALID ? D2EV_OK : rc; /* a stray line is not a row: not counted */
}

/* The entry of a file that has none, by reading it back. */
static json_t *entry_from_file(const char *dir, const char *name, const struct exp_file_id *id,
                               struct d2ev_err *err)
{
    char path[EXP_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) != 0) {
        d2ev_err_set(err, D2EV_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
        return NULL;
    }
    struct exp_stats s;
    exp_stats_init(&s);
    json_t *entry = NULL;
    if (exp_rows_read(path, count_line, &s, NULL, err) == D2EV_OK)
        entry = exp_stats_entry(&s, name, id, (uint64_t)st.st_size);
    exp_stats_clear(&s);
    if (entry)
        d2ev_log_info("indexed a file that had no index entry", D2EV_LF_STR("path", path));
    return entry;
}

static void add_int(json_t *obj, const char *key, json_int_t v)
{
    json_object_set_new(obj, key, json_integer(json_integer_value(json_object_get(obj, key)) + v));
}

/* Totals over the entries: counts, time range, distinct vehicles, rows per topic. */
static json_t *totals(json_t *files)
{
    json_t *t = json_object(), *by_topic = json_object();
    struct exp_strset vehicles = { 0 };
    const char *min_ts = NULL, *max_ts = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(files, i, e)
    {
        add_int(t, "rows", json_integer_value(json_object_get(e, "rows")));
        add_int(t, "bytes", json_integer_value(json_object_get(e, "bytes")));
        add_int(t, "raw_bytes", json_integer_value(json_object_get(e, "raw_bytes")));
        add_int(by_topic, json_string_value(json_object_get(e, "topic")),
                json_integer_value(json_object_get(e, "rows")));
        const char *lo = json_string_value(json_object_get(e, "min_ts"));
        const char *hi = json_string_value(json_object_get(e, "max_ts"));
        /* RFC 3339 UTC with milliseconds, as written here, sorts as text */
        if (lo && (!min_ts || strcmp(lo, min_ts) < 0))
            min_ts = lo;
        if (hi && (!max_ts || strcmp(hi, max_ts) > 0))
            max_ts = hi;
        size_t j;
        json_t *v;
        json_array_foreach(json_object_get(e, "vehicles"), j, v)
        {
            const char *s = json_string_value(v);
            if (s)
                exp_strset_add(&vehicles, s, strlen(s));
        }
    }
    json_object_set_new(t, "files", json_integer((json_int_t)json_array_size(files)));
    json_object_set_new(t, "vehicles", json_integer((json_int_t)exp_strset_count(&vehicles)));
    json_object_set_new(t, "min_ts", min_ts ? json_string(min_ts) : json_null());
    json_object_set_new(t, "max_ts", max_ts ? json_string(max_ts) : json_null());
    json_object_set_new(t, "rows_by_topic", by_topic);
    exp_strset_clear(&vehicles);
    return t;
}

static int cmp_entry(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "file"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "file"));
    return strcmp(x ? x : "", y ? y : "");
}

/* Sort the entries of files by file name, in place. */
static void sort_entries(json_t *files)
{
    size_t n = json_array_size(files);
    json_t **v = malloc((n + 1) * sizeof(*v));
    if (!v)
        return; /* unsorted is still a correct index */
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(files, i));
    qsort(v, n, sizeof(*v), cmp_entry);
    json_array_clear(files);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(files, v[i]);
    free(v);
}

/* The index as text: one JSON object, with each file entry on a line of its
 * own so that grep and a pager work on it. Returns a malloc'd string or NULL. */
static char *index_text(const char *date, json_t *files)
{
    json_t *head = json_object();
    json_object_set_new(head, "date", json_string(date));
    d2ev_json_set_time(head, "updated_at", d2ev_clock_now_ms());
    json_object_set_new(head, "totals", totals(files));
    char *h = json_dumps(head, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(head);
    if (!h)
        return NULL;
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_strbuf_append(&sb, h, strlen(h) - 1); /* without the closing brace */
    free(h);
    d2ev_strbuf_puts(&sb, ",\"files\":[");
    size_t i;
    json_t *e;
    json_array_foreach(files, i, e)
    {
        char *line = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!line) {
            d2ev_strbuf_free(&sb);
            return NULL;
        }
        d2ev_strbuf_puts(&sb, i ? ",\n" : "\n");
        d2ev_strbuf_puts(&sb, line);
        free(line);
    }
    d2ev_strbuf_puts(&sb, "\n]}\n");
    return d2ev_strbuf_steal(&sb, NULL);
}

int exp_index_update(const char *dir, const char *date, const struct exp_listing *l, json_t *fresh,
                     struct d2ev_err *err)
{
    json_t *old = exp_index_load(dir, NULL);
    json_t *known = json_object(); /* name -> entry of the current index */
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(old, "files"), i, e)
    {
        const char *name = json_string_value(json_object_get(e, "file"));
        if (name)
            json_object_set(known, name, e);
    }
    json_t *files = json_array();
    int rc = D2EV_OK;
    for (i = 0; i < l->n && rc == D2EV_OK; i++) {
        const struct exp_listed *f = &l->v[i];
        json_t *entry = fresh ? json_object_get(fresh, f->name) : NULL;
        if (!entry)
            entry = json_object_get(known, f->name);
        if (entry)
            json_array_append(files, entry);
        else if ((entry = entry_from_file(dir, f->name, &f->id, err)))
            json_array_append_new(files, entry);
        else
            rc = err ? err->code : D2EV_ERR_IO;
    }
    if (rc == D2EV_OK)
        sort_entries(files);
    char *text = rc == D2EV_OK ? index_text(date, files) : NULL;
    if (rc == D2EV_OK && !text)
        rc = d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory writing the index of %s", dir);
    if (rc == D2EV_OK)
        rc = exp_write_atomic(dir, EXP_INDEX_NAME, text, strlen(text), err);
    free(text);
    json_decref(files);
    json_decref(known);
    json_decref(old);
    return rc;
}
