/*
 * ticker: periodic timer ticks through set_timer_op. Binds VIRQ_TIMER, then
 * re-arms a one-shot timer every `period_ms` (default 10) for `ticks` ticks
 * (default 20), waiting for each with SCHEDOP_poll on the timer port. Every tick
 * must come no earlier than its deadline; the wallclock (Xen's wall time at system
 * time 0) must be sane: after 2020.
 */
#include "guest.h"

#define MS 1000000ULL

static void ticker_main(void)
{
    struct evtchn_bind_virq bind = { .virq = VIRQ_TIMER, .vcpu = 0 };
    struct sched_poll poll = { .nr_ports = 1, .timeout = 0 };
    unsigned long ticks = 20, period_ms = 10, i;
    uint64_t start, deadline, now, late_max = 0;
    uint32_t wc0_sec, wc0_nsec;
    evtchn_port_t port;
    long rc;

    map_shared_info();
    cmdline_get_ulong("ticks", &ticks);
    cmdline_get_ulong("period_ms", &period_ms);
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &bind);
    CHECK(rc == 0, "bind VIRQ_TIMER: %ld", rc);
    port = bind.port;
    set_xen_guest_handle(poll.ports, &port);
    read_wallclock(&wc0_sec, &wc0_nsec);
    CHECK(wc0_sec > 1577836800u, "wallclock %u is before 2020", wc0_sec);

    start = deadline = system_time_ns();
    for (i = 0; i < ticks; i++) {
        deadline += period_ms * MS;
        rc = HYPERVISOR_set_timer_op(deadline);
        CHECK(rc == 0, "set_timer_op: %ld", rc);
        while (!evtchn_test_and_clear(port))
            HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
        now = system_time_ns();
        CHECK(now >= deadline, "tick %lu came %llu ns early", i,
              (unsigned long long)(deadline - now));
        if (now - deadline > late_max)
            late_max = now - deadline;
    }
    now = system_time_ns();
    CHECK(now - start >= ticks * period_ms * MS, "ticks took too little time");
    printk("ticker: %lu ticks of %lu ms in %llu ms, latest by %llu us\n", ticks, period_ms,
           (unsigned long long)((now - start) / MS), (unsigned long long)(late_max / 1000));
}

DEFINE_KERNEL("ticker", ticker_main, 0);
