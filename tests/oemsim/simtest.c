/* simtest.c: in-process simulator fixture and HTTP helpers (see simtest.h). */
#include "simtest.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"

void simtest_start(struct simtest *t, const char *const *flags)
{
    memset(t, 0, sizeof(*t));
    d2ev_log_init("oemsim-test", D2EV_LOG_WARN);
    d2ev_clock_set_manual(SIMTEST_T0);
    const char *argv[64] = {
        "test",          "--sim-port=0",    "--sim-bind=127.0.0.1",     "--sim-vehicles=60",
        "--sim-seed=42", "--sim-threads=4", "--sim-plug-schedule=false"
    };
    int argc = 7;
    for (const char *const *f = flags; f && *f && argc < 63; f++)
        argv[argc++] = *f;
    struct d2ev_err err = { 0 };
    if (oemsim_config_load(&t->cfg, &t->cfg_handle, argc, (char **)argv, &err))
        fail_msg("config: %s", err.msg);
    t->sim = oemsim_create(&t->cfg, &err);
    if (!t->sim)
        fail_msg("oemsim_create: %s", err.msg);
    if (oemsim_listen(t->sim, &err))
        fail_msg("oemsim_listen: %s", err.msg);
    snprintf(t->base, sizeof(t->base), "http://127.0.0.1:%d", oemsim_port(t->sim));
}

void simtest_stop(struct simtest *t)
{
    oemsim_destroy(t->sim);
    d2ev_config_destroy(t->cfg_handle);
    t->sim = NULL;
    t->cfg_handle = NULL;
}

struct buf {
    char *data;
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct buf *b = userdata;
    size_t n = size * nmemb;
    char *nd = realloc(b->data, b->len + n + 1);
    if (!nd)
        return 0;
    memcpy(nd + b->len, ptr, n);
    b->len += n;
    nd[b->len] = '\0';
    b->data = nd;
    return n;
}

void simtest_http(struct simtest *t, struct simresp *r, const char *method, const char *path,
                  const char *const *headers, const char *body)
{
    memset(r, 0, sizeof(*r));
    char url[2048];
    snprintf(url, sizeof(url), "%s%s", t->base, path);
    CURL *c = curl_easy_init();
    struct buf b = { 0 }, h = { 0 };
    struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
    for (const char *const *x = headers; x && *x; x++)
        hl = curl_slist_append(hl, *x);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    r->status = -1;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    r->body = b.data ? b.data : strdup("");
    r->body_len = b.len;
    r->headers = h.data ? h.data : strdup("");
    r->json = json_loadb(r->body, r->body_len, 0, NULL);
}

void simresp_free(struct simresp *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

bool simresp_header(const struct simresp *r, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        if (!strncasecmp(line, name, n) && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t len = eol ? (size_t)(eol - v) : strlen(v);
            if (len >= size)
                len = size - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return true;
        }
        line = eol ? eol + 2 : NULL;
    }
    return false;
}

static json_t *call(struct simtest *t, const char *method, const char *path, const char *body,
                    long want)
{
    struct simresp r;
    simtest_http(t, &r, method, path, NULL, body);
    if (r.status != want)
        fail_msg("%s %s: want %ld, got %ld: %s", method, path, want, r.status, r.body);
    json_t *j = json_incref(r.json);
    simresp_free(&r);
    if (!j)
        fail_msg("%s %s: body is not JSON", method, path);
    return j;
}

json_t *simtest_get(struct simtest *t, const char *path, long want_status)
{
    return call(t, "GET", path, NULL, want_status);
}

json_t *simtest_post(struct simtest *t, const char *path, const char *body, long want_status)
{
    return call(t, "POST", path, body ? body : "", want_status);
}

void simtest_vehicle(struct simtest *t, const char *oem, int n, char out[40])
{
    char path[128];
    snprintf(path, sizeof(path), "/_sim/vehicles?oem=%s&offset=%d&limit=1", oem, n);
    json_t *j = simtest_get(t, path, 200);
    json_t *v = json_array_get(json_object_get(j, "vehicles"), 0);
    if (!v)
        fail_msg("no %s vehicle number %d", oem, n);
    snprintf(out, 40, "%s", json_string_value(json_object_get(v, "id")));
    json_decref(j);
}

void simtest_set(struct simtest *t, const char *id, const char *state_json)
{
    char path[128];
    snprintf(path, sizeof(path), "/_sim/vehicles/%s/state", id);
    json_decref(simtest_post(t, path, state_json, 200));
}

