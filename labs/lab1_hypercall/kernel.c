/*
 * Lab 1: a PV kernel that calls lab_op (README.md, step 3).
 */
#include "guest.h"
#include "lab_op.h"

static void lab_main(void)
{
    /* TODO: call LABOP_hello and print "lab: hello 0x<result in hex>",
     * then LABOP_sum on the 17 bytes of "hello, hypervisor" and print
     * "lab: sum <result in decimal>". */
    printk("lab: nothing called yet\n");
}

DEFINE_KERNEL("lab", lab_main, 0);
