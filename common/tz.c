/* tz.c: a TZif (RFC 8536) reader with POSIX TZ rules, without libc time zone state. */
#include "d2ev/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "d2ev/timefmt.h"

#define TZIF_MAX_BYTES (1024 * 1024)
#define MAX_ABS_OFFSET (26 * 3600)
#define DAY_MS         86400000LL

int64_t d2ev_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int d2ev_weekday(int64_t days)
{
    return (int)(((days % 7) + 7 + 3) % 7); /* 1970-01-01 was a Thursday (3) */
}

/* ------------------------------------------------------------ POSIX rules */

enum rule_kind { RULE_JULIAN1 = 0, RULE_JULIAN0, RULE_MONTH };

struct rule_date {
    enum rule_kind kind;
    int n;        /* Jn: 1..365; n: 0..365 */
    int m, w, d;  /* Mm.w.d */
    int32_t time; /* seconds after local midnight, may be negative or > 24 h */
};

struct posix_rule {
    int32_t std_off; /* seconds east of UTC */
    int32_t dst_off;
    bool has_dst;
    struct rule_date start, end;
};

struct ttinfo {
    int32_t off;
    bool dst;
};

struct d2ev_tz {
    char name[D2EV_TZ_NAME_MAX + 1];
    size_t ntrans;
    int64_t *trans; /* seconds */
    uint8_t *idx;
    size_t ntypes;
    struct ttinfo *types;
    bool has_rule;
    struct posix_rule rule;
};

static const char *parse_name(const char *p)
{
    if (*p == '<') {
        p++;
        while (*p && *p != '>') {
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
                return NULL;
            p++;
        }
        return *p == '>' ? p + 1 : NULL;
    }
    const char *s = p;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] with hours up to max_h; sets *secs (sign applied). */
static const char *parse_hms(const char *p, int max_h, int32_t *secs)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    int parts[3] = { 0, 0, 0 };
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            if (*p != ':')
                break;
            p++;
        }
        if (*p < '0' || *p > '9')
            return NULL;
        int v = 0, nd = 0;
        while (*p >= '0' && *p <= '9' && nd < 3) {
            v = v * 10 + (*p++ - '0');
            nd++;
        }
        parts[i] = v;
    }
    if (parts[0] > max_h || parts[1] > 59 || parts[2] > 59)
        return NULL;
    *secs = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return p;
}

static const char *parse_int(const char *p, int min, int max, int *out)
{
    if (*p < '0' || *p > '9')
        return NULL;
    int v = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p++ - '0');
        if (v > max)
            return NULL;
    }
    if (v < min)
        return NULL;
    *out = v;
    return p;
}

static const char *parse_rule_date(const char *p, struct rule_date *r)
{
    memset(r, 0, sizeof(*r));
    if (*p == 'J') {
        r->kind = RULE_JULIAN1;
        p = parse_int(p + 1, 1, 365, &r->n);
    } else if (*p == 'M') {
        r->kind = RULE_MONTH;
        p = parse_int(p + 1, 1, 12, &r->m);
        if (p && *p == '.')
            p = parse_int(p + 1, 1, 5, &r->w);
        else
            p = NULL;
        if (p && *p == '.')
            p = parse_int(p + 1, 0, 6, &r->d);
        else
            p = NULL;
    } else {
        r->kind = RULE_JULIAN0;
        p = parse_int(p, 0, 365, &r->n);
    }
    if (!p)
        return NULL;
    r->time = 7200;
    if (*p == '/')
        p = parse_hms(p + 1, 167, &r->time);
    return p;
}

