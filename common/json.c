/* json.c: strict field readers over jansson (see d2ev/json.h). */
#include "d2ev/json.h"

#include <math.h>
#include <string.h>

#include "d2ev/strbuf.h"
#include "d2ev/timefmt.h"

json_t *d2ev_json_parse(const char *buf, size_t len, size_t max_len, struct d2ev_err *err)
{
    if (!buf || len == 0) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "empty message");
        return NULL;
    }
    if (max_len && len > max_len) {
        d2ev_err_set(err, D2EV_ERR_LIMIT, "message is %zu bytes, over the %zu-byte limit", len,
                     max_len);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "malformed JSON at line %d column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "message must be a JSON object, got %s",
                     d2ev_json_type_name(root));
        json_decref(root);
        return NULL;
    }
    return root;
}

const char *d2ev_json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

/* Fetch obj[key]; NULL (and *missing) when absent or null. */
static json_t *member(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return (v && !json_is_null(v)) ? v : NULL;
}

static int missing(const char *key, struct d2ev_err *err)
{
    return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: required field is missing", key);
}

static int wrong_type(const char *key, const char *want, const json_t *v, struct d2ev_err *err)
{
    return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: must be %s, got %s", key, want,
                        d2ev_json_type_name(v));
}

static bool char_ok(unsigned char c, enum d2ev_json_charset cs)
{
    switch (cs) {
    case D2EV_CS_ID:
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
    case D2EV_CS_LOWER:
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    case D2EV_CS_PRINTABLE:
        return c >= 0x20 && c < 0x7f;
    default:
        return c >= 0x20 && c != 0x7f;
    }
}

static int read_str(const json_t *v, const char *key, char *out, size_t maxlen,
                    enum d2ev_json_charset cs, struct d2ev_err *err)
{
    if (!json_is_string(v))
        return wrong_type(key, "a string", v, err);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: must not be empty", key);
    if (len > maxlen)
        return d2ev_err_set(err, D2EV_ERR_LIMIT, "%s: is %zu bytes, longer than the %zu allowed",
                            key, len, maxlen);
    if (!d2ev_utf8_valid(s, len))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: is not valid UTF-8", key);
    for (size_t i = 0; i < len; i++) {
        if (!char_ok((unsigned char)s[i], cs))
            return d2ev_err_set(err, D2EV_ERR_INVALID,
                                "%s: has a character not allowed here at byte %zu", key, i);
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return D2EV_OK;
}

int d2ev_json_req_str(const json_t *obj, const char *key, char *out, size_t maxlen,
                      enum d2ev_json_charset cs, struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    if (!v)
        return missing(key, err);
    return read_str(v, key, out, maxlen, cs, err);
}

int d2ev_json_opt_str(const json_t *obj, const char *key, char *out, size_t maxlen,
                      enum d2ev_json_charset cs, bool *present, struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    if (present)
        *present = v != NULL;
    if (!v)
        return D2EV_OK;
    return read_str(v, key, out, maxlen, cs, err);
}

static int read_int(const json_t *v, const char *key, int64_t min, int64_t max, int64_t *out,
                    struct d2ev_err *err)
{
    if (!json_is_integer(v))
        return wrong_type(key, "an integer", v, err);
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: must be between %lld and %lld, got %lld",
                            key, (long long)min, (long long)max, (long long)i);
    *out = i;
    return D2EV_OK;
}

int d2ev_json_req_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out,
                      struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    if (!v)
        return missing(key, err);
    return read_int(v, key, min, max, out, err);
}

int d2ev_json_opt_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out,
                      bool *present, struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    if (present)
        *present = v != NULL;
    if (!v)
        return D2EV_OK;
    return read_int(v, key, min, max, out, err);
}

static int read_num(const json_t *v, const char *key, double min, double max, double *out,
                    struct d2ev_err *err)
{
    if (!json_is_number(v))
        return wrong_type(key, "a number", v, err);
    double d = json_number_value(v);
    if (!isfinite(d))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: must be finite", key);
    if (d < min || d > max)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: must be between %g and %g, got %g", key,
                            min, max, d);
    *out = d;
    return D2EV_OK;
}

int d2ev_json_req_num(const json_t *obj, const char *key, double min, double max, double *out,
                      struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    if (!v)
        return missing(key, err);
    return read_num(v, key, min, max, out, err);
}

int d2ev_json_opt_num(const json_t *obj, const char *key, double min, double max, double *out,
                      bool *present, struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    if (present)
        *present = v != NULL;
    if (!v)
        return D2EV_OK;
    return read_num(v, key, min, max, out, err);
}

int d2ev_json_req_bool(const json_t *obj, const char *key, bool *out, struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    if (!v)
        return missing(key, err);
    if (!json_is_boolean(v))
        return wrong_type(key, "true or false", v, err);
    *out = json_is_true(v);
    return D2EV_OK;
}

int d2ev_json_opt_bool(const json_t *obj, const char *key, bool *out, bool *present,
                       struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    if (present)
        *present = v != NULL;
    if (!v)
        return D2EV_OK;
    if (!json_is_boolean(v))
        return wrong_type(key, "true or false", v, err);
    *out = json_is_true(v);
    return D2EV_OK;
}

