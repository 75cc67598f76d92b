/*
 * Lab 3, reference solution: one block request on the blkif ring.
 */
#include "lab_blk.h"

#define LAB_REQ_ID      0x1ab

static void notify(evtchn_port_t port)
{
    struct evtchn_send send = { .port = port };

    CHECK(HYPERVISOR_event_channel_op(EVTCHNOP_send, &send) == 0, "EVTCHNOP_send");
}

static void wait_response(struct blkfront *d)
{
    struct sched_poll poll = { .nr_ports = 1, .timeout = 0 };
    evtchn_port_t ports[1] = { d->port };
    int more;

    set_xen_guest_handle(poll.ports, ports);
    for (;;) {
        RING_FINAL_CHECK_FOR_RESPONSES(&d->ring, more);   /* sets rsp_event too */
        if (more)
            return;
        HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
        evtchn_test_and_clear(d->port);
    }
}

/* With feature-persistent (guests/lib/blkfront.c offers it, our blkback takes it) the
 * backend keeps a grant mapped once it has seen it: grant each page once, reuse it. */
static struct { void *page; grant_ref_t ref; } granted[4];

static grant_ref_t grant_for(struct blkfront *d, void *page)
{
    unsigned int i;

    for (i = 0; i < ARRAY_SIZE(granted) && granted[i].page; i++)
        if (granted[i].page == page)
            return granted[i].ref;
    CHECK(i < ARRAY_SIZE(granted), "too many pages granted");
    granted[i].page = page;
    granted[i].ref = gnttab_grant_access(d->xb.backend_id, virt_to_mfn(page), 0);
    CHECK(granted[i].ref != GNTTAB_INVALID, "out of grant references");
    return granted[i].ref;
}

int lab_blk_rw(struct blkfront *d, int write, uint64_t sector, void *page)
{
    grant_ref_t ref = grant_for(d, page);
    blkif_request_t *req;
    blkif_response_t *rsp;
    int notify_needed, status;

    req = RING_GET_REQUEST(&d->ring, d->ring.req_prod_pvt);
    req->operation = write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
    req->handle = (blkif_vdev_t)d->xb.devid;
    req->id = LAB_REQ_ID;
    req->sector_number = sector;
    req->nr_segments = 1;
    req->seg[0].gref = ref;
    req->seg[0].first_sect = 0;
    req->seg[0].last_sect = LAB_SECTORS_PER_PAGE - 1;
    d->ring.req_prod_pvt++;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&d->ring, notify_needed);  /* barrier inside */
    if (notify_needed)
        notify(d->port);
    wait_response(d);
    rmb();
    rsp = RING_GET_RESPONSE(&d->ring, d->ring.rsp_cons);
    CHECK(rsp->id == LAB_REQ_ID, "response for id %llu", (unsigned long long)rsp->id);
    status = rsp->status;
    d->ring.rsp_cons++;
    if (!d->feature_persistent)
        CHECK(gnttab_end_access(ref) == 0, "grant %u still mapped by the backend", ref);
    return status;
}
