/* signals.c: stop flag for SIGTERM/SIGINT and a shutdown watchdog. */
#include "d2ev/signals.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "d2ev/error.h"

static volatile sig_atomic_t g_stop;
static volatile int g_stop_int; /* mirror readable as int for sleep loops */
static int g_deadline_ms = 9500;
static atomic_bool g_watchdog_started;

static void *watchdog(void *arg)
{
    struct timespec ts = { .tv_sec = g_deadline_ms / 1000,
                           .tv_nsec = (long)(g_deadline_ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    static const char msg[] = "{\"level\":\"error\",\"msg\":\"shutdown deadline passed; "
                              "forcing exit\"}\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)w;
    _exit(2);
    return NULL;
}

static void start_watchdog(void)
{
    bool expected = false;
    if (!atomic_compare_exchange_strong(&g_watchdog_started, &expected, true))
        return;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &attr, watchdog, NULL);
    pthread_attr_destroy(&attr);
}

static void on_signal(int sig)
{
    if (g_stop) {
        /* second signal: the operator insists */
        static const char msg[] = "{\"level\":\"warn\",\"msg\":\"second signal; exiting now\"}\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        (void)w;
        _exit(130);
    }
    g_stop = 1;
    g_stop_int = 1;
}

int d2ev_signals_install(int deadline_ms)
{
    if (deadline_ms > 0)
        g_deadline_ms = deadline_ms;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
        return D2EV_ERR_IO;
    signal(SIGPIPE, SIG_IGN);
    return D2EV_OK;
}

bool d2ev_signals_stop_requested(void)
{
    if (g_stop) {
        start_watchdog(); /* the first thread to notice arms the deadline */
        return true;
    }
    return false;
}

const volatile int *d2ev_signals_stop_flag(void)
{
    return &g_stop_int;
}

void d2ev_signals_request_stop(void)
{
    g_stop = 1;
    g_stop_int = 1;
}
