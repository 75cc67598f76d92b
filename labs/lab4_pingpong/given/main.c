/*
 * Lab 4 (given): two domains find each other through xenstore and bounce an event.
 *   role=1 peer=<domid>   offers a port (lab_offer) and answers every event
 *   role=2 peer=<domid>   connects (lab_connect), sends the first event, answers
 * `rounds=N` events each way (default 50).
 */
#include "lab_pingpong.h"

static void lab4_main(void)
{
    unsigned long role = 0, peer = 0, rounds = 50;
    evtchn_port_t port;

    map_shared_info();
    CHECK(cmdline_get_ulong("role", &role) == 0 && (role == 1 || role == 2),
          "need role=1 or role=2 on the command line");
    CHECK(cmdline_get_ulong("peer", &peer) == 0, "need peer=<domid>");
    cmdline_get_ulong("rounds", &rounds);
    CHECK(xs_init() == 0, "xs_init");
    if (role == 1) {
        port = lab_offer((domid_t)peer);
        printk("lab4: offered port %u to d%lu\n", port, peer);
    } else {
        port = lab_connect((domid_t)peer);
        printk("lab4: bound local port %u to d%lu\n", port, peer);
        lab_notify(port);
    }
    for (unsigned long i = 0; i < rounds; i++) {
        lab_wait(port);
        if (role == 1 || i + 1 < rounds)
            lab_notify(port);
    }
    printk("lab4: %s exchanged %lu events\n", role == 1 ? "offerer" : "connector", rounds);
}

DEFINE_KERNEL("lab4", lab4_main, 0);
