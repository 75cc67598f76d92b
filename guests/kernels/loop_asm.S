/*
 * The benchmark loop: one multiply-add (an LCG step) per iteration.
 *   64-bit: uint64_t loop_run(uint64_t iters, uint64_t seed)
 *   32-bit: uint32_t loop_run(uint32_t iters, uint32_t seed)
 * Returns the final value; iters == 0 returns the seed.
 */
#include "asm.h"

        .text
ENTRY(loop_run)
#ifdef __x86_64__
        movq    %rsi, %rax
        movq    %rdi, %rcx
        testq   %rcx, %rcx
        jz      2f
        movabsq $6364136223846793005, %rdx
        movabsq $1442695040888963407, %rsi
1:      imulq   %rdx, %rax
        addq    %rsi, %rax
        decq    %rcx
        jnz     1b
2:      ret
#else
        pushl   %esi
        movl    8(%esp), %ecx
        movl    12(%esp), %eax
        testl   %ecx, %ecx
        jz      2f
        movl    $1664525, %edx
        movl    $1013904223, %esi
1:      imull   %edx, %eax
        addl    %esi, %eax
        decl    %ecx
        jnz     1b
2:      popl    %esi
        ret
#endif
END(loop_run)
