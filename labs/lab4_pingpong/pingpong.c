/*
 * Lab 4: your part. See README.md and given/lab_pingpong.h.
 */
#include "lab_pingpong.h"

evtchn_port_t lab_offer(domid_t peer)
{
    /* TODO: EVTCHNOP_alloc_unbound for `peer`, then publish the port in xenstore
     * (xs_write, then XS_SET_PERMS so that `peer` may read it). */
    fail("lab_offer: not written yet");
}

evtchn_port_t lab_connect(domid_t peer)
{
    /* TODO: read /local/domain/<peer>/LAB_PORT_NODE (retry with SCHEDOP_yield until
     * it is there), then EVTCHNOP_bind_interdomain. */
    fail("lab_connect: not written yet");
}

void lab_notify(evtchn_port_t port)
{
    /* TODO: EVTCHNOP_send. */
}

void lab_wait(evtchn_port_t port)
{
    /* TODO: SCHEDOP_poll until shared_info->evtchn_pending has the port's bit, then
     * clear that bit (atomically: Xen sets bits in the same words). */
}
