/*
 * Private helpers shared by the events_*.c files (not a public header).
 *
 * Reading: every payload reader takes a non-NULL err (the generic decoder
 * passes its own), so readers can chain d2ev_json_* calls with || and return
 * err->code. Messages name the field relative to the object being read; the
 * caller adds the enclosing path with d2ev_err_prefix().
 *
 * Writing: the ev_set_* helpers return 0 or a non-zero value when jansson
 * refused the value (allocation failure, invalid UTF-8, a non-finite number),
 * so encoders chain them with || and return NULL on the first failure.
 */
#ifndef D2EV_EVENTS_INTERNAL_H
#define D2EV_EVENTS_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/events.h"
#include "d2ev/json.h"

/* Reads the payload of root into out (already zeroed, env filled). */
typedef int (*d2ev_ev_read_fn)(const json_t *root, void *out, struct d2ev_err *err);
/* Releases heap members of out; must accept a partially read struct. */
typedef void (*d2ev_ev_clear_fn)(void *out);

/* The body of every d2ev_<type>_decode: zero out (size bytes; its first member
 * is the envelope), reject invalid UTF-8 naming the field it sits in, parse and
 * check the envelope and type, run read, and on failure prefix the message with
 * the type, release what read allocated (clear may be NULL) and zero out again. */
int d2ev_ev_decode(const void *buf, size_t len, const char *type, void *out, size_t size,
                   d2ev_ev_read_fn read, d2ev_ev_clear_fn clear, struct d2ev_err *err);

/* Put the path of the enclosing object or array in front of err->msg, so
 * that "min_soc: ..." becomes "prefs.min_soc: ...", "[2].end: ..." becomes
 * "windows[2].end: ..." and a message that does not start with a field
 * ("unknown field ...") becomes "prefs_patch: unknown field ...". Keeps the
 * code and returns it. (d2ev_err_prefix always joins with ": ".) */
int d2ev_ev_prefix(struct d2ev_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append value as a JSON string literal, cut to 40 bytes, for "got ..." in
 * error messages; non-strings give their type name. Writes into buf[size]. */
const char *d2ev_ev_quote(const json_t *value, char *buf, size_t size);

/* Optional string where absent, null and "" all mean "none": out becomes "". */
int d2ev_ev_opt_text(const json_t *obj, const char *key, char *out, size_t maxlen,
                     enum d2ev_json_charset cs, struct d2ev_err *err);

/* Required string of 1..maxlen bytes copied to a new heap buffer *out (the
 * caller frees it; *out stays NULL on error). */
int d2ev_ev_req_strdup(const json_t *obj, const char *key, size_t maxlen, enum d2ev_json_charset cs,
                       char **out, struct d2ev_err *err);

/* Optional ISO 4217 currency code, three upper-case letters; "" when absent. */
int d2ev_ev_opt_currency(const json_t *obj, const char *key, char out[D2EV_CURRENCY_MAX + 1],
                         struct d2ev_err *err);

/* Required array of 1..max_items finite numbers in [min, max] into a new heap
 * array *out of *n items (the caller frees it; NULL on error). Item errors
 * read "key[i]: ...". */
int d2ev_ev_req_numbers(const json_t *obj, const char *key, double min, double max,
                        size_t max_items, double **out, size_t *n, struct d2ev_err *err);

/* The slot grid shared by forecasts and capacity: "slot_minutes" in
 * {15, 30, 60} and "start" aligned to it. */
int d2ev_ev_read_slots(const json_t *obj, int64_t *start, int32_t *slot_minutes,
                       struct d2ev_err *err);

/* Optional time where absent or null means 0 ("not set"). */
int d2ev_ev_opt_time0(const json_t *obj, const char *key, int64_t *out, struct d2ev_err *err);

/* Encoding: set obj[key]. */
int d2ev_ev_set_str(json_t *obj, const char *key, const char *s);
/* Omitted when ""; bytes that are not UTF-8 (text cut inside a character)
 * are written as '?' and control characters as ' ', as decoders refuse them. */
int d2ev_ev_set_text(json_t *obj, const char *key, const char *s);
int d2ev_ev_set_int(json_t *obj, const char *key, int64_t v);
int d2ev_ev_set_num(json_t *obj, const char *key, double v); /* fails unless finite */
int d2ev_ev_set_bool(json_t *obj, const char *key, bool v);
int d2ev_ev_set_time(json_t *obj, const char *key, int64_t ms);
int d2ev_ev_set_opt_time(json_t *obj, const char *key, bool present, int64_t ms); /* or null */
int d2ev_ev_set_opt_num(json_t *obj, const char *key, bool present, double v);
int d2ev_ev_set_new(json_t *obj, const char *key, json_t *v); /* steals v; fails on NULL */

/* Encoding an enum: the name at index i of names[0..n), or fails when out of range. */
int d2ev_ev_set_enum(json_t *obj, const char *key, const char *const *names, size_t n, int i);

/* Finish an encoder: on failure release obj and return NULL, else obj. */
json_t *d2ev_ev_finish(json_t *obj, int failed);

/* The description of a car that vehicle records and register requests share,
 * as pointers into either struct (D2EV_EV_CAR builds one). */
struct d2ev_ev_car {
    char *user_id, *oem, *oem_vehicle_id, *timezone, *region, *site_id;
    bool *has_battery_kwh;
    double *battery_kwh;
    bool *has_max_power_kw;
    double *max_power_kw;
};
#define D2EV_EV_CAR(s)                                                                             \
    {                                                                                              \
        (s)->user_id, (s)->oem, (s)->oem_vehicle_id, (s)->timezone, (s)->region, (s)->site_id,     \
            &(s)->has_battery_kwh, &(s)->battery_kwh, &(s)->has_max_power_kw, &(s)->max_power_kw   \
    }

/* Read the car fields; user_id, oem, oem_vehicle_id, timezone and region are
 * required when `required`, else read when present. */
int d2ev_ev_read_car(const json_t *obj, bool required, const struct d2ev_ev_car *car,
                     struct d2ev_err *err);
/* Write them; empty strings are omitted, absent numbers are null. */
int d2ev_ev_write_car(json_t *obj, const struct d2ev_ev_car *car);

/* Check a preferences patch member by member without the cross-field rules
 * (used by the registration request decoder: whether min_soc <= target_soc
 * holds depends on the preferences the patch will be applied to). */
int d2ev_ev_prefs_patch_check(const json_t *patch, struct d2ev_err *err);

#define D2EV_EV_COUNT(a) (sizeof(a) / sizeof((a)[0]))

#endif
