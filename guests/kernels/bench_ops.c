/*
 * bench_ops: one hypervisor round trip, `iters` times, for tools/bench.py.
 *
 * Command line: op=<name> iters=N (default 1000).
 *   cr0     mov %cr0, %reg: #GP, emulated by the hypervisor (trap-and-emulate)
 *   rdmsr   rdmsr of MSR_FS_BASE, emulated likewise (pv64 only: Xen refuses
 *           the FS base MSRs to 32-bit guests)
 *   xenver  xen_version(XENVER_version) through the hypercall page
 *   int3    int3 bounced to our trap handler, which returns with
 *           HYPERVISOR_iret (the full trap_entry -> trap_dispatch path)
 *   none    the bare loop, nothing trapped
 */
#include "guest.h"

#define MSR_FS_BASE 0xc0000100

static unsigned long int3_hits;

static int bench_int3_hook(struct trap_frame *f)
{
    if (f->vector != 3)
        return RET_UNHANDLED;
    int3_hits++;
    return RET_IRET;            /* ip is already past the int3 */
}

/* The value of word `key=` on the command line, copied into buf. */
static int cmdline_get_word(const char *key, char *buf, size_t size)
{
    const char *p = (const char *)start_info->cmd_line;
    size_t klen = strlen(key), n = 0;

    while (*p) {
        while (*p == ' ')
            p++;
        if (!strncmp(p, key, klen) && p[klen] == '=') {
            p += klen + 1;
            while (p[n] && p[n] != ' ' && n + 1 < size) {
                buf[n] = p[n];
                n++;
            }
            buf[n] = '\0';
            return 0;
        }
        while (*p && *p != ' ')
            p++;
    }
    return -1;
}

static void bench_ops_main(void)
{
    unsigned long iters = 1000, i, v = 0;
    char op[16] = "none";

    if (cmdline_get_ulong("iters", &iters) < 0 &&
        strstr((const char *)start_info->cmd_line, "iters="))
        fail("bad iters= on the command line");
    cmdline_get_word("op", op, sizeof(op));

    if (!strcmp(op, "cr0")) {
        for (i = 0; i < iters; i++)
            asm volatile ("mov %%cr0, %0" : "=r" (v));
    } else if (!strcmp(op, "rdmsr")) {
#ifdef __x86_64__
        uint32_t lo, hi;

        for (i = 0; i < iters; i++) {
            asm volatile ("rdmsr" : "=a" (lo), "=d" (hi) : "c" (MSR_FS_BASE));
            v = (unsigned long)hi << 32 | lo;
        }
#else
        fail("op=rdmsr: pv64 only");
#endif
    } else if (!strcmp(op, "xenver")) {
        for (i = 0; i < iters; i++)
            v = HYPERVISOR_xen_version(XENVER_version, NULL);
    } else if (!strcmp(op, "int3")) {
        trap_hook = bench_int3_hook;
        for (i = 0; i < iters; i++)
            asm volatile ("int3" ::: "memory");
        trap_hook = NULL;
        CHECK(int3_hits == iters, "int3: %lu bounces for %lu iterations",
              int3_hits, iters);
    } else if (strcmp(op, "none")) {
        failf("unknown op=%s", op);
    }
    printk("bench_ops: op %s iters %lu last %lx\n", op, iters, v);
}

DEFINE_KERNEL("bench_ops", bench_ops_main, 0);
