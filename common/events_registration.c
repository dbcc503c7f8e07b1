/* events_registration.c: registration requests from the bridge and their results. */
#include "events_internal.h"

#include <stdlib.h>
#include <string.h>

#define REQUEST_ID_MAX 64
#define SOURCE_MAX     16

static const char *const action_names[] = { "register", "update_preferences", "deregister",
                                             "refresh_credentials" };

/* ------------------------------------------------------------ request */

static void reg_request_clear(void *r)
{
    d2ev_reg_request_clear(r);
}

void d2ev_reg_request_clear(struct d2ev_reg_request *r)
{
    if (!r)
        return;
    free(r->sealed_auth);
    r->sealed_auth = NULL;
    json_decref(r->prefs_patch);
    r->prefs_patch = NULL;
}

/* prefs_patch: register applies it over the defaults, so the whole result can
 * be checked now; update_preferences applies it over preferences this reader
 * does not know, so only each member is checked. */
static int read_prefs_patch(const json_t *root, struct d2ev_reg_request *r, struct d2ev_err *err)
{
    json_t *patch = NULL;
    int rc = r->action == D2EV_REG_UPDATE_PREFERENCES
                 ? d2ev_json_req_object(root, "prefs_patch", &patch, err)
                 : d2ev_json_opt_object(root, "prefs_patch", &patch, err);
    if (rc != D2EV_OK || !patch)
        return rc;
    struct d2ev_prefs p;
    d2ev_prefs_default(&p);
    rc = r->action == D2EV_REG_REGISTER ? d2ev_prefs_apply_patch(&p, patch, err)
                                        : d2ev_ev_prefs_patch_check(patch, err);
    if (rc != D2EV_OK)
        return d2ev_ev_prefix(err, "prefs_patch");
    r->prefs_patch = json_deep_copy(patch);
    if (!r->prefs_patch)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "prefs_patch: out of memory");
    return D2EV_OK;
}

static int reg_request_read(const json_t *root, void *out, struct d2ev_err *err)
{
    struct d2ev_reg_request *r = out;
    struct d2ev_ev_car car = D2EV_EV_CAR(r);
    int action = 0;
    if (d2ev_json_req_str(root, "request_id", r->request_id, REQUEST_ID_MAX, D2EV_CS_ID, err) ||
        d2ev_json_req_enum(root, "action", action_names, D2EV_EV_COUNT(action_names), &action,
                           err) ||
        d2ev_json_req_str(root, "vehicle_id", r->vehicle_id, D2EV_VEHICLE_ID_MAX, D2EV_CS_ID, err))
        return err->code;
    r->action = (enum d2ev_reg_action)action;
    bool reg = r->action == D2EV_REG_REGISTER;
    if (d2ev_ev_read_car(root, reg, &car, err))
        return err->code;
    const json_t *sealed = json_object_get(root, "sealed_auth");
    if (reg || (sealed && !json_is_null(sealed))) {
        if (d2ev_ev_req_strdup(root, "sealed_auth", D2EV_SEALED_MAX, D2EV_CS_PRINTABLE,
                               &r->sealed_auth, err))
            return err->code;
    }
    if (read_prefs_patch(root, r, err) ||
        d2ev_ev_opt_text(root, "idempotency_key", r->idempotency_key, REQUEST_ID_MAX, D2EV_CS_ID,
                         err) ||
        d2ev_ev_opt_text(root, "source", r->source, SOURCE_MAX, D2EV_CS_LOWER, err))
        return err->code;
    return D2EV_OK;
}

json_t *d2ev_reg_request_encode(const struct d2ev_reg_request *r)
{
    json_t *o = d2ev_envelope_new("registration.request");
    struct d2ev_ev_car car = D2EV_EV_CAR((struct d2ev_reg_request *)r);
    int failed =
        d2ev_ev_set_str(o, "request_id", r->request_id) ||
        d2ev_ev_set_enum(o, "action", action_names, D2EV_EV_COUNT(action_names), (int)r->action) ||
        d2ev_ev_set_str(o, "vehicle_id", r->vehicle_id) || d2ev_ev_write_car(o, &car) ||
        (r->sealed_auth && d2ev_ev_set_str(o, "sealed_auth", r->sealed_auth)) ||
        (r->prefs_patch && d2ev_ev_set_new(o, "prefs_patch", json_deep_copy(r->prefs_patch))) ||
        d2ev_ev_set_text(o, "idempotency_key", r->idempotency_key) ||
        d2ev_ev_set_text(o, "source", r->source);
    return d2ev_ev_finish(o, failed);
}

int d2ev_reg_request_decode(const void *buf, size_t len, struct d2ev_reg_request *out,
                            struct d2ev_err *err)
{
    return d2ev_ev_decode(buf, len, "registration.request", out, sizeof(*out), reg_request_read,
                          reg_request_clear, err);
}

/* ------------------------------------------------------------ result */

static int reg_result_read(const json_t *root, void *out, struct d2ev_err *err)
{
    struct d2ev_reg_result *r = out;
    int action = 0;
    if (d2ev_json_req_str(root, "request_id", r->request_id, REQUEST_ID_MAX, D2EV_CS_ID, err) ||
        d2ev_json_req_str(root, "vehicle_id", r->vehicle_id, D2EV_VEHICLE_ID_MAX, D2EV_CS_ID,
                          err) ||
        d2ev_json_req_enum(root, "action", action_names, D2EV_EV_COUNT(action_names), &action,
                           err) ||
        d2ev_json_req_bool(root, "accepted", &r->accepted, err) ||
        d2ev_json_req_str(root, "code", r->code, D2EV_CODE_MAX, D2EV_CS_LOWER, err) ||
        d2ev_ev_opt_text(root, "reason", r->reason, D2EV_REASON_MAX, D2EV_CS_ANY, err))
        return err->code;
    r->action = (enum d2ev_reg_action)action;
    if (!r->accepted && !r->reason[0])
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "reason: required when accepted is false (say why)");
    return D2EV_OK;
}

json_t *d2ev_reg_result_encode(const struct d2ev_reg_result *r)
{
    json_t *o = d2ev_envelope_new("registration.result");
    int failed =
        d2ev_ev_set_str(o, "request_id", r->request_id) ||
        d2ev_ev_set_str(o, "vehicle_id", r->vehicle_id) ||
        d2ev_ev_set_enum(o, "action", action_names, D2EV_EV_COUNT(action_names), (int)r->action) ||
        d2ev_ev_set_bool(o, "accepted", r->accepted) || d2ev_ev_set_str(o, "code", r->code) ||
        d2ev_ev_set_text(o, "reason", r->reason);
    return d2ev_ev_finish(o, failed);
}

int d2ev_reg_result_decode(const void *buf, size_t len, struct d2ev_reg_result *out,
                           struct d2ev_err *err)
{
    return d2ev_ev_decode(buf, len, "registration.result", out, sizeof(*out), reg_result_read, NULL,
                          err);
}