static int parse_posix(const char *s, struct posix_rule *r)
{
    memset(r, 0, sizeof(*r));
    const char *p = parse_name(s);
    int32_t off;
    if (!p || !(p = parse_hms(p, 24, &off)))
        return -1;
    r->std_off = -off;
    if (!*p)
        return 0;
    if (!(p = parse_name(p)))
        return -1;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = parse_hms(p, 24, &off)))
            return -1;
        r->dst_off = -off;
    }
    if (!*p) { /* POSIX default: US rules */
        r->start = (struct rule_date){ RULE_MONTH, 0, 3, 2, 0, 7200 };
        r->end = (struct rule_date){ RULE_MONTH, 0, 11, 1, 0, 7200 };
        return 0;
    }
    if (*p != ',' || !(p = parse_rule_date(p + 1, &r->start)) || *p != ',' ||
        !(p = parse_rule_date(p + 1, &r->end)) || *p)
        return -1;
    return 0;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int md[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : md[m - 1];
}

/* Local day number of a rule date in year y. */
static int64_t rule_day(const struct rule_date *r, int64_t y)
{
    int64_t jan1 = d2ev_days_from_civil(y, 1, 1);
    switch (r->kind) {
    case RULE_JULIAN1:
        return jan1 + r->n - 1 + (is_leap(y) && r->n >= 60 ? 1 : 0);
    case RULE_JULIAN0:
        return jan1 + r->n;
    case RULE_MONTH:
    default: {
        int64_t first = d2ev_days_from_civil(y, (unsigned)r->m, 1);
        int wd_sun = (int)(((first % 7) + 7 + 4) % 7); /* Sunday = 0 */
        int day = 1 + (r->d - wd_sun + 7) % 7 + (r->w - 1) * 7;
        while (day > month_days(y, r->m))
            day -= 7;
        return first + day - 1;
    }
    }
}

static int32_t rule_offset(const struct posix_rule *r, int64_t t, bool *dst)
{
    if (!r->has_dst) {
        *dst = false;
        return r->std_off;
    }
    int64_t y;
    unsigned mo, d;
    d2ev_civil_from_days(d2ev_floor_div(t + r->std_off, 86400), &y, &mo, &d);
    /* transitions of the neighbouring years too, so rules near New Year and
     * southern-hemisphere rules need no special case */
    int64_t best_at = INT64_MIN;
    bool best_dst = false;
    for (int64_t yy = y - 1; yy <= y + 1; yy++) {
        int64_t s = rule_day(&r->start, yy) * 86400 + r->start.time - r->std_off;
        int64_t e = rule_day(&r->end, yy) * 86400 + r->end.time - r->dst_off;
        if (s <= t && s > best_at) {
            best_at = s;
            best_dst = true;
        }
        if (e <= t && e > best_at) {
            best_at = e;
            best_dst = false;
        }
    }
    *dst = best_dst;
    return best_dst ? r->dst_off : r->std_off;
}

/* ------------------------------------------------------------ TZif */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_header {
    char version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int read_header(const unsigned char *p, size_t len, struct tzif_header *h,
                       struct d2ev_err *err)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "not a TZif file");
    h->version = (char)p[4];
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    if (h->typecnt == 0 || h->typecnt > 256 || h->timecnt > 100000 || h->charcnt > 100000 ||
        h->leapcnt > 10000 || (h->isutcnt && h->isutcnt != h->typecnt) ||
        (h->isstdcnt && h->isstdcnt != h->typecnt))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "TZif header counts are inconsistent");
    return D2EV_OK;
}

