#include "guest.h"
static void k_main(void) { }
DEFINE_KERNEL("traps", k_main, 0);
