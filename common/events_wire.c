/* events_wire.c: the decode frame and field helpers every event type shares. */
#include "events_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/envelope.h"
#include "d2ev/strbuf.h"

#define QUOTE_MAX    40 /* bytes of a bad value repeated in an error message */
#define PATH_DEPTH   16 /* levels of a JSON path reported for invalid UTF-8 */
#define PATH_KEY_MAX 40 /* bytes of each key in that path */

/* One open object or array while scanning raw JSON text. */
struct path_frame {
    bool object;
    bool want_key; /* object: the next string is a key */
    size_t index;  /* array: current item */
    char key[PATH_KEY_MAX + 1];
};

static void path_join(const struct path_frame *st, size_t n, bool at_key, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t k = 0; k < n && used < size; k++) {
        int w = 0;
        if (!st[k].object)
            w = snprintf(out + used, size - used, "[%zu]", st[k].index);
        else if (!st[k].want_key && !(at_key && k == n - 1))
            w = snprintf(out + used, size - used, "%s%s", used ? "." : "", st[k].key);
        if (w > 0)
            used += (size_t)w;
    }
}

/* Best-effort JSON path ("prefs.ready_by.mon", "windows[2]") of the string
 * holding byte offset `at` of buf, which is valid UTF-8 before `at`. Used only
 * to name the field of input that jansson would reject without saying where. */
static void path_at(const char *buf, size_t at, char *out, size_t size)
{
    struct path_frame st[PATH_DEPTH];
    size_t depth = 0, hidden = 0; /* hidden: levels deeper than PATH_DEPTH */
    bool at_key = false;
    for (size_t i = 0; i < at; i++) {
        struct path_frame *top = depth && !hidden ? &st[depth - 1] : NULL;
        char c = buf[i];
        if (c == '"') {
            size_t j = i + 1;
            while (j < at && buf[j] != '"')
                j += buf[j] == '\\' ? 2 : 1;
            if (j >= at) { /* the offending byte is inside this string */
                at_key = top && top->object && top->want_key;
                break;
            }
            if (top && top->object && top->want_key) {
                size_t n = j - i - 1 > PATH_KEY_MAX ? PATH_KEY_MAX : j - i - 1;
                n = d2ev_utf8_valid_prefix(buf + i + 1, n);
                memcpy(top->key, buf + i + 1, n);
                top->key[n] = '\0';
                top->want_key = false;
            }
            i = j;
        } else if (c == '{' || c == '[') {
            if (depth < PATH_DEPTH && !hidden)
                st[depth++] = (struct path_frame){ .object = c == '{', .want_key = c == '{' };
            else
                hidden++;
        } else if (c == '}' || c == ']') {
            if (hidden)
                hidden--;
            else if (depth)
                depth--;
        } else if (c == ',' && top) {
            if (top->object)
                top->want_key = true;
            else
                top->index++;
        }
    }
    path_join(st, depth, at_key, out, size);
    if (hidden && strlen(out) + 4 < size)
        strcat(out, "...");
}

/* Reject invalid UTF-8 and NUL bytes before jansson does, so that the
 * message can name the field. */
static int check_text(const char *buf, size_t len, const char *type, struct d2ev_err *err)
{
    if (!buf || len > D2EV_JSON_MAX_BYTES)
        return D2EV_OK; /* the parser reports these */
    size_t bad = d2ev_utf8_valid_prefix(buf, len);
    const char *nul = memchr(buf, '\0', bad);
    if (nul)
        bad = (size_t)(nul - buf);
    if (bad == len)
        return D2EV_OK;
    char path[160];
    path_at(buf, bad, path, sizeof(path));
    const char *what = nul ? "contains a NUL byte" : "is not valid UTF-8";
    return d2ev_err_set(err, D2EV_ERR_INVALID, "%s%s%s: %s (byte 0x%02x at offset %zu)", type,
                        path[0] ? "." : "", path, what, (unsigned char)buf[bad], bad);
}

