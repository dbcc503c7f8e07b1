/*
 * Unit tests of the simulator's model on fixed times (no clock, no HTTP):
 * battery physics, plug pattern, sleep, fleet determinism, tokens, actions.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "d2ev/util.h"
#include "sim.h"

#define T0      1795246198000LL /* 2026-11-21T07:29:58Z */
#define MIN_MS  60000LL
#define HOUR_MS 3600000LL
#define DAY_MS  86400000LL

/* |a - b| <= eps (cmocka 1.1.5 has no assert_double_equal) */
#define assert_near(a, b, eps)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (eps)))                                                             \
            fail_msg("%s = %.12g, want %.12g (+-%g)", #a, a_, b_, (double)(eps));                  \
    } while (0)

static const struct sim_params P = {
    .sleep_after_ms = 15 * MIN_MS,
    .wake_delay_ms = 10000,
    .plug_schedule = false,
    .seed = 1,
};

static struct sim_vehicle car(double soc, float cap, float kw, int limit)
{
    struct sim_vehicle v = { 0 };
    v.soc = soc;
    v.capacity_kwh = cap;
    v.max_kw = kw;
    v.limit = (uint8_t)limit;
    v.wh_per_km = 160;
    v.plug_pct = 100;
    v.plug_min = 18 * 60;
    v.unplug_min = 7 * 60;
    v.action = UINT32_MAX;
    v.updated_ms = T0;
    v.active_ms = T0;
    return v;
}

static void test_soc_rises_only_when_plugged_and_charging(void **state)
{
    struct sim_vehicle v = car(0.5, 60, 11, 90);
    sim_vehicle_advance(&v, &P, 0, T0 + HOUR_MS);
    assert_near(v.soc, 0.5, 1e-12); /* not plugged in */
    sim_vehicle_set_plugged(&v, true, T0 + HOUR_MS);
    sim_vehicle_advance(&v, &P, 0, T0 + 2 * HOUR_MS);
    assert_near(v.soc, 0.5 + 11.0 / 60, 1e-9); /* a car charges by itself */
    sim_vehicle_apply(&v, SIM_CMD_STOP, T0 + 2 * HOUR_MS);
    sim_vehicle_advance(&v, &P, 0, T0 + 3 * HOUR_MS);
    assert_near(v.soc, 0.5 + 11.0 / 60, 1e-9); /* paused */
    sim_vehicle_apply(&v, SIM_CMD_START, T0 + 3 * HOUR_MS);
    sim_vehicle_advance(&v, &P, 0, T0 + 3 * HOUR_MS + HOUR_MS / 2);
    assert_near(v.soc, 0.5 + 16.5 / 60, 1e-9);
    /* unplugging and re-plugging clears a STOP */
    sim_vehicle_apply(&v, SIM_CMD_STOP, v.updated_ms);
    sim_vehicle_set_plugged(&v, false, v.updated_ms);
    sim_vehicle_set_plugged(&v, true, v.updated_ms);
    assert_true(sim_vehicle_charging(&v));
}

static void test_power_tapers_above_80(void **state)
{
    assert_near(sim_charge_power_kw(11, 0.5), 11, 1e-12);
    assert_near(sim_charge_power_kw(11, 0.8), 11, 1e-12);
    assert_near(sim_charge_power_kw(11, 0.9), 6.6, 1e-12);
    assert_near(sim_charge_power_kw(11, 1.0), 2.2, 1e-12);

    /* the closed form agrees with integrating the power curve step by step */
    double euler = 0.75;
    for (int i = 0; i < 3600 * 10; i++)
        euler += sim_charge_power_kw(11, euler) * (0.1 / 3600.0) / 60.0;
    double closed = sim_charge_soc_after(60, 11, 0.75, 1.0, HOUR_MS);
    assert_near(closed, euler, 1e-4);
    assert_true(closed < 0.75 + 11.0 / 60 - 0.01); /* slower than full power */

    /* and it is exact however the interval is cut: one step or 3600 */
    struct sim_vehicle a = car(0.75, 60, 11, 100), b = car(0.75, 60, 11, 100);
    sim_vehicle_set_plugged(&a, true, T0);
    sim_vehicle_set_plugged(&b, true, T0);
    sim_vehicle_advance(&a, &P, 0, T0 + HOUR_MS);
    for (int64_t t = T0; t <= T0 + HOUR_MS; t += 1000)
        sim_vehicle_advance(&b, &P, 0, t);
    assert_near(a.soc, b.soc, 1e-9);
    assert_near(a.soc, closed, 1e-12);
}

