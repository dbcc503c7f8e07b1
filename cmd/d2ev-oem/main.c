/* d2ev-oem: runs one OEM adapter operation (see services/oemtool/oemtool.h). */
#include "oemtool.h"

int main(int argc, char **argv)
{
    return d2ev_oemtool_main(argc, argv, NULL);
}
