/* kit.c: helpers linked into every adapter .so (see d2ev/oem_kit.h).
 * Uses only the host table, jansson and libc: adapters link with -z defs. */
#include "d2ev/oem_kit.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TOKEN_LIFETIME_S (100.0 * 366 * 86400)

int d2ev_kit_err(char *errbuf, size_t errlen, int code, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ------------------------------------------------------------ config */

json_t *d2ev_kit_config_parse(const char *text, size_t len, char *errbuf, size_t errlen)
{
    if (!text || len == 0)
        return json_object();
    json_error_t je;
    json_t *cfg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!cfg) {
        d2ev_kit_err(errbuf, errlen, D2EV_ERR_INVALID, "config: not JSON (line %d: %s)", je.line,
                     je.text);
        return NULL;
    }
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        d2ev_kit_err(errbuf, errlen, D2EV_ERR_INVALID, "config: must be a JSON object");
        return NULL;
    }
    return cfg;
}

int d2ev_kit_config_str(const struct d2ev_oem_host *host, const json_t *cfg, const char *key,
                        const char *def, char **out, char *errbuf, size_t errlen)
{
    json_t *v = json_object_get(cfg, key);
    const char *s = def;
    if (v && !json_is_null(v)) {
        if (!json_is_string(v))
            return d2ev_kit_err(errbuf, errlen, D2EV_ERR_INVALID, "config: %s must be a string",
                                key);
        s = json_string_value(v);
    }
    *out = NULL;
    if (!s)
        return D2EV_OK;
    *out = host->strdup(s);
    return *out ? D2EV_OK : d2ev_kit_err(errbuf, errlen, D2EV_ERR_NOMEM, "out of memory");
}

int d2ev_kit_config_int(const json_t *cfg, const char *key, int64_t def, int64_t min, int64_t max,
                        int64_t *out, char *errbuf, size_t errlen)
{
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return D2EV_OK;
    }
    if (!json_is_integer(v))
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_INVALID, "config: %s must be an integer", key);
    int64_t x = (int64_t)json_integer_value(v);
    if (x < min || x > max)
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_INVALID,
                            "config: %s must be between %lld and %lld, got %lld", key,
                            (long long)min, (long long)max, (long long)x);
    *out = x;
    return D2EV_OK;
}

int d2ev_kit_config_bool(const json_t *cfg, const char *key, bool def, bool *out, char *errbuf,
                         size_t errlen)
{
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return D2EV_OK;
    }
    if (!json_is_boolean(v))
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_INVALID, "config: %s must be true or false",
                            key);
    *out = json_is_true(v);
    return D2EV_OK;
}

static bool is_http_url(const char *s)
{
    return s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0) &&
           !strpbrk(s, " \t\r\n");
}

