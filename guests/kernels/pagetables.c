/*
 * pagetables: extends the kernel's linear mapping past the end of the
 * initial mapping the PV way.  A fresh L1 is made read-only, pinned
 * (MMUEXT_PIN_L1_TABLE) and hooked into the L2 with MMU_NORMAL_PT_UPDATE;
 * frames beyond the initial mapping are mapped with mmu_update,
 * update_va_mapping and a direct (emulated) PTE write, then written and read
 * back.  Also: refused updates, MMU_MACHPHYS_UPDATE, TLB flush ops, unmap +
 * #PF with the right CR2 and error code, unpin and reuse of the frame.
 */
#include "guest.h"

#define L2_SPAN         (512UL * PAGE_SIZE)     /* what one L1 maps */

static volatile struct {
    unsigned int count;
    unsigned long vector, err, cr2, cr2_reg, ip;
} pf;
static unsigned long resume_ip;

extern void pt_touch_write(unsigned long va);
extern char pt_touch_write_at[], pt_touch_write_after[];
extern unsigned int pt_touch_read(unsigned long va);
extern char pt_touch_read_at[], pt_touch_read_after[];

/* Accessors with a known faulting instruction and resume point. */
asm (".text\n"
#ifdef __x86_64__
     "pt_touch_write:\n"
     "pt_touch_write_at: movl $0xdeadbeef, (%rdi)\n"
     "pt_touch_write_after: ret\n"
     "pt_touch_read: xorl %eax, %eax\n"
     "pt_touch_read_at: movl (%rdi), %eax\n"
     "pt_touch_read_after: ret\n"
#else
     "pt_touch_write: movl 4(%esp), %ecx\n"
     "pt_touch_write_at: movl $0xdeadbeef, (%ecx)\n"
     "pt_touch_write_after: ret\n"
     "pt_touch_read: movl 4(%esp), %ecx\n xorl %eax, %eax\n"
     "pt_touch_read_at: movl (%ecx), %eax\n"
     "pt_touch_read_after: ret\n"
#endif
     ".globl pt_touch_write, pt_touch_write_at, pt_touch_write_after\n"
     ".globl pt_touch_read, pt_touch_read_at, pt_touch_read_after\n");

static int pt_hook(struct trap_frame *f)
{
    if (f->vector != 14 || !resume_ip)
        return RET_UNHANDLED;
    pf.count++;
    pf.vector = f->vector;
    pf.err = f->error_code;
    pf.ip = f->ip;
    pf.cr2 = shared_info->vcpu_info[0].arch.cr2;
    pf.cr2_reg = read_cr2();
    f->ip = resume_ip;
    return RET_IRET;
}

static void expect_pf(const char *what, int write, unsigned long va,
                      unsigned long want_err)
{
    char *at = write ? pt_touch_write_at : pt_touch_read_at;

    memset((void *)&pf, 0, sizeof(pf));
    resume_ip = (unsigned long)(write ? pt_touch_write_after
                                      : pt_touch_read_after);
    if (write)
        pt_touch_write(va);
    else
        pt_touch_read(va);
    resume_ip = 0;
    CHECK(pf.count == 1, "%s: %u page faults, want 1", what, pf.count);
    CHECK(pf.ip == (unsigned long)at, "%s: #PF at ip %lx, want %lx", what,
          pf.ip, (unsigned long)at);
    CHECK(pf.err == want_err, "%s: #PF error code %lx, want %lx", what,
          pf.err, want_err);
    CHECK(pf.cr2 == va && pf.cr2_reg == va,
          "%s: cr2 %lx (vcpu_info) / %lx (mov %%cr2), want %lx", what,
          pf.cr2, pf.cr2_reg, va);
    printk("pagetables: %s -> #PF error code %lx cr2 %lx OK\n", what, pf.err,
           pf.cr2);
}

