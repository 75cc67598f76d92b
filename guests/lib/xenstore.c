/*
 * xenstore client over the ring page (xen/io/xs_wire.h).
 *
 * Both directions are byte streams through 1024-byte rings with
 * free-running 32-bit indexes (byte i at MASK_XENSTORE_IDX(i)); a message is
 * a struct xsd_sockmsg followed by `len` bytes of payload and may be larger
 * than the ring, so it is written and read in pieces.
 *
 * Producer (requests):  read req_cons, mb(), copy into the free part,
 *                       wmb(), advance req_prod, notify.
 * Consumer (replies):   read rsp_prod, rmb(), copy out, mb(),
 *                       advance rsp_cons, notify.
 *
 * Waiting: check the ring, SCHEDOP_poll the store port, clear its pending
 * bit, check the ring again.  A notification sent after the check leaves the
 * port pending, so the poll returns at once: no wakeup is lost.  The port is
 * masked so that event upcalls (if a kernel enables them) never consume the
 * pending bit between the check and the poll; SCHEDOP_poll ignores masks.
 */
#include "xenstore.h"

#define RING_SIZE       XENSTORE_RING_SIZE
#define HDR_SIZE        sizeof(struct xsd_sockmsg)
#define WATCH_QUEUE     8

uint64_t xs_timeout_ns = 30ULL * 1000 * 1000 * 1000;
int xs_mask_port = 1;

static struct xenstore_domain_interface *intf;
static evtchn_port_t port;
static uint32_t next_req_id = 1;
static char last_error[32];

/*
 * The message being received: the header here, the payload (up to
 * XENSTORE_PAYLOAD_MAX and a NUL) in pages taken at xs_init(), so that
 * kernels not using xenstore do not carry the buffers.
 */
static struct {
    struct xsd_sockmsg hdr;
    char *body;
} in;
static size_t in_got;           /* bytes of hdr + body received so far */

/*
 * Watch events that arrived while a reply was awaited: raw payloads
 * ("path\0token\0"), each cut to WQ_ENTRY bytes.
 */
#define WQ_ENTRY        1024
static struct {
    uint32_t len;
    char *data;
} watch_queue[WATCH_QUEUE];
static unsigned int wq_head, wq_count, wq_dropped;

/* Xen's errno names, from xen/errno.h itself. */
static const struct { int num; const char *name; } errnames[] = {
#define XEN_ERRNO(name, value) { value, #name },
#include <xen/errno.h>
};

const char *xs_errname(int err)
{
    unsigned int i;

    if (err < 0)
        err = -err;
    if (err == 0)
        return "OK";
    for (i = 0; i < ARRAY_SIZE(errnames); i++)
        if (errnames[i].num == err)
            return errnames[i].name;
    return "E?";
}

const char *xs_last_error(void)
{
    return last_error;
}

static int errnum(const char *name)
{
    unsigned int i;

    for (i = 0; i < ARRAY_SIZE(errnames); i++)
        if (!strcmp(errnames[i].name, name))
            return errnames[i].num;
    return XS_EIO;
}

static const char *type_name(uint32_t type)
{
    static const char *const names[] = {
        [XS_CONTROL] = "CONTROL", [XS_DIRECTORY] = "DIRECTORY",
        [XS_READ] = "READ", [XS_GET_PERMS] = "GET_PERMS",
        [XS_WATCH] = "WATCH", [XS_UNWATCH] = "UNWATCH",
        [XS_TRANSACTION_START] = "TRANSACTION_START",
        [XS_TRANSACTION_END] = "TRANSACTION_END",
        [XS_INTRODUCE] = "INTRODUCE", [XS_RELEASE] = "RELEASE",
        [XS_GET_DOMAIN_PATH] = "GET_DOMAIN_PATH", [XS_WRITE] = "WRITE",
        [XS_MKDIR] = "MKDIR", [XS_RM] = "RM", [XS_SET_PERMS] = "SET_PERMS",
        [XS_WATCH_EVENT] = "WATCH_EVENT", [XS_ERROR] = "ERROR",
        [XS_IS_DOMAIN_INTRODUCED] = "IS_DOMAIN_INTRODUCED",
        [XS_RESUME] = "RESUME", [XS_SET_TARGET] = "SET_TARGET",
        [XS_RESET_WATCHES] = "RESET_WATCHES",
        [XS_DIRECTORY_PART] = "DIRECTORY_PART",
    };
    if (type < ARRAY_SIZE(names) && names[type])
        return names[type];
    return "?";
}

