/* engine_fixture.c: scripted OEM server, fake token source and completion recorder. */
#include "engine_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/oem.h"

/* ------------------------------------------------------------ server */

static void srv_handler(void *opaque, const struct d2ev_http_request *req,
                        struct d2ev_http_response *resp)
{
    struct srv *s = opaque;
    struct srv_rec rec = { .at_ms = d2ev_clock_mono_ms() };
    snprintf(rec.method, sizeof(rec.method), "%s", req->method);
    snprintf(rec.path, sizeof(rec.path), "%s", req->path);
    const char *auth = d2ev_http_header(req, "Authorization");
    snprintf(rec.auth, sizeof(rec.auth), "%s", auth ? auth : "");
    snprintf(rec.body, sizeof(rec.body), "%s", req->body ? req->body : "");
    s->script(s, req, resp);
    rec.status = resp->status;
    rec.done_ms = d2ev_clock_mono_ms();
    pthread_mutex_lock(&s->lock);
    if (s->nlog < SRV_MAX_LOG)
        s->log[s->nlog++] = rec;
    pthread_mutex_unlock(&s->lock);
}

void srv_start(struct srv *s, srv_script_fn script, void *ctx)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->script = script;
    s->ctx = ctx;
    struct d2ev_http_server_conf conf = {
        .name = "fake-oem",
        .bind_addr = "127.0.0.1",
        .port = 0,
        .max_body = 64 * 1024,
        .threads = 8, /* scripts may answer slowly (timeouts) */
        .conn_limit = 4000,
        .timeout_s = 30,
    };
    struct d2ev_err err = { 0 };
    s->http = d2ev_http_server_start(&conf, srv_handler, s, &err);
    if (!s->http)
        fail_msg("fake OEM server: %s", err.msg);
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", d2ev_http_server_port(s->http));
}

void srv_stop(struct srv *s)
{
    d2ev_http_server_stop(s->http);
    s->http = NULL;
    pthread_mutex_destroy(&s->lock);
}

size_t srv_count(struct srv *s, const char *needle)
{
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nlog; i++)
        n += strstr(s->log[i].path, needle) != NULL;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void srv_reply(struct d2ev_http_response *resp, int status, const char *header, const char *json)
{
    d2ev_http_respond_text(resp, status, "application/json", json, strlen(json));
    if (header) {
        char name[48];
        const char *colon = strchr(header, ':');
        snprintf(name, sizeof(name), "%.*s", (int)(colon - header), header);
        d2ev_http_add_header(resp, name, colon + 2);
    }
}

/* ------------------------------------------------------------ tokens */

struct tok_entry *tokens_find(struct fake_tokens *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++) {
        if (!strcmp(t->e[i].key, key))
            return &t->e[i];
    }
    return NULL;
}

void tokens_set(struct fake_tokens *t, const char *key, const char *access, const char *refresh,
                int64_t expires_at_ms)
{
    struct tok_entry *e = tokens_find(t, key);
    if (!e) {
        assert_true(t->n < TOK_MAX);
        e = &t->e[t->n++];
    }
    snprintf(e->key, sizeof(e->key), "%s", key);
    snprintf(e->access, sizeof(e->access), "%s", access ? access : "");
    snprintf(e->refresh, sizeof(e->refresh), "%s", refresh ? refresh : "");
    e->expires_at_ms = expires_at_ms;
}

static int tok_get(void *opaque, const char *oem, const char *key, struct d2ev_oem_token *out)
{
    struct tok_entry *e = tokens_find(opaque, key);
    if (!e || !e->access[0])
        return D2EV_ERR_NOT_FOUND;
    out->access_token = e->access;
    out->refresh_token = e->refresh[0] ? e->refresh : NULL;
    out->expires_at_ms = e->expires_at_ms;
    return 0;
}

static void tok_store(void *opaque, const char *oem, const char *key,
                      const struct d2ev_oem_token *tok)
{
    struct fake_tokens *t = opaque;
    t->stores++;
    tokens_set(t, key, tok->access_token, tok->refresh_token, tok->expires_at_ms);
}

static int tok_request(void *opaque, const char *oem, const char *key)
{
    struct fake_tokens *t = opaque;
    t->refresh_requests++;
    snprintf(t->last_requested, sizeof(t->last_requested), "%s", key);
    return 0;
}

