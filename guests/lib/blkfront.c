/*
 * PV block frontend for the test kernels: see include/blkfront.h.
 *
 * Handshake (blkif.h's "XenBus state transition" for a single-page ring):
 *   backend InitWait  -> we grant the ring, allocate an unbound port for the
 *                        backend, write ring-ref, event-channel, protocol and
 *                        feature-persistent in one transaction, then Initialised
 *   backend Connected -> we read sectors, sector-size, info, feature-*, then
 *                        Connected
 * Waiting for the backend's state uses a xenstore watch on its state node.
 */
#include "blkfront.h"
#include "gnttab.h"
#include "xenstore.h"

#define SEC     (1000ULL * 1000 * 1000)

int blkfront_list(unsigned int *devids, int max)
{
    return xenbus_front_list("vbd", devids, max);
}

static void grant_buffers(struct blkfront *d)
{
    for (unsigned int s = 0; s < BLKFRONT_SLOTS; s++) {
        d->buf[s] = alloc_page();
        for (unsigned int i = 1; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
            CHECK(alloc_page() == d->buf[s] + i * PAGE_SIZE, "buffer pages not contiguous");
        for (unsigned int i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
            grant_ref_t ref = gnttab_grant_access(d->xb.backend_id,
                                                  virt_to_mfn(d->buf[s] + i * PAGE_SIZE), 0);
            CHECK(ref != 0, "blkfront: out of grant references");
            d->gref[s][i] = ref;
        }
    }
}

static void setup_ring(struct blkfront *d)
{
    struct evtchn_alloc_unbound alloc = { .dom = DOMID_SELF, .remote_dom = d->xb.backend_id };
    const unsigned int bits = sizeof(xen_ulong_t) * 8;
    long rc;

    if (!d->sring)
        d->sring = alloc_page();
    memset(d->sring, 0, PAGE_SIZE);
    SHARED_RING_INIT(d->sring);
    FRONT_RING_INIT(&d->ring, d->sring, PAGE_SIZE);
    d->ring_ref = gnttab_grant_access(d->xb.backend_id, virt_to_mfn(d->sring), 0);
    CHECK(d->ring_ref != 0, "blkfront: no grant for the ring");
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &alloc);
    CHECK(rc == 0, "blkfront: alloc_unbound for d%u: %ld", d->xb.backend_id, rc);
    d->port = alloc.port;
    /* we poll it: no upcall may take its pending bit first */
    __atomic_or_fetch(&shared_info->evtchn_mask[d->port / bits],
                      (xen_ulong_t)1 << (d->port % bits), __ATOMIC_SEQ_CST);
    d->inflight = 0;
}

static void publish_ring(struct blkfront *d)
{
    int64_t tx;
    int rc;

    do {
        tx = xs_transaction_start();
        CHECK(tx > 0, "blkfront: transaction_start: %s", xs_errname((int)tx));
        xenbus_front_write_ulong(&d->xb, (xs_tx_t)tx, "ring-ref", d->ring_ref);
        xenbus_front_write_ulong(&d->xb, (xs_tx_t)tx, "event-channel", d->port);
        xenbus_front_write(&d->xb, (xs_tx_t)tx, "protocol", XEN_IO_PROTO_ABI_NATIVE);
        xenbus_front_write(&d->xb, (xs_tx_t)tx, "feature-persistent", "1");
        rc = xs_transaction_end((xs_tx_t)tx, 1);
    } while (rc == -XS_EAGAIN);
    CHECK(rc == 0, "blkfront: transaction_end: %s", xs_errname(rc));
}

void blkfront_connect(struct blkfront *d, unsigned int devid)
{
    struct xenbus_front *x = &d->xb;

    CHECK(xs_init() == 0, "xs_init");
    map_shared_info();
    if (x->devid != devid || !d->buf[0]) {
        memset(d, 0, sizeof(*d));
        xenbus_front_init(x, "vbd", devid);
        CHECK(gnttab_init() == 0, "gnttab_init");
        grant_buffers(d);
    }
    xenbus_wait_backend(x, XenbusStateInitWait);
    setup_ring(d);
    publish_ring(d);
    xenbus_switch_state(x, XenbusStateInitialised);
    xenbus_wait_backend(x, XenbusStateConnected);
    d->sectors = xenbus_back_ulong(x, "sectors", 0);
    d->sector_size = (unsigned int)xenbus_back_ulong(x, "sector-size", 0);
    d->info = (unsigned int)xenbus_back_ulong(x, "info", 0);
    d->feature_flush = xenbus_back_ulong(x, "feature-flush-cache", 0) == 1;
    d->feature_barrier = xenbus_back_ulong(x, "feature-barrier", 0) == 1;
    d->feature_persistent = xenbus_back_ulong(x, "feature-persistent", 0) == 1;
    CHECK(d->sector_size == BLKFRONT_SECTOR, "blkfront: sector-size %u", d->sector_size);
    xenbus_switch_state(x, XenbusStateConnected);
}