static size_t block_size(const struct tzif_header *h, size_t tsize)
{
    return (size_t)h->timecnt * tsize + h->timecnt + (size_t)h->typecnt * 6 + h->charcnt +
           (size_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

void d2ev_tz_destroy(struct d2ev_tz *tz)
{
    if (!tz)
        return;
    free(tz->trans);
    free(tz->idx);
    free(tz->types);
    free(tz);
}

struct d2ev_tz *d2ev_tz_parse(const void *buf, size_t len, const char *name, struct d2ev_err *err)
{
    const unsigned char *p = buf;
    struct tzif_header h;
    if (read_header(p, len, &h, err))
        return NULL;
    size_t tsize = 4;
    size_t off = 44;
    if (h.version >= '2') {
        size_t skip = block_size(&h, 4);
        if (len - off < skip) {
            d2ev_err_set(err, D2EV_ERR_INVALID, "TZif file is truncated");
            return NULL;
        }
        off += skip;
        if (read_header(p + off, len - off, &h, err))
            return NULL;
        off += 44;
        tsize = 8;
    }
    size_t need = block_size(&h, tsize);
    if (len - off < need) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "TZif file is truncated");
        return NULL;
    }
    if (h.leapcnt) {
        d2ev_err_set(err, D2EV_ERR_UNSUPPORTED,
                     "zone has leap seconds (a right/ zone); d2ev uses POSIX time");
        return NULL;
    }
    struct d2ev_tz *tz = calloc(1, sizeof(*tz));
    if (!tz) {
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(tz->name, sizeof(tz->name), "%s", name ? name : "");
    tz->ntrans = h.timecnt;
    tz->ntypes = h.typecnt;
    tz->trans = calloc(h.timecnt ? h.timecnt : 1, sizeof(int64_t));
    tz->idx = calloc(h.timecnt ? h.timecnt : 1, 1);
    tz->types = calloc(h.typecnt, sizeof(struct ttinfo));
    if (!tz->trans || !tz->idx || !tz->types) {
        d2ev_tz_destroy(tz);
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    const unsigned char *q = p + off;
    for (size_t i = 0; i < h.timecnt; i++, q += tsize) {
        tz->trans[i] = tsize == 8 ? be64(q) : (int64_t)(int32_t)be32(q);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1]) {
            d2ev_err_set(err, D2EV_ERR_INVALID, "TZif transitions are not ascending");
            goto bad;
        }
    }
    for (size_t i = 0; i < h.timecnt; i++, q++) {
        tz->idx[i] = *q;
        if (*q >= h.typecnt) {
            d2ev_err_set(err, D2EV_ERR_INVALID, "TZif transition names an unknown type");
            goto bad;
        }
    }
    for (size_t i = 0; i < h.typecnt; i++, q += 6) {
        int32_t o = (int32_t)be32(q);
        if (o < -MAX_ABS_OFFSET || o > MAX_ABS_OFFSET || q[4] > 1 || q[5] >= h.charcnt) {
            d2ev_err_set(err, D2EV_ERR_INVALID, "TZif local time type %zu is invalid", i);
            goto bad;
        }
        tz->types[i] = (struct ttinfo){ o, q[4] == 1 };
    }
    off += need;
    if (tsize == 8 && off < len && p[off] == '\n') {
        const char *f = (const char *)p + off + 1;
        const char *nl = memchr(f, '\n', len - off - 1);
        if (!nl || nl - f > 255) {
            d2ev_err_set(err, D2EV_ERR_INVALID, "TZif footer is not terminated");
            goto bad;
        }
        if (nl > f) {
            char rule[256];
            memcpy(rule, f, (size_t)(nl - f));
            rule[nl - f] = '\0';
            if (parse_posix(rule, &tz->rule) != 0) {
                d2ev_err_set(err, D2EV_ERR_INVALID, "TZif footer rule \"%s\" is invalid", rule);
                goto bad;
            }
            tz->has_rule = true;
        }
    }
    return tz;
bad:
    d2ev_tz_destroy(tz);
    return NULL;
}

