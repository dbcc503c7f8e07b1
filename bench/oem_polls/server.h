/*
 * The benchmark's stand-in OEM: a minimal libmicrohttpd server answering every
 * request with a recorded Smartcar batch answer after latency_ms (suspended
 * connections resumed by a timer thread, so latency costs no server thread).
 */
#ifndef D2EV_BENCH_SERVER_H
#define D2EV_BENCH_SERVER_H

#include <stdint.h>

struct bench_server;

/* Start on 127.0.0.1 (a free port, returned in *port). NULL on failure. */
struct bench_server *bench_server_start(int64_t latency_ms, int *port);
void bench_server_stop(struct bench_server *s);

#endif
