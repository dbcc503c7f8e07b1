/*
 * Strict JSON reading on top of jansson, for decoders that must say exactly
 * which field is wrong and why.
 *
 * d2ev_json_parse() accepts only a JSON object, rejects duplicate keys,
 * invalid UTF-8, NUL bytes and nesting deeper than jansson's limit (2048), and
 * enforces a byte limit before parsing.
 *
 * The d2ev_json_get_* helpers read obj[key]. "req" fails when the key is
 * missing or null; "opt" leaves *out untouched and returns 0 when the key is
 * missing or null, and sets *present (if given). On failure the message names
 * the key: "soc: must be between 0 and 100, got 120".
 * Use d2ev_err_prefix() to add the enclosing path ("preferences.min_soc: ...").
 *
 * Ownership: *out strings from d2ev_json_get_str are copied into the caller's
 * buffer; json_t values follow jansson's rules (d2ev_json_parse returns a new
 * reference the caller must json_decref()).
 */
#ifndef D2EV_JSON_H
#define D2EV_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"

#define D2EV_JSON_MAX_BYTES (1024 * 1024) /* default message size limit */

/* Parse buf[0..len) as one JSON object. Returns a new reference or NULL. */
json_t *d2ev_json_parse(const char *buf, size_t len, size_t max_len, struct d2ev_err *err);

/* Character classes for string validation. */
enum d2ev_json_charset {
    D2EV_CS_ANY = 0,   /* any valid UTF-8 without control characters */
    D2EV_CS_ID,        /* [A-Za-z0-9._:@-], for ids and keys */
    D2EV_CS_LOWER,     /* [a-z0-9_-], for enums such as OEM names */
    D2EV_CS_PRINTABLE, /* printable ASCII */
};

/* String of 1..maxlen bytes (minimum 1 unless allow_empty), copied into out
 * (size maxlen+1). */
int d2ev_json_req_str(const json_t *obj, const char *key, char *out, size_t maxlen,
                      enum d2ev_json_charset cs, struct d2ev_err *err);
int d2ev_json_opt_str(const json_t *obj, const char *key, char *out, size_t maxlen,
                      enum d2ev_json_charset cs, bool *present, struct d2ev_err *err);

/* Integer within [min, max] (JSON integer only, no fraction). */
int d2ev_json_req_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out,
                      struct d2ev_err *err);
int d2ev_json_opt_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out,
                      bool *present, struct d2ev_err *err);

/* Finite number (integer or real) within [min, max]. */
int d2ev_json_req_num(const json_t *obj, const char *key, double min, double max, double *out,
                      struct d2ev_err *err);
int d2ev_json_opt_num(const json_t *obj, const char *key, double min, double max, double *out,
                      bool *present, struct d2ev_err *err);

int d2ev_json_req_bool(const json_t *obj, const char *key, bool *out, struct d2ev_err *err);
int d2ev_json_opt_bool(const json_t *obj, const char *key, bool *out, bool *present,
                       struct d2ev_err *err);

/* RFC 3339 time string -> epoch ms. */
int d2ev_json_req_time(const json_t *obj, const char *key, int64_t *out, struct d2ev_err *err);
int d2ev_json_opt_time(const json_t *obj, const char *key, int64_t *out, bool *present,
                       struct d2ev_err *err);

/* String that must equal one of names[0..n); *out is its index. */
int d2ev_json_req_enum(const json_t *obj, const char *key, const char *const *names, size_t n,
                       int *out, struct d2ev_err *err);
int d2ev_json_opt_enum(const json_t *obj, const char *key, const char *const *names, size_t n,
                       int *out, bool *present, struct d2ev_err *err);

/* Borrowed reference to an object / array member; fails if missing or of the
 * wrong type, or (arrays) longer than max_items. */
int d2ev_json_req_object(const json_t *obj, const char *key, json_t **out, struct d2ev_err *err);
int d2ev_json_opt_object(const json_t *obj, const char *key, json_t **out, struct d2ev_err *err);
int d2ev_json_req_array(const json_t *obj, const char *key, size_t max_items, json_t **out,
                        struct d2ev_err *err);
int d2ev_json_opt_array(const json_t *obj, const char *key, size_t max_items, json_t **out,
                        struct d2ev_err *err);

/* Reject keys not in allowed[0..n) (for strict inputs such as HTTP bodies). */
int d2ev_json_only_keys(const json_t *obj, const char *const *allowed, size_t n,
                        struct d2ev_err *err);

/* Helpers to build objects: set key to a time string / a number or null. */
int d2ev_json_set_time(json_t *obj, const char *key, int64_t ms);
int d2ev_json_set_num_or_null(json_t *obj, const char *key, bool present, double v);

/* Short human name of a JSON value's type ("string", "number", ...). */
const char *d2ev_json_type_name(const json_t *v);

#endif