json_t *simtest_truth(struct simtest *t, const char *id)
{
    char path[128];
    snprintf(path, sizeof(path), "/_sim/vehicles/%s", id);
    return simtest_get(t, path, 200);
}

double simtest_truth_num(struct simtest *t, const char *id, const char *key)
{
    json_t *j = simtest_truth(t, id);
    json_t *v = json_object_get(j, key);
    if (!json_is_number(v))
        fail_msg("true state has no number %s", key);
    double d = json_number_value(v);
    json_decref(j);
    return d;
}

const char *simtest_bearer(const char *token, char out[96])
{
    snprintf(out, 96, "Authorization: Bearer %s", token);
    return out;
}

void simtest_link(struct simtest *t, const char *oem, const char *id, char *access, char *refresh)
{
    char path[128], body[512];
    snprintf(path, sizeof(path), "/_sim/vehicles/%s/authorize", id);
    json_t *a = simtest_post(t, path, NULL, 200);
    const char *code = json_string_value(json_object_get(a, "code"));
    struct simresp r;
    refresh[0] = '\0';
    if (!strcmp(oem, "smartcar")) {
        snprintf(body, sizeof(body),
                 "grant_type=authorization_code&code=%s&redirect_uri="
                 "http%%3A%%2F%%2F127.0.0.1%%3A8080%%2Foauth%%2Fcallback",
                 code);
        const char *h[] = {
            "Authorization: Basic c2ltLXNtYXJ0Y2FyLWNsaWVudDpzaW0tc21hcnRjYXItc2VjcmV0", NULL
        };
        simtest_http(t, &r, "POST", "/smartcar/oauth/token", h, body);
    } else if (!strcmp(oem, "tesla")) {
        snprintf(body, sizeof(body),
                 "grant_type=authorization_code&client_id=sim-tesla-client&client_secret=sim-"
                 "tesla-secret&code=%s&redirect_uri=http://127.0.0.1:8080/oauth/callback",
                 code);
        simtest_http(t, &r, "POST", "/tesla/oauth2/v3/token", NULL, body);
    } else {
        const char *h[] = { "Authorization: Basic c2ltLWVub2RlLWNsaWVudDpzaW0tZW5vZGUtc2VjcmV0",
                            NULL };
        simtest_http(t, &r, "POST", "/enode/oauth2/token", h, "grant_type=client_credentials");
    }
    json_decref(a);
    if (r.status != 200 || !r.json)
        fail_msg("link %s %s: token endpoint said %ld: %s", oem, id, r.status, r.body);
    snprintf(access, 72, "%s", json_string_value(json_object_get(r.json, "access_token")));
    const char *rt = json_string_value(json_object_get(r.json, "refresh_token"));
    if (rt)
        snprintf(refresh, 72, "%s", rt);
    simresp_free(&r);
}

long long simtest_stat(struct simtest *t, const char *dotted)
{
    json_t *s = simtest_get(t, "/_sim/stats", 200), *v = s;
    char key[128];
    snprintf(key, sizeof(key), "%s", dotted);
    for (char *save = NULL, *k = strtok_r(key, ".", &save); k; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    if (!json_is_integer(v))
        fail_msg("stats has no integer at %s", dotted);
    long long n = json_integer_value(v);
    json_decref(s);
    return n;
}

const char *simtest_fmt(const char *fmt, ...)
{
    static char bufs[4][4096]; /* a few at a time may be live in one call */
    static int next;
    char *buf = bufs[next++ % 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(bufs[0]), fmt, ap);
    va_end(ap);
    return buf;
}

const char *simtest_real(double v, char out[32])
{
    snprintf(out, 32, "%.10g", v);
    if (!strpbrk(out, ".eE"))
        strcat(out, ".0");
    return out;
}

double simtest_round(double v, int digits)
{
    double f = pow(10, digits);
    return (double)llround(v * f) / f;
}

void simtest_assert_keys(const json_t *obj, const char *keys)
{
    char got[1024] = "";
    const char *k;
    json_t *v;
    if (!json_is_object(obj))
        fail_msg("want an object with keys %s", keys);
    json_object_foreach((json_t *)obj, k, v)
    {
        if (got[0])
            strncat(got, ",", sizeof(got) - strlen(got) - 1);
        strncat(got, k, sizeof(got) - strlen(got) - 1);
    }
    if (strcmp(got, keys) != 0)
        fail_msg("keys: want %s, got %s", keys, got);
}

void simtest_advance(int64_t ms)
{
    d2ev_clock_advance_ms(ms);
}
