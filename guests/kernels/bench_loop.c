/*
 * bench_loop: the compute loop of the CPU row of tools/bench.py.
 *
 * Runs bench_loop(iters) once and prints the result.  The loop proper,
 * from bench_loop_body up to (not including) bench_loop_end, is exactly
 * BENCH_LOOP_INSNS instructions per iteration (a xorshift step and one
 * read-modify-write of memory) and position independent:
 * tools/bench.py copies those bytes out of this ELF (by symbol) into a bare
 * engine, so the hypervisor and the reference run the same machine code.
 * Register interface of the body: count in %[re]cx (non-zero), state in
 * %[re]ax, %[re]si points to a word that accumulates the states.
 *
 * Command line: iters=N (default 1000000).
 */
#include "guest.h"

#include "bench_loop.h"

static unsigned long acc;

static void bench_loop_main(void)
{
    unsigned long iters = 1000000, state = 0;

    if (cmdline_get_ulong("iters", &iters) < 0 &&
        strstr((const char *)start_info->cmd_line, "iters="))
        fail("bad iters= on the command line");
    if (iters)
        state = bench_loop(iters, &acc);
    printk("bench_loop: iters %lu insns/iter %d state %lx acc %lx\n",
           iters, BENCH_LOOP_INSNS, state, acc);
}

DEFINE_KERNEL("bench_loop", bench_loop_main, 0);
