/* engine.c: the OEM engine's scheduling and HTTP on libcurl multi (see d2ev/oem_engine.h).
 *
 * An operation moves between four places:
 *   timer heap  waiting for a time (new, backoff, next flow step, Retry-After);
 *   ready list  its OEM's FIFO, waiting for a bucket token and a free slot;
 *   waiters     of a token key whose refresh runs (tokens.c);
 *   in flight   a curl easy handle in the multi handle.
 * pump() moves due timers to the ready lists and starts what the buckets,
 * breakers and in-flight caps allow; answers go through the adapter's
 * parse() and the error class decides the next place. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "d2ev/util.h"
#include "engine_internal.h"

#define DEFAULT_MAX_IN_FLIGHT 4096
#define DEFAULT_DEADLINE_MS   120000
#define DEFAULT_MAX_RESPONSE  (1024 * 1024)
#define SWEEP_EVERY_MS        60000

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

char *engine_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

void engine_wipe_free(char *s)
{
    for (volatile char *p = s; p && *p; p++)
        *p = 0;
    free(s);
}

/* ------------------------------------------------------------ lists and heap */

void op_list_push(struct op_list *l, struct op *op)
{
    op->next = NULL;
    op->prev = l->tail;
    if (l->tail)
        l->tail->next = op;
    else
        l->head = op;
    l->tail = op;
    l->n++;
}

void op_list_remove(struct op_list *l, struct op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        l->head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        l->tail = op->prev;
    op->prev = op->next = NULL;
    l->n--;
}

/* Earlier due time first; equal times in scheduling order (FIFO). */
static bool heap_before(const struct op *a, const struct op *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_set(struct d2ev_oem_engine *e, size_t i, struct op *op)
{
    e->heap[i] = op;
    op->heap_idx = i;
}

static void heap_up(struct d2ev_oem_engine *e, size_t i)
{
    struct op *op = e->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_before(op, e->heap[parent]))
            break;
        heap_set(e, i, e->heap[parent]);
        i = parent;
    }
    heap_set(e, i, op);
}

static void heap_down(struct d2ev_oem_engine *e, size_t i)
{
    struct op *op = e->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= e->heap_n)
            break;
        if (c + 1 < e->heap_n && heap_before(e->heap[c + 1], e->heap[c]))
            c++;
        if (!heap_before(e->heap[c], op))
            break;
        heap_set(e, i, e->heap[c]);
        i = c;
    }
    heap_set(e, i, op);
}

static void heap_remove(struct d2ev_oem_engine *e, struct op *op)
{
    size_t i = op->heap_idx;
    struct op *last = e->heap[--e->heap_n];
    if (i < e->heap_n) {
        heap_set(e, i, last);
        heap_down(e, i);
        heap_up(e, last->heap_idx);
    }
}

/* Put op (detached) on the timer heap. Growing the heap can fail only when
 * out of memory; the operation then fails rather than being lost. */
void engine_schedule(struct op *op, int64_t due)
{
    struct d2ev_oem_engine *e = op->e;
    if (e->heap_n == e->heap_cap) {
        size_t cap = e->heap_cap ? e->heap_cap * 2 : 256;
        struct op **h = realloc(e->heap, cap * sizeof(*h));
        if (!h) {
            engine_complete(op, D2EV_OEM_RETRY, "out of memory");
            return;
        }
        e->heap = h;
        e->heap_cap = cap;
    }
    op->due = due;
    op->seq = ++e->seq;
    op->where = W_TIMER;
    heap_set(e, e->heap_n++, op);
    heap_up(e, e->heap_n - 1);
}

/* ------------------------------------------------------------ per-vehicle state */

