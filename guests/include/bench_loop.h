/*
 * The compute loop of tools/bench.py's CPU rows, shared by the PV kernel
 * (guests/kernels/bench_loop.c) and the HVM one (guests/hvm/bench_loop.c) so that
 * every row runs the same machine code. bench_loop_body up to (not including)
 * bench_loop_end is exactly BENCH_LOOP_INSNS instructions per iteration (a xorshift
 * step and one read-modify-write of memory) and position independent: tools/bench.py
 * copies those bytes out of the ELF (by symbol) into a bare engine.
 * Register interface of the body: count in %[re]cx (non-zero), state in %[re]ax,
 * %[re]si points to a word that accumulates the states.
 */
#ifndef BENCH_LOOP_H
#define BENCH_LOOP_H

#ifdef __x86_64__
#define BENCH_LOOP_INSNS 9
#else
#define BENCH_LOOP_INSNS 12
#endif

unsigned long bench_loop(unsigned long iters, unsigned long *acc);

#ifdef __x86_64__
asm(
"       .text\n"
"       .globl  bench_loop\n"
"       .type   bench_loop, @function\n"
"bench_loop:\n"                         /* rdi = iters, rsi = acc */
"       movq    %rdi, %rcx\n"
"       movabsq $0x9e3779b97f4a7c15, %rax\n"
"       .globl  bench_loop_body\n"
"bench_loop_body:\n"                    /* xorshift step + memory add */
"       movq    %rax, %rdx\n"
"       shlq    $13, %rdx\n"
"       xorq    %rdx, %rax\n"
"       movq    %rax, %rdx\n"
"       shrq    $7, %rdx\n"
"       xorq    %rdx, %rax\n"
"       addq    %rax, (%rsi)\n"
"       decq    %rcx\n"
"       jnz     bench_loop_body\n"
"       .globl  bench_loop_end\n"
"bench_loop_end:\n"
"       ret\n"
"       .size   bench_loop, . - bench_loop\n");
#else
asm(
"       .text\n"
"       .globl  bench_loop\n"
"       .type   bench_loop, @function\n"
"bench_loop:\n"                         /* 4(%esp) = iters, 8(%esp) = acc */
"       pushl   %esi\n"
"       movl    8(%esp), %ecx\n"
"       movl    12(%esp), %esi\n"
"       movl    $0x9e3779b9, %eax\n"
"       .globl  bench_loop_body\n"
"bench_loop_body:\n"                    /* xorshift32 step + memory add */
"       movl    %eax, %edx\n"
"       shll    $13, %edx\n"
"       xorl    %edx, %eax\n"
"       movl    %eax, %edx\n"
"       shrl    $17, %edx\n"
"       xorl    %edx, %eax\n"
"       movl    %eax, %edx\n"
"       shll    $5, %edx\n"
"       xorl    %edx, %eax\n"
"       addl    %eax, (%esi)\n"
"       decl    %ecx\n"
"       jnz     bench_loop_body\n"
"       .globl  bench_loop_end\n"
"bench_loop_end:\n"
"       popl    %esi\n"
"       ret\n"
"       .size   bench_loop, . - bench_loop\n");
#endif

#endif