static int read_time(const json_t *v, const char *key, int64_t *out, struct d2ev_err *err)
{
    if (!json_is_string(v))
        return wrong_type(key, "an RFC 3339 time string", v, err);
    if (d2ev_time_parse(json_string_value(v), out, err) != D2EV_OK)
        return d2ev_err_prefix(err, "%s", key);
    return D2EV_OK;
}

int d2ev_json_req_time(const json_t *obj, const char *key, int64_t *out, struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    if (!v)
        return missing(key, err);
    return read_time(v, key, out, err);
}

int d2ev_json_opt_time(const json_t *obj, const char *key, int64_t *out, bool *present,
                       struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    if (present)
        *present = v != NULL;
    if (!v)
        return D2EV_OK;
    return read_time(v, key, out, err);
}

static int read_enum(const json_t *v, const char *key, const char *const *names, size_t n, int *out,
                     struct d2ev_err *err)
{
    if (!json_is_string(v))
        return wrong_type(key, "a string", v, err);
    const char *s = json_string_value(v);
    for (size_t i = 0; i < n; i++) {
        if (names[i] && strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return D2EV_OK;
        }
    }
    char allowed[160] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof(allowed) - 1; i++) {
        if (!names[i])
            continue;
        int w =
            snprintf(allowed + used, sizeof(allowed) - used, "%s%s", used ? ", " : "", names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    struct d2ev_strbuf got = D2EV_STRBUF_INIT;
    d2ev_strbuf_json_string(&got, s, strlen(s) > 40 ? 40 : strlen(s));
    d2ev_err_set(err, D2EV_ERR_INVALID, "%s: must be one of %s, got %s", key, allowed,
                 got.buf ? got.buf : "?");
    d2ev_strbuf_free(&got);
    return D2EV_ERR_INVALID;
}

int d2ev_json_req_enum(const json_t *obj, const char *key, const char *const *names, size_t n,
                       int *out, struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    if (!v)
        return missing(key, err);
    return read_enum(v, key, names, n, out, err);
}

int d2ev_json_opt_enum(const json_t *obj, const char *key, const char *const *names, size_t n,
                       int *out, bool *present, struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    if (present)
        *present = v != NULL;
    if (!v)
        return D2EV_OK;
    return read_enum(v, key, names, n, out, err);
}

int d2ev_json_req_object(const json_t *obj, const char *key, json_t **out, struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    if (!v)
        return missing(key, err);
    if (!json_is_object(v))
        return wrong_type(key, "an object", v, err);
    *out = v;
    return D2EV_OK;
}

int d2ev_json_opt_object(const json_t *obj, const char *key, json_t **out, struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    *out = NULL;
    if (!v)
        return D2EV_OK;
    if (!json_is_object(v))
        return wrong_type(key, "an object", v, err);
    *out = v;
    return D2EV_OK;
}

static int read_array(json_t *v, const char *key, size_t max_items, json_t **out,
                      struct d2ev_err *err)
{
    if (!json_is_array(v))
        return wrong_type(key, "an array", v, err);
    if (json_array_size(v) > max_items)
        return d2ev_err_set(err, D2EV_ERR_LIMIT, "%s: has %zu items, more than the %zu allowed",
                            key, json_array_size(v), max_items);
    *out = v;
    return D2EV_OK;
}

int d2ev_json_req_array(const json_t *obj, const char *key, size_t max_items, json_t **out,
                        struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    if (!v)
        return missing(key, err);
    return read_array(v, key, max_items, out, err);
}

int d2ev_json_opt_array(const json_t *obj, const char *key, size_t max_items, json_t **out,
                        struct d2ev_err *err)
{
    json_t *v = member(obj, key);
    *out = NULL;
    if (!v)
        return D2EV_OK;
    return read_array(v, key, max_items, out, err);
}

int d2ev_json_only_keys(const json_t *obj, const char *const *allowed, size_t n,
                        struct d2ev_err *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; i < n && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            struct d2ev_strbuf k = D2EV_STRBUF_INIT;
            d2ev_strbuf_json_string(&k, key, strlen(key) > 40 ? 40 : strlen(key));
            d2ev_err_set(err, D2EV_ERR_INVALID, "unknown field %s", k.buf ? k.buf : "?");
            d2ev_strbuf_free(&k);
            return D2EV_ERR_INVALID;
        }
    }
    return D2EV_OK;
}

int d2ev_json_set_time(json_t *obj, const char *key, int64_t ms)
{
    char buf[D2EV_TIME_STR_MAX];
    return json_object_set_new(obj, key, json_string(d2ev_time_format(ms, buf))) ? D2EV_ERR_NOMEM
                                                                                 : D2EV_OK;
}

int d2ev_json_set_num_or_null(json_t *obj, const char *key, bool present, double v)
{
    json_t *val = present && isfinite(v) ? json_real(v) : json_null();
    return json_object_set_new(obj, key, val) ? D2EV_ERR_NOMEM : D2EV_OK;
}
