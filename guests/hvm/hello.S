/*
 * A real-mode boot sector: says hello through the BIOS (INT 10h teletype), reports
 * the drive it was booted from (DL), then ends the domain through the test-exit port
 * with 0x10 (hv run exits with (0x10 << 1) | 1 = 33).
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
        mov     %dl, drive
        mov     $hello, %si
        call    puts
        mov     drive, %al              /* DL as two hex digits */
        shr     $4, %al
        call    puthex
        mov     drive, %al
        call    puthex
        mov     $newline, %si
        call    puts
        mov     $0x10, %al
        out     %al, $0xF4
        cli
1:      hlt
        jmp     1b

puts:   lodsb
        test    %al, %al
        jz      1f
        mov     $0x0E, %ah
        xor     %bx, %bx
        int     $0x10
        jmp     puts
1:      ret

puthex: and     $0x0F, %al
        add     $'0', %al
        cmp     $'9', %al
        jbe     1f
        add     $7, %al
1:      mov     $0x0E, %ah
        int     $0x10
        ret

drive:   .byte 0
hello:   .asciz "Hello from real mode (INT 10h), boot drive "
newline: .asciz "h\r\n"

        .org    510
        .word   0xAA55
