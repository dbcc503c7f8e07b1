/*
 * Sample d2ev events for tests: one valid, fully populated struct per message
 * type, so every test that needs "a telemetry sample" or "a schedule with two
 * windows" starts from the same known-good value and changes what it tests.
 *
 * Ownership: samples with heap members (credentials, registration request,
 * forecast, capacity, schedule) allocate them; release them with the type's
 * d2ev_<type>_clear(). The others are plain values.
 */
#ifndef D2EV_TEST_EVENTS_H
#define D2EV_TEST_EVENTS_H

#include <jansson.h>
#include <string.h>

#include "d2ev/events.h"

/* 2026-11-21T07:30:00.250Z: "now" in the samples. */
#define D2EV_TEST_T0 1795246200250LL
/* 2026-11-21T07:30:00Z: T0 rounded down to a 30-minute slot. */
#define D2EV_TEST_SLOT0 1795246200000LL

void d2ev_test_sample_prefs(struct d2ev_prefs *p);
void d2ev_test_sample_vehicle(struct d2ev_vehicle *v);
void d2ev_test_sample_credentials(struct d2ev_credentials *c);
void d2ev_test_sample_reg_request(struct d2ev_reg_request *r);
void d2ev_test_sample_reg_result(struct d2ev_reg_result *r);
void d2ev_test_sample_telemetry(struct d2ev_telemetry *t);
void d2ev_test_sample_session(struct d2ev_session *s);
void d2ev_test_sample_forecast(struct d2ev_forecast *f);
void d2ev_test_sample_capacity(struct d2ev_capacity *c);
void d2ev_test_sample_schedule(struct d2ev_schedule *s);
void d2ev_test_sample_dispatch(struct d2ev_dispatch *d);
void d2ev_test_sample_notification(struct d2ev_notification *n);
void d2ev_test_sample_control(struct d2ev_control *c);

/* Every message type behind one interface, for tests that go over all of
 * them: sample fills a struct of `size` bytes, encode/decode/clear call the
 * type's d2ev_<type>_* function (clear is a no-op for plain structs). */
struct d2ev_test_codec {
    const char *type; /* envelope type, e.g. "registration.request" */
    const char *topic;
    size_t size;
    void (*sample)(void *out);
    json_t *(*encode)(const void *in);
    int (*decode)(const void *buf, size_t len, void *out, struct d2ev_err *err);
    void (*clear)(void *v);
};

extern const struct d2ev_test_codec d2ev_test_codecs[];
extern const size_t d2ev_test_ncodecs;
/* The codec of a type; fails the test when there is none. */
const struct d2ev_test_codec *d2ev_test_codec(const char *type);
/* The encoded sample of a type (a new reference). */
json_t *d2ev_test_sample_json(const char *type);
/* Decode buf as type and release the result; returns the decoder's code. */
int d2ev_test_decode(const char *type, const void *buf, size_t len, struct d2ev_err *err);

/* Compact JSON text of j; the caller frees it. Fails the test on error. */
char *d2ev_test_dump(const json_t *j);

/* Assert that a call returned code and that err.msg contains needle. */
#define D2EV_ASSERT_ERR(rc, err, want_code, needle)                                                \
    do {                                                                                           \
        int rc_ = (rc);                                                                            \
        if (rc_ != (want_code) || (err).code != (want_code) || !strstr((err).msg, (needle)))       \
            fail_msg("want %s containing \"%s\", got rc %s: %s", d2ev_rc_name(want_code),          \
                     (needle), d2ev_rc_name(rc_), (err).msg);                                      \
    } while (0)

#endif