int d2ev_ev_prefix(struct d2ev_err *err, const char *fmt, ...)
{
    char path[128], old[D2EV_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    size_t n = strspn(old, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.[]");
    const char *sep = old[0] == '[' ? "" : n > 0 && old[n] == ':' ? "." : ": ";
    snprintf(err->msg, sizeof(err->msg), "%s%s%s", path, sep, old);
    return err->code;
}

/* Replace every byte of s[0..len) that is not part of valid UTF-8 with '?'. */
static void scrub_utf8(char *s, size_t len)
{
    size_t i = 0;
    while ((i += d2ev_utf8_valid_prefix(s + i, len - i)) < len)
        s[i++] = '?';
}

/* Control characters, which no text field accepts when decoded. */
static bool is_control(char c)
{
    return (unsigned char)c < 0x20 || c == 0x7f;
}

static bool has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (is_control(s[i]))
            return true;
    return false;
}

int d2ev_ev_decode(const void *buf, size_t len, const char *type, void *out, size_t size,
                   d2ev_ev_read_fn read, d2ev_ev_clear_fn clear, struct d2ev_err *err)
{
    struct d2ev_err e = { 0 };
    memset(out, 0, size);
    int rc = check_text(buf, len, type, &e);
    json_t *root = NULL;
    if (rc == D2EV_OK) {
        root = d2ev_envelope_parse(buf, len, type, (struct d2ev_envelope *)out, &e);
        if (!root)
            rc = e.code ? e.code : D2EV_ERR_INVALID;
    }
    if (rc == D2EV_OK) {
        rc = read(root, out, &e);
        if (rc != D2EV_OK)
            d2ev_ev_prefix(&e, "%s", type);
    }
    json_decref(root);
    if (rc == D2EV_OK)
        return D2EV_OK;
    if (clear)
        clear(out);
    memset(out, 0, size);
    /* jansson quotes the bytes near a syntax error, which may be part of a
     * UTF-8 sequence; the message goes into logs and dead-letter records. */
    scrub_utf8(e.msg, strlen(e.msg));
    if (err)
        *err = e;
    return rc;
}

const char *d2ev_ev_quote(const json_t *value, char *buf, size_t size)
{
    if (!json_is_string(value)) {
        snprintf(buf, size, "%s", value ? d2ev_json_type_name(value) : "nothing");
        return buf;
    }
    size_t len = json_string_length(value);
    struct d2ev_strbuf sb = D2EV_STRBUF_INIT;
    d2ev_strbuf_json_string(&sb, json_string_value(value), len > QUOTE_MAX ? QUOTE_MAX : len);
    if (len > QUOTE_MAX)
        d2ev_strbuf_puts(&sb, "...");
    snprintf(buf, size, "%s", d2ev_strbuf_failed(&sb) || !sb.buf ? "a string" : sb.buf);
    d2ev_strbuf_free(&sb);
    return buf;
}

int d2ev_ev_opt_text(const json_t *obj, const char *key, char *out, size_t maxlen,
                     enum d2ev_json_charset cs, struct d2ev_err *err)
{
    const json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (json_is_string(v) && json_string_length(v) == 0)
        return D2EV_OK;
    return d2ev_json_opt_str(obj, key, out, maxlen, cs, NULL, err);
}

int d2ev_ev_req_strdup(const json_t *obj, const char *key, size_t maxlen, enum d2ev_json_charset cs,
                       char **out, struct d2ev_err *err)
{
    const json_t *v = json_object_get(obj, key);
    size_t len = json_is_string(v) ? json_string_length(v) : 0;
    /* d2ev_json_req_str checks the length before it copies, so a buffer of
     * the actual length is enough whenever it succeeds. */
    char *s = malloc((len <= maxlen ? len : 0) + 1);
    if (!s)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "%s: out of memory", key);
    int rc = d2ev_json_req_str(obj, key, s, maxlen, cs, err);
    if (rc != D2EV_OK) {
        free(s);
        return rc;
    }
    *out = s;
    return D2EV_OK;
}

int d2ev_ev_opt_currency(const json_t *obj, const char *key, char out[D2EV_CURRENCY_MAX + 1],
                         struct d2ev_err *err)
{
    char got[64];
    int rc = d2ev_ev_opt_text(obj, key, out, D2EV_CURRENCY_MAX, D2EV_CS_PRINTABLE, err);
    if (rc != D2EV_OK || out[0] == '\0')
        return rc;
    bool ok = strlen(out) == 3;
    for (size_t i = 0; ok && i < 3; i++)
        ok = out[i] >= 'A' && out[i] <= 'Z';
    if (!ok)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "%s: must be an ISO 4217 code such as \"GBP\", got %s", key,
                            d2ev_ev_quote(json_object_get(obj, key), got, sizeof(got)));
    return D2EV_OK;
}