static void test_stops_at_limit(void **state)
{
    struct sim_vehicle v = car(0.7, 60, 11, 80);
    sim_vehicle_set_plugged(&v, true, T0);
    int64_t to_limit = sim_charge_time_ms(60, 11, 0.7, 0.8);
    assert_true(llabs(to_limit - (int64_t)(0.1 * 60 / 11 * HOUR_MS)) <= 1);
    struct sim_snapshot s;
    sim_vehicle_snapshot(&v, &P, 0, T0 + to_limit - 1000, &s);
    assert_int_equal(s.state, SIM_CHARGING);
    assert_near(s.power_kw, 11, 1e-9);
    sim_vehicle_snapshot(&v, &P, 0, T0 + 2 * HOUR_MS, &s);
    assert_near(s.soc, 0.8, 0); /* exactly the limit */
    assert_int_equal(s.state, SIM_COMPLETE);
    assert_near(s.power_kw, 0, 0);
    assert_near(s.session_kwh, 6.0, 1e-3);
    assert_int_equal(v.active_ms, T0 + to_limit); /* charging ended then */
    /* raising the limit resumes charging */
    v.limit = 90;
    sim_vehicle_snapshot(&v, &P, 0, T0 + 2 * HOUR_MS + 10 * MIN_MS, &s);
    assert_int_equal(s.state, SIM_CHARGING);
    assert_true(s.soc > 0.8);
}

static void test_energy_accounting(void **state)
{
    struct sim_vehicle v = car(0.3, 75, 7.4f, 80);
    sim_vehicle_set_plugged(&v, true, T0);
    sim_vehicle_advance(&v, &P, 0, T0 + 3 * HOUR_MS);
    assert_near(v.session_kwh, 3 * 7.4, 1e-3);
    assert_near(v.session_kwh, (v.soc - 0.3) * 75, 1e-3);
    sim_vehicle_set_plugged(&v, false, v.updated_ms);
    sim_vehicle_advance(&v, &P, 0, T0 + 5 * HOUR_MS);
    assert_near(v.session_kwh, 3 * 7.4, 1e-3); /* kept until the next session */
    sim_vehicle_set_plugged(&v, true, T0 + 5 * HOUR_MS);
    assert_near(v.session_kwh, 0, 0); /* a new session */
    sim_vehicle_advance(&v, &P, 0, T0 + 6 * HOUR_MS);
    assert_near(v.session_kwh, 7.4, 1e-3);
}

static void test_sleep_after_idle(void **state)
{
    /* charges to its limit, then sleeps 15 minutes later */
    struct sim_vehicle v = car(0.7, 60, 11, 80);
    sim_vehicle_set_plugged(&v, true, T0);
    int64_t done = T0 + sim_charge_time_ms(60, 11, 0.7, 0.8);
    sim_vehicle_advance(&v, &P, 0, done - 1);
    assert_false(sim_vehicle_asleep(&v, &P, done - 1)); /* a charging car is awake */
    sim_vehicle_advance(&v, &P, 0, done + 15 * MIN_MS - 1);
    assert_false(sim_vehicle_asleep(&v, &P, done + 15 * MIN_MS - 1));
    struct sim_snapshot s;
    sim_vehicle_snapshot(&v, &P, 0, done + 15 * MIN_MS, &s);
    assert_true(s.asleep);
    assert_int_equal(s.asleep_since_ms, done + 15 * MIN_MS);

    /* wake_up with a delay: still asleep while waking, then online */
    int64_t w = done + HOUR_MS;
    sim_vehicle_advance(&v, &P, 0, w);
    assert_true(sim_vehicle_wake(&v, &P, w, 10000));
    assert_int_equal(v.wakes, 1);
    assert_true(sim_vehicle_asleep(&v, &P, w + 9999));
    assert_false(sim_vehicle_wake(&v, &P, w + 5000, 10000)); /* already waking: not counted */
    assert_false(sim_vehicle_asleep(&v, &P, w + 10000));
    assert_false(sim_vehicle_wake(&v, &P, w + 10000, 10000)); /* awake: not counted */
    assert_int_equal(v.wakes, 1);
    /* a command is activity: the timer restarts from it */
    sim_vehicle_apply(&v, SIM_CMD_STOP, w + 10 * MIN_MS);
    assert_false(sim_vehicle_asleep(&v, &P, w + 24 * MIN_MS));
    assert_true(sim_vehicle_asleep(&v, &P, w + 25 * MIN_MS));

    /* sleep-after 0: never sleeps */
    struct sim_params never = P;
    never.sleep_after_ms = 0;
    assert_false(sim_vehicle_asleep(&v, &never, w + DAY_MS));
}

