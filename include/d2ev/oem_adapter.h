/*
 * The OEM adapter plugin ABI.
 *
 * An adapter is a shared object (d2ev_oem_<name>.so) that knows one OEM's API
 * dialect. It BUILDS HTTP requests and PARSES HTTP responses; it never opens a
 * socket, never calls curl, never reads files or the environment. The host
 * (the OEM engine, include/d2ev/oem_engine.h) does all I/O: concurrency, rate
 * limits, timeouts, retries, circuit breakers and token refresh.
 *
 * Loading
 *   The .so exports exactly one symbol, D2EV_OEM_ENTRY_SYMBOL:
 *
 *     const struct d2ev_oem_adapter *
 *     d2ev_oem_adapter_entry(uint32_t host_abi, const struct d2ev_oem_host *host);
 *
 *   The host passes its ABI version and its function table. The adapter
 *   returns NULL if it cannot work with that host (another major version, or
 *   a host table too small for what it needs); otherwise its static adapter
 *   table. The host then refuses an adapter whose major version differs from
 *   its own. Build adapters with -fvisibility=hidden and -Wl,-z,defs: they
 *   reach the host only through the d2ev_oem_host table, never through linked
 *   host symbols, so a test can hand them a fake table. They may link libc,
 *   libm and jansson.
 *
 * Versioning (major.minor, D2EV_OEM_ABI_VERSION = major << 16 | minor)
 *   - A major bump breaks compatibility; the host refuses other majors.
 *   - A minor bump only APPENDS members to the structs below, or values to the
 *     enums. Every struct crossing the boundary starts with struct_size, set
 *     by whoever allocated it. A reader checks D2EV_OEM_HAS(ptr, member)
 *     before touching a member added after 1.0, so an old adapter in a new
 *     host (or the reverse) is never over-read or over-written.
 *
 * Operations and flows
 *   Every operation (enum d2ev_oem_op) is a small state machine the host
 *   drives: build(step 0) -> send -> parse. parse() either ends the flow
 *   (next = D2EV_OEM_NEXT_DONE, with cls = OK or an error class) or asks for
 *   another request (next = D2EV_OEM_NEXT_STEP: build `next_step` after
 *   `next_delay_ms`). Examples: Tesla's wake is "POST wake_up, then GET the
 *   vehicle every 2 s until state is online"; Enode's START is "POST the
 *   action, then GET the action until CONFIRMED / FAILED / CANCELLED". Data
 *   carried between steps (an action id) lives in flow->ref. The host bounds
 *   every flow by a deadline whatever the adapter does.
 *
 * Errors
 *   parse() classifies every failure into one of the d2ev_oem_class values;
 *   the host acts on the class (see oem_engine.h and docs/adapters.md).
 *   Transport failures (connection refused, timeouts) never reach the adapter:
 *   the host classifies them as D2EV_OEM_RETRY itself.
 *
 * Memory
 *   Every heap string an adapter hands to the host (request URL, body,
 *   headers, token strings) is allocated with the host table's allocators
 *   (alloc / strdup / format / url_encode / base64) and then OWNED BY THE
 *   HOST, which frees it with host->free. Everything the host passes in
 *   (config text, call arguments, responses) is borrowed for the duration of
 *   the call and must not be kept.
 *
 * Threads
 *   The host calls create() and destroy() once per instance, never
 *   concurrently with anything else on that instance. describe(), build() and
 *   parse() may be called concurrently from several threads on one instance:
 *   an adapter keeps no mutable state in the instance after create(). All
 *   host table functions are thread-safe.
 *
 * Secrets
 *   The client secret reaches create() separately from the config (the host
 *   reads it from the environment or a mounted file, never from the config
 *   file). Adapters never log secrets, tokens or authorisation codes, and
 *   never copy them into result messages.
 */
#ifndef D2EV_OEM_ADAPTER_H
#define D2EV_OEM_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/events.h" /* enum d2ev_charging_state */

