/* proc.c: start, signal and reap child processes (see d2ev/proc.h). */
#include "d2ev/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "d2ev/clock.h"
#include "d2ev/util.h"

int d2ev_proc_spawn(struct d2ev_proc *p, const char *name, const char *bin, const char *const *argv,
                    const char *const *env, const char *log_path, struct d2ev_err *err)
{
    memset(p, 0, sizeof(*p));
    d2ev_strlcpy(p->name, name, sizeof(p->name));
    d2ev_strlcpy(p->log_path, log_path, sizeof(p->log_path));
    if (access(bin, X_OK) != 0)
        return d2ev_err_set(err, D2EV_ERR_IO, "%s: cannot run %s: %s", name, bin, strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return d2ev_err_set(err, D2EV_ERR_IO, "%s: fork: %s", name, strerror(errno));
    if (pid == 0) {
        /* die with the parent: a crashed test or demo leaves no orphans */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127); /* the parent is already gone */
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        for (const char *const *e = env; e && *e; e++)
            putenv((char *)*e);
        const char *args[64];
        size_t n = 0;
        args[n++] = bin;
        for (const char *const *a = argv; a && *a && n < 63; a++)
            args[n++] = *a;
        args[n] = NULL;
        execv(bin, (char *const *)args);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    p->pid = pid;
    return D2EV_OK;
}

bool d2ev_proc_alive(struct d2ev_proc *p)
{
    if (p->pid <= 0)
        return false;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
        p->pid = -1;
        return false;
    }
    return r == 0;
}

int d2ev_proc_stop(struct d2ev_proc *p, int sig, int timeout_ms)
{
    if (p->pid <= 0)
        return -1;
    if (sig)
        kill(p->pid, sig);
    int64_t deadline = d2ev_clock_mono_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->pid = -1;
            if (WIFEXITED(st))
                return WEXITSTATUS(st);
            if (WIFSIGNALED(st))
                return 128 + WTERMSIG(st);
            return -1;
        }
        if (d2ev_clock_mono_ms() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            p->pid = -1;
            return -1;
        }
        struct timespec ts = { 0, 10 * 1000000 };
        nanosleep(&ts, NULL);
    }
}
