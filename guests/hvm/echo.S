/*
 * A real-mode boot sector that echoes the console: keys come from COM1 through the
 * BIOS (INT 16h, which halts between timer ticks while none is waiting) and go back
 * through INT 10h. 'q' ends the domain through the test-exit port with 0x11 (exit 35).
 */
        .code16
        .text
        .globl _start
_start:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %ss
        mov     $0x7C00, %sp
        sti
        mov     $ready, %si
1:      lodsb
        test    %al, %al
        jz      2f
        mov     $0x0E, %ah
        int     $0x10
        jmp     1b
2:      xor     %ah, %ah                    /* wait for a key */
        int     $0x16
        cmp     $'q', %al
        je      3f
        mov     $0x0E, %ah
        int     $0x10
        jmp     2b
3:      mov     $0x11, %al
        out     %al, $0xF4
        cli
        hlt

ready:  .asciz "echo ready\r\n"
        .org    510
        .word   0xAA55
