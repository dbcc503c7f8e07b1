/* events_prefs.c: driver preferences, their wire form, patches and rules. */
#include "events_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/timefmt.h"

#define DEFAULT_READY_BY  (7 * 60)
#define PRICE_CAP_LIMIT   100.0 /* currency per kWh, either sign */
#define MAX_WINDOWS_LIMIT 48
#define MIN_WINDOW_LIMIT  720

static const char *const day_names[D2EV_DAYS] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
static const char *const mode_names[] = { "cost", "carbon", "mix" };

void d2ev_prefs_default(struct d2ev_prefs *p)
{
    memset(p, 0, sizeof(*p));
    for (int d = 0; d < D2EV_DAYS; d++)
        p->ready_by[d] = DEFAULT_READY_BY;
    p->target_soc = 80;
    p->min_soc = 0;
    p->mode = D2EV_MODE_COST;
    p->carbon_weight = 0.5;
}

/* ------------------------------------------------------------ value formats */

/* "HH:MM" -> minutes after midnight. */
static int read_hhmm(const json_t *v, const char *path, int16_t *out, struct d2ev_err *err)
{
    const char *s = json_string_value(v);
    bool ok = s && json_string_length(v) == 5 && s[2] == ':';
    for (int i = 0; ok && i < 5; i++)
        ok = i == 2 || (s[i] >= '0' && s[i] <= '9');
    int hh = ok ? (s[0] - '0') * 10 + (s[1] - '0') : 0;
    int mm = ok ? (s[3] - '0') * 10 + (s[4] - '0') : 0;
    if (!ok || hh > 23 || mm > 59) {
        char got[64];
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: want \"HH:MM\", got %s", path,
                            d2ev_ev_quote(v, got, sizeof(got)));
    }
    *out = (int16_t)(hh * 60 + mm);
    return D2EV_OK;
}

/* "YYYY-MM-DD" -> days since 1970-01-01 (years 1970..9999). */
static int read_date(const json_t *v, const char *path, int32_t *out, struct d2ev_err *err)
{
    const char *s = json_string_value(v);
    bool ok = s && json_string_length(v) == 10 && s[4] == '-' && s[7] == '-';
    for (int i = 0; ok && i < 10; i++)
        ok = i == 4 || i == 7 || (s[i] >= '0' && s[i] <= '9');
    if (ok) {
        int64_t y = atoi(s), yy;
        unsigned m = (unsigned)atoi(s + 5), d = (unsigned)atoi(s + 8), mm, dd;
        int64_t days = m >= 1 && m <= 12 ? d2ev_days_from_civil(y, m, d) : -1;
        if (days >= 0)
            d2ev_civil_from_days(days, &yy, &mm, &dd);
        ok = days >= 0 && yy == y && mm == m && dd == d; /* rejects 2026-02-30 */
        *out = (int32_t)days;
    }
    if (!ok) {
        char got[64];
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "%s: want a date \"YYYY-MM-DD\" from 1970 on, got %s", path,
                            d2ev_ev_quote(v, got, sizeof(got)));
    }
    return D2EV_OK;
}

static json_t *hhmm_json(int minutes)
{
    char buf[8];
    snprintf(buf, sizeof(buf), "%02d:%02d", minutes / 60 % 24, minutes % 60);
    return json_string(buf);
}

static json_t *date_json(int32_t days)
{
    int64_t y;
    unsigned m, d;
    char buf[16];
    d2ev_civil_from_days(days, &y, &m, &d);
    snprintf(buf, sizeof(buf), "%04lld-%02u-%02u", (long long)y, m, d);
    return json_string(buf);
}

/* ------------------------------------------------------------ members */

/* "<what> "<key>"<tail>", with the key escaped and cut for the message. */
static int unknown_key(const char *what, const char *key, const char *tail, struct d2ev_err *err)
{
    json_t *k = json_string(key);
    char got[64];
    d2ev_err_set(err, D2EV_ERR_INVALID, "%s %s%s", what, d2ev_ev_quote(k, got, sizeof(got)), tail);
    json_decref(k);
    return D2EV_ERR_INVALID;
}

/* Each reader applies obj[name] (present, not null) onto p. strict: input from
 * users (a patch), where unknown keys inside nested objects are errors too. */
typedef int (*member_fn)(struct d2ev_prefs *p, const json_t *obj, bool strict,
                         struct d2ev_err *err);

