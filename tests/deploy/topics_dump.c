/*
 * topics_dump: prints the d2ev topic table (common/topics.c) as JSON lines, one
 * {"name", "compacted", "vehicle_keyed"} per topic, so tests/deploy/run.sh can
 * compare it with the Helm chart's KafkaTopics without parsing C.
 */
#include <stdio.h>

#include "d2ev/topics.h"

int main(void)
{
    for (size_t i = 0; i < d2ev_topic_spec_count; i++) {
        const struct d2ev_topic_spec *t = &d2ev_topic_specs[i];
        printf("{\"name\": \"%s\", \"compacted\": %s, \"vehicle_keyed\": %s}\n", t->name,
               t->compacted ? "true" : "false", t->vehicle_keyed ? "true" : "false");
    }
    return 0;
}
