/*
 * isolation: a hostile domain attacks another one by every route a PV guest has,
 * and the victim checks afterwards that nothing of its own changed.
 *   role=1 peer=<attacker>  the victim: fills pages with a pattern, grants page P
 *                           read-write to somebody else (d<peer+40>) and page R
 *                           read-only to the attacker, offers a port to d<peer+40>,
 *                           keeps a private xenstore node, publishes the refs and
 *                           the port in data/victim (readable by the attacker), then
 *                           waits for data/go (written by dom0) and checks it all
 *   role=2 peer=<victim>    the attacker: grants (refs not granted, granted to
 *                           someone else, forged entries in its own table), foreign
 *                           MMU hypercalls, event channels (another domain's ports,
 *                           unbound and closed ports, exhausting its own ports),
 *                           xenstore (outside its permissions, watch, transaction and
 *                           entry floods, malformed requests) and, last, a message
 *                           larger than the protocol allows written straight into its
 *                           ring (xenstored drops the connection)
 * Every attempt prints "isolation: <what> -> <rc> OK" when it got Xen's answer.
 */
#include "guest.h"
#include "gnttab.h"
#include "xenstore.h"

#define VICTIM_NODE "data/victim"
#define SECRET_NODE "data/secret"
#define SECRET      "the victim's own value"
#define NR_PAGES    6

static unsigned long peer, attacks;
static char me[16];

static uint64_t pattern(unsigned int page, unsigned int word)
{
    return ((uint64_t)page << 48 | word) * 0x9E3779B97F4A7C15ULL;
}

static void fill(uint64_t *p, unsigned int page)
{
    for (unsigned int i = 0; i < PAGE_SIZE / 8; i++)
        p[i] = pattern(page, i);
}

static int intact(const uint64_t *p, unsigned int page)
{
    for (unsigned int i = 0; i < PAGE_SIZE / 8; i++)
        if (p[i] != pattern(page, i))
            return 0;
    return 1;
}

static void try_rc(const char *what, long got, long want)
{
    attacks++;
    if (EXPECT(got == want, "%s: got %ld, want %ld", what, got, want))
        printk("isolation: %-52s -> %ld OK\n", what, got);
}

static int evtchn_state(domid_t dom, evtchn_port_t port, domid_t *remote)
{
    struct evtchn_status st = { .dom = dom, .port = port };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);

    if (rc)
        return (int)rc;
    if (remote)
        *remote = st.u.unbound.dom;
    return (int)st.status;
}

/* ---- the victim ------------------------------------------------------------------ */
static void victim(void)
{
    uint64_t *pages[NR_PAGES];
    char value[96], go[8];
    domid_t someone_else = (domid_t)(peer + 40), remote = 0;
    struct evtchn_alloc_unbound alloc = { .dom = DOMID_SELF, .remote_dom = someone_else };
    grant_ref_t ref_p, ref_r;

    for (unsigned int i = 0; i < NR_PAGES; i++)
        fill(pages[i] = alloc_page(), i);
    CHECK(gnttab_init() == 0, "gnttab_init");
    ref_p = gnttab_grant_access(someone_else, virt_to_mfn(pages[0]), 0);
    ref_r = gnttab_grant_access((domid_t)peer, virt_to_mfn(pages[1]), 1);
    CHECK(ref_p && ref_r, "out of grant refs");
    CHECK(HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &alloc) == 0, "alloc_unbound");
    CHECK(xs_write(SECRET_NODE, SECRET) == 0, "write %s", SECRET_NODE);
    snprintf(value, sizeof(value), "%u %u %u %lu %lu", ref_p, ref_r, alloc.port,
             virt_to_mfn(pages[2]), (unsigned long)start_info->store_evtchn);
    CHECK(xs_write_for(VICTIM_NODE, value, (unsigned int)peer) == 0, "publish %s", VICTIM_NODE);
    printk("isolation: victim ready: refs %u (d%u) %u (d%lu, ro), port %u for d%u\n",
           ref_p, someone_else, ref_r, peer, alloc.port, someone_else);

    for (unsigned long tries = 0; xs_read("data/go", go, sizeof(go)) <= 0; tries++) {
        CHECK(tries < 5000000, "never told to check");
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    for (unsigned int i = 0; i < NR_PAGES; i++)
        CHECK(intact(pages[i], i), "page %u changed", i);
    uint16_t fp = ACCESS_ONCE(gnttab_entry(ref_p)->flags);
    uint16_t fr = ACCESS_ONCE(gnttab_entry(ref_r)->flags);
    CHECK(fp == GTF_permit_access && gnttab_entry(ref_p)->domid == someone_else,
          "entry P flags %x domid %u", fp, gnttab_entry(ref_p)->domid);
    CHECK(fr == (GTF_permit_access | GTF_readonly), "entry R flags %x", fr);
    CHECK(gnttab_end_access(ref_p) == 0 && gnttab_end_access(ref_r) == 0, "end_access");
    CHECK(evtchn_state(DOMID_SELF, alloc.port, &remote) == EVTCHNSTAT_unbound &&
          remote == someone_else, "port %u: status %d remote %u", alloc.port,
          evtchn_state(DOMID_SELF, alloc.port, NULL), remote);
    CHECK(xs_read(SECRET_NODE, value, sizeof(value)) > 0 && strcmp(value, SECRET) == 0,
          "%s reads '%s'", SECRET_NODE, value);
    printk("isolation: victim memory (%u pages), grant entries, port and xenstore unchanged\n",
           NR_PAGES);
}

