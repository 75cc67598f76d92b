/*
 * crash_unmapped: no trap table at all; jumps to an address that is not
 * mapped.  Xen has nowhere to bounce the #PF and must crash the domain
 * (SHUTDOWN_crash, with a report).  Expected outcome: crash.  If execution
 * somehow continues we say so and power off, which a harness expecting a
 * crash sees as a failure.
 */
#include "guest.h"

#define TARGET          0x0000000000dead000UL

static void crash_unmapped_main(void)
{
    unsigned long target = TARGET & 0xffffffffUL;

    CHECK(!va_is_mapped(kernel_root_mfn(), target),
          "target %lx is mapped", target);
    printk("crash_unmapped: no trap table; jumping to unmapped address %lx "
           "(expect the domain to be crashed)\n", target);
    ((void (*)(void))target)();
    printk("FAIL: crash_unmapped: execution continued after jumping to %lx\n",
           target);
    poweroff();
}

DEFINE_KERNEL("crash_unmapped", crash_unmapped_main, KF_NO_TRAPS);
