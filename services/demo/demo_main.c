/*
 * demo_main.c: d2ev-demo, the README's run command. It starts the whole
 * platform on this machine on a scaled clock, links a mixed fleet of
 * simulated cars through the bridge, shows the night as it happens, and
 * sums it up: targets met, energy shifted, cost and carbon against the
 * charge-at-plug-in baseline.
 */
#include "demo_main.h"

#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "d2ev/signals.h"
#include "d2ev/timefmt.h"
#include "d2ev/util.h"
#include "demo.h"

struct demo_settings {
    int64_t cars;
    int64_t seed;
    double speed;
    const char *start;
    double hours;
    const char *run_dir;
    const char *bin_dir;
    const char *adapter_dir;
    const char *data_dir;
    const char *region;
    int64_t partitions;
    bool keep_running;
    bool check;
    bool fixed_ports;
};

#define F(x) offsetof(struct demo_settings, x)
static const struct d2ev_cfg_entry demo_table[] = {
    { "cars", D2EV_CFG_INT, F(cars), "50", "simulated cars, across Smartcar, Tesla and Enode", 1,
      1000 },
    { "seed", D2EV_CFG_INT, F(seed), "7", "fleet and forecast seed (same seed, same night)", 0,
      1000000 },
    { "speed", D2EV_CFG_DOUBLE, F(speed), "300", "simulated seconds per real second", 1, 5000 },
    { "start", D2EV_CFG_STR, F(start), NULL,
      "simulated start (RFC 3339); default today 16:00 UTC, or a winter day of the data" },
    { "hours", D2EV_CFG_DOUBLE, F(hours), "17",
      "simulated hours to run (the evening, the night and the morning departures)", 1, 96 },
    { "run-dir", D2EV_CFG_STR, F(run_dir), ".run", "logs, generated secrets, configs, exports" },
    { "bin-dir", D2EV_CFG_STR, F(bin_dir), NULL, "the d2ev binaries (default: beside d2ev-demo)" },
    { "adapter-dir", D2EV_CFG_STR, F(adapter_dir), NULL,
      "the OEM adapters (default: <bin-dir>/../adapters)" },
    { "data-dir", D2EV_CFG_STR, F(data_dir), NULL,
      "real price and carbon CSV files (../shared/data); default: the forecast generator" },
    { "region", D2EV_CFG_STR, F(region), "GB", "forecast region of the fleet" },
    { "partitions", D2EV_CFG_INT, F(partitions), "6", "partitions of the devbroker's topics", 1,
      64 },
    { "keep-running", D2EV_CFG_BOOL, F(keep_running), "false",
      "after the summary, keep the platform up until Ctrl-C" },
    { "check", D2EV_CFG_BOOL, F(check), "false",
      "exit 1 unless every feasible target was met and cost was below the baseline" },
    { "fixed-ports", D2EV_CFG_BOOL, F(fixed_ports), "true",
      "use the documented ports (false: any free ports)" },
    D2EV_CFG_END,
};
#undef F

static const char *agile_csv =
    "uk_agile_import_export_2022-11-01_2023-12-20_ukLocalTime_regionUnstated.csv";
static const char *carbon_csv = "uk_carbon_intensity_national_2023_neso_api.csv";

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int resolve_dirs(struct demo_settings *s, char *bin, char *adapters, size_t size)
{
    if (s->bin_dir) {
        d2ev_strlcpy(bin, s->bin_dir, size);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
            return -1;
        self[n] = '\0';
        d2ev_strlcpy(bin, dirname(self), size);
    }
    if (s->adapter_dir)
        d2ev_strlcpy(adapters, s->adapter_dir, size);
    else
        snprintf(adapters, size, "%s/../adapters", bin);
    return 0;
}