/* ------------------------------------------------------------------ */
/* Ring and port. */

/* n pages, virtually contiguous (the allocator hands out pfns in order). */
static char *alloc_pages(unsigned int n)
{
    char *first = alloc_page(), *p = first;

    while (--n) {
        char *next = alloc_page();
        if (next != p + PAGE_SIZE)
            failf("xenstore: pages %p and %p are not contiguous", p, next);
        p = next;
    }
    return first;
}

int xs_init(void)
{
    const unsigned int bits = sizeof(xen_ulong_t) * 8;
    char *page = NULL;
    unsigned int i;

    if (intf)
        return 0;
    if (!start_info->store_mfn)
        return -XS_ENOSYS;
    map_shared_info();
    in.body = alloc_pages((XENSTORE_PAYLOAD_MAX + 1 + PAGE_SIZE - 1) / PAGE_SIZE);
    for (i = 0; i < WATCH_QUEUE; i++) {
        if (!(i % (PAGE_SIZE / WQ_ENTRY)))
            page = alloc_page();
        watch_queue[i].data = page + (i % (PAGE_SIZE / WQ_ENTRY)) * WQ_ENTRY;
    }
    port = start_info->store_evtchn;
    if (xs_mask_port)
        __atomic_or_fetch(&shared_info->evtchn_mask[port / bits],
                          (xen_ulong_t)1 << (port % bits), __ATOMIC_SEQ_CST);
    intf = mfn_to_virt(start_info->store_mfn);
    return 0;
}

static void notify(void)
{
    struct evtchn_send send = { .port = port };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_send, &send);

    if (rc)
        failf("xenstore: EVTCHNOP_send on store port %u: rc %ld", port, rc);
}

/* Clear the store port's pending bit; returns whether it was set. */
static int clear_pending(void)
{
    const unsigned int bits = sizeof(xen_ulong_t) * 8;
    xen_ulong_t bit = (xen_ulong_t)1 << (port % bits);

    return !!(__atomic_fetch_and(&shared_info->evtchn_pending[port / bits],
                                 ~bit, __ATOMIC_SEQ_CST) & bit);
}

static uint64_t deadline_after(uint64_t ns)
{
    return ns ? system_time_ns() + ns : 0;
}

/*
 * Sleep until the store port is pending (or the deadline passes); the
 * caller then re-checks the ring.  Returns -XS_ETIMEDOUT once the deadline
 * has passed.
 */
static int sleep_on_port(uint64_t deadline)
{
    struct sched_poll poll;
    evtchn_port_t ports[1] = { port };
    long rc;

    if (deadline && system_time_ns() >= deadline)
        return -XS_ETIMEDOUT;
    memset(&poll, 0, sizeof(poll));
    set_xen_guest_handle(poll.ports, ports);
    poll.nr_ports = 1;
    poll.timeout = deadline;
    rc = HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
    if (rc)
        failf("xenstore: SCHEDOP_poll on store port %u: rc %ld", port, rc);
    /*
     * Back only at the timeout with the port pending: the event did not
     * wake the poll (Xen wakes pollers of a port whether it is masked or
     * not).  Say so now rather than crawl from timeout to timeout.
     */
    if (clear_pending() && deadline && system_time_ns() >= deadline)
        failf("xenstore: SCHEDOP_poll on store port %u (%s) came back only "
              "at its timeout although the port was pending: the event "
              "did not wake the polling vCPU", port,
              xs_mask_port ? "masked" : "not masked");
    return 0;
}

static void check_ring_error(void)
{
    if ((ACCESS_ONCE(intf->server_features) & XENSTORE_SERVER_FEATURE_ERROR) &&
        ACCESS_ONCE(intf->error) != XENSTORE_ERROR_NONE)
        failf("xenstore: the store flagged the ring: error %u",
              ACCESS_ONCE(intf->error));
}

