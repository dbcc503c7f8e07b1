/*
 * bench_api_trivial: the baseline of the ops API benchmark. A bare
 * libmicrohttpd server with the same threading as d2ev's HTTP wrapper
 * (internal epoll polling, a thread pool) that answers every request with the
 * same fixed JSON body: what the hardware and libmicrohttpd give before any
 * routing, auth, lookup or copying.
 *
 *   bench_api_trivial <port> <threads> <body bytes>
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *g_body;
static size_t g_len;

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    static int marker;
    if (!*con_cls) {
        /* first call: headers only. Answering now would make libmicrohttpd
         * close the connection (the upload is not known to be complete). */
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(g_len, g_body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    g_stop = 1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s <port> <threads> <body bytes>\n", argv[0]);
        return 64;
    }
    g_len = (size_t)atol(argv[3]);
    g_body = malloc(g_len + 1);
    memset(g_body, ' ', g_len);
    if (g_len >= 2) {
        g_body[0] = '{';
        g_body[g_len - 1] = '}';
    }
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
                                            (uint16_t)atoi(argv[1]), NULL, NULL, handler, NULL,
                                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)atoi(argv[2]),
                                            MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cannot listen on port %s\n", argv[1]);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    while (!g_stop)
        pause();
    MHD_stop_daemon(d);
    free(g_body);
    return 0;
}
