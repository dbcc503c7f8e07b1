/*
 * Internals of the OEM engine, shared by engine.c (scheduling, HTTP) and
 * tokens.c (single-flight token refresh). Not a public header.
 */
#ifndef D2EV_OEM_ENGINE_INTERNAL_H
#define D2EV_OEM_ENGINE_INTERNAL_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "d2ev/metrics.h"
#include "d2ev/oem_engine.h"
#include "d2ev/strbuf.h"
#include "d2ev/htab.h"

#define ENGINE_POOL_MAX 1024

enum op_where { W_NONE = 0, W_TIMER, W_READY, W_WAITING, W_INFLIGHT };

struct op;

struct op_list {
    struct op *head, *tail;
    size_t n;
};

/* Per (OEM, vehicle): the vehicle's bucket and Retry-After block. */
struct vstate {
    struct d2ev_htab_node node;
    struct d2ev_token_bucket bucket;
    bool limited;          /* a per-vehicle rate is configured */
    int64_t blocked_until; /* d2ev clock (OEM time); a vehicle-scoped Retry-After */
    uint32_t refs;         /* operations pointing here */
    char keybuf[];
};

/* Per (OEM, token key): the single-flight refresh. */
struct tokstate {
    struct d2ev_htab_node node;
    struct slot *slot;
    const char *key; /* the token key ("" for per-app) */
    uint32_t refs;
    bool refreshing; /* a refresh runs (engine op or token source) */
    bool external;   /* ... run by the token source */
    int64_t external_deadline;
    bool settled; /* the token source reported back; pump finishes it */
    uint32_t settled_cls;
    char *settled_msg;         /* malloc'd; rare, so not inline (memory per vehicle) */
    struct tokstate *ext_next; /* list of external refreshes in progress */
    struct op_list waiters;    /* operations waiting for this refresh */
    uint64_t refresh_hash;     /* hash of the refresh token being spent */
    bool failed;               /* a refresh of failed_hash's refresh token failed */
    uint64_t failed_hash;
    char *failed_msg; /* malloc'd */
    char keybuf[];
};

/* One OEM. */
struct slot {
    struct d2ev_oem *oem;
    const struct d2ev_oem_desc *desc;
    const struct d2ev_oem_settings *set;
    char name[64];
    struct d2ev_token_bucket bucket;
    struct d2ev_breaker breaker;
    struct op_list ready;
    uint32_t in_flight;
    int64_t ready_at;         /* mono: when the bucket allows the next request */
    struct tokstate *app_tok; /* per-app token model */
    struct d2ev_oem_engine_stats stats;
    struct d2ev_metric *m_req[D2EV_OEM_CLASS_COUNT + 1]; /* + transport failures */
    struct d2ev_metric *m_ops[D2EV_OEM_OP_COUNT][D2EV_OEM_CLASS_COUNT];
    struct d2ev_metric *m_latency, *m_in_flight, *m_queued, *m_breaker, *m_breaker_opened;
    struct d2ev_metric *m_rl_waits, *m_rl_blocks, *m_refresh_ok, *m_refresh_failed, *m_wakes;
    struct d2ev_metric *m_retries;
};

/* One operation (or an internal token refresh). */
struct op {
    uint64_t id;
    struct d2ev_oem_engine *e;
    struct slot *slot;
    struct vstate *veh;   /* NULL when the operation has no vehicle */
    struct tokstate *tok; /* NULL for code exchange */
    uint32_t kind;        /* the operation asked for */
    uint32_t cur;         /* the flow running: kind, or WAKE before a command */
    bool internal;        /* the engine's own refresh */
    bool token_op;        /* talks to the token endpoint: no bucket, breaker or bearer */
    bool no_wake, woke, refreshed, pre_refreshed, counted_wait;
    char *vehicle, *key, *code, *redirect_uri, *refresh_token;
    struct d2ev_oem_flow flow;
    int64_t flow_start; /* d2ev clock, first request of the current flow */
    bool flow_started;  /* flow_start is set */
    uint32_t step_attempts, requests, wakes, rl_waits;
    uint64_t token_hash; /* of the access token the last request carried */
    int64_t t_submit, deadline, due, t_sent;
    uint64_t seq; /* timer order among equal due times */
    enum op_where where;
    size_t heap_idx;
    struct op *prev, *next;         /* ready list or waiters */
    struct op *all_prev, *all_next; /* every live operation */
    /* in flight */
    CURL *easy;
    struct curl_slist *hdrs;
    struct d2ev_strbuf body, hdrbuf;
    bool too_big;
    /* what happened */
    uint32_t last_cls;
    int last_status;
    int64_t retry_after_ms;
    char msg[D2EV_OEM_MESSAGE_MAX];
    struct d2ev_oem_state state;
    bool has_state;
    uint32_t command;
    bool has_tokens;
    char *tok_access, *tok_refresh;
    int64_t tok_expires_at, tok_refresh_expires_at;
    d2ev_oem_done_fn done;
    void *arg;
};

