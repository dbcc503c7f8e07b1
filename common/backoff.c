/* backoff.c: exponential backoff with jitter. */
#include <math.h>

#include "d2ev/resilience.h"
#include "d2ev/util.h"

int64_t d2ev_backoff_delay_ms(const struct d2ev_backoff *b, unsigned attempt, uint64_t *rng)
{
    if (attempt == 0)
        attempt = 1;
    double factor = b->factor >= 1.0 ? b->factor : 2.0;
    double d = (double)b->base_ms * pow(factor, (double)(attempt - 1));
    if (d > (double)b->max_ms || !isfinite(d))
        d = (double)b->max_ms;
    double j = b->jitter < 0 ? 0 : b->jitter > 1 ? 1 : b->jitter;
    double lo = d * (1.0 - j);
    double v = lo + (d - lo) * d2ev_rand_unit(rng);
    return (int64_t)llround(v);
}
