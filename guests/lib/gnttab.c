/*
 * Grant tables, version 1: see include/gnttab.h.
 */
#include "gnttab.h"

#define ENTRIES_PER_FRAME  (PAGE_SIZE / sizeof(grant_entry_v1_t))
#define NR_REFS            (GNTTAB_FRAMES * ENTRIES_PER_FRAME)

static grant_entry_v1_t *frames[GNTTAB_FRAMES];
static unsigned char ref_used[NR_REFS];
static int ready;

int gnttab_init(void)
{
    xen_pfn_t mfns[GNTTAB_FRAMES];
    gnttab_setup_table_t setup = { .dom = DOMID_SELF, .nr_frames = GNTTAB_FRAMES };
    long rc;

    if (ready)
        return 0;
    set_xen_guest_handle(setup.frame_list, mfns);
    rc = HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &setup, 1);
    if (rc)
        return (int)rc;
    if (setup.status != GNTST_okay)
        return setup.status;
    for (unsigned int i = 0; i < GNTTAB_FRAMES; i++) {
        void *va = alloc_page();
        rc = HYPERVISOR_update_va_mapping((unsigned long)va,
                                          ((uint64_t)mfns[i] << PAGE_SHIFT) | L1_PROT,
                                          UVMF_INVLPG);
        if (rc)
            return (int)rc;
        frames[i] = va;
    }
    ready = 1;
    return 0;
}

grant_entry_v1_t *gnttab_entry(grant_ref_t ref)
{
    return &frames[ref / ENTRIES_PER_FRAME][ref % ENTRIES_PER_FRAME];
}

grant_ref_t gnttab_grant_access(domid_t domid, unsigned long frame, int readonly)
{
    for (grant_ref_t ref = GNTTAB_NR_RESERVED_ENTRIES; ref < NR_REFS; ref++) {
        if (ref_used[ref])
            continue;
        grant_entry_v1_t *e = gnttab_entry(ref);
        ref_used[ref] = 1;
        e->frame = frame;
        e->domid = domid;
        wmb();          /* frame and domid before the flags that publish them */
        ACCESS_ONCE(e->flags) = GTF_permit_access | (readonly ? GTF_readonly : 0);
        return ref;
    }
    return GNTTAB_INVALID;
}

int gnttab_end_access(grant_ref_t ref)
{
    grant_entry_v1_t *e = gnttab_entry(ref);
    uint16_t flags = ACCESS_ONCE(e->flags);

    for (;;) {
        if (flags & (GTF_reading | GTF_writing))
            return -1;
        uint16_t seen = __sync_val_compare_and_swap(&e->flags, flags, 0);
        if (seen == flags)
            break;
        flags = seen;
    }
    ref_used[ref] = 0;
    return 0;
}

long gnttab_map(grant_ref_t ref, domid_t dom, void *va, int readonly, grant_handle_t *handle)
{
    gnttab_map_grant_ref_t op = {
        .host_addr = (unsigned long)va, .ref = ref, .dom = dom,
        .flags = GNTMAP_host_map | (readonly ? GNTMAP_readonly : 0),
    };
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &op, 1);

    if (rc)
        return rc;
    if (handle)
        *handle = op.handle;
    return op.status;
}
