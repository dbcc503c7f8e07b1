/* dispatch.h: d2ev-dispatch, the Kafka service around core.h (see dispatch.c). */
#ifndef D2EV_DISPATCH_H
#define D2EV_DISPATCH_H

#include "d2ev/service.h"

extern const struct d2ev_service_def d2ev_dispatch_def;

#endif
