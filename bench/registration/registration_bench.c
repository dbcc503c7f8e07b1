/*
 * registration_bench: registrations per second through d2ev-bridge, each
 * counted when its result appears on d2ev.registration.results.
 *
 * It starts d2ev-devbroker, d2ev-oemsim (a fleet of --count cars), one or
 * more d2ev-registration replicas and d2ev-bridge, has the simulator mint an
 * authorisation code for every car (not timed), then POSTs one signed
 * registration per car with --connections requests in flight (libcurl multi,
 * keep-alive) while a Kafka reader watches d2ev.registration.results. Every
 * registration does the full work: HMAC check, validation, sealing and a
 * produce acknowledged by Kafka in the bridge; in d2ev-registration the code
 * exchange (Enode: the app token) and one read of the car at the simulator,
 * sealing, and the credentials, vehicle and result records.
 *
 *   bench_registration [--count 20000] [--connections 128] [--partitions 6]
 *                      [--replicas 1] [--bridge-threads 128] [--sim-threads 4]
 *                      [--oem-in-flight 32] [--oem-mix smartcar=40,tesla=30,enode=30]
 *                      [--no-read]
 *
 * --oem-in-flight is each adapter's max_in_flight in d2ev-registration: a few
 * dozen connections per OEM keep the simulator's poll() loop cheap.
 *
 * Prints the throughput from the first request sent to the last result read,
 * the HTTP acceptance rate, latency percentiles, and the CPU each process used.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "bridge_request.h"
#include "bridge_sign.h"
#include "d2ev/hmap.h"

#define SECRET       "bench-bridge-hmac-secret-0123456789"
#define KEYS         "k1:q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k="
#define MAX_REPLICAS 4

struct opts {
    long count;
    int connections;
    int partitions;
    int replicas;
    int bridge_threads;
    int sim_threads;
    const char *mix;
    bool read;
};

struct car {
    struct d2ev_hnode node; /* by request id */
    char id[64];
    char oem[16];
    char code[128];
    char redirect[160];
    char vid[BRIDGE_VEHICLE_ID_LEN + 1];
    char rid[BRIDGE_REQUEST_ID_LEN + 1];
    char *body;
    double sent, answered, result;
    long status;
    bool accepted;
};

struct proc {
    const char *name;
    pid_t pid;
    double cpu0;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
        getsockname(fd, (struct sockaddr *)&a, &len)) {
        perror("free port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* ------------------------------------------------------------ processes */

static char g_tmp[256];
static int g_oem_in_flight = 32;

static pid_t spawn(const char *name, const char *const *argv, const char *const *env)
{
    char bin[512], log[512];
    snprintf(bin, sizeof(bin), "%s/%s", D2EV_BIN_DIR, name);
    snprintf(log, sizeof(log), "%s/%s-%d.log", g_tmp, name, (int)getpid());
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        for (const char *const *e = env; e && *e; e++)
            putenv((char *)*e);
        const char *args[32] = { bin };
        size_t n = 1;
        for (const char *const *a = argv; a && *a && n < 31; a++)
            args[n++] = *a;
        args[n] = NULL;
        execv(bin, (char *const *)args);
        _exit(127);
    }
    return pid;
}

static double cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
        return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    struct {
        char *buf;
        size_t len;
    } *b = ud;
    if (!b)
        return size * n;
    char *nb = realloc(b->buf, b->len + size * n + 1);
    if (!nb)
        return 0;
    memcpy(nb + b->len, p, size * n);
    b->len += size * n;
    nb[b->len] = '\0';
    b->buf = nb;
    return size * n;
}

static long http(const char *method, const char *url, const char *body, char **out)
{
    CURL *c = curl_easy_init();
    struct {
        char *buf;
        size_t len;
    } b = { 0 };
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    long st = -1;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_cleanup(c);
    if (out)
        *out = b.buf;
    else
        free(b.buf);
    return st;
}

