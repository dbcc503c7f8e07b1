/*
 * exp_fixture.h: events and exported files for the exporter's tests.
 *
 * The fx_* event builders return the compact JSON text of a valid event
 * (the d2ev_test_events samples with the fields a test cares about), with
 * envelope ts = `ts`; the caller frees it. They move the manual clock to ts.
 *
 * fx_read_rows() reads every row of every data file under an export
 * directory, so tests can check exactly-once: it returns a JSON array of the
 * rows (parsed) and fails the test on any unreadable line.
 */
#ifndef D2EV_EXP_FIXTURE_H
#define D2EV_EXP_FIXTURE_H

#include <jansson.h>
#include <stdint.h>

#include "batch.h"
#include "d2ev_test.h"
#include "writer.h"
#include "d2ev/events.h"

#define FX_HOUR 3600000LL
#define FX_DAY  86400000LL

char *fx_telemetry(const char *vehicle_id, const char *oem, int64_t ts);
char *fx_dispatch(const char *vehicle_id, const char *command_id, enum d2ev_dispatch_result result,
                  const char *error_class, int64_t ts);
char *fx_session(const char *vehicle_id, const char *session_id, enum d2ev_session_event event,
                 enum d2ev_anomaly anomaly, double energy_kwh, double cost, double carbon_g,
                 int64_t ts);
/* One window [start, start + hours) of energy_kwh. */
char *fx_schedule(const char *vehicle_id, int64_t version, enum d2ev_schedule_status status,
                  int64_t ts, int64_t ready_by, int64_t window_start, double hours,
                  double energy_kwh, double expected_cost, double baseline_cost,
                  double expected_carbon, double baseline_carbon);

/* Add the event text as a row of (topic, partition) at offset to the batch
 * (its day and statistics from the event). Fails the test on error. */
void fx_add(struct exp_batch *b, int topic, int32_t partition, int64_t offset, const char *text);

/* Write every chunk of the batch (day by day) under root, prune, and return
 * the totals. Fails the test on error. */
struct exp_write_result fx_flush(struct exp_batch *b, const char *root);

/* Every row in every data file under root (recursively). */
json_t *fx_read_rows(const char *root);

/* Paths of the data files under root, as a JSON array of strings. */
json_t *fx_data_files(const char *root);

#endif

/* ------------------------------------------------------------ integration */

/* A d2ev-exporter process. */
struct fx_exporter {
    struct d2ev_test_proc proc;
    int port;
    char argbuf[24][256];
    const char *argv[25];
};

/* Start d2ev-exporter on bootstrap writing under root, with extra flags
 * (NULL-terminated, may be NULL), and wait until /readyz says it has its
 * partitions. Output goes to <tmp>/<name>.log. */
void fx_exporter_start(struct fx_exporter *e, const char *tmp, const char *name,
                       const char *bootstrap, const char *root, const char *const *extra);

/* The value of an unlabelled metric on the exporter's /metrics, or NAN. */
double fx_metric(const struct fx_exporter *e, const char *name);

/* Produce n records (values[i] NULL = tombstone; lens may be NULL for text)
 * and wait for delivery. */
void fx_produce(const char *bootstrap, const char *topic, const char *const *keys,
                const char *const *values, const size_t *lens, size_t n);

/* The committed offsets of group on each of nparts partitions of topic
 * (-1 when none). */
void fx_committed(const char *bootstrap, const char *group, const char *topic, int64_t *out,
                  int nparts);