static void check_indexes(const char *ring, XENSTORE_RING_IDX cons,
                          XENSTORE_RING_IDX prod)
{
    if ((XENSTORE_RING_IDX)(prod - cons) > RING_SIZE)
        failf("xenstore: %s ring indexes corrupt: cons %u prod %u",
              ring, cons, prod);
}

/*
 * Write len bytes to the request ring, in as many pieces as the free space
 * allows; while the ring is full, notify the store and wait for it to
 * consume.  Does not notify after the last piece.
 */
static int ring_write(const void *data, size_t len, uint64_t deadline)
{
    const char *p = data;

    while (len) {
        XENSTORE_RING_IDX cons = ACCESS_ONCE(intf->req_cons);
        XENSTORE_RING_IDX prod = intf->req_prod;
        size_t space, chunk, off;

        mb();           /* read req_cons before writing what it frees */
        check_indexes("request", cons, prod);
        space = RING_SIZE - (XENSTORE_RING_IDX)(prod - cons);
        if (!space) {
            int rc;

            notify();
            check_ring_error();
            rc = sleep_on_port(deadline);
            if (rc)
                return rc;
            continue;
        }
        off = MASK_XENSTORE_IDX(prod);
        chunk = RING_SIZE - off;        /* up to the end of the ring */
        if (chunk > space)
            chunk = space;
        if (chunk > len)
            chunk = len;
        memcpy(&intf->req[off], p, chunk);
        wmb();          /* data visible before the index that covers it */
        intf->req_prod = prod + chunk;
        p += chunk;
        len -= chunk;
    }
    return 0;
}

/*
 * Copy up to len available bytes out of the reply ring; returns the count.
 * The caller notifies the store (which may be waiting for room).
 */
static size_t ring_read(void *dst, size_t len)
{
    XENSTORE_RING_IDX cons = intf->rsp_cons;
    XENSTORE_RING_IDX prod = ACCESS_ONCE(intf->rsp_prod);
    char *d = dst;
    size_t done = 0;

    rmb();              /* rsp_prod before the data it covers */
    check_indexes("response", cons, prod);
    while (done < len && cons != prod) {
        size_t off = MASK_XENSTORE_IDX(cons);
        size_t chunk = RING_SIZE - off;

        if (chunk > (XENSTORE_RING_IDX)(prod - cons))
            chunk = (XENSTORE_RING_IDX)(prod - cons);
        if (chunk > len - done)
            chunk = len - done;
        memcpy(d + done, &intf->rsp[off], chunk);
        done += chunk;
        cons += chunk;
    }
    if (done) {
        mb();           /* finish copying before handing the space back */
        intf->rsp_cons = cons;
    }
    return done;
}

/*
 * Pull bytes of the current incoming message (never beyond it).  Returns 1
 * when a whole message is in `in`, 0 when the ring has no more for now.
 */
static int receive_some(void);

static int receive(void)
{
    size_t before = in_got;
    int done = receive_some();

    if (in_got != before || done)
        notify();       /* room in the reply ring */
    return done;
}

static int receive_some(void)
{
    for (;;) {
        size_t want, got;

        if (in_got < HDR_SIZE) {
            want = HDR_SIZE - in_got;
            got = ring_read((char *)&in.hdr + in_got, want);
        } else {
            if (in.hdr.len > XENSTORE_PAYLOAD_MAX)
                failf("xenstore: incoming %s message (req_id %u) has len %u "
                      "> XENSTORE_PAYLOAD_MAX", type_name(in.hdr.type),
                      in.hdr.req_id, in.hdr.len);
            want = HDR_SIZE + in.hdr.len - in_got;
            if (!want)
                break;
            got = ring_read(in.body + (in_got - HDR_SIZE), want);
        }
        in_got += got;
        if (got < want)
            return 0;
        if (in_got >= HDR_SIZE && in_got == HDR_SIZE + in.hdr.len)
            break;
    }
    in.body[in.hdr.len] = '\0';
    return 1;
}

/* Check a WATCH_EVENT payload: "path\0token\0".  Returns the token offset. */
static size_t check_watch_event(const char *data, uint32_t len)
{
    size_t plen = strlen(data);

    if (plen + 1 >= len || data[len - 1] != '\0' ||
        strlen(data + plen + 1) + plen + 2 != len)
        failf("xenstore: malformed WATCH_EVENT payload (len %u, \"%s\")",
              len, data);
    return plen + 1;
}

