/*
 * A small xenstore client for the test kernels (lib/xenstore.c), spoken the
 * way a PV guest does: the ring page at start_info->store_mfn, notifications
 * on start_info->store_evtchn, waits with SCHEDOP_poll on that port.
 *
 * One request is outstanding at a time.  Watch events that arrive while a
 * reply is awaited are queued and handed out by xs_read_watch().
 *
 * Return values: >= 0 is success (what it means is given per function),
 * a negative value is -XS_Exxx, the error the store sent back (XS_ERROR),
 * or one the library found itself (-XS_E2BIG for a request larger than
 * XENSTORE_PAYLOAD_MAX, -XS_ETIMEDOUT, -XS_ENOSYS without a store ring).
 * xs_errname() turns one into its name; xs_last_error() is the exact string
 * of the last XS_ERROR reply.  Protocol violations by the store (a reply
 * with the wrong req_id, a corrupt ring, ...) end the test with FAIL.
 */
#ifndef XENSTORE_H
#define XENSTORE_H

#include "guest.h"
#include <xen/io/xs_wire.h>

/* Xen's errno values (xen/errno.h) that xenstore replies name. */
#define XS_EPERM        1
#define XS_ENOENT       2
#define XS_EIO          5
#define XS_E2BIG        7
#define XS_EAGAIN       11
#define XS_ENOMEM       12
#define XS_EACCES       13
#define XS_EBUSY        16
#define XS_EEXIST       17
#define XS_EISDIR       21
#define XS_EINVAL       22
#define XS_ENOSPC       28
#define XS_EROFS        30
#define XS_ENOSYS       38
#define XS_ENOTEMPTY    39
#define XS_EISCONN      106
#define XS_ETIMEDOUT    110

typedef uint32_t xs_tx_t;       /* transaction id; XS_TX_NONE outside one */
#define XS_TX_NONE      0

/* How long a reply (or a free slot in the ring) may take: 30 s by default. */
extern uint64_t xs_timeout_ns;

/*
 * Mask the store port in shared_info at xs_init() (default 1), so that
 * event upcalls, if a kernel enables them, cannot take its pending bit
 * between the ring check and SCHEDOP_poll, which ignores masks.
 */
extern int xs_mask_port;

/* Finds the ring and the port, maps shared_info.  Called by every request. */
int xs_init(void);

/* "ENOENT" for -XS_ENOENT (or XS_ENOENT), "E?" for an unknown value. */
const char *xs_errname(int err);
/* The payload of the last XS_ERROR reply, as the store sent it. */
const char *xs_last_error(void);

/*
 * Any request: payload of `len` bytes; the reply's payload goes to
 * reply[0..rlen) (truncated to fit, NUL-terminated when there is room).
 * Returns the reply's full payload length.
 */
int xs_request(uint32_t type, xs_tx_t tx, const void *payload, size_t len,
               char *reply, size_t rlen);

/* Value of `path` in buf, NUL-terminated; returns its length (the whole
 * length, as snprintf does: rc >= len means it was truncated). */
int xs_read_tx(xs_tx_t tx, const char *path, char *buf, size_t len);
int xs_write_tx(xs_tx_t tx, const char *path, const char *value);
int xs_write_bytes_tx(xs_tx_t tx, const char *path, const void *value,
                      size_t vlen);
int xs_mkdir_tx(xs_tx_t tx, const char *path);
int xs_rm_tx(xs_tx_t tx, const char *path);
/* Children of `path` in buf as NUL-terminated names, one after the other,
 * plus an empty one at the end; returns how many there are. */
int xs_directory_tx(xs_tx_t tx, const char *path, char *buf, size_t len);

static inline int xs_read(const char *path, char *buf, size_t len)
{ return xs_read_tx(XS_TX_NONE, path, buf, len); }
static inline int xs_write(const char *path, const char *value)
{ return xs_write_tx(XS_TX_NONE, path, value); }
static inline int xs_mkdir(const char *path)
{ return xs_mkdir_tx(XS_TX_NONE, path); }
static inline int xs_rm(const char *path)
{ return xs_rm_tx(XS_TX_NONE, path); }
static inline int xs_directory(const char *path, char *buf, size_t len)
{ return xs_directory_tx(XS_TX_NONE, path, buf, len); }

/* "/local/domain/<domid>" (whatever the store says) in buf; returns its length. */
int xs_get_domain_path(unsigned int domid, char *buf, size_t len);

/* Write `node` (relative to our home) and let domain `reader` read it, nobody
 * else: 0, or -XS_Exxx. */
int xs_write_for(const char *node, const char *value, unsigned int reader);

/* Returns 0. */
int xs_watch(const char *path, const char *token);
int xs_unwatch(const char *path, const char *token);
/*
 * The next watch event (queued or from the ring): path and token,
 * NUL-terminated (truncated to fit).  Waits up to timeout_ns (0: no limit);
 * returns 0, or -XS_ETIMEDOUT.
 */
int xs_read_watch(char *path, size_t plen, char *token, size_t tlen,
                  uint64_t timeout_ns);
/* Watch events queued now (without reading the ring). */
unsigned int xs_watch_pending(void);

/* The new transaction's id (> 0), or -XS_Exxx. */
int64_t xs_transaction_start(void);
/* 0, or -XS_Exxx (-XS_EAGAIN: a conflict, the transaction was not applied). */
int xs_transaction_end(xs_tx_t tx, int commit);

#endif /* XENSTORE_H */
