/*
 * PV network frontend for the test kernels: see include/netfront.h.
 *
 * Handshake (netif.h, rx-copy):
 *   backend InitWait  -> we grant both rings, allocate the unbound port(s) for the
 *                        backend, write tx-ring-ref, rx-ring-ref, event-channel (or
 *                        event-channel-tx/-rx), request-rx-copy, feature-rx-notify in
 *                        one transaction, post the rx buffers, then Connected
 *   backend Connected -> frames can flow
 */
#include "netfront.h"
#include "gnttab.h"

#define SEC     (1000ULL * 1000 * 1000)

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void read_mac(struct netfront *n)
{
    char text[32];
    int i;

    CHECK(xenbus_front_read(&n->xb, "mac", text, sizeof(text)) == 17,
          "netfront: %s/mac is not a MAC address", n->xb.front);
    for (i = 0; i < ETH_ALEN; i++) {
        int hi = hexval(text[i * 3]), lo = hexval(text[i * 3 + 1]);
        CHECK(hi >= 0 && lo >= 0, "netfront: bad mac %s", text);
        n->mac[i] = (uint8_t)(hi << 4 | lo);
    }
}

static grant_ref_t grant(struct netfront *n, void *page, int readonly)
{
    grant_ref_t ref = gnttab_grant_access(n->xb.backend_id, virt_to_mfn(page), readonly);

    CHECK(ref != GNTTAB_INVALID, "netfront: out of grant references");
    return ref;
}

static void grant_buffers(struct netfront *n)
{
    for (unsigned int i = 0; i < NETFRONT_RX_BUFS; i++) {
        n->rx_buf[i] = alloc_page();
        n->rx_gref[i] = grant(n, n->rx_buf[i], 0);
    }
    for (unsigned int i = 0; i < NETFRONT_TX_BUFS; i++) {
        n->tx_buf[i] = alloc_page();
        n->tx_gref[i] = grant(n, n->tx_buf[i], 1);
    }
}

static evtchn_port_t alloc_port(struct netfront *n)
{
    struct evtchn_alloc_unbound alloc = { .dom = DOMID_SELF, .remote_dom = n->xb.backend_id };
    const unsigned int bits = sizeof(xen_ulong_t) * 8;
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &alloc);

    CHECK(rc == 0, "netfront: alloc_unbound for d%u: %ld", n->xb.backend_id, rc);
    /* we poll it: no upcall may take its pending bit first */
    __atomic_or_fetch(&shared_info->evtchn_mask[alloc.port / bits],
                      (xen_ulong_t)1 << (alloc.port % bits), __ATOMIC_SEQ_CST);
    return alloc.port;
}

static void setup_rings(struct netfront *n, int split)
{
    netif_tx_sring_t *txs = alloc_page();
    netif_rx_sring_t *rxs = alloc_page();

    SHARED_RING_INIT(txs);
    FRONT_RING_INIT(&n->tx, txs, PAGE_SIZE);
    SHARED_RING_INIT(rxs);
    FRONT_RING_INIT(&n->rx, rxs, PAGE_SIZE);
    n->tx_ring_ref = grant(n, txs, 0);
    n->rx_ring_ref = grant(n, rxs, 0);
    n->split = split && xenbus_back_ulong(&n->xb, "feature-split-event-channels", 0) == 1;
    n->tx_port = alloc_port(n);
    n->rx_port = n->split ? alloc_port(n) : n->tx_port;
}

