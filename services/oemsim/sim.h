/*
 * sim.h: the internals of d2ev-oemsim shared by its files.
 *
 *   sim_fleet.c    the fleet: generation from a seed, ids, lookup, locks
 *   sim_physics.c  battery, plug pattern, sleep and commands of one vehicle
 *   sim_tokens.c   OAuth grants, authorisation codes and self-checking tokens
 *   sim_oauth.c    the token endpoints and bearer-token checks
 *   sim_commands.c commands reaching a car, the ignore faults, the command log
 *   sim_faults.c   latency, 5xx, rate limits (token buckets), ignored commands
 *   sim_actions.c  Enode's asynchronous actions
 *   sim_http.c     the request pipeline shared by the three OEM dialects
 *   sim_smartcar.c, sim_tesla.c, sim_enode.c  the dialects
 *   sim_control.c  the /_sim/ control API
 *   oemsim.c       configuration, the service definition and the server
 *
 * All times are simulated milliseconds from d2ev_clock_now_ms(), except the
 * injected latency, which is real time (it models the network).
 *
 * Locking: a vehicle, its grants, its command log and its rate-limit bucket
 * are guarded by the vehicle's stripe lock (sim_lock/sim_unlock). The action
 * ring has its own mutex, taken after a stripe lock, never before. Fault
 * settings sit behind a rwlock. Counters are atomics.
 */
#ifndef D2EV_OEMSIM_SIM_H
#define D2EV_OEMSIM_SIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/error.h"
#include "d2ev/http.h"
#include "d2ev/metrics.h"
#include "d2ev/resilience.h"

#include "oemsim.h"

enum sim_oem { SIM_SMARTCAR = 0, SIM_TESLA, SIM_ENODE, SIM_OEM_COUNT };

/* "smartcar", "tesla", "enode". */
const char *sim_oem_name(enum sim_oem oem);
/* Parse an OEM name; returns its index or -1. */
int sim_oem_parse(const char *s);

/* ------------------------------------------------------------ vehicles */

enum {
    SIM_F_PLUGGED = 1u << 0, /* a cable is in */
    SIM_F_STOPPED = 1u << 1, /* paused by a STOP command until START or re-plug */
    SIM_F_FORCED = 1u << 2,  /* put to sleep by the control API */
    SIM_F_IGNORE = 1u << 3,  /* accepts commands but does not apply them */
    SIM_F_REVOKED = 1u << 4, /* the driver revoked consent */
    SIM_F_OFFLINE = 1u << 5, /* no connectivity: unreachable */
    SIM_F_MANUAL = 1u << 6,  /* no daily plug pattern: plugs only when told */
    SIM_F_LINKED = 1u << 7,  /* Enode: the user linked the car to the app */
};

enum sim_cmd { SIM_CMD_NONE = 0, SIM_CMD_START, SIM_CMD_STOP, SIM_CMD_WAKE };

/* One simulated vehicle: 96 bytes. Static parameters are drawn from the seed;
 * the dynamic state is exact as of updated_ms and advanced lazily. */
struct sim_vehicle {
    double soc;            /* state of charge 0..1 at updated_ms */
    int64_t updated_ms;    /* physics time of the state */
    int64_t active_ms;     /* last activity; the car sleeps sleep_after later */
    int64_t wake_at_ms;    /* waking up: online from here (0 = not waking) */
    int64_t pending_at_ms; /* when pending_cmd takes effect */
    float capacity_kwh;
    float max_kw;      /* AC charge power: min(on-board charger, wallbox) */
    float session_kwh; /* energy added since plug-in */
    uint32_t wakes;    /* asleep -> awake transitions caused by the API */
    uint32_t action;   /* Enode: ring slot of the last action, or UINT32_MAX */
    uint16_t plug_min; /* usual plug-in time, local minutes after midnight */
    uint16_t unplug_min;
    uint16_t epoch;         /* bumped when consent is revoked: older grants die */
    uint8_t oem;            /* enum sim_oem */
    uint8_t limit;          /* charge limit, % */
    uint8_t plug_pct;       /* chance of plugging in on a given evening, % */
    uint8_t wh_per_km;      /* consumption, Wh/km */
    uint8_t flags;          /* SIM_F_* */
    uint8_t pending_cmd;    /* enum sim_cmd */
    uint8_t id[16];         /* UUID bytes, or the Tesla id (uint64) in id[0..8) */
    struct sim_cmdlog *log; /* NULL until the first command */
};

