/*
 * The frontend half of a xenbus device for the test kernels (lib/xenbus_front.c):
 * the device's two directories, its nodes, the state machine's waits.  Any split
 * driver's frontend (netfront, ...) builds on it.
 */
#ifndef XENBUS_FRONT_H
#define XENBUS_FRONT_H

#include "guest.h"
#include "xenstore.h"
#include <xen/io/xenbus.h>

struct xenbus_front {
    const char *kind;           /* "vif", "vbd", ... */
    unsigned int devid;
    char front[64];             /* device/<kind>/<devid> */
    char back[128];             /* the backend's directory */
    domid_t backend_id;
};

/* The devids under device/<kind>; returns how many (at most max). */
int xenbus_front_list(const char *kind, unsigned int *devids, int max);
/* Find the device's backend (xs_init first). */
void xenbus_front_init(struct xenbus_front *x, const char *kind, unsigned int devid);
/* A decimal node of the backend's directory (`def` if missing). */
unsigned long xenbus_back_ulong(struct xenbus_front *x, const char *key, unsigned long def);
/* A node of our own directory, as text: its length, or a negative -XS_E. */
int xenbus_front_read(struct xenbus_front *x, const char *key, char *buf, size_t len);
/* Write a node of our own directory (in transaction `tx`); FAIL if refused. */
void xenbus_front_write(struct xenbus_front *x, xs_tx_t tx, const char *key, const char *value);
void xenbus_front_write_ulong(struct xenbus_front *x, xs_tx_t tx, const char *key,
                              unsigned long value);
void xenbus_switch_state(struct xenbus_front *x, XenbusState state);
/* Wait (a watch on the backend's state) until it is `want`; FAIL if it closes. */
void xenbus_wait_backend(struct xenbus_front *x, XenbusState want);

#endif /* XENBUS_FRONT_H */