static int demo_run(struct d2ev_service *svc, void *config)
{
    struct demo_settings *s = config;
    /* stopping a dozen processes takes longer than one service's drain */
    d2ev_signals_install(120000);
    char bin[PATH_MAX], adapters[PATH_MAX], price_path[PATH_MAX], carbon_path[PATH_MAX];
    if (resolve_dirs(s, bin, adapters, sizeof(bin)) != 0) {
        fprintf(stderr, "d2ev-demo: cannot find the d2ev binaries; pass --bin-dir\n");
        return D2EV_EXIT_USAGE;
    }
    struct demo_conf conf = {
        .bin_dir = bin,
        .adapter_dir = adapters,
        .run_dir = s->run_dir,
        .cars = (int)s->cars,
        .seed = (int)s->seed,
        .speed = s->speed,
        .partitions = (int)s->partitions,
        .fixed_ports = s->fixed_ports,
        .region = s->region,
    };
    /* real data when it is there, else the project's own generator */
    if (s->data_dir) {
        snprintf(price_path, sizeof(price_path), "%s/%s", s->data_dir, agile_csv);
        snprintf(carbon_path, sizeof(carbon_path), "%s/%s", s->data_dir, carbon_csv);
        if (access(price_path, R_OK) == 0 && access(carbon_path, R_OK) == 0) {
            conf.forecast_csv = price_path;
            conf.forecast_format = "agile";
            conf.carbon_csv = carbon_path;
        } else {
            printf("d2ev-demo: no real data in %s; using the forecast generator\n", s->data_dir);
        }
    }
    struct d2ev_err err = { 0 };
    if (s->start) {
        if (d2ev_time_parse(s->start, &conf.sim_start_ms, &err) != D2EV_OK) {
            fprintf(stderr, "d2ev-demo: --start: %s\n", err.msg);
            return D2EV_EXIT_USAGE;
        }
    } else if (conf.forecast_csv) {
        d2ev_time_parse("2023-01-17T16:00:00Z", &conf.sim_start_ms, NULL); /* a winter Tuesday */
    } else {
        int64_t now = d2ev_clock_real_ms();
        conf.sim_start_ms = now - now % 86400000 + 16 * 3600000LL;
    }
    char t[D2EV_TIME_STR_MAX];
    printf("d2ev-demo: starting the platform (%d cars, %gx, simulated start %s)\n", (int)s->cars,
           s->speed, d2ev_time_format(conf.sim_start_ms, t));
    printf("  forecasts: %s\n", conf.forecast_csv ? "real UK Agile prices and NESO carbon intensity"
                                                  : "the d2ev-forecast generator");
    printf("  logs: %s/logs/\n", s->run_dir);
    fflush(stdout);

    struct demo_platform p;
    struct demo_fleet fleet = { 0 };
    int status = D2EV_EXIT_FAILURE;
    if (demo_platform_start(&p, &conf, &err) != D2EV_OK) {
        fprintf(stderr, "d2ev-demo: %s\n", err.msg);
        goto out;
    }
    char api[64], bridge_url[64];
    demo_url(&p, DEMO_API, false, api);
    demo_url(&p, DEMO_BRIDGE, false, bridge_url);
    printf("  Kafka (devbroker): %s   kcat -L -b %s\n", p.bootstrap, p.bootstrap);
    printf("  ops UI:  %s/ui/fleet\n", api);
    printf("  ops API: %s/v1/fleet/summary  (Authorization: Bearer %s)\n", api, p.api_read_token);
    printf("linking the fleet through %s ...\n", bridge_url);
    fflush(stdout);
    int linked = demo_fleet_link(&p, &fleet, 60000, &err);
    if (linked < 0) {
        fprintf(stderr, "d2ev-demo: %s\n", err.msg);
        goto out;
    }
    printf("  %d of %zu cars linked\n\n", linked, fleet.n);
    int64_t until = conf.sim_start_ms + (int64_t)(s->hours * 3600000.0);
    bool tty = isatty(STDOUT_FILENO);
    int64_t last_print = 0;
    struct demo_status st;
    while (d2ev_service_running(svc) && d2ev_clock_now_ms() < until) {
        d2ev_service_heartbeat(svc);
        demo_observe(&p, &fleet, &st, &err);
        char line[256];
        demo_status_line(&st, line, sizeof(line));
        if (tty) {
            printf("\r%s ", line);
        } else if (d2ev_clock_mono_ms() - last_print >= 10000) {
            printf("%s\n", line); /* a log, not a live line */
            last_print = d2ev_clock_mono_ms();
        }
        fflush(stdout);
        sleep_ms(1000);
    }
    if (!d2ev_service_running(svc)) {
        printf("\ninterrupted\n");
        status = D2EV_EXIT_OK;
        goto out;
    }
    demo_collect_sessions(&p, &fleet);
    struct demo_summary sum;
    demo_summarize(&fleet, &sum);
    demo_summary_print(stdout, &sum);
    demo_print_misses(stdout, &fleet);
    fflush(stdout);
    status = D2EV_EXIT_OK;
    if (s->check && (sum.missed_feasible > 0 || sum.checked == 0 ||
                     (sum.baseline_cost > 0 && sum.cost >= sum.baseline_cost))) {
        fprintf(stderr, "d2ev-demo: --check failed\n");
        status = D2EV_EXIT_FAILURE;
    }
    if (s->keep_running) {
        printf("\nthe platform keeps running; Ctrl-C stops it\n");
        fflush(stdout);
        while (d2ev_service_running(svc)) {
            d2ev_service_heartbeat(svc);
            sleep_ms(200);
        }
    }
out:
    demo_fleet_free(&fleet);
    printf("\nstopping the platform...\n");
    fflush(stdout);
    int bad = demo_platform_stop(&p);
    if (bad)
        fprintf(stderr, "d2ev-demo: %d process(es) did not stop cleanly; see %s/logs\n", bad,
                s->run_dir);
    return status;
}

const struct d2ev_service_def d2ev_demo_def = {
    .name = "demo",
    .summary = "Run the whole d2ev platform on this machine: the devbroker, the OEM simulator\n"
               "with a mixed fleet, every service and a forecast source, on a scaled clock so a\n"
               "night passes in minutes. Shows the night live and prints a summary: targets\n"
               "met, energy shifted, cost and carbon against the charge-at-plug-in baseline.",
    .default_admin_port = 0,
    .needs_kafka = false,
    .config_title = "Demo",
    .config = demo_table,
    .config_size = sizeof(struct demo_settings),
    .run = demo_run,
};