int d2ev_kit_oauth_config(const struct d2ev_oem_host *host, const json_t *cfg,
                          const char *default_base, const char *default_token,
                          const char *client_secret, struct d2ev_kit_oauth *out, char *errbuf,
                          size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int rc;
    if ((rc = d2ev_kit_config_str(host, cfg, "base_url", default_base, &out->base_url, errbuf,
                                  errlen)) ||
        (rc = d2ev_kit_config_str(host, cfg, "token_url", default_token, &out->token_url, errbuf,
                                  errlen)) ||
        (rc = d2ev_kit_config_str(host, cfg, "client_id", NULL, &out->client_id, errbuf, errlen)) ||
        (rc = d2ev_kit_config_str(host, cfg, "redirect_uri", NULL, &out->redirect_uri, errbuf,
                                  errlen)))
        goto fail;
    if (!is_http_url(out->base_url)) {
        rc = d2ev_kit_err(errbuf, errlen, D2EV_ERR_INVALID,
                          "config: base_url must be an http:// or https:// URL");
        goto fail;
    }
    if (!is_http_url(out->token_url)) {
        rc = d2ev_kit_err(errbuf, errlen, D2EV_ERR_INVALID,
                          "config: token_url must be an http:// or https:// URL");
        goto fail;
    }
    size_t n = strlen(out->base_url);
    while (n > 0 && out->base_url[n - 1] == '/')
        out->base_url[--n] = '\0';
    if (client_secret && *client_secret) {
        out->client_secret = host->strdup(client_secret);
        if (!out->client_secret) {
            rc = d2ev_kit_err(errbuf, errlen, D2EV_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    return D2EV_OK;
fail:
    d2ev_kit_oauth_free(host, out);
    return rc;
}

void d2ev_kit_oauth_free(const struct d2ev_oem_host *host, struct d2ev_kit_oauth *o)
{
    d2ev_kit_wipe(o->client_secret);
    host->free(o->base_url);
    host->free(o->token_url);
    host->free(o->client_id);
    host->free(o->client_secret);
    host->free(o->redirect_uri);
    memset(o, 0, sizeof(*o));
}

int d2ev_kit_create(const struct d2ev_oem_host *host, const char *config_json, size_t len,
                    const char *client_secret, size_t size, const char *default_base,
                    const char *default_token, void **inst, json_t **cfg, char *errbuf,
                    size_t errlen)
{
    *inst = NULL;
    *cfg = d2ev_kit_config_parse(config_json, len, errbuf, errlen);
    if (!*cfg)
        return D2EV_ERR_INVALID;
    struct d2ev_kit_base *b = host->alloc(size < sizeof(*b) ? sizeof(*b) : size);
    if (!b) {
        json_decref(*cfg);
        *cfg = NULL;
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_NOMEM, "out of memory");
    }
    b->host = host;
    int rc = d2ev_kit_oauth_config(host, *cfg, default_base, default_token, client_secret,
                                   &b->oauth, errbuf, errlen);
    if (rc) {
        host->free(b);
        json_decref(*cfg);
        *cfg = NULL;
        return rc;
    }
    *inst = b;
    return D2EV_OK;
}

int d2ev_kit_created(void *inst, json_t *cfg, int rc, void **out)
{
    json_decref(cfg);
    if (rc)
        d2ev_kit_destroy(inst);
    else
        *out = inst;
    return rc;
}

void d2ev_kit_destroy(void *inst)
{
    struct d2ev_kit_base *b = inst;
    if (!b)
        return;
    const struct d2ev_oem_host *host = b->host;
    d2ev_kit_oauth_free(host, &b->oauth);
    host->free(b);
}

/* ------------------------------------------------------------ requests */

int d2ev_kit_request(const struct d2ev_oem_host *host, struct d2ev_oem_request *req,
                     const char *method, const char *base, const char *path_before,
                     const char *vehicle, const char *path_after, char *errbuf, size_t errlen)
{
    char *enc = NULL;
    if (vehicle) {
        if (!*vehicle)
            return d2ev_kit_err(errbuf, errlen, D2EV_ERR_INVALID, "vehicle id is empty");
        if (!(enc = host->url_encode(vehicle)))
            return d2ev_kit_err(errbuf, errlen, D2EV_ERR_NOMEM, "out of memory");
    }
    host->free(req->url);
    req->url = host->format("%s%s%s%s", base, path_before ? path_before : "", enc ? enc : "",
                            path_after ? path_after : "");
    host->free(enc);
    if (!req->url)
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_NOMEM, "out of memory");
    snprintf(req->method, sizeof(req->method), "%s", method);
    return D2EV_OK;
}

int d2ev_kit_header(const struct d2ev_oem_host *host, struct d2ev_oem_request *req,
                    const char *name, const char *value, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < D2EV_OEM_MAX_HEADERS; i++) {
        if (req->headers[i])
            continue;
        req->headers[i] = host->format("%s: %s", name, value);
        return req->headers[i] ? D2EV_OK
                               : d2ev_kit_err(errbuf, errlen, D2EV_ERR_NOMEM, "out of memory");
    }
    return d2ev_kit_err(errbuf, errlen, D2EV_ERR_LIMIT, "more than %d request headers",
                        D2EV_OEM_MAX_HEADERS);
}

