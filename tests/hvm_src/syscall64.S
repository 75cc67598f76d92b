/*
 * Boot sector for tests/test_hvm_fast_syscall.py: SYSCALL and SYSRET in long mode.
 * STAR gives ring 0 CS 08h / SS 10h and (SYSRET) ring 3 CS 2Bh / SS 23h, LSTAR the
 * handler, FMASK clears DF. Ring 3 is entered by sysretq with IOPL 3 and DF set; it
 * makes a syscall (RAX 1), reads CS and SS once back, makes a second one (RAX 2) that
 * ends the test. Results at 0x500: in the handler RCX, R11, RFLAGS, CS, SS, RSP, RDI;
 * then the user's CS and SS after SYSRET.
 */
#include "lm64.h"
        .code16
        .globl _start
_start:
        CLIMB_TO_LONG_MODE lm64
lm64:   mov     $0x7000, %rsp
        mov     $0xC0000080, %ecx           /* EFER.SCE */
        rdmsr
        or      $1, %eax
        wrmsr
        mov     $0xC0000081, %ecx           /* STAR */
        xor     %eax, %eax
        mov     $0x001B0008, %edx
        wrmsr
        mov     $0xC0000082, %ecx           /* LSTAR */
        mov     $handler, %eax
        xor     %edx, %edx
        wrmsr
        mov     $0xC0000084, %ecx           /* FMASK: DF */
        mov     $0x400, %eax
        wrmsr
        mov     $user, %ecx
        mov     $0x3402, %r11d              /* IOPL 3, DF */
        sysretq

handler:
        cmp     $2, %rax
        je      done
        mov     %rcx, 0x500
        mov     %r11, 0x508
        pushfq
        popq    0x510
        mov     %cs, 0x518
        mov     %ss, 0x520
        mov     %rsp, 0x528
        mov     %rdi, 0x530
        sysretq
done:   mov     $0x2A, %al
        out     %al, $0xF4
        hlt

user:   mov     $0x6000, %rsp
        mov     $0x1234, %edi
        mov     $1, %eax
        syscall
after:  mov     %cs, 0x538
        mov     %ss, 0x540
        mov     $2, %eax
        syscall
        jmp     .

        LONG_MODE_GDT
        END_BOOT_SECTOR
        .set    tss, 0x9000
        .set    idt, 0x8000