struct d2ev_tz *d2ev_tz_from_posix(const char *rule, struct d2ev_err *err)
{
    struct d2ev_tz *tz = calloc(1, sizeof(*tz));
    if (!tz || !(tz->types = calloc(1, sizeof(struct ttinfo)))) {
        free(tz);
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (!rule || parse_posix(rule, &tz->rule) != 0) {
        d2ev_tz_destroy(tz);
        d2ev_err_set(err, D2EV_ERR_INVALID, "invalid POSIX TZ rule \"%.64s\"", rule ? rule : "");
        return NULL;
    }
    tz->has_rule = true;
    tz->ntypes = 1;
    tz->types[0] = (struct ttinfo){ tz->rule.std_off, false };
    snprintf(tz->name, sizeof(tz->name), "%.64s", rule);
    return tz;
}

int d2ev_tz_name_check(const char *name, struct d2ev_err *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > D2EV_TZ_NAME_MAX)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "timezone: must be 1..%d characters",
                            D2EV_TZ_NAME_MAX);
    if (name[0] == '/' || !strncmp(name, "right/", 6) || !strncmp(name, "posix/", 6))
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "timezone: \"%s\" is not an IANA zone name like Europe/London", name);
    const char *comp = name;
    for (const char *p = name;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t cl = (size_t)(p - comp);
            if (cl == 0 || comp[0] == '.')
                return d2ev_err_set(err, D2EV_ERR_INVALID,
                                    "timezone: \"%s\" has an empty or dot component", name);
            if (*p == '\0')
                break;
            comp = p + 1;
            continue;
        }
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '.'))
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "timezone: \"%s\" contains a character not allowed in zone names",
                                name);
    }
    return D2EV_OK;
}

struct d2ev_tz *d2ev_tz_load(const char *name, struct d2ev_err *err)
{
    if (d2ev_tz_name_check(name, err))
        return NULL;
    const char *dir = getenv("D2EV_ZONEINFO");
    if (!dir || !*dir)
        dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        d2ev_err_set(err, errno == ENOENT || errno == ENOTDIR ? D2EV_ERR_NOT_FOUND : D2EV_ERR_IO,
                     "timezone: unknown zone \"%s\" (%s)", name, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > TZIF_MAX_BYTES) {
        close(fd);
        d2ev_err_set(err, D2EV_ERR_NOT_FOUND, "timezone: unknown zone \"%s\"", name);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    unsigned char *buf = malloc(len ? len : 1);
    size_t got = 0;
    while (buf && got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf || got != len) {
        free(buf);
        d2ev_err_set(err, D2EV_ERR_IO, "timezone: cannot read zone \"%s\"", name);
        return NULL;
    }
    struct d2ev_err perr = { 0 };
    struct d2ev_tz *tz = d2ev_tz_parse(buf, len, name, &perr);
    free(buf);
    if (!tz)
        d2ev_err_set(err, D2EV_ERR_INVALID, "timezone: \"%s\" is not a valid zone: %s", name,
                     perr.msg);
    return tz;
}

const char *d2ev_tz_name(const struct d2ev_tz *tz)
{
    return tz->name;
}

/* ------------------------------------------------------------ look-ups */

int32_t d2ev_tz_offset(const struct d2ev_tz *tz, int64_t utc_ms, bool *is_dst)
{
    bool dst = false;
    int32_t off;
    int64_t t = d2ev_floor_div(utc_ms, 1000);
    if (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1]) {
        /* after the table: the footer rule, else the last type in force */
        if (tz->has_rule) {
            off = rule_offset(&tz->rule, t, &dst);
        } else {
            const struct ttinfo *ti = &tz->types[tz->ntrans ? tz->idx[tz->ntrans - 1] : 0];
            off = ti->off;
            dst = ti->dst;
        }
    } else if (t < tz->trans[0]) {
        off = tz->types[0].off;
        dst = tz->types[0].dst;
    } else {
        size_t lo = 0, hi = tz->ntrans - 1; /* trans[lo] <= t < trans[hi] */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (tz->trans[mid] <= t)
                lo = mid;
            else
                hi = mid;
        }
        off = tz->types[tz->idx[lo]].off;
        dst = tz->types[tz->idx[lo]].dst;
    }
    if (is_dst)
        *is_dst = dst;
    return off;
}

