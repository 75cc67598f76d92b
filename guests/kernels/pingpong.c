/*
 * pingpong: two domains exchange events over an interdomain event channel.
 *   ping: role=1 peer=<domid>   allocates an unbound port offered to the peer and
 *                               publishes it in xenstore (data/pingpong-port, readable
 *                               by the peer only)
 *   pong: role=2 peer=<domid>   reads that node and binds to the port (or port=<p>)
 * Then they take turns: pong sends first, each side waits for the other's event
 * (SCHEDOP_poll on its port) and answers, `rounds=N` times (default 100).
 * Each domain runs in its own process: every event crosses between processes.
 */
#include "guest.h"
#include "xenstore.h"

#define PORT_NODE "data/pingpong-port"

static void clear_pending(evtchn_port_t port)
{
    const unsigned int bits = sizeof(xen_ulong_t) * 8;
    __atomic_and_fetch(&shared_info->evtchn_pending[port / bits],
                       ~((xen_ulong_t)1 << (port % bits)), __ATOMIC_SEQ_CST);
}

static int pending(evtchn_port_t port)
{
    const unsigned int bits = sizeof(xen_ulong_t) * 8;
    return (ACCESS_ONCE(shared_info->evtchn_pending[port / bits]) >> (port % bits)) & 1;
}

static void wait_event(evtchn_port_t port)
{
    struct sched_poll poll = { .nr_ports = 1, .timeout = 0 };
    evtchn_port_t ports[1] = { port };

    set_xen_guest_handle(poll.ports, ports);
    while (!pending(port))
        HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
    clear_pending(port);
}

/* Like wait_event, but gives up at system time `deadline`: 1 if the event came. */
static int wait_event_until(evtchn_port_t port, uint64_t deadline)
{
    struct sched_poll poll = { .nr_ports = 1, .timeout = deadline };
    evtchn_port_t ports[1] = { port };

    set_xen_guest_handle(poll.ports, ports);
    while (!pending(port)) {
        if (system_time_ns() >= deadline)
            return 0;
        HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
    }
    clear_pending(port);
    return 1;
}

static void notify(evtchn_port_t port)
{
    struct evtchn_send send = { .port = port };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_send, &send);

    CHECK(rc == 0, "EVTCHNOP_send(%u): %ld", port, rc);
}

/* ping: put the port in xenstore where (only) the peer may read it */
static void publish_port(evtchn_port_t port, unsigned long peer)
{
    char value[16], path[96], perms[128], reply[64], domid[16];
    int rc, len = 0;

    CHECK(xs_init() == 0, "xs_init");
    CHECK(xs_read("domid", domid, sizeof(domid)) > 0, "read domid");
    snprintf(value, sizeof(value), "%u", port);
    CHECK(xs_write(PORT_NODE, value) == 0, "write %s: %s", PORT_NODE, xs_last_error());
    snprintf(path, sizeof(path), "/local/domain/%s/%s", domid, PORT_NODE);
    /* SET_PERMS payload: path, then owner entry, then the peer's read entry */
    len += snprintf(perms + len, sizeof(perms) - len, "%s", path) + 1;
    len += snprintf(perms + len, sizeof(perms) - len, "n%s", domid) + 1;
    len += snprintf(perms + len, sizeof(perms) - len, "r%lu", peer) + 1;
    rc = xs_request(XS_SET_PERMS, 0, perms, len, reply, sizeof(reply));
    CHECK(rc >= 0, "set_perms %s: %s", path, xs_errname(rc));
    printk("pingpong: published port %u at %s for d%lu\n", port, path, peer);
}

