#include "guest.h"
static void k_main(void) { }
DEFINE_KERNEL("privop", k_main, 0);
