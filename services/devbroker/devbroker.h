/* devbroker.h: the local Kafka-protocol broker (see devbroker.c). */
#ifndef D2EV_DEVBROKER_H
#define D2EV_DEVBROKER_H

#include "d2ev/service.h"

extern const struct d2ev_service_def d2ev_devbroker_def;

#endif
