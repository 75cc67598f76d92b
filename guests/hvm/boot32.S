/*
 * Boot sector of the protected-mode test kernel: loads 64 sectors from LBA 1 to
 * 0x10000 (INT 13h AH=42h), keeps the BIOS memory map (INT 15h E820) at 0x6000 with
 * its entry count at 0x5FFC, enters 32-bit protected mode with a flat GDT and jumps
 * to the kernel at 0x10000.
 */
        .code16
        .text
        .globl _start
_start:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7C00, %sp
        sti
        mov     $dap, %si
        mov     $0x42, %ah
        int     $0x13
        jc      fail
        xor     %ebx, %ebx                  /* E820 map */
        mov     $0x6000, %di
        xor     %bp, %bp
1:      mov     $0xE820, %eax
        mov     $0x534D4150, %edx
        mov     $20, %ecx
        int     $0x15
        jc      2f
        cmp     $0x534D4150, %eax
        jne     2f
        inc     %bp
        add     $20, %di
        test    %ebx, %ebx
        jnz     1b
2:      movzx   %bp, %eax
        mov     %eax, 0x5FFC
        cli
        lgdtl   gdtr
        mov     %cr0, %eax
        or      $1, %eax
        mov     %eax, %cr0
        ljmpl   $0x08, $pm32
fail:   mov     $0x0E, %ah
        mov     $'!', %al
        int     $0x10
        mov     $0x7F, %al
        out     %al, $0xF4
        hlt

        .code32
pm32:   mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     %ax, %fs
        mov     %ax, %gs
        mov     $0x90000, %esp
        mov     $0x10000, %eax
        jmp     *%eax

        .p2align 3
gdt:    .quad   0
        .quad   0x00CF9A000000FFFF          /* 0x08: code, flat, ring 0 */
        .quad   0x00CF92000000FFFF          /* 0x10: data, flat, ring 0 */
gdtr:   .word   gdtr - gdt - 1
        .long   gdt
        .p2align 2
dap:    .byte   16, 0
        .word   64                          /* sectors */
        .word   0x0000, 0x1000              /* offset, segment: 0x10000 */
        .quad   1                           /* LBA */

        .org    510
        .word   0xAA55
