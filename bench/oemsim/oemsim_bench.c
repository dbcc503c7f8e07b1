/*
 * oemsim_bench: how many requests a second d2ev-oemsim serves, and how much
 * memory a vehicle costs, for fleets of 10,000 and 100,000 vehicles.
 *
 * For each fleet size it starts the binary, reads its resident memory, links
 * every vehicle (authorize + token exchange, with libcurl multi), then drives
 * wrk with a Lua script that spreads requests over the whole fleet:
 *   reads     Smartcar GET battery, Tesla GET vehicle_data, Enode GET vehicle
 *   commands  Smartcar POST charge, Tesla POST charge_stop, Enode POST charging
 * Results are printed as Markdown rows for docs/performance.md.
 *
 *   oemsim_bench [--sizes 10000,100000] [--seconds 10] [--connections 64]
 *                [--threads 8] [--wrk-threads 2]
 */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#ifndef OEMSIM_BIN
#define OEMSIM_BIN "d2ev-oemsim"
#endif

struct opts {
    long sizes[8];
    int nsizes;
    int seconds;
    int connections;
    int threads;
    int wrk_threads;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A free TCP port on 127.0.0.1 (bind to 0 and release). */
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

/* ------------------------------------------------------------ HTTP, many at once */

struct call {
    char url[256];
    char *body; /* request body (owned) or NULL */
    char *auth; /* Authorization header line (owned) or NULL */
    char *resp; /* response body (owned) */
    size_t resp_len;
    long status;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct call *c = ud;
    size_t len = size * n;
    char *nb = realloc(c->resp, c->resp_len + len + 1);
    if (!nb)
        return 0;
    memcpy(nb + c->resp_len, p, len);
    c->resp_len += len;
    nb[c->resp_len] = '\0';
    c->resp = nb;
    return len;
}

static CURL *make_easy(struct call *c, struct curl_slist **hl)
{
    CURL *e = curl_easy_init();
    *hl = curl_slist_append(NULL, "Expect:");
    if (c->auth)
        *hl = curl_slist_append(*hl, c->auth);
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, *hl);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
    if (c->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(c->body));
    }
    return e;
}

/* Run all calls with `parallel` in flight. Returns requests per second. */
static double run_calls(struct call *calls, size_t n, int parallel)
{
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)parallel);
    struct curl_slist **lists = calloc(n, sizeof(*lists));
    size_t next = 0, done = 0;
    int running = 0;
    double t0 = now_s();
    while (done < n) {
        while (next < n && running < parallel) {
            curl_multi_add_handle(m, make_easy(&calls[next], &lists[next]));
            next++;
            running++;
        }
        int still;
        curl_multi_perform(m, &still);
        curl_multi_poll(m, NULL, 0, 100, NULL);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct call *c;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &c->status);
            curl_multi_remove_handle(m, msg->easy_handle);
            curl_easy_cleanup(msg->easy_handle);
            running--;
            done++;
        }
    }
    double rate = (double)n / (now_s() - t0);
    for (size_t i = 0; i < n; i++)
        curl_slist_free_all(lists[i]);
    free(lists);
    curl_multi_cleanup(m);
    return rate;
}

static void calls_reset(struct call *calls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(calls[i].body);
        free(calls[i].auth);
        free(calls[i].resp);
        memset(&calls[i], 0, sizeof(calls[i]));
    }
}

/* ------------------------------------------------------------ the simulator */

