/*
 * Lab 2, reference solution: trap handlers of a small PV kernel.
 */
#include "lab_traps.h"

unsigned long lab_breakpoints, lab_invalid_ops, lab_demand_faults;

/* The faulting address: Xen puts it in vcpu_info.arch.cr2 before the bounce. */
static unsigned long fault_address(void)
{
    return (unsigned long)shared_info->vcpu_info[0].arch.cr2;
}

static int page_fault(struct trap_frame *f)
{
    unsigned long va = fault_address();

    if (f->ip == (unsigned long)probe_insn) {           /* the exception table */
        f->ip = (unsigned long)probe_fixup;
        f->ax = (unsigned long)-14L;
        return RET_IRET;
    }
    if (!(f->error_code & PFEC_PRESENT) && va >= LAB_DEMAND_BASE &&
        va < LAB_DEMAND_BASE + LAB_DEMAND_PAGES * PAGE_SIZE) {
        void *page = alloc_page();                      /* zeroed */
        long rc = map_page(kernel_root_mfn(), va & PAGE_MASK, virt_to_mfn(page), L1_PROT);

        if (rc)
            failf("lab: map_page(%lx): %ld", va, rc);
        lab_demand_faults++;
        return RET_IRET;                                /* the access runs again */
    }
    return RET_UNHANDLED;
}

int lab_trap(struct trap_frame *f)
{
    switch (f->vector) {
    case 3:                 /* a trap: ip is already past the int3 */
        lab_breakpoints++;
        return RET_IRET;
    case 6:                 /* a fault: ip is at the ud2, 2 bytes */
        lab_invalid_ops++;
        f->ip += 2;
        return RET_IRET;
    case 0:                 /* divl %ecx, 2 bytes: the quotient is all ones */
        f->ax = (f->ax & ~0xFFFFFFFFUL) | 0xFFFFFFFFUL;
        f->ip += 2;
        return RET_IRET;
    case 14:
        return page_fault(f);
    }
    return RET_UNHANDLED;
}
