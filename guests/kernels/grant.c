/*
 * grant: grant tables between two domains, each in its own process.
 *   role=1 peer=<domid>  the granter: grants page A read-write and page B read-only
 *                        to the peer, page C to somebody else, and publishes the refs
 *                        in xenstore (data/grant-refs, readable by the peer)
 *   role=2 peer=<domid>  the mapper: maps A and B into its own address space, reads
 *                        and writes through them, is refused everything it was not
 *                        granted, copies with GNTTABOP_copy, unmaps
 * The granter checks end_access fails while the peer has a page mapped (the
 * GTF_reading/GTF_writing flags are set) and works once it is unmapped, and that
 * the peer's write landed in its own page. Both also check the local table ops and
 * Xen's status codes for bad refs, domains and handles.
 * With hold=1 the mapper keeps its mappings and never finishes; the granter with
 * orphan=1 then waits until the mapper is destroyed and its pins dropped.
 */
#include "guest.h"
#include "gnttab.h"
#include "xenstore.h"

#define REFS_NODE  "data/grant-refs"
#define STATE_NODE "data/grant-state"
#define PATTERN_A  "granted read-write"
#define PATTERN_B  "granted read-only"
#define WRITTEN    "written by the mapper"

static unsigned long peer, hold, orphan;
static char me[16];

/* ---- xenstore: publish a node for the peer, wait for the peer's node ---------- */
static void publish(const char *node, const char *value)
{
    int rc = xs_write_for(node, value, (unsigned int)peer);

    CHECK(rc == 0, "publish %s for d%lu: %s", node, peer, xs_errname(rc));
}

static void wait_peer(const char *node, const char *want, char *out, size_t len)
{
    char path[96];

    snprintf(path, sizeof(path), "/local/domain/%lu/%s", peer, node);
    for (unsigned long tries = 0; tries < 200000; tries++) {
        int rc = xs_read(path, out, len);
        if (rc > 0 && (!want || strcmp(out, want) == 0))
            return;
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    failf("timed out waiting for %s%s%s", path, want ? " = " : "", want ? want : "");
}

/* ---- table ops every domain can try on its own ---------------------------------- */
static void local_table_ops(void)
{
    gnttab_query_size_t q = { .dom = DOMID_SELF };
    gnttab_get_version_t gv = { .dom = DOMID_SELF };
    gnttab_set_version_t sv = { .version = 2 };
    gnttab_setup_table_t other = { .dom = (domid_t)peer, .nr_frames = 1 };
    gnttab_setup_table_t huge = { .dom = DOMID_SELF, .nr_frames = 100000 };
    gnttab_unmap_grant_ref_t bad_handle = { .handle = 4000 };
    long rc;

    CHECK(gnttab_init() == 0, "gnttab_init");
    rc = HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 1);
    CHECK(rc == 0 && q.status == GNTST_okay && q.nr_frames == GNTTAB_FRAMES &&
          q.max_nr_frames >= GNTTAB_FRAMES, "query_size: rc %ld status %d frames %u/%u",
          rc, q.status, q.nr_frames, q.max_nr_frames);
    rc = HYPERVISOR_grant_table_op(GNTTABOP_get_version, &gv, 1);
    CHECK(rc == 0 && gv.version == 1, "get_version: rc %ld version %u", rc, gv.version);
    rc = HYPERVISOR_grant_table_op(GNTTABOP_set_version, &sv, 1);
    CHECK(rc == -XEN_ENOSYS, "set_version(2): %ld, want -ENOSYS", rc);
    sv.version = 1;
    rc = HYPERVISOR_grant_table_op(GNTTABOP_set_version, &sv, 1);
    CHECK(rc == 0 && sv.version == 1, "set_version(1): %ld", rc);
    rc = HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &other, 1);
    CHECK(rc == 0 && other.status == GNTST_permission_denied,
          "setup_table for d%lu: rc %ld status %d", peer, rc, other.status);
    rc = HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &huge, 1);
    CHECK(rc == 0 && huge.status == GNTST_general_error,
          "setup_table(100000 frames): rc %ld status %d", rc, huge.status);
    rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &bad_handle, 1);
    CHECK(rc == 0 && bad_handle.status == GNTST_bad_handle,
          "unmap of a handle never given: rc %ld status %d", rc, bad_handle.status);
    rc = HYPERVISOR_grant_table_op(99, NULL, 1);
    CHECK(rc == -XEN_ENOSYS, "grant_table_op(99): %ld", rc);
    printk("grant: local table ops OK (%u frames, v1)\n", q.nr_frames);
}