static pid_t spawn_sim(long vehicles, int port, int admin, int threads, const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        char a[64], b[64], c[64], d[64];
        snprintf(a, sizeof(a), "--sim-vehicles=%ld", vehicles);
        snprintf(b, sizeof(b), "--sim-port=%d", port);
        snprintf(c, sizeof(c), "--admin-port=%d", admin);
        snprintf(d, sizeof(d), "--sim-threads=%d", threads);
        FILE *f = fopen(log, "w");
        if (f) {
            dup2(fileno(f), 2);
            dup2(fileno(f), 1);
        }
        /* no sleeping cars: reads return data, which is the expensive path */
        execl(OEMSIM_BIN, OEMSIM_BIN, a, b, c, d, "--sim-bind=127.0.0.1", "--admin-bind=127.0.0.1",
              "--sim-sleep-after-s=0", "--sim-enode-autolink=true", "--log-level=warn",
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

static bool wait_ready(pid_t pid, int admin)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", admin);
    for (int i = 0; i < 600; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return false; /* it exited */
        struct call c = { 0 };
        snprintf(c.url, sizeof(c.url), "%s", url);
        run_calls(&c, 1, 1);
        free(c.resp);
        if (c.status == 200)
            return true;
        usleep(100000);
    }
    return false;
}

/* ------------------------------------------------------------ the fleet */

struct car {
    char id[40];
    int oem; /* 0 smartcar, 1 tesla, 2 enode */
    char token[80];
};

static const char *str_or_empty(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

static json_t *get_json(const char *url)
{
    struct call c = { 0 };
    snprintf(c.url, sizeof(c.url), "%s", url);
    run_calls(&c, 1, 1);
    json_t *j = json_loads(c.resp ? c.resp : "", 0, NULL);
    free(c.resp);
    return j;
}

static size_t list_fleet(const char *base, struct car *cars, long n)
{
    size_t k = 0;
    for (long off = 0; off < n; off += 1000) {
        char url[256];
        snprintf(url, sizeof(url), "%s/_sim/vehicles?offset=%ld&limit=1000", base, off);
        json_t *j = get_json(url), *v;
        size_t i;
        json_array_foreach(json_object_get(j, "vehicles"), i, v)
        {
            snprintf(cars[k].id, sizeof(cars[k].id), "%s",
                     json_string_value(json_object_get(v, "id")));
            const char *oem = json_string_value(json_object_get(v, "oem"));
            cars[k].oem = !strcmp(oem, "smartcar") ? 0 : !strcmp(oem, "tesla") ? 1 : 2;
            k++;
        }
        json_decref(j);
    }
    return k;
}

/* authorize + exchange for every car; Enode cars share one app token.
 * Returns link operations (2 requests each) per second. */
static double link_fleet(const char *base, struct car *cars, size_t n, int parallel)
{
    struct call *calls = calloc(n, sizeof(*calls));
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        snprintf(calls[i].url, sizeof(calls[i].url), "%s/_sim/vehicles/%s/authorize", base,
                 cars[i].id);
        calls[i].body = strdup("");
    }
    run_calls(calls, n, parallel);
    char **codes = calloc(n, sizeof(*codes));
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_loads(calls[i].resp ? calls[i].resp : "", 0, NULL);
        codes[i] = strdup(str_or_empty(json_object_get(j, "code")));
        json_decref(j);
    }
    calls_reset(calls, n);
    for (size_t i = 0; i < n; i++) {
        char body[512];
        if (cars[i].oem == 0) {
            snprintf(calls[i].url, sizeof(calls[i].url), "%s/smartcar/oauth/token", base);
            snprintf(body, sizeof(body),
                     "grant_type=authorization_code&code=%s&redirect_uri=http://127.0.0.1:8080/"
                     "oauth/callback",
                     codes[i]);
            calls[i].auth =
                strdup("Authorization: Basic c2ltLXNtYXJ0Y2FyLWNsaWVudDpzaW0tc21hcnRjYXItc2VjcmV0");
        } else if (cars[i].oem == 1) {
            snprintf(calls[i].url, sizeof(calls[i].url), "%s/tesla/oauth2/v3/token", base);
            snprintf(body, sizeof(body),
                     "grant_type=authorization_code&client_id=sim-tesla-client&client_secret="
                     "sim-tesla-secret&code=%s&redirect_uri=http://127.0.0.1:8080/oauth/callback",
                     codes[i]);
        } else {
            snprintf(calls[i].url, sizeof(calls[i].url), "%s/enode/oauth2/token", base);
            snprintf(body, sizeof(body), "grant_type=client_credentials");
            calls[i].auth =
                strdup("Authorization: Basic c2ltLWVub2RlLWNsaWVudDpzaW0tZW5vZGUtc2VjcmV0");
        }
        calls[i].body = strdup(body);
        free(codes[i]);
    }
    free(codes);
    run_calls(calls, n, parallel);
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_loads(calls[i].resp ? calls[i].resp : "", 0, NULL);
        snprintf(cars[i].token, sizeof(cars[i].token), "%s",
                 str_or_empty(json_object_get(j, "access_token")));
        json_decref(j);
    }
    calls_reset(calls, n);
    free(calls);
    return (double)n / (now_s() - t0);
}

