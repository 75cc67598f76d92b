/*
 * Boot sector for tests/test_hvm_apic.py: 32-bit protected mode, then
 *  - the LAPIC ID read 1,000,000 times (sum at 0x500: must be ID * 1e6, with no exit);
 *  - CPUID leaf 0x40000000 (EBX ECX EDX at 0x504) and leaf 1 EBX at 0x510;
 *  - the LAPIC timer, periodic, vector 0x40: five interrupts while halting (0x514),
 *    then TCCR read (0x518) and the ISR/IRR seen from inside the handler (0x51C);
 *  - the 8259A masked, the IOAPIC pin 2 (ISA IRQ 0) redirected to vector 0x50, fixed,
 *    physical APIC 0: three PIT interrupts through it (0x520), IOWIN read back (0x524);
 *  - a self IPI (ICR shorthand self, vector 0x60) taken (0x528).
 * Then out 0x2A to the test-exit port.
 */
#include "pm32.h"
        .code16
        .globl _start
_start:
        ENTER_PM32 pm
        .code32
        .set    LAPIC, 0xFEE00000
        .set    IOAPIC, 0xFEC00000
pm:     FLAT_DATA
        mov     $0x40, %ecx
        mov     $h40, %eax
        call    gate
        mov     $0x50, %ecx
        mov     $h50, %eax
        call    gate
        mov     $0x60, %ecx
        mov     $h60, %eax
        call    gate
        lidt    idtr
        mov     $0xFF, %al                  /* the 8259A masked: APIC interrupts only */
        out     %al, $0x21
        out     %al, $0xA1

        xor     %esi, %esi                  /* ID reads */
        mov     $1000000, %ecx
1:      mov     LAPIC + 0x20, %eax
        shr     $24, %eax
        add     %eax, %esi
        loop    1b
        mov     %esi, 0x500

        mov     $0x40000000, %eax
        cpuid
        mov     %ebx, 0x504
        mov     %ecx, 0x508
        mov     %edx, 0x50C
        mov     $1, %eax
        cpuid
        mov     %ebx, 0x510

        movl    $0x3, LAPIC + 0x3E0         /* divide by 16 */
        movl    $0x20040, LAPIC + 0x320     /* periodic, vector 0x40 */
        movl    $200000, LAPIC + 0x380      /* 3.2 ms at 1 GHz / 16 */
        sti
2:      hlt
        cmpl    $5, 0x514
        jb      2b
        cli
        mov     LAPIC + 0x390, %eax
        mov     %eax, 0x518
        movl    $0x10000, LAPIC + 0x320     /* masked */

        movl    $0x14, IOAPIC               /* pin 2 low: vector 0x50, fixed, edge */
        movl    $0x50, IOAPIC + 0x10
        movl    $0x15, IOAPIC               /* pin 2 high: APIC 0 */
        movl    $0, IOAPIC + 0x10
        movl    $0x14, IOAPIC
        mov     IOAPIC + 0x10, %eax
        mov     %eax, 0x524
        sti
3:      hlt
        cmpl    $3, 0x520
        jb      3b
        cli
        movl    $0x10000, IOAPIC + 0x10     /* masked again */

        movl    $0x44060, LAPIC + 0x300     /* self IPI, vector 0x60 */
        sti
        nop
4:      cmpl    $1, 0x528
        jne     4b
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt

h40:    incl    0x514
        cmpl    $1, 0x514
        jne     1f
        mov     LAPIC + 0x120, %eax
        mov     %eax, 0x51C
1:      movl    $0, LAPIC + 0xB0            /* EOI */
        iret
h50:    incl    0x520
        movl    $0, LAPIC + 0xB0
        iret
h60:    incl    0x528
        movl    $0, LAPIC + 0xB0
        iret

/* ECX = vector, EAX = handler */
gate:   lea     idt(,%ecx,8), %edi
        mov     %ax, (%edi)
        movw    $0x08, 2(%edi)
        movw    $0x8E00, 4(%edi)
        shr     $16, %eax
        mov     %ax, 6(%edi)
        ret

        FLAT_GDT
        .org    510
        .word   0xAA55
        .set    idt, 0x8000
