/*
 * reg_internal.h: the state d2ev-registration's files share (registration.c:
 * the Kafka loop and offsets; reg_fleet.c: the vehicles it owns; reg_tokens.c:
 * credentials, the token source and refreshes; reg_requests.c: the four
 * request actions). Everything runs on the service's one thread.
 */
#ifndef D2EV_REG_INTERNAL_H
#define D2EV_REG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "d2ev/crypto.h"
#include "d2ev/events.h"
#include "d2ev/hmap.h"
#include "d2ev/kafka.h"
#include "d2ev/metrics.h"
#include "d2ev/oem.h"
#include "d2ev/oem_engine.h"
#include "d2ev/service.h"
#include "d2ev/util.h"
#include "reg_outcomes.h"

#define REG_MAX_OEMS     16
#define REG_LINK_KEY_PFX "reg:" /* engine token key of a link in progress */

struct reg_config {
    struct d2ev_oem_paths paths; /* the "OEM adapters" section */
    const char *credentials_keys;
    const char *oems;
    int64_t refresh_margin_s;
    int64_t refresh_dedupe_ms;
    int64_t refresh_retry_ms;
    int64_t refresh_concurrency;
    int64_t tick_ms;
    int64_t max_in_flight;
    int64_t batch_max;
    int64_t op_deadline_ms;
    int64_t outcomes_max;
    bool read_on_register;
    int64_t commit_interval_ms;
    int64_t drain_ms;
};

/* A request message from the moment it is consumed until its offset can be
 * committed. */
struct reg_msg {
    rd_kafka_message_t *msg;
    struct reg_msg *next;  /* in its partition, in offset order */
    struct reg_msg *vnext; /* waiting behind its vehicle's operation */
    struct d2ev_reg_request req;
    bool decoded;
    bool done; /* its outputs are produced (committable after the next flush) */
};

/* One partition of the vehicle-keyed topics. */
struct reg_part {
    bool assigned;
    bool paused;                   /* requests paused until the state is replayed */
    int64_t hi_vehicles, hi_creds; /* high watermarks at assignment: later offsets */
    int64_t hi_results;            /* are this service's own writes */
    struct reg_msg *head, *tail;
};

/* A loaded adapter. */
struct reg_oem {
    char name[D2EV_OEM_MAX + 1];
    struct d2ev_oem *oem;
    bool per_app; /* one client-credentials token for the application */
    /* per-app OEMs: the application's token */
    char *app_access;
    int64_t app_expires_at;  /* d2ev clock */
    uint64_t app_generation; /* bumped by every new app token */
    int64_t app_refreshed_mono;
    int64_t app_retry_at_mono;
    int64_t app_backoff_ms;
    bool app_refreshing;
};

struct reg_op;

/* A vehicle this replica owns (or still has an operation for). */
struct vstate {
    struct d2ev_hnode node;
    char id[D2EV_VEHICLE_ID_MAX + 1];
    int32_t partition;
    bool owned;
    bool has_vehicle;
    struct d2ev_vehicle v;
    bool has_creds;
    struct d2ev_credentials c; /* c.sealed is heap */
    uint64_t app_generation;   /* per-app credentials: the app token they hold */
    bool unpersisted;          /* c changed but is not yet acknowledged by Kafka */
    int64_t refreshed_mono;    /* tokens last obtained (link or refresh) */
    int64_t retry_at_mono;
    int64_t backoff_ms;
    struct reg_op *op; /* the operation in flight, or NULL */
    struct reg_msg *wait_head, *wait_tail;
};

enum reg_op_kind { REG_OP_LINK = 0, REG_OP_REFRESH, REG_OP_APP_REFRESH };

/* An asynchronous OEM operation on behalf of a vehicle (or an application). */
struct reg_op {
    struct reg *R;
    enum reg_op_kind kind;
    struct vstate *vs; /* NULL for a timer's app refresh */
    struct reg_msg *m; /* the request, NULL for timer refreshes */
    struct reg_oem *oem;
    int stage;     /* link: 0 tokens, 1 read */
    bool orphaned; /* its partition was revoked: produce nothing */
    /* link: the tokens obtained so far (secrets, wiped on free) */
    char *access, *refresh;
    int64_t expires_at;
    bool has_battery;
    double battery_kwh;
};

