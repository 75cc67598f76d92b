/*
 * blkfront: a PV block frontend against dom0's blkback, on every disk in device/vbd.
 *
 *   writable disk:  writes a pattern across the whole disk (32 requests in flight),
 *                   flushes (FLUSH_DISKCACHE), rewrites sector 0 with a BARRIER
 *                   request, reads everything back and verifies it
 *   read-only disk: reads it all and verifies the pattern the host wrote there, then
 *                   checks that a write and a flush are refused (BLKIF_RSP_ERROR)
 * The pattern: the 64-bit word at byte offset o of the disk is
 *   (o ^ (seed << 40)) * 0x9E3779B97F4A7C15   (seed=N on the command line, default 1).
 *
 * Options: "reconnect=1" closes each device and connects it again (xenbus Closing,
 * Closed, Initialising) before the checks; "hostile=1" replaces the checks with
 * requests blkback must refuse (sector past the end, forged, foreign and read-only
 * grants, bad segments) followed by one that must work; "bench_mb=N" then measures
 * sequential read and write throughput with N MB per run, 32 requests in flight and 1
 * (writes only on writable disks; they overwrite the pattern). "soak_s=N" writes,
 * flushes and verifies one chunk after another for N seconds instead of the checks
 * ("report=1" prints each acknowledged flush).
 */
#include "blkfront.h"
#include "gnttab.h"

#define MAX_DISKS       4
#define REQ_SECTORS     (BLKIF_MAX_SEGMENTS_PER_REQUEST * 8)
#define PATTERN_MUL     0x9E3779B97F4A7C15ULL

static struct blkfront disks[MAX_DISKS];
static unsigned long seed = 1;

static uint64_t pattern(uint64_t offset)
{
    return (offset ^ ((uint64_t)seed << 40)) * PATTERN_MUL;
}

static void fill(unsigned char *buf, uint64_t sector, unsigned int nsect)
{
    uint64_t *w = (uint64_t *)buf, base = sector * BLKFRONT_SECTOR;

    for (unsigned int i = 0; i < nsect * BLKFRONT_SECTOR / 8; i++)
        w[i] = pattern(base + i * 8);
}

/* Index of the first word that differs, or -1. */
static long mismatch(const unsigned char *buf, uint64_t sector, unsigned int nsect)
{
    const uint64_t *w = (const uint64_t *)buf;
    uint64_t base = sector * BLKFRONT_SECTOR;

    for (unsigned int i = 0; i < nsect * BLKFRONT_SECTOR / 8; i++)
        if (w[i] != pattern(base + i * 8))
            return (long)i;
    return -1;
}

/* ---- many requests in flight ------------------------------------------------- */
struct stream {
    struct blkfront *d;
    uint8_t op;
    uint64_t first, count;      /* sectors: [first, first + count) of the disk, wrapping */
    uint64_t span;              /* the disk's sectors that requests may cover */
    unsigned int depth;
    int fill, verify;           /* write the pattern / check what was read */
    uint64_t sector_of[BLKFRONT_SLOTS];
    unsigned int nsect_of[BLKFRONT_SLOTS];
};

static void start_one(struct stream *s, unsigned int slot, uint64_t done)
{
    uint64_t at = (s->first + done) % s->span, left = s->count - done;
    unsigned int n = left < REQ_SECTORS ? (unsigned int)left : REQ_SECTORS;

    if (at + n > s->span)
        n = (unsigned int)(s->span - at);
    if (s->fill)
        fill(s->d->buf[slot], at, n);
    s->sector_of[slot] = at;
    s->nsect_of[slot] = n;
    blkfront_request(s->d, s->op, slot, at, n);
}

static void finish_one(struct stream *s, const blkif_response_t *rsp)
{
    unsigned int slot = (unsigned int)rsp->id;
    long bad;

    CHECK(slot < s->depth && rsp->operation == s->op,
          "blkfront: response id %llu op %u", (unsigned long long)rsp->id, rsp->operation);
    CHECK(rsp->status == BLKIF_RSP_OKAY, "blkfront: vbd %u: op %u at sector %llu: status %d",
          s->d->xb.devid, s->op, (unsigned long long)s->sector_of[slot], rsp->status);
    if (s->verify) {
        bad = mismatch(s->d->buf[slot], s->sector_of[slot], s->nsect_of[slot]);
        CHECK(bad < 0, "blkfront: vbd %u: sector %llu word %ld differs from the pattern",
              s->d->xb.devid, (unsigned long long)s->sector_of[slot] + bad * 8 / 512, bad);
    }
}

