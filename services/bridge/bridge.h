/* bridge.h: d2ev-bridge, the mobile app backend's signed HTTP entry point
 * (see bridge.c and docs/bridge.md). */
#ifndef D2EV_BRIDGE_H
#define D2EV_BRIDGE_H

#include "d2ev/service.h"

extern const struct d2ev_service_def d2ev_bridge_def;

#endif
