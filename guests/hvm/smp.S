/*
 * SMP boot sector: the BSP enters protected mode, sends INIT and STARTUP (vector 08h:
 * the APs start in real mode at 0800:0000, where a far jump brings them here), waits
 * until every AP has come up (each enters protected mode, enables its local APIC,
 * counts itself and halts), sends each AP a fixed IPI (vector 70h, by physical APIC
 * ID), and each AP answers with an IPI to the BSP (vector 71h). Prints the counts on
 * port E9 and exits through the test-exit port with the number of APs.
 */
        .code16
        .globl _start
        .set    LAPIC, 0xFEE00000
        .set    APS_UP, 0x600
        .set    IPIS_IN, 0x604
        .set    REPLIES, 0x608
        .set    APIC_IDS, 0x60C
_start:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %ss
        mov     $0x7C00, %sp
        movb    $0xEA, 0x8000               /* the AP trampoline: ljmp $0, $ap16 */
        movw    $ap16, 0x8001
        movw    $0, 0x8003
        call    to_pm
        .code32
        mov     $0x7000, %esp
        mov     $idt + 0x70 * 8, %edi       /* gates 70h and 71h (the gate's high
                                               half is 0: handlers below 64 KiB) */
        mov     $0x00080000 + h70, %eax
        stosl
        mov     $0x8E00, %eax
        stosl
        mov     $0x00080000 + h71, %eax
        stosl
        mov     $0x8E00, %eax
        stosl
        mov     $0xFF, %al                  /* 8259A masked: APIC interrupts only */
        out     %al, $0x21
        out     %al, $0xA1
        movl    $0xC4500, LAPIC + 0x300     /* INIT, all but self */
        movl    $0xC4608, LAPIC + 0x300     /* STARTUP at 08000h, all but self */
        mov     $0x5F, %al                  /* CMOS: vCPUs - 1 */
        out     %al, $0x70
        in      $0x71, %al
        movzbl  %al, %ebx                   /* EBX = APs */
1:      pause
        cmp     %ebx, APS_UP
        jb      1b
        mov     $1, %ecx                    /* an IPI to each AP by its ID, and */
2:      cmp     %ebx, %ecx                  /* its answer awaited (two answers at */
        ja      5f                          /* once would share one IRR bit) */
        mov     %ecx, %eax
        shl     $24, %eax
        mov     %eax, LAPIC + 0x310
        movl    $0x4070, LAPIC + 0x300
        sti
4:      hlt
        cmp     %ecx, REPLIES
        jb      4b
        cli
        inc     %ecx
        jmp     2b
5:
        mov     $msg, %esi                  /* "smp: up U ipis I ids D" */
        mov     $APS_UP, %edi
1:      lodsb
        test    %al, %al
        jz      2f
        out     %al, $0xE9
        jmp     1b
2:      mov     (%edi), %al
        add     $4, %edi
        add     $'0', %al
        out     %al, $0xE9
        cmp     $APIC_IDS + 4, %edi
        jb      1b
        mov     $'\n', %al
        out     %al, $0xE9
        mov     %bl, %al
        out     %al, $0xF4
        hlt

        .code16
ap16:   cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %ss
        mov     $0x7000, %sp                /* only until the switch */
        call    to_pm
        .code32
        mov     $1, %eax
        cpuid
        shr     $24, %ebx                   /* initial APIC ID */
        mov     %ebx, %esp
        shl     $10, %esp
        neg     %esp
        add     $0x7000, %esp               /* a stack each */
        lock orl %ebx, APIC_IDS             /* 1 | 2 = 3 with two APs */
        movl    $0x1FF, LAPIC + 0xF0        /* LAPIC enabled */
        lock incl APS_UP
        sti
1:      hlt
        jmp     1b

h70:    lock incl IPIS_IN                   /* on an AP: answer the BSP */
        movl    $0, LAPIC + 0x310
        movl    $0x4071, LAPIC + 0x300
        movl    $0, LAPIC + 0xB0
        iret
h71:    lock incl REPLIES                   /* on the BSP */
        movl    $0, LAPIC + 0xB0
        iret

/* real mode -> flat protected mode, IDT loaded; returns in 32-bit code */
        .code16
to_pm:  lgdtl   gdtr
        mov     %cr0, %eax
        or      $1, %eax
        mov     %eax, %cr0
        ljmpl   $0x08, $1f
        .code32
1:      mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        movzwl  %sp, %esp
        lidt    idtr
        pop     %ax                         /* the 16-bit return address */
        movzwl  %ax, %eax
        jmp     *%eax

        .p2align 3
gdt:    .quad   0
        .quad   0x00CF9A000000FFFF
        .quad   0x00CF92000000FFFF
gdtr:   .word   gdtr - gdt - 1
        .long   gdt
idtr:   .word   0x7FF
        .long   idt
msg:    .ascii "smp: APs up \0, IPIs taken \0, replies \0, ID bits \0"
        .org    510
        .word   0xAA55
        .set    idt, 0x9000