/* ---- the granter --------------------------------------------------------------- */
static void granter(void)
{
    char *a = alloc_page(), *b = alloc_page(), *c = alloc_page(), refs[64], state[32];
    grant_ref_t ra, rb, rc_;

    memcpy(a, PATTERN_A, sizeof(PATTERN_A));
    memcpy(b, PATTERN_B, sizeof(PATTERN_B));
    ra = gnttab_grant_access((domid_t)peer, virt_to_mfn(a), 0);
    rb = gnttab_grant_access((domid_t)peer, virt_to_mfn(b), 1);
    rc_ = gnttab_grant_access((domid_t)(peer + 50), virt_to_mfn(c), 0);
    CHECK(ra && rb && rc_, "out of grant refs");
    snprintf(refs, sizeof(refs), "%u %u %u", ra, rb, rc_);
    publish(REFS_NODE, refs);
    printk("grant: granted refs %s to d%lu (A rw, B ro, C for d%lu)\n", refs, peer, peer + 50);

    wait_peer(STATE_NODE, "mapped", state, sizeof(state));
    uint16_t fa = ACCESS_ONCE(gnttab_entry(ra)->flags), fb = ACCESS_ONCE(gnttab_entry(rb)->flags);
    CHECK((fa & (GTF_reading | GTF_writing)) == (GTF_reading | GTF_writing),
          "A mapped read-write: flags %x", fa);
    CHECK((fb & (GTF_reading | GTF_writing)) == GTF_reading, "B mapped read-only: flags %x", fb);
    CHECK(gnttab_end_access(ra) == -1 && gnttab_end_access(rb) == -1,
          "end_access must fail while the peer has A and B mapped");
    printk("grant: A and B in use by d%lu: flags 0x%02x 0x%02x, end_access refused\n", peer, fa, fb);
    if (orphan) {
        for (unsigned long tries = 0; ; tries++) {
            CHECK(tries < 2000000, "the dead peer's mappings were never released");
            if (gnttab_end_access(ra) == 0 && gnttab_end_access(rb) == 0)
                break;
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        }
        printk("grant: revoked after d%lu went away\n", peer);
        return;
    }
    publish(STATE_NODE, "checked");

    wait_peer(STATE_NODE, "unmapped", state, sizeof(state));
    CHECK(strcmp(a, WRITTEN) == 0, "A holds '%s', want the mapper's write", a);
    CHECK(strcmp(b, PATTERN_B) == 0, "B changed through a read-only grant: '%s'", b);
    CHECK(gnttab_end_access(ra) == 0 && gnttab_end_access(rb) == 0 &&
          gnttab_end_access(rc_) == 0, "end_access after the peer unmapped");
    printk("grant: the peer's write is in A; all refs revoked\n");
}

/* ---- the mapper ---------------------------------------------------------------- */
static struct kctx fault_ctx;
static volatile unsigned long fault_cr2, fault_err, expecting_fault;

static int fault_hook(struct trap_frame *f)
{
    if (f->vector != 14 || !expecting_fault)
        return RET_UNHANDLED;
    fault_cr2 = read_cr2();
    fault_err = f->error_code;
    expecting_fault = 0;
    kctx_restore(&fault_ctx, 1);
}

static int16_t map(grant_ref_t ref, domid_t dom, void *va, int readonly, grant_handle_t *h)
{
    long rc = gnttab_map(ref, dom, va, readonly, h);

    CHECK(rc >= -128, "map_grant_ref hypercall: %ld", rc);    /* a status, not -errno */
    return (int16_t)rc;
}

static int16_t unmap(void *va, grant_handle_t h)
{
    gnttab_unmap_grant_ref_t op = { .host_addr = (unsigned long)va, .handle = h };
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &op, 1);
    CHECK(rc == 0, "unmap_grant_ref hypercall: %ld", rc);
    return op.status;
}