static void test_forced_sleep_until_plug_event(void **state)
{
    struct sim_vehicle v = car(0.5, 60, 11, 80);
    v.flags |= SIM_F_FORCED;
    assert_true(sim_vehicle_asleep(&v, &P, T0));
    sim_vehicle_apply(&v, SIM_CMD_START, T0 + 1000); /* does not wake it */
    assert_true(sim_vehicle_asleep(&v, &P, T0 + 2000));
    sim_vehicle_set_plugged(&v, true, T0 + 3000); /* the driver does */
    assert_false(sim_vehicle_asleep(&v, &P, T0 + 3000));
    assert_int_equal(v.wakes, 0); /* not an API wake */
}

static void test_daily_plug_pattern(void **state)
{
    struct sim_params p = P;
    p.plug_schedule = true;
    p.utc_offset_ms = 60 * MIN_MS; /* local = UTC+1 */
    struct sim_vehicle v = car(0.5, 60, 11, 80);
    int64_t t = T0;
    bool expect_plug = false; /* T0 is 08:29 local: the car may still unplug */
    int plugs = 0, unplugs = 0;
    for (int i = 0; i < 40; i++) {
        bool plug;
        int64_t e = sim_next_plug_event(&v, &p, 3, t, &plug);
        assert_true(e > t);
        int64_t local_min = ((e + p.utc_offset_ms) % DAY_MS) / MIN_MS;
        if (plug) {
            assert_in_range(local_min, 18 * 60 - 45, 18 * 60 + 45);
            assert_true(sim_pattern_plugged(&v, &p, 3, e));
            assert_false(sim_pattern_plugged(&v, &p, 3, e - 1));
            plugs++;
        } else {
            assert_in_range(local_min, 7 * 60 - 30, 7 * 60 + 30);
            assert_false(sim_pattern_plugged(&v, &p, 3, e));
            unplugs++;
        }
        if (i > 0)
            assert_int_equal(plug, expect_plug); /* with plug_pct 100 they alternate */
        expect_plug = !plug;
        t = e;
    }
    assert_int_equal(plugs, 20);
    assert_int_equal(unplugs, 20);

    /* a car that never plugs in */
    v.plug_pct = 0;
    for (int64_t x = T0; x < T0 + 7 * DAY_MS; x += HOUR_MS)
        assert_false(sim_pattern_plugged(&v, &p, 3, x));
}

static void test_driving_uses_energy_at_plug_in(void **state)
{
    struct sim_params p = P;
    p.plug_schedule = true;
    struct sim_vehicle v = car(0.6, 60, 11, 80);
    v.updated_ms = v.active_ms = T0 + 3 * HOUR_MS; /* 10:29 UTC: unplugged for the day */
    bool plug;
    int64_t e = sim_next_plug_event(&v, &p, 9, v.updated_ms, &plug);
    assert_true(plug);
    double used = sim_day_drive_kwh(&v, &p, 9, e / DAY_MS);
    assert_true(used >= 5 * 0.16 && used <= 80 * 0.16);
    sim_vehicle_advance(&v, &p, 9, e);
    assert_true(v.flags & SIM_F_PLUGGED);
    assert_near(v.soc, 0.6 - used / 60, 1e-9);
    assert_near(v.session_kwh, 0, 0);
}

static void test_lazy_state_is_exact_at_any_step(void **state)
{
    struct sim_params p = P;
    p.plug_schedule = true;
    struct sim_vehicle a = car(0.2, 77, 11, 90), b;
    a.plug_pct = 80;
    b = a;
    uint64_t rng = 12345;
    int64_t end = T0 + 3 * DAY_MS;
    for (int64_t t = T0; t < end;) {
        t += 1 + (int64_t)(d2ev_rand_next(&rng) % (2 * HOUR_MS));
        if (t > end)
            t = end;
        sim_vehicle_advance(&b, &p, 5, t);
    }
    sim_vehicle_advance(&a, &p, 5, end);
    assert_near(a.soc, b.soc, 1e-9);
    assert_int_equal(a.flags, b.flags);
    assert_int_equal(a.active_ms, b.active_ms);
    assert_near(a.session_kwh, b.session_kwh, 0.01);
}

