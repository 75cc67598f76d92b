/* What the 32-bit test boot sectors share: from the BIOS's real mode to flat 32-bit
 * protected mode (ENTER_PM32 label: continue at `label` in .code32), and the flat GDT
 * with the GDTR and an IDTR for a 256-entry IDT at `idt` (FLAT_GDT), and
 * the flat data segments with the stack below 0x7000 (FLAT_DATA). */
        .macro  ENTER_PM32 label
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %ss
        mov     $0x7C00, %sp
        lgdtl   gdtr
        mov     %cr0, %eax
        or      $1, %eax
        mov     %eax, %cr0
        ljmpl   $0x08, $\label
        .endm

        /* the flat data segment in ds, es and ss, the stack below 0x7000 */
        .macro  FLAT_DATA
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7000, %esp
        .endm

        .macro  FLAT_GDT
        .p2align 3
gdt:    .quad   0
        .quad   0x00CF9A000000FFFF
        .quad   0x00CF92000000FFFF
gdtr:   .word   gdtr - gdt - 1
        .long   gdt
idtr:   .word   0x7FF
        .long   idt
        .endm
