/* exp_fixture.c: events and exported files for the exporter's tests. */
#include "exp_fixture.h"

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "d2ev/clock.h"
#include "d2ev/timefmt.h"
#include "d2ev_test_events.h"
#include "layout.h"
#include "row.h"
#include "rowio.h"
#include "writer.h"

static char *dump_at(json_t *j, int64_t ts)
{
    assert_non_null(j);
    char t[D2EV_TIME_STR_MAX];
    json_object_set_new(j, "ts", json_string(d2ev_time_format(ts, t)));
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    assert_non_null(s);
    return s;
}

char *fx_telemetry(const char *vehicle_id, const char *oem, int64_t ts)
{
    struct d2ev_telemetry t;
    d2ev_test_sample_telemetry(&t);
    snprintf(t.vehicle_id, sizeof(t.vehicle_id), "%s", vehicle_id);
    snprintf(t.oem, sizeof(t.oem), "%s", oem);
    t.observed_at = ts;
    t.reported_at = ts - 1000;
    return dump_at(d2ev_telemetry_encode(&t), ts);
}

char *fx_dispatch(const char *vehicle_id, const char *command_id, enum d2ev_dispatch_result result,
                  const char *error_class, int64_t ts)
{
    struct d2ev_dispatch d;
    d2ev_test_sample_dispatch(&d);
    snprintf(d.vehicle_id, sizeof(d.vehicle_id), "%s", vehicle_id);
    snprintf(d.command_id, sizeof(d.command_id), "%s", command_id);
    d.result = result;
    snprintf(d.error_class, sizeof(d.error_class), "%s", error_class ? error_class : "");
    d.at = ts;
    return dump_at(d2ev_dispatch_encode(&d), ts);
}

char *fx_session(const char *vehicle_id, const char *session_id, enum d2ev_session_event event,
                 enum d2ev_anomaly anomaly, double energy_kwh, double cost, double carbon_g,
                 int64_t ts)
{
    struct d2ev_session s;
    d2ev_test_sample_session(&s);
    snprintf(s.vehicle_id, sizeof(s.vehicle_id), "%s", vehicle_id);
    snprintf(s.session_id, sizeof(s.session_id), "%s", session_id);
    s.event = event;
    s.anomaly = anomaly;
    s.started_at = ts - FX_HOUR;
    s.at = ts;
    s.ended_at = event == D2EV_SESSION_UNPLUG ? ts : 0;
    s.energy_kwh = energy_kwh;
    s.cost = cost;
    s.carbon_g = carbon_g;
    return dump_at(d2ev_session_encode(&s), ts);
}

char *fx_schedule(const char *vehicle_id, int64_t version, enum d2ev_schedule_status status,
                  int64_t ts, int64_t ready_by, int64_t window_start, double hours,
                  double energy_kwh, double expected_cost, double baseline_cost,
                  double expected_carbon, double baseline_carbon)
{
    struct d2ev_schedule s;
    d2ev_test_sample_schedule(&s);
    snprintf(s.vehicle_id, sizeof(s.vehicle_id), "%s", vehicle_id);
    s.version = version;
    s.status = status;
    s.created_at = ts;
    s.ready_by = ready_by;
    s.nwindows = energy_kwh > 0 ? 1 : 0;
    s.windows[0] =
        (struct d2ev_window){ window_start, window_start + (int64_t)(hours * (double)FX_HOUR),
                              energy_kwh };
    s.expected_cost = expected_cost;
    s.baseline_cost = baseline_cost;
    s.expected_carbon_g = expected_carbon;
    s.baseline_carbon_g = baseline_carbon;
    char *text = dump_at(d2ev_schedule_encode(&s), ts);
    d2ev_schedule_clear(&s);
    return text;
}

void fx_add(struct exp_batch *b, int topic, int32_t partition, int64_t offset, const char *text)
{
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    assert_non_null(o);
    int64_t ts = 0;
    assert_int_equal(d2ev_time_parse(json_string_value(json_object_get(o, "ts")), &ts, NULL), 0);
    struct d2ev_strbuf line = D2EV_STRBUF_INIT;
    assert_int_equal(
        exp_row_event(&line, exp_topic_names[topic], partition, offset, text, strlen(text), NULL),
        0);
    struct exp_part *p = exp_batch_part(b, topic, partition);
    assert_non_null(p);
    p->assigned = true;
    assert_int_equal(exp_batch_add(b, p, offset, exp_day_of(ts), ts,
                                   json_string_value(json_object_get(o, "type")),
                                   json_string_value(json_object_get(o, "vehicle_id")), ts,
                                   line.buf, line.len),
                     0);
    p->seen_next = offset + 1;
    d2ev_strbuf_free(&line);
    json_decref(o);
}