/* Move a malloc'd buffer into a host-allocated request body. */
static int set_body(const struct d2ev_oem_host *host, struct d2ev_oem_request *req,
                    const char *data, size_t len, char *errbuf, size_t errlen)
{
    char *b = host->alloc(len + 1);
    if (!b)
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_NOMEM, "out of memory");
    memcpy(b, data, len);
    host->free(req->body);
    req->body = b;
    req->body_len = len;
    return D2EV_OK;
}

int d2ev_kit_json_body(const struct d2ev_oem_host *host, struct d2ev_oem_request *req, json_t *body,
                       char *errbuf, size_t errlen)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_NOMEM, "out of memory");
    int rc = set_body(host, req, text, strlen(text), errbuf, errlen);
    free(text);
    if (rc)
        return rc;
    return d2ev_kit_header(host, req, "Content-Type", "application/json", errbuf, errlen);
}

/* A growing form body ("a=b&c=d") in host memory. */
struct form {
    const struct d2ev_oem_host *host;
    char *s;
    bool failed;
};

static void form_add(struct form *f, const char *key, const char *value)
{
    if (f->failed)
        return;
    char *enc = f->host->url_encode(value ? value : "");
    char *next =
        enc ? f->host->format("%s%s%s=%s", f->s ? f->s : "", f->s ? "&" : "", key, enc) : NULL;
    f->host->free(enc);
    d2ev_kit_wipe(f->s); /* the form may hold a secret */
    f->host->free(f->s);
    f->s = next;
    f->failed = !next;
}

int d2ev_kit_token_request(const struct d2ev_oem_host *host, const struct d2ev_kit_oauth *o,
                           const struct d2ev_kit_token_style *style, enum d2ev_kit_grant grant,
                           const struct d2ev_oem_call *call, struct d2ev_oem_request *req,
                           char *errbuf, size_t errlen)
{
    bool need_secret = style->basic_auth ||
                       (grant == D2EV_KIT_GRANT_CODE && style->secret_in_body_code) ||
                       (grant == D2EV_KIT_GRANT_REFRESH && style->secret_in_body_refresh);
    if ((style->basic_auth || style->client_id_in_body) && !o->client_id)
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_INVALID,
                            "client_id is not configured (set it in the adapter config)");
    if (need_secret && !o->client_secret)
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_INVALID,
                            "client secret is not configured (set the environment variable)");
    const char *redirect = call->redirect_uri ? call->redirect_uri : o->redirect_uri;
    if (grant == D2EV_KIT_GRANT_REFRESH && (!call->refresh_token || !*call->refresh_token))
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_INVALID, "no refresh token to refresh with");
    if (grant == D2EV_KIT_GRANT_CODE && (!call->code || !*call->code))
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_INVALID, "no authorization code");
    if (grant == D2EV_KIT_GRANT_CODE && !redirect)
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_INVALID,
                            "no redirect_uri (pass one or set it in the adapter config)");

    struct form f = { .host = host };
    static const char *const grants[] = { "refresh_token", "authorization_code",
                                          "client_credentials" };
    form_add(&f, "grant_type", grants[grant]);
    if (style->client_id_in_body)
        form_add(&f, "client_id", o->client_id);
    if (grant == D2EV_KIT_GRANT_CODE) {
        if (style->secret_in_body_code)
            form_add(&f, "client_secret", o->client_secret);
        form_add(&f, "code", call->code);
        form_add(&f, "redirect_uri", redirect);
    } else if (grant == D2EV_KIT_GRANT_REFRESH) {
        if (style->secret_in_body_refresh)
            form_add(&f, "client_secret", o->client_secret);
        form_add(&f, "refresh_token", call->refresh_token);
    }
    if (f.failed)
        return d2ev_kit_err(errbuf, errlen, D2EV_ERR_NOMEM, "out of memory");
    host->free(req->body);
    req->body = f.s;
    req->body_len = strlen(f.s);
    req->auth = D2EV_OEM_AUTH_NONE;
    int rc = d2ev_kit_request(host, req, "POST", o->token_url, NULL, NULL, NULL, errbuf, errlen);
    if (!rc)
        rc = d2ev_kit_header(host, req, "Content-Type", "application/x-www-form-urlencoded", errbuf,
                             errlen);
    if (!rc)
        rc = d2ev_kit_header(host, req, "Accept", "application/json", errbuf, errlen);
    if (!rc && style->basic_auth) {
        char *pair = host->format("%s:%s", o->client_id, o->client_secret);
        char *b64 = pair ? host->base64(pair, strlen(pair)) : NULL;
        char *value = b64 ? host->format("Basic %s", b64) : NULL;
        rc = value ? d2ev_kit_header(host, req, "Authorization", value, errbuf, errlen)
                   : d2ev_kit_err(errbuf, errlen, D2EV_ERR_NOMEM, "out of memory");
        char *secrets[] = { pair, b64, value };
        for (size_t i = 0; i < 3; i++) {
            d2ev_kit_wipe(secrets[i]);
            host->free(secrets[i]);
        }
    }
    return rc;
}

