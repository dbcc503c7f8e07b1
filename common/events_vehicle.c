/* events_vehicle.c: the vehicle record and its sealed credentials. */
#include "events_internal.h"

#include <stdlib.h>
#include <string.h>

#include "d2ev/crypto.h"

#define BATTERY_MIN_KWH 1.0
#define BATTERY_MAX_KWH 300.0
#define POWER_MIN_KW    0.5
#define POWER_MAX_KW    400.0

static const char *const vehicle_status_names[] = { "active", "suspended" };

/* ------------------------------------------------------------ car fields */

/* IANA zone names: [A-Za-z0-9/_+-], slash-separated, no empty or dot parts. */
static int check_timezone(const char *tz, struct d2ev_err *err)
{
    bool ok = tz[0] != '/' && tz[strlen(tz) - 1] != '/' && !strstr(tz, "//");
    for (const char *c = tz; ok && *c; c++)
        ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
             *c == '/' || *c == '_' || *c == '+' || *c == '-';
    if (!ok)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "timezone: must be an IANA zone name such as \"Europe/London\"");
    return D2EV_OK;
}

/* A string that is required, or optional ("" when absent). */
static int car_str(const json_t *obj, const char *key, bool required, char *out, size_t maxlen,
                   enum d2ev_json_charset cs, struct d2ev_err *err)
{
    if (required)
        return d2ev_json_req_str(obj, key, out, maxlen, cs, err);
    return d2ev_ev_opt_text(obj, key, out, maxlen, cs, err);
}

int d2ev_ev_read_car(const json_t *obj, bool required, const struct d2ev_ev_car *car,
                     struct d2ev_err *err)
{
    if (car_str(obj, "user_id", required, car->user_id, D2EV_USER_ID_MAX, D2EV_CS_ID, err) ||
        car_str(obj, "oem", required, car->oem, D2EV_OEM_MAX, D2EV_CS_LOWER, err) ||
        car_str(obj, "oem_vehicle_id", required, car->oem_vehicle_id, D2EV_OEM_VEHICLE_ID_MAX,
                D2EV_CS_PRINTABLE, err) ||
        car_str(obj, "timezone", required, car->timezone, D2EV_TZ_MAX, D2EV_CS_PRINTABLE, err) ||
        (car->timezone[0] && check_timezone(car->timezone, err)) ||
        car_str(obj, "region", required, car->region, D2EV_REGION_MAX, D2EV_CS_ID, err) ||
        car_str(obj, "site_id", false, car->site_id, D2EV_SITE_ID_MAX, D2EV_CS_ID, err) ||
        d2ev_json_opt_num(obj, "battery_kwh", BATTERY_MIN_KWH, BATTERY_MAX_KWH, car->battery_kwh,
                          car->has_battery_kwh, err) ||
        d2ev_json_opt_num(obj, "max_power_kw", POWER_MIN_KW, POWER_MAX_KW, car->max_power_kw,
                          car->has_max_power_kw, err))
        return err->code;
    return D2EV_OK;
}

int d2ev_ev_write_car(json_t *obj, const struct d2ev_ev_car *car)
{
    return d2ev_ev_set_text(obj, "user_id", car->user_id) ||
           d2ev_ev_set_text(obj, "oem", car->oem) ||
           d2ev_ev_set_text(obj, "oem_vehicle_id", car->oem_vehicle_id) ||
           d2ev_ev_set_text(obj, "timezone", car->timezone) ||
           d2ev_ev_set_text(obj, "region", car->region) ||
           d2ev_ev_set_text(obj, "site_id", car->site_id) ||
           d2ev_ev_set_opt_num(obj, "battery_kwh", *car->has_battery_kwh, *car->battery_kwh) ||
           d2ev_ev_set_opt_num(obj, "max_power_kw", *car->has_max_power_kw, *car->max_power_kw);
}

/* ------------------------------------------------------------ vehicle */

static int vehicle_read(const json_t *root, void *out, struct d2ev_err *err)
{
    struct d2ev_vehicle *v = out;
    struct d2ev_ev_car car = D2EV_EV_CAR(v);
    json_t *prefs = NULL;
    int status = 0;
    if (d2ev_json_req_str(root, "vehicle_id", v->vehicle_id, D2EV_VEHICLE_ID_MAX, D2EV_CS_ID,
                          err) ||
        d2ev_ev_read_car(root, true, &car, err) ||
        d2ev_json_req_object(root, "prefs", &prefs, err) ||
        (d2ev_prefs_from_json(prefs, &v->prefs, err) && d2ev_ev_prefix(err, "prefs")) ||
        d2ev_json_req_int(root, "prefs_version", 0, INT64_MAX, &v->prefs_version, err) ||
        d2ev_json_req_enum(root, "status", vehicle_status_names,
                           D2EV_EV_COUNT(vehicle_status_names), &status, err) ||
        d2ev_ev_opt_text(root, "status_reason", v->status_reason, D2EV_REASON_MAX, D2EV_CS_ANY,
                         err) ||
        d2ev_json_req_time(root, "registered_at", &v->registered_at, err) ||
        d2ev_json_req_time(root, "updated_at", &v->updated_at, err))
        return err->code;
    v->status = (enum d2ev_vehicle_status)status;
    if (v->status == D2EV_VEHICLE_SUSPENDED && !v->status_reason[0])
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "status_reason: required when status is \"suspended\"");
    if (v->updated_at < v->registered_at)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "updated_at: must not be before registered_at");
    return D2EV_OK;
}