int64_t d2ev_tz_to_local(const struct d2ev_tz *tz, int64_t utc_ms)
{
    return utc_ms + (int64_t)d2ev_tz_offset(tz, utc_ms, NULL) * 1000;
}

enum d2ev_tz_local_kind d2ev_tz_from_local(const struct d2ev_tz *tz, int64_t local_ms, bool later,
                                           int64_t *utc_ms)
{
    /* The instant lies within +-26 h of local_ms; offsets just outside that
     * range are the candidates (zones never change twice within 60 hours). */
    int32_t ob = d2ev_tz_offset(tz, local_ms - 30 * 3600 * 1000LL, NULL);
    int32_t oa = d2ev_tz_offset(tz, local_ms + 30 * 3600 * 1000LL, NULL);
    int64_t cand[2];
    int nc = 0;
    int32_t offs[2] = { ob, oa };
    for (int i = 0; i < 2; i++) {
        if (i == 1 && oa == ob)
            break;
        int64_t u = local_ms - (int64_t)offs[i] * 1000;
        if (d2ev_tz_offset(tz, u, NULL) == offs[i])
            cand[nc++] = u;
    }
    if (nc == 1) {
        *utc_ms = cand[0];
        return D2EV_TZ_UNIQUE;
    }
    if (nc == 2) {
        int64_t a = cand[0] < cand[1] ? cand[0] : cand[1];
        int64_t b = cand[0] < cand[1] ? cand[1] : cand[0];
        *utc_ms = later ? b : a;
        return D2EV_TZ_FOLD;
    }
    /* gap: find the jump between the two candidate instants (whole seconds) */
    int64_t lo = d2ev_floor_div(local_ms - (int64_t)(ob > oa ? ob : oa) * 1000, 1000);
    int64_t hi = d2ev_floor_div(local_ms - (int64_t)(ob < oa ? ob : oa) * 1000, 1000) + 1;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (d2ev_tz_offset(tz, mid * 1000, NULL) == ob)
            lo = mid;
        else
            hi = mid;
    }
    *utc_ms = hi * 1000;
    return D2EV_TZ_GAP;
}

int64_t d2ev_tz_day_length_ms(const struct d2ev_tz *tz, int64_t days)
{
    int64_t a, b;
    d2ev_tz_from_local(tz, days * DAY_MS, false, &a);
    d2ev_tz_from_local(tz, (days + 1) * DAY_MS, false, &b);
    return b - a;
}

/* ------------------------------------------------------------ cache */

struct cache_entry {
    struct cache_entry *next;
    struct d2ev_tz *tz;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_entry *cache_head;

const struct d2ev_tz *d2ev_tz_get(const char *name, struct d2ev_err *err)
{
    if (d2ev_tz_name_check(name, err))
        return NULL;
    pthread_mutex_lock(&cache_lock);
    for (struct cache_entry *e = cache_head; e; e = e->next) {
        if (!strcmp(e->tz->name, name)) {
            pthread_mutex_unlock(&cache_lock);
            return e->tz;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    /* load outside the lock; a racing loader of the same name wins harmlessly */
    struct d2ev_tz *tz = d2ev_tz_load(name, err);
    if (!tz)
        return NULL;
    pthread_mutex_lock(&cache_lock);
    for (struct cache_entry *e = cache_head; e; e = e->next) {
        if (!strcmp(e->tz->name, name)) {
            pthread_mutex_unlock(&cache_lock);
            d2ev_tz_destroy(tz);
            return e->tz;
        }
    }
    struct cache_entry *ne = malloc(sizeof(*ne));
    if (!ne) {
        pthread_mutex_unlock(&cache_lock);
        d2ev_tz_destroy(tz);
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    ne->tz = tz;
    ne->next = cache_head;
    cache_head = ne;
    pthread_mutex_unlock(&cache_lock);
    return tz;
}

bool d2ev_tz_valid(const char *name, struct d2ev_err *err)
{
    return d2ev_tz_get(name, err) != NULL;
}
