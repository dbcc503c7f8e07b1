/* clock.c: real, scaled and manual clocks behind one function (see d2ev/clock.h). */
#include "d2ev/clock.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "d2ev/timefmt.h"

static struct {
    _Atomic int mode;
    int64_t origin_ms;         /* scaled: real time at which sim == start */
    int64_t start_ms;          /* scaled: sim time at origin */
    double speed;              /* scaled: factor */
    _Atomic int64_t manual_ms; /* manual: current time */
} g_clock = { .mode = D2EV_CLOCK_REAL, .speed = 1.0 };

static int64_t timespec_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t d2ev_clock_real_ms(void)
{
    return timespec_ms(CLOCK_REALTIME);
}

int64_t d2ev_clock_mono_ms(void)
{
    return timespec_ms(CLOCK_MONOTONIC);
}

int64_t d2ev_clock_now_ms(void)
{
    switch (atomic_load(&g_clock.mode)) {
    case D2EV_CLOCK_SCALED: {
        double elapsed = (double)(d2ev_clock_real_ms() - g_clock.origin_ms);
        return g_clock.start_ms + (int64_t)llround(elapsed * g_clock.speed);
    }
    case D2EV_CLOCK_MANUAL:
        return atomic_load(&g_clock.manual_ms);
    default:
        return d2ev_clock_real_ms();
    }
}

void d2ev_clock_use_real(void)
{
    g_clock.speed = 1.0;
    atomic_store(&g_clock.mode, D2EV_CLOCK_REAL);
}

int d2ev_clock_use_scaled(int64_t origin_ms, int64_t start_ms, double speed, struct d2ev_err *err)
{
    if (!(speed > 0.0 && speed <= 100000.0))
        return d2ev_err_set(err, D2EV_ERR_INVALID, "clock speed must be > 0 and <= 100000, got %g",
                            speed);
    g_clock.origin_ms = origin_ms;
    g_clock.start_ms = start_ms;
    g_clock.speed = speed;
    atomic_store(&g_clock.mode, D2EV_CLOCK_SCALED);
    return D2EV_OK;
}

static int parse_instant(const char *name, const char *s, int64_t *out, struct d2ev_err *err)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == 0 && end != s && *end == '\0') {
        *out = v;
        return D2EV_OK;
    }
    if (d2ev_time_parse(s, out, err) != D2EV_OK)
        return d2ev_err_prefix(err, "%s", name);
    return D2EV_OK;
}

int d2ev_clock_configure(const char *speed, const char *origin, const char *start,
                         struct d2ev_err *err)
{
    double f = 1.0;
    if (speed && *speed) {
        char *end = NULL;
        f = strtod(speed, &end);
        if (end == speed || *end != '\0')
            return d2ev_err_set(err, D2EV_ERR_INVALID, "clock speed '%.32s' is not a number",
                                speed);
    }
    int64_t o = d2ev_clock_real_ms();
    if (origin && *origin && parse_instant("clock origin", origin, &o, err) != D2EV_OK)
        return err ? err->code : D2EV_ERR_INVALID;
    int64_t s = o;
    if (start && *start && parse_instant("clock start", start, &s, err) != D2EV_OK)
        return err ? err->code : D2EV_ERR_INVALID;
    if (f == 1.0 && s == o) {
        d2ev_clock_use_real();
        return D2EV_OK;
    }
    return d2ev_clock_use_scaled(o, s, f, err);
}

void d2ev_clock_set_manual(int64_t now_ms)
{
    atomic_store(&g_clock.manual_ms, now_ms);
    atomic_store(&g_clock.mode, D2EV_CLOCK_MANUAL);
}

void d2ev_clock_advance_ms(int64_t delta_ms)
{
    if (atomic_load(&g_clock.mode) == D2EV_CLOCK_MANUAL)
        atomic_fetch_add(&g_clock.manual_ms, delta_ms);
}

enum d2ev_clock_mode d2ev_clock_mode(void)
{
    return (enum d2ev_clock_mode)atomic_load(&g_clock.mode);
}

double d2ev_clock_speed(void)
{
    return atomic_load(&g_clock.mode) == D2EV_CLOCK_SCALED ? g_clock.speed : 1.0;
}

int64_t d2ev_clock_to_real_ms(int64_t sim_ms)
{
    if (sim_ms <= 0)
        return 0;
    return (int64_t)ceil((double)sim_ms / d2ev_clock_speed());
}

bool d2ev_clock_sleep_until(int64_t until_ms, int64_t max_real_ms, const volatile int *stop)
{
    if (d2ev_clock_mode() == D2EV_CLOCK_MANUAL)
        return d2ev_clock_now_ms() >= until_ms;
    int64_t deadline = d2ev_clock_mono_ms() + max_real_ms;
    for (;;) {
        if (stop && *stop)
            return false;
        int64_t left_sim = until_ms - d2ev_clock_now_ms();
        if (left_sim <= 0)
            return true;
        int64_t left_real = d2ev_clock_to_real_ms(left_sim);
        int64_t budget = deadline - d2ev_clock_mono_ms();
        if (budget <= 0)
            return false;
        int64_t nap = left_real;
        if (nap > budget)
            nap = budget;
        if (nap > 50)
            nap = 50;
        struct timespec ts = { .tv_sec = nap / 1000, .tv_nsec = (nap % 1000) * 1000000 };
        nanosleep(&ts, NULL);
    }
}