/* Run the stream; returns how long it took (ns). */
static uint64_t run(struct stream *s)
{
    unsigned int free_slots[BLKFRONT_SLOTS], nfree = 0, slot;
    uint64_t issued = 0, done = 0, t0;
    blkif_response_t rsp;

    for (slot = s->depth; slot > 0; slot--)
        free_slots[nfree++] = slot - 1;
    t0 = system_time_ns();
    while (done < s->count) {
        while (nfree && issued < s->count) {
            slot = free_slots[--nfree];
            start_one(s, slot, issued);
            issued += s->nsect_of[slot];
        }
        blkfront_push(s->d);
        do {
            blkfront_response(s->d, &rsp);
            finish_one(s, &rsp);
            done += s->nsect_of[rsp.id];
            free_slots[nfree++] = (unsigned int)rsp.id;
        } while (RING_HAS_UNCONSUMED_RESPONSES(&s->d->ring));
    }
    return system_time_ns() - t0;
}

static void whole_disk(struct blkfront *d, uint8_t op, int check)
{
    struct stream s = { .d = d, .op = op, .first = 0, .count = d->sectors,
                        .span = d->sectors, .depth = BLKFRONT_SLOTS,
                        .fill = op == BLKIF_OP_WRITE && check,
                        .verify = op == BLKIF_OP_READ && check };
    run(&s);
}

/* ---- the checks ----------------------------------------------------------------- */
static void check_writable(struct blkfront *d)
{
    int rc;

    whole_disk(d, BLKIF_OP_WRITE, 1);
    rc = blkfront_io(d, BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0);
    CHECK(rc == BLKIF_RSP_OKAY, "blkfront: vbd %u: flush: status %d", d->xb.devid, rc);
    fill(d->buf[0], 0, 8);
    rc = blkfront_io(d, BLKIF_OP_WRITE_BARRIER, 0, 0, 8);
    CHECK(rc == BLKIF_RSP_OKAY, "blkfront: vbd %u: barrier: status %d", d->xb.devid, rc);
    whole_disk(d, BLKIF_OP_READ, 1);
    printk("blkfront: vbd %u: wrote, flushed and verified %llu sectors\n", d->xb.devid,
           (unsigned long long)d->sectors);
}

static void check_read_only(struct blkfront *d)
{
    int rc;

    whole_disk(d, BLKIF_OP_READ, 1);
    printk("blkfront: vbd %u: read-only disk matches the pattern (%llu sectors)\n",
           d->xb.devid, (unsigned long long)d->sectors);
    rc = blkfront_io(d, BLKIF_OP_WRITE, 0, 0, 8);
    CHECK(rc == BLKIF_RSP_ERROR, "blkfront: vbd %u: write to a read-only disk: status %d",
          d->xb.devid, rc);
    rc = blkfront_io(d, BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0);
    CHECK(rc == BLKIF_RSP_ERROR, "blkfront: vbd %u: flush of a read-only disk: status %d",
          d->xb.devid, rc);
    printk("blkfront: vbd %u: write refused (status %d)\n", d->xb.devid, BLKIF_RSP_ERROR);
}

/* One request with a hand-made segment; returns its status. */
static int odd_request(struct blkfront *d, uint8_t op, uint64_t sector, uint8_t nseg,
                       grant_ref_t gref, uint8_t first, uint8_t last)
{
    blkif_request_t *req = blkfront_request(d, op, 0, sector, 8);
    blkif_response_t rsp;

    req->nr_segments = nseg;
    req->seg[0].gref = gref;
    req->seg[0].first_sect = first;
    req->seg[0].last_sect = last;
    blkfront_push(d);
    blkfront_response(d, &rsp);
    return rsp.status;
}

struct bad_request {
    const char *what;
    uint8_t op, nseg, first, last;
    int64_t sector;             /* from the end of the disk if negative */
    int gref;                   /* 0: ours, 1: forged, 2: another domain's, 3: read-only */
    int want;
};

