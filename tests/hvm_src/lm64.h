/* What the 64-bit test boot sectors share: the climb from the BIOS's real mode to long
 * mode (CLIMB_TO_LONG_MODE label: PAE page tables at 0x10000 mapping the first 2 MiB
 * user-accessible, EFER.LME, paging, then `label` in .code64 with CS 08h), and their
 * GDT (LONG_MODE_GDT: 08h 64-bit ring 0 code, 10h ring 0 data, 18h 32-bit code for the
 * climb, 20h ring 3 data, 28h 64-bit ring 3 code, 30h a 64-bit TSS at `tss`) with the
 * GDTR and an IDTR for a 256-entry IDT at `idt`. */
#include "pm32.h"

        .macro  CLIMB_TO_LONG_MODE label
        ENTER_PM32 1f, 0x18
        .code32
1:      mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        movl    $0x11007, 0x10000           /* PML4 -> PDPT -> PD, user-accessible */
        movl    $0x12007, 0x11000
        movl    $0x00000087, 0x12000        /* 2 MiB at 0 */
        mov     %cr4, %eax
        or      $0x20, %eax
        mov     %eax, %cr4
        mov     $0x10000, %eax
        mov     %eax, %cr3
        mov     $0xC0000080, %ecx
        rdmsr
        or      $0x100, %eax
        wrmsr
        mov     %cr0, %eax
        or      $0x80000000, %eax
        mov     %eax, %cr0
        ljmp    $0x08, $\label
        .code64
        .endm

        .macro  LONG_MODE_GDT
        .p2align 3
gdt:    .quad   0
        .quad   0x00AF9A000000FFFF          /* 0x08 64-bit ring 0 code */
        .quad   0x00CF92000000FFFF          /* 0x10 ring 0 data */
        .quad   0x00CF9A000000FFFF          /* 0x18 32-bit code for the climb */
        .quad   0x00CFF2000000FFFF          /* 0x20 ring 3 data */
        .quad   0x00AFFA000000FFFF          /* 0x28 64-bit ring 3 code */
        .word   0x67, tss, 0x8900, 0        /* 0x30 64-bit TSS */
        .quad   0
gdtr:   .word   gdtr - gdt - 1
        .long   gdt
idtr:   .word   0xFFF
        .quad   idt
        .endm
