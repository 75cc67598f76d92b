/*
 * A small PV network frontend for the test kernels (lib/netfront.c), rx-copy only:
 * the xenbus handshake with netback (tx-ring-ref, rx-ring-ref, event-channel or
 * split event-channel-tx/-rx, request-rx-copy), NETFRONT_RX_BUFS receive buffers
 * posted to the rx ring and NETFRONT_TX_BUFS transmit buffers, each one page granted
 * to the backend once (rx read-write, tx read-only) and reused; a buffer's index is
 * its request id.
 */
#ifndef NETFRONT_H
#define NETFRONT_H

#include "guest.h"
#include "xenbus_front.h"
#define xen_mb()  mb()
#define xen_rmb() rmb()
#define xen_wmb() wmb()
#include <xen/grant_table.h>
#include <xen/io/netif.h>

#define NETFRONT_RX_BUFS        128
#define NETFRONT_TX_BUFS        128
#define ETH_ALEN                6

struct netfront;
/* Called for every frame received (data valid only during the call). */
typedef void (*netfront_rx_fn)(struct netfront *n, const uint8_t *frame, unsigned int len);

struct netfront {
    struct xenbus_front xb;
    netfront_rx_fn on_rx;
    uint8_t mac[ETH_ALEN];
    unsigned int mtu;
    int split;                          /* two event channels: tx, rx */
    evtchn_port_t tx_port, rx_port;
    grant_ref_t tx_ring_ref, rx_ring_ref;
    netif_tx_front_ring_t tx;
    netif_rx_front_ring_t rx;
    unsigned char *rx_buf[NETFRONT_RX_BUFS];
    grant_ref_t rx_gref[NETFRONT_RX_BUFS];
    unsigned char *tx_buf[NETFRONT_TX_BUFS];
    grant_ref_t tx_gref[NETFRONT_TX_BUFS];
    uint8_t tx_busy[NETFRONT_TX_BUFS];
    int16_t tx_status[NETFRONT_TX_BUFS]; /* the last response's, per id */
    unsigned int tx_inflight;
    /* counters */
    unsigned long tx_frames, rx_frames, rx_errors, tx_errors;
    int rx_raw_status;                  /* the response to a hand-made rx request */
};

/* Buffers, grants, rings, event channel(s), the handshake up to Connected; frames
 * received go to on_rx. */
#define NETFRONT_SPLIT          1   /* split event channels, if the backend offers them */
#define NETFRONT_NO_RX_POST     2   /* the caller posts the rx buffers (hostile tests) */
void netfront_connect(struct netfront *n, unsigned int devid, unsigned int flags,
                      netfront_rx_fn on_rx);
/* Post every rx buffer (after NETFRONT_NO_RX_POST). */
void netfront_post_rx_all(struct netfront *n);
/* Send one frame (copied into a free tx buffer); returns the request id. */
unsigned int netfront_send(struct netfront *n, const void *frame, unsigned int len);
/* Put a hand-made tx request on the ring (hostile tests), not yet pushed; its id
 * is a free buffer's (returned). */
unsigned int netfront_send_raw(struct netfront *n, grant_ref_t gref, uint16_t offset,
                               uint16_t flags, uint16_t size);
/* Publish the requests made so far and notify the backend if it asked. */
void netfront_push(struct netfront *n);
/* Post an rx request with any gref, not yet pushed (hostile tests): an id past
 * NETFRONT_RX_BUFS has no buffer, and its response must be an error. */
void netfront_post_rx_raw(struct netfront *n, unsigned int id, grant_ref_t gref);
/* Handle every response there is: frames to on_rx, tx buffers back.  Returns how
 * many responses it took; waits up to timeout_ns for the first (0: do not wait). */
unsigned int netfront_poll(struct netfront *n, uint64_t timeout_ns);
/* Wait until tx request `id` has its response; returns its status. */
int netfront_wait_tx(struct netfront *n, unsigned int id);

#endif /* NETFRONT_H */