/* The lowest mfn that is not one of ours (by the M2P and our P2M). */
static unsigned long find_foreign_mfn(void)
{
    unsigned long mfn, pfn;

    for (mfn = 0; mfn <= m2p_max_mfn; mfn++) {
        pfn = mfn_to_pfn(mfn);
        if (pfn >= start_info->nr_pages || pfn_to_mfn(pfn) != mfn)
            return mfn;
    }
    fail("no foreign mfn found");
}

/*
 * A plain store into a (read-only) page-table page: Xen traps and emulates
 * it.  On PAE the entry is written in two halves, high half first, so that
 * it only becomes present with its final value (as Linux does).
 */
static void write_pte_direct(volatile pgentry_t *p, uint64_t val)
{
#ifdef __x86_64__
    *p = val;
#else
    volatile uint32_t *w = (volatile uint32_t *)p;
    w[1] = (uint32_t)(val >> 32);
    barrier();
    w[0] = (uint32_t)val;
#endif
}

/*
 * A multicall batch as Linux issues them: a remapping, a version query, a
 * refused pin (the batch goes on) and a TLB flush.
 */
static void test_multicall(void)
{
    static multicall_entry_t mc[4];
    static struct mmuext_op bad;
    static struct mmuext_op flush;
    volatile uint32_t *p1 = alloc_page(), *p2 = alloc_page();
    uint64_t pte2 = ((uint64_t)virt_to_mfn((void *)p2) << PAGE_SHIFT) | L1_PROT;
    long rc, ver = HYPERVISOR_xen_version(XENVER_version, NULL);

    p1[0] = 0x11111111;
    p2[0] = 0x22222222;
    memset(mc, 0, sizeof(mc));
    mc[0].op = __HYPERVISOR_update_va_mapping;
    mc[0].args[0] = (unsigned long)p1;
#ifdef __x86_64__
    mc[0].args[1] = pte2;
    mc[0].args[2] = UVMF_INVLPG;
#else
    mc[0].args[1] = (uint32_t)pte2;
    mc[0].args[2] = (uint32_t)(pte2 >> 32);
    mc[0].args[3] = UVMF_INVLPG;
#endif
    mc[1].op = __HYPERVISOR_xen_version;
    mc[1].args[0] = XENVER_version;
    /* Pinning a frame that is mapped writable is refused. */
    memset(&bad, 0, sizeof(bad));
    bad.cmd = MMUEXT_PIN_L1_TABLE;
    bad.arg1.mfn = virt_to_mfn((void *)p2);
    mc[2].op = __HYPERVISOR_mmuext_op;
    mc[2].args[0] = (unsigned long)&bad;
    mc[2].args[1] = 1;
    mc[2].args[2] = 0;
    mc[2].args[3] = DOMID_SELF;
    memset(&flush, 0, sizeof(flush));
    flush.cmd = MMUEXT_TLB_FLUSH_LOCAL;
    mc[3].op = __HYPERVISOR_mmuext_op;
    mc[3].args[0] = (unsigned long)&flush;
    mc[3].args[1] = 1;
    mc[3].args[2] = 0;
    mc[3].args[3] = DOMID_SELF;
    rc = _hypercall(__HYPERVISOR_multicall, (unsigned long)mc, 4, 0, 0, 0);
    if (!EXPECT(rc == 0, "multicall: rc %ld", rc))
        return;
    EXPECT((long)mc[0].result == 0, "multicall[0] update_va_mapping: result %ld",
           (long)mc[0].result);
    EXPECT((long)mc[1].result == ver, "multicall[1] xen_version: result %lx, "
           "want %lx", (unsigned long)mc[1].result, ver);
    EXPECT((long)mc[2].result < 0, "multicall[2] pin of a writable frame: "
           "result %ld, want an error", (long)mc[2].result);
    EXPECT((long)mc[3].result == 0, "multicall[3] mmuext_op: result %ld",
           (long)mc[3].result);
    EXPECT(p1[0] == 0x22222222, "after the multicall %p reads %x, want the "
           "remapped frame's 22222222", p1, p1[0]);
    rc = HYPERVISOR_update_va_mapping((unsigned long)p1,
            ((uint64_t)pfn_to_mfn(virt_to_pfn((void *)p1)) << PAGE_SHIFT) |
            L1_PROT, UVMF_INVLPG);
    EXPECT(rc == 0 && p1[0] == 0x11111111, "restoring the mapping: rc %ld, "
           "reads %x", rc, p1[0]);
    if (!nr_failures)
        printk("pagetables: multicall (update_va_mapping, xen_version, a "
               "refused pin, TLB flush) OK\n");
}