static const struct bad_request bad_requests[] = {
    { "read past the end", BLKIF_OP_READ, 1, 0, 0, 0, 0, BLKIF_RSP_ERROR },
    { "write across the end", BLKIF_OP_WRITE, 1, 0, 1, -1, 0, BLKIF_RSP_ERROR },
    { "write far past the end", BLKIF_OP_WRITE, 1, 0, 7, INT64_MAX, 0, BLKIF_RSP_ERROR },
    { "forged grant", BLKIF_OP_WRITE, 1, 0, 0, 1, 1, BLKIF_RSP_ERROR },
    { "grant for another domain", BLKIF_OP_WRITE, 1, 0, 0, 1, 2, BLKIF_RSP_ERROR },
    { "read into a read-only grant", BLKIF_OP_READ, 1, 0, 0, 1, 3, BLKIF_RSP_ERROR },
    { "segment past its page", BLKIF_OP_WRITE, 1, 0, 8, 1, 0, BLKIF_RSP_ERROR },
    { "segment ending before it starts", BLKIF_OP_WRITE, 1, 5, 2, 1, 0, BLKIF_RSP_ERROR },
    { "no segments", BLKIF_OP_WRITE, 0, 0, 0, 1, 0, BLKIF_RSP_ERROR },
    { "12 segments", BLKIF_OP_WRITE, 12, 0, 0, 1, 0, BLKIF_RSP_ERROR },
    { "reserved operation", BLKIF_OP_RESERVED_1, 1, 0, 0, 1, 0, BLKIF_RSP_EOPNOTSUPP },
};

static void check_hostile(struct blkfront *d)
{
    unsigned char *page = d->buf[1];
    grant_ref_t grefs[4] = {
        d->gref[0][0], 0x7ffffff0,
        gnttab_grant_access((domid_t)(d->xb.backend_id + 7), virt_to_mfn(page), 0),
        gnttab_grant_access(d->xb.backend_id, virt_to_mfn(page + PAGE_SIZE), 1),
    };
    int rc;

    CHECK(grefs[2] && grefs[3], "blkfront: no grant references left");
    for (unsigned int i = 0; i < ARRAY_SIZE(bad_requests); i++) {
        const struct bad_request *b = &bad_requests[i];
        uint64_t sector = b->sector > 0 ? (uint64_t)b->sector : d->sectors + b->sector;

        rc = odd_request(d, b->op, sector, b->nseg, grefs[b->gref], b->first, b->last);
        if (EXPECT(rc == b->want, "blkfront: vbd %u: %s: status %d, want %d", d->xb.devid,
                   b->what, rc, b->want))
            printk("blkfront: vbd %u: %s refused (status %d)\n", d->xb.devid, b->what, rc);
    }
    EXPECT(gnttab_end_access(grefs[2]) == 0, "foreign grant still in use");
    EXPECT(gnttab_end_access(grefs[3]) == 0, "read-only grant still in use");
    rc = blkfront_io(d, BLKIF_OP_READ, 2, d->sectors - 8, 8);
    EXPECT(rc == BLKIF_RSP_OKAY, "blkfront: vbd %u: a good read after them: status %d",
           d->xb.devid, rc);
    printk("blkfront: vbd %u: still served after the bad requests\n", d->xb.devid);
}

/* ---- throughput ----------------------------------------------------------------- */
static void bench(struct blkfront *d, uint8_t op, unsigned int depth, unsigned long mb)
{
    struct stream s = { .d = d, .op = op, .first = 0, .span = d->sectors, .depth = depth };
    uint64_t bytes = (uint64_t)mb * 1000 * 1000, ns;

    s.span -= s.span % REQ_SECTORS;
    s.count = bytes / BLKFRONT_SECTOR;
    ns = run(&s);
    printk("blkfront: vbd %u: %s %u in flight: %llu MB/s (%llu bytes in %llu us)\n",
           d->xb.devid, op == BLKIF_OP_READ ? "read" : "write", depth,
           (unsigned long long)(s.count * BLKFRONT_SECTOR * 1000 / (ns ? ns : 1)),
           (unsigned long long)(s.count * BLKFRONT_SECTOR), (unsigned long long)(ns / 1000));
}

/*
 * soak_s=N: for N seconds, round r writes chunk r % chunks (REQ_SECTORS sectors) with
 * the pattern of seed (seed + r), flushes, reads the chunk back and checks it. With
 * report=1 each acknowledged flush is printed ("round R flushed chunk C"): what the
 * image file must hold even if dom0 dies right after.
 */
