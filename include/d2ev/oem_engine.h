/*
 * The OEM engine: runs adapter operations (read, start, stop, wake, token
 * refresh, code exchange) over HTTP for telemetry, dispatch and registration.
 *
 * One engine runs on the caller's thread, driven from the caller's loop:
 *
 *   struct d2ev_oem_engine *e = d2ev_oem_engine_create(&conf, &err);
 *   d2ev_oem_engine_add(e, tesla, &err);            // a loaded adapter (oem.h)
 *   d2ev_oem_engine_submit(e, &(struct d2ev_oem_task){ .oem = "tesla",
 *       .op = D2EV_OEM_OP_READ, .vehicle = "1492931520123456", .key = "v-1" },
 *       on_done, ctx, NULL, &err);
 *   while (running)
 *       d2ev_oem_engine_poll(e, 100);             // callbacks run in here
 *
 * libcurl's multi interface keeps thousands of requests in flight on that one
 * thread. For every operation the engine applies, per OEM:
 *   - a token bucket (rate_limit) and optionally one per vehicle
 *     (vehicle_rate_limit); a Retry-After blocks the bucket it names;
 *   - a cap on requests in flight (max_in_flight) and per-request timeouts;
 *   - retries of failed requests with exponential backoff and jitter
 *     (max_attempts per step, backoff);
 *   - a circuit breaker (breaker): while it is open, operations fail at once
 *     with class retry instead of piling onto a broken OEM;
 *   - the adapter's multi-step flows (Tesla wake + poll, Enode actions).
 *
 * Error classes decide what happens (enum d2ev_oem_class):
 *   permanent     the operation fails.
 *   retry         backoff and retry, up to max_attempts, within the deadline.
 *   asleep        READ reports asleep and never wakes the car. START/STOP wake
 *                 the car first when the OEM needs it (Tesla), then retry;
 *                 on OEMs whose commands wake the car it is a retry.
 *   rate_limited  block the OEM's (or the vehicle's) bucket until Retry-After,
 *                 then try again; fails rate_limited if the deadline is nearer.
 *   unauthorized  refresh the token (single flight, below) and retry once;
 *                 after a failed refresh, or a second 401, it is permanent.
 *
 * Tokens: the engine never stores credentials. It asks a token source (below)
 * for the current token before each request and puts it in the
 * Authorization header. When a request gets 401, or the token is within
 * token_refresh_margin_ms of expiry, exactly one refresh runs per token key
 * (per vehicle; per application for per-app OEMs such as Enode) and every
 * other operation of that key waits for it, so a rotating refresh token is
 * never used twice. A source either lets the engine refresh (it runs the
 * adapter's REFRESH and hands the new tokens to store(): the registration
 * service, the single writer of credentials) or refreshes elsewhere
 * (request_refresh(): telemetry and dispatch, which only read credentials)
 * and reports back with d2ev_oem_engine_tokens_changed().
 *
 * Every accepted operation completes exactly once: its callback runs once,
 * from d2ev_oem_engine_poll() (or from d2ev_oem_engine_destroy(), with class
 * retry), never from submit().
 *
 * Time: what faces the OEM runs on the OEM's clock, which is the d2ev clock
 * (real time in production, simulated time against d2ev-oemsim on a scaled
 * clock): rate buckets, Retry-After, the adapters' flow delays and elapsed
 * times (a Tesla wake's polling), and token expiry. Network timing (request
 * timeouts, operation deadlines, the circuit breaker) uses the real monotonic
 * clock. At speed 1 the two agree.
 *
 * Threads: an engine is used from one thread; only d2ev_oem_engine_wakeup()
 * may be called from others. Callbacks may submit new operations and call
 * tokens_changed/refresh_failed, but must not destroy the engine.
 */
#ifndef D2EV_OEM_ENGINE_H
#define D2EV_OEM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/oem.h"
#include "d2ev/oem_adapter.h"
#include "d2ev/resilience.h"

struct d2ev_oem_engine;

/* Tokens as a token source holds them. Strings are borrowed: valid until the
 * call that produced or received them returns. */
struct d2ev_oem_token {
    const char *access_token;
    const char *refresh_token;     /* NULL for client credentials */
    int64_t expires_at_ms;         /* d2ev clock; 0 = unknown */
    int64_t refresh_expires_at_ms; /* d2ev clock; 0 = unknown */
};

