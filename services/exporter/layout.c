/* layout.c: day directories, data file names and durable writes (see layout.h). */
#include "layout.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "d2ev/timefmt.h"
#include "d2ev/tz.h"

int64_t exp_day_of(int64_t ms)
{
    return d2ev_floor_div(ms, EXP_DAY_MS);
}

char *exp_date_format(int64_t day, char out[11])
{
    int64_t y;
    unsigned m, d;
    d2ev_civil_from_days(day, &y, &m, &d);
    snprintf(out, 11, "%04d-%02u-%02u", (int)(y % 10000), m, d);
    return out;
}

int exp_date_parse(const char *s, int64_t *day, struct d2ev_err *err)
{
    unsigned y, m, d;
    int used = 0;
    if (!s || strlen(s) != 10 || sscanf(s, "%4u-%2u-%2u%n", &y, &m, &d, &used) != 3 || used != 10 ||
        s[4] != '-' || s[7] != '-')
        return d2ev_err_set(err, D2EV_ERR_INVALID, "date: want YYYY-MM-DD, got \"%.40s\"",
                            s ? s : "");
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return d2ev_err_set(err, D2EV_ERR_INVALID, "date: want YYYY-MM-DD, got \"%s\"", s);
    }
    int64_t n = d2ev_days_from_civil(y, m, d);
    char back[11];
    if (y < 1970 || m < 1 || m > 12 || strcmp(exp_date_format(n, back), s) != 0)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "date: %s is not a calendar date", s);
    *day = n;
    return D2EV_OK;
}

int exp_day_dir(char *buf, size_t size, const char *root, int64_t day, struct d2ev_err *err)
{
    char date[11];
    exp_date_format(day, date);
    int n = snprintf(buf, size, "%s/%.4s/%.2s/%.2s", root, date, date + 5, date + 8);
    if (n < 0 || (size_t)n >= size)
        return d2ev_err_set(err, D2EV_ERR_LIMIT, "export directory path too long: %s", root);
    return D2EV_OK;
}

int exp_file_name(char *buf, size_t size, const struct exp_file_id *id, struct d2ev_err *err)
{
    int n = snprintf(buf, size, "%s.p%03" PRId32 ".%012" PRId64 "-%012" PRId64 EXP_DATA_SUFFIX,
                     id->topic, id->partition, id->first, id->last);
    if (n < 0 || (size_t)n >= size)
        return d2ev_err_set(err, D2EV_ERR_LIMIT, "file name too long for topic %s", id->topic);
    return D2EV_OK;
}

/* Digits only, 1..19 of them, into *out. */
static bool parse_num(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 18)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool exp_file_parse(const char *name, struct exp_file_id *id)
{
    size_t len = strlen(name), slen = strlen(EXP_DATA_SUFFIX);
    if (len <= slen || strcmp(name + len - slen, EXP_DATA_SUFFIX) != 0 || name[0] == '.')
        return false;
    size_t stem = len - slen;
    /* <topic>.p<part>.<first>-<last> : split from the right */
    const char *range = NULL, *part = NULL;
    for (size_t i = stem; i-- > 0;) {
        if (name[i] != '.')
            continue;
        if (!range)
            range = name + i + 1;
        else {
            part = name + i + 1;
            break;
        }
    }
    if (!range || !part || part[0] != 'p')
        return false;
    const char *dash = memchr(range, '-', (size_t)(name + stem - range));
    int64_t p, first, last;
    if (!dash || !parse_num(part + 1, (size_t)(range - 1 - part - 1), &p) || p > INT32_MAX ||
        !parse_num(range, (size_t)(dash - range), &first) ||
        !parse_num(dash + 1, (size_t)(name + stem - dash - 1), &last) || last < first)
        return false;
    size_t tlen = (size_t)(part - 1 - name);
    if (tlen == 0 || tlen >= sizeof(id->topic))
        return false;
    memcpy(id->topic, name, tlen);
    id->topic[tlen] = '\0';
    id->partition = (int32_t)p;
    id->first = first;
    id->last = last;
    return true;
}

int exp_fsync_dir(const char *path, struct d2ev_err *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return d2ev_err_set(err, D2EV_ERR_IO, "cannot open directory %s: %s", path,
                            strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return d2ev_err_set(err, D2EV_ERR_IO, "cannot fsync directory %s: %s", path, strerror(e));
    return D2EV_OK;
}

/* mkdir path if missing; *made says whether it was created. */
static int make_one(const char *path, bool *made, struct d2ev_err *err)
{
    *made = false;
    if (mkdir(path, 0755) == 0) {
        *made = true;
        return D2EV_OK;
    }
    struct stat st;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return D2EV_OK;
    return d2ev_err_set(err, D2EV_ERR_IO, "cannot create directory %s: %s", path, strerror(errno));
}

int exp_day_dir_make(char *buf, size_t size, const char *root, int64_t day, struct d2ev_err *err)
{
    int rc = exp_day_dir(buf, size, root, day, err);
    if (rc)
        return rc;
    struct stat st;
    if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
        return D2EV_OK;
    /* root, root/yyyy, root/yyyy/mm, root/yyyy/mm/dd: create each, then fsync
     * its parent so the new entry is durable before a file is renamed in. */
    size_t rlen = strlen(root);
    size_t cuts[4] = { rlen, rlen + 5, rlen + 8, rlen + 11 };
    char path[EXP_PATH_MAX];
    for (int i = 0; i < 4; i++) {
        if (cuts[i] >= sizeof(path))
            return d2ev_err_set(err, D2EV_ERR_LIMIT, "path too long: %s", buf);
        memcpy(path, buf, cuts[i]);
        path[cuts[i]] = '\0';
        bool made;
        if ((rc = make_one(path, &made, err)))
            return rc;
        if (made && i > 0) {
            path[cuts[i - 1]] = '\0';
            if ((rc = exp_fsync_dir(path, err)))
                return rc;
        }
    }
    return D2EV_OK;
}

/* Write all of len bytes to fd. */
static int write_all(int fd, const void *bytes, size_t len)
{
    const char *p = bytes;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int exp_write_atomic(const char *dir, const char *name, const void *bytes, size_t len,
                     struct d2ev_err *err)
{
    char tmp[EXP_PATH_MAX], dst[EXP_PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/" EXP_TMP_PREFIX "%s.%ld", dir, name, (long)getpid());
    snprintf(dst, sizeof(dst), "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return d2ev_err_set(err, D2EV_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    if (write_all(fd, bytes, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return d2ev_err_set(err, D2EV_ERR_IO, "cannot write %s: %s", tmp, strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, dst) != 0) {
        int e = errno;
        unlink(tmp);
        return d2ev_err_set(err, D2EV_ERR_IO, "cannot rename %s into place: %s", tmp, strerror(e));
    }
    return exp_fsync_dir(dir, err);
}
