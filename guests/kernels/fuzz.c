/*
 * fuzz: makes hypercalls with random sub-ops and arguments from inside the guest,
 * through the hypercall page, as a hostile kernel would.
 *   seed=<n>     the PRNG's seed (the test's hypothesis strategy picks it)
 *   count=<n>    how many calls (default 300)
 *   families=<mask>  which hypercall numbers may be drawn (bit i: number i; default all)
 * Pointer arguments point, most of the time, at a scratch area filled with random
 * bytes (so sub-op structures are random too), sometimes at edges: NULL, our own
 * code, Xen's reserved area, unmapped addresses, the top of the address space.
 * Every result must be success (>= 0) or minus one of Xen's errno values (but
 * get_debugreg's, which is the register's value): anything else is printed as
 * "fuzz: INVALID". Calls that would end or park the guest for
 * good (iret, shutdown, block, poll, vCPU down) are left out or have that sub-op
 * replaced; a guest may still do itself in (e.g. give back the frame its code is in),
 * which Xen allows: the test then sees a guest crash, never a hypervisor one.
 * Our own text (and with it the hypercall page) is mapped read-only first, as a real
 * kernel keeps it: a pointer into it gets -EFAULT instead of rewriting the stubs the
 * guest needs to report and power off (a guest that did that would spin for ever).
 */
#include "guest.h"

static const int xen_errnos[] = {
#define XEN_ERRNO(name, value) value,
#include <xen/errno.h>
};

static uint64_t state;

