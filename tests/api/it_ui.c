/*
 * The UI in a real browser: headless Chromium loads the pages from an
 * in-process API (sample fleet, no Kafka), signing in the documented way
 * (?token= once, then the cookie), and we check the rendered DOM for the
 * chart's elements and labels. Screenshots go to the build directory
 * (D2EV_API_TEST_OUT). Exits 77 (skipped) when no Chromium is installed;
 * scripts/deps.sh test installs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "apitest.h"
#include "d2ev/clock.h"

static struct apitest_server g;
static char g_chromium[512];
static const char *g_tmp;

static bool find_chromium(void)
{
    static const char *const names[] = { "chromium", "chromium-browser", "google-chrome",
                                         "google-chrome-stable" };
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s", path ? path : "/usr/bin:/bin");
    for (char *save, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            snprintf(g_chromium, sizeof(g_chromium), "%s/%s", d, names[i]);
            if (access(g_chromium, X_OK) == 0)
                return true;
        }
    }
    return false;
}

/* Run Chromium headless on url with one extra flag; stdout to out_path.
 * Returns the exit status (-1 on a timeout). */
static int chromium(const char *flag, const char *url, const char *out_path)
{
    static int run;
    char profile[600], profile_arg[640], log[600];
    snprintf(profile, sizeof(profile), "%s/profile-%d", g_tmp, run);
    snprintf(profile_arg, sizeof(profile_arg), "--user-data-dir=%s", profile);
    snprintf(log, sizeof(log), "%s/chromium-%d.log", g_tmp, run++);
    const char *argv[] = { g_chromium,
                           "--headless",
                           "--no-sandbox",
                           "--disable-gpu",
                           "--disable-quic",
                           "--no-first-run",
                           "--disable-background-networking",
                           "--disable-component-update",
                           "--disable-sync",
                           "--disable-dev-shm-usage",
                           "--hide-scrollbars",
                           profile_arg,
                           "--window-size=1100,1200",
                           flag,
                           url,
                           NULL };
    pid_t pid = fork();
    if (pid == 0) {
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(out, 1);
        dup2(err, 2);
        setpgid(0, 0);
        execv(g_chromium, (char *const *)argv);
        _exit(127);
    }
    int64_t deadline = d2ev_clock_mono_ms() + 90000;
    for (;;) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (d2ev_clock_mono_ms() > deadline) {
            kill(-pid, SIGKILL); /* its own process group: the renderers too */
            waitpid(pid, &st, 0);
            return -1;
        }
        struct timespec ts = { 0, 50 * 1000000 };
        nanosleep(&ts, NULL);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

static char *dump_dom(const char *path_and_query)
{
    char url[512], out[600];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", g.port, path_and_query);
    snprintf(out, sizeof(out), "%s/dom.html", g_tmp);
    int rc = chromium("--dump-dom", url, out);
    if (rc != 0)
        fail_msg("chromium --dump-dom exited %d (logs in %s)", rc, g_tmp);
    return slurp(out);
}

static void screenshot(const char *path_and_query, const char *name)
{
    const char *dir = getenv("D2EV_API_TEST_OUT");
    char url[512], file[700], flag[760], out[600];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", g.port, path_and_query);
    snprintf(file, sizeof(file), "%s/%s", dir ? dir : g_tmp, name);
    snprintf(flag, sizeof(flag), "--screenshot=%s", file);
    snprintf(out, sizeof(out), "%s/screenshot.out", g_tmp);
    unlink(file);
    int rc = chromium(flag, url, out);
    if (rc != 0)
        fail_msg("chromium --screenshot exited %d (logs in %s)", rc, g_tmp);
    struct stat st;
    if (stat(file, &st) != 0 || st.st_size < 10000)
        fail_msg("no usable screenshot at %s", file);
    FILE *f = fopen(file, "rb");
    unsigned char sig[8] = { 0 };
    assert_int_equal(fread(sig, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
    print_message("screenshot: %s (%lld bytes)\n", file, (long long)st.st_size);
}

static void test_vehicle_page(void **state)
{
    /* signing in as documented: ?token= once; the redirect keeps it in a cookie */
    char *dom = dump_dom("/ui/vehicles/v-1?token=" APITEST_READ);
    assert_non_null(dom);
    assert_non_null(strstr(dom, "<svg id=\"schedule-chart\""));
    assert_int_equal(apitest_count(dom, "class=\"window\""), 2);
    assert_int_equal(apitest_count(dom, "class=\"price\""), 1);
    assert_int_equal(apitest_count(dom, "class=\"carbon\""), 1);
    assert_int_equal(apitest_count(dom, "class=\"soc-plan\""), 1);
    assert_int_equal(apitest_count(dom, "class=\"ready-by\""), 1);
    assert_int_equal(apitest_count(dom, "class=\"target\""), 1);
    assert_non_null(strstr(dom, "ready by 07:30"));
    assert_non_null(strstr(dom, "target 80 %"));
    assert_non_null(strstr(dom, "Vehicle v-1"));
    assert_non_null(strstr(dom, "<table id=\"windows\">"));
    /* the browser ended on the page without the token in its URL */
    assert_null(strstr(dom, APITEST_READ));
    free(dom);
    screenshot("/ui/vehicles/v-1?token=" APITEST_READ, "api_ui_vehicle.png");
}

static void test_fleet_page(void **state)
{
    char *dom = dump_dom("/ui/fleet?token=" APITEST_READ);
    assert_non_null(strstr(dom, "<svg id=\"fleet-states\""));
    assert_int_equal(apitest_count(dom, "class=\"bar\""), 5);
    assert_non_null(strstr(dom, "href=\"/ui/vehicles/v-1\""));
    assert_non_null(strstr(dom, "href=\"/ui/vehicles/v-2\""));
    assert_non_null(strstr(dom, "Recent alerts"));
    free(dom);
    screenshot("/ui/fleet?token=" APITEST_READ, "api_ui_fleet.png");
}

static void test_without_a_token_it_is_refused(void **state)
{
    char *dom = dump_dom("/ui/fleet");
    assert_non_null(strstr(dom, "Error 401"));
    assert_null(strstr(dom, "fleet-states"));
    free(dom);
}

int main(void)
{
    if (!find_chromium()) {
        fprintf(stderr, "SKIP: no chromium in PATH; install it with scripts/deps.sh test "
                        "(apt-get install chromium)\n");
        return 77;
    }
    g_tmp = strdup(d2ev_test_tmpdir("api-ui"));
    apitest_start(&g, false);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vehicle_page),
        cmocka_unit_test(test_fleet_page),
        cmocka_unit_test(test_without_a_token_it_is_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    apitest_stop(&g);
    free((void *)g_tmp);
    return rc;
}