void tokens_init(struct fake_tokens *t, bool reader)
{
    memset(t, 0, sizeof(*t));
    t->src.opaque = t;
    t->src.get = tok_get;
    if (reader)
        t->src.request_refresh = tok_request;
    else
        t->src.store = tok_store;
}

/* ------------------------------------------------------------ harness */

static void on_done(void *arg, const struct d2ev_oem_outcome *out)
{
    struct done_rec *d = arg;
    d->calls++;
    d->cls = out->cls;
    d->requests = out->requests;
    d->command = out->command;
    d->woke = out->woke;
    d->has_state = out->state != NULL;
    d->soc = out->state ? out->state->soc_pct : -1;
    d->http_status = out->http_status;
    d->retry_after_ms = out->retry_after_ms;
    snprintf(d->message, sizeof(d->message), "%s", out->message ? out->message : "");
    if (out->tokens) {
        snprintf(d->access, sizeof(d->access), "%s", out->tokens->access_token);
        snprintf(d->refresh, sizeof(d->refresh), "%s",
                 out->tokens->refresh_token ? out->tokens->refresh_token : "");
    }
}

void run_init(struct run *r, bool reader_tokens)
{
    memset(r, 0, sizeof(*r));
    tokens_init(&r->tokens, reader_tokens);
    struct d2ev_oem_engine_conf conf = {
        .tokens = &r->tokens.src,
        .default_deadline_ms = 20000,
        .seed = 42,
    };
    struct d2ev_err err = { 0 };
    r->e = d2ev_oem_engine_create(&conf, &err);
    if (!r->e)
        fail_msg("engine: %s", err.msg);
}

void run_add(struct run *r, const char *name, const struct srv *s, const char *config_fmt)
{
    char cfg[4096];
    snprintf(cfg, sizeof(cfg), config_fmt, s->base, s->base, s->base);
    struct d2ev_err err = { 0 };
    struct d2ev_oem *o =
        d2ev_oem_load(D2EV_ADAPTER_BUILD_DIR, name, cfg, strlen(cfg), "client-secret", &err);
    if (!o)
        fail_msg("load %s: %s", name, err.msg);
    if (d2ev_oem_engine_add(r->e, o, &err) != 0)
        fail_msg("add %s: %s", name, err.msg);
    r->oems[r->noems++] = o;
}

int run_submit(struct run *r, const struct d2ev_oem_task *t)
{
    assert_true(r->nsub < RUN_MAX_OPS);
    int i = r->nsub;
    struct d2ev_err err = { 0 };
    if (d2ev_oem_engine_submit(r->e, t, on_done, &r->done[i], NULL, &err) != 0)
        fail_msg("submit: %s", err.msg);
    r->nsub++;
    return i;
}

int run_read(struct run *r, const char *oem, const char *vehicle)
{
    return run_submit(
        r, &(struct d2ev_oem_task){ .oem = oem, .op = D2EV_OEM_OP_READ, .vehicle = vehicle });
}

void run_wait_all(struct run *r, int64_t timeout_ms)
{
    size_t left = d2ev_oem_engine_drain(r->e, timeout_ms);
    if (left)
        fail_msg("%zu operations still pending after %lld ms", left, (long long)timeout_ms);
    run_assert_each_once(r);
}

void run_wait(struct run *r, bool (*cond)(struct run *r, void *arg), void *arg, int64_t timeout_ms)
{
    int64_t end = d2ev_clock_mono_ms() + timeout_ms;
    while (!cond(r, arg)) {
        if (d2ev_clock_mono_ms() > end)
            fail_msg("condition not reached within %lld ms", (long long)timeout_ms);
        d2ev_oem_engine_poll(r->e, 20);
    }
}

void run_assert_each_once(const struct run *r)
{
    for (int i = 0; i < r->nsub; i++) {
        if (r->done[i].calls != 1)
            fail_msg("operation %d completed %d times", i, r->done[i].calls);
    }
}

void run_fini(struct run *r)
{
    d2ev_oem_engine_destroy(r->e);
    run_assert_each_once(r); /* destroy completes what is left, once */
    for (size_t i = 0; i < r->noems; i++)
        d2ev_oem_unload(r->oems[i]);
}

struct d2ev_oem_engine_stats run_stats(struct run *r, const char *oem)
{
    struct d2ev_oem_engine_stats st;
    assert_int_equal(d2ev_oem_engine_stats(r->e, oem, &st), 0);
    return st;
}
