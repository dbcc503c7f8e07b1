/* Unit tests for the declarative configuration (common/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "d2ev/config.h"

struct cfg {
    const char *brokers;
    const char *secret;
    int64_t port;
    double speed;
    bool verbose;
};

#define F(x) offsetof(struct cfg, x)
static const struct d2ev_cfg_entry table[] = {
    { "kafka-brokers", D2EV_CFG_STR, F(brokers), "localhost:9092", "bootstrap servers" },
    { "api-secret", D2EV_CFG_SECRET, F(secret), NULL, "a secret" },
    { "admin-port", D2EV_CFG_INT, F(port), "9100", "port", 0, 65535 },
    { "speed", D2EV_CFG_DOUBLE, F(speed), "1.5", "speed", 0.1, 100 },
    { "verbose", D2EV_CFG_BOOL, F(verbose), "false", "chatty" },
    D2EV_CFG_END,
};
static const struct d2ev_cfg_program prog = { "d2ev-test", "A test program." };

static int load(struct cfg *c, int argc, char **argv, bool *exit_now, struct d2ev_err *err,
                FILE *out)
{
    memset(c, 0, sizeof(*c));
    struct d2ev_cfg_section s = { "Test", table, c };
    struct d2ev_config *h = NULL;
    int rc = d2ev_config_load(&h, &prog, &s, 1, argc, argv, out, exit_now, err);
    d2ev_config_destroy(h);
    return rc;
}

static void clear_env(void)
{
    unsetenv("D2EV_KAFKA_BROKERS");
    unsetenv("D2EV_API_SECRET");
    unsetenv("D2EV_API_SECRET_FILE");
    unsetenv("D2EV_ADMIN_PORT");
    unsetenv("D2EV_SPEED");
    unsetenv("D2EV_VERBOSE");
}

static void test_defaults(void **state)
{
    clear_env();
    struct cfg c;
    bool ex;
    struct d2ev_err err = { 0 };
    char *argv[] = { "prog", NULL };
    assert_int_equal(load(&c, 1, argv, &ex, &err, NULL), 0);
    assert_false(ex);
    assert_string_equal(c.brokers, "localhost:9092");
    assert_null(c.secret);
    assert_int_equal(c.port, 9100);
    assert_true(c.speed > 1.49 && c.speed < 1.51);
    assert_false(c.verbose);
}

static void test_env_then_flags_win(void **state)
{
    clear_env();
    setenv("D2EV_KAFKA_BROKERS", "env:1", 1);
    setenv("D2EV_ADMIN_PORT", "7000", 1);
    struct cfg c;
    bool ex;
    struct d2ev_err err = { 0 };
    char *argv[] = { "prog", "--admin-port=8000", "--verbose", "--speed", "3", NULL };
    assert_int_equal(load(&c, 5, argv, &ex, &err, NULL), 0);
    assert_string_equal(c.brokers, "env:1");
    assert_int_equal(c.port, 8000);
    assert_true(c.verbose);
    assert_true(c.speed == 3.0);
    char *argv2[] = { "prog", "--no-verbose", NULL };
    setenv("D2EV_VERBOSE", "true", 1);
    assert_int_equal(load(&c, 2, argv2, &ex, &err, NULL), 0);
    assert_false(c.verbose);
    clear_env();
}

static void test_errors_name_the_setting(void **state)
{
    clear_env();
    struct cfg c;
    bool ex;
    struct d2ev_err err = { 0 };
    char *a1[] = { "prog", "--admin-port=70000", NULL };
    assert_int_equal(load(&c, 2, a1, &ex, &err, NULL), D2EV_ERR_INVALID);
    assert_non_null(strstr(err.msg, "--admin-port"));
    assert_non_null(strstr(err.msg, "65535"));

    char *a2[] = { "prog", "--bogus=1", NULL };
    assert_int_equal(load(&c, 2, a2, &ex, &err, NULL), D2EV_ERR_INVALID);
    assert_non_null(strstr(err.msg, "unknown option --bogus"));

    setenv("D2EV_SPEED", "fast", 1);
    char *a3[] = { "prog", NULL };
    assert_int_equal(load(&c, 1, a3, &ex, &err, NULL), D2EV_ERR_INVALID);
    assert_non_null(strstr(err.msg, "D2EV_SPEED"));
    clear_env();

    char *a4[] = { "prog", "stray", NULL };
    assert_int_equal(load(&c, 2, a4, &ex, &err, NULL), D2EV_ERR_INVALID);
    assert_non_null(strstr(err.msg, "stray"));

    char *a5[] = { "prog", "--speed", NULL };
    assert_int_equal(load(&c, 2, a5, &ex, &err, NULL), D2EV_ERR_INVALID);
    assert_non_null(strstr(err.msg, "needs a value"));
}

static void test_required(void **state)
{
    clear_env();
    struct d2ev_cfg_entry req[] = {
        { "must-have", D2EV_CFG_STR, F(brokers), NULL, "needed", 0, 0, true },
        D2EV_CFG_END,
    };
    struct cfg c = { 0 };
    struct d2ev_cfg_section s = { "T", req, &c };
    struct d2ev_config *h = NULL;
    bool ex;
    struct d2ev_err err = { 0 };
    char *argv[] = { "prog", NULL };
    assert_int_equal(d2ev_config_load(&h, &prog, &s, 1, 1, argv, NULL, &ex, &err),
                     D2EV_ERR_INVALID);
    assert_non_null(strstr(err.msg, "D2EV_MUST_HAVE"));
    d2ev_config_destroy(h);
}

static void test_secret_file_and_help_never_prints_it(void **state)
{
    clear_env();
    char path[] = "/tmp/d2ev-secret-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hunter2-secret\n", 15), 15);
    close(fd);
    setenv("D2EV_API_SECRET_FILE", path, 1);
    struct cfg c;
    bool ex;
    struct d2ev_err err = { 0 };
    char *argv[] = { "prog", NULL };
    struct d2ev_cfg_section s = { "Test", table, &c };
    struct d2ev_config *h = NULL;
    memset(&c, 0, sizeof(c));
    assert_int_equal(d2ev_config_load(&h, &prog, &s, 1, 1, argv, NULL, &ex, &err), 0);
    assert_string_equal(c.secret, "hunter2-secret"); /* trailing newline trimmed */
    d2ev_config_destroy(h);

    /* both forms at once is ambiguous */
    setenv("D2EV_API_SECRET", "x", 1);
    assert_int_equal(load(&c, 1, argv, &ex, &err, NULL), D2EV_ERR_INVALID);
    unsetenv("D2EV_API_SECRET");
    unlink(path);
    /* a missing file is an error naming the variable */
    assert_int_equal(load(&c, 1, argv, &ex, &err, NULL), D2EV_ERR_IO);
    assert_non_null(strstr(err.msg, "D2EV_API_SECRET_FILE"));
    clear_env();

    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    char *ha[] = { "prog", "--help", NULL };
    setenv("D2EV_API_SECRET", "hunter2-secret", 1);
    assert_int_equal(load(&c, 2, ha, &ex, &err, out), 0);
    fclose(out);
    assert_true(ex);
    assert_non_null(strstr(buf, "--admin-port=INT"));
    assert_non_null(strstr(buf, "D2EV_ADMIN_PORT"));
    assert_non_null(strstr(buf, "range 0..65535"));
    assert_null(strstr(buf, "hunter2"));
    free(buf);
    clear_env();
}

static void test_markdown_and_version(void **state)
{
    struct cfg c;
    bool ex;
    struct d2ev_err err = { 0 };
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    char *a[] = { "prog", "--help-markdown", NULL };
    assert_int_equal(load(&c, 2, a, &ex, &err, out), 0);
    fclose(out);
    assert_true(ex);
    assert_non_null(
        strstr(buf, "| `D2EV_KAFKA_BROKERS` | `--kafka-brokers` | STR | `localhost:9092` |"));
    free(buf);

    out = open_memstream(&buf, &len);
    char *v[] = { "prog", "--version", NULL };
    assert_int_equal(load(&c, 2, v, &ex, &err, out), 0);
    fclose(out);
    assert_true(ex);
    assert_non_null(strstr(buf, "d2ev-test " D2EV_VERSION));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_env_then_flags_win),
        cmocka_unit_test(test_errors_name_the_setting),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_secret_file_and_help_never_prints_it),
        cmocka_unit_test(test_markdown_and_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