struct reg {
    struct d2ev_service *svc;
    const struct reg_config *cfg;
    struct d2ev_keyring *keys;
    struct d2ev_producer *producer;
    struct d2ev_consumer *consumer;
    struct d2ev_oem_engine *engine;
    struct d2ev_oem_token_source tsrc;
    struct reg_oem oems[REG_MAX_OEMS];
    size_t noems;
    struct d2ev_hmap fleet; /* vstate by vehicle id */
    struct reg_outcomes *outcomes;
    struct reg_part *parts;
    size_t nparts;
    bool live;              /* every assigned state partition is replayed */
    size_t tracked;         /* request messages not yet committed */
    size_t unfinished;      /* of those, the ones whose outputs are not all produced */
    size_t timer_ops;       /* refreshes started by the timer, in flight */
    uint64_t produced;      /* outputs since the last flush */
    int64_t committed_mono; /* last time everything produced was acknowledged */
    int failed;             /* a fatal error: stop without committing */
    int64_t margin_ms;      /* refresh margin on the d2ev clock */
    /* scratch for the token source's get(): valid until the next get() */
    char *scratch_access, *scratch_refresh;
    struct d2ev_metric *m_requests[2], *m_refresh_ok, *m_refresh_failed, *m_dead, *m_vehicles,
        *m_in_flight, *m_suspended;
};

/* ---- registration.c: outputs */
int reg_send_json(struct reg *R, const char *topic, const char *key, json_t *msg_stolen);
int reg_send_tombstone(struct reg *R, const char *topic, const char *key);
/* Answer m's request (records the outcome). reason may be NULL when accepted. */
void reg_answer(struct reg *R, struct reg_msg *m, bool accepted, const char *code, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));
/* m's outputs are all produced: its offset may be committed after the flush. */
void reg_msg_finish(struct reg *R, struct reg_msg *m);
/* The event id of the record `topic` that request_id writes (a name-based
 * UUID), so a request applied once is recognised when it comes again. */
void reg_event_id(const char *request_id, const char *topic, char out[D2EV_UUID_STR_LEN + 1]);

/* ---- reg_fleet.c */
struct vstate *reg_fleet_find(struct reg *R, const char *vehicle_id);
struct vstate *reg_fleet_get(struct reg *R, const char *vehicle_id, int32_t partition);
/* Free vs when it holds nothing any more (no record, no operation, no one waiting). */
void reg_fleet_gc(struct reg *R, struct vstate *vs);
/* Drop what a revoked partition owned (vehicles with an operation in flight
 * stay, unowned, until it ends). */
void reg_fleet_drop_partition(struct reg *R, int32_t partition);
void reg_fleet_destroy(struct reg *R);
struct reg_oem *reg_oem_find(struct reg *R, const char *name);
/* Queue m behind vs's operation, or start it now. */
void reg_fleet_submit(struct reg *R, struct vstate *vs, struct reg_msg *m);
/* vs's operation ended: start what waits behind it. */
void reg_fleet_next(struct reg *R, struct vstate *vs);

/* ---- reg_requests.c */
/* Handle m (decoded) now; asynchronous actions leave vs->op set. */
void reg_request_start(struct reg *R, struct vstate *vs, struct reg_msg *m);
/* The link operation's engine callback. */
void reg_link_done(void *arg, const struct d2ev_oem_outcome *out);
void reg_op_free(struct reg_op *op);

/* ---- reg_tokens.c */
void reg_tokens_source(struct reg *R);
/* Seal tokens as vs's credentials and produce them (version + 1). sync: wait
 * until Kafka acknowledged them (a rotated refresh token). Returns 0 or a
 * negative code (the credentials are then marked unpersisted). */
int reg_write_credentials(struct reg *R, struct vstate *vs, const char *oem, const char *access,
                          const char *refresh, int64_t expires_at, bool sync);
/* Start the refresh of vs's tokens for request m (NULL: the timer). */
int reg_refresh_start(struct reg *R, struct vstate *vs, struct reg_msg *m);
/* Periodic work: refreshes that are due, per-app credentials to rewrite,
 * credentials to persist again. */
void reg_tokens_tick(struct reg *R);
/* Mark the vehicle suspended (consent revoked or tokens permanently invalid). */
void reg_suspend(struct reg *R, struct vstate *vs, const char *why);

#endif
