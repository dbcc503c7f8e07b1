/* d2ev-telemetry: parses flags and environment, then runs the service. */
#include "telemetry.h"

int main(int argc, char **argv)
{
    return d2ev_service_main(&d2ev_telemetry_def, argc, argv);
}