/* ---- the attacker: grants ----------------------------------------------------------- */
static struct kctx fault_ctx;
static volatile unsigned long fault_err, expecting_fault;

static int fault_hook(struct trap_frame *f)
{
    if (f->vector != 14 || !expecting_fault)
        return RET_UNHANDLED;
    fault_err = f->error_code;
    expecting_fault = 0;
    kctx_restore(&fault_ctx, 1);
}

static long copy(gnttab_copy_t *cp)
{
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_copy, cp, 1);
    return rc ? rc : cp->status;
}

/* our own table: write an entry by hand, as a forger would */
static void forge(grant_ref_t ref, uint16_t flags, domid_t domid, uint32_t frame)
{
    grant_entry_v1_t *e = gnttab_entry(ref);

    e->domid = domid;
    e->frame = frame;
    wmb();
    e->flags = flags;
}

static void attack_grants(domid_t v, grant_ref_t ref_p, grant_ref_t ref_r,
                          unsigned long victim_mfn)
{
    char *spare = alloc_page(), *mine = alloc_page();
    grant_handle_t h = 0;
    domid_t self;
    long rc;

    CHECK(gnttab_init() == 0, "gnttab_init");
    self = (domid_t)next_ulong(&(const char *){ me });
    try_rc("map a ref granted to somebody else", gnttab_map(ref_p, v, spare, 0, NULL),
           GNTST_general_error);
    try_rc("map a ref granted to somebody else, read-only", gnttab_map(ref_p, v, spare, 1, NULL),
           GNTST_general_error);
    try_rc("map a read-only ref writable", gnttab_map(ref_r, v, spare, 0, NULL),
           GNTST_general_error);
    try_rc("map a ref never granted (ref 100)", gnttab_map(100, v, spare, 1, NULL),
           GNTST_general_error);
    try_rc("map a reserved ref (ref 0)", gnttab_map(0, v, spare, 1, NULL), GNTST_general_error);
    try_rc("map a ref past the table", gnttab_map(1u << 30, v, spare, 1, NULL), GNTST_bad_gntref);
    try_rc("map from a domain that does not exist", gnttab_map(ref_r, 999, spare, 1, NULL),
           GNTST_bad_domain);

    /* the one thing we were granted, read-only: writing through it faults */
    rc = gnttab_map(ref_r, v, spare, 1, &h);
    try_rc("map the read-only ref read-only (allowed)", rc, GNTST_okay);
    if (rc == GNTST_okay) {
        trap_hook = fault_hook;
        if (kctx_save(&fault_ctx) == 0) {
            expecting_fault = 1;
            ACCESS_ONCE(spare[64]) = 'X';
            expecting_fault = 0;
            expectf("a write through a read-only grant mapping did not fault");
        }
        trap_hook = NULL;
        try_rc("write through it: #PF error code", (long)fault_err, PFEC_PRESENT | PFEC_WRITE);
        gnttab_unmap_grant_ref_t un = { .host_addr = (unsigned long)spare, .handle = h };
        CHECK(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &un, 1) == 0, "unmap");
        try_rc("unmap it", un.status, GNTST_okay);
    }

    /* GNTTABOP_copy naming the victim's frames without a grant, or a grant not ours */
    gnttab_copy_t cp = {
        .source = { .u.gmfn = victim_mfn, .domid = v },
        .dest = { .u.gmfn = virt_to_mfn(mine), .domid = DOMID_SELF },
        .len = 64,
    };
    try_rc("copy from a victim frame without a grant", copy(&cp), GNTST_permission_denied);
    cp.source.u.gmfn = virt_to_mfn(mine);
    cp.source.domid = DOMID_SELF;
    cp.dest.u.gmfn = victim_mfn;
    cp.dest.domid = v;
    try_rc("copy into a victim frame without a grant", copy(&cp), GNTST_permission_denied);
    cp.dest.u.ref = ref_r;
    cp.flags = GNTCOPY_dest_gref;
    try_rc("copy into the read-only ref", copy(&cp), GNTST_general_error);
    cp.dest.u.ref = ref_p;
    try_rc("copy into a ref granted to somebody else", copy(&cp), GNTST_general_error);

    /* forged entries in our own table, mapped by ourselves */
    forge(20, GTF_permit_access, self, 0x7fffff);
    try_rc("forged entry: a frame beyond our memory", gnttab_map(20, DOMID_SELF, spare, 1, NULL),
           GNTST_bad_page);
    forge(21, GTF_accept_transfer, self, virt_to_mfn(mine));
    try_rc("forged entry: a transfer entry mapped", gnttab_map(21, DOMID_SELF, spare, 1, NULL),
           GNTST_general_error);
    forge(22, GTF_permit_access | GTF_reading | GTF_writing, (domid_t)(self + 1),
          virt_to_mfn(mine));
    try_rc("forged entry: in-use flags, another domid", gnttab_map(22, DOMID_SELF, spare, 1, NULL),
           GNTST_general_error);
    forge(23, GTF_permit_access, self, (uint32_t)victim_mfn + (1u << 20));
    try_rc("forged entry: the victim's frame number + 4 GiB", gnttab_map(23, DOMID_SELF, spare, 1,
           NULL), GNTST_bad_page);
    pgentry_t *l1e = pt_lookup(kernel_root_mfn(), (unsigned long)mine, 1);
    forge(24, GTF_permit_access, self, virt_to_mfn((void *)((unsigned long)l1e & PAGE_MASK)));
    try_rc("forged entry: our own L1 table, mapped writable",
           gnttab_map(24, DOMID_SELF, spare, 0, NULL), GNTST_general_error);
    char *data = alloc_page();
    grant_handle_t hd = 0;
    memset(data, 0, PAGE_SIZE);
    forge(25, GTF_permit_access, self, virt_to_mfn(data));
    try_rc("forged entry: a data page of ours, writable (allowed)",
           gnttab_map(25, DOMID_SELF, spare, 0, &hd), GNTST_okay);
    CHECK(set_page_prot(data, L1_PROT_RO) == 0, "map the data page read-only");
    try_rc("pin it as an L1 table while grant-mapped writable",
           mmuext1(MMUEXT_PIN_L1_TABLE, virt_to_mfn(data)), -XEN_EINVAL);
    gnttab_unmap_grant_ref_t un = { .host_addr = (unsigned long)spare, .handle = hd };
    CHECK(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &un, 1) == 0 &&
          un.status == GNTST_okay, "unmap the data page");
    try_rc("pin it once unmapped (allowed)", mmuext1(MMUEXT_PIN_L1_TABLE, virt_to_mfn(data)), 0);
    CHECK(mmuext1(MMUEXT_UNPIN_TABLE, virt_to_mfn(data)) == 0, "unpin");
    for (grant_ref_t r = 20; r <= 25; r++)
        gnttab_entry(r)->flags = 0;
}

