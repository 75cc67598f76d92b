/*
 * gdbtarget: the kernel the gdb stub tests debug. A function to break on, a global
 * it updates, a second global written once (to watch), then a clean poweroff.
 */
#include "guest.h"

volatile unsigned long gdb_counter;
volatile unsigned long gdb_result;

__attribute__((noinline)) void gdb_tick(unsigned long n)
{
    gdb_counter += n;
}

static void gdbtarget_main(void)
{
    unsigned long i;

    for (i = 1; i <= 5; i++)
        gdb_tick(i);
    gdb_result = gdb_counter * 2;
    printk("gdbtarget: counter %lu result %lu\n", gdb_counter, gdb_result);
}

DEFINE_KERNEL("gdbtarget", gdbtarget_main, 0);
