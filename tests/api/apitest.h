/*
 * Helpers for the d2ev-api tests: feed sample events into a read model, and
 * run the API's HTTP front in-process (no Kafka) with a fake sink that keeps
 * what the write endpoints send.
 */
#ifndef D2EV_APITEST_H
#define D2EV_APITEST_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "api_auth.h"
#include "api_http.h"
#include "api_model.h"
#include "d2ev_test.h"
#include "d2ev_test_events.h"

/* Tokens of the in-process server, one per role. */
#define APITEST_READ     "read-token-0123456789abcdef"
#define APITEST_OPERATOR "operator-token-0123456789abcdef"
#define APITEST_APP      "app-token-0123456789abcdef"
#define APITEST_TOKENS   APITEST_READ ":read," APITEST_OPERATOR ":operator," APITEST_APP ":app"

/* The day whose exporter report the in-process server can serve. */
#define APITEST_REPORT_DATE "2026-11-21"

/* Apply one event (stolen; NULL = tombstone) and assert rc. */
void apitest_apply(struct d2ev_api_model *m, const char *topic, const char *key, json_t *event,
                   int want_rc);

/* The samples of v-1, one per input topic: the sample event of type, keyed
 * by key on topic. */
struct apitest_sample {
    const char *type, *topic, *key;
};
extern const struct apitest_sample apitest_samples[];
extern const size_t apitest_nsamples;

/* The sample fleet, with the clock set to D2EV_TEST_T0 (manual):
 *   v-1  the sample vehicle with telemetry (charging), schedule v7 (two
 *        windows ahead), a session, a dispatch record, a notification and a
 *        registration result
 *   v-2  a suspended vehicle with nothing else
 * and the GB-LON price and carbon forecasts. Calls publish. */
void apitest_load_samples(struct d2ev_api_model *m);

/* A sample event as JSON, changed by the caller before apply. */
json_t *apitest_event(const char *type);

struct apitest_server {
    struct d2ev_api_model *model;
    struct d2ev_api_tokens tokens;
    struct d2ev_api api;
    struct d2ev_http_server *http;
    int port;
    pthread_mutex_t lock;
    json_t *sent;   /* [{"topic","key","value"(parsed)}] */
    char export_dir[512]; /* holds the daily report of APITEST_REPORT_DATE */
    int fail_sends; /* the next N sends fail */
};

/* Start on 127.0.0.1 with the sample fleet loaded. */
void apitest_start(struct apitest_server *s, bool ui_public);
void apitest_stop(struct apitest_server *s);

/* A request; token NULL sends no Authorization header. headers are extra
 * "Name: value" lines (NULL-terminated) or NULL. Returns the status. */
long apitest_req(struct apitest_server *s, const char *method, const char *path, const char *token,
                 const char *const *headers, const char *body, char **out);

/* The full form: the path is sent as is (no ../ folding), the body may hold
 * any bytes, and the response headers are returned too (both malloc'd, may be
 * NULL). */
struct apitest_reply {
    long status;
    char *body;
    char *headers;
};
struct apitest_reply apitest_raw(struct apitest_server *s, const char *method, const char *path,
                                 const char *token, const char *const *headers, const char *body,
                                 size_t body_len);
void apitest_reply_free(struct apitest_reply *r);
long apitest_get(struct apitest_server *s, const char *path, const char *token, char **out);

/* GET path with token, assert want status and return the parsed JSON body. */
json_t *apitest_get_json(struct apitest_server *s, const char *path, const char *token, long want);

/* The error code of an error body (static buffer), or "" when it is none. */
const char *apitest_error_code(const char *body);

/* Count non-overlapping occurrences of needle in hay. */
size_t apitest_count(const char *hay, const char *needle);

#endif