static bool wait_ready(int admin_port, double timeout_s)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", admin_port);
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        if (http("GET", url, NULL, NULL) == 200)
            return true;
        usleep(100000);
    }
    return false;
}

/* ------------------------------------------------------------ HTTP in bulk */

struct xfer {
    struct car *car;
    struct curl_slist *headers;
    struct {
        char *buf;
        size_t len;
    } resp;
};

typedef void (*prep_fn)(CURL *c, struct car *car, struct xfer *x, void *arg);
typedef void (*done_fn)(struct car *car, long status, const char *body, void *arg);

/* Run one request per car with `parallel` in flight. */
static void run_bulk(struct car *cars, size_t n, int parallel, prep_fn prep, done_fn done,
                     void *arg)
{
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)parallel);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)parallel);
    size_t next = 0, running = 0;
    while (next < n || running) {
        while (next < n && running < (size_t)parallel) {
            struct xfer *x = calloc(1, sizeof(*x));
            x->car = &cars[next++];
            CURL *c = curl_easy_init();
            curl_easy_setopt(c, CURLOPT_PRIVATE, x);
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &x->resp);
            curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
            prep(c, x->car, x, arg);
            curl_multi_add_handle(m, c);
            running++;
        }
        int still;
        curl_multi_perform(m, &still);
        curl_multi_poll(m, NULL, 0, 10, NULL);
        CURLMsg *msg;
        int q;
        while ((msg = curl_multi_info_read(m, &q))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *c = msg->easy_handle;
            struct xfer *x;
            long st = -1;
            curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&x);
            if (msg->data.result == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
            done(x->car, st, x->resp.buf ? x->resp.buf : "", arg);
            curl_multi_remove_handle(m, c);
            curl_easy_cleanup(c);
            curl_slist_free_all(x->headers);
            free(x->resp.buf);
            free(x);
            running--;
        }
    }
    curl_multi_cleanup(m);
}

static void prep_authorize(CURL *c, struct car *car, struct xfer *x, void *arg)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/_sim/vehicles/%s/authorize", (const char *)arg, car->id);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
}

static void done_authorize(struct car *car, long status, const char *body, void *arg)
{
    json_t *j = status == 200 ? json_loads(body, 0, NULL) : NULL;
    snprintf(car->code, sizeof(car->code), "%s",
             json_string_value(json_object_get(j, "code")) ?: "");
    snprintf(car->redirect, sizeof(car->redirect), "%s",
             json_string_value(json_object_get(j, "redirect_uri")) ?: "");
    json_decref(j);
}

struct send_ctx {
    int port;
    atomic_long accepted;
};