/* ---- the attacker: the MMU ---------------------------------------------------------- */
static void attack_mmu(domid_t v)
{
    char *page = alloc_page();
    pgentry_t *pte = pt_lookup(kernel_root_mfn(), (unsigned long)page, 1);
    mmu_update_t req = { .ptr = virt_to_mach(pte), .val = *pte };
    struct mmuext_op flush = { .cmd = MMUEXT_TLB_FLUSH_LOCAL };
    domid_t self = (domid_t)next_ulong(&(const char *){ me });

    try_rc("mmu_update with foreigndom = the victim",
           HYPERVISOR_mmu_update(&req, 1, NULL, v), -1 /* -EPERM */);
    try_rc("mmu_update with foreigndom = ourselves by number",
           HYPERVISOR_mmu_update(&req, 1, NULL, self), -XEN_ESRCH);
    try_rc("mmuext_op with foreigndom = the victim",
           HYPERVISOR_mmuext_op(&flush, 1, NULL, v), -1);
    try_rc("update_va_mapping_otherdomain on the victim",
           _hypercall(__HYPERVISOR_update_va_mapping_otherdomain, (unsigned long)page,
                      (unsigned long)*pte, 0, v, 0), -1);
    try_rc("mmu_update with foreigndom = DOMID_SELF (allowed)",
           HYPERVISOR_mmu_update(&req, 1, NULL, DOMID_SELF), 0);
}