/* Behaviour settings (sim-time durations in ms). */
struct sim_params {
    int64_t sleep_after_ms;   /* idle time before sleeping; 0 = never */
    int64_t wake_delay_ms;    /* Tesla wake_up -> online */
    int64_t command_delay_ms; /* Smartcar/Tesla command accepted -> applied */
    int64_t action_delay_ms;  /* Enode action created -> applied and CONFIRMED */
    int64_t utc_offset_ms;    /* local time of the plug pattern = UTC + this */
    bool plug_schedule;       /* daily plug pattern on */
    uint64_t seed;
};

/* What a read sees: the state of a vehicle at `now`, after advancing it. */
enum sim_charge_state {
    SIM_DISCONNECTED = 0,
    SIM_CHARGING,
    SIM_STOPPED,  /* plugged in, below the limit, not charging */
    SIM_COMPLETE, /* plugged in, at the limit */
};

struct sim_snapshot {
    int64_t now;
    double soc;   /* 0..1 */
    double limit; /* 0..1 */
    enum sim_charge_state state;
    bool plugged;
    bool asleep; /* includes "waking up" */
    bool waking;
    bool offline;
    double power_kw; /* charging power now (0 unless charging) */
    double capacity_kwh;
    double max_kw;
    double session_kwh;
    double range_km;
    double minutes_to_limit; /* 0 unless charging */
    int64_t asleep_since_ms; /* when it fell asleep (if asleep) */
    uint32_t wakes;
    uint8_t flags;
};

/* Advance v to now (plug events, pending command, charging), exactly. */
void sim_vehicle_advance(struct sim_vehicle *v, const struct sim_params *p, uint32_t idx,
                         int64_t now);
/* Advance, then describe the state at now. */
void sim_vehicle_snapshot(struct sim_vehicle *v, const struct sim_params *p, uint32_t idx,
                          int64_t now, struct sim_snapshot *out);
/* True when the car is asleep (or still waking) at now; v must be advanced. */
bool sim_vehicle_asleep(const struct sim_vehicle *v, const struct sim_params *p, int64_t now);
bool sim_vehicle_charging(const struct sim_vehicle *v);
/* Apply START or STOP now (v advanced to now). Counts as activity. */
void sim_vehicle_apply(struct sim_vehicle *v, enum sim_cmd cmd, int64_t now);
/* Apply cmd at time at (>= now; at <= now applies it at once), replacing
 * any command still pending. Counts as activity now. */
void sim_vehicle_schedule(struct sim_vehicle *v, enum sim_cmd cmd, int64_t at, int64_t now);
/* Wake the car. delay_ms = 0 wakes at once. Returns true when it was asleep
 * (a counted wake). Counts as activity. */
bool sim_vehicle_wake(struct sim_vehicle *v, const struct sim_params *p, int64_t now,
                      int64_t delay_ms);
/* Plug in or unplug by hand (control API), now. */
void sim_vehicle_set_plugged(struct sim_vehicle *v, bool plugged, int64_t now);
/* Charging power (kW) at soc while charging: full power to 80 %, then a linear
 * taper to 20 % of full power at 100 %. */
double sim_charge_power_kw(double max_kw, double soc);
/* SoC after charging for dt_ms from soc0, capped at limit. */
double sim_charge_soc_after(double cap_kwh, double max_kw, double soc0, double limit,
                            int64_t dt_ms);
/* Time (ms, rounded up) to charge from soc0 to soc1 (>= soc0). */
int64_t sim_charge_time_ms(double cap_kwh, double max_kw, double soc0, double soc1);
/* The first scheduled plug event strictly after t: *plug says whether it
 * is a plug-in (true) or an unplug. Returns its time. */
