/*
 * Engine tests: a scripted OEM server (libmicrohttpd via d2ev_http_server, in
 * the test process), a fake token source, and a harness that records every
 * completion so tests can assert "exactly once".
 *
 * The server records each request (arrival time on the monotonic clock,
 * method, path, Authorization, body) and answers through the test's script.
 * Scripts run on the server's threads: keep their state under srv->lock.
 */
#ifndef D2EV_ENGINE_FIXTURE_H
#define D2EV_ENGINE_FIXTURE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "d2ev/http.h"
#include "d2ev/oem_engine.h"

#define SRV_MAX_LOG 8192

struct srv_rec {
    int64_t at_ms;   /* arrival, d2ev_clock_mono_ms() */
    int64_t done_ms; /* answer ready */
    char method[8];
    char path[200];
    char auth[160];
    char body[400];
    int status;
};

struct srv;
typedef void (*srv_script_fn)(struct srv *s, const struct d2ev_http_request *req,
                              struct d2ev_http_response *resp);

struct srv {
    struct d2ev_http_server *http;
    char base[64]; /* http://127.0.0.1:<port> */
    pthread_mutex_t lock;
    srv_script_fn script;
    void *ctx;
    struct srv_rec log[SRV_MAX_LOG];
    size_t nlog;
    /* handy script state (under lock) */
    int counter[64];
    int flag;
};

void srv_start(struct srv *s, srv_script_fn script, void *ctx);
void srv_stop(struct srv *s);
/* Requests whose path contains needle (under the lock). */
size_t srv_count(struct srv *s, const char *needle);
/* Reply with a JSON text, optionally a header ("Name: value" or NULL). */
void srv_reply(struct d2ev_http_response *resp, int status, const char *header, const char *json);

/* ------------------------------------------------------------ tokens */

#define TOK_MAX 64

struct tok_entry {
    char key[64];
    char access[96];
    char refresh[96];
    int64_t expires_at_ms;
};

struct fake_tokens {
    struct d2ev_oem_token_source src;
    struct tok_entry e[TOK_MAX];
    size_t n;
    int stores;           /* store() calls */
    int refresh_requests; /* request_refresh() calls (reader mode) */
    char last_requested[64];
};

/* Writer mode: the engine refreshes and calls store(). With reader = true,
 * request_refresh() is set instead and store() is NULL. */
void tokens_init(struct fake_tokens *t, bool reader);
void tokens_set(struct fake_tokens *t, const char *key, const char *access, const char *refresh,
                int64_t expires_at_ms);
struct tok_entry *tokens_find(struct fake_tokens *t, const char *key);

/* ------------------------------------------------------------ the harness */

#define RUN_MAX_OPS 4096

struct done_rec {
    int calls;
    uint32_t cls;
    uint32_t requests;
    uint32_t command;
    bool woke;
    bool has_state;
    double soc;
    int http_status;
    int64_t retry_after_ms;
    char message[256];
    char access[96];
    char refresh[96];
};

struct run {
    struct d2ev_oem_engine *e;
    struct d2ev_oem *oems[4];
    size_t noems;
    struct fake_tokens tokens;
    struct done_rec done[RUN_MAX_OPS];
    int nsub;
    int ncalls;
};

/* Create an engine with a fake token source (reader or writer mode). */
void run_init(struct run *r, bool reader_tokens);
/* Load adapter name with config_fmt, where every "%s" is the server's base
 * URL (at most 3), and add it to the engine. */
void run_add(struct run *r, const char *name, const struct srv *s, const char *config_fmt);
/* Submit; returns the index of the operation in r->done. */
int run_submit(struct run *r, const struct d2ev_oem_task *t);
int run_read(struct run *r, const char *oem, const char *vehicle);
/* Poll until every submitted operation completed (fails the test after
 * timeout_ms). */
void run_wait_all(struct run *r, int64_t timeout_ms);
/* Poll until cond(r) or fail after timeout_ms. */
void run_wait(struct run *r, bool (*cond)(struct run *r, void *arg), void *arg, int64_t timeout_ms);
/* Every submitted operation completed exactly once. */
void run_assert_each_once(const struct run *r);
void run_fini(struct run *r);
struct d2ev_oem_engine_stats run_stats(struct run *r, const char *oem);

#endif
