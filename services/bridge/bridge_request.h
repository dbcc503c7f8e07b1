/*
 * bridge_request.h: the bridge's HTTP routes and the translation of a
 * request body into a registration.request (docs/bridge.md).
 *
 *   POST   /v1/registrations                  register a car
 *   PATCH  /v1/vehicles/{vehicle_id}/preferences
 *   DELETE /v1/vehicles/{vehicle_id}
 *   GET    /v1/registrations/{request_id}     the outcome, once known
 *
 * Everything here is pure (no clock, no Kafka, no HTTP server): the HTTP
 * handler, the unit tests and the fuzz harness call the same functions.
 * Every message built is checked with d2ev_reg_request_decode() before it is
 * handed back, so nothing d2ev-registration would refuse reaches Kafka.
 *
 * Identifiers (all deterministic, so a retry maps to the same ids):
 *   vehicle_id      "v-" + 32 hex of SHA-256("d2ev.vehicle.v1\n<oem>\n<oem_vehicle_id>")
 *                   (HMAC-SHA-256 with vehicle-id-key when that is set)
 *   idempotency_key the Idempotency-Key header, else "s-" + 32 hex of SHA-256 of
 *                   the request's signature (one key per signed request)
 *   request_id      "req-" + 32 hex of SHA-256("d2ev.request.v1\n<action>\n
 *                   <vehicle_id>\n<idempotency_key>")
 */
#ifndef D2EV_BRIDGE_REQUEST_H
#define D2EV_BRIDGE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "d2ev/crypto.h"
#include "d2ev/error.h"
#include "d2ev/events.h"

#define BRIDGE_VEHICLE_ID_LEN  34 /* "v-" + 32 hex */
#define BRIDGE_REQUEST_ID_LEN  36 /* "req-" + 32 hex */
#define BRIDGE_IDEM_MAX        64
#define BRIDGE_AUTH_FIELD_MAX  4096
#define BRIDGE_HDR_IDEMPOTENCY "Idempotency-Key"

enum bridge_route_kind {
    BRIDGE_ROUTE_REGISTER = 0,
    BRIDGE_ROUTE_PREFERENCES,
    BRIDGE_ROUTE_DEREGISTER,
    BRIDGE_ROUTE_RESULT,
};

struct bridge_route {
    enum bridge_route_kind kind;
    char id[65]; /* vehicle_id (preferences, deregister) or request_id (result) */
};

/* Why a request is refused: an HTTP status, a stable error code (static
 * string) and a message that never echoes a secret. */
struct bridge_reject {
    int status;
    const char *code;
    struct d2ev_err err;
};

/* What a request is checked against. Borrowed. */
struct bridge_rules {
    const char *const *oems; /* OEM names accepted (adapters configured downstream) */
    size_t noems;
    const struct d2ev_keyring *keys; /* seals the OEM authorisation */
    const char *vehicle_id_key;      /* optional HMAC key for vehicle ids (NULL: plain hash) */
};

/* Match method + path (without query) to a route. Returns 0, or -1 with rej
 * set (404 not_found, 405 method_not_allowed). */
int bridge_route_match(const char *method, const char *path, struct bridge_route *out,
                       struct bridge_reject *rej);

/* The vehicle id of a car (see above) into out. */
void bridge_vehicle_id(const char *key, const char *oem, const char *oem_vehicle_id,
                       char out[BRIDGE_VEHICLE_ID_LEN + 1]);

/* The idempotency key derived from a signature digest, into out. */
void bridge_idempotency_from_signature(const unsigned char sig[D2EV_HMAC_SHA256_LEN],
                                       char out[BRIDGE_IDEM_MAX + 1]);

/* The request id of (action, vehicle, idempotency key) into out. */
void bridge_request_id(enum d2ev_reg_action action, const char *vehicle_id, const char *idem,
                       char out[BRIDGE_REQUEST_ID_LEN + 1]);

/* True when s is a usable Idempotency-Key: 1..64 of [A-Za-z0-9._:@-]. */
bool bridge_idempotency_key_valid(const char *s);

/* Build the registration.request for a POST, PATCH or DELETE route from its
 * body and idempotency key (already chosen). On success returns 0 and fills
 * *out (source "bridge", sealed authorisation for register); release it with
 * d2ev_reg_request_clear(). On failure returns -1 with rej set (4xx) and
 * *out cleared. */
int bridge_build_request(const struct bridge_rules *rules, const struct bridge_route *route,
                         const char *body, size_t body_len, const char *idempotency_key,
                         struct d2ev_reg_request *out, struct bridge_reject *rej);

/* Encode r as the Kafka message and check it with the registration decoder.
 * Returns the JSON text (malloc'd; the caller frees it), or NULL with rej set
 * (400 when the decoder refuses it, 500 when it cannot be encoded). */
char *bridge_encode_request(const struct d2ev_reg_request *r, struct bridge_reject *rej);

#endif
