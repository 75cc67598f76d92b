#include "guest.h"
static void k_main(void) { }
DEFINE_KERNEL("xenver", k_main, 0);