/* ---- the attacker: event channels --------------------------------------------------- */
static long evtchn(int cmd, void *arg)
{
    return HYPERVISOR_event_channel_op(cmd, arg);
}

static void attack_events(domid_t v, evtchn_port_t offered, evtchn_port_t store)
{
    struct evtchn_bind_interdomain bind = { .remote_dom = v, .remote_port = offered };
    struct evtchn_alloc_unbound alloc = { .dom = v, .remote_dom = DOMID_SELF };
    struct evtchn_send send = { .port = 500 };
    struct evtchn_close close = { .port = 500 };
    struct evtchn_unmask unmask = { .port = 1u << 20 };
    unsigned int refused = 0, n = 0;
    static evtchn_port_t mine[4096];
    long rc;

    try_rc("bind the victim's port offered to somebody else", evtchn(EVTCHNOP_bind_interdomain,
           &bind), -XEN_EINVAL);
    bind.remote_port = store;
    try_rc("bind the victim's xenstore port (bound to dom0)", evtchn(EVTCHNOP_bind_interdomain,
           &bind), -XEN_EINVAL);
    for (evtchn_port_t p = 0; p < 64; p++) {
        bind.remote_port = p;
        refused += evtchn(EVTCHNOP_bind_interdomain, &bind) == -XEN_EINVAL;
    }
    try_rc("bind each of the victim's ports 0-63: refused", refused, 64);
    attacks += 63;
    bind.remote_port = 1u << 30;
    try_rc("bind a victim port past the limit", evtchn(EVTCHNOP_bind_interdomain, &bind),
           -XEN_EINVAL);
    try_rc("alloc_unbound in the victim's name", evtchn(EVTCHNOP_alloc_unbound, &alloc),
           -XEN_EPERM);
    /* as Xen's XSM: a domain that exists is refused, one that does not is not found */
    try_rc("status of the victim's port", evtchn_state(v, offered, NULL), -XEN_EPERM);
    try_rc("status of a port of a domain that does not exist", evtchn_state(0x7000, 1, NULL),
           -XEN_ESRCH);
    domid_t victim = v;
    try_rc("the victim's current reservation",
           HYPERVISOR_memory_op(XENMEM_current_reservation, &victim), -XEN_EPERM);
    victim = 0x7000;
    try_rc("the reservation of a domain that does not exist",
           HYPERVISOR_memory_op(XENMEM_maximum_reservation, &victim), -XEN_ESRCH);
    try_rc("send on a port never allocated", evtchn(EVTCHNOP_send, &send), -XEN_EINVAL);
    try_rc("close a port never allocated", evtchn(EVTCHNOP_close, &close), -XEN_EINVAL);
    try_rc("unmask a port past the limit", evtchn(EVTCHNOP_unmask, &unmask), -XEN_EINVAL);
    send.port = 1u << 30;
    try_rc("send on a port past the limit", evtchn(EVTCHNOP_send, &send), -XEN_EINVAL);

    alloc.dom = DOMID_SELF;
    alloc.remote_dom = v;
    CHECK(evtchn(EVTCHNOP_alloc_unbound, &alloc) == 0, "alloc_unbound for the victim");
    send.port = alloc.port;
    try_rc("send on our unbound port (dropped)", evtchn(EVTCHNOP_send, &send), 0);
    close.port = alloc.port;
    try_rc("close it", evtchn(EVTCHNOP_close, &close), 0);
    try_rc("send on the closed port", evtchn(EVTCHNOP_send, &send), -XEN_EINVAL);
    try_rc("close it again", evtchn(EVTCHNOP_close, &close), -XEN_EINVAL);

    /* every port we may have */
    for (;;) {
        struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = v };
        rc = evtchn(EVTCHNOP_alloc_unbound, &a);
        if (rc)
            break;
        CHECK(n < ARRAY_SIZE(mine), "more ports than the ABI has");
        mine[n++] = a.port;
    }
    attacks += n;
    try_rc("allocate ports until none are left", rc, -28 /* -ENOSPC */);
    struct evtchn_bind_ipi ipi = { .vcpu = 0 };
    try_rc("bind an IPI with no port left", evtchn(EVTCHNOP_bind_ipi, &ipi), -28);
    printk("isolation: took %u ports, all offered to d%u\n", n, v);
    for (unsigned int i = 0; i < n; i++) {
        close.port = mine[i];
        CHECK(evtchn(EVTCHNOP_close, &close) == 0, "close port %u", mine[i]);
    }
}

