/*
 * Boot sector for tests/test_hvm_delivery.py: 32-bit protected mode, a TSS with
 * ss0:esp0 = 0x10:0x7000, ring 3 entered by iret. In ring 3: `int $0x80` through a
 * DPL 3 gate (stack switch checked by the handler), `in` with IOPL 0 (#GP(0)), then
 * `int $0x81` through a DPL 0 gate (#GP with the IDT error code). Results at 0x500.
 */
#include "pm32.h"
        PM32_START pm
        movl    $0x7000, tss + 4            /* esp0 */
        movl    $0x10, tss + 8              /* ss0 */
        movw    $0x68, tss + 0x66           /* I/O map base past the limit: no bitmap */
        mov     $0x80, %ecx                 /* IDT gates */
        mov     $h80, %eax
        mov     $0xEE00, %edx               /* present, DPL 3, 32-bit interrupt gate */
        call    gate
        mov     $0x81, %ecx
        mov     $h80, %eax
        mov     $0x8E00, %edx               /* DPL 0 */
        call    gate
        mov     $13, %ecx
        mov     $hgp, %eax
        mov     $0x8E00, %edx
        call    gate
        lidt    idtr
        mov     $0x28, %ax
        ltr     %ax
        push    $0x23                       /* ss */
        push    $0x6000                     /* esp */
        push    $0x002                      /* eflags: IOPL 0, IF 0 */
        push    $0x1B                       /* cs */
        push    $user
        iret

/* ECX = vector, EAX = handler, EDX = type/DPL word */
gate:   lea     idt(,%ecx,8), %edi
        mov     %ax, (%edi)
        movw    $0x08, 2(%edi)
        mov     %dx, 4(%edi)
        shr     $16, %eax
        mov     %ax, 6(%edi)
        ret

h80:    mov     %esp, 0x500                 /* 0x7000 - 20 */
        mov     4(%esp), %eax
        mov     %eax, 0x504                 /* the user CS */
        mov     12(%esp), %eax
        mov     %eax, 0x508                 /* the user ESP */
        mov     16(%esp), %eax
        mov     %eax, 0x50C                 /* the user SS */
        mov     %cs, %eax
        mov     %eax, 0x510
        iret

hgp:    pop     %eax                        /* error code */
        incl    0x520
        cmpl    $1, 0x520
        jne     1f
        mov     %eax, 0x514                 /* from `in`: 0 */
        addl    $2, (%esp)                  /* skip `in $0x71, %al` */
        iret
1:      mov     %eax, 0x518                 /* from int $0x81: 0x81 * 8 + 2 */
        mov     (%esp), %eax
        mov     %eax, 0x51C                 /* EIP: on the int instruction */
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt

user:   int     $0x80
        in      $0x71, %al
        .globl  int81
int81:  int     $0x81
        jmp     .

        RING3_GDT
        END_BOOT_SECTOR
        .set    tss, 0x9000
        .set    int81_at, int81
        .set    idt, 0x8000
