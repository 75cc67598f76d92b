#include "guest.h"
static void k_main(void) { }
DEFINE_KERNEL("time", k_main, 0);
