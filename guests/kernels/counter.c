/*
 * counter: counts slowly and prints as it goes, for snapshot tests. Line i (1 to
 * `count`, default 40) comes `period_ms` (default 50) after line i-1, each with a
 * running checksum of a buffer the kernel keeps stirring, so that a domain saved
 * half-way and restored must have its memory, registers, timer and event channel
 * back for the rest of the lines (and the checksums) to come out as in a run that
 * was never saved. Nothing printed depends on time.
 *
 * With `hold=1` it waits for a byte of console input after the last line, before it
 * ends: a test can then act on the domain (save it, list it) without racing its end.
 */
#include "guest.h"

#define MS 1000000ULL
#define WORDS 16384

static uint32_t buffer[WORDS];

static uint64_t stir(unsigned long line, uint64_t sum)
{
    unsigned long j;

    for (j = 0; j < 4096; j++) {
        uint32_t *word = &buffer[(line * 7919 + j * 31) % WORDS];

        *word ^= (uint32_t)(sum >> 29) + (uint32_t)j;
        sum = sum * 6364136223846793005ULL + *word + 1442695040888963407ULL;
    }
    return sum;
}

static void wait_tick(evtchn_port_t port, unsigned long period_ms)
{
    struct sched_poll poll = { .nr_ports = 1, .timeout = 0 };
    long rc = HYPERVISOR_set_timer_op(system_time_ns() + period_ms * MS);

    CHECK(rc == 0, "set_timer_op: %ld", rc);
    set_xen_guest_handle(poll.ports, &port);
    while (!evtchn_test_and_clear(port))
        HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
}

/* One byte of console input (the PV console ring), waiting on its port. */
static void wait_key(void)
{
    struct xencons_interface *intf = mfn_to_virt(start_info->console.domU.mfn);
    evtchn_port_t port = start_info->console.domU.evtchn;
    struct sched_poll poll = { .nr_ports = 1, .timeout = 0 };

    set_xen_guest_handle(poll.ports, &port);
    while (intf->in_cons == ACCESS_ONCE(intf->in_prod)) {
        HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
        evtchn_test_and_clear(port);
    }
    mb();
    intf->in_cons++;
}

static void counter_main(void)
{
    struct evtchn_bind_virq bind = { .virq = VIRQ_TIMER, .vcpu = 0 };
    unsigned long count = 40, period_ms = 50, hold = 0, i;
    uint64_t sum = 0x9E3779B97F4A7C15ULL;
    long rc;

    map_shared_info();
    cmdline_get_ulong("count", &count);
    cmdline_get_ulong("period_ms", &period_ms);
    cmdline_get_ulong("hold", &hold);
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &bind);
    CHECK(rc == 0, "bind VIRQ_TIMER: %ld", rc);
    for (i = 1; i <= count; i++) {
        sum = stir(i, sum);
        printk("counter: %lu sum=%016llx\n", i, (unsigned long long)sum);
        wait_tick(bind.port, period_ms);
    }
    if (hold) {
        printk("counter: holding for a key\n");
        wait_key();
    }
    printk("counter: %lu lines\n", count);
}

DEFINE_KERNEL("counter", counter_main, 0);
