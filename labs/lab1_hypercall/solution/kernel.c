/*
 * Lab 1, reference solution: a PV kernel that calls lab_op.
 */
#include "guest.h"
#include "lab_op.h"

static long HYPERVISOR_lab_op(unsigned int cmd, const void *buf, unsigned long len)
{
    return _hypercall(__HYPERVISOR_lab_op, cmd, (unsigned long)buf, len, 0, 0);
}

static void lab_main(void)
{
    static const char text[] = "hello, hypervisor";

    printk("lab: hello 0x%lx\n", HYPERVISOR_lab_op(LABOP_hello, NULL, 0));
    printk("lab: sum %ld\n", HYPERVISOR_lab_op(LABOP_sum, text, sizeof(text) - 1));
}

DEFINE_KERNEL("lab", lab_main, 0);