/* Where the engine gets tokens. `key` is the token key of an operation (for
 * per-app OEMs always ""). Callbacks run on the engine's thread. */
struct d2ev_oem_token_source {
    void *opaque;
    /* Fill *out with key's current tokens. Return 0, or D2EV_ERR_NOT_FOUND
     * when there are none. Required. */
    int (*get)(void *opaque, const char *oem, const char *key, struct d2ev_oem_token *out);
    /* Optional: the source refreshes elsewhere. Return 0 when a refresh was
     * requested; the source later calls d2ev_oem_engine_tokens_changed()
     * (success) or d2ev_oem_engine_refresh_failed() for key, and
     * operations wait for that up to refresh_wait_ms. Return 1 to let the
     * engine refresh this key itself (then store() is called; e.g. per-app
     * client-credentials tokens, which have no refresh token to race on).
     * A negative return fails the waiting operations with class retry.
     * NULL: the engine refreshes every key. */
    int (*request_refresh)(void *opaque, const char *oem, const char *key);
    /* Required when the engine may refresh (request_refresh NULL or returning 1): it refreshed key's
     * tokens. Keep them (get() must return them from now on: the old refresh
     * token may already be dead) and persist them. tokens are borrowed. */
    void (*store)(void *opaque, const char *oem, const char *key,
                  const struct d2ev_oem_token *tokens);
};

struct d2ev_oem_engine_conf {
    const struct d2ev_oem_token_source *tokens; /* borrowed; must outlive the engine */
    uint32_t max_in_flight;                     /* all OEMs together; 0 = 4096 */
    int64_t default_deadline_ms;                /* per operation, from submit; 0 = 120000 */
    const char *user_agent;                     /* NULL = "d2ev/<version>"; copied */
    uint64_t seed;                              /* backoff jitter PRNG; 0 = random */
    size_t max_response_bytes;                  /* 0 = 1 MiB; larger answers fail as retry */
};

/* One operation. Strings are copied by submit(). */
struct d2ev_oem_task {
    const char *oem;          /* adapter name, added with d2ev_oem_engine_add() */
    uint32_t op;              /* enum d2ev_oem_op */
    const char *vehicle;      /* the OEM's vehicle id (READ, START, STOP, WAKE) */
    const char *key;          /* token key, e.g. the d2ev vehicle id; NULL = vehicle.
                                 Ignored by per-app OEMs. Required for REFRESH. */
    const char *code;         /* EXCHANGE_CODE */
    const char *redirect_uri; /* EXCHANGE_CODE; NULL = the adapter's config */
    int64_t deadline_ms;      /* budget from submit; 0 = the engine default */
    bool no_wake;             /* START/STOP: report asleep instead of waking */
};

/* How an operation ended. Borrowed for the duration of the callback. */
struct d2ev_oem_outcome {
    uint64_t id; /* as returned by submit() */
    const char *oem;
    uint32_t op;                         /* enum d2ev_oem_op */
    const char *vehicle;                 /* "" when none */
    const char *key;                     /* token key ("" when none) */
    uint32_t cls;                        /* enum d2ev_oem_class; D2EV_OEM_OK on success */
    const char *message;                 /* why (errors); never a secret */
    int http_status;                     /* of the last answer; 0 when none (transport failure) */
    int64_t retry_after_ms;              /* rate_limited: when to try again, in d2ev-clock ms
                                            (simulated time under a scaled clock) */
    uint32_t requests;                   /* HTTP requests made, all steps and retries */
    bool woke;                           /* START/STOP: the car was woken first */
    int64_t latency_ms;                  /* submit to completion */
    const struct d2ev_oem_state *state;  /* READ, WAKE: on success, else NULL */
    uint32_t command;                    /* START/STOP: enum d2ev_oem_command_outcome */
    const struct d2ev_oem_token *tokens; /* REFRESH, EXCHANGE_CODE on success, else NULL.
                                            Secrets: store, never log. */
};

typedef void (*d2ev_oem_done_fn)(void *arg, const struct d2ev_oem_outcome *out);

