/*
 * balloon: a PV balloon driver that honours memory/target (KiB) in xenstore, as
 * Linux's does: it watches the node; when the target drops it unmaps frames and gives
 * them back (XENMEM_decrease_reservation); when it rises it asks for them again
 * (XENMEM_populate_physmap at the same GPFNs) and checks they come back zeroed and
 * recorded in the M2P. The frames above the initial mapping go (nothing maps them). It prints its reservation after each change and stops after `steps=N`
 * changes (default 2).
 */
#include "guest.h"
#include "xenstore.h"
#include <xen/memory.h>

#define MAX_OUT 4096                        /* frames we are ready to give back */

#define INVALID_P2M_ENTRY (~0UL)

static unsigned long out_pfn[MAX_OUT];
static unsigned long nr_out, next_pfn;
static unsigned char *scratch;               /* where a frame is looked at */
static pgentry_t scratch_pte;

static long reservation(void)
{
    domid_t self = DOMID_SELF;
    return HYPERVISOR_memory_op(XENMEM_current_reservation, &self);
}

static long memory_op_one(unsigned int cmd, xen_pfn_t *frame)
{
    struct xen_memory_reservation r = { .nr_extents = 1, .extent_order = 0,
                                        .domid = DOMID_SELF };
    set_xen_guest_handle(r.extent_start, frame);
    return HYPERVISOR_memory_op(cmd, &r);
}

static void look_at(unsigned long mfn)
{
    CHECK(HYPERVISOR_update_va_mapping((unsigned long)scratch,
                                       ((uint64_t)mfn << PAGE_SHIFT) | L1_PROT,
                                       UVMF_INVLPG) == 0, "map mfn %lx", mfn);
}

static void stop_looking(void)
{
    CHECK(HYPERVISOR_update_va_mapping((unsigned long)scratch, scratch_pte, UVMF_INVLPG) == 0,
          "restore the scratch mapping");
}

/* Frames above the initial mapping go first, from the top: nothing maps them. */
static void give_back(unsigned long pages)
{
    while (pages-- && nr_out < MAX_OUT && next_pfn >= mapped_end_pfn) {
        xen_pfn_t mfn = pfn_to_mfn(next_pfn);
        look_at(mfn);
        memset(scratch, 0xA5, PAGE_SIZE);          /* data the hypervisor must wipe */
        stop_looking();
        CHECK(memory_op_one(XENMEM_decrease_reservation, &mfn) == 1,
              "decrease_reservation of mfn %lx", (unsigned long)mfn);
        phys_to_machine[next_pfn] = INVALID_P2M_ENTRY;
        out_pfn[nr_out++] = next_pfn--;
    }
}

static void take_back(unsigned long pages)
{
    while (pages-- && nr_out) {
        unsigned long pfn = out_pfn[--nr_out];
        xen_pfn_t frame = pfn;
        CHECK(memory_op_one(XENMEM_populate_physmap, &frame) == 1,
              "populate_physmap at gpfn %lx", pfn);
        CHECK(mfn_to_pfn(frame) == pfn, "the M2P says %lx for mfn %lx, want %lx",
              mfn_to_pfn(frame), (unsigned long)frame, pfn);
        phys_to_machine[pfn] = frame;
        next_pfn = pfn;
        look_at(frame);
        for (unsigned long b = 0; b < PAGE_SIZE; b++)
            CHECK(scratch[b] == 0, "frame %lx came back with %x at %lu",
                  (unsigned long)frame, scratch[b], b);
        stop_looking();
    }
}

/* XENMEM_exchange: one free frame in, one frame out at the same GPFN. */
static void exchange_one(void)
{
    unsigned long pfn = next_pfn;
    xen_pfn_t in = pfn_to_mfn(pfn), out = pfn;
    struct xen_memory_exchange x = {
        .in = { .nr_extents = 1, .domid = DOMID_SELF },
        .out = { .nr_extents = 1, .domid = DOMID_SELF },
    };
    set_xen_guest_handle(x.in.extent_start, &in);
    set_xen_guest_handle(x.out.extent_start, &out);
    long rc = HYPERVISOR_memory_op(XENMEM_exchange, &x);
    CHECK(rc == 0 && x.nr_exchanged == 1, "exchange: rc %ld, %lu exchanged", rc,
          (unsigned long)x.nr_exchanged);
    CHECK(mfn_to_pfn(out) == pfn, "exchange: the M2P says %lx for mfn %lx, want %lx",
          mfn_to_pfn(out), (unsigned long)out, pfn);
    phys_to_machine[pfn] = out;
    in = pfn_to_mfn(start_info->pt_base ? virt_to_pfn((void *)start_info->pt_base) : 0);
    set_xen_guest_handle(x.in.extent_start, &in);
    x.nr_exchanged = 0;
    rc = HYPERVISOR_memory_op(XENMEM_exchange, &x);
    CHECK(rc == -XEN_EINVAL && x.nr_exchanged == 0,
          "exchange of a page table: rc %ld, %lu exchanged", rc, (unsigned long)x.nr_exchanged);
    printk("balloon: exchange of a free frame OK, of a page table %ld\n", rc);
}

static unsigned long parse(const char *s)
{
    unsigned long v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (unsigned long)(*s - '0');
    return v;
}

static void balloon_main(void)
{
    unsigned long steps = 2, seen = 0;
    char value[32], path[64], token[16];

    map_shared_info();
    cmdline_get_ulong("steps", &steps);
    scratch = alloc_page();
    scratch_pte = *pt_lookup(kernel_root_mfn(), (unsigned long)scratch, 1);
    next_pfn = start_info->nr_pages - 1;
    CHECK(xs_init() == 0, "xs_init");
    CHECK(xs_watch("memory/target", "target") == 0, "watch memory/target");
    exchange_one();
    printk("balloon: ready with %ld pages\n", reservation());
    while (seen < steps) {
        CHECK(xs_read_watch(path, sizeof(path), token, sizeof(token), 0) == 0, "watch");
        if (xs_read("memory/target", value, sizeof(value)) <= 0)
            continue;
        unsigned long want = parse(value) / 4;        /* KiB -> pages */
        long have = reservation();
        if (want == (unsigned long)have)
            continue;                                  /* the watch firing at once */
        if (want < (unsigned long)have)
            give_back((unsigned long)have - want);
        else
            take_back(want - (unsigned long)have);
        seen++;
        printk("balloon: target %s KiB: reservation %ld pages\n", value, reservation());
    }
}

DEFINE_KERNEL("balloon", balloon_main, 0);
