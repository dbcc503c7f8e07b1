/* skeletons.c: a generic consume-validate-dead-letter service for unfinished services. */
#include "skeletons.h"

#include <stdlib.h>
#include <string.h>

#include "d2ev/envelope.h"
#include "d2ev/log.h"
#include "d2ev/metrics.h"
#include "d2ev/topics.h"

struct skeleton {
    struct d2ev_service *svc;
    struct d2ev_producer *producer;
    struct d2ev_metric *m_accepted;
};

static int handle(void *opaque, rd_kafka_message_t *msg)
{
    struct skeleton *s = opaque;
    struct d2ev_envelope env;
    struct d2ev_err err = { 0 };
    json_t *root =
        msg->payload ? d2ev_envelope_parse(msg->payload, msg->len, NULL, &env, &err) : NULL;
    if (root) {
        json_decref(root);
        d2ev_metric_inc(s->m_accepted);
        return D2EV_OK;
    }
    if (!msg->payload)
        return D2EV_OK; /* a tombstone on a compacted topic is valid */
    struct d2ev_err dl;
    int rc = d2ev_deadletter_send(s->producer, d2ev_service_name(s->svc), msg, err.msg, &dl);
    if (rc)
        d2ev_log_error("cannot dead-letter", D2EV_LF_STR("error", dl.msg));
    return rc;
}

static int run_skeleton(struct d2ev_service *svc, const char *const *topics,
                        const char *const *state_topics)
{
    struct d2ev_err err = { 0 };
    struct skeleton s = { .svc = svc };
    s.m_accepted = d2ev_metric_counter("d2ev_messages_accepted_total",
                                       "Input messages with a valid envelope", NULL);
    s.producer = d2ev_producer_create(d2ev_service_kafka(svc), &err);
    if (!s.producer) {
        d2ev_log_error("cannot create producer", D2EV_LF_STR("error", err.msg));
        return D2EV_EXIT_FAILURE;
    }
    struct d2ev_consumer_conf cc = {
        .kafka = d2ev_service_kafka(svc),
        .group_id = d2ev_service_group(svc),
        .topics = topics,
        .state_topics = state_topics,
        .producer = s.producer,
        .instance_id = d2ev_service_instance(svc),
    };
    struct d2ev_consumer *c = d2ev_consumer_create(&cc, &err);
    if (!c) {
        d2ev_log_error("cannot create consumer", D2EV_LF_STR("error", err.msg));
        d2ev_producer_destroy(s.producer);
        return D2EV_EXIT_FAILURE;
    }
    struct d2ev_loop loop = {
        .consumer = c, .producer = s.producer, .handle = handle, .opaque = &s
    };
    int rc = d2ev_service_loop(svc, &loop);
    d2ev_consumer_close(c);
    d2ev_producer_destroy(s.producer);
    return rc == D2EV_OK ? D2EV_EXIT_OK : D2EV_EXIT_FAILURE;
}

#define SKELETON(NAME, PORT, SUMMARY, TOPICS, STATE)                                               \
    static int run_##NAME(struct d2ev_service *svc, void *config)                                  \
    {                                                                                              \
        static const char *const topics[] = TOPICS;                                                \
        static const char *const state[] = STATE;                                                  \
        return run_skeleton(svc, topics, state);                                                   \
    }                                                                                              \
    const struct d2ev_service_def d2ev_##NAME##_def = {                                            \
        .name = #NAME,                                                                             \
        .summary = SUMMARY " (skeleton: validates and dead-letters its input)",                    \
        .default_admin_port = PORT,                                                                \
        .needs_kafka = true,                                                                       \
        .run = run_##NAME,                                                                         \
    };

#define LIST(...)                                                                                  \
    {                                                                                              \
        __VA_ARGS__, NULL                                                                          \
    }

SKELETON(bridge, 9101, "HTTP entry point for the mobile app's backend",
         LIST(D2EV_TOPIC_REG_RESULTS), LIST(NULL))
SKELETON(registration, 9102, "Vehicle records, preferences, credentials and erasure",
         LIST(D2EV_TOPIC_REG_REQUESTS), LIST(NULL))