struct exp_write_result fx_flush(struct exp_batch *b, const char *root)
{
    struct exp_write_result res;
    memset(&res, 0, sizeof(res));
    struct d2ev_err err = { 0 };
    if (exp_write_batch(root, 6, b, &res, NULL, 0, NULL, &err) != 0)
        fail_msg("write: %s", err.msg);
    return res;
}

static void walk(const char *dir, json_t *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[EXP_PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        struct exp_file_id id;
        if (S_ISDIR(st.st_mode))
            walk(path, out);
        else if (exp_file_parse(e->d_name, &id))
            json_array_append_new(out, json_string(path));
    }
    closedir(d);
}

json_t *fx_data_files(const char *root)
{
    json_t *out = json_array();
    walk(root, out);
    return out;
}

static int collect(void *arg, const char *line, size_t len)
{
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o))
        fail_msg("unreadable row: %.*s (%s)", (int)(len > 200 ? 200 : len), line, je.text);
    json_array_append_new(arg, o);
    return 0;
}

json_t *fx_read_rows(const char *root)
{
    json_t *files = fx_data_files(root), *rows = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        struct d2ev_err err = { 0 };
        if (exp_rows_read(json_string_value(f), collect, rows, NULL, &err) != 0)
            fail_msg("read %s: %s", json_string_value(f), err.msg);
    }
    json_decref(files);
    return rows;
}

/* ------------------------------------------------------------ integration */

void fx_exporter_start(struct fx_exporter *e, const char *tmp, const char *name,
                       const char *bootstrap, const char *root, const char *const *extra)
{
    memset(e, 0, sizeof(*e));
    e->port = d2ev_test_free_port();
    size_t n = 0;
    snprintf(e->argbuf[n++], sizeof(e->argbuf[0]), "--kafka-brokers=%s", bootstrap);
    snprintf(e->argbuf[n++], sizeof(e->argbuf[0]), "--admin-port=%d", e->port);
    snprintf(e->argbuf[n++], sizeof(e->argbuf[0]), "--export-dir=%s", root);
    snprintf(e->argbuf[n++], sizeof(e->argbuf[0]), "--instance-id=%s", name);
    for (const char *const *a = extra; a && *a && n < 24; a++)
        snprintf(e->argbuf[n++], sizeof(e->argbuf[0]), "%s", *a);
    for (size_t i = 0; i < n; i++)
        e->argv[i] = e->argbuf[i];
    e->argv[n] = NULL;
    d2ev_test_spawn(&e->proc, tmp, name, d2ev_test_bin("d2ev-exporter"), e->argv, NULL);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", e->port);
    if (!d2ev_test_wait_http(url, 200, 60000))
        fail_msg("%s not ready (see %s)", name, e->proc.log_path);
}

double fx_metric(const struct fx_exporter *e, const char *name)
{
    char url[128], *body = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", e->port);
    if (d2ev_test_http("GET", url, NULL, NULL, 0, &body) != 200) {
        free(body);
        return NAN;
    }
    double v = NAN;
    size_t len = strlen(name);
    for (char *line = body; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (!strncmp(line, name, len) && line[len] == ' ') {
            v = strtod(line + len + 1, NULL);
            break;
        }
    }
    free(body);
    return v;
}

void fx_produce(const char *bootstrap, const char *topic, const char *const *keys,
                const char *const *values, const size_t *lens, size_t n)
{
    struct d2ev_kafka_conf kc = { .brokers = bootstrap, .client_id = "exp-test" };
    struct d2ev_err err = { 0 };
    struct d2ev_producer *p = d2ev_producer_create(&kc, &err);
    if (!p)
        fail_msg("producer: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
        size_t len = values[i] ? (lens ? lens[i] : strlen(values[i])) : 0;
        if (d2ev_producer_send(p, topic, keys[i], values[i], len, &err) != 0)
            fail_msg("produce to %s: %s", topic, err.msg);
    }
    if (d2ev_producer_flush(p, 30000, &err) != 0)
        fail_msg("produce to %s: %s", topic, err.msg);
    d2ev_producer_destroy(p);
}

void fx_committed(const char *bootstrap, const char *group, const char *topic, int64_t *out,
                  int nparts)
{
    char errstr[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, errstr, sizeof(errstr));
    rd_kafka_conf_set(c, "group.id", group, errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr));
    if (!rk)
        fail_msg("consumer: %s", errstr);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(nparts);
    for (int i = 0; i < nparts; i++)
        rd_kafka_topic_partition_list_add(parts, topic, i);
    if (rd_kafka_committed(rk, parts, 10000))
        fail_msg("cannot read committed offsets of %s", group);
    for (int i = 0; i < nparts; i++)
        out[i] = parts->elems[i].offset >= 0 ? parts->elems[i].offset : -1;
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
}
