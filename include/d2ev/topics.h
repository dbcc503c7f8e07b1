/*
 * The d2ev topics: names, keys and retention in one table, used by the
 * devbroker (to create them), the Helm chart (Strimzi KafkaTopic) and docs.
 *
 * Every vehicle-keyed topic has the same partition count, so one consumer
 * group member owns the same slice of the fleet on all of its inputs.
 */
#ifndef D2EV_TOPICS_H
#define D2EV_TOPICS_H

#include <stdbool.h>
#include <stddef.h>

#define D2EV_TOPIC_REG_REQUESTS  "d2ev.registration.requests"
#define D2EV_TOPIC_REG_RESULTS   "d2ev.registration.results"
#define D2EV_TOPIC_VEHICLES      "d2ev.vehicles"
#define D2EV_TOPIC_CREDENTIALS   "d2ev.credentials"
#define D2EV_TOPIC_TELEMETRY     "d2ev.telemetry"
#define D2EV_TOPIC_SESSIONS      "d2ev.sessions"
#define D2EV_TOPIC_FORECASTS     "d2ev.forecasts"
#define D2EV_TOPIC_CAPACITY      "d2ev.capacity"
#define D2EV_TOPIC_SCHEDULES     "d2ev.schedules"
#define D2EV_TOPIC_DISPATCH      "d2ev.dispatch"
#define D2EV_TOPIC_NOTIFICATIONS "d2ev.notifications"
#define D2EV_TOPIC_CONTROL       "d2ev.control"
#define D2EV_TOPIC_DEADLETTER    "d2ev.deadletter"

struct d2ev_topic_spec {
    const char *name;
    const char *key;     /* what the message key is */
    bool compacted;      /* cleanup.policy=compact: latest record per key is the state */
    bool vehicle_keyed;  /* co-partitioned with the fleet */
    const char *purpose; /* one line for docs */
};

/* All topics, in a stable order. */
extern const struct d2ev_topic_spec d2ev_topic_specs[];
extern const size_t d2ev_topic_spec_count;

/* Look up a topic by name; NULL if unknown. */
const struct d2ev_topic_spec *d2ev_topic_find(const char *name);

#endif
