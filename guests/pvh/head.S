/*
 * PVH entry of the direct-boot test kernels: Xen's PVH ABI starts us at the address in
 * the XEN_ELFNOTE_PHYS32_ENTRY note in flat 32-bit protected mode, paging off, EBX =
 * the hvm_start_info. We load our own GDT (the one the loader used is not ours to
 * keep), and the 64-bit build climbs to long mode over an identity map of the first
 * GiB (2 MiB pages) before calling kmain(start_info, eax).
 * Built with -DMULTIBOOT it also carries a Multiboot (v1) header: a Multiboot loader
 * enters at the same ELF entry in the same state, with EAX = 0x2BADB002 and EBX = the
 * multiboot information, which kmain tells apart by EAX.
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

        .pushsection .note.Xen, "a", @note
        .align 4
        .long 4, 4, XEN_ELFNOTE_PHYS32_ENTRY
        .asciz "Xen"
        .align 4
        .long pvh_start
        .align 4
        .popsection

        .section .text.head, "ax"
        .code32
#ifdef MULTIBOOT
        .align 4
        .long 0x1BADB002, 0, -0x1BADB002        /* magic, flags (load by ELF), checksum */
#endif
        .globl pvh_start
pvh_start:
        cli
        mov %eax, %ebp                  /* the loader's magic, for kmain */
        lgdt gdt_desc
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov %ax, %fs
        mov %ax, %gs
        mov $stack_top, %esp
#ifdef __x86_64__
        mov $pdpt, %eax                 /* PML4[0] -> PDPT, PDPT[0] -> PD */
        or $3, %eax
        mov %eax, pml4
        mov $pd, %eax
        or $3, %eax
        mov %eax, pdpt
        xor %ecx, %ecx                  /* PD: 512 x 2 MiB, identity */
1:      mov %ecx, %eax
        shl $21, %eax
        or $0x83, %eax
        mov %eax, pd(,%ecx,8)
        inc %ecx
        cmp $512, %ecx
        jne 1b
        mov $pml4, %eax
        mov %eax, %cr3
        mov %cr4, %eax
        or $0x20, %eax                  /* PAE */
        mov %eax, %cr4
        mov $0xC0000080, %ecx           /* EFER.LME */
        rdmsr
        or $0x100, %eax
        wrmsr
        mov %cr0, %eax
        or $0x80000000, %eax            /* PG */
        mov %eax, %cr0
        ljmp $0x18, $long_entry
        .code64
long_entry:
        mov %ebx, %edi
        mov %ebp, %esi
        call kmain
2:      hlt
        jmp 2b
#else
        ljmp $0x08, $1f
1:      push %ebp
        push %ebx
        call kmain
2:      hlt
        jmp 2b
#endif

        .section .rodata
        .align 8
gdt:    .quad 0
        .quad 0x00CF9A000000FFFF        /* 0x08: flat 32-bit code */
        .quad 0x00CF92000000FFFF        /* 0x10: flat data */
        .quad 0x00AF9A000000FFFF        /* 0x18: 64-bit code */
gdt_end:
gdt_desc:
        .word gdt_end - gdt - 1
        .long gdt

        .section .bss
        .align 4096
#ifdef __x86_64__
pml4:   .skip 4096
pdpt:   .skip 4096
pd:     .skip 4096
#endif
        .skip 16384
stack_top:
        .section .note.GNU-stack,"",@progbits
