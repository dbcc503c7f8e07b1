/* Unit tests: d2ev-registration's memory of answered requests (idempotency
 * by request id and by idempotency key), without Kafka. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "reg_outcomes.h"

static struct d2ev_reg_result result(const char *rid, const char *vid, bool accepted,
                                     const char *code, const char *reason)
{
    struct d2ev_reg_result r;
    memset(&r, 0, sizeof(r));
    snprintf(r.request_id, sizeof(r.request_id), "%s", rid);
    snprintf(r.vehicle_id, sizeof(r.vehicle_id), "%s", vid);
    r.action = D2EV_REG_UPDATE_PREFERENCES;
    r.accepted = accepted;
    snprintf(r.code, sizeof(r.code), "%s", code);
    snprintf(r.reason, sizeof(r.reason), "%s", reason);
    return r;
}

static void test_by_request_id_and_by_key(void **state)
{
    struct reg_outcomes *o = reg_outcomes_create(100);
    struct d2ev_reg_result r = result("req-1", "v-1", false, "invalid_preferences",
                                      "min_soc: must not be above target_soc (95 > 90)");
    assert_int_equal(reg_outcomes_put(o, &r, 3, "idem-1"), 0);
    const struct reg_outcome *got = reg_outcomes_find(o, "req-1");
    assert_non_null(got);
    assert_false(got->accepted);
    assert_string_equal(got->code, "invalid_preferences");
    assert_string_equal(got->reason, "min_soc: must not be above target_soc (95 > 90)");
    assert_null(reg_outcomes_find(o, "req-2"));

    /* another request id with the same vehicle, action and key: the first answer */
    got = reg_outcomes_find_key(o, "v-1", D2EV_REG_UPDATE_PREFERENCES, "idem-1");
    assert_non_null(got);
    assert_string_equal(got->request_id, "req-1");
    assert_null(reg_outcomes_find_key(o, "v-2", D2EV_REG_UPDATE_PREFERENCES, "idem-1"));
    assert_null(reg_outcomes_find_key(o, "v-1", D2EV_REG_DEREGISTER, "idem-1"));
    assert_null(reg_outcomes_find_key(o, "v-1", D2EV_REG_UPDATE_PREFERENCES, ""));

    /* a later request reusing the key does not move the key to itself */
    struct d2ev_reg_result r2 = result("req-2", "v-1", true, "ok", "");
    assert_int_equal(reg_outcomes_put(o, &r2, 3, "idem-1"), 0);
    got = reg_outcomes_find_key(o, "v-1", D2EV_REG_UPDATE_PREFERENCES, "idem-1");
    assert_string_equal(got->request_id, "req-1");
    assert_int_equal(reg_outcomes_count(o), 2);

    /* answered again with the same id (a re-delivery): one entry, same answer */
    assert_int_equal(reg_outcomes_put(o, &r, 3, "idem-1"), 0);
    assert_int_equal(reg_outcomes_count(o), 2);
    assert_non_null(reg_outcomes_find_key(o, "v-1", D2EV_REG_UPDATE_PREFERENCES, "idem-1"));
    reg_outcomes_destroy(o);
}

static void test_bounded_and_dropped_by_partition(void **state)
{
    struct reg_outcomes *o = reg_outcomes_create(4);
    for (int i = 0; i < 6; i++) {
        char rid[16], key[16];
        snprintf(rid, sizeof(rid), "req-%d", i);
        snprintf(key, sizeof(key), "k-%d", i);
        struct d2ev_reg_result r = result(rid, "v-1", true, "ok", "");
        assert_int_equal(reg_outcomes_put(o, &r, i % 2, key), 0);
    }
    assert_int_equal(reg_outcomes_count(o), 4);
    assert_null(reg_outcomes_find(o, "req-0")); /* the oldest are forgotten first */
    assert_null(reg_outcomes_find(o, "req-1"));
    assert_null(reg_outcomes_find_key(o, "v-1", D2EV_REG_UPDATE_PREFERENCES, "k-1"));
    assert_non_null(reg_outcomes_find(o, "req-5"));
    reg_outcomes_drop_partition(o, 1); /* revoked: req-3 and req-5 */
    assert_int_equal(reg_outcomes_count(o), 2);
    assert_null(reg_outcomes_find(o, "req-5"));
    assert_null(reg_outcomes_find_key(o, "v-1", D2EV_REG_UPDATE_PREFERENCES, "k-3"));
    assert_non_null(reg_outcomes_find(o, "req-4"));
    assert_non_null(reg_outcomes_find_key(o, "v-1", D2EV_REG_UPDATE_PREFERENCES, "k-2"));
    reg_outcomes_destroy(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_request_id_and_by_key),
        cmocka_unit_test(test_bounded_and_dropped_by_partition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