int64_t sim_next_plug_event(const struct sim_vehicle *v, const struct sim_params *p, uint32_t idx,
                            int64_t t, bool *plug);
/* Whether the daily pattern has the car plugged in at t. */
bool sim_pattern_plugged(const struct sim_vehicle *v, const struct sim_params *p, uint32_t idx,
                         int64_t t);
/* Energy (kWh) driven on local day `day` (taken off at that evening's plug-in). */
double sim_day_drive_kwh(const struct sim_vehicle *v, const struct sim_params *p, uint32_t idx,
                         int64_t day);

/* ------------------------------------------------------------ command log */

enum sim_result { SIM_RES_APPLIED = 0, SIM_RES_IGNORED, SIM_RES_NOOP, SIM_RES_FAILED };

/* Why a command had the result it had. */
enum sim_reason {
    SIM_WHY_NONE = 0,
    SIM_WHY_IS_CHARGING,
    SIM_WHY_COMPLETE,
    SIM_WHY_NOT_CHARGING,
    SIM_WHY_DISCONNECTED,
    SIM_WHY_UNREACHABLE,
    SIM_WHY_IGNORE_FLAG, /* the vehicle's ignore_commands is set */
    SIM_WHY_IGNORE_RATE, /* the ignore-rate fault drew it */
    SIM_WHY_ALREADY_AWAKE,
    SIM_WHY_ACTION_FAIL, /* the action-fail-rate fault drew it */
    SIM_WHY_SUPERSEDED,  /* a newer command replaced it before it applied */
};

#define SIM_CMDLOG_SIZE 16

struct sim_cmdlog_entry {
    int64_t at_ms;
    uint8_t oem, cmd, result, reason;
};

struct sim_cmdlog {
    uint32_t total; /* entries ever written; the last SIM_CMDLOG_SIZE are kept */
    struct sim_cmdlog_entry e[SIM_CMDLOG_SIZE];
};

const char *sim_cmd_name(enum sim_oem oem, enum sim_cmd cmd);
const char *sim_result_name(enum sim_result r);
const char *sim_reason_name(enum sim_reason r);

/* ------------------------------------------------------------ fleet */

#define SIM_LOCK_STRIPES 1024

struct sim_fleet {
    uint32_t n;
    struct sim_vehicle *v;
    uint32_t *table; /* open addressing: index + 1, 0 = empty */
    uint32_t table_mask;
    pthread_mutex_t locks[SIM_LOCK_STRIPES];
};

/* OEM mix weights parsed from "smartcar=40,tesla=30,enode=30". */
int sim_parse_mix(const char *text, double weights[SIM_OEM_COUNT], struct d2ev_err *err);

/* Generate n vehicles from the seed, as of now. Deterministic: the same seed
 * and mix give the same vehicles, ids and parameters. */
int sim_fleet_init(struct sim_fleet *f, const struct sim_params *p, uint32_t n,
                   const double weights[SIM_OEM_COUNT], int64_t now, struct d2ev_err *err);
void sim_fleet_free(struct sim_fleet *f);
/* Bytes the fleet holds (vehicles, lookup table, command logs). */
size_t sim_fleet_bytes(struct sim_fleet *f);

/* Find a vehicle by its OEM id text; returns its index or -1. */
int64_t sim_fleet_find(const struct sim_fleet *f, enum sim_oem oem, const char *id);
/* Find by any OEM's id format (control API). */
int64_t sim_fleet_find_any(const struct sim_fleet *f, const char *id);
/* The OEM id of vehicle idx as text (UUID or decimal) into out[40]. */
void sim_vehicle_id_text(const struct sim_vehicle *v, char out[40]);
/* Tesla VIN of vehicle idx into out[18]. */
void sim_vehicle_vin(const struct sim_params *p, uint32_t idx, char out[18]);
/* Enode user id and vendor of vehicle idx. */
void sim_vehicle_user_id(const struct sim_params *p, uint32_t idx, char out[37]);
const char *sim_vehicle_vendor(const struct sim_params *p, uint32_t idx);

