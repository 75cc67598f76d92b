/* C entry point shared by all test kernels. */
#include "guest.h"

void __noreturn start_kernel(start_info_t *si);

void start_kernel(start_info_t *si)
{
    mm_early_init(si);
    printk("%s: starting (" ARCH_NAME ")\n", kernel_desc.name);
    mm_init();
    if (!(kernel_desc.flags & KF_NO_TRAPS))
        trap_init();
    kernel_desc.main();
    if (nr_failures) {
        printk("%s: %u check(s) failed\n", kernel_desc.name, nr_failures);
        crash();
    }
    printk("%s: PASS\n", kernel_desc.name);
    poweroff();
}
