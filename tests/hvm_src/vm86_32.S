/*
 * Boot sector for tests/test_hvm_task.py: virtual-8086 mode. Ring 0 enters it by
 * `iret` with EFLAGS.VM (IOPL 3); the 8086 code stores through DS = 50h, then
 * `in` is #GP(0) (no I/O bitmap: IOPL 3 does not let virtual-8086 code do I/O);
 * `int $0x30` reaches a DPL 3 gate: the handler finds GS FS DS ES on its ring-0 stack
 * above SS ESP EFLAGS CS EIP, and DS..GS null. It returns with IOPL 0, where
 * `int $0x31` is #GP(0) on the int. Results at 0x500.
 */
#include "pm32.h"
        PM32_START pm
        movl    $0x7000, tss + 4            /* esp0 */
        movl    $0x10, tss + 8              /* ss0 */
        movw    $0x68, tss + 0x66           /* I/O map base past the limit: no bitmap */
        INT_GATE 0x30, h30
        orw     $0x6000, idt + 0x30 * 8 + 4 /* DPL 3 */
        INT_GATE 13, hgp
        lidt    idtr
        mov     $0x28, %ax
        ltr     %ax
        push    $0x60                       /* gs */
        push    $0x70                       /* fs */
        push    $0x50                       /* ds */
        push    $0x40                       /* es */
        push    $0x0                        /* ss */
        push    $0x6000                     /* esp */
        push    $0x23002                    /* eflags: VM, IOPL 3 */
        push    $0x0                        /* cs */
        push    $v86
        iret

h30:    mov     %ds, %ebx                   /* DS: 0, nulled on the way in */
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ebx, 0x500
        mov     %esp, 0x504                 /* 7000h - 36 */
        mov     %fs, %eax
        mov     %eax, 0x508                 /* 0 */
        mov     24(%esp), %eax
        mov     %eax, 0x50C                 /* DS 50h */
        mov     32(%esp), %eax
        mov     %eax, 0x510                 /* GS 60h */
        mov     8(%esp), %eax
        mov     %eax, 0x514                 /* EFLAGS: VM, IOPL 3 */
        andl    $~0x3000, 8(%esp)           /* back with IOPL 0 */
        iret

hgp:    mov     $0x10, %ax
        mov     %ax, %ds
        pop     %eax                        /* error code */
        incl    0x530
        cmpl    $1, 0x530
        jne     1f
        mov     %eax, 0x520                 /* in at IOPL 3: 0 */
        mov     (%esp), %eax
        mov     %eax, 0x524                 /* EIP: on the in */
        addl    $2, (%esp)
        iret
1:      mov     %eax, 0x528                 /* int $0x31 at IOPL 0: 0 */
        mov     (%esp), %eax
        mov     %eax, 0x52C                 /* EIP: on the int */
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt

        .code16
v86:    movw    $0x8086, 0x18               /* DS 50h: linear 518h */
        .globl  in71
in71:   in      $0x71, %al
        int     $0x30
        .globl  int31
int31:  int     $0x31
        jmp     .
        .code32

        RING3_GDT
        END_BOOT_SECTOR
        .set    tss, 0x9000
        .set    idt, 0x8000