#define D2EV_OEM_ABI_MAJOR       1
#define D2EV_OEM_ABI_MINOR       0
#define D2EV_OEM_ABI_VERSION     ((uint32_t)((D2EV_OEM_ABI_MAJOR << 16) | D2EV_OEM_ABI_MINOR))
#define D2EV_OEM_ABI_MAJOR_OF(v) ((uint32_t)(v) >> 16)
#define D2EV_OEM_ABI_MINOR_OF(v) ((uint32_t)(v)&0xffffu)

#define D2EV_OEM_ENTRY_SYMBOL "d2ev_oem_adapter_entry"

/* True when the struct behind ptr (which starts with uint32_t struct_size) is
 * large enough to hold member. */
#define D2EV_OEM_HAS(ptr, member)                                                                  \
    ((ptr)->struct_size >= offsetof(__typeof__(*(ptr)), member) + sizeof((ptr)->member))

/* Mark the entry function for export from an adapter built with hidden
 * visibility. */
#define D2EV_OEM_EXPORT __attribute__((visibility("default")))

/* ------------------------------------------------------------ enums */

/* Operations. Values are stable; new ones are appended. */
enum d2ev_oem_op {
    D2EV_OEM_OP_READ = 0,          /* read the normalised charge state; NEVER wakes the car */
    D2EV_OEM_OP_START = 1,         /* start charging */
    D2EV_OEM_OP_STOP = 2,          /* stop charging */
    D2EV_OEM_OP_WAKE = 3,          /* wake the car and wait until it is online */
    D2EV_OEM_OP_REFRESH = 4,       /* new tokens from a refresh token (or client credentials) */
    D2EV_OEM_OP_EXCHANGE_CODE = 5, /* tokens from an OAuth2 authorisation code */
};
#define D2EV_OEM_OP_COUNT   6
#define D2EV_OEM_OP_BIT(op) (1u << (op))

/* Outcome classes. D2EV_OEM_OK is success; the rest are error classes. The
 * names ("ok", "permanent", ...) are those of d2ev.dispatch's error_class. */
enum d2ev_oem_class {
    D2EV_OEM_OK = 0,
    D2EV_OEM_PERMANENT = 1,    /* revoked consent, unknown vehicle, bad request: do not retry */
    D2EV_OEM_RETRY = 2,        /* 5xx, timeout, garbled answer: retry with backoff */
    D2EV_OEM_ASLEEP = 3,       /* the car sleeps: reads report it, commands wake (if needed) */
    D2EV_OEM_RATE_LIMITED = 4, /* honour retry_after_ms */
    D2EV_OEM_UNAUTHORIZED = 5, /* refresh the token once, then treat as permanent */
};
#define D2EV_OEM_CLASS_COUNT 6

/* What a rate_limited answer limits. */
enum d2ev_oem_limit_scope {
    D2EV_OEM_SCOPE_OEM = 0,     /* the whole OEM (application-wide limit) */
    D2EV_OEM_SCOPE_VEHICLE = 1, /* only this vehicle */
};

/* How tokens are held. */
enum d2ev_oem_token_model {
    D2EV_OEM_TOKENS_PER_VEHICLE = 0, /* OAuth2 per linked vehicle (refresh token) */
    D2EV_OEM_TOKENS_PER_APP = 1,     /* one client-credentials token for the app */
};

/* Capability bits in d2ev_oem_desc.caps. */
#define D2EV_OEM_CAP_NEEDS_WAKE       (1u << 0) /* commands fail on a sleeping car until woken */
#define D2EV_OEM_CAP_ASYNC_ACTIONS    (1u << 1) /* commands complete asynchronously (polled) */
#define D2EV_OEM_CAP_BATCH_READ       (1u << 2) /* one request reads several resources */
#define D2EV_OEM_CAP_ROTATING_REFRESH (1u << 3) /* each refresh returns a new refresh token */

/* What the OEM says a START/STOP did. */
enum d2ev_oem_command_outcome {
    D2EV_OEM_CMD_NONE = 0,
    D2EV_OEM_CMD_SENT = 1,      /* accepted by the OEM cloud; confirm with a later read */
    D2EV_OEM_CMD_CONFIRMED = 2, /* the vehicle confirmed it */
    D2EV_OEM_CMD_ALREADY = 3,   /* the vehicle already was in the wanted state */
};