static struct vstate *veh_get(struct d2ev_oem_engine *e, struct slot *slot, const char *vehicle)
{
    size_t olen = strlen(slot->name), vlen = strlen(vehicle);
    size_t klen = olen + 1 + vlen;
    struct vstate *v = calloc(1, sizeof(*v) + klen + 1);
    if (!v)
        return NULL;
    memcpy(v->keybuf, slot->name, olen);
    v->keybuf[olen] = '\x1f';
    memcpy(v->keybuf + olen + 1, vehicle, vlen + 1);
    struct d2ev_htab_node *n = d2ev_htab_find(&e->vehicles, v->keybuf, klen);
    if (n) {
        free(v);
        return (struct vstate *)((char *)n - offsetof(struct vstate, node));
    }
    v->node.key = v->keybuf;
    v->node.klen = klen;
    if (slot->set->vehicle_rate_per_s > 0) {
        v->limited = true;
        d2ev_token_bucket_init(&v->bucket, slot->set->vehicle_rate_per_s, slot->set->vehicle_burst,
                               d2ev_clock_now_ms());
    }
    if (d2ev_htab_insert(&e->vehicles, &v->node) != 0) {
        free(v);
        return NULL;
    }
    return v;
}

/* Milliseconds of OEM time (the d2ev clock) until the vehicle may make a
 * request (0 = now); now is OEM time too. */
static int64_t veh_wait(struct vstate *v, int64_t now)
{
    int64_t w = v->blocked_until > now ? v->blocked_until - now : 0;
    if (v->limited) {
        int64_t b = d2ev_token_bucket_wait_ms(&v->bucket, now, 1);
        if (b > w)
            w = b;
    }
    return w;
}

struct sweep_ctx {
    struct d2ev_oem_engine *e;
    int64_t now;
};

static void sweep_vehicle(struct d2ev_htab_node *n, void *arg)
{
    struct sweep_ctx *c = arg;
    struct vstate *v = (struct vstate *)((char *)n - offsetof(struct vstate, node));
    if (v->refs || v->blocked_until > c->now)
        return;
    if (v->limited && d2ev_token_bucket_wait_ms(&v->bucket, c->now, v->bucket.burst) > 0)
        return; /* the bucket still remembers recent requests */
    d2ev_htab_remove(&c->e->vehicles, n);
    free(v);
}

static void sweep_token(struct d2ev_htab_node *n, void *arg)
{
    struct sweep_ctx *c = arg;
    struct tokstate *t = (struct tokstate *)((char *)n - offsetof(struct tokstate, node));
    if (t->refs || t->refreshing || t->failed || t->waiters.n)
        return;
    d2ev_htab_remove(&c->e->tokens, n);
    tok_free(t);
}

/* Drop idle per-vehicle state so memory follows the active fleet. */
static void sweep(struct d2ev_oem_engine *e, int64_t now)
{
    if (now - e->last_sweep < SWEEP_EVERY_MS)
        return;
    e->last_sweep = now;
    struct sweep_ctx c = { e, d2ev_clock_now_ms() }; /* blocks and buckets are OEM time */
    d2ev_htab_each(&e->vehicles, sweep_vehicle, &c);
    d2ev_htab_each(&e->tokens, sweep_token, &c);
}

/* ------------------------------------------------------------ operations */

struct op *engine_new_op(struct d2ev_oem_engine *e, struct slot *slot)
{
    struct op *op = calloc(1, sizeof(*op));
    if (!op)
        return NULL;
    op->e = e;
    op->slot = slot;
    op->id = ++e->next_id;
    op->flow.struct_size = sizeof(op->flow);
    op->state.struct_size = sizeof(op->state);
    op->t_submit = d2ev_clock_mono_ms();
    op->deadline = op->t_submit + e->conf.default_deadline_ms;
    op->all_next = e->all;
    if (e->all)
        e->all->all_prev = op;
    e->all = op;
    return op;
}

static void free_op(struct op *op)
{
    struct d2ev_oem_engine *e = op->e;
    if (op->all_prev)
        op->all_prev->all_next = op->all_next;
    else
        e->all = op->all_next;
    if (op->all_next)
        op->all_next->all_prev = op->all_prev;
    if (op->veh)
        op->veh->refs--;
    if (op->tok)
        op->tok->refs--;
    free(op->vehicle);
    free(op->key);
    engine_wipe_free(op->code);
    free(op->redirect_uri);
    engine_wipe_free(op->refresh_token);
    engine_wipe_free(op->tok_access);
    engine_wipe_free(op->tok_refresh);
    d2ev_strbuf_free(&op->body);
    d2ev_strbuf_free(&op->hdrbuf);
    free(op);
}

