/*
 * Boot sector for tests/test_hvm_task.py: hardware task switches in 32-bit protected
 * mode. Task A (TR 18h) runs `int $0x40` twice through an IDT task gate to task B
 * (TSS 20h), which records what it sees and returns with `iret` (EFLAGS.NT: the back
 * link), then `lcall` through a task gate in the GDT (30h) to task C (TSS 28h),
 * which returns with `iret` too. Results at 0x500.
 */
#include "pm32.h"
        PM32_START pm
        mov     $tssa, %edi
        mov     $0, %eax
        mov     $0x7000, %ebx
        call    task32
        mov     $tssb, %edi
        mov     $taskb, %eax
        mov     $0x6800, %ebx
        call    task32
        mov     $tssc, %edi
        mov     $taskc, %eax
        mov     $0x6400, %ebx
        call    task32
        movl    $0x00200000, idt + 0x40 * 8       /* task gate: TSS 20h */
        movl    $0x00008500, idt + 0x40 * 8 + 4   /* present, DPL 0, type 5 */
        lidt    idtr
        mov     $0x18, %ax
        ltr     %ax
        mov     $0xA11CE, %esi
        .globl  int40
int40:  int     $0x40
        mov     %esi, 0x518                 /* A's registers are back */
        mov     %esp, 0x51C
        int     $0x40                       /* B again: it goes on after its iret */
        mov     gdt + 0x20 + 5, %al
        mov     %al, 0x520                  /* B's busy bit cleared by its iret */
        mov     gdt + 0x18 + 5, %al
        mov     %al, 0x521                  /* A busy */
        pushf
        pop     %eax
        mov     %eax, 0x524                 /* A's NT clear */
        lcall   $0x30, $0                   /* GDT task gate: the engine switches */
        mov     %esi, 0x528
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt

taskb:  str     %ax
        mov     %eax, 0x500                 /* 20h */
        pushf
        pop     %eax
        mov     %eax, 0x504                 /* NT set, IF as B's TSS had it */
        mov     tssb, %eax
        mov     %eax, 0x508                 /* back link: 18h */
        mov     %esp, 0x50C                 /* no error code pushed: 0x6800 */
        mov     %cr0, %eax
        mov     %eax, 0x510                 /* TS set */
        incl    0x514
        mov     $0xB0B, %esi
        iret
        jmp     taskb

taskc:  mov     tssc, %eax
        mov     %eax, 0x52C                 /* back link: 18h */
        mov     $0xC0C, %esi
        iret

        TASK32_MAKER
        TASK_GDT tssa, tssb, tssc
        .word   0, 0x28, 0x8500, 0          /* 30h: task gate to C */
        GDTR_IDTR
        END_BOOT_SECTOR
        .set    tssa, 0x9000
        .set    tssb, 0x9100
        .set    tssc, 0x9200
        .set    idt, 0x8000