json_t *d2ev_vehicle_encode(const struct d2ev_vehicle *v)
{
    json_t *o = d2ev_envelope_new("vehicle");
    struct d2ev_ev_car car = D2EV_EV_CAR((struct d2ev_vehicle *)v);
    int failed = d2ev_ev_set_str(o, "vehicle_id", v->vehicle_id) || d2ev_ev_write_car(o, &car) ||
                 d2ev_ev_set_new(o, "prefs", d2ev_prefs_to_json(&v->prefs)) ||
                 d2ev_ev_set_int(o, "prefs_version", v->prefs_version) ||
                 d2ev_ev_set_enum(o, "status", vehicle_status_names,
                                  D2EV_EV_COUNT(vehicle_status_names), (int)v->status) ||
                 d2ev_ev_set_text(o, "status_reason", v->status_reason) ||
                 d2ev_ev_set_time(o, "registered_at", v->registered_at) ||
                 d2ev_ev_set_time(o, "updated_at", v->updated_at);
    return d2ev_ev_finish(o, failed);
}

int d2ev_vehicle_decode(const void *buf, size_t len, struct d2ev_vehicle *out, struct d2ev_err *err)
{
    return d2ev_ev_decode(buf, len, "vehicle", out, sizeof(*out), vehicle_read, NULL, err);
}

/* ------------------------------------------------------------ credentials */

static void credentials_clear(void *c)
{
    d2ev_credentials_clear(c);
}

void d2ev_credentials_clear(struct d2ev_credentials *c)
{
    if (!c)
        return;
    free(c->sealed);
    c->sealed = NULL;
}

static int credentials_read(const json_t *root, void *out, struct d2ev_err *err)
{
    struct d2ev_credentials *c = out;
    if (d2ev_json_req_str(root, "vehicle_id", c->vehicle_id, D2EV_VEHICLE_ID_MAX, D2EV_CS_ID,
                          err) ||
        d2ev_json_req_str(root, "oem", c->oem, D2EV_OEM_MAX, D2EV_CS_LOWER, err) ||
        d2ev_json_req_str(root, "key_id", c->key_id, D2EV_KEY_ID_MAX, D2EV_CS_ID, err) ||
        d2ev_ev_req_strdup(root, "sealed", D2EV_SEALED_MAX, D2EV_CS_PRINTABLE, &c->sealed, err) ||
        d2ev_json_req_time(root, "access_expires_at", &c->access_expires_at, err) ||
        d2ev_json_req_int(root, "version", 0, INT64_MAX, &c->version, err) ||
        d2ev_json_req_time(root, "updated_at", &c->updated_at, err))
        return err->code;
    /* d2ev_crypto_seal output is "<kid>.<base64>": the two must agree. */
    size_t kid_len = strlen(c->key_id);
    if (strncmp(c->sealed, c->key_id, kid_len) != 0 || c->sealed[kid_len] != '.')
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "sealed: must start with key_id \"%s\" and a dot", c->key_id);
    return D2EV_OK;
}

json_t *d2ev_credentials_encode(const struct d2ev_credentials *c)
{
    json_t *o = d2ev_envelope_new("credentials");
    int failed = d2ev_ev_set_str(o, "vehicle_id", c->vehicle_id) ||
                 d2ev_ev_set_str(o, "oem", c->oem) || d2ev_ev_set_str(o, "key_id", c->key_id) ||
                 d2ev_ev_set_new(o, "sealed", c->sealed ? json_string(c->sealed) : NULL) ||
                 d2ev_ev_set_time(o, "access_expires_at", c->access_expires_at) ||
                 d2ev_ev_set_int(o, "version", c->version) ||
                 d2ev_ev_set_time(o, "updated_at", c->updated_at);
    return d2ev_ev_finish(o, failed);
}

int d2ev_credentials_decode(const void *buf, size_t len, struct d2ev_credentials *out,
                            struct d2ev_err *err)
{
    return d2ev_ev_decode(buf, len, "credentials", out, sizeof(*out), credentials_read,
                          credentials_clear, err);
}