/* ------------------------------------------------------------ wrk */

/* The request list goes to a data file that the script reads in each wrk
 * thread (a 100,000-entry table literal is too big for LuaJIT). */
static void write_lua(const char *path, const struct car *cars, size_t n, bool commands)
{
    char data[256];
    snprintf(data, sizeof(data), "%s.data", path);
    FILE *f = fopen(data, "w");
    for (size_t i = 0; i < n; i++) {
        const struct car *c = &cars[i];
        char p[160];
        const char *body = "";
        if (c->oem == 0) {
            snprintf(p, sizeof(p), "/smartcar/v2.0/vehicles/%s/%s", c->id,
                     commands ? "charge" : "battery");
            body = commands ? "{\"action\":\"STOP\"}" : "";
        } else if (c->oem == 1) {
            snprintf(p, sizeof(p), "/tesla/api/1/vehicles/%s/%s", c->id,
                     commands ? "command/charge_stop" : "vehicle_data?endpoints=charge_state");
        } else {
            snprintf(p, sizeof(p), "/enode/vehicles/%s%s", c->id, commands ? "/charging" : "");
            body = commands ? "{\"action\":\"STOP\"}" : "";
        }
        fprintf(f, "%s\t%s\tBearer %s\t%s\n", commands ? "POST" : "GET", p, c->token, body);
    }
    fclose(f);
    f = fopen(path, "w");
    fprintf(f,
            "local cars = {}\n"
            "local threads = 0\n"
            "setup = function(thread)\n"
            "  thread:set(\"seed\", threads * 7919 + os.time())\n"
            "  threads = threads + 1\n"
            "end\n"
            "init = function(args)\n"
            "  math.randomseed(seed)\n"
            "  for line in io.lines(\"%s\") do\n"
            "    local m, p, a, b = line:match(\"^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t(.*)$\")\n"
            "    if b == \"\" then b = nil end\n"
            "    cars[#cars + 1] = wrk.format(m, p, {[\"Authorization\"] = a}, b)\n"
            "  end\n"
            "end\n"
            "request = function()\n"
            "  return cars[math.random(#cars)]\n"
            "end\n"
            "done = function(summary, latency, requests)\n"
            "  io.write(string.format(\"RESULT %%.0f %%.3f %%.3f %%.3f %%d %%d\\n\",\n"
            "    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,\n"
            "    latency:percentile(99) / 1000, latency.max / 1000,\n"
            "    summary.errors.status, summary.errors.connect + summary.errors.read +\n"
            "    summary.errors.write + summary.errors.timeout))\n"
            "end\n",
            data);
    fclose(f);
}

struct wrk_result {
    double rps, p50_ms, p99_ms, max_ms;
    long non2xx, socket_errors;
};

static bool run_wrk(const struct opts *o, const char *base, const char *lua, struct wrk_result *r)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "wrk -t%d -c%d -d%ds -s %s %s 2>&1", o->wrk_threads, o->connections,
             o->seconds, lua, base);
    FILE *p = popen(cmd, "r");
    if (!p)
        return false;
    char line[512];
    bool ok = false;
    while (fgets(line, sizeof(line), p))
        if (sscanf(line, "RESULT %lf %lf %lf %lf %ld %ld", &r->rps, &r->p50_ms, &r->p99_ms,
                   &r->max_ms, &r->non2xx, &r->socket_errors) == 6)
            ok = true;
    pclose(p);
    return ok;
}

