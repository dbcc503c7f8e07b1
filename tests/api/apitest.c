/* apitest.c: helpers for the d2ev-api tests (see apitest.h). */
#include "apitest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "d2ev/topics.h"

void apitest_apply(struct d2ev_api_model *m, const char *topic, const char *key, json_t *event,
                   int want_rc)
{
    char *text = event ? d2ev_test_dump(event) : NULL;
    json_decref(event);
    struct d2ev_err err = { 0 };
    int rc = d2ev_api_model_apply(m, topic, key, text, text ? strlen(text) : 0, &err);
    if (rc != want_rc)
        fail_msg("apply to %s: want %s, got %s: %s", topic, d2ev_rc_name(want_rc), d2ev_rc_name(rc),
                 err.msg);
    free(text);
}

json_t *apitest_event(const char *type)
{
    return d2ev_test_sample_json(type);
}

const struct apitest_sample apitest_samples[] = {
    { "vehicle", D2EV_TOPIC_VEHICLES, "v-1" },
    { "telemetry", D2EV_TOPIC_TELEMETRY, "v-1" },
    { "schedule", D2EV_TOPIC_SCHEDULES, "v-1" },
    { "session", D2EV_TOPIC_SESSIONS, "v-1" },
    { "dispatch", D2EV_TOPIC_DISPATCH, "v-1" },
    { "notification", D2EV_TOPIC_NOTIFICATIONS, "v-1" },
    { "registration.result", D2EV_TOPIC_REG_RESULTS, "v-1" },
    { "forecast", D2EV_TOPIC_FORECASTS, "GB-LON:price" },
};
const size_t apitest_nsamples = sizeof(apitest_samples) / sizeof(apitest_samples[0]);

void apitest_load_samples(struct d2ev_api_model *m)
{
    d2ev_clock_set_manual(D2EV_TEST_T0);
    for (size_t i = 0; i < apitest_nsamples; i++)
        apitest_apply(m, apitest_samples[i].topic, apitest_samples[i].key,
                      apitest_event(apitest_samples[i].type), 0);
    /* the carbon forecast of the same region */
    json_t *carbon = apitest_event("forecast");
    json_object_set_new(carbon, "kind", json_string("carbon"));
    json_object_set_new(carbon, "unit", json_string("gCO2/kWh"));
    json_object_set_new(carbon, "values", json_pack("[f,f,f,f]", 210.0, 180.0, 120.0, 150.0));
    apitest_apply(m, D2EV_TOPIC_FORECASTS, "GB-LON:carbon", carbon, 0);
    /* a suspended vehicle with nothing else */
    json_t *v2 = apitest_event("vehicle");
    json_object_set_new(v2, "vehicle_id", json_string("v-2"));
    json_object_set_new(v2, "oem", json_string("smartcar"));
    json_object_set_new(v2, "status", json_string("suspended"));
    json_object_set_new(v2, "status_reason", json_string("consent revoked"));
    apitest_apply(m, D2EV_TOPIC_VEHICLES, "v-2", v2, 0);
    d2ev_api_model_publish(m);
}

