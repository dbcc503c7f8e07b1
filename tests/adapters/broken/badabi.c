/* badabi.c: an adapter built for a future ABI major (99): the host must refuse it. */
#include "d2ev/oem_adapter.h"

static int create(const struct d2ev_oem_host *h, const char *c, size_t l, const char *s, void **i,
                  char *e, size_t el)
{
    return -1;
}
static void destroy(void *i)
{
}
static void describe(void *i, struct d2ev_oem_desc *d)
{
}
static int build(void *i, const struct d2ev_oem_call *c, const struct d2ev_oem_flow *f,
                 struct d2ev_oem_request *r, char *e, size_t el)
{
    return -1;
}
static int parse(void *i, const struct d2ev_oem_call *c, struct d2ev_oem_flow *f,
                 const struct d2ev_oem_response *r, struct d2ev_oem_result *res)
{
    return -1;
}

static const struct d2ev_oem_adapter adapter = {
    .struct_size = sizeof(adapter),
    .abi_version = (99u << 16) | 0,
    .name = "badabi",
    .create = create,
    .destroy = destroy,
    .describe = describe,
    .build = build,
    .parse = parse,
};

D2EV_OEM_EXPORT const struct d2ev_oem_adapter *
d2ev_oem_adapter_entry(uint32_t host_abi, const struct d2ev_oem_host *h);
const struct d2ev_oem_adapter *d2ev_oem_adapter_entry(uint32_t host_abi,
                                                      const struct d2ev_oem_host *h)
{
    return &adapter; /* ignores the host's version: the host must catch it */
}