/* ------------------------------------------------------------ main */

static void parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){ .sizes = { 10000, 100000 },
                        .nsizes = 2,
                        .seconds = 10,
                        .connections = 64,
                        .threads = 8,
                        .wrk_threads = 2 };
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--sizes")) {
            o->nsizes = 0;
            for (char *s = strtok(argv[i + 1], ","); s && o->nsizes < 8; s = strtok(NULL, ","))
                o->sizes[o->nsizes++] = strtol(s, NULL, 10);
        } else if (!strcmp(argv[i], "--seconds")) {
            o->seconds = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--connections")) {
            o->connections = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--threads")) {
            o->threads = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--wrk-threads")) {
            o->wrk_threads = atoi(argv[i + 1]);
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            exit(64);
        }
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    parse(argc, argv, &o);
    curl_global_init(CURL_GLOBAL_ALL);
    signal(SIGPIPE, SIG_IGN);
    printf("| vehicles | RSS after start | fleet bytes/vehicle | link ops/s | workload | "
           "requests/s | p50 ms | p99 ms | non-2xx | RSS after load |\n"
           "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|\n");
    fflush(stdout);
    long rss_start[8] = { 0 };
    for (int s = 0; s < o.nsizes; s++) {
        long n = o.sizes[s];
        int port = free_port(), admin = free_port();
        char base[64], log[128], lua[128], url[256];
        snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
        snprintf(log, sizeof(log), "/tmp/oemsim-bench-%ld.log", n);
        snprintf(lua, sizeof(lua), "/tmp/oemsim-bench-%ld.lua", n);
        pid_t pid = spawn_sim(n, port, admin, o.threads, log);
        if (!wait_ready(pid, admin)) {
            fprintf(stderr, "d2ev-oemsim did not start (see %s)\n", log);
            kill(pid, SIGTERM);
            return 1;
        }
        long rss0 = rss_kib(pid);
        rss_start[s] = rss0;
        snprintf(url, sizeof(url), "%s/_sim/stats", base);
        json_t *st = get_json(url);
        double bpv = json_number_value(json_object_get(st, "bytes_per_vehicle"));
        json_decref(st);
        struct car *cars = calloc((size_t)n, sizeof(*cars));
        size_t k = list_fleet(base, cars, n);
        double link_rate = link_fleet(base, cars, k, o.connections);
        for (int w = 0; w < 2; w++) {
            struct wrk_result r = { 0 };
            write_lua(lua, cars, k, w == 1);
            if (!run_wrk(&o, base, lua, &r)) {
                fprintf(stderr, "wrk failed\n");
                continue;
            }
            printf("| %ld | %.1f MiB | %.0f | %.0f | %s | %.0f | %.2f | %.2f | %ld | %.1f MiB |\n",
                   n, rss0 / 1024.0, bpv, link_rate, w ? "commands" : "reads", r.rps, r.p50_ms,
                   r.p99_ms, r.non2xx, rss_kib(pid) / 1024.0);
            fflush(stdout);
        }
        unlink(lua);
        snprintf(url, sizeof(url), "%s.data", lua);
        unlink(url);
        free(cars);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    for (int s = 1; s < o.nsizes; s++)
        if (o.sizes[s] != o.sizes[0])
            printf("\nresident memory per vehicle at start-up (%ld -> %ld vehicles): %.0f bytes\n",
                   o.sizes[0], o.sizes[s],
                   (double)(rss_start[s] - rss_start[0]) * 1024 /
                       (double)(o.sizes[s] - o.sizes[0]));
    curl_global_cleanup();
    return 0;
}
