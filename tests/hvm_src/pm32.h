/* What the test boot sectors share: REAL_MODE_START for a real-mode one; from the
 * BIOS's real mode to flat 32-bit protected mode (ENTER_PM32 label: continue at `label`
 * in .code32), and the flat GDT
 * with the GDTR and an IDTR for a 256-entry IDT at `idt` (FLAT_GDT), and
 * the flat data segments with the stack below 0x7000 (FLAT_DATA); PM32_START for
 * all of that at a sector's start, RING3_GDT for one with user segments and a TSS,
 * INT_GATE for an interrupt gate, END_BOOT_SECTOR for the signature; TASK32_MAKER
 * and TASK_GDT for hardware tasks. */
        /* real mode, interrupts off, DS = SS = 0, the stack below the boot sector */
        .macro  REAL_MODE_SEGMENTS
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %ss
        mov     $0x7C00, %sp
        .endm

        /* a boot sector's start in real mode: _start, then REAL_MODE_SEGMENTS */
        .macro  REAL_MODE_START
        .code16
        .globl  _start
_start:
        REAL_MODE_SEGMENTS
        .endm

        .macro  ENTER_PM32 label, cs=0x08
        REAL_MODE_SEGMENTS
        lgdtl   gdtr
        mov     %cr0, %eax
        or      $1, %eax
        mov     %eax, %cr0
        ljmpl   $\cs, $\label
        .endm

        /* a boot sector's start: _start, then flat 32-bit mode and FLAT_DATA at `label` */
        .macro  PM32_START label
        .code16
        .globl  _start
_start:
        ENTER_PM32 \label
        .code32
\label:
        FLAT_DATA
        .endm

        /* the flat data segment in ds, es and ss, the stack below 0x7000 */
        .macro  FLAT_DATA
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7000, %esp
        .endm

        /* 08h ring 0 code, 10h ring 0 data, 18h ring 3 code, 20h ring 3 data, 28h a
         * 32-bit TSS at `tss` (below 64 KiB), the GDTR and an IDTR as FLAT_GDT's */
        .macro  RING3_GDT
        .p2align 3
gdt:    .quad   0
        .quad   0x00CF9A000000FFFF
        .quad   0x00CF92000000FFFF
        .quad   0x00CFFA000000FFFF
        .quad   0x00CFF2000000FFFF
tssd:   .word   0x67, tss, 0x8900, 0
gdtr:   .word   gdtr - gdt - 1
        .long   gdt
idtr:   .word   0x7FF
        .long   idt
        .endm

        /* a 32-bit ring-0 interrupt gate (selector 08h) for `vector` to `handler` in
         * the IDT at `idt`; uses EAX */
        .macro  INT_GATE vector, handler
        mov     $\handler, %eax
        mov     %ax, idt + \vector * 8
        movw    $0x08, idt + \vector * 8 + 2
        movw    $0x8E00, idt + \vector * 8 + 4
        shr     $16, %eax
        mov     %ax, idt + \vector * 8 + 6
        .endm

        .macro  END_BOOT_SECTOR
        .org    510
        .word   0xAA55
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

        /* `call task32` makes a 32-bit TSS at EDI (zeroed first) for a ring-0 task
         * starting at EAX with ESP = EBX: CS 08h, data 10h, EFLAGS 2, CR3 = the
         * current CR3, no I/O bitmap. Uses ECX; keeps the rest. */
        .macro  TASK32_MAKER
task32: push    %eax
        push    %edi
        xor     %eax, %eax
        mov     $0x68 / 4, %ecx
        rep stosl
        pop     %edi
        pop     %eax
        mov     %eax, 0x20(%edi)
        movl    $0x2, 0x24(%edi)
        mov     %ebx, 0x38(%edi)
        mov     %cr3, %ecx
        mov     %ecx, 0x1C(%edi)
        movb    $0x10, %cl
        mov     %cl, 0x48(%edi)
        movb    $0x08, 0x4C(%edi)
        mov     %cl, 0x50(%edi)
        mov     %cl, 0x54(%edi)
        movb    $0x68, 0x66(%edi)
        ret
        .endm

        /* FLAT_GDT's first three entries, then a 32-bit TSS (available, limit 67h)
         * from 18h on for each base given; GDTR_IDTR ends it */
        .macro  TASK_GDT bases:vararg
        .p2align 3
gdt:    .quad   0
        .quad   0x00CF9A000000FFFF
        .quad   0x00CF92000000FFFF
        .irp    base, \bases
        .word   0x67, \base, 0x8900, 0
        .endr
        .endm

        .macro  GDTR_IDTR
gdtr:   .word   gdtr - gdt - 1
        .long   gdt
idtr:   .word   0x7FF
        .long   idt
        .endm
