/*
 * mmu_hostile: a PV kernel that breaks Xen's memory-management rules on purpose.
 * Each attempt must get Xen's answer (an errno, or a #PF for a plain store into a
 * read-only hypervisor mapping), leave the page tables as they were, and the
 * kernel must go on running:
 *   - map another domain's frame, or a hypervisor frame
 *   - map one of its own page tables writable (the top level and an L1)
 *   - pin a frame that is mapped writable, hook a writable data page in as an L1
 *   - write a "PTE" through a frame that is no page table (Xen: a plain write)
 *   - unpin a table that is in use but not pinned, unpin twice
 *   - load a CR3 that is no valid top-level table
 *   - write the M2P (directly: #PF; by MMU_MACHPHYS_UPDATE for a foreign frame)
 *   - clear a page table with MMUEXT_CLEAR_PAGE
 */
#include "guest.h"
#include <xen/memory.h>

#define L2_SPAN (512UL * PAGE_SIZE)      /* what one L1 maps */

static volatile unsigned long pf_count, pf_err, pf_cr2;
static struct kctx pf_ctx;
static volatile int pf_armed;

static int pf_hook(struct trap_frame *f)
{
    if (f->vector != 14 || !pf_armed)
        return RET_UNHANDLED;
    pf_armed = 0;
    pf_count++;
    pf_err = f->error_code;
    pf_cr2 = read_cr2();
    kctx_restore(&pf_ctx, 1);
}

static long pin(unsigned int cmd, unsigned long mfn)
{
    return mmuext1(cmd, mfn);
}

static void expect_rc(const char *what, long rc, long want)
{
    CHECK(rc == want, "%s: %ld, want %ld", what, rc, want);
    printk("mmu_hostile: %-44s -> %ld OK\n", what, rc);
}

/* The PTE of `va` must still be `before`: a refusal changes nothing. */
static void expect_unchanged(const char *what, const void *va, pgentry_t before)
{
    pgentry_t *e = pt_lookup(kernel_root_mfn(), (unsigned long)va, 1);
    CHECK(e && *e == before, "%s: PTE changed to %llx", what,
          (unsigned long long)(e ? *e : 0));
}

static unsigned long foreign_mfn(void)
{
    for (unsigned long mfn = 0; mfn <= m2p_max_mfn; mfn++) {
        unsigned long pfn = mfn_to_pfn(mfn);
        if (pfn >= start_info->nr_pages || pfn_to_mfn(pfn) != mfn)
            return mfn;
    }
    fail("no foreign mfn");
}