static void queue_watch_event(void)
{
    unsigned int slot;
    size_t len;

    check_watch_event(in.body, in.hdr.len);
    if (wq_count == WATCH_QUEUE) {
        wq_dropped++;
        printk("xenstore: watch queue full, dropped an event for %s\n",
               in.body);
        return;
    }
    slot = (wq_head + wq_count) % WATCH_QUEUE;
    len = in.hdr.len;
    if (len + 1 > WQ_ENTRY) {
        /* Keep the token whole, cut the path. */
        size_t tok = strlen(in.body) + 1, tlen = len - tok;

        if (tlen + 2 > WQ_ENTRY)
            failf("xenstore: watch token of %u bytes", (unsigned int)tlen);
        printk("xenstore: watch event path of %u bytes cut to fit the queue\n",
               (unsigned int)(tok - 1));
        memcpy(watch_queue[slot].data, in.body, WQ_ENTRY - tlen - 2);
        watch_queue[slot].data[WQ_ENTRY - tlen - 2] = '\0';
        memcpy(watch_queue[slot].data + WQ_ENTRY - tlen - 1, in.body + tok,
               tlen);
        len = WQ_ENTRY - 1;
    } else {
        memcpy(watch_queue[slot].data, in.body, len);
    }
    watch_queue[slot].data[len] = '\0';
    watch_queue[slot].len = len;
    wq_count++;
}

unsigned int xs_watch_pending(void)
{
    return wq_count;
}

/* ------------------------------------------------------------------ */
/* Requests. */

static int talk(uint32_t type, xs_tx_t tx, const void *const *parts,
                const size_t *lens, unsigned int nparts,
                char *reply, size_t rlen)
{
    struct xsd_sockmsg hdr;
    uint64_t deadline;
    size_t total = 0, n;
    unsigned int i;
    int rc;

    rc = xs_init();
    if (rc)
        return rc;
    for (i = 0; i < nparts; i++)
        total += lens[i];
    if (total > XENSTORE_PAYLOAD_MAX)
        return -XS_E2BIG;

    hdr.type = type;
    hdr.req_id = next_req_id++;
    hdr.tx_id = tx;
    hdr.len = total;
    deadline = deadline_after(xs_timeout_ns);
    check_ring_error();
    rc = ring_write(&hdr, sizeof(hdr), deadline);
    for (i = 0; !rc && i < nparts; i++)
        rc = ring_write(parts[i], lens[i], deadline);
    if (rc)
        failf("xenstore: %s request %u: no room in the ring within the "
              "timeout (req_cons %u req_prod %u)", type_name(type),
              hdr.req_id, intf->req_cons, intf->req_prod);
    notify();

    /* Wait for our reply, queueing watch events that come first. */
    for (;;) {
        if (receive()) {
            in_got = 0;
            if (in.hdr.type == XS_WATCH_EVENT) {
                queue_watch_event();
                continue;
            }
            break;
        }
        check_ring_error();
        if (sleep_on_port(deadline))
            failf("xenstore: no reply to %s request %u within %llu ms "
                  "(rsp_cons %u rsp_prod %u, %u bytes of a message)",
                  type_name(type), hdr.req_id,
                  (unsigned long long)(xs_timeout_ns / 1000000),
                  intf->rsp_cons, intf->rsp_prod, (unsigned int)in_got);
    }

    if (in.hdr.req_id != hdr.req_id)
        failf("xenstore: reply (%s) to %s request has req_id %u, the request "
              "had %u", type_name(in.hdr.type), type_name(type),
              in.hdr.req_id, hdr.req_id);
    if (in.hdr.tx_id != hdr.tx_id)
        failf("xenstore: reply (%s) to %s request %u has tx_id %u, the "
              "request had %u", type_name(in.hdr.type), type_name(type),
              hdr.req_id, in.hdr.tx_id, hdr.tx_id);
    if (in.hdr.type == XS_ERROR) {
        if (!in.hdr.len || in.body[in.hdr.len - 1] != '\0' ||
            strlen(in.body) + 1 != in.hdr.len)
            printk("xenstore: XS_ERROR payload is not one NUL-terminated "
                   "string (len %u)\n", in.hdr.len);
        n = strlen(in.body);
        if (n >= sizeof(last_error))
            n = sizeof(last_error) - 1;
        memcpy(last_error, in.body, n);
        last_error[n] = '\0';
        return -errnum(last_error);
    }
    if (in.hdr.type != type)
        failf("xenstore: reply to %s request %u has type %u (%s)",
              type_name(type), hdr.req_id, in.hdr.type,
              type_name(in.hdr.type));
    if (reply && rlen) {
        n = in.hdr.len < rlen ? in.hdr.len : rlen;
        memcpy(reply, in.body, n);
        if (n < rlen)
            reply[n] = '\0';
    }
    return (int)in.hdr.len;
}

