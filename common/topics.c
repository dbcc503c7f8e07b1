/* topics.c: the table of d2ev topics (see d2ev/topics.h). */
#include "d2ev/topics.h"

#include <string.h>

const struct d2ev_topic_spec d2ev_topic_specs[] = {
    { D2EV_TOPIC_REG_REQUESTS, "vehicle_id", false, true,
      "register, preference change and deregister requests from the bridge and ops API" },
    { D2EV_TOPIC_REG_RESULTS, "vehicle_id", false, true,
      "outcome of each registration request (accepted or rejected with reason)" },
    { D2EV_TOPIC_VEHICLES, "vehicle_id", true, true,
      "vehicle record and driver preferences; tombstone on deregistration" },
    { D2EV_TOPIC_CREDENTIALS, "vehicle_id", true, true,
      "OEM tokens sealed with AES-256-GCM; tombstone on deregistration" },
    { D2EV_TOPIC_TELEMETRY, "vehicle_id", false, true, "normalised state-of-charge samples" },
    { D2EV_TOPIC_SESSIONS, "vehicle_id", false, true,
      "plug-in, unplug, full and anomaly events with per-session energy, cost and carbon" },
    { D2EV_TOPIC_FORECASTS, "region:kind", false, false,
      "price and carbon forecasts per region (read in full by every scheduler)" },
    { D2EV_TOPIC_CAPACITY, "site_id", true, false, "per-slot power limits of a site or feeder" },
    { D2EV_TOPIC_SCHEDULES, "vehicle_id", true, true,
      "the current charging schedule of each vehicle, versioned" },
    { D2EV_TOPIC_DISPATCH, "vehicle_id", false, true,
      "every start/stop command and its verified outcome, and alerts" },
    { D2EV_TOPIC_NOTIFICATIONS, "vehicle_id", false, true,
      "messages for the driver's app (estimated start, alerts)" },
    { D2EV_TOPIC_CONTROL, "vehicle_id", false, true, "operator requests such as re-plan" },
    { D2EV_TOPIC_DEADLETTER, "source key", false, false,
      "rejected input with the reason, source topic, partition and offset" },
};

const size_t d2ev_topic_spec_count = sizeof(d2ev_topic_specs) / sizeof(d2ev_topic_specs[0]);

const struct d2ev_topic_spec *d2ev_topic_find(const char *name)
{
    for (size_t i = 0; i < d2ev_topic_spec_count; i++) {
        if (strcmp(d2ev_topic_specs[i].name, name) == 0)
            return &d2ev_topic_specs[i];
    }
    return NULL;
}
