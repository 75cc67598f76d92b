/*
 * Entry point, Xen ELF notes and hypercall page of the x86-64 PV kernels.
 */
#include "asm.h"

        ELFNOTE(XEN_ELFNOTE_GUEST_OS,       .asciz "hvcore-test")
        ELFNOTE(XEN_ELFNOTE_GUEST_VERSION,  .asciz "1")
        ELFNOTE(XEN_ELFNOTE_XEN_VERSION,    .asciz "xen-3.0")
        ELFNOTE(XEN_ELFNOTE_LOADER,         .asciz "generic")
        ELFNOTE(XEN_ELFNOTE_VIRT_BASE,      .quad VIRT_BASE)
        ELFNOTE(XEN_ELFNOTE_PADDR_OFFSET,   .quad 0)
        ELFNOTE(XEN_ELFNOTE_ENTRY,          .quad _start)
        ELFNOTE(XEN_ELFNOTE_HYPERCALL_PAGE, .quad hypercall_page)
        ELFNOTE(XEN_ELFNOTE_FEATURES,       .asciz "!writable_page_tables")

        .section .text.head, "ax"
        .code64
/*
 * Xen enters here in ring 3 with %rsi = start_info (virtual address) and
 * %rsp on the domain builder's boot stack, events masked.
 */
ENTRY(_start)
        cld
        /* Record whether the builder left .bss zeroed, then zero it. */
        movq    $__bss_start, %rdi
        movq    $_end, %rcx
        subq    %rdi, %rcx
        xorl    %edx, %edx
1:      testq   %rcx, %rcx
        jz      2f
        orb     (%rdi), %dl
        incq    %rdi
        decq    %rcx
        jmp     1b
2:      movb    %dl, bss_was_dirty
        movq    %rsi, %r12
        movq    $__bss_start, %rdi
        movq    $_end, %rcx
        subq    %rdi, %rcx
        xorl    %eax, %eax
        rep stosb
        /* Our own stack, in .bss. */
        movq    $boot_stack_top, %rsp
        /* Refuse to run if the builder did not fill the hypercall page. */
        cmpb    $0xc3, hypercall_page + __HYPERVISOR_console_io * 32
        jne     3f
        ud2
3:      movq    %r12, %rdi
        xorl    %ebp, %ebp
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
