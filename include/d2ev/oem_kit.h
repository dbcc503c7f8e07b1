/*
 * The adapter kit: helpers every OEM adapter needs, so an adapter file holds
 * only its OEM's dialect. It is a static library (d2ev_oem_kit) linked INTO
 * each adapter .so; it uses nothing from the host but the d2ev_oem_host table
 * it is given, plus jansson and libc. Never link it into the host.
 *
 * Conventions: functions that can fail return 0 or a negative enum d2ev_rc and
 * write a sentence into (errbuf, errlen) when given. Strings returned are
 * allocated with host's allocators; the caller owns them (and hands them to
 * the host in a request or result, or frees them with host->free).
 * All functions are thread-safe (they touch only their arguments).
 */
#ifndef D2EV_OEM_KIT_H
#define D2EV_OEM_KIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/oem_adapter.h"

/* ------------------------------------------------------------ errors */

/* printf into errbuf (if errbuf and errlen) and return code. */
int d2ev_kit_err(char *errbuf, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ------------------------------------------------------------ config */

/* Parse config text as a JSON object. Returns a new reference (json_decref)
 * or NULL with errbuf filled. An empty text is an empty object. */
json_t *d2ev_kit_config_parse(const char *text, size_t len, char *errbuf, size_t errlen);

/* cfg[key] as a host-allocated string, or a copy of def when absent/null (NULL
 * when def is NULL). Fails when present but not a string. */
int d2ev_kit_config_str(const struct d2ev_oem_host *host, const json_t *cfg, const char *key,
                        const char *def, char **out, char *errbuf, size_t errlen);

/* cfg[key] as an integer in [min, max], or def when absent/null. */
int d2ev_kit_config_int(const json_t *cfg, const char *key, int64_t def, int64_t min, int64_t max,
                        int64_t *out, char *errbuf, size_t errlen);

/* cfg[key] as a boolean, or def when absent/null. */
int d2ev_kit_config_bool(const json_t *cfg, const char *key, bool def, bool *out, char *errbuf,
                         size_t errlen);

/* The settings every OAuth2 OEM shares. Strings are host-allocated. */
struct d2ev_kit_oauth {
    char *base_url; /* without a trailing slash */
    char *token_url;
    char *client_id;     /* may be NULL */
    char *client_secret; /* may be NULL; never logged */
    char *redirect_uri;  /* may be NULL */
};

/* The config keys d2ev_kit_oauth_config reads, for d2ev_oem_desc.config_keys. */
#define D2EV_KIT_OAUTH_KEYS "base_url", "token_url", "client_id", "redirect_uri"

/* Read base_url, token_url, client_id and redirect_uri from cfg (defaults for
 * the first two), and copy client_secret. base_url and token_url must be
 * http:// or https:// URLs. */
int d2ev_kit_oauth_config(const struct d2ev_oem_host *host, const json_t *cfg,
                          const char *default_base, const char *default_token,
                          const char *client_secret, struct d2ev_kit_oauth *out, char *errbuf,
                          size_t errlen);

/* Free the strings (wiping the secret). */
void d2ev_kit_oauth_free(const struct d2ev_oem_host *host, struct d2ev_kit_oauth *o);

/* The head every kit-based adapter instance starts with. */
struct d2ev_kit_base {
    const struct d2ev_oem_host *host;
    struct d2ev_kit_oauth oauth;
};

/* The common half of create(): parse the config, allocate a zeroed instance
 * of `size` bytes (a struct whose first member is struct d2ev_kit_base),
 * and read the OAuth settings. On success *inst is the instance and *cfg the
 * parsed config (a new reference) for the adapter's own keys; finish with
 * d2ev_kit_created(). */
int d2ev_kit_create(const struct d2ev_oem_host *host, const char *config_json, size_t len,
                    const char *client_secret, size_t size, const char *default_base,
                    const char *default_token, void **inst, json_t **cfg, char *errbuf,
                    size_t errlen);

/* Finish create(): drop cfg; if rc is an error destroy the instance, else
 * store it in *out. Returns rc. */
int d2ev_kit_created(void *inst, json_t *cfg, int rc, void **out);

/* destroy() for kit-based instances: frees the OAuth strings and the
 * instance. NULL is a no-op. */
void d2ev_kit_destroy(void *inst);

/* ------------------------------------------------------------ requests */

/* Set req's method and URL: base + path_before + url_encode(vehicle) +
 * path_after (vehicle may be NULL to leave it out). */
int d2ev_kit_request(const struct d2ev_oem_host *host, struct d2ev_oem_request *req,
                     const char *method, const char *base, const char *path_before,
                     const char *vehicle, const char *path_after, char *errbuf, size_t errlen);

/* Append a "Name: value" header. */
int d2ev_kit_header(const struct d2ev_oem_host *host, struct d2ev_oem_request *req,
                    const char *name, const char *value, char *errbuf, size_t errlen);

/* Set a JSON body (and Content-Type: application/json). body is stolen
 * (json_decref'd here, also on failure). */
int d2ev_kit_json_body(const struct d2ev_oem_host *host, struct d2ev_oem_request *req, json_t *body,
                       char *errbuf, size_t errlen);

/* How a token endpoint wants the client authenticated. */
struct d2ev_kit_token_style {
    bool basic_auth;             /* Authorization: Basic base64(client_id:client_secret) */
    bool client_id_in_body;      /* client_id=... in the form */
    bool secret_in_body_code;    /* client_secret=... in the form of a code exchange */
    bool secret_in_body_refresh; /* client_secret=... in the form of a refresh */
};

enum d2ev_kit_grant {
    D2EV_KIT_GRANT_REFRESH = 0,        /* grant_type=refresh_token&refresh_token=... */
    D2EV_KIT_GRANT_CODE = 1,           /* grant_type=authorization_code&code=...&redirect_uri=... */
    D2EV_KIT_GRANT_CLIENT_CREDENTIALS, /* grant_type=client_credentials */
};

/* Build a POST to o->token_url with an application/x-www-form-urlencoded
 * body for grant, taking the refresh token / code / redirect URI from call.
 * Sets req->auth = D2EV_OEM_AUTH_NONE. */
int d2ev_kit_token_request(const struct d2ev_oem_host *host, const struct d2ev_kit_oauth *o,
                           const struct d2ev_kit_token_style *style, enum d2ev_kit_grant grant,
                           const struct d2ev_oem_call *call, struct d2ev_oem_request *req,
                           char *errbuf, size_t errlen);

/* ------------------------------------------------------------ responses */

/* Header value by case-insensitive name, or NULL. Borrowed from resp. */
const char *d2ev_kit_header_get(const struct d2ev_oem_response *resp, const char *name);

/* Retry-After in ms (delta-seconds form), or 0 when absent or malformed. */
int64_t d2ev_kit_retry_after_ms(const struct d2ev_oem_response *resp);

/* The same for a Retry-After value found elsewhere (e.g. in a batch entry's
 * headers; NULL gives 0): delta-seconds up to 24 hours, else 0. */
int64_t d2ev_kit_retry_after_value_ms(const char *value);

/* The body parsed as JSON (any type), a new reference; NULL when it is not
 * JSON. */
json_t *d2ev_kit_body_json(const struct d2ev_oem_response *resp);

/* Fill res with class cls, next = DONE and a printf message. Returns 0 so
 * parse() can `return d2ev_kit_done(res, ...)`. */
int d2ev_kit_done(struct d2ev_oem_result *res, uint32_t cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like d2ev_kit_done with final = true: the flow's verdict, not retried. */
int d2ev_kit_verdict(struct d2ev_oem_result *res, uint32_t cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Ask the host to build and send step after delay_ms. Returns 0. */
int d2ev_kit_next(struct d2ev_oem_result *res, uint32_t step, int64_t delay_ms);

/* Classify a rate-limit answer: cls = rate_limited, retry_after_ms from the
 * response, the given scope. Returns 0. */
int d2ev_kit_rate_limited(struct d2ev_oem_result *res, const struct d2ev_oem_response *resp,
                          uint32_t scope, const char *what);

/* The class of an answer that is not the OEM's documented success, by its
 * HTTP status, when the OEM's table says nothing more specific: 401
 * unauthorized, 429 rate_limited, 408 and 5xx retry, an unexpected 2xx retry
 * (garbled: no state, tokens or command outcome to report), other 4xx (and
 * 1xx/3xx) permanent. */
uint32_t d2ev_kit_status_class(int status);

/* Parse an OAuth2 token endpoint answer into res->tokens. 200 needs
 * access_token; refresh_token, expires_in and refresh_expires_in are
 * optional. Errors: 400 and 401 (invalid_grant, invalid_client) are
 * unauthorized, 429 rate_limited, 5xx retry, others permanent; the message
 * carries the OAuth2 "error" code, never a token. */
int d2ev_kit_parse_tokens(const struct d2ev_oem_host *host, const struct d2ev_oem_response *resp,
                          struct d2ev_oem_result *res);

/* ------------------------------------------------------------ JSON reading */

/* obj[key] as a number (integer or real); false when absent, null or not a
 * number. */
bool d2ev_kit_num(const json_t *obj, const char *key, double *out);

/* obj[key] as a boolean; false when absent, null or not a boolean. */
bool d2ev_kit_bool(const json_t *obj, const char *key, bool *out);

/* obj[key] as a string (borrowed), or NULL. */
const char *d2ev_kit_str(const json_t *obj, const char *key);

/* Copy s (may be NULL) into a fixed buffer, truncating. */
void d2ev_kit_copy(char *dst, size_t size, const char *s);

/* Overwrite a NUL-terminated secret with zeros (NULL is a no-op). */
void d2ev_kit_wipe(char *s);

/* ------------------------------------------------------------ the entry */

/* True when an adapter built against this header can work with the host:
 * same major version and a host table at least as large as this header's. */
bool d2ev_kit_host_ok(uint32_t host_abi, const struct d2ev_oem_host *host);

/* Define the adapter table and the one exported entry function:
 *   D2EV_KIT_ADAPTER("smartcar", sc_create, sc_destroy, sc_describe, sc_build, sc_parse)
 */
#define D2EV_KIT_ADAPTER(name_, create_, destroy_, describe_, build_, parse_)                      \
    static const struct d2ev_oem_adapter d2ev_kit_adapter_ = {                                     \
        .struct_size = sizeof(struct d2ev_oem_adapter),                                            \
        .abi_version = D2EV_OEM_ABI_VERSION,                                                       \
        .name = (name_),                                                                           \
        .create = (create_),                                                                       \
        .destroy = (destroy_),                                                                     \
        .describe = (describe_),                                                                   \
        .build = (build_),                                                                         \
        .parse = (parse_),                                                                         \
    };                                                                                             \
    D2EV_OEM_EXPORT const struct d2ev_oem_adapter *d2ev_oem_adapter_entry(                         \
        uint32_t host_abi, const struct d2ev_oem_host *host);                                      \
    const struct d2ev_oem_adapter *d2ev_oem_adapter_entry(uint32_t host_abi,                       \
                                                          const struct d2ev_oem_host *host)        \
    {                                                                                              \
        return d2ev_kit_host_ok(host_abi, host) ? &d2ev_kit_adapter_ : NULL;                       \
    }

#endif
