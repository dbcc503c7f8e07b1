/* d2ev-registration: parses flags and environment, then runs the registration service. */
#include "registration.h"

int main(int argc, char **argv)
{
    return d2ev_service_main(&d2ev_registration_def, argc, argv);
}