void blkfront_close(struct blkfront *d)
{
    struct evtchn_close close;

    CHECK(d->inflight == 0, "blkfront: closing with %u requests in flight", d->inflight);
    xenbus_switch_state(&d->xb, XenbusStateClosing);
    xenbus_wait_backend(&d->xb, XenbusStateClosing);
    xenbus_switch_state(&d->xb, XenbusStateClosed);
    xenbus_wait_backend(&d->xb, XenbusStateClosed);
    CHECK(gnttab_end_access(d->ring_ref) == 0, "blkfront: ring grant still mapped");
    close.port = d->port;
    HYPERVISOR_event_channel_op(EVTCHNOP_close, &close);
    /* ready to start over: Initialising brings the backend back to InitWait */
    xenbus_switch_state(&d->xb, XenbusStateInitialising);
}

blkif_request_t *blkfront_request(struct blkfront *d, uint8_t op, unsigned int slot,
                                  uint64_t sector, unsigned int nsect)
{
    blkif_request_t *req = RING_GET_REQUEST(&d->ring, d->ring.req_prod_pvt);
    unsigned int i;

    d->ring.req_prod_pvt++;
    d->inflight++;
    req->operation = op;
    req->handle = (blkif_vdev_t)d->xb.devid;
    req->id = slot;
    req->sector_number = sector;
    req->nr_segments = (uint8_t)((nsect + 7) / 8);
    for (i = 0; i < req->nr_segments; i++) {
        unsigned int here = nsect - i * 8 < 8 ? nsect - i * 8 : 8;
        req->seg[i].gref = d->gref[slot][i];
        req->seg[i].first_sect = 0;
        req->seg[i].last_sect = (uint8_t)(here - 1);
    }
    return req;
}

void blkfront_push(struct blkfront *d)
{
    int notify;

    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&d->ring, notify);
    if (notify) {
        struct evtchn_send send = { .port = d->port };
        long rc = HYPERVISOR_event_channel_op(EVTCHNOP_send, &send);
        CHECK(rc == 0, "blkfront: EVTCHNOP_send(%u): %ld", d->port, rc);
    }
}

void blkfront_response(struct blkfront *d, blkif_response_t *rsp)
{
    struct sched_poll poll = { .nr_ports = 1, .timeout = 0 };
    evtchn_port_t ports[1] = { d->port };
    int more;

    set_xen_guest_handle(poll.ports, ports);
    for (;;) {
        RING_FINAL_CHECK_FOR_RESPONSES(&d->ring, more);
        if (more)
            break;
        poll.timeout = system_time_ns() + 30 * SEC;
        HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
        if (!evtchn_test_and_clear(d->port) && system_time_ns() >= poll.timeout)
            failf("blkfront: vbd %u: no response in 30 s (%u in flight)",
                  d->xb.devid, d->inflight);
    }
    rmb();
    RING_COPY_RESPONSE(&d->ring, d->ring.rsp_cons, rsp);
    d->ring.rsp_cons++;
    CHECK(d->inflight > 0, "blkfront: a response nobody asked for (id %llu)",
          (unsigned long long)rsp->id);
    d->inflight--;
}

int blkfront_io(struct blkfront *d, uint8_t op, unsigned int slot, uint64_t sector,
                unsigned int nsect)
{
    blkif_response_t rsp;

    blkfront_request(d, op, slot, sector, nsect);
    blkfront_push(d);
    blkfront_response(d, &rsp);
    CHECK(rsp.id == slot && rsp.operation == op,
          "blkfront: response id %llu op %u for id %u op %u",
          (unsigned long long)rsp.id, rsp.operation, slot, op);
    return rsp.status;
}
