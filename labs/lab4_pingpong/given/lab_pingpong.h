/*
 * Lab 4: what main.c (given) and your pingpong.c share.
 */
#ifndef LAB_PINGPONG_H
#define LAB_PINGPONG_H

#include "guest.h"
#include "xenstore.h"

/* Where the offering domain publishes its port, under its own /local/domain/<id>. */
#define LAB_PORT_NODE "data/lab4-port"

/* The offering side: allocate an unbound port that domain `peer` may bind, publish
 * its number in LAB_PORT_NODE so that `peer` (and only it, besides us) can read it,
 * and return the port. */
evtchn_port_t lab_offer(domid_t peer);

/* The connecting side: find the port `peer` published (it may not be there yet: keep
 * looking for a while), bind to it with EVTCHNOP_bind_interdomain and return our
 * local port. */
evtchn_port_t lab_connect(domid_t peer);

/* Send an event on `port`. */
void lab_notify(evtchn_port_t port);

/* Wait until `port` is pending (SCHEDOP_poll), then clear its pending bit. */
void lab_wait(evtchn_port_t port);

#endif /* LAB_PINGPONG_H */
