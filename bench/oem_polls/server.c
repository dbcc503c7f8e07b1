/* server.c: the benchmark's stand-in OEM server (see server.h). */
#include "server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "d2ev/clock.h"

/* The recorded answer (tests/adapters/recorded/smartcar/batch_ok.http). */
static const char BATCH[] =
    "{\"responses\": [{\"path\": \"/battery\", \"code\": 200, \"headers\": {\"sc-data-age\": "
    "\"2026-11-21T07:29:58.000Z\", \"sc-unit-system\": \"metric\"}, \"body\": "
    "{\"percentRemaining\": 0.54, \"range\": 212.4}}, {\"path\": \"/charge\", \"code\": 200, "
    "\"headers\": {\"sc-data-age\": \"2026-11-21T07:29:50.000Z\"}, \"body\": {\"isPluggedIn\": "
    "true, \"state\": \"CHARGING\"}}, {\"path\": \"/battery/capacity\", \"code\": 200, "
    "\"headers\": {\"sc-data-age\": \"2026-11-20T18:00:00.000Z\"}, \"body\": {\"capacity\": "
    "75.0}}, {\"path\": \"/charge/limit\", \"code\": 200, \"headers\": {\"sc-data-age\": "
    "\"2026-11-21T07:29:58.000Z\"}, \"body\": {\"limit\": 0.8}}]}";

struct pending {
    struct MHD_Connection *conn;
    int64_t due;
    bool delayed;
    struct pending *next;
};

struct bench_server {
    struct MHD_Daemon *d;
    int64_t latency_ms;
    pthread_t timer;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct pending *head, *tail; /* FIFO: one latency, so due times ascend */
    bool stop;
};

/* Resume suspended connections when their latency has passed. */
static void *timer_main(void *arg)
{
    struct bench_server *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop || s->head) {
        struct pending *p = s->head;
        if (!p) {
            pthread_cond_wait(&s->cond, &s->lock);
            continue;
        }
        int64_t wait = p->due - d2ev_clock_mono_ms();
        if (wait > 0 && !s->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            ts.tv_sec += wait / 1000 + ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&s->cond, &s->lock, &ts);
            continue;
        }
        s->head = p->next;
        if (!s->head)
            s->tail = NULL;
        MHD_resume_connection(p->conn);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct bench_server *s = cls;
    struct pending *p = *con_cls;
    if (!p) {
        if (!(p = calloc(1, sizeof(*p))))
            return MHD_NO;
        p->conn = conn;
        *con_cls = p;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* the body does not matter */
        return MHD_YES;
    }
    if (s->latency_ms > 0 && !p->delayed) {
        p->delayed = true;
        p->due = d2ev_clock_mono_ms() + s->latency_ms;
        p->next = NULL;
        pthread_mutex_lock(&s->lock);
        if (s->tail)
            s->tail->next = p;
        else
            s->head = p;
        s->tail = p;
        MHD_suspend_connection(conn);
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return MHD_YES;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof(BATCH) - 1, (void *)BATCH, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    free(*con_cls);
    *con_cls = NULL;
}

struct bench_server *bench_server_start(int64_t latency_ms, int *port)
{
    struct bench_server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->latency_ms = latency_ms;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
    s->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
        on_request, s, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_LIMIT, 60000u, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
    if (!s->d || pthread_create(&s->timer, NULL, timer_main, s) != 0) {
        if (s->d)
            MHD_stop_daemon(s->d);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : 0;
    return s;
}

void bench_server_stop(struct bench_server *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true; /* the timer resumes what is left, then exits */
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->timer, NULL);
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
}
