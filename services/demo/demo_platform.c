/* demo_platform.c: start every d2ev process on one machine on one clock (see demo.h). */
#include "demo.h"

#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "d2ev/clock.h"
#include "d2ev/crypto.h"
#include "d2ev/httpc.h"
#include "d2ev/log.h"
#include "d2ev/util.h"

static const char *const names[DEMO_NSVC] = {
    "devbroker", "oemsim", "registration", "bridge",   "telemetry",       "scheduler",
    "dispatch",  "api",    "exporter",     "forecast", "forecast-carbon",
};
/* The documented defaults (docs/configuration.md). */
static const int default_admin[DEMO_NSVC] = { 9100, 9107, 9102, 9101, 9103, 9104,
                                              9105, 9106, 9108, 9109, 9110 };
static const int default_http[DEMO_NSVC] = {
    [DEMO_OEMSIM] = 8090, [DEMO_BRIDGE] = 8080, [DEMO_API] = 8081
};
static const char *const oems[] = { "smartcar", "tesla", "enode" };
static const char *const token_paths[] = { "/smartcar/oauth/token", "/tesla/oauth2/v3/token",
                                           "/enode/oauth2/token" };

const char *demo_svc_name(enum demo_svc s)
{
    return (unsigned)s < DEMO_NSVC ? names[s] : "?";
}

