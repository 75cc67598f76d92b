/*
 * A small PV block frontend for the test kernels (lib/blkfront.c): the xenbus
 * handshake with blkback (ring-ref, event-channel, protocol, feature-persistent,
 * Initialised; the backend's sectors, sector-size, info and features once it is
 * Connected), closing, and requests on the shared ring.
 *
 * Buffers: BLKFRONT_SLOTS request slots of BLKIF_MAX_SEGMENTS_PER_REQUEST pages
 * each, granted read-write to the backend once (persistent grants) and reused.
 * Requests carry their slot number as id.
 */
#ifndef BLKFRONT_H
#define BLKFRONT_H

#include "guest.h"
#include "xenbus_front.h"
#define xen_mb()  mb()
#define xen_rmb() rmb()
#define xen_wmb() wmb()
#include <xen/grant_table.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

#define BLKFRONT_SLOTS          32
#define BLKFRONT_SLOT_BYTES     (BLKIF_MAX_SEGMENTS_PER_REQUEST * PAGE_SIZE)
#define BLKFRONT_SECTOR         512

struct blkfront {
    struct xenbus_front xb;     /* devid, our directory, the backend's, its domain */
    evtchn_port_t port;
    grant_ref_t ring_ref;
    blkif_sring_t *sring;
    blkif_front_ring_t ring;
    /* what the backend said */
    uint64_t sectors;
    unsigned int sector_size, info;
    int feature_flush, feature_barrier, feature_persistent;
    /* buffers, granted once */
    unsigned char *buf[BLKFRONT_SLOTS];          /* BLKFRONT_SLOT_BYTES each */
    grant_ref_t gref[BLKFRONT_SLOTS][BLKIF_MAX_SEGMENTS_PER_REQUEST];
    unsigned int inflight;
};

/* The devids under device/vbd; returns how many (at most max). */
int blkfront_list(unsigned int *devids, int max);
/* Buffers and grants (once per device), then the handshake up to Connected. */
void blkfront_connect(struct blkfront *d, unsigned int devid);
/* Closing, then Closed once the backend is; the ring and its port go. */
void blkfront_close(struct blkfront *d);

/* Fill in a request using slot `slot`'s pages for `nsect` sectors from `sector`
 * (nsect 0 for a flush); the caller may change it before blkfront_push. */
blkif_request_t *blkfront_request(struct blkfront *d, uint8_t op, unsigned int slot,
                                  uint64_t sector, unsigned int nsect);
/* Publish the requests made so far; notify the backend if it asked. */
void blkfront_push(struct blkfront *d);
/* Take the next response, waiting for it (SCHEDOP_poll on the port). */
void blkfront_response(struct blkfront *d, blkif_response_t *rsp);
/* One request, waited for: returns its status (BLKIF_RSP_*). */
int blkfront_io(struct blkfront *d, uint8_t op, unsigned int slot, uint64_t sector,
                unsigned int nsect);

#endif /* BLKFRONT_H */
