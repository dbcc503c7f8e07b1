/*
 * The d2ev-oemsim binary: --help/--version, admin endpoints, the scaled
 * clock from the environment, determinism across processes, shutdown.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev_test.h"
#include "simtest.h"

struct sim_proc {
    struct d2ev_test_proc proc;
    int port, admin;
    char base[64];
};

static const char *tmpdir;

static void start(struct sim_proc *s, const char *name, const char *seed, const char *const *env)
{
    char port[32], admin[32];
    s->port = d2ev_test_free_port();
    s->admin = d2ev_test_free_port();
    snprintf(port, sizeof(port), "--sim-port=%d", s->port);
    snprintf(admin, sizeof(admin), "--admin-port=%d", s->admin);
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
    const char *argv[] = {
        port, admin, "--sim-vehicles=200", seed, "--sim-bind=127.0.0.1", "--admin-bind=127.0.0.1",
        NULL
    };
    d2ev_test_spawn(&s->proc, tmpdir, name, d2ev_test_bin("d2ev-oemsim"), argv, env);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", s->admin);
    if (!d2ev_test_wait_http(url, 200, 20000))
        fail_msg("%s did not become ready (see %s)", name, s->proc.log_path);
}

static json_t *get(struct sim_proc *s, const char *path)
{
    char url[256], *body = NULL;
    snprintf(url, sizeof(url), "%s%s", s->base, path);
    long st = d2ev_test_http("GET", url, NULL, NULL, 0, &body);
    if (st != 200)
        fail_msg("GET %s: %ld %s", url, st, body ? body : "");
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    return j;
}

/* Run to completion; returns the exit status. */
static int run(const char *name, const char *const *argv)
{
    struct d2ev_test_proc p;
    d2ev_test_spawn(&p, tmpdir, name, d2ev_test_bin("d2ev-oemsim"), argv, NULL);
    return d2ev_test_stop(&p, 0, 20000); /* signal 0: just wait */
}

static void test_help_and_version(void **state)
{
    const char *help[] = { "--help", NULL }, *version[] = { "--version", NULL };
    assert_int_equal(run("help", help), 0);
    char log[600];
    snprintf(log, sizeof(log), "%s/help.log", tmpdir);
    assert_true(d2ev_test_grep_count(log, "--sim-vehicles") == 1);
    assert_true(d2ev_test_grep_count(log, "D2EV_SIM_RATE_LIMIT_VEHICLE_PER_MIN") == 1);
    assert_true(d2ev_test_grep_count(log, "sim-smartcar-client-secret") == 1);
    assert_int_equal(d2ev_test_grep_count(log, "sim-smartcar-secret"), 0); /* never printed */
    assert_int_equal(run("version", version), 0);
    snprintf(log, sizeof(log), "%s/version.log", tmpdir);
    assert_int_equal(d2ev_test_grep_count(log, "d2ev-oemsim 0.1.0"), 1);
    const char *bad_mix[] = { "--sim-oem-mix=bmw=1", "--admin-port=0", "--sim-port=0", NULL };
    assert_int_equal(run("badmix", bad_mix), 64);
    const char *bad_n[] = { "--sim-vehicles=-1", NULL };
    assert_int_equal(run("badn", bad_n), 64);
}

struct charged_arg {
    struct sim_proc *s;
    const char *path;
};

/* Has the car taken in more than 0.5 kWh? */
static bool charged(void *opaque)
{
    struct charged_arg *a = opaque;
    json_t *v = get(a->s, a->path);
    double e = json_number_value(json_object_get(v, "energy_added_kwh"));
    json_decref(v);
    return e > 0.5;
}