int d2ev_ev_req_numbers(const json_t *obj, const char *key, double min, double max,
                        size_t max_items, double **out, size_t *n, struct d2ev_err *err)
{
    json_t *arr = NULL;
    int rc = d2ev_json_req_array(obj, key, max_items, &arr, err);
    if (rc != D2EV_OK)
        return rc;
    size_t count = json_array_size(arr);
    if (count == 0)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: must have at least one item", key);
    double *vals = malloc(count * sizeof(*vals));
    if (!vals)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "%s: out of memory", key);
    for (size_t i = 0; i < count; i++) {
        const json_t *item = json_array_get(arr, i);
        double d = json_number_value(item);
        if (!json_is_number(item))
            rc = d2ev_err_set(err, D2EV_ERR_INVALID, "%s[%zu]: must be a number, got %s", key, i,
                              d2ev_json_type_name(item));
        else if (!isfinite(d) || d < min || d > max)
            rc = d2ev_err_set(err, D2EV_ERR_INVALID, "%s[%zu]: must be between %g and %g, got %g",
                              key, i, min, max, d);
        if (rc != D2EV_OK) {
            free(vals);
            return rc;
        }
        vals[i] = d;
    }
    *out = vals;
    *n = count;
    return D2EV_OK;
}

int d2ev_ev_read_slots(const json_t *obj, int64_t *start, int32_t *slot_minutes,
                       struct d2ev_err *err)
{
    int64_t slot = 0;
    int rc = d2ev_json_req_int(obj, "slot_minutes", 15, 60, &slot, err);
    if (rc != D2EV_OK)
        return rc;
    if (slot != 15 && slot != 30 && slot != 60)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "slot_minutes: must be 15, 30 or 60, got %lld",
                            (long long)slot);
    rc = d2ev_json_req_time(obj, "start", start, err);
    if (rc != D2EV_OK)
        return rc;
    if (*start % (slot * 60000) != 0)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "start: must be aligned to the %lld-minute slot, got %s",
                            (long long)slot, json_string_value(json_object_get(obj, "start")));
    *slot_minutes = (int32_t)slot;
    return D2EV_OK;
}

int d2ev_ev_opt_time0(const json_t *obj, const char *key, int64_t *out, struct d2ev_err *err)
{
    *out = 0;
    return d2ev_json_opt_time(obj, key, out, NULL, err);
}

int d2ev_ev_set_new(json_t *obj, const char *key, json_t *v)
{
    if (!obj || !v) {
        json_decref(v);
        return -1;
    }
    return json_object_set_new(obj, key, v);
}

int d2ev_ev_set_str(json_t *obj, const char *key, const char *s)
{
    return d2ev_ev_set_new(obj, key, json_string(s));
}

int d2ev_ev_set_text(json_t *obj, const char *key, const char *s)
{
    size_t len = strlen(s);
    if (!len || (d2ev_utf8_valid(s, len) && !has_control(s, len)))
        return len ? d2ev_ev_set_str(obj, key, s) : 0;
    /* Text from outside (an OEM's error message in a detail or reason) may
     * hold a line break, or be cut to the field's byte limit inside a
     * character. Neither may make the record unencodable (the service
     * producing it would stop) or undecodable (its readers would
     * dead-letter it): write what the decoders accept. */
    char *copy = strdup(s);
    if (!copy)
        return -1;
    scrub_utf8(copy, len);
    for (size_t i = 0; i < len; i++)
        if (is_control(copy[i]))
            copy[i] = ' ';
    int rc = d2ev_ev_set_str(obj, key, copy);
    free(copy);
    return rc;
}

int d2ev_ev_set_int(json_t *obj, const char *key, int64_t v)
{
    return d2ev_ev_set_new(obj, key, json_integer((json_int_t)v));
}

int d2ev_ev_set_num(json_t *obj, const char *key, double v)
{
    return d2ev_ev_set_new(obj, key, isfinite(v) ? json_real(v) : NULL);
}

int d2ev_ev_set_bool(json_t *obj, const char *key, bool v)
{
    return d2ev_ev_set_new(obj, key, json_boolean(v));
}

int d2ev_ev_set_time(json_t *obj, const char *key, int64_t ms)
{
    return obj ? d2ev_json_set_time(obj, key, ms) : -1;
}

int d2ev_ev_set_opt_time(json_t *obj, const char *key, bool present, int64_t ms)
{
    return present ? d2ev_ev_set_time(obj, key, ms) : d2ev_ev_set_new(obj, key, json_null());
}

int d2ev_ev_set_opt_num(json_t *obj, const char *key, bool present, double v)
{
    return present ? d2ev_ev_set_num(obj, key, v) : d2ev_ev_set_new(obj, key, json_null());
}

int d2ev_ev_set_enum(json_t *obj, const char *key, const char *const *names, size_t n, int i)
{
    if (i < 0 || (size_t)i >= n)
        return -1;
    return d2ev_ev_set_str(obj, key, names[i]);
}

json_t *d2ev_ev_finish(json_t *obj, int failed)
{
    if (failed) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}
