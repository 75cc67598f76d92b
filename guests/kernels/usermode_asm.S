/*
 * User-mode code of the usermode kernel.  It lives in its own page
 * (.user.text), is mapped at USER_VA with _PAGE_USER and must be position
 * independent.  System calls: number in %eax, argument in %rdi (64-bit,
 * `syscall`) or %ebx (32-bit, `int $0x80`), result in %eax.
 */
#include "asm.h"

#define SYS_EXIT        0
#define SYS_ECHO        1

#ifdef __x86_64__
#define SYSCALL         syscall
#define ARG             %rdi
#define ARG32           %edi
#else
#define SYSCALL         int $0x80
#define ARG             %ebx
#define ARG32           %ebx
#endif

        .section .user.text, "ax"

/* Three echo round trips (result must be argument + 1), then exit(0). */
ENTRY(user_echo)
#ifndef __x86_64__
        movl    $FLAT_USER_DS, %eax
        movl    %eax, %ds
        movl    %eax, %es
#endif
        movl    $3, %esi
        movl    $0x1000, ARG32
1:      movl    $SYS_ECHO, %eax
#ifdef __x86_64__
        pushq   ARG                     /* the user stack must be writable */
#else
        pushl   ARG
#endif
        SYSCALL
#ifdef __x86_64__
        popq    ARG
#else
        popl    ARG
#endif
        leal    1(ARG32), %edx
        cmpl    %edx, %eax
        jne     2f
        movl    %eax, ARG32
        decl    %esi
        jnz     1b
        movl    $SYS_EXIT, %eax
        xorl    ARG32, ARG32
        SYSCALL
        ud2
2:      movl    $SYS_EXIT, %eax
        movl    $1, ARG32
        SYSCALL
        ud2
END(user_echo)

/* Touch the kernel's first page: must fault (#PF with the U bit). */
ENTRY(user_peek)
#ifdef __x86_64__
        movabsq $VIRT_BASE, %rax
#else
        movl    $FLAT_USER_DS, %eax
        movl    %eax, %ds
        movl    $VIRT_BASE, %eax
#endif
        .globl  user_peek_at
user_peek_at:
#ifdef __x86_64__
        movl    (%rax), %ecx
#else
        movl    (%eax), %ecx
#endif
        movl    $SYS_EXIT, %eax
        movl    $2, ARG32
        SYSCALL
        ud2
END(user_peek)
