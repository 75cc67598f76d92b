/*
 * events: the 2-level event channel ABI on a loopback interdomain channel
 * (alloc_unbound + bind_interdomain to ourselves) and an IPI channel:
 * pending / pending_sel / upcall_pending bookkeeping on send, masked ports,
 * EVTCHNOP_unmask re-raising, upcall delivery through the event callback
 * once events are unmasked, EVTCHNOP_status, close and the errors Xen
 * gives for closed / unbound ports.
 */
#include "guest.h"

#define BITS            (sizeof(xen_ulong_t) * 8)

static volatile unsigned int hook_count, hook_port, watched_port;

/* Counts upcalls for the port under test only. */
static void events_hook(unsigned int port)
{
    if (port != watched_port)
        return;
    hook_count++;
    hook_port = port;
}

static int test_bit_x(unsigned int nr, volatile xen_ulong_t *words)
{
    return !!(words[nr / BITS] & ((xen_ulong_t)1 << (nr % BITS)));
}

static void clear_bit_x(unsigned int nr, volatile xen_ulong_t *words)
{
    __sync_fetch_and_and(&words[nr / BITS], ~((xen_ulong_t)1 << (nr % BITS)));
}

static void set_bit_x(unsigned int nr, volatile xen_ulong_t *words)
{
    __sync_fetch_and_or(&words[nr / BITS], (xen_ulong_t)1 << (nr % BITS));
}

/*
 * Mask every port, so that traffic on the console / xenstore channels
 * cannot disturb the bookkeeping checks; ports under test get unmasked.
 */
static void mask_all_ports(void)
{
    unsigned int i;

    for (i = 0; i < ARRAY_SIZE(shared_info->evtchn_mask); i++)
        shared_info->evtchn_mask[i] = ~(xen_ulong_t)0;
    mb();
}

/* Forget every pending event (events are masked while we do this). */
static void clear_all_pending(void)
{
    vcpu_info_t *v = &shared_info->vcpu_info[0];
    unsigned int i;

    v->evtchn_upcall_pending = 0;
    v->evtchn_pending_sel = 0;
    for (i = 0; i < ARRAY_SIZE(shared_info->evtchn_pending); i++)
        shared_info->evtchn_pending[i] = 0;
    mb();
}

static long evtchn_send(unsigned int port)
{
    struct evtchn_send s = { .port = port };
    return HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
}

static long evtchn_close(unsigned int port)
{
    struct evtchn_close c = { .port = port };
    return HYPERVISOR_event_channel_op(EVTCHNOP_close, &c);
}

static struct evtchn_status status_of(unsigned int port)
{
    struct evtchn_status st;
    long rc;

    memset(&st, 0, sizeof(st));
    st.dom = DOMID_SELF;
    st.port = port;
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);
    CHECK(rc == 0, "EVTCHNOP_status(%u): rc %ld", port, rc);
    return st;
}