static void test_fleet_is_deterministic(void **state)
{
    double w[SIM_OEM_COUNT];
    assert_int_equal(sim_parse_mix("smartcar=40,tesla=30,enode=30", w, NULL), 0);
    struct sim_params p = P;
    p.seed = 7;
    struct sim_fleet *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)),
                     *c = calloc(1, sizeof(*c));
    assert_int_equal(sim_fleet_init(a, &p, 10000, w, T0, NULL), 0);
    assert_int_equal(sim_fleet_init(b, &p, 10000, w, T0 + 5 * DAY_MS + 123, NULL), 0);
    p.seed = 8;
    assert_int_equal(sim_fleet_init(c, &p, 10000, w, T0, NULL), 0);
    int counts[SIM_OEM_COUNT] = { 0 }, same_as_c = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        const struct sim_vehicle *x = &a->v[i], *y = &b->v[i];
        assert_memory_equal(x->id, y->id, 16);
        assert_int_equal(x->oem, y->oem);
        assert_true(x->capacity_kwh == y->capacity_kwh && x->max_kw == y->max_kw);
        assert_int_equal(x->limit, y->limit);
        assert_int_equal(x->plug_min, y->plug_min);
        assert_int_equal(x->unplug_min, y->unplug_min);
        assert_true(x->soc == y->soc);
        same_as_c += !memcmp(x->id, c->v[i].id, 16);
        counts[x->oem]++;
        assert_true(x->capacity_kwh >= 40 && x->capacity_kwh <= 100);
        assert_true(x->max_kw >= 3.7f && x->max_kw <= 22);
        assert_in_range(x->plug_min, 17 * 60, 21 * 60);
        assert_in_range(x->unplug_min, 6 * 60 + 30, 8 * 60 + 30);
        char id[40];
        sim_vehicle_id_text(x, id);
        if (x->oem == SIM_TESLA)
            assert_int_equal(strlen(id), 16);
        else
            assert_true(d2ev_uuid_valid(id) && id[14] == '4');
        assert_int_equal(sim_fleet_find(a, (enum sim_oem)x->oem, id), i);
        assert_int_equal(sim_fleet_find_any(a, id), i);
    }
    assert_int_equal(same_as_c, 0);
    assert_in_range(counts[SIM_SMARTCAR], 3700, 4300);
    assert_in_range(counts[SIM_TESLA], 2700, 3300);
    assert_in_range(counts[SIM_ENODE], 2700, 3300);
    assert_int_equal(sim_fleet_find(a, SIM_TESLA, "123"), -1);
    assert_int_equal(sim_fleet_find(a, SIM_SMARTCAR, "not-a-uuid"), -1);
    assert_int_equal(sim_fleet_find_any(a, ""), -1);
    /* per-vehicle state stays compact */
    assert_true(sizeof(struct sim_vehicle) <= 96);
    assert_true(sim_fleet_bytes(a) <= 10000 * (96 + 16));
    sim_fleet_free(a);
    sim_fleet_free(b);
    sim_fleet_free(c);
    free(a);
    free(b);
    free(c);

    /* the mix is honoured */
    struct sim_fleet f;
    assert_int_equal(sim_parse_mix("tesla=1", w, NULL), 0);
    assert_int_equal(sim_fleet_init(&f, &p, 500, w, T0, NULL), 0);
    for (uint32_t i = 0; i < f.n; i++)
        assert_int_equal(f.v[i].oem, SIM_TESLA);
    sim_fleet_free(&f);
}

static void test_mix_errors(void **state)
{
    double w[SIM_OEM_COUNT];
    struct d2ev_err err = { 0 };
    assert_int_not_equal(sim_parse_mix("bmw=1", w, &err), 0);
    assert_non_null(strstr(err.msg, "unknown OEM"));
    assert_int_not_equal(sim_parse_mix("tesla", w, &err), 0);
    assert_int_not_equal(sim_parse_mix("tesla=-1", w, &err), 0);
    assert_int_not_equal(sim_parse_mix("tesla=0,enode=0", w, &err), 0);
    assert_int_not_equal(sim_parse_mix("", w, &err), 0);
}

