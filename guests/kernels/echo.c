/*
 * echo: a console echo. Reads input from the PV console ring (start_info's
 * console page), writes each line back with an "echo: " prefix, and waits
 * for more with SCHEDOP_poll on the console event channel. A line "quit"
 * ends it with "echo: PASS" and a poweroff. Exercises the console daemon's
 * input path: bytes in in[], in_prod advanced, the console port notified.
 */
#include "guest.h"

#define LINE_MAX 128

static struct xencons_interface *ring(void)
{
    return mfn_to_virt(start_info->console.domU.mfn);
}

static void clear_pending(evtchn_port_t port)
{
    const unsigned int bits = sizeof(xen_ulong_t) * 8;
    __atomic_and_fetch(&shared_info->evtchn_pending[port / bits],
                       ~((xen_ulong_t)1 << (port % bits)), __ATOMIC_SEQ_CST);
}

static void wait_for_input(evtchn_port_t port)
{
    struct sched_poll poll = { .nr_ports = 1, .timeout = 0 };
    evtchn_port_t ports[1] = { port };

    set_xen_guest_handle(poll.ports, ports);
    HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
    clear_pending(port);
}

static void echo_main(void)
{
    struct xencons_interface *intf = ring();
    evtchn_port_t port = start_info->console.domU.evtchn;
    char line[LINE_MAX];
    unsigned int len = 0;

    map_shared_info();
    printk("echo: ready on console port %u\n", port);
    for (;;) {
        XENCONS_RING_IDX cons = intf->in_cons, prod = ACCESS_ONCE(intf->in_prod);

        rmb();
        if (cons == prod) {
            wait_for_input(port);
            continue;
        }
        while (cons != prod) {
            char c = intf->in[MASK_XENCONS_IDX(cons, intf->in)];

            cons++;
            if (c == '\r' || c == '\n') {
                line[len] = '\0';
                printk("echo: %s\n", line);
                if (len == 4 && line[0] == 'q' && line[1] == 'u' &&
                    line[2] == 'i' && line[3] == 't') {
                    intf->in_cons = cons;
                    return;             /* the library prints "echo: PASS" */
                }
                len = 0;
            } else if (len < LINE_MAX - 1) {
                line[len++] = c;
            }
        }
        mb();
        intf->in_cons = cons;
    }
}

DEFINE_KERNEL("echo", echo_main, 0);
