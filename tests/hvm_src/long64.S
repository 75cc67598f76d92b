/*
 * Boot sector for tests/test_hvm_delivery.py: climbs to long mode by itself (PAE,
 * EFER.LME, paging), a 64-bit TSS with RSP0 = 0x7000 and IST1 = 0x5000, ring 3
 * entered by iretq. In ring 3: `int $0x80` through a DPL 3 gate (RSP0 switch), then a
 * read of an unmapped address: #PF through a gate with IST 1. Results at 0x500.
 */
        .code16
        .globl _start
_start:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %ss
        mov     $0x7C00, %sp
        lgdtl   gdtr
        mov     %cr0, %eax
        or      $1, %eax
        mov     %eax, %cr0
        ljmpl   $0x18, $pm32
        .code32
pm32:   mov     $0x10, %ax
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
        ljmp    $0x08, $lm64
        .code64
lm64:   mov     $0x7000, %rsp
        movq    $0x7000, tss + 4            /* RSP0 */
        movq    $0x5000, tss + 0x24         /* IST1 */
        mov     $h80, %eax
        mov     $0x80, %ecx
        mov     $0xEE00, %edx               /* DPL 3 interrupt gate */
        call    gate
        mov     $hpf, %eax
        mov     $14, %ecx
        mov     $0x8E01, %edx               /* DPL 0, IST 1 */
        call    gate
        mov     $idtr, %eax
        lidt    (%rax)
        mov     $0x30, %ax
        ltr     %ax
        pushq   $0x23                       /* ss */
        pushq   $0x6000                     /* rsp */
        pushq   $0x2                        /* rflags */
        pushq   $0x2B                       /* cs */
        mov     $user, %eax
        push    %rax
        iretq

/* ECX = vector, RAX = handler, DX = type/IST word */
gate:   shl     $4, %ecx
        mov     $idt, %edi
        add     %rcx, %rdi
        mov     %ax, (%rdi)
        movw    $0x08, 2(%rdi)
        mov     %dx, 4(%rdi)
        shr     $16, %rax
        mov     %ax, 6(%rdi)
        shr     $16, %rax
        mov     %eax, 8(%rdi)
        movl    $0, 12(%rdi)
        ret

h80:    mov     %rsp, 0x500                 /* 0x7000 - 40 */
        mov     8(%rsp), %rax
        mov     %rax, 0x508                 /* user CS */
        mov     32(%rsp), %rax
        mov     %rax, 0x510                 /* user SS */
        iretq

hpf:    mov     %rsp, 0x518                 /* 0x5000 - 48: on the IST stack */
        mov     (%rsp), %rax
        mov     %rax, 0x520                 /* error code: user read, not present */
        mov     %cr2, %rax
        mov     %rax, 0x528
        mov     $0x2A, %al
        out     %al, $0xF4
        hlt

user:   int     $0x80
        mov     0x40000000, %rax
        jmp     .

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
        .org    510
        .word   0xAA55
        .set    tss, 0x9000
        .set    idt, 0x8000