int xs_request(uint32_t type, xs_tx_t tx, const void *payload, size_t len,
               char *reply, size_t rlen)
{
    const void *parts[1] = { payload };
    size_t lens[1] = { len };

    return talk(type, tx, parts, lens, 1, reply, rlen);
}

/* A request whose payload is one or two NUL-terminated strings. */
static int talk_strings(uint32_t type, xs_tx_t tx, const char *a,
                        const char *b, char *reply, size_t rlen)
{
    const void *parts[2] = { a, b };
    size_t lens[2] = { strlen(a) + 1, b ? strlen(b) + 1 : 0 };

    return talk(type, tx, parts, lens, b ? 2 : 1, reply, rlen);
}

/* Replies that carry "OK\0". */
static int expect_ok(const char *what, int rc, const char *reply)
{
    if (rc < 0)
        return rc;
    if (rc != 3 || strcmp(reply, "OK"))
        failf("xenstore: %s reply is \"%s\" (len %d), not \"OK\"",
              what, reply, rc);
    return 0;
}

int xs_read_tx(xs_tx_t tx, const char *path, char *buf, size_t len)
{
    int rc = talk_strings(XS_READ, tx, path, NULL, buf, len);

    if (rc >= 0 && len)
        buf[(size_t)rc < len ? (size_t)rc : len - 1] = '\0';
    return rc;
}

int xs_write_bytes_tx(xs_tx_t tx, const char *path, const void *value,
                      size_t vlen)
{
    const void *parts[2] = { path, value };
    size_t lens[2] = { strlen(path) + 1, vlen };      /* value: no NUL */
    char reply[8];

    return expect_ok("WRITE",
                     talk(XS_WRITE, tx, parts, lens, 2, reply, sizeof(reply)),
                     reply);
}

int xs_write_tx(xs_tx_t tx, const char *path, const char *value)
{
    return xs_write_bytes_tx(tx, path, value, strlen(value));
}

int xs_mkdir_tx(xs_tx_t tx, const char *path)
{
    char reply[8];

    return expect_ok("MKDIR", talk_strings(XS_MKDIR, tx, path, NULL, reply,
                                           sizeof(reply)), reply);
}

int xs_rm_tx(xs_tx_t tx, const char *path)
{
    char reply[8];

    return expect_ok("RM", talk_strings(XS_RM, tx, path, NULL, reply,
                                        sizeof(reply)), reply);
}

int xs_directory_tx(xs_tx_t tx, const char *path, char *buf, size_t len)
{
    int rc = talk_strings(XS_DIRECTORY, tx, path, NULL, buf, len);
    int count = 0, i;

    if (rc < 0)
        return rc;
    if ((size_t)rc + 1 > len)
        return -XS_E2BIG;
    if (rc && buf[rc - 1] != '\0')
        failf("xenstore: DIRECTORY reply for %s does not end in NUL", path);
    buf[rc] = '\0';
    for (i = 0; i < rc; i++)
        if (!buf[i]) {
            if (i == 0 || !buf[i - 1])
                failf("xenstore: DIRECTORY reply for %s has an empty name",
                      path);
            count++;
        }
    return count;
}

