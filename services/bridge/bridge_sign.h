/*
 * bridge_sign.h: the request signature of the bridge's HTTP API (docs/bridge.md).
 *
 *   X-D2EV-Timestamp: <unix seconds>
 *   X-D2EV-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<METHOD>.<path>.<body>")>
 *
 * The signature covers the timestamp, the method, the path (without a query
 * string) and the exact body bytes, so none of them can be changed or
 * replayed onto another route. A request is accepted when its timestamp is
 * within the tolerance of the bridge's clock and one of its v1 signatures
 * matches one of the configured secrets (the current one, and the previous
 * one during a rotation). Comparison is constant-time.
 *
 * Pure functions: no clock, no I/O, no allocation beyond the call.
 */
#ifndef D2EV_BRIDGE_SIGN_H
#define D2EV_BRIDGE_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/crypto.h"
#include "d2ev/error.h"

#define BRIDGE_HDR_TIMESTAMP "X-D2EV-Timestamp"
#define BRIDGE_HDR_SIGNATURE "X-D2EV-Signature"
#define BRIDGE_SIG_HEX_LEN   (2 * D2EV_HMAC_SHA256_LEN)
#define BRIDGE_MAX_SECRETS   2
#define BRIDGE_MAX_SIGS      4 /* v1 entries read from one header */

/* Secrets that verify signatures. Borrowed strings; used as raw bytes. */
struct bridge_sig_keys {
    const char *secret[BRIDGE_MAX_SECRETS];
    size_t n;
    int64_t tolerance_s; /* accepted |now - timestamp| */
};

/* Why a request was refused (the HTTP layer maps these to 401). */
enum bridge_sig_verdict {
    BRIDGE_SIG_OK = 0,
    BRIDGE_SIG_MISSING,   /* a header is absent */
    BRIDGE_SIG_MALFORMED, /* a header is not in the documented form */
    BRIDGE_SIG_STALE,     /* timestamp outside the tolerance */
    BRIDGE_SIG_MISMATCH,  /* no signature matches */
};

/* A verified request: its timestamp and the signature that matched (the
 * replay cache's key). */
struct bridge_sig_ok {
    int64_t timestamp_s;
    unsigned char digest[D2EV_HMAC_SHA256_LEN];
};

/* The v1 signature of a request as 64 lower-case hex characters + NUL.
 * body may contain NULs (body_len counts them). */
void bridge_sign(const void *secret, size_t secret_len, const char *timestamp, const char *method,
                 const char *path, const void *body, size_t body_len,
                 char out[BRIDGE_SIG_HEX_LEN + 1]);

/* Check a request's headers (either may be NULL when absent) against keys at
 * now_s (unix seconds). Returns the verdict; on BRIDGE_SIG_OK fills *ok, else
 * err->msg says what is wrong without echoing secrets. */
enum bridge_sig_verdict bridge_sig_verify(const struct bridge_sig_keys *keys, const char *ts_header,
                                          const char *sig_header, const char *method,
                                          const char *path, const void *body, size_t body_len,
                                          int64_t now_s, struct bridge_sig_ok *ok,
                                          struct d2ev_err *err);

/* Stable lower-case name of a verdict, used as the HTTP error code:
 * "ok", "missing_signature", "malformed_signature", "stale_timestamp",
 * "bad_signature". */
const char *bridge_sig_verdict_name(enum bridge_sig_verdict v);

#endif