/* Flow control returned by parse(). */
enum d2ev_oem_next {
    D2EV_OEM_NEXT_DONE = 0, /* the operation is over (successfully or not) */
    D2EV_OEM_NEXT_STEP = 1, /* build next_step after next_delay_ms and send it */
};

/* Request authentication, set by build(). */
enum d2ev_oem_auth {
    D2EV_OEM_AUTH_BEARER = 0, /* the host adds "Authorization: Bearer <access token>" */
    D2EV_OEM_AUTH_NONE = 1,   /* the adapter set whatever it needs (token endpoints) */
};

enum d2ev_oem_log_level {
    D2EV_OEM_LOG_DEBUG = 0,
    D2EV_OEM_LOG_INFO = 1,
    D2EV_OEM_LOG_WARN = 2,
    D2EV_OEM_LOG_ERROR = 3,
};

/* ------------------------------------------------------------ the host table */

/* Functions the host offers to adapters. Allocated and owned by the host; it
 * outlives every instance created with it. All functions are thread-safe.
 * Strings returned by alloc/strdup/format/url_encode/base64 are owned by the
 * caller until handed to the host in a request or result, or released with
 * free(). They return NULL only when out of memory. */
struct d2ev_oem_host {
    uint32_t struct_size;
    uint32_t abi_version; /* D2EV_OEM_ABI_VERSION of the host */
    /* Zero-filled memory. */
    void *(*alloc)(size_t size);
    void (*free)(void *ptr);
    char *(*strdup)(const char *s);
    /* printf into a new string. */
    char *(*format)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
    /* One log line: msg plus key/value string pairs, kv ends with NULL (may be
     * NULL). The host adds the adapter name and redacts secret-looking keys;
     * still, never pass a secret. */
    void (*log)(uint32_t level, const char *adapter, const char *msg, const char *const *kv);
    /* The d2ev clock (scaled in simulations), ms since the epoch. */
    int64_t (*now_ms)(void);
    /* RFC 3339 -> ms since the epoch; returns 0, or negative when malformed. */
    int (*parse_time)(const char *rfc3339, int64_t *ms);
    /* Percent-encode s for a URL path segment or form value (RFC 3986
     * unreserved characters stay). */
    char *(*url_encode)(const char *s);
    /* Standard base64 with padding of data[0..len). */
    char *(*base64)(const void *data, size_t len);
};

/* ------------------------------------------------------------ descriptions */

/* What an adapter instance is and does. Filled by describe(); strings are
 * static or owned by the instance (valid until destroy). */
struct d2ev_oem_desc {
    uint32_t struct_size;
    uint32_t abi_version;      /* D2EV_OEM_ABI_VERSION the adapter was built with */
    const char *name;          /* "tesla": [a-z0-9_], equals the .so's <name> */
    const char *title;         /* "Tesla Fleet API" */
    uint32_t caps;             /* D2EV_OEM_CAP_* */
    uint32_t ops;              /* supported operations: D2EV_OEM_OP_BIT(op) | ... */
    uint32_t token_model;      /* enum d2ev_oem_token_model */
    double rate_per_s;         /* default OEM-wide request rate (token bucket) */
    double burst;              /* default OEM-wide burst */
    double vehicle_rate_per_s; /* default per-vehicle rate; 0 = none */
    double vehicle_burst;
    int64_t request_timeout_ms; /* default per-request timeout */
    /* The config keys this adapter reads (NULL-terminated). The host rejects
     * keys that neither it nor the adapter knows, so typos are caught. */
    const char *const *config_keys;
};

/* ------------------------------------------------------------ calls */

/* The arguments of one operation. Borrowed for the duration of each call. */
struct d2ev_oem_call {
    uint32_t struct_size;
    uint32_t op;               /* enum d2ev_oem_op */
    const char *vehicle;       /* the OEM's vehicle id (NULL for REFRESH/EXCHANGE_CODE) */
    const char *refresh_token; /* REFRESH, per-vehicle token model */
    const char *code;          /* EXCHANGE_CODE */
    const char *redirect_uri;  /* EXCHANGE_CODE; NULL = the adapter's configured one */
};

#define D2EV_OEM_REF_MAX 128

