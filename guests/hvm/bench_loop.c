/*
 * bench_loop for HVM: the CPU row of tools/bench.py in an HVM guest. A Multiboot kernel
 * (booted directly, no firmware: the time is the loop's), 32-bit protected mode with
 * paging off, running the same compute loop as guests/kernels/bench_loop.c's 32-bit
 * build (guests/include/bench_loop.h), which tools/bench.py copies out of this ELF into
 * a bare engine. Command line (Multiboot's): iters=N. Prints "bench_loop: iters N insns/iter 12 state S acc A" on
 * COM1 and leaves through the test-exit port with PASS.
 */
#include <stdint.h>

#include "testlib.h"
#include "../include/bench_loop.h"

#define MB_INFO_CMDLINE 4u

void kernel_main(uint32_t magic, const uint32_t *info);

asm(
"       .text\n"                        /* the Multiboot header, in the file's first 8 KiB */
"       .align  4\n"
"       .long   0x1BADB002, 0, -0x1BADB002\n"
"       .globl  _start\n"
"_start:\n"
"       movl    $0x80000, %esp\n"
"       pushl   %ebx\n"
"       pushl   %eax\n"
"       call    kernel_main\n");

static unsigned long acc;

static uint32_t iters_from(const char *cmdline)
{
    uint32_t n = 1000000;
    for (const char *p = cmdline; p && *p; p++) {
        if (p[0] == 'i' && p[1] == 't' && p[2] == 'e' && p[3] == 'r' && p[4] == 's' &&
            p[5] == '=') {
            n = 0;
            for (p += 6; *p >= '0' && *p <= '9'; p++)
                n = n * 10 + (uint32_t)(*p - '0');
            break;
        }
    }
    return n;
}

static void puthex_bare(uint32_t v)
{
    int s = 28;
    while (s > 0 && !((v >> s) & 15))
        s -= 4;
    for (; s >= 0; s -= 4)
        putc("0123456789abcdef"[(v >> s) & 15]);
}

void kernel_main(uint32_t magic, const uint32_t *info)
{
    const char *cmdline = 0;
    if (magic == 0x2BADB002u && (info[0] & MB_INFO_CMDLINE))
        cmdline = (const char *)info[4];
    uint32_t iters = iters_from(cmdline), state = 0;
    if (iters)
        state = bench_loop(iters, &acc);
    puts("bench_loop: iters ");
    putu(iters);
    puts(" insns/iter 12 state ");
    puthex_bare(state);
    puts(" acc ");
    puthex_bare(acc);
    puts("\nbench_loop: PASS\n");
    outb(0xF4, PASS);
    for (;;)
        __asm__ volatile("cli; hlt");
}