static void soak(struct blkfront *d, unsigned long seconds, unsigned long report)
{
    uint64_t end = system_time_ns() + (uint64_t)seconds * 1000000000ULL, bytes = 0;
    unsigned long chunks = d->sectors / REQ_SECTORS, base = seed, r;
    int rc;

    CHECK(chunks > 0, "blkfront: vbd %u: too small for a soak", d->xb.devid);
    for (r = 0; system_time_ns() < end; r++) {
        uint64_t sector = (r % chunks) * REQ_SECTORS;
        long bad;

        seed = base + r;
        fill(d->buf[0], sector, REQ_SECTORS);
        rc = blkfront_io(d, BLKIF_OP_WRITE, 0, sector, REQ_SECTORS);
        CHECK(rc == BLKIF_RSP_OKAY, "blkfront: soak round %lu: write status %d", r, rc);
        rc = blkfront_io(d, BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0);
        CHECK(rc == BLKIF_RSP_OKAY, "blkfront: soak round %lu: flush status %d", r, rc);
        if (report)
            printk("blkfront: round %lu flushed chunk %lu seed %lu\n", r, r % chunks, seed);
        memset(d->buf[1], 0, REQ_SECTORS * BLKFRONT_SECTOR);
        rc = blkfront_io(d, BLKIF_OP_READ, 1, sector, REQ_SECTORS);
        CHECK(rc == BLKIF_RSP_OKAY, "blkfront: soak round %lu: read status %d", r, rc);
        bad = mismatch(d->buf[1], sector, REQ_SECTORS);
        CHECK(bad < 0, "blkfront: soak round %lu: word %ld of chunk %lu read back wrong",
              r, bad, r % chunks);
        bytes += REQ_SECTORS * BLKFRONT_SECTOR;
    }
    seed = base;
    printk("blkfront: vbd %u: soak of %lu s: %lu rounds, %llu bytes written, flushed and "
           "verified\n", d->xb.devid, seconds, r, (unsigned long long)bytes);
}

static void blkfront_main(void)
{
    unsigned int devids[MAX_DISKS];
    unsigned long hostile = 0, reconnect = 0, bench_mb = 0, soak_s = 0, report = 0;
    int n, i;

    cmdline_get_ulong("seed", &seed);
    cmdline_get_ulong("hostile", &hostile);
    cmdline_get_ulong("reconnect", &reconnect);
    cmdline_get_ulong("bench_mb", &bench_mb);
    cmdline_get_ulong("soak_s", &soak_s);
    cmdline_get_ulong("report", &report);
    n = blkfront_list(devids, MAX_DISKS);
    CHECK(n > 0, "blkfront: no disks in device/vbd");
    for (i = 0; i < n; i++) {
        struct blkfront *d = &disks[i];
        int ro;

        blkfront_connect(d, devids[i]);
        if (reconnect) {
            blkfront_close(d);
            printk("blkfront: vbd %u: closed\n", d->xb.devid);
            blkfront_connect(d, devids[i]);
            printk("blkfront: vbd %u: reconnected\n", d->xb.devid);
        }
        ro = !!(d->info & VDISK_READONLY);
        printk("blkfront: vbd %u: %llu sectors of %u bytes, %s, flush %d barrier %d "
               "persistent %d\n", d->xb.devid, (unsigned long long)d->sectors, d->sector_size,
               ro ? "read-only" : "read-write", d->feature_flush, d->feature_barrier,
               d->feature_persistent);
        if (soak_s && !ro)
            soak(d, soak_s, report);
        else if (hostile)
            check_hostile(d);
        else if (ro)
            check_read_only(d);
        else
            check_writable(d);
        if (bench_mb) {
            bench(d, BLKIF_OP_READ, BLKFRONT_SLOTS, bench_mb);
            bench(d, BLKIF_OP_READ, 1, bench_mb);
            if (!ro) {
                bench(d, BLKIF_OP_WRITE, BLKFRONT_SLOTS, bench_mb);
                bench(d, BLKIF_OP_WRITE, 1, bench_mb);
            }
        }
    }
    for (i = 0; i < n; i++)
        blkfront_close(&disks[i]);
}

DEFINE_KERNEL("blkfront", blkfront_main, 0);
