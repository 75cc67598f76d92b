/*
 * Entry point, Xen ELF notes and hypercall page of the x86-32 PAE PV
 * kernels.
 */
#include "asm.h"

        ELFNOTE(XEN_ELFNOTE_GUEST_OS,       .asciz "hvcore-test")
        ELFNOTE(XEN_ELFNOTE_GUEST_VERSION,  .asciz "1")
        ELFNOTE(XEN_ELFNOTE_XEN_VERSION,    .asciz "xen-3.0")
        ELFNOTE(XEN_ELFNOTE_LOADER,         .asciz "generic")
        ELFNOTE(XEN_ELFNOTE_VIRT_BASE,      .long VIRT_BASE)
        ELFNOTE(XEN_ELFNOTE_PADDR_OFFSET,   .long 0)
        ELFNOTE(XEN_ELFNOTE_ENTRY,          .long _start)
        ELFNOTE(XEN_ELFNOTE_HYPERCALL_PAGE, .long hypercall_page)
        ELFNOTE(XEN_ELFNOTE_HV_START_LOW,   .long __HYPERVISOR_VIRT_START_PAE)
        ELFNOTE(XEN_ELFNOTE_PAE_MODE,       .asciz "yes")
        ELFNOTE(XEN_ELFNOTE_FEATURES,       .asciz "!writable_page_tables|pae_pgdir_above_4gb")

        .section .text.head, "ax"
        .code32
/*
 * Xen enters here in ring 1 with %esi = start_info (virtual address) and
 * %esp on the domain builder's boot stack, events masked.
 */
ENTRY(_start)
        cld
        /* Record whether the builder left .bss zeroed, then zero it. */
        movl    $__bss_start, %edi
        movl    $_end, %ecx
        subl    %edi, %ecx
        xorl    %edx, %edx
1:      testl   %ecx, %ecx
        jz      2f
        orb     (%edi), %dl
        incl    %edi
        decl    %ecx
        jmp     1b
2:      movb    %dl, bss_was_dirty
        movl    %esi, %ebx
        movl    $__bss_start, %edi
        movl    $_end, %ecx
        subl    %edi, %ecx
        xorl    %eax, %eax
        rep stosb
        /* Our own stack, in .bss. */
        movl    $boot_stack_top, %esp
        /* Refuse to run if the builder did not fill the hypercall page. */
        cmpb    $0xc3, hypercall_page + __HYPERVISOR_console_io * 32
        jne     3f
        ud2
3:      xorl    %ebp, %ebp
        pushl   %ebx
        call    start_kernel
        ud2
END(_start)

/*
 * The hypercall page: filled with `ret` here, overwritten by the domain
 * builder with the 128 hypercall stubs.
 */
        .balign 4096
ENTRY(hypercall_page)
        .fill   4096, 1, 0xc3
END(hypercall_page)

        .data
        .globl  bss_was_dirty
bss_was_dirty:
        .byte   0

        .section .bss.stack, "aw", @nobits
        .balign 4096
        .globl  boot_stack
boot_stack:
        .skip   4 * 4096
        .globl  boot_stack_top
boot_stack_top:
