/* d2ev_test.c: process, HTTP and Kafka helpers for integration tests. */
#include "d2ev_test.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "d2ev/clock.h"
#include "d2ev/httpc.h"
#include "d2ev/proc.h"

const char *d2ev_test_tmpdir(const char *tag)
{
    static char path[512];
    const char *base = getenv("TMPDIR");
    snprintf(path, sizeof(path), "%s/d2ev-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(path))
        fail_msg("mkdtemp %s: %s", path, strerror(errno));
    return path;
}

const char *d2ev_test_bin(const char *name)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", D2EV_BIN_DIR, name);
    return path;
}

void d2ev_test_spawn(struct d2ev_test_proc *p, const char *tmpdir, const char *name,
                     const char *bin, const char *const *argv, const char *const *env)
{
    char log[600];
    snprintf(log, sizeof(log), "%s/%s.log", tmpdir, name);
    struct d2ev_err err = { 0 };
    if (d2ev_proc_spawn(p, name, bin, argv, env, log, &err) != D2EV_OK)
        fail_msg("%s", err.msg);
}

bool d2ev_test_alive(struct d2ev_test_proc *p)
{
    return d2ev_proc_alive(p);
}

int d2ev_test_stop(struct d2ev_test_proc *p, int sig, int timeout_ms)
{
    return d2ev_proc_stop(p, sig, timeout_ms);
}

bool d2ev_test_wait(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    int64_t deadline = d2ev_clock_mono_ms() + timeout_ms;
    for (;;) {
        if (cond(arg))
            return true;
        if (d2ev_clock_mono_ms() > deadline)
            return false;
        struct timespec ts = { 0, 20 * 1000000 };
        nanosleep(&ts, NULL);
    }
}

