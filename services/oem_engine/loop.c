/* loop.c: the OEM engine's network wait, on epoll and libcurl's socket interface.
 *
 * curl_multi_poll()/curl_multi_perform() look at every transfer on every call,
 * which costs O(transfers) per wake-up: with thousands of requests in flight
 * that dominated the engine's CPU (bench/oem_polls). Here curl tells us which
 * sockets to watch (CURLMOPT_SOCKETFUNCTION) and when its next timeout is due
 * (CURLMOPT_TIMERFUNCTION); epoll reports only the sockets that are ready, and
 * curl_multi_socket_action() runs only their transfers. An eventfd in the same
 * epoll set makes d2ev_oem_engine_wakeup() work from other threads. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "engine_internal.h"

#define MAX_EVENTS 256

/* curl: start, change or stop watching socket s. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct d2ev_oem_engine *e = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, s, NULL);
        curl_multi_assign(e->multi, s, NULL);
        return 0;
    }
    struct epoll_event ev = { .data.fd = s };
    if (what & CURL_POLL_IN)
        ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev.events |= EPOLLOUT;
    bool known = socketp != NULL;
    if (epoll_ctl(e->epfd, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) != 0) {
        /* a socket number reused before curl told us it was removed */
        if (epoll_ctl(e->epfd, known ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s, &ev) != 0) {
            d2ev_log_error("OEM engine: epoll_ctl failed", D2EV_LF_STR("error", strerror(errno)));
            return -1;
        }
    }
    if (!known)
        curl_multi_assign(e->multi, s, e); /* any non-NULL marks "registered" */
    return 0;
}

/* curl: call socket_action(CURL_SOCKET_TIMEOUT) in timeout_ms (-1: no timer). */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct d2ev_oem_engine *e = userp;
    e->curl_timer_at = timeout_ms < 0 ? -1 : d2ev_clock_mono_ms() + timeout_ms;
    return 0;
}

int engine_loop_init(struct d2ev_oem_engine *e)
{
    e->curl_timer_at = -1;
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (e->epfd < 0 || e->evfd < 0)
        return D2EV_ERR_IO;
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = e->evfd };
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->evfd, &ev) != 0)
        return D2EV_ERR_IO;
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
    return D2EV_OK;
}

void engine_loop_fini(struct d2ev_oem_engine *e)
{
    if (e->epfd >= 0)
        close(e->epfd);
    if (e->evfd >= 0)
        close(e->evfd);
    e->epfd = e->evfd = -1;
}

/* The earliest of wait_ms and curl's own timer. */
static int64_t bounded_wait(const struct d2ev_oem_engine *e, int64_t wait_ms)
{
    if (e->curl_timer_at >= 0) {
        int64_t t = e->curl_timer_at - d2ev_clock_mono_ms();
        if (t < wait_ms)
            wait_ms = t < 0 ? 0 : t;
    }
    return wait_ms;
}

int engine_loop_wait(struct d2ev_oem_engine *e, int64_t wait_ms)
{
    struct epoll_event ev[MAX_EVENTS];
    int n = epoll_wait(e->epfd, ev, MAX_EVENTS, (int)bounded_wait(e, wait_ms));
    if (n < 0 && errno != EINTR) {
        d2ev_log_error("OEM engine: epoll_wait failed", D2EV_LF_STR("error", strerror(errno)));
        return D2EV_ERR_IO;
    }
    int running = 0;
    for (int i = 0; i < n; i++) {
        if (ev[i].data.fd == e->evfd) {
            uint64_t v;
            ssize_t r = read(e->evfd, &v, sizeof(v)); /* just a wake-up */
            (void)r;
            continue;
        }
        int flags = 0;
        if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            flags |= CURL_CSELECT_IN;
        if (ev[i].events & (EPOLLOUT | EPOLLERR))
            flags |= CURL_CSELECT_OUT;
        if (ev[i].events & EPOLLERR)
            flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(e->multi, ev[i].data.fd, flags, &running);
    }
    if (e->curl_timer_at >= 0 && d2ev_clock_mono_ms() >= e->curl_timer_at) {
        e->curl_timer_at = -1;
        curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(e->multi, &left))) {
        if (m->msg == CURLMSG_DONE)
            engine_on_answer(e, m->easy_handle, m->data.result);
    }
    return D2EV_OK;
}

void engine_loop_wakeup(struct d2ev_oem_engine *e)
{
    uint64_t one = 1;
    ssize_t r = write(e->evfd, &one, sizeof(one));
    (void)r;
}
