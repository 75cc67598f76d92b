/*
 * Lab 2: what main.c (given) and your handlers.c share.
 */
#ifndef LAB_TRAPS_H
#define LAB_TRAPS_H

#include "guest.h"

/* Demand-zero region: unmapped until touched; a page fault here must map a fresh,
 * zeroed page at the faulting address and retry the instruction. */
#define LAB_DEMAND_BASE     (VIRT_BASE + 0x10000000UL)
#define LAB_DEMAND_PAGES    16UL

/* Exception table of one entry: a fault on the instruction at probe_insn resumes
 * at probe_fixup with the accumulator (eax/rax) = -14 (EFAULT). */
extern char probe_insn[], probe_fixup[];

/* Counters your handler keeps (main.c checks them). */
extern unsigned long lab_breakpoints;   /* int3 traps */
extern unsigned long lab_invalid_ops;   /* #UD, each skipped */
extern unsigned long lab_demand_faults; /* demand-zero pages mapped */

/* Your trap hook: called for every trap and event callback; returns RET_IRET when it
 * handled the trap (the frame is resumed as it is now), RET_UNHANDLED otherwise. */
int lab_trap(struct trap_frame *f);

#endif /* LAB_TRAPS_H */
