/*
 * The read path telemetry and dispatch use, end to end: cars linked through
 * the real adapters, their sealed records read back from Kafka into a
 * credentials view, and the OEM engine reading each car from d2ev-oemsim with
 * the view as its token source (per-vehicle OAuth for Smartcar and Tesla, the
 * engine's own client-credentials token for Enode).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "credview.h"
#include "d2ev/clock.h"
#include "d2ev/log.h"
#include "d2ev/oem.h"
#include "d2ev/topics.h"
#include "d2ev_test_fleet.h"

struct result {
    int done;
    uint32_t cls;
    double soc;
    char message[200];
};

static void on_read(void *arg, const struct d2ev_oem_outcome *out)
{
    struct result *r = arg;
    r->done = 1;
    r->cls = out->cls;
    if (out->state)
        r->soc = out->state->soc_pct;
    snprintf(r->message, sizeof(r->message), "%s", out->message ? out->message : "");
}

static void test_read_every_oem_through_the_view(void **state)
{
    d2ev_log_init("test", D2EV_LOG_WARN);
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s", d2ev_test_tmpdir("credview-sim"));
    struct d2ev_test_broker broker;
    d2ev_test_broker_start(&broker, tmp, 4);
    struct d2ev_test_oemsim sim;
    const char *args[] = { "--sim-plug-schedule=false", NULL };
    d2ev_test_oemsim_start(&sim, tmp, 30, 5, args, NULL);
    char *keys = d2ev_keyring_generate("k1");
    struct d2ev_keyring *kr = d2ev_keyring_parse(keys, NULL);

    const char *oems[] = { "smartcar", "tesla", "enode" };
    struct d2ev_test_car cars[3];
    for (int i = 0; i < 3; i++) {
        json_t *ids = d2ev_test_oemsim_ids(&sim, oems[i], 1);
        assert_int_equal(json_array_size(ids), 1);
        char vid[32];
        snprintf(vid, sizeof(vid), "v-%s", oems[i]);
        d2ev_test_link_car(&sim, broker.bootstrap, kr, json_string_value(json_array_get(ids, 0)),
                           vid, NULL, &cars[i]);
        json_decref(ids);
    }
    /* the records are on Kafka, tokens only in sealed form */
    json_t *vehicles = d2ev_test_read_topic(broker.bootstrap, D2EV_TOPIC_VEHICLES, 3, 10000);
    assert_int_equal(json_array_size(vehicles), 3);
    json_decref(vehicles);
    json_t *creds = d2ev_test_read_topic(broker.bootstrap, D2EV_TOPIC_CREDENTIALS, 2, 10000);
    assert_int_equal(json_array_size(creds), 2); /* Enode's token is per application */

    struct d2ev_kafka_conf kc = { .brokers = broker.bootstrap, .client_id = "t" };
    struct d2ev_producer *p = d2ev_producer_create(&kc, NULL);
    struct d2ev_credview_conf cc = { .keyring = kr, .producer = p, .service = "test" };
    struct d2ev_credview *cv = d2ev_credview_create(&cc, NULL);
    size_t i;
    json_t *row;
    json_array_foreach(creds, i, row)
    {
        const char *raw = json_string_value(json_object_get(row, "raw"));
        const char *key = json_string_value(json_object_get(row, "key"));
        assert_null(strstr(raw, "access_token"));
        rd_kafka_message_t m = {
            .key = (void *)key, .key_len = strlen(key), .payload = (void *)raw, .len = strlen(raw)
        };
        assert_int_equal(d2ev_credview_apply(cv, &m, NULL), 0);
    }
    json_decref(creds);

    struct d2ev_err err = { 0 };
    struct d2ev_oem_engine_conf ec = { .tokens = d2ev_credview_token_source(cv) };
    struct d2ev_oem_engine *e = d2ev_oem_engine_create(&ec, &err);
    assert_non_null(e);
    d2ev_credview_attach(cv, e);
    struct d2ev_oem *loaded[3];
    for (int k = 0; k < 3; k++) {
        loaded[k] = d2ev_oem_open(D2EV_ADAPTER_BUILD_DIR, sim.config_dir, oems[k], &err);
        if (!loaded[k])
            fail_msg("%s", err.msg);
        if (d2ev_oem_engine_add(e, loaded[k], &err))
            fail_msg("add %s: %s", oems[k], err.msg);
    }
    /* awake and plugged in, so each read returns data (a sleeping car would
     * answer "asleep", which routine reads must accept rather than wake it) */
    for (int k = 0; k < 3; k++) {
        char path[200];
        snprintf(path, sizeof(path), "/vehicles/%s/state", cars[k].oem_vehicle_id);
        json_decref(d2ev_test_oemsim_post(&sim, path, "{\"asleep\":false,\"plugged\":true}"));
    }
    struct result res[3] = { 0 };
    for (int k = 0; k < 3; k++) {
        struct d2ev_oem_task t = { .oem = cars[k].oem,
                                   .op = D2EV_OEM_OP_READ,
                                   .vehicle = cars[k].oem_vehicle_id,
                                   .key = cars[k].vehicle_id };
        assert_int_equal(d2ev_oem_engine_submit(e, &t, on_read, &res[k], NULL, &err), 0);
    }
    int64_t deadline = d2ev_clock_mono_ms() + 20000;
    while ((!res[0].done || !res[1].done || !res[2].done) && d2ev_clock_mono_ms() < deadline)
        d2ev_oem_engine_poll(e, 50);
    for (int k = 0; k < 3; k++) {
        if (!res[k].done || res[k].cls != D2EV_OEM_OK)
            fail_msg("read of %s failed: %s", oems[k], res[k].message);
        char path[200];
        snprintf(path, sizeof(path), "/vehicles/%s", cars[k].oem_vehicle_id);
        json_t *truth = d2ev_test_oemsim_get(&sim, path);
        double soc = json_number_value(json_object_get(truth, "soc"));
        /* the OEM reports whole percent (Tesla) or a fraction; allow for rounding */
        assert_true(res[k].soc > soc - 1.0 && res[k].soc < soc + 1.0);
        json_decref(truth);
    }
    assert_int_equal(d2ev_credview_refresh_requests(cv), 0);
    d2ev_oem_engine_destroy(e);
    for (int k = 0; k < 3; k++)
        d2ev_oem_unload(loaded[k]);
    d2ev_credview_destroy(cv);
    d2ev_producer_destroy(p);
    d2ev_keyring_destroy(kr);
    free(keys);
    d2ev_test_oemsim_stop(&sim);
    d2ev_test_broker_stop(&broker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_every_oem_through_the_view),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
