/* api_auth.c: the ops API's bearer tokens and roles (see api_auth.h). */
#include "api_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "d2ev/util.h"

static bool token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

bool d2ev_api_token_wellformed(const char *s, size_t len)
{
    if (len < D2EV_API_TOKEN_MIN || len > D2EV_API_TOKEN_MAX)
        return false;
    size_t i = 0;
    while (i < len && token_char(s[i]))
        i++;
    if (i == 0)
        return false;
    while (i < len && s[i] == '=')
        i++;
    return i == len;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const struct {
    const char *name;
    enum d2ev_api_role role;
} roles[] = {
    { "app", D2EV_API_ROLE_APP },
    { "read", D2EV_API_ROLE_READ },
    { "operator", D2EV_API_ROLE_OPERATOR },
};

const char *d2ev_api_role_name(enum d2ev_api_role role)
{
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        if (roles[i].role == role)
            return roles[i].name;
    }
    return "none";
}

unsigned d2ev_api_role_perms(enum d2ev_api_role role)
{
    switch (role) {
    case D2EV_API_ROLE_APP:
        return D2EV_API_PERM_STATUS;
    case D2EV_API_ROLE_READ:
        return D2EV_API_PERM_STATUS | D2EV_API_PERM_READ;
    case D2EV_API_ROLE_OPERATOR:
        return D2EV_API_PERM_STATUS | D2EV_API_PERM_READ | D2EV_API_PERM_WRITE;
    default:
        return 0;
    }
}

static void fingerprint(const char *s, size_t len, char out[D2EV_API_FP_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    if (!EVP_Digest(s, len, md, &mdlen, EVP_sha256(), NULL))
        mdlen = 0;
    d2ev_hex_encode(md, mdlen, hex);
    hex[D2EV_API_FP_LEN] = '\0';
    d2ev_strlcpy(out, mdlen ? hex : "000000000000", D2EV_API_FP_LEN + 1);
}

/* Parse one trimmed entry s[0..len) into *t. Never quotes the entry: a
 * swapped "role:token" would otherwise print the token. */
static int parse_entry(const char *s, size_t len, size_t index, struct d2ev_api_token *t,
                       struct d2ev_err *err)
{
    if (len == 0)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "api-tokens: entry %zu is empty (want <token>:<role>,...)", index);
    const char *colon = memchr(s, ':', len);
    if (!colon)
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "api-tokens: entry %zu has no role (want <token>:<role>)", index);
    size_t tlen = (size_t)(colon - s);
    const char *role = colon + 1;
    size_t rlen = len - tlen - 1;
    if (!d2ev_api_token_wellformed(s, tlen))
        return d2ev_err_set(err, D2EV_ERR_INVALID,
                            "api-tokens: entry %zu: the token must be %d..%d characters of "
                            "A-Z a-z 0-9 - . _ ~ + / (then optional '=' padding)",
                            index, D2EV_API_TOKEN_MIN, D2EV_API_TOKEN_MAX);
    t->role = D2EV_API_ROLE_NONE;
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        if (strlen(roles[i].name) == rlen && memcmp(roles[i].name, role, rlen) == 0)
            t->role = roles[i].role;
    }
    if (t->role == D2EV_API_ROLE_NONE)
        return d2ev_err_set(
            err, D2EV_ERR_INVALID,
            "api-tokens: entry %zu has an unknown role (want read, operator or app)", index);
    t->secret = malloc(tlen + 1);
    if (!t->secret)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    memcpy(t->secret, s, tlen);
    t->secret[tlen] = '\0';
    t->len = tlen;
    fingerprint(s, tlen, t->fingerprint);
    return D2EV_OK;
}

int d2ev_api_tokens_parse(const char *spec, struct d2ev_api_tokens *out, struct d2ev_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!spec)
        return D2EV_OK;
    const char *p = spec;
    while (is_space(*p))
        p++;
    if (!*p)
        return D2EV_OK;
    size_t count = 1;
    for (const char *q = spec; *q; q++)
        count += *q == ',';
    struct d2ev_api_tokens t = { 0 };
    t.items = calloc(count, sizeof(*t.items));
    if (!t.items)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    const char *start = spec;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr(start, ',');
        if (!end)
            end = start + strlen(start);
        const char *a = start, *b = end;
        while (a < b && is_space(*a))
            a++;
        while (b > a && is_space(b[-1]))
            b--;
        int rc = parse_entry(a, (size_t)(b - a), i + 1, &t.items[i], err);
        if (rc != D2EV_OK) {
            t.n = i + 1;
            d2ev_api_tokens_clear(&t);
            return rc;
        }
        t.n = i + 1;
        for (size_t j = 0; j < i; j++) {
            if (d2ev_ct_equal(t.items[j].secret, t.items[j].len, t.items[i].secret,
                              t.items[i].len)) {
                d2ev_api_tokens_clear(&t);
                return d2ev_err_set(err, D2EV_ERR_INVALID,
                                    "api-tokens: entry %zu repeats the token of entry %zu", i + 1,
                                    j + 1);
            }
        }
        start = *end ? end + 1 : end;
    }
    *out = t;
    return D2EV_OK;
}

const struct d2ev_api_token *d2ev_api_tokens_find(const struct d2ev_api_tokens *t, const char *tok,
                                                  size_t len)
{
    const struct d2ev_api_token *found = NULL;
    for (size_t i = 0; i < t->n; i++) {
        /* no early exit: the time does not depend on which entry matched */
        bool eq = d2ev_ct_equal(t->items[i].secret, t->items[i].len, tok, len);
        if (eq)
            found = &t->items[i];
    }
    return found;
}

void d2ev_api_tokens_clear(struct d2ev_api_tokens *t)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i].secret) {
            OPENSSL_cleanse(t->items[i].secret, t->items[i].len);
            free(t->items[i].secret);
        }
    }
    free(t->items);
    memset(t, 0, sizeof(*t));
}

bool d2ev_api_bearer(const char *header, const char **tok, size_t *len)
{
    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return false;
    const char *s = header + 7;
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        n--;
    if (n == 0 || n > D2EV_API_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!token_char(s[i]) && s[i] != '=')
            return false;
    }
    *tok = s;
    *len = n;
    return true;
}