static void pagetables_main(void)
{
    unsigned long root = kernel_root_mfn();
    unsigned long base_va, base_pfn, alias_va, va[3], mfn[3], pfn[3];
    pgentry_t *l2e, *l1;
    uint64_t l2e_maddr, l1_maddr;
    unsigned long l1_mfn, foreign;
    unsigned int i;
    long rc;

    map_shared_info();
    trap_hook = pt_hook;

    printk("pagetables: pt_base %lx nr_pt_frames %lu, initial mapping ends "
           "at pfn %lx (va %p), nr_pages %lx\n",
           (unsigned long)start_info->pt_base,
           (unsigned long)start_info->nr_pt_frames, mapped_end_pfn,
           pfn_to_virt(mapped_end_pfn), (unsigned long)start_info->nr_pages);

    /* The first L1-sized slot after the initial mapping. */
    base_va = ((unsigned long)pfn_to_virt(mapped_end_pfn) + L2_SPAN - 1) &
              ~(L2_SPAN - 1);
    base_pfn = virt_to_pfn((void *)base_va);
    CHECK(base_pfn + 3 < start_info->nr_pages,
          "domain too small: need pfn %lx, have %lx pages", base_pfn + 3,
          (unsigned long)start_info->nr_pages);
    l2e = pt_lookup(root, base_va, 2);
    CHECK(l2e != NULL, "no L2 table covering %lx", base_va);
    CHECK(!(*l2e & _PAGE_PRESENT), "L2 entry for %lx already present (%llx)",
          base_va, (unsigned long long)*l2e);
    l2e_maddr = virt_to_mach(l2e);

    /* A new L1: zeroed while writable, then read-only, then pinned. */
    l1 = alloc_page();
    l1_mfn = virt_to_mfn(l1);
    rc = mmuext1(MMUEXT_PIN_L1_TABLE, l1_mfn);
    CHECK(rc < 0, "pinning a writably mapped frame as L1 succeeded");
    printk("pagetables: pin of a writable frame refused (rc %ld) OK\n", rc);
    rc = set_page_prot(l1, L1_PROT_RO);
    CHECK(rc == 0, "update_va_mapping(L1 read-only): rc %ld", rc);
    rc = mmuext1(MMUEXT_PIN_L1_TABLE, l1_mfn);
    CHECK(rc == 0, "MMUEXT_PIN_L1_TABLE: rc %ld", rc);
    rc = mmu_update1(l2e_maddr | MMU_NORMAL_PT_UPDATE,
                     ((uint64_t)l1_mfn << PAGE_SHIFT) | _PAGE_PRESENT |
                     _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY);
    CHECK(rc == 0, "mmu_update(L2 entry -> new L1): rc %ld", rc);
    CHECK((*l2e & PTE_MFN_MASK) >> PAGE_SHIFT == l1_mfn,
          "L2 entry reads %llx after the update", (unsigned long long)*l2e);
    printk("pagetables: L1 mfn %lx pinned and hooked at %lx (L2 entry maddr "
           "%llx)\n", l1_mfn, base_va, (unsigned long long)l2e_maddr);

    for (i = 0; i < 3; i++) {
        pfn[i] = base_pfn + i;
        mfn[i] = pfn_to_mfn(pfn[i]);
        va[i] = base_va + i * PAGE_SIZE;
    }
    l1_maddr = (uint64_t)l1_mfn << PAGE_SHIFT;

    /* Frame 0 with mmu_update on the PTE's machine address. */
    rc = mmu_update1((l1_maddr + 0 * 8) | MMU_NORMAL_PT_UPDATE,
                     ((uint64_t)mfn[0] << PAGE_SHIFT) | L1_PROT);
    CHECK(rc == 0, "mmu_update(PTE): rc %ld", rc);
    /* Frame 1 with update_va_mapping. */
    rc = HYPERVISOR_update_va_mapping(va[1], ((uint64_t)mfn[1] << PAGE_SHIFT) |
                                      L1_PROT, UVMF_INVLPG);
    CHECK(rc == 0, "update_va_mapping: rc %ld", rc);
    /* Frame 2 by writing the read-only L1 directly (Xen emulates it). */
    write_pte_direct(&l1[2], ((uint64_t)mfn[2] << PAGE_SHIFT) | L1_PROT);
    CHECK((l1[2] & PTE_MFN_MASK) >> PAGE_SHIFT == mfn[2],
          "direct PTE write did not stick (reads %llx)",
          (unsigned long long)l1[2]);
    printk("pagetables: mapped pfns %lx-%lx via mmu_update, "
           "update_va_mapping and an emulated PTE write\n", pfn[0], pfn[2]);

    for (i = 0; i < 3; i++) {
        volatile uint32_t *p = (volatile uint32_t *)va[i];
        unsigned int j;

        CHECK((l1[i] & PTE_MFN_MASK) >> PAGE_SHIFT == mfn[i],
              "PTE %u reads %llx, want mfn %lx", i, (unsigned long long)l1[i],
              mfn[i]);
        for (j = 0; j < PAGE_SIZE / 4; j += 97)
            p[j] = 0xa5000000u ^ (i << 16) ^ j;
        for (j = 0; j < PAGE_SIZE / 4; j += 97)
            CHECK(p[j] == (0xa5000000u ^ (i << 16) ^ j),
                  "frame %u word %u reads %x", i, j, p[j]);
    }
    printk("pagetables: wrote and read back all three frames OK\n");

    /* An alias of frame 0 elsewhere in the same L1 sees the same data. */
    alias_va = base_va + 100 * PAGE_SIZE;
    rc = HYPERVISOR_update_va_mapping(alias_va, ((uint64_t)mfn[0] << PAGE_SHIFT) |
                                      L1_PROT_RO, UVMF_INVLPG);
    CHECK(rc == 0, "update_va_mapping(alias): rc %ld", rc);
    CHECK(*(volatile uint32_t *)alias_va == (0xa5000000u ^ 0),
          "alias reads %x", *(volatile uint32_t *)alias_va);
    ((volatile uint32_t *)va[0])[1] = 0x600dcafe;
    CHECK(((volatile uint32_t *)alias_va)[1] == 0x600dcafe,
          "alias does not see the write through the first mapping");
    expect_pf("write to the read-only alias", 1, alias_va,
              PFEC_PRESENT | PFEC_WRITE);
    printk("pagetables: read-only alias at %lx OK\n", alias_va);

    /* Updates Xen must refuse. */
    foreign = find_foreign_mfn();
    rc = mmu_update1((l1_maddr + 10 * 8) | MMU_NORMAL_PT_UPDATE,
                     ((uint64_t)foreign << PAGE_SHIFT) | L1_PROT);
    CHECK(rc < 0, "mapping foreign mfn %lx succeeded", foreign);
    CHECK(!(l1[10] & _PAGE_PRESENT), "refused PTE is present: %llx",
          (unsigned long long)l1[10]);
    printk("pagetables: mapping an mfn we do not own (%lx) refused (rc %ld) "
           "OK\n", foreign, rc);
    rc = mmu_update1((l1_maddr + 11 * 8) | MMU_NORMAL_PT_UPDATE,
                     l1_maddr | L1_PROT);
    CHECK(rc < 0, "writable mapping of a page-table frame succeeded");
    printk("pagetables: writable mapping of the L1 itself refused (rc %ld) "
           "OK\n", rc);

    /* M2P update. */
    rc = mmu_update1(((uint64_t)mfn[2] << PAGE_SHIFT) | MMU_MACHPHYS_UPDATE,
                     pfn[2] + 0x1000);
    CHECK(rc == 0, "MMU_MACHPHYS_UPDATE: rc %ld", rc);
    CHECK(mfn_to_pfn(mfn[2]) == pfn[2] + 0x1000,
          "M2P[%lx] reads %lx after MMU_MACHPHYS_UPDATE, want %lx", mfn[2],
          mfn_to_pfn(mfn[2]), pfn[2] + 0x1000);
    rc = mmu_update1(((uint64_t)mfn[2] << PAGE_SHIFT) | MMU_MACHPHYS_UPDATE,
                     pfn[2]);
    CHECK(rc == 0 && mfn_to_pfn(mfn[2]) == pfn[2],
          "restoring M2P[%lx]: rc %ld, reads %lx", mfn[2], rc,
          mfn_to_pfn(mfn[2]));
    printk("pagetables: MMU_MACHPHYS_UPDATE of mfn %lx OK\n", mfn[2]);

    rc = mmuext1(MMUEXT_TLB_FLUSH_LOCAL, 0);
    CHECK(rc == 0, "MMUEXT_TLB_FLUSH_LOCAL: rc %ld", rc);
    {
        struct mmuext_op op;
        memset(&op, 0, sizeof(op));
        op.cmd = MMUEXT_INVLPG_LOCAL;
        op.arg1.linear_addr = va[0];
        rc = HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF);
        CHECK(rc == 0, "MMUEXT_INVLPG_LOCAL: rc %ld", rc);
    }

    /* Unmap and touch: not-present faults with the address in CR2. */
    rc = HYPERVISOR_update_va_mapping(va[0], 0, UVMF_INVLPG);
    CHECK(rc == 0, "update_va_mapping(unmap): rc %ld", rc);
    CHECK(l1[0] == 0, "PTE reads %llx after unmapping",
          (unsigned long long)l1[0]);
    expect_pf("write after unmap", 1, va[0], PFEC_WRITE);
    rc = mmu_update1((l1_maddr + 1 * 8) | MMU_NORMAL_PT_UPDATE, 0);
    CHECK(rc == 0, "mmu_update(clear PTE): rc %ld", rc);
    expect_pf("read after unmap", 0, va[1] + 0x123, 0);

    /* Tear down: unpin, unhook, and the frame is an ordinary page again. */
    rc = mmuext1(MMUEXT_UNPIN_TABLE, l1_mfn);
    CHECK(rc == 0, "MMUEXT_UNPIN_TABLE: rc %ld", rc);
    rc = mmu_update1(l2e_maddr | MMU_NORMAL_PT_UPDATE, 0);
    CHECK(rc == 0, "mmu_update(clear L2 entry): rc %ld", rc);
    expect_pf("read after unhooking the L1", 0, va[2], 0);
    rc = set_page_prot(l1, L1_PROT);
    CHECK(rc == 0, "making the old L1 frame writable again: rc %ld", rc);
    memset(l1, 0x5a, PAGE_SIZE);
    CHECK(((volatile uint8_t *)l1)[4095] == 0x5a, "old L1 frame not writable");
    printk("pagetables: unpinned, unhooked and reused the L1 frame OK\n");
    trap_hook = NULL;

    test_multicall();

    /* Where Xen says the M2P is (start_kernel asked). */
    if (EXPECT(machphys_mapping_rc == 0, "XENMEM_machphys_mapping: rc %ld",
               machphys_mapping_rc) &&
        EXPECT(m2p_start == MACH2PHYS_VIRT_START && m2p_end > m2p_start,
               "XENMEM_machphys_mapping: M2P at %lx-%lx, want start %lx",
               m2p_start, m2p_end, (unsigned long)MACH2PHYS_VIRT_START))
            printk("pagetables: XENMEM_machphys_mapping: M2P at %lx-%lx, max mfn "
               "%lx OK\n", m2p_start, m2p_end, m2p_max_mfn);
}

DEFINE_KERNEL("pagetables", pagetables_main, 0);