static void test_serves_on_the_scaled_clock(void **state)
{
    char origin[64], start_at[64];
    snprintf(origin, sizeof(origin), "D2EV_CLOCK_ORIGIN=%lld", (long long)d2ev_clock_real_ms());
    snprintf(start_at, sizeof(start_at), "D2EV_CLOCK_START=%lld", SIMTEST_T0);
    const char *env[] = { "D2EV_CLOCK_SPEED=600", origin, start_at, NULL };
    struct sim_proc s;
    start(&s, "scaled", "--sim-seed=7", env);

    char url[128], *body = NULL;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", s.admin);
    assert_int_equal(d2ev_test_http("GET", url, NULL, NULL, 0, NULL), 200);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", s.admin);
    assert_int_equal(d2ev_test_http("GET", url, NULL, NULL, 0, &body), 200);
    assert_non_null(strstr(body, "d2ev_oemsim_vehicles 200"));
    assert_non_null(
        strstr(body, "d2ev_oemsim_requests_total{oem=\"tesla\",endpoint=\"vehicle_data\"}"));
    free(body);

    json_t *c = get(&s, "/_sim/clock");
    assert_string_equal(json_string_value(json_object_get(c, "mode")), "scaled");
    assert_true(json_number_value(json_object_get(c, "speed")) == 600);
    assert_true(json_integer_value(json_object_get(c, "now_ms")) >= SIMTEST_T0);
    json_decref(c);

    /* a plugged-in car charges as simulated time runs (10 minutes a second) */
    json_t *list = get(&s, "/_sim/vehicles?limit=1");
    const char *id = json_string_value(
        json_object_get(json_array_get(json_object_get(list, "vehicles"), 0), "id"));
    char path[256];
    snprintf(url, sizeof(url), "%s/_sim/vehicles/%s/state", s.base, id);
    const char *state_body =
        "{\"plugged\": true, \"soc\": 20, \"limit\": 100, \"charging_paused\": false}";
    assert_int_equal(d2ev_test_http("POST", url, NULL, state_body, strlen(state_body), NULL), 200);
    snprintf(path, sizeof(path), "/_sim/vehicles/%s", id);
    json_decref(list);
    struct charged_arg arg = { &s, path };
    if (!d2ev_test_wait(charged, &arg, 20000))
        fail_msg("no energy added after 20 s at speed 600");
    assert_int_equal(d2ev_test_stop(&s.proc, SIGTERM, 10000), 0);
}

static void test_same_seed_same_fleet(void **state)
{
    struct sim_proc a, b, c;
    start(&a, "seed7a", "--sim-seed=7", NULL);
    start(&b, "seed7b", "--sim-seed=7", NULL);
    start(&c, "seed8", "--sim-seed=8", NULL);
    json_t *la = get(&a, "/_sim/vehicles?limit=1000"), *lb = get(&b, "/_sim/vehicles?limit=1000"),
           *lc = get(&c, "/_sim/vehicles?limit=1000");
    const char *fields[] = {
        "id",           "oem",         "capacity_kwh",   "max_power_kw",          "limit",
        "plug_in_time", "unplug_time", "plug_in_chance", "consumption_wh_per_km", "vin",
        "user_id",      "vendor"
    };
    size_t i, same_c = 0;
    json_t *va;
    json_array_foreach(json_object_get(la, "vehicles"), i, va)
    {
        json_t *vb = json_array_get(json_object_get(lb, "vehicles"), i);
        json_t *vc = json_array_get(json_object_get(lc, "vehicles"), i);
        for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
            assert_true(
                json_equal(json_object_get(va, fields[k]), json_object_get(vb, fields[k])) ||
                (!json_object_get(va, fields[k]) && !json_object_get(vb, fields[k])));
        same_c += json_equal(json_object_get(va, "id"), json_object_get(vc, "id"));
    }
    assert_int_equal(i, 200);
    assert_int_equal(same_c, 0);
    json_decref(la);
    json_decref(lb);
    json_decref(lc);
    assert_int_equal(d2ev_test_stop(&a.proc, SIGTERM, 10000), 0);
    assert_int_equal(d2ev_test_stop(&b.proc, SIGTERM, 10000), 0);
    assert_int_equal(d2ev_test_stop(&c.proc, SIGTERM, 10000), 0);
}

int main(void)
{
    tmpdir = d2ev_test_tmpdir("oemsim");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_serves_on_the_scaled_clock),
        cmocka_unit_test(test_same_seed_same_fleet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