void sim_lock(struct sim_fleet *f, uint32_t idx);
void sim_unlock(struct sim_fleet *f, uint32_t idx);

/* Parse 32 hex digits of a UUID (dashes in the canonical places) into 16
 * bytes. Returns false when malformed. */
/* Value of a hex digit (either case), or -1. */
int sim_hexval(char c);
bool sim_uuid_parse(const char *s, uint8_t out[16]);

/* Deterministic hash of the seed, a vehicle, and a salt (e.g. a day). */
uint64_t sim_hash(uint64_t seed, uint64_t a, uint64_t b);

/* Whether vehicle idx is in the share (0..1) picked by seed and salt. */
bool sim_share_picks(uint64_t seed, uint32_t idx, uint64_t salt, double share);

/* ------------------------------------------------------------ tokens */

enum sim_tok_kind { SIM_TOK_ACCESS = 1, SIM_TOK_REFRESH, SIM_TOK_CODE, SIM_TOK_APP, SIM_TOK_ID };

/* The claims carried (and MAC-protected) by every token and code. */
struct sim_tok {
    uint8_t kind; /* enum sim_tok_kind */
    uint8_t oem;
    uint32_t slot; /* grant slot */
    uint32_t gen;  /* refresh generation */
    int64_t issued_ms;
};

#define SIM_TOKEN_LEN 68 /* hex characters */

enum sim_grant_state { SIM_GRANT_FREE = 0, SIM_GRANT_CODE, SIM_GRANT_ACTIVE };

/* A link between the app and one vehicle: made by an authorisation code,
 * activated by exchanging it. Guarded by the vehicle's stripe lock. */
struct sim_grant {
    uint32_t vehicle;
    uint32_t refresh_gen; /* the only refresh generation that still works */
    uint64_t redirect_hash;
    int64_t code_ms; /* when the code was issued */
    uint16_t epoch;  /* the vehicle's consent epoch when granted */
    uint8_t state;   /* enum sim_grant_state */
};

#define SIM_GRANT_CHUNK  4096
#define SIM_GRANT_CHUNKS 1024 /* up to 4 M grants */

struct sim_tokens {
    unsigned char key[32];
    _Atomic uint32_t ngrants;
    pthread_mutex_t grow_lock;
    _Atomic(struct sim_grant *) chunks[SIM_GRANT_CHUNKS];
};

int sim_tokens_init(struct sim_tokens *t, struct d2ev_err *err);
void sim_tokens_free(struct sim_tokens *t);
/* Token text (SIM_TOKEN_LEN hex + NUL) for the claims. */
void sim_token_format(const struct sim_tokens *t, const struct sim_tok *tok, char out[72]);
/* Parse and check the MAC. Returns false for anything not minted here. */
bool sim_token_parse(const struct sim_tokens *t, const char *s, size_t len, struct sim_tok *tok);
/* Reserve a new grant slot; returns the slot or -1 when full. */
int64_t sim_grant_new(struct sim_tokens *t);
/* The grant at slot, or NULL when never allocated. */
struct sim_grant *sim_grant_get(struct sim_tokens *t, uint32_t slot);
uint64_t sim_hash_str(const char *s);

/* ------------------------------------------------------------ faults */

struct sim_faults {
    int64_t latency_ms;          /* real ms added to every API response */
    int64_t jitter_ms;           /* plus uniform 0..jitter_ms */
    double error_rate;           /* share of API requests answered with a 5xx */
    double vehicle_rate_per_min; /* per-vehicle token bucket; 0 = off */
    double vehicle_burst;
    double app_rate_per_min; /* per-application (per OEM) bucket; 0 = off */
    double app_burst;
    double ignore_rate;      /* share of commands accepted but not applied */
    double action_fail_rate; /* Enode: share of actions that end FAILED */
};

struct sim_faultset {
    pthread_rwlock_t lock;
    struct sim_faults f[SIM_OEM_COUNT];
    pthread_mutex_t app_lock;
    struct d2ev_token_bucket app[SIM_OEM_COUNT];
    _Atomic(struct d2ev_token_bucket *) vehicle; /* per vehicle, allocated on first use */
    uint32_t nvehicles;
};

