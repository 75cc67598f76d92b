/*
 * Boot sector for tests/test_hvm_apic.py: the LAPIC timer in TSC-deadline mode (SDM
 * 10.5.4.1), 32-bit protected mode, the 8259A masked, timer vector 0x41. Results at 0x500:
 *  500 CPUID.1 ECX (bit 24: TSC-deadline timer)
 *  504 IA32_TSC_DEADLINE read back after a write in one-shot mode (ignored: 0)
 *  508 the deadline read back once armed (low half), 50C TCCR after a TICR write (0)
 *  510 the TSC in the first interrupt's handler minus its deadline (64-bit, >= 0)
 *  518 the MSR read in that handler (cleared by firing: 0)
 *  51C interrupts taken: 1 after the first deadline, 2 after a deadline in the past
 *      (fires at once), still 2 after a deadline disarmed by writing 0 and after one
 *      disarmed by leaving TSC-deadline mode (the TSC waited well past both)
 *  520 the MSR after leaving the mode (0)
 * Then out 0x2A to the test-exit port.
 */
#include "pm32.h"
        .set    LAPIC, 0xFEE00000
        .set    AHEAD, 5000000              /* TSC ticks: a few ms at GHz rates */
        PM32_START pm
        INT_GATE 0x41, h41
        lidt    idtr
        mov     $0xFF, %al                  /* the 8259A masked: APIC interrupts only */
        out     %al, $0x21
        out     %al, $0xA1
        movl    $0x1FF, LAPIC + 0xF0        /* software enabled */

        mov     $1, %eax
        cpuid
        mov     %ecx, 0x500

        movl    $0x00041, LAPIC + 0x320     /* one-shot: the MSR is not in use */
        mov     $0x6E0, %ecx
        mov     $0x1234, %eax
        xor     %edx, %edx
        wrmsr
        rdmsr
        mov     %eax, 0x504

        movl    $0x40041, LAPIC + 0x320     /* TSC-deadline mode, vector 0x41 */
        call    arm
        mov     $0x6E0, %ecx
        rdmsr
        mov     %eax, 0x508
        movl    $12345, LAPIC + 0x380       /* TICR: ignored in this mode */
        mov     LAPIC + 0x390, %eax
        mov     %eax, 0x50C
        sti
1:      hlt
        cmpl    $1, 0x51C
        jb      1b

        mov     $0x6E0, %ecx                /* a deadline already passed: at once */
        mov     $1, %eax
        xor     %edx, %edx
        wrmsr
        nop
2:      cmpl    $2, 0x51C
        jb      2b

        call    arm                         /* armed, then disarmed with 0 */
        mov     $0x6E0, %ecx
        xor     %eax, %eax
        xor     %edx, %edx
        wrmsr
        call    wait_past

        call    arm                         /* armed, then out of the mode */
        movl    $0x00041, LAPIC + 0x320
        mov     $0x6E0, %ecx
        rdmsr
        mov     %eax, 0x520
        call    wait_past

        mov     $0x2A, %al
        out     %al, $0xF4
        hlt

/* IA32_TSC_DEADLINE = TSC + AHEAD, also kept at 0x600 */
arm:    rdtsc
        add     $AHEAD, %eax
        adc     $0, %edx
        mov     %eax, 0x600
        mov     %edx, 0x604
        mov     $0x6E0, %ecx
        wrmsr
        ret

/* spin (interrupts on) until the TSC is 4 * AHEAD past the deadline at 0x600 */
wait_past:
        mov     0x600, %ebx
        mov     0x604, %esi
        add     $4 * AHEAD, %ebx
        adc     $0, %esi
1:      rdtsc
        sub     %ebx, %eax
        sbb     %esi, %edx
        js      1b
        ret

h41:    push    %eax
        push    %ecx
        push    %edx
        incl    0x51C
        cmpl    $1, 0x51C
        jne     1f
        rdtsc
        sub     0x600, %eax
        sbb     0x604, %edx
        mov     %eax, 0x510
        mov     %edx, 0x514
        mov     $0x6E0, %ecx
        rdmsr
        mov     %eax, 0x518
1:      movl    $0, LAPIC + 0xB0            /* EOI */
        pop     %edx
        pop     %ecx
        pop     %eax
        iret

        FLAT_GDT
        END_BOOT_SECTOR
        .set    idt, 0x8000