/* Counters of one OEM, for tests and tools. */
struct d2ev_oem_engine_stats {
    uint64_t requests;         /* HTTP requests sent (API and token endpoint) */
    uint64_t retries;          /* requests re-sent after a retry-class answer */
    uint64_t rate_limit_waits; /* times an operation waited for a bucket */
    uint64_t rate_limited;     /* 429 answers */
    uint64_t refreshes;        /* token refreshes started (engine-run or requested) */
    uint64_t wakes;            /* wake flows started for commands */
    uint64_t breaker_opened;   /* times the breaker opened */
    uint64_t breaker_rejected; /* operations failed at once by an open breaker */
    uint32_t in_flight;
    uint32_t queued; /* ready and waiting for a bucket or a slot */
    enum d2ev_breaker_state breaker;
};

/* Create an engine. Returns NULL with err set (e.g. no token source). */
struct d2ev_oem_engine *d2ev_oem_engine_create(const struct d2ev_oem_engine_conf *conf,
                                               struct d2ev_err *err);

/* Complete every pending operation with class retry ("engine shut down")
 * and free the engine. NULL is a no-op. Loaded adapters are not unloaded. */
void d2ev_oem_engine_destroy(struct d2ev_oem_engine *e);

/* Serve operations for a loaded adapter (borrowed: unload it only after
 * destroying the engine). Its settings (d2ev_oem_settings) apply. Fails on
 * a duplicate name. */
int d2ev_oem_engine_add(struct d2ev_oem_engine *e, struct d2ev_oem *oem, struct d2ev_err *err);

/* Queue an operation; done(arg, outcome) runs exactly once, later, from
 * poll(). *id (if id) receives its id. Returns 0, or a negative d2ev_rc with
 * err set and no callback: D2EV_ERR_NOT_FOUND (unknown OEM),
 * D2EV_ERR_UNSUPPORTED (the adapter lacks the operation), D2EV_ERR_INVALID
 * (missing vehicle, key or code), D2EV_ERR_STATE (engine shutting down). */
int d2ev_oem_engine_submit(struct d2ev_oem_engine *e, const struct d2ev_oem_task *op,
                           d2ev_oem_done_fn done, void *arg, uint64_t *id, struct d2ev_err *err);

/* Do the work that is due: start requests, wait up to timeout_ms for
 * network activity or timers, handle answers, run callbacks. Returns the
 * number of operations completed, or a negative d2ev_rc on a libcurl
 * failure. timeout_ms 0 does not wait. */
int d2ev_oem_engine_poll(struct d2ev_oem_engine *e, int timeout_ms);

/* poll() until no operation is pending or timeout_ms has passed. Returns
 * the number still pending. */
size_t d2ev_oem_engine_drain(struct d2ev_oem_engine *e, int64_t timeout_ms);

/* Operations submitted and not yet completed. */
size_t d2ev_oem_engine_pending(const struct d2ev_oem_engine *e);

/* Make a poll() that is waiting return early. Thread-safe. */
void d2ev_oem_engine_wakeup(struct d2ev_oem_engine *e);

/* The token source has new tokens for key (a refresh it ran, a re-link):
 * operations waiting for a refresh of key go ahead, and an earlier failed
 * refresh no longer makes 401s permanent. Unknown keys are ignored. */
void d2ev_oem_engine_tokens_changed(struct d2ev_oem_engine *e, const char *oem, const char *key);

/* The token source's refresh of key failed: waiting operations fail with cls
 * (permanent or unauthorized make later 401s of this refresh token
 * permanent too). message is copied; never a secret. */
void d2ev_oem_engine_refresh_failed(struct d2ev_oem_engine *e, const char *oem, const char *key,
                                    uint32_t cls, const char *message);

/* Counters of one OEM. Returns 0 or D2EV_ERR_NOT_FOUND. */
int d2ev_oem_engine_stats(const struct d2ev_oem_engine *e, const char *oem,
                          struct d2ev_oem_engine_stats *out);

/* The outcome as a JSON object {"oem","op","vehicle","class","message",
 * "http_status","requests","latency_ms", "state"|"command"|"retry_after_ms"
 * ...}. Tokens are included only when with_tokens (the d2ev-oem tool).
 * Returns a new reference. */
json_t *d2ev_oem_outcome_to_json(const struct d2ev_oem_outcome *out, bool with_tokens);

#endif
