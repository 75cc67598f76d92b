/*
 * Boot sector for tests/test_hvm_task.py: a double fault taken on a task gate, the
 * classic way out when the kernel's stack is gone. Paging maps the first 4 MiB but
 * 5000h-5FFFh; task A's ESP is 6000h, so its push faults (#PF), and delivering that
 * #PF through an interrupt gate faults on the same stack: #DF, whose IDT entry is a
 * task gate to task D (TSS 20h, its own stack). D records what it sees, gives A a
 * good stack in A's TSS and returns with `iret`: A runs its push again. Results at
 * 0x500.
 */
#include "pm32.h"
        PM32_START pm
        mov     $pgdir, %edi                /* page directory and table */
        xor     %eax, %eax
        mov     $2048, %ecx
        rep stosl
        movl    $pgtab + 3, pgdir
        mov     $pgtab, %edi
        mov     $3, %eax
        mov     $1024, %ecx
1:      stosl
        add     $0x1000, %eax
        loop    1b
        movl    $0, pgtab + 5 * 4           /* 5000h-5FFFh not present */
        mov     $pgdir, %eax
        mov     %eax, %cr3
        mov     %cr0, %eax
        or      $0x80000000, %eax
        mov     %eax, %cr0
        mov     $tssa, %edi
        mov     $0, %eax
        mov     $0x7000, %ebx
        call    task32
        mov     $tssd, %edi
        mov     $dftask, %eax
        mov     $0x6800, %ebx
        call    task32
        INT_GATE 14, pfh
        movl    $0x00200000, idt + 8 * 8    /* #DF: task gate to TSS 20h */
        movl    $0x00008500, idt + 8 * 8 + 4
        lidt    idtr
        mov     $0x18, %ax
        ltr     %ax
        mov     $0x6000, %esp
        .globl  fault
fault:  pushl   $0x5EED
        pop     %eax
        mov     %eax, 0x51C
        mov     %esp, 0x520
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt

pfh:    mov     $0x3B, %al                  /* never: the #PF cannot be delivered */
        out     %al, $0xF4
        hlt

dftask: pop     %eax
        mov     %eax, 0x500                 /* error code 0 */
        mov     %esp, 0x504                 /* 6800h after it */
        pushf
        pop     %eax
        mov     %eax, 0x508                 /* NT */
        mov     tssd, %eax
        mov     %eax, 0x50C                 /* back link 18h */
        mov     %cr2, %eax
        mov     %eax, 0x510                 /* the second fault's address */
        mov     tssa + 0x20, %eax
        mov     %eax, 0x514                 /* A's EIP: the push */
        mov     tssa + 0x38, %eax
        mov     %eax, 0x518                 /* A's ESP: 6000h */
        movl    $0x7800, tssa + 0x38        /* a good stack for A */
        iret
        jmp     dftask

        TASK32_MAKER
        TASK_GDT tssa, tssd
        GDTR_IDTR
        END_BOOT_SECTOR
        .set    tssa, 0x9000
        .set    tssd, 0x9100
        .set    idt, 0x8000
        .set    pgdir, 0xA000
        .set    pgtab, 0xB000
