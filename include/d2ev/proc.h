/*
 * Child processes for the tools that run the platform on one machine (the
 * demo, the end-to-end tests): start a binary with extra environment and its
 * output in a log file, signal it, and wait for it with a deadline.
 *
 * A child gets SIGTERM when the process that started it dies, so a crashed
 * test or demo never leaves the platform running.
 *
 * Ownership: struct d2ev_proc is the caller's value; strings passed in are
 * copied or only used during the call. Not thread-safe per process value.
 */
#ifndef D2EV_PROC_H
#define D2EV_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "d2ev/error.h"

struct d2ev_proc {
    pid_t pid; /* > 0 while started and not yet reaped */
    char name[64];
    char log_path[512]; /* stdout and stderr of the child (appended) */
};

/* Start bin with argv (NULL-terminated, without argv[0]; may be NULL) and env
 * entries "K=V" added to this process's environment (NULL-terminated; may be
 * NULL). Output is appended to log_path. Returns 0, or D2EV_ERR_IO. */
int d2ev_proc_spawn(struct d2ev_proc *p, const char *name, const char *bin, const char *const *argv,
                    const char *const *env, const char *log_path, struct d2ev_err *err);

/* True while the process runs (reaps it when it has exited). */
bool d2ev_proc_alive(struct d2ev_proc *p);

/* Send sig (0 = none) and wait up to timeout_ms for exit; SIGKILL after.
 * Returns the exit status (0..255), 128+signal when killed by a signal, or
 * -1 when it had to be SIGKILLed or was not running. */
int d2ev_proc_stop(struct d2ev_proc *p, int sig, int timeout_ms);

#endif
