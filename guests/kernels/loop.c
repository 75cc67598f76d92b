#include "guest.h"
static void k_main(void) { }
DEFINE_KERNEL("loop", k_main, 0);