int xs_get_domain_path(unsigned int domid, char *buf, size_t len)
{
    char num[16];
    int rc;

    snprintf(num, sizeof(num), "%u", domid);
    rc = talk_strings(XS_GET_DOMAIN_PATH, XS_TX_NONE, num, NULL, buf, len);
    if (rc > 0 && (size_t)rc <= len && buf[rc - 1] == '\0')
        rc--;           /* the path comes NUL-terminated */
    if (rc >= 0 && len)
        buf[(size_t)rc < len ? (size_t)rc : len - 1] = '\0';
    return rc;
}

int xs_write_for(const char *node, const char *value, unsigned int reader)
{
    char me[16], perms[160], reply[64];
    int rc, len = 0;

    rc = xs_write(node, value);
    if (rc < 0)
        return rc;
    rc = xs_read("domid", me, sizeof(me));
    if (rc < 0)
        return rc;
    /* SET_PERMS payload: the absolute path, the owner entry, the reader's entry */
    len += snprintf(perms + len, sizeof(perms) - len, "/local/domain/%s/%s", me, node) + 1;
    len += snprintf(perms + len, sizeof(perms) - len, "n%s", me) + 1;
    len += snprintf(perms + len, sizeof(perms) - len, "r%u", reader) + 1;
    rc = xs_request(XS_SET_PERMS, XS_TX_NONE, perms, len, reply, sizeof(reply));
    return rc < 0 ? rc : 0;
}

int xs_watch(const char *path, const char *token)
{
    char reply[8];

    return expect_ok("WATCH", talk_strings(XS_WATCH, XS_TX_NONE, path, token,
                                           reply, sizeof(reply)), reply);
}

int xs_unwatch(const char *path, const char *token)
{
    char reply[8];

    return expect_ok("UNWATCH", talk_strings(XS_UNWATCH, XS_TX_NONE, path,
                                             token, reply, sizeof(reply)),
                     reply);
}

static void copy_out(char *dst, size_t dlen, const char *src)
{
    size_t n = strlen(src);

    if (!dlen)
        return;
    if (n >= dlen)
        n = dlen - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int xs_read_watch(char *path, size_t plen, char *token, size_t tlen,
                  uint64_t timeout_ns)
{
    uint64_t deadline;
    size_t tok;
    int rc = xs_init();

    if (rc)
        return rc;
    deadline = deadline_after(timeout_ns);
    while (!wq_count) {
        if (receive()) {
            in_got = 0;
            if (in.hdr.type != XS_WATCH_EVENT)
                failf("xenstore: unsolicited %s message (req_id %u) with "
                      "no request outstanding", type_name(in.hdr.type),
                      in.hdr.req_id);
            queue_watch_event();
            continue;
        }
        check_ring_error();
        if (sleep_on_port(deadline))
            return -XS_ETIMEDOUT;
    }
    tok = check_watch_event(watch_queue[wq_head].data,
                            watch_queue[wq_head].len);
    copy_out(path, plen, watch_queue[wq_head].data);
    copy_out(token, tlen, watch_queue[wq_head].data + tok);
    wq_head = (wq_head + 1) % WATCH_QUEUE;
    wq_count--;
    return 0;
}

int64_t xs_transaction_start(void)
{
    char reply[16];
    uint64_t id = 0;
    int rc, i;

    /* The payload is one empty string, as the other argless requests. */
    rc = talk_strings(XS_TRANSACTION_START, XS_TX_NONE, "", NULL, reply,
                      sizeof(reply));
    if (rc < 0)
        return rc;
    if (rc < 2 || (size_t)rc > sizeof(reply) - 1 || reply[rc - 1] != '\0')
        failf("xenstore: TRANSACTION_START reply is not a NUL-terminated "
              "number (len %d)", rc);
    for (i = 0; i < rc - 1; i++) {
        if (reply[i] < '0' || reply[i] > '9')
            failf("xenstore: TRANSACTION_START reply \"%s\" is not a number",
                  reply);
        id = id * 10 + (reply[i] - '0');
    }
    if (id == 0 || id > 0xffffffffULL)
        failf("xenstore: TRANSACTION_START returned id \"%s\"", reply);
    return (int64_t)id;
}

int xs_transaction_end(xs_tx_t tx, int commit)
{
    char reply[8];

    return expect_ok("TRANSACTION_END",
                     talk_strings(XS_TRANSACTION_END, tx, commit ? "T" : "F",
                                  NULL, reply, sizeof(reply)), reply);
}
