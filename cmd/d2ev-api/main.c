/* d2ev-api: parses flags and environment, then runs the service. */
#include "api.h"

int main(int argc, char **argv)
{
    return d2ev_service_main(&d2ev_api_def, argc, argv);
}