/* ------------------------------------------------------------ responses */

const char *d2ev_kit_header_get(const struct d2ev_oem_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->nheaders; i++) {
        if (resp->headers[i].name && strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    }
    return NULL;
}

int64_t d2ev_kit_retry_after_ms(const struct d2ev_oem_response *resp)
{
    return d2ev_kit_retry_after_value_ms(d2ev_kit_header_get(resp, "Retry-After"));
}

int64_t d2ev_kit_retry_after_value_ms(const char *v)
{
    if (!v)
        return 0;
    while (*v == ' ')
        v++;
    char *end = NULL;
    errno = 0;
    double s = strtod(v, &end);
    if (errno || end == v || !isfinite(s) || s < 0 || s > 86400)
        return 0;
    while (*end == ' ')
        end++;
    if (*end)
        return 0; /* the HTTP-date form is not used by these OEMs */
    return (int64_t)ceil(s * 1000.0);
}

json_t *d2ev_kit_body_json(const struct d2ev_oem_response *resp)
{
    if (!resp->body || resp->body_len == 0)
        return NULL;
    return json_loadb(resp->body, resp->body_len, JSON_DECODE_ANY, NULL);
}

static int vdone(struct d2ev_oem_result *res, uint32_t cls, bool final, const char *fmt, va_list ap)
{
    res->cls = cls;
    res->next = D2EV_OEM_NEXT_DONE;
    res->final = final;
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    return D2EV_OK;
}

int d2ev_kit_done(struct d2ev_oem_result *res, uint32_t cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdone(res, cls, false, fmt, ap);
    va_end(ap);
    return D2EV_OK;
}

int d2ev_kit_verdict(struct d2ev_oem_result *res, uint32_t cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdone(res, cls, true, fmt, ap);
    va_end(ap);
    return D2EV_OK;
}

int d2ev_kit_next(struct d2ev_oem_result *res, uint32_t step, int64_t delay_ms)
{
    res->cls = D2EV_OEM_OK;
    res->next = D2EV_OEM_NEXT_STEP;
    res->next_step = step;
    res->next_delay_ms = delay_ms < 0 ? 0 : delay_ms;
    return D2EV_OK;
}

int d2ev_kit_rate_limited(struct d2ev_oem_result *res, const struct d2ev_oem_response *resp,
                          uint32_t scope, const char *what)
{
    res->retry_after_ms = d2ev_kit_retry_after_ms(resp);
    res->limit_scope = scope;
    return d2ev_kit_done(res, D2EV_OEM_RATE_LIMITED, "rate limited (%s), retry after %lld ms",
                         what ? what : "HTTP 429", (long long)res->retry_after_ms);
}