/* ---- the attacker: xenstore --------------------------------------------------------- */
static void attack_xenstore(domid_t v)
{
    char path[96], buf[128], *big = alloc_page();
    int rc, watches = 0, entries = 0;
    int64_t tx[16];
    unsigned int ntx = 0;

    snprintf(path, sizeof(path), "/local/domain/%u/%s", v, SECRET_NODE);
    try_rc("xenstore: read the victim's private node", xs_read(path, buf, sizeof(buf)),
           -XS_EACCES);
    try_rc("xenstore: overwrite it", xs_write(path, "mine"), -XS_EACCES);
    try_rc("xenstore: remove it", xs_rm(path), -XS_EACCES);
    rc = snprintf(buf, sizeof(buf), "%s", path) + 1;
    rc += snprintf(buf + rc, sizeof(buf) - rc, "n%s", me) + 1;
    try_rc("xenstore: take it over with SET_PERMS",
           xs_request(XS_SET_PERMS, 0, buf, rc, buf, sizeof(buf)), -XS_EACCES);
    snprintf(path, sizeof(path), "/local/domain/%u/data/planted", v);
    try_rc("xenstore: plant a node in the victim's home", xs_write(path, "x"), -XS_EACCES);
    snprintf(path, sizeof(path), "/local/domain/%u", v);
    try_rc("xenstore: list the victim's home", xs_directory(path, buf, sizeof(buf)),
           -XS_EACCES);
    try_rc("xenstore: remove the victim's home", xs_rm(path), -XS_EACCES);
    try_rc("xenstore: write at the root", xs_write("/planted", "x"), -XS_EACCES);
    snprintf(buf, sizeof(buf), "%u", v);
    try_rc("xenstore: RELEASE the victim", xs_request(XS_RELEASE, 0, buf, strlen(buf) + 1,
           buf, sizeof(buf)), -XS_EACCES);

    /* floods: each stops at its quota with ENOSPC */
    for (;;) {
        char token[16];
        snprintf(path, sizeof(path), "data/w%d", watches);
        snprintf(token, sizeof(token), "t%d", watches);
        rc = xs_watch(path, token);
        if (rc)
            break;
        CHECK(++watches <= 100000, "watches without end");
    }
    attacks += watches;
    try_rc("xenstore: watches until the quota (ENOSPC)", rc, -XS_ENOSPC);
    printk("isolation: xenstore took %d watches\n", watches);
    for (int i = 0; i < watches; i++) {
        char token[16];
        snprintf(path, sizeof(path), "data/w%d", i);
        snprintf(token, sizeof(token), "t%d", i);
        CHECK(xs_unwatch(path, token) == 0, "unwatch %s", path);
    }
    for (;;) {
        int64_t t = xs_transaction_start();
        if (t < 0) {
            rc = (int)t;
            break;
        }
        CHECK(ntx < ARRAY_SIZE(tx), "transactions without end");
        tx[ntx++] = t;
    }
    attacks += ntx;
    try_rc("xenstore: transactions until the quota (ENOSPC)", rc, -XS_ENOSPC);
    printk("isolation: xenstore took %u transactions\n", ntx);
    for (unsigned int i = 0; i < ntx; i++)
        CHECK(xs_transaction_end((xs_tx_t)tx[i], 0) == 0, "end transaction");
    CHECK(xs_mkdir("data/flood") == 0, "mkdir data/flood");
    for (;;) {
        snprintf(path, sizeof(path), "data/flood/%d", entries);
        rc = xs_write(path, "");
        if (rc)
            break;
        CHECK(++entries <= 100000, "entries without end");
    }
    attacks += entries;
    try_rc("xenstore: nodes until the quota (ENOSPC)", rc, -XS_ENOSPC);
    printk("isolation: xenstore took %d more nodes\n", entries);
    CHECK(xs_rm("data/flood") == 0, "rm data/flood");
    memset(big, 'v', 3000);
    try_rc("xenstore: a 3000-byte value (node size quota)",
           xs_write_bytes_tx(XS_TX_NONE, "data/big", big, 3000), -XS_ENOSPC);

    /* malformed requests: an error reply each, the connection goes on */
    try_rc("xenstore: unknown message type", xs_request(9999, 0, "x", 2, buf, sizeof(buf)),
           -XS_ENOSYS);
    try_rc("xenstore: READ without its NUL", xs_request(XS_READ, 0, "data", 4, buf,
           sizeof(buf)), -XS_EINVAL);
    try_rc("xenstore: READ in a transaction never started", xs_request(XS_READ, 424242,
           "data", 5, buf, sizeof(buf)), -XS_ENOENT);
    try_rc("xenstore: WATCH with one argument", xs_request(XS_WATCH, 0, "data", 5, buf,
           sizeof(buf)), -XS_EINVAL);
    try_rc("xenstore: TRANSACTION_END with X", xs_request(XS_TRANSACTION_END, 0, "X", 2, buf,
           sizeof(buf)), -XS_EINVAL);
    try_rc("xenstore: still answers after all that", xs_write("data/alive", "yes"), 0);
}

