/*
 * Bearer tokens and roles of the ops API.
 *
 * The setting api-tokens is a comma-separated list of <token>:<role>:
 *   read      every GET under /v1 and the UI
 *   operator  read, plus the write endpoints (boost, replan)
 *   app       only GET /v1/vehicles/{id}/status (the mobile app's backend)
 * A token is 16..128 characters of the RFC 6750 token alphabet
 * (A-Z a-z 0-9 - . _ ~ + /, then optional '=' padding). Whitespace around an
 * entry is ignored, so a mounted file may put one entry per line
 * (still separated by commas).
 *
 * Tokens are compared in constant time against every configured token, and
 * never logged: logs and events name a token by its fingerprint, the first
 * 12 hex digits of its SHA-256.
 *
 * Ownership: struct d2ev_api_tokens owns its entries; release it with
 * d2ev_api_tokens_clear(), which also wipes the secrets.
 */
#ifndef D2EV_API_AUTH_H
#define D2EV_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "d2ev/error.h"

#define D2EV_API_TOKEN_MIN 16
#define D2EV_API_TOKEN_MAX 128
#define D2EV_API_FP_LEN    12

enum d2ev_api_role {
    D2EV_API_ROLE_NONE = 0,
    D2EV_API_ROLE_APP,
    D2EV_API_ROLE_READ,
    D2EV_API_ROLE_OPERATOR,
};

/* What a route needs; a role grants a set of these. */
enum d2ev_api_perm {
    D2EV_API_PERM_PUBLIC = 0,  /* no token needed */
    D2EV_API_PERM_STATUS = 1u, /* the app's status view */
    D2EV_API_PERM_READ = 2u,   /* every other read */
    D2EV_API_PERM_WRITE = 4u,  /* boost, replan */
};

struct d2ev_api_token {
    char *secret; /* heap, owned */
    size_t len;
    enum d2ev_api_role role;
    char fingerprint[D2EV_API_FP_LEN + 1];
};

struct d2ev_api_tokens {
    size_t n;
    struct d2ev_api_token *items; /* heap, owned */
};

/* Parse spec (NULL or empty gives an empty list: every protected request is
 * then refused with 401). On error *out is left empty and err says which entry
 * is wrong and why, without quoting it. */
int d2ev_api_tokens_parse(const char *spec, struct d2ev_api_tokens *out, struct d2ev_err *err);

/* The entry whose secret equals tok[0..len), or NULL. Compares against every
 * entry in constant time per entry (lengths are not secret). The result is
 * borrowed from t. */
const struct d2ev_api_token *d2ev_api_tokens_find(const struct d2ev_api_tokens *t, const char *tok,
                                                  size_t len);

/* Wipe and free the entries; t becomes empty. */
void d2ev_api_tokens_clear(struct d2ev_api_tokens *t);

/* The permissions a role grants (a mask of enum d2ev_api_perm). */
unsigned d2ev_api_role_perms(enum d2ev_api_role role);

/* "app", "read", "operator" (or "none"). Static. */
const char *d2ev_api_role_name(enum d2ev_api_role role);

/* Split "Bearer <token>" (scheme case-insensitive). On success *tok points
 * into header and *len is its length. False when header is not of that form
 * or the token has characters outside the token alphabet. */
bool d2ev_api_bearer(const char *header, const char **tok, size_t *len);

/* True when s[0..len) is a well-formed token (alphabet and length). */
bool d2ev_api_token_wellformed(const char *s, size_t len);

#endif