/* Flow state of one operation, owned by the host, zeroed before step 0 and
 * kept between the steps of one operation. */
struct d2ev_oem_flow {
    uint32_t struct_size;
    uint32_t step;              /* the step being built/parsed; 0 first */
    uint32_t step_runs;         /* how many times this step was parsed before (polls) */
    int64_t elapsed_ms;         /* since the flow's first request, on the d2ev clock (the
                                   OEM's time; simulated under a scaled clock; host-filled) */
    char ref[D2EV_OEM_REF_MAX]; /* adapter scratch carried across steps (e.g. an action id) */
};

#define D2EV_OEM_MAX_HEADERS 8

/* An HTTP request, built by the adapter into a struct the host allocated
 * (zeroed, struct_size set). url, body and headers[] are allocated with the
 * host table and owned by the host from then on. */
struct d2ev_oem_request {
    uint32_t struct_size;
    char method[8]; /* "GET", "POST", ... */
    char *url;      /* absolute URL */
    char *body;     /* NULL for none */
    size_t body_len;
    char *headers[D2EV_OEM_MAX_HEADERS]; /* "Name: value" lines, NULL-padded */
    uint32_t auth;                       /* enum d2ev_oem_auth */
    int64_t timeout_ms;                  /* 0 = the OEM's configured timeout */
};

struct d2ev_oem_header {
    const char *name; /* as received; compare case-insensitively */
    const char *value;
};

/* An HTTP response, borrowed for the duration of parse(). */
struct d2ev_oem_response {
    uint32_t struct_size;
    int32_t status;   /* HTTP status */
    const char *body; /* NUL-terminated (the NUL is not counted in body_len) */
    size_t body_len;
    const struct d2ev_oem_header *headers;
    size_t nheaders;
};

/* Presence bits of d2ev_oem_state.fields. */
#define D2EV_OEM_F_SOC            (1u << 0)
#define D2EV_OEM_F_PLUGGED_IN     (1u << 1)
#define D2EV_OEM_F_CHARGING_STATE (1u << 2)
#define D2EV_OEM_F_POWER_KW       (1u << 3)
#define D2EV_OEM_F_BATTERY_KWH    (1u << 4)
#define D2EV_OEM_F_CHARGE_LIMIT   (1u << 5)
#define D2EV_OEM_F_RANGE_KM       (1u << 6)
#define D2EV_OEM_F_REPORTED_AT    (1u << 7)
#define D2EV_OEM_F_ENERGY_ADDED   (1u << 8)
#define D2EV_OEM_F_ONLINE         (1u << 9)

/* Normalised vehicle state (READ). Host-allocated, zeroed; a value is only
 * meaningful when its D2EV_OEM_F_* bit is set in fields. */
struct d2ev_oem_state {
    uint32_t struct_size;
    uint32_t fields;
    double soc_pct;          /* 0..100 */
    int32_t plugged_in;      /* 0 / 1 */
    int32_t charging_state;  /* enum d2ev_charging_state */
    double power_kw;         /* charge power into the car */
    double battery_kwh;      /* usable capacity */
    double charge_limit_pct; /* 0..100 */
    double range_km;
    int64_t reported_at_ms;  /* when the car reported it, per the OEM */
    double energy_added_kwh; /* in the current session */
    int32_t online;          /* 1 awake/reachable, 0 asleep/unreachable */
};

/* Tokens (REFRESH, EXCHANGE_CODE). Host-allocated, zeroed; the adapter
 * stores host-allocated strings, which the host frees. */
struct d2ev_oem_tokens {
    uint32_t struct_size;
    char *access_token;
    char *refresh_token;          /* NULL when the OEM issues none (client credentials) */
    int64_t expires_in_s;         /* 0 = unknown */
    int64_t refresh_expires_in_s; /* 0 = unknown */
};

#define D2EV_OEM_MESSAGE_MAX 256

/* What parse() found. Host-allocated and zeroed before each parse(); the
 * state and tokens pointers are set by the host for the operations that have
 * them (NULL otherwise). */
