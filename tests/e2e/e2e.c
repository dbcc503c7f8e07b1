/* e2e.c: the end-to-end tests' shared set-up (see e2e.h). */
#include "e2e.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "d2ev/clock.h"
#include "d2ev/httpc.h"
#include "d2ev/log.h"
#include "d2ev_test.h"

void e2e_start(struct demo_platform *p, struct demo_fleet *f, struct demo_conf *conf,
               const char *tag, int cars, int seed, double speed)
{
    static char run[512];
    d2ev_log_init("e2e", D2EV_LOG_WARN);
    snprintf(run, sizeof(run), "%s", d2ev_test_tmpdir(tag));
    int64_t now = d2ev_clock_real_ms();
    conf->bin_dir = D2EV_BIN_DIR;
    conf->adapter_dir = D2EV_ADAPTER_BUILD_DIR;
    conf->run_dir = run;
    conf->cars = cars;
    conf->seed = seed;
    conf->speed = speed;
    conf->sim_start_ms = now - now % 86400000 + 16 * 3600000LL;
    conf->partitions = 4;
    conf->fixed_ports = false;
    conf->region = "GB";
    struct d2ev_err err = { 0 };
    if (demo_platform_start(p, conf, &err) != D2EV_OK)
        fail_msg("platform: %s", err.msg);
    memset(f, 0, sizeof(*f));
    int linked = demo_fleet_link(p, f, 60000, &err);
    if (linked != cars)
        fail_msg("%d of %d cars linked: %s", linked, cars, err.msg);
}

json_t *e2e_commands_of(const struct demo_platform *p, const struct demo_car *c)
{
    char url[256], base[64], *body = NULL;
    demo_url(p, DEMO_OEMSIM, false, base);
    snprintf(url, sizeof(url), "%s/_sim/vehicles/%s/commands", base, c->sim_id);
    long st = d2ev_httpc_request("GET", url, NULL, NULL, 0, 10000, &body, NULL);
    json_t *j = st == 200 && body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    if (!j)
        fail_msg("GET %s answered %ld", url, st);
    return j;
}

void e2e_watch(struct demo_platform *p, struct demo_fleet *f, int nap_ms)
{
    struct demo_status st;
    struct d2ev_err err = { 0 };
    demo_observe(p, f, &st, &err);
    for (int s = 0; s < DEMO_NSVC; s++)
        if (p->proc[s].pid > 0 && !d2ev_proc_alive(&p->proc[s]))
            fail_msg("%s died; see %s", demo_svc_name(s), p->proc[s].log_path);
    struct timespec ts = { nap_ms / 1000, (long)(nap_ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

void e2e_summary(struct demo_platform *p, struct demo_fleet *f, struct demo_summary *sum)
{
    demo_collect_sessions(p, f);
    demo_summarize(f, sum);
    demo_summary_print(stdout, sum);
    demo_print_misses(stdout, f);
}

bool e2e_is_stop(const char *cmd)
{
    return cmd && (!strcmp(cmd, "STOP") || !strcmp(cmd, "charge_stop"));
}

bool e2e_is_start(const char *cmd)
{
    return cmd && (!strcmp(cmd, "START") || !strcmp(cmd, "charge_start"));
}
