/*
 * Graceful shutdown: SIGTERM and SIGINT set a flag that every loop checks.
 * A second signal, or the deadline passing, ends the process at once (logged),
 * so a pod always exits within its termination grace period.
 * SIGPIPE is ignored (sockets report EPIPE instead).
 */
#ifndef D2EV_SIGNALS_H
#define D2EV_SIGNALS_H

#include <stdbool.h>

/* Install the handlers. deadline_ms: how long after the first signal the
 * process may take before it is forced to exit (status 2). 0 = 9500. */
int d2ev_signals_install(int deadline_ms);

/* True once SIGTERM/SIGINT arrived or d2ev_signals_request_stop was called. */
bool d2ev_signals_stop_requested(void);

/* Pointer to the flag, for d2ev_clock_sleep_until(). */
const volatile int *d2ev_signals_stop_flag(void);

/* Ask the process to stop as if SIGTERM had arrived (tests, fatal errors). */
void d2ev_signals_request_stop(void);

#endif
