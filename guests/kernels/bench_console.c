/*
 * bench_console: console throughput. Writes `bytes=N` bytes (default 1 MiB) of text
 * into the PV console ring (start_info's console page), notifying the console port
 * when the ring fills and yielding until the backend (dom0's console daemon, in
 * another process) has drained it. Nothing goes through console_io.
 */
#include "guest.h"

static void console_notify(evtchn_port_t port)
{
    struct evtchn_send send = { .port = port };

    HYPERVISOR_event_channel_op(EVTCHNOP_send, &send);
}

static void bench_console_main(void)
{
    struct xencons_interface *intf = mfn_to_virt(start_info->console.domU.mfn);
    evtchn_port_t port = start_info->console.domU.evtchn;
    unsigned long total = 1 << 20, written = 0;
    XENCONS_RING_IDX prod = intf->out_prod;
    static const char line[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\n";

    cmdline_get_ulong("bytes", &total);
    while (written < total) {
        XENCONS_RING_IDX cons = ACCESS_ONCE(intf->out_cons);

        mb();
        if (prod - cons >= sizeof(intf->out)) {
            wmb();
            intf->out_prod = prod;
            console_notify(port);
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
            continue;
        }
        intf->out[MASK_XENCONS_IDX(prod, intf->out)] = line[written % (sizeof(line) - 1)];
        prod++;
        written++;
    }
    wmb();
    intf->out_prod = prod;
    console_notify(port);
    /* wait for the backend to take the rest before powering off */
    while (ACCESS_ONCE(intf->out_cons) != prod)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    printk("bench_console: wrote %lu bytes\n", written);
}

DEFINE_KERNEL("bench_console", bench_console_main, 0);
