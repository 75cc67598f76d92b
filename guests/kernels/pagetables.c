#include "guest.h"
static void k_main(void) { }
DEFINE_KERNEL("pagetables", k_main, 0);