void demo_url(const struct demo_platform *p, enum demo_svc s, bool admin, char out[64])
{
    snprintf(out, 64, "http://127.0.0.1:%d", admin ? p->admin_port[s] : p->http_port[s]);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int write_file(const char *path, const char *text, mode_t mode, struct d2ev_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return d2ev_err_set(err, D2EV_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    return D2EV_OK;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Wait until GET url answers 200, the process still running. */
static int wait_ready(struct demo_platform *p, enum demo_svc s, const char *path, int timeout_ms,
                      struct d2ev_err *err)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", p->admin_port[s], path);
    int64_t deadline = d2ev_clock_mono_ms() + timeout_ms;
    while (d2ev_clock_mono_ms() < deadline) {
        if (!d2ev_proc_alive(&p->proc[s]))
            return d2ev_err_set(err, D2EV_ERR_STATE, "%s exited at start-up; see %s", names[s],
                                p->proc[s].log_path);
        if (d2ev_httpc_request("GET", url, NULL, NULL, 0, 2000, NULL, NULL) == 200)
            return D2EV_OK;
        sleep_ms(100);
    }
    return d2ev_err_set(err, D2EV_ERR_TIMEOUT, "%s did not answer %s within %d s; see %s", names[s],
                        path, timeout_ms / 1000, p->proc[s].log_path);
}

/* True when the service's log says a port it was given was taken (free
 * ports are picked by binding and releasing, so another process can win). */
static bool lost_port_race(const struct demo_platform *p, enum demo_svc s, long from)
{
    FILE *f = fopen(p->proc[s].log_path, "r");
    if (!f)
        return false;
    fseek(f, from, SEEK_SET);
    char line[1024];
    bool hit = false;
    while (!hit && fgets(line, sizeof(line), f))
        hit = strstr(line, "port in use") != NULL;
    fclose(f);
    return hit;
}

static int start_one(struct demo_platform *p, enum demo_svc s, struct d2ev_err *err);

/* Wait for s; when it lost a free port to another process, give it fresh
 * ports and start it again (a few times). The simulator's and the broker's
 * ports are written into other processes' settings, so they are not moved. */
static int wait_started(struct demo_platform *p, enum demo_svc s, const char *path,
                        struct d2ev_err *err)
{
    long from = 0; /* this start's part of the (appended) log */
    int rc = wait_ready(p, s, path, 90000, err);
    for (int tries = 0; rc && tries < 3 && !p->conf.fixed_ports && s != DEMO_OEMSIM &&
                        s != DEMO_DEVBROKER && lost_port_race(p, s, from);
         tries++) {
        d2ev_log_warn("a port was taken; starting again on fresh ports",
                      D2EV_LF_STR("service", names[s]));
        p->admin_port[s] = free_port();
        if (p->http_port[s])
            p->http_port[s] = free_port();
        struct stat st;
        from = stat(p->proc[s].log_path, &st) == 0 ? (long)st.st_size : 0;
        if ((rc = start_one(p, s, err)) == D2EV_OK)
            rc = wait_ready(p, s, path, 90000, err);
    }
    return rc;
}

static void add_env(struct demo_platform *p, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_env(struct demo_platform *p, size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->env_store[*n], sizeof(p->env_store[0]), fmt, ap);
    va_end(ap);
    p->env[*n] = p->env_store[*n];
    (*n)++;
    p->env[*n] = NULL;
}

/* Secrets (as files, the way Kubernetes mounts them) and adapter configs. */
static int prepare_run_dir(struct demo_platform *p, struct d2ev_err *err)
{
    const char *run = p->conf.run_dir;
    char path[600];
    mkdir(run, 0755);
    static const char *const sub[] = { "logs", "secrets", "oem-config", "export" };
    for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", run, sub[i]);
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return d2ev_err_set(err, D2EV_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    }
    char *keys = d2ev_keyring_generate("demo1");
    unsigned char raw[24];
    char hex[49];
    if (!keys || d2ev_random_bytes(raw, sizeof(raw)))
        return d2ev_err_set(err, D2EV_ERR_CRYPTO, "cannot generate secrets");
    d2ev_strlcpy(p->keyring, keys, sizeof(p->keyring));
    d2ev_crypto_free_secret(keys, 0);
    d2ev_hex_encode(raw, sizeof(raw), hex);
    snprintf(p->hmac_secret, sizeof(p->hmac_secret), "demo-%s", hex);
    d2ev_random_bytes(raw, 12);
    d2ev_hex_encode(raw, 12, hex);
    snprintf(p->api_read_token, sizeof(p->api_read_token), "demo-read-%s", hex);
    d2ev_random_bytes(raw, 12);
    d2ev_hex_encode(raw, 12, hex);
    snprintf(p->api_operator_token, sizeof(p->api_operator_token), "demo-operator-%s", hex);
    char tokens[200];
    snprintf(tokens, sizeof(tokens), "%s:read,%s:operator", p->api_read_token,
             p->api_operator_token);
    snprintf(path, sizeof(path), "%s/secrets/credentials-keys", run);
    if (write_file(path, p->keyring, 0600, err))
        return err->code;
    snprintf(path, sizeof(path), "%s/secrets/bridge-hmac", run);
    if (write_file(path, p->hmac_secret, 0600, err))
        return err->code;
    snprintf(path, sizeof(path), "%s/secrets/api-tokens", run);
    if (write_file(path, tokens, 0600, err))
        return err->code;
    for (int i = 0; i < 3; i++) {
        char json[512], timeout[48] = "";
        if (p->conf.oem_request_timeout_ms > 0)
            snprintf(timeout, sizeof(timeout), ", \"request_timeout_ms\": %d",
                     p->conf.oem_request_timeout_ms);
        snprintf(json, sizeof(json),
                 "{\"base_url\": \"http://127.0.0.1:%d/%s\", \"token_url\": "
                 "\"http://127.0.0.1:%d%s\", \"client_id\": \"sim-%s-client\"%s}\n",
                 p->http_port[DEMO_OEMSIM], oems[i], p->http_port[DEMO_OEMSIM], token_paths[i],
                 oems[i], timeout);
        snprintf(path, sizeof(path), "%s/oem-config/%s.json", run, oems[i]);
        if (write_file(path, json, 0644, err))
            return err->code;
    }
    return D2EV_OK;
}

/* The environment every process shares: broker, clock, secrets, adapters. */
static void common_env(struct demo_platform *p)
{
    size_t n = 0;
    const char *run = p->conf.run_dir;
    add_env(p, &n, "D2EV_KAFKA_BROKERS=%s", p->bootstrap);
    add_env(p, &n, "D2EV_CLOCK_SPEED=%g", p->conf.speed);
    add_env(p, &n, "D2EV_CLOCK_ORIGIN=%lld", (long long)p->clock_origin_ms);
    add_env(p, &n, "D2EV_CLOCK_START=%lld", (long long)p->conf.sim_start_ms);
    add_env(p, &n, "D2EV_LOG_LEVEL=info");
    add_env(p, &n, "D2EV_ADAPTER_DIR=%s", p->conf.adapter_dir);
    add_env(p, &n, "D2EV_OEM_CONFIG_DIR=%s/oem-config", run);
    add_env(p, &n, "D2EV_CREDENTIALS_KEYS_FILE=%s/secrets/credentials-keys", run);
    add_env(p, &n, "D2EV_EXPORT_DIR=%s/export", run);
    for (int i = 0; i < 3; i++) {
        char upper[16];
        size_t k = 0;
        for (const char *c = oems[i]; *c && k + 1 < sizeof(upper); c++)
            upper[k++] = (char)(*c - 32);
        upper[k] = '\0';
        /* the simulator's default OAuth clients; not real secrets */
        add_env(p, &n, "D2EV_OEM_%s_CLIENT_SECRET=sim-%s-secret", upper, oems[i]);
    }
}

static int start_one(struct demo_platform *p, enum demo_svc s, struct d2ev_err *err)
{
    char bin[600], log[600], a[12][256];
    const char *argv[14];
    size_t n = 0;
    const char *run = p->conf.run_dir;
    bool forecast = s == DEMO_FORECAST || s == DEMO_CARBON_FORECAST;
    snprintf(bin, sizeof(bin), "%s/d2ev-%s", p->conf.bin_dir, forecast ? "forecast" : names[s]);
    snprintf(log, sizeof(log), "%s/logs/%s.log", run, names[s]);
#define ARG(...) (snprintf(a[n], sizeof(a[n]), __VA_ARGS__), argv[n] = a[n], n++)
    if (s == DEMO_FORECAST && p->conf.forecast_csv) {
        ARG("publish"); /* real prices, replayed on the scaled clock */
        ARG("--csv=%s", p->conf.forecast_csv);
        ARG("--format=%s", p->conf.forecast_format);
        ARG("--follow");
    } else if (s == DEMO_CARBON_FORECAST && p->conf.carbon_csv) {
        ARG("publish");
        ARG("--csv=%s", p->conf.carbon_csv);
        ARG("--format=carbon");
        ARG("--follow");
    } else if (forecast) {
        ARG("generate"); /* the project's own day-ahead forecasts */
        ARG("--follow");
        ARG("--seed=%d", p->conf.seed);
        ARG("--kind=%s", s == DEMO_CARBON_FORECAST ? "carbon"
                         : p->conf.forecast_csv    ? "price"
                                                   : "both");
    }
    if (forecast)
        ARG("--region=%s", p->conf.region);
    ARG("--admin-port=%d", p->admin_port[s]);
    switch (s) {
    case DEMO_DEVBROKER:
        ARG("--address-file=%s/bootstrap", run);
        ARG("--partitions=%d", p->conf.partitions);
        break;
    case DEMO_OEMSIM:
        ARG("--sim-port=%d", p->http_port[s]);
        ARG("--sim-vehicles=%d", p->conf.cars);
        ARG("--sim-seed=%d", p->conf.seed);
        break;
    case DEMO_BRIDGE:
    case DEMO_API:
        ARG("--http-port=%d", p->http_port[s]);
        break;
    default:
        break;
    }
#undef ARG
    argv[n] = NULL;
    /* per-service secrets on top of the shared environment */
    const char *env[40];
    size_t e = 0;
    for (const char *const *x = p->env; *x && e < 30; x++)
        env[e++] = *x;
    char extra[3][640];
    if (s == DEMO_BRIDGE) {
        snprintf(extra[0], sizeof(extra[0]), "D2EV_BRIDGE_HMAC_SECRET_FILE=%s/secrets/bridge-hmac",
                 run);
        env[e++] = extra[0];
    }
    if (s == DEMO_API) {
        snprintf(extra[0], sizeof(extra[0]), "D2EV_API_TOKENS_FILE=%s/secrets/api-tokens", run);
        snprintf(extra[1], sizeof(extra[1]), "D2EV_UI_PUBLIC=true"); /* local demo only */
        env[e++] = extra[0];
        env[e++] = extra[1];
    }
    env[e] = NULL;
    return d2ev_proc_spawn(&p->proc[s], names[s], bin, argv, env, log, err);
}

static int wait_bootstrap(struct demo_platform *p, struct d2ev_err *err)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/bootstrap", p->conf.run_dir);
    int64_t deadline = d2ev_clock_mono_ms() + 15000;
    while (d2ev_clock_mono_ms() < deadline) {
        FILE *f = fopen(path, "r");
        if (f) {
            char line[128] = "";
            bool ok = fgets(line, sizeof(line), f) && strchr(line, '\n');
            fclose(f);
            if (ok) {
                line[strcspn(line, "\r\n")] = '\0';
                d2ev_strlcpy(p->bootstrap, line, sizeof(p->bootstrap));
                return D2EV_OK;
            }
        }
        if (!d2ev_proc_alive(&p->proc[DEMO_DEVBROKER]))
            break;
        sleep_ms(50);
    }
    return d2ev_err_set(err, D2EV_ERR_STATE, "the devbroker did not start; see %s",
                        p->proc[DEMO_DEVBROKER].log_path);
}

int demo_platform_start(struct demo_platform *p, const struct demo_conf *conf, struct d2ev_err *err)
{
    memset(p, 0, sizeof(*p));
    p->conf = *conf;
    for (int s = 0; s < DEMO_NSVC; s++) {
        p->admin_port[s] = conf->fixed_ports ? default_admin[s] : free_port();
        if (default_http[s])
            p->http_port[s] = conf->fixed_ports ? default_http[s] : free_port();
    }
    int rc = prepare_run_dir(p, err);
    if (rc)
        return rc;
    if ((rc = start_one(p, DEMO_DEVBROKER, err)) || (rc = wait_bootstrap(p, err)))
        return rc;
    /* every process computes the same simulated time from these */
    p->clock_origin_ms = d2ev_clock_real_ms();
    common_env(p);
    if ((rc = d2ev_clock_use_scaled(p->clock_origin_ms, conf->sim_start_ms, conf->speed, err)))
        return rc;
    enum demo_svc order[] = { DEMO_OEMSIM,         DEMO_REGISTRATION, DEMO_SCHEDULER,
                              DEMO_TELEMETRY,      DEMO_DISPATCH,     DEMO_API,
                              DEMO_EXPORTER,       DEMO_BRIDGE,       DEMO_FORECAST,
                              DEMO_CARBON_FORECAST };
    size_t norder = sizeof(order) / sizeof(order[0]);
    if (!conf->forecast_csv)
        norder--; /* the generator publishes carbon too */
    for (size_t i = 0; i < norder; i++) {
        if ((rc = start_one(p, order[i], err)))
            return rc;
    }
    for (size_t i = 0; i < norder; i++) {
        /* the forecast publishers have no state to catch up on: alive is enough */
        const char *path =
            order[i] == DEMO_FORECAST || order[i] == DEMO_CARBON_FORECAST ? "/healthz" : "/readyz";
        if ((rc = wait_started(p, order[i], path, err)))
            return rc;
    }
    return D2EV_OK;
}

int demo_platform_stop(struct demo_platform *p)
{
    int bad = 0;
    for (int s = DEMO_NSVC - 1; s >= 0; s--) {
        if (p->proc[s].pid > 0 && d2ev_proc_stop(&p->proc[s], SIGTERM, 12000) != 0) {
            d2ev_log_warn("did not stop cleanly", D2EV_LF_STR("service", names[s]));
            bad++;
        }
    }
    return bad;
}

void demo_platform_kill(struct demo_platform *p, enum demo_svc s, int sig)
{
    d2ev_proc_stop(&p->proc[s], sig, 12000);
}

int demo_platform_restart(struct demo_platform *p, enum demo_svc s, struct d2ev_err *err)
{
    if (p->proc[s].pid > 0)
        d2ev_proc_stop(&p->proc[s], SIGTERM, 12000);
    int rc = start_one(p, s, err);
    return rc ? rc : wait_started(p, s, "/healthz", err);
}
