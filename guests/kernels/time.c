/*
 * time: maps shared_info, reads vcpu_time_info under its version seqlock,
 * extrapolates system time with rdtsc, checks it advances and is monotonic,
 * reads the wallclock, then takes a VCPUOP_set_singleshot_timer through
 * SCHEDOP_poll on the VIRQ_TIMER port and a set_timer_op timeout through an
 * event upcall woken from SCHEDOP_block, and calls SCHEDOP_yield.
 */
#include "guest.h"

#define MS              1000000ULL
#define SEC             1000000000ULL
#define XEN_ETIME       62

static unsigned int timer_port;
static volatile unsigned int timer_events;

static void time_event(unsigned int port)
{
    if (port == timer_port)
        timer_events++;
}

static void spin_ns(uint64_t ns)
{
    uint64_t end = system_time_ns() + ns;
    while (system_time_ns() < end)
        ;
}

static void time_main(void)
{
    struct vcpu_time_info *t;
    struct evtchn_bind_virq bind;
    struct vcpu_set_singleshot_timer single;
    struct sched_poll poll;
    evtchn_port_t ports[1];
    uint64_t now, prev, t0, t1, deadline, tsc0, tsc1;
    uint32_t wc_sec, wc_nsec;
    unsigned int i;
    long rc;

    map_shared_info();
    t = &shared_info->vcpu_info[0].time;
    printk("time: vcpu_time_info version %u system_time %llu tsc_timestamp "
           "%llu tsc_to_system_mul %u tsc_shift %d\n", t->version,
           (unsigned long long)t->system_time,
           (unsigned long long)t->tsc_timestamp, t->tsc_to_system_mul,
           t->tsc_shift);
    CHECK(t->tsc_to_system_mul != 0, "tsc_to_system_mul is 0");
    CHECK(!(t->version & 1), "time version %u is odd (update in progress)",
          t->version);
    tsc0 = rdtsc();
    CHECK(tsc0 >= t->tsc_timestamp, "rdtsc %llu is before tsc_timestamp %llu",
          (unsigned long long)tsc0, (unsigned long long)t->tsc_timestamp);

    /* Monotonic and advancing. */
    prev = system_time_ns();
    for (i = 0; i < 20000; i++) {
        now = system_time_ns();
        if (!EXPECT(now >= prev, "system time went backwards: %llu then %llu "
                    "(read %u)", (unsigned long long)prev,
                    (unsigned long long)now, i))
            break;
        prev = now;
    }
    t0 = system_time_ns();
    spin_ns(2 * MS);
    t1 = system_time_ns();
    tsc1 = rdtsc();
    CHECK(t1 >= t0 + 2 * MS, "system time advanced only %llu ns over a 2 ms "
          "spin", (unsigned long long)(t1 - t0));
    CHECK(tsc1 > tsc0, "TSC did not advance");
    printk("time: system time %llu ns, advanced %llu ns (%llu TSC ticks) "
           "over a 2 ms spin\n", (unsigned long long)t1,
           (unsigned long long)(t1 - t0), (unsigned long long)(tsc1 - tsc0));

    read_wallclock(&wc_sec, &wc_nsec);
    printk("time: wallclock at boot %u.%09u, now about %llu s since 1970\n",
           wc_sec, wc_nsec, (unsigned long long)wc_sec + t1 / SEC);
    CHECK(wc_sec > 1577836800u, "wc_sec %u is before 2020-01-01", wc_sec);
    CHECK(wc_nsec < SEC, "wc_nsec %u >= 1e9", wc_nsec);

    rc = HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    CHECK(rc == 0, "SCHEDOP_yield: rc %ld", rc);
    printk("time: SCHEDOP_yield OK\n");

    /* Only our own timers from here on. */
    rc = HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL);
    CHECK(rc == 0, "VCPUOP_stop_periodic_timer: rc %ld", rc);
    memset(&bind, 0, sizeof(bind));
    bind.virq = VIRQ_TIMER;
    bind.vcpu = 0;
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &bind);
    CHECK(rc == 0, "EVTCHNOP_bind_virq(VIRQ_TIMER): rc %ld", rc);
    timer_port = bind.port;
    evtchn_test_and_clear(timer_port);
    printk("time: VIRQ_TIMER bound to port %u\n", timer_port);

    /* 1. Single-shot timer, waited for with SCHEDOP_poll (events masked). */
    deadline = system_time_ns() + 10 * MS;
    single.timeout_abs_ns = deadline;
    single.flags = 0;
    rc = HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, &single);
    CHECK(rc == 0, "VCPUOP_set_singleshot_timer: rc %ld", rc);
    ports[0] = timer_port;
    for (i = 0; ; i++) {
        memset(&poll, 0, sizeof(poll));
        set_xen_guest_handle(poll.ports, ports);
        poll.nr_ports = 1;
        poll.timeout = deadline + 2 * SEC;
        rc = HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
        CHECK(rc == 0, "SCHEDOP_poll: rc %ld", rc);
        if (evtchn_test_and_clear(timer_port))
            break;
        CHECK(system_time_ns() < deadline + 2 * SEC,
              "single-shot timer did not fire within 2 s (%u polls)", i + 1);
    }
    now = system_time_ns();
    CHECK(now >= deadline, "timer event %llu ns before its deadline",
          (unsigned long long)(deadline - now));
    printk("time: VCPUOP_set_singleshot_timer fired %llu us after the "
           "deadline (SCHEDOP_poll) OK\n",
           (unsigned long long)(now - deadline) / 1000);

    /* A deadline in the past with VCPU_SSHOTTMR_future may be refused. */
    single.timeout_abs_ns = system_time_ns() - MS;
    single.flags = VCPU_SSHOTTMR_future;
    rc = HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, &single);
    CHECK(rc == 0 || rc == -XEN_ETIME, "singleshot timer in the past with "
          "VCPU_SSHOTTMR_future: rc %ld (want 0 or -ETIME)", rc);
    printk("time: past deadline with VCPU_SSHOTTMR_future: rc %ld OK\n", rc);
    if (rc == 0) {
        /* Accepted: it fires at once; consume it. */
        spin_ns(MS);
        memset(&poll, 0, sizeof(poll));
        set_xen_guest_handle(poll.ports, ports);
        poll.nr_ports = 1;
        poll.timeout = system_time_ns() + SEC;
        HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
    }
    evtchn_test_and_clear(timer_port);

    /* 2. set_timer_op, delivered as an upcall while blocked. */
    event_hook = time_event;
    timer_events = 0;
    deadline = system_time_ns() + 5 * MS;
    rc = HYPERVISOR_set_timer_op(deadline);
    CHECK(rc == 0, "set_timer_op: rc %ld", rc);
    while (!timer_events) {
        rc = HYPERVISOR_sched_op(SCHEDOP_block, NULL);
        /* SCHEDOP_block unmasked events; mask them again. */
        shared_info->vcpu_info[0].evtchn_upcall_mask = 1;
        barrier();
        CHECK(rc == 0, "SCHEDOP_block: rc %ld", rc);
        CHECK(system_time_ns() < deadline + 2 * SEC,
              "set_timer_op timeout not delivered within 2 s "
              "(%lu upcalls so far)", event_upcalls);
    }
    now = system_time_ns();
    CHECK(now >= deadline, "upcall %llu ns before the set_timer_op deadline",
          (unsigned long long)(deadline - now));
    CHECK(event_upcalls >= 1, "timer event seen without an upcall");
    printk("time: set_timer_op -> SCHEDOP_block -> event upcall %llu us after "
           "the deadline OK (%lu upcalls)\n",
           (unsigned long long)(now - deadline) / 1000, event_upcalls);
    event_hook = NULL;

    prev = t1;
    now = system_time_ns();
    CHECK(now > prev, "system time did not advance across the timers");
}

DEFINE_KERNEL("time", time_main, 0);
