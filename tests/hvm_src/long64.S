/*
 * Boot sector for tests/test_hvm_delivery.py: climbs to long mode by itself (PAE,
 * EFER.LME, paging), a 64-bit TSS with RSP0 = 0x7000 and IST1 = 0x5000, ring 3
 * entered by iretq. In ring 3: `int $0x80` through a DPL 3 gate (RSP0 switch), then a
 * read of an unmapped address: #PF through a gate with IST 1. Results at 0x500.
 */
#include "lm64.h"
        .code16
        .globl _start
_start:
        CLIMB_TO_LONG_MODE lm64
lm64:   mov     $0x7000, %rsp
        movq    $0x7000, tss + 4            /* RSP0 */
        movq    $0x5000, tss + 0x24         /* IST1 */
        mov     $h80, %eax
        mov     $0x80, %ecx
        mov     $0xEE00, %edx               /* DPL 3 interrupt gate */
        call    gate
        mov     $hpf, %eax
        mov     $14, %ecx
        mov     $0x8E01, %edx               /* DPL 0, IST 1 */
        call    gate
        mov     $idtr, %eax
        lidt    (%rax)
        mov     $0x30, %ax
        ltr     %ax
        pushq   $0x23                       /* ss */
        pushq   $0x6000                     /* rsp */
        pushq   $0x2                        /* rflags */
        pushq   $0x2B                       /* cs */
        mov     $user, %eax
        push    %rax
        iretq

/* ECX = vector, RAX = handler, DX = type/IST word */
gate:   shl     $4, %ecx
        mov     $idt, %edi
        add     %rcx, %rdi
        mov     %ax, (%rdi)
        movw    $0x08, 2(%rdi)
        mov     %dx, 4(%rdi)
        shr     $16, %rax
        mov     %ax, 6(%rdi)
        shr     $16, %rax
        mov     %eax, 8(%rdi)
        movl    $0, 12(%rdi)
        ret

h80:    mov     %rsp, 0x500                 /* 0x7000 - 40 */
        mov     8(%rsp), %rax
        mov     %rax, 0x508                 /* user CS */
        mov     32(%rsp), %rax
        mov     %rax, 0x510                 /* user SS */
        iretq

hpf:    mov     %rsp, 0x518                 /* 0x5000 - 48: on the IST stack */
        mov     (%rsp), %rax
        mov     %rax, 0x520                 /* error code: user read, not present */
        mov     %cr2, %rax
        mov     %rax, 0x528
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt

user:   int     $0x80
        mov     0x40000000, %rax
        jmp     .

        LONG_MODE_GDT
        END_BOOT_SECTOR
        .set    tss, 0x9000
        .set    idt, 0x8000