static void mapper(void)
{
    char refs[64], state[32], *pa = alloc_page(), *pb = alloc_page(), *spare = alloc_page();
    char *local = alloc_page();
    grant_handle_t ha, hb;
    const char *s = refs;
    int16_t st;

    wait_peer(REFS_NODE, NULL, refs, sizeof(refs));
    grant_ref_t ra = next_ulong(&s), rb = next_ulong(&s), rc_ = next_ulong(&s);
    printk("grant: found refs %lu %lu %lu from d%lu\n", (unsigned long)ra,
           (unsigned long)rb, (unsigned long)rc_, peer);

    st = map(ra, (domid_t)peer, pa, 0, &ha);
    CHECK(st == GNTST_okay, "map A: status %d", st);
    CHECK(strcmp(pa, PATTERN_A) == 0, "A reads '%s'", pa);
    st = map(rb, (domid_t)peer, pb, 1, &hb);
    CHECK(st == GNTST_okay, "map B read-only: status %d", st);
    CHECK(strcmp(pb, PATTERN_B) == 0, "B reads '%s'", pb);
    printk("grant: mapped A and B, the granter's pages read back\n");

    /* what we were not granted, or not like this */
    st = map(rb, (domid_t)peer, spare, 0, NULL);
    EXPECT(st == GNTST_general_error, "map B writable: status %d", st);
    st = map(rc_, (domid_t)peer, spare, 0, NULL);
    EXPECT(st == GNTST_general_error, "map C (granted to another domain): status %d", st);
    st = map(1000000, (domid_t)peer, spare, 0, NULL);
    EXPECT(st == GNTST_bad_gntref, "map a ref past the table: status %d", st);
    st = map(ra, 999, spare, 0, NULL);
    EXPECT(st == GNTST_bad_domain, "map from a domain that does not exist: status %d", st);
    printk("grant: refused: B writable %d, C %d, ref past table %d\n",
           GNTST_general_error, GNTST_general_error, GNTST_bad_gntref);

    /* writing through the read-only mapping faults */
    trap_hook = fault_hook;
    if (kctx_save(&fault_ctx) == 0) {
        expecting_fault = 1;
        ACCESS_ONCE(pb[0]) = 'X';
        fail("a write through a read-only grant mapping did not fault");
    }
    trap_hook = NULL;
    CHECK(fault_cr2 == (unsigned long)pb && (fault_err & (PFEC_PRESENT | PFEC_WRITE)) ==
          (PFEC_PRESENT | PFEC_WRITE), "#PF cr2 %lx err %lx", fault_cr2, fault_err);
    printk("grant: write through the read-only mapping: #PF error code %lx\n", fault_err);

    /* GNTTABOP_copy: from the granted page into one of ours */
    gnttab_copy_t cp = {
        .source = { .u.ref = ra, .domid = (domid_t)peer, .offset = 8 },
        .dest = { .u.gmfn = virt_to_mfn(local), .domid = DOMID_SELF, .offset = 100 },
        .len = 10, .flags = GNTCOPY_source_gref,
    };
    CHECK(HYPERVISOR_grant_table_op(GNTTABOP_copy, &cp, 1) == 0 && cp.status == GNTST_okay,
          "copy from ref %u: status %d", ra, cp.status);
    CHECK(memcmp(local + 100, PATTERN_A + 8, 10) == 0, "copy landed wrong");
    cp.dest.offset = 4090;
    CHECK(HYPERVISOR_grant_table_op(GNTTABOP_copy, &cp, 1) == 0 &&
          cp.status == GNTST_bad_copy_arg, "copy across a page end: status %d", cp.status);
    cp.dest.offset = 0;
    cp.dest.domid = (domid_t)peer;          /* a frame of somebody else's, no grant */
    CHECK(HYPERVISOR_grant_table_op(GNTTABOP_copy, &cp, 1) == 0 &&
          cp.status == GNTST_permission_denied, "copy into d%lu's frame: status %d",
          peer, cp.status);
    printk("grant: copy OK; across a page end %d; into a foreign frame %d\n",
           GNTST_bad_copy_arg, GNTST_permission_denied);

    memcpy(pa, WRITTEN, sizeof(WRITTEN));
    publish(STATE_NODE, "mapped");
    while (hold)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    wait_peer(STATE_NODE, "checked", state, sizeof(state));
    st = unmap(pa, ha);
    CHECK(st == GNTST_okay, "unmap A: status %d", st);
    st = unmap(pb, hb);
    CHECK(st == GNTST_okay, "unmap B: status %d", st);
    st = unmap(pa, ha);
    CHECK(st == GNTST_bad_handle, "unmap A twice: status %d", st);
    publish(STATE_NODE, "unmapped");
    printk("grant: unmapped; a second unmap is refused (%d)\n", GNTST_bad_handle);
}

static void grant_main(void)
{
    unsigned long role = 0;

    map_shared_info();
    CHECK(cmdline_get_ulong("role", &role) == 0 && (role == 1 || role == 2),
          "need role=1 (granter) or role=2 (mapper) on the command line");
    CHECK(cmdline_get_ulong("peer", &peer) == 0, "need peer=<domid>");
    cmdline_get_ulong("hold", &hold);
    cmdline_get_ulong("orphan", &orphan);
    CHECK(xs_init() == 0, "xs_init");
    CHECK(xs_read("domid", me, sizeof(me)) > 0, "read domid");
    local_table_ops();
    if (role == 1)
        granter();
    else
        mapper();
}

DEFINE_KERNEL("grant", grant_main, 0);
