#include "guest.h"
static void k_main(void) { }
DEFINE_KERNEL("crash_unmapped", k_main, 0);