uint32_t d2ev_kit_status_class(int status)
{
    /* called for answers that are not the OEM's documented success: a 201,
     * 202 or 204 where a 200 with a body was due is an answer we cannot read,
     * never a success without a state, tokens or command outcome */
    if (status >= 200 && status < 300)
        return D2EV_OEM_RETRY;
    if (status == 401)
        return D2EV_OEM_UNAUTHORIZED;
    if (status == 429)
        return D2EV_OEM_RATE_LIMITED;
    if (status == 408 || status >= 500)
        return D2EV_OEM_RETRY;
    return D2EV_OEM_PERMANENT;
}

int d2ev_kit_parse_tokens(const struct d2ev_oem_host *host, const struct d2ev_oem_response *resp,
                          struct d2ev_oem_result *res)
{
    json_t *body = d2ev_kit_body_json(resp);
    int rc = D2EV_OK;
    if (resp->status != 200) {
        const char *code = d2ev_kit_str(body, "error");
        uint32_t cls = d2ev_kit_status_class(resp->status);
        if (resp->status == 400)
            cls = D2EV_OEM_UNAUTHORIZED; /* invalid_grant: the refresh token or code is spent */
        if (cls == D2EV_OEM_RATE_LIMITED)
            rc = d2ev_kit_rate_limited(res, resp, D2EV_OEM_SCOPE_OEM, "token endpoint");
        else
            rc = d2ev_kit_done(res, cls, "token endpoint answered HTTP %d (%.60s)", resp->status,
                               code ? code : "no error code");
        json_decref(body);
        return rc;
    }
    const char *access = d2ev_kit_str(body, "access_token");
    if (!access || !*access) {
        json_decref(body);
        return d2ev_kit_done(res, D2EV_OEM_RETRY, "token endpoint answer has no access_token");
    }
    if (!res->tokens) {
        json_decref(body);
        return d2ev_kit_done(res, D2EV_OEM_PERMANENT, "no token output (host bug)");
    }
    const char *refresh = d2ev_kit_str(body, "refresh_token");
    double exp = 0, rexp = 0;
    d2ev_kit_num(body, "expires_in", &exp);
    d2ev_kit_num(body, "refresh_expires_in", &rexp);
    res->tokens->access_token = host->strdup(access);
    res->tokens->refresh_token = refresh && *refresh ? host->strdup(refresh) : NULL;
    /* a lifetime past a century is taken as a century: the host adds it to
     * a clock in ms */
    res->tokens->expires_in_s = exp > 0 ? (int64_t)fmin(exp, MAX_TOKEN_LIFETIME_S) : 0;
    res->tokens->refresh_expires_in_s = rexp > 0 ? (int64_t)fmin(rexp, MAX_TOKEN_LIFETIME_S) : 0;
    if (!res->tokens->access_token || (refresh && *refresh && !res->tokens->refresh_token))
        rc = d2ev_kit_done(res, D2EV_OEM_RETRY, "out of memory");
    else
        rc = d2ev_kit_done(res, D2EV_OEM_OK, "ok");
    json_decref(body);
    return rc;
}

/* ------------------------------------------------------------ JSON reading */

bool d2ev_kit_num(const json_t *obj, const char *key, double *out)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (!json_is_number(v))
        return false;
    double d = json_number_value(v);
    if (!isfinite(d))
        return false;
    *out = d;
    return true;
}

bool d2ev_kit_bool(const json_t *obj, const char *key, bool *out)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (!json_is_boolean(v))
        return false;
    *out = json_is_true(v);
    return true;
}

const char *d2ev_kit_str(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

void d2ev_kit_copy(char *dst, size_t size, const char *s)
{
    if (!size)
        return;
    snprintf(dst, size, "%s", s ? s : "");
}

void d2ev_kit_wipe(char *s)
{
    for (volatile char *p = s; p && *p; p++)
        *p = 0;
}

bool d2ev_kit_host_ok(uint32_t host_abi, const struct d2ev_oem_host *host)
{
    return D2EV_OEM_ABI_MAJOR_OF(host_abi) == D2EV_OEM_ABI_MAJOR && host &&
           D2EV_OEM_ABI_MAJOR_OF(host->abi_version) == D2EV_OEM_ABI_MAJOR &&
           host->struct_size >= sizeof(struct d2ev_oem_host);
}