int sim_faults_init(struct sim_faultset *fs, const struct sim_faults *initial, uint32_t nvehicles,
                    struct d2ev_err *err);
void sim_faults_free(struct sim_faultset *fs);
/* Copy of the settings for one OEM. */
void sim_faults_get(struct sim_faultset *fs, enum sim_oem oem, struct sim_faults *out);
/* Replace the settings of one OEM (buckets restart full). */
int sim_faults_set(struct sim_faultset *fs, enum sim_oem oem, const struct sim_faults *in,
                   struct d2ev_err *err);
/* Take one token from the application bucket. Returns 0 when allowed, else
 * the Retry-After in seconds (>= 1). */
int64_t sim_faults_take_app(struct sim_faultset *fs, const struct sim_faults *f, enum sim_oem oem,
                            int64_t now);
/* Same for a vehicle's bucket; caller holds the vehicle's stripe lock. */
int64_t sim_faults_take_vehicle(struct sim_faultset *fs, const struct sim_faults *f, uint32_t idx,
                                int64_t now);
/* Validate settings; fills err naming the field. */
int sim_faults_check(const struct sim_faults *f, struct d2ev_err *err);
/* Uniform [0,1) and 64 random bits from a per-thread generator (fault
 * draws, action ids). Not for secrets. */
double sim_rand_unit(void);
uint64_t sim_rand_u64(void);

/* ------------------------------------------------------------ Enode actions */

enum sim_action_state {
    SIM_ACT_PENDING = 0,
    SIM_ACT_CONFIRMED,
    SIM_ACT_FAILED,
    SIM_ACT_CANCELLED,
};

enum sim_failure { SIM_FAIL_NONE = 0, SIM_FAIL_NO_RESPONSE, SIM_FAIL_PRECONDITION };

struct sim_action {
    uint64_t rand; /* first 8 bytes of the id */
    uint64_t seq;  /* 1.. ; slot = seq % capacity */
    int64_t created_ms;
    int64_t resolve_ms;   /* PENDING until then, then outcome */
    int64_t cancelled_ms; /* 0 unless cancelled */
    uint32_t vehicle;
    uint8_t kind;    /* SIM_CMD_START / SIM_CMD_STOP */
    uint8_t outcome; /* SIM_ACT_CONFIRMED or SIM_ACT_FAILED */
    uint8_t failure; /* enum sim_failure */
};

struct sim_actions {
    pthread_mutex_t lock;
    uint32_t cap;
    uint64_t next_seq;
    struct sim_action *ring;
};

int sim_actions_init(struct sim_actions *a, uint32_t cap, struct d2ev_err *err);
void sim_actions_free(struct sim_actions *a);
/* Record a new action; returns its slot. Fills *out with the record. */
uint32_t sim_actions_add(struct sim_actions *a, const struct sim_action *tmpl,
                         struct sim_action *out);
/* Cancel the action at slot if it is still pending at now and belongs to
 * vehicle. Returns true if it was cancelled. */
bool sim_actions_cancel(struct sim_actions *a, uint32_t slot, uint32_t vehicle, int64_t now);
/* Look an action up by its id text. Returns false when unknown. */
bool sim_actions_find(struct sim_actions *a, const char *id, struct sim_action *out);
/* The state of a record at now. */
enum sim_action_state sim_action_state_at(const struct sim_action *r, int64_t now);
void sim_action_id(const struct sim_action *r, char out[37]);

/* ------------------------------------------------------------ counters */

/* A counter that is both read by /_sim/stats (per simulator) and exported
 * to /metrics. */
struct sim_counter {
    _Atomic uint64_t n;
    struct d2ev_metric *m;
};

static inline void sim_count(struct sim_counter *c)
{
    atomic_fetch_add_explicit(&c->n, 1, memory_order_relaxed);
    d2ev_metric_inc(c->m);
}

static inline uint64_t sim_counter_get(struct sim_counter *c)
{
    return atomic_load_explicit(&c->n, memory_order_relaxed);
}