/* Take op out of wherever it is. */
void engine_detach(struct op *op)
{
    switch (op->where) {
    case W_TIMER:
        heap_remove(op->e, op);
        break;
    case W_READY:
        op_list_remove(&op->slot->ready, op);
        break;
    case W_WAITING:
        op_list_remove(&op->tok->waiters, op);
        break;
    case W_INFLIGHT:
        engine_release_easy(op->e, op);
        break;
    case W_NONE:
        break;
    }
    op->where = W_NONE;
}

void engine_complete(struct op *op, uint32_t cls, const char *fmt, ...)
{
    struct d2ev_oem_engine *e = op->e;
    struct slot *slot = op->slot;
    engine_detach(op);
    char msg[D2EV_OEM_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (op->internal) {
        tok_internal_done(op, cls, msg);
        free_op(op);
        return;
    }
    struct d2ev_oem_token tokens = {
        .access_token = op->tok_access,
        .refresh_token = op->tok_refresh,
        .expires_at_ms = op->tok_expires_at,
        .refresh_expires_at_ms = op->tok_refresh_expires_at,
    };
    bool ok = cls == D2EV_OEM_OK;
    struct d2ev_oem_outcome out = {
        .id = op->id,
        .oem = slot->name,
        .op = op->kind,
        .vehicle = op->vehicle ? op->vehicle : "",
        .key = op->tok ? op->tok->key : "",
        .cls = cls,
        .message = ok ? "" : msg,
        .http_status = op->last_status,
        .retry_after_ms = cls == D2EV_OEM_RATE_LIMITED ? op->retry_after_ms : 0,
        .requests = op->requests,
        .woke = op->woke,
        .latency_ms = d2ev_clock_mono_ms() - op->t_submit,
        .state = ok && op->has_state ? &op->state : NULL,
        .command = ok ? op->command : D2EV_OEM_CMD_NONE,
        .tokens = ok && op->has_tokens && op->tok_access ? &tokens : NULL,
    };
    if (cls < D2EV_OEM_CLASS_COUNT && op->kind < D2EV_OEM_OP_COUNT)
        d2ev_metric_inc(slot->m_ops[op->kind][cls]);
    if (!ok)
        d2ev_log_debug("OEM operation failed", D2EV_LF_STR("oem", slot->name),
                       D2EV_LF_STR("op", d2ev_oem_op_name(op->kind)),
                       D2EV_LF_STR("vehicle", out.vehicle),
                       D2EV_LF_STR("class", d2ev_oem_class_name(cls)), D2EV_LF_STR("error", msg));
    e->pending--;
    e->completed++;
    if (op->done)
        op->done(op->arg, &out);
    free_op(op);
}

/* A due timer: where does op go now? */
static void advance(struct op *op)
{
    if (op->kind == D2EV_OEM_OP_REFRESH && !op->internal) {
        tok_await_refresh(op); /* a caller's REFRESH joins or starts the single flight */
        return;
    }
    op_list_push(&op->slot->ready, op);
    op->where = W_READY;
}

/* ------------------------------------------------------------ the pump */

/* Start what slot's bucket, breaker and caps allow. */
static void dispatch(struct d2ev_oem_engine *e, struct slot *slot)
{
    struct op *op;
    slot->ready_at = 0;
    while ((op = slot->ready.head)) {
        if (e->in_flight >= e->conf.max_in_flight || slot->in_flight >= slot->set->max_in_flight)
            break;
        int64_t now = d2ev_clock_mono_ms();
        if (now >= op->deadline) {
            if (op->last_cls != D2EV_OEM_OK)
                engine_complete(op, op->last_cls, "%s (deadline passed)", op->msg);
            else
                engine_complete(op, D2EV_OEM_RETRY, "%s %s: deadline passed before it could run",
                                slot->name, d2ev_oem_op_name(op->cur));
            continue;
        }
        char *auth = NULL;
        if (!op->token_op) {
            /* buckets count the OEM's time (the d2ev clock); waits are then
             * served in real time */
            int64_t oem_now = d2ev_clock_now_ms();
            int64_t w = op->veh ? veh_wait(op->veh, oem_now) : 0;
            if (w > 0) {
                op_list_remove(&slot->ready, op);
                slot->stats.rate_limit_waits++;
                d2ev_metric_inc(slot->m_rl_waits);
                engine_schedule(op, now + d2ev_clock_to_real_ms(w));
                continue;
            }
            w = d2ev_token_bucket_wait_ms(&slot->bucket, oem_now, 1);
            if (w > 0) {
                slot->ready_at = now + d2ev_clock_to_real_ms(w);
                if (!op->counted_wait) {
                    op->counted_wait = true;
                    slot->stats.rate_limit_waits++;
                    d2ev_metric_inc(slot->m_rl_waits);
                }
                break;
            }
            if (tok_check(op, &auth) != TOK_SEND)
                continue;
            enum d2ev_breaker_state before = slot->breaker.state;
            if (!d2ev_breaker_allow(&slot->breaker, now)) {
                engine_wipe_free(auth);
                slot->stats.breaker_rejected++;
                engine_complete(op, D2EV_OEM_RETRY, "%s circuit breaker is open", slot->name);
                continue;
            }
            if (slot->breaker.state != before)
                d2ev_metric_set(slot->m_breaker, slot->breaker.state);
            d2ev_token_bucket_take(&slot->bucket, oem_now, 1);
            if (op->veh && op->veh->limited)
                d2ev_token_bucket_take(&op->veh->bucket, oem_now, 1);
        }
        op_list_remove(&slot->ready, op);
        op->where = W_NONE;
        op->counted_wait = false;
        engine_send(op, auth);
    }
    d2ev_metric_set(slot->m_queued, (double)slot->ready.n);
}

static void pump(struct d2ev_oem_engine *e)
{
    int64_t now = d2ev_clock_mono_ms();
    tok_pump_external(e, now);
    while (e->heap_n && e->heap[0]->due <= now) {
        struct op *op = e->heap[0];
        heap_remove(e, op);
        op->where = W_NONE;
        advance(op);
    }
    for (size_t i = 0; i < e->nslots; i++)
        dispatch(e, e->slots[i]);
    sweep(e, now);
}

/* How long poll() may wait before pump() has work. */
static int64_t next_wait(struct d2ev_oem_engine *e, int64_t timeout)
{
    int64_t now = d2ev_clock_mono_ms(), w = timeout;
    if (e->heap_n && e->heap[0]->due - now < w)
        w = e->heap[0]->due - now;
    for (size_t i = 0; i < e->nslots; i++) {
        struct slot *s = e->slots[i];
        if (s->ready.n && e->in_flight < e->conf.max_in_flight &&
            s->in_flight < s->set->max_in_flight && s->ready_at - now < w)
            w = s->ready_at - now;
    }
    int64_t t = tok_next_deadline(e, now);
    if (t != INT64_MAX && t - now < w)
        w = t - now;
    return w < 0 ? 0 : w;
}

int d2ev_oem_engine_poll(struct d2ev_oem_engine *e, int timeout_ms)
{
    uint64_t before = e->completed;
    pump(e);
    int64_t wait = next_wait(e, timeout_ms < 0 ? 0 : timeout_ms);
    if (e->completed != before)
        wait = 0;
    if (engine_loop_wait(e, wait) != D2EV_OK)
        return D2EV_ERR_IO;
    pump(e);
    return (int)(e->completed - before);
}

size_t d2ev_oem_engine_drain(struct d2ev_oem_engine *e, int64_t timeout_ms)
{
    int64_t end = d2ev_clock_mono_ms() + timeout_ms;
    while (e->pending > 0) {
        int64_t left = end - d2ev_clock_mono_ms();
        if (left <= 0)
            break;
        if (d2ev_oem_engine_poll(e, left > 100 ? 100 : (int)left) < 0)
            break;
    }
    return e->pending;
}

size_t d2ev_oem_engine_pending(const struct d2ev_oem_engine *e)
{
    return e->pending;
}

void d2ev_oem_engine_wakeup(struct d2ev_oem_engine *e)
{
    engine_loop_wakeup(e);
}

/* ------------------------------------------------------------ lifecycle */

struct d2ev_oem_engine *d2ev_oem_engine_create(const struct d2ev_oem_engine_conf *conf,
                                               struct d2ev_err *err)
{
    if (!conf || !conf->tokens || !conf->tokens->get) {
        d2ev_err_set(err, D2EV_ERR_INVALID, "OEM engine: a token source with get() is required");
        return NULL;
    }
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        d2ev_err_set(err, D2EV_ERR_IO, "OEM engine: curl_global_init failed");
        return NULL;
    }
    struct d2ev_oem_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    e->conf = *conf;
    e->src = conf->tokens;
    if (!e->conf.max_in_flight)
        e->conf.max_in_flight = DEFAULT_MAX_IN_FLIGHT;
    if (e->conf.default_deadline_ms <= 0)
        e->conf.default_deadline_ms = DEFAULT_DEADLINE_MS;
    if (!e->conf.max_response_bytes)
        e->conf.max_response_bytes = DEFAULT_MAX_RESPONSE;
    e->rng = conf->seed ? conf->seed : d2ev_rand_seed();
    if (asprintf(&e->user_agent, "%s", conf->user_agent ? conf->user_agent : "d2ev/" D2EV_VERSION) <
        0)
        e->user_agent = NULL;
    e->conf.user_agent = e->user_agent;
    e->multi = curl_multi_init();
    e->pool = calloc(ENGINE_POOL_MAX, sizeof(*e->pool));
    e->last_sweep = d2ev_clock_mono_ms();
    e->epfd = e->evfd = -1;
    if (!e->user_agent || !e->multi || !e->pool || engine_loop_init(e) != D2EV_OK) {
        d2ev_oem_engine_destroy(e);
        d2ev_err_set(err, D2EV_ERR_NOMEM, "OEM engine: out of memory");
        return NULL;
    }
    curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)e->conf.max_in_flight);
    return e;
}