static uint64_t rnd(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static unsigned long scratch_va;
#define SCRATCH_PAGES 4

static unsigned long edge(void)
{
    static const unsigned long edges[] = {
        0, 1, 2, 3, 4, 7, 8, 16, 31, 32, 64, 255, 256, 4095, 4096, 0x7ff0, 0x7fff,
        0xffff, 0x7fffffff, 0x80000000, 0xffffffff, (unsigned long)-1, (unsigned long)-2,
        (unsigned long)-4096, VIRT_BASE, VIRT_BASE + 0x1000,
#ifdef __x86_64__
        0xffff800000000000UL, 0xffff808000000000UL, 0x0000800000000000UL,
#else
        0xf5800000UL, 0xfc000000UL, 0xbffff000UL,
#endif
    };
    return edges[rnd() % ARRAY_SIZE(edges)];
}

static unsigned long arg(void)
{
    switch (rnd() % 8) {
    case 0: case 1: case 2:
        return scratch_va + (rnd() % (SCRATCH_PAGES * PAGE_SIZE - 256));
    case 3: case 4:
        return edge();
    case 5:
        return rnd() % 64;
    default:
        return (unsigned long)rnd();
    }
}

static void refill(void)
{
    uint64_t *p = (uint64_t *)scratch_va;

    for (unsigned int i = 0; i < SCRATCH_PAGES * PAGE_SIZE / 8; i++) {
        uint64_t r = rnd();
        /* small numbers are what sub-op structures are made of: ports, refs, counts */
        p[i] = (r & 3) == 0 ? (r >> 2) % 16 : (r & 3) == 1 ? edge() : r;
    }
}

static int valid(long rc)
{
    if (rc >= 0)
        return 1;
    for (unsigned int i = 0; i < ARRAY_SIZE(xen_errnos); i++)
        if (rc == -xen_errnos[i])
            return 1;
    return 0;
}

static void fuzz_main(void)
{
    unsigned long seed = 1, count = 300, families = ~0UL, ok = 0, errs = 0, invalid = 0;
    unsigned long per_nr[64] = { 0 };

    map_shared_info();
    for (char *page = _text; page < _etext; page += PAGE_SIZE)
        CHECK(set_page_prot(page, L1_PROT_RO) == 0, "map our text read-only");
    cmdline_get_ulong("seed", &seed);
    cmdline_get_ulong("count", &count);
    cmdline_get_ulong("families", &families);
    state = seed * 0x9E3779B97F4A7C15ULL + 1;
    scratch_va = (unsigned long)alloc_page();
    for (unsigned int i = 1; i < SCRATCH_PAGES; i++)
        CHECK((unsigned long)alloc_page() == scratch_va + i * PAGE_SIZE, "scratch not contiguous");
    printk("fuzz: seed %lu, %lu calls, families 0x%lx\n", seed, count, families);

    for (unsigned long i = 0; i < count; i++) {
        unsigned long nr, a[5];
        long rc;

        do
            nr = rnd() % 56;
        while (!(families >> nr & 1) || nr == __HYPERVISOR_iret);
        for (int j = 0; j < 5; j++)
            a[j] = arg();
        if (rnd() % 4)
            a[0] = rnd() % 24;          /* a sub-op number that exists, mostly */
        refill();
        switch (nr) {
        case __HYPERVISOR_sched_op:
        case __HYPERVISOR_sched_op_compat:
            /* yield and the unknown ones; nothing that ends, blocks or polls for good */
            if (a[0] <= SCHEDOP_watchdog && a[0] != SCHEDOP_yield)
                a[0] = SCHEDOP_yield;
            break;
        case __HYPERVISOR_vcpu_op:
            if (a[0] == VCPUOP_down || a[0] == VCPUOP_initialise)
                a[0] = VCPUOP_is_up;
            break;
        case __HYPERVISOR_multicall:
            a[1] %= 4;                  /* the entries are random: only a few of them */
            {
                multicall_entry_t *mc = (multicall_entry_t *)a[0];
                if (a[0] >= scratch_va && a[0] < scratch_va + SCRATCH_PAGES * PAGE_SIZE - 256)
                    for (unsigned int k = 0; k < a[1]; k++)
                        mc[k].op = __HYPERVISOR_xen_version;
            }
            break;
        case __HYPERVISOR_set_trap_table:
        case __HYPERVISOR_set_callbacks:
        case __HYPERVISOR_callback_op:
        case __HYPERVISOR_stack_switch:
            /* our own traps must keep working to report: only bad pointers or sub-ops */
            if (nr == __HYPERVISOR_callback_op && a[0] > CALLBACKOP_unregister)
                break;
            a[0] = nr == __HYPERVISOR_callback_op ? 99 : 0;
            if (nr == __HYPERVISOR_stack_switch)
                a[0] = 0, a[1] = 0;
            if (nr == __HYPERVISOR_set_trap_table)
                a[0] = edge() | 1;      /* never a valid table */
            break;
        case __HYPERVISOR_console_io:
            if (a[0] == CONSOLEIO_write)
                a[1] %= 16;             /* a little noise on the console, not megabytes */
            break;
        case __HYPERVISOR_memory_op:
            /* giving back our own frames is allowed, but ends the test: only the others */
            if (a[0] == XENMEM_decrease_reservation || a[0] == XENMEM_exchange ||
                a[0] == XENMEM_add_to_physmap || a[0] == XENMEM_remove_from_physmap)
                a[0] = XENMEM_maximum_gpfn;
            break;
        case __HYPERVISOR_update_va_mapping:
        case __HYPERVISOR_mmu_update:
        case __HYPERVISOR_mmuext_op:
            /* our own mappings: only addresses we do not use */
            if (nr == __HYPERVISOR_update_va_mapping && a[0] >= VIRT_BASE)
                a[0] = edge() & 0x7fffffff;
            break;
        }
        rc = _hypercall(nr, a[0], a[1], a[2], a[3], a[4]);
        per_nr[nr]++;
        /* get_debugreg returns the register itself (DR6 reads 0xffff0ff0) */
        if (nr != __HYPERVISOR_get_debugreg && !valid(rc)) {
            invalid++;
            printk("fuzz: INVALID nr=%lu args %lx %lx %lx %lx %lx -> %ld\n",
                   nr, a[0], a[1], a[2], a[3], a[4], rc);
        } else if (rc >= 0) {
            ok++;
        } else {
            errs++;
        }
    }
    unsigned int kinds = 0;
    for (unsigned int n = 0; n < 64; n++)
        kinds += per_nr[n] != 0;
    printk("fuzz: %lu calls over %u hypercall numbers: %lu succeeded, %lu refused with "
           "Xen errnos, %lu invalid\n", count, kinds, ok, errs, invalid);
    CHECK(invalid == 0, "%lu invalid results", invalid);
}

DEFINE_KERNEL("fuzz", fuzz_main, 0);
