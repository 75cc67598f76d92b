/*
 * Lab 4, reference solution.
 */
#include "lab_pingpong.h"

#define BITS (sizeof(xen_ulong_t) * 8)

evtchn_port_t lab_offer(domid_t peer)
{
    struct evtchn_alloc_unbound alloc = { .dom = DOMID_SELF, .remote_dom = peer };
    char me[16], value[16], perms[128], reply[64];
    int rc, len = 0;

    CHECK(HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &alloc) == 0, "alloc_unbound");
    CHECK(xs_read("domid", me, sizeof(me)) > 0, "read domid");
    snprintf(value, sizeof(value), "%u", alloc.port);
    CHECK(xs_write(LAB_PORT_NODE, value) == 0, "write %s", LAB_PORT_NODE);
    /* SET_PERMS: the path, then us as owner with no access for others, then peer: read */
    len += snprintf(perms + len, sizeof(perms) - len, "/local/domain/%s/%s", me,
                    LAB_PORT_NODE) + 1;
    len += snprintf(perms + len, sizeof(perms) - len, "n%s", me) + 1;
    len += snprintf(perms + len, sizeof(perms) - len, "r%u", peer) + 1;
    rc = xs_request(XS_SET_PERMS, XS_TX_NONE, perms, len, reply, sizeof(reply));
    CHECK(rc >= 0, "set_perms: %s", xs_errname(rc));
    return alloc.port;
}

evtchn_port_t lab_connect(domid_t peer)
{
    struct evtchn_bind_interdomain bind = { .remote_dom = peer };
    char path[64], value[16];
    int rc = -1;

    snprintf(path, sizeof(path), "/local/domain/%u/%s", peer, LAB_PORT_NODE);
    for (int tries = 0; tries < 20000 && rc <= 0; tries++) {
        rc = xs_read(path, value, sizeof(value));
        if (rc <= 0)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    CHECK(rc > 0, "%s never appeared", path);
    for (const char *c = value; *c >= '0' && *c <= '9'; c++)
        bind.remote_port = bind.remote_port * 10 + (evtchn_port_t)(*c - '0');
    CHECK(HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &bind) == 0,
          "bind_interdomain to d%u port %u", peer, bind.remote_port);
    __atomic_and_fetch(&shared_info->evtchn_pending[bind.local_port / BITS],
                       ~((xen_ulong_t)1 << (bind.local_port % BITS)), __ATOMIC_SEQ_CST);
    return bind.local_port;          /* (Xen marks a new binding pending: cleared above) */
}

void lab_notify(evtchn_port_t port)
{
    struct evtchn_send send = { .port = port };
    CHECK(HYPERVISOR_event_channel_op(EVTCHNOP_send, &send) == 0, "send on %u", port);
}

void lab_wait(evtchn_port_t port)
{
    struct sched_poll poll = { .nr_ports = 1 };
    xen_ulong_t bit = (xen_ulong_t)1 << (port % BITS);

    set_xen_guest_handle(poll.ports, &port);
    while (!(ACCESS_ONCE(shared_info->evtchn_pending[port / BITS]) & bit))
        HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
    __atomic_and_fetch(&shared_info->evtchn_pending[port / BITS], ~bit, __ATOMIC_SEQ_CST);
}