static void publish(struct netfront *n)
{
    int64_t tx;
    int rc;

    do {
        tx = xs_transaction_start();
        CHECK(tx > 0, "netfront: transaction_start: %s", xs_errname((int)tx));
        xenbus_front_write_ulong(&n->xb, (xs_tx_t)tx, "tx-ring-ref", n->tx_ring_ref);
        xenbus_front_write_ulong(&n->xb, (xs_tx_t)tx, "rx-ring-ref", n->rx_ring_ref);
        if (n->split) {
            xenbus_front_write_ulong(&n->xb, (xs_tx_t)tx, "event-channel-tx", n->tx_port);
            xenbus_front_write_ulong(&n->xb, (xs_tx_t)tx, "event-channel-rx", n->rx_port);
        } else {
            xenbus_front_write_ulong(&n->xb, (xs_tx_t)tx, "event-channel", n->tx_port);
        }
        xenbus_front_write(&n->xb, (xs_tx_t)tx, "request-rx-copy", "1");
        xenbus_front_write(&n->xb, (xs_tx_t)tx, "feature-rx-notify", "1");
        xenbus_front_write(&n->xb, (xs_tx_t)tx, "feature-no-csum-offload", "1");
        rc = xs_transaction_end((xs_tx_t)tx, 1);
    } while (rc == -XS_EAGAIN);
    CHECK(rc == 0, "netfront: transaction_end: %s", xs_errname(rc));
}

void netfront_post_rx_raw(struct netfront *n, unsigned int id, grant_ref_t gref)
{
    netif_rx_request_t *req = RING_GET_REQUEST(&n->rx, n->rx.req_prod_pvt);

    req->id = (uint16_t)id;
    req->gref = gref;
    n->rx.req_prod_pvt++;
}

void netfront_post_rx_all(struct netfront *n)
{
    for (unsigned int i = 0; i < NETFRONT_RX_BUFS; i++)
        netfront_post_rx_raw(n, i, n->rx_gref[i]);
    RING_PUSH_REQUESTS(&n->rx);
}

void netfront_connect(struct netfront *n, unsigned int devid, unsigned int flags,
                      netfront_rx_fn on_rx)
{
    memset(n, 0, sizeof(*n));
    n->on_rx = on_rx;
    xenbus_front_init(&n->xb, "vif", devid);
    map_shared_info();
    read_mac(n);
    n->mtu = (unsigned int)xenbus_back_ulong(&n->xb, "mtu", 1500);
    CHECK(gnttab_init() == 0, "gnttab_init");
    grant_buffers(n);
    xenbus_wait_backend(&n->xb, XenbusStateInitWait);
    CHECK(xenbus_back_ulong(&n->xb, "feature-rx-copy", 0) == 1,
          "netfront: the backend does not offer feature-rx-copy");
    setup_rings(n, flags & NETFRONT_SPLIT);
    if (!(flags & NETFRONT_NO_RX_POST))
        netfront_post_rx_all(n);
    publish(n);
    xenbus_switch_state(&n->xb, XenbusStateConnected);
    xenbus_wait_backend(&n->xb, XenbusStateConnected);
}

/* ---- the rings ------------------------------------------------------------------ */
static void notify(evtchn_port_t port)
{
    struct evtchn_send send = { .port = port };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_send, &send);

    CHECK(rc == 0, "netfront: EVTCHNOP_send(%u): %ld", port, rc);
}

void netfront_push(struct netfront *n)
{
    int kick;

    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&n->tx, kick);
    if (kick)
        notify(n->tx_port);
}

static unsigned int free_tx_id(struct netfront *n)
{
    static unsigned int next;

    while (n->tx_inflight == NETFRONT_TX_BUFS)
        CHECK(netfront_poll(n, 30 * SEC), "netfront: no tx response in 30 s");
    while (n->tx_busy[next % NETFRONT_TX_BUFS])
        next++;
    return next++ % NETFRONT_TX_BUFS;
}

static void put_request(struct netfront *n, unsigned int id, grant_ref_t gref,
                        uint16_t offset, uint16_t flags, uint16_t size)
{
    netif_tx_request_t *req = RING_GET_REQUEST(&n->tx, n->tx.req_prod_pvt);

    req->gref = gref;
    req->offset = offset;
    req->flags = flags;
    req->id = (uint16_t)id;
    req->size = size;
    n->tx.req_prod_pvt++;
    n->tx_busy[id] = 1;
    n->tx_inflight++;
}

unsigned int netfront_send_raw(struct netfront *n, grant_ref_t gref, uint16_t offset,
                               uint16_t flags, uint16_t size)
{
    unsigned int id = free_tx_id(n);

    put_request(n, id, gref, offset, flags, size);
    return id;
}