static void free_vehicle(struct d2ev_htab_node *n, void *arg)
{
    free((char *)n - offsetof(struct vstate, node));
}

static void free_token(struct d2ev_htab_node *n, void *arg)
{
    tok_free((struct tokstate *)((char *)n - offsetof(struct tokstate, node)));
}

void d2ev_oem_engine_destroy(struct d2ev_oem_engine *e)
{
    if (!e)
        return;
    e->destroying = true;
    while (e->all) {
        struct op *op = e->all;
        engine_complete(op, D2EV_OEM_RETRY, "cancelled: the OEM engine shut down");
    }
    for (size_t i = 0; i < e->nslots; i++) {
        tok_free(e->slots[i]->app_tok);
        free(e->slots[i]);
    }
    free(e->slots);
    d2ev_htab_each(&e->vehicles, free_vehicle, NULL);
    d2ev_htab_each(&e->tokens, free_token, NULL);
    d2ev_htab_free(&e->vehicles);
    d2ev_htab_free(&e->tokens);
    for (size_t i = 0; i < e->npool; i++)
        curl_easy_cleanup(e->pool[i]);
    free(e->pool);
    if (e->multi)
        curl_multi_cleanup(e->multi);
    engine_loop_fini(e); /* after curl, which removes its sockets on cleanup */
    free(e->heap);
    free(e->user_agent);
    free(e);
}

