/*
 * A small blocking HTTP client (libcurl easy) for tools: the demo driver and
 * tests. Services talk to OEMs through the OEM engine instead.
 *
 * Ownership: *body (if requested) is malloc'd and NUL-terminated; the caller
 * frees it. Strings passed in are borrowed for the call. Thread-safe once
 * libcurl's global init has run (d2ev_httpc_request does it on first use).
 */
#ifndef D2EV_HTTPC_H
#define D2EV_HTTPC_H

#include <stddef.h>

/* Send method to url with extra headers ("Name: value", NULL-terminated, may
 * be NULL) and an optional body. Returns the HTTP status, or -1 on a
 * transport error. body/headers_out receive the response body and header
 * block when not NULL. */
long d2ev_httpc_request(const char *method, const char *url, const char *const *headers,
                        const char *req_body, size_t req_len, int timeout_ms, char **body,
                        char **headers_out);

#endif