struct d2ev_oem_result {
    uint32_t struct_size;
    uint32_t cls;          /* enum d2ev_oem_class */
    uint32_t next;         /* enum d2ev_oem_next */
    uint32_t next_step;    /* with D2EV_OEM_NEXT_STEP */
    int64_t next_delay_ms; /* with D2EV_OEM_NEXT_STEP; OEM time (the d2ev clock) */
    /* With an error class: true when the error is the flow's verdict (e.g.
     * "Enode action FAILED") rather than a failed request, so the host
     * reports it as is and does not retry the request. */
    bool final;
    int64_t retry_after_ms;             /* rate_limited: from Retry-After (0 = not given) */
    uint32_t limit_scope;               /* rate_limited: enum d2ev_oem_limit_scope */
    uint32_t command;                   /* START/STOP success: enum d2ev_oem_command_outcome */
    char message[D2EV_OEM_MESSAGE_MAX]; /* why, for errors; never a secret */
    struct d2ev_oem_state *state;       /* READ (and WAKE: online) */
    struct d2ev_oem_tokens *tokens;     /* REFRESH, EXCHANGE_CODE */
};

/* ------------------------------------------------------------ the adapter */

struct d2ev_oem_adapter {
    uint32_t struct_size;
    uint32_t abi_version; /* D2EV_OEM_ABI_VERSION the adapter was built with */
    const char *name;     /* same as desc.name */

    /* Make an instance from config_json[0..len) (a JSON object: base_url,
     * token_url, client_id, ... ; the host's own keys such as rate_limit are
     * present too and must be ignored) and the client secret (NULL when not
     * configured). config_json and client_secret are borrowed: copy what you
     * keep. On success stores the instance in *inst and returns 0; on failure
     * returns a negative d2ev_rc and writes a sentence into errbuf. */
    int (*create)(const struct d2ev_oem_host *host, const char *config_json, size_t len,
                  const char *client_secret, void **inst, char *errbuf, size_t errlen);

    /* Free an instance (NULL is a no-op). */
    void (*destroy)(void *inst);

    /* Fill *out (host-allocated, struct_size set). */
    void (*describe)(void *inst, struct d2ev_oem_desc *out);

    /* Build the request of flow->step of call->op into *req. Returns 0, or
     * D2EV_ERR_UNSUPPORTED for an operation the adapter lacks, or another
     * negative d2ev_rc with errbuf filled (the host fails the operation as
     * permanent). On failure whatever was put into *req is still freed by
     * the host. */
    int (*build)(void *inst, const struct d2ev_oem_call *call, const struct d2ev_oem_flow *flow,
                 struct d2ev_oem_request *req, char *errbuf, size_t errlen);

    /* Parse the response to flow->step's request into *res, and may update
     * flow->ref for the next step. Always classifies: it returns 0 whenever
     * res is filled (including for error answers); a negative return means
     * a bug (the host treats it as permanent). */
    int (*parse)(void *inst, const struct d2ev_oem_call *call, struct d2ev_oem_flow *flow,
                 const struct d2ev_oem_response *resp, struct d2ev_oem_result *res);
};

typedef const struct d2ev_oem_adapter *(*d2ev_oem_entry_fn)(uint32_t host_abi,
                                                            const struct d2ev_oem_host *host);

/* Stable names: "read", "start", "stop", "wake", "refresh", "exchange_code";
 * "ok", "permanent", "retry", "asleep", "rate_limited", "unauthorized";
 * "none", "sent", "confirmed", "already". Static strings; "unknown" for
 * values out of range. Header-only so adapters can use them too. */
static inline const char *d2ev_oem_op_name(uint32_t op)
{
    static const char *const n[] = { "read", "start", "stop", "wake", "refresh", "exchange_code" };
    return op < D2EV_OEM_OP_COUNT ? n[op] : "unknown";
}

static inline const char *d2ev_oem_class_name(uint32_t cls)
{
    static const char *const n[] = { "ok",     "permanent",    "retry",
                                     "asleep", "rate_limited", "unauthorized" };
    return cls < D2EV_OEM_CLASS_COUNT ? n[cls] : "unknown";
}

static inline const char *d2ev_oem_command_outcome_name(uint32_t c)
{
    static const char *const n[] = { "none", "sent", "confirmed", "already" };
    return c < 4 ? n[c] : "unknown";
}

#endif