static int m_ready_by(struct d2ev_prefs *p, const json_t *obj, bool strict, struct d2ev_err *err)
{
    json_t *days = NULL;
    int rc = d2ev_json_req_object(obj, "ready_by", &days, err);
    if (rc != D2EV_OK)
        return rc;
    const char *key;
    json_t *v;
    json_object_foreach(days, key, v)
    {
        int d = 0;
        while (d < D2EV_DAYS && strcmp(key, day_names[d]) != 0)
            d++;
        if (d == D2EV_DAYS)
            return unknown_key("ready_by: unknown day", key, ", want mon..sun", err);
        char path[32];
        snprintf(path, sizeof(path), "ready_by.%s", day_names[d]);
        if (json_is_null(v))
            p->ready_by[d] = -1;
        else if ((rc = read_hhmm(v, path, &p->ready_by[d], err)) != D2EV_OK)
            return rc;
    }
    return D2EV_OK;
}

static int cmp_override(const void *a, const void *b)
{
    const struct d2ev_ready_override *x = a, *y = b;
    return (x->date > y->date) - (x->date < y->date);
}

static int m_overrides(struct d2ev_prefs *p, const json_t *obj, bool strict, struct d2ev_err *err)
{
    static const char *const item_keys[] = { "date", "time" };
    json_t *arr = NULL;
    int rc = d2ev_json_req_array(obj, "ready_by_overrides", D2EV_MAX_OVERRIDES, &arr, err);
    if (rc != D2EV_OK)
        return rc;
    struct d2ev_ready_override tmp[D2EV_MAX_OVERRIDES];
    memset(tmp, 0, sizeof(tmp)); /* padding too: decoded structs compare bytewise */
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(arr, i);
        char path[64];
        snprintf(path, sizeof(path), "ready_by_overrides[%zu]", i);
        if (!json_is_object(item))
            return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: must be an object, got %s", path,
                                d2ev_json_type_name(item));
        json_t *date = json_object_get(item, "date"), *time = json_object_get(item, "time");
        if (strict && d2ev_json_only_keys(item, item_keys, 2, err) != D2EV_OK)
            return d2ev_ev_prefix(err, "%s", path);
        if (!date || !time)
            return d2ev_err_set(err, D2EV_ERR_INVALID, "%s.%s: required field is missing", path,
                                date ? "time" : "date");
        char sub[80];
        snprintf(sub, sizeof(sub), "%s.date", path);
        if ((rc = read_date(date, sub, &tmp[i].date, err)) != D2EV_OK)
            return rc;
        snprintf(sub, sizeof(sub), "%s.time", path);
        if ((rc = read_hhmm(time, sub, &tmp[i].minutes, err)) != D2EV_OK)
            return rc;
    }
    /* Drivers may list dates in any order; the struct keeps them sorted. */
    qsort(tmp, n, sizeof(tmp[0]), cmp_override);
    for (size_t i = 1; i < n; i++) {
        if (tmp[i].date == tmp[i - 1].date)
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "ready_by_overrides: the same date is listed twice");
    }
    memcpy(p->overrides, tmp, n * sizeof(tmp[0]));
    p->noverrides = n;
    return D2EV_OK;
}

static int m_target_soc(struct d2ev_prefs *p, const json_t *obj, bool strict, struct d2ev_err *err)
{
    return d2ev_json_req_num(obj, "target_soc", 1, 100, &p->target_soc, err);
}

static int m_min_soc(struct d2ev_prefs *p, const json_t *obj, bool strict, struct d2ev_err *err)
{
    return d2ev_json_req_num(obj, "min_soc", 0, 100, &p->min_soc, err);
}

static int m_mode(struct d2ev_prefs *p, const json_t *obj, bool strict, struct d2ev_err *err)
{
    int mode = 0;
    int rc = d2ev_json_req_enum(obj, "mode", mode_names, D2EV_EV_COUNT(mode_names), &mode, err);
    if (rc == D2EV_OK)
        p->mode = (enum d2ev_opt_mode)mode;
    return rc;
}

static int m_carbon_weight(struct d2ev_prefs *p, const json_t *obj, bool strict,
                           struct d2ev_err *err)
{
    return d2ev_json_req_num(obj, "carbon_weight", 0, 1, &p->carbon_weight, err);
}

static int m_price_cap(struct d2ev_prefs *p, const json_t *obj, bool strict, struct d2ev_err *err)
{
    int rc =
        d2ev_json_req_num(obj, "price_cap", -PRICE_CAP_LIMIT, PRICE_CAP_LIMIT, &p->price_cap, err);
    if (rc == D2EV_OK)
        p->has_price_cap = true;
    return rc;
}

static int m_max_windows(struct d2ev_prefs *p, const json_t *obj, bool strict, struct d2ev_err *err)
{
    int64_t v = 0;
    int rc = d2ev_json_req_int(obj, "max_windows", 0, MAX_WINDOWS_LIMIT, &v, err);
    if (rc == D2EV_OK)
        p->max_windows = (int32_t)v;
    return rc;
}

