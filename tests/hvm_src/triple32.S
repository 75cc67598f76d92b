/*
 * Boot sector that triple-faults: says "tf" on port 0xE9, then in protected mode with
 * an empty IDT an `int $3` cannot be delivered, nor the #GP for it, nor the #DF: the CPU
 * shuts down (tests/test_hvm_delivery.py, tests/test_faults.py).
 */
        .code16
        .globl _start
_start:
        cli
        mov     $'t', %al
        out     %al, $0xE9
        mov     $'f', %al
        out     %al, $0xE9
        mov     $'\n', %al
        out     %al, $0xE9
        lidt    idtr
        lgdtl   gdtr
        mov     %cr0, %eax
        or      $1, %eax
        mov     %eax, %cr0
        ljmpl   $8, $pm
        .code32
pm:     int     $3

        .p2align 3
gdt:    .quad   0, 0x00CF9A000000FFFF
gdtr:   .word   15
        .long   gdt
idtr:   .word   0
        .long   0
        .org    510
        .word   0xAA55
