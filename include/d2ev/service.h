/*
 * The runtime every d2ev binary shares.
 *
 * cmd/<binary>/main.c is one line:
 *     int main(int argc, char **argv) { return d2ev_service_main(&d2ev_scheduler_def, argc, argv);
 * }
 *
 * d2ev_service_main() parses the common settings (Kafka, admin port, log
 * level, scaled clock) and the service's own table, prints --help/--version,
 * starts logging, the clock, signal handling and the admin HTTP server
 * (/healthz, /readyz, /metrics), then calls def->run(). It returns the exit
 * status: 0 after a clean shutdown, 1 on a runtime failure, 64 on a usage or
 * configuration error.
 *
 * Ownership: the struct d2ev_service and the config struct passed to run()
 * belong to the runtime and live until run() returns.
 */
#ifndef D2EV_SERVICE_H
#define D2EV_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d2ev/config.h"
#include "d2ev/http.h"
#include "d2ev/kafka.h"

#define D2EV_EXIT_OK      0
#define D2EV_EXIT_FAILURE 1
#define D2EV_EXIT_USAGE   64

struct d2ev_service;

/* A further settings table of a service, filling a struct embedded in the
 * service's config struct at `offset` (e.g. struct d2ev_oem_paths). */
struct d2ev_service_section {
    const char *title;                   /* NULL ends a list */
    const struct d2ev_cfg_entry *entries;
    size_t offset;                       /* offsetof() the embedded struct */
};

struct d2ev_service_def {
    const char *name;    /* "scheduler": binary d2ev-scheduler, group d2ev-scheduler */
    const char *summary; /* for --help */
    int default_admin_port;
    bool needs_kafka;                    /* false for tools that run without a broker */
    const char *config_title;            /* e.g. "Scheduler" */
    const struct d2ev_cfg_entry *config; /* own settings (ends with D2EV_CFG_END); may be NULL */
    size_t config_size;                  /* sizeof the struct the table fills */
    const struct d2ev_service_section *sections; /* more tables; NULL or title-NULL ended */
    int (*run)(struct d2ev_service *svc, void *config); /* returns an exit status */
};

int d2ev_service_main(const struct d2ev_service_def *def, int argc, char **argv);

/* The common settings every service has (filled before run()). */
struct d2ev_common_config {
    const char *kafka_brokers;
    const char *kafka_security_protocol;
    const char *kafka_sasl_mechanism;
    const char *kafka_sasl_username;
    const char *kafka_sasl_password;
    const char *kafka_ssl_ca_location;
    const char *kafka_extra;
    const char *kafka_group;
    int64_t admin_port;
    const char *admin_bind;
    const char *log_level;
    const char *clock_speed;
    const char *clock_origin;
    const char *clock_start;
    const char *instance_id;
    int64_t shutdown_timeout_ms;
};

/* The common settings table (for docs generation and tests). */
extern const struct d2ev_cfg_entry d2ev_common_config_table[];

const struct d2ev_common_config *d2ev_service_common(const struct d2ev_service *svc);
const struct d2ev_kafka_conf *d2ev_service_kafka(const struct d2ev_service *svc);
const char *d2ev_service_name(const struct d2ev_service *svc);
/* Consumer group id: D2EV_KAFKA_GROUP, or "d2ev-<name>". */
const char *d2ev_service_group(const struct d2ev_service *svc);
/* Instance id: D2EV_INSTANCE_ID, or the host name (the pod name). */
const char *d2ev_service_instance(const struct d2ev_service *svc);
int d2ev_service_admin_port(const struct d2ev_service *svc);

/* False once a stop was requested (SIGTERM/SIGINT). */
bool d2ev_service_running(const struct d2ev_service *svc);

/* Readiness shown by /readyz; reason is copied (shown when not ready). */
void d2ev_service_set_ready(struct d2ev_service *svc, bool ready, const char *reason);

/* Liveness: call at least every 30 s from the main loop; /healthz fails
 * after 60 s without one. */
void d2ev_service_heartbeat(struct d2ev_service *svc);

/* Serve extra routes on the admin port: requests whose path starts with
 * prefix go to handler (called on the admin thread). At most 4. */
int d2ev_service_admin_route(struct d2ev_service *svc, const char *prefix,
                             d2ev_http_handler_fn handler, void *opaque);

/* ------------------------------------------------------------ the loop */

/* Handle one message. Return 0 when it is processed (including when it was
 * dead-lettered); a negative code stops the service with an error, leaving
 * the batch uncommitted so it is re-delivered after restart. */
typedef int (*d2ev_msg_fn)(void *opaque, rd_kafka_message_t *msg);
/* Called once per loop iteration, after each batch (timers, I/O). Return
 * negative to stop with an error. */
typedef int (*d2ev_tick_fn)(void *opaque);

struct d2ev_loop {
    struct d2ev_consumer *consumer; /* required */
    struct d2ev_producer *producer; /* may be NULL if handlers produce nothing */
    d2ev_msg_fn handle;
    d2ev_tick_fn tick; /* may be NULL */
    void *opaque;
    size_t batch_max; /* 0 = 500 */
    int poll_ms;      /* 0 = 100 */
};

/* Run consume -> handle -> flush -> mark done -> commit until stop is
 * requested, keeping heartbeat and readiness (assigned and caught up) up to
 * date. Returns 0 on a requested stop, or the negative code of the failure.
 * Does not close the consumer or producer. */
int d2ev_service_loop(struct d2ev_service *svc, const struct d2ev_loop *loop);

#endif