/* Last: a header announcing more than XENSTORE_PAYLOAD_MAX, straight into the ring. */
static void oversized_message(void)
{
    struct xenstore_domain_interface *intf = mfn_to_virt(start_info->store_mfn);
    struct xsd_sockmsg hdr = { .type = XS_WRITE, .req_id = 77, .len = XENSTORE_PAYLOAD_MAX + 1 };
    struct evtchn_send send = { .port = start_info->store_evtchn };
    XENSTORE_RING_IDX prod = intf->req_prod;
    const char *p = (const char *)&hdr;

    for (unsigned int i = 0; i < sizeof(hdr); i++)
        intf->req[MASK_XENSTORE_IDX(prod + i)] = p[i];
    for (unsigned int i = 0; i < 64; i++)
        intf->req[MASK_XENSTORE_IDX(prod + sizeof(hdr) + i)] = 'o';
    wmb();
    intf->req_prod = prod + sizeof(hdr) + 64;
    mb();
    HYPERVISOR_event_channel_op(EVTCHNOP_send, &send);
    for (unsigned long i = 0; !ACCESS_ONCE(intf->error) && i < 2000000; i++)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    printk("isolation: wrote a %u-byte message header into our xenstore ring\n", hdr.len);
    /* xenstored stops talking on this ring and says why, as the protocol has it */
    try_rc("xenstore: oversized message: the ring's error field", ACCESS_ONCE(intf->error),
           XENSTORE_ERROR_PROTO);
}

static void attacker(void)
{
    char value[96], path[96];
    const char *s = value;

    snprintf(path, sizeof(path), "/local/domain/%lu/%s", peer, VICTIM_NODE);
    for (unsigned long tries = 0; xs_read(path, value, sizeof(value)) <= 0; tries++) {
        CHECK(tries < 500000, "no %s", path);
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    grant_ref_t ref_p = next_ulong(&s), ref_r = next_ulong(&s);
    evtchn_port_t offered = next_ulong(&s);
    unsigned long victim_mfn = next_ulong(&s), store = next_ulong(&s);
    printk("isolation: attacking d%lu (refs %u %u, port %u)\n", peer, ref_p, ref_r, offered);

    attack_grants((domid_t)peer, ref_p, ref_r, victim_mfn);
    attack_mmu((domid_t)peer);
    attack_events((domid_t)peer, offered, (evtchn_port_t)store);
    attack_xenstore((domid_t)peer);
    oversized_message();
    printk("isolation: %lu attacks made\n", attacks);
}

static void isolation_main(void)
{
    unsigned long role = 0;

    map_shared_info();
    CHECK(cmdline_get_ulong("role", &role) == 0 && (role == 1 || role == 2),
          "need role=1 (victim) or role=2 (attacker)");
    CHECK(cmdline_get_ulong("peer", &peer) == 0, "need peer=<domid>");
    CHECK(xs_init() == 0, "xs_init");
    CHECK(xs_read("domid", me, sizeof(me)) > 0, "read domid");
    if (role == 1)
        victim();
    else
        attacker();
}

DEFINE_KERNEL("isolation", isolation_main, 0);
