/*
 * Boot sector for tests/test_hvm_ide.py: our BIOS's INT 13h on the IDE slave (81h):
 * AH=42h reads its LBA 1 to 0x8000 and prints the text there through INT 10h, AH=43h
 * writes that sector, its first byte changed to '#', to LBA 2, AH=08h's drive count
 * goes to the test-exit port (2 disks: exit code 5).
 */
        .code16
        .globl _start
_start:
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7C00, %sp
        mov     $0x42, %ah
        mov     $0x81, %dl
        mov     $packet, %si
        int     $0x13
        jc      fail
        mov     $0x8000, %si
1:      lodsb
        test    %al, %al
        jz      2f
        mov     $0x0E, %ah
        int     $0x10
        jmp     1b
2:      movb    $'#', 0x8000
        movw    $2, packet + 8
        mov     $0x43, %ah
        mov     $0x81, %dl
        mov     $packet, %si
        int     $0x13
        jc      fail
        mov     $0x08, %ah
        mov     $0x81, %dl
        int     $0x13
        jc      fail
        mov     %dl, %al
        out     %al, $0xF4
        hlt
fail:   mov     $0x7F, %al
        out     %al, $0xF4
        hlt
packet: .byte   16, 0
        .word   1, 0x8000, 0                /* one sector to 0000:8000 */
        .quad   1
        .org    510
        .word   0xAA55