static void events_main(void)
{
    vcpu_info_t *v;
    struct evtchn_alloc_unbound au;
    struct evtchn_bind_interdomain bi;
    struct evtchn_bind_ipi ipi;
    struct evtchn_unmask um;
    struct evtchn_status st;
    unsigned int a, b, c;
    unsigned long upcalls;
    long rc;

    map_shared_info();
    v = &shared_info->vcpu_info[0];
    mask_all_ports();

    /* An IPI channel to ourselves carries the delivery tests. */
    memset(&ipi, 0, sizeof(ipi));
    ipi.vcpu = 0;
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &ipi);
    CHECK(rc == 0, "EVTCHNOP_bind_ipi: rc %ld", rc);
    c = ipi.port;
    clear_bit_x(c, shared_info->evtchn_mask);
    st = status_of(c);
    EXPECT(st.status == EVTCHNSTAT_ipi && st.vcpu == 0,
           "EVTCHNOP_status(%u): status %u vcpu %u, want EVTCHNSTAT_ipi (%u) "
           "on vcpu 0", c, st.status, st.vcpu, EVTCHNSTAT_ipi);
    printk("events: IPI port %u\n", c);

    /* Send with events masked: bits set, no upcall. */
    clear_all_pending();
    rc = evtchn_send(c);
    CHECK(rc == 0, "EVTCHNOP_send(%u): rc %ld", c, rc);
    CHECK(test_bit_x(c, shared_info->evtchn_pending),
          "send on %u did not set its pending bit", c);
    CHECK(v->evtchn_pending_sel & ((xen_ulong_t)1 << (c / BITS)),
          "pending_sel %lx lacks bit %u", (unsigned long)v->evtchn_pending_sel,
          (unsigned int)(c / BITS));
    CHECK(v->evtchn_upcall_pending == 1, "upcall_pending %u after send",
          v->evtchn_upcall_pending);
    printk("events: send %u -> pending, pending_sel, upcall_pending OK\n", c);

    /* A masked port gets its pending bit but no selector / upcall. */
    clear_all_pending();
    set_bit_x(c, shared_info->evtchn_mask);
    rc = evtchn_send(c);
    CHECK(rc == 0, "EVTCHNOP_send(%u) to a masked port: rc %ld", c, rc);
    CHECK(test_bit_x(c, shared_info->evtchn_pending),
          "send to masked port %u did not set its pending bit", c);
    CHECK(v->evtchn_pending_sel == 0 && v->evtchn_upcall_pending == 0,
          "masked port: pending_sel %lx upcall_pending %u, want 0 0",
          (unsigned long)v->evtchn_pending_sel, v->evtchn_upcall_pending);
    memset(&um, 0, sizeof(um));
    um.port = c;
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &um);
    CHECK(rc == 0, "EVTCHNOP_unmask(%u): rc %ld", c, rc);
    CHECK(!test_bit_x(c, shared_info->evtchn_mask),
          "EVTCHNOP_unmask left mask[%u] set", c);
    CHECK(test_bit_x(c, shared_info->evtchn_pending),
          "EVTCHNOP_unmask cleared the pending bit of %u", c);
    CHECK((v->evtchn_pending_sel & ((xen_ulong_t)1 << (c / BITS))) &&
          v->evtchn_upcall_pending == 1,
          "EVTCHNOP_unmask of a pending port: pending_sel %lx "
          "upcall_pending %u", (unsigned long)v->evtchn_pending_sel,
          v->evtchn_upcall_pending);
    printk("events: masked port pends silently, EVTCHNOP_unmask re-raises OK\n");

    /* Unmask events: the next entry into Xen delivers the upcall. */
    event_hook = events_hook;
    watched_port = c;
    hook_count = 0;
    upcalls = event_upcalls;
    v->evtchn_upcall_mask = 0;
    barrier();
    if (v->evtchn_upcall_pending)
        HYPERVISOR_xen_version(XENVER_version, NULL);
    v->evtchn_upcall_mask = 1;
    barrier();
    CHECK(event_upcalls >= upcalls + 1, "no upcall after unmasking events");
    CHECK(hook_count == 1 && hook_port == c,
          "upcall reported %u events (last port %u), want port %u",
          hook_count, hook_port, c);
    CHECK(!test_bit_x(c, shared_info->evtchn_pending),
          "port %u still pending after the upcall", c);
    printk("events: unmasking delivered one upcall for port %u OK\n", c);

    /* Upcall straight from a send while events are enabled. */
    hook_count = 0;
    upcalls = event_upcalls;
    v->evtchn_upcall_mask = 0;
    barrier();
    rc = evtchn_send(c);
    v->evtchn_upcall_mask = 1;
    barrier();
    CHECK(rc == 0, "EVTCHNOP_send(%u): rc %ld", c, rc);
    CHECK(event_upcalls >= upcalls + 1 && hook_count == 1 && hook_port == c,
          "send with events enabled: %lu upcalls, %u events (port %u)",
          event_upcalls - upcalls, hook_count, hook_port);
    printk("events: send with events enabled -> upcall on return OK\n");
    event_hook = NULL;

    /* A loopback interdomain channel: alloc_unbound + bind_interdomain. */
    memset(&au, 0, sizeof(au));
    au.dom = DOMID_SELF;
    au.remote_dom = DOMID_SELF;
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &au);
    CHECK(rc == 0, "EVTCHNOP_alloc_unbound: rc %ld", rc);
    a = au.port;
    clear_bit_x(a, shared_info->evtchn_mask);
    st = status_of(a);
    EXPECT(st.status == EVTCHNSTAT_unbound,
           "EVTCHNOP_status(%u) after alloc_unbound: status %u, want "
           "EVTCHNSTAT_unbound (%u)", a, st.status, EVTCHNSTAT_unbound);

    memset(&bi, 0, sizeof(bi));
    bi.remote_dom = DOMID_SELF;
    bi.remote_port = a;
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &bi);
    CHECK(rc == 0, "EVTCHNOP_bind_interdomain(DOMID_SELF, %u): rc %ld", a, rc);
    b = bi.local_port;
    CHECK(b != a && b != c, "bind_interdomain returned port %u", b);
    clear_bit_x(b, shared_info->evtchn_mask);
    st = status_of(a);
    EXPECT(st.status == EVTCHNSTAT_interdomain && st.u.interdomain.port == b,
           "port %u: status %u peer %u, want interdomain peer %u", a,
           st.status, st.u.interdomain.port, b);
    st = status_of(b);
    EXPECT(st.status == EVTCHNSTAT_interdomain && st.u.interdomain.port == a,
           "port %u: status %u peer %u, want interdomain peer %u", b,
           st.status, st.u.interdomain.port, a);
    printk("events: loopback channel %u <-> %u\n", a, b);

    clear_all_pending();
    rc = evtchn_send(b);
    CHECK(rc == 0, "EVTCHNOP_send(%u): rc %ld", b, rc);
    CHECK(test_bit_x(a, shared_info->evtchn_pending) &&
          !test_bit_x(b, shared_info->evtchn_pending),
          "send on %u: pending[%u] %d pending[%u] %d, want the peer only", b,
          a, test_bit_x(a, shared_info->evtchn_pending), b,
          test_bit_x(b, shared_info->evtchn_pending));
    CHECK(v->evtchn_upcall_pending == 1, "upcall_pending %u after send",
          v->evtchn_upcall_pending);
    clear_all_pending();
    rc = evtchn_send(a);
    CHECK(rc == 0 && test_bit_x(b, shared_info->evtchn_pending),
          "send on %u: rc %ld, peer %u pending %d", a, rc, b,
          test_bit_x(b, shared_info->evtchn_pending));
    clear_all_pending();
    printk("events: sends cross the loopback channel both ways OK\n");

    /* Close one end: the other becomes unbound and sends are dropped. */
    rc = evtchn_close(a);
    CHECK(rc == 0, "EVTCHNOP_close(%u): rc %ld", a, rc);
    st = status_of(a);
    EXPECT(st.status == EVTCHNSTAT_closed, "closed port %u status %u", a,
           st.status);
    st = status_of(b);
    EXPECT(st.status == EVTCHNSTAT_unbound,
           "peer %u of a closed port: status %u, want unbound", b, st.status);
    rc = evtchn_send(b);
    EXPECT(rc == 0, "send on unbound port %u: rc %ld (Xen drops it, rc 0)",
           b, rc);
    EXPECT(!test_bit_x(a, shared_info->evtchn_pending) &&
           !test_bit_x(b, shared_info->evtchn_pending) &&
           !v->evtchn_upcall_pending,
           "send on an unbound port left something pending");
    rc = evtchn_send(a);
    EXPECT(rc == -XEN_EINVAL, "send on closed port %u: rc %ld, want -EINVAL",
           a, rc);
    memset(&bi, 0, sizeof(bi));
    bi.remote_dom = DOMID_SELF;
    bi.remote_port = a;
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &bi);
    EXPECT(rc == -XEN_EINVAL, "bind_interdomain to closed port %u: rc %ld, "
           "want -EINVAL", a, rc);
    EXPECT(evtchn_close(b) == 0 && evtchn_close(c) == 0, "closing %u / %u",
           b, c);
    st = status_of(c);
    EXPECT(st.status == EVTCHNSTAT_closed, "closed IPI port %u status %u", c,
           st.status);
    printk("events: close, unbound peer, errors on closed ports done\n");
    clear_all_pending();
}

DEFINE_KERNEL("events", events_main, 0);