static int m_min_window(struct d2ev_prefs *p, const json_t *obj, bool strict, struct d2ev_err *err)
{
    int64_t v = 0;
    int rc = d2ev_json_req_int(obj, "min_window_minutes", 0, MIN_WINDOW_LIMIT, &v, err);
    if (rc == D2EV_OK)
        p->min_window_minutes = (int32_t)v;
    return rc;
}

static int m_boost(struct d2ev_prefs *p, const json_t *obj, bool strict, struct d2ev_err *err)
{
    int rc = d2ev_json_req_time(obj, "boost_until", &p->boost_until, err);
    if (rc == D2EV_OK)
        p->has_boost = true;
    return rc;
}

static void clear_overrides(struct d2ev_prefs *p)
{
    p->noverrides = 0;
}

static void clear_price_cap(struct d2ev_prefs *p)
{
    p->has_price_cap = false;
    p->price_cap = 0;
}

static void clear_boost(struct d2ev_prefs *p)
{
    p->has_boost = false;
    p->boost_until = 0;
}

/* The wire members; `clear` is what null means in a patch (NULL: not allowed). */
static const struct {
    const char *name;
    member_fn read;
    void (*clear)(struct d2ev_prefs *p);
} members[] = {
    { "ready_by", m_ready_by, NULL },
    { "ready_by_overrides", m_overrides, clear_overrides },
    { "target_soc", m_target_soc, NULL },
    { "min_soc", m_min_soc, NULL },
    { "mode", m_mode, NULL },
    { "carbon_weight", m_carbon_weight, NULL },
    { "price_cap", m_price_cap, clear_price_cap },
    { "max_windows", m_max_windows, NULL },
    { "min_window_minutes", m_min_window, NULL },
    { "boost_until", m_boost, clear_boost },
};

/* ------------------------------------------------------------ rules */

int d2ev_prefs_validate(const struct d2ev_prefs *p, struct d2ev_err *err)
{
    for (int d = 0; d < D2EV_DAYS; d++) {
        if (p->ready_by[d] < -1 || p->ready_by[d] > 1439)
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "ready_by.%s: must be -1 (none) or 0..1439 minutes, got %d",
                                day_names[d], p->ready_by[d]);
    }
    if (p->noverrides > D2EV_MAX_OVERRIDES)
        return d2ev_err_set(err, D2EV_ERR_LIMIT,
                            "ready_by_overrides: has %zu items, more than the %d allowed",
                            p->noverrides, D2EV_MAX_OVERRIDES);
    for (size_t i = 0; i < p->noverrides; i++) {
        const struct d2ev_ready_override *o = &p->overrides[i];
        if (o->minutes < 0 || o->minutes > 1439)
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "ready_by_overrides[%zu].time: must be 0..1439 minutes, got %d", i,
                                o->minutes);
        if (o->date < 0 || o->date > 2932896) /* 9999-12-31 */
            return d2ev_err_set(err, D2EV_ERR_INVALID, "ready_by_overrides[%zu].date: out of range",
                                i);
        if (i > 0 && o->date <= p->overrides[i - 1].date)
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "ready_by_overrides[%zu].date: must be after the previous date "
                                "(sorted, each date once)",
                                i);
    }
    if (!(p->target_soc >= 1 && p->target_soc <= 100))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "target_soc: must be between 1 and 100, got %g",
                            p->target_soc);
    if (!(p->min_soc >= 0 && p->min_soc <= 100))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "min_soc: must be between 0 and 100, got %g",
                            p->min_soc);
    if (p->min_soc > p->target_soc)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "min_soc: must not be above target_soc (%g > %g)", p->min_soc,
                            p->target_soc);
    if ((unsigned)p->mode >= D2EV_EV_COUNT(mode_names))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "mode: unknown value %d", (int)p->mode);
    if (!(p->carbon_weight >= 0 && p->carbon_weight <= 1))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "carbon_weight: must be between 0 and 1, got %g",
                            p->carbon_weight);
    if (p->has_price_cap && !(fabs(p->price_cap) <= PRICE_CAP_LIMIT))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "price_cap: must be between %g and %g, got %g",
                            -PRICE_CAP_LIMIT, PRICE_CAP_LIMIT, p->price_cap);
    if (p->max_windows < 0 || p->max_windows > MAX_WINDOWS_LIMIT)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "max_windows: must be between 0 and %d, got %d",
                            MAX_WINDOWS_LIMIT, p->max_windows);
    if (p->min_window_minutes < 0 || p->min_window_minutes > MIN_WINDOW_LIMIT)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "min_window_minutes: must be between 0 and %d, got %d",
                            MIN_WINDOW_LIMIT, p->min_window_minutes);
    return D2EV_OK;
}

