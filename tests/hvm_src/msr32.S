/*
 * Boot sector for tests/test_hvm_apic.py: rdmsr/wrmsr in 32-bit protected mode, a #GP
 * handler that counts and skips the 2-byte instruction. Results at 0x500: APIC_BASE,
 * EFER (run by the engine itself), STAR written and read back, #GPs from an unknown
 * MSR (read and write), TSC_DEADLINE written outside TSC-deadline mode and read (0), CPUID 40000002h EBX (the
 * hypercall MSR); Xen's hypercall MSR written with page 0x9000.
 */
#include "pm32.h"
        PM32_START pm
        INT_GATE 13, hgp
        lidt    idtr
        mov     $0x1B, %ecx
        rdmsr
        mov     %eax, 0x500
        mov     $0xC0000080, %ecx
        rdmsr
        mov     %eax, 0x504
        mov     $0xC0000081, %ecx
        mov     $0x12345678, %eax
        mov     $0x00230010, %edx
        wrmsr
        xor     %eax, %eax
        xor     %edx, %edx
        rdmsr
        mov     %edx, 0x508
        mov     $0x0BADF00D, %ecx
        rdmsr
        wrmsr
        mov     $0x6E0, %ecx
        mov     $0x55667788, %eax
        mov     $1, %edx
        wrmsr
        xor     %eax, %eax
        rdmsr
        mov     %eax, 0x510
        mov     $0x40000002, %eax
        cpuid
        mov     %ebx, 0x514
        mov     %ebx, %ecx
        mov     $0x9000, %eax
        xor     %edx, %edx
        wrmsr
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt

hgp:    add     $4, %esp                    /* error code */
        incl    0x50C
        addl    $2, (%esp)
        iret

        FLAT_GDT
        END_BOOT_SECTOR
        .set    idt, 0x8000
