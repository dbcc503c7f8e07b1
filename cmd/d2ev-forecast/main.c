/* d2ev-forecast: publish | generate | check (see services/forecast/forecast_tool.h). */
#include "forecast_tool.h"

int main(int argc, char **argv)
{
    return d2ev_forecast_main(argc, argv);
}