static void prep_register(CURL *c, struct car *car, struct xfer *x, void *arg)
{
    struct send_ctx *s = arg;
    char url[80], ts[24], hex[BRIDGE_SIG_HEX_LEN + 1], h1[64], h2[96], h3[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/registrations", s->port);
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    bridge_sign(SECRET, strlen(SECRET), ts, "POST", "/v1/registrations", car->body,
                strlen(car->body), hex);
    snprintf(h1, sizeof(h1), "X-D2EV-Timestamp: %s", ts);
    snprintf(h2, sizeof(h2), "X-D2EV-Signature: v1=%s", hex);
    snprintf(h3, sizeof(h3), "Idempotency-Key: bench-%s", car->id);
    x->headers = curl_slist_append(x->headers, h1);
    x->headers = curl_slist_append(x->headers, h2);
    x->headers = curl_slist_append(x->headers, h3);
    x->headers = curl_slist_append(x->headers, "Content-Type: application/json");
    x->headers = curl_slist_append(x->headers, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, car->body);
    car->sent = now_s();
}

static void done_register(struct car *car, long status, const char *body, void *arg)
{
    struct send_ctx *s = arg;
    car->status = status;
    car->answered = now_s();
    if (status == 202)
        atomic_fetch_add(&s->accepted, 1);
    else
        fprintf(stderr, "register %s: HTTP %ld %.200s\n", car->id, status, body);
}

/* ------------------------------------------------------------ results */

struct reader {
    const char *bootstrap;
    struct d2ev_hmap *by_rid;
    atomic_long seen, accepted;
    atomic_bool stop;
    pthread_t thread;
};

static void *read_results(void *arg)
{
    struct reader *r = arg;
    char errstr[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", r->bootstrap, errstr, sizeof(errstr));
    rd_kafka_conf_set(c, "group.id", "bench-results", errstr, sizeof(errstr));
    rd_kafka_conf_set(c, "log_level", "3", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr));
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, "d2ev.registration.results", NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) || md->topic_cnt != 1) {
        fprintf(stderr, "no metadata for the results topic\n");
        exit(1);
    }
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(l, "d2ev.registration.results", i)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    while (!atomic_load(&r->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err && m->payload) {
            double t = now_s();
            json_t *j = json_loadb(m->payload, m->len, 0, NULL);
            const char *rid = json_string_value(json_object_get(j, "request_id"));
            struct d2ev_hnode *n = rid ? d2ev_hmap_find(r->by_rid, rid, strlen(rid)) : NULL;
            if (n) {
                struct car *car = (struct car *)((char *)n - offsetof(struct car, node));
                if (car->result == 0) {
                    car->result = t;
                    car->accepted = json_is_true(json_object_get(j, "accepted"));
                    if (!car->accepted && atomic_load(&r->accepted) < 5)
                        fprintf(stderr, "rejected %s: %s\n", car->id,
                                json_string_value(json_object_get(j, "reason")));
                    atomic_fetch_add(&r->accepted, car->accepted);
                    atomic_fetch_add(&r->seen, 1);
                }
            }
            json_decref(j);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

/* ------------------------------------------------------------ main */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static void parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){ 20000, 128, 6, 1, 128, 4, "smartcar=40,tesla=30,enode=30", true };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--count") && v)
            o->count = atol(argv[++i]);
        else if (!strcmp(a, "--connections") && v)
            o->connections = atoi(argv[++i]);
        else if (!strcmp(a, "--partitions") && v)
            o->partitions = atoi(argv[++i]);
        else if (!strcmp(a, "--replicas") && v)
            o->replicas = atoi(argv[++i]);
        else if (!strcmp(a, "--bridge-threads") && v)
            o->bridge_threads = atoi(argv[++i]);
        else if (!strcmp(a, "--sim-threads") && v)
            o->sim_threads = atoi(argv[++i]);
        else if (!strcmp(a, "--oem-mix") && v)
            o->mix = argv[++i];
        else if (!strcmp(a, "--oem-in-flight") && v)
            g_oem_in_flight = atoi(argv[++i]);
        else if (!strcmp(a, "--no-read"))
            o->read = false;
        else {
            fprintf(stderr,
                    "usage: bench_registration [--count N] [--connections N] [--partitions N] "
                    "[--replicas N] [--bridge-threads N] [--sim-threads N] [--oem-mix M] "
                    "[--oem-in-flight N] [--no-read]\n");
            exit(64);
        }
    }
    if (o->replicas < 1 || o->replicas > MAX_REPLICAS || o->count < 1)
        exit(64);
}

static void write_config(const char *dir, const char *oem, const char *token_path, int port)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s.json", dir, oem);
    FILE *f = fopen(path, "w");
    fprintf(f,
            "{\"base_url\":\"http://127.0.0.1:%d/%s\",\"token_url\":\"http://127.0.0.1:%d/%s/%s\","
            "\"client_id\":\"sim-%s-client\",\"rate_limit\":{\"per_second\":100000,\"burst\":"
            "100000},\"max_in_flight\":%d}",
            port, oem, port, oem, token_path, oem, g_oem_in_flight);
    fclose(f);
}