/* Endpoints, per OEM, for request counting. */
enum sim_endpoint {
    SIM_EP_TOKEN = 0,
    SIM_EP_VEHICLES,     /* list */
    SIM_EP_VEHICLE,      /* Tesla GET vehicle, Enode GET vehicle */
    SIM_EP_BATTERY,      /* Smartcar */
    SIM_EP_CAPACITY,     /* Smartcar */
    SIM_EP_CHARGE,       /* Smartcar GET charge */
    SIM_EP_LIMIT,        /* Smartcar */
    SIM_EP_BATCH,        /* Smartcar */
    SIM_EP_VEHICLE_DATA, /* Tesla */
    SIM_EP_WAKE_UP,      /* Tesla */
    SIM_EP_START,        /* Smartcar POST charge, Tesla charge_start, Enode charging */
    SIM_EP_STOP,         /* Tesla charge_stop */
    SIM_EP_ACTION,       /* Enode GET action */
    SIM_EP_UNKNOWN,
    SIM_EP_COUNT
};

const char *sim_endpoint_name(enum sim_oem oem, enum sim_endpoint ep);

struct sim_stats {
    struct sim_counter requests[SIM_OEM_COUNT][SIM_EP_COUNT];
    struct sim_counter rate_limited_app[SIM_OEM_COUNT];
    struct sim_counter rate_limited_vehicle[SIM_OEM_COUNT];
    struct sim_counter server_errors[SIM_OEM_COUNT]; /* injected 5xx */
    struct sim_counter refresh_reuse[SIM_OEM_COUNT];
    struct sim_counter wakes[SIM_OEM_COUNT];
    struct sim_counter asleep_rejections[SIM_OEM_COUNT]; /* 408 / 409 ASLEEP */
    struct sim_counter tokens_issued[SIM_OEM_COUNT];
    struct sim_counter commands[SIM_OEM_COUNT][4]; /* by enum sim_result */
    struct sim_counter control;
};

/* ------------------------------------------------------------ the simulator */

enum { PART_FLEET = 1, PART_TOKENS = 2, PART_FAULTS = 4, PART_ACTIONS = 8 };

struct oemsim {
    struct oemsim_config cfg; /* copied; strings borrowed from the caller */
    unsigned parts;           /* PART_*: what has been initialised */
    struct sim_params params;
    struct sim_fleet fleet;
    struct sim_tokens tokens;
    struct sim_faultset faults;
    struct sim_actions actions;
    struct sim_stats stats;
    struct d2ev_http_server *server;
    int64_t ttl_access_ms[SIM_OEM_COUNT];
    int64_t ttl_refresh_ms[SIM_OEM_COUNT];
    int64_t code_ttl_ms;
};

/* ------------------------------------------------------------ HTTP */

/* One API request on its way through the pipeline. */
struct sim_req {
    struct oemsim *sim;
    const struct d2ev_http_request *http;
    struct d2ev_http_response *resp;
    enum sim_oem oem;
    enum sim_endpoint ep;
    int64_t now;
    struct sim_faults faults;
    const char *vehicle_id; /* the {id} path segment (NUL-terminated copy) */
    int64_t idx;            /* the vehicle's index, -1 when none */
    struct sim_tok token;   /* the bearer token's claims */
};

/* Error classes every dialect renders in its own format. */
enum sim_err {
    SIM_E_BAD_REQUEST = 0,
    SIM_E_UNAUTHORIZED,
    SIM_E_FORBIDDEN, /* consent revoked, or a token for another vehicle */
    SIM_E_NOT_FOUND, /* unknown vehicle or action */
    SIM_E_NO_ROUTE,  /* unknown path */
    SIM_E_ASLEEP,
    SIM_E_UNREACHABLE,
    SIM_E_RATE_VEHICLE,
    SIM_E_RATE_APP,
    SIM_E_SERVER,
};

struct sim_route {
    const char *method;
    const char *pattern; /* "/v2.0/vehicles/{id}/battery"; {id} matches one segment */
    enum sim_endpoint ep;
    bool vehicle; /* {id} is a vehicle: look it up, authorise, rate-limit */
    void (*handle)(struct sim_req *r);
};