static void slot_metrics(struct slot *s)
{
    char l[160];
    for (uint32_t c = 0; c <= D2EV_OEM_CLASS_COUNT; c++) {
        snprintf(l, sizeof(l), "oem=\"%s\",class=\"%s\"", s->name,
                 c < D2EV_OEM_CLASS_COUNT ? d2ev_oem_class_name(c) : "transport");
        s->m_req[c] = d2ev_metric_counter("d2ev_oem_requests_total",
                                          "HTTP requests to OEM APIs by answer class", l);
    }
    for (uint32_t o = 0; o < D2EV_OEM_OP_COUNT; o++) {
        for (uint32_t c = 0; c < D2EV_OEM_CLASS_COUNT; c++) {
            snprintf(l, sizeof(l), "oem=\"%s\",op=\"%s\",class=\"%s\"", s->name,
                     d2ev_oem_op_name(o), d2ev_oem_class_name(c));
            s->m_ops[o][c] = d2ev_metric_counter("d2ev_oem_operations_total",
                                                 "OEM operations completed by class", l);
        }
    }
    snprintf(l, sizeof(l), "oem=\"%s\"", s->name);
    s->m_latency =
        d2ev_metric_histogram("d2ev_oem_request_seconds", "OEM HTTP request latency", l, NULL, 0);
    s->m_in_flight = d2ev_metric_gauge("d2ev_oem_in_flight", "OEM requests in flight", l);
    s->m_queued =
        d2ev_metric_gauge("d2ev_oem_queued", "OEM operations ready, waiting for a bucket", l);
    s->m_breaker = d2ev_metric_gauge("d2ev_oem_breaker_state",
                                     "OEM circuit breaker: 0 closed, 1 open, 2 half-open", l);
    s->m_breaker_opened =
        d2ev_metric_counter("d2ev_oem_breaker_opened_total", "OEM circuit breaker openings", l);
    s->m_rl_waits = d2ev_metric_counter("d2ev_oem_rate_limit_waits_total",
                                        "OEM operations that waited for a rate-limit bucket", l);
    s->m_rl_blocks = d2ev_metric_counter("d2ev_oem_rate_limited_total",
                                         "OEM 429 answers (bucket blocked for Retry-After)", l);
    s->m_wakes = d2ev_metric_counter("d2ev_oem_wakes_total", "Cars woken for a command", l);
    s->m_retries =
        d2ev_metric_counter("d2ev_oem_retries_total", "OEM requests retried after backoff", l);
    snprintf(l, sizeof(l), "oem=\"%s\",result=\"ok\"", s->name);
    s->m_refresh_ok =
        d2ev_metric_counter("d2ev_oem_token_refreshes_total", "OEM token refreshes by result", l);
    snprintf(l, sizeof(l), "oem=\"%s\",result=\"failed\"", s->name);
    s->m_refresh_failed =
        d2ev_metric_counter("d2ev_oem_token_refreshes_total", "OEM token refreshes by result", l);
}