unsigned int netfront_send(struct netfront *n, const void *frame, unsigned int len)
{
    unsigned int id = free_tx_id(n);

    CHECK(len <= PAGE_SIZE, "netfront: %u-byte frame", len);
    memcpy(n->tx_buf[id], frame, len);
    put_request(n, id, n->tx_gref[id], 0, 0, (uint16_t)len);
    netfront_push(n);
    return id;
}

static unsigned int take_tx(struct netfront *n)
{
    unsigned int got = 0;
    int more;

    do {
        RING_IDX prod = ACCESS_ONCE(n->tx.sring->rsp_prod);
        rmb();
        for (; n->tx.rsp_cons != prod; n->tx.rsp_cons++, got++) {
            netif_tx_response_t rsp;
            RING_COPY_RESPONSE(&n->tx, n->tx.rsp_cons, &rsp);
            if (rsp.status == NETIF_RSP_NULL)
                continue;
            CHECK(rsp.id < NETFRONT_TX_BUFS && n->tx_busy[rsp.id],
                  "netfront: tx response for id %u, not in flight", rsp.id);
            n->tx_busy[rsp.id] = 0;
            n->tx_status[rsp.id] = rsp.status;
            n->tx_inflight--;
            if (rsp.status == NETIF_RSP_OKAY)
                n->tx_frames++;
            else
                n->tx_errors++;
        }
        RING_FINAL_CHECK_FOR_RESPONSES(&n->tx, more);
    } while (more);
    return got;
}

static unsigned int take_rx(struct netfront *n)
{
    unsigned int got = 0;
    int more, kick;

    do {
        RING_IDX prod = ACCESS_ONCE(n->rx.sring->rsp_prod);
        rmb();
        for (; n->rx.rsp_cons != prod; n->rx.rsp_cons++, got++) {
            netif_rx_response_t rsp;
            RING_COPY_RESPONSE(&n->rx, n->rx.rsp_cons, &rsp);
            if (rsp.id >= NETFRONT_RX_BUFS) {     /* a hand-made request's */
                CHECK(rsp.status < 0, "netfront: rx id %u (no buffer) got status %d",
                      rsp.id, rsp.status);
                n->rx_errors++;
                n->rx_raw_status = rsp.status;
                continue;
            }
            if (rsp.status > 0 && !(rsp.flags & NETRXF_more_data) &&
                rsp.offset + rsp.status <= (int)PAGE_SIZE) {
                n->rx_frames++;
                if (n->on_rx)
                    n->on_rx(n, n->rx_buf[rsp.id] + rsp.offset, (unsigned int)rsp.status);
            } else {
                n->rx_errors++;
            }
            netfront_post_rx_raw(n, rsp.id, n->rx_gref[rsp.id]);
        }
        RING_FINAL_CHECK_FOR_RESPONSES(&n->rx, more);
    } while (more);
    if (got) {
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&n->rx, kick);
        if (kick)
            notify(n->rx_port);
    }
    return got;
}

unsigned int netfront_poll(struct netfront *n, uint64_t timeout_ns)
{
    struct sched_poll poll = { .nr_ports = n->split ? 2 : 1 };
    evtchn_port_t ports[2] = { n->tx_port, n->rx_port };
    uint64_t deadline = system_time_ns() + timeout_ns;
    unsigned int got;

    set_xen_guest_handle(poll.ports, ports);
    for (;;) {
        evtchn_test_and_clear(n->tx_port);
        evtchn_test_and_clear(n->rx_port);
        got = take_tx(n) + take_rx(n);
        if (got || !timeout_ns || system_time_ns() >= deadline)
            return got;
        poll.timeout = deadline;
        HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
    }
}

int netfront_wait_tx(struct netfront *n, unsigned int id)
{
    while (n->tx_busy[id])
        CHECK(netfront_poll(n, 30 * SEC), "netfront: no response to tx id %u in 30 s", id);
    return n->tx_status[id];
}
