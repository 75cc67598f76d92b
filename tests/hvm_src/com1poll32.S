/*
 * Boot sector for tests/test_hvm_keyboard.py: a protected-mode kernel that reads its
 * console input by polling COM1 (LSR bit 0, then RBR), interrupts off, and never
 * touches the keyboard controller, though the BIOS turned the 8042's IRQ 1 on at
 * POST. It prints "poll ready", echoes each byte (waiting for THRE before each one)
 * until `q`, then exits with 2Ah through the test-exit port.
 */
#include "pm32.h"
        PM32_START pm
        mov     $ready, %esi
1:      lodsb
        test    %al, %al
        jz      2f
        call    putc
        jmp     1b
2:      mov     $0x3FD, %dx                 /* LSR: wait for a received byte */
        in      %dx, %al
        test    $0x01, %al
        jz      2b
        mov     $0x3F8, %dx                 /* RBR */
        in      %dx, %al
        call    putc
        cmp     $'q', %al
        jne     2b
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt

putc:   mov     %al, %ah                    /* AL to THR once LSR says it is empty */
        mov     $0x3FD, %dx
1:      in      %dx, %al
        test    $0x20, %al
        jz      1b
        mov     $0x3F8, %dx
        mov     %ah, %al
        out     %al, %dx
        ret

ready:  .asciz  "poll ready\r\n"
        FLAT_GDT
        END_BOOT_SECTOR
        .set    idt, 0x8000