static int fake_send(void *opaque, const char *topic, const char *key, const char *value,
                     size_t len, struct d2ev_err *err)
{
    struct apitest_server *s = opaque;
    pthread_mutex_lock(&s->lock);
    int rc = D2EV_OK;
    if (s->fail_sends > 0) {
        s->fail_sends--;
        rc = d2ev_err_set(err, D2EV_ERR_TIMEOUT, "no delivery report (test)");
    } else {
        json_array_append_new(s->sent, json_pack("{s:s, s:s, s:o}", "topic", topic, "key", key,
                                                 "value", json_loadb(value, len, 0, NULL)));
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void apitest_start(struct apitest_server *s, bool ui_public)
{
    memset(s, 0, sizeof(*s));
    d2ev_log_init("api-test", D2EV_LOG_WARN);
    struct d2ev_err err = { 0 };
    s->model = d2ev_api_model_create(&err);
    assert_non_null(s->model);
    apitest_load_samples(s->model);
    if (d2ev_api_tokens_parse(APITEST_TOKENS, &s->tokens, &err))
        fail_msg("tokens: %s", err.msg);
    pthread_mutex_init(&s->lock, NULL);
    s->sent = json_array();
    /* an exporter directory with one day's report, as d2ev-exporter writes it */
    snprintf(s->export_dir, sizeof(s->export_dir), "%s", d2ev_test_tmpdir("api-export"));
    char day[600];
    snprintf(day, sizeof(day), "%s/2026", s->export_dir);
    mkdir(day, 0755);
    snprintf(day, sizeof(day), "%s/2026/11", s->export_dir);
    mkdir(day, 0755);
    snprintf(day, sizeof(day), "%s/2026/11/21", s->export_dir);
    mkdir(day, 0755);
    snprintf(day, sizeof(day), "%s/2026/11/21/report.json", s->export_dir);
    FILE *f = fopen(day, "w");
    if (!f)
        fail_msg("cannot write %s", day);
    fputs("{\"date\":\"" APITEST_REPORT_DATE "\",\"vehicles\":[]}\n", f);
    fclose(f);
    s->api = (struct d2ev_api){
        .model = s->model,
        .tokens = &s->tokens,
        .sink = { fake_send, s },
        .ui_public = ui_public,
        .export_dir = s->export_dir,
    };
    struct d2ev_http_server_conf hc = {
        .name = "api-test", .bind_addr = "127.0.0.1", .port = 0, .max_body = 4096, .threads = 4
    };
    s->http = d2ev_http_server_start(&hc, d2ev_api_handle, &s->api, &err);
    if (!s->http)
        fail_msg("server: %s", err.msg);
    s->port = d2ev_http_server_port(s->http);
}

void apitest_stop(struct apitest_server *s)
{
    d2ev_http_server_stop(s->http);
    d2ev_api_model_destroy(s->model);
    d2ev_api_tokens_clear(&s->tokens);
    json_decref(s->sent);
    pthread_mutex_destroy(&s->lock);
}

struct grow {
    char *data;
    size_t len;
};

static size_t on_bytes(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct grow *g = userdata;
    size_t n = size * nmemb;
    char *nd = realloc(g->data, g->len + n + 1);
    if (!nd)
        return 0;
    memcpy(nd + g->len, ptr, n);
    g->len += n;
    nd[g->len] = '\0';
    g->data = nd;
    return n;
}

struct apitest_reply apitest_raw(struct apitest_server *s, const char *method, const char *path,
                                 const char *token, const char *const *headers, const char *body,
                                 size_t body_len)
{
    size_t ulen = strlen(path) + 64;
    char *url = malloc(ulen);
    snprintf(url, ulen, "http://127.0.0.1:%d%s", s->port, path);
    char auth[300];
    struct curl_slist *hl = NULL;
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hl = curl_slist_append(hl, auth);
    }
    for (const char *const *p = headers; p && *p; p++)
        hl = curl_slist_append(hl, *p);
    struct grow b = { 0 }, h = { 0 };
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_bytes);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_bytes);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    struct apitest_reply r = { .status = -1 };
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    free(url);
    r.body = b.data;
    r.headers = h.data;
    return r;
}

void apitest_reply_free(struct apitest_reply *r)
{
    free(r->body);
    free(r->headers);
    r->body = r->headers = NULL;
}

long apitest_req(struct apitest_server *s, const char *method, const char *path, const char *token,
                 const char *const *headers, const char *body, char **out)
{
    struct apitest_reply r =
        apitest_raw(s, method, path, token, headers, body, body ? strlen(body) : 0);
    if (out)
        *out = r.body;
    else
        free(r.body);
    free(r.headers);
    return r.status;
}

long apitest_get(struct apitest_server *s, const char *path, const char *token, char **out)
{
    return apitest_req(s, "GET", path, token, NULL, NULL, out);
}

json_t *apitest_get_json(struct apitest_server *s, const char *path, const char *token, long want)
{
    char *body = NULL;
    long status = apitest_get(s, path, token, &body);
    if (status != want)
        fail_msg("GET %s: want %ld, got %ld: %s", path, want, status, body ? body : "");
    json_error_t e;
    json_t *j = json_loads(body ? body : "", 0, &e);
    if (!j)
        fail_msg("GET %s: not JSON (%s): %.200s", path, e.text, body ? body : "");
    free(body);
    return j;
}

const char *apitest_error_code(const char *body)
{
    static char code[64];
    code[0] = '\0';
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    snprintf(code, sizeof(code), "%s", c ? c : "");
    json_decref(j);
    return code;
}

size_t apitest_count(const char *hay, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    for (const char *p = hay; (p = strstr(p, needle)); p += len)
        n++;
    return n;
}