/* pong: read the peer's port from xenstore, waiting until it is there */
static unsigned long find_port(unsigned long peer)
{
    char path[96], value[16];
    unsigned long port = 0;
    int rc = -1, tries;

    CHECK(xs_init() == 0, "xs_init");
    snprintf(path, sizeof(path), "/local/domain/%lu/%s", peer, PORT_NODE);
    for (tries = 0; tries < 20000; tries++) {
        rc = xs_read(path, value, sizeof(value));
        if (rc > 0)
            break;
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    CHECK(rc > 0, "read %s: %s", path, xs_errname(rc));
    for (const char *c = value; *c >= '0' && *c <= '9'; c++)
        port = port * 10 + (unsigned long)(*c - '0');
    printk("pingpong: found d%lu's port %lu in xenstore\n", peer, port);
    return port;
}

#define MAX_SAMPLES 4096
static uint64_t rtt[MAX_SAMPLES];

static void sort(uint64_t *v, unsigned long n)
{
    for (unsigned long i = 1; i < n; i++) {
        uint64_t x = v[i];
        unsigned long j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/*
 * seconds=N: ping answers for N seconds, then stops, takes pong's answer to its last
 * event and writes how many events it got (and sent) to data/pingpong-count for pong.
 * Pong, once no event has come for a second, reads that count (it must have received
 * exactly as many events as ping sent) and sends one more: ping may end (and its
 * xenstore node with it).
 */
#define COUNT_NODE "data/pingpong-count"

static void timed_rounds(unsigned long role, evtchn_port_t port, unsigned long peer,
                         unsigned long seconds)
{
    unsigned long got = 0;
    char value[24], path[96];

    if (role == 1) {
        uint64_t end = system_time_ns() + (uint64_t)seconds * 1000000000ULL;
        while (system_time_ns() < end) {
            wait_event(port);
            got++;
            notify(port);
        }
        wait_event(port);               /* pong's answer to our last one */
        snprintf(value, sizeof(value), "%lu", got);
        CHECK(xs_write_for(COUNT_NODE, value, (unsigned int)peer) == 0, "write %s", COUNT_NODE);
        wait_event(port);               /* pong has read it (our node goes with us) */
        printk("pingpong: ping exchanged %lu events in %lu s\n", got, seconds);
        return;
    }
    snprintf(path, sizeof(path), "/local/domain/%lu/%s", peer, COUNT_NODE);
    for (uint64_t quiet_since = system_time_ns();;) {
        if (wait_event_until(port, system_time_ns() + 1000000000ULL)) {
            got++;
            notify(port);
            quiet_since = system_time_ns();
            continue;
        }
        if (xs_read(path, value, sizeof(value)) > 0)
            break;
        CHECK(system_time_ns() - quiet_since < 30000000000ULL,
              "no event for 30 s and no count from d%lu after %lu events", peer, got);
    }
    const char *v = value;
    unsigned long sent = next_ulong(&v);
    notify(port);                       /* ping may go now */
    CHECK(got == sent, "pong received %lu events, ping sent %lu: %ld lost", got, sent,
          (long)(sent - got));
    printk("pingpong: pong exchanged %lu events in %lu s, none lost\n", got, seconds);
}

static void pingpong_main(void)
{
    unsigned long role = 0, peer = 0, remote_port = 0, rounds = 100, max_tries = 200000, i;
    evtchn_port_t port;
    long rc;

    map_shared_info();
    CHECK(cmdline_get_ulong("role", &role) == 0 && (role == 1 || role == 2),
          "need role=1 (ping) or role=2 (pong) on the command line");
    CHECK(cmdline_get_ulong("peer", &peer) == 0, "need peer=<domid>");
    cmdline_get_ulong("rounds", &rounds);
    cmdline_get_ulong("tries", &max_tries);

    if (role == 1) {
        struct evtchn_alloc_unbound alloc = { .dom = DOMID_SELF, .remote_dom = peer };

        rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &alloc);
        CHECK(rc == 0, "alloc_unbound for d%lu: %ld", peer, rc);
        port = alloc.port;
        printk("pingpong: ping offers port %u to d%lu\n", port, peer);
        publish_port(port, peer);
    } else {
        struct evtchn_bind_interdomain bind = { .remote_dom = peer };
        unsigned int tries;

        if (cmdline_get_ulong("port", &remote_port) != 0)
            remote_port = find_port(peer);
        bind.remote_port = remote_port;
        /* the ping domain may not have offered its port yet: retry for a while */
        for (tries = 0; ; tries++) {
            rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &bind);
            if (rc == 0 || tries >= max_tries)
                break;
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        }
        CHECK(rc == 0, "bind_interdomain to d%lu port %lu: %ld", peer, remote_port, rc);
        port = bind.local_port;
        clear_pending(port);            /* Xen marks a new binding pending */
        printk("pingpong: pong bound local port %u to d%lu port %lu\n",
               port, peer, remote_port);
        notify(port);                   /* the first ball */
    }
    uint64_t sent = 0;
    unsigned long n = 0, seconds = 0;
    if (cmdline_get_ulong("seconds", &seconds) == 0 && seconds) {
        timed_rounds(role, port, peer, seconds);
        return;
    }
    for (i = 0; i < rounds; i++) {
        wait_event(port);
        if (role == 1 && sent && n < MAX_SAMPLES)
            rtt[n++] = system_time_ns() - sent;   /* our event there and theirs back */
        notify(port);
        if (role == 1)
            sent = system_time_ns();
    }
    printk("pingpong: %s exchanged %lu events\n", role == 1 ? "ping" : "pong", rounds);
    if (n) {
        sort(rtt, n);
        printk("pingpong: round trip median %llu ns p99 %llu ns over %lu rounds\n",
               (unsigned long long)rtt[n / 2], (unsigned long long)rtt[(n * 99) / 100], n);
    }
}

DEFINE_KERNEL("pingpong", pingpong_main, 0);
