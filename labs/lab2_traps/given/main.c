/*
 * Lab 2 driver (given, do not edit): exercises your trap handlers (handlers.c) and
 * prints one "traps:" line per part; the autograder reads them.
 */
#include "lab_traps.h"

__attribute__((noinline)) static long probe_read(const void *addr)
{
    long value;

    asm volatile (".globl probe_insn, probe_fixup\n"
                  "probe_insn: mov (%1), %0\n"
                  "probe_fixup:\n"
                  : "=a" (value) : "r" (addr) : "memory");
    return value;
}

static void part_int3(void)
{
    asm volatile ("int3; int3; int3" ::: "memory");
    EXPECT(lab_breakpoints == 3, "traps: int3: %lu breakpoints counted, want 3",
           lab_breakpoints) && printk("traps: int3 OK\n");
}

static void part_ud2(void)
{
    asm volatile ("ud2" ::: "memory");
    EXPECT(lab_invalid_ops == 1, "traps: ud2: %lu counted, want 1", lab_invalid_ops)
        && printk("traps: ud2 OK\n");
}

static void part_divide(void)
{
    unsigned int hi = 0, lo = 100, by = 0;

    /* divl %ecx is 2 bytes (f7 f1): the handler skips it and sets eax to all ones */
    asm volatile ("divl %%ecx" : "+a" (lo), "+d" (hi) : "c" (by));
    EXPECT(lo == 0xFFFFFFFFu, "traps: divide by zero: eax %x, want ffffffff", lo)
        && printk("traps: divide OK\n");
}

static void part_demand(void)
{
    volatile unsigned long *p = (volatile unsigned long *)LAB_DEMAND_BASE;
    const unsigned long words = LAB_DEMAND_PAGES * PAGE_SIZE / sizeof(long);
    unsigned long i, zeros = 0, bad = 0;

    for (i = 0; i < words; i += 64)
        zeros += p[i] == 0;                     /* first touch: a read */
    for (i = 0; i < words; i++)
        p[i] = i * 2654435761UL;
    for (i = 0; i < words; i++)
        bad += p[i] != i * 2654435761UL;
    EXPECT(zeros == words / 64 && bad == 0, "traps: demand paging: %lu of %lu reads"
           " zero, %lu words wrong", zeros, words / 64, bad)
        && printk("traps: demand paging OK\n");
    EXPECT(lab_demand_faults == LAB_DEMAND_PAGES, "traps: %lu demand faults, want %lu",
           lab_demand_faults, LAB_DEMAND_PAGES) && printk("traps: fault count OK\n");
}

static void part_fixup(void)
{
    static long mapped = 0x1234;
    long a = probe_read((void *)(LAB_DEMAND_BASE - PAGE_SIZE));
    long b = probe_read(&mapped);

    EXPECT(a == -14 && b == 0x1234, "traps: exception fixup: %ld and %lx, want -14 and"
           " 1234", a, b) && printk("traps: exception fixup OK\n");
}

static void lab_main(void)
{
    map_shared_info();
    trap_hook = lab_trap;
    part_int3();
    part_ud2();
    part_divide();
    part_demand();
    part_fixup();
    trap_hook = NULL;
}

DEFINE_KERNEL("traps", lab_main, 0);
