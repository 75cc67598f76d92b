/* Shutdown, failure reporting and small scheduler helpers. */
#include "guest.h"

void shutdown(unsigned int reason)
{
    struct sched_shutdown sd = { .reason = reason };

    console_flush();
    for (;;) {
        HYPERVISOR_sched_op(SCHEDOP_shutdown, &sd);
        /* Should not get here; spin politely. */
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
}

void poweroff(void)
{
    shutdown(SHUTDOWN_poweroff);
}

void crash(void)
{
    shutdown(SHUTDOWN_crash);
}

void fail(const char *msg)
{
    printk("FAIL: %s\n", msg);
    crash();
}

void failf(const char *fmt, ...)
{
    char buf[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fail(buf);
}

unsigned int nr_failures;

void expectf(const char *fmt, ...)
{
    char buf[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    printk("FAIL: %s\n", buf);
    nr_failures++;
}

void yield(void)
{
    HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
}

long set_iopl(unsigned int iopl)
{
    struct physdev_set_iopl op = { .iopl = iopl };
    return HYPERVISOR_physdev_op(PHYSDEVOP_set_iopl, &op);
}