int d2ev_oem_engine_add(struct d2ev_oem_engine *e, struct d2ev_oem *oem, struct d2ev_err *err)
{
    const char *name = d2ev_oem_name(oem);
    for (size_t i = 0; i < e->nslots; i++) {
        if (!strcmp(e->slots[i]->name, name))
            return d2ev_err_set(err, D2EV_ERR_CONFLICT, "OEM engine: %s added twice", name);
    }
    struct slot *s = calloc(1, sizeof(*s));
    struct slot **grown = realloc(e->slots, (e->nslots + 1) * sizeof(*grown));
    if (!s || !grown) {
        free(s);
        if (grown)
            e->slots = grown;
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    }
    e->slots = grown;
    s->oem = oem;
    s->desc = d2ev_oem_describe(oem);
    s->set = d2ev_oem_settings(oem);
    snprintf(s->name, sizeof(s->name), "%s", name);
    d2ev_token_bucket_init(&s->bucket, s->set->rate_per_s, s->set->burst, d2ev_clock_now_ms());
    s->breaker = s->set->breaker;
    s->breaker.state = D2EV_BREAKER_CLOSED;
    s->breaker.window_start_ms = d2ev_clock_mono_ms();
    if (s->desc->token_model == D2EV_OEM_TOKENS_PER_APP) {
        s->app_tok = calloc(1, sizeof(*s->app_tok) + 1);
        if (!s->app_tok) {
            free(s);
            return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
        }
        s->app_tok->slot = s;
        s->app_tok->key = s->app_tok->keybuf; /* "" */
    }
    slot_metrics(s);
    e->slots[e->nslots++] = s;
    return D2EV_OK;
}

