/*
 * Lab 1 grader's kernel: calls lab_op every way the handout specifies and prints
 * what came back, one "check:" line each; labs/lab1_hypercall/grade.py compares.
 */
#include "guest.h"
#include "lab_op.h"

#define UNMAPPED        (VIRT_BASE + 0x20000000UL)     /* nothing is mapped there */

static unsigned char span[2 * PAGE_SIZE] __aligned(PAGE_SIZE);

static long lab_op(unsigned int cmd, const void *buf, unsigned long len)
{
    return _hypercall(__HYPERVISOR_lab_op, cmd, (unsigned long)buf, len, 0, 0);
}

static void check_main(void)
{
    static const char text[] = "hvcore lab one";
    unsigned long i;

    for (i = 0; i < sizeof(span); i++)
        span[i] = (unsigned char)(i * 7 + 3);
    printk("check: hello %ld\n", lab_op(LABOP_hello, NULL, 0));
    printk("check: sum %ld\n", lab_op(LABOP_sum, text, sizeof(text) - 1));
    printk("check: sum_span %ld\n", lab_op(LABOP_sum, span + PAGE_SIZE - 1000, 3000));
    printk("check: sum_empty %ld\n", lab_op(LABOP_sum, text, 0));
    printk("check: efault %ld\n", lab_op(LABOP_sum, (void *)UNMAPPED, 16));
    printk("check: einval %ld\n", lab_op(LABOP_sum, span, LABOP_SUM_MAX + 1));
    printk("check: nosys %ld\n", lab_op(99, NULL, 0));
    printk("check: count %ld\n", lab_op(LABOP_count, NULL, 0));
    printk("check: count_again %ld\n", lab_op(LABOP_count, NULL, 0));
}

DEFINE_KERNEL("check", check_main, 0);