int main(int argc, char **argv)
{
    struct opts o;
    parse(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_ALL);
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/d2ev-bench-registration-XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    struct proc procs[4 + MAX_REPLICAS];
    size_t nprocs = 0;

    /* the broker */
    char a_parts[32], a_addr[300], a_admin[32], bootstrap[128] = "";
    snprintf(a_parts, sizeof(a_parts), "--partitions=%d", o.partitions);
    snprintf(a_addr, sizeof(a_addr), "--address-file=%s/bootstrap", g_tmp);
    snprintf(a_admin, sizeof(a_admin), "--admin-port=%d", free_port());
    const char *db_argv[] = { a_parts, a_addr, a_admin, NULL };
    procs[nprocs++] = (struct proc){ "devbroker", spawn("d2ev-devbroker", db_argv, NULL) };
    for (int i = 0; i < 150 && !bootstrap[0]; i++) {
        char path[300];
        snprintf(path, sizeof(path), "%s/bootstrap", g_tmp);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(bootstrap, sizeof(bootstrap), f))
                bootstrap[0] = '\0';
            bootstrap[strcspn(bootstrap, "\r\n")] = '\0';
            fclose(f);
        }
        usleep(100000);
    }
    if (!bootstrap[0]) {
        fprintf(stderr, "devbroker did not start (logs in %s)\n", g_tmp);
        return 1;
    }

    /* the environment every service shares */
    static char e_brokers[200], e_keys[128], e_secret[96];
    snprintf(e_brokers, sizeof(e_brokers), "D2EV_KAFKA_BROKERS=%s", bootstrap);
    snprintf(e_keys, sizeof(e_keys), "D2EV_CREDENTIALS_KEYS=%s", KEYS);
    snprintf(e_secret, sizeof(e_secret), "D2EV_BRIDGE_HMAC_SECRET=%s", SECRET);
    const char *env[] = { e_brokers,
                          e_keys,
                          e_secret,
                          "D2EV_LOG_LEVEL=warn",
                          "D2EV_OEM_SMARTCAR_CLIENT_SECRET=sim-smartcar-secret",
                          "D2EV_OEM_TESLA_CLIENT_SECRET=sim-tesla-secret",
                          "D2EV_OEM_ENODE_CLIENT_SECRET=sim-enode-secret",
                          NULL };

    /* the simulator */
    int sim_port = free_port(), sim_admin = free_port();
    char s1[32], s2[32], s3[32], s4[32], s5[160], sim_url[64];
    snprintf(s1, sizeof(s1), "--sim-port=%d", sim_port);
    snprintf(s2, sizeof(s2), "--admin-port=%d", sim_admin);
    snprintf(s3, sizeof(s3), "--sim-vehicles=%ld", o.count);
    snprintf(s4, sizeof(s4), "--sim-threads=%d", o.sim_threads);
    snprintf(s5, sizeof(s5), "--sim-oem-mix=%s", o.mix);
    snprintf(sim_url, sizeof(sim_url), "http://127.0.0.1:%d", sim_port);
    const char *sim_argv[] = { s1, s2, s3, s4, s5, "--sim-plug-schedule=false", NULL };
    procs[nprocs++] = (struct proc){ "oemsim", spawn("d2ev-oemsim", sim_argv, env) };

    char cdir[300];
    snprintf(cdir, sizeof(cdir), "%s/adapters", g_tmp);
    mkdir(cdir, 0700);
    write_config(cdir, "smartcar", "oauth/token", sim_port);
    write_config(cdir, "tesla", "oauth2/v3/token", sim_port);
    write_config(cdir, "enode", "oauth2/token", sim_port);

    /* registration replicas and the bridge */
    int reg_admin[MAX_REPLICAS];
    static char r1[MAX_REPLICAS][32], r2[320], r3[40], r4[40];
    snprintf(r2, sizeof(r2), "--oem-config-dir=%s", cdir);
    snprintf(r3, sizeof(r3), "--read-on-register=%s", o.read ? "true" : "false");
    snprintf(r4, sizeof(r4), "--max-in-flight=%d", 8192);
    for (int i = 0; i < o.replicas; i++) {
        reg_admin[i] = free_port();
        snprintf(r1[i], sizeof(r1[i]), "--admin-port=%d", reg_admin[i]);
        const char *reg_argv[] = { r1[i], r2, r3, r4, NULL };
        procs[nprocs++] =
            (struct proc){ "registration", spawn("d2ev-registration", reg_argv, env) };
    }
    int bridge_port = free_port(), bridge_admin = free_port();
    char b1[32], b2[32], b3[40];
    snprintf(b1, sizeof(b1), "--admin-port=%d", bridge_admin);
    snprintf(b2, sizeof(b2), "--http-port=%d", bridge_port);
    snprintf(b3, sizeof(b3), "--http-threads=%d", o.bridge_threads);
    const char *br_argv[] = { b1, b2, b3, NULL };
    procs[nprocs++] = (struct proc){ "bridge", spawn("d2ev-bridge", br_argv, env) };

    bool ready = wait_ready(sim_admin, 60) && wait_ready(bridge_admin, 60);
    for (int i = 0; i < o.replicas && ready; i++)
        ready = wait_ready(reg_admin[i], 60);
    if (!ready) {
        fprintf(stderr, "services did not become ready (logs in %s)\n", g_tmp);
        goto stop;
    }

    /* the fleet and one authorisation code per car (not timed) */
    struct car *cars = calloc((size_t)o.count, sizeof(*cars));
    size_t ncars = 0;
    for (long off = 0; off < o.count; off += 1000) {
        char url[160], *body = NULL;
        snprintf(url, sizeof(url), "%s/_sim/vehicles?offset=%ld&limit=1000", sim_url, off);
        http("GET", url, NULL, &body);
        json_t *j = json_loads(body ? body : "", 0, NULL);
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(j, "vehicles"), i, v)
        {
            if (ncars == (size_t)o.count)
                break;
            struct car *c = &cars[ncars++];
            snprintf(c->id, sizeof(c->id), "%s", json_string_value(json_object_get(v, "id")));
            snprintf(c->oem, sizeof(c->oem), "%s", json_string_value(json_object_get(v, "oem")));
        }
        json_decref(j);
        free(body);
    }
    double t0 = now_s();
    run_bulk(cars, ncars, 64, prep_authorize, done_authorize, sim_url);
    printf("fleet: %zu cars, codes minted in %.1f s\n", ncars, now_s() - t0);

    struct d2ev_hmap by_rid;
    d2ev_hmap_init(&by_rid);
    for (size_t i = 0; i < ncars; i++) {
        struct car *c = &cars[i];
        char auth[400] = "", key[80], body[1024];
        if (strcmp(c->oem, "enode"))
            snprintf(auth, sizeof(auth),
                     ",\"authorization\":{\"code\":\"%s\",\"redirect_uri\":\"%s\"}", c->code,
                     c->redirect);
        snprintf(body, sizeof(body),
                 "{\"user_id\":\"bench-%zu\",\"oem\":\"%s\",\"oem_vehicle_id\":\"%s\","
                 "\"timezone\":\"Europe/London\",\"region\":\"GB-LON\",\"prefs\":{\"target_soc\":"
                 "80,\"ready_by\":{\"mon\":\"07:30\"}}%s}",
                 i, c->oem, c->id, auth);
        c->body = strdup(body);
        bridge_vehicle_id(NULL, c->oem, c->id, c->vid);
        snprintf(key, sizeof(key), "bench-%s", c->id);
        bridge_request_id(D2EV_REG_REGISTER, c->vid, key, c->rid);
        c->node.key = c->rid;
        c->node.klen = strlen(c->rid);
        d2ev_hmap_insert(&by_rid, &c->node);
    }

    struct reader rd = { .bootstrap = bootstrap, .by_rid = &by_rid };
    pthread_create(&rd.thread, NULL, read_results, &rd);
    usleep(500000); /* the reader is assigned before anything is sent */

    for (size_t i = 0; i < nprocs; i++)
        procs[i].cpu0 = cpu_s(procs[i].pid);
    double self0 = cpu_s(getpid());
    struct send_ctx sc = { .port = bridge_port };
    double start = now_s();
    run_bulk(cars, ncars, o.connections, prep_register, done_register, &sc);
    double sent_all = now_s();
    long accepted_http = atomic_load(&sc.accepted);
    while (atomic_load(&rd.seen) < accepted_http && now_s() - sent_all < 300)
        usleep(20000);
    double end = now_s();
    double cpu[8], self = cpu_s(getpid()) - self0;
    for (size_t i = 0; i < nprocs; i++)
        cpu[i] = cpu_s(procs[i].pid) - procs[i].cpu0;
    atomic_store(&rd.stop, true);
    pthread_join(rd.thread, NULL);

    double *lat_http = calloc(ncars, sizeof(double)), *lat_res = calloc(ncars, sizeof(double));
    size_t nh = 0, nr = 0;
    double last_result = start;
    for (size_t i = 0; i < ncars; i++) {
        if (cars[i].status == 202)
            lat_http[nh++] = (cars[i].answered - cars[i].sent) * 1000;
        if (cars[i].result > 0) {
            lat_res[nr++] = (cars[i].result - cars[i].sent) * 1000;
            if (cars[i].result > last_result)
                last_result = cars[i].result;
        }
    }
    qsort(lat_http, nh, sizeof(double), cmp_double);
    qsort(lat_res, nr, sizeof(double), cmp_double);
    double span = last_result - start;
    printf("\nregistrations: %zu sent, %ld accepted by the bridge (202), %ld results "
           "(%ld accepted, %ld rejected)\n",
           ncars, accepted_http, (long)atomic_load(&rd.seen), (long)atomic_load(&rd.accepted),
           (long)(atomic_load(&rd.seen) - atomic_load(&rd.accepted)));
    printf("bridge: all %zu requests answered in %.2f s = %.0f /s (%d connections)\n", ncars,
           sent_all - start, (double)ncars / (sent_all - start), o.connections);
    printf("end to end: first request to last result %.2f s = %.0f registrations/s\n", span,
           (double)nr / span);
    printf("latency ms (send -> 202): p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
           pct(lat_http, nh, 0.5), pct(lat_http, nh, 0.9), pct(lat_http, nh, 0.99),
           nh ? lat_http[nh - 1] : 0);
    printf("latency ms (send -> result on Kafka): p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
           pct(lat_res, nr, 0.5), pct(lat_res, nr, 0.9), pct(lat_res, nr, 0.99),
           nr ? lat_res[nr - 1] : 0);
    printf("CPU seconds during the run (%.2f s wall, 2 cores = %.2f):", end - start,
           2 * (end - start));
    for (size_t i = 0; i < nprocs; i++)
        printf(" %s %.2f", procs[i].name, cpu[i]);
    printf(" bench %.2f\n", self);
    printf("\n| registrations | connections | partitions | replicas | read | end-to-end /s | "
           "bridge /s | p50 ms | p99 ms |\n");
    printf("| %zu | %d | %d | %d | %s | %.0f | %.0f | %.0f | %.0f |\n", nr, o.connections,
           o.partitions, o.replicas, o.read ? "yes" : "no", (double)nr / span,
           (double)ncars / (sent_all - start), pct(lat_res, nr, 0.5), pct(lat_res, nr, 0.99));
    free(lat_http);
    free(lat_res);
    for (size_t i = 0; i < ncars; i++)
        free(cars[i].body);
    free(cars);
    d2ev_hmap_clear(&by_rid);
stop:
    for (size_t i = nprocs; i-- > 0;) {
        kill(procs[i].pid, SIGTERM);
        waitpid(procs[i].pid, NULL, 0);
    }
    printf("logs: %s\n", g_tmp);
    curl_global_cleanup();
    return 0;
}
