/*
 * sim_faults.c: injected faults, per OEM. Rate limits are token buckets on
 * the simulated clock (so Retry-After is in simulated seconds, and tests on
 * the manual clock are exact): one per application (per OEM) and one per
 * vehicle. Vehicle buckets (40 bytes a vehicle) are allocated the first time
 * a per-vehicle limit is switched on, so a fleet without one does not pay.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "d2ev/clock.h"
#include "d2ev/util.h"
#include "sim.h"

static _Thread_local uint64_t rng_state;
static _Thread_local bool rng_seeded;

static uint64_t *rng(void)
{
    if (!rng_seeded) {
        rng_state = d2ev_rand_seed();
        rng_seeded = true;
    }
    return &rng_state;
}

double sim_rand_unit(void)
{
    return d2ev_rand_unit(rng());
}

uint64_t sim_rand_u64(void)
{
    return d2ev_rand_next(rng());
}

int sim_faults_check(const struct sim_faults *f, struct d2ev_err *err)
{
    if (f->latency_ms < 0 || f->latency_ms > 60000)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "latency_ms: must be between 0 and 60000");
    if (f->jitter_ms < 0 || f->jitter_ms > 60000)
        return d2ev_err_set(err, D2EV_ERR_INVALID, "jitter_ms: must be between 0 and 60000");
    const struct {
        const char *name;
        double v, max;
    } nums[] = {
        { "error_rate", f->error_rate, 1 },
        { "ignore_rate", f->ignore_rate, 1 },
        { "action_fail_rate", f->action_fail_rate, 1 },
        { "vehicle_rate_per_min", f->vehicle_rate_per_min, 1e6 },
        { "vehicle_burst", f->vehicle_burst, 1e6 },
        { "app_rate_per_min", f->app_rate_per_min, 1e9 },
        { "app_burst", f->app_burst, 1e9 },
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (!(nums[i].v >= 0 && nums[i].v <= nums[i].max))
            return d2ev_err_set(err, D2EV_ERR_INVALID, "%s: must be between 0 and %g", nums[i].name,
                                nums[i].max);
    return D2EV_OK;
}

static double burst_of(double burst)
{
    return burst >= 1 ? burst : 1;
}

int sim_faults_init(struct sim_faultset *fs, const struct sim_faults *initial, uint32_t nvehicles,
                    struct d2ev_err *err)
{
    memset(fs, 0, sizeof(*fs));
    if (sim_faults_check(initial, err))
        return d2ev_err_prefix(err, "faults");
    pthread_rwlock_init(&fs->lock, NULL);
    pthread_mutex_init(&fs->app_lock, NULL);
    fs->nvehicles = nvehicles;
    for (int i = 0; i < SIM_OEM_COUNT; i++)
        if (sim_faults_set(fs, (enum sim_oem)i, initial, err))
            return d2ev_err_prefix(err, "faults");
    return D2EV_OK;
}

void sim_faults_free(struct sim_faultset *fs)
{
    free(atomic_load(&fs->vehicle));
    atomic_store(&fs->vehicle, NULL);
    pthread_rwlock_destroy(&fs->lock);
    pthread_mutex_destroy(&fs->app_lock);
}

void sim_faults_get(struct sim_faultset *fs, enum sim_oem oem, struct sim_faults *out)
{
    pthread_rwlock_rdlock(&fs->lock);
    *out = fs->f[oem];
    pthread_rwlock_unlock(&fs->lock);
}

int sim_faults_set(struct sim_faultset *fs, enum sim_oem oem, const struct sim_faults *in,
                   struct d2ev_err *err)
{
    if (sim_faults_check(in, err))
        return err ? err->code : D2EV_ERR_INVALID;
    int rc = D2EV_OK;
    pthread_rwlock_wrlock(&fs->lock);
    /* Readers take the read lock before they use the buckets, so the array
     * is visible to anyone who sees the new settings. */
    if (in->vehicle_rate_per_min > 0 && !atomic_load(&fs->vehicle)) {
        atomic_store(&fs->vehicle,
                     calloc(fs->nvehicles ? fs->nvehicles : 1, sizeof(struct d2ev_token_bucket)));
        if (!atomic_load(&fs->vehicle))
            rc = d2ev_err_set(err, D2EV_ERR_NOMEM, "faults: out of memory for vehicle buckets");
    }
    if (rc == D2EV_OK)
        fs->f[oem] = *in; /* buckets re-initialise themselves on new settings */
    pthread_rwlock_unlock(&fs->lock);
    return rc;
}

/* Take a token; re-initialise the bucket (full) when the settings changed. */
static int64_t take(struct d2ev_token_bucket *tb, double per_min, double burst, int64_t now)
{
    double rate = per_min / 60.0;
    burst = burst_of(burst);
    if (tb->rate != rate || tb->burst != burst)
        d2ev_token_bucket_init(tb, rate, burst, now);
    if (d2ev_token_bucket_take(tb, now, 1))
        return 0;
    int64_t wait_ms = d2ev_token_bucket_wait_ms(tb, now, 1);
    int64_t s = (wait_ms + 999) / 1000;
    return s < 1 ? 1 : s;
}

int64_t sim_faults_take_app(struct sim_faultset *fs, const struct sim_faults *f, enum sim_oem oem,
                            int64_t now)
{
    if (f->app_rate_per_min <= 0)
        return 0;
    pthread_mutex_lock(&fs->app_lock);
    int64_t r = take(&fs->app[oem], f->app_rate_per_min, f->app_burst, now);
    pthread_mutex_unlock(&fs->app_lock);
    return r;
}

int64_t sim_faults_take_vehicle(struct sim_faultset *fs, const struct sim_faults *f, uint32_t idx,
                                int64_t now)
{
    struct d2ev_token_bucket *buckets = atomic_load(&fs->vehicle);
    if (f->vehicle_rate_per_min <= 0 || !buckets)
        return 0;
    return take(&buckets[idx], f->vehicle_rate_per_min, f->vehicle_burst, now);
}
