/* scheduler.h: d2ev-scheduler, the Kafka service around core.h (see scheduler.c). */
#ifndef D2EV_SCHEDULER_H
#define D2EV_SCHEDULER_H

#include "d2ev/service.h"

extern const struct d2ev_service_def d2ev_scheduler_def;

#endif