const char *d2ev_test_wait_file(const char *path, int timeout_ms)
{
    static char line[1024];
    int64_t deadline = d2ev_clock_mono_ms() + timeout_ms;
    while (d2ev_clock_mono_ms() <= deadline) {
        FILE *f = fopen(path, "r");
        if (f) {
            bool ok = fgets(line, sizeof(line), f) != NULL;
            fclose(f);
            if (ok && strchr(line, '\n')) {
                line[strcspn(line, "\r\n")] = '\0';
                return line;
            }
        }
        struct timespec ts = { 0, 20 * 1000000 };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

long d2ev_test_http(const char *method, const char *url, const char *const *headers,
                    const char *req_body, size_t req_len, char **body)
{
    return d2ev_httpc_request(method, url, headers, req_body, req_len, 10000, body, NULL);
}

bool d2ev_test_wait_http(const char *url, long want, int timeout_ms)
{
    int64_t deadline = d2ev_clock_mono_ms() + timeout_ms;
    while (d2ev_clock_mono_ms() <= deadline) {
        if (d2ev_test_http("GET", url, NULL, NULL, 0, NULL) == want)
            return true;
        struct timespec ts = { 0, 50 * 1000000 };
        nanosleep(&ts, NULL);
    }
    return false;
}

int d2ev_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        fail_msg("cannot find a free port: %s", strerror(errno));
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}

void d2ev_test_broker_start(struct d2ev_test_broker *b, const char *tmpdir, int partitions)
{
    memset(b, 0, sizeof(*b));
    char addr_file[600], parts[32], port[32];
    snprintf(addr_file, sizeof(addr_file), "%s/bootstrap.txt", tmpdir);
    snprintf(parts, sizeof(parts), "--partitions=%d", partitions);
    b->control_port = d2ev_test_free_port();
    snprintf(port, sizeof(port), "--admin-port=%d", b->control_port);
    char file_arg[640];
    snprintf(file_arg, sizeof(file_arg), "--address-file=%s", addr_file);
    const char *argv[] = { parts, port, file_arg, NULL };
    d2ev_test_spawn(&b->proc, tmpdir, "devbroker", d2ev_test_bin("d2ev-devbroker"), argv, NULL);
    const char *line = d2ev_test_wait_file(addr_file, 15000);
    if (!line)
        fail_msg("devbroker did not write %s (see %s)", addr_file, b->proc.log_path);
    snprintf(b->bootstrap, sizeof(b->bootstrap), "%s", line);
}

void d2ev_test_broker_stop(struct d2ev_test_broker *b)
{
    d2ev_test_stop(&b->proc, SIGTERM, 10000);
}

static rd_kafka_conf_t *client_conf(const char *bootstrap)
{
    char errstr[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(c, "log_level", "3", errstr, sizeof(errstr)))
        fail_msg("kafka conf: %s", errstr);
    return c;
}

json_t *d2ev_test_read_topic(const char *bootstrap, const char *topic, size_t min_count,
                             int timeout_ms)
{
    int64_t deadline = d2ev_clock_mono_ms() + timeout_ms;
    for (;;) {
        char errstr[256];
        rd_kafka_conf_t *c = client_conf(bootstrap);
        char gid[64];
        snprintf(gid, sizeof(gid), "d2ev-test-reader-%d-%lld", (int)getpid(),
                 (long long)d2ev_clock_mono_ms());
        rd_kafka_conf_set(c, "enable.partition.eof", "true", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "group.id", gid, errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "enable.auto.commit", "false", errstr, sizeof(errstr));
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr));
        if (!rk)
            fail_msg("consumer: %s", errstr);
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) || md->topic_cnt != 1)
            fail_msg("metadata for %s failed", topic);
        int nparts = md->topics[0].partition_cnt;
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(nparts);
        for (int i = 0; i < nparts; i++)
            rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)
                ->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        rd_kafka_poll_set_consumer(rk);
        rd_kafka_assign(rk, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        json_t *out = json_array();
        int eofs = 0;
        int64_t read_deadline = d2ev_clock_mono_ms() + 10000;
        while (eofs < nparts && d2ev_clock_mono_ms() < read_deadline) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
            if (!m)
                continue;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                eofs++;
            } else if (!m->err) {
                json_t *val = m->payload ? json_loadb(m->payload, m->len, 0, NULL) : NULL;
                json_t *row = json_pack(
                    "{s:s#, s:i, s:I, s:o, s:s#}", "key", m->key ? (const char *)m->key : "",
                    (int)m->key_len, "partition", (int)m->partition, "offset",
                    (json_int_t)m->offset, "value", val ? val : json_null(), "raw",
                    m->payload ? (const char *)m->payload : "", (int)(m->payload ? m->len : 0));
                if (row)
                    json_array_append_new(out, row);
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        if (json_array_size(out) >= min_count || d2ev_clock_mono_ms() > deadline)
            return out;
        json_decref(out);
        struct timespec ts = { 0, 100 * 1000000 };
        nanosleep(&ts, NULL);
    }
}

void d2ev_test_produce(const char *bootstrap, const char *topic, const char *key, const char *value)
{
    char errstr[256];
    rd_kafka_conf_t *c = client_conf(bootstrap);
    rd_kafka_conf_set(c, "partitioner", "murmur2_random", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
    if (!rk)
        fail_msg("producer: %s", errstr);
    rd_kafka_resp_err_t e =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                          RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e)
        fail_msg("produce to %s: %s", topic, rd_kafka_err2str(e));
    if (rd_kafka_flush(rk, 10000))
        fail_msg("produce to %s: not delivered", topic);
    rd_kafka_destroy(rk);
}

int64_t d2ev_test_committed(const char *bootstrap, const char *group, const char *topic)
{
    char errstr[256];
    rd_kafka_conf_t *c = client_conf(bootstrap);
    rd_kafka_conf_set(c, "group.id", group, errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr));
    if (!rk)
        fail_msg("consumer: %s", errstr);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) || md->topic_cnt != 1)
        fail_msg("metadata for %s failed", topic);
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if (rd_kafka_committed(rk, parts, 10000))
        fail_msg("cannot read committed offsets of %s", group);
    int64_t sum = 0;
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].offset > 0)
            sum += parts->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
    return sum;
}

size_t d2ev_test_grep_count(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        if (strstr(line, needle))
            n++;
    }
    free(line);
    fclose(f);
    return n;
}
