/* Xen time: vcpu_time_info (TSC-extrapolated system time) and wallclock. */
#include "guest.h"

uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    asm volatile ("rdtsc" : "=a" (lo), "=d" (hi));
    return ((uint64_t)hi << 32) | lo;
}

/* (delta << shift) * mul >> 32, without a 128-bit multiply. */
static uint64_t scale_delta(uint64_t delta, uint32_t mul, int shift)
{
    if (shift < 0)
        delta >>= -shift;
    else
        delta <<= shift;
    return (uint64_t)(delta >> 32) * mul +
           (((uint64_t)(uint32_t)delta * mul) >> 32);
}

uint64_t system_time_ns(void)
{
    struct vcpu_time_info *t = &shared_info->vcpu_info[0].time;
    uint32_t ver, mul;
    uint64_t st, stamp, now;
    int shift;

    do {
        ver = ACCESS_ONCE(t->version);
        rmb();
        st = ACCESS_ONCE(t->system_time);
        stamp = ACCESS_ONCE(t->tsc_timestamp);
        mul = ACCESS_ONCE(t->tsc_to_system_mul);
        shift = ACCESS_ONCE(t->tsc_shift);
        now = rdtsc();
        rmb();
    } while ((ver & 1) || ver != ACCESS_ONCE(t->version));
    return st + scale_delta(now - stamp, mul, shift);
}

void read_wallclock(uint32_t *sec, uint32_t *nsec)
{
    uint32_t ver;

    do {
        ver = ACCESS_ONCE(shared_info->wc_version);
        rmb();
        *sec = ACCESS_ONCE(shared_info->wc_sec);
        *nsec = ACCESS_ONCE(shared_info->wc_nsec);
        rmb();
    } while ((ver & 1) || ver != ACCESS_ONCE(shared_info->wc_version));
}