struct sim_dialect {
    enum sim_oem oem;
    const char *prefix; /* "/smartcar" */
    const struct sim_route *routes;
    size_t nroutes;
    /* Answer with an error of this class; retry_after_s > 0 adds the header. */
    void (*error)(struct sim_req *r, enum sim_err e, int64_t retry_after_s, const char *detail);
};

extern const struct sim_dialect sim_smartcar_dialect;
extern const struct sim_dialect sim_tesla_dialect;
extern const struct sim_dialect sim_enode_dialect;

/* Match path against pattern; the {id} segment is copied into id (empty
 * when it does not fit). */
bool sim_route_match(const char *pattern, const char *path, char *id, size_t id_size);
/* Run a request through a dialect: route, faults, auth, rate limits, handler. */
void sim_dialect_serve(const struct sim_dialect *d, struct oemsim *sim,
                       const struct d2ev_http_request *req, struct d2ev_http_response *resp);
/* The /_sim/ control API. */
void sim_control_serve(struct oemsim *sim, const struct d2ev_http_request *req,
                       struct d2ev_http_response *resp);

/* Answer with body (stolen), numbers with up to 10 significant digits. */
void sim_reply(struct d2ev_http_response *resp, int status, const char *content_type, json_t *body);
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (ms = true) or "YYYY-MM-DDTHH:MM:SSZ". */
void sim_time_text(int64_t ms, bool with_ms, char out[32]);
/* Round to `digits` decimals. */
double sim_round(double v, int digits);

/* application/x-www-form-urlencoded: the decoded value of key into out.
 * Returns false when absent, malformed, or longer than size-1. */
bool sim_form_get(const char *body, size_t len, const char *key, char *out, size_t size);
/* Add "<header>: <seconds>" when seconds > 0. */
void sim_retry_after(struct d2ev_http_response *resp, const char *header, int64_t seconds);
/* HTTP Basic credentials from the Authorization header. */
bool sim_basic_auth(const struct d2ev_http_request *req, char *id, size_t id_size, char *secret,
                    size_t secret_size);
/* The bearer token of the Authorization header (borrowed), or NULL. */
const char *sim_bearer(const struct d2ev_http_request *req, size_t *len);
/* Constant-time string equality (configured secrets). */
bool sim_secret_equal(const char *a, const char *b);

/* The token endpoint of every dialect (POST {token_url}): client
 * authentication, authorization_code, refresh_token (rotating, single use)
 * and client_credentials, with RFC 6749 errors. */
void sim_token_endpoint(struct sim_req *r);
/* Check the request's bearer token: an access token of this OEM (Enode: an
 * application token) that has not expired. Fills r->token. */
bool sim_authenticate(struct sim_req *r, const char **why);
/* The vehicle the request's access token was granted for, or -1 when the
 * grant is gone (consent revoked). */
int64_t sim_token_vehicle(struct sim_req *r);
/* Mint an authorisation code for vehicle idx (stripe lock held) into
 * code[72]. Returns false when the grant table is full. */
bool sim_authorize(struct oemsim *sim, uint32_t idx, const char *redirect_uri, int64_t now,
                   char code[72]);

/* Lock r's vehicle, advance it to r->now and describe it, unlock. */
void sim_read(struct sim_req *r, struct sim_snapshot *out);
/* Parse a JSON command body {"action": "START"|"STOP"}. Returns the command,
 * or SIM_CMD_NONE with *why set to a message for a 400. */
enum sim_cmd sim_parse_action(const struct sim_req *r, char *why, size_t why_size);

/* Command helpers: log a command on vehicle idx (stripe lock held). */
void sim_log_command(struct oemsim *sim, uint32_t idx, enum sim_oem oem, enum sim_cmd cmd,
                     enum sim_result res, enum sim_reason why, int64_t now);
/* Deliver START/STOP to an awake car: applies it now or after delay_ms, or
 * ignores it; logs. Stripe lock held. */
enum sim_result sim_deliver(struct sim_req *r, struct sim_vehicle *v, enum sim_cmd cmd,
                            int64_t delay_ms);

#endif
