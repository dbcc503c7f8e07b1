/* d2ev-bridge: parses flags and environment, then runs the bridge. */
#include "bridge.h"

int main(int argc, char **argv)
{
    return d2ev_service_main(&d2ev_bridge_def, argc, argv);
}