static void test_tokens(void **state)
{
    struct sim_tokens *t = calloc(1, sizeof(*t));
    assert_int_equal(sim_tokens_init(t, NULL), 0);
    struct sim_tok in = { .kind = SIM_TOK_REFRESH,
                          .oem = SIM_TESLA,
                          .slot = 70000,
                          .gen = 3,
                          .issued_ms = T0 },
                   out;
    char text[72];
    sim_token_format(t, &in, text);
    assert_int_equal(strlen(text), SIM_TOKEN_LEN);
    assert_true(sim_token_parse(t, text, strlen(text), &out));
    assert_int_equal(out.kind, in.kind);
    assert_int_equal(out.oem, in.oem);
    assert_int_equal(out.slot, in.slot);
    assert_int_equal(out.gen, in.gen);
    assert_int_equal(out.issued_ms, in.issued_ms);
    for (size_t i = 0; i < SIM_TOKEN_LEN; i++) { /* any change is caught */
        char bad[72];
        memcpy(bad, text, sizeof(bad));
        bad[i] = bad[i] == '0' ? '1' : '0';
        assert_false(sim_token_parse(t, bad, strlen(bad), &out));
    }
    assert_false(sim_token_parse(t, text, strlen(text) - 1, &out));
    assert_false(sim_token_parse(t, "", 0, &out));
    /* grants: allocated on demand, none beyond the count */
    assert_null(sim_grant_get(t, 0));
    for (int i = 0; i < SIM_GRANT_CHUNK + 5; i++)
        assert_int_equal(sim_grant_new(t), i);
    assert_non_null(sim_grant_get(t, SIM_GRANT_CHUNK + 4));
    assert_null(sim_grant_get(t, SIM_GRANT_CHUNK + 5));
    sim_tokens_free(t);
    free(t);
}

static void test_actions_ring(void **state)
{
    struct sim_actions a;
    assert_int_equal(sim_actions_init(&a, 4, NULL), 0);
    struct sim_action tmpl = { .created_ms = T0,
                               .resolve_ms = T0 + 30000,
                               .vehicle = 7,
                               .kind = SIM_CMD_STOP,
                               .outcome = SIM_ACT_CONFIRMED },
                      rec[5], got;
    char ids[5][37];
    uint32_t slots[5];
    for (int i = 0; i < 5; i++) {
        slots[i] = sim_actions_add(&a, &tmpl, &rec[i]);
        sim_action_id(&rec[i], ids[i]);
        assert_true(d2ev_uuid_valid(ids[i]));
    }
    assert_false(sim_actions_find(&a, ids[0], &got)); /* the ring wrapped */
    assert_true(sim_actions_find(&a, ids[4], &got));
    assert_int_equal(sim_action_state_at(&got, T0 + 29999), SIM_ACT_PENDING);
    assert_int_equal(sim_action_state_at(&got, T0 + 30000), SIM_ACT_CONFIRMED);
    assert_false(sim_actions_cancel(&a, slots[4], 8, T0 + 1)); /* another vehicle's */
    assert_true(sim_actions_cancel(&a, slots[4], 7, T0 + 1));
    assert_true(sim_actions_find(&a, ids[4], &got));
    assert_int_equal(sim_action_state_at(&got, T0 + 60000), SIM_ACT_CANCELLED);
    assert_false(sim_actions_cancel(&a, slots[3], 7, T0 + 40000)); /* already resolved */
    ids[3][0] = ids[3][0] == 'a' ? 'b' : 'a';
    assert_false(sim_actions_find(&a, ids[3], &got));
    assert_false(sim_actions_find(&a, "nonsense", &got));
    sim_actions_free(&a);
}

static void test_form_fields(void **state)
{
    const char *body = "grant_type=authorization_code&codex=1&code=a%2Fb+c&redirect_uri=x%3";
    char out[64];
    assert_true(sim_form_get(body, strlen(body), "code", out, sizeof(out)));
    assert_string_equal(out, "a/b c");
    assert_true(sim_form_get(body, strlen(body), "grant_type", out, sizeof(out)));
    assert_string_equal(out, "authorization_code");
    assert_false(sim_form_get(body, strlen(body), "redirect_uri", out, sizeof(out)));
    assert_false(sim_form_get(body, strlen(body), "client_id", out, sizeof(out)));
    assert_false(sim_form_get(body, strlen(body), "grant_type", out, 5)); /* too long */
    assert_false(sim_form_get("a=%00", 5, "a", out, sizeof(out)));        /* NUL */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_soc_rises_only_when_plugged_and_charging),
        cmocka_unit_test(test_power_tapers_above_80),
        cmocka_unit_test(test_stops_at_limit),
        cmocka_unit_test(test_energy_accounting),
        cmocka_unit_test(test_sleep_after_idle),
        cmocka_unit_test(test_forced_sleep_until_plug_event),
        cmocka_unit_test(test_daily_plug_pattern),
        cmocka_unit_test(test_driving_uses_energy_at_plug_in),
        cmocka_unit_test(test_lazy_state_is_exact_at_any_step),
        cmocka_unit_test(test_fleet_is_deterministic),
        cmocka_unit_test(test_mix_errors),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_actions_ring),
        cmocka_unit_test(test_form_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