/* ------------------------------------------------------------ wire form */

int d2ev_prefs_from_json(const json_t *obj, struct d2ev_prefs *p, struct d2ev_err *err)
{
    struct d2ev_err e = { 0 };
    struct d2ev_prefs tmp;
    d2ev_prefs_default(&tmp);
    if (!json_is_object(obj))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "must be an object, got %s",
                            obj ? d2ev_json_type_name(obj) : "nothing");
    for (size_t i = 0; i < D2EV_EV_COUNT(members); i++) {
        const json_t *v = json_object_get(obj, members[i].name);
        if (v && !json_is_null(v) && members[i].read(&tmp, obj, false, &e) != D2EV_OK)
            break;
    }
    if (e.code == D2EV_OK)
        d2ev_prefs_validate(&tmp, &e);
    if (e.code != D2EV_OK) {
        if (err)
            *err = e;
        return e.code;
    }
    *p = tmp;
    return D2EV_OK;
}

/* Apply patch onto *tmp member by member; the caller checks the result. */
static int apply_members(struct d2ev_prefs *tmp, const json_t *patch, struct d2ev_err *err)
{
    if (!json_is_object(patch))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "must be an object, got %s",
                            patch ? d2ev_json_type_name(patch) : "nothing");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)patch, key, v)
    {
        size_t i = 0;
        while (i < D2EV_EV_COUNT(members) && strcmp(key, members[i].name) != 0)
            i++;
        int rc = D2EV_OK;
        if (i == D2EV_EV_COUNT(members))
            return unknown_key("unknown field", key, "", err);
        if (json_is_null(v) && !members[i].clear)
            return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: cannot be null", key);
        if (json_is_null(v))
            members[i].clear(tmp);
        else if ((rc = members[i].read(tmp, patch, true, err)) != D2EV_OK)
            return rc;
    }
    return D2EV_OK;
}

int d2ev_ev_prefs_patch_check(const json_t *patch, struct d2ev_err *err)
{
    struct d2ev_prefs tmp;
    d2ev_prefs_default(&tmp);
    return apply_members(&tmp, patch, err);
}

int d2ev_prefs_apply_patch(struct d2ev_prefs *p, const json_t *patch, struct d2ev_err *err)
{
    struct d2ev_err e = { 0 };
    struct d2ev_prefs tmp = *p;
    if (apply_members(&tmp, patch, &e) != D2EV_OK || d2ev_prefs_validate(&tmp, &e) != D2EV_OK) {
        if (err)
            *err = e;
        return e.code;
    }
    *p = tmp;
    return D2EV_OK;
}

json_t *d2ev_prefs_to_json(const struct d2ev_prefs *p)
{
    json_t *o = json_object(), *days = json_object(), *ovr = json_array();
    int failed = !days || !ovr;
    for (int d = 0; d < D2EV_DAYS && !failed; d++)
        failed = d2ev_ev_set_new(days, day_names[d],
                                 p->ready_by[d] < 0 ? json_null() : hhmm_json(p->ready_by[d]));
    for (size_t i = 0; i < p->noverrides && i < D2EV_MAX_OVERRIDES && !failed; i++) {
        json_t *item = json_object();
        failed = d2ev_ev_set_new(item, "date", date_json(p->overrides[i].date)) ||
                 d2ev_ev_set_new(item, "time", hhmm_json(p->overrides[i].minutes)) ||
                 json_array_append(ovr, item);
        json_decref(item);
    }
    failed = d2ev_ev_set_new(o, "ready_by", failed ? NULL : json_incref(days)) ||
             d2ev_ev_set_new(o, "ready_by_overrides", json_incref(ovr)) ||
             d2ev_ev_set_num(o, "target_soc", p->target_soc) ||
             d2ev_ev_set_num(o, "min_soc", p->min_soc) ||
             d2ev_ev_set_enum(o, "mode", mode_names, D2EV_EV_COUNT(mode_names), (int)p->mode) ||
             d2ev_ev_set_num(o, "carbon_weight", p->carbon_weight) ||
             d2ev_ev_set_opt_num(o, "price_cap", p->has_price_cap, p->price_cap) ||
             d2ev_ev_set_int(o, "max_windows", p->max_windows) ||
             d2ev_ev_set_int(o, "min_window_minutes", p->min_window_minutes) ||
             d2ev_ev_set_opt_time(o, "boost_until", p->has_boost, p->boost_until);
    json_decref(days);
    json_decref(ovr);
    return d2ev_ev_finish(o, failed);
}
