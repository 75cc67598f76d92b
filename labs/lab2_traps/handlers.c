/*
 * Lab 2: your trap handlers (README.md). lab_trap is called with the frame Xen
 * bounced to the kernel: f->vector, f->error_code, f->ip, and the saved registers.
 */
#include "lab_traps.h"

unsigned long lab_breakpoints, lab_invalid_ops, lab_demand_faults;

int lab_trap(struct trap_frame *f)
{
    /* TODO: int3 (3), invalid opcode (6), divide error (0), page fault (14) */
    return RET_UNHANDLED;
}
