/*
 * Memory: P2M / M2P lookups, page-table walks through the linear kernel
 * mapping (VA = VIRT_BASE + (pfn << 12)), a bump allocator for the free
 * frames after the initial page tables, and page-table updates done the
 * PV way (mmu_update / update_va_mapping / mmuext_op).
 */
#include "guest.h"

start_info_t *start_info;
shared_info_t *shared_info;
unsigned long *phys_to_machine;
unsigned long *machine_to_phys;
unsigned long m2p_start, m2p_end, m2p_max_mfn;
long machphys_mapping_rc;
unsigned long first_free_pfn, mapped_end_pfn, next_free_pfn;

/* A page of our image whose mapping is replaced by the shared info page. */
static char shared_info_page[PAGE_SIZE]
    __attribute__((section(".bss.page"), aligned(PAGE_SIZE)));

void mm_early_init(start_info_t *si)
{
    struct xen_machphys_mapping m;

    start_info = si;
    phys_to_machine = (unsigned long *)si->mfn_list;
    machphys_mapping_rc = HYPERVISOR_memory_op(XENMEM_machphys_mapping, &m);
    if (machphys_mapping_rc == 0) {
        m2p_start = m.v_start;
        m2p_end = m.v_end;
        m2p_max_mfn = m.max_mfn;
    } else {
        m2p_start = MACH2PHYS_VIRT_START;
        m2p_end = MACH2PHYS_VIRT_END;
        m2p_max_mfn = (m2p_end - m2p_start) / sizeof(unsigned long) - 1;
    }
    machine_to_phys = (unsigned long *)m2p_start;
}

unsigned long kernel_root_mfn(void)
{
    return virt_to_mfn((void *)start_info->pt_base);
}

static unsigned int pt_index(unsigned long va, int level)
{
#if PT_LEVELS == 3
    if (level == 3)
        return (va >> 30) & 3;
#endif
    return (va >> (PAGE_SHIFT + 9 * (level - 1))) & 511;
}

static pgentry_t *table_of(unsigned long mfn)
{
    if (mfn > m2p_max_mfn)
        failf("page-table frame mfn %lx beyond the M2P table", mfn);
    return mfn_to_virt(mfn);
}

pgentry_t *pt_lookup(unsigned long root_mfn, unsigned long va, int level)
{
    pgentry_t *tab = table_of(root_mfn);
    int lvl;

    for (lvl = PT_LEVELS; ; lvl--) {
        pgentry_t *e = &tab[pt_index(va, lvl)];
        if (lvl == level)
            return e;
        if (!(*e & _PAGE_PRESENT) || (lvl == 2 && (*e & _PAGE_PSE)))
            return NULL;
        tab = table_of((*e & PTE_MFN_MASK) >> PAGE_SHIFT);
    }
}

int va_is_mapped(unsigned long root_mfn, unsigned long va)
{
    pgentry_t *e = pt_lookup(root_mfn, va, 1);
    return e && (*e & _PAGE_PRESENT);
}

void mm_init(void)
{
    unsigned long root = kernel_root_mfn(), pfn;

    first_free_pfn = virt_to_pfn((void *)start_info->pt_base) +
                     start_info->nr_pt_frames;
    for (pfn = first_free_pfn; pfn < start_info->nr_pages; pfn++)
        if (!va_is_mapped(root, (unsigned long)pfn_to_virt(pfn)))
            break;
    mapped_end_pfn = pfn;
    next_free_pfn = first_free_pfn;
}

unsigned long alloc_pfn(void)
{
    if (next_free_pfn >= mapped_end_pfn)
        failf("out of mapped memory (pfn %lx)", next_free_pfn);
    return next_free_pfn++;
}

void *alloc_page(void)
{
    void *p = pfn_to_virt(alloc_pfn());
    memset(p, 0, PAGE_SIZE);
    return p;
}

long mmu_update1(uint64_t ptr, uint64_t val)
{
    mmu_update_t u = { .ptr = ptr, .val = val };
    unsigned int done = 0;
    long rc = HYPERVISOR_mmu_update(&u, 1, &done, DOMID_SELF);
    if (rc == 0 && done != 1)
        return -1000;
    return rc;
}

long mmuext1(unsigned int cmd, unsigned long arg1)
{
    struct mmuext_op op;
    unsigned int done = 0;
    long rc;

    memset(&op, 0, sizeof(op));
    op.cmd = cmd;
    op.arg1.mfn = arg1;
    rc = HYPERVISOR_mmuext_op(&op, 1, &done, DOMID_SELF);
    if (rc == 0 && done != 1)
        return -1000;
    return rc;
}

long set_page_prot(void *va, uint64_t prot)
{
    uint64_t pte = ((uint64_t)virt_to_mfn(va) << PAGE_SHIFT) | prot;
    return HYPERVISOR_update_va_mapping((unsigned long)va, pte, UVMF_INVLPG);
}

/*
 * Map mfn at va in the page tables rooted at root_mfn, creating missing
 * intermediate tables (zeroed, made read-only, then hooked in with
 * mmu_update, which makes Xen validate them).
 */
long map_page(unsigned long root_mfn, unsigned long va, unsigned long mfn,
              uint64_t prot)
{
    unsigned long tab_mfn = root_mfn;
    pgentry_t *tab = table_of(root_mfn);
    int lvl;
    long rc;

    for (lvl = PT_LEVELS; lvl > 1; lvl--) {
        unsigned int idx = pt_index(va, lvl);
        pgentry_t e = tab[idx];

        if (!(e & _PAGE_PRESENT)) {
            void *n = alloc_page();
            uint64_t flags = _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED |
                             _PAGE_DIRTY | (prot & _PAGE_USER);
            if (PT_LEVELS == 3 && lvl == 3)
                flags = _PAGE_PRESENT;  /* PAE PDPTEs take no other bits */
            rc = set_page_prot(n, L1_PROT_RO);
            if (rc)
                return rc;
            rc = mmu_update1(((uint64_t)tab_mfn << PAGE_SHIFT) + idx * 8,
                             ((uint64_t)virt_to_mfn(n) << PAGE_SHIFT) | flags);
            if (rc)
                return rc;
            e = ACCESS_ONCE(tab[idx]);
        }
        tab_mfn = (e & PTE_MFN_MASK) >> PAGE_SHIFT;
        tab = table_of(tab_mfn);
    }
    return mmu_update1(((uint64_t)tab_mfn << PAGE_SHIFT) + pt_index(va, 1) * 8,
                       ((uint64_t)mfn << PAGE_SHIFT) | prot);
}

void map_shared_info(void)
{
    long rc;

    if (shared_info)
        return;
    rc = HYPERVISOR_update_va_mapping((unsigned long)shared_info_page,
                                      (uint64_t)start_info->shared_info | L1_PROT,
                                      UVMF_INVLPG);
    if (rc)
        failf("mapping shared_info (maddr %lx): rc %ld",
              (unsigned long)start_info->shared_info, rc);
    shared_info = (shared_info_t *)shared_info_page;
}