static struct slot *find_slot(const struct d2ev_oem_engine *e, const char *name)
{
    for (size_t i = 0; name && i < e->nslots; i++) {
        if (!strcmp(e->slots[i]->name, name))
            return e->slots[i];
    }
    return NULL;
}

int d2ev_oem_engine_submit(struct d2ev_oem_engine *e, const struct d2ev_oem_task *o,
                           d2ev_oem_done_fn done, void *arg, uint64_t *id, struct d2ev_err *err)
{
    if (e->destroying)
        return d2ev_err_set(err, D2EV_ERR_STATE, "OEM engine is shutting down");
    struct slot *slot = find_slot(e, o->oem);
    if (!slot)
        return d2ev_err_set(err, D2EV_ERR_NOT_FOUND, "OEM '%.40s' is not loaded",
                            o->oem ? o->oem : "");
    if (!d2ev_oem_supports(slot->oem, o->op))
        return d2ev_err_set(err, D2EV_ERR_UNSUPPORTED, "%s does not support %s", slot->name,
                            d2ev_oem_op_name(o->op));
    bool vehicle_op = o->op <= D2EV_OEM_OP_WAKE;
    bool per_app = slot->desc->token_model == D2EV_OEM_TOKENS_PER_APP;
    const char *key = per_app ? "" : (o->key ? o->key : o->vehicle);
    if (vehicle_op && (!o->vehicle || !*o->vehicle))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%s %s: vehicle is required", slot->name,
                            d2ev_oem_op_name(o->op));
    if (o->op == D2EV_OEM_OP_REFRESH && !per_app && (!key || !*key))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%s refresh: key is required", slot->name);
    if (o->op == D2EV_OEM_OP_EXCHANGE_CODE && (!o->code || !*o->code))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "%s exchange_code: code is required",
                            slot->name);
    struct op *op = engine_new_op(e, slot);
    if (!op)
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    op->kind = op->cur = o->op;
    op->no_wake = o->no_wake;
    op->token_op = o->op == D2EV_OEM_OP_EXCHANGE_CODE;
    op->done = done;
    op->arg = arg;
    if (o->deadline_ms > 0)
        op->deadline = op->t_submit + o->deadline_ms;
    op->vehicle = engine_strdup(o->vehicle);
    op->code = engine_strdup(o->code);
    op->redirect_uri = engine_strdup(o->redirect_uri);
    bool nomem = (o->vehicle && !op->vehicle) || (o->code && !op->code) ||
                 (o->redirect_uri && !op->redirect_uri);
    if (!nomem && vehicle_op && !(op->veh = veh_get(e, slot, o->vehicle)))
        nomem = true;
    if (op->veh)
        op->veh->refs++;
    if (!nomem && !op->token_op) {
        op->tok = per_app ? slot->app_tok : tok_get(e, slot, key, true);
        if (op->tok)
            op->tok->refs++;
        else
            nomem = true;
    }
    e->pending++;
    if (nomem) {
        op->done = NULL; /* refused: no callback */
        engine_complete(op, D2EV_OEM_RETRY, "out of memory");
        return d2ev_err_set(err, D2EV_ERR_NOMEM, "out of memory");
    }
    if (id)
        *id = op->id;
    engine_schedule(op, op->t_submit);
    return D2EV_OK;
}

int d2ev_oem_engine_stats(const struct d2ev_oem_engine *e, const char *oem,
                          struct d2ev_oem_engine_stats *out)
{
    struct slot *s = find_slot(e, oem);
    if (!s)
        return D2EV_ERR_NOT_FOUND;
    *out = s->stats;
    out->in_flight = s->in_flight;
    out->queued = (uint32_t)s->ready.n;
    out->breaker = s->breaker.state;
    return D2EV_OK;
}
