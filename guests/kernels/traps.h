/* Shared between traps.c and traps_asm.S. */
#ifndef TRAPS_H
#define TRAPS_H
/* GDT entry 2: not-present data segment, DPL 3 (loaded into %ds -> #NP). */
#define GDT_IDX_NP      2
#define GDT_SEL_NP      ((GDT_IDX_NP << 3) | 3)
/* GDT entry 3: not-present data segment, DPL = kernel ring (-> #SS). */
#define GDT_IDX_SS      3
#ifdef __x86_64__
#define GDT_SEL_SS      ((GDT_IDX_SS << 3) | 3)
#else
#define GDT_SEL_SS      ((GDT_IDX_SS << 3) | 1)
#endif
#endif