static void mmu_hostile_main(void)
{
    unsigned long root = kernel_root_mfn();
    char *spare = alloc_page(), *data = alloc_page(), *table = alloc_page();
    pgentry_t *spare_pte = pt_lookup(root, (unsigned long)spare, 1);
    pgentry_t before = *spare_pte;
    pgentry_t *l2e = pt_lookup(root, (unsigned long)spare, 2);
    unsigned long l1_mfn = (*l2e & PTE_MFN_MASK) >> PAGE_SHIFT;
    unsigned long other = foreign_mfn();
    long rc;

    map_shared_info();

    /* another domain's frame, a frame far beyond anything, our M2P's frames */
    rc = HYPERVISOR_update_va_mapping((unsigned long)spare,
                                      ((uint64_t)other << PAGE_SHIFT) | L1_PROT, UVMF_INVLPG);
    expect_rc("map another domain's frame", rc, -XEN_EINVAL);
    expect_unchanged("map another domain's frame", spare, before);
    rc = HYPERVISOR_update_va_mapping((unsigned long)spare, (1ULL << 40) | L1_PROT_RO,
                                      UVMF_INVLPG);
    expect_rc("map a frame at 1 TiB", rc, -XEN_EINVAL);

    /* our own page tables, writable */
    rc = HYPERVISOR_update_va_mapping((unsigned long)spare,
                                      ((uint64_t)root << PAGE_SHIFT) | L1_PROT, UVMF_INVLPG);
    expect_rc("map the top-level table writable", rc, -XEN_EINVAL);
    rc = HYPERVISOR_update_va_mapping((unsigned long)spare,
                                      ((uint64_t)l1_mfn << PAGE_SHIFT) | L1_PROT, UVMF_INVLPG);
    expect_rc("map an L1 table writable", rc, -XEN_EINVAL);
    expect_unchanged("map an L1 table writable", spare, before);
    rc = HYPERVISOR_update_va_mapping((unsigned long)spare,
                                      ((uint64_t)l1_mfn << PAGE_SHIFT) | L1_PROT_RO, UVMF_INVLPG);
    expect_rc("map an L1 table read-only (allowed)", rc, 0);
    rc = HYPERVISOR_update_va_mapping((unsigned long)spare, before, UVMF_INVLPG);
    expect_rc("restore the mapping", rc, 0);

    /* a frame mapped writable cannot become a table */
    rc = pin(MMUEXT_PIN_L1_TABLE, virt_to_mfn(data));
    expect_rc("pin a writable-mapped frame as L1", rc, -XEN_EINVAL);
    {
        /* an L2 slot that maps nothing yet, pointed at a writable data page */
        unsigned long va = ((unsigned long)pfn_to_virt(mapped_end_pfn) + L2_SPAN - 1)
                           & ~(L2_SPAN - 1);
        pgentry_t *slot = pt_lookup(root, va, 2);
        CHECK(slot && !(*slot & _PAGE_PRESENT), "no free L2 slot after the initial mapping");
        rc = mmu_update1(virt_to_mach(slot),
                         ((uint64_t)virt_to_mfn(data) << PAGE_SHIFT) | L1_PROT);
        expect_rc("hook a writable data page in as an L1", rc, -XEN_EINVAL);
        CHECK(!(*slot & _PAGE_PRESENT), "the L2 entry became present");
    }

    /* a "PTE" in a frame that is no page table: Xen writes it like any memory */
    rc = mmu_update1(virt_to_mach(table) + 8, ((uint64_t)other << PAGE_SHIFT) | L1_PROT);
    expect_rc("write a PTE into a data frame", rc, 0);
    CHECK(((volatile pgentry_t *)table)[1] == (((uint64_t)other << PAGE_SHIFT) | L1_PROT),
          "the data frame does not hold the value");
    rc = pin(MMUEXT_PIN_L1_TABLE, virt_to_mfn(table));
    expect_rc("pin that frame (maps a foreign frame)", rc, -XEN_EINVAL);

    /* unpinning */
    rc = pin(MMUEXT_UNPIN_TABLE, l1_mfn);
    expect_rc("unpin an L1 in use that is not pinned", rc, -XEN_EINVAL);
    rc = pin(MMUEXT_UNPIN_TABLE, root);
    expect_rc("unpin the top-level table (CR3 still holds it)", rc, 0);
    rc = pin(MMUEXT_UNPIN_TABLE, root);
    expect_rc("unpin it twice", rc, -XEN_EINVAL);
    rc = pin(PT_LEVELS == 4 ? MMUEXT_PIN_L4_TABLE : MMUEXT_PIN_L3_TABLE, root);
    expect_rc("pin it again", rc, 0);

    /* a CR3 that is no valid top-level table: its entry names a writable data page */
    memset(table, 0, PAGE_SIZE);
    ((pgentry_t *)table)[0] = ((uint64_t)virt_to_mfn(data) << PAGE_SHIFT) | _PAGE_PRESENT;
    rc = set_page_prot(table, L1_PROT_RO);
    expect_rc("make the bogus table read-only", rc, 0);
    rc = mmuext1(MMUEXT_NEW_BASEPTR, virt_to_mfn(table));
    expect_rc("load a CR3 that is no valid table", rc, -XEN_EINVAL);
    rc = mmuext1(MMUEXT_NEW_BASEPTR, 1UL << 28);
    expect_rc("load a CR3 beyond our memory", rc, -XEN_EINVAL);
    rc = mmuext1(MMUEXT_CLEAR_PAGE, l1_mfn);
    expect_rc("clear an L1 table in use", rc, -XEN_EINVAL);
    {
        /* a frame still in use cannot be given back: 0 extents done */
        xen_pfn_t frames[1] = { l1_mfn };
        struct xen_memory_reservation r = { .nr_extents = 1, .domid = DOMID_SELF };
        set_xen_guest_handle(r.extent_start, frames);
        rc = HYPERVISOR_memory_op(XENMEM_decrease_reservation, &r);
        expect_rc("give back an L1 table in use", rc, 0);
        frames[0] = virt_to_mfn(data);
        rc = HYPERVISOR_memory_op(XENMEM_decrease_reservation, &r);
        expect_rc("give back a frame mapped writable", rc, 0);
        frames[0] = other;
        rc = HYPERVISOR_memory_op(XENMEM_decrease_reservation, &r);
        expect_rc("give back another domain's frame", rc, 0);
    }

    /* the M2P: read-only to us, and only our own frames' entries are ours */
    rc = mmu_update1(((uint64_t)other << PAGE_SHIFT) | MMU_MACHPHYS_UPDATE, 0);
    expect_rc("MMU_MACHPHYS_UPDATE for a foreign frame", rc, -XEN_EINVAL);
    trap_hook = pf_hook;
    if (kctx_save(&pf_ctx) == 0) {
        pf_armed = 1;
        ACCESS_ONCE(machine_to_phys[0]) = 0;
        fail("a store into the M2P did not fault");
    }
    trap_hook = NULL;
    CHECK(pf_count == 1 && (pf_err & (PFEC_PRESENT | PFEC_WRITE)) == (PFEC_PRESENT | PFEC_WRITE)
          && pf_cr2 == (unsigned long)&machine_to_phys[0],
          "M2P store: %lu faults, error %lx, cr2 %lx", pf_count, pf_err, pf_cr2);
    printk("mmu_hostile: %-44s -> #PF error code %lx OK\n", "store into the M2P", pf_err);

    /* and everything still works */
    data[0] = 42;
    CHECK(data[0] == 42, "memory no longer works");
    printk("mmu_hostile: still running\n");
}

DEFINE_KERNEL("mmu_hostile", mmu_hostile_main, 0);
