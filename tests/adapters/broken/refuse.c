/* refuse.c: an adapter that refuses the host (as one needing a newer host table would). */
#include "d2ev/oem_adapter.h"

D2EV_OEM_EXPORT const struct d2ev_oem_adapter *
d2ev_oem_adapter_entry(uint32_t host_abi, const struct d2ev_oem_host *h);
const struct d2ev_oem_adapter *d2ev_oem_adapter_entry(uint32_t host_abi,
                                                      const struct d2ev_oem_host *h)
{
    return NULL;
}
