#include "guest.h"
static void k_main(void) { }
DEFINE_KERNEL("usermode", k_main, 0);
