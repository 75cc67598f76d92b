/*
 * Boot sector for tests/test_hvm_fast_syscall.py: SYSENTER and SYSEXIT in 32-bit
 * protected mode. SYSENTER_CS 08h (so ring 3 is CS 1Bh / SS 23h after SYSEXIT),
 * SYSENTER_ESP 7000h, SYSENTER_EIP the handler. Ring 3 is entered by sysexit (the
 * engine runs it); there it loads EBX and enters the handler by sysenter.
 * Results at 0x500: in the handler ESP, CS, SS, EFLAGS, EBX; the user's CS, SS.
 */
#include "pm32.h"
        PM32_START pm
        mov     $0x174, %ecx
        mov     $0x08, %eax
        xor     %edx, %edx
        wrmsr
        mov     $0x175, %ecx
        mov     $0x7000, %eax
        wrmsr
        mov     $0x176, %ecx
        mov     $handler, %eax
        wrmsr
        mov     $user, %edx
        mov     $0x6000, %ecx
        sysexit

handler:
        mov     %esp, 0x500
        mov     %cs, 0x504
        mov     %ss, 0x508
        pushf
        popl    0x50C
        mov     %ebx, 0x510
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt

user:   mov     %cs, 0x514
        mov     %ss, 0x518
        mov     $0x77, %ebx
        sysenter
        jmp     .

        RING3_GDT
        END_BOOT_SECTOR
        .set    idt, 0x8000
        .set    tss, 0x9000             /* unused: sysenter needs no TSS */