struct d2ev_oem_engine {
    struct d2ev_oem_engine_conf conf;
    const struct d2ev_oem_token_source *src;
    char *user_agent;
    CURLM *multi;
    int epfd, evfd;        /* loop.c: epoll set and wake-up eventfd */
    int64_t curl_timer_at; /* mono ms of curl's next timeout; -1 = none */
    struct slot **slots;
    size_t nslots;
    struct d2ev_htab vehicles, tokens;
    struct op **heap;
    size_t heap_n, heap_cap;
    struct op *all;
    size_t pending; /* caller operations not yet completed */
    uint32_t in_flight;
    uint64_t next_id, completed, seq;
    uint64_t rng;
    CURL **pool;
    size_t npool;         /* idle easy handles kept for reuse (at most ENGINE_POOL_MAX) */
    struct tokstate *ext; /* external refreshes in progress */
    bool destroying;
    int64_t last_sweep;
};

/* engine.c: queues, lifecycle, the pump */
void engine_schedule(struct op *op, int64_t due);
/* Take op out of wherever it is (timer, ready list, waiters, in flight). */
void engine_detach(struct op *op);
void engine_complete(struct op *op, uint32_t cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void op_list_push(struct op_list *l, struct op *op);
void op_list_remove(struct op_list *l, struct op *op);
struct op *engine_new_op(struct d2ev_oem_engine *e, struct slot *slot);
char *engine_strdup(const char *s);
void engine_wipe_free(char *s);

/* transfer.c: HTTP on libcurl */
/* Build op's current request with the adapter and start it; auth (malloc'd,
 * wiped and freed here) is the Authorization line of bearer requests. */
void engine_send(struct op *op, char *auth);
/* An answer (or a transport failure) arrived for easy handle h. */
void engine_on_answer(struct d2ev_oem_engine *e, CURL *h, CURLcode code);
/* Return op's easy handle to the pool and drop its in-flight counts. */
void engine_release_easy(struct d2ev_oem_engine *e, struct op *op);

/* loop.c: the network wait on epoll + curl_multi_socket_action */
int engine_loop_init(struct d2ev_oem_engine *e);
void engine_loop_fini(struct d2ev_oem_engine *e);
/* Wait up to wait_ms (less if curl's timer is due) for socket activity, let
 * curl act on it, and hand finished transfers to engine_on_answer(). */
int engine_loop_wait(struct d2ev_oem_engine *e, int64_t wait_ms);
/* Make a waiting engine_loop_wait() return. Thread-safe. */
void engine_loop_wakeup(struct d2ev_oem_engine *e);

/* results.c: acting on an answer's class */
void engine_handle_result(struct op *op, const struct d2ev_oem_result *res);
/* Retry op's current step after backoff, or complete it with cls when out
 * of attempts or time. */
void engine_retry_later(struct op *op, uint32_t cls);
/* Record a request's outcome in slot's breaker (logs and counts openings). */
void engine_breaker_record(struct slot *slot, bool success);
/* Start op's flow again from step 0. */
void engine_reset_flow(struct op *op);

/* tokens.c */
uint64_t tok_hash(const char *s);
struct tokstate *tok_get(struct d2ev_oem_engine *e, struct slot *slot, const char *key,
                         bool create);
void tok_free(struct tokstate *t);
/* Outcome of tok_check(). */
enum tok_verdict { TOK_SEND, TOK_MOVED };
/* Before sending op (at the head of its slot's ready list): TOK_SEND with
 * *auth the malloc'd Authorization line, or TOK_MOVED when op left the ready
 * list (waits for a refresh, or was completed). */
enum tok_verdict tok_check(struct op *op, char **auth);
/* op got 401. */
void tok_unauthorized(struct op *op);
/* Wait for (and start if none runs) a refresh of op->tok. */
void tok_await_refresh(struct op *op);
/* The engine's refresh op finished. */
void tok_internal_done(struct op *op, uint32_t cls, const char *msg);
/* Finish refreshes the token source reported on or gave up on. */
void tok_pump_external(struct d2ev_oem_engine *e, int64_t now);
/* The earliest external refresh deadline (INT64_MAX when none; now when one
 * is settled). */
int64_t tok_next_deadline(const struct d2ev_oem_engine *e, int64_t now);

#endif
