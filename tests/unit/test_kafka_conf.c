/* Unit tests for the librdkafka configuration builder (common/kafka_conf.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "d2ev/error.h"
#include "d2ev/kafka.h"

static const char *get(rd_kafka_conf_t *c, const char *name, char *buf, size_t size)
{
    size_t n = size;
    return rd_kafka_conf_get(c, name, buf, &n) == RD_KAFKA_CONF_OK ? buf : NULL;
}

/* Producers get the Java-compatible partitioner; consumers do not (librdkafka
 * warns about a producer property on a consumer). */
static void test_partitioner_only_for_producers(void **state)
{
    (void)state;
    struct d2ev_kafka_conf k = { .brokers = "127.0.0.1:9092", .client_id = "t" };
    struct d2ev_err err = { 0 };
    char buf[128];
    rd_kafka_conf_t *p = d2ev_kafka_conf_build_producer(&k, &err);
    assert_non_null(p);
    assert_string_equal(get(p, "partitioner", buf, sizeof(buf)), "murmur2_random");
    assert_string_equal(get(p, "bootstrap.servers", buf, sizeof(buf)), "127.0.0.1:9092");
    rd_kafka_conf_destroy(p);

    rd_kafka_conf_t *c = d2ev_kafka_conf_build(&k, &err);
    assert_non_null(c);
    const char *part = get(c, "partitioner", buf, sizeof(buf));
    assert_true(part == NULL || strcmp(part, "murmur2_random") != 0);
    rd_kafka_conf_destroy(c);
}

static void test_errors_name_the_setting(void **state)
{
    (void)state;
    struct d2ev_err err = { 0 };
    struct d2ev_kafka_conf none = { .brokers = "" };
    assert_null(d2ev_kafka_conf_build_producer(&none, &err));
    assert_non_null(strstr(err.msg, "D2EV_KAFKA_BROKERS"));

    struct d2ev_kafka_conf bad = { .brokers = "h:1", .extra = "linger.ms" };
    assert_null(d2ev_kafka_conf_build(&bad, &err));
    assert_non_null(strstr(err.msg, "kafka-extra"));

    struct d2ev_kafka_conf unknown = { .brokers = "h:1", .extra = "no.such.property=1" };
    assert_null(d2ev_kafka_conf_build(&unknown, &err));
    assert_non_null(strstr(err.msg, "no.such.property"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partitioner_only_for_producers),
        cmocka_unit_test(test_errors_name_the_setting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
