/*
 * Privileged instructions of the privop kernel, each at p_<name>_at with a
 * resume point p_<name>_after for when it is refused with #GP.
 */
#include "asm.h"

#define AT(name)        .globl p_##name##_at; p_##name##_at:
#define AFTER(name)     .globl p_##name##_after; p_##name##_after:

        .text

/* unsigned int p_inb80(void): in $0x80, %al (0xffffffff if skipped) */
ENTRY(p_inb80)
        movl    $0xffffffff, %eax
AT(inb80)
        inb     $0x80, %al
AFTER(inb80)
        ret

/* void p_outb80(void): out %al, $0x80 */
ENTRY(p_outb80)
        movb    $0x42, %al
AT(outb80)
        outb    %al, $0x80
AFTER(outb80)
        ret

/* unsigned int p_inw_dx(port): in %dx, %ax */
ENTRY(p_inw_dx)
#ifdef __x86_64__
        movl    %edi, %edx
#else
        movl    4(%esp), %edx
#endif
        movl    $0xffffffff, %eax
AT(inw_dx)
        inw     %dx, %ax
AFTER(inw_dx)
        ret

ENTRY(p_hlt)
AT(hlt)
        hlt
AFTER(hlt)
        ret

ENTRY(p_cli)
AT(cli)
        cli
AFTER(cli)
        ret

ENTRY(p_sti)
AT(sti)
        sti
AFTER(sti)
        ret

ENTRY(p_clts)
AT(clts)
        clts
AFTER(clts)
        ret

ENTRY(p_wbinvd)
AT(wbinvd)
        wbinvd
AFTER(wbinvd)
        ret

/* uint64_t p_rdmsr(uint32_t msr) */
ENTRY(p_rdmsr)
#ifdef __x86_64__
        movl    %edi, %ecx
        xorl    %eax, %eax
        xorl    %edx, %edx
AT(rdmsr)
        rdmsr
AFTER(rdmsr)
        shlq    $32, %rdx
        orq     %rdx, %rax
#else
        movl    4(%esp), %ecx
        xorl    %eax, %eax
        xorl    %edx, %edx
        rdmsr
#endif
        ret

/* void p_wrmsr(uint32_t msr, uint64_t val) */
ENTRY(p_wrmsr)
#ifdef __x86_64__
        movl    %edi, %ecx
        movl    %esi, %eax
        movq    %rsi, %rdx
        shrq    $32, %rdx
AT(wrmsr)
        wrmsr
AFTER(wrmsr)
#else
        movl    4(%esp), %ecx
        movl    8(%esp), %eax
        movl    12(%esp), %edx
        wrmsr
#endif
        ret

#ifndef __x86_64__
/* 32-bit: uint64_t p_rdmsr32(uint32_t msr), refused for MSR_FS_BASE */
ENTRY(p_rdmsr32)
        movl    4(%esp), %ecx
        xorl    %eax, %eax
        xorl    %edx, %edx
AT(rdmsr32)
        rdmsr
AFTER(rdmsr32)
        ret
#endif
