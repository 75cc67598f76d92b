/*
 * Console output.  HYPERVISOR_console_io(CONSOLEIO_write) first; when Xen
 * refuses it (non-debug Xen does for unprivileged domains) fall back to
 * the PV console ring from start_info, as a domU must.
 */
#include "guest.h"

static int use_ring;

static struct xencons_interface *console_ring(void)
{
    if (!start_info || !start_info->console.domU.mfn ||
        (start_info->flags & SIF_INITDOMAIN))
        return NULL;
    return mfn_to_virt(start_info->console.domU.mfn);
}

static void console_notify(void)
{
    struct evtchn_send send = { .port = start_info->console.domU.evtchn };
    HYPERVISOR_event_channel_op(EVTCHNOP_send, &send);
}

static void ring_write(const char *s, size_t len)
{
    struct xencons_interface *intf = console_ring();
    XENCONS_RING_IDX cons, prod;

    if (!intf)
        return;
    prod = intf->out_prod;
    while (len) {
        cons = ACCESS_ONCE(intf->out_cons);
        mb();
        if (prod - cons >= sizeof(intf->out)) {
            /* Ring full: publish what we have and let the backend run. */
            wmb();
            intf->out_prod = prod;
            console_notify();
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
            continue;
        }
        intf->out[MASK_XENCONS_IDX(prod, intf->out)] = *s++;
        prod++;
        len--;
    }
    wmb();
    intf->out_prod = prod;
    console_notify();
}

void console_write(const char *s, size_t len)
{
    if (!use_ring) {
        if (HYPERVISOR_console_io(CONSOLEIO_write, (int)len, s) >= 0)
            return;
        use_ring = 1;
    }
    ring_write(s, len);
}

/* Give the console backend a chance to drain the ring before we go. */
void console_flush(void)
{
    struct xencons_interface *intf;
    int tries;

    if (!use_ring || !(intf = console_ring()))
        return;
    for (tries = 0; tries < 1000; tries++) {
        mb();
        if (ACCESS_ONCE(intf->out_cons) == ACCESS_ONCE(intf->out_prod))
            break;
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
}
